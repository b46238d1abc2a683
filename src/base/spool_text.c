/*
 * spool_text.c - the escaping of the spool's text fields (spool.h), one
 * implementation for both sides: the commands write records with it, and
 * the PostgreSQL worker (postgres/Makefile builds this very file into
 * totalrecall.so) reads them back with it.
 *
 * Compiled by PGXS too: libc only, no config.h, declarations before
 * statements (PostgreSQL's -Wdeclaration-after-statement).
 */
#include "base/spool.h"

int tr_spool_escape(const char *in, char *out, size_t outlen)
{
	size_t o = 0;
	const char *p;

	for (p = in ? in : ""; *p; p++) {
		const char *rep = NULL;
		size_t need;

		switch (*p) {
		case '\\': rep = "\\\\"; break;
		case '\t': rep = "\\t"; break;
		case '\n': rep = "\\n"; break;
		case '\r': rep = "\\r"; break;
		}
		need = rep ? 2 : 1;
		if (o + need >= outlen)
			return -1;
		if (rep) {
			out[o++] = rep[0];
			out[o++] = rep[1];
		} else {
			out[o++] = *p;
		}
	}
	if (o >= outlen)
		return -1;
	out[o] = '\0';
	return 0;
}

int tr_spool_unescape(char *s)
{
	char *w = s;
	const char *r;

	for (r = s; *r; r++) {
		if (*r == '\t' || *r == '\n')
			return -1;
		if (*r != '\\') {
			*w++ = *r;
			continue;
		}
		switch (*++r) {
		case '\\': *w++ = '\\'; break;
		case 't': *w++ = '\t'; break;
		case 'n': *w++ = '\n'; break;
		case 'r': *w++ = '\r'; break;
		default: return -1;    /* includes a trailing lone backslash */
		}
	}
	*w = '\0';
	return 0;
}
