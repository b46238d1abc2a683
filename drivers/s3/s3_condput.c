/* s3_condput.c - does the server honour If-None-Match: * on PUT?  AWS S3
 * and MinIO do; some S3-compatible servers ignore it (and overwrite) or
 * answer 501.  With s3-conditional-put=auto the driver finds out with a
 * throwaway key under the storage prefix (".totalrecall-probe/<random>":
 * a user whose policy covers only the prefix can write it), never with
 * real data, and remembers the answer in state-dir for a day (one file
 * per endpoint and bucket).  Once a day is up, it asks again.
 *
 * While the answer is "ignored", puts still carry If-None-Match besides
 * the HEAD-then-PUT fallback: a server that answers 412 did honour it, and
 * is believed (the key exists; the answer becomes "honoured").
 *
 * state-dir must be a directory of ours that nobody else can write; the
 * cache file is written whole (drv_util.h: drv_write_file_at). */
#include "config.h"
#include "s3_upload.h"
#include "s3_http.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define PROBE_DIR ".totalrecall-probe/"
#define CACHE_MAX_AGE 86400

/* "s3-conditional-put-<hash of endpoint and bucket>" */
static void cache_name(tr_conn *c, char *out, size_t len)
{
	char id[TR_KEY_MAX + 512], hash[65];
	snprintf(id, sizeof id, "%s://%s\n%s", c->conf.scheme, c->conf.endpoint_host, c->conf.bucket);
	s3_sha256_hex(id, strlen(id), hash);
	snprintf(out, len, "s3-conditional-put-%.32s", hash);
}

/* state-dir, opened without following a link, if it is ours and nobody
 * else can write it; -1 otherwise (the answer is then not cached). */
static int open_state_dir(tr_conn *c, int create)
{
	struct stat st;
	if (!c->conf.state_dir)
		return -1;
	if (create)  /* the first command on a host may run before anything made it */
		(void)drv_make_private_dirs(c->conf.state_dir);
	int fd = open(c->conf.state_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -1;
	if (fstat(fd, &st) != 0 || st.st_uid != geteuid() || (st.st_mode & 022)) {
		s3_log(c, 1, "%s: %s is not a directory of this user that only it can write: the conditional-put "
		       "answer is not cached there", S3_DRIVER_NAME, c->conf.state_dir);
		close(fd);
		return -1;
	}
	return fd;
}

static enum s3_condput_state cache_read(tr_conn *c)
{
	char name[96], buf[64] = "", word[16];
	struct stat st;
	long long when = 0;
	int dfd = open_state_dir(c, 0);
	if (dfd < 0)
		return S3_COND_UNKNOWN;
	cache_name(c, name, sizeof name);
	int fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	close(dfd);
	if (fd < 0)
		return S3_COND_UNKNOWN;
	ssize_t n = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) ? read(fd, buf, sizeof buf - 1) : -1;
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	long long now = (long long)time(NULL);
	if (sscanf(buf, "%15s %lld", word, &when) != 2 || when > now || now - when >= CACHE_MAX_AGE)
		return S3_COND_UNKNOWN;  /* a day old, from the future, or unreadable: ask again */
	if (strcmp(word, "honoured") == 0)
		return S3_COND_HONOURED;
	if (strcmp(word, "ignored") == 0)
		return S3_COND_IGNORED;
	return S3_COND_UNKNOWN;
}

static void cache_write(tr_conn *c, enum s3_condput_state st)
{
	char name[96], text[64];
	int dfd = open_state_dir(c, 1);
	if (dfd < 0)
		return;
	cache_name(c, name, sizeof name);
	snprintf(text, sizeof text, "%s %lld\n", st == S3_COND_HONOURED ? "honoured" : "ignored",
		 (long long)time(NULL));
	if (drv_write_file_at(dfd, name, text, strlen(text)) != 0)
		s3_log(c, 1, "%s: cannot write %s/%s; the probe will run again next time", S3_DRIVER_NAME,
		       c->conf.state_dir, name);
	close(dfd);
}

static int probe_put(tr_conn *c, const char *key, int conditional, long *status)
{
	static const char body[] = "totalrecall conditional-put probe\n";
	s3_request req = { .method = "PUT", .key = key, .body = body, .body_len = sizeof body - 1 };
	s3_response resp;
	if (conditional)
		s3_request_header(&req, "If-None-Match", "*");
	int rc = s3_http_do(c, &req, &resp);
	*status = resp.status;
	s3_response_free(&resp);
	return rc;
}

static void probe_delete(tr_conn *c, const char *key)
{
	char saved[sizeof c->err];
	s3_request req = { .method = "DELETE", .key = key };
	s3_response resp;
	memcpy(saved, c->err, sizeof saved);
	if (s3_http_do(c, &req, &resp) != TR_OK)
		s3_log(c, 1, "%s: could not delete probe s3://%s/%s: %s", S3_DRIVER_NAME,
		       c->conf.bucket, key, c->err);
	s3_response_free(&resp);
	memcpy(c->err, saved, sizeof saved);
}

/* "<storage-prefix>/.totalrecall-probe/<random>": inside the prefix the
 * repositories live under, never at the bucket root when there is one. */
static void probe_key(tr_conn *c, char *out, size_t len)
{
	const char *prefix = c->env.setting ? c->env.setting(c->env.ctx, "storage-prefix") : NULL;
	while (prefix && *prefix == '/')
		prefix++;
	size_t pl = prefix ? strlen(prefix) : 0;
	while (pl && prefix[pl - 1] == '/')
		pl--;
	snprintf(out, len, "%.*s%s" PROBE_DIR "%016llx%08llx", (int)pl, pl ? prefix : "", pl ? "/" : "",
		 (unsigned long long)s3_random(c), (unsigned long long)(s3_random(c) & 0xffffffffu));
}

/* PUT a fresh key, then PUT it again with If-None-Match: *.  412 means
 * honoured; 2xx (overwritten) or 501 means ignored. */
static int probe(tr_conn *c)
{
	char key[TR_KEY_MAX + 64];
	long status;
	probe_key(c, key, sizeof key);
	int rc = probe_put(c, key, 0, &status);
	if (rc != TR_OK)
		return rc;
	rc = probe_put(c, key, 1, &status);
	if (rc == TR_OK || status == 501) {
		c->cond_state = S3_COND_IGNORED;
		rc = TR_OK;
	} else if (status == 412) {
		c->cond_state = S3_COND_HONOURED;
		rc = TR_OK;
	}
	probe_delete(c, key);
	if (rc == TR_OK) {
		s3_log(c, 2, "%s: %s://%s %s If-None-Match", S3_DRIVER_NAME, c->conf.scheme,
		       c->conf.endpoint_host, c->cond_state == S3_COND_HONOURED ? "honours" : "ignores");
		cache_write(c, c->cond_state);
	}
	return rc;
}

static void warn_fallback(tr_conn *c)
{
	if (c->warned_fallback)
		return;
	c->warned_fallback = 1;
	s3_log(c, 1, "%s: %s does not honour If-None-Match; put-if-absent falls back to "
	       "HEAD-then-PUT, which is not atomic against concurrent writers", S3_DRIVER_NAME,
	       c->conf.endpoint_host);
}

int s3_condput_decide(tr_conn *c, int *use)
{
	*use = 0;
	if (c->conf.condput == S3_CONDPUT_ON) {
		*use = 1;
		return TR_OK;
	}
	if (c->conf.condput == S3_CONDPUT_AUTO && c->cond_state == S3_COND_UNKNOWN)
		c->cond_state = cache_read(c);
	if (c->conf.condput == S3_CONDPUT_AUTO && c->cond_state == S3_COND_UNKNOWN) {
		int rc = probe(c);
		if (rc != TR_OK)
			return rc;
	}
	*use = c->conf.condput == S3_CONDPUT_AUTO && c->cond_state == S3_COND_HONOURED;
	if (!*use)
		warn_fallback(c);
	return TR_OK;
}

int s3_condput_also_send(tr_conn *c)
{
	return c->conf.condput == S3_CONDPUT_AUTO && c->cond_state == S3_COND_IGNORED && !c->saw_501;
}

void s3_condput_mark_ignored(tr_conn *c)
{
	c->cond_state = S3_COND_IGNORED;
	c->saw_501 = 1;
	if (c->conf.condput == S3_CONDPUT_AUTO)
		cache_write(c, S3_COND_IGNORED);
	warn_fallback(c);
}

void s3_condput_mark_honoured(tr_conn *c)
{
	if (c->conf.condput != S3_CONDPUT_AUTO || c->cond_state == S3_COND_HONOURED)
		return;
	s3_log(c, 1, "%s: %s answered 412 to If-None-Match although it was recorded as ignoring it: "
	       "believed (the key exists), and recorded as honouring it", S3_DRIVER_NAME, c->conf.endpoint_host);
	c->cond_state = S3_COND_HONOURED;
	cache_write(c, S3_COND_HONOURED);
}

int s3_condput_check_absent(tr_conn *c, const char *key)
{
	int rc = s3_head_object(c, key, NULL);
	if (rc == TR_OK)
		return s3_fail(c, TR_EEXIST, "%s: PUT s3://%s/%s: the key already exists",
			       S3_DRIVER_NAME, c->conf.bucket, key);
	return rc == TR_ENOENT ? TR_OK : rc;
}
