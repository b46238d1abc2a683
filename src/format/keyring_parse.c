/* keyring_parse.c - reads the text form of a keyring, version 1 (0.1) or
 * 2 (see keyring.h).  Only the form is checked here; tr_keyring_open()
 * authenticates the content. */
#include "config.h"
#include "format/keyring.h"
#include "base/util.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KEYRING_MAGIC "totalrecall-keyring"
#define KEYRING_KDF "pbkdf2-sha256"

enum field {
	F_KDF, F_ITER, F_SALT,                       /* both versions */
	F_ID, F_NONCE, F_WRAPPED, F_TAG,             /* version 1 */
	F_REPO, F_GEN, F_CREATED, F_KEY, F_CURRENT, F_MAC, /* version 2 */
	F_COUNT
};
static const char *const field_names[F_COUNT] = {
	"kdf", "iterations", "salt", "key-id", "nonce", "wrapped", "tag",
	"repository", "generation", "created", "key", "current", "mac"
};

struct parse {
	tr_keyring r;
	int seen[F_COUNT];
	int lineno;
	char *err;
	size_t errlen;
};

static int fail(struct parse *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(struct parse *p, const char *fmt, ...)
{
	char msg[200];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (p->lineno)
		snprintf(p->err, p->errlen, "keyring line %d: %s", p->lineno, msg);
	else
		snprintf(p->err, p->errlen, "keyring: %s", msg);
	return -1;
}

static int field_allowed(int version, int f)
{
	if (f <= F_SALT)
		return 1;
	return version == 1 ? f <= F_TAG : f >= F_REPO;
}

static int hex_field(struct parse *p, const char *name, const char *val, uint8_t *out, size_t n)
{
	if (tr_unhex(val, out, n) == 0)
		return 0;
	return fail(p, "%s is not %zu hex digits", name, 2 * n);
}

static int number(struct parse *p, const char *name, const char *val, int allow_neg, long long *out)
{
	char *end;
	errno = 0;
	long long v = strtoll(val, &end, 10);
	int digit0 = isdigit((unsigned char)val[0]) || (allow_neg && val[0] == '-');
	if (errno || end == val || *end || !digit0)
		return fail(p, "%s \"%.20s\" is not a number", name, val);
	*out = v;
	return 0;
}

static int repository_ok(const char *v)
{
	size_t n = strlen(v);
	if (n == 0 || n > 128)
		return 0;
	for (const char *c = v; *c; c++)
		if (!isalnum((unsigned char)*c) && *c != '.' && *c != '_' && *c != '-')
			return 0;
	return 1;
}

/* "key <id> <created> <nonce> <wrapped> <tag>" (version 2). */
static int key_line(struct parse *p, char *val)
{
	char id[32], nonce[40], wrapped[80], tag[48];
	long long created;
	int used = 0;
	if (p->r.nkeys >= TR_KEYS_MAX)
		return fail(p, "more than %d keys", TR_KEYS_MAX);
	tr_ring_key *k = &p->r.keys[p->r.nkeys];
	if (sscanf(val, "%31s %lld %39s %79s %47s%n", id, &created, nonce, wrapped, tag, &used) != 5 ||
	    val[used] != '\0')
		return fail(p, "expected \"key <id> <created> <nonce> <wrapped> <tag>\"");
	if (hex_field(p, "key id", id, k->id, 8) || hex_field(p, "key nonce", nonce, k->nonce, 12) ||
	    hex_field(p, "wrapped key", wrapped, k->wrapped, 32) || hex_field(p, "key tag", tag, k->tag, 16))
		return -1;
	if (tr_keyring_has(&p->r, k->id))
		return fail(p, "key %s appears twice", id);
	k->created = created;
	p->r.nkeys++;
	return 0;
}

static int iterations(struct parse *p, const char *val)
{
	long long v;
	if (number(p, "iterations", val, 0, &v) != 0 || v > (long long)UINT32_MAX)
		return fail(p, "iterations \"%.20s\" is not a number", val);
	if (v < TR_KDF_ITERATIONS_MIN)
		return fail(p, "%lld iterations, fewer than the minimum %u", v, TR_KDF_ITERATIONS_MIN);
	p->r.iterations = (uint32_t)v;
	return 0;
}

static int apply(struct parse *p, int f, char *val)
{
	long long v;
	switch (f) {
	case F_KDF:
		return strcmp(val, KEYRING_KDF) == 0 ? 0 : fail(p, "unknown kdf \"%.40s\" (this build knows " KEYRING_KDF ")", val);
	case F_ITER: return iterations(p, val);
	case F_SALT: return hex_field(p, "salt", val, p->r.salt, 16);
	case F_ID: return hex_field(p, "key-id", val, p->r.keys[0].id, 8);
	case F_NONCE: return hex_field(p, "nonce", val, p->r.keys[0].nonce, 12);
	case F_WRAPPED: return hex_field(p, "wrapped", val, p->r.keys[0].wrapped, 32);
	case F_TAG: return hex_field(p, "tag", val, p->r.keys[0].tag, 16);
	case F_REPO:
		if (!repository_ok(val))
			return fail(p, "repository \"%.40s\" is not a database id", val);
		return tr_strlcpy(p->r.repository, val, sizeof p->r.repository);
	case F_GEN:
		if (number(p, "generation", val, 0, &v) != 0 || v < 1)
			return fail(p, "generation \"%.20s\" is not a number from 1", val);
		p->r.generation = (uint64_t)v;
		return 0;
	case F_CREATED:
		if (number(p, "created", val, 1, &v) != 0)
			return -1;
		p->r.created = v;
		return 0;
	case F_KEY: return key_line(p, val);
	case F_CURRENT: return hex_field(p, "current", val, p->r.current, 8);
	default: return hex_field(p, "mac", val, p->r.mac, 32);
	}
}

static int magic_line(struct parse *p, const char *name, const char *val)
{
	if (strcmp(name, KEYRING_MAGIC) != 0)
		return fail(p, "not a TotalRecall keyring (expected \"" KEYRING_MAGIC " %d\")", TR_KEYRING_VERSION);
	if (strcmp(val, "1") != 0 && strcmp(val, "2") != 0)
		return fail(p, "unsupported keyring version \"%.20s\" (this build reads versions 1 and %d)", val, TR_KEYRING_VERSION);
	p->r.version = val[0] - '0';
	return 0;
}

static int one_line(struct parse *p, char *line)
{
	char *sp = strchr(line, ' ');
	if (!sp)
		return fail(p, "expected \"name value\", got \"%.40s\"", line);
	*sp = '\0';
	const char *name = line;
	char *val = sp + 1;
	if (!p->r.version)
		return magic_line(p, name, val);
	if (p->seen[F_MAC])
		return fail(p, "\"%s\" after the mac line", name);
	int f;
	for (f = 0; f < F_COUNT; f++)
		if (strcmp(name, field_names[f]) == 0 && field_allowed(p->r.version, f))
			break;
	if (f == F_COUNT)
		return fail(p, "unknown field \"%.40s\"", name);
	if (p->seen[f] && f != F_KEY)
		return fail(p, "\"%s\" appears twice", name);
	p->seen[f] = 1;
	return apply(p, f, val);
}

static int complete(struct parse *p)
{
	p->lineno = 0;
	if (!p->r.version)
		return fail(p, "empty, missing the \"" KEYRING_MAGIC "\" line");
	for (int f = 0; f < F_COUNT; f++)
		if (field_allowed(p->r.version, f) && !p->seen[f])
			return fail(p, "missing the \"%s\" line", field_names[f]);
	if (p->r.version == 1) {
		p->r.nkeys = 1;
		memcpy(p->r.current, p->r.keys[0].id, 8);
	} else if (!tr_keyring_has(&p->r, p->r.current)) {
		return fail(p, "the current key is not one of its keys");
	}
	return 0;
}

int tr_keyring_parse(const char *in, size_t len, tr_keyring *ring, char *err, size_t errlen)
{
	char line[512];
	size_t pos = 0;
	struct parse *p = calloc(1, sizeof *p);
	if (!p) {
		snprintf(err, errlen, "keyring: out of memory");
		return -1;
	}
	p->err = err;
	p->errlen = errlen;
	int rc = 0;
	if (len > TR_KEYRING_MAX)
		rc = fail(p, "more than the %d bytes a keyring can have", TR_KEYRING_MAX);
	while (rc == 0 && pos < len) {
		const char *nl = memchr(in + pos, '\n', len - pos);
		size_t l = nl ? (size_t)(nl - (in + pos)) : len - pos;
		p->lineno++;
		if (l >= sizeof line) {
			rc = fail(p, "longer than %zu bytes", sizeof line - 1);
			break;
		}
		memcpy(line, in + pos, l);
		line[l] = '\0';
		pos += l + (nl ? 1 : 0);
		if (l > 0 && line[l - 1] == '\r')
			line[--l] = '\0';
		if (memchr(line, '\0', l))
			rc = fail(p, "contains a NUL byte");
		else if (l > 0)
			rc = one_line(p, line);
	}
	if (rc == 0)
		rc = complete(p);
	if (rc == 0) {
		*ring = p->r;
		if (errlen)
			err[0] = '\0';
	}
	explicit_bzero(p, sizeof *p);
	free(p);
	return rc;
}
