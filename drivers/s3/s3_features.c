/* s3_features.c - bucket features: settings and request headers (see
 * s3_features.h). */
#include "config.h"
#include "s3_features.h"
#include "s3_base64.h"
#include "format/sha256ni.h"

#include <bearssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* --- settings --- */

static const char *get(tr_conn *c, const char *name)
{
	const char *v = c->env.setting ? c->env.setting(c->env.ctx, name) : NULL;
	return v && *v ? v : NULL;
}

static int dup_into(const char *v, char **out)
{
	*out = v ? strdup(v) : NULL;
	return v && !*out ? -1 : 0;
}

int s3_storage_class_check(const char *cls, char *why, size_t whylen)
{
	size_t n = strlen(cls);
	if (n == 0 || n > 64 || strspn(cls, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") != n) {
		snprintf(why, whylen, "\"%.64s\" is not a storage class (e.g. STANDARD, STANDARD_IA, "
			 "INTELLIGENT_TIERING, GLACIER_IR)", cls);
		return -1;
	}
	if (strcmp(cls, "GLACIER") == 0 || strcmp(cls, "DEEP_ARCHIVE") == 0) {
		snprintf(why, whylen, "%s objects cannot be read without a restore request first, so "
			 "archive-get and restore would fail; use GLACIER_IR, or a lifecycle rule for old backups",
			 cls);
		return -1;
	}
	return 0;
}

static int load_classes(tr_conn *c, s3_features *f)
{
	char why[300];
	const char *names[2] = { "s3-storage-class", "s3-wal-storage-class" };
	char **dst[2] = { &f->storage_class, &f->wal_storage_class };
	for (int i = 0; i < 2; i++) {
		const char *v = get(c, names[i]);
		if (v && s3_storage_class_check(v, why, sizeof why) != 0)
			return s3_fail(c, TR_EINVAL, "%s: setting %s: %s", S3_DRIVER_NAME, names[i], why);
		if (dup_into(v, dst[i]) != 0)
			return s3_fail(c, TR_ENOMEM, "%s: out of memory", S3_DRIVER_NAME);
	}
	if (dup_into(get(c, "wal-key-prefix"), &f->wal_prefix) != 0)
		return s3_fail(c, TR_ENOMEM, "%s: out of memory", S3_DRIVER_NAME);
	return TR_OK;
}

static int loopback_host(const char *hostport)
{
	return strncmp(hostport, "127.", 4) == 0 || strncmp(hostport, "[::1]", 5) == 0 ||
	       strncmp(hostport, "localhost", 9) == 0;
}

/* SSE-C: a base64 AES-256 key; its MD5 goes with it (S3 checks both). */
static int load_ssec(tr_conn *c, s3_features *f, const char *v)
{
	unsigned char key[48], md5[16];
	br_md5_context m;
	long n = s3_base64_decode(v, key, sizeof key);
	if (n != 32) {
		memset(key, 0, sizeof key);
		return s3_fail(c, TR_EINVAL, "%s: setting s3-sse-customer-key: must be the base64 encoding of "
			       "32 bytes (e.g. from openssl rand -base64 32)", S3_DRIVER_NAME);
	}
	if (strcmp(c->conf.scheme, "https") != 0 && !loopback_host(c->conf.endpoint_host)) {
		memset(key, 0, sizeof key);
		return s3_fail(c, TR_EINVAL, "%s: setting s3-sse-customer-key: needs an https endpoint (the key "
			       "is sent with every request)", S3_DRIVER_NAME);
	}
	br_md5_init(&m);
	br_md5_update(&m, key, 32);
	br_md5_out(&m, md5);
	memset(key, 0, sizeof key);
	s3_base64_encode(md5, sizeof md5, f->ssec_key_md5, sizeof f->ssec_key_md5);
	return dup_into(v, &f->ssec_key) ? s3_fail(c, TR_ENOMEM, "%s: out of memory", S3_DRIVER_NAME) : TR_OK;
}

static int load_sse(tr_conn *c, s3_features *f)
{
	const char *sse = get(c, "s3-sse"), *kms = get(c, "s3-sse-kms-key-id");
	const char *ssec = get(c, "s3-sse-customer-key");
	if (sse && strcmp(sse, "AES256") != 0 && strcmp(sse, "aws:kms") != 0)
		return s3_fail(c, TR_EINVAL, "%s: setting s3-sse: \"%s\" is not AES256 or aws:kms", S3_DRIVER_NAME, sse);
	if (kms && sse && strcmp(sse, "aws:kms") != 0)
		return s3_fail(c, TR_EINVAL, "%s: setting s3-sse-kms-key-id: needs s3-sse=aws:kms", S3_DRIVER_NAME);
	if (ssec && (sse || kms))
		return s3_fail(c, TR_EINVAL, "%s: setting s3-sse-customer-key: SSE-C excludes s3-sse and "
			       "s3-sse-kms-key-id", S3_DRIVER_NAME);
	if (kms && !sse)
		sse = "aws:kms"; /* a KMS key says which encryption */
	if (dup_into(sse, &f->sse) != 0 || dup_into(kms, &f->sse_kms_key_id) != 0)
		return s3_fail(c, TR_ENOMEM, "%s: out of memory", S3_DRIVER_NAME);
	return ssec ? load_ssec(c, f, ssec) : TR_OK;
}

static int truthy(const char *v)
{
	return v && (strcmp(v, "1") == 0 || strcasecmp(v, "true") == 0 || strcasecmp(v, "yes") == 0 ||
		     strcasecmp(v, "on") == 0);
}

int s3_features_load(tr_conn *c)
{
	s3_features *f = &c->conf.feat;
	const char *ck = get(c, "s3-checksum");
	int rc;
	if (!ck || strcmp(ck, "sha256") == 0)
		f->checksum = S3_CHECKSUM_SHA256;
	else if (strcmp(ck, "md5") == 0)
		f->checksum = S3_CHECKSUM_MD5;
	else if (strcmp(ck, "none") == 0)
		f->checksum = S3_CHECKSUM_NONE;
	else
		return s3_fail(c, TR_EINVAL, "%s: setting s3-checksum: \"%s\" is not sha256, md5 or none",
			       S3_DRIVER_NAME, ck);
	f->requester_pays = truthy(get(c, "s3-requester-pays"));
	if ((rc = load_sse(c, f)) != TR_OK || (rc = load_classes(c, f)) != TR_OK)
		return rc;
	return TR_OK;
}

void s3_features_free(s3_features *f)
{
	if (f->ssec_key)
		memset(f->ssec_key, 0, strlen(f->ssec_key));
	free(f->ssec_key);
	free(f->sse);
	free(f->sse_kms_key_id);
	free(f->storage_class);
	free(f->wal_storage_class);
	free(f->wal_prefix);
	memset(f, 0, sizeof *f);
}

/* --- requests --- */

static int has_query(const s3_request *req, const char *name)
{
	for (size_t i = 0; i < req->nquery; i++)
		if (strcmp(req->query[i].name, name) == 0)
			return 1;
	return 0;
}

enum s3_op s3_request_op(const s3_request *req)
{
	if (!req->key)
		return S3_OP_OTHER;
	if (strcmp(req->method, "PUT") == 0)
		return has_query(req, "partNumber") ? S3_OP_UPLOAD_PART : S3_OP_PUT_OBJECT;
	if (strcmp(req->method, "POST") == 0)
		return has_query(req, "uploads") ? S3_OP_CREATE_MPU
		       : has_query(req, "uploadId") ? S3_OP_COMPLETE_MPU : S3_OP_OTHER;
	if (strcmp(req->method, "GET") == 0)
		return S3_OP_GET_OBJECT;
	if (strcmp(req->method, "HEAD") == 0)
		return S3_OP_HEAD_OBJECT;
	return S3_OP_OTHER;
}

void s3_digests_compute(const tr_conn *c, const void *body, size_t len, s3_digests *d)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char h[32];
	if (tr_sha256ni_available()) {  /* BearSSL's portable SHA-256 is a few hundred MB/s */
		tr_sha256ni s;
		tr_sha256ni_init(&s);
		tr_sha256ni_update(&s, body, len);
		tr_sha256ni_out(&s, h);
	} else {
		br_sha256_context s;
		br_sha256_init(&s);
		br_sha256_update(&s, body, len);
		br_sha256_out(&s, h);
	}
	for (int i = 0; i < 32; i++) {
		d->sha256_hex[2 * i] = hex[h[i] >> 4];
		d->sha256_hex[2 * i + 1] = hex[h[i] & 15];
	}
	d->sha256_hex[64] = '\0';
	s3_base64_encode(h, sizeof h, d->sha256_b64, sizeof d->sha256_b64);
	d->md5_b64[0] = '\0';
	if (c->conf.feat.checksum == S3_CHECKSUM_MD5) {
		unsigned char m[16];
		br_md5_context mc;
		br_md5_init(&mc);
		br_md5_update(&mc, body, len);
		br_md5_out(&mc, m);
		s3_base64_encode(m, sizeof m, d->md5_b64, sizeof d->md5_b64);
	}
}

const char *s3_storage_class_for(const s3_features *f, const char *key)
{
	int wal = f->wal_prefix && key && strncmp(key, f->wal_prefix, strlen(f->wal_prefix)) == 0;
	if (wal && f->wal_storage_class)
		return f->wal_storage_class;
	return f->storage_class;
}

static void add(s3_kv *hdr, size_t *n, size_t max, const char *name, const char *value)
{
	if (*n < max && value)
		hdr[(*n)++] = (s3_kv){ name, value };
}

static void add_checksum(const s3_features *f, enum s3_op op, const s3_digests *d, s3_kv *hdr, size_t *n,
			 size_t max)
{
	int body = op == S3_OP_PUT_OBJECT || op == S3_OP_UPLOAD_PART;
	if (f->checksum == S3_CHECKSUM_SHA256 && body) {
		add(hdr, n, max, "x-amz-checksum-sha256", d->sha256_b64);
		/* What the SDKs send with it; Object Lock checks for it. */
		add(hdr, n, max, "x-amz-sdk-checksum-algorithm", "SHA256");
	} else if (f->checksum == S3_CHECKSUM_SHA256 && op == S3_OP_CREATE_MPU) {
		add(hdr, n, max, "x-amz-checksum-algorithm", "SHA256");
	} else if (f->checksum == S3_CHECKSUM_MD5 && body) {
		add(hdr, n, max, "Content-MD5", d->md5_b64);
	}
}

void s3_features_headers(const tr_conn *c, const s3_request *req, const s3_digests *d, s3_kv *hdr,
			 size_t *n, size_t max)
{
	const s3_features *f = &c->conf.feat;
	enum s3_op op = s3_request_op(req);
	int creates = op == S3_OP_PUT_OBJECT || op == S3_OP_CREATE_MPU;
	if (f->requester_pays)
		add(hdr, n, max, "x-amz-request-payer", "requester");
	if (creates) {
		add(hdr, n, max, "Content-Type", "application/octet-stream");
		add(hdr, n, max, "x-amz-server-side-encryption", f->sse);
		add(hdr, n, max, "x-amz-server-side-encryption-aws-kms-key-id", f->sse_kms_key_id);
		add(hdr, n, max, "x-amz-storage-class", s3_storage_class_for(f, req->key));
	} else if (op == S3_OP_COMPLETE_MPU) {
		add(hdr, n, max, "Content-Type", "application/xml");
	}
	if (f->ssec_key && op != S3_OP_OTHER) {
		add(hdr, n, max, "x-amz-server-side-encryption-customer-algorithm", "AES256");
		add(hdr, n, max, "x-amz-server-side-encryption-customer-key", f->ssec_key);
		add(hdr, n, max, "x-amz-server-side-encryption-customer-key-MD5", f->ssec_key_md5);
	}
	add_checksum(f, op, d, hdr, n, max);
}
