/* test_keycache.c - this host's local state: the write-temp-fsync-rename
 * helper (atomicfile.h), the state directory checks (statedir.h) and the
 * key cache (keycache.h): keys by id, never overwritten, damaged files
 * recognised, the snapshot and its verifier derived from the KEK. */
#include "config.h"
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <bearssl.h>

#include "base/atomicfile.h"
#include "repo/keycache.h"
#include "conf/settings.h"
#include "base/statedir.h"
#include "base/util.h"

static char root[256];

static void setup(void)
{
	snprintf(root, sizeof(root), "/tmp/tr-keycache-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(root));
}

static void teardown(void)
{
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "chmod -R u+rwx %s 2>/dev/null; rm -rf %s", root, root);
	ck_assert_int_eq(system(cmd), 0);
}

static int count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;
	while (d && (e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			n++;
	if (d)
		closedir(d);
	return n;
}

static void slurp(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "r");
	ck_assert_ptr_nonnull(f);
	size_t n = fread(buf, 1, len - 1, f);
	buf[n] = '\0';
	fclose(f);
}

/* --- atomicfile --- */

START_TEST(test_atomic_write)
{
	char path[300], buf[64];
	struct stat st;
	snprintf(path, sizeof(path), "%s/f", root);
	ck_assert_int_eq(tr_atomic_write_file(path, "one", 3, 0600, 0), 0);
	slurp(path, buf, sizeof(buf));
	ck_assert_str_eq(buf, "one");
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_uint_eq(st.st_mode & 0777, 0600);
	/* Replaces by default; never with NOREPLACE. */
	ck_assert_int_eq(tr_atomic_write_file(path, "two", 3, 0600, 0), 0);
	slurp(path, buf, sizeof(buf));
	ck_assert_str_eq(buf, "two");
	errno = 0;
	ck_assert_int_eq(tr_atomic_write_file(path, "three", 5, 0600, TR_ATOMIC_NOREPLACE), -1);
	ck_assert_int_eq(errno, EEXIST);
	slurp(path, buf, sizeof(buf));
	ck_assert_str_eq(buf, "two");
	/* No temporary file is left, on success or failure. */
	ck_assert_int_eq(count_entries(root), 1);
	/* A missing directory fails cleanly. */
	snprintf(path, sizeof(path), "%s/nodir/f", root);
	ck_assert_int_eq(tr_atomic_write_file(path, "x", 1, 0600, 0), -1);
}
END_TEST

START_TEST(test_atomic_abort_and_symlink)
{
	char path[300], target[300];
	tr_atomic a;
	snprintf(path, sizeof(path), "%s/g", root);
	ck_assert_int_eq(tr_atomic_open(&a, path, 0600), 0);
	ck_assert_int_eq(tr_atomic_write_all(&a, "partial", 7), 0);
	ck_assert_int_eq(count_entries(root), 1);  /* the temporary file */
	tr_atomic_abort(&a);
	ck_assert_int_eq(count_entries(root), 0);
	ck_assert_int_eq(access(path, F_OK), -1);
	/* A symbolic link planted at the final name is replaced, never written
	 * through. */
	snprintf(target, sizeof(target), "%s/victim", root);
	ck_assert_int_eq(tr_atomic_write_file(target, "keep", 4, 0600, 0), 0);
	ck_assert_int_eq(symlink(target, path), 0);
	ck_assert_int_eq(tr_atomic_write_file(path, "new", 3, 0600, 0), 0);
	char buf[16];
	slurp(target, buf, sizeof(buf));
	ck_assert_str_eq(buf, "keep");
	struct stat st;
	ck_assert_int_eq(lstat(path, &st), 0);
	ck_assert(S_ISREG(st.st_mode));
	/* The same after commit: abort is harmless. */
	ck_assert_int_eq(tr_atomic_open(&a, path, 0600), 0);
	ck_assert_int_eq(tr_atomic_commit(&a, 0), 0);
	tr_atomic_abort(&a);
	ck_assert_int_eq(count_entries(root), 2);
}
END_TEST

/* --- statedir --- */

START_TEST(test_statedir_checks)
{
	char dir[300], err[512];
	snprintf(dir, sizeof(dir), "%s/state", root);
	/* Created when missing, 0700, and the subdirectories too. */
	int fd = tr_private_dir(dir, "keys/abc", err, sizeof(err));
	ck_assert_int_ge(fd, 0);
	close(fd);
	struct stat st;
	char sub[400];
	snprintf(sub, sizeof(sub), "%s/keys/abc", dir);
	ck_assert_int_eq(stat(sub, &st), 0);
	ck_assert_uint_eq(st.st_mode & 0777, 0700);
	/* Group- or world-writable: refused, naming the directory. */
	ck_assert_int_eq(chmod(dir, 0777), 0);
	ck_assert_int_eq(tr_private_dir(dir, "", err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, dir));
	ck_assert_ptr_nonnull(strstr(err, "mode 0777"));
	ck_assert_int_eq(chmod(dir, 0755), 0);
	ck_assert_int_ge(fd = tr_private_dir(dir, "", err, sizeof(err)), 0);
	close(fd);
	/* Below it, readable by others is enough to refuse. */
	snprintf(sub, sizeof(sub), "%s/keys", dir);
	ck_assert_int_eq(chmod(sub, 0750), 0);
	ck_assert_int_eq(tr_private_dir(dir, "keys/abc", err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "keys has mode 0750"));
	ck_assert_int_eq(chmod(sub, 0700), 0);
	/* A symbolic link is never followed. */
	char link[300];
	snprintf(link, sizeof(link), "%s/link", root);
	ck_assert_int_eq(symlink(dir, link), 0);
	ck_assert_int_eq(tr_private_dir(link, "", err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "symbolic link"));
	snprintf(sub, sizeof(sub), "%s/prefetch", dir);
	ck_assert_int_eq(symlink(root, sub), 0);
	ck_assert_int_eq(tr_private_dir(dir, "prefetch/x", err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "symbolic link"));
	/* Not a directory. */
	snprintf(sub, sizeof(sub), "%s/ahead", dir);
	ck_assert_int_eq(tr_atomic_write_file(sub, "x", 1, 0600, 0), 0);
	ck_assert_int_eq(tr_private_dir(dir, "ahead", err, sizeof(err)), -1);
	/* Another owner (only root can make one here). */
	if (geteuid() == 0) {
		snprintf(sub, sizeof(sub), "%s/other", root);
		ck_assert_int_eq(mkdir(sub, 0700), 0);
		ck_assert_int_eq(chown(sub, 65534, 65534), 0);
		ck_assert_int_eq(tr_private_dir(sub, "", err, sizeof(err)), -1);
		ck_assert_ptr_nonnull(strstr(err, "owned by uid 65534"));
	}
}
END_TEST

/* --- keycache --- */

static tr_config cfg;

static void cache_open(tr_keycache *kc)
{
	char state[300], err[512];
	snprintf(state, sizeof(state), "%s/state", root);
	tr_config_init(&cfg);
	cfg.state_dir = strdup(state);
	ck_assert_int_eq(tr_keycache_open(kc, cfg.state_dir, "0123456789abcdef0123456789abcdef", err, sizeof(err)), 0);
}

static void cache_close(tr_keycache *kc)
{
	tr_keycache_close(kc);
	tr_config_free(&cfg);
}

START_TEST(test_cache_keys)
{
	tr_keycache kc;
	tr_keys k, loaded, all;
	uint8_t d1[32], d2[32];
	memset(d1, 1, 32);
	memset(d2, 2, 32);
	memset(&k, 0, sizeof(k));
	tr_keys_add(&k, d1, 100);
	tr_keys_add(&k, d2, 200);
	cache_open(&kc);
	ck_assert_int_eq(tr_keycache_knows(&kc), 0);
	ck_assert_int_eq(tr_keycache_store_keys(&kc, &k), 0);
	ck_assert_int_eq(tr_keycache_knows(&kc), 1);
	memset(&loaded, 0, sizeof(loaded));
	ck_assert_int_eq(tr_keycache_load_key(&kc, k.slot[1].id, &loaded), 0);
	ck_assert_mem_eq(loaded.slot[0].data, d2, 32);
	ck_assert_int_eq(loaded.slot[0].created, 200);
	uint8_t none[8] = { 9 };
	ck_assert_int_eq(tr_keycache_load_key(&kc, none, &loaded), 1);
	/* All of them, oldest first: the first gives mac and chunk. */
	ck_assert_int_eq(tr_keycache_load_all(&kc, &all), 2);
	ck_assert_mem_eq(all.mac, k.mac, 32);
	ck_assert_mem_eq(all.slot[0].id, k.slot[0].id, 8);
	ck_assert_mem_eq(all.id, k.slot[1].id, 8);

	/* Keys of the same second keep the keyring's order: the first gives the
	 * repository's mac and chunk keys. */
	{
		tr_keycache kc2;
		tr_keys same, back;
		char err[512];
		uint8_t a[32], b[32];
		memset(&same, 0, sizeof(same));
		for (int i = 0; i < 32; i++) {
			a[i] = (uint8_t)(200 + i);
			b[i] = (uint8_t)(100 + i);
		}
		tr_keys_add(&same, a, 5);
		tr_keys_add(&same, b, 5);
		ck_assert_int_eq(tr_keycache_open(&kc2, cfg.state_dir, "ffffffffffffffffffffffffffffffff", err, sizeof(err)), 0);
		ck_assert_int_eq(tr_keycache_store_keys(&kc2, &same), 0);
		ck_assert_int_eq(tr_keycache_load_all(&kc2, &back), 2);
		ck_assert_mem_eq(back.mac, same.mac, 32);
		ck_assert_mem_eq(back.chunk, same.chunk, 32);
		ck_assert_mem_eq(back.slot[1].id, same.slot[1].id, 8);
		tr_keycache_close(&kc2);
	}

	/* Never overwritten: a key file stays as first written. */
	char path[600], before[512], after[512];
	char idhex[17];
	tr_hex(k.slot[0].id, 8, idhex);
	snprintf(path, sizeof(path), "%s/state/keys/0123456789abcdef0123456789abcdef/%s.key", root, idhex);
	slurp(path, before, sizeof(before));
	struct stat st1, st2;
	ck_assert_int_eq(stat(path, &st1), 0);
	ck_assert_uint_eq(st1.st_mode & 0777, 0600);
	ck_assert_int_eq(tr_keycache_store_keys(&kc, &k), 0);
	ck_assert_int_eq(stat(path, &st2), 0);
	ck_assert_uint_eq(st1.st_ino, st2.st_ino);
	slurp(path, after, sizeof(after));
	ck_assert_str_eq(before, after);

	/* A damaged file (its data no longer derives to its id) is not used,
	 * and is kept aside when the key is cached again. */
	FILE *f = fopen(path, "r+");
	ck_assert_ptr_nonnull(f);
	fseek(f, -10, SEEK_END);
	fputc(before[strlen(before) - 10] == '0' ? '1' : '0', f);
	fclose(f);
	memset(&loaded, 0, sizeof(loaded));
	ck_assert_int_eq(tr_keycache_load_key(&kc, k.slot[0].id, &loaded), -1);
	ck_assert_int_eq(tr_keycache_store_keys(&kc, &k), 0);
	ck_assert_int_eq(tr_keycache_load_key(&kc, k.slot[0].id, &loaded), 0);
	char damaged[700];
	snprintf(damaged, sizeof(damaged), "%s.damaged", path);
	ck_assert_int_eq(access(damaged, F_OK), 0);
	/* A FIFO in place of a key file never blocks. */
	ck_assert_int_eq(unlink(path), 0);
	ck_assert_int_eq(mkfifo(path, 0600), 0);
	memset(&loaded, 0, sizeof(loaded));
	ck_assert_int_eq(tr_keycache_load_key(&kc, k.slot[0].id, &loaded), -1);
	cache_close(&kc);
}
END_TEST

START_TEST(test_cache_snapshot)
{
	tr_keycache kc;
	uint8_t kek[32], other[32], ring_hash[32], v[32], v2[32], back[32];
	char *text;
	size_t len;
	time_t checked;
	memset(kek, 5, 32);
	memset(other, 6, 32);
	memset(ring_hash, 7, 32);
	cache_open(&kc);
	ck_assert_int_eq(tr_keycache_load_ring(&kc, &text, &len, back, &checked), -1);
	tr_keycache_verifier(kek, kc.hash, ring_hash, v);
	ck_assert_int_eq(tr_keycache_save_ring(&kc, "keyring text\n", 13, v), 0);
	ck_assert_int_eq(tr_keycache_load_ring(&kc, &text, &len, back, &checked), 0);
	ck_assert_str_eq(text, "keyring text\n");
	ck_assert_uint_eq(len, 13);
	ck_assert_mem_eq(back, v, 32);
	ck_assert(checked <= time(NULL) && checked >= time(NULL) - 5);
	free(text);
	/* The verifier is keyed by the KEK: another KEK, another verifier; the
	 * passphrase alone (or the public salt) does not give it. */
	tr_keycache_verifier(other, kc.hash, ring_hash, v2);
	ck_assert_mem_ne(v, v2, 32);
	ring_hash[0] ^= 1;
	tr_keycache_verifier(kek, kc.hash, ring_hash, v2);
	ck_assert_mem_ne(v, v2, 32);
	/* Known answer: HMAC-SHA256(kek, label NUL | hash NUL | ring hash). */
	br_hmac_key_context hk;
	br_hmac_context hc;
	uint8_t want[32];
	ring_hash[0] ^= 1;
	br_hmac_key_init(&hk, &br_sha256_vtable, kek, 32);
	br_hmac_init(&hc, &hk, 0);
	br_hmac_update(&hc, "totalrecall keycache verifier", 30);
	br_hmac_update(&hc, kc.hash, 33);
	br_hmac_update(&hc, ring_hash, 32);
	br_hmac_out(&hc, want);
	ck_assert_mem_eq(v, want, 32);
	/* The snapshot file holds no KEK and no passphrase. */
	char path[600], body[1024], hex[65];
	snprintf(path, sizeof(path), "%s/keyring", kc.path);
	slurp(path, body, sizeof(body));
	tr_hex(kek, 32, hex);
	ck_assert_ptr_null(strstr(body, hex));
	/* Forgotten: gone. */
	tr_keycache_forget_ring(&kc);
	ck_assert_int_eq(tr_keycache_load_ring(&kc, &text, &len, back, &checked), -1);
	cache_close(&kc);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("keycache");
	TCase *tc = tcase_create("local");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_atomic_write);
	tcase_add_test(tc, test_atomic_abort_and_symlink);
	tcase_add_test(tc, test_statedir_checks);
	tcase_add_test(tc, test_cache_keys);
	tcase_add_test(tc, test_cache_snapshot);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
