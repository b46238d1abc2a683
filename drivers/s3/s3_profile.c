/* s3_profile.c - the AWS shared credentials and config files (see
 * s3_profile.h). */
#include "config.h"
#include "s3_profile.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

static int blank(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\r';
}

/* Trims [*s, *e) of blanks. */
static void trim(const char **s, const char **e)
{
	while (*s < *e && blank(**s))
		(*s)++;
	while (*e > *s && blank((*e)[-1]))
		(*e)--;
}

static int span_is(const char *s, const char *e, const char *word)
{
	size_t n = strlen(word);
	return (size_t)(e - s) == n && memcmp(s, word, n) == 0;
}

/* Does "[...]" (inner text s..e) name our profile? */
static int section_matches(const char *s, const char *e, const char *name, int config_style)
{
	trim(&s, &e);
	if (!config_style)
		return span_is(s, e, name);
	if (strcmp(name, "default") == 0 && span_is(s, e, "default"))
		return 1;
	if ((size_t)(e - s) > 8 && memcmp(s, "profile", 7) == 0 && blank(s[7])) {
		s += 8;
		trim(&s, &e);
		return span_is(s, e, name);
	}
	return 0;
}

static void set_value(char *dst, size_t dlen, const char *v, const char *ve)
{
	size_t n = (size_t)(ve - v);
	if (n >= dlen)
		n = dlen - 1; /* an over-long key is refused later by the server */
	memcpy(dst, v, n);
	dst[n] = '\0';
}

static const char *const UNSUPPORTED[] = {
	"role_arn", "source_profile", "credential_source", "credential_process", "sso_start_url",
	"sso_session", "web_identity_token_file", "login_session", NULL
};

static void take_key(const char *k, const char *ke, const char *v, const char *ve, s3_profile *p)
{
	static const struct {
		const char *key;
		size_t off, len;
	} fields[] = {
		{ "aws_access_key_id", offsetof(s3_profile, access_key_id), sizeof p->access_key_id },
		{ "aws_secret_access_key", offsetof(s3_profile, secret_access_key), sizeof p->secret_access_key },
		{ "aws_session_token", offsetof(s3_profile, session_token), sizeof p->session_token },
		{ "region", offsetof(s3_profile, region), sizeof p->region },
	};
	size_t kn = (size_t)(ke - k);
	for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
		if (strlen(fields[i].key) == kn && strncasecmp(k, fields[i].key, kn) == 0) {
			set_value((char *)p + fields[i].off, fields[i].len, v, ve);
			return;
		}
	for (int i = 0; UNSUPPORTED[i]; i++)
		if (strlen(UNSUPPORTED[i]) == kn && strncasecmp(k, UNSUPPORTED[i], kn) == 0 && !p->unsupported[0])
			snprintf(p->unsupported, sizeof p->unsupported, "%s", UNSUPPORTED[i]);
}

void s3_profile_parse(const char *text, size_t len, const char *name, int config_style, s3_profile *p)
{
	const char *line = text, *end = text + len;
	int in_ours = 0;
	while (line < end) {
		const char *nl = memchr(line, '\n', (size_t)(end - line));
		const char *le = nl ? nl : end, *s = line, *e = le;
		line = nl ? nl + 1 : end;
		if (s < e && blank(*s) && in_ours)
			continue; /* a sub-setting of the key above */
		trim(&s, &e);
		if (s == e || *s == '#' || *s == ';')
			continue;
		if (*s == '[') {
			const char *close = memchr(s, ']', (size_t)(e - s));
			in_ours = close && section_matches(s + 1, close, name, config_style);
			p->found |= in_ours;
			continue;
		}
		const char *eq = memchr(s, '=', (size_t)(e - s));
		if (!in_ours || !eq)
			continue;
		const char *k = s, *ke = eq, *v = eq + 1, *ve = e;
		trim(&k, &ke);
		trim(&v, &ve);
		take_key(k, ke, v, ve, p);
	}
}

void s3_profile_wipe(s3_profile *p)
{
	volatile char *v = (volatile char *)p;
	for (size_t i = 0; i < sizeof *p; i++)
		v[i] = 0;
}
