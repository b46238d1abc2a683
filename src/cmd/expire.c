/*
 * expire.c - `totalrecall expire [--dry-run]`: retention.
 *
 * Which backups stay: from the newest down, the manifest of every backup
 * that may stay is decoded before anything is removed.  A backup whose
 * manifest decodes is restorable and counts; one whose manifest is
 * damaged or missing is kept while it is newer than the oldest kept
 * restorable backup, but never counted.  A backup is kept if it is among
 * the retention-count newest restorable ones, or newer than retention-days
 * days (either rule keeps it); with neither set, every backup is kept.
 * The newest restorable backup is always kept; with none, nothing is
 * removed and expire fails.  Backups are ordered by their recorded stop
 * times, never by name or timeline.  A storage failure while deciding
 * removes nothing.
 *
 * expire holds the repository lock (repolock.h) from before it reads the
 * backups until its last removal, so no backup registers in between.
 *
 * Then, in this order (each step safe to interrupt and repeat):
 *  0. locks older than a day or whose process (on this machine) no longer
 *     runs, and the info of a backup that never wrote its manifest, older
 *     than a day and with no lock: neither can belong to a running backup;
 *  1. expired backups: manifest first (the backup stops being listed),
 *     then info; a backup whose info and manifest both cannot be read goes
 *     once its manifest is older than the oldest kept backup;
 *  2. WAL no kept backup needs, per history section (section_expire.c):
 *     files of any timeline whose segment number is below the lowest start
 *     segment of the section's kept backups (.history files stay); all
 *     the WAL of an older section that keeps no backup;
 *  3. chunks no kept backup references, older than an hour, unless a
 *     backup is in progress (its lock in locks/), or a kept backup's
 *     manifest cannot be read (its references are unknown).
 * The set of referenced chunks is built in passes over a slice of the id
 * space each (chunkref.h), so memory stays under a fixed budget whatever
 * the size of the repository.
 *
 * Every age above is the storage's time of the object.  A driver that
 * cannot tell it reports 0 (driver.h, "Times"): such an object is never
 * old enough, so chunks, locks, and the remains of killed or unreadable
 * backups stay, and the summary says how many stayed for that reason.
 */
#include "config.h"
#include "repo/backupset.h"
#include "repo/chunkref.h"
#include "cmd/commands.h"
#include "conf/resolve.h"
#include "base/log.h"
#include "base/metric.h"
#include "repo/repolock.h"
#include "repo/rmbatch.h"
#include "repo/section.h"
#include "base/testhook.h"
#include "base/util.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CHUNK_GRACE 3600

/* One object under backups/<label>/. */
struct bobj {
	char label[64];
	char kind[16];             /* "info", "manifest" */
	int64_t size, mtime;
};

struct expire {
	tr_repo *repo;
	tr_repolock lock;
	int dry_run;
	const char *count, *days;  /* retention-count, retention-days, NULL when unset */
	int64_t now;
	uint64_t objects, bytes;   /* removed (or would be) */
	int *keep;                 /* by index in the backup set */
	FILE **manifests;          /* decoded manifests of the kept restorable backups, by index, or NULL */
	int nset;
	int unknown_refs;          /* a kept backup's manifest cannot be read */
	struct bobj *objs;         /* every object under backups/ */
	int nobjs, cap_objs;
	tr_rmbatch batch;          /* WAL and chunks: removed by the thousand (rmbatch.h) */
	int lock_active;           /* a lock younger than TR_LOCK_STALE, or of unknown age */
	uint64_t unknown_age;      /* objects kept because the storage did not tell their age */
	char lock_active_name[128];
	char err[2048];
};

static int remove_object(struct expire *e, const char *what, const char *rel, int64_t size)
{
	e->objects++;
	e->bytes += size > 0 ? (uint64_t)size : 0;
	if (e->dry_run) {
		printf("would remove %s %s (%" PRId64 " bytes)\n", what, rel, size);
		return 0;
	}
	tr_debug("expire: removing %s", rel);
	tr_repolock_refresh(&e->lock);
	if (tr_repo_remove(e->repo, rel) != TR_OK) {
		snprintf(e->err, sizeof e->err, "%s", tr_repo_error(e->repo));
		return -1;
	}
	return 0;
}

/* WAL and chunks, whose order of removal does not matter: in batches. */
static int remove_batched(struct expire *e, const char *what, const char *rel, int64_t size)
{
	if (e->dry_run)
		return remove_object(e, what, rel, size);
	e->objects++;
	e->bytes += size > 0 ? (uint64_t)size : 0;
	tr_debug("expire: removing %s", rel);
	if (tr_rmbatch_add(&e->batch, rel) != TR_OK) {
		snprintf(e->err, sizeof e->err, "%s", tr_repo_error(e->repo));
		return -1;
	}
	return 0;
}

static int flush_batch(struct expire *e)
{
	if (tr_rmbatch_flush(&e->batch) != TR_OK) {
		snprintf(e->err, sizeof e->err, "%s", tr_repo_error(e->repo));
		return -1;
	}
	return 0;
}

static void renew_lock(void *ctx)
{
	tr_repolock_refresh(ctx);
}

/* Decides what stays, from the newest backup down (see the top), decoding
 * the manifest of each backup it keeps.  Returns how many are kept, or -1
 * (nothing is removed then). */
static int decide(struct expire *e, const tr_backupset *set)
{
	const char *count = e->count, *days = e->days;
	int restorable = 0, kept = 0;
	for (int i = set->n - 1; i >= 0; i--) {
		int by_days = days && set->b[i].stop_time >= e->now - (int64_t)atoi(days) * 86400;
		if (count && restorable >= atoi(count) && !by_days && restorable > 0)
			break;  /* older ones have older stop times: none is kept */
		if (!count && days && !by_days && restorable > 0)
			break;
		tr_manifest_hdr h;
		int status;
		FILE *f = tr_manifest_open(e->repo, set->b[i].label, &h, &status);
		e->keep[i] = 1;
		kept++;
		if (f) {
			tr_manifest_hdr_free(&h);
			e->manifests[i] = f;
			restorable++;
			continue;
		}
		if (!tr_status_is_damage(status)) {
			snprintf(e->err, sizeof e->err, "%s", tr_repo_error(e->repo));
			return -1;
		}
		e->unknown_refs = 1;
		tr_warn("expire: backup %s is not restorable (%s): kept, not counted toward retention", set->b[i].label,
			tr_repo_error(e->repo));
	}
	if (restorable == 0 && set->n > 0) {
		snprintf(e->err, sizeof e->err, "no backup in the repository is restorable (see the warnings): "
			 "nothing is removed");
		return -1;
	}
	return kept;
}

/* The storage does not say when the object was written (driver.h). */
static int age_unknown(struct expire *e, int64_t mtime)
{
	if (mtime > 0)
		return 0;
	e->unknown_age++;
	return 1;
}

/* Stop time of the oldest kept backup. */
static int64_t oldest_kept(const struct expire *e, const tr_backupset *set)
{
	for (int i = 0; i < set->n; i++)
		if (e->keep[i])
			return set->b[i].stop_time;
	return INT64_MAX;
}

static const struct bobj *find_obj(const struct expire *e, const char *label, const char *kind)
{
	for (int i = 0; i < e->nobjs; i++)
		if (strcmp(e->objs[i].label, label) == 0 && strcmp(e->objs[i].kind, kind) == 0)
			return &e->objs[i];
	return NULL;
}

static int remove_backup_object(struct expire *e, const char *label, const char *kind)
{
	char rel[128], what[32];
	const struct bobj *o = find_obj(e, label, kind);
	if (!o)
		return 0;
	snprintf(rel, sizeof rel, "backups/%s/%s", label, kind);
	snprintf(what, sizeof what, "backup %s", kind);
	return remove_object(e, what, rel, o->size);
}

/* A backup's objects, manifest first (so it stops being listed), then its
 * info, then its copy of the keyring (written before the info). */
static int remove_backup(struct expire *e, const char *label)
{
	return remove_backup_object(e, label, "manifest") != 0 || remove_backup_object(e, label, "info") != 0 ||
			       remove_backup_object(e, label, "keyring") != 0
		       ? -1
		       : 0;
}

static int expire_backups(struct expire *e, const tr_backupset *set)
{
	for (int i = 0; i < set->n; i++) {
		if (e->keep[i])
			continue;
		char stopped[32];
		tr_backup_time_iso(set->b[i].stop_time, stopped);
		tr_info("expire: backup %s (stopped %s, %" PRIu64 " bytes stored)", set->b[i].label, stopped,
			set->b[i].stored_bytes);
		if (remove_backup(e, set->b[i].label) != 0)
			return -1;
	}
	return 0;
}

/* Backups whose info and manifest both cannot be read (backupset.h): their
 * stop time is unknown, their manifest's storage time stands in for it. */
static int expire_unreadable(struct expire *e, const tr_backupset *set, const tr_backup_damages *d)
{
	int64_t oldest = oldest_kept(e, set);
	for (int k = 0; k < d->n; k++) {
		if (d->v[k].listed)
			continue;
		if (d->v[k].manifest_mtime >= oldest || age_unknown(e, d->v[k].manifest_mtime)) {
			e->unknown_refs = 1;
			continue;  /* named by the warning of tr_backupset_load */
		}
		tr_info("expire: backup %s cannot be read and is older than every kept backup: removed", d->v[k].label);
		if (remove_backup(e, d->v[k].label) != 0)
			return -1;
	}
	return 0;
}

static int collect_bobj(void *ctx, const tr_object_info *info)
{
	struct expire *e = ctx;
	const char *k = info->key + strlen("backups/");
	const char *slash = strchr(k, '/');
	if (!slash || slash - k >= 64 || strlen(slash + 1) >= sizeof e->objs->kind)
		return 0;
	if (e->nobjs == e->cap_objs) {
		int cap = e->cap_objs ? 2 * e->cap_objs : 32;
		void *grown = realloc(e->objs, (size_t)cap * sizeof *e->objs);
		if (!grown)
			return 1;
		e->objs = grown;
		e->cap_objs = cap;
	}
	struct bobj *o = &e->objs[e->nobjs++];
	snprintf(o->label, sizeof o->label, "%.*s", (int)(slash - k), k);
	snprintf(o->kind, sizeof o->kind, "%s", slash + 1);
	o->size = info->size;
	o->mtime = info->mtime;
	return 0;
}

static int has_lock(struct expire *e, const char *label)
{
	char rel[128];
	tr_object_info info;
	snprintf(rel, sizeof rel, "locks/%s", label);
	return tr_repo_head(e->repo, rel, &info) == TR_OK;
}

/* What a backup killed before its manifest left, a day old and unlocked:
 * its info, or only its keyring copy (killed before the info). */
static int expire_orphans(struct expire *e)
{
	for (int i = 0; i < e->nobjs; i++) {
		const struct bobj *o = &e->objs[i];
		int info = strcmp(o->kind, "info") == 0;
		if ((!info && strcmp(o->kind, "keyring") != 0) || find_obj(e, o->label, "manifest") ||
		    (!info && find_obj(e, o->label, "info")) || o->mtime > e->now - TR_LOCK_STALE ||
		    age_unknown(e, o->mtime) || has_lock(e, o->label))
			continue;
		tr_info("expire: backup %s never completed (no manifest)", o->label);
		if ((info && remove_backup_object(e, o->label, "info") != 0) ||
		    remove_backup_object(e, o->label, "keyring") != 0)
			return -1;
	}
	return 0;
}

/* --- WAL --- */

static int remove_wal(void *ctx, const char *rel, int64_t size)
{
	return remove_batched(ctx, "WAL", rel, size);
}

/* Each history section's WAL against its own kept backups (section.h);
 * kept backups that are not restorable count too: their WAL stays as long
 * as they do. */
static int expire_wal(struct expire *e, const tr_backupset *set)
{
	char err[2048];
	if (tr_sections_expire_wal(e->repo, set, e->keep, remove_wal, e, err, sizeof err) == 0)
		return flush_batch(e);
	if (!e->err[0])
		snprintf(e->err, sizeof e->err, "%s", err);
	return -1;
}

/* --- chunks --- */

#define MAX_LOCKS 256

struct lock_scan {
	struct expire *e;
	struct { char key[128]; int64_t mtime, size; } v[MAX_LOCKS];
	int n;
};

static int lock_seen(void *ctx, const tr_object_info *info)
{
	struct lock_scan *l = ctx;
	if (strcmp(info->key, TR_REPOLOCK_NAME) == 0)
		return 0;  /* the repository lock: not a backup */
	if (l->n == MAX_LOCKS) {  /* more than that: every further one counts as running */
		l->e->lock_active = 1;
		snprintf(l->e->lock_active_name, sizeof l->e->lock_active_name, "%s", info->key);
		return 0;
	}
	snprintf(l->v[l->n].key, sizeof l->v[0].key, "%s", info->key);
	l->v[l->n].mtime = info->mtime;
	l->v[l->n++].size = info->size;
	return 0;
}

/* Whether the lock of a backup belongs to a process of this machine that
 * no longer runs (a killed backup): its lock body names its holder. */
static int lock_holder_gone(struct expire *e, const char *key)
{
	char body[1024];
	tr_membuf m = { body, 0, sizeof body - 1, 0 };
	if (tr_repo_get(e->repo, key, tr_mem_write, &m, NULL) != TR_OK)
		return 0;
	body[m.len] = '\0';
	return tr_lock_holder_gone(body);
}

/* Notes a running backup; removes the locks of backups killed a day ago,
 * or killed on this machine. */
static int scan_locks(struct expire *e)
{
	struct lock_scan *l = calloc(1, sizeof *l);
	int rc = 0;
	if (!l) {
		snprintf(e->err, sizeof e->err, "out of memory");
		return -1;
	}
	l->e = e;
	if (tr_repo_list(e->repo, "locks/", lock_seen, l) != TR_OK) {
		snprintf(e->err, sizeof e->err, "%s", tr_repo_error(e->repo));
		rc = -1;
	}
	for (int i = 0; rc == 0 && i < l->n; i++) {
		int stale = l->v[i].mtime < e->now - TR_LOCK_STALE && !age_unknown(e, l->v[i].mtime);
		if (!stale && lock_holder_gone(e, l->v[i].key)) {
			tr_info("expire: %s: its backup no longer runs (killed)", l->v[i].key);
			stale = 1;
		}
		if (stale) {
			rc = remove_object(e, "stale lock", l->v[i].key, l->v[i].size);
		} else {
			e->lock_active = 1;
			snprintf(e->lock_active_name, sizeof e->lock_active_name, "%s", l->v[i].key);
		}
	}
	free(l);
	return rc;
}

static int add_ref(void *ctx, const tr_mf_rec *file, const tr_mf_rec *chunk)
{
	(void)file;
	return tr_idset_add(ctx, chunk->chunk) != 0;
}

/* Collects the referenced ids of one slice from every kept manifest. */
static int collect_refs(struct expire *e, unsigned pass, unsigned passes, tr_idset *s)
{
	s->n = 0;
	for (int m = 0; m < e->nset; m++) {
		if (!e->manifests[m])
			continue;
		int r = tr_chunkref_scan(e->manifests[m], pass, passes, add_ref, s, e->err, sizeof e->err);
		if (r == 1)
			snprintf(e->err, sizeof e->err, "out of memory");
		if (r != 0)
			return -1;
	}
	tr_idset_sort(s);
	return 0;
}

struct chunk_scan {
	struct expire *e;
	tr_idset *refs;
	unsigned pass, passes;
	int failed;
};

static int chunk_candidate(void *ctx, const tr_object_info *info)
{
	struct chunk_scan *c = ctx;
	const char *id = tr_basename(info->key);
	if (id[0] != 'c' || strlen(id) != 65 || tr_chunkref_slice(id, c->passes) != c->pass)
		return 0;
	if (tr_idset_has(c->refs, id))
		return 0;
	if (info->mtime > c->e->now - CHUNK_GRACE || age_unknown(c->e, info->mtime))
		return 0;  /* may belong to a backup that has not written its manifest */
	if (remove_batched(c->e, "chunk", info->key, info->size) != 0) {
		c->failed = 1;
		return 1;
	}
	return 0;
}

static int expire_chunks(struct expire *e, const tr_backupset *set)
{
	uint64_t refs = 0;
	if (e->lock_active) {
		tr_info("expire: a backup is in progress (%s): no chunk is removed this time", e->lock_active_name);
		return 0;
	}
	if (e->unknown_refs) {
		tr_info("expire: a kept backup cannot be read (see the warnings): no chunk is removed this time");
		return 0;
	}
	for (int i = 0; i < set->n; i++)
		if (e->manifests[i])
			refs += tr_chunkref_estimate(&set->b[i]);
	unsigned passes = tr_chunkref_passes(refs, sizeof(char[66]));
	tr_idset s = { NULL, 0, 0 };
	int rc = 0;
	for (unsigned p = 0; p < passes && rc == 0; p++) {
		rc = collect_refs(e, p, passes, &s);
		struct chunk_scan c = { e, &s, p, passes, 0 };
		if (rc == 0 && tr_repo_list(e->repo, "chunks/", chunk_candidate, &c) != TR_OK && !c.failed) {
			snprintf(e->err, sizeof e->err, "%s", tr_repo_error(e->repo));
			rc = -1;
		}
		if (c.failed)
			rc = -1;
		if (rc == 0)
			rc = flush_batch(e);
	}
	tr_idset_free(&s);
	return rc;
}

static void close_manifests(struct expire *e)
{
	for (int i = 0; e->manifests && i < e->nset; i++)
		if (e->manifests[i])
			fclose(e->manifests[i]);
	free(e->manifests);
	free(e->keep);
	free(e->objs);
}

static int run_expire(struct expire *e, const tr_backupset *set, const tr_backup_damages *dmg)
{
	e->nset = set->n;
	e->keep = calloc((size_t)set->n + 1, sizeof *e->keep);
	e->manifests = calloc((size_t)set->n + 1, sizeof *e->manifests);
	if (!e->keep || !e->manifests) {
		snprintf(e->err, sizeof e->err, "out of memory");
		return -1;
	}
	int kept = decide(e, set);
	if (kept < 0)
		return -1;
	tr_info("expire: %d backup%s, %d kept", set->n, set->n == 1 ? "" : "s", kept);
	int rc = scan_locks(e);
	if (rc == 0 && tr_repo_list(e->repo, "backups/", collect_bobj, e) != TR_OK) {
		snprintf(e->err, sizeof e->err, "listing backups/: %s", tr_repo_error(e->repo));
		rc = -1;
	}
	if (rc == 0)
		rc = expire_orphans(e);
	if (rc == 0 && set->n == 0)
		tr_info("expire: no backup in the repository, nothing else to do");
	if (rc == 0 && set->n > 0)
		rc = expire_backups(e, set);
	if (rc == 0 && set->n > 0)
		rc = expire_unreadable(e, set, dmg);
	if (rc == 0 && set->n > 0)
		rc = expire_wal(e, set);
	if (rc == 0 && set->n > 0) {
		tr_testhook_pause("expire-chunks");
		rc = expire_chunks(e, set);
	}
	return rc;
}

int tr_cmd_expire(tr_config *cfg, int argc, char **argv)
{
	struct expire e;
	tr_repo *r = NULL;
	tr_repo_settings rs;
	tr_backupset set = { NULL, 0 };
	tr_backup_damages dmg = { NULL, 0 };
	(void)argv;
	if (tr_cmd_enter("expire", NULL, cfg, argc, &rs) != 0)
		return 1;
	memset(&e, 0, sizeof e);
	e.dry_run = tr_config_get(cfg, TR_S_DRY_RUN) != NULL;
	e.count = tr_config_get(cfg, TR_S_RETENTION_COUNT);
	e.days = tr_config_get(cfg, TR_S_RETENTION_DAYS);
	e.now = (int64_t)time(NULL);
	int rc = tr_repo_connect(&r, &rs);
	e.repo = r;
	tr_rmbatch_init(&e.batch, r, renew_lock, &e.lock);
	if (rc == TR_OK)
		rc = tr_repo_unlock(r, 0);
	if (rc != TR_OK) {
		snprintf(e.err, sizeof e.err, "%s", tr_repo_error(r));
		rc = -1;
	} else if (!e.dry_run && tr_repolock_take(r, &e.lock, "expire", e.err, sizeof e.err) != 0) {
		rc = -1;  /* a dry run removes nothing: it takes no lock */
	} else if (tr_backupset_load_checked(r, &set, &dmg) != TR_OK) {
		snprintf(e.err, sizeof e.err, "%s", tr_repo_error(r));
		rc = -1;
	} else {
		rc = run_expire(&e, &set, &dmg);
	}
	tr_repolock_release(&e.lock);
	if (rc == 0 && !e.dry_run)
		tr_metric_bytes(0, e.bytes);
	if (rc == 0 && e.unknown_age)
		tr_warn("expire: %" PRIu64 " objects kept: the storage (driver %s) does not tell when they were written, "
			"and an object of unknown age is never removed for its age", e.unknown_age, tr_repo_driver_name(r));
	if (rc == 0)
		tr_info("expire: %s %" PRIu64 " objects, %" PRIu64 " bytes", e.dry_run ? "would remove" : "removed",
			e.objects, e.bytes);
	else
		tr_error("expire: %s", e.err);
	close_manifests(&e);
	tr_rmbatch_free(&e.batch);
	tr_backupset_free(&set);
	tr_backup_damages_free(&dmg);
	tr_repo_close(r);
	return rc == 0 ? 0 : 1;
}
