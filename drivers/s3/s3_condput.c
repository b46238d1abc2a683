/* s3_condput.c - does the server honour If-None-Match: * on PUT?  AWS S3
 * and MinIO do; some S3-compatible servers ignore it (and overwrite) or
 * answer 501.  With s3-conditional-put=auto the driver finds out once,
 * with a throwaway key, never with real data, and remembers the answer
 * in state-dir (one file per endpoint and bucket). */
#include "config.h"
#include "s3_upload.h"
#include "s3_http.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PROBE_PREFIX ".totalrecall-probe/"

/* state-dir/s3-conditional-put-<hash of endpoint and bucket>, or "". */
static void cache_path(tr_conn *c, char *out, size_t len)
{
	char id[TR_KEY_MAX + 512], hash[65];
	out[0] = '\0';
	if (!c->conf.state_dir)
		return;
	snprintf(id, sizeof id, "%s://%s\n%s", c->conf.scheme, c->conf.endpoint_host, c->conf.bucket);
	s3_sha256_hex(id, strlen(id), hash);
	snprintf(out, len, "%s/s3-conditional-put-%.32s", c->conf.state_dir, hash);
}

static enum s3_condput_state cache_read(tr_conn *c)
{
	char path[4096], buf[32] = "";
	cache_path(c, path, sizeof path);
	FILE *f = path[0] ? fopen(path, "r") : NULL;
	if (!f)
		return S3_COND_UNKNOWN;
	if (!fgets(buf, sizeof buf, f))
		buf[0] = '\0';
	fclose(f);
	if (strncmp(buf, "honoured", 8) == 0)
		return S3_COND_HONOURED;
	if (strncmp(buf, "ignored", 7) == 0)
		return S3_COND_IGNORED;
	return S3_COND_UNKNOWN;
}

/* mkdir -p, mode 0700: the first command on a host may run before
 * anything made state-dir (private: it also holds the key cache). */
static void make_private_dirs(const char *dir)
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

/* Written to a temporary file and renamed, so readers never see half. */
static void cache_write(tr_conn *c, enum s3_condput_state st)
{
	char path[4096], tmp[4200];
	cache_path(c, path, sizeof path);
	if (!path[0])
		return;
	snprintf(tmp, sizeof tmp, "%s.%ld.tmp", path, (long)getpid());
	make_private_dirs(c->conf.state_dir);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0) {
		s3_log(c, 1, "%s: cannot write %s; the probe will run again next time", S3_DRIVER_NAME, tmp);
		return;
	}
	const char *text = st == S3_COND_HONOURED ? "honoured\n" : "ignored\n";
	int ok = write(fd, text, strlen(text)) == (ssize_t)strlen(text);
	ok = close(fd) == 0 && ok;
	if (!ok || rename(tmp, path) != 0)
		unlink(tmp);
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

/* PUT a fresh key, then PUT it again with If-None-Match: *.  412 means
 * honoured; 2xx (overwritten) or 501 means ignored. */
static int probe(tr_conn *c)
{
	char key[64];
	long status;
	snprintf(key, sizeof key, PROBE_PREFIX "%016llx%08llx", (unsigned long long)s3_random(c),
		 (unsigned long long)(s3_random(c) & 0xffffffffu));
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

void s3_condput_mark_ignored(tr_conn *c)
{
	c->cond_state = S3_COND_IGNORED;
	if (c->conf.condput == S3_CONDPUT_AUTO)
		cache_write(c, S3_COND_IGNORED);
	warn_fallback(c);
}

int s3_condput_check_absent(tr_conn *c, const char *key)
{
	s3_request req = { .method = "HEAD", .key = key };
	s3_response resp;
	int rc = s3_http_do(c, &req, &resp);
	s3_response_free(&resp);
	if (rc == TR_OK)
		return s3_fail(c, TR_EEXIST, "%s: PUT s3://%s/%s: the key already exists",
			       S3_DRIVER_NAME, c->conf.bucket, key);
	return rc == TR_ENOTFOUND ? TR_OK : rc;
}
