/* s3_http.c - performs signed S3 requests with libcurl.  One request may
 * take several attempts: transient failures are retried with exponential
 * backoff and full jitter, within the "retries" count and the
 * "retry-max-time" budget; a region redirect is followed once; a GET that
 * breaks off mid-body resumes with Range from the byte reached and
 * If-Match on the ETag, so the sink never sees a byte twice or misses one. */
#include "config.h"
#include "s3_http.h"
#include "s3_creds.h"
#include "s3_endpoint.h"
#include "s3_features.h"

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

void s3_request_query(s3_request *r, const char *name, const char *value)
{
	if (r->nquery < S3_MAX_QUERY)
		r->query[r->nquery++] = (s3_kv){ name, value };
}

void s3_request_header(s3_request *r, const char *name, const char *value)
{
	if (r->nheaders < S3_MAX_HEADERS)
		r->headers[r->nheaders++] = (s3_kv){ name, value };
}

void s3_response_free(s3_response *resp)
{
	s3_str_free(&resp->body);
}

/* --- per-request transfer state --- */

typedef struct xfer {
	tr_conn *c;
	const s3_request *req;
	s3_response *resp;
	size_t body_off;      /* upload position in req->body */
	/* download state, kept across attempts */
	int64_t delivered;    /* bytes handed to the sink */
	int64_t total;        /* object size, -1 unknown */
	int64_t skip;         /* bytes to drop: the server ignored our Range */
	char etag[130];       /* ETag of the first answer, for If-Match */
	char range_hdr[48];
	/* per attempt */
	int streaming;
	int sink_failed;
	int resume_bad;       /* the server answered a different range or object */
	int64_t range_start;
	int64_t range_total;
} xfer;

/* "s3://bucket/key" for messages. */
static void describe(tr_conn *c, const s3_request *req, char *out, size_t len)
{
	snprintf(out, len, "%s: %s s3://%s/%s", S3_DRIVER_NAME, req->method, c->conf.bucket,
		 req->key ? req->key : "");
}

/* --- curl callbacks --- */

static size_t read_cb(char *buf, size_t size, size_t nmemb, void *ud)
{
	xfer *x = ud;
	size_t want = size * nmemb, left = x->req->body_len - x->body_off;
	size_t n = want < left ? want : left;
	if (n)
		memcpy(buf, (const char *)x->req->body + x->body_off, n);
	x->body_off += n;
	return n;
}

/* curl rewinds the body itself when it sends a request again on another
 * connection (a reused connection that turned out dead): the body is in
 * memory, so any offset is fine. */
static int seek_cb(void *ud, curl_off_t offset, int origin)
{
	xfer *x = ud;
	if (origin != SEEK_SET || offset < 0 || (size_t)offset > x->req->body_len)
		return CURL_SEEKFUNC_CANTSEEK;
	x->body_off = (size_t)offset;
	return CURL_SEEKFUNC_OK;
}

/* Called when a GET's 2xx headers are complete: checks that what comes
 * is exactly the continuation we asked for. */
static void begin_stream(xfer *x)
{
	s3_response *r = x->resp;
	x->streaming = 1;
	if (x->etag[0] && r->etag[0] && strcmp(x->etag, r->etag) != 0) {
		x->resume_bad = 1; /* a different object now lives under the key */
		return;
	}
	if (r->status == 206) {
		if (x->range_start != x->delivered)
			x->resume_bad = 1;
		if (x->total < 0)
			x->total = x->range_total;
	} else {
		x->skip = x->delivered;
		if (x->total < 0 || x->delivered == 0)
			x->total = r->content_length;
	}
	if (!x->etag[0])
		snprintf(x->etag, sizeof x->etag, "%s", r->etag);
}

static int header_is(const char *line, size_t len, const char *name, const char **val, size_t *vlen)
{
	size_t n = strlen(name);
	if (len <= n || strncasecmp(line, name, n) != 0 || line[n] != ':')
		return 0;
	const char *v = line + n + 1, *end = line + len;
	while (v < end && (*v == ' ' || *v == '\t'))
		v++;
	while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' '))
		end--;
	*val = v;
	*vlen = (size_t)(end - v);
	return 1;
}

static void copy_val(char *dst, size_t dlen, const char *v, size_t vlen)
{
	if (vlen >= dlen)
		vlen = dlen - 1;
	memcpy(dst, v, vlen);
	dst[vlen] = '\0';
}

static void new_response(xfer *x, const char *line, size_t len)
{
	s3_response *r = x->resp;
	char buf[32];
	copy_val(buf, sizeof buf, line, len);
	const char *sp = strchr(buf, ' ');
	r->status = sp ? strtol(sp + 1, NULL, 10) : 0;
	r->etag[0] = r->checksum[0] = r->last_modified[0] = r->bucket_region[0] = r->date[0] = '\0';
	r->content_length = -1;
	x->range_start = x->range_total = -1;
}

static size_t header_cb(char *line, size_t size, size_t nmemb, void *ud)
{
	xfer *x = ud;
	s3_response *r = x->resp;
	size_t len = size * nmemb;
	const char *v;
	size_t vlen;
	char num[64];

	if (len >= 5 && strncmp(line, "HTTP/", 5) == 0) {
		new_response(x, line, len);
	} else if (len <= 2 && r->status >= 200) { /* end of the headers */
		if (x->req->sink && r->status / 100 == 2 && strcmp(x->req->method, "GET") == 0) {
			begin_stream(x);
			if (x->resume_bad)
				return 0;
		}
	} else if (header_is(line, len, "ETag", &v, &vlen)) {
		copy_val(r->etag, sizeof r->etag, v, vlen);
	} else if (header_is(line, len, "Content-Length", &v, &vlen)) {
		copy_val(num, sizeof num, v, vlen);
		r->content_length = strtoll(num, NULL, 10);
	} else if (header_is(line, len, "x-amz-meta-tr-checksum", &v, &vlen)) {
		copy_val(r->checksum, sizeof r->checksum, v, vlen);
	} else if (header_is(line, len, "Last-Modified", &v, &vlen)) {
		copy_val(r->last_modified, sizeof r->last_modified, v, vlen);
	} else if (header_is(line, len, "x-amz-bucket-region", &v, &vlen)) {
		copy_val(r->bucket_region, sizeof r->bucket_region, v, vlen);
	} else if (header_is(line, len, "Date", &v, &vlen)) {
		copy_val(r->date, sizeof r->date, v, vlen);
	} else if (header_is(line, len, "Content-Range", &v, &vlen)) {
		long long s, e, t;
		copy_val(num, sizeof num, v, vlen);
		if (sscanf(num, "bytes %lld-%lld/%lld", &s, &e, &t) == 3) {
			x->range_start = s;
			x->range_total = t;
		}
	}
	return len;
}

static size_t write_cb(char *data, size_t size, size_t nmemb, void *ud)
{
	xfer *x = ud;
	size_t len = size * nmemb, off = 0;

	if (!x->streaming) {
		if (x->resp->body.len + len > BODY_CAP)
			return 0;
		s3_str_addn(&x->resp->body, data, len);
		return x->resp->body.oom ? 0 : len;
	}
	if (x->skip > 0) {
		off = (size_t)x->skip < len ? (size_t)x->skip : len;
		x->skip -= (int64_t)off;
	}
	if (off < len) {
		if (x->req->sink(x->req->sink_ctx, data + off, len - off) != 0) {
			x->sink_failed = 1;
			return 0;
		}
		x->delivered += (int64_t)(len - off);
	}
	return len;
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

static int add_header(struct curl_slist **list, const char *name, const char *value)
{
	s3_str h = { 0 };
	/* "Name:" with nothing after it removes a header curl would add. */
	s3_str_printf(&h, "%s:%s%s", name, *value ? " " : "", value);
	char *line = s3_str_take(&h);
	struct curl_slist *n = line ? curl_slist_append(*list, line) : NULL;
	free(line);
	if (!n)
		return -1;
	*list = n;
	return 0;
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
	if (req->sink && x->delivered > 0) {
		snprintf(x->range_hdr, sizeof x->range_hdr, "bytes=%lld-", (long long)x->delivered);
		hdr[n++] = (s3_kv){ "Range", x->range_hdr };
		if (x->etag[0])
			hdr[n++] = (s3_kv){ "If-Match", x->etag };
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
		rc = add_header(&b->headers, hdr[i].name, hdr[i].value);
	if (rc == 0)
		rc = add_header(&b->headers, "Authorization", sig.authorization);
	/* No 100-continue round trip; and no Content-Type of curl's making
	 * (a POST would get a form type): the features set the right one. */
	if (rc == 0)
		rc = add_header(&b->headers, "Expect", "");
	if (rc == 0 && !has_header(hdr, n, "Content-Type"))
		rc = add_header(&b->headers, "Content-Type", "");
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
	curl_slist_free_all(b->headers);
	memset(b, 0, sizeof *b);
}

static void set_method(CURL *h, const s3_request *req, xfer *x)
{
	if (strcmp(req->method, "HEAD") == 0) {
		curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
	} else if (strcmp(req->method, "PUT") == 0) {
		curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)req->body_len);
		curl_easy_setopt(h, CURLOPT_READFUNCTION, read_cb);
		curl_easy_setopt(h, CURLOPT_READDATA, x);
		curl_easy_setopt(h, CURLOPT_SEEKFUNCTION, seek_cb);
		curl_easy_setopt(h, CURLOPT_SEEKDATA, x);
	} else if (strcmp(req->method, "POST") == 0) {
		curl_easy_setopt(h, CURLOPT_POST, 1L);
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
		curl_easy_setopt(h, CURLOPT_READFUNCTION, read_cb);
		curl_easy_setopt(h, CURLOPT_READDATA, x);
		curl_easy_setopt(h, CURLOPT_SEEKFUNCTION, seek_cb);
		curl_easy_setopt(h, CURLOPT_SEEKDATA, x);
	} else if (strcmp(req->method, "GET") != 0) {
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, req->method);
	}
}

static CURLcode perform(tr_conn *c, const s3_request *req, xfer *x, const built *b)
{
	CURL *h = c->curl;
	curl_easy_reset(h); /* keeps the connection cache */
	curl_easy_setopt(h, CURLOPT_URL, b->url);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, b->headers);
	curl_easy_setopt(h, CURLOPT_PATH_AS_IS, 1L);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, c->conf.timeout);
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, c->conf.timeout);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, header_cb);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, x);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, write_cb);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, x);
	curl_easy_setopt(h, CURLOPT_USERAGENT, S3_USER_AGENT);
	if (c->conf.ca_file)
		curl_easy_setopt(h, CURLOPT_CAINFO, c->conf.ca_file);
	if (c->conf.insecure) {
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	set_method(h, req, x);
	return curl_easy_perform(h);
}

/* --- deciding what an answer means --- */

enum outcome { OUT_OK, OUT_RETRY, OUT_FAIL, OUT_REDIRECT, OUT_SKEWED, OUT_EXPIRED };

static int code_in(const char *code, const char *const *list)
{
	for (; *list; list++)
		if (strcmp(code, *list) == 0)
			return 1;
	return 0;
}

static const char *const AUTH_CODES[] = {
	"InvalidAccessKeyId", "SignatureDoesNotMatch", "AuthorizationHeaderMalformed",
	"InvalidToken", "ExpiredToken", "TokenRefreshRequired", "AccessDenied",
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

int64_t s3_http_date(const char *s)
{
	struct tm tm;
	memset(&tm, 0, sizeof tm);
	if (!s[0] || !strptime(s, "%a, %d %b %Y %H:%M:%S", &tm))
		return 0;
	return (int64_t)timegm(&tm);
}

/* How far the server's clock is from ours (by its Date), or 0 when it is
 * within what S3 accepts or unknown. */
static int64_t server_skew(const tr_conn *c, const s3_response *r)
{
	int64_t server = s3_http_date(r->date);
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

static int transient_curl(CURLcode cc)
{
	switch (cc) {
	case CURLE_COULDNT_CONNECT: case CURLE_COULDNT_RESOLVE_HOST: case CURLE_OPERATION_TIMEDOUT:
	case CURLE_PARTIAL_FILE: case CURLE_RECV_ERROR: case CURLE_SEND_ERROR: case CURLE_GOT_NOTHING:
	case CURLE_SSL_CONNECT_ERROR: case CURLE_HTTP2: case CURLE_HTTP2_STREAM:
	case CURLE_WEIRD_SERVER_REPLY:
		return 1;
	default:
		return 0;
	}
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
		if (x->streaming && x->total >= 0 && x->delivered != x->total)
			return OUT_RETRY;
		return OUT_OK;
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
	if (st == 401 || st == 403 || (st == 400 && code_in(r->err.code, AUTH_CODES)))
		return TR_EAUTH;
	/* Absent only on S3's own word: a 404 from a proxy, an ingress or a
	 * wrong endpoint (an HTML page, an empty body) is an error, or a
	 * recovery would take it for the end of WAL.  HEAD has no body: its
	 * 404 is confirmed by the caller (s3.c). */
	if (st == 404 && strcmp(r->err.code, "NoSuchKey") == 0)
		return TR_ENOTFOUND;
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

/* The final message for an HTTP failure. */
static int fail_http(tr_conn *c, const char *what, const s3_response *r, int attempts)
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
	return s3_fail(c, http_status(r), "%s: %ld %s%s%s%s", what, r->status, code,
		       r->err.message[0] ? ": " : "", r->err.message, tail);
}

static int fail_curl(tr_conn *c, const char *what, CURLcode cc, const char *detail, int attempts)
{
	return s3_fail(c, TR_EIO, "%s: %s%s%s (after %d attempt%s)", what, curl_easy_strerror(cc),
		       detail[0] ? ": " : "", detail, attempts, attempts == 1 ? "" : "s");
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
	x->body_off = 0;
	x->streaming = x->sink_failed = x->resume_bad = 0;
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
	if (x->sink_failed || x->resume_bad)
		return OUT_FAIL;
	if (*cc != CURLE_OK) {
		/* All bytes arrived and only the close failed: nothing is missing. */
		if (x->streaming && x->total >= 0 && x->delivered == x->total)
			return OUT_OK;
		return transient_curl(*cc) ? OUT_RETRY : OUT_FAIL;
	}
	return classify_http(c, req, x->resp, x);
}

static int final_failure(tr_conn *c, const char *what, xfer *x, CURLcode cc, int attempts)
{
	if (x->sink_failed)
		return s3_fail(c, TR_ECALLBACK, "%s: the write callback failed", what);
	if (x->resume_bad || (x->delivered > 0 && x->resp->status == 412))
		return s3_fail(c, TR_EIO, "%s: the object changed while it was being read "
			       "(resumed at byte %lld)", what, (long long)x->delivered);
	if (cc == CURLE_OUT_OF_MEMORY)
		return s3_fail(c, TR_ENOMEM, "%s: out of memory", what);
	if (cc != CURLE_OK) {
		char detail[96] = "";
		if (x->req->sink && x->total >= 0)
			snprintf(detail, sizeof detail, "body ended at byte %lld of %lld",
				 (long long)x->delivered, (long long)x->total);
		return fail_curl(c, what, cc, detail, attempts);
	}
	if (x->resp->status / 100 == 2 && x->resp->err.code[0])
		return s3_fail(c, TR_EIO, "%s: %ld with error %s: %s (after %d attempts)", what,
			       x->resp->status, x->resp->err.code, x->resp->err.message, attempts);
	if (x->resp->status / 100 == 2)
		return s3_fail(c, TR_EIO, "%s: body ended at byte %lld of %lld (after %d attempts)", what,
			       (long long)x->delivered, (long long)x->total, attempts);
	return fail_http(c, what, x->resp, attempts);
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
	double start = drv_now_ms();
	int cured = 0;

	memset(resp, 0, sizeof *resp);
	memset(&x, 0, sizeof x);
	x.c = c;
	x.req = req;
	x.resp = resp;
	x.total = -1;
	describe(c, req, what, sizeof what);
	s3_digests_compute(c, req->body ? req->body : "", req->body_len, &dg);

	/* Backoff grows only while attempts make no progress: a download that
	 * resumes after each break is not a struggling server. */
	int stuck = 0;
	for (int n = 0;; n++) {
		int64_t before = x.delivered;
		int rc = s3_creds_ensure(c);
		if (rc != TR_OK)
			return rc;
		enum outcome o = attempt(c, req, &x, &dg, &cc, what);
		stuck = x.delivered > before ? 0 : stuck + 1;
		if (o == OUT_OK) {
			snprintf(resp->sent_checksum, sizeof resp->sent_checksum, "%s", dg.sha256_b64);
			return TR_OK;
		}
		if (cure(c, o, resp, what, &cured)) {
			n--;
			continue;
		}
		long delay = drv_backoff_ms(&c->rng, stuck > 0 ? stuck - 1 : 0, BACKOFF_BASE_MS, BACKOFF_CAP_MS);
		double spent = drv_now_ms() - start;
		if (o != OUT_RETRY || n >= c->conf.retries ||
		    spent + (double)delay > (double)c->conf.retry_max_time * 1000.0)
			return final_failure(c, what, &x, cc, n + 1);
		s3_log(c, 1, "%s: %s; retry %d/%d in %ld ms", what,
		       cc ? curl_easy_strerror(cc) : (resp->err.code[0] ? resp->err.code : "server error"),
		       n + 1, c->conf.retries, delay);
		drv_sleep_ms(delay);
	}
}
