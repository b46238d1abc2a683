/* test_azure_crypto.c - the azure driver's own base64 (RFC 4648 vectors,
 * refusals) and its HMAC-SHA256 and MD5 as base64 (RFC 4231 and RFC 1321
 * vectors), built from the driver's source.  The Shared Key signatures
 * built on them are checked by Azurite in tests/integration/azure. */
#include "config.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "azure_crypto.h"

static const struct { const char *plain, *b64; } RFC4648[] = {
	{ "", "" }, { "f", "Zg==" }, { "fo", "Zm8=" }, { "foo", "Zm9v" },
	{ "foob", "Zm9vYg==" }, { "fooba", "Zm9vYmE=" }, { "foobar", "Zm9vYmFy" },
};

START_TEST(base64_encode_vectors)
{
	char out[32];
	for (size_t i = 0; i < sizeof RFC4648 / sizeof RFC4648[0]; i++) {
		az_base64_encode(RFC4648[i].plain, strlen(RFC4648[i].plain), out);
		ck_assert_str_eq(out, RFC4648[i].b64);
	}
}
END_TEST

START_TEST(base64_decode_vectors)
{
	unsigned char out[32];
	for (size_t i = 0; i < sizeof RFC4648 / sizeof RFC4648[0]; i++) {
		const char *b = RFC4648[i].b64, *p = RFC4648[i].plain;
		long n = az_base64_decode(b, strlen(b), out, sizeof out);
		ck_assert_int_eq(n, (long)strlen(p));
		ck_assert(memcmp(out, p, strlen(p)) == 0);
	}
	/* padding is optional */
	ck_assert_int_eq(az_base64_decode("Zm8", 3, out, sizeof out), 2);
}
END_TEST

START_TEST(base64_decode_refuses)
{
	unsigned char out[4];
	ck_assert_int_eq(az_base64_decode("Zm9v*mFy", 8, out, sizeof out), -1);  /* not base64 */
	ck_assert_int_eq(az_base64_decode("Zm=v", 4, out, sizeof out), -1);      /* '=' inside */
	ck_assert_int_eq(az_base64_decode("Z", 1, out, sizeof out), -1);         /* 6 bits */
	ck_assert_int_eq(az_base64_decode("Zm9vYmFy", 8, out, sizeof out), -1);  /* 6 bytes into 4 */
	ck_assert_int_eq(az_base64_decode("Zm9v YmFy", 9, out, sizeof out), -1); /* blank */
}
END_TEST

START_TEST(base64_binary_round_trip)
{
	unsigned char in[256], back[256];
	char b64[400];
	for (int i = 0; i < 256; i++)
		in[i] = (unsigned char)(255 - i);
	for (size_t len = 0; len <= sizeof in; len += 37) {
		az_base64_encode(in, len, b64);
		ck_assert_uint_eq(strlen(b64), 4 * ((len + 2) / 3));
		ck_assert_int_eq(az_base64_decode(b64, strlen(b64), back, sizeof back), (long)len);
		ck_assert(memcmp(in, back, len) == 0);
	}
}
END_TEST

START_TEST(hmac_sha256_rfc4231)
{
	char out[45];
	/* RFC 4231 test case 2: key "Jefe". */
	az_hmac_sha256_b64((const unsigned char *)"Jefe", 4, "what do ya want for nothing?", 28, out);
	ck_assert_str_eq(out, "W9zBRr9gdU5qBCQmCJV1x1oAPwidJzmDnexYuWTsOEM=");
	/* RFC 4231 test case 1: key 20 x 0x0b, "Hi There" (b0344c61...cff7). */
	unsigned char key[20];
	memset(key, 0x0b, sizeof key);
	az_hmac_sha256_b64(key, sizeof key, "Hi There", 8, out);
	ck_assert_str_eq(out, "sDRMYdjbOFNcqK/OrwvxK4gdwgDJgz2nJuk3bC4yz/c=");
}
END_TEST

START_TEST(md5_rfc1321)
{
	char out[25];
	az_md5_b64("", 0, out);
	ck_assert_str_eq(out, "1B2M2Y8AsgTpgAmY7PhCfg==");
	az_md5_b64("abc", 3, out);
	ck_assert_str_eq(out, "kAFQmDzST7DWlj99KOF/cg==");
}
END_TEST

static Suite *make_suite(void)
{
	Suite *s = suite_create("azure_crypto");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, base64_encode_vectors);
	tcase_add_test(tc, base64_decode_vectors);
	tcase_add_test(tc, base64_decode_refuses);
	tcase_add_test(tc, base64_binary_round_trip);
	tcase_add_test(tc, hmac_sha256_rfc4231);
	tcase_add_test(tc, md5_rfc1321);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(make_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
