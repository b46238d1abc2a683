/*
 * restore_conf.h - what a restored data directory needs to recover:
 * recovery.signal, the recovery settings appended to postgresql.auto.conf
 * (restore_command calling `totalrecall archive-get` with the same
 * configuration, and the recovery target), and the repository settings in
 * <pgdata>/totalrecall_restore.conf (mode 0600, never backed up): file:
 * references are kept as references, other values are written resolved.
 */
#ifndef TR_RESTORE_CONF_H
#define TR_RESTORE_CONF_H

#include <stddef.h>
#include "settings.h"

#define TR_RESTORE_CONF_NAME "totalrecall_restore.conf"

/* Checks the target options before anything is done. */
int tr_restore_conf_check(const tr_config *cfg, char *err, size_t errlen);
/* timeline: recovery_target_timeline when --target-timeline is not given
 * (NULL: PostgreSQL's default, 'latest'). */
int tr_restore_conf_write(const tr_config *cfg, const char *pgdata, const char *timeline, char *err, size_t errlen);

#endif
