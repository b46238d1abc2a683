/*
 * fs.c - the "fs" storage driver: a local directory plays the bucket.
 *
 * Setting "bucket" is the absolute path of the directory (it must exist).
 * A key maps to the file of the same relative path.
 *
 * Durability: a body is written to a temporary file in the key's directory
 * (".tr-tmp-*", never listed), fsynced, then moved to its name and the
 * directory fsynced.  put-if-absent uses link(2), which fails with EEXIST
 * when the name exists, so two processes racing for one key cannot both
 * win; a plain put uses rename(2).  A reader never sees a partial file
 * under the final name.
 *
 * Batched puts (TR_PUT_BATCH, for backup chunks): a put checks that the
 * key is free, writes the temporary file and returns; nothing is fsynced
 * and no name appears yet.  Every PENDING_MAX puts, and at sync(), the
 * connection flushes the filesystem once (syncfs: one device flush for all
 * the bodies, where an fsync each cost a flush each), then links each
 * temporary file to its name (a name taken meanwhile keeps its object:
 * batched objects are content-addressed), then makes the directories
 * durable: an fsync each, or one more syncfs past DIRTY_FSYNC_MAX of them.
 * A body is thus durable before its name exists, as for a plain put.  A
 * connection closed before sync() removes its pending files: their names
 * never appear.
 *
 * Statuses (driver.h, "Error classes"): ENOENT of the object's own file is
 * TR_ENOENT; EACCES, EPERM and EROFS are TR_EPERM (there are no
 * credentials); ENOTSUP, and EPERM from link(2) (a file system without
 * hard links, where put-if-absent cannot be atomic), TR_ENOTSUP; errors
 * that may pass (EAGAIN, ETIMEDOUT or ESTALE of a network file system)
 * TR_ETRANSIENT, returned at once (the driver does not retry); the rest
 * TR_EIO.  mtime is the file's.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "totalrecall/driver.h"

#define TMP_PREFIX ".tr-tmp-"
#define IO_BUF (128 * 1024)
#define DIRTY_MAX 512
#define DIRTY_FSYNC_MAX 8
#define PENDING_MAX 256
#define STALE_TMP_AGE (24 * 3600)

struct tr_conn {
	char root[PATH_MAX];
	char msg[PATH_MAX + 256];
	char **dirty;              /* directories to fsync at sync(), DIRTY_MAX slots */
	int ndirty;
	int dirty_overflow;        /* more than DIRTY_MAX: syncfs at sync() */
	struct pending {           /* batched puts written, not yet named */
		char *tmp, *path;
		int if_absent;
	} *pending;                /* PENDING_MAX slots */
	int npending;
};

static void set_msg(tr_conn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set_msg(tr_conn *c, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(c->msg, sizeof c->msg, fmt, ap);
	va_end(ap);
}

static int status_of_errno(int e)
{
	switch (e) {
	case ENOENT: return TR_ENOENT;
	case EACCES: case EPERM: case EROFS: return TR_EPERM;
	case ENOSPC: case EDQUOT: return TR_ENOSPACE;
	case ENOMEM: return TR_ENOMEM;
	case ENOTSUP: return TR_ENOTSUP;
	case EAGAIN: case EBUSY: case EINTR: case ETIMEDOUT: case ESTALE: case ENOLCK: return TR_ETRANSIENT;
	default: return TR_EIO;
	}
}

/* Sets the message for errno and returns the matching status. */
static int fail(tr_conn *c, const char *op, const char *path)
{
	int e = errno;
	set_msg(c, "fs: %s %s: %s", op, path, strerror(e));
	return status_of_errno(e);
}

/* link(2) fails with EPERM on a file system without hard links. */
static int link_failed(tr_conn *c, const char *path)
{
	if (errno != EPERM)
		return fail(c, "link", path);
	set_msg(c, "fs: link %s: %s: this file system has no hard links, which put-if-absent needs", path,
		strerror(errno));
	return TR_ENOTSUP;
}

/* Keys are validated here too: the driver must not write outside root,
 * and names of its temporary files are not keys. */
static int key_ok(const char *key)
{
	if (!tr_key_ok(key))
		return 0;
	for (const char *seg = key; seg;) {
		if (strncmp(seg, TMP_PREFIX, strlen(TMP_PREFIX)) == 0)
			return 0;
		seg = strchr(seg, '/');
		seg = seg ? seg + 1 : NULL;
	}
	return 1;
}

static int key_path(tr_conn *c, const char *key, char *out, size_t outlen)
{
	if (!key_ok(key)) {
		set_msg(c, "fs: invalid key \"%.200s\"", key);
		return TR_EINVAL;
	}
	if ((size_t)snprintf(out, outlen, "%s/%s", c->root, key) >= outlen) {
		set_msg(c, "fs: path too long for key \"%.200s\"", key);
		return TR_EINVAL;
	}
	return TR_OK;
}

static int fsync_dir(tr_conn *c, const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return fail(c, "open directory", dir);
	int rc = fsync(fd) == 0 ? TR_OK : fail(c, "fsync directory", dir);
	close(fd);
	return rc;
}

/* mkdir -p of the directories above path, fsyncing each parent it creates
 * so that the new entries survive a crash. */
static int make_parents(tr_conn *c, const char *path)
{
	char buf[PATH_MAX];
	snprintf(buf, sizeof buf, "%s", path);
	for (char *p = buf + strlen(c->root) + 1; (p = strchr(p, '/')); p++) {
		*p = '\0';
		if (mkdir(buf, 0750) == 0) {
			char parent[PATH_MAX];
			snprintf(parent, sizeof parent, "%s", buf);
			*strrchr(parent, '/') = '\0';
			(void)fsync_dir(c, parent);  /* best effort, as before: the put's own fsyncs decide */
		} else if (errno != EEXIST) {
			return fail(c, "mkdir", buf);
		}
		*p = '/';
	}
	return TR_OK;
}

static int fs_open(const tr_driver_env *env, tr_conn **out)
{
	tr_conn *c = calloc(1, sizeof *c);
	*out = c;
	if (!c)
		return TR_ENOMEM;
	if (!TR_DRIVER_ENV_OK(env)) {
		set_msg(c, "fs: the core's driver environment is older than driver ABI version %d", TR_DRIVER_ABI_VERSION);
		return TR_EINVAL;
	}
	const char *root = env->setting(env->ctx, "bucket");
	struct stat st;
	if (!root || !*root) {
		set_msg(c, "fs: setting bucket (TOTALRECALL_BUCKET) is not set: give the repository directory");
		return TR_EINVAL;
	}
	if (root[0] != '/') {
		set_msg(c, "fs: bucket %s: must be an absolute directory path", root);
		return TR_EINVAL;
	}
	if (stat(root, &st) != 0) {  /* a setting that names nothing: never "absent" */
		int rc = fail(c, "bucket directory", root);
		return rc == TR_ENOENT ? TR_EINVAL : rc;
	}
	if (!S_ISDIR(st.st_mode)) {
		set_msg(c, "fs: bucket %s: not a directory", root);
		return TR_EINVAL;
	}
	snprintf(c->root, sizeof c->root, "%s", root);
	size_t n = strlen(c->root);
	while (n > 1 && c->root[n - 1] == '/')
		c->root[--n] = '\0';
	return TR_OK;
}

/* Copies the body from args->read into fd; fsyncs it unless batched. */
static int write_body(tr_conn *c, int fd, const char *path, const tr_put_args *args)
{
	char *buf = malloc(IO_BUF);
	if (!buf) {
		set_msg(c, "fs: out of memory");
		return TR_ENOMEM;
	}
	int rc = TR_OK;
	for (;;) {
		ssize_t n = args->read(args->read_ctx, buf, IO_BUF);
		if (n < 0) {
			set_msg(c, "fs: reading the body for %s failed", path);
			rc = TR_ECALLBACK;
			break;
		}
		if (n == 0)
			break;
		for (ssize_t done = 0; done < n;) {
			ssize_t w = write(fd, buf + done, (size_t)(n - done));
			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0) {
				rc = fail(c, "write", path);
				goto out;
			}
			done += w;
		}
	}
	if (rc == TR_OK && !(args->flags & TR_PUT_BATCH) && fsync(fd) != 0)
		rc = fail(c, "fsync", path);
out:
	free(buf);
	return rc;
}

/* Flushes every file of the repository's filesystem. */
static int flush_fs(tr_conn *c)
{
	int fd = open(c->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return fail(c, "open", c->root);
	int rc = syncfs(fd) == 0 ? TR_OK : fail(c, "syncfs", c->root);
	close(fd);
	return rc;
}

static void forget_dirty(tr_conn *c)
{
	for (int i = 0; i < c->ndirty; i++)
		free(c->dirty[i]);
	c->ndirty = 0;
	c->dirty_overflow = 0;
}

/* Remembers the directory of path for sync(). */
static void mark_dirty(tr_conn *c, const char *path)
{
	size_t len = (size_t)(strrchr(path, '/') - path);
	for (int i = 0; i < c->ndirty; i++)
		if (strlen(c->dirty[i]) == len && strncmp(c->dirty[i], path, len) == 0)
			return;
	if (!c->dirty && !(c->dirty = calloc(DIRTY_MAX, sizeof *c->dirty)))
		c->dirty_overflow = 1;
	if (c->dirty_overflow || c->ndirty == DIRTY_MAX || !(c->dirty[c->ndirty] = strndup(path, len))) {
		c->dirty_overflow = 1;
		return;
	}
	c->ndirty++;
}

static void drop_pending(tr_conn *c)
{
	for (int i = 0; i < c->npending; i++) {
		unlink(c->pending[i].tmp);
		free(c->pending[i].tmp);
		free(c->pending[i].path);
	}
	c->npending = 0;
}

/* Names the pending bodies once they are all durable. */
static int flush_pending(tr_conn *c)
{
	if (c->npending == 0)
		return TR_OK;
	int rc = flush_fs(c);
	for (int i = 0; rc == TR_OK && i < c->npending; i++) {
		struct pending *p = &c->pending[i];
		if (p->if_absent ? link(p->tmp, p->path) != 0 && errno != EEXIST : rename(p->tmp, p->path) != 0)
			rc = p->if_absent ? link_failed(c, p->path) : fail(c, "rename", p->path);
		else
			mark_dirty(c, p->path);
	}
	drop_pending(c);
	return rc;
}

/* Makes every batched put visible and durable. */
static int fs_sync(tr_conn *c)
{
	int rc = flush_pending(c);
	if (rc == TR_OK && (c->dirty_overflow || c->ndirty > DIRTY_FSYNC_MAX))
		rc = flush_fs(c);
	else
		for (int i = 0; rc == TR_OK && i < c->ndirty; i++)
			rc = fsync_dir(c, c->dirty[i]);
	forget_dirty(c);
	return rc;
}

/* Keeps a batched body for the next flush; its name appears then. */
static int add_pending(tr_conn *c, const char *tmp, const char *path, unsigned flags)
{
	if (!c->pending && !(c->pending = calloc(PENDING_MAX, sizeof *c->pending))) {
		unlink(tmp);
		set_msg(c, "fs: out of memory");
		return TR_ENOMEM;
	}
	struct pending *p = &c->pending[c->npending];
	p->tmp = strdup(tmp);
	p->path = strdup(path);
	p->if_absent = (flags & TR_PUT_IF_ABSENT) != 0;
	if (!p->tmp || !p->path) {
		free(p->tmp);
		free(p->path);
		unlink(tmp);
		set_msg(c, "fs: out of memory");
		return TR_ENOMEM;
	}
	c->npending++;
	return c->npending == PENDING_MAX ? flush_pending(c) : TR_OK;
}

static int fsync_parent(tr_conn *c, const char *path)
{
	char dir[PATH_MAX];
	snprintf(dir, sizeof dir, "%s", path);
	*strrchr(dir, '/') = '\0';
	return fsync_dir(c, dir);
}

/* Moves the finished temporary file to its name and fsyncs the directory. */
static int publish(tr_conn *c, const char *tmp, const char *path, unsigned flags)
{
	if (flags & TR_PUT_IF_ABSENT) {
		if (link(tmp, path) != 0) {
			if (errno == EEXIST) {
				set_msg(c, "fs: %s exists", path);
				return TR_EEXIST;
			}
			return link_failed(c, path);
		}
		unlink(tmp);
	} else if (rename(tmp, path) != 0) {
		return fail(c, "rename", path);
	}
	return fsync_parent(c, path);
}

/* Creates the temporary file of path, making its directories.  A remove
 * may take an emptied directory away between the two steps
 * (remove_empty_parents): then both are done again. */
static int create_tmp(tr_conn *c, const char *path, char *tmp, size_t tmplen, int *fd)
{
	const char *slash = strrchr(path, '/');
	for (int attempt = 0;; attempt++) {
		int rc = make_parents(c, path);
		if (rc != TR_OK && !(rc == TR_ENOENT && attempt < 100))
			return rc;
		snprintf(tmp, tmplen, "%.*s/" TMP_PREFIX "%ld-XXXXXX", (int)(slash - path), path, (long)getpid());
		if (rc == TR_OK && (*fd = mkostemp(tmp, O_CLOEXEC)) >= 0)
			return TR_OK;
		if ((rc == TR_OK && errno != ENOENT) || attempt >= 100)
			return fail(c, "create temporary file in", path);
	}
}

static int fs_put(tr_conn *c, const char *key, const tr_put_args *args)
{
	char path[PATH_MAX], tmp[PATH_MAX + 64];
	int fd, rc = key_path(c, key, path, sizeof path);
	if (rc != TR_OK)
		return rc;
	if (args->flags & ~(TR_PUT_IF_ABSENT | TR_PUT_BATCH)) {
		set_msg(c, "fs: put %s: flags 0x%x not supported", path, args->flags & ~(TR_PUT_IF_ABSENT | TR_PUT_BATCH));
		return TR_ENOTSUP;
	}
	int batch = (args->flags & TR_PUT_BATCH) != 0;
	if (batch && (args->flags & TR_PUT_IF_ABSENT) && access(path, F_OK) == 0) {
		mark_dirty(c, path);  /* its writer may not have synced the name yet */
		set_msg(c, "fs: %s exists", path);
		return TR_EEXIST;
	}
	if ((rc = create_tmp(c, path, tmp, sizeof tmp, &fd)) != TR_OK)
		return rc;
	fchmod(fd, 0640);
	rc = write_body(c, fd, path, args);
	if (close(fd) != 0 && rc == TR_OK)
		rc = fail(c, "close", path);
	if (rc == TR_OK && batch)
		return add_pending(c, tmp, path, args->flags);  /* removes tmp when it fails */
	if (rc == TR_OK)
		rc = publish(c, tmp, path, args->flags);
	unlink(tmp);  /* no-op after rename; removes it after link or failure */
	return rc;
}

static int fs_get(tr_conn *c, const char *key, tr_write_fn write_fn, void *ctx)
{
	char path[PATH_MAX];
	int rc = key_path(c, key, path, sizeof path);
	if (rc != TR_OK)
		return rc;
	/* O_NONBLOCK: a FIFO planted under an object's name must not hang the
	 * command in open(); it is refused below like any non-regular file. */
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return errno == ENOENT ? (set_msg(c, "fs: %s not found", path), TR_ENOENT)
				       : fail(c, "open", path);
	struct stat st;
	if (fstat(fd, &st) != 0)
		rc = fail(c, "stat", path);
	else if (!S_ISREG(st.st_mode)) {
		set_msg(c, "fs: %s is not a regular file", path);
		rc = TR_EIO;
	}
	if (rc != TR_OK) {
		close(fd);
		return rc;
	}
	char *buf = malloc(IO_BUF);
	if (!buf) {
		close(fd);
		set_msg(c, "fs: out of memory");
		return TR_ENOMEM;
	}
	for (;;) {
		ssize_t n = read(fd, buf, IO_BUF);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = fail(c, "read", path);
			break;
		}
		if (n == 0)
			break;
		if (write_fn(ctx, buf, (size_t)n) != 0) {
			set_msg(c, "fs: consumer of %s stopped", path);
			rc = TR_ECALLBACK;
			break;
		}
	}
	free(buf);
	close(fd);
	return rc;
}

static void fill_info(tr_object_info *info, const char *key, const struct stat *st)
{
	snprintf(info->key, sizeof info->key, "%s", key);
	info->size = (int64_t)st->st_size;
	info->mtime = (int64_t)st->st_mtime;
	info->checksum[0] = '\0';
}

static int fs_head(tr_conn *c, const char *key, tr_object_info *info)
{
	char path[PATH_MAX];
	struct stat st;
	int rc = key_path(c, key, path, sizeof path);
	if (rc != TR_OK)
		return rc;
	if (stat(path, &st) != 0)
		return errno == ENOENT ? (set_msg(c, "fs: %s not found", path), TR_ENOENT)
				       : fail(c, "stat", path);
	if (!S_ISREG(st.st_mode)) {
		set_msg(c, "fs: %s is not a regular file", path);
		return TR_EIO;
	}
	fill_info(info, key, &st);
	return TR_OK;
}

/* Recursive, sorted walk.  rel is the key of dir ("" for root). */
struct walk {
	tr_conn *c;
	const char *prefix;
	tr_list_fn fn;
	void *ctx;
	int stop;
	tr_object_info info;
};

/* Byte order of the keys below: a directory sorts as its name plus '/'. */
static int cmp_names(const struct dirent **a, const struct dirent **b)
{
	const unsigned char *x = (const unsigned char *)(*a)->d_name;
	const unsigned char *y = (const unsigned char *)(*b)->d_name;
	while (*x && *x == *y)
		x++, y++;
	unsigned cx = *x ? *x : ((*a)->d_type == DT_DIR ? '/' : 0);
	unsigned cy = *y ? *y : ((*b)->d_type == DT_DIR ? '/' : 0);
	return (int)cx - (int)cy;
}

/* Does any key below rel/ possibly start with prefix? */
static int subtree_may_match(const char *rel, const char *prefix)
{
	size_t rl = strlen(rel), pl = strlen(prefix);
	return strncmp(rel, prefix, rl < pl ? rl : pl) == 0;
}

static int walk_dir(struct walk *w, const char *rel);

/* A temporary file a day old was left by a writer that was killed (no
 * put or batch lasts that long): listing removes it. */
static void remove_if_stale(tr_conn *c, const char *rel, const char *name)
{
	char path[PATH_MAX];
	struct stat st;
	snprintf(path, sizeof path, "%s%s%s/%s", c->root, *rel ? "/" : "", rel, name);
	if (lstat(path, &st) == 0 && S_ISREG(st.st_mode) && st.st_mtime < time(NULL) - STALE_TMP_AGE)
		unlink(path);
}

static int walk_entry(struct walk *w, const char *rel, const char *name)
{
	char key[TR_KEY_MAX + 2], path[PATH_MAX];
	struct stat st;

	if (strncmp(name, TMP_PREFIX, strlen(TMP_PREFIX)) == 0) {
		remove_if_stale(w->c, rel, name);
		return TR_OK;
	}
	if ((size_t)snprintf(key, sizeof key, "%s%s%s", rel, *rel ? "/" : "", name) > TR_KEY_MAX)
		return TR_OK;
	snprintf(path, sizeof path, "%s/%s", w->c->root, key);
	if (lstat(path, &st) != 0)
		return errno == ENOENT ? TR_OK : fail(w->c, "stat", path);
	if (S_ISDIR(st.st_mode)) {
		char sub[TR_KEY_MAX + 2];
		snprintf(sub, sizeof sub, "%s/", key);
		return subtree_may_match(sub, w->prefix) ? walk_dir(w, key) : TR_OK;
	}
	if (!S_ISREG(st.st_mode) || strncmp(key, w->prefix, strlen(w->prefix)) != 0)
		return TR_OK;
	fill_info(&w->info, key, &st);
	if (w->fn(w->ctx, &w->info) != 0)
		w->stop = 1;
	return TR_OK;
}

/* Entries are visited so that keys come out in byte order: a directory
 * "a" holds keys "a/..." which sort after a file "a" and before "a0"
 * because '/' (0x2f) sorts below '0'.  Sorting names with a trailing '/'
 * for directories gives exactly that order. */
static int walk_dir(struct walk *w, const char *rel)
{
	char path[PATH_MAX];
	struct dirent **names;
	snprintf(path, sizeof path, "%s%s%s", w->c->root, *rel ? "/" : "", rel);
	int n = scandir(path, &names, NULL, cmp_names);
	if (n < 0)
		return errno == ENOENT ? TR_OK : fail(w->c, "list", path);
	int rc = TR_OK;
	for (int i = 0; i < n; i++) {
		if (rc == TR_OK && !w->stop && strcmp(names[i]->d_name, ".") && strcmp(names[i]->d_name, ".."))
			rc = walk_entry(w, rel, names[i]->d_name);
		free(names[i]);
	}
	free(names);
	return rc;
}

static int fs_list(tr_conn *c, const char *prefix, tr_list_fn fn, void *ctx)
{
	struct walk w = { .c = c, .prefix = prefix ? prefix : "", .fn = fn, .ctx = ctx };
	return walk_dir(&w, "");
}

/* Removes the directories above path that the removal left empty, up to
 * (not including) the root.  rmdir(2) fails on a directory that is not
 * empty, so a concurrent put, whose temporary file is in the directory
 * before its name is, keeps it; a put that finds its directory gone
 * makes it again (create_tmp). */
static void remove_empty_parents(tr_conn *c, const char *path)
{
	char dir[PATH_MAX];
	size_t root = strlen(c->root);
	snprintf(dir, sizeof dir, "%s", path);
	for (char *slash = strrchr(dir, '/'); slash && (size_t)(slash - dir) > root; slash = strrchr(dir, '/')) {
		*slash = '\0';
		if (rmdir(dir) != 0)
			return;  /* not empty (or not ours to remove): stop here */
		char parent[PATH_MAX];
		snprintf(parent, sizeof parent, "%s", dir);
		*strrchr(parent, '/') = '\0';
		(void)fsync_dir(c, parent);  /* best effort: a directory that comes back is harmless */
	}
}

static int fs_remove(tr_conn *c, const char *key)
{
	char path[PATH_MAX];
	int rc = key_path(c, key, path, sizeof path);
	if (rc != TR_OK)
		return rc;
	if (unlink(path) != 0)
		return errno == ENOENT ? TR_OK : fail(c, "remove", path);
	rc = fsync_parent(c, path);
	if (rc == TR_ENOENT)
		return TR_OK;  /* a concurrent remove took the emptied directory away */
	if (rc == TR_OK)
		remove_empty_parents(c, path);
	return rc;
}

static const char *fs_errmsg(tr_conn *c) { return c ? c->msg : "fs: out of memory"; }

/* link(2) is atomic on every file system that has it (one without hard
 * links fails put-if-absent with TR_ENOTSUP). */
static unsigned fs_caps(tr_conn *c)
{
	(void)c;
	return TR_CAP_PUT_IF_ABSENT | TR_CAP_BATCH;
}
static void fs_close(tr_conn *c)
{
	if (!c)
		return;
	drop_pending(c);  /* never synced: these names never appear */
	free(c->pending);
	forget_dirty(c);
	free(c->dirty);
	free(c);
}

static const tr_driver fs_driver = {
	.abi_version = TR_DRIVER_ABI_VERSION,
	.struct_size = sizeof(tr_driver),
	.name = "fs",
	.version = "2",
	.open = fs_open,
	.close = fs_close,
	.errmsg = fs_errmsg,
	.caps = fs_caps,
	.describe = NULL,
	.put = fs_put,
	.get = fs_get,
	.head = fs_head,
	.list = fs_list,
	.remove = fs_remove,
	.sync = fs_sync,
};

__attribute__((visibility("default"))) const tr_driver *totalrecall_driver(void);
const tr_driver *totalrecall_driver(void) { return &fs_driver; }
