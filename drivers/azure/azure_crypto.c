/* azure_crypto.c - base64 (the encoder is the s3 driver's s3_base64.c;
 * the decoder here also takes keys without padding) and HMAC-SHA256 and
 * MD5 through BearSSL. */
#include "config.h"
#include "azure_crypto.h"
#include "s3_base64.h"

#include <bearssl.h>
#include <string.h>

static const char B64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

void az_base64_encode(const void *in, size_t len, char *out)
{
	s3_base64_encode(in, len, out, (len + 2) / 3 * 4 + 1);  /* out holds that much (azure_crypto.h) */
}

static int b64_value(char ch)
{
	const char *p = ch ? strchr(B64, ch) : NULL;
	return p ? (int)(p - B64) : -1;
}

long az_base64_decode(const char *in, size_t len, unsigned char *out, size_t outlen)
{
	while (len > 0 && in[len - 1] == '=')
		len--;
	if (len % 4 == 1)
		return -1;
	unsigned acc = 0;
	int bits = 0;
	size_t o = 0;
	for (size_t i = 0; i < len; i++) {
		int v = b64_value(in[i]);
		if (v < 0)
			return -1;
		acc = (acc << 6) | (unsigned)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (o >= outlen)
				return -1;
			out[o++] = (unsigned char)(acc >> bits);
			acc &= (1u << bits) - 1;
		}
	}
	return (long)o;
}

void az_hmac_sha256_b64(const unsigned char *key, size_t klen, const void *msg, size_t mlen,
			char out[45])
{
	br_hmac_key_context kc;
	br_hmac_context hc;
	unsigned char mac[32];
	br_hmac_key_init(&kc, &br_sha256_vtable, key, klen);
	br_hmac_init(&hc, &kc, 0);
	br_hmac_update(&hc, msg, mlen);
	br_hmac_out(&hc, mac);
	az_base64_encode(mac, sizeof mac, out);
	memset(&kc, 0, sizeof kc);
	memset(&hc, 0, sizeof hc);
}

void az_md5_b64(const void *data, size_t len, char out[25])
{
	br_md5_context m;
	unsigned char d[16];
	br_md5_init(&m);
	br_md5_update(&m, data, len);
	br_md5_out(&m, d);
	az_base64_encode(d, sizeof d, out);
}
