/*
 * check.c - `totalrecall check`: would a backup taken now be restorable?
 * Verifies the configuration, storage access, the encryption key against
 * the repository, archive_mode and archive_command in the server, then
 * writes a WAL record (a restore point, as pgBackRest does), switches to a
 * new segment and waits until the segment holding that record is in the
 * archive.  On an idle server pg_switch_wal() alone names a segment that
 * was archived long ago, which proves nothing about archive_command now.
 */
#include "config.h"
#include "cmd/commands.h"
#include "conf/resolve.h"
#include "base/log.h"
#include "base/metric.h"
#include "pg/pgconn.h"
#include "repo/repo.h"
#include "repo/section.h"
#include "base/util.h"
#include "pg/walname.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define ARCHIVE_WAIT_SECONDS 60   /* unless archive-timeout is given */

static int check_server(tr_pg *pg, char *err, size_t errlen)
{
	tr_pg_info info;
	if (tr_pg_info_get(pg, &info, err, errlen) != 0)
		return -1;
	if (info.in_recovery) {
		snprintf(err, errlen, "the server is a standby: run check on the primary");
		return -1;
	}
	if (strcmp(info.archive_mode, "on") != 0 && strcmp(info.archive_mode, "always") != 0) {
		snprintf(err, errlen, "archive_mode is %s: set archive_mode = on and restart PostgreSQL", info.archive_mode);
		return -1;
	}
	if (!strstr(info.archive_command, "archive-put")) {
		snprintf(err, errlen, "archive_command does not call totalrecall archive-put (it is '%s')",
			 info.archive_command);
		return -1;
	}
	return 0;
}

/* A new WAL record, then a switch: walfile is the segment that holds the
 * record, which the server must now archive. */
static int force_new_segment(tr_pg *pg, char *walfile, size_t len, char *err, size_t errlen)
{
	char *name = tr_pg_value(pg, "SELECT pg_walfile_name(pg_create_restore_point('totalrecall check'))", err,
				 errlen);
	if (!name) {
		char why[1024];
		snprintf(why, sizeof why, "%s", err);
		snprintf(err, errlen, "cannot write a restore point to test archiving (check needs the right to run "
			 "pg_create_restore_point and pg_switch_wal): %s", why);
		return -1;
	}
	snprintf(walfile, len, "%s", name);
	free(name);
	char *end = tr_pg_value(pg, "SELECT pg_switch_wal()", err, errlen);
	free(end);
	return end ? 0 : -1;
}

static int archive_wait_seconds(const tr_config *cfg)
{
	return cfg->source[TR_S_ARCHIVE_TIMEOUT] > TR_SRC_DEFAULT ? (int)tr_config_int(cfg, TR_S_ARCHIVE_TIMEOUT)
								 : ARCHIVE_WAIT_SECONDS;
}

static int wait_archived(tr_repo *r, const char *walfile, int seconds, char *err, size_t errlen)
{
	char rel[64];
	tr_object_info info;
	double deadline = tr_now() + seconds;
	struct timespec pause = { 0, 200 * 1000 * 1000 };
	tr_repo_wal_rel(r, walfile, rel, sizeof rel);
	for (;;) {
		int rc = tr_repo_head(r, rel, &info);
		if (rc == TR_OK)
			return 0;
		if (rc != TR_ENOENT) {
			snprintf(err, errlen, "%s", tr_repo_error(r));
			return -1;
		}
		if (tr_now() > deadline)
			break;
		nanosleep(&pause, NULL);
	}
	snprintf(err, errlen, "WAL file %s was not archived within %d seconds: see the server log for archive_command "
		 "errors and pg_stat_archiver", walfile, seconds);
	return -1;
}

int tr_cmd_check(tr_config *cfg, int argc, char **argv)
{
	char err[2048] = "", walfile[64];
	tr_repo *r = NULL;
	tr_repo_settings rs;
	tr_pg *pg = NULL;
	(void)argv;
	if (tr_cmd_enter("check", NULL, cfg, argc, &rs) != 0)
		return 1;
	int rc = 0;
	if (tr_repo_connect(&r, &rs) != TR_OK || tr_repo_unlock(r, 1) != TR_OK) {
		snprintf(err, sizeof err, "%s", tr_repo_error(r));
		rc = -1;
	}
	if (rc == 0)
		tr_info("check: storage reachable, encryption key matches repository %s", tr_repo_base(r));
	const char *storage = rc == 0 ? tr_repo_describe(r) : NULL;
	if (storage)
		tr_info("check: storage: %s", storage);
	if (rc == 0 && !(pg = tr_pg_connect_to(tr_config_get(cfg, TR_S_PG_CONNINFO), err, sizeof err)))
		rc = -1;
	if (rc == 0)
		rc = check_server(pg, err, sizeof err);
	if (rc == 0)  /* the repository's cluster (section.h) */
		rc = tr_section_admit_server(r, pg, "check", err, sizeof err);
	if (rc == 0)
		rc = force_new_segment(pg, walfile, sizeof walfile, err, sizeof err);
	if (rc == 0) {
		tr_metric_subject(walfile);
		rc = wait_archived(r, walfile, archive_wait_seconds(cfg), err, sizeof err);
	}
	if (rc == 0)
		tr_info("check: ok, WAL file %s was archived", walfile);
	else
		tr_error("check: %s", err);
	tr_pg_close(pg);
	tr_repo_close(r);
	return rc == 0 ? 0 : 1;
}
