/* azure_token.c - the bearer token of a managed identity.  It comes from
 * the Azure Instance Metadata Service (IMDS) token endpoint, is cached in
 * state-dir (mode 0600, only used when this user owns it and nobody else
 * can read it) so that every archive-put does not ask again, and is
 * replaced TOKEN_MARGIN seconds before it expires, also in the middle of
 * a long command.  The token never reaches a message or a log. */
#include "config.h"
#include "azure_http.h"
#include "drv_util.h"
#include "drv_http.h"

#include <bearssl.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define TOKEN_MARGIN 300      /* seconds before expiry a token is replaced */
#define IMDS_RESOURCE "https://storage.azure.com/"
#define IMDS_API_VERSION "2018-02-01"
#define IMDS_CONNECT_TIMEOUT 2L
#define IMDS_BODY_CAP (64 * 1024)

static int64_t now_s(void)
{
	return (int64_t)time(NULL);
}

static void token_clear(az_token *t)
{
	if (t->value) {
		explicit_bzero(t->value, strlen(t->value));
		free(t->value);
	}
	t->value = NULL;
	t->expires = 0;
	t->from_cache = 0;
}

void az_token_free(az_token *t)
{
	token_clear(t);
}

/* A token goes into an HTTP header: visible ASCII, no spaces. */
static int token_ok(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > AZ_TOKEN_MAX)
		return 0;
	for (; *s; s++)
		if (*s <= ' ' || *s > '~')
			return 0;
	return 1;
}

/* --- the cache file --- */

/* state-dir/azure-token-<hash of endpoint, client id and resource>. */
static int cache_path(tr_conn *c, char *out, size_t len)
{
	char id[2048];
	unsigned char d[32];
	br_sha256_context h;
	if (!c->conf.state_dir)
		return -1;
	snprintf(id, sizeof id, "%s\n%s\n%s", c->conf.imds_url, c->conf.client_id ? c->conf.client_id : "",
		 IMDS_RESOURCE);
	br_sha256_init(&h);
	br_sha256_update(&h, id, strlen(id));
	br_sha256_out(&h, d);
	int n = snprintf(out, len, "%s/azure-token-", c->conf.state_dir);
	for (int i = 0; i < 12 && n > 0 && (size_t)n + 3 < len; i++)
		n += snprintf(out + n, len - (size_t)n, "%02x", d[i]);
	return 0;
}

/* Reads "expiry\ntoken\n" when the file is ours and private; a file that
 * anyone else could have written or read is not trusted. */
static void cache_read(tr_conn *c)
{
	char path[4096], buf[AZ_TOKEN_MAX + 64];
	struct stat st;
	if (cache_path(c, path, sizeof path) != 0)
		return;
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return;
	ssize_t n = -1;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == geteuid() && !(st.st_mode & 077))
		n = read(fd, buf, sizeof buf - 1);
	else
		az_log(c, 1, AZ_NAME ": ignoring %s: not a private file of this user", path);
	close(fd);
	if (n <= 0) {
		explicit_bzero(buf, sizeof buf);
		return;
	}
	buf[n] = '\0';
	char *nl = strchr(buf, '\n'), *end;
	long long exp = strtoll(buf, &end, 10);
	if (nl && end == nl) {
		char *tok = nl + 1;
		tok[strcspn(tok, "\n")] = '\0';
		if (token_ok(tok) && exp - TOKEN_MARGIN > now_s() && (c->token.value = strdup(tok))) {
			c->token.expires = exp;
			c->token.from_cache = 1;
		}
	}
	explicit_bzero(buf, sizeof buf);
}

/* Written whole (drv_util.h): readers see the old token or the new one,
 * never half. */
static void cache_write(tr_conn *c)
{
	char path[4096];
	if (cache_path(c, path, sizeof path) != 0)
		return;
	size_t cap = strlen(c->token.value) + 32;
	char *text = malloc(cap);
	if (!text)
		return;
	int n = snprintf(text, cap, "%lld\n%s\n", (long long)c->token.expires, c->token.value);
	(void)drv_make_private_dirs(c->conf.state_dir);
	if (drv_write_file(path, text, (size_t)n) != 0)
		az_log(c, 1, AZ_NAME ": cannot write %s: %s; the token will be fetched again next time", path,
		       strerror(errno));
	explicit_bzero(text, cap);
	free(text);
}

static void cache_remove(tr_conn *c)
{
	char path[4096];
	if (cache_path(c, path, sizeof path) == 0)
		(void)unlink(path);
}

/* --- the IMDS request --- */

/* The value of "name" in a flat JSON object, string or number, into out.
 * Returns 1 found, 0 absent, -1 malformed or too long. */
static int json_field(const char *json, const char *name, char *out, size_t outlen)
{
	char pat[64];
	snprintf(pat, sizeof pat, "\"%s\"", name);
	const char *p = strstr(json, pat);
	if (!p)
		return 0;
	p += strlen(pat);
	while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
		p++;
	if (*p++ != ':')
		return -1;
	while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
		p++;
	size_t o = 0;
	if (*p != '"') { /* a number */
		while ((*p >= '0' && *p <= '9') || *p == '.' || *p == '-') {
			if (o + 1 >= outlen)
				return -1;
			out[o++] = *p++;
		}
		out[o] = '\0';
		return o ? 1 : -1;
	}
	for (p++; *p && *p != '"'; p++) {
		char ch = *p;
		if (ch == '\\') {
			p++;
			/* Tokens and numbers hold no escapes but "\/"; others are copied raw. */
			ch = *p == '/' || *p == '"' || *p == '\\' ? *p : 0;
			if (!ch)
				return -1;
		}
		if (o + 1 >= outlen)
			return -1;
		out[o++] = ch;
	}
	out[o] = '\0';
	return *p == '"' ? 1 : -1;
}

static int imds_url(tr_conn *c, s3_str *url)
{
	s3_str_printf(url, "%s%sapi-version=" IMDS_API_VERSION "&resource=", c->conf.imds_url,
		      strchr(c->conf.imds_url, '?') ? "&" : "?");
	s3_str_add_encoded(url, IMDS_RESOURCE, strlen(IMDS_RESOURCE), 0);
	if (c->conf.client_id) {
		s3_str_add(url, "&client_id=");
		s3_str_add_encoded(url, c->conf.client_id, strlen(c->conf.client_id), 0);
	}
	return url->oom ? -1 : 0;
}

/* One GET of the token endpoint; *status 0 when no answer came. */
static CURLcode imds_get(tr_conn *c, const char *url, s3_str *body, long *status, int *connected)
{
	CURL *h = c->curl;
	drv_capped answer = { body, IMDS_BODY_CAP };
	struct curl_slist *hdr = curl_slist_append(NULL, "Metadata: true");
	if (!hdr)
		return CURLE_OUT_OF_MEMORY;
	s3_str_reset(body);
	curl_easy_reset(h);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_NOPROXY, "*"); /* IMDS is never reached through a proxy */
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, IMDS_CONNECT_TIMEOUT);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, c->conf.timeout);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, drv_capped_write);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &answer);
	if (c->conf.ca_file)
		curl_easy_setopt(h, CURLOPT_CAINFO, c->conf.ca_file);
	CURLcode cc = curl_easy_perform(h);
	*status = 0;
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, status);
	double t = 0;
	curl_easy_getinfo(h, CURLINFO_CONNECT_TIME, &t);
	*connected = t > 0 || *status > 0;
	curl_slist_free_all(hdr);
	return cc;
}

/* Takes the token and its lifetime from a 200 answer. */
static int take_token(tr_conn *c, const char *json, const char *where)
{
	char *tok = malloc(AZ_TOKEN_MAX + 1);
	char num[32];
	if (!tok)
		return az_fail(c, TR_ENOMEM, AZ_NAME ": out of memory");
	int found = json_field(json, "access_token", tok, AZ_TOKEN_MAX + 1);
	int64_t expires = 0;
	if (json_field(json, "expires_in", num, sizeof num) == 1)
		expires = now_s() + strtoll(num, NULL, 10);
	else if (json_field(json, "expires_on", num, sizeof num) == 1)
		expires = strtoll(num, NULL, 10);
	int rc = TR_OK;
	if (found != 1 || !token_ok(tok))
		rc = az_fail(c, TR_EAUTH, AZ_NAME ": managed identity: %s: no usable access_token in the answer", where);
	else if (expires <= now_s())
		rc = az_fail(c, TR_EAUTH, AZ_NAME ": managed identity: %s: the token has no expiry in the future "
			     "(expires_in/expires_on)", where);
	if (rc == TR_OK) {
		token_clear(&c->token);
		c->token.value = tok;
		c->token.expires = expires;
		c->token.fetched++;
		az_log(c, 2, AZ_NAME ": managed identity token from %s, valid for %lld s", where,
		       (long long)(expires - now_s()));
		return TR_OK;
	}
	explicit_bzero(tok, AZ_TOKEN_MAX + 1);
	free(tok);
	return rc;
}

static int imds_refused(tr_conn *c, long status, const char *json, const char *where)
{
	char err[64] = "", desc[256] = "";
	json_field(json, "error", err, sizeof err);
	json_field(json, "error_description", desc, sizeof desc);
	int again = status == 404 || status == 410 || status == 429 || status >= 500;  /* see fetch() */
	return az_fail(c, status == 400 || status == 401 || status == 403 ? TR_EAUTH : again ? TR_ETRANSIENT : TR_EIO,
		       AZ_NAME ": managed identity: %s: %ld %s%s%s", where, status, err[0] ? err : "error",
		       desc[0] ? ": " : "", desc);
}

/* IMDS asks callers to retry 404 (identity not yet assigned), 410 (the VM
 * is starting), 429 and 5xx; a host where nothing answers at all (not an
 * Azure VM) fails at once. */
static int fetch(tr_conn *c)
{
	s3_str url = { 0 }, body = { 0 };
	char where[512];
	int rc = TR_EIO, tries = c->conf.retries < 3 ? c->conf.retries : 3;
	if (imds_url(c, &url) != 0) {
		s3_str_free(&url);
		return az_fail(c, TR_ENOMEM, AZ_NAME ": out of memory");
	}
	snprintf(where, sizeof where, "%s", c->conf.imds_url);
	for (int n = 0; n <= tries; n++) {
		long status = 0;
		int connected = 0;
		CURLcode cc = imds_get(c, url.p, &body, &status, &connected);
		const char *json = body.p ? body.p : "";
		if (cc == CURLE_OK && status == 200) {
			rc = take_token(c, json, where);
			break;
		}
		int again = cc == CURLE_OK ? status == 404 || status == 410 || status == 429 || status >= 500
					   : connected && cc != CURLE_OUT_OF_MEMORY;
		if (cc != CURLE_OK)  /* it answered once: may pass; it never did: there is none */
			rc = az_fail(c, connected ? TR_ETRANSIENT : TR_EAUTH, AZ_NAME ": managed identity: %s: %s%s", where,
				     curl_easy_strerror(cc),
				     connected ? "" : " (no identity endpoint here: not on Azure, or no managed identity?)");
		else
			rc = imds_refused(c, status, json, where);
		if (!again || n == tries)
			break;
		drv_sleep_ms(az_backoff_ms(c, n));
	}
	if (body.p)
		explicit_bzero(body.p, body.len);
	s3_str_free(&body);
	s3_str_free(&url);
	return rc;
}

int az_token_get(tr_conn *c, const char **token)
{
	*token = NULL;
	if (c->token.value && c->token.expires - TOKEN_MARGIN > now_s()) {
		*token = c->token.value;
		return TR_OK;
	}
	int first = !c->token.value && !c->token.fetched && !c->token.dropped;
	token_clear(&c->token);
	if (first)
		cache_read(c);
	if (!c->token.value) {
		int rc = fetch(c);
		if (rc != TR_OK)
			return rc;
		cache_write(c);
	}
	*token = c->token.value;
	return TR_OK;
}

void az_token_drop(tr_conn *c)
{
	if (c->token.from_cache)
		cache_remove(c);
	token_clear(&c->token);
	c->token.dropped = 1; /* from now on, only fresh tokens */
}
