/* test_format.c - the object format: round trips, tampering, key/name
 * binding, streaming in arbitrary pieces, and the AEAD primitives. */
#include "config.h"
#include <check.h>
#include <signal.h>
#include <bearssl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/assert.h"
#include "format/checksum.h"
#include "format/cipher.h"
#include "format/format.h"
#include "format/keyring.h"
#include "format/sha256ni.h"

#define FS 4096u
#define MIB (1024u * 1024u)
#define ARRLEN(a) (sizeof(a) / sizeof((a)[0]))

static tr_keys K, K2;

static void setup_keys(void)
{
	for (int i = 0; i < 32; i++) {
		K.data[i] = (uint8_t)i;
		K2.data[i] = (uint8_t)(0xa5 ^ i);
	}
	tr_keys_derive(&K);
	tr_keys_derive(&K2);
}

/* ------------------------------------------------------------ generators */

enum { DATA_RANDOM = 0, DATA_TEXT = 1 };

static uint64_t splitmix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

static const char TEXT[] = "2024-05-01 12:00:00 UTC LOG:  checkpoint complete: wrote 42 buffers\n";

static uint8_t gen_byte(int kind, uint64_t i)
{
	if (kind == DATA_RANDOM)
		return (uint8_t)(splitmix(i >> 3) >> (8 * (i & 7)));
	uint64_t line = i / (sizeof(TEXT) - 1);
	size_t col = (size_t)(i % (sizeof(TEXT) - 1));
	if (col == 18)
		return (uint8_t)('0' + line % 10);
	return (uint8_t)TEXT[col];
}

static void gen_fill(int kind, uint64_t off, uint8_t *buf, size_t len)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = gen_byte(kind, off + i);
}

/* Odd piece sizes, cycled. */
static const size_t PIECES[] = { 1, 7, 4093, 2, 65537, 13, 4097, 999, 3, 131071 };

struct src {
	int kind;
	uint64_t size, pos;
	unsigned turn;
	int fail_at;  /* fail when pos reaches this (if > 0) */
};

static ssize_t src_read(void *ctx, void *buf, size_t len)
{
	struct src *s = ctx;
	if (s->fail_at > 0 && s->pos >= (uint64_t)s->fail_at)
		return -1;
	size_t n = PIECES[s->turn++ % ARRLEN(PIECES)];
	if (n > len)
		n = len;
	if (n > s->size - s->pos)
		n = (size_t)(s->size - s->pos);
	gen_fill(s->kind, s->pos, buf, n);
	s->pos += n;
	return (ssize_t)n;
}

struct sink {
	int kind;
	uint64_t pos;
	int mismatch;
	int refuse;
};

static int sink_write(void *ctx, const void *buf, size_t len)
{
	struct sink *s = ctx;
	const uint8_t *p = buf;
	if (s->refuse)
		return -1;
	for (size_t i = 0; i < len; i++)
		if (p[i] != gen_byte(s->kind, s->pos + i))
			s->mismatch = 1;
	s->pos += len;
	return 0;
}

/* ------------------------------------------------------------ round trips */

static void roundtrip(int cipher, int compress, uint32_t frame, uint64_t size, int kind,
		      int onebyte)
{
	tr_enc_opts o = { cipher, compress, 0, frame, 0, NULL };
	struct src s = { kind, size, 0, 0, 0 };
	struct sink k = { kind, 0, 0, 0 };
	tr_enc *e = tr_enc_new(&K, "base/1/16384", &o, src_read, &s);
	ck_assert_ptr_nonnull(e);
	tr_dec *d = tr_dec_new(&K, "base/1/16384", sink_write, &k);
	ck_assert_ptr_nonnull(d);
	uint8_t buf[70000];
	unsigned turn = 3;
	for (;;) {
		size_t want = PIECES[turn++ % ARRLEN(PIECES)];
		if (want > sizeof(buf))
			want = sizeof(buf);
		ssize_t n = tr_enc_read(e, buf, want);
		ck_assert_int_ge(n, 0);
		ck_assert_uint_le((size_t)n, want);
		if (n == 0)
			break;
		size_t off = 0;
		while (off < (size_t)n) {
			size_t w = onebyte ? 1 : PIECES[turn++ % ARRLEN(PIECES)];
			if (w > (size_t)n - off)
				w = (size_t)n - off;
			ck_assert_int_eq(tr_dec_write(d, buf + off, w), 0);
			off += w;
		}
	}
	/* Reading past the end keeps returning 0. */
	ck_assert_int_eq(tr_enc_read(e, buf, 10), 0);
	ck_assert_int_eq(tr_dec_finish(d), TR_FMT_OK);
	ck_assert_str_eq(tr_dec_error(d), "");
	ck_assert_int_eq(k.mismatch, 0);
	ck_assert_uint_eq(k.pos, size);
	ck_assert_uint_eq(tr_enc_bytes_in(e), size);
	ck_assert_uint_eq(tr_dec_bytes_out(d), size);
	ck_assert_uint_eq(tr_dec_bytes_in(d), tr_enc_bytes_out(e));
	if (compress == TR_COMPRESS_NONE) {
		/* Exact layout: header, then ceil(size/frame) frames (one if empty). */
		uint64_t frames = size == 0 ? 1 : (size + frame - 1) / frame;
		ck_assert_uint_eq(tr_enc_bytes_out(e), TR_FMT_HEADER_LEN + frames * 20 + size);
	} else if (kind == DATA_TEXT && size >= MIB) {
		ck_assert_uint_lt(tr_enc_bytes_out(e), size / 10);
	}
	tr_enc_free(e);
	tr_dec_free(d);
}

static const uint64_t SIZES[] = { 0, 1, FS - 1, FS, FS + 1, 3 * FS, 3 * FS + 17 };
#define NSIZES (int)(sizeof(SIZES) / sizeof(SIZES[0]))

/* _i enumerates cipher x compress x kind x size. */
START_TEST(test_roundtrip_small)
{
	int i = _i;
	uint64_t size = SIZES[i % NSIZES];
	i /= NSIZES;
	int kind = i % 2;
	i /= 2;
	int compress = i % 2;
	i /= 2;
	int cipher = i % 2 ? TR_CIPHER_CHACHA20POLY1305 : TR_CIPHER_AES256GCM;
	roundtrip(cipher, compress, FS, size, kind, 0);
	roundtrip(cipher, compress, FS, size, kind, 1);
}
END_TEST

START_TEST(test_roundtrip_64mib)
{
	int cipher = _i % 2 ? TR_CIPHER_CHACHA20POLY1305 : TR_CIPHER_AES256GCM;
	int variant = _i / 2;
	if (variant == 0)       /* incompressible, no compression, small frames */
		roundtrip(cipher, TR_COMPRESS_NONE, FS, 64ull * MIB, DATA_RANDOM, 0);
	else if (variant == 1)  /* compressible text through zstd */
		roundtrip(cipher, TR_COMPRESS_ZSTD, 0, 64ull * MIB, DATA_TEXT, 0);
	else                    /* incompressible data through zstd */
		roundtrip(cipher, TR_COMPRESS_ZSTD, 65536, 64ull * MIB, DATA_RANDOM, 0);
}
END_TEST

START_TEST(test_roundtrip_defaults)
{
	struct src s = { DATA_TEXT, 1000000, 0, 0, 0 };
	struct sink k = { DATA_TEXT, 0, 0, 0 };
	tr_enc *e = tr_enc_new(&K, "x", NULL, src_read, &s);
	ck_assert_ptr_nonnull(e);
	tr_dec *d = tr_dec_new(&K, "x", sink_write, &k);
	uint8_t buf[1];
	ssize_t n;
	int first = 1;
	while ((n = tr_enc_read(e, buf, 1)) > 0) {
		if (first) {
			ck_assert_int_eq(buf[0], 'T');
			first = 0;
		}
		ck_assert_int_eq(tr_dec_write(d, buf, 1), 0);
	}
	ck_assert_int_eq(n, 0);
	ck_assert_int_eq(tr_dec_finish(d), TR_FMT_OK);
	ck_assert_uint_eq(k.pos, 1000000);
	ck_assert_int_eq(k.mismatch, 0);
	tr_enc_free(e);
	tr_dec_free(d);
}
END_TEST

/* ------------------------------------------------------ in-memory objects */

static uint8_t *encode(const tr_keys *keys, const char *name, int cipher, int compress,
		       uint32_t frame, int kind, uint64_t size, size_t *outlen)
{
	tr_enc_opts o = { cipher, compress, 0, frame, 0, NULL };
	struct src s = { kind, size, 0, 0, 0 };
	tr_enc *e = tr_enc_new(keys, name, &o, src_read, &s);
	ck_assert_ptr_nonnull(e);
	size_t cap = 1024, len = 0;
	uint8_t *out = malloc(cap);
	for (;;) {
		if (cap - len < 5000) {
			while (cap - len < 5000)
				cap *= 2;
			out = realloc(out, cap);
			ck_assert_ptr_nonnull(out);
		}
		ssize_t n = tr_enc_read(e, out + len, 4999);
		ck_assert_int_ge(n, 0);
		if (n == 0)
			break;
		len += (size_t)n;
	}
	tr_enc_free(e);
	*outlen = len;
	return out;
}

struct result {
	int status;
	uint64_t sunk;
	int mismatch;
	char err[1300];
};

/* Decodes obj in pieces of piece bytes (0: one write). */
static struct result decode(const tr_keys *keys, const char *name, int kind, const uint8_t *obj,
			    size_t len, size_t piece)
{
	struct result r;
	struct sink k = { kind, 0, 0, 0 };
	tr_dec *d = tr_dec_new(keys, name, sink_write, &k);
	ck_assert_ptr_nonnull(d);
	int failed = 0;
	if (piece == 0) {
		failed = tr_dec_write(d, obj, len) != 0;
	} else {
		for (size_t off = 0; off < len && !failed; off += piece)
			failed = tr_dec_write(d, obj + off, off + piece <= len ? piece : len - off) != 0;
	}
	r.status = tr_dec_finish(d);
	ck_assert_int_eq(failed, r.status != TR_FMT_OK && tr_dec_status(d) != TR_FMT_ETRUNC);
	ck_assert_int_eq(tr_dec_status(d), r.status);
	snprintf(r.err, sizeof(r.err), "%s", tr_dec_error(d));
	if (r.status != TR_FMT_OK)
		ck_assert_uint_gt(strlen(r.err), 10);
	ck_assert_ptr_null(strchr(r.err, '\n'));
	r.sunk = k.pos;
	r.mismatch = k.mismatch;
	tr_dec_free(d);
	return r;
}

#define FRAME_OFF(k) (TR_FMT_HEADER_LEN + (size_t)(k) * (4 + FS + TR_FMT_TAG_LEN))

static int cipher_of(int i)
{
	return i ? TR_CIPHER_CHACHA20POLY1305 : TR_CIPHER_AES256GCM;
}

START_TEST(test_truncation)
{
	size_t len;
	uint8_t *obj = encode(&K, "n", cipher_of(_i), TR_COMPRESS_NONE, FS, DATA_RANDOM,
			      3 * FS + 100, &len);
	ck_assert_uint_eq(len, FRAME_OFF(3) + 4 + 100 + 16);
	struct result r = decode(&K, "n", DATA_RANDOM, obj, len, 0);
	ck_assert_int_eq(r.status, TR_FMT_OK);

	/* In the middle of frame 1: frame 0 was delivered, no more. */
	r = decode(&K, "n", DATA_RANDOM, obj, FRAME_OFF(1) + 100, 0);
	ck_assert_int_eq(r.status, TR_FMT_ETRUNC);
	ck_assert_str_eq(r.err, "truncated: ends before its final frame");
	ck_assert_uint_eq(r.sunk, FS);
	/* Exactly at frame boundaries: every frame there is complete and valid
	 * but none is final. */
	for (int f = 0; f <= 3; f++) {
		r = decode(&K, "n", DATA_RANDOM, obj, FRAME_OFF(f), 1);
		ck_assert_int_eq(r.status, TR_FMT_ETRUNC);
		ck_assert_uint_eq(r.sunk, (uint64_t)f * FS);
	}
	/* Inside the length field, inside the tag, inside the header, empty. */
	ck_assert_int_eq(decode(&K, "n", DATA_RANDOM, obj, FRAME_OFF(2) + 2, 0).status, TR_FMT_ETRUNC);
	ck_assert_int_eq(decode(&K, "n", DATA_RANDOM, obj, len - 1, 0).status, TR_FMT_ETRUNC);
	ck_assert_int_eq(decode(&K, "n", DATA_RANDOM, obj, 20, 0).status, TR_FMT_ETRUNC);
	ck_assert_int_eq(decode(&K, "n", DATA_RANDOM, obj, 0, 0).status, TR_FMT_ETRUNC);
	free(obj);
}
END_TEST

START_TEST(test_trailing)
{
	/* Final frame short, and final frame exactly frame_size. */
	uint64_t sizes[] = { 2 * FS + 5, 2 * FS, 0 };
	for (int s = 0; s < 3; s++) {
		size_t len;
		uint8_t *obj = encode(&K, "n", cipher_of(_i), TR_COMPRESS_NONE, FS, DATA_RANDOM,
				      sizes[s], &len);
		obj = realloc(obj, len + 3);
		memcpy(obj + len, "abc", 3);
		for (size_t extra = 1; extra <= 3; extra++) {
			struct result r = decode(&K, "n", DATA_RANDOM, obj, len + extra, 0);
			ck_assert_int_eq(r.status, TR_FMT_ETRAIL);
			ck_assert_uint_eq(r.sunk, sizes[s]);
			struct result r1 = decode(&K, "n", DATA_RANDOM, obj, len + extra, 1);
			ck_assert_int_eq(r1.status, TR_FMT_ETRAIL);
			/* The message does not depend on how the bytes arrived. */
			ck_assert_str_eq(r1.err, r.err);
		}
		/* A second complete object appended is trailing data too. */
		obj = realloc(obj, 2 * len);
		memcpy(obj + len, obj, len);
		ck_assert_int_eq(decode(&K, "n", DATA_RANDOM, obj, 2 * len, 0).status, TR_FMT_ETRAIL);
		free(obj);
	}
}
END_TEST

START_TEST(test_reorder)
{
	size_t len;
	const size_t fl = 4 + FS + 16;
	uint8_t *obj = encode(&K, "n", cipher_of(_i), TR_COMPRESS_NONE, FS, DATA_RANDOM,
			      3 * FS + 100, &len);
	uint8_t *t = malloc(len + fl);

	/* Frames 0 and 1 swapped: nothing reaches the sink. */
	memcpy(t, obj, len);
	memcpy(t + FRAME_OFF(0), obj + FRAME_OFF(1), fl);
	memcpy(t + FRAME_OFF(1), obj + FRAME_OFF(0), fl);
	struct result r = decode(&K, "n", DATA_RANDOM, t, len, 0);
	ck_assert_int_eq(r.status, TR_FMT_EAUTH);
	ck_assert_uint_eq(r.sunk, 0);
	ck_assert_ptr_nonnull(strstr(r.err, "authentication failed at frame 0"));

	/* Frame 1 duplicated: frames 0 and 1 are fine, the copy fails as frame 2. */
	memcpy(t, obj, FRAME_OFF(2));
	memcpy(t + FRAME_OFF(2), obj + FRAME_OFF(1), fl);
	memcpy(t + FRAME_OFF(3), obj + FRAME_OFF(2), len - FRAME_OFF(2));
	r = decode(&K, "n", DATA_RANDOM, t, len + fl, 0);
	ck_assert_int_eq(r.status, TR_FMT_EAUTH);
	ck_assert_uint_eq(r.sunk, 2 * FS);
	ck_assert_ptr_nonnull(strstr(r.err, "at frame 2:"));

	/* Frame 1 dropped. */
	memcpy(t, obj, FRAME_OFF(1));
	memcpy(t + FRAME_OFF(1), obj + FRAME_OFF(2), len - FRAME_OFF(2));
	r = decode(&K, "n", DATA_RANDOM, t, len - fl, 0);
	ck_assert_int_eq(r.status, TR_FMT_EAUTH);
	ck_assert_uint_eq(r.sunk, FS);

	/* The final frame dropped: the last full frame is not final. */
	r = decode(&K, "n", DATA_RANDOM, obj, FRAME_OFF(3), 0);
	ck_assert_int_eq(r.status, TR_FMT_ETRUNC);

	/* The final frame of another object (same key, same name) spliced in. */
	size_t len2;
	uint8_t *other = encode(&K, "n", cipher_of(_i), TR_COMPRESS_NONE, FS, DATA_RANDOM,
				3 * FS + 100, &len2);
	memcpy(t, obj, FRAME_OFF(3));
	memcpy(t + FRAME_OFF(3), other + FRAME_OFF(3), len2 - FRAME_OFF(3));
	r = decode(&K, "n", DATA_RANDOM, t, len, 0);
	ck_assert_int_eq(r.status, TR_FMT_EAUTH);
	ck_assert_uint_eq(r.sunk, 3 * FS);
	free(other);
	free(t);
	free(obj);
}
END_TEST

/* Expected status after flipping bit b of byte pos in an object made of
 * frames of frame bytes (compression off), plaintext size total. */
static int flip_expect(const uint8_t *obj, size_t len, size_t pos, int bit, uint32_t frame,
		       uint64_t *sunk)
{
	uint8_t v = (uint8_t)(obj[pos] ^ (1u << bit));
	*sunk = 0;
	if (pos < 5 || pos == 7)
		return TR_FMT_EFORMAT;
	if (pos == 5)
		return v == 1 || v == 2 ? TR_FMT_EAUTH : TR_FMT_EFORMAT;
	if (pos == 6)
		return v <= 1 ? TR_FMT_EAUTH : TR_FMT_EFORMAT;
	if (pos < 12) {
		uint8_t h[4];
		memcpy(h, obj + 8, 4);
		h[pos - 8] = v;
		uint32_t fs = (uint32_t)h[0] << 24 | (uint32_t)h[1] << 16 | (uint32_t)h[2] << 8 | h[3];
		return fs == 0 || fs > TR_FMT_FRAME_MAX ? TR_FMT_EFORMAT : TR_FMT_EAUTH;
	}
	if (pos < 20)
		return TR_FMT_EKEY;
	if (pos < TR_FMT_HEADER_LEN)
		return TR_FMT_EAUTH;
	/* Frames. */
	size_t off = TR_FMT_HEADER_LEN;
	uint64_t k = 0;
	for (;;) {
		uint32_t l = (uint32_t)obj[off] << 24 | (uint32_t)obj[off + 1] << 16 |
			     (uint32_t)obj[off + 2] << 8 | obj[off + 3];
		size_t end = off + 4 + l + 16;
		if (pos < end) {
			*sunk = k * frame;
			if (pos >= off + 4)
				return TR_FMT_EAUTH;  /* ciphertext or tag */
			uint8_t lb[4];
			memcpy(lb, obj + off, 4);
			lb[pos - off] = v;
			uint32_t nl = (uint32_t)lb[0] << 24 | (uint32_t)lb[1] << 16 |
				      (uint32_t)lb[2] << 8 | lb[3];
			if (nl > frame || nl < l)
				return TR_FMT_EAUTH;
			/* Longer but allowed: waits for bytes that never come. */
			return nl + 16 > len - off - 4 ? TR_FMT_ETRUNC : TR_FMT_EAUTH;
		}
		off = end;
		k++;
	}
}

static void flip_all(int cipher, uint32_t frame, uint64_t size, size_t step, size_t piece)
{
	size_t len;
	uint8_t *obj = encode(&K, "n", cipher, TR_COMPRESS_NONE, frame, DATA_RANDOM, size, &len);
	int seen[9] = { 0 };
	for (size_t pos = 0; pos < len; pos += (pos < 64 ? 1 : step)) {
		for (int bit = 0; bit < 8; bit += (pos < 64 ? 1 : 3)) {
			uint64_t sunk;
			int want = flip_expect(obj, len, pos, bit, frame, &sunk);
			obj[pos] ^= (uint8_t)(1u << bit);
			struct result r = decode(&K, "n", DATA_RANDOM, obj, len, piece);
			obj[pos] ^= (uint8_t)(1u << bit);
			if (r.status != want || r.sunk != sunk)
				ck_abort_msg("flip byte %zu bit %d: status %d (want %d), %llu bytes "
					     "sunk (want %llu): %s", pos, bit, r.status, want,
					     (unsigned long long)r.sunk, (unsigned long long)sunk, r.err);
			ck_assert_int_eq(r.mismatch, 0);
			seen[-r.status]++;
		}
	}
	/* Every kind of damage was met. */
	ck_assert_int_gt(seen[-TR_FMT_EFORMAT], 0);
	ck_assert_int_gt(seen[-TR_FMT_EKEY], 0);
	ck_assert_int_gt(seen[-TR_FMT_EAUTH], 0);
	ck_assert_int_eq(seen[0], 0);
	free(obj);
}

START_TEST(test_bitflip_small_frames)
{
	/* 64-byte frames, every bit of the object, fed whole and one byte at a time. */
	flip_all(cipher_of(_i), 64, 200, 1, 0);
	flip_all(cipher_of(_i), 64, 200, 7, 1);
	flip_all(cipher_of(_i), 64, 128, 1, 5);  /* final frame is full size */
}
END_TEST

START_TEST(test_bitflip_4k_frames)
{
	flip_all(cipher_of(_i), FS, 3 * FS + 100, 37, 0);
}
END_TEST

START_TEST(test_bitflip_compressed)
{
	/* Compressed: any flip after the header fails authentication of frame 0
	 * (or truncation when a length grows) and nothing reaches the sink. */
	size_t len;
	uint8_t *obj = encode(&K, "n", cipher_of(_i), TR_COMPRESS_ZSTD, FS, DATA_TEXT, 50000, &len);
	ck_assert_int_eq(decode(&K, "n", DATA_TEXT, obj, len, 0).status, TR_FMT_OK);
	for (size_t pos = 20; pos < len; pos += 3) {
		obj[pos] ^= 0x10;
		struct result r = decode(&K, "n", DATA_TEXT, obj, len, 0);
		obj[pos] ^= 0x10;
		ck_assert(r.status == TR_FMT_EAUTH || r.status == TR_FMT_ETRUNC);
		ck_assert_uint_eq(r.sunk, 0);
	}
	free(obj);
}
END_TEST

START_TEST(test_wrong_name)
{
	const char *a = "wal/000000010000000000000001", *b = "wal/000000010000000000000002";
	size_t la, lb;
	uint8_t *oa = encode(&K, a, cipher_of(_i), TR_COMPRESS_ZSTD, 0, DATA_TEXT, 100000, &la);
	uint8_t *ob = encode(&K, b, cipher_of(_i), TR_COMPRESS_ZSTD, 0, DATA_TEXT, 100000, &lb);
	ck_assert_int_eq(decode(&K, a, DATA_TEXT, oa, la, 0).status, TR_FMT_OK);
	ck_assert_int_eq(decode(&K, b, DATA_TEXT, ob, lb, 0).status, TR_FMT_OK);
	/* The two segments swapped in storage. */
	struct result r = decode(&K, a, DATA_TEXT, ob, lb, 0);
	ck_assert_int_eq(r.status, TR_FMT_EAUTH);
	ck_assert_uint_eq(r.sunk, 0);
	ck_assert_str_eq(r.err, "authentication failed at frame 0: the object was altered, "
		"truncated or is not the object named wal/000000010000000000000001");
	r = decode(&K, b, DATA_TEXT, oa, la, 7);
	ck_assert_int_eq(r.status, TR_FMT_EAUTH);
	ck_assert_uint_eq(r.sunk, 0);
	free(oa);
	free(ob);
}
END_TEST

START_TEST(test_wrong_key)
{
	size_t len;
	uint8_t *obj = encode(&K, "n", cipher_of(_i), TR_COMPRESS_ZSTD, 0, DATA_TEXT, 1000, &len);
	struct result r = decode(&K2, "n", DATA_TEXT, obj, len, 0);
	ck_assert_int_eq(r.status, TR_FMT_EKEY);
	ck_assert_uint_eq(r.sunk, 0);
	char want[200], a[17], b[17];
	for (int i = 0; i < 8; i++) {
		sprintf(a + 2 * i, "%02x", K.id[i]);
		sprintf(b + 2 * i, "%02x", K2.id[i]);
	}
	snprintf(want, sizeof(want), "encrypted with another key (key id %s, expected %s): "
		 "encryption key does not match this repository", a, b);
	ck_assert_str_eq(r.err, want);
	/* Same key id but another encryption key (a forged header) fails auth. */
	tr_keys k3 = K;
	k3.enc[0] ^= 1;
	ck_assert_int_eq(decode(&k3, "n", DATA_TEXT, obj, len, 0).status, TR_FMT_EAUTH);
	free(obj);
}
END_TEST

START_TEST(test_bad_header)
{
	size_t len;
	uint8_t *obj = encode(&K, "n", cipher_of(_i), TR_COMPRESS_NONE, FS, DATA_RANDOM, 10, &len);
	struct result r;
	obj[4] = 2; /* version */
	r = decode(&K, "n", DATA_RANDOM, obj, len, 0);
	ck_assert_int_eq(r.status, TR_FMT_EFORMAT);
	ck_assert_ptr_nonnull(strstr(r.err, "version 2"));
	obj[4] = 1;
	obj[5] = 9; /* cipher */
	ck_assert_int_eq(decode(&K, "n", DATA_RANDOM, obj, len, 0).status, TR_FMT_EFORMAT);
	obj[5] = (uint8_t)cipher_of(_i);
	obj[6] = 7; /* compression */
	ck_assert_int_eq(decode(&K, "n", DATA_RANDOM, obj, len, 1).status, TR_FMT_EFORMAT);
	obj[6] = 0;
	obj[7] = 1; /* flags */
	ck_assert_int_eq(decode(&K, "n", DATA_RANDOM, obj, len, 0).status, TR_FMT_EFORMAT);
	obj[7] = 0;
	ck_assert_int_eq(decode(&K, "n", DATA_RANDOM, obj, len, 0).status, TR_FMT_OK);
	obj[0] = 'X'; /* magic: rejected at the first byte */
	r = decode(&K, "n", DATA_RANDOM, obj, 1, 0);
	ck_assert_int_eq(r.status, TR_FMT_EFORMAT);
	ck_assert_ptr_nonnull(strstr(r.err, "not a TotalRecall object"));
	/* Plain text, a zstd stream, a gzip header: not objects. */
	ck_assert_int_eq(decode(&K, "n", 0, (const uint8_t *)"hello world, this is not it", 27, 0).status,
			 TR_FMT_EFORMAT);
	ck_assert_int_eq(decode(&K, "n", 0, (const uint8_t *)"\x28\xb5\x2f\xfd", 4, 0).status,
			 TR_FMT_EFORMAT);
	ck_assert_int_eq(decode(&K, "n", 0, (const uint8_t *)"TRC", 3, 0).status, TR_FMT_ETRUNC);
	free(obj);
}
END_TEST

/* Builds objects by hand from the spec in format.h, with valid tags, to
 * check that the encoder follows it and that the decoder enforces the
 * frame rules even against a key holder's odd objects. */
static tr_aead *spec_aead(const uint8_t *hdr, const char *name)
{
	br_hmac_key_context kc;
	br_hmac_context hc;
	uint8_t key[32];
	br_hmac_key_init(&kc, &br_sha256_vtable, K.enc, 32);
	br_hmac_init(&hc, &kc, 0);
	br_hmac_update(&hc, "object", 6);
	br_hmac_update(&hc, hdr, TR_FMT_HEADER_LEN);
	br_hmac_update(&hc, name, strlen(name));
	br_hmac_out(&hc, key);
	return tr_aead_new(hdr[5], key);
}

static size_t spec_frame(tr_aead *a, uint8_t *out, int final, uint64_t i, const uint8_t *pt,
			 uint32_t len)
{
	uint8_t nonce[12] = { 0, 0, 0, (uint8_t)final };
	for (int b = 0; b < 8; b++)
		nonce[4 + b] = (uint8_t)(i >> (56 - 8 * b));
	out[0] = (uint8_t)(len >> 24);
	out[1] = (uint8_t)(len >> 16);
	out[2] = (uint8_t)(len >> 8);
	out[3] = (uint8_t)len;
	memcpy(out + 4, pt, len);
	tr_aead_seal(a, nonce, NULL, 0, out + 4, len, out + 4 + len);
	return 4 + len + 16;
}

START_TEST(test_spec_conformance)
{
	size_t len;
	uint8_t *obj = encode(&K, "spec", cipher_of(_i), TR_COMPRESS_NONE, FS, DATA_RANDOM,
			      FS + 10, &len);
	ck_assert_mem_eq(obj, "TRC1", 4);
	ck_assert_int_eq(obj[4], 1);
	ck_assert_int_eq(obj[5], cipher_of(_i));
	ck_assert_int_eq(obj[6], 0);
	ck_assert_int_eq(obj[7], 0);
	ck_assert_int_eq(obj[8] << 24 | obj[9] << 16 | obj[10] << 8 | obj[11], FS);
	ck_assert_mem_eq(obj + 12, K.id, 8);
	/* Rebuild the object from the plaintext with the documented key and
	 * nonces: byte for byte identical. */
	uint8_t *pt = malloc(FS + 10), *re = malloc(len);
	gen_fill(DATA_RANDOM, 0, pt, FS + 10);
	tr_aead *a = spec_aead(obj, "spec");
	memcpy(re, obj, TR_FMT_HEADER_LEN);
	size_t n = TR_FMT_HEADER_LEN;
	n += spec_frame(a, re + n, 0, 0, pt, FS);
	n += spec_frame(a, re + n, 1, 1, pt + FS, 10);
	ck_assert_uint_eq(n, len);
	ck_assert_mem_eq(re, obj, len);

	/* A short non-final frame, validly sealed, is refused... */
	n = TR_FMT_HEADER_LEN;
	n += spec_frame(a, re + n, 0, 0, pt, 100);
	n += spec_frame(a, re + n, 1, 1, pt + 100, 10);
	struct result r = decode(&K, "spec", DATA_RANDOM, re, n, 0);
	ck_assert_int_eq(r.status, TR_FMT_EAUTH);
	ck_assert_uint_eq(r.sunk, 0);
	/* ...and so is a zero-length non-final frame. */
	n = TR_FMT_HEADER_LEN;
	n += spec_frame(a, re + n, 0, 0, pt, 0);
	n += spec_frame(a, re + n, 1, 1, pt, 10);
	ck_assert_int_eq(decode(&K, "spec", DATA_RANDOM, re, n, 0).status, TR_FMT_EAUTH);
	/* A frame longer than the frame size is refused at its length. */
	re[TR_FMT_HEADER_LEN + 2] = 0x10;
	re[TR_FMT_HEADER_LEN + 3] = 0x01;
	r = decode(&K, "spec", DATA_RANDOM, re, TR_FMT_HEADER_LEN + 4, 0);
	ck_assert_int_eq(r.status, TR_FMT_EAUTH);
	ck_assert_ptr_nonnull(strstr(r.err, "more than the frame size"));
	/* An empty final frame after a full one is a valid object. */
	n = TR_FMT_HEADER_LEN;
	n += spec_frame(a, re + n, 0, 0, pt, FS);
	n += spec_frame(a, re + n, 1, 1, pt, 0);
	r = decode(&K, "spec", DATA_RANDOM, re, n, 0);
	ck_assert_int_eq(r.status, TR_FMT_OK);
	ck_assert_uint_eq(r.sunk, FS);
	tr_aead_free(a);
	free(pt);
	free(re);
	free(obj);
}
END_TEST

START_TEST(test_sink_and_source_errors)
{
	size_t len;
	uint8_t *obj = encode(&K, "n", TR_CIPHER_AUTO, TR_COMPRESS_ZSTD, 0, DATA_TEXT, 5000, &len);
	struct sink k = { DATA_TEXT, 0, 0, 1 };
	tr_dec *d = tr_dec_new(&K, "n", sink_write, &k);
	ck_assert_int_eq(tr_dec_write(d, obj, len), -1);
	ck_assert_int_eq(tr_dec_status(d), TR_FMT_ESINK);
	ck_assert_int_eq(tr_dec_write(d, obj, 1), -1);   /* stays failed */
	ck_assert_int_eq(tr_dec_finish(d), TR_FMT_ESINK);
	tr_dec_free(d);
	free(obj);

	struct src s = { DATA_TEXT, 1 << 20, 0, 0, 5000 };
	tr_enc *e = tr_enc_new(&K, "n", NULL, src_read, &s);
	uint8_t buf[4096];
	ssize_t n;
	while ((n = tr_enc_read(e, buf, sizeof(buf))) > 0)
		;
	ck_assert_int_eq(n, -1);
	ck_assert_str_ne(tr_enc_error(e), "");
	ck_assert_int_eq(tr_enc_read(e, buf, sizeof(buf)), -1);
	tr_enc_free(e);

	/* Invalid options. */
	tr_enc_opts bad1 = { 7, 0, 0, 0, 0, NULL }, bad2 = { 0, 5, 0, 0, 0, NULL }, bad3 = { 0, 0, 0, TR_FMT_FRAME_MAX + 1, 0, NULL };
	ck_assert_ptr_null(tr_enc_new(&K, "n", &bad1, src_read, &s));
	ck_assert_ptr_null(tr_enc_new(&K, "n", &bad2, src_read, &s));
	ck_assert_ptr_null(tr_enc_new(&K, "n", &bad3, src_read, &s));
	tr_dec_free(NULL);
	tr_enc_free(NULL);
}
END_TEST

START_TEST(test_corrupt_compressed_but_authentic)
{
	/* A key holder's object whose zstd stream is broken or incomplete:
	 * authenticated, then EDATA. */
	uint8_t hdr[TR_FMT_HEADER_LEN] = "TRC1";
	hdr[4] = 1;
	hdr[5] = (uint8_t)cipher_of(_i);
	hdr[6] = TR_COMPRESS_ZSTD;
	hdr[10] = 0x10;  /* frame size 4096 */
	memcpy(hdr + 12, K.id, 8);
	tr_aead *a = spec_aead(hdr, "z");
	uint8_t obj[200];
	memcpy(obj, hdr, sizeof(hdr));
	size_t n = TR_FMT_HEADER_LEN + spec_frame(a, obj + TR_FMT_HEADER_LEN, 1, 0,
						  (const uint8_t *)"garbage!", 8);
	struct result r = decode(&K, "z", 0, obj, n, 0);
	ck_assert_int_eq(r.status, TR_FMT_EDATA);
	/* A valid zstd frame header cut short. */
	n = TR_FMT_HEADER_LEN + spec_frame(a, obj + TR_FMT_HEADER_LEN, 1, 0,
					   (const uint8_t *)"\x28\xb5\x2f\xfd\x20\x05", 6);
	r = decode(&K, "z", 0, obj, n, 0);
	ck_assert_int_eq(r.status, TR_FMT_EDATA);
	ck_assert_ptr_nonnull(strstr(r.err, "decompression failed"));
	tr_aead_free(a);
}
END_TEST

START_TEST(test_seal_open)
{
	const char *msg = "{\"manifest\": 1, \"files\": []}";
	uint8_t *obj, *out;
	size_t olen, outlen;
	ck_assert_int_eq(tr_fmt_seal(&K, "manifest", msg, strlen(msg), &obj, &olen), 0);
	ck_assert_int_eq(tr_fmt_open(&K, "manifest", obj, olen, &out, &outlen), 0);
	ck_assert_uint_eq(outlen, strlen(msg));
	ck_assert_mem_eq(out, msg, outlen);
	free(out);
	ck_assert_int_eq(tr_fmt_open(&K, "manifest2", obj, olen, &out, &outlen), TR_FMT_EAUTH);
	ck_assert_ptr_null(out);
	ck_assert_int_eq(tr_fmt_open(&K2, "manifest", obj, olen, &out, &outlen), TR_FMT_EKEY);
	ck_assert_int_eq(tr_fmt_open(&K, "manifest", obj, olen - 1, &out, &outlen), TR_FMT_ETRUNC);
	/* Two seals of the same data differ (random salt). */
	uint8_t *obj2;
	size_t olen2;
	ck_assert_int_eq(tr_fmt_seal(&K, "manifest", msg, strlen(msg), &obj2, &olen2), 0);
	ck_assert(olen != olen2 || memcmp(obj, obj2, olen) != 0);
	free(obj);
	free(obj2);
	/* Empty. */
	ck_assert_int_eq(tr_fmt_seal(&K, "e", "", 0, &obj, &olen), 0);
	ck_assert_int_eq(tr_fmt_open(&K, "e", obj, olen, &out, &outlen), 0);
	ck_assert_uint_eq(outlen, 0);
	ck_assert_ptr_nonnull(out);
	free(out);
	free(obj);
}
END_TEST

/* ------------------------------------------------------------------ AEAD */

static void unhex(const char *s, uint8_t *out)
{
	for (size_t i = 0; s[2 * i]; i++)
		sscanf(s + 2 * i, "%2hhx", &out[i]);
}

START_TEST(test_aead_known_answers)
{
	/* NIST GCM test cases 13 and 14 (AES-256, zero key and IV). */
	uint8_t key[32] = { 0 }, iv[12] = { 0 }, tag[16], want[16], data[16] = { 0 }, c[16];
	for (int sw = 0; sw < 2; sw++) {
		tr_aead *a = tr_aead_new_impl(TR_CIPHER_AES256GCM, key, sw);
		tr_aead_seal(a, iv, NULL, 0, data, 0, tag);
		unhex("530f8afbc74536b9a963b4f1c4cb738b", want);
		ck_assert_mem_eq(tag, want, 16);
		memset(data, 0, 16);
		tr_aead_seal(a, iv, NULL, 0, data, 16, tag);
		unhex("cea7403d4d606b6e074ec5d3baf39d18", c);
		ck_assert_mem_eq(data, c, 16);
		unhex("d0d1c8a799996bf0265b98b5d48ab919", want);
		ck_assert_mem_eq(tag, want, 16);
		ck_assert_int_eq(tr_aead_open(a, iv, NULL, 0, data, 16, tag), 0);
		ck_assert_mem_eq(data, (uint8_t[16]){ 0 }, 16);
		tr_aead_free(a);
	}
	/* RFC 8439 section 2.8.2: ChaCha20-Poly1305. */
	const char *pt = "Ladies and Gentlemen of the class of '99: If I could offer you "
			 "only one tip for the future, sunscreen would be it.";
	uint8_t ckey[32], nonce[12], aad[12], buf[114];
	for (int i = 0; i < 32; i++)
		ckey[i] = (uint8_t)(0x80 + i);
	unhex("070000004041424344454647", nonce);
	unhex("50515253c0c1c2c3c4c5c6c7", aad);
	uint8_t wantc[114];
	unhex("d31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d6"
	      "3dbea45e8ca9671282fafb69da92728b1a71de0a9e060b2905d6a5b67ecd3b36"
	      "92ddbd7f2d778b8c9803aee328091b58fab324e4fad675945585808b4831d7bc"
	      "3ff4def08e4b7a9de576d26586cec64b6116", wantc);
	unhex("1ae10b594f09e26a7e902ecbd0600691", want);
	for (int sw = 0; sw < 2; sw++) {
		tr_aead *a = tr_aead_new_impl(TR_CIPHER_CHACHA20POLY1305, ckey, sw);
		memcpy(buf, pt, 114);
		tr_aead_seal(a, nonce, aad, 12, buf, 114, tag);
		ck_assert_mem_eq(buf, wantc, 114);
		ck_assert_mem_eq(tag, want, 16);
		ck_assert_int_eq(tr_aead_open(a, nonce, aad, 12, buf, 114, tag), 0);
		ck_assert_mem_eq(buf, pt, 114);
		tr_aead_free(a);
	}
	ck_assert_ptr_null(tr_aead_new(99, key));
}
END_TEST

START_TEST(test_aead_failed_open_restores)
{
	int id = cipher_of(_i);
	uint8_t key[32], nonce[12] = { 1, 2, 3 }, tag[16], buf[1000], ct[1000];
	for (int i = 0; i < 32; i++)
		key[i] = (uint8_t)(7 * i);
	tr_aead *hw = tr_aead_new_impl(id, key, 0), *sw = tr_aead_new_impl(id, key, 1);
	gen_fill(DATA_RANDOM, 0, buf, sizeof(buf));
	tr_aead_seal(hw, nonce, "ad", 2, buf, sizeof(buf), tag);
	memcpy(ct, buf, sizeof(buf));
	/* Wrong tag, wrong aad, wrong nonce: -1 and the ciphertext is back. */
	tag[3] ^= 1;
	ck_assert_int_eq(tr_aead_open(sw, nonce, "ad", 2, buf, sizeof(buf), tag), -1);
	ck_assert_mem_eq(buf, ct, sizeof(buf));
	tag[3] ^= 1;
	ck_assert_int_eq(tr_aead_open(hw, nonce, "ae", 2, buf, sizeof(buf), tag), -1);
	ck_assert_mem_eq(buf, ct, sizeof(buf));
	nonce[11] = 1;
	ck_assert_int_eq(tr_aead_open(hw, nonce, "ad", 2, buf, sizeof(buf), tag), -1);
	ck_assert_mem_eq(buf, ct, sizeof(buf));
	nonce[11] = 0;
	/* Software and hardware code agree. */
	ck_assert_int_eq(tr_aead_open(sw, nonce, "ad", 2, buf, sizeof(buf), tag), 0);
	uint8_t pt[1000];
	gen_fill(DATA_RANDOM, 0, pt, sizeof(pt));
	ck_assert_mem_eq(buf, pt, sizeof(buf));
	tr_aead_free(hw);
	tr_aead_free(sw);
	tr_aead_free(NULL);
}
END_TEST

/* The SHA-NI SHA-256/HMAC give BearSSL's results: known answers, every
 * length around the block and padding boundaries, streamed in two pieces
 * split anywhere; and the checksum/chunk id helpers agree with BearSSL. */
START_TEST(test_sha256ni_matches_bearssl)
{
	if (!tr_sha256ni_available())
		return;  /* nothing to compare on this CPU */
	uint8_t got[32], want[32];
	tr_sha256ni c;
	tr_sha256ni_init(&c);
	tr_sha256ni_update(&c, "abc", 3);
	tr_sha256ni_out(&c, got);
	unhex("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", want);
	ck_assert_mem_eq(got, want, 32);
	/* RFC 4231 test case 2. */
	tr_hmac256ni h;
	tr_hmac256ni_init(&h, "Jefe", 4);
	tr_hmac256ni_update(&h, "what do ya want for nothing?", 28);
	tr_hmac256ni_out(&h, got);
	unhex("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843", want);
	ck_assert_mem_eq(got, want, 32);

	static uint8_t buf[3000], key[100];
	gen_fill(DATA_RANDOM, 0, buf, sizeof(buf));
	for (size_t i = 0; i < sizeof(key); i++)
		key[i] = (uint8_t)(i * 13 + 1);
	for (size_t len = 0; len < sizeof(buf); len += len < 300 ? 1 : 61) {
		size_t split = (len * 7) / 11, klen = len % 100;
		br_sha256_context bc;
		br_sha256_init(&bc);
		br_sha256_update(&bc, buf, len);
		br_sha256_out(&bc, want);
		tr_sha256ni_init(&c);
		tr_sha256ni_update(&c, buf, split);
		tr_sha256ni_update(&c, buf + split, len - split);
		tr_sha256ni_out(&c, got);
		ck_assert_mem_eq(got, want, 32);

		br_hmac_key_context kc;
		br_hmac_context hc;
		br_hmac_key_init(&kc, &br_sha256_vtable, key, klen);
		br_hmac_init(&hc, &kc, 0);
		br_hmac_update(&hc, buf, len);
		br_hmac_out(&hc, want);
		tr_hmac256ni_init(&h, key, klen);
		tr_hmac256ni_update(&h, buf, split);
		tr_hmac256ni_update(&h, buf + split, len - split);
		tr_hmac256ni_out(&h, got);
		ck_assert_mem_eq(got, want, 32);
	}
	/* The checksum and chunk id helpers (SHA-NI here) equal BearSSL's HMAC. */
	char sum[TR_CHECKSUM_STR_LEN], id[66], hex[65];
	tr_checksum *ck = tr_checksum_new(&K);
	tr_checksum_update(ck, buf, 1000);
	tr_checksum_update(ck, buf + 1000, 2000);
	tr_checksum_final(ck, sum);
	tr_checksum_free(ck);
	br_hmac_key_context kc;
	br_hmac_context hc;
	br_hmac_key_init(&kc, &br_sha256_vtable, K.mac, sizeof(K.mac));
	br_hmac_init(&hc, &kc, 0);
	br_hmac_update(&hc, buf, 3000);
	br_hmac_out(&hc, want);
	for (int i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", want[i]);
	ck_assert_str_eq(sum + 3, hex);
	tr_chunk_id(&K, buf, 3000, id);
	br_hmac_key_init(&kc, &br_sha256_vtable, K.chunk, sizeof(K.chunk));
	br_hmac_init(&hc, &kc, 0);
	br_hmac_update(&hc, buf, 3000);
	br_hmac_out(&hc, want);
	for (int i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", want[i]);
	ck_assert_str_eq(id + 1, hex);
}
END_TEST

#ifdef TR_ASSERTS
/* The test builds check invariants (base/assert.h): a broken one aborts
 * the process instead of going on (Check's fork mode sees the SIGABRT). */
START_TEST(test_broken_invariant_aborts)
{
	volatile int frame_len = 2;
	TR_ASSERT(frame_len == 1);
}
END_TEST

START_TEST(test_kept_invariant_passes)
{
	int frame_len = 1;
	TR_ASSERT(frame_len == 1);
	ck_assert_int_eq(frame_len, 1);
}
END_TEST
#endif

static Suite *format_suite(void)
{
	Suite *s = suite_create("format");
	TCase *tc = tcase_create("roundtrip");
	tcase_set_timeout(tc, 600);
	tcase_add_loop_test(tc, test_roundtrip_small, 0, NSIZES * 8);
	tcase_add_loop_test(tc, test_roundtrip_64mib, 0, 6);
	tcase_add_test(tc, test_roundtrip_defaults);
	suite_add_tcase(s, tc);

	tc = tcase_create("tamper");
	tcase_set_timeout(tc, 600);
	tcase_add_loop_test(tc, test_truncation, 0, 2);
	tcase_add_loop_test(tc, test_trailing, 0, 2);
	tcase_add_loop_test(tc, test_reorder, 0, 2);
	tcase_add_loop_test(tc, test_bitflip_small_frames, 0, 2);
	tcase_add_loop_test(tc, test_bitflip_4k_frames, 0, 2);
	tcase_add_loop_test(tc, test_bitflip_compressed, 0, 2);
	tcase_add_loop_test(tc, test_wrong_name, 0, 2);
	tcase_add_loop_test(tc, test_wrong_key, 0, 2);
	tcase_add_loop_test(tc, test_bad_header, 0, 2);
	tcase_add_loop_test(tc, test_spec_conformance, 0, 2);
	tcase_add_loop_test(tc, test_corrupt_compressed_but_authentic, 0, 2);
	tcase_add_test(tc, test_sink_and_source_errors);
	tcase_add_test(tc, test_seal_open);
	suite_add_tcase(s, tc);

	tc = tcase_create("aead");
	tcase_add_test(tc, test_aead_known_answers);
	tcase_add_loop_test(tc, test_aead_failed_open_restores, 0, 2);
	tcase_add_test(tc, test_sha256ni_matches_bearssl);
	suite_add_tcase(s, tc);
#ifdef TR_ASSERTS
	tc = tcase_create("assert");
	tcase_add_test_raise_signal(tc, test_broken_invariant_aborts, SIGABRT);
	tcase_add_test(tc, test_kept_invariant_passes);
	suite_add_tcase(s, tc);
#endif
	return s;
}

int main(void)
{
	setup_keys();
	SRunner *sr = srunner_create(format_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
