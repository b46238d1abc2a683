/* s3_describe.c - one line for `totalrecall check`: where the credentials
 * came from and which bucket features are in use.  Never a secret: no
 * key, no token, not even the access key id. */
#include "config.h"
#include "s3_internal.h"
#include "s3_creds.h"
#include "s3_str.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

static void credentials(tr_conn *c, s3_str *s)
{
	s3_str_printf(s, "credentials: %s", c->cred_detail[0] ? c->cred_detail : s3_cred_source_name(c->cred_source));
	if (c->creds.expiration) {
		char when[32];
		time_t t = (time_t)c->creds.expiration;
		struct tm tm;
		gmtime_r(&t, &tm);
		strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
		s3_str_printf(s, ", temporary until %s", when);
	}
}

static void encryption(const s3_features *f, s3_str *s)
{
	if (f->ssec_key)
		s3_str_add(s, "; encryption: SSE-C (customer-provided key)");
	else if (f->sse && strcmp(f->sse, "aws:kms") == 0)
		s3_str_printf(s, "; encryption: SSE-KMS (%s%s)", f->sse_kms_key_id ? "key " : "the account's default key",
			      f->sse_kms_key_id ? f->sse_kms_key_id : "");
	else if (f->sse)
		s3_str_printf(s, "; encryption: SSE-S3 (%s)", f->sse);
	else
		s3_str_add(s, "; encryption: the bucket's default");
}

static void storage_classes(const s3_features *f, s3_str *s)
{
	const char *rest = f->storage_class ? f->storage_class : "bucket default";
	if (!f->wal_storage_class) {
		s3_str_printf(s, "; storage class: %s", rest);
		return;
	}
	s3_str_printf(s, "; storage class: %s, WAL %s", rest, f->wal_storage_class);
	if (!f->wal_prefix)
		s3_str_add(s, " (no WAL key prefix given: not applied)");
}

static const char *checksum(enum s3_checksum k)
{
	switch (k) {
	case S3_CHECKSUM_SHA256: return "x-amz-checksum-sha256 on every upload and part";
	case S3_CHECKSUM_MD5: return "Content-MD5 on every upload and part";
	default: return "none (Object Lock buckets refuse such uploads)";
	}
}

static const char *conditional(const tr_conn *c)
{
	if (c->conf.condput == S3_CONDPUT_ON)
		return "If-None-Match always (s3-conditional-put=on)";
	if (c->conf.condput == S3_CONDPUT_OFF)
		return "HEAD-then-PUT (s3-conditional-put=off)";
	if (c->cond_state == S3_COND_HONOURED)
		return "If-None-Match, honoured by the server";
	if (c->cond_state == S3_COND_IGNORED)
		return "HEAD-then-PUT, the server ignores If-None-Match";
	return "auto, not probed yet";
}

const char *s3_describe(tr_conn *c)
{
	s3_str s = { 0 };
	const s3_conf *k = &c->conf;
	credentials(c, &s);
	s3_str_printf(&s, "; bucket %s in %s at %s://%s, %s-style", k->bucket, k->region, k->scheme,
		      k->endpoint_host, k->path_style ? "path" : "virtual-hosted");
	encryption(&k->feat, &s);
	storage_classes(&k->feat, &s);
	s3_str_printf(&s, "; checksum: %s; conditional put: %s", checksum(k->feat.checksum), conditional(c));
	if (k->feat.requester_pays)
		s3_str_add(&s, "; requester pays");
	if (c->clock_offset)
		s3_str_printf(&s, "; clock corrected by %+lld s", (long long)c->clock_offset);
	snprintf(c->describe_buf, sizeof c->describe_buf, "%s", s.p && !s.oom ? s.p : "(out of memory)");
	s3_str_free(&s);
	return c->describe_buf;
}
