/* s3_str.c - a growable byte buffer.  Allocation failures are sticky so
 * callers can build a whole string and check once at the end. */
#include "config.h"
#include "s3_str.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int grow(s3_str *s, size_t extra)
{
	if (s->oom)
		return -1;
	if (s->len + extra + 1 <= s->cap)
		return 0;
	size_t cap = s->cap ? s->cap : 64;
	while (cap < s->len + extra + 1)
		cap *= 2;
	char *p = realloc(s->p, cap);
	if (!p) {
		s->oom = 1;
		return -1;
	}
	s->p = p;
	s->cap = cap;
	return 0;
}

void s3_str_addn(s3_str *s, const char *data, size_t n)
{
	if (grow(s, n) != 0)
		return;
	memcpy(s->p + s->len, data, n);
	s->len += n;
	s->p[s->len] = '\0';
}

void s3_str_add(s3_str *s, const char *cstr)
{
	s3_str_addn(s, cstr, strlen(cstr));
}

void s3_str_addc(s3_str *s, char c)
{
	s3_str_addn(s, &c, 1);
}

void s3_str_printf(s3_str *s, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || grow(s, (size_t)n) != 0)
		return;
	va_start(ap, fmt);
	vsnprintf(s->p + s->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	s->len += (size_t)n;
}

static int unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '_' || c == '.' || c == '~';
}

void s3_str_add_encoded(s3_str *s, const char *in, size_t len, int keep_slash)
{
	static const char hex[] = "0123456789ABCDEF";
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)in[i];
		if (unreserved(c) || (keep_slash && c == '/')) {
			s3_str_addc(s, (char)c);
		} else {
			char esc[3] = { '%', hex[c >> 4], hex[c & 15] };
			s3_str_addn(s, esc, 3);
		}
	}
}

char *s3_str_take(s3_str *s)
{
	char *p = NULL;
	if (!s->oom) {
		if (!s->p)
			grow(s, 0);
		if (s->p)
			s->p[s->len] = '\0';
		p = s->p;
	} else {
		free(s->p);
	}
	memset(s, 0, sizeof *s);
	return p;
}

void s3_str_reset(s3_str *s)
{
	s->len = 0;
	if (s->p)
		s->p[0] = '\0';
}

void s3_str_free(s3_str *s)
{
	free(s->p);
	memset(s, 0, sizeof *s);
}
