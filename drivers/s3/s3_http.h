/* s3_http.h - one signed S3 request with libcurl, with retries, region
 * redirects and resumable streaming downloads. */
#ifndef TR_S3_HTTP_H
#define TR_S3_HTTP_H

#include "s3_internal.h"
#include "s3_str.h"
#include "s3_xml.h"
#include "sigv4.h"
#include "drv_http.h"

#define S3_MAX_QUERY 6
#define S3_MAX_HEADERS 6

typedef struct s3_request {
	const char *method;          /* GET PUT POST HEAD DELETE */
	const char *key;             /* NULL: the bucket itself */
	s3_kv query[S3_MAX_QUERY];   /* raw values; encoded by the signer */
	size_t nquery;
	s3_kv headers[S3_MAX_HEADERS]; /* extra headers, all signed */
	size_t nheaders;
	const void *body;            /* request body, NULL for none */
	size_t body_len;
	tr_write_fn sink;            /* a 2xx GET body streams here (resumable) */
	void *sink_ctx;
	int error_in_200;            /* CompleteMultipartUpload: 200 may carry <Error> */
} s3_request;

typedef struct s3_response {
	long status;
	s3_str body;                 /* bodies not streamed to a sink (capped) */
	char etag[130];
	int64_t content_length;      /* -1 when absent */
	char checksum[TR_CHECKSUM_MAX + 1]; /* x-amz-meta-tr-checksum */
	char last_modified[64];
	char bucket_region[64];      /* x-amz-bucket-region */
	char date[64];               /* Date, the server's clock */
	char sent_checksum[48];      /* x-amz-checksum-sha256 of the body we sent, or "" */
	s3_xml_error err;            /* parsed from an error body */
} s3_response;

#define s3_request_query(r, name, value) drv_kv_add((r)->query, &(r)->nquery, S3_MAX_QUERY, name, value)
#define s3_request_header(r, name, value) drv_kv_add((r)->headers, &(r)->nheaders, S3_MAX_HEADERS, name, value)

/*
 * Performs req, retrying transient failures with backoff and following a
 * region redirect once.  Returns TR_OK for a 2xx answer; otherwise a TR_*
 * status with c->err set ("s3: PUT s3://bucket/key: 403 Code: message"),
 * and resp->status/err still describe the last answer so callers can
 * tell 404 from 412 from 501.  The caller frees resp with
 * s3_response_free().
 */
int s3_http_do(tr_conn *c, const s3_request *req, s3_response *resp);
#define s3_response_free(resp) s3_str_free(&(resp)->body)

/* "Wed, 01 May 2024 12:00:00 GMT" -> seconds since the epoch, 0 if malformed. */
#define s3_http_date(s) drv_http_date(s)

#endif
