/*
 * restore_conf.h - what a restored data directory needs to recover:
 * recovery.signal (standby.signal for --standby, with primary_conninfo
 * when given), the recovery settings appended to postgresql.auto.conf
 * (restore_command calling `totalrecall archive-get` with the same
 * configuration, and the recovery target), and the repository settings in
 * <pgdata>/totalrecall_restore.conf (mode 0600, never backed up): file:
 * references are kept as references, other values are written resolved.
 */
#ifndef TR_RESTORE_CONF_H
#define TR_RESTORE_CONF_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "conf/settings.h"

#define TR_RESTORE_CONF_NAME "totalrecall_restore.conf"

/* What restore decided for the recovery settings. */
typedef struct tr_recovery {
	const char *timeline;      /* recovery_target_timeline (NULL: 'latest') */
	const char *target_time;   /* recovery_target_time as restore read it, with its zone (NULL: none) */
	uint32_t section;          /* the history section whose WAL archive-get reads (section.h; 0: not written) */
} tr_recovery;

/* Checks the target options before anything is done. */
int tr_restore_conf_check(const tr_config *cfg, char *err, size_t errlen);
int tr_restore_conf_write(const tr_config *cfg, const char *pgdata, const tr_recovery *rec, char *err,
			  size_t errlen);

/* Writes value as a postgresql.conf string: quoted, with ' doubled and
 * backslash, newline and carriage return escaped (PostgreSQL reads the
 * escapes back), so any value survives.  Exposed for tests. */
int tr_pg_conf_quote(FILE *f, const char *value);
/* The restore_command running `exe --config=conf ... archive-get`: both
 * paths quoted for sh and their '%' doubled for PostgreSQL's %p/%f
 * substitution.  malloc'ed; exposed for tests. */
char *tr_restore_command(const char *exe, const char *conf);

#endif
