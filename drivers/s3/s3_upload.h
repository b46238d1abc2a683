/* s3_upload.h - uploads: single PUT, multipart, and the conditional-put
 * (If-None-Match) detection they rely on. */
#ifndef TR_S3_UPLOAD_H
#define TR_S3_UPLOAD_H

#include <sys/types.h>
#include "s3_internal.h"

/* The caller's body, read one part at a time, with a one-byte lookahead
 * so a body of exactly one part still goes up as a single PUT. */
typedef struct s3_body {
	tr_read_fn read;
	void *ctx;
	int have_peek;
	unsigned char peek;
	int eof;
	int failed;          /* the read callback returned -1 */
} s3_body;

/* A part buffer that grows on demand up to cap, so small objects stay
 * cheap and big ones never take more than one part of memory. */
typedef struct s3_part {
	unsigned char *p;
	size_t len;
	size_t alloc;
	size_t cap;
} s3_part;

/* Fills part up to its cap; TR_OK (check body->eof), TR_ECALLBACK, TR_ENOMEM. */
int s3_body_fill(tr_conn *c, s3_body *body, s3_part *part);
/* 1 when the body has no byte left (peeks one ahead), 0, or -1 on error. */
int s3_body_at_end(s3_body *body);

typedef struct s3_put_opts {
	const char *checksum;  /* NULL for none */
	int if_none_match;     /* send If-None-Match: * */
} s3_put_opts;

/* Single PutObject of part.  TR_EEXIST on 412; *not_impl set on a 501 to
 * a conditional PUT (the server does not support it). */
int s3_put_single(tr_conn *c, const char *key, const s3_part *part, const s3_put_opts *o,
		  int *not_impl);

/* Multipart upload; part already holds the first full part.  A failed
 * upload is aborted.  On 501 to the conditional complete it falls back
 * to HEAD-then-complete. */
int s3_put_multipart(tr_conn *c, const char *key, s3_body *body, s3_part *part,
		     const s3_put_opts *o);

/* s3_condput.c: whether this put should send If-None-Match (*use), after
 * probing the server once when s3-conditional-put is auto. */
int s3_condput_decide(tr_conn *c, int *use);
/* The server answered 501 to a conditional request: remember it. */
void s3_condput_mark_ignored(tr_conn *c);
/* In the HEAD-then-PUT fallback of auto mode: send If-None-Match all the
 * same, in case the server honours it after all. */
int s3_condput_also_send(tr_conn *c);
/* A 412 to such a put: the server does honour it (believed, recorded). */
void s3_condput_mark_honoured(tr_conn *c);
/* HEAD-then-PUT fallback: TR_EEXIST when key exists, TR_OK when absent. */
int s3_condput_check_absent(tr_conn *c, const char *key);

#endif
