/*
 * backup_source.h - which server a backup runs on, and what a backup
 * taken on a standby needs.
 *
 * --backup-standby (TOTALRECALL_BACKUP_STANDBY):
 *   n       (default) the server at --pg-conninfo, which must be a
 *           primary; a standby there is refused, naming the option;
 *   y       the standby at --standby-conninfo (required), which must
 *           answer and be in recovery; --pg-conninfo then reaches the
 *           primary, used only to finish the WAL segment holding the
 *           backup's stop position;
 *   prefer  as y, but when the standby does not answer, is not a standby
 *           (promoted) or is of another system, the primary at
 *           --pg-conninfo is backed up instead, with a warning.
 * The data directory read is --pgdata, else the chosen server's
 * data_directory.  With y and prefer, restore reads files only from a
 * server that provably runs on that directory: the port and start time in
 * its postmaster.pid must be the server's (and, where this host sees the
 * server's processes, the session's backend must be a child of that
 * postmaster).  So a fallback to a primary on another host fails, naming
 * the directory, instead of copying the local standby's files under the
 * primary's backup start.
 *
 * On a standby, pg_backup_start and pg_backup_stop run there (the
 * non-exclusive API works in recovery).  Its stop position is the
 * standby's replay position, in a segment the primary writes and archives
 * (a standby archives nothing unless archive_mode = always), and
 * pg_backup_stop cannot switch WAL on a standby: when that segment is the
 * primary's current one, backup asks the primary for pg_switch_wal() and
 * then waits for the segment in the archive as for any backup; without a
 * primary connection it waits for the primary's archive_timeout or
 * traffic, bounded by archive-timeout.  A promotion of the standby during
 * the backup, or a change of its timeline (its upstream promoted), fails
 * the backup, which is not recorded: its files were read across two
 * histories.  The stop time is at least the commit time of the last
 * transaction the standby replayed, so that restore's choice of a backup
 * by --target-time stays exact whatever the standby's clock says.
 */
#ifndef TR_BACKUP_SOURCE_H
#define TR_BACKUP_SOURCE_H

#include <stddef.h>
#include "repo/manifest.h"
#include "pg/pgconn.h"
#include "conf/settings.h"

typedef struct tr_backup_source {
	tr_pg *pg;             /* the server backed up */
	tr_pg_info info;
	int standby;           /* pg is a standby */
	tr_pg *primary;        /* with a standby: its primary, or NULL */
	char pgdata[4096];     /* the data directory read */
} tr_backup_source;

/* Chooses and checks the server; 0, or -1 with one line in err. */
int tr_backup_source_open(const tr_config *cfg, tr_backup_source *src, char *err, size_t errlen);
void tr_backup_source_close(tr_backup_source *src);

/* On a standby, right before pg_backup_stop: still a standby, still on
 * the backup's timeline.  A no-op on a primary. */
int tr_backup_source_before_stop(tr_backup_source *src, const tr_manifest_hdr *h, char *err, size_t errlen);
/* On a standby, after pg_backup_stop: the checks again, the stop time
 * raised to the last replayed commit, h->from_standby, and the primary
 * asked to finish the stop segment.  A no-op on a primary. */
int tr_backup_source_after_stop(tr_backup_source *src, tr_manifest_hdr *h, char *err, size_t errlen);
/* pg_backup_stop failed with err: on a standby that was promoted
 * meanwhile, err is replaced with what happened. */
void tr_backup_source_explain(tr_backup_source *src, const tr_manifest_hdr *h, char *err, size_t errlen);

#endif
