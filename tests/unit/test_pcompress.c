/* test_pcompress.c - a file compressed in pieces on several threads: the
 * piece count, the stream (independent frames that decode to the file),
 * its way through the object format, and refusals. */
#include "config.h"
#include <check.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zstd.h>

#include "format/checksum.h"
#include "format/format.h"
#include "format/keyring.h"
#include "format/pcompress.h"

#define MIB (1024u * 1024u)

static uint64_t splitmix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

/* WAL-like: runs of repeated records with a random stretch every 64 KiB,
 * or all random (incompressible). */
static uint8_t *make_data(size_t len, int random_only)
{
	uint8_t *d = malloc(len);
	ck_assert_ptr_nonnull(d);
	for (size_t i = 0; i < len; i++) {
		int rnd = random_only || (i % 65536) < 4096;
		d[i] = rnd ? (uint8_t)splitmix(i) : (uint8_t)("record 0123456789 abcdef\n"[i % 25] + (i / 65536) % 3);
	}
	return d;
}

/* A temporary file holding d[0..len). */
static int temp_file(const uint8_t *d, size_t len)
{
	char path[] = "/tmp/test_pcompress-XXXXXX";
	int fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	unlink(path);
	size_t off = 0;
	while (off < len) {
		ssize_t n = write(fd, d + off, len - off);
		ck_assert_int_gt(n, 0);
		off += (size_t)n;
	}
	return fd;
}

/* Reads the whole stream in odd sizes. */
static uint8_t *read_all(tr_pcomp *pc, size_t *outlen)
{
	static const size_t sizes[] = { 1, 4093, 65536, 7, 300000 };
	size_t cap = 1024, len = 0;
	uint8_t *out = malloc(cap);
	for (unsigned turn = 0;; turn++) {
		size_t want = sizes[turn % 5];
		if (len + want > cap) {
			cap = (len + want) * 2;
			out = realloc(out, cap);
			ck_assert_ptr_nonnull(out);
		}
		ssize_t n = tr_pcomp_read(pc, out + len, want);
		ck_assert_int_ge(n, 0);
		ck_assert_uint_le((size_t)n, want);
		if (n == 0)
			break;
		len += (size_t)n;
	}
	*outlen = len;
	return out;
}

static int count_frames(const uint8_t *z, size_t len)
{
	int n = 0;
	while (len > 0) {
		size_t f = ZSTD_findFrameCompressedSize(z, len);
		ck_assert(!ZSTD_isError(f));
		z += f;
		len -= f;
		n++;
	}
	return n;
}

static void check_roundtrip(size_t len, int threads, int random_only, int want_frames)
{
	uint8_t *d = make_data(len, random_only);
	int fd = temp_file(d, len);
	char err[256] = "";
	tr_pcomp *pc = tr_pcomp_start(fd, len, 3, threads, err, sizeof err);
	ck_assert_msg(pc != NULL, "start: %s", err);
	size_t zlen;
	uint8_t *z = read_all(pc, &zlen);
	ck_assert_int_eq(tr_pcomp_read(pc, z, 1), 0);  /* stays at the end */
	tr_pcomp_free(pc);
	ck_assert_int_eq(count_frames(z, zlen), want_frames);
	if (!random_only)
		ck_assert_uint_lt(zlen, len / 4);

	uint8_t *back = malloc(len + 1);
	ZSTD_DCtx *dc = ZSTD_createDCtx();
	ZSTD_inBuffer ib = { z, zlen, 0 };
	ZSTD_outBuffer ob = { back, len + 1, 0 };
	while (ib.pos < ib.size)
		ck_assert(!ZSTD_isError(ZSTD_decompressStream(dc, &ob, &ib)));
	ck_assert_uint_eq(ob.pos, len);
	ck_assert(memcmp(back, d, len) == 0);
	ZSTD_freeDCtx(dc);
	free(back);
	free(z);
	free(d);
	close(fd);
}

START_TEST(test_piece_count)
{
	ck_assert_int_eq(tr_pcomp_pieces(0, 2), 0);
	ck_assert_int_eq(tr_pcomp_pieces(TR_PCOMP_PIECE_MIN - 1, 2), 0);
	ck_assert_int_eq(tr_pcomp_pieces(TR_PCOMP_PIECE_MIN, 2), 1);
	ck_assert_int_eq(tr_pcomp_pieces(16 * MIB, 2), 2);
	ck_assert_int_eq(tr_pcomp_pieces(16 * MIB, 1), 1);
	ck_assert_int_eq(tr_pcomp_pieces(16 * MIB, 0), 1);
	ck_assert_int_eq(tr_pcomp_pieces(16 * MIB, 8), 2);
	ck_assert_int_eq(tr_pcomp_pieces(1024ull * MIB, 64), 16);
}
END_TEST

START_TEST(test_two_pieces)
{
	check_roundtrip(16 * MIB, 2, 0, 2);
}
END_TEST

START_TEST(test_uneven_tail_and_random)
{
	/* Three pieces; the last takes the odd bytes; nothing compresses. */
	check_roundtrip(24 * MIB + 12345, 3, 1, 3);
}
END_TEST

START_TEST(test_one_piece)
{
	check_roundtrip(8 * MIB + 1, 4, 0, 1);
}
END_TEST

/* The pieces' stream framed and sealed as a zstd object decodes through
 * the ordinary decoder. */
struct cmp_sink {
	const uint8_t *want;
	size_t len, pos;
	int mismatch;
};

static int cmp_write(void *ctx, const void *buf, size_t len)
{
	struct cmp_sink *s = ctx;
	if (s->pos + len > s->len || memcmp(s->want + s->pos, buf, len) != 0)
		s->mismatch = 1;
	s->pos += len;
	return 0;
}

START_TEST(test_through_object_format)
{
	tr_keys k;
	for (int i = 0; i < 32; i++)
		k.data[i] = (uint8_t)(3 * i);
	tr_keys_derive(&k);
	size_t len = 16 * MIB;
	uint8_t *d = make_data(len, 0);
	int fd = temp_file(d, len);
	char err[256];
	tr_pcomp *pc = tr_pcomp_start(fd, len, 3, 2, err, sizeof err);
	ck_assert_ptr_nonnull(pc);
	tr_enc_opts o = { TR_CIPHER_AUTO, TR_COMPRESS_ZSTD, 0, 0, 1, NULL };
	tr_enc *e = tr_enc_new(&k, "wal/0000000100000000/000000010000000000000001", &o, tr_pcomp_read, pc);
	ck_assert_ptr_nonnull(e);
	struct cmp_sink s = { d, len, 0, 0 };
	tr_dec *dec = tr_dec_new(&k, "wal/0000000100000000/000000010000000000000001", cmp_write, &s);
	uint8_t buf[100000];
	ssize_t n;
	while ((n = tr_enc_read(e, buf, sizeof buf)) > 0)
		ck_assert_int_eq(tr_dec_write(dec, buf, (size_t)n), 0);
	ck_assert_int_eq(n, 0);
	ck_assert_int_eq(tr_dec_finish(dec), TR_FMT_OK);
	ck_assert_int_eq(s.mismatch, 0);
	ck_assert_uint_eq(s.pos, len);
	tr_dec_free(dec);
	tr_enc_free(e);
	tr_pcomp_free(pc);
	close(fd);
	free(d);
}
END_TEST

/* The digest thread hands the whole file, in order, to the digest: the
 * keyed checksum it gives is the one of the file read straight, while the
 * stream still decodes to the file. */
static void digest_into(void *ctx, const void *data, size_t len)
{
	tr_checksum_update(ctx, data, len);
}

static void check_digest(size_t len, int threads)
{
	tr_keys k;
	for (int i = 0; i < 32; i++)
		k.data[i] = (uint8_t)(7 * i + 1);
	tr_keys_derive(&k);
	uint8_t *d = make_data(len, 0);
	int fd = temp_file(d, len);
	char err[256] = "", want[TR_CHECKSUM_STR_LEN], got[TR_CHECKSUM_STR_LEN];
	tr_checksum *c = tr_checksum_new(&k);
	tr_checksum_update(c, d, len);
	tr_checksum_final(c, want);
	tr_checksum_free(c);
	c = tr_checksum_new(&k);
	tr_pcomp *pc = tr_pcomp_start_digest(fd, len, 3, threads, digest_into, c, err, sizeof err);
	ck_assert_msg(pc != NULL, "start: %s", err);
	ck_assert_int_eq(tr_pcomp_digest_wait(pc), 0);
	tr_checksum_final(c, got);
	ck_assert_str_eq(got, want);
	size_t zlen;
	uint8_t *z = read_all(pc, &zlen);
	ck_assert_uint_gt(zlen, 0);
	ck_assert_int_eq(tr_pcomp_digest_wait(pc), 0);  /* again: still done */
	tr_pcomp_free(pc);
	tr_checksum_free(c);
	uint8_t *back = malloc(len);
	ck_assert_uint_eq(ZSTD_decompress(back, len, z, zlen), len);
	ck_assert(memcmp(back, d, len) == 0);
	free(back);
	free(z);
	free(d);
	close(fd);
}

START_TEST(test_digest_two_pieces)
{
	check_digest(16 * MIB, 2);
}
END_TEST

START_TEST(test_digest_uneven)
{
	check_digest(9 * MIB + 4321, 1);
}
END_TEST

/* Without a digest, waiting for it returns at once. */
START_TEST(test_digest_none)
{
	size_t len = 8 * MIB;
	uint8_t *d = make_data(len, 0);
	int fd = temp_file(d, len);
	char err[256] = "";
	tr_pcomp *pc = tr_pcomp_start(fd, len, 3, 1, err, sizeof err);
	ck_assert_ptr_nonnull(pc);
	ck_assert_int_eq(tr_pcomp_digest_wait(pc), 0);
	tr_pcomp_free(pc);
	free(d);
	close(fd);
}
END_TEST

START_TEST(test_refusals)
{
	/* A pipe cannot be mapped: the caller falls back to streaming. */
	int p[2];
	ck_assert_int_eq(pipe(p), 0);
	char err[256] = "";
	ck_assert_ptr_null(tr_pcomp_start(p[0], 16 * MIB, 3, 2, err, sizeof err));
	ck_assert_msg(strstr(err, "cannot map") != NULL, "%s", err);
	close(p[0]);
	close(p[1]);
	/* A precompressed source is only ever a zstd stream. */
	tr_keys k;
	memset(&k, 1, sizeof k);
	tr_keys_derive(&k);
	tr_enc_opts o = { TR_CIPHER_AUTO, TR_COMPRESS_NONE, 0, 0, 1, NULL };
	ck_assert_ptr_null(tr_enc_new(&k, "x", &o, tr_pcomp_read, NULL));
}
END_TEST

static Suite *pcompress_suite(void)
{
	Suite *s = suite_create("pcompress");
	TCase *tc = tcase_create("pieces");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_piece_count);
	tcase_add_test(tc, test_two_pieces);
	tcase_add_test(tc, test_uneven_tail_and_random);
	tcase_add_test(tc, test_one_piece);
	tcase_add_test(tc, test_through_object_format);
	tcase_add_test(tc, test_digest_two_pieces);
	tcase_add_test(tc, test_digest_uneven);
	tcase_add_test(tc, test_digest_none);
	tcase_add_test(tc, test_refusals);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(pcompress_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
