/* drv_http.c - see drv_http.h. */
#include "config.h"
#include "drv_http.h"
#include "drv_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/* --- the answer's body --- */

void drv_stream_init(drv_stream *s, tr_write_fn sink, void *sink_ctx, s3_str *body, size_t cap)
{
	memset(s, 0, sizeof *s);
	s->sink = sink;
	s->sink_ctx = sink_ctx;
	s->body = body;
	s->cap = cap;
	s->total = -1;
}

void drv_stream_attempt(drv_stream *s)
{
	s->streaming = s->sink_failed = s->resume_bad = 0;
}

int drv_stream_resume(const drv_stream *s, char *range, size_t len)
{
	if (!s->sink || s->delivered <= 0)
		return 0;
	snprintf(range, len, "bytes=%lld-", (long long)s->delivered);
	return 1;
}

static void new_answer(drv_stream *s)
{
	s->range_start = s->range_total = -1;
}

static void content_range(drv_stream *s, const char *value)
{
	long long start, end, total;
	if (sscanf(value, "bytes %lld-%lld/%lld", &start, &end, &total) == 3) {
		s->range_start = start;
		s->range_total = total;
	}
}

static void begin(drv_stream *s, long status, const char *etag, int64_t content_length)
{
	s->streaming = 1;
	if (s->etag[0] && etag[0] && strcmp(s->etag, etag) != 0) {
		s->resume_bad = 1;  /* a different object now lives under the name */
		return;
	}
	if (status == 206) {
		if (s->range_start != s->delivered)
			s->resume_bad = 1;
		if (s->total < 0)
			s->total = s->range_total;
	} else {
		s->skip = s->delivered;
		if (s->total < 0 || s->delivered == 0)
			s->total = content_length;
	}
	if (!s->etag[0])
		snprintf(s->etag, sizeof s->etag, "%s", etag);
}

size_t drv_stream_header(drv_stream *s, const char *method, const char *line, size_t len, long *status,
			 int64_t *content_length, const char *etag, const drv_field *fields, size_t nfields)
{
	char num[96];
	if (len >= 5 && strncmp(line, "HTTP/", 5) == 0) {
		*status = drv_status_code(line, len);
		*content_length = -1;
		for (size_t i = 0; i < nfields; i++)
			fields[i].out[0] = '\0';
		new_answer(s);
	} else if (len <= 2 && *status >= 200) { /* the end of the head */
		if (s->sink && *status / 100 == 2 && strcmp(method, "GET") == 0) {
			begin(s, *status, etag, *content_length);
			if (s->resume_bad)
				return 0;
		}
	} else if (drv_header(line, len, "Content-Length", num, sizeof num)) {
		*content_length = strtoll(num, NULL, 10);
	} else if (drv_header(line, len, "Content-Range", num, sizeof num)) {
		content_range(s, num);
	} else {
		for (size_t i = 0; i < nfields && !drv_header(line, len, fields[i].name, fields[i].out, fields[i].outlen);
		     i++)
			;
	}
	return len;
}

/* Keeps len bytes in str unless that makes more than cap: len, or 0. */
static size_t keep(s3_str *str, size_t cap, const char *data, size_t len)
{
	if (str->len + len > cap)
		return 0;
	s3_str_addn(str, data, len);
	return str->oom ? 0 : len;
}

size_t drv_capped_write(char *data, size_t size, size_t nmemb, void *ud)
{
	drv_capped *c = ud;
	return keep(c->str, c->cap, data, size * nmemb);
}

size_t drv_stream_write(char *data, size_t size, size_t nmemb, void *stream)
{
	drv_stream *s = stream;
	size_t len = size * nmemb, off = 0;
	if (!s->streaming)
		return keep(s->body, s->cap, data, len);
	if (s->skip > 0) {
		off = (size_t)s->skip < len ? (size_t)s->skip : len;
		s->skip -= (int64_t)off;
	}
	if (off < len) {
		if (s->sink(s->sink_ctx, data + off, len - off) != 0) {
			s->sink_failed = 1;
			return 0;
		}
		s->delivered += (int64_t)(len - off);
	}
	return len;
}

int drv_stream_complete(const drv_stream *s)
{
	return s->streaming && s->total >= 0 && s->delivered == s->total;
}

int drv_stream_short(const drv_stream *s)
{
	return s->streaming && s->total >= 0 && s->delivered != s->total;
}

int drv_stream_failure(const drv_stream *s, long status, CURLcode cc, int attempts, const char *what,
		       const char *noun, char *err, size_t errlen)
{
	if (s->sink_failed) {
		snprintf(err, errlen, "%s: the write callback failed", what);
		return TR_ECALLBACK;
	}
	if (s->resume_bad || (s->delivered > 0 && status == 412)) {  /* reading it again may find it whole */
		snprintf(err, errlen, "%s: the %s changed while it was being read (resumed at byte %lld)", what, noun,
			 (long long)s->delivered);
		return TR_ETRANSIENT;
	}
	if (cc == CURLE_OUT_OF_MEMORY) {
		snprintf(err, errlen, "%s: out of memory", what);
		return TR_ENOMEM;
	}
	if (cc != CURLE_OK) {
		char detail[96] = "";
		if (s->sink && s->total >= 0)
			snprintf(detail, sizeof detail, ": body ended at byte %lld of %lld", (long long)s->delivered,
				 (long long)s->total);
		snprintf(err, errlen, "%s: %s%s (after %d attempt%s)", what, curl_easy_strerror(cc), detail, attempts,
			 attempts == 1 ? "" : "s");
		return drv_curl_transient(cc) ? TR_ETRANSIENT : TR_EIO;
	}
	return 0;
}

enum drv_transfer drv_transfer_outcome(const drv_stream *s, CURLcode cc)
{
	if (s->sink_failed || s->resume_bad)
		return DRV_TRANSFER_FAIL;
	if (cc == CURLE_OK)
		return DRV_TRANSFER_ANSWER;
	if (drv_stream_complete(s))  /* every byte arrived: nothing is missing */
		return DRV_TRANSFER_OK;
	return drv_curl_transient(cc) ? DRV_TRANSFER_RETRY : DRV_TRANSFER_FAIL;
}

/* --- retries --- */

void drv_retry_start(drv_retry *r, uint64_t *rng, int retries, long max_time, long base_ms, long cap_ms)
{
	memset(r, 0, sizeof *r);
	r->rng = rng;
	r->retries = retries;
	r->max_time = max_time;
	r->base_ms = base_ms;
	r->cap_ms = cap_ms;
	r->start = drv_now_ms();
}

void drv_retry_before(drv_retry *r, const drv_stream *s)
{
	r->before = s->delivered;
}

void drv_retry_after(drv_retry *r, const drv_stream *s)
{
	r->stuck = s->delivered > r->before ? 0 : r->stuck + 1;
}

long drv_retry_delay(const drv_retry *r, int n)
{
	long delay = drv_backoff_ms(r->rng, r->stuck > 0 ? r->stuck - 1 : 0, r->base_ms, r->cap_ms);
	if (n >= r->retries || drv_now_ms() - r->start + (double)delay > (double)r->max_time * 1000.0)
		return -1;
	return delay;
}

/* --- the request --- */

size_t drv_body_read(char *buf, size_t size, size_t nmemb, void *ud)
{
	drv_body *b = ud;
	size_t want = size * nmemb, left = b->len - b->off;
	size_t n = want < left ? want : left;
	if (n)
		memcpy(buf, (const char *)b->p + b->off, n);
	b->off += n;
	return n;
}

/* The body is in memory, so any offset is fine. */
int drv_body_seek(void *ud, curl_off_t offset, int origin)
{
	drv_body *b = ud;
	if (origin != SEEK_SET || offset < 0 || (size_t)offset > b->len)
		return CURL_SEEKFUNC_CANTSEEK;
	b->off = (size_t)offset;
	return CURL_SEEKFUNC_OK;
}

void drv_curl_request(CURL *h, const char *url, struct curl_slist *headers, long timeout, const char *user_agent,
		      const char *ca_file, curl_write_callback header_cb, void *header_ud, drv_stream *stream)
{
	curl_easy_reset(h); /* keeps the connection cache */
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(h, CURLOPT_PATH_AS_IS, 1L);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_USERAGENT, user_agent);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, timeout);
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, timeout);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, header_cb);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, header_ud);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, drv_stream_write);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, stream);
	if (ca_file)
		curl_easy_setopt(h, CURLOPT_CAINFO, ca_file);
}

static void upload_from(CURL *h, drv_body *body)
{
	curl_easy_setopt(h, CURLOPT_READFUNCTION, drv_body_read);
	curl_easy_setopt(h, CURLOPT_READDATA, body);
	curl_easy_setopt(h, CURLOPT_SEEKFUNCTION, drv_body_seek);
	curl_easy_setopt(h, CURLOPT_SEEKDATA, body);
}

void drv_curl_method(CURL *h, const char *method, drv_body *body)
{
	if (strcmp(method, "HEAD") == 0) {
		curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
	} else if (strcmp(method, "PUT") == 0) {
		curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)body->len);
		upload_from(h, body);
	} else if (strcmp(method, "POST") == 0) {
		curl_easy_setopt(h, CURLOPT_POST, 1L);
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body->len);
		upload_from(h, body);
	} else if (strcmp(method, "GET") != 0) {
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	}
}

int drv_add_header(struct curl_slist **list, const char *name, const char *value)
{
	size_t len = strlen(name) + strlen(value) + 3;
	char *line = malloc(len);
	if (!line)
		return -1;
	snprintf(line, len, "%s:%s%s", name, *value ? " " : "", value);
	struct curl_slist *n = curl_slist_append(*list, line);
	explicit_bzero(line, len);
	free(line);
	if (!n)
		return -1;
	*list = n;
	return 0;
}

void drv_free_headers(struct curl_slist *list)
{
	for (struct curl_slist *l = list; l; l = l->next)
		explicit_bzero(l->data, strlen(l->data));
	curl_slist_free_all(list);
}

/* --- the answer --- */

int drv_header(const char *line, size_t len, const char *name, char *out, size_t outlen)
{
	size_t n = strlen(name);
	if (len <= n || line[n] != ':' || strncasecmp(line, name, n) != 0)
		return 0;
	const char *v = line + n + 1, *end = line + len;
	while (v < end && (*v == ' ' || *v == '\t'))
		v++;
	while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' '))
		end--;
	size_t vlen = (size_t)(end - v) < outlen - 1 ? (size_t)(end - v) : outlen - 1;
	memcpy(out, v, vlen);
	out[vlen] = '\0';
	return 1;
}

long drv_status_code(const char *line, size_t len)
{
	char buf[32];
	size_t n = len < sizeof buf - 1 ? len : sizeof buf - 1;
	memcpy(buf, line, n);
	buf[n] = '\0';
	const char *sp = strchr(buf, ' ');
	return sp ? strtol(sp + 1, NULL, 10) : 0;
}

int drv_curl_transient(CURLcode cc)
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

int64_t drv_http_date(const char *s)
{
	struct tm tm;
	memset(&tm, 0, sizeof tm);
	if (!s[0] || !strptime(s, "%a, %d %b %Y %H:%M:%S", &tm))
		return 0;
	return (int64_t)timegm(&tm);
}
