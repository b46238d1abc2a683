/*
 * atomicfile.h - the one way TotalRecall puts a local file in place.
 *
 * A temporary file is created with O_CREAT|O_EXCL|O_NOFOLLOW (so a name
 * planted in advance, a symbolic link included, is never followed or
 * reused) in the directory of the target, written, fsynced, then renamed
 * over the target (or linked to it, when the target must not exist yet),
 * and the directory is fsynced.  Any failure removes the temporary file: a
 * half-written file never appears under its final name and none is left
 * behind.  The directory is held open from the start, so a directory
 * renamed or replaced meanwhile cannot redirect the file.
 *
 * A writer that may be stopped by a signal (archive-get in pg_wal) can
 * register its temporary file: SIGTERM, SIGINT or SIGHUP then removes it
 * before the process dies of the signal.
 */
#ifndef TR_ATOMICFILE_H
#define TR_ATOMICFILE_H

#include <stddef.h>
#include <sys/types.h>

/* Fail with EEXIST instead of replacing an existing target. */
#define TR_ATOMIC_NOREPLACE 0x1u

typedef struct tr_atomic {
	int dirfd;          /* the target's directory */
	int own_dirfd;      /* opened here: closed at the end */
	int fd;             /* the temporary file; -1 once closed */
	char name[256];     /* the target, relative to dirfd */
	char tmp[320];      /* the temporary file, relative to dirfd */
} tr_atomic;

/* Starts a file that will be put at path (its directory must exist).
 * 0, or -1 with errno. */
int tr_atomic_open(tr_atomic *a, const char *path, mode_t mode);
/* The same for name (one component) in the open directory dirfd, which
 * stays the caller's. */
int tr_atomic_open_at(tr_atomic *a, int dirfd, const char *name, mode_t mode);
/* Writes all of buf to the temporary file; 0 or -1 with errno. */
int tr_atomic_write_all(tr_atomic *a, const void *buf, size_t len);
/* fsync, rename (or link with TR_ATOMIC_NOREPLACE), fsync the directory.
 * 0, or -1 with errno; the temporary file is gone either way. */
int tr_atomic_commit(tr_atomic *a, unsigned flags);
/* Removes the temporary file and releases a (safe after commit too). */
void tr_atomic_abort(tr_atomic *a);

/* One-shot forms for small files. */
int tr_atomic_write_file(const char *path, const void *buf, size_t len, mode_t mode, unsigned flags);
int tr_atomic_write_file_at(int dirfd, const char *name, const void *buf, size_t len, mode_t mode,
			    unsigned flags);

/* Removes a's temporary file if SIGTERM, SIGINT or SIGHUP arrives before
 * tr_atomic_unguard(); the process then dies of that signal as it would
 * have.  One file at a time per process. */
void tr_atomic_guard_signals(const tr_atomic *a);
void tr_atomic_unguard(void);

#endif
