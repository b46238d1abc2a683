/* s3_conf.c - read and check the driver's settings at open().  Messages
 * name the setting, never a secret value. */
#include "config.h"
#include "s3_internal.h"
#include "s3_creds.h"
#include "s3_endpoint.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static const char *get(tr_conn *c, const char *name)
{
	const char *v = c->env.setting ? c->env.setting(c->env.ctx, name) : NULL;
	return v && *v ? v : NULL;
}

/* Copies a setting (or the fallback) into *out; -1 only when out of memory. */
static int dup_setting(tr_conn *c, const char *name, const char *fallback, char **out)
{
	const char *v = get(c, name);
	if (!v)
		v = fallback;
	*out = NULL;
	if (!v)
		return 0;
	*out = strdup(v);
	return *out ? 0 : -1;
}

/* Plain decimal number within [min, max] (drv_util.h). */
static int number(tr_conn *c, const char *name, long long def, long long min, long long max,
		  long long *out)
{
	return drv_number("s3", name, get(c, name), def, min, max, out, c->err, sizeof c->err) == 0 ? TR_OK
												 : TR_EINVAL;
}

/* "http://host:port" -> scheme and host[:port]; a path is not allowed
 * because it would silently change every key's address. */
static int parse_endpoint(tr_conn *c, const char *ep)
{
	const char *hostpart;
	if (strncmp(ep, "http://", 7) == 0) {
		c->conf.scheme = strdup("http");
		hostpart = ep + 7;
	} else if (strncmp(ep, "https://", 8) == 0) {
		c->conf.scheme = strdup("https");
		hostpart = ep + 8;
	} else {
		return s3_fail(c, TR_EINVAL, "s3: setting endpoint: \"%s\" must start with http:// or https://", ep);
	}
	size_t n = strcspn(hostpart, "/?#");
	if (n == 0 || (hostpart[n] && strcmp(hostpart + n, "/") != 0))
		return s3_fail(c, TR_EINVAL, "s3: setting endpoint: \"%s\" must be scheme://host[:port] without a path", ep);
	c->conf.endpoint_host = strndup(hostpart, n);
	if (!c->conf.scheme || !c->conf.endpoint_host)
		return s3_fail(c, TR_ENOMEM, "s3: out of memory");
	return TR_OK;
}

#ifndef TR_S3_PROFILE_MINIO
static int is_ip_or_localhost(const char *host)
{
	if (strncmp(host, "localhost", 9) == 0 || host[0] == '[')
		return 1;
	for (; *host && *host != ':'; host++)
		if (!((*host >= '0' && *host <= '9') || *host == '.'))
			return 0;
	return 1;
}

#endif

/* auto: virtual-hosted on AWS, except for dotted bucket names over TLS
 * (their certificate would not match); path-style on anything else, and
 * always for the minio profile. */
static int resolve_uri_style(tr_conn *c)
{
	const char *style = get(c, "s3-uri-style");
	s3_conf *k = &c->conf;
	if (!style || strcmp(style, "auto") == 0) {
#ifdef TR_S3_PROFILE_MINIO
		k->path_style = 1;
#else
		int aws = s3_is_aws_host(k->endpoint_host) && !is_ip_or_localhost(k->endpoint_host);
		int dotted_tls = strchr(k->bucket, '.') && strcmp(k->scheme, "https") == 0;
		k->path_style = !aws || dotted_tls;
#endif
	} else if (strcmp(style, "path") == 0) {
		k->path_style = 1;
	} else if (strcmp(style, "virtual") == 0) {
		k->path_style = 0;
	} else {
		return s3_fail(c, TR_EINVAL, "s3: setting s3-uri-style: \"%s\" is not auto, path or virtual", style);
	}
	return TR_OK;
}

static int load_condput(tr_conn *c)
{
	const char *v = get(c, "s3-conditional-put");
	if (!v || strcmp(v, "auto") == 0)
		c->conf.condput = S3_CONDPUT_AUTO;
	else if (strcmp(v, "on") == 0)
		c->conf.condput = S3_CONDPUT_ON;
	else if (strcmp(v, "off") == 0)
		c->conf.condput = S3_CONDPUT_OFF;
	else
		return s3_fail(c, TR_EINVAL, "s3: setting s3-conditional-put: \"%s\" is not auto, on or off", v);
	return TR_OK;
}

static int load_credentials_setting(tr_conn *c)
{
	static const enum s3_cred_source all[] = { S3_CRED_AUTO, S3_CRED_STATIC, S3_CRED_WEB_IDENTITY,
						   S3_CRED_CONTAINER, S3_CRED_IMDS, S3_CRED_PROFILE };
	const char *v = get(c, "s3-credentials");
	c->conf.cred_setting = S3_CRED_AUTO;
	if (!v)
		return TR_OK;
	for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
		if (strcmp(v, s3_cred_source_name(all[i])) == 0) {
			c->conf.cred_setting = all[i];
			return TR_OK;
		}
	return s3_fail(c, TR_EINVAL, "%s: setting s3-credentials: \"%s\" is not auto, static, web-identity, "
		       "container, imds or profile", S3_DRIVER_NAME, v);
}

/* The region setting, else the profile's region (as the AWS SDKs do),
 * else us-east-1. */
static int load_region(tr_conn *c)
{
	char from_profile[64];
	const char *r = get(c, "region");
	if (!r && s3_profile_region(c, from_profile, sizeof from_profile) == 0)
		r = from_profile;
	if (!r)
		r = "us-east-1";
	if (!s3_region_valid(r))
		return s3_fail(c, TR_EINVAL, "%s: setting region: \"%.64s\" is not a region name (e.g. eu-west-1)",
			       S3_DRIVER_NAME, r);
	c->conf.region = strdup(r);
	c->conf.signing_region = strdup(r);
	if (!c->conf.region || !c->conf.signing_region)
		return s3_fail(c, TR_ENOMEM, "s3: out of memory");
	return TR_OK;
}

static int load_required(tr_conn *c)
{
	s3_conf *k = &c->conf;
	if (!get(c, "bucket"))
		return s3_fail(c, TR_EINVAL, "%s: setting bucket is required", S3_DRIVER_NAME);
#ifdef TR_S3_PROFILE_MINIO
	if (!get(c, "endpoint"))
		return s3_fail(c, TR_EINVAL, "minio: setting endpoint is required (e.g. http://127.0.0.1:9000)");
#endif
	if (dup_setting(c, "bucket", NULL, &k->bucket) ||
	    dup_setting(c, "access-key-id", NULL, &k->access_key_id) ||
	    dup_setting(c, "secret-access-key", NULL, &k->secret_access_key) ||
	    dup_setting(c, "session-token", NULL, &k->session_token) ||
	    dup_setting(c, "s3-profile", NULL, &k->profile) ||
	    dup_setting(c, "s3-ca-file", NULL, &k->ca_file) ||
	    dup_setting(c, "state-dir", NULL, &k->state_dir))
		return s3_fail(c, TR_ENOMEM, "s3: out of memory");
	return load_region(c);
}

static int load_endpoint(tr_conn *c)
{
	char host[256];
	const char *ep = get(c, "endpoint");
	if (ep)
		return parse_endpoint(c, ep);
	c->conf.endpoint_is_default = 1;
	if (s3_aws_host("s3", c->conf.region, host, sizeof host) != 0)
		return s3_fail(c, TR_EINVAL, "%s: setting region: too long", S3_DRIVER_NAME);
	c->conf.scheme = strdup("https");
	c->conf.endpoint_host = strdup(host);
	if (!c->conf.scheme || !c->conf.endpoint_host)
		return s3_fail(c, TR_ENOMEM, "s3: out of memory");
	return TR_OK;
}

static int load_numbers(tr_conn *c)
{
	long long part, retries, maxtime, timeout;
	int rc;
	if ((rc = number(c, "s3-part-size", (long long)S3_DEFAULT_PART, (long long)S3_MIN_PART,
			 (long long)S3_MAX_PART, &part)) ||
	    (rc = number(c, "retries", 5, 0, 100, &retries)) ||
	    (rc = number(c, "retry-max-time", 60, 0, 86400, &maxtime)) ||
	    (rc = number(c, "timeout", 30, 1, 3600, &timeout)))
		return rc;
	c->conf.part_size = (size_t)part;
	c->conf.retries = (int)retries;
	c->conf.retry_max_time = (int)maxtime;
	c->conf.timeout = (long)timeout;
	const char *ins = get(c, "s3-insecure");
	c->conf.insecure = ins && strcmp(ins, "1") == 0;
	return TR_OK;
}

int s3_conf_load(tr_conn *c)
{
	int rc;
	if ((rc = load_credentials_setting(c)) || (rc = load_required(c)) || (rc = load_endpoint(c)) ||
	    (rc = resolve_uri_style(c)) || (rc = load_numbers(c)) || (rc = load_condput(c)) ||
	    (rc = s3_features_load(c)))
		return rc;
	return TR_OK;
}

void s3_conf_free(s3_conf *k)
{
	if (k->secret_access_key)
		memset(k->secret_access_key, 0, strlen(k->secret_access_key));
	if (k->session_token)
		memset(k->session_token, 0, strlen(k->session_token));
	s3_features_free(&k->feat);
	free(k->profile);
	free(k->signing_region);
	free(k->bucket);
	free(k->region);
	free(k->access_key_id);
	free(k->secret_access_key);
	free(k->session_token);
	free(k->scheme);
	free(k->endpoint_host);
	free(k->ca_file);
	free(k->state_dir);
	memset(k, 0, sizeof *k);
}
