/*
 * drv_http.h - what every HTTP storage driver does the same way with
 * libcurl, whatever its service and signature: an in-memory request body
 * curl can rewind, the answer's body kept in memory (capped) or streamed
 * to the core's sink, and the resumption of a download that broke off:
 * the next attempt asks for the rest (Range from the byte reached,
 * If-Match on the first answer's ETag), and what comes must be exactly
 * that continuation, so the sink never sees a byte twice or misses one.
 * Compiled into each driver that uses it (s3, minio, azure).
 */
#ifndef TR_DRV_HTTP_H
#define TR_DRV_HTTP_H

#include <stddef.h>
#include <stdint.h>
#include <curl/curl.h>
#include "s3_str.h"
#include "drv_kv.h"
#include "totalrecall/driver.h"

/* A request body in memory; curl reads it and may rewind it (a request
 * sent again on another connection). */
typedef struct drv_body {
	const void *p;
	size_t len, off;
} drv_body;

/* The answer's body over the attempts of one request. */
typedef struct drv_stream {
	tr_write_fn sink;      /* a 2xx GET body streams here ... */
	void *sink_ctx;
	s3_str *body;          /* ... any other is kept here (the driver's response) */
	size_t cap;            /* the most a body kept in memory may hold */
	/* across attempts */
	int64_t delivered;     /* bytes handed to the sink */
	int64_t total;         /* the object's size, -1 unknown */
	int64_t skip;          /* bytes to drop: the server ignored our Range */
	char etag[130];        /* ETag of the first answer, for If-Match */
	/* per attempt */
	int streaming;         /* the body of a 2xx GET is arriving */
	int sink_failed;
	int resume_bad;        /* the server answered another range or object */
	int64_t range_start, range_total;  /* its Content-Range, -1 if none */
} drv_stream;

void drv_stream_init(drv_stream *s, tr_write_fn sink, void *sink_ctx, s3_str *body, size_t cap);
/* Before each attempt. */
void drv_stream_attempt(drv_stream *s);
/* After a break: the Range value to send ("bytes=N-") into range, and 1;
 * 0 when nothing was delivered yet (the If-Match value is s->etag when
 * it is not empty). */
int drv_stream_resume(const drv_stream *s, char *range, size_t len);
/* A header of the answer a driver keeps: its value goes to out. */
typedef struct drv_field {
	const char *name;
	char *out;
	size_t outlen;
} drv_field;

/* One line of the answer's head (the body of curl's header callback):
 * the status line (into *status; *content_length and every field are
 * emptied: a redirect or 100 Continue comes before the final answer),
 * Content-Length, Content-Range, the driver's fields, and the end of the
 * head, where a 2xx GET to a sink starts streaming: what follows must
 * continue what the sink already has (etag: the field holding the
 * answer's ETag).  Returns len, or 0 to stop the transfer (the server
 * answered another range or object). */
size_t drv_stream_header(drv_stream *s, const char *method, const char *line, size_t len, long *status,
			 int64_t *content_length, const char *etag, const drv_field *fields, size_t nfields);
/* curl's WRITEFUNCTION over a drv_stream: into the body (at most cap
 * bytes) or the sink. */
size_t drv_stream_write(char *data, size_t size, size_t nmemb, void *stream);
/* A streamed body whose size is known: 1 when all of it arrived. */
int drv_stream_complete(const drv_stream *s);
/* A streamed body whose size is known, short of it. */
int drv_stream_short(const drv_stream *s);
/* The failure of a request that is the transfer's, not the service's: the
 * sink refused (TR_ECALLBACK), the object changed while read (412 on
 * If-Match: TR_ETRANSIENT), curl failed (TR_ETRANSIENT when it may pass,
 * else TR_EIO).  noun names the thing ("object", "blob").  0 when the
 * failure is the service's answer (the driver words it), else the status
 * with err set. */
int drv_stream_failure(const drv_stream *s, long status, CURLcode cc, int attempts, const char *what,
		       const char *noun, char *err, size_t errlen);

/* A body kept in memory up to cap bytes: more fails the transfer
 * (CURLE_WRITE_ERROR). */
typedef struct drv_capped {
	s3_str *str;
	size_t cap;
} drv_capped;
/* curl WRITEFUNCTION over a drv_capped. */
size_t drv_capped_write(char *data, size_t size, size_t nmemb, void *ud);

/* What an attempt came to, as far as the transfer tells: the sink
 * refused, another object answered or curl failed for good (FAIL), curl
 * failed on the way (RETRY), every byte arrived and only the close failed
 * (OK); or the service answered (ANSWER): the driver reads its answer. */
enum drv_transfer { DRV_TRANSFER_OK, DRV_TRANSFER_RETRY, DRV_TRANSFER_FAIL, DRV_TRANSFER_ANSWER };
enum drv_transfer drv_transfer_outcome(const drv_stream *s, CURLcode cc);

/* The retries of one request: the backoff (full jitter from base_ms,
 * doubling up to cap_ms) grows only while attempts make no progress (a
 * download that resumes after each break is not a struggling server),
 * within `retries` more attempts and max_time seconds in all. */
typedef struct drv_retry {
	uint64_t *rng;
	int retries;
	long max_time;
	long base_ms, cap_ms;
	double start;          /* drv_now_ms() of the first attempt */
	int stuck;             /* attempts in a row without progress */
	int64_t before;        /* bytes delivered before this attempt */
} drv_retry;
void drv_retry_start(drv_retry *r, uint64_t *rng, int retries, long max_time, long base_ms, long cap_ms);
/* Around each attempt: what it delivered is its progress. */
void drv_retry_before(drv_retry *r, const drv_stream *s);
void drv_retry_after(drv_retry *r, const drv_stream *s);
/* Attempt n (from 0) failed and may be tried again: the delay before the
 * next one, or -1 when the retries or the time are spent. */
long drv_retry_delay(const drv_retry *r, int n);

/* curl READFUNCTION and SEEKFUNCTION over a drv_body. */
size_t drv_body_read(char *buf, size_t size, size_t nmemb, void *ud);
int drv_body_seek(void *ud, curl_off_t offset, int origin);

/* The options every request sets on a handle reset for it (keeping its
 * connection cache): URL, headers, no signals, timeouts (connect, and
 * without progress), the CA file, the driver's header callback (with
 * header_ud) and the body going to stream. */
void drv_curl_request(CURL *h, const char *url, struct curl_slist *headers, long timeout, const char *user_agent,
		      const char *ca_file, curl_write_callback header_cb, void *header_ud, drv_stream *stream);
/* HEAD, PUT and POST (with body as the upload), GET, or another verb. */
void drv_curl_method(CURL *h, const char *method, drv_body *body);
/* Appends "Name: value" ("Name:" for an empty value: curl then sends no
 * header of that name); the copy curl does not keep is wiped (it may be
 * an Authorization).  0 or -1 out of memory. */
int drv_add_header(struct curl_slist **list, const char *name, const char *value);
/* Frees a header list, wiping every line first. */
void drv_free_headers(struct curl_slist *list);

/* The value of header line "Name: value" into out when the name matches
 * (case-insensitive): 1 then, else 0. */
int drv_header(const char *line, size_t len, const char *name, char *out, size_t outlen);
/* The status of an "HTTP/x y reason" line, 0 if unreadable. */
long drv_status_code(const char *line, size_t len);
/* curl failures worth another attempt (the connection, not the request). */
int drv_curl_transient(CURLcode cc);
/* "Wed, 01 May 2024 12:00:00 GMT" -> seconds since the epoch, 0 if malformed. */
int64_t drv_http_date(const char *s);

#endif
