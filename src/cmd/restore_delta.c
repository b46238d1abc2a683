/* restore_delta.c - restore into an existing, stopped cluster (see restore_delta.h). */
#include "config.h"
#include "cmd/restore_delta.h"
#include "pg/datadir.h"
#include "base/log.h"
#include "base/util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define CONTROL "global/pg_control"
#define DIR_FLAGS (O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
#define MAX_DEPTH 128

/* One directory being compared: its local names, and which of them the
 * manifest named. */
struct level {
	char *rel;             /* "" for the data directory */
	int fd;
	char **names;
	unsigned char *seen;
	int n;
};

struct tr_delta {
	tr_rtree *t;
	struct level lv[MAX_DEPTH];
	int depth;
	uint64_t removed;
};

/* --- checks --- */

int tr_delta_read_sysid(const char *path, char out[32])
{
	uint64_t id;
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = tr_read_full(fd, &id, sizeof id);
	int e = errno;
	close(fd);
	if (n != (ssize_t)sizeof id) {
		errno = n < 0 ? e : EINVAL;
		return -1;
	}
	snprintf(out, 32, "%llu", (unsigned long long)id);
	return 0;
}

int tr_delta_postmaster_alive(const char *dir, long *pid)
{
	char path[PATH_MAX], *text;
	size_t len;
	snprintf(path, sizeof path, "%s/postmaster.pid", dir);
	if (tr_read_small_file(path, 64 * 1024, &text, &len) != 0)
		return errno == ENOENT ? 0 : -1;
	/* A standalone backend writes its pid negated. */
	long p = labs(strtol(text, NULL, 10));
	free(text);
	*pid = p;
	if (p <= 0 || p > INT_MAX)
		return 0;
	return kill((pid_t)p, 0) == 0 || errno == EPERM;
}

static int lock_held(const char *dir)
{
	char path[PATH_MAX];
	snprintf(path, sizeof path, "%s/%s", dir, TR_RESTORE_LOCK);
	int fd = open(path, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return 0;
	int held = flock(fd, LOCK_EX | LOCK_NB) != 0 && errno == EWOULDBLOCK;
	close(fd);
	return held;
}

int tr_delta_check_dir(const char *dir, char sysid[32], char *err, size_t errlen)
{
	char path[PATH_MAX], mark[PATH_MAX];
	struct stat st;
	long pid = 0;
	int alive = tr_delta_postmaster_alive(dir, &pid);
	if (alive != 0) {
		if (alive > 0)
			snprintf(err, errlen, "a server is running on %s (postmaster.pid names process %ld): stop it first; "
				 "restore --delta writes only into a stopped cluster (if no server runs there, the file is "
				 "stale: remove it; nothing was changed)", dir, pid);
		else
			snprintf(err, errlen, "cannot read %s/postmaster.pid: %s (nothing was changed)", dir, strerror(errno));
		return -1;
	}
	if (lock_held(dir)) {
		snprintf(err, errlen, "another restore is writing into %s (it holds %s/%s); nothing was changed", dir, dir,
			 TR_RESTORE_LOCK);
		return -1;
	}
	/* An interrupted delta restore left the mark: it says which cluster
	 * the directory held, whatever pg_control holds now. */
	snprintf(mark, sizeof mark, "%s/%s", dir, TR_DELTA_MARK);
	snprintf(path, sizeof path, "%s/%s", dir, CONTROL);
	const char *from = lstat(mark, &st) == 0 && S_ISREG(st.st_mode) ? mark : path;
	if (tr_delta_read_sysid(from, sysid) != 0) {
		snprintf(err, errlen, "restore --delta: cannot read the system identifier from %s: %s; --delta needs a "
			 "data directory of the same cluster (restore without it into an empty directory; nothing was "
			 "changed)", from, errno == EINVAL ? "too short" : strerror(errno));
		return -1;
	}
	return 0;
}

int tr_delta_link_is(const char *root, const char *rel, const char *link_to)
{
	char path[PATH_MAX], target[PATH_MAX], a[PATH_MAX], b[PATH_MAX];
	snprintf(path, sizeof path, "%s/%s", root, rel);
	ssize_t n = readlink(path, target, sizeof target - 1);
	if (n < 0)
		return 0;
	target[n] = '\0';
	if (strcmp(target, link_to) == 0)
		return 1;
	return realpath(path, a) && realpath(link_to, b) && strcmp(a, b) == 0;
}

int tr_delta_check_entry(const char *root, const char *rel, const char *link_to, char *err, size_t errlen)
{
	char path[PATH_MAX], target[PATH_MAX];
	struct stat st;
	snprintf(path, sizeof path, "%s/%s", root, rel);
	if (lstat(path, &st) != 0)
		return 0;  /* created by the restore */
	if (S_ISLNK(st.st_mode)) {
		if (link_to && tr_delta_link_is(root, rel, link_to))
			return 0;
		ssize_t n = readlink(path, target, sizeof target - 1);
		target[n > 0 ? n : 0] = '\0';
		snprintf(err, errlen, "restore --delta: %s is a link to %s, and restore --delta never writes through a "
			 "link it was not told about: keep it with %s %s=%s, or remove the link (nothing was changed)",
			 path, target, strncmp(rel, "pg_tblspc/", 10) == 0 ? "--tablespace-map" : "--link-map",
			 strncmp(rel, "pg_tblspc/", 10) == 0 ? rel + 10 : rel, target);
		return -1;
	}
	if (link_to) {
		snprintf(err, errlen, "restore --delta: %s is not a link, and the backup makes it a link to %s: remove it "
			 "or move it elsewhere first (nothing was changed)", path, link_to);
		return -1;
	}
	return 0;
}

/* --- removal, never through a link --- */

static int remove_entry(tr_delta *d, int dirfd, const char *name, int depth);

static int remove_contents(tr_delta *d, int fd, int depth)
{
	int dup_fd = dup(fd);
	DIR *dir = dup_fd >= 0 ? fdopendir(dup_fd) : NULL;
	struct dirent *e;
	int rc = 0;
	if (!dir) {
		if (dup_fd >= 0)
			close(dup_fd);
		return -1;
	}
	while (rc == 0 && (e = readdir(dir)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			rc = remove_entry(d, fd, e->d_name, depth + 1);
	closedir(dir);
	return rc;
}

static int remove_entry(tr_delta *d, int dirfd, const char *name, int depth)
{
	struct stat st;
	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0)
		return errno == ENOENT ? 0 : -1;
	if (S_ISDIR(st.st_mode)) {
		int fd = depth < MAX_DEPTH ? openat(dirfd, name, DIR_FLAGS) : -1;
		int rc = fd >= 0 ? remove_contents(d, fd, depth) : -1;
		if (fd >= 0)
			close(fd);
		if (rc != 0 || unlinkat(dirfd, name, AT_REMOVEDIR) != 0)
			return -1;
	} else if (unlinkat(dirfd, name, 0) != 0) {
		return errno == ENOENT ? 0 : -1;
	}
	d->removed++;
	return 0;
}

/* What stays in a directory although the backup does not hold it: the
 * lock, the spool, the mark, and anything beside this cluster's version
 * directory in a tablespace's location, which other clusters (another
 * major version after pg_upgrade) may share. */
static int kept(const char *rel, const char *name)
{
	if (!*rel)
		return strcmp(name, TR_RESTORE_LOCK) == 0 || strcmp(name, TR_SPOOL_DIRNAME) == 0;
	if (strncmp(rel, "pg_tblspc/", 10) == 0 && !strchr(rel + 10, '/'))
		return 1;
	return strcmp(rel, "global") == 0 && strcmp(name, tr_basename(TR_DELTA_MARK)) == 0;
}

/* --- the directories being compared --- */

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int list_level(struct level *l)
{
	int dup_fd = dup(l->fd);
	DIR *dir = dup_fd >= 0 ? fdopendir(dup_fd) : NULL;
	struct dirent *e;
	int cap = 0;
	if (!dir) {
		if (dup_fd >= 0)
			close(dup_fd);
		return -1;
	}
	while ((e = readdir(dir))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (l->n == cap) {
			cap = cap ? 2 * cap : 64;
			char **grown = realloc(l->names, (size_t)cap * sizeof *grown);
			if (!grown)
				break;
			l->names = grown;
		}
		if (!(l->names[l->n] = strdup(e->d_name)))
			break;
		l->n++;
	}
	int failed = e != NULL;
	closedir(dir);
	if (failed || !(l->seen = calloc((size_t)l->n + 1, 1)))
		return -1;
	if (l->n)
		qsort(l->names, (size_t)l->n, sizeof *l->names, cmp_names);
	return 0;
}

static void free_level(struct level *l)
{
	for (int i = 0; i < l->n; i++)
		free(l->names[i]);
	free(l->names);
	free(l->seen);
	free(l->rel);
	if (l->fd >= 0)
		close(l->fd);
	memset(l, 0, sizeof *l);
	l->fd = -1;
}

int tr_delta_push(tr_delta *d, const char *rel, char *err, size_t errlen)
{
	if (d->depth == MAX_DEPTH) {
		snprintf(err, errlen, "%s/%s: nested too deep", d->t->root, rel);
		return -1;
	}
	struct level *l = &d->lv[d->depth];
	memset(l, 0, sizeof *l);
	/* A link this run made or kept is entered; no other is followed. */
	int flags = tr_rtree_link_of(d->t, rel) ? DIR_FLAGS & ~O_NOFOLLOW : DIR_FLAGS;
	l->fd = *rel ? openat(d->t->rootfd, rel, flags) : dup(d->t->rootfd);
	l->rel = strdup(rel);
	if (l->fd < 0 || !l->rel || list_level(l) != 0) {
		snprintf(err, errlen, "cannot list %s/%s: %s", d->t->root, rel, strerror(errno));
		free_level(l);
		return -1;
	}
	d->depth++;
	return 0;
}

/* Removes what the top directory holds that the manifest did not name. */
static int leave(tr_delta *d, char *err, size_t errlen)
{
	struct level *l = &d->lv[--d->depth];
	int rc = 0;
	for (int i = 0; i < l->n && rc == 0; i++) {
		if (l->seen[i] || kept(l->rel, l->names[i]))
			continue;
		tr_debug("restore: removing %s%s%s, which the backup does not hold", l->rel, *l->rel ? "/" : "",
			 l->names[i]);
		if (remove_entry(d, l->fd, l->names[i], d->depth) != 0) {
			snprintf(err, errlen, "cannot remove %s/%s%s%s: %s", d->t->root, l->rel, *l->rel ? "/" : "",
				 l->names[i], strerror(errno));
			rc = -1;
		}
	}
	free_level(l);
	return rc;
}

int tr_delta_leave_all(tr_delta *d, char *err, size_t errlen)
{
	int rc = 0;
	while (d->depth > 0)
		if (leave(d, err, errlen) != 0 && rc == 0)
			rc = -1;
	return rc;
}

static int is_inside(const char *dir, const char *rel)
{
	size_t n = strlen(dir);
	return n == 0 || (strncmp(rel, dir, n) == 0 && rel[n] == '/');
}

/* Whether the local entry at fd/name is what the manifest wants there. */
static int fits(const tr_delta *d, int fd, const char *name, const char *rel, char want, const char *link_to)
{
	struct stat st;
	if (fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW) != 0)
		return 1;
	if (want == 'l')
		return S_ISLNK(st.st_mode) && tr_delta_link_is(d->t->root, rel, link_to);
	return want == 'd' ? S_ISDIR(st.st_mode) : S_ISREG(st.st_mode);
}

int tr_delta_enter(tr_delta *d, const char *rel, char want, const char *link_to, char *err, size_t errlen)
{
	int rc = 0;
	while (d->depth > 1 && !is_inside(d->lv[d->depth - 1].rel, rel))
		if (leave(d, err, errlen) != 0)
			rc = -1;
	if (rc != 0 || d->depth == 0)
		return rc;
	struct level *l = &d->lv[d->depth - 1];
	const char *name = rel + (*l->rel ? strlen(l->rel) + 1 : 0);
	if (strchr(name, '/'))
		return 0;  /* its directory is not in the manifest: nothing local to compare with */
	char **hit = l->n ? bsearch(&name, l->names, (size_t)l->n, sizeof *l->names, cmp_names) : NULL;
	if (!hit)
		return 0;
	l->seen[hit - l->names] = 1;
	if (fits(d, l->fd, name, rel, want, link_to))
		return 0;
	tr_debug("restore: replacing %s/%s, of another type in the backup", d->t->root, rel);
	if (remove_entry(d, l->fd, name, d->depth) != 0) {
		snprintf(err, errlen, "cannot remove %s/%s: %s", d->t->root, rel, strerror(errno));
		return -1;
	}
	return 0;
}

/* --- files --- */

static int create_file(tr_rtree *t, const char *path, int64_t size, unsigned mode)
{
	int fd = openat(t->rootfd, path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode & 0777);
	if (fd < 0)
		return -1;
	tr_rtree_own_fd(t, fd);
	int rc = ftruncate(fd, size);
	close(fd);
	return rc;
}

/* A file that is kept: its mode, owner and size become the backup's. */
static int adjust_file(tr_rtree *t, int fd, const char *path, int64_t size, unsigned mode)
{
	struct stat st;
	if (fstat(fd, &st) != 0)
		return -1;
	if (!S_ISREG(st.st_mode)) {
		errno = EEXIST;
		return -1;
	}
	if ((st.st_mode & 07777) != (mode & 0777) && fchmod(fd, mode & 0777) != 0)
		return -1;
	if (t->uid != (uid_t)-1 && (st.st_uid != t->uid || st.st_gid != t->gid))
		tr_rtree_own_fd(t, fd);
	if (st.st_size == size)
		return 0;
	int wfd = openat(t->rootfd, path, O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
	int rc = wfd >= 0 && ftruncate(wfd, size) == 0 ? 0 : -1;
	if (wfd >= 0)
		close(wfd);
	return rc;
}

int tr_delta_prepare_file(tr_rtree *t, const char *path, int64_t size, unsigned mode, char *err, size_t errlen)
{
	int fd = openat(t->rootfd, path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC), rc;
	if (fd < 0)
		rc = errno == ENOENT ? create_file(t, path, size, mode) : -1;
	else
		rc = adjust_file(t, fd, path, size, mode);
	int e = errno;
	if (fd >= 0)
		close(fd);
	if (rc != 0)
		snprintf(err, errlen, "cannot restore %s%s%s: %s", *path == '/' ? "" : t->root, *path == '/' ? "" : "/",
			 path, strerror(e));
	return rc;
}

/* --- begin and end --- */

static int fsync_global(tr_rtree *t)
{
	int fd = openat(t->rootfd, "global", DIR_FLAGS);
	int rc = fd >= 0 && fsync(fd) == 0 ? 0 : -1;
	if (fd >= 0)
		close(fd);
	return rc;
}

/* Step 1: from here on PostgreSQL cannot start the directory. */
static int hide_control(tr_rtree *t, char *err, size_t errlen)
{
	struct stat st;
	int marked = fstatat(t->rootfd, TR_DELTA_MARK, &st, AT_SYMLINK_NOFOLLOW) == 0;
	int rc = marked ? unlinkat(t->rootfd, CONTROL, 0) : renameat(t->rootfd, CONTROL, t->rootfd, TR_DELTA_MARK);
	if ((rc != 0 && !(marked && errno == ENOENT)) || fsync_global(t) != 0) {
		snprintf(err, errlen, "cannot set %s/%s aside: %s", t->root, CONTROL, strerror(errno));
		return -1;
	}
	return 0;
}

tr_delta *tr_delta_begin(tr_rtree *t, char *err, size_t errlen)
{
	tr_delta *d = calloc(1, sizeof *d);
	if (!d) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	d->t = t;
	for (int i = 0; i < MAX_DEPTH; i++)
		d->lv[i].fd = -1;
	/* Once more under the lock: a server started since the first check. */
	long pid;
	if (tr_delta_postmaster_alive(t->root, &pid) != 0) {
		snprintf(err, errlen, "a server started on %s meanwhile (postmaster.pid names process %ld): nothing was "
			 "changed", t->root, pid);
		free(d);
		return NULL;
	}
	if (hide_control(t, err, errlen) != 0) {
		free(d);
		return NULL;
	}
	t->keep_lock = 1;  /* the directory is changed: unfinished until the end */
	if (tr_delta_push(d, "", err, errlen) != 0) {
		free(d);
		return NULL;
	}
	return d;
}

int tr_delta_finish(tr_delta *d, char *err, size_t errlen)
{
	tr_rtree *t = d->t;
	if ((unlinkat(t->rootfd, TR_DELTA_MARK, 0) != 0 && errno != ENOENT) || fsync_global(t) != 0) {
		snprintf(err, errlen, "cannot remove %s/%s: %s", t->root, TR_DELTA_MARK, strerror(errno));
		return -1;
	}
	t->keep_lock = 0;
	return 0;
}

uint64_t tr_delta_removed(const tr_delta *d) { return d->removed; }

void tr_delta_free(tr_delta *d)
{
	if (!d)
		return;
	while (d->depth > 0)
		free_level(&d->lv[--d->depth]);
	free(d);
}
