/*
 * fsync_tree.h - make a restored directory tree durable.
 *
 * Like PostgreSQL's own sync of a data directory: a first pass asks the
 * kernel to start writing every file back (sync_file_range), a second
 * fsyncs every file and then every directory, so the second pass mostly
 * waits on writes already under way.  Only the tree's files are flushed,
 * not the rest of the filesystem (syncfs would also wait for every other
 * dirty file on it, such as a running server's).  Symbolic links under
 * pg_tblspc are followed, one level: the tablespaces a restore created.
 */
#ifndef TR_FSYNC_TREE_H
#define TR_FSYNC_TREE_H

#include <stddef.h>

/* 0, or -1 with a message naming the file that could not be flushed. */
int tr_fsync_tree(const char *root, char *err, size_t errlen);

#endif
