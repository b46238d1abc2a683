/* test_timeline.c - which timelines of an archive are tips (no other
 * timeline continues them): a clean promotion, a parent archived past its
 * child's fork, a fork inside a segment, a child with no WAL yet, two
 * children of one point, a chain; lineage checks and the description
 * restore prints when it refuses to guess. */
#include "config.h"
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "timeline.h"

#define SEG (16u * 1024 * 1024)

static tr_timelines TL;

static void reset(void)
{
	tr_timelines_free(&TL);
	memset(&TL, 0, sizeof TL);
}

static void history(uint32_t tli, const char *text)
{
	TL.v = realloc(TL.v, (size_t)(TL.n + 1) * sizeof *TL.v);
	ck_assert_int_eq(tr_timeline_parse(tli, text, &TL.v[TL.n]), 0);
	TL.n++;
}

/* Segments lo..hi (numbers within log 0) of timeline tli. */
static void segments(uint32_t tli, unsigned lo, unsigned hi)
{
	char name[25];
	for (unsigned s = lo; s <= hi; s++) {
		snprintf(name, sizeof name, "%08X%08X%08X", tli, 0u, s);
		ck_assert_int_eq(tr_timeline_note_segment(&TL, name), 0);
	}
}

/* "1 2" : the tips, in order. */
static void tips_are(const char *want)
{
	tr_tl_state *s = NULL;
	char got[128] = "";
	int n = tr_timeline_states(&TL, SEG, &s);
	ck_assert_int_ge(n, 0);
	for (int i = 0; i < n; i++)
		if (s[i].tip)
			snprintf(got + strlen(got), sizeof got - strlen(got), "%s%u", *got ? " " : "", s[i].tli);
	free(s);
	ck_assert_str_eq(got, want);
}

START_TEST(test_one_timeline)
{
	reset();
	segments(1, 1, 9);
	tips_are("1");
}
END_TEST

START_TEST(test_clean_promotion)
{
	reset();
	segments(1, 1, 5);
	history(2, "1\t0/6000000\tno recovery target specified\n");
	segments(2, 6, 9);
	tips_are("2");
}
END_TEST

START_TEST(test_parent_archived_past_fork)
{
	reset();
	segments(1, 1, 9);
	history(2, "1\t0/6000000\tno recovery target specified\n");
	segments(2, 6, 7);
	tips_are("1 2");
}
END_TEST

START_TEST(test_fork_inside_a_segment)
{
	/* Timeline 1's segment 6 holds the fork at 0/6000028: not past it. */
	reset();
	segments(1, 1, 6);
	history(2, "1\t0/6000028\tno recovery target specified\n");
	segments(2, 6, 8);
	tips_are("2");
	/* Its segment 7 starts after the fork: diverged. */
	segments(1, 7, 7);
	tips_are("1 2");
}
END_TEST

START_TEST(test_child_without_wal)
{
	reset();
	segments(1, 1, 9);
	history(2, "1\t0/5000000\tbefore the migration\n");
	tips_are("1 2");
	tr_tl_state *s = NULL;
	int n = tr_timeline_states(&TL, SEG, &s);
	char text[512];
	tr_timeline_describe(s, n, text, sizeof text);
	ck_assert_str_eq(text, "timeline 1: last archived segment 000000010000000000000009; timeline 2: forked "
			       "from timeline 1 at 0/5000000, last archived segment none");
	free(s);
}
END_TEST

START_TEST(test_two_children_of_one_point)
{
	reset();
	segments(1, 1, 5);
	history(2, "1\t0/6000000\tno recovery target specified\n");
	history(3, "1\t0/6000000\tno recovery target specified\n");
	segments(2, 6, 7);
	segments(3, 6, 6);
	tips_are("2 3");
}
END_TEST

START_TEST(test_chain)
{
	reset();
	segments(1, 1, 5);
	history(2, "1\t0/6000000\tx\n");
	segments(2, 6, 8);
	history(3, "1\t0/6000000\tx\n2\t0/9000000\ty\n");
	segments(3, 9, 12);
	tips_are("3");
	ck_assert_int_eq(tr_timeline_contains(&TL, 3, 2, 0x8000000), 1);
	ck_assert_int_eq(tr_timeline_contains(&TL, 3, 2, 0x9000000), 1);
	ck_assert_int_eq(tr_timeline_contains(&TL, 3, 2, 0x9000001), 0);
	ck_assert_int_eq(tr_timeline_contains(&TL, 3, 1, 0x5000000), 1);
	ck_assert_int_eq(tr_timeline_contains(&TL, 2, 3, 0x1000000), 0);
	ck_assert_int_eq(tr_timeline_contains(&TL, 2, 2, 0xF000000), 1);
	/* Timeline 2 archived past timeline 3's fork: both are tips. */
	segments(2, 9, 10);
	tips_are("2 3");
}
END_TEST

START_TEST(test_segment_without_history)
{
	/* Timeline 4's history file is gone: nothing says it continues 1. */
	reset();
	segments(1, 1, 5);
	segments(4, 7, 8);
	tips_are("1 4");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("timeline");
	TCase *tc = tcase_create("tips");
	tcase_add_test(tc, test_one_timeline);
	tcase_add_test(tc, test_clean_promotion);
	tcase_add_test(tc, test_parent_archived_past_fork);
	tcase_add_test(tc, test_fork_inside_a_segment);
	tcase_add_test(tc, test_child_without_wal);
	tcase_add_test(tc, test_two_children_of_one_point);
	tcase_add_test(tc, test_chain);
	tcase_add_test(tc, test_segment_without_history);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	reset();
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
