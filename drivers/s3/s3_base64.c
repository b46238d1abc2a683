/* s3_base64.c - base64 encoding and strict decoding (see s3_base64.h). */
#include "config.h"
#include "s3_base64.h"

#include <string.h>

static const char ALPHABET[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int s3_base64_encode(const void *in, size_t len, char *out, size_t outlen)
{
	const unsigned char *p = in;
	size_t need = (len + 2) / 3 * 4 + 1, o = 0;
	if (outlen < need)
		return -1;
	for (size_t i = 0; i < len; i += 3) {
		unsigned v = (unsigned)p[i] << 16;
		if (i + 1 < len)
			v |= (unsigned)p[i + 1] << 8;
		if (i + 2 < len)
			v |= p[i + 2];
		out[o++] = ALPHABET[(v >> 18) & 63];
		out[o++] = ALPHABET[(v >> 12) & 63];
		out[o++] = i + 1 < len ? ALPHABET[(v >> 6) & 63] : '=';
		out[o++] = i + 2 < len ? ALPHABET[v & 63] : '=';
	}
	out[o] = '\0';
	return 0;
}

static int sextet(char ch)
{
	const char *at = ch ? strchr(ALPHABET, ch) : NULL;
	return at ? (int)(at - ALPHABET) : -1;
}

long s3_base64_decode(const char *in, unsigned char *out, size_t outlen)
{
	size_t n = strlen(in), o = 0;
	if (n % 4 != 0)
		return -1;
	for (size_t i = 0; i < n; i += 4) {
		int pad = (in[i + 2] == '=') + (in[i + 3] == '=');
		int a = sextet(in[i]), b = sextet(in[i + 1]);
		int c = pad >= 2 ? 0 : sextet(in[i + 2]), d = pad >= 1 ? 0 : sextet(in[i + 3]);
		/* Padding only at the very end, and "x=y=" is not padding. */
		if (a < 0 || b < 0 || c < 0 || d < 0 || (pad && i + 4 != n) ||
		    (in[i + 2] == '=' && in[i + 3] != '='))
			return -1;
		/* Bits below the last byte must be zero: one encoding per value. */
		if ((pad == 1 && (c & 3)) || (pad == 2 && (b & 15)))
			return -1;
		unsigned v = (unsigned)a << 18 | (unsigned)b << 12 | (unsigned)c << 6 | (unsigned)d;
		size_t take = 3 - (size_t)pad;
		if (o + take > outlen)
			return -1;
		out[o++] = (unsigned char)(v >> 16);
		if (take > 1)
			out[o++] = (unsigned char)(v >> 8);
		if (take > 2)
			out[o++] = (unsigned char)v;
	}
	return (long)o;
}
