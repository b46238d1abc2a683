/*
 * datadir.h - walks a PostgreSQL data directory the way a base backup must
 * see it, following PostgreSQL's rules for what to leave out:
 *   - the contents of pg_wal (but pg_wal/ and pg_wal/archive_status/ stay),
 *     pg_dynshmem, pg_notify, pg_replslot, pg_serial, pg_snapshots,
 *     pg_stat_tmp and pg_subtrans;
 *   - postmaster.pid, postmaster.opts, pg_internal.init, backup_label,
 *     tablespace_map, backup_manifest, *.tmp files of the server
 *     (postgresql.auto.conf.tmp, current_logfiles.tmp), recovery.signal,
 *     standby.signal, TotalRecall's own spool directory and restore files
 *     (totalrecall_restore.conf, totalrecall_restore.lock);
 *   - temporary files and directories (pgsql_tmp*) and temporary relations
 *     (t<backend>_<relfilenode>);
 *   - every fork of an unlogged relation except its init fork.
 * Tablespaces (symlinks in pg_tblspc) are reported as links and then
 * walked as if their contents lived below the link.  Other links (a
 * symlinked pg_wal, links the user made) are reported as links and
 * followed the same way: a link to a file is followed by a file entry of
 * the same path with the file's contents, a link to a directory by the
 * directory's entries (PostgreSQL's exclusions apply there too); a
 * dangling link is reported alone, a link to a directory that contains it
 * is an error.
 * Entries come in byte order of their paths, a directory before its
 * contents, so that a backup can be merged with the previous manifest.
 */
#ifndef TR_DATADIR_H
#define TR_DATADIR_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "base/spool.h"   /* TR_SPOOL_DIRNAME: left out */

typedef struct tr_dd_entry {
	char type;            /* 'd' directory, 'f' file, 'l' symlink */
	const char *path;     /* relative to the data directory */
	mode_t mode;          /* permission bits */
	int64_t size;
	int64_t mtime;
	const char *target;   /* for 'l' */
} tr_dd_entry;

typedef int (*tr_dd_fn)(void *ctx, const tr_dd_entry *e);

/* Returns 0, the callback's non-zero value, or -1 with err. */
int tr_datadir_walk(const char *root, tr_dd_fn fn, void *ctx, char *err, size_t errlen);

/* Exposed for tests: would the walker leave this name out of dir? */
int tr_datadir_excluded(const char *dir_rel, const char *name, int is_dir);

#endif
