/* kdf.c - PBKDF2-HMAC-SHA256 on BearSSL's HMAC.
 *
 * The HMAC key context holds the SHA-256 states after the ipad and opad
 * blocks, computed once; each iteration then costs two compressions (the
 * 32-byte inner message and the 32-byte outer message). */
#include "config.h"
#include "format/kdf.h"
#include "format/keyring.h"

#include <bearssl.h>
#include <string.h>

void tr_pbkdf2_sha256(const void *pass, size_t passlen, const void *salt, size_t saltlen,
		      uint32_t iterations, uint8_t *out, size_t outlen)
{
	br_hmac_key_context kc;
	br_hmac_context hc;
	uint8_t u[32], t[32];

	br_hmac_key_init(&kc, &br_sha256_vtable, pass, passlen);
	for (uint32_t block = 1; outlen > 0; block++) {
		uint8_t be[4] = { (uint8_t)(block >> 24), (uint8_t)(block >> 16),
				  (uint8_t)(block >> 8), (uint8_t)block };
		br_hmac_init(&hc, &kc, 0);
		br_hmac_update(&hc, salt, saltlen);
		br_hmac_update(&hc, be, 4);
		br_hmac_out(&hc, u);
		memcpy(t, u, 32);
		for (uint32_t i = 1; i < iterations; i++) {
			br_hmac_init(&hc, &kc, 0);
			br_hmac_update(&hc, u, 32);
			br_hmac_out(&hc, u);
			for (int j = 0; j < 32; j++)
				t[j] ^= u[j];
		}
		size_t n = outlen < 32 ? outlen : 32;
		memcpy(out, t, n);
		out += n;
		outlen -= n;
	}
	explicit_bzero(&kc, sizeof(kc));
	explicit_bzero(&hc, sizeof(hc));
	explicit_bzero(u, sizeof(u));
	explicit_bzero(t, sizeof(t));
}

void tr_kdf_kek(const char *passphrase, const uint8_t salt[16], uint32_t iterations,
		uint8_t kek[32])
{
	tr_pbkdf2_sha256(passphrase, strlen(passphrase), salt, 16, iterations, kek, 32);
}
