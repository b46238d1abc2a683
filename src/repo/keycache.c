/* keycache.c - this host's cache of a repository's keys (see keycache.h). */
#include "config.h"
#include "repo/keycache.h"
#include "base/atomicfile.h"
#include "base/statedir.h"
#include "base/util.h"

#include <bearssl.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define KEY_MAGIC "totalrecall-key 1\n"
#define RING_MAGIC "totalrecall-keycache 2\n"
#define RING_FILE "keyring"
#define KEY_FILE_MAX 512

int tr_keycache_open(tr_keycache *kc, const char *state_dir, const char *repo_hash, char *err, size_t errlen)
{
	char sub[64];
	memset(kc, 0, sizeof *kc);
	snprintf(kc->hash, sizeof kc->hash, "%s", repo_hash);
	snprintf(sub, sizeof sub, "keys/%s", repo_hash);
	snprintf(kc->path, sizeof kc->path, "%s/%s", state_dir, sub);
	kc->dirfd = tr_private_dir(state_dir, sub, err, errlen);
	return kc->dirfd < 0 ? -1 : 0;
}

void tr_keycache_close(tr_keycache *kc)
{
	if (kc->dirfd >= 0)
		close(kc->dirfd);
	kc->dirfd = -1;
}

/* Reads a small regular file below the cache directory, never following a
 * link and never blocking on a FIFO. */
static int read_at(tr_keycache *kc, const char *name, size_t max, char **out, size_t *len)
{
	struct stat st;
	int fd = openat(kc->dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return -1;
	char *buf = NULL;
	ssize_t n = -1;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == geteuid() && (buf = malloc(max + 1)))
		n = tr_read_full(fd, buf, max + 1);
	close(fd);
	if (n < 0 || (size_t)n > max) {
		free(buf);
		errno = TR_ENOTREG;  /* there, and not usable: never "absent" */
		return -1;
	}
	buf[n] = '\0';
	*out = buf;
	*len = (size_t)n;
	return 0;
}

static void free_secret(char *buf, size_t len)
{
	if (buf)
		explicit_bzero(buf, len);
	free(buf);
}

/* --- key files --- */

static void key_name(const uint8_t id[8], char out[32])
{
	char hex[17];
	tr_hex(id, 8, hex);
	snprintf(out, 32, "%s.key", hex);
}

/* Parses a key file; the id must be the one the data derives to.  *index
 * is the key's place in the keyring (0: the repository's first key, whose
 * mac and chunk keys the repository keeps), or a large number if unknown. */
static int parse_key(const char *buf, const uint8_t id[8], uint8_t data[32], int64_t *created, int *index)
{
	char idhex[17], datahex[65];
	long long c;
	int n = 0;
	tr_keys probe;
	if (strncmp(buf, KEY_MAGIC, strlen(KEY_MAGIC)) != 0 ||
	    sscanf(buf + strlen(KEY_MAGIC), "key-id %16s\ncreated %lld\ndata %64s\n%n", idhex, &c, datahex, &n) != 3 ||
	    tr_unhex(datahex, data, 32) != 0)
		return -1;
	if (!n || sscanf(buf + strlen(KEY_MAGIC) + n, "index %d", index) != 1)
		*index = TR_KEYS_MAX;
	memset(&probe, 0, sizeof probe);
	memcpy(probe.data, data, 32);
	tr_keys_derive(&probe);
	int ok = memcmp(probe.id, id, 8) == 0;
	tr_keys_wipe(&probe);
	explicit_bzero(datahex, sizeof datahex);
	*created = c;
	return ok ? 0 : -1;
}

/* The key with this id: 0 (data, created, index filled), 1 absent, -1 damaged. */
static int read_key(tr_keycache *kc, const uint8_t id[8], uint8_t data[32], int64_t *created, int *index)
{
	char name[32], *buf;
	size_t len;
	key_name(id, name);
	if (read_at(kc, name, KEY_FILE_MAX, &buf, &len) != 0)
		return errno == ENOENT ? 1 : -1;
	int rc = parse_key(buf, id, data, created, index);
	free_secret(buf, len);
	return rc;
}

int tr_keycache_load_key(tr_keycache *kc, const uint8_t id[8], tr_keys *keys)
{
	uint8_t data[32];
	int64_t created;
	int index;
	int rc = read_key(kc, id, data, &created, &index);
	if (rc == 0 && !tr_keys_find(keys, id))
		rc = tr_keys_add(keys, data, created);
	explicit_bzero(data, sizeof data);
	return rc;
}

static int store_one(tr_keycache *kc, const tr_key_slot *s, int index)
{
	char name[32], damaged[64], idhex[17], datahex[65], body[256];
	tr_keys check;
	memset(&check, 0, sizeof check);
	int have = tr_keycache_load_key(kc, s->id, &check);
	tr_keys_wipe(&check);
	if (have == 0)
		return 0;  /* cached already: never rewritten */
	key_name(s->id, name);
	if (have < 0) {  /* damaged: kept aside for a person to look at */
		snprintf(damaged, sizeof damaged, "%s.damaged", name);
		renameat(kc->dirfd, name, kc->dirfd, damaged);
	}
	tr_hex(s->id, 8, idhex);
	tr_hex(s->data, 32, datahex);
	int n = snprintf(body, sizeof body, KEY_MAGIC "key-id %s\ncreated %" PRId64 "\ndata %s\nindex %d\n", idhex,
			 s->created, datahex, index);
	int rc = tr_atomic_write_file_at(kc->dirfd, name, body, (size_t)n, 0600, TR_ATOMIC_NOREPLACE);
	if (rc != 0 && errno == EEXIST)
		rc = 0;  /* another process cached it meanwhile */
	explicit_bzero(body, sizeof body);
	explicit_bzero(datahex, sizeof datahex);
	return rc;
}

int tr_keycache_store_keys(tr_keycache *kc, const tr_keys *keys)
{
	int rc = 0;
	for (int i = 0; i < keys->nslots; i++)
		if (store_one(kc, &keys->slot[i], i) != 0)
			rc = -1;
	return rc;
}

struct cached_key {
	uint8_t id[8];
	int index;
	int64_t created;
};

/* The keyring's order: its first key first (it gives mac and chunk). */
static int by_order(const void *a, const void *b)
{
	const struct cached_key *x = a, *y = b;
	if (x->index != y->index)
		return x->index < y->index ? -1 : 1;
	return x->created < y->created ? -1 : x->created > y->created;
}

/* The ids, places and times of the cached keys: how many. */
static int list_keys(tr_keycache *kc, struct cached_key *out, int max)
{
	int fd = dup(kc->dirfd), n = 0;
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *e;
	uint8_t data[32];
	if (d)
		rewinddir(d);  /* a dup shares the directory offset of an earlier reading */
	while (d && n < max && (e = readdir(d))) {
		char hex[17];
		if (strlen(e->d_name) != 20 || strcmp(e->d_name + 16, ".key") != 0)
			continue;
		memcpy(hex, e->d_name, 16);
		hex[16] = '\0';
		if (tr_unhex(hex, out[n].id, 8) == 0 &&
		    read_key(kc, out[n].id, data, &out[n].created, &out[n].index) == 0)
			n++;
	}
	explicit_bzero(data, sizeof data);
	if (d)
		closedir(d);
	else if (fd >= 0)
		close(fd);
	return n;
}

int tr_keycache_load_all(tr_keycache *kc, tr_keys *keys)
{
	struct cached_key found[TR_KEYS_MAX];
	int n = list_keys(kc, found, TR_KEYS_MAX);
	memset(keys, 0, sizeof *keys);
	qsort(found, (size_t)n, sizeof found[0], by_order);
	for (int i = 0; i < n; i++)
		tr_keycache_load_key(kc, found[i].id, keys);
	if (keys->nslots)
		tr_keys_set_current(keys, keys->slot[keys->nslots - 1].id);
	return keys->nslots;
}

int tr_keycache_knows(tr_keycache *kc)
{
	tr_keys all;
	int n = tr_keycache_load_all(kc, &all);
	tr_keys_wipe(&all);
	return n > 0;
}

/* --- the keyring snapshot --- */

void tr_keycache_verifier(const uint8_t kek[32], const char *repo_hash, const uint8_t ring_hash[32],
			  uint8_t out[32])
{
	static const char label[] = "totalrecall keycache verifier";
	br_hmac_key_context kc;
	br_hmac_context hc;
	br_hmac_key_init(&kc, &br_sha256_vtable, kek, 32);
	br_hmac_init(&hc, &kc, 0);
	br_hmac_update(&hc, label, sizeof label);
	br_hmac_update(&hc, repo_hash, strlen(repo_hash) + 1);
	br_hmac_update(&hc, ring_hash, 32);
	br_hmac_out(&hc, out);
	explicit_bzero(&kc, sizeof kc);
	explicit_bzero(&hc, sizeof hc);
}

int tr_keycache_save_ring(tr_keycache *kc, const char *text, size_t len, const uint8_t verifier[32])
{
	char hex[65];
	size_t cap = len + 256;
	char *body = malloc(cap);
	if (!body)
		return -1;
	tr_hex(verifier, 32, hex);
	int n = snprintf(body, cap, RING_MAGIC "repository %s\nverifier %s\n", kc->hash, hex);
	memcpy(body + n, text, len);
	int rc = tr_atomic_write_file_at(kc->dirfd, RING_FILE, body, (size_t)n + len, 0600, 0);
	free(body);
	return rc;
}

int tr_keycache_load_ring(tr_keycache *kc, char **text, size_t *len, uint8_t verifier[32], time_t *checked)
{
	char *buf, repo[40], hex[65];
	size_t n;
	struct stat st;
	int off = 0;
	if (fstatat(kc->dirfd, RING_FILE, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
	    read_at(kc, RING_FILE, TR_KEYRING_MAX + 256, &buf, &n) != 0)
		return -1;
	if (strncmp(buf, RING_MAGIC, strlen(RING_MAGIC)) != 0 ||
	    sscanf(buf + strlen(RING_MAGIC), "repository %39s\nverifier %64s\n%n", repo, hex, &off) != 2 || off == 0 ||
	    strcmp(repo, kc->hash) != 0 || tr_unhex(hex, verifier, 32) != 0) {
		free(buf);
		return -1;
	}
	size_t start = strlen(RING_MAGIC) + (size_t)off;
	memmove(buf, buf + start, n - start + 1);
	*text = buf;
	*len = n - start;
	*checked = st.st_mtime;
	return 0;
}

void tr_keycache_touch_ring(tr_keycache *kc)
{
	utimensat(kc->dirfd, RING_FILE, NULL, AT_SYMLINK_NOFOLLOW);
}

void tr_keycache_forget_ring(tr_keycache *kc)
{
	unlinkat(kc->dirfd, RING_FILE, 0);
}
