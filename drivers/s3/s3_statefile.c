/* s3_statefile.c - private files in state-dir (see s3_statefile.h),
 * written through drv_util.h's atomic file writer. */
#include "config.h"
#include "s3_statefile.h"
#include "sigv4.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void s3_state_path(const tr_conn *c, const char *name, const char *id, char *out, size_t outlen)
{
	char hash[65];
	out[0] = '\0';
	if (!c->conf.state_dir)
		return;
	s3_sha256_hex(id, strlen(id), hash);
	if ((size_t)snprintf(out, outlen, "%s/%s-%.32s", c->conf.state_dir, name, hash) >= outlen)
		out[0] = '\0';
}

/* Is an open file one we may trust with secrets? */
static int trusted(int fd, char *why, size_t whylen)
{
	struct stat st;
	if (fstat(fd, &st) != 0) {
		snprintf(why, whylen, "cannot stat: %s", strerror(errno));
		return 0;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(why, whylen, "not a regular file");
		return 0;
	}
	if (st.st_uid != geteuid()) {
		snprintf(why, whylen, "owned by uid %u, not by this user (uid %u)", (unsigned)st.st_uid,
			 (unsigned)geteuid());
		return 0;
	}
	if (st.st_mode & 077) {
		snprintf(why, whylen, "mode %04o lets others read or change it (want 0600)",
			 (unsigned)(st.st_mode & 07777));
		return 0;
	}
	return 1;
}

long s3_state_read(const char *path, char *buf, size_t cap, char *why, size_t whylen)
{
	why[0] = '\0';
	if (!path[0] || cap == 0)
		return -1;
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0) {
		if (errno == ELOOP) {
			snprintf(why, whylen, "is a symbolic link");
			return -2;
		}
		return -1;
	}
	if (!trusted(fd, why, whylen)) {
		close(fd);
		return -2;
	}
	size_t len = 0;
	for (;;) {
		ssize_t n = read(fd, buf + len, cap - 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
		if (len == cap - 1) {
			snprintf(why, whylen, "larger than %zu bytes", cap - 1);
			close(fd);
			return -2;
		}
	}
	close(fd);
	buf[len] = '\0';
	return (long)len;
}

int s3_state_write(tr_conn *c, const char *path, const char *data, size_t len, char *why,
		   size_t whylen)
{
	if (!path[0] || !c->conf.state_dir) {
		snprintf(why, whylen, "no state-dir");
		return -1;
	}
	if (drv_make_private_dirs(c->conf.state_dir) != 0) {
		snprintf(why, whylen, "cannot create %s: %s", c->conf.state_dir, strerror(errno));
		return -1;
	}
	if (drv_write_file(path, data, len) != 0) {
		snprintf(why, whylen, "cannot write %s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}
