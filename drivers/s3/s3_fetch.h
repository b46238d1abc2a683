/* s3_fetch.h - plain HTTP requests to credential endpoints (STS, the
 * container endpoint, EC2 instance metadata): no signing, short
 * timeouts, a bounded answer, and messages that never carry a header
 * value or a body we sent (they hold tokens). */
#ifndef TR_S3_FETCH_H
#define TR_S3_FETCH_H

#include "s3_internal.h"
#include "s3_str.h"

typedef struct s3_fetch_req {
	const char *method;        /* GET, PUT, POST */
	const char *url;
	const char *headers[4];    /* "Name: value" lines, NULL-terminated */
	const char *body;          /* NULL for none */
	size_t body_len;
	long connect_timeout_ms;
	long timeout_ms;           /* the whole request */
	int attempts;              /* tries on a connection failure or a 5xx */
	int direct;                /* never through a proxy (link-local endpoints) */
} s3_fetch_req;

typedef struct s3_fetch_resp {
	long status;
	s3_str body;               /* at most 64 KiB */
} s3_fetch_resp;

/* Performs r.  0 with resp->status set (any HTTP status), or -1 when no
 * answer came (why says what happened: refused, timed out, ...).  The
 * caller frees resp->body. */
int s3_fetch(tr_conn *c, const s3_fetch_req *r, s3_fetch_resp *resp, char *why, size_t whylen);

/* Reads a whole file of at most cap bytes into a malloc'ed, NUL-terminated
 * buffer.  0, or -1 with why set (naming the file). */
int s3_read_small_file(const char *path, size_t cap, char **out, size_t *len, char *why, size_t whylen);

/* Reads a small file (a token) into out, trimmed of surrounding blanks.
 * 0, or -1 with why set (naming the file, never its contents). */
int s3_read_token_file(const char *path, char *out, size_t outlen, char *why, size_t whylen);

#endif
