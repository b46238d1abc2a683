/* pgconn.c - libpq session for backups (see pgconn.h). */
#include "config.h"
#include "pg/pgconn.h"
#include "base/log.h"
#include "base/util.h"

#include "pg/pqload.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct tr_pg {
	PGconn *conn;
};

/* Server notices ("all required WAL segments have been archived") go to
 * the debug log instead of libpq's default of stderr. */
static void notice_to_log(void *arg, const char *message)
{
	(void)arg;
	tr_debug("server: %.*s", (int)strcspn(message, "\n"), message);
}

tr_pg *tr_pg_connect_to(const char *conninfo, char *err, size_t errlen)
{
	if (tr_pq_load(err, errlen) != 0)
		return NULL;
	tr_pg *pg = calloc(1, sizeof *pg);
	if (!pg) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	/* Empty conninfo: libpq takes PGHOST, PGPORT, PGUSER, ... */
	pg->conn = PQconnectdb(conninfo ? conninfo : "");
	if (PQstatus(pg->conn) != CONNECTION_OK) {
		char *msg = PQerrorMessage(pg->conn);
		size_t n = strcspn(msg, "\n");
		snprintf(err, errlen, "cannot connect to PostgreSQL: %.*s", (int)n, msg);
		tr_pg_close(pg);
		return NULL;
	}
	PQsetNoticeProcessor(pg->conn, notice_to_log, NULL);
	PQclear(PQexec(pg->conn, "SET application_name = 'totalrecall'"));
	return pg;
}

void tr_pg_close(tr_pg *pg)
{
	if (!pg)
		return;
	PQfinish(pg->conn);
	free(pg);
}

/* Runs sql expecting tuples; NULL with err on failure. */
static PGresult *query(tr_pg *pg, const char *sql, int nparams, const char *const *params,
		       char *err, size_t errlen)
{
	PGresult *res = PQexecParams(pg->conn, sql, nparams, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		const char *msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
		snprintf(err, errlen, "query failed: %s", msg ? msg : PQerrorMessage(pg->conn));
		PQclear(res);
		return NULL;
	}
	if (PQntuples(res) < 1) {
		snprintf(err, errlen, "query returned no row: %.80s", sql);
		PQclear(res);
		return NULL;
	}
	return res;
}

char *tr_pg_value(tr_pg *pg, const char *sql, char *err, size_t errlen)
{
	PGresult *res = query(pg, sql, 0, NULL, err, errlen);
	if (!res)
		return NULL;
	char *v = strdup(PQgetisnull(res, 0, 0) ? "" : PQgetvalue(res, 0, 0));
	PQclear(res);
	return v;
}

int tr_pg_info_get(tr_pg *pg, tr_pg_info *info, char *err, size_t errlen)
{
	PGresult *res = query(pg,
		"SELECT current_setting('server_version_num'), (SELECT system_identifier FROM pg_control_system()),"
		" current_setting('data_directory'), current_setting('wal_segment_size'),"
		" pg_is_in_recovery(), current_setting('archive_mode'), current_setting('archive_command'),"
		" current_setting('data_checksums'), current_setting('block_size'),"
		" (SELECT setting FROM pg_settings WHERE name = 'segment_size')",
		0, NULL, err, errlen);
	if (!res)
		return -1;
	memset(info, 0, sizeof *info);
	info->version = atoi(PQgetvalue(res, 0, 0));
	snprintf(info->system_id, sizeof info->system_id, "%s", PQgetvalue(res, 0, 1));
	snprintf(info->data_directory, sizeof info->data_directory, "%s", PQgetvalue(res, 0, 2));
	const char *seg = PQgetvalue(res, 0, 3);
	uint64_t n = strtoull(seg, NULL, 10);
	/* "16MB" in PostgreSQL's units. */
	info->wal_segment_size = strstr(seg, "GB") ? n << 30 : strstr(seg, "MB") ? n << 20 : n;
	info->in_recovery = PQgetvalue(res, 0, 4)[0] == 't';
	snprintf(info->archive_mode, sizeof info->archive_mode, "%s", PQgetvalue(res, 0, 5));
	snprintf(info->archive_command, sizeof info->archive_command, "%s", PQgetvalue(res, 0, 6));
	info->data_checksums = strcmp(PQgetvalue(res, 0, 7), "on") == 0;
	info->block_size = atoi(PQgetvalue(res, 0, 8));
	/* pg_settings gives segment_size in blocks (unit 8kB). */
	info->relseg_blocks = strtoull(PQgetvalue(res, 0, 9), NULL, 10);
	PQclear(res);
	return 0;
}

int tr_pg_backup_start(tr_pg *pg, const char *label, uint64_t *start_lsn, uint32_t *timeline,
		       char *err, size_t errlen)
{
	const char *params[1] = { label };
	int v = PQserverVersion(pg->conn);
	const char *sql = v >= 150000 ? "SELECT pg_backup_start($1, true)::text"
				      : "SELECT pg_start_backup($1, true, false)::text";
	PGresult *res = query(pg, sql, 1, params, err, errlen);
	if (!res)
		return -1;
	int rc = tr_lsn_parse(PQgetvalue(res, 0, 0), start_lsn);
	PQclear(res);
	/* The timeline the backup starts on is that of the checkpoint it forced. */
	res = query(pg, "SELECT timeline_id FROM pg_control_checkpoint()", 0, NULL, err, errlen);
	if (!res)
		return -1;
	*timeline = (uint32_t)strtoul(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	if (rc != 0)
		snprintf(err, errlen, "pg_backup_start returned an unreadable LSN");
	return rc;
}

int tr_pg_backup_stop(tr_pg *pg, uint64_t *stop_lsn, char **label_file, char **map_file,
		      uint64_t *next_xid, char *err, size_t errlen)
{
	int v = PQserverVersion(pg->conn);
	const char *sql = v >= 150000
		? "SELECT lsn::text, labelfile, spcmapfile FROM pg_backup_stop(false)"
		: "SELECT lsn::text, labelfile, spcmapfile FROM pg_stop_backup(false, false)";
	PGresult *res = query(pg, sql, 0, NULL, err, errlen);
	if (!res)
		return -1;
	int rc = tr_lsn_parse(PQgetvalue(res, 0, 0), stop_lsn);
	*label_file = strdup(PQgetvalue(res, 0, 1));
	*map_file = strdup(PQgetisnull(res, 0, 2) ? "" : PQgetvalue(res, 0, 2));
	PQclear(res);
	char *x = tr_pg_value(pg, "SELECT txid_snapshot_xmax(txid_current_snapshot())", err, errlen);
	*next_xid = x ? strtoull(x, NULL, 10) : 0;
	free(x);
	if (rc != 0 || !*label_file || !*map_file) {
		snprintf(err, errlen, "pg_backup_stop returned unreadable results");
		return -1;
	}
	return 0;
}

int tr_pg_switch_wal(tr_pg *pg, char *walfile, size_t len, char *err, size_t errlen)
{
	PGresult *res = query(pg, "SELECT pg_walfile_name(pg_switch_wal())", 0, NULL, err, errlen);
	if (!res)
		return -1;
	snprintf(walfile, len, "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	return 0;
}

int tr_pg_stop_facts(tr_pg *pg, int64_t *stop_us, char **tablespace_names, char *err, size_t errlen)
{
	PGresult *res = query(pg,
		"SELECT (extract(epoch FROM clock_timestamp()) * 1000000)::bigint::text,"
		" coalesce((SELECT string_agg(oid::text || ' ' || encode(convert_to(spcname, 'UTF8'), 'hex'), E'\\n'"
		" ORDER BY oid) FROM pg_tablespace WHERE spcname NOT IN ('pg_default', 'pg_global')), '')",
		0, NULL, err, errlen);
	if (!res)
		return -1;
	*stop_us = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	*tablespace_names = strdup(PQgetvalue(res, 0, 1));
	PQclear(res);
	return *tablespace_names ? 0 : -1;
}

int tr_lsn_parse(const char *s, uint64_t *lsn)
{
	unsigned hi, lo;
	char tail;
	if (sscanf(s, "%X/%X%c", &hi, &lo, &tail) != 2)
		return -1;
	*lsn = (uint64_t)hi << 32 | lo;
	return 0;
}

void tr_lsn_format(uint64_t lsn, char out[24])
{
	snprintf(out, 24, "%X/%X", (unsigned)(lsn >> 32), (unsigned)lsn);
}

void tr_wal_file_name(uint32_t tli, uint64_t lsn, uint64_t seg_size, char out[25])
{
	uint64_t segno = lsn / seg_size, per_id = 0x100000000ULL / seg_size;
	snprintf(out, 25, "%08X%08X%08X", tli, (unsigned)(segno / per_id), (unsigned)(segno % per_id));
}
