/*
 * expire.c - `totalrecall expire [--dry-run]`: retention.
 *
 * A backup is kept if it is among the retention-count newest, or newer
 * than retention-days days (either rule keeps it); with neither set, every
 * backup is kept.  The newest backup is always kept.  Backups are ordered
 * by their recorded stop times, never by name or timeline.
 *
 * Then, in this order (each step safe to interrupt and repeat):
 *  1. expired backups: manifest first (the backup stops being listed),
 *     then info;
 *  2. WAL no kept backup needs: files of any timeline whose segment number
 *     is below the start segment of the oldest kept backup (.history
 *     files always stay);
 *  3. chunks no kept backup references, older than an hour, unless a
 *     backup is in progress (a lock younger than a day in locks/).
 * The set of referenced chunks is built in passes over a slice of the id
 * space each, so memory stays under a fixed budget whatever the size of
 * the repository.
 */
#include "config.h"
#include "backupset.h"
#include "commands.h"
#include "log.h"
#include "metric.h"
#include "util.h"
#include "walname.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CHUNK_GRACE 3600
#define REF_BUDGET (64u * 1024 * 1024)   /* bytes for chunk ids per pass */

struct expire {
	tr_repo *repo;
	int dry_run;
	int64_t now;
	uint64_t objects, bytes;   /* removed (or would be) */
	FILE **manifests;          /* decoded manifests of kept backups */
	int nmanifests;
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
	if (tr_repo_remove(e->repo, rel) != TR_OK) {
		snprintf(e->err, sizeof e->err, "%s", e->repo->err);
		return -1;
	}
	return 0;
}

/* Marks keep[] by the retention rules; returns how many are kept. */
static int apply_rules(const tr_config *cfg, const tr_backupset *set, int *keep, int64_t now)
{
	const char *count = tr_config_get(cfg, TR_S_RETENTION_COUNT), *days = tr_config_get(cfg, TR_S_RETENTION_DAYS);
	int kept = 0;
	for (int i = 0; i < set->n; i++) {
		int by_count = count && i >= set->n - atoi(count);
		int by_days = days && set->b[i].stop_time >= now - (int64_t)atoi(days) * 86400;
		keep[i] = (!count && !days) || by_count || by_days || i == set->n - 1;
		kept += keep[i];
	}
	return kept;
}

static int expire_backups(struct expire *e, const tr_backupset *set, const int *keep)
{
	char rel[128];
	for (int i = 0; i < set->n; i++) {
		if (keep[i])
			continue;
		tr_info("expire: backup %s (stopped %" PRId64 ", %" PRIu64 " bytes stored)", set->b[i].label,
			set->b[i].stop_time, set->b[i].stored_bytes);
		snprintf(rel, sizeof rel, "backups/%s/manifest", set->b[i].label);
		if (remove_object(e, "backup manifest", rel, 0) != 0)
			return -1;
		snprintf(rel, sizeof rel, "backups/%s/info", set->b[i].label);
		if (remove_object(e, "backup info", rel, 0) != 0)
			return -1;
	}
	return 0;
}

/* --- WAL --- */

struct wal_scan {
	struct expire *e;
	uint64_t keep_from;   /* segment number (log * per_log + seg) */
	uint64_t per_log;
	int failed;
};

static int wal_candidate(void *ctx, const tr_object_info *info)
{
	struct wal_scan *w = ctx;
	const char *name = tr_basename(info->key);
	unsigned tli, log, seg;
	int kind = tr_wal_kind(name);
	if (kind == TR_WAL_NONE || kind == TR_WAL_HISTORY || sscanf(name, "%8X%8X%8X", &tli, &log, &seg) != 3)
		return 0;
	if ((uint64_t)log * w->per_log + seg >= w->keep_from)
		return 0;
	if (remove_object(w->e, "WAL", info->key, info->size) != 0) {
		w->failed = 1;
		return 1;
	}
	return 0;
}

static int expire_wal(struct expire *e, const tr_backupset *set, const int *keep)
{
	const tr_manifest_hdr *oldest = NULL;
	for (int i = 0; i < set->n && !oldest; i++)
		if (keep[i])
			oldest = &set->b[i];
	struct wal_scan w = { e, 0, 0x100000000ULL / oldest->wal_segment_size, 0 };
	w.keep_from = oldest->start_lsn / oldest->wal_segment_size;
	if (tr_repo_list(e->repo, "wal/", wal_candidate, &w) != TR_OK && !w.failed) {
		snprintf(e->err, sizeof e->err, "%s", e->repo->err);
		return -1;
	}
	return w.failed ? -1 : 0;
}

/* --- chunks --- */

struct lock_scan {
	int64_t now;
	int active;
	char active_name[128];
};

static int lock_seen(void *ctx, const tr_object_info *info)
{
	struct lock_scan *l = ctx;
	if (info->mtime >= l->now - TR_LOCK_STALE) {
		l->active = 1;
		snprintf(l->active_name, sizeof l->active_name, "%s", info->key);
	}
	return 0;
}

/* Decoded manifests of the kept backups, read again by each pass. */
static int open_manifests(struct expire *e, const tr_backupset *set, const int *keep, uint64_t *refs)
{
	e->manifests = calloc((size_t)set->n, sizeof *e->manifests);
	if (!e->manifests)
		return -1;
	*refs = 0;
	for (int i = 0; i < set->n; i++) {
		if (!keep[i])
			continue;
		tr_manifest_hdr h;
		int status;
		FILE *f = tr_manifest_open(e->repo, set->b[i].label, &h, &status);
		if (!f) {
			snprintf(e->err, sizeof e->err, "%s", e->repo->err);
			return -1;
		}
		tr_manifest_hdr_free(&h);
		e->manifests[e->nmanifests++] = f;
		/* At most one chunk per file plus one per chunk-size bytes. */
		*refs += set->b[i].file_count + set->b[i].logical_bytes / (set->b[i].chunk_size ? set->b[i].chunk_size : 1);
	}
	return 0;
}

static unsigned id_slice(const char *id, unsigned passes)
{
	uint8_t b;
	char two[3] = { id[1], id[1] ? id[2] : 0, 0 };
	return tr_unhex(two, &b, 1) == 0 ? b % passes : 0;
}

static int cmp_ids(const void *a, const void *b) { return strcmp(a, b); }

struct idset {
	char (*v)[66];
	size_t n, cap;
};

/* Collects the referenced ids of one slice from every kept manifest. */
static int collect_refs(struct expire *e, unsigned pass, unsigned passes, struct idset *s)
{
	tr_mf_rec *rec = malloc(sizeof *rec);
	int rc = 0;
	s->n = 0;
	for (int m = 0; rec && m < e->nmanifests && rc == 0; m++) {
		FILE *f = e->manifests[m];
		tr_manifest_hdr h;
		fseek(f, 0, SEEK_SET);
		if (tr_manifest_read_hdr(f, &h, e->err, sizeof e->err) != 0) {
			rc = -1;
			break;
		}
		tr_manifest_hdr_free(&h);
		int r;
		while ((r = tr_manifest_read_rec(f, rec, e->err, sizeof e->err)) == 1) {
			if (rec->type != 'c' || id_slice(rec->chunk, passes) != pass)
				continue;
			if (s->n == s->cap) {
				size_t cap = s->cap ? 2 * s->cap : 1024;
				void *grown = realloc(s->v, cap * sizeof *s->v);
				if (!grown) {
					r = -1;
					break;
				}
				s->v = grown;
				s->cap = cap;
			}
			memcpy(s->v[s->n++], rec->chunk, sizeof s->v[0]);
		}
		rc = r < 0 ? -1 : 0;
	}
	free(rec);
	qsort(s->v, s->n, sizeof *s->v, cmp_ids);
	return rec ? rc : -1;
}

struct chunk_scan {
	struct expire *e;
	struct idset *refs;
	unsigned pass, passes;
	int failed;
};

static int chunk_candidate(void *ctx, const tr_object_info *info)
{
	struct chunk_scan *c = ctx;
	const char *id = tr_basename(info->key);
	if (id[0] != 'c' || strlen(id) != 65 || id_slice(id, c->passes) != c->pass)
		return 0;
	if (bsearch(id, c->refs->v, c->refs->n, sizeof *c->refs->v, cmp_ids))
		return 0;
	if (info->mtime > c->e->now - CHUNK_GRACE)
		return 0;  /* may belong to a backup that has not written its manifest */
	if (remove_object(c->e, "chunk", info->key, info->size) != 0) {
		c->failed = 1;
		return 1;
	}
	return 0;
}

static int expire_chunks(struct expire *e, const tr_backupset *set, const int *keep)
{
	struct lock_scan l = { e->now, 0, "" };
	uint64_t refs;
	if (tr_repo_list(e->repo, "locks/", lock_seen, &l) != TR_OK) {
		snprintf(e->err, sizeof e->err, "%s", e->repo->err);
		return -1;
	}
	if (l.active) {
		tr_info("expire: a backup is in progress (%s): no chunk is removed this time", l.active_name);
		return 0;
	}
	if (open_manifests(e, set, keep, &refs) != 0)
		return -1;
	unsigned passes = (unsigned)(refs * sizeof(char[66]) / REF_BUDGET + 1);
	if (passes > 256)
		passes = 256;
	struct idset s = { NULL, 0, 0 };
	int rc = 0;
	for (unsigned p = 0; p < passes && rc == 0; p++) {
		rc = collect_refs(e, p, passes, &s);
		struct chunk_scan c = { e, &s, p, passes, 0 };
		if (rc == 0 && tr_repo_list(e->repo, "chunks/", chunk_candidate, &c) != TR_OK && !c.failed) {
			snprintf(e->err, sizeof e->err, "%s", e->repo->err);
			rc = -1;
		}
		if (c.failed)
			rc = -1;
	}
	free(s.v);
	return rc;
}

static void close_manifests(struct expire *e)
{
	for (int i = 0; i < e->nmanifests; i++)
		fclose(e->manifests[i]);
	free(e->manifests);
}

static int run_expire(struct expire *e, const tr_backupset *set)
{
	int *keep = calloc((size_t)set->n + 1, sizeof *keep);
	if (!keep) {
		snprintf(e->err, sizeof e->err, "out of memory");
		return -1;
	}
	int kept = apply_rules(e->repo->cfg, set, keep, e->now);
	tr_info("expire: %d backup%s, %d kept", set->n, set->n == 1 ? "" : "s", kept);
	int rc = expire_backups(e, set, keep);
	if (rc == 0)
		rc = expire_wal(e, set, keep);
	if (rc == 0)
		rc = expire_chunks(e, set, keep);
	free(keep);
	return rc;
}

int tr_cmd_expire(tr_config *cfg, int argc, char **argv)
{
	char err[2048];
	struct expire e;
	tr_repo r;
	tr_backupset set = { NULL, 0 };
	(void)argv;
	if (argc != 0) {
		tr_error("expire: takes no arguments");
		return 1;
	}
	if (tr_config_require_storage(cfg, err, sizeof err) != 0) {
		tr_error("expire: %s", err);
		return 1;
	}
	memset(&e, 0, sizeof e);
	e.repo = &r;
	e.dry_run = tr_config_get(cfg, TR_S_DRY_RUN) != NULL;
	e.now = (int64_t)time(NULL);
	int rc = tr_repo_connect(&r, cfg);
	if (rc == TR_OK)
		rc = tr_repo_unlock(&r, 0);
	if (rc == TR_OK)
		rc = tr_backupset_load(&r, &set);
	if (rc != TR_OK) {
		snprintf(e.err, sizeof e.err, "%s", r.err);
		rc = -1;
	} else if (set.n == 0) {
		tr_info("expire: no backup in the repository, nothing to do");
	} else {
		rc = run_expire(&e, &set);
	}
	if (rc == 0 && !e.dry_run)
		tr_metric_bytes(0, e.bytes);
	if (rc == 0)
		tr_info("expire: %s %" PRIu64 " objects, %" PRIu64 " bytes", e.dry_run ? "would remove" : "removed",
			e.objects, e.bytes);
	else
		tr_error("expire: %s", e.err);
	close_manifests(&e);
	tr_backupset_free(&set);
	tr_repo_close(&r);
	return rc == 0 ? 0 : 1;
}
