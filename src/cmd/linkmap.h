/*
 * linkmap.h - where a restore may write: the paths a manifest names must
 * stay inside the data directory, and links or tablespaces go elsewhere
 * only where the user says (--link-map NAME=PATH, --tablespace-map
 * OID_OR_NAME=PATH).
 */
#ifndef TR_LINKMAP_H
#define TR_LINKMAP_H

#include <stddef.h>

typedef struct tr_map_entry {
	char *name;     /* --link-map: a link's path in the data directory; --tablespace-map: an OID or a name */
	char *path;     /* absolute, without "." or ".." components */
	int used;       /* matched by the manifest */
} tr_map_entry;

typedef struct tr_linkmap {
	tr_map_entry *v;
	int n;
} tr_linkmap;

/* 1 if rel is a path restore may create below a data directory: not
 * empty, not absolute, no empty, "." or ".." component, at most 4095
 * bytes (a manifest path never holds a NUL: the decoder refuses %00). */
int tr_rel_path_ok(const char *rel);
/* 1 if path is absolute and has no empty, "." or ".." component. */
int tr_abs_path_ok(const char *path);
/* Whether the absolute paths a and b overlap (one contains the other). */
int tr_paths_overlap(const char *a, const char *b);

/* Parses NAME=PATH lines (repeated options are kept one a line).  label
 * names the setting in messages.  0, or -1 with err. */
int tr_linkmap_parse(const char *raw, int tablespaces, const char *label, tr_linkmap *m, char *err,
		     size_t errlen);
/* The entry for name (marks it used), or NULL. */
tr_map_entry *tr_linkmap_find(tr_linkmap *m, const char *name);
void tr_linkmap_free(tr_linkmap *m);

/* The OID of a tablespace named name in a manifest's tablespace-names
 * text ("<oid> <hex of the name>" lines), or NULL.  out: 16 bytes. */
const char *tr_tablespace_oid(const char *names, const char *name, char *out, size_t outlen);
/* tablespace_map text with the tablespaces of map moved to their new
 * locations (escaped as PostgreSQL writes them); malloc'ed, NULL if out
 * of memory or a line is malformed.  where(ctx, oid) returns the new
 * location or NULL to keep the line. */
char *tr_tablespace_map_rewrite(const char *text, const char *(*where)(void *ctx, const char *oid), void *ctx);

#endif
