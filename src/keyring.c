/* keyring.c - the key hierarchy: passphrase -> KEK -> data key -> working
 * keys, and the text form of the keyring object (see keyring.h). */
#include "config.h"
#include "keyring.h"
#include "cipher.h"
#include "format.h"
#include "util.h"

#include <bearssl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KEYRING_MAGIC "totalrecall-keyring"
#define KEYRING_VERSION 1
#define KEYRING_KDF "pbkdf2-sha256"
#define WRAP_AAD_LABEL "totalrecall keyring v1"

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

void tr_keys_derive(tr_keys *keys)
{
	uint8_t id[32];
	hmac_label(keys->data, "totalrecall enc", keys->enc);
	hmac_label(keys->data, "totalrecall mac", keys->mac);
	hmac_label(keys->data, "totalrecall chunk", keys->chunk);
	hmac_label(keys->data, "totalrecall key-id", id);
	memcpy(keys->id, id, sizeof(keys->id));
	explicit_bzero(id, sizeof(id));
}

void tr_keys_wipe(tr_keys *keys)
{
	if (keys)
		explicit_bzero(keys, sizeof(*keys));
}

/* AAD = label || salt || u32 iterations || key id. */
static size_t wrap_aad(const tr_keyring *ring, uint8_t *aad)
{
	size_t n = strlen(WRAP_AAD_LABEL);
	memcpy(aad, WRAP_AAD_LABEL, n);
	memcpy(aad + n, ring->salt, 16);
	n += 16;
	aad[n++] = (uint8_t)(ring->iterations >> 24);
	aad[n++] = (uint8_t)(ring->iterations >> 16);
	aad[n++] = (uint8_t)(ring->iterations >> 8);
	aad[n++] = (uint8_t)ring->iterations;
	memcpy(aad + n, ring->key_id, 8);
	return n + 8;
}

int tr_keyring_create(const char *passphrase, uint32_t iterations, tr_keyring *ring,
		      tr_keys *keys, uint8_t kek_out[32])
{
	uint8_t aad[64];
	if (iterations == 0)
		iterations = TR_KDF_ITERATIONS_DEFAULT;
	if (iterations < TR_KDF_ITERATIONS_MIN)
		return -1;
	memset(ring, 0, sizeof(*ring));
	memset(keys, 0, sizeof(*keys));
	ring->iterations = iterations;
	if (tr_random(ring->salt, sizeof(ring->salt)) < 0 ||
	    tr_random(ring->wrap_nonce, sizeof(ring->wrap_nonce)) < 0 ||
	    tr_random(keys->data, sizeof(keys->data)) < 0)
		goto fail;
	tr_keys_derive(keys);
	memcpy(ring->key_id, keys->id, 8);
	tr_kdf_kek(passphrase, ring->salt, iterations, kek_out);

	tr_aead *a = tr_aead_new(TR_CIPHER_AES256GCM, kek_out);
	if (!a)
		goto fail;
	memcpy(ring->wrapped, keys->data, 32);
	size_t aadlen = wrap_aad(ring, aad);
	tr_aead_seal(a, ring->wrap_nonce, aad, aadlen, ring->wrapped, 32, ring->wrap_tag);
	tr_aead_free(a);
	return 0;
fail:
	tr_keys_wipe(keys);
	explicit_bzero(kek_out, 32);
	return -1;
}

int tr_keyring_unwrap(const tr_keyring *ring, const uint8_t kek[32], tr_keys *keys)
{
	uint8_t aad[64], data[32];
	tr_aead *a = tr_aead_new(TR_CIPHER_AES256GCM, kek);
	if (!a)
		return -1;
	memcpy(data, ring->wrapped, 32);
	size_t aadlen = wrap_aad(ring, aad);
	int rc = tr_aead_open(a, ring->wrap_nonce, aad, aadlen, data, 32, ring->wrap_tag);
	tr_aead_free(a);
	if (rc != 0)
		return -1;
	memcpy(keys->data, data, 32);
	explicit_bzero(data, sizeof(data));
	tr_keys_derive(keys);
	/* The key id is authenticated as AAD; a mismatch means a keyring
	 * that was written inconsistently. */
	if (memcmp(keys->id, ring->key_id, 8) != 0) {
		tr_keys_wipe(keys);
		return -1;
	}
	return 0;
}

int tr_keyring_format(const tr_keyring *ring, char *out, size_t outlen)
{
	char salt[33], id[17], nonce[25], wrapped[65], tag[33];
	tr_hex(ring->salt, 16, salt);
	tr_hex(ring->key_id, 8, id);
	tr_hex(ring->wrap_nonce, 12, nonce);
	tr_hex(ring->wrapped, 32, wrapped);
	tr_hex(ring->wrap_tag, 16, tag);
	int n = snprintf(out, outlen,
			 KEYRING_MAGIC " %d\n"
			 "kdf " KEYRING_KDF "\n"
			 "iterations %u\n"
			 "salt %s\n"
			 "key-id %s\n"
			 "nonce %s\n"
			 "wrapped %s\n"
			 "tag %s\n",
			 KEYRING_VERSION, (unsigned)ring->iterations, salt, id, nonce, wrapped, tag);
	if (n < 0 || (size_t)n >= outlen)
		return -1;
	return n;
}

enum { F_KDF, F_ITER, F_SALT, F_ID, F_NONCE, F_WRAPPED, F_TAG, F_COUNT };
static const char *const field_names[F_COUNT] = {
	"kdf", "iterations", "salt", "key-id", "nonce", "wrapped", "tag"
};

int tr_keyring_parse(const char *in, size_t len, tr_keyring *ring, char *err, size_t errlen)
{
	char line[TR_KEYRING_MAX + 1];
	int seen[F_COUNT] = { 0 };
	int have_magic = 0, lineno = 0;
	size_t pos = 0;
	tr_keyring r;

	memset(&r, 0, sizeof(r));
	if (len > TR_KEYRING_MAX) {
		snprintf(err, errlen, "keyring: %zu bytes, more than the %d a keyring can have",
			 len, TR_KEYRING_MAX);
		return -1;
	}
	while (pos < len) {
		const char *nl = memchr(in + pos, '\n', len - pos);
		size_t l = nl ? (size_t)(nl - (in + pos)) : len - pos;
		memcpy(line, in + pos, l);
		line[l] = '\0';
		pos += l + (nl ? 1 : 0);
		lineno++;
		if (l > 0 && line[l - 1] == '\r')
			line[--l] = '\0';
		if (l == 0)
			continue;
		if (memchr(line, '\0', l)) {
			snprintf(err, errlen, "keyring line %d: contains a NUL byte", lineno);
			return -1;
		}
		char *sp = strchr(line, ' ');
		if (!sp) {
			snprintf(err, errlen, "keyring line %d: expected \"name value\", got \"%.40s\"",
				 lineno, line);
			return -1;
		}
		*sp = '\0';
		const char *name = line, *val = sp + 1;
		if (!have_magic) {
			if (strcmp(name, KEYRING_MAGIC) != 0) {
				snprintf(err, errlen, "keyring line %d: not a TotalRecall keyring "
					 "(expected \"" KEYRING_MAGIC " %d\")", lineno, KEYRING_VERSION);
				return -1;
			}
			if (strcmp(val, "1") != 0) {
				snprintf(err, errlen, "keyring line %d: unsupported keyring version \"%.20s\" "
					 "(this build reads version %d)", lineno, val, KEYRING_VERSION);
				return -1;
			}
			have_magic = 1;
			continue;
		}
		int f;
		for (f = 0; f < F_COUNT; f++)
			if (strcmp(name, field_names[f]) == 0)
				break;
		if (f == F_COUNT) {
			snprintf(err, errlen, "keyring line %d: unknown field \"%.40s\"", lineno, name);
			return -1;
		}
		if (seen[f]) {
			snprintf(err, errlen, "keyring line %d: \"%s\" appears twice", lineno, name);
			return -1;
		}
		seen[f] = 1;
		int bad = 0;
		size_t want = 0;
		switch (f) {
		case F_KDF:
			if (strcmp(val, KEYRING_KDF) != 0) {
				snprintf(err, errlen, "keyring line %d: unknown kdf \"%.40s\" "
					 "(this build knows " KEYRING_KDF ")", lineno, val);
				return -1;
			}
			break;
		case F_ITER: {
			char *end;
			errno = 0;
			unsigned long v = strtoul(val, &end, 10);
			if (errno || end == val || *end || val[0] < '0' || val[0] > '9' ||
			    v > UINT32_MAX) {
				snprintf(err, errlen, "keyring line %d: iterations \"%.20s\" is not a number",
					 lineno, val);
				return -1;
			}
			if (v < TR_KDF_ITERATIONS_MIN) {
				snprintf(err, errlen, "keyring line %d: %lu iterations, fewer than the "
					 "minimum %u", lineno, v, TR_KDF_ITERATIONS_MIN);
				return -1;
			}
			r.iterations = (uint32_t)v;
			break;
		}
		case F_SALT: want = 16; bad = tr_unhex(val, r.salt, 16); break;
		case F_ID: want = 8; bad = tr_unhex(val, r.key_id, 8); break;
		case F_NONCE: want = 12; bad = tr_unhex(val, r.wrap_nonce, 12); break;
		case F_WRAPPED: want = 32; bad = tr_unhex(val, r.wrapped, 32); break;
		case F_TAG: want = 16; bad = tr_unhex(val, r.wrap_tag, 16); break;
		}
		if (bad) {
			snprintf(err, errlen, "keyring line %d: %s is not %zu hex digits", lineno, name,
				 2 * want);
			return -1;
		}
	}
	if (!have_magic) {
		snprintf(err, errlen, "keyring: empty, missing the \"" KEYRING_MAGIC "\" line");
		return -1;
	}
	for (int f = 0; f < F_COUNT; f++) {
		if (!seen[f]) {
			snprintf(err, errlen, "keyring: missing the \"%s\" line", field_names[f]);
			return -1;
		}
	}
	*ring = r;
	if (errlen)
		err[0] = '\0';
	return 0;
}
