/* s3_creds.c - the credential chain: picks a source, caches temporary
 * credentials in state-dir and refreshes them before they expire (see
 * s3_creds.h). */
#include "config.h"
#include "s3_creds.h"
#include "s3_json.h"
#include "s3_statefile.h"
#include "s3_xml.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define REFRESH_MARGIN 300    /* seconds before expiry when new credentials are fetched */
#define REFRESH_MIN_GAP 5     /* never fetch more often than this */
#define KEEP_ON_FAILURE 60    /* a failed refresh keeps credentials valid this much longer */
#define CACHE_MAX 40000      /* a cache file: fields and a session token of up to S3_TOKEN_MAX */

typedef struct source {
	enum s3_cred_source id;
	int (*probe)(tr_conn *c, s3_src_info *info);
	int (*fetch)(tr_conn *c, s3_creds *out, char *why, size_t whylen);
	int temporary;    /* cached in state-dir, refreshed before expiry */
} source;

static const source SOURCES[] = {
	{ S3_CRED_STATIC, s3_static_probe, s3_static_fetch, 0 },
	{ S3_CRED_WEB_IDENTITY, s3_webid_probe, s3_webid_fetch, 1 },
	{ S3_CRED_CONTAINER, s3_container_probe, s3_container_fetch, 1 },
	{ S3_CRED_IMDS, s3_imds_probe, s3_imds_fetch, 1 },
	{ S3_CRED_PROFILE, s3_profile_probe, s3_profile_fetch, 0 },
};

static const enum s3_cred_source ORDER[] = { S3_CRED_STATIC, S3_CRED_WEB_IDENTITY, S3_CRED_PROFILE,
					     S3_CRED_CONTAINER, S3_CRED_IMDS };
static const enum s3_cred_source ORDER_NAMED_PROFILE[] = { S3_CRED_STATIC, S3_CRED_PROFILE,
							   S3_CRED_WEB_IDENTITY, S3_CRED_CONTAINER,
							   S3_CRED_IMDS };

const char *s3_cred_source_name(enum s3_cred_source s)
{
	switch (s) {
	case S3_CRED_STATIC: return "static";
	case S3_CRED_WEB_IDENTITY: return "web-identity";
	case S3_CRED_CONTAINER: return "container";
	case S3_CRED_IMDS: return "imds";
	case S3_CRED_PROFILE: return "profile";
	default: return "auto";
	}
}

static const source *find_source(enum s3_cred_source id)
{
	for (size_t i = 0; i < sizeof SOURCES / sizeof SOURCES[0]; i++)
		if (SOURCES[i].id == id)
			return &SOURCES[i];
	return NULL;
}

int64_t s3_now(const tr_conn *c)
{
	return (int64_t)time(NULL) + c->clock_offset;
}

/* --- credentials values --- */

static void wipe_free(char *s)
{
	if (!s)
		return;
	volatile char *v = s;
	for (size_t i = 0; s[i]; i++)
		v[i] = 0;
	free(s);
}

void s3_creds_clear(s3_creds *cr)
{
	free(cr->access_key_id);
	wipe_free(cr->secret_access_key);
	wipe_free(cr->session_token);
	memset(cr, 0, sizeof *cr);
}

/* Printable ASCII without blanks: what can travel in a header (the
 * token does) and in a cache file line, and what AWS ever issues. */
static int cred_chars_ok(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f)
			return 0;
	return 1;
}

int s3_creds_set(s3_creds *out, const char *id, const char *secret, const char *token, int64_t expiration,
		 char *why, size_t whylen)
{
	memset(out, 0, sizeof *out);
	if (!cred_chars_ok(id) || !cred_chars_ok(secret) || (token && !cred_chars_ok(token))) {
		snprintf(why, whylen, "the %s holds a blank or a character outside printable ASCII",
			 !cred_chars_ok(id) ? "access key id" : !cred_chars_ok(secret) ? "secret access key"
			 : "session token");
		return -1;
	}
	out->access_key_id = strdup(id);
	out->secret_access_key = strdup(secret);
	out->session_token = token && *token ? strdup(token) : NULL;
	out->expiration = expiration;
	if (!out->access_key_id || !out->secret_access_key || (token && *token && !out->session_token)) {
		s3_creds_clear(out);
		snprintf(why, whylen, "out of memory");
		return -1;
	}
	return 0;
}

int s3_creds_from_json(const char *json, size_t len, s3_creds *out, char *why, size_t whylen)
{
	char id[256], secret[256], exp[64], *token = malloc(S3_TOKEN_MAX);
	int rc = -1;
	if (!token) {
		snprintf(why, whylen, "out of memory");
		return -1;
	}
	int a = s3_json_string(json, len, "AccessKeyId", id, sizeof id);
	int b = s3_json_string(json, len, "SecretAccessKey", secret, sizeof secret);
	int t = s3_json_string(json, len, "Token", token, S3_TOKEN_MAX);
	int e = s3_json_string(json, len, "Expiration", exp, sizeof exp);
	if (a < 0 || b < 0 || t < 0 || e < 0)
		snprintf(why, whylen, "the answer is not the JSON document expected");
	else if (!a || !b || !id[0] || !secret[0])
		snprintf(why, whylen, "the answer has no AccessKeyId or SecretAccessKey");
	else if (e && !s3_xml_time(exp))
		snprintf(why, whylen, "the answer's Expiration \"%.40s\" is not a time", exp);
	else
		rc = s3_creds_set(out, id, secret, t ? token : NULL, e ? s3_xml_time(exp) : 0, why, whylen);
	memset(secret, 0, sizeof secret);
	wipe_free(token);
	return rc;
}

/* --- cache --- */

static int cache_load(tr_conn *c, const char *path, enum s3_cred_source src, s3_creds *out)
{
	char why[256];
	char *buf = malloc(CACHE_MAX);
	if (!buf)
		return -1;
	long n = s3_state_read(path, buf, CACHE_MAX, why, sizeof why);
	if (n == -2)
		s3_log(c, 1, "%s: ignoring cached credentials %s: %s", S3_DRIVER_NAME, path, why);
	int rc = n > 0 ? s3_credcache_parse(buf, src, out) : -1;
	memset(buf, 0, CACHE_MAX);
	free(buf);
	return rc;
}

static void cache_store(tr_conn *c, const char *path, enum s3_cred_source src, const s3_creds *cr)
{
	char why[512];
	char *text = s3_credcache_format(src, cr);
	if (!text)
		return;
	if (s3_state_write(c, path, text, strlen(text), why, sizeof why) != 0)
		s3_log(c, 1, "%s: cannot cache credentials from %s: %s", S3_DRIVER_NAME,
		       s3_cred_source_name(src), why);
	wipe_free(text);
}

/* --- obtaining --- */

static void install(tr_conn *c, s3_creds *fresh)
{
	int64_t now = s3_now(c);
	s3_creds_clear(&c->creds);
	c->creds = *fresh;
	memset(fresh, 0, sizeof *fresh);
	c->creds_refresh_at = 0;
	if (c->creds.expiration) {
		int64_t at = c->creds.expiration - REFRESH_MARGIN;
		c->creds_refresh_at = at < now + REFRESH_MIN_GAP ? now + REFRESH_MIN_GAP : at;
	}
}

/* From the cache unless force, else from the source (then cached). */
static int obtain(tr_conn *c, const source *s, const char *cache, int force, char *why, size_t whylen)
{
	s3_creds fresh;
	memset(&fresh, 0, sizeof fresh);
	if (s->temporary && !force && cache[0] && cache_load(c, cache, s->id, &fresh) == 0) {
		if (fresh.expiration - s3_now(c) > REFRESH_MARGIN) {
			s3_log(c, 3, "%s: credentials from %s, cached in %s", S3_DRIVER_NAME,
			       s3_cred_source_name(s->id), cache);
			install(c, &fresh);
			return TR_OK;
		}
		s3_creds_clear(&fresh);
	}
	int rc = s->fetch(c, &fresh, why, whylen);
	if (rc != TR_OK)
		return rc;
	/* Fresh credentials that look expired say the clock is wrong, not the
	 * credentials: use them; S3 will tell the time if it matters. */
	if (s->temporary && fresh.expiration && fresh.expiration <= s3_now(c))
		s3_log(c, 1, "%s: credentials from %s expire at %lld, already past by this host's clock: is "
		       "the clock right?", S3_DRIVER_NAME, s3_cred_source_name(s->id), (long long)fresh.expiration);
	/* Fetching temporary credentials is news; reading keys is not (every
	 * archive-put would say it in the server log). */
	s3_log(c, s->temporary ? 2 : 3, "%s: %s credentials from %s", S3_DRIVER_NAME,
	       s->temporary ? "new" : "using", s3_cred_source_name(s->id));
	if (s->temporary && fresh.expiration && cache[0])
		cache_store(c, cache, s->id, &fresh);
	install(c, &fresh);
	return TR_OK;
}

/* --- the chain --- */

static void remember_source(tr_conn *c, const source *s, const s3_src_info *info)
{
	c->cred_source = s->id;
	snprintf(c->cred_detail, sizeof c->cred_detail, "%s", info->detail);
	c->cred_cache[0] = '\0';
	if (s->temporary) {
		char name[64];
		snprintf(name, sizeof name, "s3-credentials-%s", s3_cred_source_name(s->id));
		s3_state_path(c, name, info->ident, c->cred_cache, sizeof c->cred_cache);
	}
}

static int use_source(tr_conn *c, const source *s, s3_src_info *info, char *why, size_t whylen)
{
	remember_source(c, s, info);
	return obtain(c, s, c->cred_cache, 0, why, whylen);
}

static int pinned(tr_conn *c, enum s3_cred_source id)
{
	const source *s = find_source(id);
	s3_src_info info;
	char why[1024];
	memset(&info, 0, sizeof info);
	int st = s->probe(c, &info);
	if (st != S3_SRC_CONFIGURED)
		return s3_fail(c, TR_EINVAL, "%s: s3-credentials=%s: %s", S3_DRIVER_NAME, s3_cred_source_name(id), info.why);
	int rc = use_source(c, s, &info, why, sizeof why);
	if (rc != TR_OK)
		return s3_fail(c, rc, "%s: credentials from %s: %s", S3_DRIVER_NAME, s3_cred_source_name(id), why);
	return TR_OK;
}

static int chain(tr_conn *c)
{
	const enum s3_cred_source *order = c->conf.profile ? ORDER_NAMED_PROFILE : ORDER;
	char skipped[2048] = "", why[1024];
	size_t n = sizeof ORDER / sizeof ORDER[0];
	for (size_t i = 0; i < n; i++) {
		const source *s = find_source(order[i]);
		s3_src_info info;
		memset(&info, 0, sizeof info);
		int st = s->probe(c, &info);
		if (st == S3_SRC_BROKEN)
			return s3_fail(c, TR_EINVAL, "%s: credentials from %s: %s", S3_DRIVER_NAME,
				       s3_cred_source_name(s->id), info.why);
		if (st == S3_SRC_CONFIGURED) {
			int rc = use_source(c, s, &info, why, sizeof why);
			if (rc == TR_OK)
				return TR_OK;
			/* Instance metadata is tried wherever nothing else is set:
			 * its failure means "none found", not "this one broke". */
			if (s->id != S3_CRED_IMDS)
				return s3_fail(c, rc, "%s: credentials from %s: %s", S3_DRIVER_NAME,
					       s3_cred_source_name(s->id), why);
			snprintf(info.why, sizeof info.why, "%s", why);
		}
		size_t used = strlen(skipped);
		snprintf(skipped + used, sizeof skipped - used, "%s%s: %s", used ? "; " : "",
			 s3_cred_source_name(s->id), info.why);
	}
	return s3_fail(c, TR_EAUTH, "%s: no credentials found (s3-credentials=auto): %s", S3_DRIVER_NAME,
		       skipped);
}

int s3_creds_open(tr_conn *c)
{
	if (c->conf.cred_setting == S3_CRED_AUTO)
		return chain(c);
	return pinned(c, c->conf.cred_setting);
}

void s3_creds_close(tr_conn *c)
{
	s3_creds_clear(&c->creds);
	if (c->fetch_curl)
		curl_easy_cleanup(c->fetch_curl);
	c->fetch_curl = NULL;
}

/* --- refreshing --- */

int s3_creds_ensure(tr_conn *c)
{
	char why[1024];
	int64_t now = s3_now(c);
	if (!c->creds_refresh_at || now < c->creds_refresh_at)
		return TR_OK;
	const source *s = find_source(c->cred_source);
	int rc = obtain(c, s, c->cred_cache, 0, why, sizeof why);
	if (rc == TR_OK)
		return TR_OK;
	if (c->creds.expiration - now > KEEP_ON_FAILURE) {
		s3_log(c, 1, "%s: cannot refresh credentials from %s (%s); the current ones stay valid "
		       "for %lld s", S3_DRIVER_NAME, s3_cred_source_name(s->id), why,
		       (long long)(c->creds.expiration - now));
		c->creds_refresh_at = now + REFRESH_MIN_GAP;
		return TR_OK;
	}
	return s3_fail(c, rc, "%s: credentials from %s expire and cannot be refreshed: %s", S3_DRIVER_NAME,
		       s3_cred_source_name(s->id), why);
}

int s3_creds_refresh_now(tr_conn *c)
{
	char why[1024];
	const source *s = find_source(c->cred_source);
	if (!s || !s->temporary)
		return 0;
	if (obtain(c, s, c->cred_cache, 1, why, sizeof why) != TR_OK) {
		s3_log(c, 1, "%s: the server refused the credentials from %s as expired, and new ones "
		       "could not be had: %s", S3_DRIVER_NAME, s3_cred_source_name(s->id), why);
		return 0;
	}
	s3_log(c, 1, "%s: the server refused the credentials from %s as expired; fetched new ones",
	       S3_DRIVER_NAME, s3_cred_source_name(s->id));
	return 1;
}
