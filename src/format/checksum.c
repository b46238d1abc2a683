/* checksum.c - keyed checksums (HMAC-SHA256) and chunk names. */
#include "config.h"
#include "format/checksum.h"
#include "format/sha256ni.h"
#include "base/util.h"

#include <bearssl.h>
#include <stdlib.h>
#include <string.h>

/* HMAC-SHA256 on SHA-NI where the CPU has it (same results, several times
 * faster than BearSSL's portable SHA-256), else BearSSL's. */
struct tr_checksum {
	int ni;
	tr_hmac256ni nh;
	br_hmac_context hc;
};

static tr_checksum *hmac_new(const uint8_t key[32])
{
	br_hmac_key_context kc;
	tr_checksum *c = malloc(sizeof(*c));
	if (!c)
		return NULL;
	c->ni = tr_sha256ni_available();
	if (c->ni) {
		tr_hmac256ni_init(&c->nh, key, 32);
		return c;
	}
	br_hmac_key_init(&kc, &br_sha256_vtable, key, 32);
	br_hmac_init(&c->hc, &kc, 0);
	explicit_bzero(&kc, sizeof(kc));
	return c;
}

static void hmac_out(tr_checksum *c, uint8_t mac[32])
{
	if (c->ni)
		tr_hmac256ni_out(&c->nh, mac);
	else
		br_hmac_out(&c->hc, mac);
}

tr_checksum *tr_checksum_new(const tr_keys *keys)
{
	return hmac_new(keys->mac);
}

tr_checksum *tr_chunk_hasher_new(const tr_keys *keys)
{
	return hmac_new(keys->chunk);
}

void tr_chunk_hasher_final(tr_checksum *c, char out[66])
{
	uint8_t mac[32];
	hmac_out(c, mac);
	out[0] = 'c';
	tr_hex(mac, 32, out + 1);
	tr_checksum_free(c);
}

void tr_checksum_update(tr_checksum *c, const void *data, size_t len)
{
	if (c->ni)
		tr_hmac256ni_update(&c->nh, data, len);
	else
		br_hmac_update(&c->hc, data, len);
}

void tr_checksum_final(tr_checksum *c, char out[68])
{
	uint8_t mac[32];
	hmac_out(c, mac);
	memcpy(out, "h1:", 3);
	tr_hex(mac, 32, out + 3);
}

void tr_checksum_free(tr_checksum *c)
{
	if (!c)
		return;
	explicit_bzero(c, sizeof(*c));
	free(c);
}

/* One-shot chunk id; on the stack so the backup's hot path allocates nothing. */
void tr_chunk_id(const tr_keys *keys, const void *data, size_t len, char out[66])
{
	tr_checksum c;
	uint8_t mac[32];
	c.ni = tr_sha256ni_available();
	if (c.ni) {
		tr_hmac256ni_init(&c.nh, keys->chunk, sizeof(keys->chunk));
	} else {
		br_hmac_key_context kc;
		br_hmac_key_init(&kc, &br_sha256_vtable, keys->chunk, sizeof(keys->chunk));
		br_hmac_init(&c.hc, &kc, 0);
		explicit_bzero(&kc, sizeof(kc));
	}
	tr_checksum_update(&c, data, len);
	hmac_out(&c, mac);
	explicit_bzero(&c, sizeof(c));
	out[0] = 'c';
	tr_hex(mac, 32, out + 1);
}
