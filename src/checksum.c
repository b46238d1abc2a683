/* checksum.c - keyed checksums (HMAC-SHA256) and chunk names. */
#include "config.h"
#include "checksum.h"
#include "util.h"

#include <bearssl.h>
#include <stdlib.h>
#include <string.h>

struct tr_checksum {
	br_hmac_context hc;
};

tr_checksum *tr_checksum_new(const tr_keys *keys)
{
	br_hmac_key_context kc;
	tr_checksum *c = malloc(sizeof(*c));
	if (!c)
		return NULL;
	br_hmac_key_init(&kc, &br_sha256_vtable, keys->mac, sizeof(keys->mac));
	br_hmac_init(&c->hc, &kc, 0);
	explicit_bzero(&kc, sizeof(kc));
	return c;
}

void tr_checksum_update(tr_checksum *c, const void *data, size_t len)
{
	br_hmac_update(&c->hc, data, len);
}

void tr_checksum_final(tr_checksum *c, char out[68])
{
	uint8_t mac[32];
	br_hmac_out(&c->hc, mac);
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

void tr_chunk_id(const tr_keys *keys, const void *data, size_t len, char out[66])
{
	br_hmac_key_context kc;
	br_hmac_context hc;
	uint8_t mac[32];
	br_hmac_key_init(&kc, &br_sha256_vtable, keys->chunk, sizeof(keys->chunk));
	br_hmac_init(&hc, &kc, 0);
	br_hmac_update(&hc, data, len);
	br_hmac_out(&hc, mac);
	out[0] = 'c';
	tr_hex(mac, 32, out + 1);
	explicit_bzero(&kc, sizeof(kc));
	explicit_bzero(&hc, sizeof(hc));
}
