/* kdf.c - PBKDF2-HMAC-SHA256.
 *
 * The HMAC key holds the SHA-256 states after the ipad and opad blocks,
 * computed once; each iteration then costs two compressions (the 32-byte
 * inner message and the 32-byte outer message).  With SHA-NI those two
 * compressions run on the SHA extensions over blocks padded once (600,000
 * iterations: about 4 x faster than BearSSL's portable SHA-256, which
 * made the passphrase check a third of a small restore); the iteration
 * count, the security parameter, is the same either way. */
#include "config.h"
#include "format/kdf.h"
#include "format/keyring.h"
#include "format/sha256ni.h"

#include <bearssl.h>
#include <string.h>

/* U_1 = HMAC(pass, salt || INT(block)): on either implementation. */
static void first_u(int ni, const br_hmac_key_context *kc, const tr_hmac256ni *nk, const void *salt,
		    size_t saltlen, uint32_t block, uint8_t u[32])
{
	uint8_t be[4] = { (uint8_t)(block >> 24), (uint8_t)(block >> 16), (uint8_t)(block >> 8), (uint8_t)block };
	if (ni) {
		tr_hmac256ni h = *nk;
		tr_hmac256ni_update(&h, salt, saltlen);
		tr_hmac256ni_update(&h, be, 4);
		tr_hmac256ni_out(&h, u);
		explicit_bzero(&h, sizeof h);
		return;
	}
	br_hmac_context hc;
	br_hmac_init(&hc, kc, 0);
	br_hmac_update(&hc, salt, saltlen);
	br_hmac_update(&hc, be, 4);
	br_hmac_out(&hc, u);
	explicit_bzero(&hc, sizeof hc);
}

static void store_be(uint8_t *out, const uint32_t st[8])
{
	for (int i = 0; i < 8; i++) {
		out[4 * i] = (uint8_t)(st[i] >> 24);
		out[4 * i + 1] = (uint8_t)(st[i] >> 16);
		out[4 * i + 2] = (uint8_t)(st[i] >> 8);
		out[4 * i + 3] = (uint8_t)st[i];
	}
}

/* t ^= U_2 .. U_c on SHA-NI.  Both messages are 32 bytes after a 64-byte
 * pad block: one block each, 0x80, zeros, and the length, 768 bits. */
static void iterate_ni(const tr_hmac256ni *nk, uint8_t u[32], uint32_t iterations, uint8_t t[32])
{
	uint8_t blk[64] = { 0 };
	uint32_t st[8];
	memcpy(blk, u, 32);
	blk[32] = 0x80;
	blk[62] = 0x03;
	for (uint32_t i = 1; i < iterations; i++) {
		memcpy(st, nk->inner.h, sizeof st);
		tr_sha256ni_block(st, blk);
		store_be(blk, st);
		memcpy(st, nk->outer.h, sizeof st);
		tr_sha256ni_block(st, blk);
		store_be(blk, st);
		for (int j = 0; j < 32; j++)
			t[j] ^= blk[j];
	}
	explicit_bzero(blk, sizeof blk);
	explicit_bzero(st, sizeof st);
}

static void iterate_portable(const br_hmac_key_context *kc, uint8_t u[32], uint32_t iterations, uint8_t t[32])
{
	br_hmac_context hc;
	for (uint32_t i = 1; i < iterations; i++) {
		br_hmac_init(&hc, kc, 0);
		br_hmac_update(&hc, u, 32);
		br_hmac_out(&hc, u);
		for (int j = 0; j < 32; j++)
			t[j] ^= u[j];
	}
	explicit_bzero(&hc, sizeof hc);
}

static void pbkdf2(int ni, const void *pass, size_t passlen, const void *salt, size_t saltlen,
		   uint32_t iterations, uint8_t *out, size_t outlen)
{
	br_hmac_key_context kc;
	tr_hmac256ni nk;
	uint8_t u[32], t[32];

	if (ni)
		tr_hmac256ni_init(&nk, pass, passlen);
	else
		br_hmac_key_init(&kc, &br_sha256_vtable, pass, passlen);
	for (uint32_t block = 1; outlen > 0; block++) {
		first_u(ni, &kc, &nk, salt, saltlen, block, u);
		memcpy(t, u, 32);
		if (ni)
			iterate_ni(&nk, u, iterations, t);
		else
			iterate_portable(&kc, u, iterations, t);
		size_t n = outlen < 32 ? outlen : 32;
		memcpy(out, t, n);
		out += n;
		outlen -= n;
	}
	explicit_bzero(&kc, sizeof(kc));
	explicit_bzero(&nk, sizeof(nk));
	explicit_bzero(u, sizeof(u));
	explicit_bzero(t, sizeof(t));
}

void tr_pbkdf2_sha256(const void *pass, size_t passlen, const void *salt, size_t saltlen,
		      uint32_t iterations, uint8_t *out, size_t outlen)
{
	pbkdf2(tr_sha256ni_available(), pass, passlen, salt, saltlen, iterations, out, outlen);
}

void tr_pbkdf2_sha256_portable(const void *pass, size_t passlen, const void *salt, size_t saltlen,
			       uint32_t iterations, uint8_t *out, size_t outlen)
{
	pbkdf2(0, pass, passlen, salt, saltlen, iterations, out, outlen);
}

void tr_kdf_kek(const char *passphrase, const uint8_t salt[16], uint32_t iterations,
		uint8_t kek[32])
{
	tr_pbkdf2_sha256(passphrase, strlen(passphrase), salt, 16, iterations, kek, 32);
}
