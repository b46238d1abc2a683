/*
 * check.c - `totalrecall check`: would a backup taken now be restorable?
 * Verifies the configuration, storage access, the encryption key against
 * the repository, archive_mode and archive_command in the server, then
 * forces a WAL switch and waits until that file is in the archive.
 */
#include "config.h"
#include "commands.h"
#include "log.h"
#include "metric.h"
#include "pgconn.h"
#include "repo.h"
#include "section.h"
#include "util.h"
#include "walname.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#define ARCHIVE_WAIT_SECONDS 60

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

static int wait_archived(tr_repo *r, const char *walfile, char *err, size_t errlen)
{
	char rel[64];
	tr_object_info info;
	double deadline = tr_now() + ARCHIVE_WAIT_SECONDS;
	struct timespec pause = { 0, 200 * 1000 * 1000 };
	tr_repo_wal_rel(r, walfile, rel, sizeof rel);
	for (;;) {
		int rc = tr_repo_head(r, rel, &info);
		if (rc == TR_OK)
			return 0;
		if (rc != TR_ENOTFOUND) {
			snprintf(err, errlen, "%s", r->err);
			return -1;
		}
		if (tr_now() > deadline)
			break;
		nanosleep(&pause, NULL);
	}
	snprintf(err, errlen, "WAL file %s was not archived within %d seconds: see the server log for archive_command "
		 "errors", walfile, ARCHIVE_WAIT_SECONDS);
	return -1;
}

int tr_cmd_check(tr_config *cfg, int argc, char **argv)
{
	char err[2048] = "", walfile[64];
	tr_repo r;
	tr_pg *pg = NULL;
	(void)argv;
	if (argc != 0) {
		tr_error("check: takes no arguments");
		return 1;
	}
	memset(&r, 0, sizeof r);
	int rc = tr_config_require_storage(cfg, err, sizeof err);
	if (rc == 0 && (tr_repo_connect(&r, cfg) != TR_OK || tr_repo_unlock(&r, 1) != TR_OK)) {
		snprintf(err, sizeof err, "%s", r.err);
		rc = -1;
	}
	if (rc == 0)
		tr_info("check: storage reachable, encryption key matches repository %s", r.base);
	if (rc == 0 && !(pg = tr_pg_connect(cfg, err, sizeof err)))
		rc = -1;
	if (rc == 0)
		rc = check_server(pg, err, sizeof err);
	if (rc == 0)  /* the repository's cluster (section.h) */
		rc = tr_section_admit_server(&r, pg, "check", err, sizeof err);
	if (rc == 0)
		rc = tr_pg_switch_wal(pg, walfile, sizeof walfile, err, sizeof err);
	if (rc == 0) {
		tr_metric_subject(walfile);
		rc = wait_archived(&r, walfile, err, sizeof err);
	}
	if (rc == 0)
		tr_info("check: ok, WAL file %s was archived", walfile);
	else
		tr_error("check: %s", err);
	tr_pg_close(pg);
	tr_repo_close(&r);
	return rc == 0 ? 0 : 1;
}
