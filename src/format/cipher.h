/* cipher.h - AEAD over BearSSL: AES-256-GCM (AES-NI + PCLMUL when the CPU
 * has them, constant-time software otherwise) and ChaCha20-Poly1305. */
#ifndef TR_CIPHER_H
#define TR_CIPHER_H

#include <stddef.h>
#include <stdint.h>

typedef struct tr_aead tr_aead;

/* True when AES-GCM runs on hardware instructions here. */
int tr_aead_aes_hw(void);
/* id is TR_CIPHER_AES256GCM or TR_CIPHER_CHACHA20POLY1305 (format.h). */
tr_aead *tr_aead_new(int id, const uint8_t key[32]);
/* Same, but force_sw != 0 selects the portable constant-time code even
 * where SIMD/AES-NI code is available (tests compare the two). */
tr_aead *tr_aead_new_impl(int id, const uint8_t key[32], int force_sw);
/* In-place; nonce is 12 bytes; aad may be NULL. */
void tr_aead_seal(tr_aead *a, const uint8_t nonce[12], const void *aad, size_t aadlen,
		  void *data, size_t len, uint8_t tag[16]);
/* Returns 0 when the tag matches (data then holds plaintext), -1 otherwise
 * (data then holds the ciphertext again, never unauthenticated plaintext). */
int tr_aead_open(tr_aead *a, const uint8_t nonce[12], const void *aad, size_t aadlen,
		 void *data, size_t len, const uint8_t tag[16]);
/* Wipes the key material; NULL is allowed. */
void tr_aead_free(tr_aead *a);

#endif
