/* backupset.c - the list of backups in a repository (see backupset.h). */
#include "config.h"
#include "repo/backupset.h"
#include "base/log.h"
#include "repo/tmpobj.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void tr_backup_time_iso(int64_t t, char out[32])
{
	struct tm tm;
	time_t tt = (time_t)t;
	gmtime_r(&tt, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

FILE *tr_manifest_open(tr_repo *r, const char *label, tr_manifest_hdr *h, int *status)
{
	char rel[256], err[512];
	snprintf(rel, sizeof rel, "backups/%s/manifest", label);
	FILE *f = tr_repo_get_tmpfile(r, rel, status);
	if (!f)
		return NULL;
	if (tr_manifest_read_hdr(f, h, err, sizeof err) != 0) {
		tr_repo_set_error(r, "backup %s: %s", label, err);
		*status = TR_REPO_ECORRUPT;
		fclose(f);
		return NULL;
	}
	return f;
}

/* Collects labels that have a manifest. */
struct label {
	char name[64];
	int64_t mtime;   /* of the manifest */
};

struct labels {
	struct label *v;
	int n, cap;
};

static int collect_label(void *ctx, const tr_object_info *info)
{
	struct labels *l = ctx;
	const char *k = info->key + strlen("backups/");
	const char *slash = strchr(k, '/');
	if (!slash || strcmp(slash, "/manifest") != 0 || slash - k >= 64)
		return 0;
	if (l->n == l->cap) {
		int cap = l->cap ? 2 * l->cap : 16;
		void *grown = realloc(l->v, (size_t)cap * sizeof *l->v);
		if (!grown)
			return 1;
		l->v = grown;
		l->cap = cap;
	}
	snprintf(l->v[l->n].name, sizeof l->v[l->n].name, "%.*s", (int)(slash - k), k);
	l->v[l->n++].mtime = info->mtime;
	return 0;
}

static int by_stop_time(const void *a, const void *b)
{
	const tr_manifest_hdr *x = a, *y = b;
	if (x->stop_time != y->stop_time)
		return x->stop_time < y->stop_time ? -1 : 1;
	return x->stop_lsn < y->stop_lsn ? -1 : x->stop_lsn > y->stop_lsn;
}

static int load_info(tr_repo *r, const char *label, tr_manifest_hdr *h)
{
	char rel[256], err[512];
	int status;
	snprintf(rel, sizeof rel, "backups/%s/info", label);
	FILE *f = tr_repo_get_tmpfile(r, rel, &status);
	if (!f)
		return status;
	status = tr_manifest_read_hdr(f, h, err, sizeof err) == 0 ? TR_OK : TR_REPO_ECORRUPT;
	if (status != TR_OK)
		tr_repo_set_error(r, "backup %s: info: %s", label, err);
	fclose(f);
	return status;
}

int tr_status_is_damage(int status)
{
	return status == TR_REPO_ECORRUPT || status == TR_REPO_EKEY || status == TR_ENOENT;
}

static int note_damage(tr_backup_damages *dmg, const struct label *l, int listed, const char *reason)
{
	tr_warn("backup %s: %s%s", l->name, reason, listed ? "; its header was read from its manifest" :
		"; left out (not restorable)");
	if (!dmg)
		return TR_OK;
	void *grown = realloc(dmg->v, (size_t)(dmg->n + 1) * sizeof *dmg->v);
	if (!grown)
		return TR_ENOMEM;
	dmg->v = grown;
	tr_backup_damage *d = &dmg->v[dmg->n++];
	memset(d, 0, sizeof *d);
	snprintf(d->label, sizeof d->label, "%s", l->name);
	snprintf(d->reason, sizeof d->reason, "%s", reason);
	d->listed = listed;
	d->manifest_mtime = l->mtime;
	return TR_OK;
}

/* The header of one backup: from its info, else from its manifest. */
static int load_header(tr_repo *r, const struct label *l, tr_manifest_hdr *h, int *loaded, tr_backup_damages *dmg)
{
	char why[1400];
	int status, rc = load_info(r, l->name, h);
	*loaded = rc == TR_OK;
	if (rc == TR_OK || !tr_status_is_damage(rc))
		return rc;
	if (rc == TR_ENOENT)
		snprintf(why, sizeof why, "info missing (backups/%s/info)", l->name);
	else
		snprintf(why, sizeof why, "info damaged (%s)", tr_repo_error(r));
	FILE *f = tr_manifest_open(r, l->name, h, &status);
	if (f) {
		fclose(f);
		int rc2 = note_damage(dmg, l, 1, why);
		*loaded = rc2 == TR_OK;
		if (!*loaded)
			tr_manifest_hdr_free(h);
		return rc2;
	}
	if (status == TR_ENOENT)
		return TR_OK;  /* removed since the listing (expire) */
	if (!tr_status_is_damage(status))
		return status;
	snprintf(why + strlen(why), sizeof why - strlen(why), ", manifest damaged too (%s)", tr_repo_error(r));
	return note_damage(dmg, l, 0, why);
}

int tr_backupset_load(tr_repo *r, tr_backupset *set)
{
	return tr_backupset_load_checked(r, set, NULL);
}

int tr_backupset_load_checked(tr_repo *r, tr_backupset *set, tr_backup_damages *dmg)
{
	struct labels l = { NULL, 0, 0 };
	memset(set, 0, sizeof *set);
	if (dmg)
		memset(dmg, 0, sizeof *dmg);
	int rc = tr_repo_list(r, "backups/", collect_label, &l);
	if (rc == TR_OK && l.n)
		set->b = calloc((size_t)l.n, sizeof *set->b);
	if (rc == TR_OK && l.n && !set->b)
		rc = TR_ENOMEM;
	for (int i = 0; rc == TR_OK && i < l.n; i++) {
		int loaded;
		rc = load_header(r, &l.v[i], &set->b[set->n], &loaded, dmg);
		if (rc == TR_OK && loaded)
			set->n++;
	}
	free(l.v);
	if (rc != TR_OK) {
		tr_backupset_free(set);
		return rc;
	}
	if (set->n)  /* qsort(NULL, 0) is undefined */
		qsort(set->b, (size_t)set->n, sizeof *set->b, by_stop_time);
	return TR_OK;
}

void tr_backup_damages_free(tr_backup_damages *d)
{
	free(d->v);
	memset(d, 0, sizeof *d);
}

void tr_backupset_free(tr_backupset *set)
{
	for (int i = 0; i < set->n; i++)
		tr_manifest_hdr_free(&set->b[i]);
	free(set->b);
	memset(set, 0, sizeof *set);
}

int tr_backupset_find(const tr_backupset *set, const char *label)
{
	for (int i = 0; i < set->n; i++)
		if (strcmp(set->b[i].label, label) == 0)
			return i;
	return -1;
}
