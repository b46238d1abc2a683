/* kdf.h - PBKDF2-HMAC-SHA256 (RFC 8018), exposed for the test vectors;
 * the rest of the core calls tr_kdf_kek() (keyring.h). */
#ifndef TR_KDF_H
#define TR_KDF_H

#include <stddef.h>
#include <stdint.h>

void tr_pbkdf2_sha256(const void *pass, size_t passlen, const void *salt, size_t saltlen,
		      uint32_t iterations, uint8_t *out, size_t outlen);
/* The same on BearSSL's portable SHA-256 only, which tr_pbkdf2_sha256
 * uses on a CPU without SHA-NI (for the tests, which compare the two). */
void tr_pbkdf2_sha256_portable(const void *pass, size_t passlen, const void *salt, size_t saltlen,
			       uint32_t iterations, uint8_t *out, size_t outlen);

#endif
