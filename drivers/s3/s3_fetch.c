/* s3_fetch.c - requests to credential endpoints (see s3_fetch.h). */
#include "config.h"
#include "s3_fetch.h"
#include "s3_http.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define ANSWER_CAP (64 * 1024)

static void set_method(CURL *h, const s3_fetch_req *r, drv_body *s)
{
	if (strcmp(r->method, "GET") == 0)
		return;
	if (strcmp(r->method, "POST") == 0) {
		curl_easy_setopt(h, CURLOPT_POST, 1L);
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)s->len);
	} else {
		curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)s->len);
		if (strcmp(r->method, "PUT") != 0)
			curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, r->method);
	}
	curl_easy_setopt(h, CURLOPT_READFUNCTION, drv_body_read);
	curl_easy_setopt(h, CURLOPT_READDATA, s);
}

static CURLcode perform_once(tr_conn *c, const s3_fetch_req *r, struct curl_slist *hl, s3_fetch_resp *resp)
{
	CURL *h = c->fetch_curl;
	drv_body s = { r->body ? r->body : "", r->body ? r->body_len : 0, 0 };
	drv_capped answer = { &resp->body, ANSWER_CAP };
	const char *ca = getenv("AWS_CA_BUNDLE");
	curl_easy_reset(h);
	s3_str_reset(&resp->body);
	resp->status = 0;
	curl_easy_setopt(h, CURLOPT_URL, r->url);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, r->connect_timeout_ms);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, r->timeout_ms);
	curl_easy_setopt(h, CURLOPT_USERAGENT, S3_USER_AGENT);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, drv_capped_write);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &answer);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	if (r->direct)
		curl_easy_setopt(h, CURLOPT_PROXY, "");
	if (ca && *ca)
		curl_easy_setopt(h, CURLOPT_CAINFO, ca);
	set_method(h, r, &s);
	CURLcode cc = curl_easy_perform(h);
	if (cc == CURLE_OK)
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &resp->status);
	return cc;
}

int s3_fetch(tr_conn *c, const s3_fetch_req *r, s3_fetch_resp *resp, char *why, size_t whylen)
{
	struct curl_slist *hl = NULL;
	memset(resp, 0, sizeof *resp);
	if (!c->fetch_curl && !(c->fetch_curl = drv_curl_handle())) {
		snprintf(why, whylen, "cannot create a curl handle");
		return -1;
	}
	for (int i = 0; i < 4 && r->headers[i]; i++) {
		struct curl_slist *n = curl_slist_append(hl, r->headers[i]);
		if (!n) {
			curl_slist_free_all(hl);
			snprintf(why, whylen, "out of memory");
			return -1;
		}
		hl = n;
	}
	if (!(hl = curl_slist_append(hl, "Expect:"))) {
		snprintf(why, whylen, "out of memory");
		return -1;
	}
	CURLcode cc = CURLE_OK;
	for (int n = 0; n < (r->attempts > 0 ? r->attempts : 1); n++) {
		if (n > 0) {
			struct timespec ts = { 0, (long)(100 + s3_random(c) % 200) * 1000000L * n };
			nanosleep(&ts, NULL);
		}
		cc = perform_once(c, r, hl, resp);
		if (cc == CURLE_OK && resp->status < 500)
			break;
	}
	curl_slist_free_all(hl);
	if (cc == CURLE_WRITE_ERROR) {
		snprintf(why, whylen, "the answer is larger than %d bytes", ANSWER_CAP);
		return -1;
	}
	if (cc != CURLE_OK) {
		snprintf(why, whylen, "%s", curl_easy_strerror(cc));
		return -1;
	}
	return 0;
}

int s3_read_small_file(const char *path, size_t cap, char **out, size_t *len, char *why, size_t whylen)
{
	*out = NULL;
	*len = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(why, whylen, "cannot read %s: %s", path, strerror(errno));
		return -1;
	}
	char *buf = malloc(cap + 1);
	size_t n = 0;
	ssize_t r = 0;
	while (buf && n <= cap && (r = read(fd, buf + n, cap + 1 - n)) != 0) {
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			break;
		n += (size_t)r;
	}
	int saved = errno;
	close(fd);
	if (!buf || r < 0 || n > cap) {
		if (!buf)
			snprintf(why, whylen, "out of memory");
		else if (r < 0)
			snprintf(why, whylen, "cannot read %s: %s", path, strerror(saved));
		else
			snprintf(why, whylen, "%s is larger than %zu bytes", path, cap);
		if (buf)
			memset(buf, 0, n < cap + 1 ? n : cap + 1);
		free(buf);
		return -1;
	}
	buf[n] = '\0';
	*out = buf;
	*len = n;
	return 0;
}

int s3_read_token_file(const char *path, char *out, size_t outlen, char *why, size_t whylen)
{
	char *buf;
	size_t len;
	if (s3_read_small_file(path, outlen - 1, &buf, &len, why, whylen) != 0)
		return -1;
	const char *s = buf, *e = buf + len;
	while (s < e && (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r'))
		s++;
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n' || e[-1] == '\r'))
		e--;
	memcpy(out, s, (size_t)(e - s));
	out[e - s] = '\0';
	memset(buf, 0, len);
	free(buf);
	if (e == s) {
		snprintf(why, whylen, "%s is empty", path);
		return -1;
	}
	if (strpbrk(out, "\r\n")) {
		memset(out, 0, outlen);
		snprintf(why, whylen, "%s holds more than one line", path);
		return -1;
	}
	return 0;
}
