/* test_zerochunk.c - chunks of zeros: the scan that replaces the hash
 * finds every non-zero byte, and the id it stands for is the keyed id of
 * zeros of that length only. */
#include "config.h"
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "format/checksum.h"
#include "format/zerochunk.h"

static void keys(tr_keys *k, uint8_t seed)
{
	for (int i = 0; i < 32; i++)
		k->data[i] = (uint8_t)(seed + i);
	tr_keys_derive(k);
}

START_TEST(test_all_zero)
{
	size_t len = 1 << 20;
	unsigned char *b = calloc(1, len);
	ck_assert(tr_all_zero(b, len));
	ck_assert(tr_all_zero(b, 0));
	ck_assert(tr_all_zero(b, 1));
	ck_assert(tr_all_zero(b, 63));
	ck_assert(tr_all_zero(b, 65));
	/* A single non-zero byte anywhere, also near both ends and around 64. */
	static const size_t at[] = { 0, 1, 63, 64, 65, 127, 128, 4095, 65536, (1 << 20) - 1 };
	for (size_t i = 0; i < sizeof at / sizeof at[0]; i++) {
		b[at[i]] = 0x80;
		ck_assert_msg(!tr_all_zero(b, len), "missed a byte at %zu", at[i]);
		ck_assert(tr_all_zero(b, at[i]));  /* the bytes before it are zero */
		b[at[i]] = 0;
	}
	free(b);
}
END_TEST

START_TEST(test_zero_id)
{
	tr_keys k, other;
	keys(&k, 1);
	keys(&other, 2);
	size_t len = 256 * 1024;
	unsigned char *zeros = calloc(1, len);
	char want[66];
	tr_chunk_id(&k, zeros, len, want);
	tr_zerochunk z, zo;
	tr_zerochunk_init(&z, &k, len);
	ck_assert_str_eq(z.id, want);
	ck_assert(tr_zerochunk_is(&z, want, len));
	ck_assert(!tr_zerochunk_is(&z, want, len - 1));  /* another length: another chunk */
	tr_zerochunk_init(&zo, &other, len);
	ck_assert_str_ne(zo.id, z.id);                    /* keyed: not a guessable name */
	zeros[len / 2] = 1;
	char nonzero[66];
	tr_chunk_id(&k, zeros, len, nonzero);
	ck_assert(!tr_zerochunk_is(&z, nonzero, len));
	free(zeros);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("zerochunk");
	TCase *tc = tcase_create("zero");
	tcase_add_test(tc, test_all_zero);
	tcase_add_test(tc, test_zero_id);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
