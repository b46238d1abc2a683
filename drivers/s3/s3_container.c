/* s3_container.c - the container source: the ECS task role endpoint
 * (AWS_CONTAINER_CREDENTIALS_RELATIVE_URI on 169.254.170.2) or a full
 * URI (AWS_CONTAINER_CREDENTIALS_FULL_URI: EKS Pod Identity, ECS
 * Anywhere, Greengrass) with an authorization token from
 * AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE (re-read each time: it rotates)
 * or AWS_CONTAINER_AUTHORIZATION_TOKEN.  Over plain http a full URI may
 * only name a loopback address or the ECS/EKS link-local hosts, as in the
 * AWS SDKs: anything else would hand the token to whoever answers. */
#include "config.h"
#include "s3_creds.h"
#include "s3_fetch.h"
#include "s3_json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ECS_HOST "169.254.170.2"
#define TOKEN_MAX 16384

static const char *env(const char *name)
{
	const char *v = getenv(name);
	return v && *v ? v : NULL;
}

/* The host of an http(s) URL, without brackets or port, into out. */
static int url_host(const char *url, char *out, size_t outlen)
{
	const char *p = strstr(url, "://");
	if (!p)
		return -1;
	p += 3;
	const char *at = p + strcspn(p, "/?#");
	const char *cred = memchr(p, '@', (size_t)(at - p));
	if (cred)
		return -1; /* user:password@ in a credentials URL: refuse */
	size_t n;
	if (*p == '[') {
		const char *close = strchr(p, ']');
		if (!close || close > at)
			return -1;
		p++;
		n = (size_t)(close - p);
	} else {
		n = strcspn(p, ":/?#");
	}
	if (n == 0 || n >= outlen)
		return -1;
	memcpy(out, p, n);
	out[n] = '\0';
	return 0;
}

int s3_container_host_allowed(const char *url)
{
	char host[256];
	if (strncmp(url, "https://", 8) == 0)
		return url_host(url, host, sizeof host) == 0;
	if (strncmp(url, "http://", 7) != 0 || url_host(url, host, sizeof host) != 0)
		return 0;
	if (strncmp(host, "127.", 4) == 0 || strcmp(host, "localhost") == 0 || strcmp(host, "::1") == 0)
		return 1;
	return strcmp(host, ECS_HOST) == 0 || strcmp(host, "169.254.170.23") == 0 ||
	       strcmp(host, "fd00:ec2::23") == 0;
}

/* The URL to ask, from the environment; a relative URI wins, as in the SDKs. */
static int container_url(char *out, size_t outlen, char *why, size_t whylen)
{
	const char *rel = env("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
	const char *full = env("AWS_CONTAINER_CREDENTIALS_FULL_URI");
	if (rel) {
		snprintf(out, outlen, "http://" ECS_HOST "%s%s", rel[0] == '/' ? "" : "/", rel);
		return S3_SRC_CONFIGURED;
	}
	if (!full) {
		snprintf(why, whylen, "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI and AWS_CONTAINER_CREDENTIALS_FULL_URI not set");
		return S3_SRC_ABSENT;
	}
	if (!s3_container_host_allowed(full)) {
		snprintf(why, whylen, "AWS_CONTAINER_CREDENTIALS_FULL_URI must be https, or http to a loopback "
			 "address, " ECS_HOST " or 169.254.170.23");
		return S3_SRC_BROKEN;
	}
	snprintf(out, outlen, "%s", full);
	return S3_SRC_CONFIGURED;
}

int s3_container_probe(tr_conn *c, s3_src_info *info)
{
	char url[2048];
	(void)c;
	int st = container_url(url, sizeof url, info->why, sizeof info->why);
	if (st != S3_SRC_CONFIGURED)
		return st;
	const char *tf = env("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
	snprintf(info->ident, sizeof info->ident, "%s\n%s", url, tf ? tf : "");
	url[strcspn(url, "?#")] = '\0';
	snprintf(info->detail, sizeof info->detail, "container (%s%s)", url,
		 tf ? ", token file" : env("AWS_CONTAINER_AUTHORIZATION_TOKEN") ? ", token" : "");
	return S3_SRC_CONFIGURED;
}

/* "Authorization: <token>" into out, or "" when there is none. */
static int auth_header(char *out, size_t outlen, char *why, size_t whylen)
{
	const char *tf = env("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
	const char *tv = env("AWS_CONTAINER_AUTHORIZATION_TOKEN");
	out[0] = '\0';
	if (!tf && !tv)
		return 0;
	char *token = malloc(TOKEN_MAX);
	if (!token) {
		snprintf(why, whylen, "out of memory");
		return -1;
	}
	int rc = 0;
	if (tf)
		rc = s3_read_token_file(tf, token, TOKEN_MAX, why, whylen);
	else
		snprintf(token, TOKEN_MAX, "%s", tv);
	if (rc == 0 && strpbrk(token, "\r\n")) {
		snprintf(why, whylen, "AWS_CONTAINER_AUTHORIZATION_TOKEN holds a line break");
		rc = -1;
	}
	if (rc == 0 && (size_t)snprintf(out, outlen, "Authorization: %s", token) >= outlen) {
		snprintf(why, whylen, "the authorization token is too long");
		rc = -1;
	}
	memset(token, 0, TOKEN_MAX);
	free(token);
	return rc;
}

static void answer_error(const s3_fetch_resp *r, const char *url, char *why, size_t whylen)
{
	char code[128] = "", msg[256] = "";
	const char *b = r->body.p ? r->body.p : "";
	/* ECS and EKS answer errors as {"code": ..., "message": ...}. */
	if (s3_json_string(b, r->body.len, "code", code, sizeof code) != 1)
		s3_json_string(b, r->body.len, "Code", code, sizeof code);
	if (s3_json_string(b, r->body.len, "message", msg, sizeof msg) != 1)
		s3_json_string(b, r->body.len, "Message", msg, sizeof msg);
	snprintf(why, whylen, "%s answered %ld%s%s%s%s", url, r->status, code[0] ? " " : "", code,
		 msg[0] ? ": " : "", msg);
}

int s3_container_fetch(tr_conn *c, s3_creds *out, char *why, size_t whylen)
{
	char url[2048], auth[TOKEN_MAX + 32], shown[2048];
	if (container_url(url, sizeof url, why, whylen) != S3_SRC_CONFIGURED)
		return TR_EAUTH;
	if (auth_header(auth, sizeof auth, why, whylen) != 0)
		return TR_EAUTH;
	snprintf(shown, sizeof shown, "%s", url);
	shown[strcspn(shown, "?#")] = '\0';
	s3_fetch_req req = { .method = "GET", .url = url, .headers = { "Accept: application/json",
					auth[0] ? auth : NULL },
			     .connect_timeout_ms = 2000, .timeout_ms = 5000, .attempts = 3, .direct = 1 };
	s3_fetch_resp resp;
	int rc = s3_fetch(c, &req, &resp, why, whylen);
	memset(auth, 0, sizeof auth);
	if (rc != 0) {
		char saved[512];
		snprintf(saved, sizeof saved, "%s", why);
		snprintf(why, whylen, "%s: %s", shown, saved);
		rc = TR_ETRANSIENT;  /* did not answer, after s3_fetch's attempts */
	} else if (resp.status != 200) {
		answer_error(&resp, shown, why, whylen);
		rc = resp.status >= 500 ? TR_ETRANSIENT : TR_EAUTH;
	} else if (s3_creds_from_json(resp.body.p ? resp.body.p : "", resp.body.len, out, why, whylen) != 0) {
		rc = TR_EIO;
	}
	if (resp.body.p)
		memset(resp.body.p, 0, resp.body.len);
	s3_str_free(&resp.body);
	return rc;
}
