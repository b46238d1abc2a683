/*
 * totalrecall_worker.c - the TotalRecall background worker: settings,
 * registration and the main loop.
 *
 * Loaded with shared_preload_libraries = 'totalrecall'.  Once recovery has
 * finished, one worker connects to totalrecall.database and, every
 * totalrecall.naptime seconds: creates or migrates the totalrecall schema,
 * ingests the metrics spool, runs `totalrecall backup --scheduled` (the
 * binary decides whether a backup is due), `totalrecall expire` and, when a
 * backup was taken, `totalrecall verify` as child processes, and ingests
 * the spool again for their records (on an idle server, routine records
 * wait: see ingest.c).  On a standby
 * (after a demotion-like restart into recovery) it does nothing.
 *
 * Built for PostgreSQL 14 to 18; the version guards are marked.
 */
#include "worker.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/pg_authid.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#ifndef TR_BINDIR
#define TR_BINDIR "/usr/local/bin"
#endif
#ifndef TR_VERSION
#define TR_VERSION "unknown"
#endif

#ifdef PG_MODULE_MAGIC_EXT
PG_MODULE_MAGIC_EXT(.name = "totalrecall", .version = TR_VERSION);  /* PostgreSQL 18+ */
#else
PG_MODULE_MAGIC;
#endif

void _PG_init(void);
PGDLLEXPORT void tr_worker_main(Datum arg);

char *tr_database;
char *tr_binary;
int tr_naptime;
bool tr_enabled;
bool tr_test_crash_after_commit;
volatile sig_atomic_t tr_got_sigterm = false;

static char spool_dir[MAXPGPATH];

static void handle_sigterm(SIGNAL_ARGS)
{
	int save_errno = errno;

	tr_got_sigterm = true;
	SetLatch(MyLatch);
	errno = save_errno;
}

void tr_reload_if_requested(void)
{
	if (!ConfigReloadPending)
		return;
	ConfigReloadPending = false;
	ProcessConfigFile(PGC_SIGHUP);
}

static void define_settings(void)
{
	const char *db = getenv("POSTGRES_DB");

	/* Postmaster-level: the worker connects to it once, at start. */
	DefineCustomStringVariable("totalrecall.database",
	                           "Database the worker connects to and keeps totalrecall.metrics in.",
	                           "Defaults to the environment variable POSTGRES_DB, else postgres.",
	                           &tr_database, db && *db ? db : "postgres", PGC_POSTMASTER, 0,
	                           NULL, NULL, NULL);
	DefineCustomIntVariable("totalrecall.naptime",
	                        "Seconds between the worker's runs of the schedule and the ingestion.",
	                        NULL, &tr_naptime, 60, 1, 86400, PGC_SIGHUP, GUC_UNIT_S,
	                        NULL, NULL, NULL);
	DefineCustomStringVariable("totalrecall.binary", "Path of the totalrecall program the worker runs.",
	                           NULL, &tr_binary, TR_BINDIR "/totalrecall", PGC_SIGHUP, 0,
	                           NULL, NULL, NULL);
	DefineCustomBoolVariable("totalrecall.enabled",
	                         "Whether the worker runs scheduled backups and expiry (it always ingests metrics).",
	                         NULL, &tr_enabled, true, PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomBoolVariable("totalrecall.test_crash_after_commit",
	                         "Test only: abort the worker between committing and removing an ingested spool file.",
	                         NULL, &tr_test_crash_after_commit, false, PGC_SIGHUP,
	                         GUC_NOT_IN_SAMPLE | GUC_NO_SHOW_ALL, NULL, NULL, NULL);
#if PG_VERSION_NUM >= 150000
	MarkGUCPrefixReserved("totalrecall");
#else
	EmitWarningsOnPlaceholders("totalrecall");
#endif
}

/* The worker must load the library from where this copy was loaded: an
 * absolute path in shared_preload_libraries (tests, uninstalled builds)
 * works as well as the installed 'totalrecall'. */
static void library_name(char *out, size_t len)
{
	Dl_info info;

	if (dladdr((void *) _PG_init, &info) != 0 && info.dli_fname != NULL &&
	    strlen(info.dli_fname) < len)
		strlcpy(out, info.dli_fname, len);
	else
		strlcpy(out, "totalrecall", len);
}

void _PG_init(void)
{
	BackgroundWorker bgw;

	/* Settings and the worker need the postmaster: loaded any other way
	 * (LOAD, session_preload_libraries) the library does nothing. */
	if (!process_shared_preload_libraries_in_progress)
		return;
	define_settings();
	memset(&bgw, 0, sizeof bgw);
	bgw.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	/* Never on a standby: backups and the metrics table need a primary. */
	bgw.bgw_start_time = BgWorkerStart_RecoveryFinished;
	bgw.bgw_restart_time = 10;
	library_name(bgw.bgw_library_name, sizeof bgw.bgw_library_name);
	strlcpy(bgw.bgw_function_name, "tr_worker_main", sizeof bgw.bgw_function_name);
	strlcpy(bgw.bgw_name, "totalrecall worker", sizeof bgw.bgw_name);
	strlcpy(bgw.bgw_type, "totalrecall worker", sizeof bgw.bgw_type);
	RegisterBackgroundWorker(&bgw);
}

/* Children connect back as the role the worker runs as. */
static void remember_child_user(void)
{
	StartTransactionCommand();
	tr_child_user = MemoryContextStrdup(TopMemoryContext, GetUserNameFromId(BOOTSTRAP_SUPERUSERID, false));
	CommitTransactionCommand();
}

static void resolve_spool_dir(void)
{
	const char *env = getenv("TOTALRECALL_SPOOL_DIR");

	if (env != NULL && *env != '\0')
		strlcpy(spool_dir, env, sizeof spool_dir);
	else
		snprintf(spool_dir, sizeof spool_dir, "%s/totalrecall_spool", DataDir);
}

static void log_exit(const char *what, int status)
{
	if (status == -1)
		return;  /* already reported */
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		ereport(LOG, (errmsg("totalrecall: %s finished", what)));
	else if (WIFEXITED(status))
		ereport(WARNING, (errmsg("totalrecall: %s failed with exit status %d", what, WEXITSTATUS(status))));
	else if (WIFSIGNALED(status))
		ereport(WARNING, (errmsg("totalrecall: %s was terminated by signal %d", what, WTERMSIG(status))));
}

static void run_command(const char *what, const char *const *args)
{
	ereport(LOG, (errmsg("totalrecall: running %s", what)));
	log_exit(what, tr_run_child(args, spool_dir));
}

/* The schedule; after a backup was taken, expire and then an incremental
 * verify, whose record (status ok, incomplete or failed) lands in
 * totalrecall.metrics: damage is found within one schedule period. */
static void run_once(void)
{
	static const char *const backup[] = { "backup", "--scheduled", NULL };
	static const char *const expire[] = { "expire", NULL };
	static const char *const verify[] = { "verify", NULL };
	TimestampTz before;
	bool backed_up;

	if (!tr_schema_ensure())
		return;
	tr_ingest_spool_if_due(spool_dir);
	if (!tr_enabled || tr_got_sigterm)
		return;
	before = GetCurrentTimestamp();
	run_command("backup --scheduled", backup);
	backed_up = tr_spool_backup_since(spool_dir, before);
	if (!tr_got_sigterm)
		run_command("expire", expire);
	if (backed_up && !tr_got_sigterm)
		run_command("verify", verify);
	tr_ingest_spool_if_due(spool_dir);
}

/* Sleeps on the latch until naptime after started, reloading the settings
 * on SIGHUP (a new naptime applies at once) and returning on SIGTERM. */
static void sleep_after(TimestampTz started)
{
	while (!tr_got_sigterm) {
		TimestampTz next = TimestampTzPlusMilliseconds(started, (int64) tr_naptime * 1000);
		long ms = TimestampDifferenceMilliseconds(GetCurrentTimestamp(), next);

		if (ms <= 0)
			return;
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, ms, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
		tr_reload_if_requested();
	}
}

void tr_worker_main(Datum arg)
{
	bool was_standby = false;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, handle_sigterm);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnection(tr_database, NULL, 0);
	remember_child_user();
	resolve_spool_dir();
	ereport(LOG, (errmsg("totalrecall worker started: database \"%s\", spool \"%s\", binary \"%s\"",
	                     tr_database, spool_dir, tr_binary)));
	while (!tr_got_sigterm) {
		TimestampTz started = GetCurrentTimestamp();

		tr_reload_if_requested();
		/* BgWorkerStart_RecoveryFinished keeps the worker off standbys;
		 * checking each wake costs nothing and says so in the log. */
		if (RecoveryInProgress()) {
			if (!was_standby)
				ereport(LOG, (errmsg("totalrecall: server is in recovery; worker idle")));
			was_standby = true;
		} else {
			was_standby = false;
			run_once();
		}
		sleep_after(started);
	}
	ereport(LOG, (errmsg("totalrecall worker stopping")));
	/* Exit status 1: a worker ended by pg_terminate_backend() comes back
	 * after bgw_restart_time; at shutdown nothing is restarted anyway. */
	proc_exit(1);
}
