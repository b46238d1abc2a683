/*
 * archive_put.c - `totalrecall archive-put <path>`, PostgreSQL's
 * archive_command.
 *
 * Contract: exit 0 only when the file is durably stored, or when the very
 * same content is already stored; exit 1 on every failure, with one line
 * saying why (never above 125, which PostgreSQL's archiver treats as
 * fatal).  An archived file is never replaced: the object is written with
 * put-if-absent, and on a conflict the stored content is compared through
 * its keyed checksum (or, for drivers without metadata, by decoding it).
 */
#include "config.h"
#include "archive.h"
#include "checksum.h"
#include "commands.h"
#include "log.h"
#include "metric.h"
#include "pcompress.h"
#include "repo.h"
#include "timeline.h"
#include "util.h"
#include "walname.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define READ_BUF (256 * 1024)

struct file_src {
	int fd;
	int failed;
};

static ssize_t file_read(void *ctx, void *buf, size_t len)
{
	struct file_src *s = ctx;
	ssize_t n = tr_read_full(s->fd, buf, len);
	if (n < 0)
		s->failed = errno;
	return n;
}

/* Keyed checksum of the whole file; the file is read again for upload. */
static int file_checksum(const tr_keys *keys, int fd, char out[TR_CHECKSUM_STR_LEN])
{
	char *buf = malloc(READ_BUF);
	tr_checksum *c = tr_checksum_new(keys);
	ssize_t n = -1;
	if (buf && c)
		while ((n = tr_read_full(fd, buf, READ_BUF)) > 0)
			tr_checksum_update(c, buf, (size_t)n);
	if (c)
		tr_checksum_final(c, out);
	tr_checksum_free(c);
	free(buf);
	return n == 0 && lseek(fd, 0, SEEK_SET) == 0 ? 0 : -1;
}

/* Sink that compares decoded bytes with the local file. */
struct compare_sink {
	int fd;
	int differs;
	char buf[64 * 1024];
};

static int compare_write(void *ctx, const void *data, size_t len)
{
	struct compare_sink *s = ctx;
	while (len && !s->differs) {
		size_t n = len < sizeof s->buf ? len : sizeof s->buf;
		if (tr_read_full(s->fd, s->buf, n) != (ssize_t)n || memcmp(s->buf, data, n) != 0)
			s->differs = 1;
		data = (const char *)data + n;
		len -= n;
	}
	return 0;
}

/* 1 identical, 0 different, -1 could not tell (message in r->err). */
static int stored_is_identical(tr_repo *r, const char *rel, int fd, const char *checksum)
{
	tr_object_info *info = calloc(1, sizeof *info);
	if (!info)
		return -1;
	int rc = tr_repo_head(r, rel, info);
	int same = -1;
	if (rc == TR_OK && info->checksum[0] && checksum)
		same = strcmp(info->checksum, checksum) == 0;
	free(info);
	if (rc != TR_OK || same >= 0)
		return same;
	/* No checksum stored: decode the object and compare. */
	struct compare_sink *s = malloc(sizeof *s);
	if (!s || lseek(fd, 0, SEEK_SET) != 0) {
		free(s);
		return -1;
	}
	s->fd = fd;
	s->differs = 0;
	rc = tr_repo_get(r, rel, compare_write, s, NULL);
	if (rc == TR_OK)
		same = !s->differs && tr_read_full(fd, s->buf, 1) == 0;
	else if (rc == TR_REPO_ECORRUPT)
		same = 0;  /* a damaged object is not our content; never replace it */
	free(s);
	return same;
}

/* Stores the file put-if-absent.  A file of a piece or more is compressed
 * straight from a mapping, in pieces on up to threads threads
 * (pcompress.h): PostgreSQL waits for this call, and compressing is most of
 * its time.  Anything else, or a file that cannot be mapped, is streamed. */
static int upload(tr_repo *r, const char *rel, int fd, int threads, struct file_src *src, const char *sum,
		  tr_xfer *x)
{
	struct stat st;
	char err[256];
	tr_pcomp *pc = NULL;
	if (r->enc.compress == TR_COMPRESS_ZSTD && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
	    tr_pcomp_pieces((uint64_t)st.st_size, threads) > 0 &&
	    !(pc = tr_pcomp_start(fd, (uint64_t)st.st_size, r->enc.level, threads, err, sizeof err)))
		tr_debug("archive-put: compressing in one piece: %s", err);
	if (!pc)
		return tr_repo_put(r, rel, file_read, src, TR_PUT_IF_ABSENT, sum, x);
	int rc = tr_repo_put_zstd(r, rel, tr_pcomp_read, pc, TR_PUT_IF_ABSENT, sum, x);
	if (rc == TR_ECALLBACK && tr_pcomp_error(pc)[0])
		snprintf(r->err, sizeof r->err, "%s", tr_pcomp_error(pc));
	x->plain = rc == TR_OK ? (uint64_t)st.st_size : 0;
	tr_pcomp_free(pc);
	return rc;
}

static int put_fd(tr_repo *r, const char *path, const char *name, int fd, int level, tr_xfer *x)
{
	char rel[256], sum[TR_CHECKSUM_STR_LEN];
	struct file_src src = { fd, 0 };
	double t0 = tr_now();
	/* The checksum is object metadata: a driver that keeps none (fs) never
	 * sees it, and a conflict is then settled by decoding the stored object
	 * (stored_is_identical), so the extra pass over the file is skipped. */
	int want_sum = (r->ld.drv->caps & TR_CAP_CHECKSUM) != 0;

	tr_wal_rel(name, rel, sizeof rel);
	if (want_sum && file_checksum(&r->keys, fd, sum) != 0) {
		tr_log(level, "archive-put: cannot read %s: %s", path, strerror(errno));
		return 1;
	}
	int threads = level == TR_LOG_ERROR ? (int)tr_config_int(r->cfg, TR_S_PARALLEL) : 1;
	int rc = upload(r, rel, fd, threads, &src, want_sum ? sum : NULL, x);
	if (rc == TR_EEXIST) {
		int same = stored_is_identical(r, rel, fd, want_sum ? sum : NULL);
		if (same == 1) {
			tr_info("archive-put %s: already archived with identical content", name);
			return 0;
		}
		if (same == 0)
			tr_log(level, "archive-put %s: already archived with DIFFERENT content; the stored object was "
			       "left untouched", name);
		else
			tr_log(level, "archive-put %s: already archived, and comparing with it failed: %s", name, r->err);
		return 1;
	}
	if (rc != TR_OK) {
		if (src.failed)
			tr_log(level, "archive-put: cannot read %s: %s", path, strerror(src.failed));
		else
			tr_log(level, "archive-put %s: %s", name, r->err);
		return 1;
	}
	tr_info("archive-put %s: %llu bytes in, %llu stored, %.0f ms%s", name, (unsigned long long)x->plain,
		(unsigned long long)x->stored, (tr_now() - t0) * 1000, level == TR_LOG_WARNING ? " (ahead)" : "");
	return 0;
}

int tr_archive_file(tr_repo *r, const char *path, const char *name, int quiet, tr_xfer *x)
{
	int level = quiet ? TR_LOG_WARNING : TR_LOG_ERROR;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		tr_log(level, "archive-put: cannot open %s: %s", path, strerror(errno));
		return 1;
	}
	posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	int status = put_fd(r, path, name, fd, level, x);
	close(fd);
	return status;
}

int tr_cmd_archive_put(tr_config *cfg, int argc, char **argv)
{
	char err[2048];
	if (argc != 1) {
		tr_error("archive-put: expected one argument, the WAL file path (%%p)");
		return 1;
	}
	const char *path = argv[0], *name = tr_basename(path);
	tr_metric_subject(name);
	if (tr_wal_kind(name) == TR_WAL_NONE) {
		tr_error("archive-put: %s is not a WAL file name", path);
		return 1;
	}
	if (tr_config_require_storage(cfg, err, sizeof err) != 0) {
		tr_error("archive-put: %s", err);
		return 1;
	}
	if (access(path, R_OK) != 0) {
		tr_error("archive-put: cannot open %s: %s", path, strerror(errno));
		return 1;
	}
	tr_xfer x = { 0, 0 };
	tr_repo r;
	int rc = tr_repo_connect(&r, cfg);
	if (rc == TR_OK)
		rc = tr_repo_unlock(&r, 1);
	int status = 1;
	if (rc != TR_OK) {
		tr_error("archive-put %s: %s", name, r.err);
	} else if (tr_ahead_claim(&r, path, name, &x)) {
		tr_info("archive-put %s: archived ahead, %llu bytes in, %llu stored", name, (unsigned long long)x.plain,
			(unsigned long long)x.stored);
		status = 0;
	} else {
		struct tr_ahead *ahead = tr_ahead_start(&r, path, name);
		status = tr_archive_file(&r, path, name, 0, &x);
		tr_ahead_finish(ahead);
	}
	if (status == 0)
		tr_timeline_watch(&r, path, name);  /* warns of diverged timelines */
	tr_metric_bytes(x.plain, x.stored);
	tr_repo_close(&r);
	return status;
}
