/*
 * pgconn.h - the libpq session a backup holds open from pg_backup_start to
 * pg_backup_stop (the non-exclusive low-level API), and the server facts
 * the backup records.
 */
#ifndef TR_PGCONN_H
#define TR_PGCONN_H

#include <stddef.h>
#include <stdint.h>

typedef struct tr_pg tr_pg;

typedef struct tr_pg_info {
	int version;                /* server_version_num */
	char system_id[32];
	char data_directory[4096];
	uint64_t wal_segment_size;
	int in_recovery;
	char archive_mode[16];
	char archive_command[1024];
	int data_checksums;         /* data_checksums = on */
	int block_size;             /* block_size */
	uint64_t relseg_blocks;     /* segment_size / block_size: blocks in one relation segment file */
} tr_pg_info;

/* Connects with a connection string (the pg-conninfo setting) and the
 * standard PG* variables (all of them when conninfo is NULL or ""). */
tr_pg *tr_pg_connect_to(const char *conninfo, char *err, size_t errlen);
void tr_pg_close(tr_pg *pg);
int tr_pg_info_get(tr_pg *pg, tr_pg_info *info, char *err, size_t errlen);

/* pg_backup_start(label, fast): fills the start LSN and timeline. */
int tr_pg_backup_start(tr_pg *pg, const char *label, uint64_t *start_lsn, uint32_t *timeline,
		       char *err, size_t errlen);
/* pg_backup_stop(wait_for_archive): stop LSN, backup_label and
 * tablespace_map contents (malloc'ed; map may be empty), next xid. */
int tr_pg_backup_stop(tr_pg *pg, uint64_t *stop_lsn, char **label_file, char **map_file,
		      uint64_t *next_xid, char *err, size_t errlen);
/* SELECT pg_switch_wal(): the segment file name that was closed. */
int tr_pg_switch_wal(tr_pg *pg, char *walfile, size_t len, char *err, size_t errlen);
/* Right after tr_pg_backup_stop: the server's clock (Unix microseconds),
 * later than every commit before the stop LSN, and the tablespaces'
 * names ("<oid> <hex of the name>" lines, malloc'ed) so that restore can
 * move a tablespace by name. */
int tr_pg_stop_facts(tr_pg *pg, int64_t *stop_us, char **tablespace_names, char *err, size_t errlen);
/* One value of a one-row query, malloc'ed. */
char *tr_pg_value(tr_pg *pg, const char *sql, char *err, size_t errlen);

/* "16/B374D848" <-> 64-bit LSN. */
int tr_lsn_parse(const char *s, uint64_t *lsn);
void tr_lsn_format(uint64_t lsn, char out[24]);
/* WAL file name of the segment holding lsn on timeline tli. */
void tr_wal_file_name(uint32_t tli, uint64_t lsn, uint64_t seg_size, char out[25]);

#endif
