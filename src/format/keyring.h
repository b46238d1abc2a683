/*
 * keyring.h - the repository's key hierarchy and the keyring object.
 *
 * The passphrase (TOTALRECALL_ENCRYPTION_KEY, any string) never encrypts
 * data.  PBKDF2-HMAC-SHA256(passphrase, 16-byte random salt, iterations)
 * gives a key-encryption key (KEK).  The keyring holds one or more random
 * 32-byte data keys, each wrapped with AES-256-GCM under a key derived
 * from the KEK, and names the current one.  Every working key is
 * HMAC-SHA256(some data key, label):
 *   enc   "totalrecall enc"    object encryption (format.h): per data key,
 *                              the current one for new objects
 *   id    "totalrecall key-id" first 8 bytes: the key id in object headers,
 *                              which picks the data key that opens an object
 *   mac   "totalrecall mac"    keyed checksums of plaintext (checksum.h)
 *   chunk "totalrecall chunk"  names of deduplicated chunks
 * mac and chunk come from the repository's first data key for the whole
 * life of the repository: a new data key (key rotate --new-data-key)
 * protects what is written from then on, while chunk names and checksums
 * stay comparable across the rotation (deduplication goes on, and an
 * identical re-archived WAL file is still recognised).
 *
 * Keyring version 2 (text, one "name value" line each, so a person can
 * read it; every line is authenticated by the last one):
 *   totalrecall-keyring 2
 *   repository <database id>
 *   generation <n>            1 when created, +1 at every rotation
 *   created <unix time>       of this generation
 *   kdf pbkdf2-sha256
 *   iterations <n>
 *   salt <32 hex>             new at every generation
 *   key <id 16 hex> <created> <nonce 24 hex> <wrapped 64 hex> <tag 32 hex>
 *   ...                       one line per data key, oldest first
 *   current <id 16 hex>
 *   mac <64 hex>              HMAC-SHA256(HMAC(KEK, "totalrecall keyring
 *                             mac"), every line above, as formatted here)
 * Each key is sealed under HMAC(KEK, "totalrecall keyring wrap") with its
 * own random nonce and "totalrecall keyring v2" | repository | NUL | key id
 * | created as associated data.
 *
 * Version 1 (TotalRecall 0.1) had one data key, wrapped directly under the
 * KEK, and no MAC; it is read, and rewritten as version 2 by the first
 * command that writes to the repository (see repo.c).
 */
#ifndef TR_KEYRING_H
#define TR_KEYRING_H

#include <stddef.h>
#include <stdint.h>

#define TR_KDF_ITERATIONS_DEFAULT 600000u   /* OWASP 2023 for PBKDF2-HMAC-SHA256 */
#define TR_KDF_ITERATIONS_MIN 1000u
#define TR_KEYS_MAX 64                      /* data keys a keyring can hold */
#define TR_KEYRING_MAX 16384                /* bytes of a serialised keyring */
#define TR_KEYRING_VERSION 2

/* One data key and what it encrypts with. */
typedef struct tr_key_slot {
	uint8_t id[8];
	int64_t created;      /* unix time; 0 when unknown (a 0.1 keyring) */
	uint8_t data[32];
	uint8_t enc[32];
} tr_key_slot;

/* Unlocked keys.  data/enc/id are the current key's, mac/chunk the
 * repository's; slot[] holds every data key (current included), so that
 * objects written under an older key still open. */
typedef struct tr_keys {
	uint8_t data[32];
	uint8_t enc[32];
	uint8_t mac[32];
	uint8_t chunk[32];
	uint8_t id[8];
	uint8_t ring_hash[32];  /* SHA-256 of the keyring text they came from; zero if none */
	int nslots;
	int current;            /* index in slot[] */
	tr_key_slot slot[TR_KEYS_MAX];
} tr_keys;

/* A wrapped data key as the keyring holds it. */
typedef struct tr_ring_key {
	uint8_t id[8];
	int64_t created;
	uint8_t nonce[12];
	uint8_t wrapped[32];
	uint8_t tag[16];
} tr_ring_key;

typedef struct tr_keyring {
	int version;             /* 1 or 2 */
	char repository[129];    /* database id (version 2) */
	uint64_t generation;     /* 0 for version 1 */
	int64_t created;
	uint32_t iterations;
	uint8_t salt[16];
	int nkeys;
	tr_ring_key keys[TR_KEYS_MAX];
	uint8_t current[8];
	uint8_t mac[32];         /* version 2 */
} tr_keyring;

/* Single-key form (a 0.1 keyring, tests): everything derived from
 * keys->data, which becomes the only slot. */
void tr_keys_derive(tr_keys *keys);
/* Appends a data key (the first one also gives mac and chunk); the
 * current key is unchanged unless it is the first.  -1 when full. */
int tr_keys_add(tr_keys *keys, const uint8_t data[32], int64_t created);
/* Makes the slot with this id current; -1 if there is none. */
int tr_keys_set_current(tr_keys *keys, const uint8_t id[8]);
/* The slot that opens objects with this key id, or NULL. */
const tr_key_slot *tr_keys_find(const tr_keys *keys, const uint8_t id[8]);
/* Wipes keys (explicit_bzero). */
void tr_keys_wipe(tr_keys *keys);

/* PBKDF2-HMAC-SHA256 into a 32-byte KEK. */
void tr_kdf_kek(const char *passphrase, const uint8_t salt[16], uint32_t iterations,
		uint8_t kek[32]);

/* Seals keys into a version 2 keyring: every slot wrapped under kek, the
 * current one named, the whole authenticated.  0, or -1 (no random
 * numbers, or a database id too long). */
int tr_keyring_seal(tr_keyring *ring, const tr_keys *keys, const char *repository, uint64_t generation,
		    uint32_t iterations, const uint8_t salt[16], const uint8_t kek[32]);
/* A new repository's keyring: random salt and data key.  Fills *ring,
 * *keys and kek_out. */
int tr_keyring_create(const char *repository, const char *passphrase, uint32_t iterations, tr_keyring *ring,
		      tr_keys *keys, uint8_t kek_out[32]);
/* Opens ring with kek: checks its MAC (version 2), unwraps every key and
 * fills keys (ring_hash is left to the caller).  0, or -1 when kek does
 * not open it: a wrong passphrase, or a damaged keyring. */
int tr_keyring_open(const tr_keyring *ring, const uint8_t kek[32], tr_keys *keys);
/* 1 if ring holds a key with this id. */
int tr_keyring_has(const tr_keyring *ring, const uint8_t id[8]);

/* Text serialisation of a version 2 keyring.  Returns bytes written or -1. */
int tr_keyring_format(const tr_keyring *ring, char *out, size_t outlen);
/* Parses version 1 or 2; -1 with a message naming the bad line in err.
 * Parsing checks the form only: tr_keyring_open() authenticates. */
int tr_keyring_parse(const char *in, size_t len, tr_keyring *ring, char *err, size_t errlen);

/* Version 1, as TotalRecall 0.1 wrote it (for the migration tests). */
int tr_keyring_format_v1(const tr_keyring *ring, char *out, size_t outlen);
int tr_keyring_seal_v1(tr_keyring *ring, const tr_keys *keys, uint32_t iterations, const uint8_t salt[16],
		       const uint8_t kek[32]);

#endif
