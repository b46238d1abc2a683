/* restore_tree.c - what a restore creates, and its undo (see restore_tree.h). */
#include "config.h"
#include "cmd/restore_tree.h"
#include "cmd/linkmap.h"
#include "base/log.h"
#include "repo/manifest.h"
#include "base/util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define DIR_FLAGS (O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)

int tr_rtree_owner(const char *root, uid_t *uid, gid_t *gid, char *err, size_t errlen)
{
	struct stat st;
	*uid = (uid_t)-1;
	*gid = (gid_t)-1;
	if (geteuid() != 0)
		return 0;
	if (stat(root, &st) != 0 || st.st_uid == 0) {
		snprintf(err, errlen, "running as root, restore would leave a cluster owned by root, which PostgreSQL "
			 "refuses to run: run it as the database's owner (runuser -u postgres -- totalrecall restore ...), "
			 "or create %s owned by that user first (restore then gives everything to it)", root);
		return -1;
	}
	*uid = st.st_uid;
	*gid = st.st_gid;
	return 0;
}

static void own_at(const tr_rtree *t, int dirfd, const char *name)
{
	if (t->uid != (uid_t)-1 && fchownat(dirfd, name, t->uid, t->gid, AT_SYMLINK_NOFOLLOW) != 0)
		tr_warn("restore: cannot give %s to uid %u: %s", name, (unsigned)t->uid, strerror(errno));
}

void tr_rtree_own_fd(const tr_rtree *t, int fd)
{
	if (t->uid != (uid_t)-1 && fchown(fd, t->uid, t->gid) != 0)
		tr_warn("restore: cannot give a restored file to uid %u: %s", (unsigned)t->uid, strerror(errno));
}

/* Whether the directory open at fd holds anything but `except`. */
static int dir_has_entries(int fd, const char *except)
{
	int dup_fd = dup(fd);
	DIR *d = dup_fd >= 0 ? fdopendir(dup_fd) : NULL;
	struct dirent *e;
	int found = 0;
	if (!d) {
		if (dup_fd >= 0)
			close(dup_fd);
		return -1;
	}
	while (!found && (e = readdir(d)))
		found = strcmp(e->d_name, ".") && strcmp(e->d_name, "..") && (!except || strcmp(e->d_name, except));
	closedir(d);
	return found;
}

/* The lock file of a restore that is writing into t->root, or of one
 * that was interrupted: said in one line. */
static void lock_message(const char *root, int held, char *err, size_t errlen)
{
	if (held)
		snprintf(err, errlen, "another restore is writing into %s (it holds %s/%s); nothing was changed", root,
			 root, TR_RESTORE_LOCK);
	else
		snprintf(err, errlen, "%s holds %s from a restore that was interrupted: what is there is incomplete; "
			 "empty the directory and restore again, or finish an interrupted restore --delta with restore "
			 "--delta (nothing was changed)", root, TR_RESTORE_LOCK);
}

int tr_rtree_check_lock(const char *root, char *err, size_t errlen)
{
	char path[PATH_MAX];
	snprintf(path, sizeof path, "%s/%s", root, TR_RESTORE_LOCK);
	int fd = open(path, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return 0;
	int held = flock(fd, LOCK_EX | LOCK_NB) != 0 && errno == EWOULDBLOCK;
	close(fd);
	lock_message(root, held, err, errlen);
	return -1;
}

static int take_lock(tr_rtree *t, char *err, size_t errlen)
{
	t->lockfd = openat(t->rootfd, TR_RESTORE_LOCK, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (t->lockfd < 0 && errno == EEXIST) {
		int fd = openat(t->rootfd, TR_RESTORE_LOCK, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
		int held = fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) != 0 && errno == EWOULDBLOCK;
		if (fd >= 0)
			close(fd);
		lock_message(t->root, held, err, errlen);
		return -1;
	}
	/* The file is ours (O_EXCL), but between its creation and our flock a
	 * second restore may be probing it with a flock of its own (above):
	 * wait for that probe instead of failing, so that of two restores
	 * started at once exactly one goes on. */
	int rc = -1;
	if (t->lockfd >= 0)
		while ((rc = flock(t->lockfd, LOCK_EX)) != 0 && errno == EINTR)
			;
	if (rc != 0) {
		snprintf(err, errlen, "cannot lock %s/%s: %s", t->root, TR_RESTORE_LOCK, strerror(errno));
		return -1;
	}
	own_at(t, t->rootfd, TR_RESTORE_LOCK);
	return 0;
}

static void rtree_init(tr_rtree *t, uid_t uid, gid_t gid)
{
	memset(t, 0, sizeof *t);
	t->rootfd = t->lockfd = -1;
	t->uid = uid;
	t->gid = gid;
}

int tr_rtree_open(tr_rtree *t, const char *root, uid_t uid, gid_t gid, char *err, size_t errlen)
{
	char real[PATH_MAX];
	rtree_init(t, uid, gid);
	if (access(root, F_OK) != 0 && errno == ENOENT) {
		/* Only the run whose mkdir made it created it (another restore
		 * may be making it at the same moment). */
		char parent[PATH_MAX];
		tr_dirname(root, parent, sizeof parent);
		int made = tr_mkdirs(parent, 0700) == 0 ? mkdir(root, 0700) : -1;
		if (made != 0 && errno != EEXIST) {
			snprintf(err, errlen, "cannot create %s: %s", root, strerror(errno));
			return -1;
		}
		t->root_created = made == 0;
	}
	if (!realpath(root, real) || !(t->root = strdup(real))) {
		snprintf(err, errlen, "cannot resolve %s: %s", root, strerror(errno));
		return -1;
	}
	t->rootfd = open(t->root, DIR_FLAGS);
	if (t->rootfd < 0) {
		snprintf(err, errlen, "cannot open %s: %s", t->root, strerror(errno));
		return -1;
	}
	if (take_lock(t, err, errlen) != 0)
		return -1;
	if (dir_has_entries(t->rootfd, TR_RESTORE_LOCK) != 0) {
		snprintf(err, errlen, "%s is not empty: restore only into an empty or new directory (nothing was changed)",
			 t->root);
		return -1;
	}
	/* PostgreSQL runs only on a directory closed to others. */
	struct stat st;
	if (t->root_created || (fstat(t->rootfd, &st) == 0 && (st.st_mode & 07027)))
		fchmod(t->rootfd, 0700);
	if (t->root_created)
		tr_rtree_own_fd(t, t->rootfd);
	return 0;
}

int tr_rtree_open_existing(tr_rtree *t, const char *root, uid_t uid, gid_t gid, char *err, size_t errlen)
{
	char real[PATH_MAX];
	rtree_init(t, uid, gid);
	if (!realpath(root, real) || !(t->root = strdup(real)) || (t->rootfd = open(real, DIR_FLAGS)) < 0) {
		snprintf(err, errlen, "cannot open %s: %s", root, strerror(errno));
		return -1;
	}
	int existed = faccessat(t->rootfd, TR_RESTORE_LOCK, F_OK, AT_SYMLINK_NOFOLLOW) == 0;
	t->lockfd = openat(t->rootfd, TR_RESTORE_LOCK, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (t->lockfd < 0 || flock(t->lockfd, LOCK_EX | LOCK_NB) != 0) {
		int held = t->lockfd >= 0 && errno == EWOULDBLOCK;
		if (held)
			lock_message(t->root, 1, err, errlen);
		else
			snprintf(err, errlen, "cannot lock %s/%s: %s", t->root, TR_RESTORE_LOCK, strerror(errno));
		if (t->lockfd >= 0)
			close(t->lockfd);
		t->lockfd = -1;  /* someone else's: never removed here */
		return -1;
	}
	/* An interrupted restore's lock file stays its mark until this run
	 * finishes. */
	t->keep_lock = existed;
	own_at(t, t->rootfd, TR_RESTORE_LOCK);
	return 0;
}

static int push(char ***v, int *n, const char *s)
{
	char **grown = realloc(*v, (size_t)(*n + 1) * sizeof *grown);
	if (!grown)
		return -1;
	*v = grown;
	if (!(grown[*n] = strdup(s)))
		return -1;
	(*n)++;
	return 0;
}

int tr_rtree_mkdir(tr_rtree *t, const char *rel, mode_t mode, char *err, size_t errlen)
{
	struct stat st;
	if (mkdirat(t->rootfd, rel, mode) != 0) {
		if (errno == EEXIST && fstatat(t->rootfd, rel, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode))
			return 0;
		snprintf(err, errlen, "cannot create %s/%s: %s", t->root, rel, strerror(errno));
		return -1;
	}
	own_at(t, t->rootfd, rel);
	if (push(&t->dirs, &t->ndirs, rel) != 0) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	return 0;
}

static tr_rlink *new_link(tr_rtree *t, const char *rel, const char *target, int is_file)
{
	tr_rlink *grown = realloc(t->links, (size_t)(t->nlinks + 1) * sizeof *grown);
	if (!grown)
		return NULL;
	t->links = grown;
	tr_rlink *l = &grown[t->nlinks];
	memset(l, 0, sizeof *l);
	l->fd = -1;
	l->is_file = is_file;
	l->rel = strdup(rel);
	l->target = strdup(target);
	if (!l->rel || !l->target) {
		free(l->rel);
		free(l->target);
		return NULL;
	}
	t->nlinks++;
	return l;
}

/* The link itself, once its target is ready. */
static int make_symlink(tr_rtree *t, const char *rel, const char *target, char *err, size_t errlen)
{
	if (symlinkat(target, t->rootfd, rel) != 0) {
		snprintf(err, errlen, "cannot create the link %s/%s: %s", t->root, rel, strerror(errno));
		return -1;
	}
	own_at(t, t->rootfd, rel);
	return 0;
}

int tr_rtree_link_dir(tr_rtree *t, const char *rel, const char *target, char *err, size_t errlen)
{
	char real[PATH_MAX];
	int created = 0;
	if (access(target, F_OK) != 0 && errno == ENOENT) {
		if (tr_mkdirs(target, 0700) != 0) {
			snprintf(err, errlen, "cannot create %s (for %s): %s", target, rel, strerror(errno));
			return -1;
		}
		created = 1;
	}
	tr_rlink *l = realpath(target, real) ? new_link(t, rel, target, 0) : NULL;
	if (!l) {
		snprintf(err, errlen, "cannot resolve %s (for %s): %s", target, rel, strerror(errno));
		if (created)
			rmdir(target);
		return -1;
	}
	l->created_target = created;
	l->fd = open(real, DIR_FLAGS);
	if (l->fd < 0) {
		snprintf(err, errlen, "%s (for %s) is not a directory restore can use: %s", target, rel, strerror(errno));
		return -1;
	}
	if (tr_paths_overlap(real, t->root)) {
		snprintf(err, errlen, "%s (for %s) overlaps the data directory %s", target, rel, t->root);
		return -1;
	}
	if (!created && dir_has_entries(l->fd, NULL) != 0) {
		snprintf(err, errlen, "%s (for %s) is not empty: restore writes only into empty or new directories "
			 "(see --link-map and --tablespace-map)", target, rel);
		return -1;
	}
	tr_rtree_own_fd(t, l->fd);
	return make_symlink(t, rel, target, err, errlen);
}

int tr_rtree_link_file(tr_rtree *t, const char *rel, const char *target, mode_t mode, char *err, size_t errlen)
{
	char dir[PATH_MAX], real[PATH_MAX];
	tr_dirname(target, dir, sizeof dir);
	tr_rlink *l = realpath(dir, real) ? new_link(t, rel, target, 1) : NULL;
	if (!l || (l->fd = open(real, DIR_FLAGS)) < 0) {
		snprintf(err, errlen, "cannot use the directory of %s (for %s): %s", target, rel, strerror(errno));
		return -1;
	}
	int fd = openat(l->fd, tr_basename(target), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode & 0777);
	if (fd < 0) {
		snprintf(err, errlen, "cannot create %s (for %s): %s", target, rel,
			 errno == EEXIST ? "it exists, and restore never overwrites" : strerror(errno));
		return -1;
	}
	l->created_target = 1;
	tr_rtree_own_fd(t, fd);
	close(fd);
	return make_symlink(t, rel, target, err, errlen);
}

int tr_rtree_adopt_link(tr_rtree *t, const char *rel, const char *target, int is_file, char *err, size_t errlen)
{
	char dir[PATH_MAX], real[PATH_MAX];
	tr_rlink *l = new_link(t, rel, target, is_file);
	if (is_file)
		tr_dirname(target, dir, sizeof dir);
	if (!l || !realpath(is_file ? dir : target, real) || (l->fd = open(real, DIR_FLAGS)) < 0) {
		snprintf(err, errlen, "cannot use %s (for %s): %s", target, rel, l ? strerror(errno) : "out of memory");
		return -1;
	}
	return 0;
}

const tr_rlink *tr_rtree_link_of(const tr_rtree *t, const char *rel)
{
	for (int i = 0; i < t->nlinks; i++)
		if (strcmp(t->links[i].rel, rel) == 0)
			return &t->links[i];
	return NULL;
}

int tr_rtree_note_file(tr_rtree *t, const char *name)
{
	struct stat st;
	if (fstatat(t->rootfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0)
		return 0;
	return push(&t->extras, &t->nextras, name);
}

/* --- undo --- */

/* The directory holding rel, opened without following any link but those
 * this run made (entered through their descriptors); *base is rel's last
 * component.  -1 if it cannot be reached that way. */
static int open_parent(const tr_rtree *t, const char *rel, const char **base)
{
	const tr_rlink *via = NULL;
	size_t best = 0;
	for (int i = 0; i < t->nlinks; i++) {
		size_t n = strlen(t->links[i].rel);
		if (!t->links[i].is_file && t->links[i].fd >= 0 && n > best && strncmp(rel, t->links[i].rel, n) == 0 &&
		    rel[n] == '/') {
			via = &t->links[i];
			best = n;
		}
	}
	const char *rest = via ? rel + best + 1 : rel;
	int fd = dup(via ? via->fd : t->rootfd);
	for (const char *slash; fd >= 0 && (slash = strchr(rest, '/'));) {
		char comp[NAME_MAX + 1];
		size_t n = (size_t)(slash - rest);
		int next = -1;
		if (n && n <= NAME_MAX) {
			memcpy(comp, rest, n);
			comp[n] = '\0';
			next = openat(fd, comp, DIR_FLAGS);
		}
		close(fd);
		fd = next;
		rest = slash + 1;
	}
	*base = rest;
	return fd;
}

static void remove_at(const tr_rtree *t, const char *rel, int flags)
{
	const char *base;
	int fd = open_parent(t, rel, &base);
	if (fd < 0 || (unlinkat(fd, base, flags) != 0 && errno != ENOENT))
		tr_warn("restore: left %s/%s in place: %s", t->root, rel,
			fd < 0 ? "a directory on its way is not the one restore made" : strerror(errno));
	if (fd >= 0)
		close(fd);
}

/* The files of the manifest's first t->entries entries. */
static void remove_manifest_files(const tr_rtree *t, FILE *mf)
{
	tr_manifest_hdr h;
	char err[256];
	tr_mf_rec *rec = malloc(sizeof *rec);
	if (!rec || fseek(mf, 0, SEEK_SET) != 0 || tr_manifest_read_hdr(mf, &h, err, sizeof err) != 0) {
		free(rec);
		return;
	}
	tr_manifest_hdr_free(&h);
	for (uint64_t i = 0; i < t->entries && tr_manifest_read_rec(mf, rec, err, sizeof err) == 1; i++) {
		if (rec->type != 'f' || !tr_rel_path_ok(rec->path))
			continue;
		const tr_rlink *l = tr_rtree_link_of(t, rec->path);
		if (l && l->is_file) {
			if (l->created_target && unlinkat(l->fd, tr_basename(l->target), 0) != 0 && errno != ENOENT)
				tr_warn("restore: left %s in place: %s", l->target, strerror(errno));
			continue;
		}
		remove_at(t, rec->path, 0);
	}
	free(rec);
}

void tr_rtree_undo(tr_rtree *t, FILE *mf)
{
	if (t->rootfd < 0)
		return;
	if (mf)
		remove_manifest_files(t, mf);
	for (int i = 0; i < t->nextras; i++)
		remove_at(t, t->extras[i], 0);
	for (int i = t->nlinks - 1; i >= 0; i--)
		remove_at(t, t->links[i].rel, 0);
	for (int i = t->ndirs - 1; i >= 0; i--)
		remove_at(t, t->dirs[i], AT_REMOVEDIR);
	for (int i = t->nlinks - 1; i >= 0; i--) {
		tr_rlink *l = &t->links[i];
		if (l->created_target && !l->is_file && rmdir(l->target) != 0 && errno != ENOENT)
			tr_warn("restore: left %s in place: %s", l->target, strerror(errno));
	}
	if (t->lockfd >= 0) {
		unlinkat(t->rootfd, TR_RESTORE_LOCK, 0);
		close(t->lockfd);
		t->lockfd = -1;
	}
	if (t->root_created && rmdir(t->root) != 0)
		tr_warn("restore: left %s in place: %s", t->root, strerror(errno));
	t->root_created = 0;
}

static void free_list(char **v, int n)
{
	for (int i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

void tr_rtree_close(tr_rtree *t)
{
	if (t->lockfd >= 0) {
		if (!t->keep_lock)
			unlinkat(t->rootfd, TR_RESTORE_LOCK, 0);
		close(t->lockfd);
	}
	if (t->rootfd >= 0)
		close(t->rootfd);
	for (int i = 0; i < t->nlinks; i++) {
		if (t->links[i].fd >= 0)
			close(t->links[i].fd);
		free(t->links[i].rel);
		free(t->links[i].target);
	}
	free(t->links);
	free_list(t->dirs, t->ndirs);
	free_list(t->extras, t->nextras);
	free(t->root);
	memset(t, 0, sizeof *t);
	t->rootfd = t->lockfd = -1;
}
