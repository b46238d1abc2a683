/* testhook.c - crash, failure and pause points for the tests (see testhook.h). */
#include "config.h"
#include "base/testhook.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <fcntl.h>
#include <unistd.h>

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

static long long truncate_at = -2;  /* -2: not read yet, -1: no hook */
static int truncated;

void tr_testhook_truncate(int fd, uint64_t pos)
{
	if (__atomic_load_n(&truncate_at, __ATOMIC_ACQUIRE) == -2) {
		const char *v = getenv("TOTALRECALL_TEST_TRUNCATE_AT");
		char *end;
		long long n = v ? strtoll(v, &end, 10) : -1;
		__atomic_store_n(&truncate_at, v && *v && !*end && n >= 0 ? n : -1, __ATOMIC_RELEASE);
	}
	long long at = __atomic_load_n(&truncate_at, __ATOMIC_ACQUIRE);
	if (at < 0 || pos < (uint64_t)at || __atomic_exchange_n(&truncated, 1, __ATOMIC_ACQ_REL))
		return;
	char self[64];
	snprintf(self, sizeof self, "/proc/self/fd/%d", fd);
	int w = open(self, O_WRONLY | O_CLOEXEC);
	if (w >= 0) {
		if (ftruncate(w, (off_t)at) == 0)
			fprintf(stderr, "test hook: truncated the file to %lld bytes\n", at);
		close(w);
	}
}

/* The count after "<point>:" when the variable names this point, else 0. */
static long hook_arg(const char *var, const char *point, const char **rest)
{
	const char *v = getenv(var);
	size_t n = strlen(point);
	if (!v || strncmp(v, point, n) != 0 || v[n] != ':')
		return 0;
	*rest = v + n + 1;
	return 1;
}

int tr_testhook_fail(const char *point)
{
	static long calls;
	const char *rest;
	if (!hook_arg("TOTALRECALL_TEST_FAIL", point, &rest))
		return 0;
	long n = __atomic_add_fetch(&calls, 1, __ATOMIC_RELAXED);
	return n == strtol(rest, NULL, 10);
}

void tr_testhook_pause(const char *point)
{
	const char *path;
	char name[4096];
	if (!hook_arg("TOTALRECALL_TEST_PAUSE", point, &path))
		return;
	snprintf(name, sizeof name, "%s.reached", path);
	int fd = open(name, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	if (fd >= 0)
		close(fd);
	snprintf(name, sizeof name, "%s.go", path);
	for (int i = 0; i < 3000 && access(name, F_OK) != 0; i++) {
		struct timespec ts = { 0, 100 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
}
