/* statedir.c - open the state directory and what is below it only when
 * it is ours (see statedir.h). */
#include "config.h"
#include "base/statedir.h"
#include "base/util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define DIR_FLAGS (O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)

int tr_private_dir_check(int fd, const char *what, int private_, char *err, size_t errlen)
{
	struct stat st;
	if (fstat(fd, &st) != 0) {
		snprintf(err, errlen, "%s: %s", what, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "%s is not a directory", what);
		return -1;
	}
	if (st.st_uid != geteuid()) {
		snprintf(err, errlen, "%s is owned by uid %u, not by this user (uid %u): refusing to use it "
			 "(remove it, or set TOTALRECALL_STATE_DIR to a directory of this user)",
			 what, (unsigned)st.st_uid, (unsigned)geteuid());
		return -1;
	}
	mode_t forbidden = private_ ? 077 : 022;
	if (st.st_mode & forbidden) {
		snprintf(err, errlen, "%s has mode %04o: others may %s it; refusing to use it (chmod %s it)", what,
			 (unsigned)(st.st_mode & 07777), private_ ? "read or write" : "write", private_ ? "0700" : "go-w");
		return -1;
	}
	return 0;
}

/* Why an open without following links failed, in words: what lstat
 * shows says more than errno (a directory of another user that we cannot
 * even open is EACCES). */
static void open_error(int dirfd, const char *name, const char *what, int e, char *err, size_t errlen)
{
	struct stat st;
	int known = fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0;
	if (e == ELOOP || (known && S_ISLNK(st.st_mode)))
		snprintf(err, errlen, "%s is a symbolic link: refusing to follow it", what);
	else if (known && st.st_uid != geteuid())
		snprintf(err, errlen, "%s is owned by uid %u, not by this user (uid %u): refusing to use it "
			 "(remove it, or set TOTALRECALL_STATE_DIR to a directory of this user)",
			 what, (unsigned)st.st_uid, (unsigned)geteuid());
	else if (e == ENOTDIR)
		snprintf(err, errlen, "%s is not a directory", what);
	else
		snprintf(err, errlen, "cannot open %s: %s", what, strerror(e));
}

/* Opens (creating 0700 if missing) name below dirfd, or the absolute or
 * relative path name when dirfd is AT_FDCWD. */
static int open_or_make(int dirfd, const char *name, const char *what, int private_, char *err, size_t errlen)
{
	int fd = openat(dirfd, name, DIR_FLAGS);
	if (fd < 0 && errno == ENOENT) {
		if (mkdirat(dirfd, name, 0700) != 0 && errno != EEXIST) {
			snprintf(err, errlen, "cannot create %s: %s", what, strerror(errno));
			return -1;
		}
		fd = openat(dirfd, name, DIR_FLAGS);
	}
	if (fd < 0) {
		open_error(dirfd, name, what, errno, err, errlen);
		return -1;
	}
	if (tr_private_dir_check(fd, what, private_, err, errlen) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* The parents of the state directory ($HOME/.cache, say) are created if
 * missing but not judged: they are the user's. */
static int make_parents(const char *root, char *err, size_t errlen)
{
	char parent[4096];
	tr_dirname(root, parent, sizeof parent);
	if (tr_mkdirs(parent, 0700) != 0) {
		snprintf(err, errlen, "cannot create %s: %s", parent, strerror(errno));
		return -1;
	}
	return 0;
}

int tr_private_dir(const char *root, const char *sub, char *err, size_t errlen)
{
	char path[4096], comp[256];
	if (!root || !*root) {
		snprintf(err, errlen, "no state directory (set TOTALRECALL_STATE_DIR)");
		return -1;
	}
	if (access(root, F_OK) != 0 && make_parents(root, err, errlen) != 0)
		return -1;
	int fd = open_or_make(AT_FDCWD, root, root, 0, err, errlen);
	snprintf(path, sizeof path, "%s", root);
	for (const char *p = sub; fd >= 0 && p && *p;) {
		const char *slash = strchr(p, '/');
		size_t n = slash ? (size_t)(slash - p) : strlen(p);
		if (n == 0 || n >= sizeof comp) {
			p += n + (slash ? 1 : 0);
			continue;
		}
		memcpy(comp, p, n);
		comp[n] = '\0';
		size_t used = strlen(path);
		snprintf(path + used, sizeof path - used, "/%s", comp);
		int next = open_or_make(fd, comp, path, 1, err, errlen);
		close(fd);
		fd = next;
		p += n + (slash ? 1 : 0);
	}
	return fd;
}
