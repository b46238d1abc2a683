/* s3_imds.c - the EC2 instance metadata source, IMDSv2 only: a PUT for a
 * session token, then the role name and the role's credentials with that
 * token.  IMDSv1 (GETs without a token) is never used.  Timeouts are
 * short so that a host without instance metadata fails within seconds. */
#include "config.h"
#include "s3_creds.h"
#include "s3_fetch.h"
#include "s3_json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define IMDS_V4 "http://169.254.169.254"
#define IMDS_V6 "http://[fd00:ec2::254]"
#define CONNECT_MS 1000
#define TOTAL_MS 2000
#define ATTEMPTS 2
#define ROLE_PATH "/latest/meta-data/iam/security-credentials/"

static const char *env(const char *name)
{
	const char *v = getenv(name);
	return v && *v ? v : NULL;
}

void s3_imds_endpoint(char *out, size_t outlen)
{
	const char *ep = env("AWS_EC2_METADATA_SERVICE_ENDPOINT");
	const char *mode = env("AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE");
	if (!ep)
		ep = mode && strcasecmp(mode, "IPv6") == 0 ? IMDS_V6 : IMDS_V4;
	size_t n = strlen(ep);
	while (n > 0 && ep[n - 1] == '/')
		n--;
	snprintf(out, outlen, "%.*s", (int)n, ep);
}

int s3_imds_probe(tr_conn *c, s3_src_info *info)
{
	const char *off = env("AWS_EC2_METADATA_DISABLED");
	char ep[1024];
	(void)c;
	if (off && strcasecmp(off, "true") == 0) {
		snprintf(info->why, sizeof info->why, "AWS_EC2_METADATA_DISABLED=true");
		return S3_SRC_ABSENT;
	}
	s3_imds_endpoint(ep, sizeof ep);
	snprintf(info->ident, sizeof info->ident, "%s", ep);
	snprintf(info->detail, sizeof info->detail, "imds (IMDSv2 at %s)", ep);
	return S3_SRC_CONFIGURED;
}

typedef struct imds {
	tr_conn *c;
	char ep[1024];
	char token_hdr[256];
	char *why;
	size_t whylen;
} imds;

/* One request; 0 with the answer in resp, -1 with why set. */
static int ask(imds *m, const char *method, const char *path, const char *hdr, s3_fetch_resp *resp)
{
	char url[2048], saved[512];
	snprintf(url, sizeof url, "%s%s", m->ep, path);
	s3_fetch_req req = { .method = method, .url = url, .headers = { hdr },
			     .body = strcmp(method, "PUT") == 0 ? "" : NULL,
			     .connect_timeout_ms = CONNECT_MS, .timeout_ms = TOTAL_MS, .attempts = ATTEMPTS,
			     .direct = 1 };
	if (s3_fetch(m->c, &req, resp, m->why, m->whylen) == 0)
		return 0;
	snprintf(saved, sizeof saved, "%s", m->why);
	snprintf(m->why, m->whylen, "no answer from instance metadata at %s (%s): not on EC2, or a "
		 "container behind a metadata hop limit of 1", m->ep, saved);
	s3_str_free(&resp->body);
	return -1;
}

static int session_token(imds *m)
{
	s3_fetch_resp r;
	if (ask(m, "PUT", "/latest/api/token", "X-aws-ec2-metadata-token-ttl-seconds: 21600", &r) != 0)
		return -1;
	const char *b = r.body.p ? r.body.p : "";
	int ok = r.status == 200 && r.body.len > 0 && r.body.len < 200 && !strpbrk(b, "\r\n");
	if (ok)
		snprintf(m->token_hdr, sizeof m->token_hdr, "X-aws-ec2-metadata-token: %s", b);
	else if (r.status == 200)
		snprintf(m->why, m->whylen, "%s: the IMDSv2 token answer is malformed", m->ep);
	else
		snprintf(m->why, m->whylen, "%s refused an IMDSv2 session token (PUT /latest/api/token: %ld)%s",
			 m->ep, r.status, r.status == 403 ? ": instance metadata is disabled on this instance" : "");
	if (r.body.p)
		memset(r.body.p, 0, r.body.len);
	s3_str_free(&r.body);
	return ok ? 0 : -1;
}

/* The first line of the role listing: the instance profile's role. */
static int role_name(imds *m, char *out, size_t outlen)
{
	s3_fetch_resp r;
	if (ask(m, "GET", ROLE_PATH, m->token_hdr, &r) != 0)
		return -1;
	const char *b = r.body.p ? r.body.p : "";
	size_t n = strcspn(b, "\r\n");
	int ok = r.status == 200 && n > 0 && n < outlen && !memchr(b, '/', n) && !memchr(b, '?', n);
	if (ok) {
		memcpy(out, b, n);
		out[n] = '\0';
	} else if (r.status == 404) {
		snprintf(m->why, m->whylen, "%s: no IAM role is attached to this instance", m->ep);
	} else {
		snprintf(m->why, m->whylen, "%s: GET %s answered %ld", m->ep, ROLE_PATH, r.status);
	}
	s3_str_free(&r.body);
	return ok ? 0 : -1;
}

int s3_imds_fetch(tr_conn *c, s3_creds *out, char *why, size_t whylen)
{
	imds m = { .c = c, .why = why, .whylen = whylen };
	char role[256], path[512], code[64];
	s3_fetch_resp r;
	s3_imds_endpoint(m.ep, sizeof m.ep);
	if (session_token(&m) != 0 || role_name(&m, role, sizeof role) != 0)
		return TR_EAUTH;
	snprintf(path, sizeof path, ROLE_PATH "%s", role);
	int rc = ask(&m, "GET", path, m.token_hdr, &r);
	memset(m.token_hdr, 0, sizeof m.token_hdr);
	if (rc != 0)
		return TR_ETRANSIENT;  /* did not answer, after s3_fetch's attempts */
	const char *b = r.body.p ? r.body.p : "";
	rc = r.status >= 500 ? TR_ETRANSIENT : TR_EIO;
	if (r.status != 200)
		snprintf(why, whylen, "%s: GET %s answered %ld", m.ep, path, r.status);
	else if (s3_json_string(b, r.body.len, "Code", code, sizeof code) == 1 && strcmp(code, "Success") != 0)
		snprintf(why, whylen, "%s: the credentials of role %s are not available (Code %s)", m.ep, role, code);
	else if (s3_creds_from_json(b, r.body.len, out, why, whylen) == 0)
		rc = TR_OK;
	if (rc == TR_OK)
		snprintf(c->cred_detail, sizeof c->cred_detail, "imds (role %s, IMDSv2 at %s)", role, m.ep);
	if (r.body.p)
		memset(r.body.p, 0, r.body.len);
	s3_str_free(&r.body);
	return rc;
}
