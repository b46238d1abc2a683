/* test_restore_reuse.c - copying a chunk restore already wrote: a later
 * reference gets the first one's bytes, and never bytes that are no longer
 * the chunk (the source overwritten since, the first reference failed, the
 * source gone): then it is told to fetch; a write that fails is an error. */
#include "config.h"
#include <check.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd/restore_reuse.h"
#include "format/checksum.h"

#define LEN 8192

static tr_keys k;

static void keyed_id(const void *keys, const void *data, size_t len, char out[66])
{
	tr_chunk_id(keys, data, len, out);
}

static const tr_chunk_idf idf = { keyed_id, &k };
static char dir[] = "/tmp/tr_reuse_XXXXXX";
static char src[PATH_MAX], dst[PATH_MAX];
static char chunk[LEN], id[66], buf[LEN];

static void put(const char *path, const void *b, size_t len, off_t off)
{
	int fd = open(path, O_WRONLY | O_CREAT, 0600);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pwrite(fd, b, len, off), (ssize_t)len);
	close(fd);
}

static void setup(void)
{
	for (int i = 0; i < 32; i++)
		k.data[i] = (uint8_t)(7 + i);
	tr_keys_derive(&k);
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(src, sizeof src, "%s/src", dir);
	snprintf(dst, sizeof dst, "%s/dst", dir);
	for (int i = 0; i < LEN; i++)
		chunk[i] = (char)(i * 31 + 1);
	tr_chunk_id(&k, chunk, LEN, id);
	char zeros[3 * LEN] = { 0 };
	put(src, zeros, sizeof zeros, 0);
	put(dst, zeros, sizeof zeros, 0);
}

static void teardown(void)
{
	unlink(src);
	unlink(dst);
	rmdir(dir);
	strcpy(dir, "/tmp/tr_reuse_XXXXXX");
}

/* dst's bytes at off equal b. */
static int dst_holds(const void *b, off_t off)
{
	char got[LEN];
	int fd = open(dst, O_RDONLY);
	ssize_t n = pread(fd, got, LEN, off);
	close(fd);
	return n == LEN && memcmp(got, b, LEN) == 0;
}

START_TEST(test_copies_the_first)
{
	tr_reuse *u = tr_reuse_new();
	tr_reuse_src *first, *f2;
	ck_assert_ptr_null(tr_reuse_note(u, id, src, LEN, LEN, &first));
	ck_assert_ptr_nonnull(first);
	tr_reuse_src *later = tr_reuse_note(u, id, dst, 2 * LEN, LEN, &f2);
	ck_assert_ptr_eq(later, first);
	ck_assert_ptr_null(f2);
	put(src, chunk, LEN, LEN);
	tr_reuse_done(u, first, 1);
	char err[256] = "";
	ck_assert_int_eq(tr_reuse_copy(u, later, &idf, dst, 2 * LEN, buf, err, sizeof err), 0);
	ck_assert(dst_holds(chunk, 2 * LEN));
	tr_reuse_free(u);
}
END_TEST

START_TEST(test_source_changed_since)
{
	tr_reuse *u = tr_reuse_new();
	tr_reuse_src *first, *f2;
	tr_reuse_note(u, id, src, LEN, LEN, &first);
	tr_reuse_src *later = tr_reuse_note(u, id, dst, 0, LEN, &f2);
	put(src, chunk, LEN, LEN);
	tr_reuse_done(u, first, 1);
	/* Something wrote over part of the place since (one byte, and a
	 * write straddling its end). */
	put(src, "x", 1, LEN + 100);
	char err[256] = "";
	ck_assert_int_eq(tr_reuse_copy(u, later, &idf, dst, 0, buf, err, sizeof err), 1);
	char zeros[LEN] = { 0 };
	ck_assert_msg(dst_holds(zeros, 0), "bytes that are not the chunk were copied");
	tr_reuse_free(u);
}
END_TEST

START_TEST(test_first_failed)
{
	tr_reuse *u = tr_reuse_new();
	tr_reuse_src *first, *f2, *f3;
	tr_reuse_note(u, id, src, LEN, LEN, &first);
	tr_reuse_src *later = tr_reuse_note(u, id, dst, 0, LEN, &f2);
	put(src, chunk, LEN, LEN);  /* even with the right bytes there */
	tr_reuse_done(u, first, 0);
	char err[256] = "";
	ck_assert_int_eq(tr_reuse_copy(u, later, &idf, dst, 0, buf, err, sizeof err), 1);
	/* A reference noted after the failure is a first one again. */
	ck_assert_ptr_null(tr_reuse_note(u, id, dst, LEN, LEN, &f3));
	ck_assert_ptr_nonnull(f3);
	tr_reuse_done(u, f3, 1);
	tr_reuse_free(u);
}
END_TEST

START_TEST(test_source_gone)
{
	tr_reuse *u = tr_reuse_new();
	tr_reuse_src *first, *f2;
	tr_reuse_note(u, id, src, LEN, LEN, &first);
	tr_reuse_src *later = tr_reuse_note(u, id, dst, 0, LEN, &f2);
	tr_reuse_done(u, first, 1);
	unlink(src);
	char err[256] = "";
	ck_assert_int_eq(tr_reuse_copy(u, later, &idf, dst, 0, buf, err, sizeof err), 1);  /* fetched instead */
	tr_reuse_free(u);
}
END_TEST

START_TEST(test_target_fails)
{
	tr_reuse *u = tr_reuse_new();
	tr_reuse_src *first, *f2;
	char missing[PATH_MAX + 8];
	snprintf(missing, sizeof missing, "%s/none/x", dir);
	tr_reuse_note(u, id, src, LEN, LEN, &first);
	tr_reuse_src *later = tr_reuse_note(u, id, missing, 0, LEN, &f2);
	put(src, chunk, LEN, LEN);
	tr_reuse_done(u, first, 1);
	char err[PATH_MAX + 256] = "";
	ck_assert_int_eq(tr_reuse_copy(u, later, &idf, missing, 0, buf, err, sizeof err), -1);
	ck_assert_msg(strstr(err, missing) != NULL, "the error names the file: %s", err);
	tr_reuse_free(u);
}
END_TEST

/* Only the TR_REUSE_SLOTS ids noted last are remembered. */
START_TEST(test_window)
{
	tr_reuse *u = tr_reuse_new();
	tr_reuse_src *first, *f2;
	tr_reuse_note(u, id, src, LEN, LEN, &first);
	tr_reuse_done(u, first, 1);
	char other[66];
	for (int i = 0; i < TR_REUSE_SLOTS; i++) {
		/* Real ids are keyed hashes: their leading digits spread. */
		snprintf(other, sizeof other, "c%08x%056x", (unsigned)i * 2654435761u, i);
		tr_reuse_src *f;
		ck_assert_ptr_null(tr_reuse_note(u, other, dst, 0, LEN, &f));
		tr_reuse_done(u, f, 1);
	}
	ck_assert_ptr_null(tr_reuse_note(u, id, dst, 0, LEN, &f2));
	ck_assert_ptr_nonnull(f2);
	tr_reuse_done(u, f2, 1);
	tr_reuse_free(u);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("restore_reuse");
	TCase *tc = tcase_create("reuse");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_copies_the_first);
	tcase_add_test(tc, test_source_changed_since);
	tcase_add_test(tc, test_first_failed);
	tcase_add_test(tc, test_source_gone);
	tcase_add_test(tc, test_target_fails);
	tcase_add_test(tc, test_window);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
