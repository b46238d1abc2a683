/* archive_ahead.c - archive-put look-ahead (see archive.h). */
#include "config.h"
#include "archive.h"
#include "log.h"
#include "pool.h"
#include "util.h"
#include "walname.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define READY_SUFFIX ".ready"

struct ahead_job {
	char path[PATH_MAX];
	char name[64];
};

struct tr_ahead {
	tr_pool *pool;
	struct ahead_job *jobs;
	int n;
};

static int marker_path(const tr_repo *r, const char *name, char *out, size_t outlen)
{
	char dir[PATH_MAX];
	if (tr_repo_local_dir(r, "ahead", dir, sizeof dir) != 0)
		return -1;
	return (size_t)snprintf(out, outlen, "%s/%s", dir, name) < outlen ? 0 : -1;
}

/* What identifies the file PostgreSQL will ask about. */
static int file_identity(const char *path, char *out, size_t outlen)
{
	struct stat st;
	if (stat(path, &st) != 0)
		return -1;
	snprintf(out, outlen, "%ju %ju %jd %jd.%09ld", (uintmax_t)st.st_dev, (uintmax_t)st.st_ino,
		 (intmax_t)st.st_size, (intmax_t)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
	return 0;
}

static void write_marker(const tr_repo *r, const char *path, const char *name, const tr_xfer *x)
{
	char marker[PATH_MAX], tmp[PATH_MAX + 16], id[256], line[400];
	if (marker_path(r, name, marker, sizeof marker) != 0 || file_identity(path, id, sizeof id) != 0)
		return;
	int n = snprintf(line, sizeof line, "%s %" PRIu64 " %" PRIu64 "\n", id, x->plain, x->stored);
	snprintf(tmp, sizeof tmp, "%s.tmp", marker);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return;
	int ok = tr_write_full(fd, line, (size_t)n) == 0;
	close(fd);
	if (!ok || rename(tmp, marker) != 0)
		unlink(tmp);
}

int tr_ahead_claim(const tr_repo *r, const char *path, const char *name, tr_xfer *x)
{
	char marker[PATH_MAX], id[256], *buf;
	size_t len;
	if (tr_config_int(r->cfg, TR_S_ARCHIVE_AHEAD) == 0 || marker_path(r, name, marker, sizeof marker) != 0 ||
	    tr_read_small_file(marker, 1024, &buf, &len) != 0)
		return 0;
	int ok = file_identity(path, id, sizeof id) == 0 && strncmp(buf, id, strlen(id)) == 0 && buf[strlen(id)] == ' ';
	unsigned long long plain = 0, stored = 0;
	if (ok && sscanf(buf + strlen(id), " %llu %llu", &plain, &stored) != 2)
		ok = 0;
	free(buf);
	unlink(marker);  /* used or stale: either way it is done */
	x->plain = plain;
	x->stored = stored;
	return ok;
}

static int ahead_job(tr_repo *r, void *job, void *arg)
{
	struct ahead_job *j = job;
	tr_xfer x = { 0, 0 };
	(void)arg;
	if (tr_archive_file(r, j->path, j->name, 1, &x) == 0)
		write_marker(r, j->path, j->name, &x);
	return 0;  /* a failed look-ahead is retried when PostgreSQL asks */
}

static int has_marker(const tr_repo *r, const char *name)
{
	char marker[PATH_MAX];
	return marker_path(r, name, marker, sizeof marker) == 0 && access(marker, F_OK) == 0;
}

/* The names of up to max .ready files other than skip, oldest first. */
static int pick_ready(const tr_repo *r, const char *waldir, const char *skip, struct ahead_job *jobs, int max)
{
	char status[PATH_MAX];
	struct dirent **e;
	snprintf(status, sizeof status, "%s/archive_status", waldir);
	int n = scandir(status, &e, NULL, alphasort), picked = 0;
	for (int i = 0; i < n; i++) {
		char name[64];
		size_t len = strlen(e[i]->d_name), sl = strlen(READY_SUFFIX);
		if (picked < max && len > sl && len - sl < sizeof name &&
		    strcmp(e[i]->d_name + len - sl, READY_SUFFIX) == 0) {
			snprintf(name, sizeof name, "%.*s", (int)(len - sl), e[i]->d_name);
			if (strcmp(name, skip) != 0 && tr_wal_kind(name) != TR_WAL_NONE && !has_marker(r, name)) {
				snprintf(jobs[picked].name, sizeof jobs[picked].name, "%s", name);
				snprintf(jobs[picked].path, sizeof jobs[picked].path, "%s/%s", waldir, name);
				picked++;
			}
		}
		free(e[i]);
	}
	if (n >= 0)
		free(e);
	return picked;
}

struct tr_ahead *tr_ahead_start(tr_repo *r, const char *path, const char *name)
{
	char waldir[PATH_MAX], err[512];
	int max = (int)tr_config_int(r->cfg, TR_S_ARCHIVE_AHEAD);
	if (max <= 0)
		return NULL;
	struct tr_ahead *a = calloc(1, sizeof *a);
	if (!a || !(a->jobs = calloc((size_t)max, sizeof *a->jobs))) {
		free(a);
		return NULL;
	}
	tr_dirname(path, waldir, sizeof waldir);
	a->n = pick_ready(r, waldir, name, a->jobs, max);
	if (a->n > 0)
		a->pool = tr_pool_start(r, a->n, a->n, ahead_job, NULL, err, sizeof err);
	for (int i = 0; a->pool && i < a->n; i++)
		tr_pool_submit(a->pool, &a->jobs[i]);
	if (!a->pool) {
		if (a->n > 0)
			tr_debug("archive-put: no look-ahead: %s", err);
		free(a->jobs);
		free(a);
		return NULL;
	}
	tr_debug("archive-put: uploading %d more ready file%s ahead", a->n, a->n == 1 ? "" : "s");
	return a;
}

void tr_ahead_finish(struct tr_ahead *a)
{
	if (!a)
		return;
	tr_pool_wait(a->pool);
	tr_pool_stop(a->pool);
	free(a->jobs);
	free(a);
}
