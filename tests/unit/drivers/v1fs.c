/*
 * v1fs.c - tests only: a storage driver built against version 1 of the
 * driver ABI (driver_v1.h, the header as it was), the oldest form of it:
 * a table that ends at close() (no sync, conn_caps or describe), an
 * environment without size or version, TR_EIO for every failure but
 * absence and existing keys.  The core must load it through its adapter
 * (src/repo/driver_v1.c) and the conformance suite must pass through it.
 *
 * Storage: "bucket" is a directory; a key is the file of the same path.
 * A body goes to ".v1-tmp-*" in the bucket and is renamed (or linked, for
 * put-if-absent) to its name.  list() collects the matching keys and
 * sorts them before the first callback.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "driver_v1.h"

#define TMP ".v1-tmp-"

struct tr_conn {
	char root[PATH_MAX];
	char msg[PATH_MAX + 128];
};

static int failed(tr_conn *c, const char *op, const char *path)
{
	int e = errno;
	snprintf(c->msg, sizeof c->msg, "v1fs: %s %s: %s", op, path, strerror(e));
	return e == ENOENT ? TR_ENOTFOUND : TR_EIO;
}

static int path_of(tr_conn *c, const char *key, char *out, size_t len)
{
	size_t n = strlen(key);
	int ok = n > 0 && n <= TR_KEY_MAX && key[0] != '/' && key[n - 1] != '/' && !strstr(key, "//") &&
		 strncmp(key, TMP, strlen(TMP)) != 0;
	for (const char *seg = key; ok && seg; seg = strchr(seg, '/') ? strchr(seg, '/') + 1 : NULL)
		ok = strncmp(seg, "./", 2) != 0 && strcmp(seg, ".") != 0 && strncmp(seg, "../", 3) != 0 &&
		     strcmp(seg, "..") != 0;
	if (!ok) {
		snprintf(c->msg, sizeof c->msg, "v1fs: invalid key \"%.100s\"", key);
		return TR_EINVAL;
	}
	snprintf(out, len, "%s/%s", c->root, key);
	return TR_OK;
}

static int v1_open(const tr_driver_env *env, tr_conn **out)
{
	struct stat st;
	tr_conn *c = calloc(1, sizeof *c);
	*out = c;
	if (!c)
		return TR_ENOMEM;
	const char *root = env->setting(env->ctx, "bucket");
	if (!root || root[0] != '/' || stat(root, &st) != 0 || !S_ISDIR(st.st_mode)) {
		snprintf(c->msg, sizeof c->msg, "v1fs: bucket must be an existing directory");
		return TR_EINVAL;
	}
	snprintf(c->root, sizeof c->root, "%s", root);
	return TR_OK;
}

static int make_parents(tr_conn *c, const char *path)
{
	char buf[PATH_MAX];
	snprintf(buf, sizeof buf, "%s", path);
	for (char *p = buf + strlen(c->root) + 1; (p = strchr(p, '/')); p++) {
		*p = '\0';
		if (mkdir(buf, 0750) != 0 && errno != EEXIST)
			return failed(c, "mkdir", buf);
		*p = '/';
	}
	return TR_OK;
}

static int copy_body(tr_conn *c, int fd, const tr_put_args *a)
{
	char buf[65536];
	for (;;) {
		ssize_t n = a->read(a->read_ctx, buf, sizeof buf);
		if (n < 0) {
			snprintf(c->msg, sizeof c->msg, "v1fs: the read callback failed");
			return TR_ECALLBACK;
		}
		if (n == 0)
			return fsync(fd) == 0 ? TR_OK : failed(c, "fsync", "body");
		if (write(fd, buf, (size_t)n) != n)
			return failed(c, "write", "body");
	}
}

static int v1_put(tr_conn *c, const char *key, const tr_put_args *a)
{
	char path[PATH_MAX], tmp[PATH_MAX];
	int rc = path_of(c, key, path, sizeof path);
	if (rc == TR_OK)
		rc = make_parents(c, path);
	if (rc != TR_OK)
		return rc;
	snprintf(tmp, sizeof tmp, "%s/" TMP "XXXXXX", c->root);
	int fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		return failed(c, "create", tmp);
	rc = copy_body(c, fd, a);
	close(fd);
	if (rc == TR_OK && (a->flags & TR_PUT_IF_ABSENT) && link(tmp, path) != 0)
		rc = errno == EEXIST ? (snprintf(c->msg, sizeof c->msg, "v1fs: %s exists", key), TR_EEXIST)
				     : failed(c, "link", path);
	else if (rc == TR_OK && !(a->flags & TR_PUT_IF_ABSENT) && rename(tmp, path) != 0)
		rc = failed(c, "rename", path);
	unlink(tmp);
	return rc;
}

static int v1_get(tr_conn *c, const char *key, tr_write_fn write_fn, void *ctx)
{
	char path[PATH_MAX], buf[65536];
	int rc = path_of(c, key, path, sizeof path);
	if (rc != TR_OK)
		return rc;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return failed(c, "open", path);
	ssize_t n;
	while (rc == TR_OK && (n = read(fd, buf, sizeof buf)) != 0) {
		if (n < 0)
			rc = failed(c, "read", path);
		else if (write_fn(ctx, buf, (size_t)n) != 0)
			rc = (snprintf(c->msg, sizeof c->msg, "v1fs: the write callback failed"), TR_ECALLBACK);
	}
	close(fd);
	return rc;
}

static int v1_head(tr_conn *c, const char *key, tr_object_info *info)
{
	char path[PATH_MAX];
	struct stat st;
	int rc = path_of(c, key, path, sizeof path);
	if (rc != TR_OK)
		return rc;
	if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
		return failed(c, "stat", path);
	snprintf(info->key, sizeof info->key, "%s", key);
	info->size = st.st_size;
	info->mtime = st.st_mtime;
	info->checksum[0] = '\0';
	return TR_OK;
}

struct keys {
	char **v;
	size_t n, cap;
	int oom;
};

static void collect(tr_conn *c, const char *rel, const char *prefix, struct keys *k)
{
	char dir[PATH_MAX], sub[TR_KEY_MAX + 300], path[PATH_MAX + 300];
	struct stat st;
	snprintf(dir, sizeof dir, "%s%s%s", c->root, *rel ? "/" : "", rel);
	DIR *d = opendir(dir);
	struct dirent *e;
	while (d && (e = readdir(d)) && !k->oom) {
		if (e->d_name[0] == '.' && (!e->d_name[1] || !strcmp(e->d_name, "..") || !strncmp(e->d_name, TMP, strlen(TMP))))
			continue;
		snprintf(sub, sizeof sub, "%s%s%s", rel, *rel ? "/" : "", e->d_name);
		snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
		if (lstat(path, &st) != 0)
			continue;
		if (S_ISDIR(st.st_mode)) {
			collect(c, sub, prefix, k);
		} else if (strncmp(sub, prefix, strlen(prefix)) == 0) {
			if (k->n == k->cap) {
				char **v = realloc(k->v, (k->cap = k->cap ? 2 * k->cap : 64) * sizeof *v);
				k->oom = !v;
				k->v = v ? v : k->v;
			}
			if (!k->oom && !(k->v[k->n++] = strdup(sub)))
				k->oom = 1;
		}
	}
	if (d)
		closedir(d);
}

static int by_bytes(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int v1_list(tr_conn *c, const char *prefix, tr_list_fn fn, void *ctx)
{
	struct keys k = { NULL, 0, 0, 0 };
	tr_object_info info;
	collect(c, "", prefix ? prefix : "", &k);
	if (k.n > 0)  /* qsort(NULL, 0, ...) is undefined behaviour */
		qsort(k.v, k.n, sizeof *k.v, by_bytes);
	int stop = k.oom;
	for (size_t i = 0; i < k.n; i++) {
		if (!stop && v1_head(c, k.v[i], &info) == TR_OK)
			stop = fn(ctx, &info) != 0;
		free(k.v[i]);
	}
	free(k.v);
	if (k.oom)
		snprintf(c->msg, sizeof c->msg, "v1fs: out of memory");
	return k.oom ? TR_ENOMEM : TR_OK;
}

static int v1_remove(tr_conn *c, const char *key)
{
	char path[PATH_MAX];
	int rc = path_of(c, key, path, sizeof path);
	if (rc != TR_OK)
		return rc;
	return unlink(path) == 0 || errno == ENOENT ? TR_OK : failed(c, "remove", path);
}

static const char *v1_errmsg(tr_conn *c) { return c ? c->msg : "v1fs: out of memory"; }
static void v1_close(tr_conn *c) { free(c); }

static const tr_driver drv = {
	.abi_version = TR_DRIVER_ABI_VERSION,  /* 1: driver_v1.h */
	.struct_size = TR_DRIVER_SIZE_V1,      /* the first table: nothing appended */
	.name = "v1fs",
	.version = "test",
	.caps = TR_CAP_PUT_IF_ABSENT,
	.open = v1_open,
	.put = v1_put,
	.get = v1_get,
	.head = v1_head,
	.list = v1_list,
	.remove = v1_remove,
	.errmsg = v1_errmsg,
	.close = v1_close,
};

const tr_driver *totalrecall_driver(void);
const tr_driver *totalrecall_driver(void) { return &drv; }
