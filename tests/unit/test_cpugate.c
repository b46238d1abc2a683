/* test_cpugate.c - the gate that keeps CPU work to `parallel` threads
 * while more transfers are in flight: never more holders than slots, every
 * thread gets through, and a slot's scratch is its own and kept. */
#include "config.h"
#include <check.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "format/cpugate.h"

#define THREADS 16
#define ROUNDS 200

struct shared {
	tr_cpugate *g;
	pthread_mutex_t mu;
	int inside, max_inside, done;
	int bad_scratch;
};

static void *worker(void *arg)
{
	struct shared *s = arg;
	for (int i = 0; i < ROUNDS; i++) {
		tr_cpuslot *slot = tr_cpugate_enter(s->g);
		pthread_mutex_lock(&s->mu);
		if (++s->inside > s->max_inside)
			s->max_inside = s->inside;
		pthread_mutex_unlock(&s->mu);
		tr_enc_scratch *a = tr_cpuslot_scratch(slot), *b = tr_cpuslot_scratch(slot);
		if (!a || a != b)
			s->bad_scratch = 1;
		usleep(50);
		pthread_mutex_lock(&s->mu);
		s->inside--;
		pthread_mutex_unlock(&s->mu);
		tr_cpugate_leave(s->g, slot);
	}
	pthread_mutex_lock(&s->mu);
	s->done++;
	pthread_mutex_unlock(&s->mu);
	return NULL;
}

static void run_gate(int slots)
{
	struct shared s = { tr_cpugate_new(slots), PTHREAD_MUTEX_INITIALIZER, 0, 0, 0, 0 };
	pthread_t t[THREADS];
	ck_assert_ptr_nonnull(s.g);
	ck_assert_int_eq(tr_cpugate_slots(s.g), slots);
	for (int i = 0; i < THREADS; i++)
		ck_assert_int_eq(pthread_create(&t[i], NULL, worker, &s), 0);
	for (int i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	ck_assert_int_eq(s.done, THREADS);
	ck_assert_int_le(s.max_inside, slots);
	ck_assert_int_ge(s.max_inside, 1);
	ck_assert_int_le(tr_cpugate_peak(s.g), slots);
	ck_assert_int_eq(s.bad_scratch, 0);
	tr_cpugate_free(s.g);
}

START_TEST(test_two_slots)
{
	run_gate(2);
}
END_TEST

START_TEST(test_one_slot)
{
	run_gate(1);
}
END_TEST

/* Two slots are two holders at once, and the slot given back is the one
 * taken next (its scratch is warm). */
START_TEST(test_slots_are_used)
{
	tr_cpugate *g = tr_cpugate_new(2);
	tr_cpuslot *a = tr_cpugate_enter(g), *b = tr_cpugate_enter(g);
	ck_assert_ptr_ne(a, b);
	ck_assert_int_eq(tr_cpugate_peak(g), 2);
	tr_cpugate_leave(g, a);
	tr_cpuslot *c = tr_cpugate_enter(g);
	ck_assert_ptr_eq(c, a);
	tr_cpugate_leave(g, b);
	tr_cpugate_leave(g, c);
	tr_cpugate_free(g);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("cpugate");
	TCase *tc = tcase_create("gate");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_two_slots);
	tcase_add_test(tc, test_one_slot);
	tcase_add_test(tc, test_slots_are_used);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
