/* prefetch.c - archive-get read-ahead (see prefetch.h). */
#include "config.h"
#include "prefetch.h"
#include "log.h"
#include "pool.h"
#include "util.h"
#include "walname.h"

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

struct pf_job {
	char name[32];
	char dir[PATH_MAX];
};

static int copy_then_unlink(const char *from, const char *dst)
{
	char tmp[PATH_MAX + 32], buf[65536];
	snprintf(tmp, sizeof tmp, "%s.totalrecall-%ld.tmp", dst, (long)getpid());
	int in = open(from, O_RDONLY | O_CLOEXEC), out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	ssize_t n = 0;
	int ok = in >= 0 && out >= 0;
	while (ok && (n = read(in, buf, sizeof buf)) > 0)
		ok = tr_write_full(out, buf, (size_t)n) == 0;
	ok = ok && n == 0;
	if (in >= 0)
		close(in);
	if (out >= 0 && close(out) != 0)
		ok = 0;
	if (ok && rename(tmp, dst) == 0) {
		unlink(from);
		return 0;
	}
	unlink(tmp);
	return -1;
}

int tr_prefetch_take(const tr_repo *r, const char *name, const char *dst, tr_xfer *x)
{
	char dir[PATH_MAX], path[PATH_MAX + 64];
	struct stat st;
	if (tr_config_int(r->cfg, TR_S_PREFETCH) == 0 || tr_wal_kind(name) != TR_WAL_SEGMENT ||
	    tr_repo_local_dir(r, "prefetch", dir, sizeof dir) != 0)
		return 0;
	snprintf(path, sizeof path, "%s/%s", dir, name);
	if (stat(path, &st) != 0)
		return 0;
	if (rename(path, dst) != 0 && (errno != EXDEV || copy_then_unlink(path, dst) != 0))
		return 0;
	x->plain = (uint64_t)st.st_size;
	x->stored = 0;
	return 1;
}

/* --- the background process --- */

static int fd_write(void *ctx, const void *buf, size_t len)
{
	return tr_write_full(*(int *)ctx, buf, len);
}

static int fetch_job(tr_repo *r, void *job, void *arg)
{
	struct pf_job *j = job;
	char rel[64], tmp[PATH_MAX + 64], path[PATH_MAX + 64];
	(void)arg;
	tr_wal_rel(j->name, rel, sizeof rel);
	snprintf(path, sizeof path, "%s/%s", j->dir, j->name);
	snprintf(tmp, sizeof tmp, "%s/.%s.tmp", j->dir, j->name);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return 0;
	int rc = tr_repo_get(r, rel, fd_write, &fd, NULL);
	if (close(fd) != 0)
		rc = TR_EIO;
	if (rc != TR_OK || rename(tmp, path) != 0)
		unlink(tmp);
	return 0;  /* archive-get fetches it itself if this failed */
}

struct next_scan {
	const char *after;
	struct pf_job *jobs;
	int n, max;
	const char *dir;
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
	snprintf(s->jobs[s->n].dir, sizeof s->jobs[s->n].dir, "%s", s->dir);
	s->n++;
	return 0;
}

/* Removes spooled segments the recovery has passed (or another timeline's). */
static void clean_spool(const char *dir, const char *current)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char path[PATH_MAX + 300];
	while (d && (e = readdir(d)))
		if (tr_wal_kind(e->d_name) == TR_WAL_SEGMENT &&
		    (strncmp(e->d_name, current, 8) != 0 || strcmp(e->d_name, current) <= 0)) {
			snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
			unlink(path);
		}
	if (d)
		closedir(d);
}

/* The next segments after name: in its log directory and the next one. */
static int pick_next(tr_repo *r, const char *name, const char *dir, struct pf_job *jobs, int max)
{
	struct next_scan s = { name, jobs, 0, max, dir };
	char prefix[64];
	unsigned tli, log, seg;
	snprintf(prefix, sizeof prefix, "wal/%.16s/", name);
	tr_repo_list(r, prefix, next_segment, &s);
	if (s.n < max && sscanf(name, "%8X%8X%8X", &tli, &log, &seg) == 3) {
		snprintf(prefix, sizeof prefix, "wal/%08X%08X/", tli, log + 1);
		tr_repo_list(r, prefix, next_segment, &s);
	}
	/* Already spooled ones need no second download. */
	int kept = 0;
	for (int i = 0; i < s.n; i++) {
		char path[PATH_MAX + 64];
		snprintf(path, sizeof path, "%s/%s", dir, jobs[i].name);
		if (access(path, F_OK) != 0)
			jobs[kept++] = jobs[i];
	}
	return kept;
}

static void run_prefetch(const tr_config *cfg, const char *name)
{
	char dir[PATH_MAX], lock[PATH_MAX + 16], err[512];
	int max = (int)tr_config_int(cfg, TR_S_PREFETCH), lfd = -1;
	tr_repo r;
	struct pf_job *jobs = calloc((size_t)max, sizeof *jobs);
	memset(&r, 0, sizeof r);
	if (jobs && tr_repo_connect(&r, cfg) == TR_OK && tr_repo_unlock(&r, 0) == TR_OK &&
	    tr_repo_local_dir(&r, "prefetch", dir, sizeof dir) == 0) {
		snprintf(lock, sizeof lock, "%s/.lock", dir);
		lfd = open(lock, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	}
	/* Only one prefetcher at a time: the lock is held until exit. */
	if (lfd >= 0 && flock(lfd, LOCK_EX | LOCK_NB) == 0) {
		clean_spool(dir, name);
		int n = pick_next(&r, name, dir, jobs, max);
		tr_pool *p = n ? tr_pool_start(&r, n, n, fetch_job, NULL, err, sizeof err) : NULL;
		for (int i = 0; p && i < n; i++)
			tr_pool_submit(p, &jobs[i]);
		if (p) {
			tr_pool_wait(p);
			tr_pool_stop(p);
		}
	}
	tr_repo_close(&r);
	free(jobs);
	if (lfd >= 0)
		close(lfd);
}

void tr_prefetch_spawn(const tr_config *cfg, const char *name)
{
	if (tr_config_int(cfg, TR_S_PREFETCH) == 0 || tr_wal_kind(name) != TR_WAL_SEGMENT)
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
	run_prefetch(cfg, name);
	_exit(0);
}
