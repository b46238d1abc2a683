/*
 * spool.h - the crash-safe local spool of metrics records.
 *
 * Every command appends one record when it finishes.  The background
 * worker in postgres/ later moves the records into totalrecall.metrics,
 * exactly once (see postgres/totalrecall_worker.c).  Commands must never
 * fail because of the spool: callers only warn when appending fails.
 *
 * The spool is the file <dir>/metrics.spool, one record a line:
 *
 *   1 \t id \t operation \t subject \t start_us \t finish_us \t
 *     bytes_read \t bytes_stored \t status \t error \n
 *
 *   1            record format version (bump when fields change)
 *   id           32 lowercase hex digits from getrandom(): the primary key
 *                in the database, which makes re-ingestion harmless
 *   start_us,    Unix epoch microseconds, signed decimal
 *   finish_us
 *   bytes_read,  unsigned decimal, 64 bits
 *   bytes_stored
 *
 * Text fields (operation, subject, status, error) are escaped so that a
 * record is exactly one line of exactly ten fields: backslash becomes
 * "\\", tab "\t", newline "\n", carriage return "\r".  A line without its
 * final newline is an interrupted append and is ignored by the reader.
 *
 * Writers take flock(LOCK_EX) on the file for the append; the worker takes
 * the same lock to rename the file away, so no append is lost in a file
 * that is being ingested.
 */
#ifndef TR_SPOOL_H
#define TR_SPOOL_H

#include <stddef.h>
#include <stdint.h>

#define TR_SPOOL_FILE "metrics.spool"
/* <data directory>/TR_SPOOL_DIRNAME: the spool of a data directory (base
 * backups leave it out). */
#define TR_SPOOL_DIRNAME "totalrecall_spool"
#define TR_SPOOL_VERSION 1
#define TR_SPOOL_FIELDS 10
/* Longest line a record can produce: every byte of the text fields may
 * double when escaped. */
#define TR_SPOOL_MAX_LINE 4096

typedef struct tr_metric {
	const char *operation;   /* "archive-put", "archive-get", "backup", "restore", "expire", "check", "verify" */
	char subject[256];       /* WAL file name or backup label, may be "" */
	int64_t start_us, finish_us;  /* Unix epoch microseconds */
	uint64_t bytes_read, bytes_stored;
	const char *status;      /* "ok", "failed", "absent", "skipped", "incomplete" (verify exit 2) */
	char error[512];         /* one line, "" if none; never contains secrets (callers guarantee) */
} tr_metric;

/* Where the spool lives: TOTALRECALL_SPOOL_DIR if set (passed as spool_setting), else
 * <pgdata>/totalrecall_spool when pgdata (TOTALRECALL_PGDATA/PGDATA) is given (a relative
 * pgdata that names no data directory from a working directory that is one means the
 * working directory: pg_ctl -D data leaves PGDATA=data to archive_command), else
 * ./totalrecall_spool when the working directory is a data directory (has PG_VERSION
 * and global/pg_control: archive_command runs there), else NULL: no spool.
 * Empty strings count as not set.  The result is in buf (or NULL if it does
 * not fit). */
const char *tr_spool_dir(const char *spool_setting, const char *pgdata, char *buf, size_t len);

/* Appends one record: creates the directory (0700) if needed, opens
 * <dir>/metrics.spool with O_APPEND|O_CREAT (0600), flock(LOCK_EX), one write() of the
 * whole line, fsync, unlock.  0 or -1 with errno (callers only warn). */
int tr_spool_append(const char *dir, const tr_metric *m);

/* Wall clock, Unix epoch microseconds. */
int64_t tr_now_us(void);

/* Formats one record, with its newline, into out (a fresh random id is
 * drawn).  Returns the length, or -1 (errno) if it does not fit or no
 * randomness is available. */
int tr_spool_format(const tr_metric *m, char *out, size_t outlen);

/* Escapes in into out as described above; -1 if out is too small. */
int tr_spool_escape(const char *in, char *out, size_t outlen);
/* Reverses tr_spool_escape in place; -1 on an unknown escape sequence or
 * a raw tab or newline. */
int tr_spool_unescape(char *s);

#endif
