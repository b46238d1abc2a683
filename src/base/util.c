/* util.c - small helpers shared by the core. */
#include "config.h"
#include "base/util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

void tr_hex(const uint8_t *in, size_t len, char *out)
{
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < len; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * len] = '\0';
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9') return c - '0';
	if (c >= 'a' && c <= 'f') return c - 'a' + 10;
	if (c >= 'A' && c <= 'F') return c - 'A' + 10;
	return -1;
}

int tr_unhex(const char *in, uint8_t *out, size_t outlen)
{
	if (strlen(in) != 2 * outlen)
		return -1;
	for (size_t i = 0; i < outlen; i++) {
		int hi = hexval(in[2 * i]), lo = hexval(in[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return -1;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

int tr_ct_memeq(const void *a, const void *b, size_t n)
{
	const volatile uint8_t *x = a, *y = b;
	uint8_t d = 0;
	for (size_t i = 0; i < n; i++)
		d |= (uint8_t)(x[i] ^ y[i]);
	return d == 0;
}

/* What read(), write() and getrandom() share: a call that may do part
 * of the work, or be interrupted.  n bytes at buf, or -1 with errno. */
typedef ssize_t (*part_fn)(void *ctx, void *buf, size_t n);

/* Repeats fn until len bytes are done, retrying EINTR; stops early when fn
 * does nothing (the end of a file).  The bytes done, or -1 with errno. */
static ssize_t all_of(part_fn fn, void *ctx, void *buf, size_t len)
{
	size_t done = 0;
	while (done < len) {
		ssize_t n = fn(ctx, (char *)buf + done, len - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0)
			break;
		done += (size_t)n;
	}
	return (ssize_t)done;
}

static ssize_t read_part(void *fd, void *buf, size_t n) { return read(*(int *)fd, buf, n); }
static ssize_t write_part(void *fd, void *buf, size_t n) { return write(*(int *)fd, buf, n); }
static ssize_t random_part(void *ctx, void *buf, size_t n) { (void)ctx; return getrandom(buf, n, 0); }

ssize_t tr_read_full(int fd, void *buf, size_t len)
{
	return all_of(read_part, &fd, buf, len);
}

int tr_write_full(int fd, const void *buf, size_t len)
{
	ssize_t n = all_of(write_part, &fd, (void *)buf, len);
	if (n >= 0 && (size_t)n < len)
		errno = EIO;  /* write() returned 0: no progress */
	return n >= 0 && (size_t)n == len ? 0 : -1;
}

int tr_fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	int rc = fsync(fd);
	int saved = errno;
	close(fd);
	errno = saved;
	return rc;
}

void tr_dirname(const char *path, char *out, size_t outlen)
{
	const char *slash = strrchr(path, '/');
	if (!slash)
		snprintf(out, outlen, ".");
	else if (slash == path)
		snprintf(out, outlen, "/");
	else
		snprintf(out, outlen, "%.*s", (int)(slash - path), path);
}

const char *tr_basename(const char *path)
{
	const char *slash = strrchr(path, '/');
	return slash ? slash + 1 : path;
}

int tr_mkdirs(const char *path, mode_t mode)
{
	char buf[4096];
	if (tr_strlcpy(buf, path, sizeof buf) != 0) {
		errno = ENAMETOOLONG;
		return -1;
	}
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, mode) != 0 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	if (mkdir(buf, mode) != 0 && errno != EEXIST)
		return -1;
	return 0;
}

double tr_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int tr_strlcpy(char *out, const char *in, size_t outlen)
{
	size_t n = strlen(in);
	if (outlen == 0)
		return -1;
	if (n >= outlen) {
		memcpy(out, in, outlen - 1);
		out[outlen - 1] = '\0';
		return -1;
	}
	memcpy(out, in, n + 1);
	return 0;
}

int tr_open_regular(const char *path, int flags)
{
	struct stat st;
	int fd = open(path, flags | O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return -1;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		int e = S_ISDIR(st.st_mode) ? EISDIR : TR_ENOTREG;
		close(fd);
		errno = e;
		return -1;
	}
	/* Regular files never block; later reads need no special care. */
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	return fd;
}

const char *tr_strerror(int e)
{
	return e == TR_ENOTREG ? "not a regular file" : strerror(e);
}

int tr_read_small_file(const char *path, size_t max, char **out, size_t *len)
{
	int fd = tr_open_regular(path, 0);
	if (fd < 0)
		return -1;
	char *buf = malloc(max + 1);
	if (!buf) {
		close(fd);
		errno = ENOMEM;
		return -1;
	}
	ssize_t n = tr_read_full(fd, buf, max + 1);
	int saved = errno;
	close(fd);
	if (n < 0 || (size_t)n > max) {
		free(buf);
		errno = n < 0 ? saved : E2BIG;
		return -1;
	}
	buf[n] = '\0';
	*out = buf;
	if (len)
		*len = (size_t)n;
	return 0;
}

int tr_random(void *buf, size_t len)
{
	return all_of(random_part, NULL, buf, len) == (ssize_t)len ? 0 : -1;
}

ssize_t tr_mem_read(void *ctx, void *buf, size_t len)
{
	tr_membuf *m = ctx;
	size_t n = m->len - m->pos < len ? m->len - m->pos : len;
	memcpy(buf, (const char *)m->data + m->pos, n);
	m->pos += n;
	return (ssize_t)n;
}

int tr_mem_write(void *ctx, const void *buf, size_t len)
{
	tr_membuf *m = ctx;
	if (m->len + len > m->cap)
		return -1;
	memcpy((char *)m->data + m->len, buf, len);
	m->len += len;
	return 0;
}

void tr_no_core_dumps(void)
{
	struct rlimit rl = { 0, 0 };
	setrlimit(RLIMIT_CORE, &rl);
}
