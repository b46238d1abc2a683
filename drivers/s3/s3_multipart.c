/* s3_multipart.c - bodies read one part at a time; single PUT for bodies
 * up to one part (buffered so it has a Content-Length and can be resent);
 * multipart upload beyond.  A multipart upload that fails is aborted so
 * no orphaned parts stay behind (and keep costing storage). */
#include "config.h"
#include "s3_upload.h"
#include "s3_http.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FIRST_ALLOC ((size_t)64 * 1024)

static int part_reserve(s3_part *part, size_t want)
{
	if (want <= part->alloc)
		return 0;
	size_t n = part->alloc ? part->alloc : FIRST_ALLOC;
	while (n < want)
		n *= 2;
	if (n > part->cap)
		n = part->cap;
	unsigned char *p = realloc(part->p, n);
	if (!p)
		return -1;
	part->p = p;
	part->alloc = n;
	return 0;
}

static ssize_t body_read(s3_body *b, unsigned char *buf, size_t len)
{
	if (b->have_peek) {
		buf[0] = b->peek;
		b->have_peek = 0;
		return 1;
	}
	if (b->eof)
		return 0;
	ssize_t n = b->read(b->ctx, buf, len);
	if (n < 0)
		b->failed = 1;
	else if (n == 0)
		b->eof = 1;
	return n;
}

int s3_body_fill(tr_conn *c, s3_body *body, s3_part *part)
{
	part->len = 0;
	while (part->len < part->cap) {
		size_t want = part->len + FIRST_ALLOC < part->cap ? part->len + FIRST_ALLOC : part->cap;
		if (part_reserve(part, want) != 0)
			return s3_fail(c, TR_ENOMEM, "%s: out of memory for a %zu-byte part",
				       S3_DRIVER_NAME, part->cap);
		ssize_t n = body_read(body, part->p + part->len, part->alloc - part->len);
		if (n < 0)
			return s3_fail(c, TR_ECALLBACK, "%s: the read callback failed", S3_DRIVER_NAME);
		if (n == 0)
			break;
		part->len += (size_t)n;
	}
	return TR_OK;
}

int s3_body_at_end(s3_body *body)
{
	if (body->have_peek)
		return 0;
	if (body->eof)
		return 1;
	ssize_t n = body_read(body, &body->peek, 1);
	if (n < 0)
		return -1;
	if (n == 0)
		return 1;
	body->have_peek = 1;
	return 0;
}

int s3_put_single(tr_conn *c, const char *key, const s3_part *part, const s3_put_opts *o,
		  int *not_impl)
{
	s3_request req = { .method = "PUT", .key = key, .body = part->p, .body_len = part->len };
	s3_response resp;
	*not_impl = 0;
	if (o->checksum)
		s3_request_header(&req, "x-amz-meta-tr-checksum", o->checksum);
	if (o->if_none_match)
		s3_request_header(&req, "If-None-Match", "*");
	int rc = s3_http_do(c, &req, &resp);
	if (rc != TR_OK && o->if_none_match && resp.status == 412)
		rc = s3_fail(c, TR_EEXIST, "%s: PUT s3://%s/%s: the key already exists", S3_DRIVER_NAME,
			     c->conf.bucket, key);
	if (rc != TR_OK && o->if_none_match && resp.status == 501)
		*not_impl = 1;
	s3_response_free(&resp);
	return rc;
}

/* --- multipart --- */

typedef struct upload {
	tr_conn *c;
	const char *key;
	char upload_id[1024];
	s3_str parts;          /* <Part> elements for CompleteMultipartUpload */
	int nparts;
} upload;

static int initiate(upload *u, const s3_put_opts *o)
{
	s3_request req = { .method = "POST", .key = u->key };
	s3_response resp;
	s3_request_query(&req, "uploads", "");
	if (o->checksum)
		s3_request_header(&req, "x-amz-meta-tr-checksum", o->checksum);
	int rc = s3_http_do(u->c, &req, &resp);
	if (rc == TR_OK && s3_xml_text(resp.body.p ? resp.body.p : "", resp.body.len, "UploadId",
				       u->upload_id, sizeof u->upload_id) != 1)
		rc = s3_fail(u->c, TR_EIO, "%s: POST s3://%s/%s?uploads: no UploadId in the answer",
			     S3_DRIVER_NAME, u->c->conf.bucket, u->key);
	s3_response_free(&resp);
	return rc;
}

static int upload_part(upload *u, const s3_part *part)
{
	char num[16];
	s3_request req = { .method = "PUT", .key = u->key, .body = part->p, .body_len = part->len };
	s3_response resp;
	snprintf(num, sizeof num, "%d", u->nparts + 1);
	s3_request_query(&req, "partNumber", num);
	s3_request_query(&req, "uploadId", u->upload_id);
	int rc = s3_http_do(u->c, &req, &resp);
	if (rc == TR_OK && !resp.etag[0])
		rc = s3_fail(u->c, TR_EIO, "%s: PUT s3://%s/%s part %s: no ETag in the answer",
			     S3_DRIVER_NAME, u->c->conf.bucket, u->key, num);
	if (rc == TR_OK) {
		u->nparts++;
		/* With SHA-256 checksums, S3 wants each part's again at completion. */
		int sha = u->c->conf.feat.checksum == S3_CHECKSUM_SHA256;
		s3_str_printf(&u->parts, "<Part><PartNumber>%d</PartNumber><ETag>%s</ETag>%s%s%s</Part>",
			      u->nparts, resp.etag, sha ? "<ChecksumSHA256>" : "", sha ? resp.sent_checksum : "",
			      sha ? "</ChecksumSHA256>" : "");
		if (u->parts.oom)
			rc = s3_fail(u->c, TR_ENOMEM, "%s: out of memory", S3_DRIVER_NAME);
	}
	s3_response_free(&resp);
	return rc;
}

/* CompleteMultipartUpload; *status gets the HTTP status of the answer. */
static int complete(upload *u, int if_none_match, long *status)
{
	s3_str body = { 0 };
	s3_str_printf(&body, "<CompleteMultipartUpload>%s</CompleteMultipartUpload>",
		      u->parts.p ? u->parts.p : "");
	if (body.oom) {
		s3_str_free(&body);
		return s3_fail(u->c, TR_ENOMEM, "%s: out of memory", S3_DRIVER_NAME);
	}
	s3_request req = { .method = "POST", .key = u->key, .body = body.p, .body_len = body.len,
			   .error_in_200 = 1 };
	s3_response resp;
	s3_request_query(&req, "uploadId", u->upload_id);
	if (if_none_match)
		s3_request_header(&req, "If-None-Match", "*");
	int rc = s3_http_do(u->c, &req, &resp);
	*status = resp.status;
	s3_response_free(&resp);
	s3_str_free(&body);
	return rc;
}

/* Best effort: the caller's error stays the one reported. */
static void abort_upload(upload *u)
{
	char saved[sizeof u->c->err];
	s3_request req = { .method = "DELETE", .key = u->key };
	s3_response resp;
	memcpy(saved, u->c->err, sizeof saved);
	s3_request_query(&req, "uploadId", u->upload_id);
	if (s3_http_do(u->c, &req, &resp) != TR_OK && resp.status != 404)
		s3_log(u->c, 1, "%s: could not abort multipart upload of s3://%s/%s: %s",
		       S3_DRIVER_NAME, u->c->conf.bucket, u->key, u->c->err);
	s3_response_free(&resp);
	memcpy(u->c->err, saved, sizeof saved);
}

static int send_parts(upload *u, s3_body *body, s3_part *part)
{
	for (;;) {
		if (u->nparts >= S3_MAX_PARTS)
			return s3_fail(u->c, TR_EINVAL, "%s: PUT s3://%s/%s: more than %d parts of %zu bytes; "
				       "raise s3-part-size", S3_DRIVER_NAME, u->c->conf.bucket, u->key,
				       S3_MAX_PARTS, part->cap);
		int rc = upload_part(u, part);
		if (rc == TR_OK)
			rc = s3_body_fill(u->c, body, part);
		if (rc != TR_OK)
			return rc;
		if (part->len == 0)
			return TR_OK;
	}
}

/* Completes, honouring put-if-absent; falls back to HEAD-then-complete
 * when the server rejects the conditional complete with 501. */
static int finish(upload *u, const s3_put_opts *o)
{
	long status = 0;
	int rc = complete(u, o->if_none_match, &status);
	if (rc != TR_OK && o->if_none_match && status == 412)
		return s3_fail(u->c, TR_EEXIST, "%s: PUT s3://%s/%s: the key already exists",
			       S3_DRIVER_NAME, u->c->conf.bucket, u->key);
	if (rc != TR_OK && o->if_none_match && status == 501) {
		s3_condput_mark_ignored(u->c);
		rc = s3_condput_check_absent(u->c, u->key);
		if (rc == TR_OK)
			rc = complete(u, 0, &status);
	}
	return rc;
}

int s3_put_multipart(tr_conn *c, const char *key, s3_body *body, s3_part *part,
		     const s3_put_opts *o)
{
	upload u;
	memset(&u, 0, sizeof u);
	u.c = c;
	u.key = key;
	int rc = initiate(&u, o);
	if (rc != TR_OK)
		return rc;
	rc = send_parts(&u, body, part);
	if (rc == TR_OK)
		rc = finish(&u, o);
	if (rc != TR_OK)
		abort_upload(&u);
	s3_str_free(&u.parts);
	return rc;
}
