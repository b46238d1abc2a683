/* s3_json.c - a strict reader of one JSON object (see s3_json.h).  Nested
 * values are checked and skipped, never interpreted; depth is bounded. */
#include "config.h"
#include "s3_json.h"

#include <string.h>

#define MAX_DEPTH 32

typedef struct rd {
	const char *p, *end;
} rd;

static void ws(rd *r)
{
	while (r->p < r->end && (*r->p == ' ' || *r->p == '\t' || *r->p == '\n' || *r->p == '\r'))
		r->p++;
}

static int hex4(const char *p, unsigned *v)
{
	*v = 0;
	for (int i = 0; i < 4; i++) {
		char ch = p[i];
		unsigned d = ch >= '0' && ch <= '9' ? (unsigned)(ch - '0')
			   : ch >= 'a' && ch <= 'f' ? (unsigned)(ch - 'a' + 10)
			   : ch >= 'A' && ch <= 'F' ? (unsigned)(ch - 'A' + 10) : 16u;
		if (d > 15)
			return -1;
		*v = *v << 4 | d;
	}
	return 0;
}

/* Appends byte ch to out when out is given; -1 when it does not fit. */
static int emit(char *out, size_t outlen, size_t *o, char ch)
{
	if (!out)
		return 0;
	if (*o + 1 >= outlen)
		return -1;
	out[(*o)++] = ch;
	return 0;
}

static int emit_utf8(char *out, size_t outlen, size_t *o, unsigned cp)
{
	int rc = 0;
	if (cp < 0x80)
		return emit(out, outlen, o, (char)cp);
	if (cp < 0x800) {
		rc |= emit(out, outlen, o, (char)(0xC0 | cp >> 6));
	} else if (cp < 0x10000) {
		rc |= emit(out, outlen, o, (char)(0xE0 | cp >> 12));
		rc |= emit(out, outlen, o, (char)(0x80 | ((cp >> 6) & 0x3F)));
	} else {
		rc |= emit(out, outlen, o, (char)(0xF0 | cp >> 18));
		rc |= emit(out, outlen, o, (char)(0x80 | ((cp >> 12) & 0x3F)));
		rc |= emit(out, outlen, o, (char)(0x80 | ((cp >> 6) & 0x3F)));
	}
	rc |= emit(out, outlen, o, (char)(0x80 | (cp & 0x3F)));
	return rc;
}

/* \uXXXX, with a surrogate pair as one code point; r->p is after "\u". */
static int unicode_escape(rd *r, char *out, size_t outlen, size_t *o)
{
	unsigned cp, lo;
	if (r->end - r->p < 4 || hex4(r->p, &cp) != 0)
		return -1;
	r->p += 4;
	if (cp >= 0xDC00 && cp <= 0xDFFF)
		return -1;
	if (cp >= 0xD800 && cp <= 0xDBFF) {
		if (r->end - r->p < 6 || r->p[0] != '\\' || r->p[1] != 'u' || hex4(r->p + 2, &lo) != 0 ||
		    lo < 0xDC00 || lo > 0xDFFF)
			return -1;
		r->p += 6;
		cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
	}
	if (cp == 0)
		return -1; /* would cut the C string */
	return emit_utf8(out, outlen, o, cp);
}

/* A string at r->p ('"'); decoded into out when out is not NULL. */
static int string(rd *r, char *out, size_t outlen)
{
	static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
	size_t o = 0;
	if (r->p >= r->end || *r->p != '"')
		return -1;
	for (r->p++; r->p < r->end; r->p++) {
		unsigned char ch = (unsigned char)*r->p;
		if (ch == '"') {
			r->p++;
			if (out)
				out[o] = '\0';
			return 0;
		}
		if (ch < 0x20)
			return -1;
		if (ch != '\\') {
			if (emit(out, outlen, &o, (char)ch) != 0)
				return -1;
			continue;
		}
		if (++r->p >= r->end)
			return -1;
		if (*r->p == 'u') {
			r->p++;
			if (unicode_escape(r, out, outlen, &o) != 0)
				return -1;
			r->p--;
			continue;
		}
		const char *at = strchr(from, *r->p);
		if (!*r->p || !at || emit(out, outlen, &o, to[at - from]) != 0)
			return -1;
	}
	return -1;
}

static int value(rd *r, int depth);

/* Members or elements up to the closing bracket; r->p is after the opener. */
static int container(rd *r, int depth, char close)
{
	ws(r);
	if (r->p < r->end && *r->p == close) {
		r->p++;
		return 0;
	}
	for (;;) {
		ws(r);
		if (close == '}') {
			if (string(r, NULL, 0) != 0)
				return -1;
			ws(r);
			if (r->p >= r->end || *r->p++ != ':')
				return -1;
		}
		if (value(r, depth + 1) != 0)
			return -1;
		ws(r);
		if (r->p >= r->end)
			return -1;
		char ch = *r->p++;
		if (ch == close)
			return 0;
		if (ch != ',')
			return -1;
	}
}

/* Numbers and the three literals: a run of their characters, checked
 * loosely (credential documents hold strings; the rest is only skipped). */
static int scalar(rd *r)
{
	static const char *const lit[] = { "true", "false", "null" };
	for (int i = 0; i < 3; i++) {
		size_t n = strlen(lit[i]);
		if ((size_t)(r->end - r->p) >= n && memcmp(r->p, lit[i], n) == 0) {
			r->p += n;
			return 0;
		}
	}
	const char *start = r->p;
	while (r->p < r->end && strchr("0123456789+-.eE", *r->p) && *r->p)
		r->p++;
	return r->p > start ? 0 : -1;
}

static int value(rd *r, int depth)
{
	if (depth > MAX_DEPTH)
		return -1;
	ws(r);
	if (r->p >= r->end)
		return -1;
	if (*r->p == '"')
		return string(r, NULL, 0);
	if (*r->p == '{' || *r->p == '[') {
		char close = *r->p == '{' ? '}' : ']';
		r->p++;
		return container(r, depth, close);
	}
	return scalar(r);
}

/* Walks the top-level object; stops at name's value when it is a string. */
static int walk(rd *r, const char *name, char *out, size_t outlen)
{
	char key[128];
	int found = 0;
	ws(r);
	if (r->p >= r->end || *r->p++ != '{')
		return -1;
	ws(r);
	if (r->p < r->end && *r->p == '}') {
		r->p++;
		return 0;
	}
	for (;;) {
		ws(r);
		rd save = *r;
		if (string(r, key, sizeof key) != 0) {
			*r = save; /* a key too long to be ours: skip it unread */
			if (string(r, NULL, 0) != 0)
				return -1;
			key[0] = '\0';
		}
		ws(r);
		if (r->p >= r->end || *r->p++ != ':')
			return -1;
		ws(r);
		if (!found && strcmp(key, name) == 0 && r->p < r->end && *r->p == '"') {
			if (string(r, out, outlen) != 0)
				return -1;
			found = 1;
		} else if (value(r, 1) != 0) {
			return -1;
		}
		ws(r);
		if (r->p >= r->end)
			return -1;
		char ch = *r->p++;
		if (ch == '}')
			return found;
		if (ch != ',')
			return -1;
	}
}

int s3_json_string(const char *json, size_t len, const char *name, char *out, size_t outlen)
{
	rd r = { json, json + len };
	if (outlen == 0)
		return -1;
	out[0] = '\0';
	int rc = walk(&r, name, out, outlen);
	ws(&r);
	if (rc >= 0 && r.p != r.end)
		rc = -1; /* trailing garbage after the object */
	if (rc <= 0)
		out[0] = '\0';
	return rc;
}
