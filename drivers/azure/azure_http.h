/* azure_http.h - one authenticated Blob service request with libcurl,
 * with retries and resumable streaming downloads. */
#ifndef TR_AZURE_HTTP_H
#define TR_AZURE_HTTP_H

#include "azure_internal.h"
#include "s3_str.h"
#include "drv_http.h"

#define AZ_MAX_QUERY 5
#define AZ_MAX_HEADERS 6

typedef drv_kv az_kv;

typedef struct az_request {
	const char *method;            /* GET PUT HEAD DELETE POST */
	const char *op;                /* for messages, when not the method ("LIST") */
	const char *subject;           /* for messages, when key is NULL (the prefix) */
	const char *key;               /* blob name; NULL: the container itself */
	az_kv query[AZ_MAX_QUERY];     /* raw values, encoded when the URL is built */
	size_t nquery;
	az_kv headers[AZ_MAX_HEADERS]; /* x-ms-*, If-None-Match, Content-MD5 */
	size_t nheaders;
	const void *body;              /* PUT or POST body, NULL for none */
	size_t body_len;
	tr_write_fn sink;              /* a 2xx GET body streams here (resumable) */
	void *sink_ctx;
} az_request;

typedef struct az_response {
	long status;
	s3_str body;                   /* bodies not streamed to a sink (capped) */
	char etag[130];
	int64_t content_length;        /* -1 when absent */
	char checksum[TR_CHECKSUM_MAX + 1]; /* x-ms-meta-trchecksum */
	char last_modified[64];
	char code[64];                 /* x-ms-error-code, else <Code> of the body */
	char message[256];             /* first line of <Message> */
} az_response;

#define az_request_query(r, name, value) drv_kv_add((r)->query, &(r)->nquery, AZ_MAX_QUERY, name, value)
#define az_request_header(r, name, value) drv_kv_add((r)->headers, &(r)->nheaders, AZ_MAX_HEADERS, name, value)

/*
 * Performs req, retrying transient failures with backoff.  Returns TR_OK
 * for a 2xx answer; otherwise a TR_* status with c->err set ("azure: PUT
 * container/key: 403 AuthenticationFailed: ..."), and resp->status and
 * resp->code still describe the last answer so callers can tell
 * BlobNotFound from ContainerNotFound.  TR_ENOENT only when the service
 * said BlobNotFound.  The caller frees resp with az_response_free().
 */
int az_http_do(tr_conn *c, const az_request *req, az_response *resp);
#define az_response_free(resp) s3_str_free(&(resp)->body)

/* "Tue, 10 Sep 2024 11:22:33 GMT" -> seconds since the epoch, 0 if bad. */
#define az_http_time(s) drv_http_date(s)

/* "Tue, 10 Sep 2024 11:22:33 GMT", now. */
void az_http_date_now(char out[40]);

/* A subrequest of a Blob Batch (azure_batch.c): the target of its request
 * line (the encoded path, then the SAS with one) onto target, and its
 * Authorization value in auth ("" with a SAS), for method on key with
 * x-ms-date date.  TR_OK or a status with c->err. */
int az_sub_auth(tr_conn *c, const char *method, const char *key, const char *date, s3_str *target, char *auth,
		size_t authlen);

/* The driver's backoff before retry number attempt + 1 (drv_backoff_ms). */
long az_backoff_ms(tr_conn *c, int attempt);

/* azure_token.c: the managed identity's bearer token, fetched from the
 * IMDS endpoint or read from state-dir, refreshed a few minutes before it
 * expires.  *token stays valid until the next call on c. */
int az_token_get(tr_conn *c, const char **token);
/* The service refused the token: forget it (and its cache file). */
void az_token_drop(tr_conn *c);
void az_token_free(az_token *t);

#endif
