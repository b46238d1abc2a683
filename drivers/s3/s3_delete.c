/* s3_delete.c - remove_many(): S3 DeleteObjects, up to 1,000 keys in one
 * request instead of one DELETE each (expire removes chunks and WAL by the
 * thousand; DELETE is not billed, but each one waits a round trip).
 *
 * Quiet mode: the answer lists only the keys S3 could not delete.  Those
 * are tried once more one by one (S3 may answer InternalError or SlowDown
 * for a few keys of a batch), so only a key that still fails is reported.
 * DeleteObjects needs a body checksum: Content-MD5, always sent.  A
 * server without DeleteObjects (it answers 501, or 405/400 NotImplemented)
 * gets one DELETE per key from then on. */
#include "config.h"
#include "s3_internal.h"
#include "s3_base64.h"
#include "s3_http.h"

#include <bearssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Keys come from the core ([A-Za-z0-9._/-] and the like), but any byte
 * XML cannot carry is refused rather than sent mangled. */
static int add_escaped(s3_str *b, const char *key)
{
	for (const unsigned char *p = (const unsigned char *)key; *p; p++) {
		if (*p < 0x20)
			return -1;
		switch (*p) {
		case '&': s3_str_add(b, "&amp;"); break;
		case '<': s3_str_add(b, "&lt;"); break;
		case '>': s3_str_add(b, "&gt;"); break;
		case '"': s3_str_add(b, "&quot;"); break;
		case '\'': s3_str_add(b, "&apos;"); break;
		default: s3_str_addc(b, (char)*p);
		}
	}
	return 0;
}

static int build_body(tr_conn *c, const char *const *keys, size_t n, s3_str *b)
{
	s3_str_add(b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		   "<Delete xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Quiet>true</Quiet>");
	for (size_t i = 0; i < n; i++) {
		s3_str_add(b, "<Object><Key>");
		if (add_escaped(b, keys[i]) != 0)
			return s3_fail(c, TR_EINVAL, "%s: DELETE s3://%s/%.80s: a key XML cannot carry", S3_DRIVER_NAME,
				       c->conf.bucket, keys[i]);
		s3_str_add(b, "</Key></Object>");
	}
	s3_str_add(b, "</Delete>");
	return b->oom ? s3_fail(c, TR_ENOMEM, "%s: out of memory", S3_DRIVER_NAME) : TR_OK;
}

static void content_md5(const s3_str *b, char out[32])
{
	unsigned char m[16];
	br_md5_context mc;
	br_md5_init(&mc);
	br_md5_update(&mc, b->p, b->len);
	br_md5_out(&mc, m);
	s3_base64_encode(m, sizeof m, out, 32);
}

static long find_key(const char *const *keys, size_t n, const char *key)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(keys[i], key) == 0)
			return (long)i;
	return -1;
}

/* One DELETE; an absent key counts as removed. */
static int delete_one(tr_conn *c, const char *key)
{
	s3_request req = { .method = "DELETE", .key = key };
	s3_response resp;
	int rc = s3_http_do(c, &req, &resp);
	s3_response_free(&resp);
	return rc == TR_ENOENT ? TR_OK : rc;
}

/* The keys of the <Error> entries of a DeleteObjects answer, one by one:
 * DELETE each again.  TR_OK when all went. */
static int retry_errors(tr_conn *c, const char *const *keys, size_t n, const s3_str *ans, size_t *failed)
{
	const char *p = ans->p ? ans->p : "", *end = p + ans->len;
	size_t inner;
	const char *after, *e;
	while ((e = s3_xml_element(p, (size_t)(end - p), "Error", &inner, &after))) {
		char key[TR_KEY_MAX + 1], code[64] = "";
		p = after;
		if (s3_xml_text(e, inner, "Key", key, sizeof key) != 1)
			return s3_fail(c, TR_ECORRUPT, "%s: DeleteObjects s3://%s: an <Error> without a key",
				       S3_DRIVER_NAME, c->conf.bucket);
		s3_xml_text(e, inner, "Code", code, sizeof code);
		long i = find_key(keys, n, key);
		if (i < 0)
			return s3_fail(c, TR_ECORRUPT, "%s: DeleteObjects s3://%s: an error for a key not asked for",
				       S3_DRIVER_NAME, c->conf.bucket);
		s3_log(c, 3, "%s: DeleteObjects s3://%s/%s: %s; deleting it alone", S3_DRIVER_NAME, c->conf.bucket,
		       key, code);
		int rc = delete_one(c, keys[i]);
		if (rc != TR_OK) {
			if (failed)
				*failed = (size_t)i;
			return rc;
		}
	}
	return TR_OK;
}

/* One DELETE per key, for servers without DeleteObjects. */
static int remove_each(tr_conn *c, const char *const *keys, size_t n, size_t *failed)
{
	for (size_t i = 0; i < n; i++) {
		int rc = delete_one(c, keys[i]);
		if (rc != TR_OK) {
			if (failed)
				*failed = i;
			return rc;
		}
	}
	return TR_OK;
}

static int not_implemented(const s3_response *r)
{
	return r->status == 501 || ((r->status == 405 || r->status == 400) &&
				    strcmp(r->err.code, "NotImplemented") == 0);
}

int s3_remove_many(tr_conn *c, const char *const *keys, size_t n, size_t *failed)
{
	if (failed)
		*failed = 0;
	if (n == 0)
		return TR_OK;
	if (n > TR_REMOVE_MANY_MAX)
		return s3_fail(c, TR_EINVAL, "%s: DeleteObjects: %zu keys, at most %d", S3_DRIVER_NAME, n,
			       TR_REMOVE_MANY_MAX);
	for (size_t i = 0; i < n; i++)  /* before anything is removed */
		if (s3_check_key(c, "remove_many", keys[i]) != TR_OK) {
			if (failed)
				*failed = i;
			return TR_EINVAL;
		}
	if (c->no_delete_objects)
		return remove_each(c, keys, n, failed);
	s3_str body = { 0 };
	char md5[32];
	int rc = build_body(c, keys, n, &body);
	if (rc == TR_OK) {
		s3_request req = { .method = "POST", .body = body.p, .body_len = body.len };
		s3_response resp;
		content_md5(&body, md5);
		s3_request_query(&req, "delete", "");
		s3_request_header(&req, "Content-MD5", md5);
		s3_request_header(&req, "Content-Type", "application/xml");
		rc = s3_http_do(c, &req, &resp);
		if (rc == TR_OK) {
			rc = retry_errors(c, keys, n, &resp.body, failed);
		} else if (not_implemented(&resp)) {
			s3_log(c, 1, "%s: %s has no DeleteObjects: one DELETE per key", S3_DRIVER_NAME,
			       c->conf.endpoint_host);
			c->no_delete_objects = 1;
			rc = remove_each(c, keys, n, failed);
		}
		s3_response_free(&resp);
	}
	s3_str_free(&body);
	return rc;
}
