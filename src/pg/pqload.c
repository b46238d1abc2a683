/* pqload.c - libpq loaded on first use (see pqload.h). */
#include "config.h"
#include "pg/pqload.h"

#include <stdio.h>

#ifdef TR_LIBPQ_DLOPEN
#include <dlfcn.h>
#include <pthread.h>
#include <string.h>

tr_pq_api tr_pq;

#define LIBPQ_SONAME "libpq.so.5"

static const struct {
	const char *name;
	size_t offset;
} symbols[] = {
	{ "PQconnectdb", offsetof(tr_pq_api, connectdb) },
	{ "PQstatus", offsetof(tr_pq_api, status) },
	{ "PQerrorMessage", offsetof(tr_pq_api, errorMessage) },
	{ "PQfinish", offsetof(tr_pq_api, finish) },
	{ "PQsetNoticeProcessor", offsetof(tr_pq_api, setNoticeProcessor) },
	{ "PQexec", offsetof(tr_pq_api, exec) },
	{ "PQexecParams", offsetof(tr_pq_api, execParams) },
	{ "PQresultStatus", offsetof(tr_pq_api, resultStatus) },
	{ "PQresultErrorField", offsetof(tr_pq_api, resultErrorField) },
	{ "PQntuples", offsetof(tr_pq_api, ntuples) },
	{ "PQgetvalue", offsetof(tr_pq_api, getvalue) },
	{ "PQgetisnull", offsetof(tr_pq_api, getisnull) },
	{ "PQclear", offsetof(tr_pq_api, clear) },
	{ "PQserverVersion", offsetof(tr_pq_api, serverVersion) },
};

static pthread_mutex_t load_lock = PTHREAD_MUTEX_INITIALIZER;
static int loaded;

static int load_symbols(void *h, char *err, size_t errlen)
{
	for (size_t i = 0; i < sizeof symbols / sizeof symbols[0]; i++) {
		void *f = dlsym(h, symbols[i].name);
		if (!f) {
			snprintf(err, errlen, "%s has no %s: %s", LIBPQ_SONAME, symbols[i].name, dlerror());
			return -1;
		}
		/* POSIX guarantees function pointers survive a round trip through void *. */
		memcpy((char *)&tr_pq + symbols[i].offset, &f, sizeof f);
	}
	return 0;
}

int tr_pq_load(char *err, size_t errlen)
{
	int rc = 0;
	pthread_mutex_lock(&load_lock);
	if (!loaded) {
		void *h = dlopen(LIBPQ_SONAME, RTLD_NOW | RTLD_LOCAL);
		if (!h) {
			snprintf(err, errlen, "cannot load %s, needed to connect to PostgreSQL (install libpq5): %s",
				 LIBPQ_SONAME, dlerror());
			rc = -1;
		} else if (load_symbols(h, err, errlen) != 0) {
			dlclose(h);
			rc = -1;
		} else {
			loaded = 1;  /* kept loaded for the life of the process */
		}
	}
	pthread_mutex_unlock(&load_lock);
	return rc;
}
#else
int tr_pq_load(char *err, size_t errlen)
{
	(void)err;
	(void)errlen;
	return 0;  /* linked */
}
#endif
