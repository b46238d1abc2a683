/* s3_credcache.c - the text of a cached-credentials file in state-dir:
 *
 *     totalrecall-s3-credentials 1
 *     source web-identity
 *     expiration 1714564800
 *     access-key-id ASIA...
 *     secret-access-key ...
 *     session-token ...
 *
 * The file is private (s3_statefile.c checks owner and mode); anything
 * malformed is ignored and the credentials are fetched again. */
#include "config.h"
#include "s3_creds.h"
#include "s3_str.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAGIC "totalrecall-s3-credentials 1"

char *s3_credcache_format(enum s3_cred_source src, const s3_creds *cr)
{
	s3_str s = { 0 };
	s3_str_printf(&s, MAGIC "\nsource %s\nexpiration %lld\naccess-key-id %s\nsecret-access-key %s\n",
		      s3_cred_source_name(src), (long long)cr->expiration, cr->access_key_id,
		      cr->secret_access_key);
	if (cr->session_token)
		s3_str_printf(&s, "session-token %s\n", cr->session_token);
	if (s.oom && s.p)
		memset(s.p, 0, s.len);
	return s3_str_take(&s);
}

/* The value of "name value" on its own line, into a fresh string. */
static char *field(const char *text, const char *name)
{
	size_t n = strlen(name);
	for (const char *line = text; line && *line;) {
		const char *nl = strchr(line, '\n');
		size_t len = nl ? (size_t)(nl - line) : strlen(line);
		if (len > n && strncmp(line, name, n) == 0 && line[n] == ' ')
			return strndup(line + n + 1, len - n - 1);
		line = nl ? nl + 1 : NULL;
	}
	return NULL;
}

int s3_credcache_parse(const char *text, enum s3_cred_source src, s3_creds *out)
{
	char want[64], why[128];
	int rc = -1;
	memset(out, 0, sizeof *out);
	if (strncmp(text, MAGIC "\n", sizeof MAGIC) != 0)
		return -1;
	char *source = field(text, "source"), *exp = field(text, "expiration");
	char *id = field(text, "access-key-id"), *secret = field(text, "secret-access-key");
	char *token = field(text, "session-token");
	snprintf(want, sizeof want, "%s", s3_cred_source_name(src));
	char *end = NULL;
	long long e = exp ? strtoll(exp, &end, 10) : 0;
	if (source && strcmp(source, want) == 0 && exp && end && !*end && e > 0 && id && *id && secret &&
	    *secret)
		rc = s3_creds_set(out, id, secret, token, (int64_t)e, why, sizeof why);
	free(source);
	free(exp);
	free(id);
	if (secret)
		memset(secret, 0, strlen(secret));
	if (token)
		memset(token, 0, strlen(token));
	free(secret);
	free(token);
	return rc;
}
