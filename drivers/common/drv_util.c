/* drv_util.c - see drv_util.h. */
#include "config.h"
#include "drv_util.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

void drv_log(const tr_driver_env *env, int level, const char *fmt, ...)
{
	char msg[2048];
	va_list ap;
	if (!env->log)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	env->log(env->ctx, level, msg);
}

int drv_fail(char *err, size_t errlen, int status, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return status;
}

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

int drv_make_private_dirs(const char *dir)
{
	char buf[4096];
	if (snprintf(buf, sizeof buf, "%s", dir) >= (int)sizeof buf) {
		errno = ENAMETOOLONG;
		return -1;
	}
	for (char *p = buf + 1;; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char saved = *p;
		*p = '\0';
		if (mkdir(buf, 0700) != 0 && errno != EEXIST)
			return -1;
		*p = saved;
		if (!saved)
			return 0;
	}
}

static int write_all(int fd, const char *data, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, data, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		data += n;
		len -= (size_t)n;
	}
	return 0;
}

int drv_write_file_at(int dirfd, const char *name, const void *data, size_t len)
{
	char tmp[512];
	uint64_t rng = drv_seed(name);
	if ((size_t)snprintf(tmp, sizeof tmp, ".%.200s.%ld.%08llx.tmp", name, (long)getpid(),
			     (unsigned long long)(drv_random(&rng) & 0xffffffffu)) >= sizeof tmp) {
		errno = ENAMETOOLONG;
		return -1;
	}
	int fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	int ok = write_all(fd, data, len) == 0 && fsync(fd) == 0;
	int saved = errno;
	if (close(fd) != 0 && ok) {
		ok = 0;
		saved = errno;
	}
	if (ok && renameat(dirfd, tmp, dirfd, name) == 0)
		return fsync(dirfd);
	if (ok)
		saved = errno;  /* the rename failed */
	unlinkat(dirfd, tmp, 0);
	errno = saved;
	return -1;
}

int drv_write_file(const char *path, const void *data, size_t len)
{
	char dir[4096];
	const char *slash = strrchr(path, '/');
	if (!slash)
		snprintf(dir, sizeof dir, ".");
	else
		snprintf(dir, sizeof dir, "%.*s", slash == path ? 1 : (int)(slash - path), path);
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return -1;
	int rc = drv_write_file_at(dfd, slash ? slash + 1 : path, data, len);
	int saved = errno;
	close(dfd);
	errno = saved;
	return rc;
}
