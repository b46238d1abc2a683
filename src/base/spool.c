/* spool.c - appends metrics records to the local spool (format: spool.h). */
#include "config.h"
#include "base/spool.h"
#include "base/util.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int64_t tr_now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int is_set(const char *s)
{
	return s && *s;
}

/* archive_command runs with the data directory as its working directory;
 * these two files tell a data directory from any other directory. */
static int is_datadir(const char *dir)
{
	char a[PATH_MAX], b[PATH_MAX];
	snprintf(a, sizeof a, "%s/PG_VERSION", dir);
	snprintf(b, sizeof b, "%s/global/pg_control", dir);
	return access(a, F_OK) == 0 && access(b, F_OK) == 0;
}

static int cwd_is_datadir(void) { return is_datadir("."); }

/* The data directory pgdata names.  A relative one is relative to where
 * the server was started (pg_ctl -D data puts PGDATA=data into the
 * server's environment), not to the data directory archive_command runs
 * in: when it names no data directory from here and here is one, here is
 * what it meant.  The result is absolute, so a later chdir() does not move
 * the spool. */
static int real_datadir(const char *pgdata, char *out, size_t len)
{
	char cwd[PATH_MAX];
	if (pgdata[0] == '/')
		return snprintf(out, len, "%s", pgdata);
	if (!getcwd(cwd, sizeof cwd))
		return snprintf(out, len, "%s", pgdata);
	if (!is_datadir(pgdata) && cwd_is_datadir())
		return snprintf(out, len, "%s", cwd);
	return snprintf(out, len, "%s/%s", cwd, pgdata);
}

const char *tr_spool_dir(const char *spool_setting, const char *pgdata, char *buf, size_t len)
{
	char cwd[PATH_MAX];
	int n;

	if (is_set(spool_setting))
		n = snprintf(buf, len, "%s", spool_setting);
	else if (is_set(pgdata)) {
		char dir[PATH_MAX];
		n = real_datadir(pgdata, dir, sizeof dir);
		if (n >= 0 && (size_t)n < sizeof dir)
			n = snprintf(buf, len, "%s/%s", dir, TR_SPOOL_DIRNAME);
		else
			n = -1;
	}
	else if (cwd_is_datadir())
		/* Absolute, so that a later chdir() does not move the spool. */
		n = getcwd(cwd, sizeof cwd) ? snprintf(buf, len, "%s/%s", cwd, TR_SPOOL_DIRNAME)
		                            : snprintf(buf, len, "./%s", TR_SPOOL_DIRNAME);
	else
		return NULL;
	return n >= 0 && (size_t)n < len ? buf : NULL;
}

int tr_spool_format(const tr_metric *m, char *out, size_t outlen)
{
	uint8_t raw[16];
	char id[33], op[64], subject[2 * sizeof m->subject], status[64], error[2 * sizeof m->error];

	if (tr_random(raw, sizeof raw) != 0)
		return -1;
	tr_hex(raw, sizeof raw, id);
	if (tr_spool_escape(m->operation, op, sizeof op) != 0 ||
	    tr_spool_escape(m->subject, subject, sizeof subject) != 0 ||
	    tr_spool_escape(m->status, status, sizeof status) != 0 ||
	    tr_spool_escape(m->error, error, sizeof error) != 0) {
		errno = ENAMETOOLONG;
		return -1;
	}
	int n = snprintf(out, outlen, "%d\t%s\t%s\t%s\t%" PRId64 "\t%" PRId64 "\t%" PRIu64 "\t%" PRIu64 "\t%s\t%s\n",
	                 TR_SPOOL_VERSION, id, op, subject, m->start_us, m->finish_us,
	                 m->bytes_read, m->bytes_stored, status, error);
	if (n < 0 || (size_t)n >= outlen) {
		errno = ENOBUFS;
		return -1;
	}
	return n;
}

/* A writer that died in the middle of its write() leaves a fragment with no
 * newline.  Appending right after it would glue the next record to the
 * fragment and make both unreadable, so the record then starts on a new
 * line.  Called with the lock held. */
static int needs_leading_newline(int fd)
{
	struct stat st;
	char last;

	if (fstat(fd, &st) != 0 || st.st_size == 0)
		return 0;
	return pread(fd, &last, 1, st.st_size - 1) == 1 && last != '\n';
}

/* One write() of the whole line: with O_APPEND and the lock it lands
 * contiguously; a short write is reported rather than continued, since
 * the reader skips the incomplete line anyway. */
static int append_locked(int fd, const char *line, size_t len)
{
	char buf[TR_SPOOL_MAX_LINE + 1];
	size_t off = needs_leading_newline(fd) ? 1 : 0;
	ssize_t w;

	buf[0] = '\n';
	memcpy(buf + off, line, len);
	do
		w = write(fd, buf, len + off);
	while (w < 0 && errno == EINTR);
	if (w < 0)
		return -1;
	if ((size_t)w != len + off) {
		errno = EIO;
		return -1;
	}
	return fsync(fd);
}

/* Opens the spool and locks it.  The worker renames the file away under
 * this lock, so a writer that opened it just before the rename would
 * append to a file already being ingested, and its record could be lost:
 * after taking the lock, the path must still name the open file. */
static int open_locked(const char *path)
{
	for (int tries = 0; tries < 100; tries++) {
		struct stat at_path, open_file;
		int fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
		if (fd < 0)
			return -1;
		int rc;
		do
			rc = flock(fd, LOCK_EX);
		while (rc != 0 && errno == EINTR);
		if (rc != 0 || fstat(fd, &open_file) != 0) {
			int saved = errno;
			close(fd);
			errno = saved;
			return -1;
		}
		if (stat(path, &at_path) == 0 && at_path.st_ino == open_file.st_ino &&
		    at_path.st_dev == open_file.st_dev)
			return fd;
		close(fd);  /* renamed away meanwhile: open the new one */
	}
	errno = EAGAIN;
	return -1;
}

/* Run as root (docker exec without -u, a root cron job), the spool must
 * stay the server's: a file or directory root made here would keep the
 * server's own commands from recording anything, and the worker from
 * ingesting.  What root made here takes the owner of the directory it
 * was made in, unless that is root's too.  fd < 0: path is a directory. */
static void keep_owner(const char *path, int fd, const char *parent)
{
	struct stat p, self;
	if (geteuid() != 0 || stat(parent, &p) != 0 || p.st_uid == 0)
		return;
	if ((fd >= 0 ? fstat(fd, &self) : lstat(path, &self)) != 0 || self.st_uid != 0)
		return;
	if ((fd >= 0 ? fchown(fd, p.st_uid, p.st_gid) : lchown(path, p.st_uid, p.st_gid)) != 0)
		return;  /* the warning about a lost record will say why later */
}

int tr_spool_append(const char *dir, const tr_metric *m)
{
	char line[TR_SPOOL_MAX_LINE], path[PATH_MAX];
	int len, fd, rc, saved;
	struct stat st;

	if (!dir || !*dir) {
		errno = EINVAL;
		return -1;
	}
	if ((len = tr_spool_format(m, line, sizeof line)) < 0)
		return -1;
	if (snprintf(path, sizeof path, "%s/%s", dir, TR_SPOOL_FILE) >= (int)sizeof path) {
		errno = ENAMETOOLONG;
		return -1;
	}
	char parent[PATH_MAX];
	tr_dirname(dir, parent, sizeof parent);
	if (tr_mkdirs(dir, 0700) != 0)
		return -1;
	keep_owner(dir, -1, parent);
	if ((fd = open_locked(path)) < 0)
		return -1;
	keep_owner(path, fd, dir);
	/* A file this append created must also survive a crash: its
	 * directory entry is made durable too. */
	int fresh = fstat(fd, &st) == 0 && st.st_size == 0;
	rc = append_locked(fd, line, (size_t)len);
	if (rc == 0 && fresh)
		rc = tr_fsync_dir(dir);
	saved = errno;
	close(fd);  /* releases the lock */
	errno = saved;
	return rc;
}
