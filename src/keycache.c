/* keycache.c - local cache of an unlocked keyring (see keycache.h). */
#include "config.h"
#include "keycache.h"
#include "util.h"

#include <bearssl.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CACHE_MAGIC "totalrecall-keycache 1\n"

int tr_keycache_path(const char *state_dir, const char *repo_hash, char *out, size_t outlen)
{
	return snprintf(out, outlen, "%s/keys/%s.key", state_dir, repo_hash) < (int)outlen ? 0 : -1;
}

/* HMAC-SHA256(salt, label | passphrase): ties an entry to the passphrase
 * that unlocked it, so a changed TOTALRECALL_ENCRYPTION_KEY is noticed. */
static void verifier(const tr_keyring *ring, const char *passphrase, char hex[65])
{
	br_hmac_key_context kc;
	br_hmac_context hc;
	uint8_t mac[32];
	static const char label[] = "totalrecall keycache verifier";
	br_hmac_key_init(&kc, &br_sha256_vtable, ring->salt, sizeof ring->salt);
	br_hmac_init(&hc, &kc, 0);
	br_hmac_update(&hc, label, sizeof label);
	br_hmac_update(&hc, passphrase, strlen(passphrase));
	br_hmac_out(&hc, mac);
	tr_hex(mac, 32, hex);
}

/* Splits "verifier HEX\nkek HEX\n<keyring text>". */
static int parse_entry(char *buf, size_t len, const char *passphrase, tr_keyring *ring, uint8_t kek[32])
{
	char want[65], *ver, *kekhex, *rest;
	char err[128];
	if (strncmp(buf, CACHE_MAGIC, strlen(CACHE_MAGIC)) != 0)
		return -1;
	ver = buf + strlen(CACHE_MAGIC);
	if (strncmp(ver, "verifier ", 9) != 0 || !(kekhex = strchr(ver, '\n')))
		return -1;
	*kekhex++ = '\0';
	if (strncmp(kekhex, "kek ", 4) != 0 || !(rest = strchr(kekhex, '\n')))
		return -1;
	*rest++ = '\0';
	if (tr_keyring_parse(rest, len - (size_t)(rest - buf), ring, err, sizeof err) != 0)
		return -1;
	verifier(ring, passphrase, want);
	if (strcmp(ver + 9, want) != 0 || tr_unhex(kekhex + 4, kek, 32) != 0)
		return -1;
	return 0;
}

int tr_keycache_load(const char *path, const char *passphrase, tr_keyring *ring,
		     uint8_t kek[32], time_t *age)
{
	struct stat st;
	char *buf;
	size_t len;
	if (stat(path, &st) != 0 || tr_read_small_file(path, 4096, &buf, &len) != 0)
		return -1;
	int rc = parse_entry(buf, len, passphrase, ring, kek);
	explicit_bzero(buf, len);
	free(buf);
	*age = time(NULL) - st.st_mtime;
	return rc;
}

int tr_keycache_store(const char *path, const char *passphrase, const tr_keyring *ring,
		      const uint8_t kek[32])
{
	char dir[4096], tmp[4200], ver[65], kekhex[65], body[2048];
	tr_dirname(path, dir, sizeof dir);
	if (tr_mkdirs(dir, 0700) != 0)
		return -1;
	int n = snprintf(body, sizeof body, CACHE_MAGIC "verifier ");
	verifier(ring, passphrase, ver);
	tr_hex(kek, 32, kekhex);
	n += snprintf(body + n, sizeof body - (size_t)n, "%s\nkek %s\n", ver, kekhex);
	int k = tr_keyring_format(ring, body + n, sizeof body - (size_t)n);
	if (k < 0)
		return -1;
	snprintf(tmp, sizeof tmp, "%s.%ld.tmp", path, (long)getpid());
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	int rc = -1;
	if (fd >= 0) {
		rc = tr_write_full(fd, body, (size_t)(n + k)) == 0 && fsync(fd) == 0 ? 0 : -1;
		close(fd);
		if (rc == 0)
			rc = rename(tmp, path);
		if (rc != 0)
			unlink(tmp);
	}
	explicit_bzero(body, sizeof body);
	explicit_bzero(kekhex, sizeof kekhex);
	return rc;
}


/* The time of the last check is the mtime of "<path>.checked". */
static int checked_path(const char *path, char *out, size_t outlen)
{
	return snprintf(out, outlen, "%s.checked", path) < (int)outlen ? 0 : -1;
}

int tr_keycache_checked_recently(const char *path)
{
	char p[4096];
	struct stat st;
	if (checked_path(path, p, sizeof p) != 0 || stat(p, &st) != 0)
		return 0;
	time_t now = time(NULL);
	return st.st_mtime <= now && now - st.st_mtime < TR_KEYCACHE_CHECK_AGE;
}

void tr_keycache_forget(const char *path)
{
	char p[4096];
	unlink(path);
	if (checked_path(path, p, sizeof p) == 0)
		unlink(p);
}

void tr_keycache_mark_checked(const char *path)
{
	char p[4096];
	if (checked_path(path, p, sizeof p) != 0)
		return;
	int fd = open(p, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return;  /* the next command checks again: only slower */
	futimens(fd, NULL);
	close(fd);
}
