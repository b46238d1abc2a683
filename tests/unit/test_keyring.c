/* test_keyring.c - PBKDF2 vectors, key derivation, keyring wrap/unwrap and
 * its text form, keyed checksums and chunk ids. */
#include "config.h"
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checksum.h"
#include "kdf.h"
#include "keyring.h"

static void unhex(const char *s, uint8_t *out)
{
	for (size_t i = 0; s[2 * i]; i++)
		sscanf(s + 2 * i, "%2hhx", &out[i]);
}

static void check_pbkdf2(const char *p, const char *s, uint32_t c, const char *hex)
{
	uint8_t want[64], got[64];
	size_t n = strlen(hex) / 2;
	unhex(hex, want);
	tr_pbkdf2_sha256(p, strlen(p), s, strlen(s), c, got, n);
	ck_assert_mem_eq(got, want, n);
}

START_TEST(test_pbkdf2_vectors)
{
	/* RFC 7914 section 11. */
	check_pbkdf2("passwd", "salt", 1,
		     "55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc"
		     "49ca9cccf179b645991664b39d77ef317c71b845b1e30bd509112041d3a19783");
	check_pbkdf2("Password", "NaCl", 80000,
		     "4ddcd8f60b98be21830cee5ef22701f9641a4418d04c0414aeff08876b34ab56"
		     "a1d425a1225833549adb841b51c9b3176a272bdebba1d078478f62b397f33c8d");
	/* The widely used PBKDF2-HMAC-SHA256 vectors. */
	check_pbkdf2("password", "salt", 1,
		     "120fb6cffcf8b32c43e7225256c4f837a86548c92ccc35480805987cb70be17b");
	check_pbkdf2("password", "salt", 2,
		     "ae4d0c95af6b46d32d0adff928f06dd02a303f8ef3c251dfd6e2d85a95474c43");
	check_pbkdf2("password", "salt", 4096,
		     "c5e478d59288c841aa530db6845c4c8d962893a001ce4e11a4963873aa98134a");
	/* A prefix of a longer output is the shorter output. */
	uint8_t a[20], b[64];
	tr_pbkdf2_sha256("pw", 2, "s", 1, 3, a, sizeof(a));
	tr_pbkdf2_sha256("pw", 2, "s", 1, 3, b, sizeof(b));
	ck_assert_mem_eq(a, b, sizeof(a));
	/* tr_kdf_kek is the 32-byte form over a 16-byte salt. */
	uint8_t salt[16] = "0123456789abcdef", k1[32], k2[32];
	tr_kdf_kek("passphrase", salt, 1000, k1);
	tr_pbkdf2_sha256("passphrase", 10, salt, 16, 1000, k2, 32);
	ck_assert_mem_eq(k1, k2, 32);
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
	ck_assert_int_eq(tr_keyring_create("correct horse battery staple", 0, &ring, &keys, kek), 0);
	ck_assert_uint_eq(ring.iterations, TR_KDF_ITERATIONS_DEFAULT);
	ck_assert_mem_eq(ring.key_id, keys.id, 8);
	ck_assert_mem_ne(ring.wrapped, keys.data, 32);
	int n = tr_keyring_format(&ring, text, sizeof(text));
	ck_assert_int_gt(n, 0);
	ck_assert_uint_eq(strlen(text), (size_t)n);
	ck_assert_ptr_nonnull(strstr(text, "totalrecall-keyring 1\n"));
	ck_assert_ptr_nonnull(strstr(text, "kdf pbkdf2-sha256\n"));
	ck_assert_ptr_nonnull(strstr(text, "iterations 600000\n"));
	ck_assert_int_eq(tr_keyring_parse(text, (size_t)n, &parsed, err, sizeof(err)), 0);
	ck_assert_mem_eq(&parsed, &ring, sizeof(ring));

	tr_kdf_kek("correct horse battery staple", parsed.salt, parsed.iterations, kek2);
	ck_assert_mem_eq(kek, kek2, 32);
	ck_assert_int_eq(tr_keyring_unwrap(&parsed, kek2, &keys2), 0);
	ck_assert_mem_eq(&keys, &keys2, sizeof(keys));

	/* Too small a buffer. */
	ck_assert_int_eq(tr_keyring_format(&ring, text, 50), -1);
	/* Two keyrings differ in salt and data key. */
	tr_keyring r2;
	tr_keys k3;
	ck_assert_int_eq(tr_keyring_create("correct horse battery staple", 1000, &r2, &k3, kek2), 0);
	ck_assert_mem_ne(r2.salt, ring.salt, 16);
	ck_assert_mem_ne(k3.data, keys.data, 32);
	/* Below the minimum. */
	ck_assert_int_eq(tr_keyring_create("x", TR_KDF_ITERATIONS_MIN - 1, &r2, &k3, kek2), -1);
}
END_TEST

START_TEST(test_keyring_wrong_passphrase)
{
	tr_keyring ring, t;
	tr_keys keys, k2;
	uint8_t kek[32], bad[32];
	ck_assert_int_eq(tr_keyring_create("secret", 1000, &ring, &keys, kek), 0);
	tr_kdf_kek("Secret", ring.salt, ring.iterations, bad);
	ck_assert_int_eq(tr_keyring_unwrap(&ring, bad, &k2), -1);
	ck_assert_int_eq(tr_keyring_unwrap(&ring, kek, &k2), 0);
	/* Each authenticated field bound: salt, iterations, key id, nonce,
	 * wrapped key, tag. */
	t = ring; t.salt[0] ^= 1;
	ck_assert_int_eq(tr_keyring_unwrap(&t, kek, &k2), -1);
	t = ring; t.iterations++;
	ck_assert_int_eq(tr_keyring_unwrap(&t, kek, &k2), -1);
	t = ring; t.key_id[7] ^= 0x80;
	ck_assert_int_eq(tr_keyring_unwrap(&t, kek, &k2), -1);
	t = ring; t.wrap_nonce[0] ^= 1;
	ck_assert_int_eq(tr_keyring_unwrap(&t, kek, &k2), -1);
	t = ring; t.wrapped[31] ^= 1;
	ck_assert_int_eq(tr_keyring_unwrap(&t, kek, &k2), -1);
	t = ring; t.wrap_tag[15] ^= 1;
	ck_assert_int_eq(tr_keyring_unwrap(&t, kek, &k2), -1);
}
END_TEST

static const char GOOD[] =
	"totalrecall-keyring 1\n"
	"kdf pbkdf2-sha256\n"
	"iterations 600000\n"
	"salt 000102030405060708090a0b0c0d0e0f\n"
	"key-id 0001020304050607\n"
	"nonce 000102030405060708090a0b\n"
	"wrapped 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n"
	"tag 000102030405060708090a0b0c0d0e0f\n";

/* Replaces the line starting with prefix (or appends if repl has no match). */
static int parse_edit(const char *prefix, const char *repl, char *err, size_t errlen)
{
	char buf[1024];
	const char *p = strstr(GOOD, prefix);
	ck_assert_ptr_nonnull(p);
	const char *eol = strchr(p, '\n') + 1;
	snprintf(buf, sizeof(buf), "%.*s%s%s", (int)(p - GOOD), GOOD, repl, eol);
	tr_keyring r;
	return tr_keyring_parse(buf, strlen(buf), &r, err, errlen);
}

START_TEST(test_keyring_parse_errors)
{
	char err[256];
	tr_keyring r;
	ck_assert_int_eq(tr_keyring_parse(GOOD, strlen(GOOD), &r, err, sizeof(err)), 0);
	ck_assert_uint_eq(r.iterations, 600000);
	ck_assert_int_eq(r.salt[15], 15);
	ck_assert_int_eq(r.wrapped[31], 31);

	ck_assert_int_eq(parse_edit("salt", "salt 0001zz\n", err, sizeof(err)), -1);
	ck_assert_str_eq(err, "keyring line 4: salt is not 32 hex digits");
	ck_assert_int_eq(parse_edit("tag", "tag 000102030405060708090a0b0c0d0e0g\n", err,
				    sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "line 8"));
	ck_assert_int_eq(parse_edit("nonce", "", err, sizeof(err)), -1);
	ck_assert_str_eq(err, "keyring: missing the \"nonce\" line");
	ck_assert_int_eq(parse_edit("kdf", "kdf scrypt\n", err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "line 2: unknown kdf \"scrypt\""));
	ck_assert_int_eq(parse_edit("iterations", "iterations 999\n", err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "line 3: 999 iterations, fewer than"));
	ck_assert_int_eq(parse_edit("iterations", "iterations 1000\n", err, sizeof(err)), 0);
	ck_assert_int_eq(parse_edit("iterations", "iterations -5\n", err, sizeof(err)), -1);
	ck_assert_int_eq(parse_edit("iterations", "iterations 99999999999\n", err, sizeof(err)), -1);
	ck_assert_int_eq(parse_edit("iterations", "iterations 12x\n", err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "line 3"));
	ck_assert_int_eq(parse_edit("totalrecall-keyring", "totalrecall-keyring 2\n", err,
				    sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "line 1: unsupported keyring version \"2\""));
	ck_assert_int_eq(parse_edit("totalrecall-keyring", "", err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "line 1: not a TotalRecall keyring"));
	ck_assert_int_eq(parse_edit("key-id", "key-id 00\nkey-id 0001020304050607\n", err,
				    sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "line 5: key-id is not 16 hex digits"));
	ck_assert_int_eq(parse_edit("wrapped", "wrapped 00\ncolour blue\n", err, sizeof(err)), -1);
	ck_assert_int_eq(parse_edit("tag", "tag 000102030405060708090a0b0c0d0e0f\n"
				    "tag 000102030405060708090a0b0c0d0e0f\n", err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "line 9: \"tag\" appears twice"));
	ck_assert_int_eq(parse_edit("salt", "salt\n", err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "line 4"));
	ck_assert_int_eq(parse_edit("tag", "colour blue\n", err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "line 8: unknown field \"colour\""));
	ck_assert_int_eq(tr_keyring_parse("", 0, &r, err, sizeof(err)), -1);
	/* CRLF line ends and blank lines are accepted. */
	char crlf[1024];
	size_t o = 0;
	for (const char *p = GOOD; *p; p++) {
		if (*p == '\n')
			crlf[o++] = '\r';
		crlf[o++] = *p;
	}
	crlf[o++] = '\n';
	ck_assert_int_eq(tr_keyring_parse(crlf, o, &r, err, sizeof(err)), 0);
	/* An embedded NUL is an error. */
	memcpy(crlf, GOOD, sizeof(GOOD));
	crlf[30] = '\0';
	ck_assert_int_eq(tr_keyring_parse(crlf, sizeof(GOOD) - 1, &r, err, sizeof(err)), -1);
	/* Too long. */
	char big[TR_KEYRING_MAX + 10];
	memset(big, 'a', sizeof(big));
	ck_assert_int_eq(tr_keyring_parse(big, sizeof(big), &r, err, sizeof(err)), -1);
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
	tcase_add_test(tc, test_pbkdf2_vectors);
	tcase_add_test(tc, test_keys_derive);
	suite_add_tcase(s, tc);
	tc = tcase_create("keyring");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_keyring_roundtrip);
	tcase_add_test(tc, test_keyring_wrong_passphrase);
	tcase_add_test(tc, test_keyring_parse_errors);
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
