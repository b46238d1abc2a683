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
 *
 * Only real WAL is stored: the file must be a regular file (a FIFO never
 * hangs the call), and a file named as a segment must be one (walheader.h).
 * Only the current history section's cluster archives (section.h): the
 * system identifier in a segment's page header (for a file without one,
 * in the working directory's global/pg_control) must be its, else the file
 * is refused with one line naming both identifiers; it is stored under
 * that section's WAL prefix.
 * A file that changes while it is read (PostgreSQL never changes a
 * finished segment: something else does) fails the call, and the upload is
 * abandoned before the object exists; a file that shrinks under the
 * mapping pcompress.c reads raises SIGBUS, which pcompress turns into
 * that same failure.
 */
#include "config.h"
#include "cmd/archive.h"
#include "format/checksum.h"
#include "cmd/commands.h"
#include "conf/resolve.h"
#include "base/log.h"
#include "base/metric.h"
#include "format/pcompress.h"
#include "repo/repo.h"
#include "repo/timeline.h"
#include "base/testhook.h"
#include "base/util.h"
#include "pg/walheader.h"
#include "pg/walname.h"

#include <errno.h>
#include <fcntl.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define READ_BUF (256 * 1024)

struct file_src {
	int fd;
	int failed;
	uint64_t done;
};

static ssize_t file_read(void *ctx, void *buf, size_t len)
{
	struct file_src *s = ctx;
	ssize_t n = tr_read_full(s->fd, buf, len);
	if (n < 0)
		s->failed = errno;
	else
		tr_testhook_truncate(s->fd, s->done += (uint64_t)n);
	return n;
}

/* The body source, which fails at its end if the file is not as it was
 * when archive-put looked at it first: no object is then created.  A
 * look-ahead upload holds a CPU slot (cpugate.h) from the start of its
 * compression to the end of the body: then the driver has it whole and
 * waits on the network without the slot. */
struct unchanged_src {
	tr_read_fn read;
	void *ctx;
	int fd;
	struct stat before;
	int changed;
	tr_repo *cpu_holder;  /* the connection whose slot is held, or NULL */
};

static void release_cpu(struct unchanged_src *u)
{
	if (u->cpu_holder)
		tr_repo_cpu_leave(u->cpu_holder);
	u->cpu_holder = NULL;
}

static int same_file(const struct stat *a, const struct stat *b)
{
	return a->st_ino == b->st_ino && a->st_dev == b->st_dev && a->st_size == b->st_size &&
	       a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec &&
	       a->st_ctim.tv_sec == b->st_ctim.tv_sec && a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

static ssize_t unchanged_read(void *ctx, void *buf, size_t len)
{
	struct unchanged_src *u = ctx;
	struct stat now;
	ssize_t n = u->read(u->ctx, buf, len);
	if (n <= 0)
		release_cpu(u);
	if (n == 0 && (fstat(u->fd, &now) != 0 || !same_file(&u->before, &now))) {
		u->changed = 1;
		return -1;
	}
	return n;
}

/* Keyed checksum of the whole file, for a file streamed (not mapped):
 * the file is read again for upload.  Mapped files get theirs from
 * pcompress's digest thread, while they compress. */
static int file_checksum(const tr_repo *r, int fd, char out[TR_CHECKSUM_STR_LEN])
{
	char *buf = malloc(READ_BUF);
	tr_checksum *c = tr_repo_checksum(r);
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

/* 1 identical, 0 different, -1 could not tell (message in tr_repo_error(r)). */
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

static void digest_update(void *ctx, const void *data, size_t len)
{
	tr_checksum_update(ctx, data, len);
}

/* Starts compressing a file of a piece or more from a mapping, and its
 * keyed checksum (when sum_c is not NULL) from the same pages. */
static tr_pcomp *start_mapped(tr_repo *r, struct unchanged_src *u, int threads, tr_checksum *sum_c)
{
	char err[256];
	tr_pcomp *pc = NULL;
	uint64_t size = (uint64_t)u->before.st_size;
	int level = tr_repo_zstd_level(r);
	if (level >= 0 && tr_pcomp_pieces(size, threads) > 0 &&
	    !(pc = tr_pcomp_start_digest(u->fd, size, level, threads, sum_c ? digest_update : NULL, sum_c,
					 err, sizeof err)))
		tr_debug("archive-put: compressing in one piece: %s", err);
	return pc;
}

/* The checksum of a mapped file, once its digest thread is done. */
static int mapped_checksum(tr_repo *r, tr_pcomp *pc, tr_checksum *sum_c, char *sum)
{
	if (!sum_c)
		return TR_OK;
	if (tr_pcomp_digest_wait(pc) != 0) {
		tr_repo_set_error(r, "%s", tr_pcomp_error(pc));
		return TR_ECALLBACK;
	}
	tr_checksum_final(sum_c, sum);
	return TR_OK;
}

/* Stores the file put-if-absent.  A file of a piece or more is compressed
 * straight from a mapping, in pieces on up to threads threads
 * (pcompress.h): PostgreSQL waits for this call, and compressing is most of
 * its time.  Anything else, or a file that cannot be mapped, is streamed.
 * The keyed checksum (sum, when not NULL: drivers that keep one) of a
 * mapped file is computed from the mapping while it compresses; the
 * stored keyring is checked meanwhile too. */
static int upload(tr_repo *r, const char *rel, struct unchanged_src *u, int threads, struct file_src *src,
		  char *sum, tr_xfer *x)
{
	uint64_t size = (uint64_t)u->before.st_size;
	tr_checksum *sum_c = sum ? tr_repo_checksum(r) : NULL;
	if (sum && !sum_c) {
		tr_repo_set_error(r, "out of memory");
		return TR_ENOMEM;
	}
	if (!tr_repo_cpu_held(r))  /* the call PostgreSQL waits for may hold it already (tr_ahead_start) */
		tr_repo_cpu_enter(r);
	u->cpu_holder = r;
	tr_pcomp *pc = start_mapped(r, u, threads, sum_c);
	int rc = tr_repo_check_keyring(r);
	if (rc == TR_OK && pc)
		rc = mapped_checksum(r, pc, sum_c, sum);
	else if (rc == TR_OK && sum && file_checksum(r, u->fd, sum) != 0) {
		tr_repo_set_error(r, "reading the file for its checksum: %s", strerror(errno));
		rc = TR_ECALLBACK;
	}
	if (rc == TR_OK && !pc) {
		u->read = file_read;
		u->ctx = src;
		rc = tr_repo_put(r, rel, unchanged_read, u, TR_PUT_IF_ABSENT, sum, x);
	} else if (rc == TR_OK) {
		u->read = tr_pcomp_read;
		u->ctx = pc;
		rc = tr_repo_put_zstd(r, rel, unchanged_read, u, TR_PUT_IF_ABSENT, sum, x);
		if (rc == TR_ECALLBACK && !u->changed && tr_pcomp_error(pc)[0])
			tr_repo_set_error(r, "%s", tr_pcomp_error(pc));
		x->plain = rc == TR_OK ? size : 0;
	}
	release_cpu(u);
	tr_pcomp_free(pc);
	tr_checksum_free(sum_c);  /* after the digest thread, which may still feed it when the keyring check failed */
	return rc;
}

static void report_failure(const tr_repo *r, const char *path, const char *name, int level,
			   const struct unchanged_src *u, const struct file_src *src)
{
	if (u->changed)
		tr_log(level, "archive-put: %s changed while it was being read (size, time or identity): not "
		       "archived, nothing stored", path);
	else if (src->failed)
		tr_log(level, "archive-put: cannot read %s: %s", path, strerror(src->failed));
	else
		tr_log(level, "archive-put %s: %s", name, tr_repo_error(r));
}

static int put_fd(tr_repo *r, const char *path, const char *name, int fd, int level, int threads, tr_xfer *x)
{
	char rel[256], sum[TR_CHECKSUM_STR_LEN];
	struct file_src src = { fd, 0, 0 };
	struct unchanged_src u = { NULL, NULL, fd, { 0 }, 0, NULL };
	double t0 = tr_now();
	/* The checksum is object metadata: a driver that keeps none (fs) never
	 * sees it, and a conflict is then settled by decoding the stored object
	 * (stored_is_identical), so it is not computed. */
	int want_sum = (tr_repo_caps(r) & TR_CAP_CHECKSUM) != 0;

	tr_repo_wal_rel(r, name, rel, sizeof rel);
	if (fstat(fd, &u.before) != 0) {
		tr_log(level, "archive-put: cannot read %s: %s", path, strerror(errno));
		return 1;
	}
	int rc = upload(r, rel, &u, threads, &src, want_sum ? sum : NULL, x);
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
			tr_log(level, "archive-put %s: already archived, and comparing with it failed: %s", name, tr_repo_error(r));
		return 1;
	}
	if (rc != TR_OK) {
		report_failure(r, path, name, level, &u, &src);
		return 1;
	}
	tr_info("archive-put %s: %llu bytes in, %llu stored, %.0f ms%s", name, (unsigned long long)x->plain,
		(unsigned long long)x->stored, (tr_now() - t0) * 1000, level == TR_LOG_WARNING ? " (ahead)" : "");
	return 0;
}

/* The cluster a file's page header names: 1 with *id for a segment (which
 * must be one, walheader.h) or a .partial whose header reads; 0 for a file
 * without a page header (.history, .backup); -1 (logged) for a segment
 * name that does not hold a segment. */
static int file_cluster(const char *path, const char *name, int fd, int level, tr_cluster_id *id)
{
	uint8_t head[TR_WAL_LONG_HEADER_LEN];
	struct stat st;
	tr_wal_header h;
	char why[300];
	int kind = tr_wal_kind(name);
	if (kind != TR_WAL_SEGMENT && kind != TR_WAL_PARTIAL)
		return 0;
	ssize_t n = fstat(fd, &st) == 0 ? pread(fd, head, sizeof head, 0) : -1;
	if (n < 0) {
		tr_log(level, "archive-put: cannot read %s: %s", path, strerror(errno));
		return -1;
	}
	if (kind == TR_WAL_PARTIAL) {
		if (tr_wal_header_parse(head, (size_t)n, &h, why, sizeof why) != 0)
			return 0;
	} else if (tr_wal_segment_check(name, (uint64_t)st.st_size, head, (size_t)n, &h, why, sizeof why) != 0) {
		tr_log(level, "archive-put: %s is not WAL segment %s: %s; not archived", path, name, why);
		return -1;
	}
	id->sysid = h.sysid;
	id->pg_major = h.pg_major;
	return 1;
}

/* A file with a page header must be of the section's cluster (look-ahead
 * files are checked here; the file PostgreSQL asked for was admitted by
 * tr_section_admit already). */
static int check_cluster(const char *path, const char *name, int fd, int level, const tr_section *sec)
{
	tr_cluster_id id;
	char mine[96];
	int has = file_cluster(path, name, fd, level, &id);
	if (has <= 0)
		return has;
	if (sec->id.sysid && tr_cluster_id_equal(&id, &sec->id))
		return 0;
	tr_cluster_id_format(&id, mine, sizeof mine);
	tr_log(level, "archive-put %s: WAL of %s, not of history section %u's cluster: not archived with it", name, mine,
	       (unsigned)sec->n);
	return -1;
}

int tr_archive_file(tr_repo *r, const tr_archive_settings *as, const char *path, const char *name, int quiet,
		    const tr_section *sec, tr_xfer *x)
{
	int level = quiet ? TR_LOG_WARNING : TR_LOG_ERROR;
	int fd = tr_open_regular(path, 0);
	if (fd < 0) {
		tr_log(level, "archive-put: cannot open %s: %s", path, tr_strerror(errno));
		return 1;
	}
	posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	int threads = as->parallel;  /* 1 for a look-ahead file (archive_ahead.c) */
	int status = check_cluster(path, name, fd, level, sec) == 0 ? put_fd(r, path, name, fd, level, threads, x) : 1;
	close(fd);
	return status;
}

/* glibc raises its mmap threshold to the size of every large block freed,
 * so the part buffers and compressed pieces of look-ahead uploads (from
 * 64 KiB to a few MiB) end up in per-thread arenas that keep their peak:
 * measured 35 MiB against 27 MiB with a fixed threshold, 16 files ahead.
 * With a fixed threshold every large block goes back when freed. */
static void return_large_blocks(void)
{
#ifdef __GLIBC__
	mallopt(M_MMAP_THRESHOLD, 128 * 1024);
#endif
}

/* The history section the file PostgreSQL asked for goes to: its
 * cluster's, which must be the current one (section.h).  A file without a
 * page header (.history, .backup) is the cluster's whose data directory
 * archive-put runs in (PostgreSQL runs archive_command there): a restored
 * old cluster or a stray one cannot slip a history file into the current
 * section; run elsewhere, it goes to the current section.  0, or 1
 * (logged). */
static int admit(tr_repo *r, const char *path, const char *name, tr_section *sec)
{
	char err[2048];
	tr_cluster_id id;
	int refused = 0, has = -1, rc;
	int fd = tr_open_regular(path, 0);
	if (fd < 0) {
		tr_error("archive-put: cannot open %s: %s", path, tr_strerror(errno));
		return 1;
	}
	has = file_cluster(path, name, fd, TR_LOG_ERROR, &id);
	close(fd);
	if (has < 0)
		return 1;
	if (!has && tr_cluster_id_from_pgdata(".", &id, err, sizeof err) == 0)
		has = 1;
	double t0 = tr_now();
	rc = has ? tr_section_admit(r, &id, "archive-put", sec, &refused, err, sizeof err)
		 : tr_section_current(r, sec, err, sizeof err);
	if (rc != 0)
		tr_error("archive-put %s: %s%s", name, err, refused ? "; not archived, nothing stored" : "");
	else   /* tests/bench/section_check.sh reads this */
		tr_debug("archive-put %s: history section %u, decided in %.3f ms", name, (unsigned)sec->n,
			 (tr_now() - t0) * 1000);
	return rc != 0;
}

int tr_cmd_archive_put(tr_config *cfg, int argc, char **argv)
{
	char err[2048];
	tr_repo_settings rs;
	return_large_blocks();
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
	if (tr_conf_storage(cfg, &rs, err, sizeof err) != 0) {
		tr_error("archive-put: %s", err);
		return 1;
	}
	if (access(path, R_OK) != 0) {
		tr_error("archive-put: cannot open %s: %s", path, strerror(errno));
		return 1;
	}
	tr_xfer x = { 0, 0 };
	tr_repo *r;
	tr_archive_settings as = { (int)tr_config_int(cfg, TR_S_PARALLEL),
				   tr_config_get(cfg, TR_S_ARCHIVE_AHEAD) ? (int)tr_config_int(cfg, TR_S_ARCHIVE_AHEAD) : -1 };
	tr_section sec;
	int rc = tr_repo_connect_lazy(&r, &rs);  /* a file uploaded ahead needs no storage */
	if (rc == TR_OK)
		rc = tr_repo_unlock_flags(r, TR_UNLOCK_CREATE | TR_UNLOCK_WRITER | TR_UNLOCK_CACHED);
	int status = 1;
	if (rc != TR_OK) {
		tr_error("archive-put %s: %s", name, tr_repo_error(r));
	} else if (admit(r, path, name, &sec) != 0) {
		status = 1;
	} else if (tr_ahead_claim(r, &as, path, name, &x)) {
		tr_info("archive-put %s: archived ahead, %llu bytes in, %llu stored", name, (unsigned long long)x.plain,
			(unsigned long long)x.stored);
		status = 0;
	} else {
		struct tr_ahead *ahead = tr_ahead_start(r, &as, path, name, &sec);
		status = tr_archive_file(r, &as, path, name, 0, &sec, &x);
		tr_ahead_finish(ahead);
	}
	if (status == 0)
		tr_timeline_watch(r, path, name);  /* warns of diverged timelines */
	tr_metric_bytes(x.plain, x.stored);
	tr_repo_close(r);
	return status;
}
