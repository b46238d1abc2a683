/* fuzz_decoder.c - libFuzzer target for the object decoder.
 *
 * Build and run by hand from the top of the tree, after ./configure (for
 * config.h):
 *
 *   clang-14 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
 *     -I. -Iinclude -Isrc tests/fuzz/fuzz_decoder.c src/format/format.c src/format/cipher.c \
 *     src/format/compress.c src/format/keyring.c src/format/kdf.c src/base/util.c -lbearssl -lzstd -o fuzz_decoder
 *   ./fuzz_decoder -max_total_time=60 tests/fuzz/corpus/decoder
 *
 * (work on a copy of the corpus directory to keep the seeds as they are.)
 * The seeds are made by tests/fuzz/gen_corpus.c with the same key and name.
 *
 * Each input is decoded twice, in one write and in small pieces whose size
 * depends on the input length: the status, the error message and the
 * output must not depend on how the bytes arrive, and an object that
 * decodes must have produced exactly what its frames held.
 */
#include "config.h"
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "format/format.h"
#include "format/keyring.h"

#define FUZZ_NAME "wal/000000010000000000000001"

struct out {
	uint64_t n;
	uint64_t hash;
};

static int sink(void *ctx, const void *buf, size_t len)
{
	struct out *o = ctx;
	const uint8_t *p = buf;
	for (size_t i = 0; i < len; i++)
		o->hash = (o->hash ^ p[i]) * 0x100000001b3ull;
	o->n += len;
	return 0;
}

static void fuzz_keys(tr_keys *k)
{
	memset(k, 0, sizeof(*k));
	for (int i = 0; i < 32; i++)
		k->data[i] = (uint8_t)(i * 3 + 1);
	tr_keys_derive(k);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static tr_keys keys;
	static int init;
	if (!init) {
		fuzz_keys(&keys);
		init = 1;
	}
	struct out a = { 0, 0xcbf29ce484222325ull }, b = a;
	tr_dec *d1 = tr_dec_new(&keys, FUZZ_NAME, sink, &a);
	tr_dec *d2 = tr_dec_new(&keys, FUZZ_NAME, sink, &b);
	if (!d1 || !d2)
		abort();
	tr_dec_write(d1, data, size);
	size_t piece = size % 13 + 1;
	for (size_t off = 0; off < size; off += piece)
		if (tr_dec_write(d2, data + off, size - off < piece ? size - off : piece) != 0)
			break;
	int s1 = tr_dec_finish(d1), s2 = tr_dec_finish(d2);
	if (s1 != s2 || strcmp(tr_dec_error(d1), tr_dec_error(d2)) != 0 || a.n != b.n ||
	    a.hash != b.hash) {
		fprintf(stderr, "pieces changed the result: %d \"%s\" vs %d \"%s\"\n", s1,
			tr_dec_error(d1), s2, tr_dec_error(d2));
		abort();
	}
	if (s1 < TR_FMT_ENOMEM || s1 > TR_FMT_OK)
		abort();
	if ((s1 == TR_FMT_OK) != (tr_dec_error(d1)[0] == '\0'))
		abort();
	if (tr_dec_bytes_out(d1) != a.n || tr_dec_bytes_in(d1) > size)
		abort();
	tr_dec_free(d1);
	tr_dec_free(d2);
	return 0;
}
