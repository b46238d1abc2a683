/* drv_util.h - what every HTTP storage driver needs and that depends on
 * no driver's connection: the process-wide curl handle factory, clocks and
 * sleeps, a seeded xorshift generator for backoff jitter and random names,
 * backoff with full jitter, plain decimal settings, private state
 * directories and the files in them.  Compiled into each driver that uses
 * it (s3, minio, azure), so each driver stays one self-contained shared
 * object: a driver links nothing of the core. */
#ifndef TR_DRV_UTIL_H
#define TR_DRV_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <curl/curl.h>

#include "totalrecall/driver.h"

/* A message through the core's log callback (a no-op without one). */
void drv_log(const tr_driver_env *env, int level, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Writes the connection's error message and returns status. */
int drv_fail(char *err, size_t errlen, int status, const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* curl_global_init once per process, then a fresh easy handle. */
CURL *drv_curl_handle(void);

/* Milliseconds of a monotonic clock; a sleep that survives signals. */
double drv_now_ms(void);
void drv_sleep_ms(long ms);

/* A non-zero seed from /dev/urandom, the time, the pid and salt. */
uint64_t drv_seed(const void *salt);
/* xorshift64*: spread, not secrecy. */
uint64_t drv_random(uint64_t *state);
/* Full jitter: uniform in [0, min(cap_ms, base_ms * 2^attempt)]. */
long drv_backoff_ms(uint64_t *state, int attempt, long base_ms, long cap_ms);

/* A plain decimal number within [min, max] into *out (def when value is
 * NULL).  Returns 0, or -1 with err holding "<driver>: setting <name>:
 * ..." (the value is shown: numbers are never secrets). */
int drv_number(const char *driver, const char *name, const char *value, long long def,
	       long long min, long long max, long long *out, char *err, size_t errlen);

/* mkdir -p with mode 0700: state-dir is private (it holds key and token
 * caches).  0, or -1 with errno when a directory could not be made. */
int drv_make_private_dirs(const char *dir);

/* Puts a small private file in place whole, with the same care as the
 * core's atomicfile.c: a temporary file created O_EXCL|O_NOFOLLOW (mode
 * 0600) beside the target, written, fsynced, renamed over it, the
 * directory fsynced.  A reader sees the old file or the new one, never
 * half of one, and a link planted at the temporary name is never
 * followed.  0, or -1 with errno (the temporary file is removed). */
int drv_write_file_at(int dirfd, const char *name, const void *data, size_t len);
/* The same at a path. */
int drv_write_file(const char *path, const void *data, size_t len);

#endif
