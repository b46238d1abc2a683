/*
 * metric.h - the one metrics record every command leaves in the spool.
 *
 * Process state on purpose, like the log level: main() opens the record
 * for the command it runs and closes it with the exit status; commands
 * only add what they know (subject, bytes, a status such as "absent").
 * bytes_read counts plaintext bytes (the file archived, the WAL restored,
 * the data backed up or restored); bytes_stored counts bytes in storage
 * (written by archive-put and backup, read by archive-get and restore,
 * removed by expire).
 */
#ifndef TR_METRIC_H
#define TR_METRIC_H

#include <stdint.h>

/* Opens the record.  spool_setting (the spool-dir setting) and pgdata
 * (the data directory setting) say where the spool is (spool.h,
 * tr_spool_dir); both stay the caller's until tr_metric_end. */
void tr_metric_begin(const char *operation, const char *spool_setting, const char *pgdata);
void tr_metric_subject(const char *subject);
void tr_metric_bytes(uint64_t plain, uint64_t stored);
/* Overrides the status derived from the exit code ("absent", "skipped"). */
void tr_metric_status(const char *status);
/* Names the data directory whose spool gets the record, instead of
 * PGDATA; NULL for none (only an explicit spool-dir is used then).
 * restore calls it: the directory it fills is a data directory only once
 * the restore succeeded, and a file left in an empty one blocks initdb. */
void tr_metric_pgdata(const char *pgdata);
/* One more record of this command (same spool and subject), appended
 * after its own by tr_metric_end: what a monitor counts apart, such as a
 * delta restore's bytes found in place ("restore-delta") or the damaged
 * pages a backup found ("page-checksum").  text: one line, no secrets.
 * At most four per command; later ones are dropped. */
void tr_metric_extra(const char *operation, uint64_t plain, uint64_t stored, const char *status, const char *text);
/* Appends the record to the spool, if there is one; warns on failure. */
void tr_metric_end(int exit_status);
/* Appends one record of its own at once (not at the end of the command),
 * to the spool of tr_metric_begin's settings: a warning a monitor counts,
 * such as a diverged timeline.  text: one line, no secrets. */
void tr_metric_now(const char *operation, const char *subject, const char *status, const char *text);

#endif
