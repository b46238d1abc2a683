/* fsync_tree.c - make a restored directory tree durable (see fsync_tree.h). */
#include "config.h"
#include "cmd/fsync_tree.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum pass { START_WRITEBACK, FSYNC };

struct walk {
	enum pass pass;
	char *err;
	size_t errlen;
};

static int flush_one(struct walk *w, const char *path, int is_dir)
{
	int fd = open(path, (is_dir ? O_RDONLY | O_DIRECTORY : O_RDONLY) | O_CLOEXEC);
	if (fd < 0) {
		snprintf(w->err, w->errlen, "cannot open %s to flush it: %s", path, strerror(errno));
		return -1;
	}
	int rc = 0;
	if (w->pass == START_WRITEBACK) {
#ifdef SYNC_FILE_RANGE_WRITE
		(void)sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE);  /* a hint: errors show in the fsync pass */
#endif
	} else if (fsync(fd) != 0) {
		snprintf(w->err, w->errlen, "cannot flush %s to disk: %s", path, strerror(errno));
		rc = -1;
	}
	close(fd);
	return rc;
}

/* Files first, then the directory itself, so its entries are durable last. */
static int walk_dir(struct walk *w, const char *dir, int follow_links)
{
	DIR *d = opendir(dir);
	if (!d) {
		snprintf(w->err, w->errlen, "cannot read %s: %s", dir, strerror(errno));
		return -1;
	}
	int rc = 0;
	struct dirent *e;
	while (rc == 0 && (e = readdir(d))) {
		char path[PATH_MAX];
		struct stat st;
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, e->d_name) >= sizeof path)
			continue;
		if ((follow_links ? stat(path, &st) : lstat(path, &st)) != 0)
			continue;  /* gone meanwhile: nothing to flush */
		if (S_ISDIR(st.st_mode))
			rc = walk_dir(w, path, strcmp(e->d_name, "pg_tblspc") == 0);
		else if (S_ISREG(st.st_mode) && w->pass == FSYNC)
			rc = flush_one(w, path, 0);
		else if (S_ISREG(st.st_mode))
			(void)flush_one(w, path, 0);
	}
	closedir(d);
	if (rc == 0 && w->pass == FSYNC)
		rc = flush_one(w, dir, 1);
	return rc;
}

int tr_fsync_tree(const char *root, char *err, size_t errlen)
{
	struct walk w = { START_WRITEBACK, err, errlen };
	if (walk_dir(&w, root, 0) != 0)
		return -1;
	w.pass = FSYNC;
	return walk_dir(&w, root, 0);
}
