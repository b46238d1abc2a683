/* drv_util.h - what every HTTP storage driver needs and that depends on
 * no driver's connection: the process-wide curl handle factory, clocks and
 * sleeps, a seeded xorshift generator for backoff jitter and random names,
 * backoff with full jitter, plain decimal settings, and private state
 * directories.  Compiled into each driver that uses it (the azure driver;
 * the s3 driver keeps its own copies of the same pieces for now), so each
 * driver stays one self-contained shared object. */
#ifndef TR_DRV_UTIL_H
#define TR_DRV_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <curl/curl.h>

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
 * caches).  Best effort; the caller finds out when it opens a file. */
void drv_make_private_dirs(const char *dir);

#endif
