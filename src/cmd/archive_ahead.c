/* archive_ahead.c - archive-put look-ahead (see archive.h). */
#include "config.h"
#include "cmd/archive.h"
#include "base/atomicfile.h"
#include "format/cpugate.h"
#include "format/checksum.h"
#include "base/log.h"
#include "repo/pool.h"
#include "base/util.h"
#include "pg/walname.h"

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
	tr_repo *main;     /* the connection of the call PostgreSQL waits for */
	tr_cpugate *gate;  /* `parallel` slots, the call's own file first */
	tr_section sec;    /* the section the file PostgreSQL asked for went to */
	const tr_archive_settings *as;
};

int tr_ahead_count(tr_repo *r, const tr_archive_settings *as)
{
	if (as->ahead >= 0)
		return as->ahead;
	return (tr_repo_caps(r) & TR_CAP_REMOTE) ? TR_AHEAD_REMOTE : TR_AHEAD_LOCAL;
}

/* The marker directory, checked to be ours (statedir.h). */
static int marker_dir(const tr_repo *r)
{
	char path[PATH_MAX];
	return tr_repo_local_dirfd(r, "ahead", path, sizeof path);
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

/* A marker says "stored" to a later archive-put: it is keyed, so that one
 * planted or edited by someone without the keys is not believed. */
static void marker_mac(const tr_repo *r, const char *name, const char *line, size_t len, char out[TR_CHECKSUM_STR_LEN])
{
	tr_repo_local_mac(r, "totalrecall ahead marker", name, strlen(name) + 1, line, len, out);
}

static void write_marker(const tr_repo *r, const char *path, const char *name, const tr_xfer *x)
{
	char id[256], line[512], mac[TR_CHECKSUM_STR_LEN];
	int dirfd = marker_dir(r);
	if (dirfd < 0 || file_identity(path, id, sizeof id) != 0) {
		if (dirfd >= 0)
			close(dirfd);
		return;
	}
	int n = snprintf(line, sizeof line, "%s %" PRIu64 " %" PRIu64, id, x->plain, x->stored);
	marker_mac(r, name, line, (size_t)n, mac);
	n += snprintf(line + n, sizeof line - (size_t)n, " %s\n", mac);
	if (tr_atomic_write_file_at(dirfd, name, line, (size_t)n, 0600, 0) != 0)
		tr_debug("archive-put: cannot write the look-ahead marker of %s: %s", name, strerror(errno));
	close(dirfd);
}

/* Reads and removes the marker of name: 1 with *line if it was there. */
static int take_marker(const tr_repo *r, const char *name, char *line, size_t linelen)
{
	struct stat st;
	int dirfd = marker_dir(r);
	if (dirfd < 0)
		return 0;
	int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	ssize_t n = -1;
	if (fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode))
		n = tr_read_full(fd, line, linelen - 1);
	if (fd >= 0) {
		close(fd);
		unlinkat(dirfd, name, 0);  /* used or stale: either way it is done */
	}
	close(dirfd);
	if (n <= 0)
		return 0;
	line[n] = '\0';
	return 1;
}

/* "<identity> <plain> <stored>", the part the MAC covers, and the MAC. */
static int parse_marker(const char *line, const char *id, unsigned long long *plain, unsigned long long *stored,
			size_t *covered, char mac[TR_CHECKSUM_STR_LEN])
{
	size_t idlen = strlen(id);
	int used = 0;
	if (strncmp(line, id, idlen) != 0 || sscanf(line + idlen, " %llu %llu%n", plain, stored, &used) != 2 ||
	    sscanf(line + idlen + used, " %67s", mac) != 1)
		return -1;
	*covered = idlen + (size_t)used;
	return 0;
}

int tr_ahead_claim(tr_repo *r, const tr_archive_settings *as, const char *path, const char *name, tr_xfer *x)
{
	char line[600], id[256], mac[TR_CHECKSUM_STR_LEN], want[TR_CHECKSUM_STR_LEN];
	unsigned long long plain = 0, stored = 0;
	size_t covered = 0;
	/* Not tr_ahead_count(): by default it asks the driver, and a call that
	 * claims its file needs no driver (tr_repo_connect_lazy).  A marker is
	 * only written by a look-ahead, so one found is worth checking. */
	if (as->ahead == 0 || !take_marker(r, name, line, sizeof line))
		return 0;
	if (file_identity(path, id, sizeof id) != 0 || parse_marker(line, id, &plain, &stored, &covered, mac) != 0)
		return 0;  /* the file changed since: archive it again */
	marker_mac(r, name, line, covered, want);
	if (!want[0] || strlen(mac) != strlen(want) || !tr_ct_memeq(want, mac, strlen(want))) {
		tr_warn("archive-put %s: its look-ahead marker does not authenticate: archiving it again", name);
		return 0;
	}
	x->plain = plain;
	x->stored = stored;
	return 1;
}

static int ahead_job(tr_repo *r, void *job, void *arg)
{
	struct ahead_job *j = job;
	const struct tr_ahead *a = arg;
	tr_xfer x = { 0, 0 };
	tr_archive_settings one_thread = *a->as;
	one_thread.parallel = 1;
	tr_repo_use_section(r, a->sec.n);
	if (tr_archive_file(r, &one_thread, j->path, j->name, 1, &a->sec, &x) == 0)
		write_marker(r, j->path, j->name, &x);
	return 0;  /* a failed look-ahead is retried when PostgreSQL asks */
}

static int has_marker(const tr_repo *r, const char *name)
{
	int dirfd = marker_dir(r);
	int has = dirfd >= 0 && faccessat(dirfd, name, F_OK, AT_SYMLINK_NOFOLLOW) == 0;
	if (dirfd >= 0)
		close(dirfd);
	return has;
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

static void ahead_free(struct tr_ahead *a)
{
	tr_repo_use_cpugate(a->main, NULL);
	tr_cpugate_free(a->gate);
	free(a->jobs);
	free(a);
}

/* Each look-ahead file has a worker and a connection of its own, so that
 * their uploads wait on the network together.  Their compression goes
 * through a gate of `parallel` slots, one thread each: a file split over
 * threads waits for its slowest piece, two files on one thread each keep
 * both CPUs busy (measured: 8 % faster on fs, the same on s3).  The file
 * PostgreSQL waits for takes a slot first and compresses on `parallel`
 * threads.  So memory holds about `parallel` compressing pieces, besides
 * the compressed files on their way. */
struct tr_ahead *tr_ahead_start(tr_repo *r, const tr_archive_settings *as, const char *path, const char *name,
				const tr_section *sec)
{
	char waldir[PATH_MAX], err[512];
	int max = tr_ahead_count(r, as);
	if (max <= 0)
		return NULL;
	struct tr_ahead *a = calloc(1, sizeof *a);
	if (!a || !(a->jobs = calloc((size_t)max, sizeof *a->jobs)) || !(a->gate = tr_cpugate_new(as->parallel))) {
		if (a)
			free(a->jobs);
		free(a);
		return NULL;
	}
	a->main = r;
	a->sec = *sec;
	a->as = as;
	tr_dirname(path, waldir, sizeof waldir);
	a->n = pick_ready(r, waldir, name, a->jobs, max);
	if (a->n > 0) {
		tr_repo_use_cpugate(r, a->gate);
		tr_repo_cpu_enter(r);
		a->pool = tr_pool_start_gated(r, a->n, a->n, ahead_job, a, a->gate, err, sizeof err);
	}
	for (int i = 0; a->pool && i < a->n; i++)
		tr_pool_submit(a->pool, &a->jobs[i]);
	if (!a->pool) {
		if (a->n > 0)
			tr_debug("archive-put: no look-ahead: %s", err);
		tr_repo_cpu_release(r);
		ahead_free(a);
		return NULL;
	}
	tr_debug("archive-put: uploading %d more ready file%s ahead", a->n, a->n == 1 ? "" : "s");
	return a;
}

void tr_ahead_finish(struct tr_ahead *a)
{
	if (!a)
		return;
	tr_repo_cpu_release(a->main);  /* the call's own file failed before it compressed */
	tr_pool_wait(a->pool);
	tr_pool_stop(a->pool);
	ahead_free(a);
}
