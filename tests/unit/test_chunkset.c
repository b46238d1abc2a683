/* test_chunkset.c - the ids a backup stored lately: claim and done,
 * waiting on a chunk another worker is storing, a failed store, and the
 * first-in first-out bound. */
#include "config.h"
#include <check.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/chunkset.h"

static void id_of(int n, char out[72])
{
	snprintf(out, 72, "%064x", n);
}

START_TEST(test_claim_then_known)
{
	tr_chunkset *s = tr_chunkset_new();
	uint64_t stored = 0;
	char id[72];
	id_of(1, id);
	ck_assert_int_eq(tr_chunkset_claim(s, id, &stored), 0);
	tr_chunkset_done(s, id, 1, 1234);
	ck_assert_int_eq(tr_chunkset_claim(s, id, &stored), 1);
	ck_assert_uint_eq(stored, 1234);
	tr_chunkset_free(s);
}
END_TEST

START_TEST(test_failed_store_is_claimed_again)
{
	tr_chunkset *s = tr_chunkset_new();
	uint64_t stored = 0;
	char id[72];
	id_of(2, id);
	ck_assert_int_eq(tr_chunkset_claim(s, id, &stored), 0);
	tr_chunkset_done(s, id, 0, 0);
	ck_assert_int_eq(tr_chunkset_claim(s, id, &stored), 0);
	tr_chunkset_done(s, id, 1, 7);
	ck_assert_int_eq(tr_chunkset_claim(s, id, &stored), 1);
	ck_assert_uint_eq(stored, 7);
	tr_chunkset_free(s);
}
END_TEST

struct waiter {
	tr_chunkset *s;
	const char *id;
	int known;
	uint64_t stored;
};

static void *wait_claim(void *arg)
{
	struct waiter *w = arg;
	w->known = tr_chunkset_claim(w->s, w->id, &w->stored);
	return NULL;
}

START_TEST(test_waits_for_the_storing_worker)
{
	tr_chunkset *s = tr_chunkset_new();
	uint64_t stored = 0;
	char id[72];
	id_of(3, id);
	ck_assert_int_eq(tr_chunkset_claim(s, id, &stored), 0);
	struct waiter w = { s, id, -1, 0 };
	pthread_t t;
	ck_assert_int_eq(pthread_create(&t, NULL, wait_claim, &w), 0);
	/* Whether the thread waits already or claims after this, it must see
	 * the chunk as stored with its size: never claim it itself. */
	tr_chunkset_done(s, id, 1, 99);
	pthread_join(t, NULL);
	ck_assert_int_eq(w.known, 1);
	ck_assert_uint_eq(w.stored, 99);
	tr_chunkset_free(s);
}
END_TEST

START_TEST(test_keeps_the_last_ids)
{
	tr_chunkset *s = tr_chunkset_new();
	uint64_t stored = 0;
	char id[72];
	int n = TR_CHUNKSET_SLOTS + 10;
	for (int i = 0; i < n; i++) {
		id_of(1000 + i, id);
		ck_assert_int_eq(tr_chunkset_claim(s, id, &stored), 0);
		tr_chunkset_done(s, id, 1, (uint64_t)i);
	}
	/* The newest TR_CHUNKSET_SLOTS are known, the first 10 forgotten. */
	for (int i = n - 1; i >= 10; i--) {
		id_of(1000 + i, id);
		ck_assert_int_eq(tr_chunkset_claim(s, id, &stored), 1);
		ck_assert_uint_eq(stored, (uint64_t)i);
	}
	id_of(1000, id);
	ck_assert_int_eq(tr_chunkset_claim(s, id, &stored), 0);
	/* A NULL set knows nothing and forgets quietly. */
	ck_assert_int_eq(tr_chunkset_claim(NULL, id, &stored), 0);
	tr_chunkset_done(NULL, id, 1, 1);
	tr_chunkset_free(s);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("chunkset");
	TCase *tc = tcase_create("ids");
	tcase_add_test(tc, test_claim_then_known);
	tcase_add_test(tc, test_failed_store_is_claimed_again);
	tcase_add_test(tc, test_waits_for_the_storing_worker);
	tcase_add_test(tc, test_keeps_the_last_ids);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
