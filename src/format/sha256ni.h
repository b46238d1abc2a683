/* sha256ni.h - SHA-256 and HMAC-SHA256 on the x86 SHA extensions.
 *
 * BearSSL has no SHA-NI code path; its portable SHA-256 runs at a few
 * hundred MB/s, which made the keyed checksum of a WAL segment and the
 * chunk ids of a backup the largest CPU cost.  These functions give the
 * same results as br_sha256 / br_hmac(sha256), several times faster, and
 * are used only when tr_sha256ni_available() says the CPU has SHA-NI. */
#ifndef TR_SHA256NI_H
#define TR_SHA256NI_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
	uint32_t h[8];
	uint8_t buf[64];
	size_t buflen;
	uint64_t total;
} tr_sha256ni;

typedef struct {
	tr_sha256ni inner, outer;
} tr_hmac256ni;

/* 1 when the CPU (and this build) has SHA-NI, SSSE3 and SSE4.1. */
int tr_sha256ni_available(void);

void tr_sha256ni_init(tr_sha256ni *c);
void tr_sha256ni_update(tr_sha256ni *c, const void *data, size_t len);
void tr_sha256ni_out(const tr_sha256ni *c, uint8_t out[32]);

/* One compression of a 64-byte block into state (big-endian words), for
 * callers that pad their own fixed-size messages (PBKDF2, kdf.c). */
void tr_sha256ni_block(uint32_t state[8], const uint8_t block[64]);

/* HMAC-SHA256 (RFC 2104); any key length.  After init, inner.h and
 * outer.h hold the states after the ipad and opad blocks. */
void tr_hmac256ni_init(tr_hmac256ni *h, const void *key, size_t keylen);
void tr_hmac256ni_update(tr_hmac256ni *h, const void *data, size_t len);
void tr_hmac256ni_out(const tr_hmac256ni *h, uint8_t out[32]);

#endif
