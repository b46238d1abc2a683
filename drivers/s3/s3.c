/* s3.c - the s3 and minio storage drivers: the tr_driver vtable and the
 * object operations, over s3_http (requests), s3_multipart (uploads),
 * s3_condput (put-if-absent) and s3_xml (listings). */
#include "config.h"
#include "s3_internal.h"
#include "s3_creds.h"
#include "s3_endpoint.h"
#include "s3_http.h"
#include "s3_upload.h"

#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* --- connection helpers used by every file --- */

/* xorshift64* (drv_util.h): jitter and probe names need spread, not
 * secrecy. */
uint64_t s3_random(tr_conn *c)
{
	return drv_random(&c->rng);
}

int s3_check_key(tr_conn *c, const char *op, const char *key)
{
	if (!tr_key_ok(key))
		return s3_fail(c, TR_EINVAL, "%s: %s: invalid key \"%.80s\"", S3_DRIVER_NAME, op,
			       key ? key : "");
	return TR_OK;
}

/* --- open / close --- */

static void s3_close(tr_conn *c)
{
	if (!c)
		return;
	if (c->curl)
		curl_easy_cleanup(c->curl);
	s3_creds_close(c);
	s3_conf_free(&c->conf);
	free(c);
}

static int s3_open(const tr_driver_env *env, tr_conn **out)
{
	tr_conn *c = calloc(1, sizeof *c);
	*out = c;
	if (!c)
		return TR_ENOMEM;
	if (!TR_DRIVER_ENV_OK(env))
		return s3_fail(c, TR_EINVAL, "%s: the core's driver environment is older than driver ABI version %d",
			       S3_DRIVER_NAME, TR_DRIVER_ABI_VERSION);
	c->env = *env;
	c->rng = drv_seed(c);
	int rc = s3_conf_load(c);
	if (rc != TR_OK)
		return rc;
	s3_region_cache_load(c);
	c->curl = drv_curl_handle();
	if (!c->curl)
		return s3_fail(c, TR_ENOMEM, "%s: cannot create a curl handle", S3_DRIVER_NAME);
	if ((rc = s3_creds_open(c)) != TR_OK)
		return rc;
	s3_log(c, 3, "%s: bucket %s at %s://%s, region %s, %s-style", S3_DRIVER_NAME, c->conf.bucket,
	       c->conf.scheme, c->conf.endpoint_host, c->conf.region,
	       c->conf.path_style ? "path" : "virtual-hosted");
	return TR_OK;
}

static const char *s3_errmsg(tr_conn *c)
{
	return c && c->err[0] ? c->err : "no error";
}

/* --- put --- */

/* With a size hint beyond 10,000 parts, parts grow so the upload fits. */
static size_t part_size_for(tr_conn *c, int64_t hint)
{
	size_t part = c->conf.part_size;
	if (hint > 0 && (uint64_t)hint / S3_MAX_PARTS >= part)
		part = (size_t)((uint64_t)hint / S3_MAX_PARTS + 1);
	return part;
}

static int put_body(tr_conn *c, const char *key, const tr_put_args *a, s3_put_opts *o,
		    s3_part *part)
{
	s3_body body = { .read = a->read, .ctx = a->read_ctx };
	int rc = s3_body_fill(c, &body, part);
	if (rc != TR_OK)
		return rc;
	int end = part->len < part->cap ? 1 : s3_body_at_end(&body);
	if (end < 0)
		return s3_fail(c, TR_ECALLBACK, "%s: the read callback failed", S3_DRIVER_NAME);
	if (!end)
		return s3_put_multipart(c, key, &body, part, o);
	int not_impl;
	rc = s3_put_single(c, key, part, o, &not_impl);
	if (not_impl) {
		/* The server refuses If-None-Match: remember, then HEAD-then-PUT. */
		s3_condput_mark_ignored(c);
		o->if_none_match = 0;
		rc = s3_condput_check_absent(c, key);
		if (rc == TR_OK)
			rc = s3_put_single(c, key, part, o, &not_impl);
	}
	return rc;
}

static int s3_put(tr_conn *c, const char *key, const tr_put_args *a)
{
	int rc = s3_check_key(c, "PUT", key);
	if (rc != TR_OK)
		return rc;
	if (a->checksum && strlen(a->checksum) > TR_CHECKSUM_MAX)
		return s3_fail(c, TR_EINVAL, "%s: PUT s3://%s/%s: checksum longer than %d bytes",
			       S3_DRIVER_NAME, c->conf.bucket, key, TR_CHECKSUM_MAX);
	if (a->flags & ~TR_PUT_IF_ABSENT)  /* TR_PUT_BATCH too: there is no sync() */
		return s3_fail(c, TR_ENOTSUP, "%s: PUT s3://%s/%s: flags 0x%x not supported", S3_DRIVER_NAME,
			       c->conf.bucket, key, a->flags & ~TR_PUT_IF_ABSENT);
	s3_put_opts o = { .checksum = a->checksum && *a->checksum ? a->checksum : NULL };
	int fallback = 0;
	if (a->flags & TR_PUT_IF_ABSENT) {
		if ((rc = s3_condput_decide(c, &o.if_none_match)) != TR_OK)
			return rc;
		if (!o.if_none_match) {
			if ((rc = s3_condput_check_absent(c, key)) != TR_OK)
				return rc;
			fallback = 1;
			o.if_none_match = s3_condput_also_send(c);
		}
	}
	s3_part part = { .cap = part_size_for(c, a->size_hint) };
	rc = put_body(c, key, a, &o, &part);
	free(part.p);
	if (rc == TR_EEXIST && fallback)
		s3_condput_mark_honoured(c);
	return rc;
}

/* --- get / head / remove --- */

static int s3_get(tr_conn *c, const char *key, tr_write_fn write, void *ctx)
{
	int rc = s3_check_key(c, "GET", key);
	if (rc != TR_OK)
		return rc;
	s3_request req = { .method = "GET", .key = key, .sink = write, .sink_ctx = ctx };
	s3_response resp;
	rc = s3_http_do(c, &req, &resp);
	s3_response_free(&resp);
	return rc;
}

static void fill_info(tr_object_info *info, const char *key, const s3_response *resp)
{
	snprintf(info->key, sizeof info->key, "%s", key);
	info->size = resp->content_length < 0 ? 0 : resp->content_length;
	info->mtime = s3_http_date(resp->last_modified);
	snprintf(info->checksum, sizeof info->checksum, "%s", resp->checksum);
}

/* A HEAD answer has no body, so its 404 cannot say NoSuchKey: absence is
 * confirmed by a GET of the first byte, whose 404 must carry S3's
 * NoSuchKey (s3_http.c).  A server or proxy answering 404 to anything is
 * an error, never "absent". */
static int confirm_absent(tr_conn *c, const char *key)
{
	s3_request req = { .method = "GET", .key = key };
	s3_response resp;
	s3_request_header(&req, "Range", "bytes=0-0");
	int rc = s3_http_do(c, &req, &resp);
	long st = resp.status;
	int no_bucket = strcmp(resp.err.code, "NoSuchBucket") == 0;
	s3_response_free(&resp);
	if (rc == TR_ENOENT)
		return rc;
	if (rc == TR_OK || st == 416)  /* 416: an empty object exists */
		return TR_EEXIST;
	if (st == 404 && !no_bucket)  /* a missing bucket keeps s3_http's message */
		return s3_fail(c, TR_EIO, "%s: HEAD s3://%s/%s: 404, and a GET of it got 404 without S3's "
			       "NoSuchKey: not S3 answering (a proxy or a wrong endpoint?)", S3_DRIVER_NAME,
			       c->conf.bucket, key);
	return rc;
}

/* A HEAD refused with 403 has no body to say whether the credentials or
 * a policy refused it: a GET of the first byte says (its error code). */
static int head_refusal(tr_conn *c, const char *key, int rc)
{
	s3_request req = { .method = "GET", .key = key };
	s3_response resp;
	s3_request_header(&req, "Range", "bytes=0-0");
	int grc = s3_http_do(c, &req, &resp);
	s3_response_free(&resp);
	return grc == TR_EAUTH || grc == TR_EPERM ? grc : rc;
}

int s3_head_object(tr_conn *c, const char *key, tr_object_info *info)
{
	for (int attempt = 0;; attempt++) {
		s3_request req = { .method = "HEAD", .key = key };
		s3_response resp;
		int rc = s3_http_do(c, &req, &resp);
		long st = resp.status;
		if (rc == TR_OK && info)
			fill_info(info, key, &resp);
		s3_response_free(&resp);
		if (st == 403 && rc == TR_EPERM)
			return head_refusal(c, key, rc);
		if (st != 404 || rc == TR_OK)
			return rc;
		rc = confirm_absent(c, key);
		if (rc != TR_EEXIST || attempt == 1)
			return rc == TR_EEXIST ? s3_fail(c, TR_EIO, "%s: HEAD s3://%s/%s: 404, but the object "
							 "exists", S3_DRIVER_NAME, c->conf.bucket, key) : rc;
		/* it appeared meanwhile: ask again */
	}
}

static int s3_head(tr_conn *c, const char *key, tr_object_info *info)
{
	int rc = s3_check_key(c, "HEAD", key);
	if (rc != TR_OK)
		return rc;
	memset(info, 0, sizeof *info);
	return s3_head_object(c, key, info);
}

static int s3_remove(tr_conn *c, const char *key)
{
	int rc = s3_check_key(c, "DELETE", key);
	if (rc != TR_OK)
		return rc;
	s3_request req = { .method = "DELETE", .key = key };
	s3_response resp;
	rc = s3_http_do(c, &req, &resp);
	s3_response_free(&resp);
	return rc == TR_ENOENT ? TR_OK : rc;
}

/* --- list --- */

/* S3 lists keys in ascending UTF-8 byte order, and the core relies on
 * it: a server that lists otherwise (s3rver puts "a/b" before "a-b")
 * fails loudly instead of handing the core an order it does not get. */
typedef struct ordered {
	tr_list_fn fn;
	void *ctx;
	char last[TR_KEY_MAX + 1];  /* the previous key, "" before the first */
	char bad[200];              /* "KEY after KEY" once out of order */
} ordered;

static int in_order(void *ctx, const tr_object_info *info)
{
	ordered *o = ctx;
	if (o->last[0] && strcmp(o->last, info->key) >= 0) {
		snprintf(o->bad, sizeof o->bad, "\"%.80s\" after \"%.80s\"", info->key, o->last);
		return 1;
	}
	snprintf(o->last, sizeof o->last, "%s", info->key);
	return o->fn(o->ctx, info);
}

static int list_page(tr_conn *c, const char *prefix, const char *token, tr_list_fn fn, void *ctx,
		     s3_list_page *page)
{
	s3_request req = { .method = "GET" };
	s3_response resp;
	s3_request_query(&req, "list-type", "2");
	s3_request_query(&req, "prefix", prefix ? prefix : "");
	if (token)
		s3_request_query(&req, "continuation-token", token);
	int rc = s3_http_do(c, &req, &resp);
	if (rc == TR_OK) {
		int prc = s3_xml_parse_list(resp.body.p ? resp.body.p : "", resp.body.len, fn, ctx, page);
		if (prc == -2)
			rc = s3_fail(c, TR_ENOMEM, "%s: out of memory", S3_DRIVER_NAME);
		else if (prc < 0)
			rc = s3_fail(c, TR_ECORRUPT, "%s: LIST s3://%s/%s: malformed ListObjectsV2 answer",
				     S3_DRIVER_NAME, c->conf.bucket, prefix ? prefix : "");
		else if (prc == 1)
			page->truncated = 0; /* the callback asked to stop */
	} else if (rc == TR_ENOENT) {
		rc = s3_fail(c, TR_EIO, "%s: LIST s3://%s: bucket not found", S3_DRIVER_NAME, c->conf.bucket);
	}
	s3_response_free(&resp);
	return rc;
}

static int s3_list(tr_conn *c, const char *prefix, tr_list_fn fn, void *ctx)
{
	char *token = NULL;
	int rc;
	ordered *o = calloc(1, sizeof *o);
	if (!o)
		return s3_fail(c, TR_ENOMEM, "%s: out of memory", S3_DRIVER_NAME);
	o->fn = fn;
	o->ctx = ctx;
	for (;;) {
		s3_list_page page;
		memset(&page, 0, sizeof page);
		rc = list_page(c, prefix, token, in_order, o, &page);
		free(token);
		token = page.next_token;
		if (rc != TR_OK || !page.truncated)
			break;
	}
	free(token);
	if (rc == TR_OK && o->bad[0])
		rc = s3_fail(c, TR_ECORRUPT, "%s: LIST s3://%s/%s: the server lists keys out of ascending byte order "
			     "(%s): not S3's order, which TotalRecall relies on", S3_DRIVER_NAME, c->conf.bucket,
			     prefix ? prefix : "", o->bad);
	free(o);
	return rc;
}

#define S3_CAPS (TR_CAP_PUT_IF_ABSENT | TR_CAP_CHECKSUM | TR_CAP_RANGE_RESUME | TR_CAP_REMOTE)

/* Atomic put-if-absent only where the server honours If-None-Match
 * (found out by the probe, or said by s3-conditional-put). */
static unsigned s3_caps(tr_conn *c)
{
	unsigned caps = S3_CAPS;
	int use = 0;
	if (s3_condput_decide(c, &use) != TR_OK || !use)
		caps &= ~TR_CAP_PUT_IF_ABSENT;
	return caps;
}

/* --- the vtable (describe() is in s3_describe.c) --- */

static const tr_driver s3_driver = {
	.abi_version = TR_DRIVER_ABI_VERSION,
	.struct_size = sizeof(tr_driver),
	.name = S3_DRIVER_NAME,
	.version = S3_VERSION,
	.open = s3_open,
	.close = s3_close,
	.errmsg = s3_errmsg,
	.caps = s3_caps,
	.describe = s3_describe,
	.put = s3_put,
	.get = s3_get,
	.head = s3_head,
	.list = s3_list,
	.remove = s3_remove,
	.remove_many = s3_remove_many,
	.sync = NULL,
};

__attribute__((visibility("default"))) const tr_driver *totalrecall_driver(void);

__attribute__((visibility("default"))) const tr_driver *totalrecall_driver(void)
{
	return &s3_driver;
}
