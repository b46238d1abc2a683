/*
 * verify_list.c - the listing of the repository, the keyring, and the
 * decoding of objects on the worker pool (see verify.h).
 */
#include "config.h"
#include "cmd/verify.h"
#include "repo/backupset.h"
#include "repo/tmpobj.h"
#include "format/checksum.h"
#include "base/log.h"
#include "base/util.h"
#include "pg/walname.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

void tr_verify_report(tr_verify *v, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	pthread_mutex_lock(&v->mu);
	vprintf(fmt, ap);
	putchar('\n');
	fflush(stdout);
	v->problems++;
	pthread_mutex_unlock(&v->mu);
	va_end(ap);
}

/* --- the listing --- */

static char kind_of(const char *key)
{
	const char *name = tr_basename(key);
	if (tr_section_of_key(key)) {
		int k = tr_wal_kind(name);
		return k == TR_WAL_HISTORY ? 'h' : k == TR_WAL_NONE ? 'o' : 'w';
	}
	if (strncmp(key, "chunks/", 7) == 0)
		return name[0] == 'c' && strlen(name) == 65 ? 'c' : 'o';
	if (strncmp(key, "backups/", 8) == 0)
		return !strcmp(name, "info") ? 'i' : !strcmp(name, "manifest") ? 'm' : 'o';
	return 'o';
}

struct collect {
	tr_verify *v;
	int failed;
};

static int collect_one(void *ctx, const tr_object_info *info)
{
	struct collect *c = ctx;
	if (strchr(info->key, '\n'))
		return 0;  /* not one of ours: cannot be a line */
	if (fprintf(c->v->listing, "%c %" PRId64 " %" PRId64 " %s\n", kind_of(info->key), info->mtime, info->size,
		    info->key) < 0) {
		c->failed = 1;
		return 1;
	}
	if (info->mtime > c->v->watermark)
		c->v->watermark = info->mtime;
	return 0;
}

int tr_verify_collect(tr_verify *v)
{
	/* "wal-": the WAL of history sections 2 and later (section.h). */
	static const char *const prefixes[] = { "backups/", "chunks/", "wal/", "wal-" };
	struct collect c = { v, 0 };
	v->listing = tr_repo_tmpfile(v->repo);
	if (!v->listing) {
		snprintf(v->err, sizeof v->err, "cannot create a temporary file in the state directory");
		return -1;
	}
	for (size_t i = 0; i < TR_ARRAY_LEN(prefixes); i++)
		if (tr_repo_list(v->repo, prefixes[i], collect_one, &c) != TR_OK || c.failed) {
			snprintf(v->err, sizeof v->err, "%s", c.failed ? "cannot write the listing" : tr_repo_error(v->repo));
			return -1;
		}
	if (fflush(v->listing) != 0) {
		snprintf(v->err, sizeof v->err, "cannot write the listing");
		return -1;
	}
	return 0;
}

int tr_verify_parse_line(char *line, char *kind, int64_t *mtime, int64_t *size, char **key)
{
	long long m, s;
	int off = 0;
	size_t n = strlen(line);
	if (n && line[n - 1] == '\n')
		line[n - 1] = '\0';
	if (sscanf(line, "%c %lld %lld %n", kind, &m, &s, &off) != 3 || off == 0)
		return -1;
	*mtime = m;
	*size = s;
	*key = line + off;
	return 0;
}

/* --- the keyring --- */

static void report_line(void *ctx, const char *line)
{
	tr_verify_report(ctx, "%s", line);
}

/* Every copy of the keyring (repo.h): what unlocking repaired, and what is
 * still missing, damaged or stale.  1 when the keyring or its copy could
 * not be repaired. */
int tr_verify_check_keyring(tr_verify *v)
{
	int rc = tr_repo_keyring_report(v->repo, report_line, v);
	if (rc < 0)
		snprintf(v->err, sizeof v->err, "%s", tr_repo_error(v->repo));
	return rc < 0 ? -1 : rc;
}

/* --- damage --- */

void tr_verify_add_damage(tr_verify *v, const char *key, const char *reason)
{
	pthread_mutex_lock(&v->mu);
	if (v->ndmg == v->capdmg) {
		size_t cap = v->capdmg ? 2 * v->capdmg : 16;
		void *grown = realloc(v->dmg, cap * sizeof *v->dmg);
		if (grown) {
			v->dmg = grown;
			v->capdmg = cap;
		}
	}
	if (v->ndmg < v->capdmg) {
		v->dmg[v->ndmg].key = strdup(key);
		v->dmg[v->ndmg].reason = strdup(reason);
		if (v->dmg[v->ndmg].key && v->dmg[v->ndmg].reason)
			v->ndmg++;
		else {
			free(v->dmg[v->ndmg].key);
			free(v->dmg[v->ndmg].reason);
		}
	}
	pthread_mutex_unlock(&v->mu);
}

static int cmp_dmg(const void *a, const void *b)
{
	return strcmp(((const struct tr_vdamage *)a)->key, ((const struct tr_vdamage *)b)->key);
}

const char *tr_verify_damage(tr_verify *v, const char *key)
{
	if (v->dmg_sorted != v->ndmg) {
		qsort(v->dmg, v->ndmg, sizeof *v->dmg, cmp_dmg);
		v->dmg_sorted = v->ndmg;
	}
	struct tr_vdamage probe = { (char *)key, NULL };
	const struct tr_vdamage *d = v->ndmg ? bsearch(&probe, v->dmg, v->ndmg, sizeof *v->dmg, cmp_dmg) : NULL;
	return d ? d->reason : NULL;
}

/* --- decoding on the pool --- */

int tr_verify_needs_decode(const tr_verify *v, const char *key, int64_t mtime, int64_t size)
{
	return v->full || !tr_vstate_verified(&v->prev, key, mtime, size);
}

struct vjob {
	char kind;
	char key[TR_KEY_MAX + 1];
};

struct decode_sink {
	tr_checksum *hasher;   /* chunks only */
	uint64_t bytes;
};

static int decode_write(void *ctx, const void *buf, size_t len)
{
	struct decode_sink *s = ctx;
	if (s->hasher)
		tr_checksum_update(s->hasher, buf, len);
	s->bytes += len;
	return 0;
}

static void count_decoded(tr_verify *v, char kind, uint64_t bytes)
{
	pthread_mutex_lock(&v->mu);
	v->decoded++;
	v->decoded_bytes += bytes;
	if (kind == 'c')
		v->dec_chunk++;
	else if (kind == 'i')
		v->dec_info++;
	else
		v->dec_wal++;
	pthread_mutex_unlock(&v->mu);
}

int tr_verify_decode_job(tr_repo *repo, void *job, void *arg)
{
	struct vjob *j = job;
	tr_verify *v = arg;
	struct decode_sink s = { NULL, 0 };
	char id[66];
	int ok = -1;
	if (j->kind == 'c' && !(s.hasher = tr_repo_chunk_hasher(repo))) {
		tr_repo_set_error(repo, "out of memory");
		free(j);
		return -1;
	}
	int rc = tr_repo_get(repo, j->key, decode_write, &s, NULL);
	tr_debug("verify: decoded %s: %s", j->key, rc == TR_OK ? "ok" : tr_repo_error(repo));
	if (rc == TR_OK || rc == TR_REPO_ECORRUPT || rc == TR_REPO_EKEY)
		count_decoded(v, j->kind, s.bytes);
	if (rc == TR_OK && s.hasher) {
		tr_chunk_hasher_final(s.hasher, id);
		s.hasher = NULL;
		if (strcmp(id, tr_basename(j->key)) != 0)
			tr_verify_add_damage(v, j->key, "content does not match its chunk id");
		ok = 0;
	} else if (rc == TR_OK || rc == TR_ENOENT) {
		ok = 0;  /* absent now: removed by expire since the listing */
	} else if (rc == TR_REPO_ECORRUPT || rc == TR_REPO_EKEY) {
		/* tr_repo_error(repo) is "<storage key>: <reason>"; keep the reason. */
		const char *reason = strstr(tr_repo_error(repo), ": ");
		tr_verify_add_damage(v, j->key, reason ? reason + 2 : tr_repo_error(repo));
		ok = 0;
	}
	tr_checksum_free(s.hasher);
	free(j);
	return ok;
}

void tr_verify_skip_job(void *job, void *arg)
{
	(void)arg;
	free(job);
}

int tr_verify_submit(tr_verify *v, char kind, const char *key)
{
	struct vjob *j = malloc(sizeof *j);
	if (!j) {
		snprintf(v->err, sizeof v->err, "out of memory");
		return -1;
	}
	j->kind = kind;
	snprintf(j->key, sizeof j->key, "%s", key);
	if (tr_pool_submit(v->pool, j) != 0) {
		free(j);  /* not taken (pool.h) */
		snprintf(v->err, sizeof v->err, "%s", tr_pool_error(v->pool));
		return -1;
	}
	return 0;
}

int tr_verify_wait(tr_verify *v)
{
	if (tr_pool_wait(v->pool) != 0) {
		snprintf(v->err, sizeof v->err, "%s", tr_pool_error(v->pool));
		return -1;
	}
	return 0;
}

/* Whether WAL file `name` is old enough for --backup to leave it out. */
static int wal_out_of_scope(const tr_verify *v, const char *name)
{
	unsigned tli, log, seg;
	if (!v->only || sscanf(name, "%8X%8X%8X", &tli, &log, &seg) != 3)
		return 0;
	return ((uint64_t)log << 32 | seg) < v->start_seg_min;
}

static int info_out_of_scope(const tr_verify *v, const char *key)
{
	size_t n = v->only ? strlen(v->only) : 0;
	return v->only && !(strncmp(key + 8, v->only, n) == 0 && key[8 + n] == '/');
}

int tr_verify_decode_small(tr_verify *v)
{
	char line[TR_VERIFY_LINE], *key, kind;
	int64_t mtime, size;
	rewind(v->listing);
	while (fgets(line, sizeof line, v->listing)) {
		if (tr_verify_parse_line(line, &kind, &mtime, &size, &key) != 0)
			continue;
		if (kind != 'w' && kind != 'h' && kind != 'i')
			continue;
		if ((kind == 'w' && wal_out_of_scope(v, tr_basename(key))) || (kind == 'i' && info_out_of_scope(v, key)))
			continue;
		if (!tr_verify_needs_decode(v, key, mtime, size)) {
			v->skipped++;
			continue;
		}
		if (tr_verify_submit(v, kind, key) != 0)
			return -1;
	}
	return tr_verify_wait(v);
}
