/*
 * backup.c - `totalrecall backup`: a consistent online base backup.
 *
 * Method: PostgreSQL's non-exclusive low-level API over one libpq session
 * held open for the whole backup (pg_backup_start ... pg_backup_stop), with
 * the files read directly from the data directory: TotalRecall runs on the
 * database host (it is the archive_command), so it can read files in
 * parallel and deduplicate at the source.
 *
 * Every file is cut into chunks of chunk-size bytes at fixed offsets.  A
 * chunk is named by a keyed hash of its content and stored once: a chunk
 * whose id equals the one at the same place in the previous backup is not
 * even uploaded, any other is written put-if-absent.  PostgreSQL changes
 * relation files in place, page by page, so fixed offsets find unchanged
 * data without content-defined chunking.
 *
 * A chunk that is missing from storage or that verify found damaged is
 * stored again, never shared (chunkcheck.h).
 *
 * Order of writes: under the repository lock (repolock.h), the backup's
 * own lock locks/<label>, then the previous manifest is read; then chunks,
 * then (after pg_backup_stop and the check that the WAL from start to stop
 * is archived) backups/<label>/info, then backups/<label>/manifest.  A
 * backup interrupted at any point is never listed; its chunks are shared
 * and collected by expire, which removes none while the lock exists.
 */
#include "config.h"
#include "cmd/backup_pages.h"
#include "cmd/backup_source.h"
#include "repo/backupset.h"
#include "repo/chunkref.h"
#include "repo/tmpobj.h"
#include "format/checksum.h"
#include "cmd/chunkcheck.h"
#include "cmd/chunkset.h"
#include "cmd/commands.h"
#include "conf/resolve.h"
#include "pg/datadir.h"
#include "base/log.h"
#include "base/metric.h"
#include "pg/pgconn.h"
#include "repo/pool.h"
#include "base/progress.h"
#include "repo/repolock.h"
#include "base/schedule.h"
#include "repo/section.h"
#include "base/testhook.h"
#include "base/util.h"
#include "pg/walname.h"
#include "format/zerochunk.h"

#include <bearssl.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_FILES_IN_FLIGHT 1024

struct chunk_slot {
	uint64_t offset;
	uint32_t len;          /* bytes read */
	char id[66];
	char prev_id[66];      /* id at this place in the previous backup, or "" */
	uint64_t prev_stored;
	uint64_t stored;
	int is_new;
	struct file_job *file;
};

struct file_job {
	tr_mf_rec rec;         /* 'f' record; digest filled at flush */
	char abspath[PATH_MAX];
	int nchunks;
	int pending;           /* chunks not done yet, under backup.mu */
	struct chunk_slot *chunks;
	struct file_job *next;
};

/* Chunks of the file with the same path in the previous backup. */
struct prev_cursor {
	FILE *f;
	tr_mf_rec rec;
	int have;              /* rec holds an unread record */
	struct chunk_slot *chunks;
	int n, cap;
};

struct backup {
	const tr_config *cfg;
	tr_repo *repo;
	const char *pgdata;
	uint64_t chunk_size;
	tr_pool *pool;
	tr_chunkset *stored_ids;  /* chunks this backup stored, recently */
	tr_idset repair;          /* chunks to store again (chunkcheck.h), sorted; read-only in the workers */
	tr_zerochunk zero;        /* the id of a chunk of zeros */
	uint64_t repaired;        /* chunks stored again, under mu */
	pthread_mutex_t mu;
	pthread_cond_t done;
	struct file_job *head, *tail;
	int in_flight;
	FILE *body;
	uint64_t entries, files, logical, stored, new_bytes;
	struct prev_cursor prev;
	tr_progress progress;
	double t0;
	char err[2048];
	tr_pagecheck *pages;      /* data page checksums (backup_pages.h), or NULL */
	tr_backup_source *src;    /* the server, a standby or the primary (backup_source.h) */
};

/* --- worker side --- */

/* Reads the chunk; a file dropped meanwhile reads as empty (WAL replay
 * recreates or removes it). */
static int read_chunk(struct chunk_slot *c, uint8_t *buf, tr_repo *repo)
{
	int fd = open(c->file->abspath, O_RDONLY | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT) {
		c->len = 0;
		return 0;
	}
	ssize_t n = fd < 0 ? -1 : pread(fd, buf, c->len, (off_t)c->offset);
	int e = errno;
	if (fd >= 0)
		close(fd);
	if (n < 0) {
		tr_repo_set_error(repo, "cannot read %s: %s", c->file->abspath, strerror(e));
		return -1;
	}
	/* A file truncated meanwhile gives a short chunk, also fine for replay. */
	c->len = (uint32_t)n;
	return 0;
}

/* Stores a chunk put-if-absent; one to repair replaces whatever is there
 * with a plain put (the good copy is written, then switched in). */
static int store_chunk(tr_repo *repo, struct chunk_slot *c, const uint8_t *buf, int repair)
{
	char rel[128];
	tr_membuf src = { (void *)buf, c->len, c->len, 0 };
	tr_xfer x = { 0, 0 };
	tr_chunk_rel(c->id, rel, sizeof rel);
	int rc = tr_repo_put(repo, rel, tr_mem_read, &src, (repair ? 0 : TR_PUT_IF_ABSENT) | TR_PUT_BATCH, NULL, &x);
	if (rc == TR_OK) {
		c->stored = x.stored;
		c->is_new = 1;
		return 0;
	}
	if (rc == TR_EEXIST) {  /* stored by an earlier backup, or another file */
		tr_object_info info;
		rc = tr_repo_head(repo, rel, &info);
		c->stored = (uint64_t)info.size;
		return rc == TR_OK ? 0 : -1;
	}
	return -1;
}

static void count_repaired(struct backup *b)
{
	pthread_mutex_lock(&b->mu);
	b->repaired++;
	pthread_mutex_unlock(&b->mu);
}

/* Every chunk job ends here, run or skipped: its file counts it done. */
static void chunk_finished(struct backup *b, struct chunk_slot *c)
{
	pthread_mutex_lock(&b->mu);
	c->file->pending--;
	pthread_cond_broadcast(&b->done);
	pthread_mutex_unlock(&b->mu);
}

static int chunk_job(tr_repo *repo, void *job, void *arg)
{
	struct chunk_slot *c = job;
	struct backup *b = arg;
	uint8_t *buf = malloc(b->chunk_size ? b->chunk_size : 1);
	int rc = -1;
	if (!buf)
		tr_repo_set_error(repo, "out of memory");
	else if (tr_testhook_fail("chunk"))
		tr_repo_set_error(repo, "test hook: chunk job failed (%s)", c->file->rec.path);
	else if (read_chunk(c, buf, repo) == 0) {
		tr_repo_cpu_enter(repo);  /* page checks, hashing: CPU work, `parallel` at a time (pool.h) */
		if (b->pages)
			tr_pagecheck_chunk(b->pages, c->file->rec.path, c->file->abspath, c->offset, buf, c->len);
		if (c->len == b->zero.len && tr_all_zero(buf, c->len))
			memcpy(c->id, b->zero.id, sizeof c->id);  /* a scan instead of a hash (zerochunk.h) */
		else
			tr_repo_chunk_id(repo, buf, c->len, c->id);
		tr_repo_cpu_leave(repo);
		int repair = tr_idset_has(&b->repair, c->id);
		if (!repair && c->prev_id[0] && strcmp(c->prev_id, c->id) == 0) {
			c->stored = c->prev_stored;
			rc = 0;
		} else if (tr_chunkset_claim(b->stored_ids, c->id, &c->stored)) {
			rc = 0;  /* another file of this backup holds the same chunk */
		} else {
			rc = store_chunk(repo, c, buf, repair);
			tr_chunkset_done(b->stored_ids, c->id, rc == 0, c->stored);
			if (rc == 0 && repair)
				count_repaired(b);
		}
	}
	free(buf);
	chunk_finished(b, c);
	return rc;
}

/* A chunk skipped after another one failed: its file must still see it
 * finished, or flush_files would wait for it forever (pool.h). */
static void chunk_skipped(void *job, void *arg)
{
	chunk_finished(arg, job);
}

/* --- previous manifest --- */

static int prev_next(struct prev_cursor *p, char *err, size_t errlen)
{
	int rc = tr_manifest_read_rec(p->f, &p->rec, err, errlen);
	p->have = rc == 1;
	return rc < 0 ? -1 : 0;
}

/* Positions the cursor on path; fills p->chunks with its chunks. */
static void prev_find(struct prev_cursor *p, const char *path)
{
	char err[256];
	p->n = 0;
	if (!p->f)
		return;
	while (p->have && (p->rec.type != 'f' || strcmp(p->rec.path, path) < 0))
		if (prev_next(p, err, sizeof err) != 0)
			return;
	if (!p->have || strcmp(p->rec.path, path) != 0)
		return;
	while (prev_next(p, err, sizeof err) == 0 && p->have && p->rec.type == 'c') {
		if (p->n == p->cap) {
			int cap = p->cap ? 2 * p->cap : 64;
			void *grown = realloc(p->chunks, (size_t)cap * sizeof *p->chunks);
			if (!grown)
				return;
			p->chunks = grown;
			p->cap = cap;
		}
		snprintf(p->chunks[p->n].id, sizeof p->chunks[p->n].id, "%s", p->rec.chunk);
		p->chunks[p->n].len = (uint32_t)p->rec.length;
		p->chunks[p->n++].stored = p->rec.stored;
	}
}

/* --- producer side --- */

/* SHA-256 over the chunk ids, in order. */
static void file_digest(const struct file_job *f, char out[65])
{
	br_sha256_context h;
	uint8_t d[32];
	br_sha256_init(&h);
	for (int i = 0; i < f->nchunks; i++) {
		br_sha256_update(&h, f->chunks[i].id, strlen(f->chunks[i].id));
		br_sha256_update(&h, "\n", 1);
	}
	br_sha256_out(&h, d);
	tr_hex(d, 32, out);
}

static int write_file_records(struct backup *b, struct file_job *f)
{
	uint64_t size = 0;
	if (f->rec.type != 'f') {
		b->entries++;
		return tr_manifest_write_rec(b->body, &f->rec);
	}
	for (int i = 0; i < f->nchunks; i++)
		size += f->chunks[i].len;
	f->rec.size = (int64_t)size;
	file_digest(f, f->rec.digest);
	if (tr_manifest_write_rec(b->body, &f->rec) != 0)
		return -1;
	for (int i = 0; i < f->nchunks; i++) {
		struct chunk_slot *c = &f->chunks[i];
		tr_mf_rec r = { .type = 'c', .length = c->len, .stored = c->stored };
		snprintf(r.chunk, sizeof r.chunk, "%s", c->id);
		if (tr_manifest_write_rec(b->body, &r) != 0)
			return -1;
		b->stored += c->stored;
		if (c->is_new)
			b->new_bytes += c->stored;
	}
	b->entries += 1 + (uint64_t)f->nchunks;
	b->files++;
	b->logical += size;
	tr_progress_add(&b->progress, size);
	return 0;
}

/* Writes the finished files at the head of the queue, in walk order.
 * With wait, blocks until the head is finished (bounding the queue). */
static int flush_files(struct backup *b, int wait)
{
	for (;;) {
		pthread_mutex_lock(&b->mu);
		struct file_job *f = b->head;
		while (f && f->pending && wait && !tr_pool_failed(b->pool))
			pthread_cond_wait(&b->done, &b->mu);
		int ready = f && !f->pending;
		if (ready) {
			b->head = f->next;
			if (!b->head)
				b->tail = NULL;
			b->in_flight--;
		}
		pthread_mutex_unlock(&b->mu);
		if (!ready)
			return tr_pool_failed(b->pool) ? -1 : 0;
		int rc = write_file_records(b, f);
		free(f->chunks);
		free(f);
		if (rc != 0) {
			snprintf(b->err, sizeof b->err, "cannot write the manifest: %s", strerror(errno));
			return -1;
		}
		wait = 0;
	}
}

static struct file_job *new_file_job(struct backup *b, const tr_dd_entry *e)
{
	struct file_job *f = calloc(1, sizeof *f);
	uint64_t size = (uint64_t)e->size;
	int n = e->type == 'f' ? (int)((size + b->chunk_size - 1) / b->chunk_size) : 0;
	if (!f || (n && !(f->chunks = calloc((size_t)n, sizeof *f->chunks)))) {
		free(f);
		return NULL;
	}
	f->rec.type = e->type;
	f->rec.mode = e->mode;
	f->rec.mtime = e->mtime;
	snprintf(f->rec.path, sizeof f->rec.path, "%s", e->path);
	if (e->type != 'f') {
		snprintf(f->rec.target, sizeof f->rec.target, "%s", e->target ? e->target : "");
		return f;
	}
	snprintf(f->abspath, sizeof f->abspath, "%s/%s", b->pgdata, e->path);
	f->nchunks = f->pending = n;
	prev_find(&b->prev, e->path);
	for (int i = 0; i < n; i++) {
		struct chunk_slot *c = &f->chunks[i];
		c->file = f;
		c->offset = (uint64_t)i * b->chunk_size;
		c->len = (uint32_t)(size - c->offset < b->chunk_size ? size - c->offset : b->chunk_size);
		if (i < b->prev.n && b->prev.chunks[i].len == c->len) {
			snprintf(c->prev_id, sizeof c->prev_id, "%s", b->prev.chunks[i].id);
			c->prev_stored = b->prev.chunks[i].stored;
		}
	}
	return f;
}

/* Queues an entry; a file's chunks go to the workers.  Directories and
 * links wait in the same queue so the manifest keeps walk order. */
static int submit_entry(struct backup *b, const tr_dd_entry *e)
{
	struct file_job *f = new_file_job(b, e);
	if (!f) {
		snprintf(b->err, sizeof b->err, "out of memory");
		return -1;
	}
	int n = f->nchunks;
	pthread_mutex_lock(&b->mu);
	if (b->tail)
		b->tail->next = f;
	else
		b->head = f;
	b->tail = f;
	b->in_flight++;
	pthread_mutex_unlock(&b->mu);
	/* After the last submit the worker may free nothing: files are freed
	 * only by flush_files, on this thread. */
	for (int i = 0; i < n; i++)
		if (tr_pool_submit(b->pool, &f->chunks[i]) != 0)
			return -1;
	return flush_files(b, b->in_flight > MAX_FILES_IN_FLIGHT);
}

static int on_entry(void *ctx, const tr_dd_entry *e)
{
	return submit_entry(ctx, e) == 0 ? 0 : 1;
}

static int sum_sizes(void *ctx, const tr_dd_entry *e)
{
	if (e->type == 'f')
		*(uint64_t *)ctx += (uint64_t)e->size;
	return 0;
}

/* Frees entries left queued after a failure. */
static void free_queue(struct backup *b)
{
	while (b->head) {
		struct file_job *f = b->head;
		b->head = f->next;
		free(f->chunks);
		free(f);
	}
	b->tail = NULL;
}

/* --- the command --- */

static void make_label(time_t t, char out[64])
{
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(out, 64, "%Y%m%d-%H%M%SF", &tm);
}

/* Checks the segments from *lsn on; advances *lsn past those found.
 * Returns 0 when all are there, 1 when one is missing, -1 on error. */
static int find_archived(tr_repo *r, const tr_manifest_hdr *h, uint64_t *lsn, char name[25], char *err,
			 size_t errlen)
{
	uint64_t seg = h->wal_segment_size, last = h->stop_lsn - 1;  /* stop_lsn itself is not needed */
	for (; *lsn <= last; *lsn += seg) {
		char rel[64];
		tr_object_info info;
		tr_wal_file_name(h->timeline, *lsn, seg, name);
		tr_repo_wal_rel(r, name, rel, sizeof rel);
		int rc = tr_repo_head(r, rel, &info);
		if (rc == TR_ENOENT)
			return 1;
		if (rc != TR_OK) {
			snprintf(err, errlen, "%s", tr_repo_error(r));
			return -1;
		}
	}
	return 0;
}

/* Every WAL segment from start to stop must be in the archive.  The server
 * archives the last one after pg_backup_stop, which does not wait for it
 * (a broken archive_command would block it forever): wait here, bounded by
 * archive-timeout, polling less often as time passes. */
static int check_wal_archived(tr_repo *r, const tr_manifest_hdr *h, int64_t timeout, char *err, size_t errlen)
{
	uint64_t lsn = h->start_lsn - h->start_lsn % h->wal_segment_size;
	double deadline = tr_now() + (double)timeout;
	unsigned wait_ms = 50;
	char name[25];
	int rc;
	while ((rc = find_archived(r, h, &lsn, name, err, errlen)) == 1 && tr_now() < deadline) {
		struct timespec ts = { wait_ms / 1000, (long)(wait_ms % 1000) * 1000000L };
		nanosleep(&ts, NULL);
		wait_ms = wait_ms < 1000 ? wait_ms * 2 : 1000;
	}
	if (rc == 1)
		snprintf(err, errlen, "WAL segment %s, needed to restore this backup, did not reach the archive within "
			 "archive-timeout (%lld s): check archive_mode, archive_command and pg_stat_archiver", name,
			 (long long)timeout);
	return rc == 0 ? 0 : -1;
}

/* Positions the previous manifest on its first record again. */
static int prev_rewind(struct prev_cursor *p, char *err, size_t errlen)
{
	tr_manifest_hdr h;
	if (fseek(p->f, 0, SEEK_SET) != 0 || tr_manifest_read_hdr(p->f, &h, err, errlen) != 0)
		return -1;
	tr_manifest_hdr_free(&h);
	return prev_next(p, err, errlen);
}

/* The chunks to store again instead of sharing them (chunkcheck.h). */
static int find_repairs(struct backup *b, char *prior)
{
	int drop;
	uint64_t missing, damaged;
	if (tr_chunkcheck(b->repo, b->prev.f, &b->repair, &drop, &missing, &damaged, b->err, sizeof b->err) != 0)
		return -1;
	if (missing || damaged)
		tr_warn("backup: %llu chunk%s of %s missing from storage, %llu found damaged by verify: stored again",
			(unsigned long long)missing, missing == 1 ? "" : "s", *prior ? prior : "the previous backup",
			(unsigned long long)damaged);
	if (drop) {
		tr_warn("backup: more than %d chunks of %s are missing: not deduplicating against it", TR_CHUNKCHECK_MAX,
			prior);
		fclose(b->prev.f);
		b->prev.f = NULL;
		b->prev.have = 0;
		prior[0] = '\0';
		return 0;
	}
	if (b->prev.f && prev_rewind(&b->prev, b->err, sizeof b->err) != 0)
		return -1;
	return 0;
}

/* Opens the newest backup of the same system as the dedup reference. */
static void open_previous(struct backup *b, const tr_backupset *set, const char *system_id, char *prior)
{
	for (int i = set->n - 1; i >= 0; i--) {
		if (strcmp(set->b[i].system_id, system_id) != 0 || set->b[i].chunk_size != b->chunk_size)
			continue;
		tr_manifest_hdr h;
		int status;
		b->prev.f = tr_manifest_open(b->repo, set->b[i].label, &h, &status);
		if (!b->prev.f) {
			tr_warn("backup: cannot read the manifest of %s (%s); uploading everything", set->b[i].label,
				tr_repo_error(b->repo));
			return;
		}
		tr_manifest_hdr_free(&h);
		strcpy(prior, set->b[i].label);
		char err[256];
		prev_next(&b->prev, err, sizeof err);
		return;
	}
}

/* Uploads info then manifest (header + body): the manifest marks completion. */
static int write_manifest(struct backup *b, const tr_manifest_hdr *h)
{
	char rel[128];
	FILE *f = tr_repo_tmpfile(b->repo);
	int rc = TR_EIO;
	if (!f || tr_manifest_write_hdr(f, h) != 0 || tr_manifest_write_end(f, 0) != 0)
		goto out;
	/* A copy of the keyring beside every backup (repo.h), before its info. */
	if ((rc = tr_repo_put_keyring_copy(b->repo, h->label)) != TR_OK)
		goto out;
	snprintf(rel, sizeof rel, "backups/%s/info", h->label);
	if ((rc = tr_repo_put_file(b->repo, rel, f, 0, NULL)) != TR_OK)
		goto out;
	rc = TR_EIO;
	if (fseek(f, 0, SEEK_SET) != 0 || ftruncate(fileno(f), 0) != 0 || tr_manifest_write_hdr(f, h) != 0)
		goto out;
	char buf[65536];
	size_t n;
	if (fflush(b->body) != 0 || fseek(b->body, 0, SEEK_SET) != 0)
		goto out;
	while ((n = fread(buf, 1, sizeof buf, b->body)) > 0)
		if (fwrite(buf, 1, n, f) != n)
			goto out;
	if (ferror(b->body) || tr_manifest_write_end(f, b->entries) != 0)
		goto out;
	snprintf(rel, sizeof rel, "backups/%s/manifest", h->label);
	rc = tr_repo_put_file(b->repo, rel, f, TR_PUT_IF_ABSENT, NULL);
out:
	if (rc == TR_EIO && !tr_repo_error(b->repo)[0])
		tr_repo_set_error(b->repo, "cannot write the manifest: %s", strerror(errno));
	if (f)
		fclose(f);
	return rc;
}

static int copy_data(struct backup *b, tr_manifest_hdr *h, tr_pg *pg, const tr_pg_info *info)
{
	uint64_t total = 0;
	tr_datadir_walk(b->pgdata, sum_sizes, &total, b->err, sizeof b->err);
	tr_progress_init(&b->progress, "backup", total);
	int workers = tr_pool_transfers(b->repo);
	b->stored_ids = tr_chunkset_new();  /* without it, duplicates are only stored again */
	tr_repo_zerochunk(b->repo, b->chunk_size, &b->zero);
	b->pool = tr_pool_start(b->repo, workers, 2 * workers, chunk_job, b, b->err, sizeof b->err);
	if (!b->pool)
		return -1;
	tr_pool_on_skip(b->pool, chunk_skipped);
	if (tr_pg_backup_start(pg, h->label, &h->start_lsn, &h->timeline, b->err, sizeof b->err) != 0)
		return -1;
	h->start_time = time(NULL);
	b->pages = tr_backup_pages_start(info, h);
	tr_info("backup %s: started at %X/%X on timeline %u, %s to read", h->label, (unsigned)(h->start_lsn >> 32),
		(unsigned)h->start_lsn, h->timeline, info->data_directory);
	int rc = tr_datadir_walk(b->pgdata, on_entry, b, b->err, sizeof b->err);
	int pool_rc = tr_pool_wait(b->pool);
	if (pool_rc == 0)  /* chunks were batched: durable before a manifest names them */
		pool_rc = tr_pool_sync(b->pool);
	if (rc == 0 && pool_rc == 0)
		rc = flush_files(b, 1);
	while (rc == 0 && b->head)
		rc = flush_files(b, 1);
	if (pool_rc != 0 || tr_pool_failed(b->pool))
		snprintf(b->err, sizeof b->err, "%s", tr_pool_error(b->pool));
	tr_progress_end(&b->progress);
	return rc == 0 && pool_rc == 0 ? 0 : -1;
}

/* --scheduled: is a backup due, judging from the repository? */
static int backup_due(const tr_config *cfg, const tr_backupset *set)
{
	tr_schedule s;
	char why[256];
	tr_schedule_parse(tr_config_get(cfg, TR_S_SCHEDULE), &s, why, sizeof why);
	int64_t last = set->n ? set->b[set->n - 1].stop_time : 0;
	int due = tr_schedule_due(&s, last, (int64_t)time(NULL), why, sizeof why);
	tr_info("backup: %s: %s", due ? "due" : "not due", why);
	return due;
}

static int finish_backup(struct backup *b, tr_manifest_hdr *h, tr_pg *pg);

/* The label is the start time to the second; a backup started within the
 * second of an existing or running one takes the next free second: labels
 * name backups, their times are recorded in the manifest.  Takes the
 * backup's lock, put-if-absent, under that label. */
static int take_label(tr_repo *r, const tr_backupset *set, char label[64])
{
	int rc;
	time_t t = time(NULL);
	do {
		make_label(t++, label);
		rc = tr_backupset_find(set, label) >= 0 ? TR_EEXIST : tr_lock_take(r, label);
	} while (rc == TR_EEXIST);
	return rc;
}

/* Under the repository lock, so that no expire runs in between: takes a
 * label and the backup's lock, opens the previous manifest.  Then finds
 * the chunks to store again (the backup's lock keeps expire from removing
 * any chunk from here on). */
static int register_backup(struct backup *b, tr_manifest_hdr *h, const tr_pg_info *info, int *locked)
{
	tr_backupset set;
	tr_repolock lock;
	if (tr_repolock_take(b->repo, &lock, "backup", b->err, sizeof b->err) != 0)
		return -1;
	int rc = tr_backupset_load(b->repo, &set);
	if (rc == TR_OK && (rc = take_label(b->repo, &set, h->label)) == TR_OK) {
		*locked = 1;
		open_previous(b, &set, info->system_id, h->prior);
	}
	if (rc != TR_OK)
		snprintf(b->err, sizeof b->err, "%s", tr_repo_error(b->repo));
	tr_backupset_free(&set);
	tr_repolock_release(&lock);
	return rc == TR_OK ? find_repairs(b, h->prior) : -1;
}

/* Returns 0 done, 1 not due (--scheduled), -1 failed. */
static int run_backup(struct backup *b, tr_pg *pg, const tr_pg_info *info)
{
	tr_manifest_hdr h;
	tr_backupset set;
	b->t0 = tr_now();
	memset(&h, 0, sizeof h);
	h.pg_version = info->version;
	snprintf(h.system_id, sizeof h.system_id, "%s", info->system_id);
	h.wal_segment_size = info->wal_segment_size;
	h.chunk_size = b->chunk_size;
	if (tr_config_get(b->cfg, TR_S_SCHEDULED)) {
		int rc = tr_backupset_load(b->repo, &set);
		if (rc != TR_OK) {
			snprintf(b->err, sizeof b->err, "%s", tr_repo_error(b->repo));
			return -1;
		}
		int due = backup_due(b->cfg, &set);
		tr_backupset_free(&set);
		if (!due) {
			tr_metric_status("skipped");
			return 1;
		}
	}
	int locked = 0;
	int rc = register_backup(b, &h, info, &locked);
	if (locked)
		tr_metric_subject(h.label);
	if (rc == 0)
		rc = copy_data(b, &h, pg, info);
	if (rc == 0) {
		tr_testhook_pause("backup-before-manifest");
		rc = finish_backup(b, &h, pg);
	}
	if (locked)
		tr_lock_release(b->repo, h.label);
	tr_manifest_hdr_free(&h);
	return rc;
}

/* After the data: stop the backup, check the WAL, write the manifest. */
static int finish_backup(struct backup *b, tr_manifest_hdr *h, tr_pg *pg)
{
	char pages[512];
	int rc;
	if (tr_backup_source_before_stop(b->src, h, b->err, sizeof b->err) != 0)
		return -1;
	if (tr_pg_backup_stop(pg, &h->stop_lsn, &h->backup_label, &h->tablespace_map, &h->next_xid, b->err,
			      sizeof b->err) != 0) {
		tr_backup_source_explain(b->src, h, b->err, sizeof b->err);
		return -1;
	}
	h->stop_time = time(NULL);
	if (tr_pg_stop_facts(pg, &h->stop_time_us, &h->tablespace_names, b->err, sizeof b->err) != 0)
		return -1;  /* restore's exact choice by time and its tablespace map need them */
	if (tr_backup_source_after_stop(b->src, h, b->err, sizeof b->err) != 0)
		return -1;
	rc = check_wal_archived(b->repo, h, tr_config_int(b->cfg, TR_S_ARCHIVE_TIMEOUT), b->err, sizeof b->err);
	if (rc == 0 && tr_backup_pages_finish(b->pages, h, pages, sizeof pages) != 0) {
		snprintf(b->err, sizeof b->err, "out of memory");
		rc = -1;
	}
	h->logical_bytes = b->logical;
	h->stored_bytes = b->stored;
	h->new_bytes = b->new_bytes;
	h->file_count = b->files;
	h->duration = tr_now() - b->t0;
	if (rc == 0 && write_manifest(b, h) != TR_OK) {
		snprintf(b->err, sizeof b->err, "%s", tr_repo_error(b->repo));
		rc = -1;
	}
	tr_metric_bytes(b->logical, b->new_bytes);
	if (rc == 0 && b->repaired)
		tr_info("backup %s: stored again %llu chunk%s that storage had lost or damaged", h->label,
			(unsigned long long)b->repaired, b->repaired == 1 ? "" : "s");
	if (rc == 0)
		tr_info("backup %s: complete, %llu files, %llu bytes, %llu stored (%llu new), %.1f s%s%s%s", h->label,
			(unsigned long long)b->files, (unsigned long long)b->logical, (unsigned long long)b->stored,
			(unsigned long long)b->new_bytes, h->duration, *h->prior ? ", deduplicated against " : "",
			h->prior, pages);
	return rc;
}

static int check_server(const tr_pg_info *info, const char *pgdata, char *err, size_t errlen)
{
	if (info->version < 140000) {
		snprintf(err, errlen, "PostgreSQL %d is not supported (14 or later)", info->version / 10000);
		return -1;
	}
	if (access(pgdata, R_OK | X_OK) != 0) {
		snprintf(err, errlen, "cannot read the data directory %s: %s (run on the database host, as its owner, "
			 "or set TOTALRECALL_PGDATA)", pgdata, strerror(errno));
		return -1;
	}
	return 0;
}

int tr_cmd_backup(tr_config *cfg, int argc, char **argv)
{
	struct backup b;
	tr_repo *r = NULL;
	tr_repo_settings rs;
	tr_backup_source src;
	(void)argv;
	if (tr_cmd_enter("backup", NULL, cfg, argc, &rs) != 0)
		return 1;
	memset(&b, 0, sizeof b);
	b.cfg = cfg;
	pthread_mutex_init(&b.mu, NULL);
	pthread_cond_init(&b.done, NULL);
	b.chunk_size = (uint64_t)tr_config_int(cfg, TR_S_CHUNK_SIZE);
	int rc = tr_backup_source_open(cfg, &src, b.err, sizeof b.err);
	tr_pg *pg = src.pg;
	b.src = &src;
	b.pgdata = src.pgdata;
	if (rc == 0)
		rc = check_server(&src.info, b.pgdata, b.err, sizeof b.err);
	int repo_rc = rc == 0 ? tr_repo_connect(&r, &rs) : TR_OK;
	if (rc == 0 && repo_rc == TR_OK)
		repo_rc = tr_repo_unlock(r, 1);
	if (rc == 0 && repo_rc != TR_OK) {
		snprintf(b.err, sizeof b.err, "%s", tr_repo_error(r));
		rc = -1;
	}
	/* Only the current history section's cluster (section.h). */
	if (rc == 0 && tr_section_admit_server(r, pg, "backup", b.err, sizeof b.err) != 0)
		rc = -1;
	b.repo = r;
	if (rc == 0 && !(b.body = tr_repo_tmpfile(r))) {
		snprintf(b.err, sizeof b.err, "cannot create a temporary file in %s/tmp: %s",
			 tr_config_get(cfg, TR_S_STATE_DIR), strerror(errno));
		rc = -1;
	}
	if (rc == 0)
		rc = run_backup(&b, pg, &src.info);
	if (rc < 0)
		tr_error("backup: %s", b.err);
	tr_pool_stop(b.pool);
	tr_chunkset_free(b.stored_ids);
	tr_pagecheck_free(b.pages);
	tr_idset_free(&b.repair);
	if (b.prev.f)
		fclose(b.prev.f);
	free(b.prev.chunks);
	if (b.body)
		fclose(b.body);
	free_queue(&b);
	tr_repo_close(r);
	tr_backup_source_close(&src);  /* ends a running backup: the server aborts it */
	pthread_mutex_destroy(&b.mu);
	pthread_cond_destroy(&b.done);
	return rc >= 0 ? 0 : 1;
}
