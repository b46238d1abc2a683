/* util.h - small helpers shared by the core: hex, I/O that retries, paths. */
#ifndef TR_UTIL_H
#define TR_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <sys/types.h>

#define TR_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

void tr_hex(const uint8_t *in, size_t len, char *out);         /* out: 2*len+1 */
int tr_unhex(const char *in, uint8_t *out, size_t outlen);     /* exact length, 0 or -1 */
/* 1 if the n bytes at a and b are equal, in time independent of where
 * they differ (MACs, verifiers). */
int tr_ct_memeq(const void *a, const void *b, size_t n);

/* read()/write() that retry EINTR and short transfers. */
ssize_t tr_read_full(int fd, void *buf, size_t len);
int tr_write_full(int fd, const void *buf, size_t len);
/* fsync the directory that contains path (or path itself if a directory). */
int tr_fsync_dir(const char *dir);
/* Directory part of path into out ("." if none). */
void tr_dirname(const char *path, char *out, size_t outlen);
/* Last component of path. */
const char *tr_basename(const char *path);
/* mkdir -p with mode. */
int tr_mkdirs(const char *path, mode_t mode);
/* Monotonic clock in seconds. */
double tr_now(void);
/* Copies at most outlen-1 bytes and NUL-terminates; returns -1 if truncated. */
int tr_strlcpy(char *out, const char *in, size_t outlen);
/* errno of tr_open_regular() for a file that exists but is not a regular
 * file (a FIFO, a device, a socket): such a file could block a read
 * forever, so it is never read.  tr_strerror() says so in words. */
#define TR_ENOTREG ENXIO
const char *tr_strerror(int e);
/* Opens path read-only without blocking (a FIFO never hangs the open) and
 * only if it is a regular file; flags may add O_NOFOLLOW.  fd or -1 with
 * errno (TR_ENOTREG, EISDIR, or open's). */
int tr_open_regular(const char *path, int flags);
/* Reads a whole small regular file (at most max bytes) into a malloc'ed,
 * NUL-terminated buffer.  -1 with errno set on failure, E2BIG if too
 * large, TR_ENOTREG if not a regular file. */
int tr_read_small_file(const char *path, size_t max, char **out, size_t *len);
/* A fixed memory buffer used as a body: tr_mem_read is a tr_read_fn
 * (from pos to len), tr_mem_write a tr_write_fn (appends up to cap,
 * refusing more: a body longer than expected is an error). */
typedef struct tr_membuf {
	void *data;
	size_t len, cap, pos;
} tr_membuf;
ssize_t tr_mem_read(void *ctx, void *buf, size_t len);
int tr_mem_write(void *ctx, const void *buf, size_t len);

/* Fills buf with cryptographically random bytes (getrandom). 0 or -1. */
int tr_random(void *buf, size_t len);

/* Keeps key material out of core files: RLIMIT_CORE 0 (systemd-coredump
 * honours it too).  Called before any key is loaded. */
void tr_no_core_dumps(void);

#endif
