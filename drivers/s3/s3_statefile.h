/* s3_statefile.h - small private files in state-dir: cached temporary
 * credentials and learned facts about a bucket.  A file is trusted only
 * when it is a regular file owned by this user and unreadable to anyone
 * else; it is written whole under a temporary name (O_EXCL|O_NOFOLLOW),
 * flushed and renamed, so a reader never sees half of one and nobody can
 * redirect the write with a planted link. */
#ifndef TR_S3_STATEFILE_H
#define TR_S3_STATEFILE_H

#include <stddef.h>
#include "s3_internal.h"

/* state-dir/<name>-<first 32 hex of SHA-256(id)>, or "" without state-dir. */
void s3_state_path(const tr_conn *c, const char *name, const char *id, char *out, size_t outlen);

/* Reads the file at path (up to cap - 1 bytes, NUL-terminated).  Returns
 * the length, -1 when absent or unreadable, -2 when it exists but is not
 * to be trusted (why says why: owner, mode, type, size). */
long s3_state_read(const char *path, char *buf, size_t cap, char *why, size_t whylen);

/* Writes len bytes to path as described above, mode 0600, creating
 * state-dir (0700) if needed.  0, or -1 with why set. */
int s3_state_write(tr_conn *c, const char *path, const char *data, size_t len, char *why,
		   size_t whylen);

#endif
