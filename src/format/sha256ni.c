/* sha256ni.c - SHA-256 and HMAC-SHA256 on the x86 SHA extensions (see sha256ni.h). */
#include "config.h"
#include "format/sha256ni.h"

#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__)
#include <cpuid.h>
#include <immintrin.h>
#define TR_HAVE_SHANI_BUILD 1
#endif

static const uint32_t K[64] = {
	0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
	0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
	0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
	0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
	0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
	0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
	0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
	0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

#ifdef TR_HAVE_SHANI_BUILD
int tr_sha256ni_available(void)
{
	static int cached = -1;
	if (cached < 0) {
		unsigned a, b, c, d, ok = 0;
		if (__get_cpuid(1, &a, &b, &c, &d) && (c & bit_SSSE3) && (c & bit_SSE4_1) &&
		    __get_cpuid_count(7, 0, &a, &b, &c, &d) && (b & bit_SHA))
			ok = 1;
		cached = (int)ok;
	}
	return cached;
}

/* The SHA-NI round loop (Intel's published construction), on whole blocks. */
__attribute__((target("sha,ssse3,sse4.1")))
static void blocks(uint32_t state[8], const uint8_t *data, size_t n)
{
	const __m128i MASK = _mm_set_epi64x(0x0c0d0e0f08090a0bULL, 0x0405060700010203ULL);
	__m128i tmp = _mm_loadu_si128((const __m128i *)&state[0]);
	__m128i s1 = _mm_loadu_si128((const __m128i *)&state[4]);
	tmp = _mm_shuffle_epi32(tmp, 0xB1);        /* CDAB */
	s1 = _mm_shuffle_epi32(s1, 0x1B);          /* EFGH */
	__m128i s0 = _mm_alignr_epi8(tmp, s1, 8);  /* ABEF */
	s1 = _mm_blend_epi16(s1, tmp, 0xF0);       /* CDGH */

	for (; n; n--, data += 64) {
		__m128i abef = s0, cdgh = s1, m[4];
#pragma GCC unroll 16
		for (int i = 0; i < 16; i++) {
			__m128i w;
			if (i < 4)
				w = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(data + 16 * i)), MASK);
			else
				w = _mm_sha256msg2_epu32(
					_mm_add_epi32(_mm_sha256msg1_epu32(m[(i - 4) & 3], m[(i - 3) & 3]),
						      _mm_alignr_epi8(m[(i - 1) & 3], m[(i - 2) & 3], 4)),
					m[(i - 1) & 3]);
			m[i & 3] = w;
			__m128i msg = _mm_add_epi32(w, _mm_loadu_si128((const __m128i *)&K[4 * i]));
			s1 = _mm_sha256rnds2_epu32(s1, s0, msg);
			msg = _mm_shuffle_epi32(msg, 0x0E);
			s0 = _mm_sha256rnds2_epu32(s0, s1, msg);
		}
		s0 = _mm_add_epi32(s0, abef);
		s1 = _mm_add_epi32(s1, cdgh);
	}

	tmp = _mm_shuffle_epi32(s0, 0x1B);         /* FEBA */
	s1 = _mm_shuffle_epi32(s1, 0xB1);          /* DCHG */
	s0 = _mm_blend_epi16(tmp, s1, 0xF0);       /* DCBA */
	s1 = _mm_alignr_epi8(s1, tmp, 8);          /* ABEF */
	_mm_storeu_si128((__m128i *)&state[0], s0);
	_mm_storeu_si128((__m128i *)&state[4], s1);
}
#else
int tr_sha256ni_available(void) { return 0; }
static void blocks(uint32_t state[8], const uint8_t *data, size_t n)
{
	(void)state; (void)data; (void)n;  /* never called: not available */
}
#endif

void tr_sha256ni_block(uint32_t state[8], const uint8_t block[64])
{
	blocks(state, block, 1);
}

void tr_sha256ni_init(tr_sha256ni *c)
{
	static const uint32_t iv[8] = { 0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
					0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19 };
	memcpy(c->h, iv, sizeof iv);
	c->buflen = 0;
	c->total = 0;
}

void tr_sha256ni_update(tr_sha256ni *c, const void *data, size_t len)
{
	const uint8_t *p = data;
	c->total += len;
	if (c->buflen) {
		size_t n = 64 - c->buflen < len ? 64 - c->buflen : len;
		memcpy(c->buf + c->buflen, p, n);
		c->buflen += n;
		p += n;
		len -= n;
		if (c->buflen < 64)
			return;
		blocks(c->h, c->buf, 1);
		c->buflen = 0;
	}
	if (len >= 64) {
		blocks(c->h, p, len / 64);
		p += len & ~(size_t)63;
		len &= 63;
	}
	memcpy(c->buf, p, len);
	c->buflen = len;
}

void tr_sha256ni_out(const tr_sha256ni *c, uint8_t out[32])
{
	tr_sha256ni t = *c;
	uint8_t pad[72] = { 0x80 };
	uint64_t bits = t.total * 8;
	size_t padlen = (t.buflen < 56 ? 56 : 120) - t.buflen;
	for (int i = 0; i < 8; i++)
		pad[padlen + i] = (uint8_t)(bits >> (56 - 8 * i));
	tr_sha256ni_update(&t, pad, padlen + 8);
	for (int i = 0; i < 8; i++) {
		out[4 * i] = (uint8_t)(t.h[i] >> 24);
		out[4 * i + 1] = (uint8_t)(t.h[i] >> 16);
		out[4 * i + 2] = (uint8_t)(t.h[i] >> 8);
		out[4 * i + 3] = (uint8_t)t.h[i];
	}
	explicit_bzero(&t, sizeof t);
}

void tr_hmac256ni_init(tr_hmac256ni *h, const void *key, size_t keylen)
{
	uint8_t k[64] = { 0 }, pad[64];
	if (keylen > 64) {
		tr_sha256ni t;
		tr_sha256ni_init(&t);
		tr_sha256ni_update(&t, key, keylen);
		tr_sha256ni_out(&t, k);
		explicit_bzero(&t, sizeof t);
	} else {
		memcpy(k, key, keylen);
	}
	for (int i = 0; i < 64; i++)
		pad[i] = k[i] ^ 0x36;
	tr_sha256ni_init(&h->inner);
	tr_sha256ni_update(&h->inner, pad, 64);
	for (int i = 0; i < 64; i++)
		pad[i] = k[i] ^ 0x5c;
	tr_sha256ni_init(&h->outer);
	tr_sha256ni_update(&h->outer, pad, 64);
	explicit_bzero(k, sizeof k);
	explicit_bzero(pad, sizeof pad);
}

void tr_hmac256ni_update(tr_hmac256ni *h, const void *data, size_t len)
{
	tr_sha256ni_update(&h->inner, data, len);
}

void tr_hmac256ni_out(const tr_hmac256ni *h, uint8_t out[32])
{
	uint8_t ih[32];
	tr_sha256ni o = h->outer;
	tr_sha256ni_out(&h->inner, ih);
	tr_sha256ni_update(&o, ih, 32);
	tr_sha256ni_out(&o, out);
	explicit_bzero(ih, sizeof ih);
	explicit_bzero(&o, sizeof o);
}
