/* test_keyring.c - PBKDF2 vectors, key derivation, the keyring (version 2
 * and 0.1's version 1): sealing, opening, its text form, rotation and
 * migration; which keyring to believe among disagreeing copies; keyed
 * checksums and chunk ids. */
#include "config.h"
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "format/checksum.h"
#include "format/kdf.h"
#include "repo/keyresolve.h"
#include "format/keyring.h"
#include "base/util.h"

static void unhex(const char *s, uint8_t *out)
{
	for (size_t i = 0; s[2 * i]; i++)
		sscanf(s + 2 * i, "%2hhx", &out[i]);
}

typedef void (*pbkdf2_fn)(const void *, size_t, const void *, size_t, uint32_t, uint8_t *, size_t);

static void check_pbkdf2(pbkdf2_fn f, const char *p, const char *s, uint32_t c, const char *hex)
{
	uint8_t want[64], got[64];
	size_t n = strlen(hex) / 2;
	unhex(hex, want);
	f(p, strlen(p), s, strlen(s), c, got, n);
	ck_assert_mem_eq(got, want, n);
}

/* The same vectors through tr_pbkdf2_sha256 (SHA-NI where the CPU has it)
 * and through the portable implementation. */
START_TEST(test_pbkdf2_vectors)
{
	pbkdf2_fn f = _i == 0 ? tr_pbkdf2_sha256 : tr_pbkdf2_sha256_portable;
	/* RFC 7914 section 11. */
	check_pbkdf2(f, "passwd", "salt", 1,
		     "55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc"
		     "49ca9cccf179b645991664b39d77ef317c71b845b1e30bd509112041d3a19783");
	check_pbkdf2(f, "Password", "NaCl", 80000,
		     "4ddcd8f60b98be21830cee5ef22701f9641a4418d04c0414aeff08876b34ab56"
		     "a1d425a1225833549adb841b51c9b3176a272bdebba1d078478f62b397f33c8d");
	/* The widely used PBKDF2-HMAC-SHA256 vectors. */
	check_pbkdf2(f, "password", "salt", 1,
		     "120fb6cffcf8b32c43e7225256c4f837a86548c92ccc35480805987cb70be17b");
	check_pbkdf2(f, "password", "salt", 2,
		     "ae4d0c95af6b46d32d0adff928f06dd02a303f8ef3c251dfd6e2d85a95474c43");
	check_pbkdf2(f, "password", "salt", 4096,
		     "c5e478d59288c841aa530db6845c4c8d962893a001ce4e11a4963873aa98134a");
	/* A prefix of a longer output is the shorter output. */
	uint8_t a[20], b[64];
	f("pw", 2, "s", 1, 3, a, sizeof(a));
	f("pw", 2, "s", 1, 3, b, sizeof(b));
	ck_assert_mem_eq(a, b, sizeof(a));
	/* tr_kdf_kek is the 32-byte form over a 16-byte salt. */
	uint8_t salt[16] = "0123456789abcdef", k1[32], k2[32];
	tr_kdf_kek("passphrase", salt, 1000, k1);
	f("passphrase", 10, salt, 16, 1000, k2, 32);
	ck_assert_mem_eq(k1, k2, 32);
}
END_TEST

/* Both implementations agree on passphrases longer than a block (hashed
 * first), empty ones, long salts and outputs that end inside a block. */
START_TEST(test_pbkdf2_implementations_agree)
{
	uint8_t pass[150], salt[100], x[70], y[70];
	for (size_t i = 0; i < sizeof pass; i++)
		pass[i] = (uint8_t)(i * 7 + 1);
	for (size_t i = 0; i < sizeof salt; i++)
		salt[i] = (uint8_t)(i * 13 + 5);
	static const size_t plen[] = { 0, 1, 32, 63, 64, 65, 150 };
	static const size_t slen[] = { 0, 16, 55, 56, 64, 100 };
	for (size_t i = 0; i < sizeof plen / sizeof plen[0]; i++)
		for (size_t j = 0; j < sizeof slen / sizeof slen[0]; j++) {
			uint32_t iter = (uint32_t)(1 + i * 3 + j);
			size_t outlen = 1 + (i * 11 + j * 5) % sizeof x;
			tr_pbkdf2_sha256(pass, plen[i], salt, slen[j], iter, x, outlen);
			tr_pbkdf2_sha256_portable(pass, plen[i], salt, slen[j], iter, y, outlen);
			ck_assert_mem_eq(x, y, outlen);
		}
}
END_TEST

START_TEST(test_keys_derive)
{
	tr_keys k, k2;
	memset(&k, 0, sizeof(k));
	for (int i = 0; i < 32; i++)
		k.data[i] = (uint8_t)i;
	k2 = k;
	tr_keys_derive(&k);
	tr_keys_derive(&k2);
	ck_assert_mem_eq(&k, &k2, sizeof(k));
	uint8_t id[8];
	unhex("3e67a757bb093746", id);
	ck_assert_mem_eq(k.id, id, 8);
	ck_assert_mem_ne(k.enc, k.mac, 32);
	ck_assert_mem_ne(k.enc, k.chunk, 32);
	ck_assert_mem_ne(k.mac, k.chunk, 32);
	ck_assert_mem_ne(k.enc, k.data, 32);
	k2.data[31] ^= 1;
	tr_keys_derive(&k2);
	ck_assert_mem_ne(k.enc, k2.enc, 32);
	ck_assert_mem_ne(k.id, k2.id, 8);
	tr_keys_wipe(&k);
	tr_keys zero;
	memset(&zero, 0, sizeof(zero));
	ck_assert_mem_eq(&k, &zero, sizeof(k));
}
END_TEST

START_TEST(test_keyring_roundtrip)
{
	tr_keyring ring, parsed;
	tr_keys keys, keys2;
	uint8_t kek[32], kek2[32];
	char text[TR_KEYRING_MAX], err[200];

	/* The default iteration count, as in production. */
	ck_assert_int_eq(tr_keyring_create("db-1", "correct horse battery staple", 0, &ring, &keys, kek), 0);
	ck_assert_uint_eq(ring.iterations, TR_KDF_ITERATIONS_DEFAULT);
	ck_assert_int_eq(ring.version, 2);
	ck_assert_uint_eq(ring.generation, 1);
	ck_assert_int_eq(ring.nkeys, 1);
	ck_assert_mem_eq(ring.keys[0].id, keys.id, 8);
	ck_assert_mem_eq(ring.current, keys.id, 8);
	ck_assert_mem_ne(ring.keys[0].wrapped, keys.data, 32);
	int n = tr_keyring_format(&ring, text, sizeof(text));
	ck_assert_int_gt(n, 0);
	ck_assert_uint_eq(strlen(text), (size_t)n);
	ck_assert_ptr_nonnull(strstr(text, "totalrecall-keyring 2\nrepository db-1\ngeneration 1\n"));
	ck_assert_ptr_nonnull(strstr(text, "kdf pbkdf2-sha256\n"));
	ck_assert_ptr_nonnull(strstr(text, "iterations 600000\n"));
	ck_assert_ptr_nonnull(strstr(text, "\nmac "));
	/* Never key material in the clear. */
	char hex[65];
	tr_hex(keys.data, 32, hex);
	ck_assert_ptr_null(strstr(text, hex));
	ck_assert_int_eq(tr_keyring_parse(text, (size_t)n, &parsed, err, sizeof(err)), 0);
	ck_assert_mem_eq(&parsed, &ring, sizeof(ring));

	tr_kdf_kek("correct horse battery staple", parsed.salt, parsed.iterations, kek2);
	ck_assert_mem_eq(kek, kek2, 32);
	ck_assert_int_eq(tr_keyring_open(&parsed, kek2, &keys2), 0);
	ck_assert_mem_eq(keys.data, keys2.data, 32);
	ck_assert_mem_eq(keys.enc, keys2.enc, 32);
	ck_assert_mem_eq(keys.mac, keys2.mac, 32);
	ck_assert_mem_eq(keys.chunk, keys2.chunk, 32);
	ck_assert_mem_eq(keys.id, keys2.id, 8);

	/* Too small a buffer. */
	ck_assert_int_eq(tr_keyring_format(&ring, text, 50), -1);
	/* Two keyrings differ in salt and data key. */
	tr_keyring r2;
	tr_keys k3;
	ck_assert_int_eq(tr_keyring_create("db-1", "correct horse battery staple", 1000, &r2, &k3, kek2), 0);
	ck_assert_mem_ne(r2.salt, ring.salt, 16);
	ck_assert_mem_ne(k3.data, keys.data, 32);
	/* Below the minimum. */
	ck_assert_int_eq(tr_keyring_create("db-1", "x", TR_KDF_ITERATIONS_MIN - 1, &r2, &k3, kek2), -1);
}
END_TEST

START_TEST(test_keyring_wrong_passphrase)
{
	tr_keyring ring, t;
	tr_keys keys, k2;
	uint8_t kek[32], bad[32];
	ck_assert_int_eq(tr_keyring_create("db", "secret", 1000, &ring, &keys, kek), 0);
	tr_kdf_kek("Secret", ring.salt, ring.iterations, bad);
	ck_assert_int_eq(tr_keyring_open(&ring, bad, &k2), -1);
	ck_assert_int_eq(tr_keyring_open(&ring, kek, &k2), 0);
	/* Every field is authenticated by the MAC: repository, generation,
	 * creation time, iterations, salt, each key's id, time, nonce,
	 * wrapped key and tag, the current key. */
	t = ring; t.repository[0] ^= 1;
	ck_assert_int_eq(tr_keyring_open(&t, kek, &k2), -1);
	t = ring; t.generation++;
	ck_assert_int_eq(tr_keyring_open(&t, kek, &k2), -1);
	t = ring; t.created++;
	ck_assert_int_eq(tr_keyring_open(&t, kek, &k2), -1);
	t = ring; t.iterations++;
	ck_assert_int_eq(tr_keyring_open(&t, kek, &k2), -1);
	t = ring; t.salt[0] ^= 1;
	ck_assert_int_eq(tr_keyring_open(&t, kek, &k2), -1);
	t = ring; t.keys[0].id[7] ^= 0x80;
	ck_assert_int_eq(tr_keyring_open(&t, kek, &k2), -1);
	t = ring; t.keys[0].created--;
	ck_assert_int_eq(tr_keyring_open(&t, kek, &k2), -1);
	t = ring; t.keys[0].nonce[0] ^= 1;
	ck_assert_int_eq(tr_keyring_open(&t, kek, &k2), -1);
	t = ring; t.keys[0].wrapped[31] ^= 1;
	ck_assert_int_eq(tr_keyring_open(&t, kek, &k2), -1);
	t = ring; t.keys[0].tag[15] ^= 1;
	ck_assert_int_eq(tr_keyring_open(&t, kek, &k2), -1);
	t = ring; t.mac[0] ^= 1;
	ck_assert_int_eq(tr_keyring_open(&t, kek, &k2), -1);
	/* A failed open leaves no key behind. */
	tr_keys zero;
	memset(&zero, 0, sizeof(zero));
	ck_assert_mem_eq(&k2, &zero, sizeof(k2));
}
END_TEST

/* Rotation: a new generation under a new passphrase holds every key,
 * the old passphrase no longer opens it; a new data key becomes current
 * while mac and chunk keys stay the repository's. */
START_TEST(test_keyring_rotation)
{
	tr_keyring g1, g2, g3;
	tr_keys k1, k2, opened;
	uint8_t kek1[32], kek2[32], salt[16] = "rotation-salt-16", data[32];
	ck_assert_int_eq(tr_keyring_create("db", "old", 1000, &g1, &k1, kek1), 0);
	tr_kdf_kek("new", salt, 1000, kek2);
	ck_assert_int_eq(tr_keyring_seal(&g2, &k1, "db", 2, 1000, salt, kek2), 0);
	ck_assert_int_eq(tr_keyring_open(&g2, kek1, &opened), -1);
	ck_assert_int_eq(tr_keyring_open(&g2, kek2, &opened), 0);
	ck_assert_mem_eq(opened.data, k1.data, 32);
	ck_assert_uint_eq(g2.generation, 2);

	k2 = k1;
	memset(data, 7, sizeof(data));
	ck_assert_int_eq(tr_keys_add(&k2, data, 1234), 0);
	ck_assert_mem_eq(k2.id, k1.id, 8);  /* adding does not change the current key */
	ck_assert_int_eq(tr_keys_set_current(&k2, k2.slot[1].id), 0);
	ck_assert_mem_ne(k2.id, k1.id, 8);
	ck_assert_mem_ne(k2.enc, k1.enc, 32);
	ck_assert_mem_eq(k2.mac, k1.mac, 32);
	ck_assert_mem_eq(k2.chunk, k1.chunk, 32);
	ck_assert_int_eq(tr_keyring_seal(&g3, &k2, "db", 3, 1000, salt, kek2), 0);
	ck_assert_int_eq(g3.nkeys, 2);
	ck_assert_int_eq(tr_keyring_open(&g3, kek2, &opened), 0);
	ck_assert_mem_eq(opened.id, k2.id, 8);
	ck_assert_mem_eq(opened.mac, k1.mac, 32);
	ck_assert_ptr_nonnull(tr_keys_find(&opened, k1.id));
	ck_assert_mem_eq(tr_keys_find(&opened, k1.id)->enc, k1.enc, 32);
	ck_assert_int_eq(opened.slot[1].created, 1234);
	uint8_t none[8] = { 0 };
	ck_assert_ptr_null(tr_keys_find(&opened, none));
	ck_assert_int_eq(tr_keys_set_current(&opened, none), -1);
	/* The key list is bounded. */
	tr_keys full;
	memset(&full, 0, sizeof(full));
	for (int i = 0; i < TR_KEYS_MAX; i++) {
		data[0] = (uint8_t)i;
		ck_assert_int_eq(tr_keys_add(&full, data, i), 0);
	}
	ck_assert_int_eq(tr_keys_add(&full, data, 0), -1);
}
END_TEST

/* A 0.1 keyring opens, gives the same keys as before, and sealed as
 * version 2 (same salt and KEK) keeps its key id. */
START_TEST(test_keyring_v1_migration)
{
	tr_keys k, opened, v2keys;
	tr_keyring v1, parsed, v2;
	uint8_t salt[16] = "0123456789abcdef", kek[32];
	char text[TR_KEYRING_MAX], err[200];
	memset(&k, 0, sizeof(k));
	for (int i = 0; i < 32; i++)
		k.data[i] = (uint8_t)i;
	tr_keys_derive(&k);
	tr_kdf_kek("pass", salt, 1000, kek);
	ck_assert_int_eq(tr_keyring_seal_v1(&v1, &k, 1000, salt, kek), 0);
	int n = tr_keyring_format_v1(&v1, text, sizeof(text));
	ck_assert_int_gt(n, 0);
	ck_assert_ptr_nonnull(strstr(text, "totalrecall-keyring 1\n"));
	ck_assert_int_eq(tr_keyring_parse(text, (size_t)n, &parsed, err, sizeof(err)), 0);
	ck_assert_int_eq(parsed.version, 1);
	ck_assert_uint_eq(parsed.generation, 0);
	ck_assert_int_eq(tr_keyring_open(&parsed, kek, &opened), 0);
	ck_assert_mem_eq(opened.data, k.data, 32);
	ck_assert_mem_eq(opened.id, k.id, 8);
	uint8_t bad[32];
	tr_kdf_kek("Pass", salt, 1000, bad);
	ck_assert_int_eq(tr_keyring_open(&parsed, bad, &opened), -1);
	/* The migration: version 2, generation 1, same key. */
	ck_assert_int_eq(tr_keyring_open(&parsed, kek, &opened), 0);
	ck_assert_int_eq(tr_keyring_seal(&v2, &opened, "db", 1, parsed.iterations, parsed.salt, kek), 0);
	ck_assert_int_eq(tr_keyring_open(&v2, kek, &v2keys), 0);
	ck_assert_mem_eq(v2keys.id, k.id, 8);
	ck_assert_mem_eq(v2keys.enc, k.enc, 32);
	ck_assert_mem_eq(v2keys.mac, k.mac, 32);
	ck_assert_mem_eq(v2keys.chunk, k.chunk, 32);
}
END_TEST

static char V2[TR_KEYRING_MAX];

static void make_v2(void)
{
	tr_keyring ring;
	tr_keys keys;
	uint8_t kek[32];
	ck_assert_int_eq(tr_keyring_create("db", "p", 1000, &ring, &keys, kek), 0);
	ck_assert_int_gt(tr_keyring_format(&ring, V2, sizeof(V2)), 0);
}

/* Replaces the line starting with prefix in V2. */
static int parse_edit(const char *prefix, const char *repl, char *err, size_t errlen)
{
	char buf[TR_KEYRING_MAX + 200];
	const char *p = strstr(V2, prefix);
	ck_assert_ptr_nonnull(p);
	const char *eol = strchr(p, '\n') + 1;
	snprintf(buf, sizeof(buf), "%.*s%s%s", (int)(p - V2), V2, repl, eol);
	tr_keyring r;
	return tr_keyring_parse(buf, strlen(buf), &r, err, errlen);
}

START_TEST(test_keyring_parse_errors)
{
	char err[256];
	tr_keyring r;
	make_v2();
	ck_assert_int_eq(tr_keyring_parse(V2, strlen(V2), &r, err, sizeof(err)), 0);
	ck_assert_int_eq(parse_edit("salt", "salt 0001zz\n", err, sizeof(err)), -1);
	ck_assert_str_eq(err, "keyring line 7: salt is not 32 hex digits");
	ck_assert_int_eq(parse_edit("current", "", err, sizeof(err)), -1);
	ck_assert_str_eq(err, "keyring: missing the \"current\" line");
	ck_assert_int_eq(parse_edit("current", "current 0001020304050607\n", err, sizeof(err)), -1);
	ck_assert_str_eq(err, "keyring: the current key is not one of its keys");
	ck_assert_int_eq(parse_edit("kdf", "kdf scrypt\n", err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "line 5: unknown kdf \"scrypt\""));
	ck_assert_int_eq(parse_edit("iterations", "iterations 999\n", err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "line 6: 999 iterations, fewer than"));
	ck_assert_int_eq(parse_edit("iterations", "iterations -5\n", err, sizeof(err)), -1);
	ck_assert_int_eq(parse_edit("iterations", "iterations 99999999999\n", err, sizeof(err)), -1);
	ck_assert_int_eq(parse_edit("generation", "generation 0\n", err, sizeof(err)), -1);
	ck_assert_int_eq(parse_edit("repository", "repository a/b\n", err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "line 2: repository \"a/b\" is not a database id"));
	ck_assert_int_eq(parse_edit("totalrecall-keyring", "totalrecall-keyring 3\n", err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "line 1: unsupported keyring version \"3\""));
	ck_assert_int_eq(parse_edit("totalrecall-keyring", "", err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "line 1: not a TotalRecall keyring"));
	ck_assert_int_eq(parse_edit("key ", "key 00 1 2 3 4\n", err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "line 8: key id is not 16 hex digits"));
	ck_assert_int_eq(parse_edit("key ", "key 0001020304050607 1\n", err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "line 8: expected \"key <id> <created> <nonce> <wrapped> <tag>\""));
	ck_assert_int_eq(parse_edit("salt", "salt 000102030405060708090a0b0c0d0e0f\nsalt 000102030405060708090a0b0c0d0e0f\n",
				    err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "line 8: \"salt\" appears twice"));
	ck_assert_int_eq(parse_edit("salt", "colour blue\n", err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "line 7: unknown field \"colour\""));
	/* Version 1 fields are not version 2 fields. */
	ck_assert_int_eq(parse_edit("salt", "key-id 0001020304050607\n", err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "unknown field \"key-id\""));
	/* Nothing after the mac line. */
	char buf[TR_KEYRING_MAX + 100];
	snprintf(buf, sizeof(buf), "%scurrent 0001020304050607\n", V2);
	ck_assert_int_eq(tr_keyring_parse(buf, strlen(buf), &r, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "\"current\" after the mac line"));
	/* A key listed twice. */
	const char *k = strstr(V2, "key ");
	const char *eol = strchr(k, '\n') + 1;
	snprintf(buf, sizeof(buf), "%.*s%.*s%s", (int)(eol - V2), V2, (int)(eol - k), k, eol);
	ck_assert_int_eq(tr_keyring_parse(buf, strlen(buf), &r, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "appears twice"));
	ck_assert_int_eq(tr_keyring_parse("", 0, &r, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "keyring: empty, missing the \"totalrecall-keyring\" line");
	/* CRLF line ends and blank lines are accepted. */
	char crlf[TR_KEYRING_MAX + 100];
	size_t o = 0;
	for (const char *p = V2; *p; p++) {
		if (*p == '\n')
			crlf[o++] = '\r';
		crlf[o++] = *p;
	}
	crlf[o++] = '\n';
	ck_assert_int_eq(tr_keyring_parse(crlf, o, &r, err, sizeof(err)), 0);
	/* An embedded NUL is an error. */
	memcpy(crlf, V2, strlen(V2));
	crlf[30] = '\0';
	ck_assert_int_eq(tr_keyring_parse(crlf, strlen(V2), &r, err, sizeof(err)), -1);
	/* Too long. */
	static char big[TR_KEYRING_MAX + 10];
	memset(big, 'a', sizeof(big));
	ck_assert_int_eq(tr_keyring_parse(big, sizeof(big), &r, err, sizeof(err)), -1);
}
END_TEST

/* --- which keyring to believe (keyresolve.h) --- */

struct gen {
	tr_keyring ring;
	tr_keys keys;
	uint8_t kek[32];
	char text[TR_KEYRING_MAX];
};

static void gen_make(struct gen *g, const tr_keys *keys, const char *pass, uint64_t generation, uint8_t salt_byte)
{
	uint8_t salt[16];
	memset(salt, salt_byte, sizeof(salt));
	g->keys = *keys;
	tr_kdf_kek(pass, salt, 1000, g->kek);
	ck_assert_int_eq(tr_keyring_seal(&g->ring, keys, "db", generation, 1000, salt, g->kek), 0);
	ck_assert_int_gt(tr_keyring_format(&g->ring, g->text, sizeof(g->text)), 0);
}

/* A candidate as repo_unlock.c fills it, opened with pass. */
static void cand(tr_ring_cand *c, const char *name, const struct gen *g, const char *pass)
{
	tr_keys k;
	uint8_t kek[32];
	memset(c, 0, sizeof(*c));
	c->name = name;
	if (!g)
		return;
	c->present = c->parsed = 1;
	c->ring = g->ring;
	memcpy(c->hash, g->kek, 32);  /* any per-keyring value will do */
	c->hash[0] ^= (uint8_t)g->ring.generation;
	tr_kdf_kek(pass, g->ring.salt, g->ring.iterations, kek);
	c->opens = tr_keyring_open(&g->ring, kek, &k) == 0;
}

static tr_keys one_key(uint8_t b)
{
	tr_keys k;
	uint8_t data[32];
	memset(&k, 0, sizeof(k));
	memset(data, b, sizeof(data));
	tr_keys_add(&k, data, b);
	return k;
}

START_TEST(test_resolve)
{
	static struct gen g1, g2, g2x, other;
	tr_ring_cand c[3];
	char why[512];
	int chosen;
	tr_keys k = one_key(1), k2 = one_key(1), ko = one_key(9);
	uint8_t data[32];
	memset(data, 2, sizeof(data));
	tr_keys_add(&k2, data, 2);
	gen_make(&g1, &k, "old", 1, 1);
	gen_make(&g2, &k, "new", 2, 2);      /* rotated to "new" */
	gen_make(&g2x, &k2, "old", 2, 3);    /* rotated with a new data key, same passphrase */
	gen_make(&other, &ko, "old", 1, 4);  /* another repository's keyring */

	/* Identical keyring and copy. */
	cand(&c[0], "keyring", &g1, "old");
	cand(&c[1], "keyring-copy", &g1, "old");
	ck_assert_int_eq(tr_ring_resolve(c, 2, NULL, 0, &chosen, why, sizeof(why)), TR_RESOLVE_OK);
	ck_assert_int_eq(chosen, 0);
	ck_assert_int_eq(tr_ring_stale(c, 1, chosen), 0);
	/* The keyring lost: the copy is chosen, the keyring stale. */
	cand(&c[0], "keyring", NULL, "old");
	ck_assert_int_eq(tr_ring_resolve(c, 2, NULL, 0, &chosen, why, sizeof(why)), TR_RESOLVE_OK);
	ck_assert_int_eq(chosen, 1);
	ck_assert_int_eq(tr_ring_stale(c, 0, chosen), 1);
	/* Nothing at all. */
	cand(&c[1], "keyring-copy", NULL, "old");
	ck_assert_int_eq(tr_ring_resolve(c, 2, NULL, 0, &chosen, why, sizeof(why)), TR_RESOLVE_NONE);
	/* Damaged: a copy of the same salt that does not open. */
	cand(&c[0], "keyring", &g1, "old");
	cand(&c[1], "keyring-copy", &g1, "old");
	c[1].opens = 0;
	c[1].hash[5] ^= 1;
	ck_assert_int_eq(tr_ring_resolve(c, 2, NULL, 0, &chosen, why, sizeof(why)), TR_RESOLVE_OK);
	ck_assert_int_eq(chosen, 0);
	ck_assert_int_eq(tr_ring_stale(c, 1, chosen), 1);
	/* Wrong passphrase. */
	cand(&c[0], "keyring", &g1, "wrong");
	cand(&c[1], "keyring-copy", &g1, "wrong");
	ck_assert_int_eq(tr_ring_resolve(c, 2, NULL, 0, &chosen, why, sizeof(why)), TR_RESOLVE_WRONG_KEY);

	/* A rotation killed between keyring and copy: the new passphrase
	 * opens it and repairs the copy; the old one is refused. */
	cand(&c[0], "keyring", &g2, "new");
	cand(&c[1], "keyring-copy", &g1, "new");
	ck_assert_int_eq(tr_ring_resolve(c, 2, NULL, 0, &chosen, why, sizeof(why)), TR_RESOLVE_OK);
	ck_assert_int_eq(chosen, 0);
	ck_assert_int_eq(tr_ring_stale(c, 1, chosen), 1);
	cand(&c[0], "keyring", &g2, "old");
	cand(&c[1], "keyring-copy", &g1, "old");
	ck_assert_int_eq(tr_ring_resolve(c, 2, NULL, 0, &chosen, why, sizeof(why)), TR_RESOLVE_NEWER);
	ck_assert_ptr_nonnull(strstr(why, "rotated to another passphrase"));
	/* Even when only an old copy beside a backup opens. */
	cand(&c[0], "keyring", NULL, "old");
	cand(&c[1], "keyring-copy", &g2, "old");
	cand(&c[2], "backups/x/keyring", &g1, "old");
	ck_assert_int_eq(tr_ring_resolve(c, 3, NULL, 0, &chosen, why, sizeof(why)), TR_RESOLVE_NEWER);
	/* The same with the new passphrase: the old backup copy is stale. */
	cand(&c[1], "keyring-copy", &g2, "new");
	cand(&c[2], "backups/x/keyring", &g1, "new");
	ck_assert_int_eq(tr_ring_resolve(c, 3, NULL, 0, &chosen, why, sizeof(why)), TR_RESOLVE_OK);
	ck_assert_int_eq(chosen, 1);
	/* A new data key, same passphrase: the newer generation wins. */
	cand(&c[0], "keyring", &g1, "old");
	cand(&c[1], "keyring-copy", &g2x, "old");
	ck_assert_int_eq(tr_ring_resolve(c, 2, NULL, 0, &chosen, why, sizeof(why)), TR_RESOLVE_OK);
	ck_assert_int_eq(chosen, 1);

	/* Replaced: another repository's keyring, with or without the same
	 * passphrase. */
	cand(&c[0], "keyring", &other, "old");
	cand(&c[1], "keyring-copy", &g1, "old");
	ck_assert_int_eq(tr_ring_resolve(c, 2, NULL, 0, &chosen, why, sizeof(why)), TR_RESOLVE_CONFLICT);
	cand(&c[0], "keyring", &other, "x");
	cand(&c[1], "keyring-copy", &g1, "x");
	c[1].opens = 1;
	ck_assert_int_eq(tr_ring_resolve(c, 2, NULL, 0, &chosen, why, sizeof(why)), TR_RESOLVE_CONFLICT);
	ck_assert_ptr_nonnull(strstr(why, "replaced"));
	/* Replaced everywhere, opening with our passphrase: only the keys this
	 * host has used tell. */
	cand(&c[0], "keyring", &other, "old");
	cand(&c[1], "keyring-copy", &other, "old");
	ck_assert_int_eq(tr_ring_resolve(c, 2, NULL, 0, &chosen, why, sizeof(why)), TR_RESOLVE_OK);
	uint8_t known[1][8];
	memcpy(known[0], k.id, 8);
	ck_assert_int_eq(tr_ring_resolve(c, 2, (const uint8_t (*)[8])known, 1, &chosen, why, sizeof(why)),
			 TR_RESOLVE_CONFLICT);
	ck_assert_ptr_nonnull(strstr(why, "lacks key"));
	cand(&c[0], "keyring", &g2x, "old");
	cand(&c[1], "keyring-copy", &g2x, "old");
	ck_assert_int_eq(tr_ring_resolve(c, 2, (const uint8_t (*)[8])known, 1, &chosen, why, sizeof(why)),
			 TR_RESOLVE_OK);
}
END_TEST

static void test_keys(tr_keys *k, uint8_t base)
{
	memset(k, 0, sizeof(*k));
	for (int i = 0; i < 32; i++)
		k->data[i] = (uint8_t)(base + i);
	tr_keys_derive(k);
}

START_TEST(test_checksum)
{
	tr_keys k, k2;
	char a[68], b[68], c[68];
	test_keys(&k, 0);
	test_keys(&k2, 1);
	tr_checksum *cs = tr_checksum_new(&k);
	tr_checksum_update(cs, "hello world", 11);
	tr_checksum_final(cs, a);
	tr_checksum_free(cs);
	/* Known answer: HMAC-SHA256(HMAC-SHA256(data key, "totalrecall mac"), msg). */
	ck_assert_str_eq(a, "h1:14de24ca10b6e13d8933433b4b090d17bc558cf193f439dce13820e9f53af17f");
	ck_assert_uint_eq(strlen(a), TR_CHECKSUM_STR_LEN - 1);
	/* Streaming in pieces gives the same. */
	cs = tr_checksum_new(&k);
	tr_checksum_update(cs, "hel", 3);
	tr_checksum_update(cs, "", 0);
	tr_checksum_update(cs, "lo world", 8);
	tr_checksum_final(cs, b);
	tr_checksum_free(cs);
	ck_assert_str_eq(a, b);
	/* Another key, another checksum; another message, another checksum. */
	cs = tr_checksum_new(&k2);
	tr_checksum_update(cs, "hello world", 11);
	tr_checksum_final(cs, c);
	tr_checksum_free(cs);
	ck_assert_str_ne(a, c);
	cs = tr_checksum_new(&k);
	tr_checksum_update(cs, "hello worle", 11);
	tr_checksum_final(cs, c);
	tr_checksum_free(cs);
	ck_assert_str_ne(a, c);
	tr_checksum_free(NULL);
}
END_TEST

START_TEST(test_chunk_id)
{
	tr_keys k, k2;
	char a[66], b[66], c[68];
	test_keys(&k, 0);
	test_keys(&k2, 1);
	tr_chunk_id(&k, "hello world", 11, a);
	ck_assert_str_eq(a, "ca2b5905391446d1ba53ed5f7aa5348cf7026b3a4f46a3dfdd7934552b3031c2c");
	tr_chunk_id(&k, "hello world", 11, b);
	ck_assert_str_eq(a, b);
	tr_chunk_id(&k2, "hello world", 11, b);
	ck_assert_str_ne(a, b);
	tr_chunk_id(&k, "hello world!", 12, b);
	ck_assert_str_ne(a, b);
	/* Chunk names and checksums use different keys. */
	tr_checksum *cs = tr_checksum_new(&k);
	tr_checksum_update(cs, "hello world", 11);
	tr_checksum_final(cs, c);
	tr_checksum_free(cs);
	ck_assert_str_ne(a + 1, c + 3);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("keyring");
	TCase *tc = tcase_create("kdf");
	tcase_set_timeout(tc, 120);
	tcase_add_loop_test(tc, test_pbkdf2_vectors, 0, 2);
	tcase_add_test(tc, test_pbkdf2_implementations_agree);
	tcase_add_test(tc, test_keys_derive);
	suite_add_tcase(s, tc);
	tc = tcase_create("keyring");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_keyring_roundtrip);
	tcase_add_test(tc, test_keyring_wrong_passphrase);
	tcase_add_test(tc, test_keyring_parse_errors);
	tcase_add_test(tc, test_keyring_rotation);
	tcase_add_test(tc, test_keyring_v1_migration);
	tcase_add_test(tc, test_resolve);
	suite_add_tcase(s, tc);
	tc = tcase_create("checksum");
	tcase_add_test(tc, test_checksum);
	tcase_add_test(tc, test_chunk_id);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
