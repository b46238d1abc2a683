/* test_pagecheck.c - PostgreSQL page checksums: pages written by a real
 * PostgreSQL 15 with data checksums (tests/vectors/pg15-checksum-pages.bin,
 * made by pg15-checksum-pages.sh) verify, and fail once a byte is flipped
 * or the block number is wrong; all-zero pages and pages newer than the
 * backup's start are not judged; which files are relation files; a
 * backup's collector lists damaged pages by file and block, across segment
 * files and chunks that split a page. */
#include "config.h"
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pg/pagecheck.h"

#define RECORD (8 + TR_PAGE_SIZE)
#define NPAGES 5

static uint8_t pages[NPAGES][TR_PAGE_SIZE];
static uint32_t blocks[NPAGES];

static void load_vectors(void)
{
	char path[1024];
	const char *top = getenv("top_srcdir");
	uint8_t rec[RECORD];
	snprintf(path, sizeof path, "%s/tests/vectors/pg15-checksum-pages.bin", top && *top ? top : "..");
	FILE *f = fopen(path, "rb");
	ck_assert_msg(f != NULL, "cannot open %s", path);
	for (int i = 0; i < NPAGES; i++) {
		ck_assert_int_eq(fread(rec, 1, RECORD, f), RECORD);
		memcpy(&blocks[i], rec, 4);  /* little-endian, as on this machine */
		memcpy(pages[i], rec + 8, TR_PAGE_SIZE);
	}
	ck_assert_int_eq(fread(rec, 1, 1, f), 0);
	fclose(f);
}

static uint16_t stored(const uint8_t *page)
{
	uint16_t v;
	memcpy(&v, page + 8, 2);
	return v;
}

START_TEST(test_real_pages)
{
	load_vectors();
	for (int i = 0; i < NPAGES; i++) {
		ck_assert_uint_eq(tr_page_checksum(pages[i], blocks[i]), stored(pages[i]));
		ck_assert_int_eq(tr_page_verify(pages[i], blocks[i], UINT64_MAX), TR_PAGE_OK);
		/* The block number is part of the checksum. */
		ck_assert_uint_ne(tr_page_checksum(pages[i], blocks[i] + 1), stored(pages[i]));
		ck_assert_int_eq(tr_page_verify(pages[i], blocks[i] + 1, UINT64_MAX), TR_PAGE_DAMAGED);
	}
}
END_TEST

START_TEST(test_flipped_bytes)
{
	static const size_t where[] = { 0, 7, 9, 12, 100, 4000, 8191 };
	uint8_t page[TR_PAGE_SIZE];
	load_vectors();
	for (int i = 0; i < NPAGES; i++)
		for (size_t k = 0; k < sizeof where / sizeof *where; k++) {
			memcpy(page, pages[i], sizeof page);
			page[where[k]] ^= 0xff;
			/* A flipped LSN byte may make the page look newer than the
			 * start; judged against a start beyond any LSN it is damaged. */
			ck_assert_msg(tr_page_verify(page, blocks[i], UINT64_MAX) == TR_PAGE_DAMAGED,
				      "page %d, byte %zu flipped, still verifies", i, where[k]);
		}
	/* The checksum field itself is left out of the sum. */
	memcpy(page, pages[0], sizeof page);
	page[8] ^= 0x01;
	ck_assert_uint_eq(tr_page_checksum(page, blocks[0]), stored(pages[0]));
	ck_assert_int_eq(tr_page_verify(page, blocks[0], UINT64_MAX), TR_PAGE_DAMAGED);
}
END_TEST

START_TEST(test_not_judged)
{
	uint8_t page[TR_PAGE_SIZE];
	load_vectors();
	memset(page, 0, sizeof page);
	ck_assert_int_eq(tr_page_verify(page, 3, UINT64_MAX), TR_PAGE_ZERO);
	page[5000] = 1;  /* pd_upper 0 but not all zeros: damaged, as PostgreSQL says */
	ck_assert_int_eq(tr_page_verify(page, 3, UINT64_MAX), TR_PAGE_DAMAGED);
	/* A page written at or after the backup's start is left to WAL replay. */
	memcpy(page, pages[1], sizeof page);
	page[4000] ^= 0xff;
	uint32_t hi, lo;
	memcpy(&hi, page, 4);
	memcpy(&lo, page + 4, 4);
	uint64_t lsn = (uint64_t)hi << 32 | lo;
	ck_assert_int_eq(tr_page_verify(page, blocks[1], lsn), TR_PAGE_NEWER);
	ck_assert_int_eq(tr_page_verify(page, blocks[1], lsn + 1), TR_PAGE_DAMAGED);
}
END_TEST

START_TEST(test_relation_files)
{
	static const struct { const char *path; int yes; uint32_t seg; } cases[] = {
		{ "base/5/16384", 1, 0 }, { "base/5/16384.3", 1, 3 }, { "base/5/16384_fsm", 1, 0 },
		{ "base/5/16384_vm.1", 1, 1 }, { "base/5/16384_init", 1, 0 }, { "global/1262", 1, 0 },
		{ "pg_tblspc/16385/PG_15_202209061/5/16390", 1, 0 }, { "pg_tblspc/16385/PG_15_202209061/5/16390.12", 1, 12 },
		{ "global/pg_control", 0, 0 }, { "global/pg_filenode.map", 0, 0 }, { "base/5/PG_VERSION", 0, 0 },
		{ "base/5/pg_filenode.map", 0, 0 }, { "base/5/16384_foo", 0, 0 }, { "base/5/16384.", 0, 0 },
		{ "base/x/16384", 0, 0 }, { "pg_wal/000000010000000000000001", 0, 0 }, { "16384", 0, 0 },
		{ "pg_tblspc/16385/16390", 0, 0 }, { "base/5/sub/16384", 0, 0 }, { "pg_xact/0000", 0, 0 },
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		uint32_t seg = 99;
		int yes = tr_pagecheck_relation(cases[i].path, &seg);
		ck_assert_msg(yes == cases[i].yes, "%s: %d", cases[i].path, yes);
		if (yes)
			ck_assert_uint_eq(seg, cases[i].seg);
	}
}
END_TEST

/* A file of a second segment, read in chunks of 20000 bytes (pages cross
 * chunk ends); one page damaged. */
START_TEST(test_collector)
{
	char dir[] = "/tmp/tr-pagecheck-XXXXXX", path[256];
	uint8_t *file = malloc(4 * TR_PAGE_SIZE);
	load_vectors();
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof path, "%s/16384.1", dir);
	/* With 2 blocks a segment, blocks 2..5 of the relation live here: the
	 * vectors' heap page 7 is not one of them, so give each page the
	 * checksum of its place. */
	for (int i = 0; i < 4; i++) {
		memcpy(file + i * TR_PAGE_SIZE, pages[i % 2], TR_PAGE_SIZE);
		uint16_t sum = tr_page_checksum(file + i * TR_PAGE_SIZE, (uint32_t)(2 + i));
		memcpy(file + i * TR_PAGE_SIZE + 8, &sum, 2);
	}
	file[2 * TR_PAGE_SIZE + 3000] ^= 0x40;  /* block 4 */
	FILE *f = fopen(path, "wb");
	ck_assert_int_eq(fwrite(file, 1, 4 * TR_PAGE_SIZE, f), 4 * TR_PAGE_SIZE);
	fclose(f);
	tr_pagecheck *pc = tr_pagecheck_new(UINT64_MAX, 2);
	for (size_t off = 0; off < 4 * TR_PAGE_SIZE; off += 20000) {
		size_t n = 4 * TR_PAGE_SIZE - off < 20000 ? 4 * TR_PAGE_SIZE - off : 20000;
		tr_pagecheck_chunk(pc, "base/5/16384.1", path, off, file + off, n);
	}
	tr_pagecheck_chunk(pc, "base/5/PG_VERSION", path, 0, file, TR_PAGE_SIZE);  /* not a relation file */
	ck_assert_uint_eq(tr_pagecheck_verified(pc), 4);
	ck_assert_uint_eq(tr_pagecheck_damaged(pc), 1);
	char *list = tr_pagecheck_list(pc);
	ck_assert_str_eq(list, "base/5/16384.1 4\n");
	free(list);
	tr_pagecheck_free(pc);
	unlink(path);
	rmdir(dir);
	free(file);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("pagecheck");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, test_real_pages);
	tcase_add_test(tc, test_flipped_bytes);
	tcase_add_test(tc, test_not_judged);
	tcase_add_test(tc, test_relation_files);
	tcase_add_test(tc, test_collector);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
