/*
 * restore_delta.h - `restore --delta`: brings an existing, stopped data
 * directory of the same cluster to the state of a backup, fetching only
 * the chunks that differ.
 *
 * Before anything is written: no server may run on the directory (its
 * postmaster.pid names a live process: refused), and the system
 * identifier in its global/pg_control must be the backup's.  Links must
 * already be what the restore makes them (a tablespace link pointing to
 * the place the backup or --tablespace-map says, a link --link-map names
 * pointing there); a link anywhere else in the way is refused, so that a
 * delta restore never writes through a link it was not told about.
 *
 * Then, in this order:
 *  1. global/pg_control is renamed to global/pg_control.totalrecall-delta
 *     (the mark): from here on PostgreSQL refuses to start the directory,
 *     and a later run still knows which cluster it held;
 *  2. the manifest is laid out in one pass: directories are made, files
 *     are created or truncated to their size, and every chunk is compared
 *     with the bytes at its place in the local file (the keyed chunk id
 *     computed here with the backup's key); only differing chunks are
 *     fetched and written in place.  Everything the directory holds that
 *     the backup does not (another type at a path, files not in the
 *     backup: old WAL, postmaster.pid, signal files, dropped relations,
 *     links) is removed as the walk leaves each directory, never following
 *     a link; the lock file, the mark and the metrics spool stay, and so
 *     does what a tablespace's location holds beside this cluster's
 *     PG_<version>_<catalog> directory (other clusters may share it);
 *  3. backup_label, tablespace_map, the recovery settings, then
 *     global/pg_control; everything is flushed; the mark and the lock file
 *     are removed last.
 *
 * A delta restore that fails or is killed cannot undo what it changed in
 * place: it leaves the directory without global/pg_control (PostgreSQL
 * cannot start it), with the mark and with totalrecall_restore.lock (an
 * ordinary restore refuses the directory).  Running restore --delta again
 * finishes the job; nothing else treats the directory as a cluster.
 */
#ifndef TR_RESTORE_DELTA_H
#define TR_RESTORE_DELTA_H

#include <stddef.h>
#include <stdint.h>
#include "repo/manifest.h"
#include "cmd/restore_tree.h"

#define TR_DELTA_MARK "global/pg_control.totalrecall-delta"

/* Checks before anything is written: no live postmaster.pid, no restore
 * running; the system identifier the directory holds (the mark's if an
 * earlier delta restore was interrupted) into sysid.  0 or -1 with err. */
int tr_delta_check_dir(const char *dir, char sysid[32], char *err, size_t errlen);

/* The system identifier of a pg_control file (its first 8 bytes, in the
 * byte order of this machine, as PostgreSQL writes it) as decimal.  0, or
 * -1 with errno (EINVAL: too short). */
int tr_delta_read_sysid(const char *path, char out[32]);
/* 1 if dir/postmaster.pid names a process that is alive (*pid set), 0 if
 * there is none or it is stale, -1 if it cannot be read. */
int tr_delta_postmaster_alive(const char *dir, long *pid);

/* The local entry at rel, checked against the manifest's record before
 * anything is written.  link_to: where the restore makes rel a link to
 * (a tablespace's or a --link-map's place), NULL where it makes a plain
 * directory or file.  0, or -1 with err when a link is in the way. */
int tr_delta_check_entry(const char *root, const char *rel, const char *link_to, char *err, size_t errlen);
/* 1 if root/rel is already a link to link_to (the restore keeps it). */
int tr_delta_link_is(const char *root, const char *rel, const char *link_to);

typedef struct tr_delta tr_delta;

/* Step 1 (hides pg_control, marks the lock as kept); the root's listing. */
tr_delta *tr_delta_begin(tr_rtree *t, char *err, size_t errlen);
/* Before laying out the entry at rel: leaves the directories that do not
 * contain it (removing what they held and the backup does not), then
 * removes a local entry of another type at rel (want: 'd' directory, 'f'
 * file, 'l' a link to link_to).  0 or -1 with err. */
int tr_delta_enter(tr_delta *d, const char *rel, char want, const char *link_to, char *err, size_t errlen);
/* After a directory (or a link to one) was laid out: its contents are
 * compared from now on. */
int tr_delta_push(tr_delta *d, const char *rel, char *err, size_t errlen);
/* Leaves every directory (the manifest is laid out). */
int tr_delta_leave_all(tr_delta *d, char *err, size_t errlen);
/* Makes path (relative to the data directory, or the absolute target of
 * a file link) a file of size bytes and mode: an existing regular file is
 * kept (truncated or extended, its mode and owner set), else one is
 * created. */
int tr_delta_prepare_file(tr_rtree *t, const char *path, int64_t size, unsigned mode, char *err, size_t errlen);
/* Step 3's end: removes the mark (pg_control is written and flushed) and
 * lets the lock file go. */
int tr_delta_finish(tr_delta *d, char *err, size_t errlen);
/* Entries removed so far. */
uint64_t tr_delta_removed(const tr_delta *d);
void tr_delta_free(tr_delta *d);

#endif
