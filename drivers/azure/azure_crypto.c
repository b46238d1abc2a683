/* azure_crypto.c - base64 (written here: BearSSL has none for callers)
 * and HMAC-SHA256 and MD5 through BearSSL. */
#include "config.h"
#include "azure_crypto.h"

#include <bearssl.h>
#include <string.h>

static const char B64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

void az_base64_encode(const void *in, size_t len, char *out)
{
	const unsigned char *p = in;
	size_t o = 0;
	for (size_t i = 0; i < len; i += 3) {
		unsigned v = (unsigned)p[i] << 16;
		if (i + 1 < len)
			v |= (unsigned)p[i + 1] << 8;
		if (i + 2 < len)
			v |= p[i + 2];
		out[o++] = B64[(v >> 18) & 63];
		out[o++] = B64[(v >> 12) & 63];
		out[o++] = i + 1 < len ? B64[(v >> 6) & 63] : '=';
		out[o++] = i + 2 < len ? B64[v & 63] : '=';
	}
	out[o] = '\0';
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
