/* Unit tests: verify's incremental state (which objects a run may skip),
 * and the chunk-id slicing it shares with expire. */
#include "config.h"
#include "repo/chunkref.h"
#include "repo/verify_state.h"

#include <check.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char tmpdir[] = "/tmp/tr-test-vstate-XXXXXX";
static char path[PATH_MAX];

static void setup(void)
{
	strcpy(tmpdir, "/tmp/tr-test-vstate-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
	snprintf(path, sizeof path, "%s/verify/abc.state", tmpdir);
}

static void teardown(void)
{
	char cmd[PATH_MAX + 16];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
	ck_assert_int_eq(system(cmd), 0);
}

/* Watermark 10000, margin 100: two recent objects and one damaged. */
static void write_sample(void)
{
	tr_vstate_writer w;
	ck_assert_int_eq(tr_vstate_begin(&w, path, 10000, 100), 0);
	tr_vstate_recent(&w, "wal/0000000100000000/000000010000000000000009", 9950, 1234);
	tr_vstate_recent(&w, "chunks/ab/cab", 10000, 99);
	tr_vstate_damaged(&w, "chunks/cd/ccd");
	ck_assert_int_eq(tr_vstate_commit(&w), 0);
}

START_TEST(path_named_by_repository_hash)
{
	char out[PATH_MAX];
	tr_vstate_path("/state", "0123abcd", out, sizeof out);
	ck_assert_str_eq(out, "/state/verify/0123abcd.state");
}
END_TEST

START_TEST(missing_state_skips_nothing)
{
	tr_vstate s;
	tr_vstate_load(&s, path);
	ck_assert_int_eq(s.valid, 0);
	ck_assert_int_eq(tr_vstate_verified(&s, "wal/x", 1, 1), 0);
	tr_vstate_free(&s);
}
END_TEST

START_TEST(skip_rules)
{
	tr_vstate s;
	write_sample();
	tr_vstate_load(&s, path);
	ck_assert_int_eq(s.valid, 1);
	/* Well below the watermark less the margin: verified earlier. */
	ck_assert_int_eq(tr_vstate_verified(&s, "wal/old", 9899, 5), 1);
	/* Within the margin: only the listed objects, with the same mtime and size. */
	ck_assert_int_eq(tr_vstate_verified(&s, "wal/0000000100000000/000000010000000000000009", 9950, 1234), 1);
	ck_assert_int_eq(tr_vstate_verified(&s, "wal/0000000100000000/000000010000000000000009", 9950, 1235), 0);
	ck_assert_int_eq(tr_vstate_verified(&s, "wal/0000000100000000/00000001000000000000000A", 9950, 1234), 0);
	ck_assert_int_eq(tr_vstate_verified(&s, "chunks/ab/cab", 10000, 99), 1);
	/* Newer than the watermark: new. */
	ck_assert_int_eq(tr_vstate_verified(&s, "chunks/ef/cef", 10001, 99), 0);
	/* Damaged last time: decoded again, however old. */
	ck_assert_int_eq(tr_vstate_verified(&s, "chunks/cd/ccd", 5, 99), 0);
	ck_assert_int_eq(tr_vstate_was_damaged(&s, "chunks/cd/ccd"), 1);
	/* Unknown mtime (0): never skipped by the watermark. */
	ck_assert_int_eq(tr_vstate_verified(&s, "wal/nomtime", 0, 5), 0);
	tr_vstate_free(&s);
}
END_TEST

/* A storage that does not tell an object's time (mtime 0, driver.h): the
 * object is never skipped, even listed as recent with the same size.
 * (A storage that tells no time at all has watermark 0: no state.) */
START_TEST(unknown_mtime_is_never_verified)
{
	tr_vstate s;
	tr_vstate_writer w;
	ck_assert_int_eq(tr_vstate_begin(&w, path, 10000, 100), 0);
	tr_vstate_recent(&w, "wal/0000000100000000/000000010000000000000009", 0, 1234);
	ck_assert_int_eq(tr_vstate_commit(&w), 0);
	tr_vstate_load(&s, path);
	ck_assert_int_eq(s.valid, 1);
	ck_assert_int_eq(tr_vstate_verified(&s, "wal/0000000100000000/000000010000000000000009", 0, 1234), 0);
	ck_assert_int_eq(tr_vstate_verified(&s, "wal/0000000100000000/000000010000000000000009", -1, 1234), 0);
	tr_vstate_free(&s);
}
END_TEST

START_TEST(corrupt_state_means_full_run)
{
	tr_vstate s;
	write_sample();
	FILE *f = fopen(path, "a");
	ck_assert_ptr_nonnull(f);
	fputs("garbage line\n", f);
	fclose(f);
	tr_vstate_load(&s, path);
	ck_assert_int_eq(s.valid, 0);
	ck_assert_int_eq(tr_vstate_verified(&s, "wal/old", 10, 5), 0);
	tr_vstate_free(&s);
}
END_TEST

START_TEST(aborted_write_keeps_old_state)
{
	tr_vstate s;
	tr_vstate_writer w;
	write_sample();
	ck_assert_int_eq(tr_vstate_begin(&w, path, 20000, 100), 0);
	tr_vstate_abort(&w);
	tr_vstate_load(&s, path);
	ck_assert_int_eq(s.valid, 1);
	ck_assert_int_eq((int)s.watermark, 10000);
	tr_vstate_free(&s);
	ck_assert_int_eq(access(w.tmp, F_OK), -1);
}
END_TEST

START_TEST(slices_partition_ids)
{
	const char *ids[] = { "c00aa", "c01aa", "cffaa", "c7fbb" };
	ck_assert_uint_eq(tr_chunkref_slice(ids[0], 1), 0);
	ck_assert_uint_eq(tr_chunkref_slice(ids[2], 256), 255);
	ck_assert_uint_eq(tr_chunkref_slice(ids[3], 4), 0x7f % 4);
	ck_assert_uint_eq(tr_chunkref_slice("", 4), 0);
	ck_assert_uint_eq(tr_chunkref_passes(0, 68), 1);
	ck_assert_uint_eq(tr_chunkref_passes(TR_CHUNKREF_BUDGET / 68 * 3, 68), 3);
	ck_assert_uint_eq(tr_chunkref_passes(UINT64_C(1) << 40, 68), TR_CHUNKREF_MAX_PASSES);
}
END_TEST

START_TEST(idset)
{
	tr_idset s = { NULL, 0, 0 };
	ck_assert_int_eq(tr_idset_has(&s, "cab"), 0);
	ck_assert_int_eq(tr_idset_add(&s, "czz"), 0);
	ck_assert_int_eq(tr_idset_add(&s, "cab"), 0);
	tr_idset_sort(&s);
	ck_assert_int_eq(tr_idset_has(&s, "cab"), 1);
	ck_assert_int_eq(tr_idset_has(&s, "czz"), 1);
	ck_assert_int_eq(tr_idset_has(&s, "cmm"), 0);
	tr_idset_free(&s);
}
END_TEST

static Suite *vstate_suite(void)
{
	Suite *s = suite_create("verify_state");
	TCase *tc = tcase_create("verify_state");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, path_named_by_repository_hash);
	tcase_add_test(tc, missing_state_skips_nothing);
	tcase_add_test(tc, skip_rules);
	tcase_add_test(tc, unknown_mtime_is_never_verified);
	tcase_add_test(tc, corrupt_state_means_full_run);
	tcase_add_test(tc, aborted_write_keeps_old_state);
	tcase_add_test(tc, slices_partition_ids);
	tcase_add_test(tc, idset);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(vstate_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
