/* keyring.c - the key hierarchy: passphrase -> KEK -> data keys -> working
 * keys, and the text form of the keyring object (see keyring.h). */
#include "config.h"
#include "format/keyring.h"
#include "base/assert.h"
#include "format/cipher.h"
#include "format/format.h"
#include "base/util.h"

#include <bearssl.h>
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define KEYRING_MAGIC "totalrecall-keyring"
#define KEYRING_KDF "pbkdf2-sha256"
#define WRAP_AAD_V1 "totalrecall keyring v1"
#define WRAP_AAD_V2 "totalrecall keyring v2"

static void hmac_label(const uint8_t key[32], const char *label, uint8_t out[32])
{
	br_hmac_key_context kc;
	br_hmac_context hc;
	br_hmac_key_init(&kc, &br_sha256_vtable, key, 32);
	br_hmac_init(&hc, &kc, 0);
	br_hmac_update(&hc, label, strlen(label));
	br_hmac_out(&hc, out);
	explicit_bzero(&kc, sizeof(kc));
	explicit_bzero(&hc, sizeof(hc));
}

/* --- unlocked keys --- */

static void fill_slot(tr_key_slot *s, const uint8_t data[32], int64_t created)
{
	uint8_t id[32];
	memcpy(s->data, data, 32);
	s->created = created;
	hmac_label(data, "totalrecall enc", s->enc);
	hmac_label(data, "totalrecall key-id", id);
	memcpy(s->id, id, sizeof s->id);
	explicit_bzero(id, sizeof id);
}

static void use_slot(tr_keys *keys, int i)
{
	TR_ASSERT(i >= 0 && i < keys->nslots && keys->nslots <= TR_KEYS_MAX);
	keys->current = i;
	memcpy(keys->data, keys->slot[i].data, 32);
	memcpy(keys->enc, keys->slot[i].enc, 32);
	memcpy(keys->id, keys->slot[i].id, 8);
}

void tr_keys_derive(tr_keys *keys)
{
	uint8_t data[32];
	memcpy(data, keys->data, 32);
	keys->nslots = 0;
	tr_keys_add(keys, data, 0);
	explicit_bzero(data, sizeof data);
}

int tr_keys_add(tr_keys *keys, const uint8_t data[32], int64_t created)
{
	if (keys->nslots >= TR_KEYS_MAX)
		return -1;
	int i = keys->nslots++;
	fill_slot(&keys->slot[i], data, created);
	if (i == 0) {
		hmac_label(data, "totalrecall mac", keys->mac);
		hmac_label(data, "totalrecall chunk", keys->chunk);
		use_slot(keys, 0);
	}
	return 0;
}

int tr_keys_set_current(tr_keys *keys, const uint8_t id[8])
{
	for (int i = 0; i < keys->nslots; i++)
		if (memcmp(keys->slot[i].id, id, 8) == 0) {
			use_slot(keys, i);
			return 0;
		}
	return -1;
}

const tr_key_slot *tr_keys_find(const tr_keys *keys, const uint8_t id[8])
{
	for (int i = 0; i < keys->nslots; i++)
		if (memcmp(keys->slot[i].id, id, 8) == 0)
			return &keys->slot[i];
	return NULL;
}

void tr_keys_wipe(tr_keys *keys)
{
	if (keys)
		explicit_bzero(keys, sizeof(*keys));
}

/* --- sealing one data key --- */

static void put_be64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

/* Version 1: label | salt | u32 iterations | key id, under the KEK itself. */
static size_t aad_v1(const tr_keyring *ring, uint8_t *aad)
{
	size_t n = strlen(WRAP_AAD_V1);
	memcpy(aad, WRAP_AAD_V1, n);
	memcpy(aad + n, ring->salt, 16);
	n += 16;
	aad[n++] = (uint8_t)(ring->iterations >> 24);
	aad[n++] = (uint8_t)(ring->iterations >> 16);
	aad[n++] = (uint8_t)(ring->iterations >> 8);
	aad[n++] = (uint8_t)ring->iterations;
	memcpy(aad + n, ring->keys[0].id, 8);
	return n + 8;
}

/* Version 2: label | repository | NUL | key id | u64 created. */
static size_t aad_v2(const tr_keyring *ring, const tr_ring_key *k, uint8_t *aad)
{
	size_t n = strlen(WRAP_AAD_V2), r = strlen(ring->repository);
	memcpy(aad, WRAP_AAD_V2, n);
	memcpy(aad + n, ring->repository, r + 1);
	n += r + 1;
	memcpy(aad + n, k->id, 8);
	put_be64(aad + n + 8, (uint64_t)k->created);
	return n + 16;
}

static int seal_one(const uint8_t key[32], const uint8_t *aad, size_t aadlen, const uint8_t data[32],
		    tr_ring_key *k)
{
	tr_aead *a = tr_aead_new(TR_CIPHER_AES256GCM, key);
	if (!a || tr_random(k->nonce, sizeof k->nonce) != 0) {
		tr_aead_free(a);
		return -1;
	}
	memcpy(k->wrapped, data, 32);
	tr_aead_seal(a, k->nonce, aad, aadlen, k->wrapped, 32, k->tag);
	tr_aead_free(a);
	return 0;
}

static int open_one(const uint8_t key[32], const uint8_t *aad, size_t aadlen, const tr_ring_key *k,
		    uint8_t data[32])
{
	tr_aead *a = tr_aead_new(TR_CIPHER_AES256GCM, key);
	if (!a)
		return -1;
	memcpy(data, k->wrapped, 32);
	int rc = tr_aead_open(a, k->nonce, aad, aadlen, data, 32, k->tag);
	tr_aead_free(a);
	if (rc != 0)
		explicit_bzero(data, 32);
	return rc == 0 ? 0 : -1;
}

/* --- version 2 --- */

static int format_body(const tr_keyring *ring, char *out, size_t outlen)
{
	char salt[33], cur[17];
	tr_hex(ring->salt, 16, salt);
	tr_hex(ring->current, 8, cur);
	size_t n = (size_t)snprintf(out, outlen,
				    KEYRING_MAGIC " 2\nrepository %s\ngeneration %" PRIu64 "\ncreated %" PRId64 "\n"
				    "kdf " KEYRING_KDF "\niterations %u\nsalt %s\n",
				    ring->repository, ring->generation, ring->created, (unsigned)ring->iterations, salt);
	for (int i = 0; i < ring->nkeys && n < outlen; i++) {
		const tr_ring_key *k = &ring->keys[i];
		char id[17], nonce[25], wrapped[65], tag[33];
		tr_hex(k->id, 8, id);
		tr_hex(k->nonce, 12, nonce);
		tr_hex(k->wrapped, 32, wrapped);
		tr_hex(k->tag, 16, tag);
		n += (size_t)snprintf(out + n, outlen - n, "key %s %" PRId64 " %s %s %s\n", id, k->created, nonce,
				      wrapped, tag);
	}
	if (n < outlen)
		n += (size_t)snprintf(out + n, outlen - n, "current %s\n", cur);
	return n < outlen ? (int)n : -1;
}

static int compute_mac(const tr_keyring *ring, const uint8_t kek[32], uint8_t mac[32])
{
	char *body = malloc(TR_KEYRING_MAX);
	uint8_t mk[32];
	int n = body ? format_body(ring, body, TR_KEYRING_MAX) : -1;
	if (n >= 0) {
		br_hmac_key_context kc;
		br_hmac_context hc;
		hmac_label(kek, "totalrecall keyring mac", mk);
		br_hmac_key_init(&kc, &br_sha256_vtable, mk, 32);
		br_hmac_init(&hc, &kc, 0);
		br_hmac_update(&hc, body, (size_t)n);
		br_hmac_out(&hc, mac);
		explicit_bzero(mk, sizeof mk);
		explicit_bzero(&kc, sizeof kc);
	}
	free(body);
	return n >= 0 ? 0 : -1;
}

int tr_keyring_seal(tr_keyring *ring, const tr_keys *keys, const char *repository, uint64_t generation,
		    uint32_t iterations, const uint8_t salt[16], const uint8_t kek[32])
{
	uint8_t wk[32], aad[256];
	memset(ring, 0, sizeof *ring);
	if (keys->nslots < 1 || tr_strlcpy(ring->repository, repository, sizeof ring->repository) != 0)
		return -1;
	ring->version = 2;
	ring->generation = generation;
	ring->created = (int64_t)time(NULL);
	ring->iterations = iterations;
	memcpy(ring->salt, salt, 16);
	memcpy(ring->current, keys->id, 8);
	hmac_label(kek, "totalrecall keyring wrap", wk);
	int rc = 0;
	for (int i = 0; i < keys->nslots && rc == 0; i++) {
		tr_ring_key *k = &ring->keys[i];
		memcpy(k->id, keys->slot[i].id, 8);
		k->created = keys->slot[i].created;
		rc = seal_one(wk, aad, aad_v2(ring, k, aad), keys->slot[i].data, k);
	}
	ring->nkeys = keys->nslots;
	explicit_bzero(wk, sizeof wk);
	return rc == 0 ? compute_mac(ring, kek, ring->mac) : -1;
}

static int open_v2(const tr_keyring *ring, const uint8_t kek[32], tr_keys *keys)
{
	uint8_t mac[32], wk[32], aad[256], data[32];
	if (compute_mac(ring, kek, mac) != 0 || tr_ct_memeq(mac, ring->mac, 32) == 0)
		return -1;
	hmac_label(kek, "totalrecall keyring wrap", wk);
	int rc = 0;
	for (int i = 0; i < ring->nkeys && rc == 0; i++) {
		const tr_ring_key *k = &ring->keys[i];
		rc = open_one(wk, aad, aad_v2(ring, k, aad), k, data);
		if (rc == 0)
			rc = tr_keys_add(keys, data, k->created);
		/* The id is derived from the key: a mismatch is a keyring
		 * written inconsistently. */
		if (rc == 0 && memcmp(keys->slot[i].id, k->id, 8) != 0)
			rc = -1;
	}
	explicit_bzero(wk, sizeof wk);
	explicit_bzero(data, sizeof data);
	return rc == 0 ? tr_keys_set_current(keys, ring->current) : -1;
}

/* --- version 1 --- */

static int open_v1(const tr_keyring *ring, const uint8_t kek[32], tr_keys *keys)
{
	uint8_t aad[64], data[32];
	if (ring->nkeys != 1 || open_one(kek, aad, aad_v1(ring, aad), &ring->keys[0], data) != 0)
		return -1;
	tr_keys_add(keys, data, 0);
	explicit_bzero(data, sizeof data);
	return memcmp(keys->id, ring->keys[0].id, 8) == 0 ? 0 : -1;
}

int tr_keyring_seal_v1(tr_keyring *ring, const tr_keys *keys, uint32_t iterations, const uint8_t salt[16],
		       const uint8_t kek[32])
{
	uint8_t aad[64];
	memset(ring, 0, sizeof *ring);
	ring->version = 1;
	ring->iterations = iterations;
	memcpy(ring->salt, salt, 16);
	ring->nkeys = 1;
	memcpy(ring->keys[0].id, keys->id, 8);
	memcpy(ring->current, keys->id, 8);
	return seal_one(kek, aad, aad_v1(ring, aad), keys->data, &ring->keys[0]);
}

int tr_keyring_format_v1(const tr_keyring *ring, char *out, size_t outlen)
{
	char salt[33], id[17], nonce[25], wrapped[65], tag[33];
	const tr_ring_key *k = &ring->keys[0];
	tr_hex(ring->salt, 16, salt);
	tr_hex(k->id, 8, id);
	tr_hex(k->nonce, 12, nonce);
	tr_hex(k->wrapped, 32, wrapped);
	tr_hex(k->tag, 16, tag);
	int n = snprintf(out, outlen,
			 KEYRING_MAGIC " 1\nkdf " KEYRING_KDF "\niterations %u\nsalt %s\nkey-id %s\nnonce %s\n"
			 "wrapped %s\ntag %s\n",
			 (unsigned)ring->iterations, salt, id, nonce, wrapped, tag);
	return n < 0 || (size_t)n >= outlen ? -1 : n;
}

/* --- both --- */

int tr_keyring_open(const tr_keyring *ring, const uint8_t kek[32], tr_keys *keys)
{
	memset(keys, 0, sizeof *keys);
	int rc = ring->version == 1 ? open_v1(ring, kek, keys) : ring->version == 2 ? open_v2(ring, kek, keys) : -1;
	if (rc != 0)
		tr_keys_wipe(keys);
	return rc;
}

int tr_keyring_create(const char *repository, const char *passphrase, uint32_t iterations, tr_keyring *ring,
		      tr_keys *keys, uint8_t kek_out[32])
{
	uint8_t salt[16], data[32];
	if (iterations == 0)
		iterations = TR_KDF_ITERATIONS_DEFAULT;
	if (iterations < TR_KDF_ITERATIONS_MIN)
		return -1;
	memset(keys, 0, sizeof *keys);
	int rc = tr_random(salt, sizeof salt) == 0 && tr_random(data, sizeof data) == 0 ? 0 : -1;
	if (rc == 0) {
		tr_keys_add(keys, data, (int64_t)time(NULL));
		tr_kdf_kek(passphrase, salt, iterations, kek_out);
		rc = tr_keyring_seal(ring, keys, repository, 1, iterations, salt, kek_out);
	}
	explicit_bzero(data, sizeof data);
	if (rc != 0) {
		tr_keys_wipe(keys);
		explicit_bzero(kek_out, 32);
	}
	return rc;
}

int tr_keyring_has(const tr_keyring *ring, const uint8_t id[8])
{
	for (int i = 0; i < ring->nkeys; i++)
		if (memcmp(ring->keys[i].id, id, 8) == 0)
			return 1;
	return 0;
}

int tr_keyring_format(const tr_keyring *ring, char *out, size_t outlen)
{
	char mac[65];
	int n = format_body(ring, out, outlen);
	if (n < 0)
		return -1;
	tr_hex(ring->mac, 32, mac);
	int m = snprintf(out + n, outlen - (size_t)n, "mac %s\n", mac);
	return m < 0 || (size_t)m >= outlen - (size_t)n ? -1 : n + m;
}
