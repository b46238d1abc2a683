/* azure_http.c - performs Blob service requests with libcurl.  Each
 * attempt is authenticated afresh (Shared Key signature over the date,
 * SAS query, or the managed identity's current bearer token).  Transient
 * failures (connection errors, timeouts, 500, 502, 503, 504, 408, 429) are
 * retried with exponential backoff and full jitter within "retries" and
 * "retry-max-time"; authentication failures never are.  A GET that breaks
 * off mid-body resumes with Range from the byte reached and If-Match on
 * the ETag, so the sink never sees a byte twice or misses one.
 *
 * The status of a failure (driver.h, "Error classes"): what was retried
 * until the budget ran out, and a blob that changed under a resumed read,
 * is TR_ETRANSIENT; 401 and 403 refusals of the credentials
 * (AuthenticationFailed, a bad or expired SAS or token) are TR_EAUTH; 403
 * refusals of the operation (AuthorizationPermissionMismatch and the
 * other Authorization*Mismatch codes: a read-only SAS, an identity without
 * the role) TR_EPERM.  AuthorizationFailure, which Azure answers for a
 * firewall rule and Azurite for a bad signature, stays TR_EAUTH; 404 is TR_ENOENT only with BlobNotFound; 501
 * TR_ENOTSUP; other answers, and curl errors that do not pass, TR_EIO. */
#include "config.h"
#include "azure_http.h"
#include "azure_crypto.h"
#include "drv_util.h"
#include "s3_xml.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define BODY_CAP (8 * AZ_MIB)     /* a List Blobs page of 5000 names is ~3 MiB */
#define BACKOFF_BASE_MS 200
#define BACKOFF_CAP_MS 20000


long az_backoff_ms(tr_conn *c, int attempt)
{
	return drv_backoff_ms(&c->rng, attempt, BACKOFF_BASE_MS, BACKOFF_CAP_MS);
}

/* --- one transfer: state kept across the attempts of a request --- */

typedef struct xfer {
	tr_conn *c;
	const az_request *req;
	az_response *resp;
	drv_body body;        /* the request body, as curl reads it */
	drv_stream st;        /* the answer's body, resumable (drv_http.h) */
} xfer;

static size_t header_cb(char *line, size_t size, size_t nmemb, void *ud)
{
	xfer *x = ud;
	az_response *r = x->resp;
	const drv_field f[] = {
		{ "ETag", r->etag, sizeof r->etag },
		{ "x-ms-meta-trchecksum", r->checksum, sizeof r->checksum },
		{ "Last-Modified", r->last_modified, sizeof r->last_modified },
		{ "x-ms-error-code", r->code, sizeof r->code },
	};
	return drv_stream_header(&x->st, x->req->method, line, size * nmemb, &r->status, &r->content_length, r->etag, f,
				 sizeof f / sizeof f[0]);
}

/* --- building a request --- */

typedef struct built {
	char *url;
	struct curl_slist *headers;
	az_kv hdr[AZ_MAX_HEADERS + 8];  /* every header sent, for the signature */
	size_t n;
	char date[40];
	char length[24];
	char range[48];
	char auth[AZ_TOKEN_MAX + 300]; /* "Bearer <token>" or "SharedKey <account>:<signature>" */
} built;

static const char *header_value(const built *b, const char *name)
{
	for (size_t i = 0; i < b->n; i++)
		if (strcasecmp(b->hdr[i].name, name) == 0)
			return b->hdr[i].value;
	return "";
}

static int kv_cmp(const void *a, const void *b)
{
	return strcasecmp(((const az_kv *)a)->name, ((const az_kv *)b)->name);
}

/* Shared Key: HMAC-SHA256 over the verb, the standard headers, the
 * x-ms-* headers sorted and the canonicalized resource ("/account" + the
 * encoded path, then each query parameter "\nname:value", sorted). */
static int sign_shared_key(tr_conn *c, const az_request *req, built *b, const char *path)
{
	static const char *const std[] = { "Content-Encoding", "Content-Language", "Content-Length",
		"Content-MD5", "Content-Type", "Date", "If-Modified-Since", "If-Match", "If-None-Match",
		"If-Unmodified-Since", "Range" };
	s3_str s = { 0 };
	az_kv ms[AZ_MAX_HEADERS + 8], q[AZ_MAX_QUERY];
	size_t nms = 0;
	s3_str_printf(&s, "%s\n", req->method);
	for (size_t i = 0; i < sizeof std / sizeof std[0]; i++)
		s3_str_printf(&s, "%s\n", header_value(b, std[i]));
	for (size_t i = 0; i < b->n; i++)
		if (strncasecmp(b->hdr[i].name, "x-ms-", 5) == 0)
			ms[nms++] = b->hdr[i];
	qsort(ms, nms, sizeof ms[0], kv_cmp);
	for (size_t i = 0; i < nms; i++) {
		for (const char *p = ms[i].name; *p; p++)
			s3_str_addc(&s, (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p));
		s3_str_printf(&s, ":%s\n", ms[i].value);
	}
	s3_str_printf(&s, "/%s%s", c->conf.account, path);
	memcpy(q, req->query, req->nquery * sizeof q[0]);
	qsort(q, req->nquery, sizeof q[0], kv_cmp);
	for (size_t i = 0; i < req->nquery; i++)
		s3_str_printf(&s, "\n%s:%s", q[i].name, q[i].value); /* our names are lowercase */
	if (s.oom) {
		s3_str_free(&s);
		return -1;
	}
	char sig[45];
	az_hmac_sha256_b64(c->conf.key, c->conf.key_len, s.p, s.len, sig);
	snprintf(b->auth, sizeof b->auth, "SharedKey %s:%s", c->conf.account, sig);
	s3_str_free(&s);
	return 0;
}

/* The path from the endpoint on: [/base path]/container[/encoded key]. */
static void request_path(tr_conn *c, const az_request *req, s3_str *path)
{
	const char *host = strstr(c->conf.base_url, "://") + 3;
	const char *base_path = strchr(host, '/');
	s3_str_printf(path, "%s/%s", base_path ? base_path : "", c->conf.container);
	if (req->key) {
		s3_str_addc(path, '/');
		s3_str_add_encoded(path, req->key, strlen(req->key), 1);
	}
}

static void request_url(tr_conn *c, const az_request *req, const char *path, s3_str *url)
{
	const char *host = strstr(c->conf.base_url, "://") + 3;
	const char *base_path = strchr(host, '/');
	size_t origin = base_path ? (size_t)(base_path - c->conf.base_url) : strlen(c->conf.base_url);
	s3_str_addn(url, c->conf.base_url, origin);
	s3_str_add(url, path);
	for (size_t i = 0; i < req->nquery; i++) {
		s3_str_addc(url, i ? '&' : '?');
		s3_str_add_encoded(url, req->query[i].name, strlen(req->query[i].name), 0);
		s3_str_addc(url, '=');
		s3_str_add_encoded(url, req->query[i].value, strlen(req->query[i].value), 0);
	}
	if (c->conf.auth == AZ_AUTH_SAS) {
		s3_str_addc(url, req->nquery ? '&' : '?');
		s3_str_add(url, c->conf.sas);
	}
}

static void http_date(char out[40])
{
	time_t t = time(NULL);
	struct tm tm;
	gmtime_r(&t, &tm);
	static const char *const days[] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
	static const char *const months[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug",
					      "Sep", "Oct", "Nov", "Dec" };
	snprintf(out, 40, "%s, %02d %s %04d %02d:%02d:%02d GMT", days[tm.tm_wday], tm.tm_mday,
		 months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/* The headers of this attempt, in b->hdr (all of them, for the signer). */
static void collect_headers(const az_request *req, xfer *x, built *b)
{
	http_date(b->date);
	b->hdr[b->n++] = (az_kv){ "x-ms-date", b->date };
	b->hdr[b->n++] = (az_kv){ "x-ms-version", AZ_API_VERSION };
	if (strcmp(req->method, "PUT") == 0 || (strcmp(req->method, "POST") == 0 && req->body_len)) {
		/* Shared Key signs an empty Content-Length for a zero-byte body. */
		snprintf(b->length, sizeof b->length, "%zu", req->body_len);
		if (req->body_len)
			b->hdr[b->n++] = (az_kv){ "Content-Length", b->length };
	}
	for (size_t i = 0; i < req->nheaders; i++)
		b->hdr[b->n++] = req->headers[i];
	if (drv_stream_resume(&x->st, b->range, sizeof b->range)) {
		b->hdr[b->n++] = (az_kv){ "Range", b->range };
		if (x->st.etag[0])
			b->hdr[b->n++] = (az_kv){ "If-Match", x->st.etag };
	}
}

/* Authenticates the request and turns it into a URL and curl headers.
 * Returns TR_OK, or a status with c->err set (no token, out of memory). */
static int build(tr_conn *c, const az_request *req, xfer *x, built *b)
{
	s3_str path = { 0 }, url = { 0 };
	int rc = TR_OK;
	memset(b, 0, sizeof *b);
	collect_headers(req, x, b);
	request_path(c, req, &path);
	if (path.oom)
		rc = az_fail(c, TR_ENOMEM, AZ_NAME ": out of memory");
	if (rc == TR_OK && c->conf.auth == AZ_AUTH_SHARED_KEY && sign_shared_key(c, req, b, path.p) != 0)
		rc = az_fail(c, TR_ENOMEM, AZ_NAME ": out of memory");
	if (rc == TR_OK && c->conf.auth == AZ_AUTH_MANAGED_IDENTITY) {
		const char *token;
		rc = az_token_get(c, &token);
		if (rc == TR_OK && (size_t)snprintf(b->auth, sizeof b->auth, "Bearer %s", token) >= sizeof b->auth)
			rc = az_fail(c, TR_EAUTH, AZ_NAME ": managed identity: the token is too long");
	}
	if (rc == TR_OK) {
		request_url(c, req, path.p, &url);
		b->url = s3_str_take(&url);
		if (!b->url)
			rc = az_fail(c, TR_ENOMEM, AZ_NAME ": out of memory");
	}
	int bad = 0;
	for (size_t i = 0; rc == TR_OK && i < b->n; i++)
		bad |= drv_add_header(&b->headers, b->hdr[i].name, b->hdr[i].value);
	if (rc == TR_OK && b->auth[0])
		bad |= drv_add_header(&b->headers, "Authorization", b->auth);
	if (rc == TR_OK) /* no 100-continue round trip */
		bad |= drv_add_header(&b->headers, "Expect", "");
	if (rc == TR_OK && bad)
		rc = az_fail(c, TR_ENOMEM, AZ_NAME ": out of memory");
	explicit_bzero(b->auth, sizeof b->auth);
	s3_str_free(&path);
	s3_str_free(&url);
	return rc;
}

void az_http_date_now(char out[40])
{
	http_date(out);
}

int az_sub_auth(tr_conn *c, const char *method, const char *key, const char *date, s3_str *target, char *auth,
		size_t authlen)
{
	az_request sub = { .method = method, .key = key };
	built *b = calloc(1, sizeof *b);
	s3_str path = { 0 };
	int rc = b ? TR_OK : az_fail(c, TR_ENOMEM, AZ_NAME ": out of memory");
	auth[0] = '\0';
	if (rc == TR_OK) {
		b->hdr[b->n++] = (az_kv){ "x-ms-date", date };
		request_path(c, &sub, &path);
		if (path.oom || (c->conf.auth == AZ_AUTH_SHARED_KEY && sign_shared_key(c, &sub, b, path.p) != 0))
			rc = az_fail(c, TR_ENOMEM, AZ_NAME ": out of memory");
	}
	if (rc == TR_OK && c->conf.auth == AZ_AUTH_MANAGED_IDENTITY) {
		const char *token;
		rc = az_token_get(c, &token);
		if (rc == TR_OK)
			snprintf(b->auth, sizeof b->auth, "Bearer %s", token);
	}
	if (rc == TR_OK) {
		s3_str_add(target, path.p);
		if (c->conf.auth == AZ_AUTH_SAS) {
			s3_str_addc(target, '?');
			s3_str_add(target, c->conf.sas);
		}
		if ((size_t)snprintf(auth, authlen, "%s", b->auth) >= authlen || target->oom)
			rc = az_fail(c, TR_ENOMEM, AZ_NAME ": out of memory");
	}
	if (b)
		explicit_bzero(b->auth, sizeof b->auth);
	free(b);
	s3_str_free(&path);
	return rc;
}

static void built_free(built *b)
{
	free(b->url);
	drv_free_headers(b->headers);  /* the Authorization line is wiped */
	memset(b, 0, sizeof *b);
}

static CURLcode perform(tr_conn *c, const az_request *req, xfer *x, const built *b)
{
	CURL *h = c->curl;
	drv_curl_request(h, b->url, b->headers, c->conf.timeout, "totalrecall-azure/" AZ_VERSION, c->conf.ca_file,
			 header_cb, x, &x->st);
	drv_curl_method(h, req->method, &x->body);
	return curl_easy_perform(h);
}

/* --- what an answer means --- */

enum outcome { OUT_OK = DRV_TRANSFER_OK, OUT_RETRY = DRV_TRANSFER_RETRY, OUT_FAIL = DRV_TRANSFER_FAIL };

/* The error code and the first line of the message: from x-ms-error-code,
 * else from the <Error> body (HEAD answers have no body). */
static void parse_error(az_response *r)
{
	s3_xml_error e;
	if (!r->body.p || !s3_xml_parse_error(r->body.p, r->body.len, &e))
		return;
	if (!r->code[0])
		snprintf(r->code, sizeof r->code, "%s", e.code);
	e.message[strcspn(e.message, "\r\n")] = '\0';
	snprintf(r->message, sizeof r->message, "%s", e.message);
}

static enum outcome classify(const az_response *r, const xfer *x)
{
	long st = r->status;
	if (st / 100 == 2)
		return drv_stream_short(&x->st) ? OUT_RETRY : OUT_OK;
	if (st == 500 || st == 502 || st == 503 || st == 504 || st == 408 || st == 429)
		return OUT_RETRY;
	/* The block is still in memory: a body damaged on the way goes again. */
	if (st == 400 && strcmp(r->code, "Md5Mismatch") == 0)
		return OUT_RETRY;
	return OUT_FAIL;
}

/* 403 codes that refuse the operation, not the credentials:
 * AuthorizationPermissionMismatch, AuthorizationSourceIPMismatch, ... */
static int refuses_operation(const char *code)
{
	size_t n = strlen(code);
	return (strncmp(code, "Authorization", 13) == 0 && n > 8 && strcmp(code + n - 8, "Mismatch") == 0) ||
	       strcmp(code, "InsufficientAccountPermissions") == 0;
}

static int http_status(const az_response *r)
{
	long st = r->status;
	if (st == 403 && refuses_operation(r->code))
		return TR_EPERM;
	if (st == 401 || st == 403)
		return TR_EAUTH;
	if (st == 501)
		return TR_ENOTSUP;
	if (st == 404 && strcmp(r->code, "BlobNotFound") == 0)
		return TR_ENOENT;
	if ((st == 409 && strcmp(r->code, "BlobAlreadyExists") == 0) || st == 412)
		return TR_EEXIST;
	if (st == 507)
		return TR_ENOSPACE;
	return TR_EIO;
}

/* exhausted: the answer was one worth retrying, and the retries ran out. */
static int fail_http(tr_conn *c, const char *what, const az_response *r, int attempts, int exhausted)
{
	char tail[64] = "";
	if (attempts > 1)
		snprintf(tail, sizeof tail, " (after %d attempts)", attempts);
	if (r->status == 404 && strcmp(r->code, "ContainerNotFound") == 0)
		return az_fail(c, TR_EIO, "%s: container %s not found (404 ContainerNotFound)", what,
			       c->conf.container);
	if (r->status == 404 && !r->code[0])
		return az_fail(c, TR_EIO, "%s: 404 without an x-ms-error-code: not an answer of the Blob "
			       "service (check endpoint)", what);
	return az_fail(c, exhausted ? TR_ETRANSIENT : http_status(r), "%s: %ld %s%s%s%s", what, r->status,
		       r->code[0] ? r->code : "error", r->message[0] ? ": " : "", r->message, tail);
}

static int final_failure(tr_conn *c, const char *what, xfer *x, CURLcode cc, int attempts, int exhausted)
{
	int rc = drv_stream_failure(&x->st, x->resp->status, cc, attempts, what, "blob", c->err, sizeof c->err);
	if (rc != 0)
		return rc;
	if (x->resp->status / 100 == 2)
		return az_fail(c, TR_ETRANSIENT, "%s: body ended at byte %lld of %lld (after %d attempts)", what,
			       (long long)x->st.delivered, (long long)x->st.total, attempts);
	return fail_http(c, what, x->resp, attempts, exhausted);
}

static void reset_attempt(xfer *x)
{
	s3_str_reset(&x->resp->body);
	x->resp->status = 0;
	x->resp->code[0] = x->resp->message[0] = '\0';
	x->body.off = 0;
	drv_stream_attempt(&x->st);
}

/* One attempt.  *rc is set when building the request failed. */
static enum outcome attempt(tr_conn *c, xfer *x, CURLcode *cc, const char *what, int *rc)
{
	built b;
	reset_attempt(x);
	*cc = CURLE_OK;
	*rc = build(c, x->req, x, &b);
	if (*rc != TR_OK) {
		built_free(&b);
		return OUT_FAIL;
	}
	double t0 = drv_now_ms();
	*cc = perform(c, x->req, x, &b);
	built_free(&b);
	parse_error(x->resp);
	az_log(c, 3, "%s: %ld %s%s(%.0f ms)%s%s", what, x->resp->status, x->resp->code, x->resp->code[0] ? " " : "",
	       drv_now_ms() - t0, *cc ? " " : "", *cc ? curl_easy_strerror(*cc) : "");
	enum drv_transfer t = drv_transfer_outcome(&x->st, *cc);
	return t != DRV_TRANSFER_ANSWER ? (enum outcome)t : classify(x->resp, x);
}

/* A bearer token the service refused may have been revoked or cut short
 * (a cached one, a clock that jumped): fetch a new one, once. */
static int refresh_refused_token(tr_conn *c, const az_response *r, int *refreshed)
{
	if (c->conf.auth != AZ_AUTH_MANAGED_IDENTITY || *refreshed || (r->status != 401 && r->status != 403))
		return 0;
	if (strcmp(r->code, "AuthorizationPermissionMismatch") == 0 || strcmp(r->code, "AuthorizationFailure") == 0)
		return 0; /* the identity lacks a role: a new token will not help */
	*refreshed = 1;
	az_log(c, 1, AZ_NAME ": the service refused the managed identity's token (%s); fetching a new one",
	       r->code[0] ? r->code : "401");
	az_token_drop(c);
	return 1;
}

int az_http_do(tr_conn *c, const az_request *req, az_response *resp)
{
	char what[TR_KEY_MAX + 200];
	xfer x;
	CURLcode cc = CURLE_OK;
	drv_retry rt;
	int refreshed = 0, rc;

	memset(resp, 0, sizeof *resp);
	memset(&x, 0, sizeof x);
	x.c = c;
	x.req = req;
	x.resp = resp;
	x.body = (drv_body){ req->body, req->body_len, 0 };
	drv_stream_init(&x.st, req->sink, req->sink_ctx, &resp->body, BODY_CAP);
	snprintf(what, sizeof what, AZ_NAME ": %s %s/%s", req->op ? req->op : req->method, c->conf.container,
		 req->key ? req->key : req->subject ? req->subject : "");
	drv_retry_start(&rt, &c->rng, c->conf.retries, c->conf.retry_max_time, BACKOFF_BASE_MS, BACKOFF_CAP_MS);
	for (int n = 0;; n++) {
		drv_retry_before(&rt, &x.st);
		enum outcome o = attempt(c, &x, &cc, what, &rc);
		if (rc != TR_OK)
			return rc;
		drv_retry_after(&rt, &x.st);
		if (o == OUT_OK)
			return TR_OK;
		if (o == OUT_FAIL && cc == CURLE_OK && refresh_refused_token(c, resp, &refreshed)) {
			n--;
			continue;
		}
		long delay = o == OUT_RETRY ? drv_retry_delay(&rt, n) : -1;
		if (delay < 0)
			return final_failure(c, what, &x, cc, n + 1, o == OUT_RETRY);
		az_log(c, 1, "%s: %s; retry %d/%d in %ld ms", what,
		       cc ? curl_easy_strerror(cc) : (resp->code[0] ? resp->code : "server error"), n + 1,
		       c->conf.retries, delay);
		drv_sleep_ms(delay);
	}
}
