/* drv_util.c - see drv_util.h. */
#include "config.h"
#include "drv_util.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void curl_init_once(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

CURL *drv_curl_handle(void)
{
	pthread_once(&curl_once, curl_init_once);
	return curl_easy_init();
}

double drv_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

void drv_sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

uint64_t drv_seed(const void *salt)
{
	uint64_t s = 0;
	int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		if (read(fd, &s, sizeof s) != (ssize_t)sizeof s)
			s = 0;
		close(fd);
	}
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	s ^= (uint64_t)ts.tv_nsec ^ ((uint64_t)getpid() << 32) ^ (uint64_t)(uintptr_t)salt;
	return s ? s : 0x9E3779B97F4A7C15ULL;
}

uint64_t drv_random(uint64_t *state)
{
	uint64_t x = *state;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*state = x;
	return x * 0x2545F4914F6CDD1DULL;
}

long drv_backoff_ms(uint64_t *state, int attempt, long base_ms, long cap_ms)
{
	long ceiling = base_ms;
	for (int i = 0; i < attempt && ceiling < cap_ms; i++)
		ceiling *= 2;
	if (ceiling > cap_ms)
		ceiling = cap_ms;
	return (long)(drv_random(state) % (uint64_t)(ceiling + 1));
}

int drv_number(const char *driver, const char *name, const char *value, long long def,
	       long long min, long long max, long long *out, char *err, size_t errlen)
{
	char *end;
	*out = def;
	if (!value)
		return 0;
	errno = 0;
	long long n = strtoll(value, &end, 10);
	if (errno || *end || end == value || n < min || n > max) {
		snprintf(err, errlen, "%s: setting %s: \"%s\" is not a number between %lld and %lld", driver,
			 name, value, min, max);
		return -1;
	}
	*out = n;
	return 0;
}

void drv_make_private_dirs(const char *dir)
{
	char buf[4096];
	snprintf(buf, sizeof buf, "%s", dir);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		(void)mkdir(buf, 0700);
		*p = '/';
	}
	(void)mkdir(buf, 0700);
}
