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

#include "repo/timeline.h"

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

/* Adds to the archive, in a short notation: "1:1-9" timeline 1's
 * segments 1 to 9 (log 0), "3<1@0/6000000,2@0/9000000" timeline 3's
 * history (its ancestors and where it left them). */
static void archive(const char *spec)
{
	char *copy = strdup(spec), *save = NULL;
	for (char *tok = strtok_r(copy, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
		unsigned tli, lo, hi;
		char *lt = strchr(tok, '<');
		if (!lt && sscanf(tok, "%u:%u-%u", &tli, &lo, &hi) == 3) {
			for (unsigned seg = lo; seg <= hi; seg++) {
				char name[25];
				snprintf(name, sizeof name, "%08X%08X%08X", tli, 0u, seg);
				ck_assert_int_eq(tr_timeline_note_segment(&TL, name), 0);
			}
			continue;
		}
		ck_assert_ptr_nonnull(lt);
		char text[256] = "", *save2 = NULL;
		for (char *anc = strtok_r(lt + 1, ",", &save2); anc; anc = strtok_r(NULL, ",", &save2)) {
			char *at = strchr(anc, '@');
			ck_assert_ptr_nonnull(at);
			*at = '\0';
			snprintf(text + strlen(text), sizeof text - strlen(text), "%s\t%s\treason\n", anc, at + 1);
		}
		history((uint32_t)strtoul(tok, NULL, 10), text);
	}
	free(copy);
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

static const struct { const char *name, *archive, *tips; } cases[] = {
	{ "one timeline", "1:1-9", "1" },
	{ "a clean promotion", "1:1-5 2<1@0/6000000 2:6-9", "2" },
	{ "a parent archived past the fork", "1:1-9 2<1@0/6000000 2:6-7", "1 2" },
	/* Timeline 1's segment 6 holds the fork at 0/6000028: not past it. */
	{ "a fork inside a segment", "1:1-6 2<1@0/6000028 2:6-8", "2" },
	{ "... and the segment after it", "1:1-7 2<1@0/6000028 2:6-8", "1 2" },
	{ "a child without WAL yet", "1:1-9 2<1@0/5000000", "1 2" },
	{ "two children of one point", "1:1-5 2<1@0/6000000 3<1@0/6000000 2:6-7 3:6-6", "2 3" },
	{ "a chain", "1:1-5 2<1@0/6000000 2:6-8 3<1@0/6000000,2@0/9000000 3:9-12", "3" },
	{ "a chain whose middle goes on", "1:1-5 2<1@0/6000000 2:6-10 3<1@0/6000000,2@0/9000000 3:9-12", "2 3" },
	/* Timeline 4's history file is gone: nothing says it continues 1. */
	{ "segments without a history file", "1:1-5 4:7-8", "1 4" },
};

START_TEST(test_tips)
{
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		reset();
		archive(cases[i].archive);
		tips_are(cases[i].tips);
	}
}
END_TEST

START_TEST(test_describe)
{
	tr_tl_state *s = NULL;
	char text[512];
	reset();
	archive("1:1-9 2<1@0/5000000");
	int n = tr_timeline_states(&TL, SEG, &s);
	tr_timeline_describe(s, n, text, sizeof text);
	ck_assert_str_eq(text, "timeline 1: last archived segment 000000010000000000000009; timeline 2: forked "
			       "from timeline 1 at 0/5000000, last archived segment none");
	free(s);
}
END_TEST

START_TEST(test_lineage)
{
	reset();
	archive("1:1-5 2<1@0/6000000 2:6-8 3<1@0/6000000,2@0/9000000 3:9-12");
	ck_assert_int_eq(tr_timeline_contains(&TL, 3, 2, 0x8000000), 1);
	ck_assert_int_eq(tr_timeline_contains(&TL, 3, 2, 0x9000000), 1);
	ck_assert_int_eq(tr_timeline_contains(&TL, 3, 2, 0x9000001), 0);
	ck_assert_int_eq(tr_timeline_contains(&TL, 3, 1, 0x5000000), 1);
	ck_assert_int_eq(tr_timeline_contains(&TL, 2, 3, 0x1000000), 0);
	ck_assert_int_eq(tr_timeline_contains(&TL, 2, 2, 0xF000000), 1);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("timeline");
	TCase *tc = tcase_create("tips");
	tcase_add_test(tc, test_tips);
	tcase_add_test(tc, test_describe);
	tcase_add_test(tc, test_lineage);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	reset();
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
