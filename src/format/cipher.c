/* cipher.c - AEAD over BearSSL: AES-256-GCM and ChaCha20-Poly1305.
 *
 * Each tr_aead owns its key material and implementation pointers; nothing
 * is global.  On a tag mismatch tr_aead_open() restores the ciphertext, so
 * a caller's buffer never holds unauthenticated plaintext. */
#include "config.h"
#include "format/cipher.h"
#include "format/format.h"

#include <bearssl.h>
#include <stdlib.h>
#include <string.h>

struct tr_aead {
	int id;
	/* AES-256-GCM */
	br_aes_gen_ctr_keys aes;
	br_gcm_context gcm;
	/* ChaCha20-Poly1305 */
	uint8_t key[32];
	br_chacha20_run ichacha;
	br_poly1305_run ipoly;
};

int tr_aead_aes_hw(void)
{
	return br_aes_x86ni_ctr_get_vtable() != NULL && br_ghash_pclmul_get() != NULL;
}

tr_aead *tr_aead_new_impl(int id, const uint8_t key[32], int force_sw)
{
	tr_aead *a = calloc(1, sizeof(*a));
	if (!a)
		return NULL;
	a->id = id;
	if (id == TR_CIPHER_AES256GCM) {
		const br_block_ctr_class *ctr = force_sw ? NULL : br_aes_x86ni_ctr_get_vtable();
		br_ghash gh = force_sw ? NULL : br_ghash_pclmul_get();
		if (!ctr || !gh) {
			/* Both in hardware or both in constant-time software. */
			ctr = &br_aes_ct64_ctr_vtable;
			gh = br_ghash_ctmul64;
		}
		ctr->init(&a->aes.vtable, key, 32);
		br_gcm_init(&a->gcm, &a->aes.vtable, gh);
	} else if (id == TR_CIPHER_CHACHA20POLY1305) {
		memcpy(a->key, key, 32);
		a->ichacha = force_sw ? NULL : br_chacha20_sse2_get();
		if (!a->ichacha)
			a->ichacha = br_chacha20_ct_run;
		a->ipoly = force_sw ? NULL : br_poly1305_ctmulq_get();
		if (!a->ipoly)
			a->ipoly = br_poly1305_ctmul_run;
	} else {
		free(a);
		return NULL;
	}
	return a;
}

tr_aead *tr_aead_new(int id, const uint8_t key[32])
{
	return tr_aead_new_impl(id, key, 0);
}

static void gcm_run(tr_aead *a, const uint8_t nonce[12], const void *aad, size_t aadlen,
		    void *data, size_t len, int encrypt)
{
	br_gcm_reset(&a->gcm, nonce, 12);
	if (aadlen)
		br_gcm_aad_inject(&a->gcm, aad, aadlen);
	br_gcm_flip(&a->gcm);
	if (len)
		br_gcm_run(&a->gcm, encrypt, data, len);
}

void tr_aead_seal(tr_aead *a, const uint8_t nonce[12], const void *aad, size_t aadlen,
		  void *data, size_t len, uint8_t tag[16])
{
	if (a->id == TR_CIPHER_AES256GCM) {
		gcm_run(a, nonce, aad, aadlen, data, len, 1);
		br_gcm_get_tag(&a->gcm, tag);
	} else {
		a->ipoly(a->key, nonce, data, len, aad, aadlen, tag, a->ichacha, 1);
	}
}

static int ct_equal16(const uint8_t *x, const uint8_t *y)
{
	uint8_t d = 0;
	for (int i = 0; i < 16; i++)
		d |= (uint8_t)(x[i] ^ y[i]);
	return d == 0;
}

int tr_aead_open(tr_aead *a, const uint8_t nonce[12], const void *aad, size_t aadlen,
		 void *data, size_t len, const uint8_t tag[16])
{
	if (a->id == TR_CIPHER_AES256GCM) {
		gcm_run(a, nonce, aad, aadlen, data, len, 0);
		if (br_gcm_check_tag(&a->gcm, tag))
			return 0;
		/* CTR mode: encrypting again restores the ciphertext. */
		gcm_run(a, nonce, NULL, 0, data, len, 1);
		return -1;
	}
	uint8_t calc[16];
	a->ipoly(a->key, nonce, data, len, aad, aadlen, calc, a->ichacha, 0);
	int ok = ct_equal16(calc, tag);
	explicit_bzero(calc, sizeof(calc));
	if (ok)
		return 0;
	/* The data was XORed with the ChaCha20 stream from block 1 (RFC 8439). */
	if (len)
		a->ichacha(a->key, nonce, 1, data, len);
	return -1;
}

void tr_aead_free(tr_aead *a)
{
	if (!a)
		return;
	explicit_bzero(a, sizeof(*a));
	free(a);
}
