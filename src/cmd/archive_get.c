/*
 * archive_get.c - `totalrecall archive-get <dst> <name>`, PostgreSQL's
 * restore_command.
 *
 * Contract: exit 0 with the exact original bytes at dst; exit 1 only when
 * the file is confirmed absent from the archive (PostgreSQL asks for
 * files that do not exist in normal operation); exit TR_EXIT_FATAL (above
 * 125, so recovery stops instead of taking it for the end of WAL) on any
 * other failure.  "Absent" is confirmed in a repository confirmed present
 * (repo.h): a repository that vanished during a recovery stops it instead
 * of ending it.  The WAL is read from one history section (section.h): the
 * one restore wrote into the configuration, else the cluster's own (its
 * global/pg_control in the working directory), else the current one.
 * The bytes go to a temporary file (atomicfile.h: O_EXCL,
 * O_NOFOLLOW, in dst's directory) fsynced and renamed to dst only once the
 * whole object has been authenticated; SIGTERM, SIGINT or SIGHUP removes
 * it.
 */
#include "config.h"
#include "base/atomicfile.h"
#include "cmd/commands.h"
#include "conf/resolve.h"
#include "base/log.h"
#include "base/metric.h"
#include "cmd/prefetch.h"
#include "repo/repo.h"
#include "repo/section.h"
#include "base/util.h"
#include "pg/walname.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define GET_ATTEMPTS 3

struct fd_sink {
	int fd;
	int failed;
};

static int fd_write(void *ctx, const void *buf, size_t len)
{
	struct fd_sink *s = ctx;
	if (tr_write_full(s->fd, buf, len) != 0) {
		s->failed = errno;
		return -1;
	}
	return 0;
}

/* One attempt into a fresh temporary file.  Returns a TR_* / TR_REPO_*
 * status; on TR_OK the file is in place at dst. */
static int fetch_once(tr_repo *r, const char *rel, const char *dst, tr_xfer *x)
{
	tr_atomic a;
	if (tr_atomic_open(&a, dst, 0600) != 0) {
		tr_repo_set_error(r, "cannot create a temporary file beside %s: %s", dst, strerror(errno));
		return TR_EIO;
	}
	tr_atomic_guard_signals(&a);
	struct fd_sink s = { a.fd, 0 };
	int rc = tr_repo_get(r, rel, fd_write, &s, x);
	if (s.failed)
		tr_repo_set_error(r, "cannot write beside %s: %s", dst, strerror(s.failed));
	if (rc == TR_OK && tr_atomic_commit(&a, 0) != 0) {
		tr_repo_set_error(r, "cannot put %s in place: %s", dst, strerror(errno));
		rc = TR_EIO;
	}
	tr_atomic_abort(&a);
	tr_atomic_unguard();
	return rc;
}

/* What another attempt may cure: a failure the driver calls temporary
 * (its own retries were exhausted), and damage on the way (a body that
 * fails authentication is read again).  A refusal (credentials,
 * permissions) or a permanent failure stops at once: recovery then stops
 * with its message instead of waiting for the same answer three times. */
static int worth_again(int rc)
{
	return rc == TR_ETRANSIENT || rc == TR_REPO_ECORRUPT;
}

/* Retries what may be transient; refreshes stale cached keys once. */
static int fetch(tr_repo *r, const char *rel, const char *dst, tr_xfer *x)
{
	int rc = TR_EIO, relocked = 0;
	for (int attempt = 0; attempt < GET_ATTEMPTS; attempt++) {
		rc = fetch_once(r, rel, dst, x);
		if (rc == TR_REPO_EKEY && tr_repo_keys_from_cache(r) && !relocked) {
			relocked = 1;
			if ((rc = tr_repo_relock(r)) != TR_OK)
				return rc;
			continue;
		}
		if (!worth_again(rc))
			break;
		if (attempt + 1 < GET_ATTEMPTS)
			tr_warn("archive-get: %s (attempt %d of %d)", tr_repo_error(r), attempt + 1, GET_ATTEMPTS);
	}
	return rc;
}

static int get_file(tr_repo *r, const char *dst, const char *name)
{
	char rel[256];
	tr_xfer x = { 0, 0 };
	double t0 = tr_now();

	tr_repo_wal_rel(r, name, rel, sizeof rel);
	int rc = fetch(r, rel, dst, &x);
	if (rc == TR_ENOENT) {
		tr_metric_status("absent");
		tr_info("archive-get %s: not in the archive", name);
		return 1;
	}
	if (rc == TR_ETRANSIENT) {
		tr_error("archive-get %s: %s; recovery stops here rather than take it for the end of the archive: "
			 "start the server again once the storage answers", name, tr_repo_error(r));
		return TR_EXIT_FATAL;
	}
	if (rc != TR_OK) {
		tr_error("archive-get %s: %s", name, tr_repo_error(r));
		return TR_EXIT_FATAL;
	}
	tr_metric_bytes(x.plain, x.stored);
	tr_info("archive-get %s: %llu bytes stored, %llu out, %.0f ms", name, (unsigned long long)x.stored,
		(unsigned long long)x.plain, (tr_now() - t0) * 1000);
	return 0;
}

int tr_cmd_archive_get(tr_config *cfg, int argc, char **argv)
{
	char err[2048];
	tr_repo_settings rs;
	if (argc != 2) {
		tr_error("archive-get: expected two arguments, the destination path (%%p) and the file name (%%f)");
		return TR_EXIT_FATAL;
	}
	const char *dst = argv[0], *name = argv[1];
	tr_metric_subject(name);
	if (tr_wal_kind(name) == TR_WAL_NONE) {
		tr_error("archive-get: %s is not a WAL file name", name);
		return TR_EXIT_FATAL;
	}
	if (tr_conf_storage(cfg, &rs, err, sizeof err) != 0) {
		tr_error("archive-get: %s", err);
		return TR_EXIT_FATAL;
	}
	tr_xfer x = { 0, 0 };
	tr_repo *r;
	int prefetch = (int)tr_config_int(cfg, TR_S_PREFETCH);
	uint32_t section = 0;
	int rc = tr_repo_connect(&r, &rs);
	if (rc == TR_OK)
		rc = tr_repo_unlock_flags(r, TR_UNLOCK_CACHED);
	int status = TR_EXIT_FATAL;
	if (rc != TR_OK) {
		tr_error("archive-get %s: %s", name, tr_repo_error(r));
	} else if (tr_section_for_reading(r, (uint32_t)tr_config_int(cfg, TR_S_SECTION), &section, err,
					  sizeof err) != 0) {
		tr_error("archive-get %s: %s", name, err);
	} else if (tr_prefetch_take(r, prefetch, name, dst, &x) == 0) {
		tr_metric_bytes(x.plain, x.stored);
		tr_info("archive-get %s: prefetched, %llu bytes", name, (unsigned long long)x.plain);
		status = 0;
	} else {
		status = get_file(r, dst, name);
	}
	tr_repo_close(r);
	if (status == 0)
		tr_prefetch_spawn(&rs, prefetch, section, name);
	return status;
}
