/*
 * clusterid.h - who a PostgreSQL cluster is: its system identifier (made
 * by initdb, and anew by pg_upgrade, which runs initdb for the new
 * cluster) and its major version.  Read from a WAL page header
 * (walheader.h), from a running server (pgconn.h), or from a stopped data
 * directory:
 *
 *   global/pg_control   starts with the system identifier (uint64) and
 *                       pg_control_version (uint32), in the byte order of
 *                       the machine that wrote it (this one)
 *   PG_VERSION          the major version, one line ("15")
 */
#ifndef TR_CLUSTERID_H
#define TR_CLUSTERID_H

#include <stddef.h>
#include <stdint.h>

typedef struct tr_cluster_id {
	uint64_t sysid;   /* system identifier */
	int pg_major;     /* PostgreSQL major version */
} tr_cluster_id;

/* The system identifier at the start of a pg_control file.  0, or -1 with
 * one line in err. */
int tr_pgcontrol_sysid(const char *path, uint64_t *sysid, char *err, size_t errlen);
/* A data directory's cluster, from global/pg_control and PG_VERSION (which
 * must agree).  0, or -1 with one line in err naming the file. */
int tr_cluster_id_from_pgdata(const char *pgdata, tr_cluster_id *id, char *err, size_t errlen);
/* A running server's: server_version_num and the system identifier as
 * pg_control_system() prints it.  0, or -1 if they do not parse. */
int tr_cluster_id_from_server(int version_num, const char *system_id, tr_cluster_id *id);
/* 1 if both name the same cluster and version. */
int tr_cluster_id_equal(const tr_cluster_id *a, const tr_cluster_id *b);
/* "system identifier 7312... (PostgreSQL 15)", for messages. */
void tr_cluster_id_format(const tr_cluster_id *id, char *out, size_t outlen);

#endif
