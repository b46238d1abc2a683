/*
 * restore.c - `totalrecall restore [DATADIR]`: rebuilds an empty data
 * directory from a backup, for the latest state or a point in time.
 *
 * Everything is checked before anything is written: the directory must be
 * empty (or absent), the backup must exist, the target must lie between
 * the backup and the end of the archive.  Chunks are fetched in parallel,
 * authenticated by the object format and checked against their keyed
 * content id before they are written.  global/pg_control, backup_label and
 * the recovery settings are written last: a restore that fails leaves no
 * directory PostgreSQL could start, and removes what it wrote.
 */
#include "config.h"
#include "backupset.h"
#include "checksum.h"
#include "commands.h"
#include "fsync_tree.h"
#include "log.h"
#include "metric.h"
#include "pgconn.h"
#include "pool.h"
#include "progress.h"
#include "restore_conf.h"
#include "timeline.h"
#include "util.h"
#include "walname.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define PG_CONTROL "global/pg_control"

struct chunk_get {
	char path[PATH_MAX];
	char id[66];
	uint64_t offset, length;
};

struct restore {
	tr_repo *repo;
	const char *pgdata;
	uint64_t chunk_size;
	tr_pool *pool;
	pthread_mutex_t mu;
	uint64_t bytes;
	tr_progress progress;
	char err[2048];
	char timeline[16];               /* recovery_target_timeline to write, or "" */
	char created_links[16][PATH_MAX]; /* tablespace directories we created */
	int nlinks;
};

/* --- worker: one chunk --- */

static int write_at(const char *path, const void *buf, size_t len, uint64_t off, char *err, size_t errlen)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n = -1;
	if (fd >= 0) {
		size_t done = 0;
		while (done < len && (n = pwrite(fd, (const char *)buf + done, len - done, (off_t)(off + done))) > 0)
			done += (size_t)n;
		n = done == len ? 0 : -1;
		if (close(fd) != 0)
			n = -1;
	}
	if (n != 0)
		snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
	return n == 0 ? 0 : -1;
}

static int chunk_get_job(tr_repo *repo, void *job, void *arg)
{
	struct chunk_get *c = job;
	struct restore *rs = arg;
	char rel[128];
	tr_membuf s = { malloc(c->length ? c->length : 1), 0, c->length, 0 };
	int rc = -1;
	tr_chunk_rel(c->id, rel, sizeof rel);
	if (!s.data) {
		snprintf(repo->err, sizeof repo->err, "out of memory");
	} else if (tr_repo_get(repo, rel, tr_mem_write, &s, NULL) != TR_OK) {
		/* repo->err names the object; add the file it belongs to. */
		char e[2048];
		snprintf(e, sizeof e, "%s (chunk of %s)", repo->err, c->path + strlen(rs->pgdata) + 1);
		snprintf(repo->err, sizeof repo->err, "%s", e);
	} else {
		/* The chunk decrypted and authenticated under a key bound to its
		 * name (format.h), so it is what backup stored under this id: the
		 * keyed id is not recomputed here (verify does), only the length
		 * the manifest records is checked. */
		if (s.len != c->length)
			snprintf(repo->err, sizeof repo->err, "chunk %s of %s holds %zu bytes, the manifest says %zu",
				 c->id, c->path + strlen(rs->pgdata) + 1, s.len, (size_t)c->length);
		else
			rc = write_at(c->path, s.data, s.len, c->offset, repo->err, sizeof repo->err);
	}
	if (rc == 0) {
		pthread_mutex_lock(&rs->mu);
		rs->bytes += s.len;
		pthread_mutex_unlock(&rs->mu);
	}
	free(s.data);
	free(c);
	return rc;
}

/* A chunk skipped after another one failed: freed here (pool.h). */
static void chunk_get_skipped(void *job, void *arg)
{
	(void)arg;
	free(job);
}

/* --- checks before writing --- */

static int dir_is_empty(const char *path, int *exists)
{
	DIR *d = opendir(path);
	*exists = d != NULL || errno != ENOENT;
	if (!d)
		return errno == ENOENT;
	struct dirent *e;
	int empty = 1;
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			empty = 0;
	closedir(d);
	return empty;
}

/* "2026-11-26 12:00:00+00" etc.: parsed by strptime, with an optional
 * numeric zone; UTC when none is given. */
static int parse_time(const char *s, time_t *out)
{
	struct tm tm;
	memset(&tm, 0, sizeof tm);
	const char *p = strptime(s, "%Y-%m-%d %H:%M:%S", &tm);
	if (!p)
		p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	if (!p)
		return -1;
	if (*p == '.')
		for (p++; *p >= '0' && *p <= '9'; p++)
			;
	long off = 0;
	if (*p == '+' || *p == '-') {
		int h = 0, m = 0;
		if (sscanf(p + 1, "%2d:%2d", &h, &m) < 1 && sscanf(p + 1, "%2d%2d", &h, &m) < 1)
			return -1;
		off = (h * 3600L + m * 60L) * (*p == '-' ? -1 : 1);
	} else if (*p == 'Z' || strcmp(p, " UTC") == 0) {
		off = 0;
	} else if (*p) {
		return -1;
	}
	*out = timegm(&tm) - off;
	return 0;
}

struct wal_end {
	char newest[64];
	int64_t mtime;
};

static int newest_wal(void *ctx, const tr_object_info *info)
{
	struct wal_end *w = ctx;
	const char *name = tr_basename(info->key);
	if (tr_wal_kind(name) == TR_WAL_SEGMENT && strcmp(name, w->newest) > 0) {
		snprintf(w->newest, sizeof w->newest, "%s", name);
		w->mtime = info->mtime;
	}
	return 0;
}

/* Picks the backup for the target; -1 with err if none fits. */
static int choose_backup(const tr_config *cfg, const tr_backupset *set, char *err, size_t errlen)
{
	const char *label = tr_config_get(cfg, TR_S_BACKUP_LABEL);
	const char *t = tr_config_get(cfg, TR_S_TARGET_TIME), *l = tr_config_get(cfg, TR_S_TARGET_LSN);
	const char *x = tr_config_get(cfg, TR_S_TARGET_XID);
	time_t when = 0;
	uint64_t lsn = 0, xid = x ? strtoull(x, NULL, 10) : 0;
	if (t && parse_time(t, &when) != 0) {
		snprintf(err, errlen, "TOTALRECALL_TARGET_TIME (--target-time): not a time (YYYY-MM-DD HH:MM:SS[+HH[:MM]])");
		return -1;
	}
	if (l && tr_lsn_parse(l, &lsn) != 0) {
		snprintf(err, errlen, "TOTALRECALL_TARGET_LSN (--target-lsn): not an LSN (like 0/3000028)");
		return -1;
	}
	for (int i = set->n - 1; i >= 0; i--) {
		const tr_manifest_hdr *b = &set->b[i];
		if (label && strcmp(b->label, label) != 0)
			continue;
		if ((t && b->stop_time > when) || (l && b->stop_lsn > lsn) || (x && b->next_xid > xid)) {
			if (label) {
				snprintf(err, errlen, "backup %s ends after the recovery target", label);
				return -1;
			}
			continue;
		}
		return i;
	}
	if (label)
		snprintf(err, errlen, "no backup labelled %s in the repository", label);
	else
		snprintf(err, errlen, "the recovery target is before the oldest backup (%s)", set->b[0].label);
	return -1;
}

/* A target after the newest archived WAL can never be reached. */
static int check_archive_end(tr_repo *r, const tr_config *cfg, const tr_manifest_hdr *b, char *err, size_t errlen)
{
	struct wal_end w = { "", 0 };
	const char *t = tr_config_get(cfg, TR_S_TARGET_TIME), *l = tr_config_get(cfg, TR_S_TARGET_LSN);
	if (!t && !l)
		return 0;
	if (tr_repo_list(r, "wal/", newest_wal, &w) != TR_OK) {
		snprintf(err, errlen, "%s", r->err);
		return -1;
	}
	time_t when;
	uint64_t lsn = 0, end;
	unsigned tli, hi, lo;
	if (sscanf(w.newest, "%8X%8X%8X", &tli, &hi, &lo) != 3) {
		snprintf(err, errlen, "the archive holds no WAL");
		return -1;
	}
	end = ((uint64_t)hi * (0x100000000ULL / b->wal_segment_size) + lo + 1) * b->wal_segment_size;
	if (t && parse_time(t, &when) == 0 && w.mtime && when > w.mtime) {
		snprintf(err, errlen, "the recovery target time is after the end of the archive (newest WAL %s)", w.newest);
		return -1;
	}
	if (l && tr_lsn_parse(l, &lsn) == 0 && lsn > end) {
		char e[24];
		tr_lsn_format(end, e);
		snprintf(err, errlen, "the recovery target LSN is after the end of the archive (%s, WAL %s)", e, w.newest);
		return -1;
	}
	return 0;
}

/* --- writing --- */

static void remove_tree(const char *path)
{
	DIR *d = opendir(path);
	if (d) {
		struct dirent *e;
		char child[PATH_MAX];
		while ((e = readdir(d))) {
			if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
				continue;
			snprintf(child, sizeof child, "%s/%s", path, e->d_name);
			struct stat st;
			if (lstat(child, &st) == 0 && S_ISDIR(st.st_mode))
				remove_tree(child);
			else
				unlink(child);
		}
		closedir(d);
	}
	rmdir(path);
}

/* Undoes a failed restore: the directory was empty, so all of it is ours. */
static void undo(struct restore *rs)
{
	DIR *d = opendir(rs->pgdata);
	if (d) {
		struct dirent *e;
		char child[PATH_MAX];
		while ((e = readdir(d)))
			if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
				snprintf(child, sizeof child, "%s/%s", rs->pgdata, e->d_name);
				remove_tree(child);
				unlink(child);
			}
		closedir(d);
	}
	for (int i = 0; i < rs->nlinks; i++)
		remove_tree(rs->created_links[i]);
}

/* A tablespace link: its target must be empty or absent. */
static int make_link(struct restore *rs, const tr_mf_rec *rec, const char *path)
{
	int exists;
	if (strncmp(rec->path, "pg_tblspc/", 10) == 0) {
		if (!dir_is_empty(rec->target, &exists)) {
			snprintf(rs->err, sizeof rs->err, "tablespace directory %s is not empty", rec->target);
			return -1;
		}
		if (!exists && tr_mkdirs(rec->target, 0700) != 0) {
			snprintf(rs->err, sizeof rs->err, "cannot create %s: %s", rec->target, strerror(errno));
			return -1;
		}
		if (!exists && rs->nlinks < 16)
			snprintf(rs->created_links[rs->nlinks++], PATH_MAX, "%s", rec->target);
	}
	if (symlink(rec->target, path) != 0) {
		snprintf(rs->err, sizeof rs->err, "cannot create link %s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

static int make_file(struct restore *rs, const tr_mf_rec *rec, const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, rec->mode & 0777);
	if (fd < 0 || ftruncate(fd, rec->size) != 0) {
		snprintf(rs->err, sizeof rs->err, "cannot create %s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

/* Creates the entries of the manifest and queues the chunks; the chunks
 * of global/pg_control are held back in *control. */
static int lay_out(struct restore *rs, FILE *mf, struct chunk_get **control)
{
	tr_mf_rec *rec = malloc(sizeof *rec);
	char path[PATH_MAX];
	uint64_t off = 0;
	int rc, in_control = 0;
	if (!rec)
		return -1;
	while ((rc = tr_manifest_read_rec(mf, rec, rs->err, sizeof rs->err)) == 1) {
		if (rec->type != 'c')
			snprintf(path, sizeof path, "%s/%s", rs->pgdata, rec->path);
		if (rec->type == 'd' && mkdir(path, rec->mode & 0777) != 0 && errno != EEXIST) {
			snprintf(rs->err, sizeof rs->err, "cannot create %s: %s", path, strerror(errno));
			rc = -1;
		} else if (rec->type == 'l') {
			rc = make_link(rs, rec, path);
		} else if (rec->type == 'f') {
			rc = make_file(rs, rec, path);
			off = 0;
			in_control = strcmp(rec->path, PG_CONTROL) == 0;
		} else if (rec->type == 'c') {
			struct chunk_get *c = calloc(1, sizeof *c);
			if (!c)
				rc = -1;
			else {
				snprintf(c->path, sizeof c->path, "%s", path);
				snprintf(c->id, sizeof c->id, "%s", rec->chunk);
				c->offset = off;
				c->length = rec->length;
				off += rec->length;
				if (in_control && !*control)
					*control = c;
				else if ((rc = tr_pool_submit(rs->pool, c)) != 0)
					free(c);  /* not taken (pool.h) */
			}
		}
		if (rc < 0)
			break;
		rc = 1;
	}
	free(rec);
	return rc == 0 && !tr_pool_failed(rs->pool) ? 0 : -1;
}

static int write_text(const char *dir, const char *name, const char *text, mode_t mode, char *err, size_t errlen)
{
	char path[PATH_MAX];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	int rc = fd >= 0 && tr_write_full(fd, text, strlen(text)) == 0 && fsync(fd) == 0 ? 0 : -1;
	if (fd >= 0 && close(fd) != 0)
		rc = -1;
	if (rc != 0)
		snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
	return rc;
}

/* backup_label, tablespace_map, pg_control and the recovery settings.
 * Takes control: frees it unless the pool took it (pool.h). */
static int finish(struct restore *rs, const tr_manifest_hdr *h, struct chunk_get *control)
{
	if (write_text(rs->pgdata, "backup_label", h->backup_label, 0600, rs->err, sizeof rs->err) != 0 ||
	    (*h->tablespace_map &&
	     write_text(rs->pgdata, "tablespace_map", h->tablespace_map, 0600, rs->err, sizeof rs->err) != 0) ||
	    tr_restore_conf_write(rs->repo->cfg, rs->pgdata, *rs->timeline ? rs->timeline : NULL, rs->err,
				  sizeof rs->err) != 0) {
		free(control);
		return -1;
	}
	if (control) {  /* pg_control last of the data: before it, nothing starts */
		int taken = tr_pool_submit(rs->pool, control) == 0;
		if (!taken)
			free(control);
		if (!taken || tr_pool_wait(rs->pool) != 0) {
			snprintf(rs->err, sizeof rs->err, "%s", tr_pool_error(rs->pool));
			return -1;
		}
	}
	return tr_fsync_tree(rs->pgdata, rs->err, sizeof rs->err);
}

static int run_restore(struct restore *rs, const tr_manifest_hdr *chosen)
{
	tr_manifest_hdr h;
	int status;
	struct chunk_get *control = NULL;
	FILE *mf = tr_manifest_open(rs->repo, chosen->label, &h, &status);
	if (!mf) {
		snprintf(rs->err, sizeof rs->err, "%s", rs->repo->err);
		return -1;
	}
	int workers = (int)tr_config_int(rs->repo->cfg, TR_S_PARALLEL);
	rs->pool = tr_pool_start(rs->repo, workers, 2 * workers, chunk_get_job, rs, rs->err, sizeof rs->err);
	int rc = rs->pool ? 0 : -1;
	if (rs->pool)
		tr_pool_on_skip(rs->pool, chunk_get_skipped);
	tr_progress_init(&rs->progress, "restore", h.logical_bytes);
	if (rc == 0)
		rc = lay_out(rs, mf, &control);
	if (rs->pool && tr_pool_wait(rs->pool) != 0) {
		snprintf(rs->err, sizeof rs->err, "%s", tr_pool_error(rs->pool));
		rc = -1;
	}
	if (rc == 0)
		rc = finish(rs, &h, control);
	else
		free(control);
	tr_progress_add(&rs->progress, rs->bytes);
	tr_metric_bytes(rs->bytes, h.stored_bytes);
	tr_progress_end(&rs->progress);
	tr_pool_stop(rs->pool);
	rs->pool = NULL;
	fclose(mf);
	tr_manifest_hdr_free(&h);
	return rc;
}

static const char *target_dir(const tr_config *cfg, int argc, char **argv)
{
	return argc == 1 ? argv[0] : tr_config_get(cfg, TR_S_PGDATA);
}

/* 'latest' follows the newest timeline in the archive, which fails if that
 * one forked off before this backup (another cluster restored from an
 * older backup and promoted).  Then name the newest timeline that does
 * continue the backup. */
static int choose_timeline(struct restore *rs, tr_repo *r, const tr_manifest_hdr *b)
{
	tr_timelines tl;
	if (tr_config_get(r->cfg, TR_S_TARGET_TIMELINE))
		return 0;
	if (tr_timelines_load(r, &tl) != TR_OK) {
		snprintf(rs->err, sizeof rs->err, "%s", r->err);
		return -1;
	}
	uint32_t newest = tr_timeline_newest(&tl), mine = tr_timeline_latest_from(&tl, b->timeline, b->stop_lsn);
	if (newest > mine) {
		snprintf(rs->timeline, sizeof rs->timeline, "%u", mine);
		tr_info("restore: timeline %u forked off before backup %s; recovering along timeline %u", newest,
			b->label, mine);
	}
	tr_timelines_free(&tl);
	return 0;
}

/* Unlocks the repository and picks the backup; 1 means "--try and
 * nothing to restore". */
static int prepare(struct restore *rs, tr_repo *r, tr_backupset *set, int *chosen)
{
	const tr_config *cfg = r->cfg;
	int try_only = tr_config_get(cfg, TR_S_TRY) != NULL;
	int rc = tr_repo_unlock(r, 0);
	if (rc == TR_ENOTFOUND && try_only)
		return 1;
	if (rc == TR_OK)
		rc = tr_backupset_load(r, set);
	if (rc != TR_OK) {
		snprintf(rs->err, sizeof rs->err, "%s", r->err);
		return -1;
	}
	if (set->n == 0) {
		if (try_only)
			return 1;
		snprintf(rs->err, sizeof rs->err, "the repository %s has no backup", r->base);
		return -1;
	}
	*chosen = choose_backup(cfg, set, rs->err, sizeof rs->err);
	if (*chosen < 0 || check_archive_end(r, cfg, &set->b[*chosen], rs->err, sizeof rs->err) != 0)
		return -1;
	return choose_timeline(rs, r, &set->b[*chosen]);
}

int tr_cmd_restore(tr_config *cfg, int argc, char **argv)
{
	char err[2048];
	struct restore rs;
	tr_repo r;
	tr_backupset set = { NULL, 0 };
	int chosen = -1, exists;
	const char *dir = target_dir(cfg, argc, argv);

	if (argc > 1 || !dir) {
		tr_error("restore: give the data directory to restore into (argument, --pgdata or PGDATA)");
		return 1;
	}
	if (tr_config_require_storage(cfg, err, sizeof err) != 0 ||
	    tr_restore_conf_check(cfg, err, sizeof err) != 0) {
		tr_error("restore: %s", err);
		return 1;
	}
	if (!dir_is_empty(dir, &exists)) {
		tr_error("restore: %s is not empty: restore only into an empty or new directory (nothing was changed)",
			 dir);
		return 1;
	}
	tr_metric_pgdata(NULL);  /* until dir holds a restored cluster */
	memset(&rs, 0, sizeof rs);
	memset(&r, 0, sizeof r);
	pthread_mutex_init(&rs.mu, NULL);
	rs.repo = &r;
	rs.pgdata = dir;
	int rc = tr_repo_connect(&r, cfg);
	if (rc != TR_OK) {
		snprintf(rs.err, sizeof rs.err, "%s", r.err);
		rc = -1;
	} else {
		rc = prepare(&rs, &r, &set, &chosen);
	}
	if (rc == 1) {
		tr_metric_status("skipped");
		tr_info("restore: no backup in the repository, nothing to do (--try)");
		rc = 0;
	} else if (rc == 0) {
		if (!exists && tr_mkdirs(dir, 0700) != 0) {
			snprintf(rs.err, sizeof rs.err, "cannot create %s: %s", dir, strerror(errno));
			rc = -1;
		} else {
			chmod(dir, 0700);
			tr_info("restore: backup %s into %s", set.b[chosen].label, dir);
			tr_metric_subject(set.b[chosen].label);
			rc = run_restore(&rs, &set.b[chosen]);
			if (rc != 0)
				undo(&rs);
			else
				tr_metric_pgdata(dir);
			if (rc == 0)
				tr_info("restore: %s restored, %llu bytes; start PostgreSQL to recover", set.b[chosen].label,
					(unsigned long long)rs.bytes);
		}
	}
	if (rc != 0)
		tr_error("restore: %s", rs.err);
	tr_backupset_free(&set);
	tr_repo_close(&r);
	pthread_mutex_destroy(&rs.mu);
	return rc == 0 ? 0 : 1;
}
