/* s3_sts.c - the web-identity source: the token in
 * AWS_WEB_IDENTITY_TOKEN_FILE (re-read each time: Kubernetes rotates it)
 * traded for temporary credentials of AWS_ROLE_ARN by STS
 * AssumeRoleWithWebIdentity.  The call is not signed; the token travels
 * in the POST body, never in a URL. */
#include "config.h"
#include "s3_creds.h"
#include "s3_endpoint.h"
#include "s3_fetch.h"
#include "s3_xml.h"
#include "sigv4.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define TOKEN_MAX (64 * 1024)

static const char *env(const char *name)
{
	const char *v = getenv(name);
	return v && *v ? v : NULL;
}

/* AWS_ENDPOINT_URL_STS, else AWS_ENDPOINT_URL, else the regional endpoint
 * of the partition (sts.cn-north-1.amazonaws.com.cn, ...). */
void s3_sts_endpoint(const char *region, char *out, size_t outlen)
{
	const char *ep = env("AWS_ENDPOINT_URL_STS");
	char host[256];
	if (!ep)
		ep = env("AWS_ENDPOINT_URL");
	if (ep) {
		size_t n = strlen(ep);
		while (n > 0 && ep[n - 1] == '/')
			n--;
		snprintf(out, outlen, "%.*s/", (int)n, ep);
		return;
	}
	if (s3_aws_host("sts", region, host, sizeof host) != 0)
		host[0] = '\0';
	snprintf(out, outlen, "https://%s/", host);
}

/* [\w+=,.@-]{2,64}, as STS wants a session name. */
static int session_name_ok(const char *s)
{
	size_t n = strlen(s);
	if (n < 2 || n > 64)
		return 0;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
		      strchr("_+=,.@-", *s)))
			return 0;
	return 1;
}

typedef struct webid {
	const char *token_file;
	const char *role_arn;
	char session[80];
	char endpoint[1024];
} webid;

static int webid_config(tr_conn *c, webid *w, char *why, size_t whylen)
{
	const char *name = env("AWS_ROLE_SESSION_NAME");
	memset(w, 0, sizeof *w);
	w->token_file = env("AWS_WEB_IDENTITY_TOKEN_FILE");
	w->role_arn = env("AWS_ROLE_ARN");
	if (!w->token_file) {
		snprintf(why, whylen, "AWS_WEB_IDENTITY_TOKEN_FILE not set");
		return S3_SRC_ABSENT;
	}
	if (!w->role_arn) {
		snprintf(why, whylen, "AWS_WEB_IDENTITY_TOKEN_FILE is set but AWS_ROLE_ARN is not");
		return S3_SRC_BROKEN;
	}
	if (name && !session_name_ok(name)) {
		snprintf(why, whylen, "AWS_ROLE_SESSION_NAME must be 2 to 64 of A-Za-z0-9_+=,.@-");
		return S3_SRC_BROKEN;
	}
	if (name)
		snprintf(w->session, sizeof w->session, "%s", name);
	else
		snprintf(w->session, sizeof w->session, "totalrecall-%lld", (long long)time(NULL));
	s3_sts_endpoint(c->conf.signing_region, w->endpoint, sizeof w->endpoint);
	return S3_SRC_CONFIGURED;
}

int s3_webid_probe(tr_conn *c, s3_src_info *info)
{
	webid w;
	int st = webid_config(c, &w, info->why, sizeof info->why);
	if (st != S3_SRC_CONFIGURED)
		return st;
	/* The session name is not part of the key: without one it changes
	 * with every run, and the role's credentials are the same. */
	snprintf(info->ident, sizeof info->ident, "%s\n%s\n%s\n%s", w.role_arn, w.token_file, w.endpoint,
		 env("AWS_ROLE_SESSION_NAME") ? w.session : "");
	snprintf(info->detail, sizeof info->detail, "web-identity (role %s, token %s, STS %s)", w.role_arn,
		 w.token_file, w.endpoint);
	return S3_SRC_CONFIGURED;
}

static char *form_body(const webid *w, const char *token)
{
	char *arn = s3_uri_encode(w->role_arn, strlen(w->role_arn), 0);
	char *sess = s3_uri_encode(w->session, strlen(w->session), 0);
	char *tok = s3_uri_encode(token, strlen(token), 0);
	s3_str s = { 0 };
	if (arn && sess && tok)
		s3_str_printf(&s, "Action=AssumeRoleWithWebIdentity&Version=2011-06-15&RoleArn=%s"
			      "&RoleSessionName=%s&WebIdentityToken=%s", arn, sess, tok);
	else
		s.oom = 1;
	free(arn);
	free(sess);
	if (tok)
		memset(tok, 0, strlen(tok));
	free(tok);
	return s3_str_take(&s);
}

static int parse_answer(const s3_fetch_resp *r, const webid *w, s3_creds *out, char *why, size_t whylen)
{
	const char *xml = r->body.p ? r->body.p : "";
	size_t len = r->body.len;
	char id[256], secret[256], exp[64], *token = malloc(S3_TOKEN_MAX);
	int rc = TR_EAUTH;
	if (!token) {
		snprintf(why, whylen, "out of memory");
		return TR_ENOMEM;
	}
	if (r->status != 200) {
		s3_xml_error e;
		s3_xml_parse_error(xml, len, &e);
		snprintf(why, whylen, "STS %s refused AssumeRoleWithWebIdentity for role %s: %ld %s%s%s",
			 w->endpoint, w->role_arn, r->status, e.code[0] ? e.code : "error",
			 e.message[0] ? ": " : "", e.message);
		rc = r->status >= 500 ? TR_ETRANSIENT : TR_EAUTH;
	} else if (s3_xml_text(xml, len, "AccessKeyId", id, sizeof id) != 1 ||
		   s3_xml_text(xml, len, "SecretAccessKey", secret, sizeof secret) != 1 ||
		   s3_xml_text(xml, len, "SessionToken", token, S3_TOKEN_MAX) != 1 ||
		   s3_xml_text(xml, len, "Expiration", exp, sizeof exp) != 1 || !s3_xml_time(exp)) {
		snprintf(why, whylen, "STS %s: the AssumeRoleWithWebIdentity answer has no credentials",
			 w->endpoint);
		rc = TR_EIO;
	} else if (s3_creds_set(out, id, secret, token, s3_xml_time(exp), why, whylen) != 0) {
		rc = TR_EIO;
	} else {
		rc = TR_OK;
	}
	memset(secret, 0, sizeof secret);
	memset(token, 0, S3_TOKEN_MAX);
	free(token);
	return rc;
}

int s3_webid_fetch(tr_conn *c, s3_creds *out, char *why, size_t whylen)
{
	webid w;
	char *token = malloc(TOKEN_MAX);
	if (!token) {
		snprintf(why, whylen, "out of memory");
		return TR_ENOMEM;
	}
	if (webid_config(c, &w, why, whylen) != S3_SRC_CONFIGURED ||
	    s3_read_token_file(w.token_file, token, TOKEN_MAX, why, whylen) != 0) {
		free(token);
		return TR_EAUTH;
	}
	char *body = form_body(&w, token);
	memset(token, 0, TOKEN_MAX);
	free(token);
	if (!body) {
		snprintf(why, whylen, "out of memory");
		return TR_ENOMEM;
	}
	s3_fetch_req req = { .method = "POST", .url = w.endpoint, .body = body, .body_len = strlen(body),
			     .headers = { "Content-Type: application/x-www-form-urlencoded",
					  "Accept: application/xml" },
			     .connect_timeout_ms = 5000, .timeout_ms = 20000, .attempts = 3 };
	s3_fetch_resp resp;
	int rc = s3_fetch(c, &req, &resp, why, whylen);
	memset(body, 0, strlen(body));
	free(body);
	if (rc != 0) {
		char saved[512];
		snprintf(saved, sizeof saved, "%s", why);
		snprintf(why, whylen, "STS %s: %s", w.endpoint, saved);
		s3_str_free(&resp.body);
		return TR_ETRANSIENT;  /* did not answer, after s3_fetch's attempts */
	}
	rc = parse_answer(&resp, &w, out, why, whylen);
	s3_str_free(&resp.body);
	return rc;
}
