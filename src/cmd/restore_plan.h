/*
 * restore_plan.h - what restore brings back, decided from the repository
 * before anything is written: the timeline recovery follows, the backup,
 * and whether the recovery target lies in the archive at all.
 *
 * Timelines are never guessed.  Without --target-timeline, recovery
 * follows the archive's only tip (timeline.h), as PostgreSQL's 'latest'
 * would; when the archive holds diverged timelines, restore refuses and
 * names them, unless --backup names a backup only one of them continues.
 * Backups are chosen only among those on the chosen timeline's history.
 *
 * Targets are exact: a backup is usable when it ends before the target
 * (its stop time in microseconds for --target-time, its stop LSN for
 * --target-lsn, the LSN of the transaction's commit for --target-xid, of
 * the restore point for --target-name), and a target the archive does not
 * reach is refused: the newest commit in the archive for a time, the last
 * record for an LSN, the commit itself for a transaction, the restore
 * point itself for a name (the WAL is decoded, walscan.h).
 */
#ifndef TR_RESTORE_PLAN_H
#define TR_RESTORE_PLAN_H

#include <stddef.h>
#include <stdint.h>
#include "repo/backupset.h"
#include "repo/repo.h"

/* The targets restore was given, read at its entry (NULL: not given). */
typedef struct tr_restore_targets {
	const char *time, *lsn, *xid, *name;  /* --target-time, -lsn, -xid, -name, as written */
	const char *label;                     /* --backup */
	const char *timeline;                  /* --target-timeline */
	int exclusive;                         /* --target-exclusive */
} tr_restore_targets;

typedef struct tr_restore_plan {
	int chosen;               /* index in the backup set */
	char timeline[16];        /* recovery_target_timeline to write */
	char target_time[64];     /* --target-time as read: UTC, with +00 */
} tr_restore_plan;

/* 0, or -1 with one line in err. */
int tr_restore_plan_make(tr_repo *r, const tr_backupset *set, const tr_restore_targets *t, tr_restore_plan *p,
			 char *err, size_t errlen);

/* "YYYY-MM-DD HH:MM:SS[.ffffff][zone]" ('T' for the space too), zone Z,
 * UTC or a numeric offset (+HH, +HH:MM, +HHMM), UTC when none: Unix
 * microseconds and the same instant written as UTC with "+00".  -1 if it
 * is not such a time or not a valid date. */
int tr_parse_target_time(const char *s, int64_t *unix_us, char *utc, size_t utclen);

#endif
