/* testhook.c - kill after N storage operations (see testhook.h). */
#include "config.h"
#include "testhook.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

static long kill_after = -1;   /* -1: no hook */
static long ops;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void report(void)
{
	fprintf(stderr, "test hook: %ld storage operations\n", __atomic_load_n(&ops, __ATOMIC_RELAXED));
}

static void init(void)
{
	const char *v = getenv("TOTALRECALL_TEST_KILL_AFTER_OPS");
	char *end;
	long n = v ? strtol(v, &end, 10) : -1;
	if (v && *v && !*end && n >= 0) {
		kill_after = n;
		atexit(report);
	}
}

void tr_testhook_op(void)
{
	pthread_once(&once, init);
	long n = __atomic_fetch_add(&ops, 1, __ATOMIC_RELAXED);
	if (kill_after >= 0 && n >= kill_after)
		raise(SIGKILL);
}
