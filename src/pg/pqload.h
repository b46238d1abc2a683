/*
 * pqload.h - libpq, loaded when a command first needs it.
 *
 * Only backup and check talk to PostgreSQL, but libpq brings some twenty
 * libraries (Kerberos, LDAP, GnuTLS, ...) whose loading costs about 10 ms
 * at every start of the binary: a quarter of an archive-put.  So by
 * default (configure --enable-libpq-dlopen) the binary does not link
 * libpq; pgconn.c calls it through this table, filled by dlopen of
 * libpq.so.5 on first use.  With --disable-libpq-dlopen (a static libpq,
 * as in the standalone portable build) the names below are libpq's own.
 */
#ifndef TR_PQLOAD_H
#define TR_PQLOAD_H

#include <stddef.h>
#include <libpq-fe.h>

/* 0 when libpq can be called; -1 with a one-line reason otherwise. */
int tr_pq_load(char *err, size_t errlen);

#ifdef TR_LIBPQ_DLOPEN
typedef struct tr_pq_api {
	PGconn *(*connectdb)(const char *conninfo);
	ConnStatusType (*status)(const PGconn *conn);
	char *(*errorMessage)(const PGconn *conn);
	void (*finish)(PGconn *conn);
	PQnoticeProcessor (*setNoticeProcessor)(PGconn *conn, PQnoticeProcessor proc, void *arg);
	PGresult *(*exec)(PGconn *conn, const char *query);
	PGresult *(*execParams)(PGconn *conn, const char *command, int nParams, const Oid *paramTypes,
				const char *const *paramValues, const int *paramLengths, const int *paramFormats,
				int resultFormat);
	ExecStatusType (*resultStatus)(const PGresult *res);
	char *(*resultErrorField)(const PGresult *res, int fieldcode);
	int (*ntuples)(const PGresult *res);
	char *(*getvalue)(const PGresult *res, int tup_num, int field_num);
	int (*getisnull)(const PGresult *res, int tup_num, int field_num);
	void (*clear)(PGresult *res);
	int (*serverVersion)(const PGconn *conn);
} tr_pq_api;

extern tr_pq_api tr_pq;

#define PQconnectdb tr_pq.connectdb
#define PQstatus tr_pq.status
#define PQerrorMessage tr_pq.errorMessage
#define PQfinish tr_pq.finish
#define PQsetNoticeProcessor tr_pq.setNoticeProcessor
#define PQexec tr_pq.exec
#define PQexecParams tr_pq.execParams
#define PQresultStatus tr_pq.resultStatus
#define PQresultErrorField tr_pq.resultErrorField
#define PQntuples tr_pq.ntuples
#define PQgetvalue tr_pq.getvalue
#define PQgetisnull tr_pq.getisnull
#define PQclear tr_pq.clear
#define PQserverVersion tr_pq.serverVersion
#endif

#endif
