/*
 * schema.c - creates and migrates the totalrecall schema.
 *
 * The worker is not an extension (it has no CREATE EXTENSION step), so it
 * owns its schema: totalrecall.schema_version holds the version applied,
 * and every migration after it runs in the same transaction, under a lock
 * on that table, so a crash leaves the schema at one version or the next
 * and running it again is harmless.  Migrations are append-only: a later
 * release adds an element to the array, never edits one.
 */
#include "worker.h"

#include "access/xact.h"
#include "executor/spi.h"
#include "pgstat.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"

static const char *const migrations[] = {
	/* 1: metrics, their indexes and the views for the usual questions. */
	"CREATE TABLE totalrecall.metrics ("
	"  id text PRIMARY KEY,"
	"  operation text NOT NULL,"
	"  subject text,"
	"  started_at timestamptz NOT NULL,"
	"  finished_at timestamptz NOT NULL,"
	"  bytes_read bigint NOT NULL,"
	"  bytes_stored bigint NOT NULL,"
	"  status text NOT NULL,"
	"  error text);"
	"CREATE INDEX metrics_operation_finished ON totalrecall.metrics (operation, finished_at DESC);"
	"CREATE INDEX metrics_failed_finished ON totalrecall.metrics (finished_at DESC)"
	"  WHERE status = 'failed';"
	"CREATE VIEW totalrecall.last_backup AS"
	"  SELECT subject AS label, finished_at, now() - finished_at AS age"
	"  FROM totalrecall.metrics"
	"  WHERE operation = 'backup' AND status = 'ok'"
	"  ORDER BY finished_at DESC LIMIT 1;"
	/* Always one row, so that a monitor sees NULLs rather than nothing
	 * when no WAL file was archived yet. */
	"CREATE VIEW totalrecall.archive_status AS"
	"  WITH last_ok AS ("
	"    SELECT subject, finished_at FROM totalrecall.metrics"
	"    WHERE operation = 'archive-put' AND status = 'ok'"
	"    ORDER BY finished_at DESC LIMIT 1)"
	"  SELECT l.subject AS last_archived_wal,"
	"         l.finished_at AS last_archived_at,"
	"         now() - l.finished_at AS lag,"
	"         (SELECT count(*) FROM totalrecall.metrics f"
	"          WHERE f.operation = 'archive-put' AND f.status = 'failed'"
	"            AND f.finished_at > coalesce(l.finished_at, '-infinity')) AS failures_since_success,"
	"         (SELECT max(f.finished_at) FROM totalrecall.metrics f"
	"          WHERE f.operation = 'archive-put' AND f.status = 'failed') AS last_failure_at"
	"  FROM (VALUES (1)) AS one (x) LEFT JOIN last_ok l ON true;"
	"CREATE VIEW totalrecall.failures_24h AS"
	"  SELECT id, operation, subject, started_at, finished_at, error"
	"  FROM totalrecall.metrics"
	"  WHERE status = 'failed' AND finished_at > now() - interval '24 hours'"
	"  ORDER BY finished_at DESC;",
	/* 2: the result of the last verify (the worker runs one after every
	 * scheduled backup): ok, incomplete (latest state not reachable) or
	 * failed (a backup is not restorable). */
	"CREATE VIEW totalrecall.last_verify AS"
	"  SELECT finished_at, status, error, now() - finished_at AS age"
	"  FROM totalrecall.metrics"
	"  WHERE operation = 'verify'"
	"  ORDER BY finished_at DESC LIMIT 1;",
};

#define SCHEMA_VERSION ((int) lengthof(migrations))

static void execute(const char *sql, int expected)
{
	int rc = SPI_execute(sql, false, 0);

	if (rc != expected)
		elog(ERROR, "totalrecall: schema statement failed (SPI code %d): %.60s", rc, sql);
}

static int current_version(void)
{
	bool isnull;
	Datum v;

	execute("SELECT coalesce(max(version), 0) FROM totalrecall.schema_version", SPI_OK_SELECT);
	v = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	return isnull ? 0 : DatumGetInt32(v);
}

/* Runs inside a transaction with SPI connected. */
static void migrate(void)
{
	int from;
	char sql[128];

	execute("CREATE SCHEMA IF NOT EXISTS totalrecall", SPI_OK_UTILITY);
	execute("CREATE TABLE IF NOT EXISTS totalrecall.schema_version (version integer NOT NULL)",
	        SPI_OK_UTILITY);
	/* Serialises with anyone else migrating (an administrator by hand). */
	execute("LOCK TABLE totalrecall.schema_version IN EXCLUSIVE MODE", SPI_OK_UTILITY);
	from = current_version();
	if (from > SCHEMA_VERSION) {
		ereport(WARNING, (errmsg("totalrecall: schema version %d is newer than this worker's %d;"
		                         " leaving it alone", from, SCHEMA_VERSION)));
		return;
	}
	if (from == SCHEMA_VERSION)
		return;
	for (int v = from; v < SCHEMA_VERSION; v++)
		execute(migrations[v], SPI_OK_UTILITY);
	execute("DELETE FROM totalrecall.schema_version", SPI_OK_DELETE);
	snprintf(sql, sizeof sql, "INSERT INTO totalrecall.schema_version VALUES (%d)", SCHEMA_VERSION);
	execute(sql, SPI_OK_INSERT);
	ereport(LOG, (errmsg("totalrecall: schema migrated from version %d to %d", from, SCHEMA_VERSION)));
}

bool tr_in_transaction(const char *activity, void (*fn)(void *arg), void *arg, const char *failed)
{
	MemoryContext caller = CurrentMemoryContext;
	volatile bool ok = false;

	PG_TRY();
	{
		SetCurrentStatementStartTimestamp();
		StartTransactionCommand();
		SPI_connect();
		PushActiveSnapshot(GetTransactionSnapshot());
		pgstat_report_activity(STATE_RUNNING, activity);
		fn(arg);
		SPI_finish();
		PopActiveSnapshot();
		CommitTransactionCommand();
		ok = true;
	}
	PG_CATCH();
	{
		ErrorData *e;

		MemoryContextSwitchTo(caller);
		e = CopyErrorData();
		FlushErrorState();
		AbortCurrentTransaction();
		ereport(WARNING, (errmsg("totalrecall: %s: %s", failed, e->message)));
		FreeErrorData(e);
	}
	PG_END_TRY();
	pgstat_report_activity(STATE_IDLE, NULL);
	return ok;
}

static void migrate_in_transaction(void *arg)
{
	(void) arg;
	migrate();
}

/* A failed migration must not kill the worker: it is rolled back, and
 * tried again at the next wake. */
bool tr_schema_ensure(void)
{
	return tr_in_transaction("totalrecall: schema", migrate_in_transaction, NULL,
	                         "could not create or migrate the schema");
}
