/*
 * ingest.c - moves the metrics spool into totalrecall.metrics, exactly once.
 *
 * The spool format is described in src/base/spool.h.  Ingestion works on whole
 * files, so that a file is the unit of both commit and deletion:
 *
 *  1. Claim: under the writers' flock, metrics.spool is renamed to
 *     metrics.<epoch_us>.ingest.  Writers check after locking that the
 *     path still names their file, so nothing is appended to a claimed
 *     file; new records go to a new metrics.spool.
 *  2. For every *.ingest file, oldest first: one transaction inserts all
 *     its complete records with ON CONFLICT (id) DO NOTHING and commits;
 *     then the file is unlinked.
 *
 * A crash before the commit loses nothing: the file is still there and is
 * ingested again.  A crash after the commit and before the unlink ingests
 * the file again too, but every record carries a random 128-bit id, the
 * primary key, so the second pass inserts nothing.  Hence exactly once.
 *
 * When (tr_ingest_spool_if_due): an insert writes WAL, and with
 * archive_timeout set, WAL on an otherwise idle server makes it switch and
 * archive a segment, whose archive-put record the next ingestion inserts,
 * and so on: one segment archived per archive_timeout, forever.  So while
 * the server is idle (no other session took a transaction id since the
 * worker's last ingestion), records that only report routine success
 * (archive-put, archive-get and expire runs that went well, scheduled
 * backups that were not due) wait in the spool, for at most
 * IDLE_INGEST_MAX seconds.  Anything else (a failure, a backup taken, a
 * verify, a check, a restore, a malformed line, a file left claimed) is
 * ingested at once, with whatever waits.
 */
#include "worker.h"
#include "base/spool.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "access/transam.h"
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "datatype/timestamp.h"
#include "executor/spi.h"
#include "nodes/pg_list.h"
#include "pgstat.h"
#include "storage/fd.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#define INGEST_SUFFIX ".ingest"
#define NARGS 9
#define IDLE_INGEST_MAX 3600  /* seconds a routine record may wait on an idle server */

typedef struct record {
	char *id, *operation, *subject, *status, *error;
	TimestampTz started, finished;
	int64 bytes_read, bytes_stored;
} record;

typedef struct file_counts {
	long inserted, duplicate, malformed, first_bad_line;
	bool incomplete_tail;
} file_counts;

static const char insert_sql[] =
	"INSERT INTO totalrecall.metrics (id, operation, subject, started_at, finished_at,"
	" bytes_read, bytes_stored, status, error)"
	" VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (id) DO NOTHING";

/* ---- parsing ---- */

static bool parse_int64(const char *s, int64 *out)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0')
		return false;
	*out = (int64) v;
	return true;
}

/* Sizes are unsigned 64-bit in the spool and bigint in the table: a value
 * above 2^63-1 cannot be stored and makes the record malformed. */
static bool parse_size(const char *s, int64 *out)
{
	return *s != '-' && parse_int64(s, out) && *out >= 0;
}

/* Unix epoch microseconds to a timestamptz, refusing what PostgreSQL
 * cannot represent. */
static bool parse_time(const char *s, TimestampTz *out)
{
	int64 us;
	const int64 shift = (int64) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * USECS_PER_DAY;

	if (!parse_int64(s, &us) || us < PG_INT64_MIN + shift)
		return false;
	*out = us - shift;
	return IS_VALID_TIMESTAMP(*out);
}

static bool is_id(const char *s)
{
	return strlen(s) == 32 && strspn(s, "0123456789abcdef") == 32;
}

/* Splits line (without its newline) into exactly TR_SPOOL_FIELDS fields. */
static bool split(char *line, char **f)
{
	int n = 0;

	f[n++] = line;
	for (char *p = line; *p; p++) {
		if (*p != '\t')
			continue;
		if (n == TR_SPOOL_FIELDS)
			return false;
		*p = '\0';
		f[n++] = p + 1;
	}
	return n == TR_SPOOL_FIELDS;
}

static bool parse_record(char *line, record *r)
{
	char *f[TR_SPOOL_FIELDS];

	if (!split(line, f) || strcmp(f[0], CppAsString2(TR_SPOOL_VERSION)) != 0 || !is_id(f[1]))
		return false;
	for (int i = 2; i < TR_SPOOL_FIELDS; i++)
		if (tr_spool_unescape(f[i]) != 0)   /* the writer's own code: spool_text.c */
			return false;
	r->id = f[1];
	r->operation = f[2];
	r->subject = f[3];
	r->status = f[8];
	r->error = f[9];
	return *r->operation && *r->status &&
		parse_time(f[4], &r->started) && parse_time(f[5], &r->finished) &&
		parse_size(f[6], &r->bytes_read) && parse_size(f[7], &r->bytes_stored);
}

/* ---- database ---- */

static Datum text_or_null(const char *s, char *null)
{
	*null = *s ? ' ' : 'n';
	return *s ? CStringGetTextDatum(s) : (Datum) 0;
}

static void insert_record(SPIPlanPtr plan, const record *r, file_counts *c)
{
	Datum v[NARGS];
	char n[NARGS + 1] = "         ";
	int rc;

	v[0] = CStringGetTextDatum(r->id);
	v[1] = CStringGetTextDatum(r->operation);
	v[2] = text_or_null(r->subject, &n[2]);
	v[3] = TimestampTzGetDatum(r->started);
	v[4] = TimestampTzGetDatum(r->finished);
	v[5] = Int64GetDatum(r->bytes_read);
	v[6] = Int64GetDatum(r->bytes_stored);
	v[7] = CStringGetTextDatum(r->status);
	v[8] = text_or_null(r->error, &n[8]);
	rc = SPI_execute_plan(plan, v, n, false, 0);
	if (rc != SPI_OK_INSERT)
		elog(ERROR, "totalrecall: insert into totalrecall.metrics failed (SPI code %d)", rc);
	if (SPI_processed > 0)
		c->inserted++;
	else
		c->duplicate++;
}

/* Reads the rest of an over-long line so that the next one starts clean. */
static void skip_line(FILE *f)
{
	int ch;

	while ((ch = getc(f)) != EOF && ch != '\n')
		;
}

static void note_malformed(file_counts *c, long lineno)
{
	if (c->malformed++ == 0)
		c->first_bad_line = lineno;
}

/* Inserts every complete record of the file.  Runs inside a transaction
 * with SPI connected; per-line memory is released line by line. */
static void insert_file(const char *path, file_counts *c)
{
	static const Oid types[NARGS] = { TEXTOID, TEXTOID, TEXTOID, TIMESTAMPTZOID, TIMESTAMPTZOID,
	                                  INT8OID, INT8OID, TEXTOID, TEXTOID };
	char line[TR_SPOOL_MAX_LINE + 2];
	MemoryContext per_line, outer = CurrentMemoryContext;
	SPIPlanPtr plan;
	FILE *f;
	long lineno = 0;

	/* The file is unlinked once the commit returns, so the commit must be
	 * flushed by then, whatever synchronous_commit says. */
	if (SPI_execute("SET LOCAL synchronous_commit = local", false, 0) != SPI_OK_UTILITY)
		elog(ERROR, "totalrecall: could not set synchronous_commit");
	plan = SPI_prepare(insert_sql, NARGS, (Oid *) types);
	if (plan == NULL)
		elog(ERROR, "totalrecall: could not prepare the insert: %s", SPI_result_code_string(SPI_result));
	/* AllocateFile: closed by the transaction's abort if an insert fails. */
	f = AllocateFile(path, "r");
	if (f == NULL)
		ereport(ERROR, (errcode_for_file_access(), errmsg("could not open \"%s\": %m", path)));
	per_line = AllocSetContextCreate(outer, "totalrecall ingest line", ALLOCSET_SMALL_SIZES);
	while (fgets(line, sizeof line, f) != NULL) {
		size_t len = strlen(line);
		record r;

		lineno++;
		if (len == 0 || line[len - 1] != '\n') {
			if (feof(f)) {
				/* An append interrupted by a crash: not a record. */
				c->incomplete_tail = true;
				break;
			}
			skip_line(f);
			note_malformed(c, lineno);
			continue;
		}
		line[len - 1] = '\0';
		if (!parse_record(line, &r)) {
			note_malformed(c, lineno);
			continue;
		}
		MemoryContextSwitchTo(per_line);
		insert_record(plan, &r, c);
		MemoryContextSwitchTo(outer);
		MemoryContextReset(per_line);
	}
	if (ferror(f))
		ereport(ERROR, (errcode_for_file_access(), errmsg("could not read \"%s\": %m", path)));
	FreeFile(f);
	MemoryContextDelete(per_line);
}

typedef struct file_job
{
	const char *path;
	file_counts *c;
} file_job;

static void insert_file_job(void *arg)
{
	file_job   *j = arg;

	insert_file(j->path, j->c);
}

/* One transaction for the whole file.  Returns false (after a WARNING) if
 * it was rolled back; the file then stays for the next attempt. */
static bool ingest_file_xact(const char *path, file_counts *c)
{
	file_job	j = {path, c};
	char		failed[MAXPGPATH + 64];

	snprintf(failed, sizeof failed, "could not ingest \"%s\", will retry", path);
	return tr_in_transaction("totalrecall: ingesting the metrics spool", insert_file_job, &j, failed);
}

static void report(const char *path, const file_counts *c)
{
	if (c->malformed > 0)
		ereport(WARNING, (errmsg("totalrecall: skipped %ld malformed line(s) in \"%s\", the first at line %ld",
		                         c->malformed, path, c->first_bad_line)));
	if (c->incomplete_tail)
		ereport(LOG, (errmsg("totalrecall: ignored an incomplete last line in \"%s\"", path)));
	if (c->duplicate > 0)
		ereport(LOG, (errmsg("totalrecall: \"%s\" was ingested before; %ld record(s) already present",
		                     path, c->duplicate)));
	ereport(DEBUG1, (errmsg("totalrecall: ingested %ld record(s) from \"%s\"", c->inserted, path)));
}

static void ingest_file(const char *path)
{
	file_counts c = { 0 };

	if (!ingest_file_xact(path, &c))
		return;
	report(path, &c);
	/* Test hook: a crash between the commit and the unlink, the window
	 * that the primary key makes harmless.  Only when rows were new, so
	 * that the restarted worker does not crash again. */
	if (tr_test_crash_after_commit && c.inserted > 0) {
		ereport(LOG, (errmsg("totalrecall: test_crash_after_commit: aborting before unlinking \"%s\"", path)));
		abort();
	}
	/* No fsync of the directory: should the unlink be lost in a crash, the
	 * file is ingested again without effect. */
	if (unlink(path) != 0)
		ereport(WARNING, (errcode_for_file_access(), errmsg("totalrecall: could not remove \"%s\": %m", path)));
}

/* ---- files ---- */

static int64 epoch_us(void)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	return (int64) tv.tv_sec * 1000000 + tv.tv_usec;
}

/* Reports failure as a WARNING: fsync_fname() would PANIC, too much for
 * a metrics spool. */
static void fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0 || fsync(fd) != 0)
		ereport(WARNING, (errcode_for_file_access(), errmsg("totalrecall: could not fsync \"%s\": %m", dir)));
	if (fd >= 0)
		close(fd);
}

/* Renames the locked spool to a fresh .ingest name; fixed-width numbers so
 * that name order is claim order. */
static void rename_locked(const char *dir, const char *spool)
{
	char target[MAXPGPATH];
	struct stat st;
	int64 us = epoch_us();

	do
		snprintf(target, sizeof target, "%s/metrics.%020lld%s", dir, (long long) us++, INGEST_SUFFIX);
	while (stat(target, &st) == 0);
	if (rename(spool, target) != 0) {
		ereport(WARNING, (errcode_for_file_access(),
		                  errmsg("totalrecall: could not rename \"%s\" to \"%s\": %m", spool, target)));
		return;
	}
	/* The claim must survive a crash as a whole, or writers could append
	 * to a file that a restarted worker no longer looks for. */
	fsync_dir(dir);
}

static void claim_spool(const char *dir)
{
	char spool[MAXPGPATH];
	struct stat st;
	int fd;

	snprintf(spool, sizeof spool, "%s/%s", dir, TR_SPOOL_FILE);
	fd = open(spool, O_RDONLY | O_CLOEXEC);  /* flock needs no write access */
	if (fd < 0) {
		if (errno != ENOENT)
			ereport(WARNING, (errcode_for_file_access(), errmsg("totalrecall: could not open \"%s\": %m", spool)));
		return;
	}
	if (flock(fd, LOCK_EX) != 0)
		ereport(WARNING, (errcode_for_file_access(), errmsg("totalrecall: could not lock \"%s\": %m", spool)));
	else if (fstat(fd, &st) == 0 && st.st_size > 0)
		rename_locked(dir, spool);
	close(fd);  /* releases the lock */
}

static int cmp_names(const ListCell *a, const ListCell *b)
{
	return strcmp((const char *) lfirst(a), (const char *) lfirst(b));
}

static bool is_ingest_name(const char *name)
{
	size_t len = strlen(name), slen = strlen(INGEST_SUFFIX);

	return strncmp(name, "metrics.", 8) == 0 && len > 8 + slen &&
		strcmp(name + len - slen, INGEST_SUFFIX) == 0;
}

/* The claimed files, oldest first (palloc'ed in the current context). */
static List *claimed_files(const char *dir)
{
	List *names = NIL;
	struct dirent *de;
	DIR *d = AllocateDir(dir);

	if (d == NULL) {
		if (errno != ENOENT)
			ereport(WARNING, (errcode_for_file_access(), errmsg("totalrecall: could not open \"%s\": %m", dir)));
		return NIL;
	}
	while ((de = ReadDirExtended(d, dir, WARNING)) != NULL)
		if (is_ingest_name(de->d_name))
			names = lappend(names, psprintf("%s/%s", dir, de->d_name));
	FreeDir(d);
	list_sort(names, cmp_names);
	return names;
}

/* ---- when to ingest ---- */

typedef bool (*record_fn)(const record *r, void *ctx);

/* Calls fn for each complete record of the file (NULL for a malformed
 * line) until it returns true; false if it never did. */
static bool any_record(const char *path, record_fn fn, void *ctx)
{
	char line[TR_SPOOL_MAX_LINE + 2];
	bool found = false;
	FILE *f = fopen(path, "r");

	if (f == NULL)
		return false;
	while (!found && fgets(line, sizeof line, f) != NULL) {
		size_t len = strlen(line);
		record r;

		if (len == 0 || line[len - 1] != '\n') {
			if (feof(f))
				break;  /* an append in progress */
			skip_line(f);
			found = fn(NULL, ctx);
			continue;
		}
		line[len - 1] = '\0';
		found = fn(parse_record(line, &r) ? &r : NULL, ctx);
	}
	fclose(f);
	return found;
}

static bool is_news(const record *r, void *ctx)
{
	if (r == NULL)
		return true;  /* malformed: ingesting reports it */
	if (strcmp(r->operation, "backup") == 0)
		return strcmp(r->status, "skipped") != 0;
	if (strcmp(r->status, "ok") != 0 && strcmp(r->status, "absent") != 0)
		return true;
	return strcmp(r->operation, "archive-put") != 0 && strcmp(r->operation, "archive-get") != 0 &&
		strcmp(r->operation, "expire") != 0;
}

static bool backup_since(const record *r, void *ctx)
{
	return r != NULL && strcmp(r->operation, "backup") == 0 && strcmp(r->status, "ok") == 0 &&
		r->started >= *(const TimestampTz *) ctx;
}

bool tr_spool_backup_since(const char *dir, TimestampTz since)
{
	char spool[MAXPGPATH];

	snprintf(spool, sizeof spool, "%s/%s", dir, TR_SPOOL_FILE);
	return any_record(spool, backup_since, &since);
}

static FullTransactionId xid_after_ingest;
static bool ingested_once;
static TimestampTz waiting_since;

/* Whether the spool holds something to ingest now (see the top). */
static bool ingest_due(const char *dir)
{
	char spool[MAXPGPATH];
	struct stat st;
	List *claimed;
	bool news;

	snprintf(spool, sizeof spool, "%s/%s", dir, TR_SPOOL_FILE);
	claimed = claimed_files(dir);
	if (claimed != NIL || !ingested_once)
		return true;
	if (stat(spool, &st) != 0 || st.st_size == 0)
		return false;  /* nothing waits */
	if (!FullTransactionIdEquals(ReadNextFullTransactionId(), xid_after_ingest))
		return true;  /* the server is not idle: this WAL causes no extra switch */
	news = any_record(spool, is_news, NULL);
	if (news)
		return true;
	if (waiting_since == 0)
		waiting_since = GetCurrentTimestamp();
	return TimestampDifferenceExceeds(waiting_since, GetCurrentTimestamp(), IDLE_INGEST_MAX * 1000);
}

void tr_ingest_spool_if_due(const char *dir)
{
	MemoryContext cxt = AllocSetContextCreate(CurrentMemoryContext, "totalrecall ingest check",
	                                          ALLOCSET_SMALL_SIZES);
	MemoryContext old = MemoryContextSwitchTo(cxt);
	bool due = ingest_due(dir);

	MemoryContextSwitchTo(old);
	MemoryContextDelete(cxt);
	if (!due) {
		ereport(DEBUG1, (errmsg("totalrecall: the server is idle; routine metrics wait in the spool")));
		return;
	}
	tr_ingest_spool(dir);
}

void tr_ingest_spool(const char *dir)
{
	MemoryContext cxt = AllocSetContextCreate(CurrentMemoryContext, "totalrecall ingest",
	                                          ALLOCSET_DEFAULT_SIZES);
	MemoryContext old = MemoryContextSwitchTo(cxt);
	List *files;
	ListCell *lc;

	claim_spool(dir);
	files = claimed_files(dir);
	foreach (lc, files) {
		ingest_file((const char *) lfirst(lc));
		if (tr_got_sigterm)
			break;
	}
	MemoryContextSwitchTo(old);
	MemoryContextDelete(cxt);
	/* Our own inserts took transaction ids: the next check compares with this. */
	xid_after_ingest = ReadNextFullTransactionId();
	ingested_once = true;
	waiting_since = 0;
}
