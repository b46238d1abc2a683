/* Unit tests: cron and interval schedules (table-driven). */
#include "config.h"
#include "base/schedule.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int64_t utc(const char *s)
{
	struct tm tm;
	memset(&tm, 0, sizeof tm);
	ck_assert_ptr_nonnull(strptime(s, "%Y-%m-%d %H:%M", &tm));
	return (int64_t)timegm(&tm);
}

/* expression, from, expected next firing ("" = never) */
static const struct { const char *expr, *from, *next; } next_cases[] = {
	{ "* * * * *", "2026-11-26 10:00", "2026-11-26 10:01" },
	{ "*/15 * * * *", "2026-11-26 10:07", "2026-11-26 10:15" },
	{ "0 3 * * *", "2026-11-26 03:00", "2026-11-27 03:00" },
	{ "@daily", "2026-12-31 23:59", "2027-01-01 00:00" },
	{ "@hourly", "2026-11-26 10:30", "2026-11-26 11:00" },
	{ "@weekly", "2026-11-26 10:00", "2026-11-29 00:00" },     /* Thursday -> Sunday */
	{ "@monthly", "2026-01-31 12:00", "2026-02-01 00:00" },
	{ "@yearly", "2026-06-01 00:00", "2027-01-01 00:00" },
	{ "0 0 31 * *", "2026-02-01 00:00", "2026-03-31 00:00" },  /* months without a 31st skipped */
	{ "0 0 30 * *", "2026-01-30 00:00", "2026-03-30 00:00" },  /* February has no 30th */
	{ "0 0 29 2 *", "2026-01-01 00:00", "2028-02-29 00:00" },  /* leap year */
	{ "0 0 29 2 *", "2028-02-29 00:00", "2032-02-29 00:00" },
	{ "0 12 * * 0", "2026-11-26 00:00", "2026-11-29 12:00" },  /* Sunday as 0 */
	{ "0 12 * * 7", "2026-11-26 00:00", "2026-11-29 12:00" },  /* Sunday as 7 */
	{ "0 12 * * sun", "2026-11-26 00:00", "2026-11-29 12:00" },
	{ "30 2 * * MON-FRI", "2026-11-28 00:00", "2026-11-30 02:30" },  /* Saturday -> Monday */
	{ "0 0 1,15 * *", "2026-11-02 00:00", "2026-11-15 00:00" },
	{ "0 0 13 * 5", "2026-11-26 00:00", "2026-11-27 00:00" },  /* either day field matches */
	{ "0 0 * JAN,jul *", "2026-02-01 00:00", "2026-07-01 00:00" },
	{ "5-10/2 * * * *", "2026-11-26 10:06", "2026-11-26 10:07" },
	{ "5/20 * * * *", "2026-11-26 10:26", "2026-11-26 10:45" },
	{ "7d", "2026-11-26 10:00", "2026-12-03 10:00" },
	{ "12h", "2026-11-26 10:00", "2026-11-26 22:00" },
	{ "90m", "2026-11-26 10:00", "2026-11-26 11:30" },
	{ "2w", "2026-11-26 10:00", "2026-12-10 10:00" },
};

START_TEST(next_firing)
{
	tr_schedule s;
	char err[256];
	ck_assert_msg(tr_schedule_parse(next_cases[_i].expr, &s, err, sizeof err) == 0, "%s: %s",
		      next_cases[_i].expr, err);
	int64_t got = tr_schedule_next(&s, utc(next_cases[_i].from));
	int64_t want = *next_cases[_i].next ? utc(next_cases[_i].next) : -1;
	ck_assert_msg(got == want, "%s from %s: got %lld, want %lld", next_cases[_i].expr, next_cases[_i].from,
		      (long long)got, (long long)want);
}
END_TEST

/* invalid expression, text the error must contain */
static const struct { const char *expr, *msg; } bad_cases[] = {
	{ "", "expected 5 cron fields" },
	{ "* * * *", "expected 5 cron fields" },
	{ "* * * * * *", "expected 5 cron fields" },
	{ "60 * * * *", "minute \"60\" is out of range 0-59" },
	{ "* 24 * * *", "hour \"24\" is out of range" },
	{ "* * 0 * *", "day of month \"0\" is out of range 1-31" },
	{ "* * * 13 *", "month \"13\" is out of range" },
	{ "* * * * 8", "day of week \"8\" is out of range 0-7" },
	{ "*/0 * * * *", "minute \"*/0\" is not valid" },
	{ "5-1 * * * *", "out of range" },
	{ "a * * * *", "minute \"a\" is not valid" },
	{ "* * * FOO *", "month \"FOO\" is not valid" },
	{ "1,,2 * * * *", "not valid" },
	{ "@fortnightly", "expected 5 cron fields" },
	{ "0d", "expected 5 cron fields" },
	{ "7x", "expected 5 cron fields" },
	{ "0 0 31 2 *", "never fires" },      /* no 31 February */
	{ "0 0 30 2 *", "never fires" },
	{ "0 0 31 4,6,9,11 *", "never fires" },
};

START_TEST(invalid_expressions)
{
	tr_schedule s;
	char err[256] = "";
	ck_assert_int_eq(tr_schedule_parse(bad_cases[_i].expr, &s, err, sizeof err), -1);
	ck_assert_msg(strstr(err, bad_cases[_i].msg) != NULL, "\"%s\": error \"%s\" lacks \"%s\"", bad_cases[_i].expr,
		      err, bad_cases[_i].msg);
}
END_TEST

START_TEST(due_decisions)
{
	tr_schedule s;
	char err[256], why[256];
	ck_assert_int_eq(tr_schedule_parse("7d", &s, err, sizeof err), 0);
	ck_assert_int_eq(tr_schedule_due(&s, 0, utc("2026-11-26 10:00"), why, sizeof why), 1);
	ck_assert_ptr_nonnull(strstr(why, "no backup"));
	ck_assert_int_eq(tr_schedule_due(&s, utc("2026-11-20 10:00"), utc("2026-11-26 10:00"), why, sizeof why), 0);
	ck_assert_ptr_nonnull(strstr(why, "not due until 2026-11-27 10:00"));
	ck_assert_int_eq(tr_schedule_due(&s, utc("2026-11-19 10:00"), utc("2026-11-26 10:00"), why, sizeof why), 1);
	ck_assert_int_eq(tr_schedule_parse("0 3 * * *", &s, err, sizeof err), 0);
	/* last backup before today's 03:00 firing: due after 03:00 */
	ck_assert_int_eq(tr_schedule_due(&s, utc("2026-11-25 03:10"), utc("2026-11-26 02:59"), why, sizeof why), 0);
	ck_assert_int_eq(tr_schedule_due(&s, utc("2026-11-25 03:10"), utc("2026-11-26 03:00"), why, sizeof why), 1);
	ck_assert_ptr_nonnull(strstr(why, "due since 2026-11-26 03:00"));
}
END_TEST

int main(void)
{
	Suite *su = suite_create("schedule");
	TCase *t = tcase_create("cron");
	tcase_add_loop_test(t, next_firing, 0, sizeof next_cases / sizeof next_cases[0]);
	tcase_add_loop_test(t, invalid_expressions, 0, sizeof bad_cases / sizeof bad_cases[0]);
	tcase_add_test(t, due_decisions);
	suite_add_tcase(su, t);
	SRunner *sr = srunner_create(su);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
