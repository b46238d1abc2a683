/* linkmap.c - safe paths, link and tablespace maps (see linkmap.h). */
#include "config.h"
#include "cmd/linkmap.h"
#include "base/util.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Every component of s (from its start) is a name: not "", "." or "..". */
static int components_ok(const char *s)
{
	for (;;) {
		size_t n = strcspn(s, "/");
		if (n == 0 || (n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.'))
			return 0;
		if (!s[n])
			return 1;
		s += n + 1;
	}
}

int tr_rel_path_ok(const char *rel)
{
	return *rel && *rel != '/' && strlen(rel) < 4096 && components_ok(rel);
}

int tr_abs_path_ok(const char *path)
{
	if (path[0] != '/' || strlen(path) >= 4096)
		return 0;
	return path[1] == '\0' || components_ok(path + 1);
}

/* a is b or below it. */
static int within(const char *a, const char *b)
{
	size_t n = strlen(b);
	while (n > 1 && b[n - 1] == '/')
		n--;
	return strncmp(a, b, n) == 0 && (a[n] == '\0' || a[n] == '/' || (n == 1 && b[0] == '/'));
}

int tr_paths_overlap(const char *a, const char *b)
{
	return within(a, b) || within(b, a);
}

static int add_entry(tr_linkmap *m, const char *name, size_t nlen, const char *path)
{
	tr_map_entry *grown = realloc(m->v, (size_t)(m->n + 1) * sizeof *grown);
	if (!grown)
		return -1;
	m->v = grown;
	tr_map_entry *e = &m->v[m->n];
	e->name = strndup(name, nlen);
	e->path = strdup(path);
	e->used = 0;
	/* A trailing slash names the same directory. */
	for (size_t n = e->path ? strlen(e->path) : 0; n > 1 && e->path[n - 1] == '/'; n--)
		e->path[n - 1] = '\0';
	m->n++;
	return e->name && e->path ? 0 : -1;
}

static int tablespace_name_ok(const char *name, size_t n)
{
	return n > 0 && n < 64 && !memchr(name, '/', n);
}

int tr_linkmap_parse(const char *raw, int tablespaces, const char *label, tr_linkmap *m, char *err,
		     size_t errlen)
{
	memset(m, 0, sizeof *m);
	for (const char *line = raw; line && *line;) {
		const char *nl = strchr(line, '\n'), *end = nl ? nl : line + strlen(line);
		const char *eq = memchr(line, '=', (size_t)(end - line));
		char path[4096], name[4096];
		size_t nlen = eq ? (size_t)(eq - line) : 0, plen = eq ? (size_t)(end - eq - 1) : 0;
		if (!eq || nlen == 0 || plen == 0 || nlen >= sizeof name || plen >= sizeof path) {
			snprintf(err, errlen, "%s: expected %s=PATH", label, tablespaces ? "OID_OR_NAME" : "NAME");
			return -1;
		}
		memcpy(name, line, nlen);
		name[nlen] = '\0';
		memcpy(path, eq + 1, plen);
		path[plen] = '\0';
		while (plen > 1 && path[plen - 1] == '/')   /* a trailing slash names the same directory */
			path[--plen] = '\0';
		if (!tr_abs_path_ok(path)) {
			snprintf(err, errlen, "%s: %s: the path must be absolute, without \".\" or \"..\"", label, name);
			return -1;
		}
		if (tablespaces ? !tablespace_name_ok(name, nlen) : !tr_rel_path_ok(name)) {
			snprintf(err, errlen, "%s: \"%s\" is not a %s", label, name,
				 tablespaces ? "tablespace OID or name" : "path inside the data directory");
			return -1;
		}
		for (int i = 0; i < m->n; i++)
			if (strcmp(m->v[i].name, name) == 0) {
				snprintf(err, errlen, "%s: %s is given twice", label, name);
				return -1;
			}
		if (add_entry(m, name, nlen, path) != 0) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
		line = nl ? nl + 1 : NULL;
	}
	return 0;
}

tr_map_entry *tr_linkmap_find(tr_linkmap *m, const char *name)
{
	for (int i = 0; i < m->n; i++)
		if (strcmp(m->v[i].name, name) == 0) {
			m->v[i].used = 1;
			return &m->v[i];
		}
	return NULL;
}

void tr_linkmap_free(tr_linkmap *m)
{
	for (int i = 0; i < m->n; i++) {
		free(m->v[i].name);
		free(m->v[i].path);
	}
	free(m->v);
	memset(m, 0, sizeof *m);
}

const char *tr_tablespace_oid(const char *names, const char *name, char *out, size_t outlen)
{
	char hex[2 * 64 + 1];
	size_t n = strlen(name);
	if (!names || n >= 64)
		return NULL;
	tr_hex((const uint8_t *)name, n, hex);
	for (const char *line = names; *line;) {
		const char *nl = strchr(line, '\n'), *end = nl ? nl : line + strlen(line);
		const char *sp = memchr(line, ' ', (size_t)(end - line));
		if (sp && (size_t)(end - sp - 1) == 2 * n && strncasecmp(sp + 1, hex, 2 * n) == 0 &&
		    (size_t)(sp - line) < outlen) {
			snprintf(out, outlen, "%.*s", (int)(sp - line), line);
			return out;
		}
		if (!nl)
			break;
		line = nl + 1;
	}
	return NULL;
}

/* Appends s to the growing buffer *b, escaping as PostgreSQL's
 * tablespace_map reader expects (a backslash keeps the next byte). */
static int append(char **b, size_t *len, size_t *cap, const char *s, size_t n, int escape)
{
	for (size_t i = 0; i <= n; i++) {
		if (*len + 3 > *cap) {
			size_t c = *cap ? 2 * *cap : 256;
			char *grown = realloc(*b, c);
			if (!grown)
				return -1;
			*b = grown;
			*cap = c;
		}
		if (i == n)
			break;
		if (escape && (s[i] == '\n' || s[i] == '\r' || s[i] == '\\'))
			(*b)[(*len)++] = '\\';
		(*b)[(*len)++] = s[i];
	}
	(*b)[*len] = '\0';
	return 0;
}

char *tr_tablespace_map_rewrite(const char *text, const char *(*where)(void *ctx, const char *oid), void *ctx)
{
	char *out = NULL, oid[32];
	size_t len = 0, cap = 0;
	const char *p = text;
	if (append(&out, &len, &cap, "", 0, 0) != 0)
		return NULL;
	while (*p) {
		/* One line: the OID, a space, the (escaped) path, an unescaped newline. */
		const char *q = p;
		for (int esc = 0; *q && (esc || (*q != '\n' && *q != '\r')); q++)
			esc = !esc && *q == '\\';
		const char *sp = memchr(p, ' ', (size_t)(q - p));
		if (!sp || sp == p || (size_t)(sp - p) >= sizeof oid) {
			free(out);
			return NULL;
		}
		snprintf(oid, sizeof oid, "%.*s", (int)(sp - p), p);
		const char *moved = where(ctx, oid);
		int rc = moved ? append(&out, &len, &cap, p, (size_t)(sp - p + 1), 0) ||
					 append(&out, &len, &cap, moved, strlen(moved), 1) ||
					 append(&out, &len, &cap, "\n", 1, 0)
			       : append(&out, &len, &cap, p, (size_t)(q - p) + (*q ? 1 : 0), 0);
		if (rc) {
			free(out);
			return NULL;
		}
		p = *q ? q + 1 : q;
	}
	return out;
}
