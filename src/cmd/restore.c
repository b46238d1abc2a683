/*
 * restore.c - `totalrecall restore [DATADIR]`: rebuilds an empty data
 * directory from a backup, for the latest state or a point in time.
 *
 * Everything is checked before anything is written: the directory must be
 * empty (or absent), the timeline, the backup and the target are decided
 * (restore_plan.h), and the backup's manifest is read through once: every
 * path must stay inside the data directory, every --link-map and
 * --tablespace-map must name a link or tablespace of the backup.  Then the
 * directory is locked (restore_tree.h) and laid out.  A link outside
 * pg_tblspc (a symlinked pg_wal, links the user made) becomes a plain
 * directory or file holding its backed-up content unless --link-map moves
 * it; tablespaces go to their original locations, which must be empty or
 * absent, unless --tablespace-map moves them.  Chunks are fetched in
 * parallel, authenticated by the object format and written in place.
 * global/pg_control, backup_label and the recovery settings are written
 * last: a restore that fails leaves no directory PostgreSQL could start,
 * and removes exactly what it created.
 */
#include "config.h"
#include "repo/backupset.h"
#include "repo/chunkref.h"
#include "format/checksum.h"
#include "cmd/commands.h"
#include "base/atomicfile.h"
#include "conf/resolve.h"
#include "pg/datadir.h"
#include "cmd/fsync_tree.h"
#include "cmd/linkmap.h"
#include "base/log.h"
#include "base/metric.h"
#include "repo/pool.h"
#include "base/progress.h"
#include "cmd/restore_conf.h"
#include "cmd/restore_delta.h"
#include "cmd/restore_plan.h"
#include "cmd/restore_reuse.h"
#include "cmd/restore_tree.h"
#include "repo/section.h"
#include "base/spool.h"
#include "base/testhook.h"
#include "base/util.h"
#include "format/zerochunk.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PG_CONTROL "global/pg_control"

struct chunk_get {
	char path[PATH_MAX];
	char id[66];
	uint64_t offset, length, stored;
	int fresh;                /* its file was created empty: zeros need no write (zerochunk.h) */
	tr_reuse_src *first;      /* the first reference of its id: tell the later ones (restore_reuse.h) */
	tr_reuse_src *copy;       /* a later one: copy from the first */
};

struct restore {
	const tr_config *cfg;
	tr_restore_targets targets;
	tr_repo *repo;
	const char *dir;          /* as given */
	tr_pool *pool;
	pthread_mutex_t mu;
	uint64_t bytes;
	tr_progress progress;
	char err[2048];
	tr_rtree tree;
	tr_linkmap links;         /* --link-map */
	tr_linkmap tablespaces;   /* --tablespace-map */
	char (*ts_oid)[16];       /* the OID each --tablespace-map entry names */
	tr_manifest_hdr hdr;
	FILE *mf;
	char file_path[PATH_MAX]; /* where the chunks of the current file go */
	int file_fresh;           /* ... created empty by make_file, holes read as zeros */
	tr_zerochunk zero;
	tr_reuse *reuse;          /* chunks already written, copied instead of fetched */
	uint64_t fetched, copied; /* under mu */
	int in_control;
	int delta;                /* --delta into an existing cluster (restore_delta.h) */
	char sysid[32];           /* --delta: the system identifier the directory holds */
	tr_delta *dt;
	uint64_t fetched_stored;  /* --delta: stored bytes fetched */
	uint64_t reused;          /* --delta: bytes found in place */
	tr_mf_rec control_rec;    /* --delta: global/pg_control, created only at the end */
};

/* --- worker: one chunk --- */

static int write_at(const char *path, const void *buf, size_t len, uint64_t off, char *err, size_t errlen)
{
	int fd = open(path, O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
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

/* The data-directory path of a chunk's file, for messages. */
static const char *shown(const struct restore *rs, const char *path)
{
	size_t n = strlen(rs->tree.root);
	return strncmp(path, rs->tree.root, n) == 0 && path[n] == '/' ? path + n + 1 : path;
}

/* The keyed id of bytes read back, on the worker's connection (restore_reuse.h). */
static void repo_chunk_id(const void *repo, const void *data, size_t len, char out[66])
{
	tr_repo_chunk_id(repo, data, len, out);
}

/* A later reference of a chunk this restore wrote: copied from there.
 * 0 done, -1 failed, 1 to fetch it after all (tr_reuse_copy). */
static int copy_written(struct restore *rs, struct chunk_get *c, tr_repo *repo, void *buf)
{
	char err[1024];
	tr_chunk_idf idf = { repo_chunk_id, repo };
	int rc = tr_reuse_copy(rs->reuse, c->copy, &idf, c->path, c->offset, buf, err, sizeof err);
	if (rc < 0)
		tr_repo_set_error(repo, "%s", err);
	c->copy = NULL;
	if (rc == 0) {
		pthread_mutex_lock(&rs->mu);
		rs->bytes += c->length;
		rs->copied++;
		pthread_mutex_unlock(&rs->mu);
	}
	return rc;
}

/* --delta: whether the local file already holds this chunk, by its keyed
 * id computed here with the backup's key (buf: c->length bytes). */
static int chunk_in_place(struct restore *rs, tr_repo *repo, const struct chunk_get *c, void *buf)
{
	tr_chunk_idf idf = { repo_chunk_id, repo };
	if (!tr_chunk_at(&idf, c->path, c->offset, c->length, c->id, buf))
		return 0;
	pthread_mutex_lock(&rs->mu);
	rs->reused += c->length;
	pthread_mutex_unlock(&rs->mu);
	return 1;
}

/* Fetches the chunk into s and writes it (or leaves a hole of a fresh
 * file for zeros).  0 or -1 (the connection's error). */
static int fetch_chunk(struct restore *rs, tr_repo *repo, const struct chunk_get *c, tr_membuf *s)
{
	char rel[128];
	tr_chunk_rel(c->id, rel, sizeof rel);
	if (tr_repo_get(repo, rel, tr_mem_write, s, NULL) != TR_OK) {
		/* tr_repo_error(repo) names the object; add the file it belongs to. */
		char e[2048];
		snprintf(e, sizeof e, "%s (chunk of %s)", tr_repo_error(repo), shown(rs, c->path));
		tr_repo_set_error(repo, "%s", e);
		return -1;
	}
	/* The chunk decrypted and authenticated under a key bound to its name
	 * (format.h), so it is what backup stored under this id: the keyed id
	 * is not recomputed here (verify does), only the length the manifest
	 * records is checked. */
	if (s->len != c->length) {
		tr_repo_set_error(repo, "chunk %s of %s holds %zu bytes, the manifest says %zu", c->id,
				  shown(rs, c->path), s->len, (size_t)c->length);
		return -1;
	}
	if (c->fresh && s->len != rs->zero.len && tr_all_zero(s->data, s->len))
		return 0;  /* a short chunk of zeros (a file's tail): left a hole; a full one has the zero id */
	char werr[1024];
	if (write_at(c->path, s->data, s->len, c->offset, werr, sizeof werr) != 0) {
		tr_repo_set_error(repo, "%s", werr);
		return -1;
	}
	return 0;
}

static int chunk_get_job(tr_repo *repo, void *job, void *arg)
{
	struct chunk_get *c = job;
	struct restore *rs = arg;
	int fetched = 0, rc = -1;
	tr_membuf s = { NULL, 0, c->length, 0 };
	if (c->fresh && tr_zerochunk_is(&rs->zero, c->id, c->length)) {
		rc = 0;  /* zeros: a hole of the new file, nothing to fetch */
		s.len = c->length;
	} else if (!(s.data = malloc(c->length ? c->length : 1))) {
		tr_repo_set_error(repo, "out of memory");
	} else if (rs->delta && chunk_in_place(rs, repo, c, s.data)) {
		rc = 0;
	} else if (!c->copy || (rc = copy_written(rs, c, repo, s.data)) > 0) {
		rc = fetch_chunk(rs, repo, c, &s);
		fetched = rc == 0;
	}
	if (c->first)
		tr_reuse_done(rs->reuse, c->first, rc == 0);
	if (c->copy)
		tr_reuse_drop(rs->reuse, c->copy);  /* in place already, or out of memory */
	if (rc == 0 && s.len) {
		pthread_mutex_lock(&rs->mu);
		rs->bytes += s.len;
		rs->fetched += fetched;
		rs->fetched_stored += fetched ? c->stored : 0;
		pthread_mutex_unlock(&rs->mu);
	}
	free(s.data);
	free(c);
	return rc;
}

/* A chunk skipped after another one failed: freed here (pool.h), its
 * reuse reference given back (a later one waiting for it fails too). */
static void chunk_get_skipped(void *job, void *arg)
{
	struct chunk_get *c = job;
	struct restore *rs = arg;
	if (c->first)
		tr_reuse_done(rs->reuse, c->first, 0);
	if (c->copy)
		tr_reuse_drop(rs->reuse, c->copy);
	free(c);
}

/* --- checks before writing --- */

/* Whether dir is empty or absent (a lock file alone is left to the lock,
 * which tells an interrupted restore from a running one). */
static int dir_is_empty(const char *path, int *exists)
{
	DIR *d = opendir(path);
	*exists = d != NULL || errno != ENOENT;
	if (!d)
		return errno == ENOENT;
	struct dirent *e;
	int empty = 1;
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") && strcmp(e->d_name, TR_RESTORE_LOCK))
			empty = 0;
	closedir(d);
	return empty;
}

/* pg_tblspc/<digits>: a tablespace link. */
static const char *tablespace_oid(const char *rel)
{
	const char *p = rel + 10;
	if (strncmp(rel, "pg_tblspc/", 10) != 0 || !*p)
		return NULL;
	for (const char *q = p; *q; q++)
		if (!isdigit((unsigned char)*q))
			return NULL;
	return p;
}

static const char *mapped_tablespace(void *ctx, const char *oid)
{
	struct restore *rs = ctx;
	for (int i = 0; i < rs->tablespaces.n; i++)
		if (strcmp(rs->ts_oid[i], oid) == 0)
			return rs->tablespaces.v[i].path;
	return NULL;
}

/* Whether --link-map names path (without marking the entry used). */
static int link_mapped(const struct restore *rs, const char *path)
{
	for (int i = 0; i < rs->links.n; i++)
		if (strcmp(rs->links.v[i].name, path) == 0)
			return 1;
	return 0;
}

/* Where the restore makes the link rec point to: a tablespace's location
 * (moved or not), a --link-map's place; NULL where it makes a plain
 * directory or file instead. */
static const char *link_place(struct restore *rs, const tr_mf_rec *rec)
{
	const char *oid = tablespace_oid(rec->path);
	if (oid) {
		const char *to = mapped_tablespace(rs, oid);
		return to ? to : rec->target;
	}
	tr_map_entry *m = tr_linkmap_find(&rs->links, rec->path);
	return m ? m->path : NULL;
}

/* The OID each --tablespace-map entry names: an OID, or a name the
 * manifest records. */
static int resolve_tablespace_names(struct restore *rs)
{
	rs->ts_oid = calloc((size_t)rs->tablespaces.n + 1, sizeof *rs->ts_oid);
	if (!rs->ts_oid) {
		snprintf(rs->err, sizeof rs->err, "out of memory");
		return -1;
	}
	for (int i = 0; i < rs->tablespaces.n; i++) {
		const char *name = rs->tablespaces.v[i].name;
		if (strspn(name, "0123456789") == strlen(name))
			snprintf(rs->ts_oid[i], sizeof rs->ts_oid[i], "%s", name);
		else if (!tr_tablespace_oid(rs->hdr.tablespace_names, name, rs->ts_oid[i], sizeof rs->ts_oid[i])) {
			snprintf(rs->err, sizeof rs->err, "--tablespace-map %s: backup %s has no tablespace of that name%s",
				 name, rs->hdr.label, *rs->hdr.tablespace_names ? "" : " (it records none: give the OID)");
			return -1;
		}
	}
	return 0;
}

/* A link's target must be empty or absent: said before anything is
 * written (the lay-out checks again, as it creates it). */
static int check_link_target(struct restore *rs, const char *rel, const char *target, const char *option)
{
	int exists;
	if (dir_is_empty(target, &exists))
		return 0;
	snprintf(rs->err, sizeof rs->err, "%s (for %s) is not empty: restore writes only into empty or new directories; "
		 "give another place with %s (nothing was changed)", target, rel, option);
	return -1;
}

/* --delta: no link in the way of what the restore makes (restore_delta.h). */
static int check_delta_entry(struct restore *rs, const tr_mf_rec *rec)
{
	if (rec->type == 'f' && link_mapped(rs, rec->path))
		return 0;  /* the file a mapped link leads to: its link was checked */
	const char *to = rec->type == 'l' ? link_place(rs, rec) : NULL;
	return tr_delta_check_entry(rs->dir, rec->path, to, rs->err, sizeof rs->err);
}

static int check_record(struct restore *rs, const tr_mf_rec *rec, char prev_type)
{
	const char *oid;
	if (rec->type == 'c')
		return prev_type == 'f' || prev_type == 'c' ? 0 : -1;
	if (!tr_rel_path_ok(rec->path)) {
		snprintf(rs->err, sizeof rs->err, "backup %s: the manifest names a path outside the data directory "
			 "(\"%.200s\"): refused (nothing was changed)", rs->hdr.label, rec->path);
		return -1;
	}
	if (rs->delta && check_delta_entry(rs, rec) != 0)
		return -1;
	if (rec->type != 'l')
		return 0;
	const char *to = link_place(rs, rec);
	if ((oid = tablespace_oid(rec->path))) {
		for (int i = 0; i < rs->tablespaces.n; i++)
			if (strcmp(rs->ts_oid[i], oid) == 0)
				rs->tablespaces.v[i].used = 1;
		if (!mapped_tablespace(rs, oid) && !tr_abs_path_ok(rec->target)) {
			snprintf(rs->err, sizeof rs->err, "backup %s: tablespace %s's location \"%.200s\" is not an absolute "
				 "path: refused (move it with --tablespace-map %s=PATH)", rs->hdr.label, oid, rec->target, oid);
			return -1;
		}
	}
	if (!to || (rs->delta && tr_delta_link_is(rs->dir, rec->path, to)))
		return 0;  /* --delta keeps a link that already points where it should */
	return check_link_target(rs, rec->path, to, oid ? "--tablespace-map" : "--link-map");
}

/* Every map entry names something of the backup, and no two places overlap. */
static int check_maps(struct restore *rs)
{
	for (int i = 0; i < rs->links.n; i++)
		if (!rs->links.v[i].used) {
			snprintf(rs->err, sizeof rs->err, "--link-map %s: backup %s has no link %s (nothing was changed)",
				 rs->links.v[i].name, rs->hdr.label, rs->links.v[i].name);
			return -1;
		}
	for (int i = 0; i < rs->tablespaces.n; i++)
		if (!rs->tablespaces.v[i].used) {
			snprintf(rs->err, sizeof rs->err, "--tablespace-map %s: backup %s has no tablespace %s (nothing was "
				 "changed)", rs->tablespaces.v[i].name, rs->hdr.label, rs->ts_oid[i]);
			return -1;
		}
	tr_map_entry *all[2] = { rs->links.v, rs->tablespaces.v };
	int counts[2] = { rs->links.n, rs->tablespaces.n };
	char abs[PATH_MAX];
	const char *root = realpath(rs->dir, abs) ? abs : rs->dir;
	for (int a = 0; a < 2; a++)
		for (int i = 0; i < counts[a]; i++) {
			const char *p = all[a][i].path;
			int clash = *root == '/' && tr_paths_overlap(p, root);
			for (int b = a; b < 2 && !clash; b++)
				for (int j = b == a ? i + 1 : 0; j < counts[b] && !clash; j++)
					clash = tr_paths_overlap(p, all[b][j].path);
			if (clash) {
				snprintf(rs->err, sizeof rs->err, "%s: %s overlaps the data directory or another mapped location "
					 "(nothing was changed)", a ? "--tablespace-map" : "--link-map", p);
				return -1;
			}
		}
	return 0;
}

/* Reads the whole manifest once before anything is written. */
static int check_manifest(struct restore *rs)
{
	tr_mf_rec *rec = malloc(sizeof *rec);
	char prev = 0;
	long body = ftell(rs->mf);
	int rc = rec && body >= 0 ? 0 : -1;
	if (rc == 0)
		rc = resolve_tablespace_names(rs);
	while (rc == 0 && (rc = tr_manifest_read_rec(rs->mf, rec, rs->err, sizeof rs->err)) == 1) {
		rc = check_record(rs, rec, prev) == 0 ? 0 : -1;
		if (rc != 0 && !rs->err[0])
			snprintf(rs->err, sizeof rs->err, "backup %s: the manifest has a chunk outside a file", rs->hdr.label);
		prev = rec->type;
	}
	free(rec);
	if (rc == 0)
		rc = check_maps(rs);
	if (rc == 0 && fseek(rs->mf, body, SEEK_SET) != 0) {
		snprintf(rs->err, sizeof rs->err, "cannot read the manifest back: %s", strerror(errno));
		rc = -1;
	}
	return rc == 0 ? 0 : -1;
}

/* --- laying out --- */

static int make_file(struct restore *rs, const tr_mf_rec *rec)
{
	const tr_rlink *l = tr_rtree_link_of(&rs->tree, rec->path);
	int fd;
	rs->file_fresh = 0;
	if (rs->delta) {  /* kept if it is there: its chunks are compared */
		int via_link = l && l->is_file;
		if (!via_link && tr_delta_enter(rs->dt, rec->path, 'f', NULL, rs->err, sizeof rs->err) != 0)
			return -1;
		snprintf(rs->file_path, sizeof rs->file_path, "%s%s%s", via_link ? "" : rs->tree.root, via_link ? "" : "/",
			 via_link ? l->target : rec->path);
		if (rs->in_control) {  /* absent until the end: nothing starts the directory before */
			rs->control_rec = *rec;
			return 0;
		}
		return tr_delta_prepare_file(&rs->tree, via_link ? l->target : rec->path, rec->size, rec->mode, rs->err,
					     sizeof rs->err);
	}
	if (l && l->is_file) {  /* --link-map moved it: the link's target, made empty just now */
		snprintf(rs->file_path, sizeof rs->file_path, "%s", l->target);
		fd = open(l->target, O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
	} else {
		snprintf(rs->file_path, sizeof rs->file_path, "%s/%s", rs->tree.root, rec->path);
		fd = openat(rs->tree.rootfd, rec->path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, rec->mode & 0777);
		if (fd >= 0)
			tr_rtree_own_fd(&rs->tree, fd);
	}
	if (fd < 0 || ftruncate(fd, rec->size) != 0) {
		snprintf(rs->err, sizeof rs->err, "cannot create %s: %s", rs->file_path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	close(fd);
	rs->file_fresh = 1;  /* empty, then extended: reads as zeros until written */
	return 0;
}

/* A link: a tablespace goes where it was or where --tablespace-map says;
 * any other becomes a plain directory or file unless --link-map moves it
 * (next: the record after it, a file of the same path for a file link). */
static int make_link(struct restore *rs, const tr_mf_rec *rec, const tr_mf_rec *next)
{
	const char *to = link_place(rs, rec);
	int file = next && next->type == 'f' && strcmp(next->path, rec->path) == 0;
	if (rs->delta && to && tr_delta_link_is(rs->tree.root, rec->path, to))  /* kept as it is */
		return tr_rtree_adopt_link(&rs->tree, rec->path, to, file, rs->err, sizeof rs->err);
	if (to && file)
		return tr_rtree_link_file(&rs->tree, rec->path, to, next->mode, rs->err, sizeof rs->err);
	if (to)
		return tr_rtree_link_dir(&rs->tree, rec->path, to, rs->err, sizeof rs->err);
	return file ? 0 : tr_rtree_mkdir(&rs->tree, rec->path, 0700, rs->err, sizeof rs->err);
}

/* --delta: what is there of another type goes first; a directory (or a
 * link to one) is then compared entry by entry. */
static int lay_out_delta(struct restore *rs, const tr_mf_rec *rec, const tr_mf_rec *next)
{
	int file = next && next->type == 'f' && strcmp(next->path, rec->path) == 0;
	const char *to = rec->type == 'l' ? link_place(rs, rec) : NULL;
	char want = to ? 'l' : file ? 'f' : 'd';
	if (tr_delta_enter(rs->dt, rec->path, want, to, rs->err, sizeof rs->err) != 0)
		return -1;
	int rc = rec->type == 'd' ? tr_rtree_mkdir(&rs->tree, rec->path, rec->mode & 0777, rs->err, sizeof rs->err)
				  : make_link(rs, rec, next);
	if (rc == 0 && rec->type == 'd' && fchmodat(rs->tree.rootfd, rec->path, rec->mode & 0777, 0) != 0) {
		snprintf(rs->err, sizeof rs->err, "cannot restore %s/%s: %s", rs->tree.root, rec->path, strerror(errno));
		rc = -1;
	}
	return rc != 0 || file ? rc : tr_delta_push(rs->dt, rec->path, rs->err, sizeof rs->err);
}

static int queue_chunk(struct restore *rs, const tr_mf_rec *rec, uint64_t *off, struct chunk_get **control)
{
	struct chunk_get *c = calloc(1, sizeof *c);
	if (!c) {
		snprintf(rs->err, sizeof rs->err, "out of memory");
		return -1;
	}
	snprintf(c->path, sizeof c->path, "%s", rs->file_path);
	snprintf(c->id, sizeof c->id, "%s", rec->chunk);
	c->offset = *off;
	c->length = rec->length;
	c->fresh = rs->file_fresh;
	c->stored = rec->stored;
	*off += rec->length;
	if (rs->in_control && !*control) {
		*control = c;  /* queued last of all: never the first reference others wait for */
		return 0;
	}
	if (rs->reuse && !(c->fresh && tr_zerochunk_is(&rs->zero, c->id, c->length)))
		c->copy = tr_reuse_note(rs->reuse, c->id, c->path, c->offset, c->length, &c->first);
	if (tr_pool_submit(rs->pool, c) != 0) {
		chunk_get_skipped(c, rs);  /* not taken (pool.h): its reuse references go back too */
		return -1;
	}
	return 0;
}

static int lay_out_one(struct restore *rs, const tr_mf_rec *rec, const tr_mf_rec *next, uint64_t *off,
		       struct chunk_get **control)
{
	switch (rec->type) {
	case 'd':
		if (rs->delta)
			return lay_out_delta(rs, rec, next);
		return tr_rtree_mkdir(&rs->tree, rec->path, rec->mode & 0777, rs->err, sizeof rs->err);
	case 'l':
		return rs->delta ? lay_out_delta(rs, rec, next) : make_link(rs, rec, next);
	case 'f':
		*off = 0;
		rs->in_control = strcmp(rec->path, PG_CONTROL) == 0;
		return make_file(rs, rec);
	default:
		return queue_chunk(rs, rec, off, control);
	}
}

/* Creates the entries of the manifest and queues the chunks; the chunks
 * of global/pg_control are held back in *control. */
static int lay_out(struct restore *rs, struct chunk_get **control)
{
	tr_mf_rec *rec = malloc(sizeof *rec), *next = malloc(sizeof *next);
	uint64_t off = 0;
	int rc = rec && next ? tr_manifest_read_rec(rs->mf, rec, rs->err, sizeof rs->err) : -1;
	while (rc == 1) {
		int more = tr_manifest_read_rec(rs->mf, next, rs->err, sizeof rs->err);
		if (more < 0 || lay_out_one(rs, rec, more == 1 ? next : NULL, &off, control) != 0) {
			rc = -1;
			break;
		}
		rs->tree.entries++;
		tr_mf_rec *t = rec;
		rec = next;
		next = t;
		rc = more;
	}
	free(rec);
	free(next);
	return rc == 0 && !tr_pool_failed(rs->pool) ? 0 : -1;
}

/* Run as root, a file written beside the manifest's goes to the owner of
 * the directory (restore_tree.h). */
static void give_file(struct restore *rs, const char *name)
{
	if (rs->tree.uid == (uid_t)-1)
		return;
	int fd = openat(rs->tree.rootfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd >= 0) {
		tr_rtree_own_fd(&rs->tree, fd);
		close(fd);
	}
}

/* backup_label, tablespace_map: complete or not at all (atomicfile.h). */
static int write_text(struct restore *rs, const char *name, const char *text)
{
	char path[PATH_MAX];
	snprintf(path, sizeof path, "%s/%s", rs->tree.root, name);
	if (tr_rtree_note_file(&rs->tree, name) != 0) {
		snprintf(rs->err, sizeof rs->err, "out of memory");
		return -1;
	}
	if (tr_atomic_write_file_at(rs->tree.rootfd, name, text, strlen(text), 0600, 0) != 0) {
		snprintf(rs->err, sizeof rs->err, "cannot write %s: %s", path, strerror(errno));
		return -1;
	}
	give_file(rs, name);
	return 0;
}

/* The recovery settings (restore_conf.h), in files undo knows of. */
static int write_recovery(struct restore *rs, const tr_restore_plan *plan)
{
	static const char *const files[] = { "postgresql.auto.conf", "postgresql.conf", TR_RESTORE_CONF_NAME,
					     "recovery.signal", "standby.signal" };
	tr_recovery rec = { plan->timeline, plan->target_time[0] ? plan->target_time : NULL, tr_repo_section(rs->repo) };
	/* A standby follows every later promotion of its upstream; the plan's
	 * timeline only chose the backup, unless the user named one. */
	if (tr_config_get(rs->cfg, TR_S_STANDBY) && !rs->targets.timeline)
		rec.timeline = NULL;
	for (size_t i = 0; i < TR_ARRAY_LEN(files); i++)
		if (tr_rtree_note_file(&rs->tree, files[i]) != 0) {
			snprintf(rs->err, sizeof rs->err, "out of memory");
			return -1;
		}
	if (tr_restore_conf_write(rs->cfg, rs->tree.root, &rec, rs->err, sizeof rs->err) != 0)
		return -1;
	for (size_t i = 0; i < TR_ARRAY_LEN(files); i++)
		give_file(rs, files[i]);
	return 0;
}

/* A file a link points to, and the directory that names it. */
static int fsync_file(const char *path, char *err, size_t errlen)
{
	char dir[PATH_MAX];
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	int rc = fd >= 0 && fsync(fd) == 0 ? 0 : -1;
	if (fd >= 0)
		close(fd);
	tr_dirname(path, dir, sizeof dir);
	if (rc != 0 || tr_fsync_dir(dir) != 0) {
		snprintf(err, errlen, "cannot flush %s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

/* Link targets outside the data directory are made durable too. */
static int fsync_links(struct restore *rs)
{
	for (int i = 0; i < rs->tree.nlinks; i++) {
		const tr_rlink *l = &rs->tree.links[i];
		if (tablespace_oid(l->rel))
			continue;  /* tr_fsync_tree follows pg_tblspc */
		if ((l->is_file ? fsync_file(l->target, rs->err, sizeof rs->err)
				: tr_fsync_tree(l->target, rs->err, sizeof rs->err)) != 0)
			return -1;
	}
	return 0;
}

/* backup_label, tablespace_map, the recovery settings, pg_control.
 * Takes control: frees it unless the pool took it (pool.h). */
static int finish(struct restore *rs, const tr_restore_plan *plan, struct chunk_get *control)
{
	if (write_text(rs, "backup_label", rs->hdr.backup_label) != 0) {
		free(control);
		return -1;
	}
	if (*rs->hdr.tablespace_map) {
		/* Moved tablespaces: PostgreSQL re-creates pg_tblspc's links from
		 * this file, which must name the new locations. */
		char *map = tr_tablespace_map_rewrite(rs->hdr.tablespace_map, mapped_tablespace, rs);
		int rc = map ? write_text(rs, "tablespace_map", map) : -1;
		if (!map)
			snprintf(rs->err, sizeof rs->err, "backup %s: its tablespace_map cannot be read", rs->hdr.label);
		free(map);
		if (rc != 0) {
			free(control);
			return -1;
		}
	}
	if (write_recovery(rs, plan) != 0) {
		free(control);
		return -1;
	}
	tr_testhook_pause("restore-before-control");  /* tests: everything but pg_control is written */
	if (control && rs->delta &&
	    tr_delta_prepare_file(&rs->tree, PG_CONTROL, rs->control_rec.size, rs->control_rec.mode, rs->err,
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
	if (tr_fsync_tree(rs->tree.root, rs->err, sizeof rs->err) != 0 || fsync_links(rs) != 0)
		return -1;
	return rs->delta ? tr_delta_finish(rs->dt, rs->err, sizeof rs->err) : 0;
}

static int run_restore(struct restore *rs, const tr_restore_plan *plan)
{
	struct chunk_get *control = NULL;
	int workers = tr_pool_transfers(rs->repo);
	tr_repo_zerochunk(rs->repo, rs->hdr.chunk_size, &rs->zero);
	rs->reuse = tr_reuse_new();  /* without it, every reference is fetched */
	rs->pool = tr_pool_start(rs->repo, workers, 2 * workers, chunk_get_job, rs, rs->err, sizeof rs->err);
	int rc = rs->pool ? 0 : -1;
	if (rs->pool)
		tr_pool_on_skip(rs->pool, chunk_get_skipped);
	tr_progress_init(&rs->progress, "restore", rs->hdr.logical_bytes);
	if (rc == 0)
		rc = lay_out(rs, &control);
	if (rc == 0 && rs->delta)  /* what the directories hold that the backup does not */
		rc = tr_delta_leave_all(rs->dt, rs->err, sizeof rs->err);
	if (rs->pool && tr_pool_wait(rs->pool) != 0) {
		snprintf(rs->err, sizeof rs->err, "%s", tr_pool_error(rs->pool));
		rc = -1;
	}
	if (rc == 0)
		rc = finish(rs, plan, control);
	else
		free(control);
	tr_progress_add(&rs->progress, rs->bytes + rs->reused);
	tr_metric_bytes(rs->bytes, rs->delta ? rs->fetched_stored : rs->hdr.stored_bytes);
	tr_progress_end(&rs->progress);
	tr_pool_stop(rs->pool);
	rs->pool = NULL;
	tr_reuse_free(rs->reuse);
	rs->reuse = NULL;
	tr_debug("restore: %llu chunks fetched, %llu copied from chunks this restore wrote",
		 (unsigned long long)rs->fetched, (unsigned long long)rs->copied);
	return rc;
}

static const char *target_dir(const tr_config *cfg, int argc, char **argv)
{
	return argc == 1 ? argv[0] : tr_config_get(cfg, TR_S_PGDATA);
}

/* Unlocks the repository, decides what to restore and reads its
 * manifest; 1 means "--try and nothing to restore". */
static int prepare(struct restore *rs, tr_repo *r, tr_backupset *set, tr_restore_plan *plan)
{
	const tr_config *cfg = rs->cfg;
	int try_only = tr_config_get(cfg, TR_S_TRY) != NULL, status;
	uint32_t section;
	int rc = tr_repo_unlock(r, 0);
	if (rc == TR_ENOENT && try_only)
		return 1;
	if (rc == TR_OK)
		rc = tr_backupset_load(r, set);
	if (rc != TR_OK) {
		snprintf(rs->err, sizeof rs->err, "%s", tr_repo_error(r));
		return -1;
	}
	if (set->n == 0) {
		if (try_only)
			return 1;
		snprintf(rs->err, sizeof rs->err, "the repository %s has no backup", tr_repo_base(r));
		return -1;
	}
	if (tr_section_restore_scope(r, set, rs->targets.label, (uint32_t)tr_config_int(cfg, TR_S_SECTION), &section,
				     rs->err, sizeof rs->err) != 0)
		return -1;   /* the history section: its backups and its WAL (section.h) */
	if (tr_restore_plan_make(r, set, &rs->targets, plan, rs->err, sizeof rs->err) != 0)
		return -1;
	rs->mf = tr_manifest_open(r, set->b[plan->chosen].label, &rs->hdr, &status);
	if (!rs->mf) {
		snprintf(rs->err, sizeof rs->err, "%s", tr_repo_error(r));
		return -1;
	}
	if (rs->delta && strcmp(rs->sysid, rs->hdr.system_id) != 0) {
		snprintf(rs->err, sizeof rs->err, "restore --delta: %s holds the cluster with system identifier %s, backup "
			 "%s is of %s: a delta restore only brings a cluster to an earlier or later state of itself (restore "
			 "into an empty directory instead; nothing was changed)", rs->dir, rs->sysid, rs->hdr.label,
			 rs->hdr.system_id);
		return -1;
	}
	return check_manifest(rs);
}

/* Settings restore reads before any I/O. */
static int read_options(struct restore *rs, const tr_config *cfg, const char *dir)
{
	char label[128];
	rs->targets = (tr_restore_targets){ tr_config_get(cfg, TR_S_TARGET_TIME), tr_config_get(cfg, TR_S_TARGET_LSN),
					    tr_config_get(cfg, TR_S_TARGET_XID), tr_config_get(cfg, TR_S_TARGET_NAME),
					    tr_config_get(cfg, TR_S_BACKUP_LABEL), tr_config_get(cfg, TR_S_TARGET_TIMELINE),
					    tr_config_get(cfg, TR_S_TARGET_EXCLUSIVE) != NULL };
	if (tr_restore_conf_check(cfg, rs->err, sizeof rs->err) != 0)
		return -1;
	if (strpbrk(dir, "\n\r")) {
		snprintf(rs->err, sizeof rs->err, "the data directory's path holds a line break, which PostgreSQL cannot "
			 "run from (pg_ctl reads it from postmaster.pid line by line)");
		return -1;
	}
	if (tr_linkmap_parse(tr_config_get(cfg, TR_S_LINK_MAP), 0, "--link-map", &rs->links, rs->err,
			     sizeof rs->err) != 0 ||
	    tr_linkmap_parse(tr_config_get(cfg, TR_S_TABLESPACE_MAP), 1,
			     tr_setting_label(TR_S_TABLESPACE_MAP, label, sizeof label), &rs->tablespaces, rs->err,
			     sizeof rs->err) != 0)
		return -1;
	for (int i = 0; i < rs->links.n; i++)
		if (tablespace_oid(rs->links.v[i].name)) {
			snprintf(rs->err, sizeof rs->err, "--link-map %s: move tablespaces with --tablespace-map",
				 rs->links.v[i].name);
			return -1;
		}
	return 0;
}

/* Restored as root for the directory's owner: the metrics spool this run
 * appends its record to (main, after the command) is made the owner's
 * first, or the cluster's worker could not read it. */
static void give_spool(struct restore *rs)
{
	if (rs->tree.uid == (uid_t)-1 || tr_config_get(rs->cfg, TR_S_SPOOL_DIR))
		return;
	if (mkdirat(rs->tree.rootfd, TR_SPOOL_DIRNAME, 0700) == 0 || errno == EEXIST) {
		int dfd = openat(rs->tree.rootfd, TR_SPOOL_DIRNAME, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		int fd = dfd >= 0 ? openat(dfd, TR_SPOOL_FILE, O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0600) : -1;
		if (dfd >= 0)
			tr_rtree_own_fd(&rs->tree, dfd);
		if (fd >= 0) {
			tr_rtree_own_fd(&rs->tree, fd);
			close(fd);
		}
		if (dfd >= 0)
			close(dfd);
	}
}

/* --delta: locks the existing directory and brings it to the backup's
 * state; a failure leaves it unstartable, to be finished by another run
 * (restore_delta.h). */
static int restore_delta_into(struct restore *rs, const char *label, const tr_restore_plan *plan, uid_t uid,
			      gid_t gid)
{
	char more[512];
	if (tr_rtree_open_existing(&rs->tree, rs->dir, uid, gid, rs->err, sizeof rs->err) != 0)
		return -1;
	tr_info("restore: backup %s into %s, keeping what is already in place (--delta)", label, rs->tree.root);
	tr_metric_subject(label);
	rs->dt = tr_delta_begin(&rs->tree, rs->err, sizeof rs->err);
	int rc = rs->dt ? run_restore(rs, plan) : -1;
	if (rc != 0) {
		if (rs->tree.keep_lock) {
			snprintf(more, sizeof more, "; %s is incomplete and cannot be started (global/pg_control is set aside "
				 "as %s): run restore --delta again to finish it", rs->tree.root, TR_DELTA_MARK);
			strncat(rs->err, more, sizeof rs->err - strlen(rs->err) - 1);
		}
		return -1;
	}
	tr_metric_pgdata(rs->dir);
	give_spool(rs);
	snprintf(more, sizeof more, "%llu bytes fetched (%llu stored), %llu bytes already in place, %llu entries "
		 "removed", (unsigned long long)rs->bytes, (unsigned long long)rs->fetched_stored,
		 (unsigned long long)rs->reused, (unsigned long long)tr_delta_removed(rs->dt));
	tr_metric_extra("restore-delta", rs->reused, rs->fetched_stored, "ok", more);
	tr_info("restore: %s restored into %s: %s; start PostgreSQL to recover", label, rs->tree.root, more);
	return 0;
}

/* Creates and locks the directory, lays the backup out, undoes on failure. */
static int restore_into(struct restore *rs, const tr_backupset *set, const tr_restore_plan *plan, uid_t uid,
			gid_t gid)
{
	const char *label = set->b[plan->chosen].label;
	if (rs->delta)
		return restore_delta_into(rs, label, plan, uid, gid);
	if (tr_rtree_open(&rs->tree, rs->dir, uid, gid, rs->err, sizeof rs->err) != 0) {
		tr_rtree_undo(&rs->tree, NULL);
		return -1;
	}
	tr_info("restore: backup %s into %s", label, rs->tree.root);
	tr_metric_subject(label);
	int rc = run_restore(rs, plan);
	if (rc != 0) {
		tr_rtree_undo(&rs->tree, rs->mf);
		return -1;
	}
	tr_metric_pgdata(rs->dir);
	give_spool(rs);
	tr_info("restore: %s restored, %llu bytes; start PostgreSQL to recover", label, (unsigned long long)rs->bytes);
	return 0;
}

/* The directory restore writes into: empty or absent, or with --delta a
 * stopped cluster (restore_delta.h). */
static int check_target(struct restore *rs, const tr_config *cfg, const char *dir)
{
	int exists, empty = dir_is_empty(dir, &exists);
	if (tr_config_get(cfg, TR_S_DELTA) && !empty) {
		rs->delta = 1;
		return tr_delta_check_dir(dir, rs->sysid, rs->err, sizeof rs->err);
	}
	if (tr_rtree_check_lock(dir, rs->err, sizeof rs->err) != 0)
		return -1;
	if (!empty) {
		snprintf(rs->err, sizeof rs->err, "%s is not empty: restore only into an empty or new directory, or with "
			 "--delta into a stopped cluster of the same system (nothing was changed)", dir);
		return -1;
	}
	if (tr_config_get(cfg, TR_S_DELTA))
		tr_info("restore: %s is empty: an ordinary restore (--delta has nothing to compare with)", dir);
	return 0;
}

int tr_cmd_restore(tr_config *cfg, int argc, char **argv)
{
	char err[2048];
	struct restore rs;
	tr_repo *r = NULL;
	tr_repo_settings repo_settings;
	tr_backupset set = { NULL, 0 };
	tr_restore_plan plan;
	uid_t uid;
	gid_t gid;
	int rc = -1;
	const char *dir = target_dir(cfg, argc, argv);

	if (argc > 1 || !dir) {
		tr_error("restore: give the data directory to restore into (argument, --pgdata or PGDATA)");
		return 1;
	}
	if (tr_conf_storage(cfg, &repo_settings, err, sizeof err) != 0) {
		tr_error("restore: %s", err);
		return 1;
	}
	memset(&rs, 0, sizeof rs);
	rs.tree.rootfd = rs.tree.lockfd = -1;
	pthread_mutex_init(&rs.mu, NULL);
	rs.cfg = cfg;
	rs.dir = dir;
	tr_metric_pgdata(NULL);  /* until dir holds a restored cluster */
	if (read_options(&rs, cfg, dir) != 0 || tr_rtree_owner(dir, &uid, &gid, rs.err, sizeof rs.err) != 0 ||
	    check_target(&rs, cfg, dir) != 0) {
		rc = -1;
	} else if ((rc = tr_repo_connect(&r, &repo_settings)) != TR_OK) {
		snprintf(rs.err, sizeof rs.err, "%s", tr_repo_error(r));
		rc = -1;
	} else {
		rs.repo = r;
		rc = prepare(&rs, r, &set, &plan);
	}
	if (rc == 1) {
		tr_metric_status("skipped");
		tr_info("restore: no backup in the repository, nothing to do (--try)");
		rc = 0;
	} else if (rc == 0) {
		rc = restore_into(&rs, &set, &plan, uid, gid);
	}
	if (rc != 0)
		tr_error("restore: %s", rs.err);
	tr_delta_free(rs.dt);
	tr_rtree_close(&rs.tree);
	if (rs.mf)
		fclose(rs.mf);
	tr_manifest_hdr_free(&rs.hdr);
	tr_linkmap_free(&rs.links);
	tr_linkmap_free(&rs.tablespaces);
	free(rs.ts_oid);
	tr_backupset_free(&set);
	tr_repo_close(r);
	pthread_mutex_destroy(&rs.mu);
	return rc == 0 ? 0 : 1;
}
