/*
 * keyring.h - the repository's key hierarchy.
 *
 * The passphrase (TOTALRECALL_ENCRYPTION_KEY, any string) never encrypts
 * data.  PBKDF2-HMAC-SHA256(passphrase, 16-byte random salt, iterations)
 * gives a key-encryption key (KEK) that wraps a random 32-byte data key
 * with AES-256-GCM.  The keyring object holds the salt, the iteration
 * count and the wrapped data key; it is written once per repository.
 * Every working key is HMAC-SHA256(data key, label):
 *   enc   "totalrecall enc"    object encryption (see format.h)
 *   mac   "totalrecall mac"    keyed checksums of plaintext (checksum.h)
 *   chunk "totalrecall chunk"  names of deduplicated chunks
 *   id    "totalrecall key-id" first 8 bytes: the key id in object headers
 */
#ifndef TR_KEYRING_H
#define TR_KEYRING_H

#include <stddef.h>
#include <stdint.h>

#define TR_KDF_ITERATIONS_DEFAULT 600000u   /* OWASP 2023 for PBKDF2-HMAC-SHA256 */
#define TR_KDF_ITERATIONS_MIN 1000u
#define TR_KEYRING_MAX 512                  /* bytes of a serialised keyring */

typedef struct tr_keys {
	uint8_t data[32];
	uint8_t enc[32];
	uint8_t mac[32];
	uint8_t chunk[32];
	uint8_t id[8];
} tr_keys;

typedef struct tr_keyring {
	uint32_t iterations;
	uint8_t salt[16];
	uint8_t wrap_nonce[12];
	uint8_t wrapped[32];
	uint8_t wrap_tag[16];
	uint8_t key_id[8];       /* id of the wrapped data key, in the clear */
} tr_keyring;

/* Derives enc/mac/chunk/id from keys->data. */
void tr_keys_derive(tr_keys *keys);
/* Wipes keys (explicit_bzero). */
void tr_keys_wipe(tr_keys *keys);

/* PBKDF2-HMAC-SHA256 into a 32-byte KEK. */
void tr_kdf_kek(const char *passphrase, const uint8_t salt[16], uint32_t iterations,
		uint8_t kek[32]);

/* New keyring: random salt and data key, wrapped with the KEK of
 * passphrase.  Fills *ring, *keys and kek_out (for the local cache). */
int tr_keyring_create(const char *passphrase, uint32_t iterations, tr_keyring *ring,
		      tr_keys *keys, uint8_t kek_out[32]);
/* Unwraps the data key with kek.  Returns 0, or -1 when the KEK does not
 * match (wrong passphrase): the caller reports "encryption key does not
 * match this repository". */
int tr_keyring_unwrap(const tr_keyring *ring, const uint8_t kek[32], tr_keys *keys);

/* Text serialisation (one "name value" per line, hex values), so the
 * keyring can be read by a person:  "totalrecall-keyring 1",
 * "kdf pbkdf2-sha256", "iterations N", "salt HEX", "key-id HEX",
 * "nonce HEX", "wrapped HEX", "tag HEX".  Returns bytes written or -1. */
int tr_keyring_format(const tr_keyring *ring, char *out, size_t outlen);
/* Parses it; -1 with a message naming the bad line in err. */
int tr_keyring_parse(const char *in, size_t len, tr_keyring *ring, char *err, size_t errlen);

#endif
