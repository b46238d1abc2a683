/* walname.h - PostgreSQL WAL file names and where they live in the repository. */
#ifndef TR_WALNAME_H
#define TR_WALNAME_H
#include <stddef.h>

enum tr_wal_kind { TR_WAL_NONE, TR_WAL_SEGMENT, TR_WAL_HISTORY, TR_WAL_BACKUP, TR_WAL_PARTIAL };

/* Classifies a file name: 24 hex digits (segment), 8 hex + ".history",
 * 24 hex + "." + 8 hex + ".backup", 24 hex + ".partial". */
int tr_wal_kind(const char *name);
/* Repository-relative name: "wal/<first 16>/<name>", or "wal/<name>" for
 * history files.  -1 if name is not a WAL file name. */
int tr_wal_rel(const char *name, char *out, size_t outlen);
/* The same under another WAL prefix ("wal-2/": a later history section's
 * WAL, section.h); prefix ends with '/'. */
int tr_wal_rel_in(const char *prefix, const char *name, char *out, size_t outlen);

#endif
