/* atomicfile.c - write a temporary file, fsync, rename, fsync the
 * directory (see atomicfile.h). */
#include "config.h"
#include "base/atomicfile.h"
#include "base/assert.h"
#include "base/util.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void close_keep_errno(int fd)
{
	int saved = errno;
	close(fd);
	errno = saved;
}

/* ".<name>.tr-<pid>-<random>.tmp": never listed as a WAL file or an
 * object, unique per writer, and unpredictable to other users. */
static int temp_name(const char *name, char *out, size_t outlen)
{
	uint8_t rnd[6];
	char hex[13];
	if (tr_random(rnd, sizeof rnd) != 0)
		return -1;
	tr_hex(rnd, sizeof rnd, hex);
	return (size_t)snprintf(out, outlen, ".%.200s.tr-%ld-%s.tmp", name, (long)getpid(), hex) < outlen ? 0 : -1;
}

int tr_atomic_open_at(tr_atomic *a, int dirfd, const char *name, mode_t mode)
{
	memset(a, 0, sizeof *a);
	a->dirfd = dirfd;
	a->fd = -1;
	if (!*name || strchr(name, '/') || tr_strlcpy(a->name, name, sizeof a->name) != 0 ||
	    temp_name(name, a->tmp, sizeof a->tmp) != 0) {
		errno = ENAMETOOLONG;
		return -1;
	}
	a->fd = openat(dirfd, a->tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
	return a->fd < 0 ? -1 : 0;
}

int tr_atomic_open(tr_atomic *a, const char *path, mode_t mode)
{
	char dir[4096];
	tr_dirname(path, dir, sizeof dir);
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return -1;
	if (tr_atomic_open_at(a, dfd, tr_basename(path), mode) != 0) {
		close_keep_errno(dfd);
		a->dirfd = -1;
		return -1;
	}
	a->own_dirfd = 1;
	return 0;
}

int tr_atomic_write_all(tr_atomic *a, const void *buf, size_t len)
{
	return tr_write_full(a->fd, buf, len);
}

static int put_in_place(tr_atomic *a, unsigned flags)
{
	if (!(flags & TR_ATOMIC_NOREPLACE))
		return renameat(a->dirfd, a->tmp, a->dirfd, a->name);
	if (linkat(a->dirfd, a->tmp, a->dirfd, a->name, 0) != 0)
		return -1;
	unlinkat(a->dirfd, a->tmp, 0);
	return 0;
}

int tr_atomic_commit(tr_atomic *a, unsigned flags)
{
	TR_ASSERT(a->fd >= 0 && a->tmp[0]);  /* opened, and neither committed nor aborted yet */
	int rc = fsync(a->fd);
	int saved = errno;
	if (close(a->fd) != 0 && rc == 0) {
		rc = -1;
		saved = errno;
	}
	a->fd = -1;
	if (rc == 0 && (rc = put_in_place(a, flags)) != 0)
		saved = errno;
	if (rc != 0)
		unlinkat(a->dirfd, a->tmp, 0);
	else if ((rc = fsync(a->dirfd)) != 0)
		saved = errno;
	a->tmp[0] = '\0';
	tr_atomic_abort(a);
	errno = saved;
	return rc;
}

void tr_atomic_abort(tr_atomic *a)
{
	int saved = errno;
	if (a->fd >= 0)
		close(a->fd);
	a->fd = -1;
	if (a->tmp[0] && a->dirfd >= 0)
		unlinkat(a->dirfd, a->tmp, 0);
	a->tmp[0] = '\0';
	if (a->own_dirfd && a->dirfd >= 0)
		close(a->dirfd);
	a->dirfd = -1;
	a->own_dirfd = 0;
	errno = saved;
}

static int write_then_commit(tr_atomic *a, const void *buf, size_t len, unsigned flags)
{
	if (tr_atomic_write_all(a, buf, len) != 0) {
		tr_atomic_abort(a);
		return -1;
	}
	return tr_atomic_commit(a, flags);
}

int tr_atomic_write_file(const char *path, const void *buf, size_t len, mode_t mode, unsigned flags)
{
	tr_atomic a;
	if (tr_atomic_open(&a, path, mode) != 0)
		return -1;
	return write_then_commit(&a, buf, len, flags);
}

int tr_atomic_write_file_at(int dirfd, const char *name, const void *buf, size_t len, mode_t mode,
			    unsigned flags)
{
	tr_atomic a;
	if (tr_atomic_open_at(&a, dirfd, name, mode) != 0)
		return -1;
	return write_then_commit(&a, buf, len, flags);
}

/* --- removal on a terminating signal --- */

static struct {
	volatile sig_atomic_t armed;
	int dirfd;
	char tmp[320];
} guard;

static const int guarded_signals[] = { SIGTERM, SIGINT, SIGHUP };
static struct sigaction saved_actions[3];

/* Async-signal-safe: unlinkat, sigaction and raise only. */
static void on_signal(int sig)
{
	if (guard.armed)
		unlinkat(guard.dirfd, guard.tmp, 0);
	guard.armed = 0;
	signal(sig, SIG_DFL);
	raise(sig);
}

/* A signal the process ignores (nohup's SIGHUP) stays ignored. */
void tr_atomic_guard_signals(const tr_atomic *a)
{
	struct sigaction sa;
	guard.armed = 0;
	guard.dirfd = a->dirfd;
	memcpy(guard.tmp, a->tmp, sizeof guard.tmp);
	guard.armed = 1;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < TR_ARRAY_LEN(guarded_signals); i++)
		sigaddset(&sa.sa_mask, guarded_signals[i]);
	for (size_t i = 0; i < TR_ARRAY_LEN(guarded_signals); i++) {
		sigaction(guarded_signals[i], NULL, &saved_actions[i]);
		if (saved_actions[i].sa_handler != SIG_IGN)
			sigaction(guarded_signals[i], &sa, NULL);
	}
}

void tr_atomic_unguard(void)
{
	for (size_t i = 0; i < TR_ARRAY_LEN(guarded_signals); i++)
		if (saved_actions[i].sa_handler != SIG_IGN)
			sigaction(guarded_signals[i], &saved_actions[i], NULL);
	guard.armed = 0;
}
