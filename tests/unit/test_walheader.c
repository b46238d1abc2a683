/* test_walheader.c - the WAL segment check archive-put applies: valid
 * segment sizes, the page magics of PostgreSQL 13 to 17, the long header,
 * the segment's position and timeline against its file name, and the
 * system identifier handed to callers. */
#include "config.h"
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pg/walheader.h"

#define MiB (1u << 20)

/* A long page header as PostgreSQL writes it (native byte order). */
static void header(uint8_t *buf, uint16_t magic, uint16_t info, uint32_t tli, uint64_t pageaddr, uint64_t sysid,
		   uint32_t seg_size, uint32_t blcksz)
{
	memset(buf, 0, TR_WAL_LONG_HEADER_LEN);
	memcpy(buf, &magic, 2);
	memcpy(buf + 2, &info, 2);
	memcpy(buf + 4, &tli, 4);
	memcpy(buf + 8, &pageaddr, 8);
	memcpy(buf + 24, &sysid, 8);
	memcpy(buf + 32, &seg_size, 4);
	memcpy(buf + 36, &blcksz, 4);
}

START_TEST(test_segment_sizes)
{
	ck_assert(tr_wal_segment_size_ok(1 * MiB));
	ck_assert(tr_wal_segment_size_ok(16 * MiB));
	ck_assert(tr_wal_segment_size_ok(1024 * MiB));
	ck_assert(!tr_wal_segment_size_ok(0));
	ck_assert(!tr_wal_segment_size_ok(512 * 1024));
	ck_assert(!tr_wal_segment_size_ok(2048ull * MiB));
	ck_assert(!tr_wal_segment_size_ok(16 * MiB - 1));
	ck_assert(!tr_wal_segment_size_ok(24 * MiB));
}
END_TEST

START_TEST(test_magics)
{
	ck_assert_int_eq(tr_wal_magic_version(0xD106), 13);
	ck_assert_int_eq(tr_wal_magic_version(0xD10D), 14);
	ck_assert_int_eq(tr_wal_magic_version(0xD110), 15);
	ck_assert_int_eq(tr_wal_magic_version(0xD113), 16);
	ck_assert_int_eq(tr_wal_magic_version(0xD116), 17);
	ck_assert_int_eq(tr_wal_magic_version(0xD101), 0);  /* 12: not supported */
	ck_assert_int_eq(tr_wal_magic_version(0), 0);
}
END_TEST

START_TEST(test_segment_check)
{
	uint8_t buf[TR_WAL_LONG_HEADER_LEN];
	tr_wal_header h;
	char err[256];
	const char *name = "000000010000000A000000C3";
	uint64_t segno = 0xAull * 256 + 0xC3;  /* 16 MiB segments: 256 per log file */
	header(buf, 0xD110, TR_XLP_LONG_HEADER, 1, segno * 16 * MiB, 7000000000000000042ull, 16 * MiB, 8192);
	ck_assert_int_eq(tr_wal_segment_check(name, 16 * MiB, buf, sizeof(buf), &h, err, sizeof(err)), 0);
	ck_assert_uint_eq(h.sysid, 7000000000000000042ull);
	ck_assert_int_eq(h.pg_major, 15);
	ck_assert_uint_eq(h.timeline, 1);
	/* The first segment of timeline 2 starts with a page of timeline 1. */
	ck_assert_int_eq(tr_wal_segment_check("000000020000000A000000C3", 16 * MiB, buf, sizeof(buf), &h, err,
					      sizeof(err)), 0);
	/* A page of a later timeline than the file: not this file. */
	header(buf, 0xD110, TR_XLP_LONG_HEADER, 3, segno * 16 * MiB, 1, 16 * MiB, 8192);
	ck_assert_int_eq(tr_wal_segment_check("000000020000000A000000C3", 16 * MiB, buf, sizeof(buf), &h, err,
					      sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "timeline 3"));
	/* Another segment's header (a copy under the wrong name). */
	header(buf, 0xD110, TR_XLP_LONG_HEADER, 1, (segno + 1) * 16 * MiB, 1, 16 * MiB, 8192);
	ck_assert_int_eq(tr_wal_segment_check(name, 16 * MiB, buf, sizeof(buf), &h, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "not of this segment"));
	/* Truncated: the size is no segment size, or not the header's. */
	header(buf, 0xD110, TR_XLP_LONG_HEADER, 1, segno * 16 * MiB, 1, 16 * MiB, 8192);
	ck_assert_int_eq(tr_wal_segment_check(name, 8 * MiB + 1, buf, sizeof(buf), &h, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "power of two"));
	ck_assert_int_eq(tr_wal_segment_check(name, 8 * MiB, buf, sizeof(buf), &h, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "not a whole WAL segment"));
	ck_assert_int_eq(tr_wal_segment_check(name, 0, buf, 0, &h, err, sizeof(err)), -1);
	/* Not WAL at all: zeros, an unknown magic, no long header. */
	uint8_t zeros[TR_WAL_LONG_HEADER_LEN] = { 0 };
	ck_assert_int_eq(tr_wal_segment_check(name, 16 * MiB, zeros, sizeof(zeros), &h, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "page magic 0x0000"));
	header(buf, 0xD101, TR_XLP_LONG_HEADER, 1, segno * 16 * MiB, 1, 16 * MiB, 8192);
	ck_assert_int_eq(tr_wal_segment_check(name, 16 * MiB, buf, sizeof(buf), &h, err, sizeof(err)), -1);
	header(buf, 0xD110, 0, 1, segno * 16 * MiB, 1, 16 * MiB, 8192);
	ck_assert_int_eq(tr_wal_segment_check(name, 16 * MiB, buf, sizeof(buf), &h, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "long header"));
	/* Too few bytes. */
	header(buf, 0xD110, TR_XLP_LONG_HEADER, 1, segno * 16 * MiB, 1, 16 * MiB, 8192);
	ck_assert_int_eq(tr_wal_segment_check(name, 16 * MiB, buf, 20, &h, err, sizeof(err)), -1);
	/* A bad page size. */
	header(buf, 0xD110, TR_XLP_LONG_HEADER, 1, segno * 16 * MiB, 1, 16 * MiB, 3000);
	ck_assert_int_eq(tr_wal_segment_check(name, 16 * MiB, buf, sizeof(buf), &h, err, sizeof(err)), -1);
}
END_TEST

START_TEST(test_other_sizes)
{
	uint8_t buf[TR_WAL_LONG_HEADER_LEN];
	tr_wal_header h;
	char err[256];
	/* 1 GiB segments: 4 per log file; segment 3 of log 2. */
	header(buf, 0xD116, TR_XLP_LONG_HEADER, 5, (2ull * 4 + 3) * 1024 * MiB, 9, 1024 * MiB, 8192);
	ck_assert_int_eq(tr_wal_segment_check("000000050000000200000003", 1024ull * MiB, buf, sizeof(buf), &h, err,
					      sizeof(err)), 0);
	ck_assert_int_eq(h.pg_major, 17);
	/* Segment number beyond the log file: not a name of such WAL. */
	ck_assert_int_eq(tr_wal_segment_check("000000050000000200000004", 1024ull * MiB, buf, sizeof(buf), &h, err,
					      sizeof(err)), -1);
	/* 1 MiB segments, PostgreSQL 13, 32 KiB pages. */
	header(buf, 0xD106, TR_XLP_LONG_HEADER | 0x0004, 1, 0x1FFull * MiB, 9, MiB, 32768);
	ck_assert_int_eq(tr_wal_segment_check("0000000100000000000001FF", MiB, buf, sizeof(buf), &h, err,
					      sizeof(err)), 0);
	ck_assert_int_eq(h.pg_major, 13);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("walheader");
	TCase *tc = tcase_create("walheader");
	tcase_add_test(tc, test_segment_sizes);
	tcase_add_test(tc, test_magics);
	tcase_add_test(tc, test_segment_check);
	tcase_add_test(tc, test_other_sizes);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
