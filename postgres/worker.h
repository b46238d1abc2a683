/*
 * worker.h - the TotalRecall background worker: schedules backups and
 * expiry by running the totalrecall binary, and moves the metrics spool
 * into totalrecall.metrics.  Shared between the worker's source files.
 */
#ifndef TR_WORKER_H
#define TR_WORKER_H

#include "postgres.h"

#include <signal.h>

#include "datatype/timestamp.h"

/* Settings (GUCs totalrecall.*), defined in totalrecall_worker.c. */
extern char *tr_database;
extern char *tr_binary;
extern int tr_naptime;
extern bool tr_enabled;
extern bool tr_test_crash_after_commit;

/* Set by the SIGTERM handler; the worker finishes what it must and exits. */
extern volatile sig_atomic_t tr_got_sigterm;

/* Reloads the configuration if a SIGHUP arrived since the last call. */
void tr_reload_if_requested(void);

/* Creates or migrates the totalrecall schema in one transaction.  Returns
 * false (after a WARNING) if that failed. */
bool tr_schema_ensure(void);

/* Runs fn(arg) in one transaction, connected to SPI with a snapshot, the
 * activity shown in pg_stat_activity.  An error does not kill the worker:
 * it is caught, the transaction rolled back, and a WARNING "totalrecall:
 * <failed>: <message>" reported; the caller tries again later.  Returns
 * whether it committed. */
bool tr_in_transaction(const char *activity, void (*fn)(void *arg), void *arg, const char *failed);

/* Moves the spool in dir into totalrecall.metrics, exactly once. */
void tr_ingest_spool(const char *dir);
/* The same, unless the server is idle and only routine records wait
 * (they would keep an idle server archiving a segment per archive_timeout;
 * see ingest.c). */
void tr_ingest_spool_if_due(const char *dir);
/* Whether the spool holds a successful backup that started at or after
 * since (the scheduled backup just run took one). */
bool tr_spool_backup_since(const char *dir, TimestampTz since);

/* Runs the totalrecall binary with args (NULL-terminated, without argv[0])
 * as a child process and waits for it; returns its wait status, or -1 if
 * it could not be started.  On SIGTERM or postmaster death it terminates
 * the child and exits the worker. */
int tr_run_child(const char *const *args, const char *spool_dir);

/* The role children connect as (the bootstrap superuser); set at start. */
extern char *tr_child_user;

#endif
