/* prefetch.c - archive-get read-ahead (see prefetch.h). */
#include "config.h"
#include "cmd/prefetch.h"
#include "base/atomicfile.h"
#include "base/log.h"
#include "repo/pool.h"
#include "base/util.h"
#include "pg/walheader.h"
#include "pg/walname.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define SPOOL_MAX ((1ull << 30) + (1ull << 20))  /* a 1 GiB segment stored, with its framing */

struct pf_job {
	char name[32];
	int dirfd;
};

/* One spool per history section: the same name may be in two. */
static int spool_dirfd(const tr_repo *r)
{
	char path[PATH_MAX], what[32] = "prefetch";
	if (tr_repo_section(r) > 1)
		snprintf(what, sizeof what, "prefetch-s%u", (unsigned)tr_repo_section(r));
	return tr_repo_local_dirfd(r, what, path, sizeof path);
}

/* --- taking a segment --- */

struct counted_sink {
	int fd;
	uint64_t n;
};

static int counted_write(void *ctx, const void *buf, size_t len)
{
	struct counted_sink *s = ctx;
	s->n += len;
	return tr_write_full(s->fd, buf, len);
}

/* The spooled file, if it is a regular file of ours of a size a stored
 * segment can have. */
static int open_spooled(int dirfd, const char *name, struct stat *st)
{
	int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return -1;
	if (fstat(fd, st) != 0 || !S_ISREG(st->st_mode) || st->st_uid != geteuid() || st->st_size <= 0 ||
	    (uint64_t)st->st_size > SPOOL_MAX) {
		close(fd);
		errno = EINVAL;
		return -2;
	}
	return fd;
}

/* Decodes the spooled object into dst; 0 when authenticated whole and a
 * segment's size. */
static int decode_into(tr_repo *r, const char *name, int fd, const char *dst, tr_xfer *x)
{
	char rel[64];
	tr_atomic a;
	tr_repo_wal_rel(r, name, rel, sizeof rel);
	if (tr_atomic_open(&a, dst, 0600) != 0)
		return -1;
	tr_atomic_guard_signals(&a);
	struct counted_sink s = { a.fd, 0 };
	int rc = tr_repo_decode_fd(r, rel, fd, counted_write, &s, x);
	if (rc == TR_OK && !tr_wal_segment_size_ok(s.n)) {
		tr_repo_set_error(r, "%llu bytes, not a WAL segment's size", (unsigned long long)s.n);
		rc = TR_REPO_ECORRUPT;
	}
	if (rc == TR_OK && tr_atomic_commit(&a, 0) != 0)
		rc = TR_EIO;
	tr_atomic_abort(&a);
	tr_atomic_unguard();
	return rc == TR_OK ? 0 : -1;
}

int tr_prefetch_take(tr_repo *r, int prefetch, const char *name, const char *dst, tr_xfer *x)
{
	struct stat st;
	if (prefetch == 0 || tr_wal_kind(name) != TR_WAL_SEGMENT)
		return 1;
	int dirfd = spool_dirfd(r);
	int fd = dirfd >= 0 ? open_spooled(dirfd, name, &st) : -1;
	int rc = fd >= 0 ? decode_into(r, name, fd, dst, x) : -1;
	if (fd >= 0)
		close(fd);
	if (rc != 0 && fd != -1)
		tr_warn("archive-get %s: the prefetched copy is unusable (%s): fetching it from the archive", name,
			fd == -2 ? "not a regular file of this user of a plausible size" : tr_repo_error(r));
	if (fd != -1)
		unlinkat(dirfd, name, 0);  /* used, or unusable: either way done */
	if (dirfd >= 0)
		close(dirfd);
	x->stored = rc == 0 ? (uint64_t)st.st_size : 0;
	return rc == 0 ? 0 : 1;
}

/* --- the background process --- */

static int fd_write(void *ctx, const void *buf, size_t len)
{
	return tr_write_full(*(int *)ctx, buf, len);
}

/* Spools the object as stored; decoding happens when it is taken. */
static int fetch_job(tr_repo *r, void *job, void *arg)
{
	struct pf_job *j = job;
	char rel[64];
	tr_atomic a;
	tr_wal_rel_in(arg, j->name, rel, sizeof rel);   /* arg: the section's WAL prefix */
	if (tr_atomic_open_at(&a, j->dirfd, j->name, 0600) != 0)
		return 0;
	if (tr_repo_get_raw(r, rel, fd_write, &a.fd) != TR_OK || tr_atomic_commit(&a, 0) != 0)
		tr_atomic_abort(&a);
	return 0;  /* archive-get fetches it itself if this failed */
}

struct next_scan {
	const char *after;
	struct pf_job *jobs;
	int n, max;
	int dirfd;
};

static int next_segment(void *ctx, const tr_object_info *info)
{
	struct next_scan *s = ctx;
	const char *name = tr_basename(info->key);
	if (s->n >= s->max)
		return 1;
	if (tr_wal_kind(name) != TR_WAL_SEGMENT || strncmp(name, s->after, 8) != 0 || strcmp(name, s->after) <= 0)
		return 0;
	snprintf(s->jobs[s->n].name, sizeof s->jobs[s->n].name, "%s", name);
	s->jobs[s->n].dirfd = s->dirfd;
	s->n++;
	return 0;
}

/* Removes spooled segments the recovery has passed (or another timeline's),
 * and temporary files a killed prefetcher left (the lock is held). */
static void clean_spool(int dirfd, const char *current)
{
	int fd = dup(dirfd);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *e;
	if (d)
		rewinddir(d);  /* a dup shares the directory offset of an earlier reading */
	while (d && (e = readdir(d))) {
		int passed = tr_wal_kind(e->d_name) == TR_WAL_SEGMENT &&
			     (strncmp(e->d_name, current, 8) != 0 || strcmp(e->d_name, current) <= 0);
		size_t n = strlen(e->d_name);
		int temp = e->d_name[0] == '.' && n > 4 && strcmp(e->d_name + n - 4, ".tmp") == 0;
		if (passed || temp)
			unlinkat(dirfd, e->d_name, 0);
	}
	if (d)
		closedir(d);
	else if (fd >= 0)
		close(fd);
}

/* The next segments after name: in its log directory and the next one. */
static int pick_next(tr_repo *r, const char *name, int dirfd, struct pf_job *jobs, int max)
{
	struct next_scan s = { name, jobs, 0, max, dirfd };
	char prefix[64];
	unsigned tli, log, seg;
	snprintf(prefix, sizeof prefix, "%s%.16s/", tr_repo_wal_prefix(r), name);
	tr_repo_list(r, prefix, next_segment, &s);
	if (s.n < max && sscanf(name, "%8X%8X%8X", &tli, &log, &seg) == 3) {
		snprintf(prefix, sizeof prefix, "%s%08X%08X/", tr_repo_wal_prefix(r), tli, log + 1);
		tr_repo_list(r, prefix, next_segment, &s);
	}
	/* Already spooled ones need no second download. */
	int kept = 0;
	for (int i = 0; i < s.n; i++)
		if (faccessat(dirfd, jobs[i].name, F_OK, AT_SYMLINK_NOFOLLOW) != 0)
			jobs[kept++] = jobs[i];
	return kept;
}

static void run_prefetch(const tr_repo_settings *rs, int max, uint32_t section, const char *name)
{
	char err[512];
	int lfd = -1, dirfd = -1;
	tr_repo *r = NULL;
	struct pf_job *jobs = calloc((size_t)max, sizeof *jobs);
	if (jobs && tr_repo_connect(&r, rs) == TR_OK && tr_repo_unlock_flags(r, TR_UNLOCK_CACHED) == TR_OK) {
		tr_repo_use_section(r, section);
		dirfd = spool_dirfd(r);
	}
	if (dirfd >= 0)
		lfd = openat(dirfd, ".lock", O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	/* Only one prefetcher at a time: the lock is held until exit. */
	if (lfd >= 0 && flock(lfd, LOCK_EX | LOCK_NB) == 0) {
		clean_spool(dirfd, name);
		int n = pick_next(r, name, dirfd, jobs, max);
		int workers = n < tr_pool_transfers(r) ? n : tr_pool_transfers(r);
		tr_pool *p = n ? tr_pool_start(r, workers, n, fetch_job, (void *)tr_repo_wal_prefix(r), err, sizeof err) : NULL;
		for (int i = 0; p && i < n; i++)
			tr_pool_submit(p, &jobs[i]);
		if (p) {
			tr_pool_wait(p);
			tr_pool_stop(p);
		}
	}
	tr_repo_close(r);
	free(jobs);
	if (lfd >= 0)
		close(lfd);
	if (dirfd >= 0)
		close(dirfd);
}

void tr_prefetch_spawn(const tr_repo_settings *rs, int prefetch, uint32_t section, const char *name)
{
	if (prefetch == 0 || tr_wal_kind(name) != TR_WAL_SEGMENT)
		return;
	pid_t pid = fork();
	if (pid != 0) {
		if (pid > 0)
			waitpid(pid, NULL, 0);  /* the first child exits at once */
		return;
	}
	/* Child: detach so that PostgreSQL, waiting for archive-get, is not
	 * kept waiting for the prefetch. */
	setsid();
	if (fork() != 0)
		_exit(0);
	int devnull = open("/dev/null", O_RDWR);
	if (devnull >= 0) {
		dup2(devnull, 0);
		dup2(devnull, 1);
		close(devnull);
	}
	run_prefetch(rs, prefetch, section, name);
	_exit(0);
}
