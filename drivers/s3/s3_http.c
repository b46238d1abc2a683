/* s3_http.c - performs signed S3 requests with libcurl.  One request may
 * take several attempts: transient failures are retried with exponential
 * backoff and full jitter, within the "retries" count and the
 * "retry-max-time" budget; a region redirect is followed once; a GET that
 * breaks off mid-body resumes with Range from the byte reached and
 * If-Match on the ETag, so the sink never sees a byte twice or misses one.
 *
 * The status of a failure (driver.h, "Error classes"): what was retried
 * until the budget ran out, and what could pass but is not retried here
 * (an object that changed under a resumed read), is TR_ETRANSIENT; 401 and
 * the refusals of the credentials (bad key, signature, token, clock) are
 * TR_EAUTH; any other 403 (AccessDenied: a policy) TR_EPERM; 404 is
 * TR_ENOENT only with S3's NoSuchKey; 501 TR_ENOTSUP; other answers, and
 * curl errors that do not pass (a certificate that does not verify),
 * TR_EIO. */
#include "config.h"
#include "s3_http.h"
#include "s3_creds.h"
#include "s3_endpoint.h"
#include "s3_features.h"
#include "drv_http.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define BODY_CAP (8 * S3_MIB)     /* a ListObjectsV2 page is ~1.3 MiB at most */
#define BACKOFF_BASE_MS 200
#define BACKOFF_CAP_MS 20000

#define MAX_SKEW 900               /* S3 refuses requests 15 minutes off */
/* --- request helpers --- */


/* --- per-request transfer state --- */

typedef struct xfer {
	tr_conn *c;
	const s3_request *req;
	s3_response *resp;
	drv_body body;        /* the request body, as curl reads it */
	drv_stream st;        /* the answer's body, resumable (drv_http.h) */
	char range_hdr[48];
} xfer;

/* "s3://bucket/key" for messages. */
static void describe(tr_conn *c, const s3_request *req, char *out, size_t len)
{
	snprintf(out, len, "%s: %s s3://%s/%s", S3_DRIVER_NAME, req->method, c->conf.bucket,
		 req->key ? req->key : "");
}

/* --- curl callbacks --- */

static size_t header_cb(char *line, size_t size, size_t nmemb, void *ud)
{
	xfer *x = ud;
	s3_response *r = x->resp;
	const drv_field f[] = {
		{ "ETag", r->etag, sizeof r->etag },
		{ "x-amz-meta-tr-checksum", r->checksum, sizeof r->checksum },
		{ "Last-Modified", r->last_modified, sizeof r->last_modified },
		{ "x-amz-bucket-region", r->bucket_region, sizeof r->bucket_region },
		{ "Date", r->date, sizeof r->date },
	};
	return drv_stream_header(&x->st, x->req->method, line, size * nmemb, &r->status, &r->content_length, r->etag, f,
				 sizeof f / sizeof f[0]);
}

/* --- building the request --- */

static void amz_date(const tr_conn *c, char out[17])
{
	time_t t = (time_t)s3_now(c);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(out, 17, "%Y%m%dT%H%M%SZ", &tm);
}

typedef struct built {
	char *url;
	struct curl_slist *headers;
} built;

static void raw_path(tr_conn *c, const s3_request *req, s3_str *path, s3_str *host)
{
	if (c->conf.path_style) {
		s3_str_add(host, c->conf.endpoint_host);
		s3_str_printf(path, "/%s", c->conf.bucket);
		if (req->key)
			s3_str_printf(path, "/%s", req->key);
	} else {
		s3_str_printf(host, "%s.%s", c->conf.bucket, c->conf.endpoint_host);
		s3_str_printf(path, "/%s", req->key ? req->key : "");
	}
}

static int has_header(const s3_kv *hdr, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcasecmp(hdr[i].name, name) == 0)
			return 1;
	return 0;
}

/* Signs the request and turns it into a URL and a curl header list. */
static int build(tr_conn *c, const s3_request *req, xfer *x, const s3_digests *dg, built *b)
{
	s3_str path = { 0 }, host = { 0 }, url = { 0 };
	s3_kv hdr[S3_MAX_HEADERS + 24];
	size_t n = 0, max = sizeof hdr / sizeof hdr[0];
	char date[17];
	s3_sigv4_result sig;
	int rc = -1;

	memset(b, 0, sizeof *b);
	raw_path(c, req, &path, &host);
	amz_date(c, date);
	if (path.oom || host.oom)
		goto out;
	hdr[n++] = (s3_kv){ "Host", host.p };
	hdr[n++] = (s3_kv){ "x-amz-content-sha256", dg->sha256_hex };
	hdr[n++] = (s3_kv){ "x-amz-date", date };
	if (c->creds.session_token)
		hdr[n++] = (s3_kv){ "x-amz-security-token", c->creds.session_token };
	for (size_t i = 0; i < req->nheaders; i++)
		hdr[n++] = req->headers[i];
	if (drv_stream_resume(&x->st, x->range_hdr, sizeof x->range_hdr)) {
		hdr[n++] = (s3_kv){ "Range", x->range_hdr };
		if (x->st.etag[0])
			hdr[n++] = (s3_kv){ "If-Match", x->st.etag };
	}
	s3_features_headers(c, req, dg, hdr, &n, max);
	s3_sigv4_request sr = { req->method, path.p, req->query, req->nquery, hdr, n, dg->sha256_hex,
				S3_SIGV4_S3 };
	s3_sigv4_key key = { c->creds.access_key_id, c->creds.secret_access_key, c->conf.region, "s3",
			     date };
	if (s3_sigv4_sign(&sr, &key, &sig) != 0)
		goto out;
	char *epath = s3_uri_encode(path.p, path.len, 1);
	char *q = s3_canonical_query(req->query, req->nquery);
	if (epath && q)
		s3_str_printf(&url, "%s://%s%s%s%s", c->conf.scheme, host.p, epath, *q ? "?" : "", q);
	free(epath);
	free(q);
	b->url = s3_str_take(&url);
	rc = b->url ? 0 : -1;
	for (size_t i = 0; rc == 0 && i < n; i++)
		rc = drv_add_header(&b->headers, hdr[i].name, hdr[i].value);
	if (rc == 0)
		rc = drv_add_header(&b->headers, "Authorization", sig.authorization);
	/* No 100-continue round trip; and no Content-Type of curl's making
	 * (a POST would get a form type): the features set the right one. */
	if (rc == 0)
		rc = drv_add_header(&b->headers, "Expect", "");
	if (rc == 0 && !has_header(hdr, n, "Content-Type"))
		rc = drv_add_header(&b->headers, "Content-Type", "");
	s3_sigv4_result_free(&sig);
out:
	s3_str_free(&path);
	s3_str_free(&host);
	s3_str_free(&url);
	return rc;
}

static void built_free(built *b)
{
	free(b->url);
	drv_free_headers(b->headers);  /* the Authorization line is wiped */
	memset(b, 0, sizeof *b);
}

static CURLcode perform(tr_conn *c, const s3_request *req, xfer *x, const built *b)
{
	CURL *h = c->curl;
	drv_curl_request(h, b->url, b->headers, c->conf.timeout, S3_USER_AGENT, c->conf.ca_file, header_cb, x, &x->st);
	if (c->conf.insecure) {
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	drv_curl_method(h, req->method, &x->body);
	return curl_easy_perform(h);
}

/* --- deciding what an answer means --- */

enum outcome {
	OUT_OK = DRV_TRANSFER_OK, OUT_RETRY = DRV_TRANSFER_RETRY, OUT_FAIL = DRV_TRANSFER_FAIL,
	OUT_REDIRECT = DRV_TRANSFER_ANSWER + 1, OUT_SKEWED, OUT_EXPIRED
};

static int code_in(const char *code, const char *const *list)
{
	for (; *list; list++)
		if (strcmp(code, *list) == 0)
			return 1;
	return 0;
}

/* Refusals of the credentials (TR_EAUTH); any other 403, AccessDenied
 * first, refuses the operation to them (TR_EPERM). */
static const char *const AUTH_CODES[] = {
	"InvalidAccessKeyId", "SignatureDoesNotMatch", "AuthorizationHeaderMalformed",
	"InvalidToken", "ExpiredToken", "TokenRefreshRequired",
	"InvalidSecurity", "MissingSecurityHeader", "RequestTimeTooSkewed", NULL
};
static const char *const TRANSIENT_CODES[] = {
	"RequestTimeout", "SlowDown", "InternalError", "ServiceUnavailable",
	"ConditionalRequestConflict", "OperationAborted",
	/* The body we hold is right: a mismatch is damage on the way. */
	"BadDigest", "XAmzContentSHA256Mismatch", NULL
};
static const char *const EXPIRED_CODES[] = {
	"ExpiredToken", "TokenRefreshRequired", "InvalidToken", NULL
};

/* How far the server's clock is from ours (by its Date), or 0 when it is
 * within what S3 accepts or unknown. */
static int64_t server_skew(const tr_conn *c, const s3_response *r)
{
	int64_t server = drv_http_date(r->date);
	if (!server)
		return 0;
	int64_t d = server - s3_now(c);
	return d > MAX_SKEW || d < -MAX_SKEW ? d : 0;
}

/* A refusal that new credentials or a corrected clock could cure.  A
 * HEAD answer has no body to say which: its Date tells skew apart. */
static enum outcome auth_outcome(const tr_conn *c, const s3_response *r)
{
	int head_refusal = !r->err.code[0] && (r->status == 400 || r->status == 403);
	if (strcmp(r->err.code, "RequestTimeTooSkewed") == 0 || (head_refusal && server_skew(c, r)))
		return OUT_SKEWED;
	if (c->creds.expiration && (code_in(r->err.code, EXPIRED_CODES) || head_refusal))
		return OUT_EXPIRED;
	return OUT_FAIL;
}

/* The region a redirect names, or NULL. */
static const char *redirect_region(tr_conn *c, const s3_response *r)
{
	int redirect = r->status == 301 || r->status == 307 ||
		       (r->status == 400 && strcmp(r->err.code, "AuthorizationHeaderMalformed") == 0);
	const char *reg = r->bucket_region[0] ? r->bucket_region : r->err.region;
	if (!redirect || !reg[0] || strcmp(reg, c->conf.region) == 0)
		return NULL;
	return reg;
}

static enum outcome classify_http(tr_conn *c, const s3_request *req, s3_response *r, xfer *x)
{
	s3_xml_parse_error(r->body.p ? r->body.p : "", r->body.len, &r->err);
	long st = r->status;
	if (st / 100 == 2) {
		if (req->error_in_200 && r->err.code[0])
			return OUT_RETRY; /* CompleteMultipartUpload failed after its 200 */
		return drv_stream_short(&x->st) ? OUT_RETRY : OUT_OK;
	}
	if (redirect_region(c, r))
		return OUT_REDIRECT;
	if (st == 500 || st == 502 || st == 503 || st == 504 || st == 429)
		return OUT_RETRY;
	if ((st == 400 || st == 409) && code_in(r->err.code, TRANSIENT_CODES))
		return OUT_RETRY;
	if (st == 400 || st == 403)
		return auth_outcome(c, r);
	return OUT_FAIL;
}

static int http_status(const s3_response *r)
{
	long st = r->status;
	if (st == 401 || ((st == 400 || st == 403) && code_in(r->err.code, AUTH_CODES)))
		return TR_EAUTH;
	if (st == 403)
		return TR_EPERM;
	if (st == 501)
		return TR_ENOTSUP;
	/* Absent only on S3's own word: a 404 from a proxy, an ingress or a
	 * wrong endpoint (an HTML page, an empty body) is an error, or a
	 * recovery would take it for the end of WAL.  HEAD has no body: its
	 * 404 is confirmed by the caller (s3.c). */
	if (st == 404 && strcmp(r->err.code, "NoSuchKey") == 0)
		return TR_ENOENT;
	if (st == 412)
		return TR_EEXIST;
	if (st == 507)
		return TR_ENOSPACE;
	return TR_EIO;
}

static const char *status_text(long st)
{
	switch (st) {
	case 301: return "PermanentRedirect";
	case 400: return "BadRequest";
	case 403: return "Forbidden";
	case 404: return "NotFound";
	case 412: return "PreconditionFailed";
	case 501: return "NotImplemented";
	case 503: return "ServiceUnavailable";
	default: return "error";
	}
}

/* The final message for an HTTP failure; exhausted: the answer was one
 * worth retrying, and the retries ran out. */
static int fail_http(tr_conn *c, const char *what, const s3_response *r, int attempts, int exhausted)
{
	const char *code = r->err.code[0] ? r->err.code : status_text(r->status);
	const char *reg = r->bucket_region[0] ? r->bucket_region : r->err.region;
	char tail[160] = "";
	if (reg[0] && (r->status == 301 || r->status == 400 || r->status == 307))
		snprintf(tail, sizeof tail, " (the bucket is in region %s)", reg);
	else if (attempts > 1)
		snprintf(tail, sizeof tail, " (after %d attempts)", attempts);
	if (r->status == 404 && strcmp(r->err.code, "NoSuchBucket") == 0)
		return s3_fail(c, TR_EIO, "%s: bucket not found (404 NoSuchBucket)", what);
	if (r->status == 404 && strcmp(r->err.code, "NoSuchKey") != 0)
		return s3_fail(c, TR_EIO, "%s: 404 without an S3 NoSuchKey answer (%s): not S3 speaking, a proxy or "
			       "a wrong endpoint?", what, r->err.code[0] ? r->err.code : "no S3 error body");
	return s3_fail(c, exhausted ? TR_ETRANSIENT : http_status(r), "%s: %ld %s%s%s%s", what, r->status, code,
		       r->err.message[0] ? ": " : "", r->err.message, tail);
}

/* Switches the signing region (and the AWS endpoint) to the bucket's,
 * and remembers it for the next commands. */
static int follow_region(tr_conn *c, const char *region)
{
	char reg[64];
	snprintf(reg, sizeof reg, "%s", region); /* region lives in the response */
	if (!s3_region_valid(reg) || s3_switch_region(c, reg) != 0)
		return -1;
	c->region_redirected = 1;
	s3_region_cache_store(c, reg);
	return 0;
}

static void reset_attempt(xfer *x)
{
	s3_str_reset(&x->resp->body);
	memset(&x->resp->err, 0, sizeof x->resp->err);
	x->resp->status = 0;
	x->body.off = 0;
	drv_stream_attempt(&x->st);
}

/* One attempt: returns the outcome and the curl code. */
static enum outcome attempt(tr_conn *c, const s3_request *req, xfer *x, const s3_digests *dg,
			    CURLcode *cc, const char *what)
{
	built b;
	reset_attempt(x);
	if (build(c, req, x, dg, &b) != 0) {
		built_free(&b);
		*cc = CURLE_OUT_OF_MEMORY;
		return OUT_FAIL;
	}
	double t0 = drv_now_ms();
	*cc = perform(c, req, x, &b);
	built_free(&b);
	s3_log(c, 3, "%s: %ld (%.0f ms)%s%s", what, x->resp->status, drv_now_ms() - t0,
	       *cc ? " " : "", *cc ? curl_easy_strerror(*cc) : "");
	enum drv_transfer t = drv_transfer_outcome(&x->st, *cc);
	return t != DRV_TRANSFER_ANSWER ? (enum outcome)t : classify_http(c, req, x->resp, x);
}

static int final_failure(tr_conn *c, const char *what, xfer *x, CURLcode cc, int attempts, int exhausted)
{
	int rc = drv_stream_failure(&x->st, x->resp->status, cc, attempts, what, "object", c->err, sizeof c->err);
	if (rc != 0)
		return rc;
	if (x->resp->status / 100 == 2 && x->resp->err.code[0])
		return s3_fail(c, TR_ETRANSIENT, "%s: %ld with error %s: %s (after %d attempts)", what,
			       x->resp->status, x->resp->err.code, x->resp->err.message, attempts);
	if (x->resp->status / 100 == 2)
		return s3_fail(c, TR_ETRANSIENT, "%s: body ended at byte %lld of %lld (after %d attempts)", what,
			       (long long)x->st.delivered, (long long)x->st.total, attempts);
	return fail_http(c, what, x->resp, attempts, exhausted);
}

/* The server refused our clock: sign with its time from now on. */
static int correct_clock(tr_conn *c, const s3_response *r, const char *what)
{
	int64_t skew = server_skew(c, r);
	if (!skew)
		return 0;
	c->clock_offset += skew;
	s3_log(c, 1, "%s: this host's clock is %lld s %s the server's (RequestTimeTooSkewed); signing "
	       "with the server's time from now on: fix the clock (NTP)", what,
	       (long long)(skew < 0 ? -skew : skew), skew > 0 ? "behind" : "ahead of");
	return 1;
}

/* Redirects, skew and expired credentials: each cured at most once per
 * request, without counting as a retry.  1 when the request should be
 * sent again at once. */
static int cure(tr_conn *c, enum outcome o, const s3_response *resp, const char *what, int *cured)
{
	if (o == OUT_REDIRECT && !c->region_redirected) {
		const char *reg = redirect_region(c, resp);
		s3_log(c, 1, "%s: the bucket is in region %s, following", what, reg);
		return follow_region(c, reg) == 0;
	}
	if (o == OUT_SKEWED && !(*cured & 1)) {
		*cured |= 1;
		return correct_clock(c, resp, what);
	}
	if (o == OUT_EXPIRED && !(*cured & 2)) {
		*cured |= 2;
		return s3_creds_refresh_now(c);
	}
	return 0;
}

int s3_http_do(tr_conn *c, const s3_request *req, s3_response *resp)
{
	char what[TR_KEY_MAX + 300];
	s3_digests dg;
	xfer x;
	CURLcode cc = CURLE_OK;
	drv_retry rt;
	int cured = 0;

	memset(resp, 0, sizeof *resp);
	memset(&x, 0, sizeof x);
	x.c = c;
	x.req = req;
	x.resp = resp;
	x.body = (drv_body){ req->body, req->body_len, 0 };
	drv_stream_init(&x.st, req->sink, req->sink_ctx, &resp->body, BODY_CAP);
	describe(c, req, what, sizeof what);
	s3_digests_compute(c, req->body ? req->body : "", req->body_len, &dg);

	drv_retry_start(&rt, &c->rng, c->conf.retries, c->conf.retry_max_time, BACKOFF_BASE_MS, BACKOFF_CAP_MS);
	for (int n = 0;; n++) {
		drv_retry_before(&rt, &x.st);
		int rc = s3_creds_ensure(c);
		if (rc != TR_OK)
			return rc;
		enum outcome o = attempt(c, req, &x, &dg, &cc, what);
		drv_retry_after(&rt, &x.st);
		if (o == OUT_OK) {
			snprintf(resp->sent_checksum, sizeof resp->sent_checksum, "%s", dg.sha256_b64);
			return TR_OK;
		}
		if (cure(c, o, resp, what, &cured)) {
			n--;
			continue;
		}
		long delay = o == OUT_RETRY ? drv_retry_delay(&rt, n) : -1;
		if (delay < 0)
			return final_failure(c, what, &x, cc, n + 1, o == OUT_RETRY);
		s3_log(c, 1, "%s: %s; retry %d/%d in %ld ms", what,
		       cc ? curl_easy_strerror(cc) : (resp->err.code[0] ? resp->err.code : "server error"),
		       n + 1, c->conf.retries, delay);
		drv_sleep_ms(delay);
	}
}
