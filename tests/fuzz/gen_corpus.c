/* gen_corpus.c - writes the seed objects of fuzz_decoder into a directory.
 *
 *   clang-14 -I. -Iinclude -Isrc tests/fuzz/gen_corpus.c src/format/format.c src/format/cipher.c \
 *     src/format/compress.c src/format/keyring.c src/format/kdf.c src/base/util.c -lbearssl -lzstd -o gen_corpus
 *   ./gen_corpus tests/fuzz/corpus/decoder
 *
 * Seeds: small valid objects (zstd with AES-GCM, no compression with
 * ChaCha20-Poly1305 and 64-byte frames), a truncated one, one with a
 * flipped bit and one with trailing bytes.  The salt is random, so the
 * bytes differ on every run. */
#include "config.h"
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "format/format.h"
#include "format/keyring.h"

#define FUZZ_NAME "wal/000000010000000000000001"

struct mem {
	const uint8_t *p;
	size_t len, pos;
};

static ssize_t mem_read(void *ctx, void *buf, size_t len)
{
	struct mem *m = ctx;
	size_t n = m->len - m->pos < len ? m->len - m->pos : len;
	memcpy(buf, m->p + m->pos, n);
	m->pos += n;
	return (ssize_t)n;
}

static size_t encode(const tr_keys *k, int cipher, int compress, uint32_t frame,
		     const uint8_t *pt, size_t len, uint8_t *out, size_t cap)
{
	tr_enc_opts o = { cipher, compress, 0, frame, 0, NULL };
	struct mem m = { pt, len, 0 };
	tr_enc *e = tr_enc_new(k, FUZZ_NAME, &o, mem_read, &m);
	size_t n = 0;
	ssize_t r;
	while ((r = tr_enc_read(e, out + n, cap - n)) > 0)
		n += (size_t)r;
	if (r < 0 || n == cap)
		abort();
	tr_enc_free(e);
	return n;
}

static void save(const char *dir, const char *name, const uint8_t *p, size_t len)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "wb");
	if (!f || fwrite(p, 1, len, f) != len || fclose(f) != 0) {
		perror(path);
		exit(1);
	}
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: gen_corpus DIR\n");
		return 2;
	}
	tr_keys k;
	memset(&k, 0, sizeof(k));
	for (int i = 0; i < 32; i++)
		k.data[i] = (uint8_t)(i * 3 + 1);
	tr_keys_derive(&k);

	uint8_t pt[300], obj[4096];
	for (size_t i = 0; i < sizeof(pt); i++)
		pt[i] = (uint8_t)"archive_command = 'totalrecall archive-put %p'\n"[i % 48];
	size_t n = encode(&k, TR_CIPHER_AES256GCM, TR_COMPRESS_ZSTD, 64, pt, sizeof(pt), obj,
			  sizeof(obj));
	save(argv[1], "valid-zstd-aes", obj, n);
	n = encode(&k, TR_CIPHER_CHACHA20POLY1305, TR_COMPRESS_NONE, 64, pt, 150, obj, sizeof(obj));
	save(argv[1], "valid-plain-chacha", obj, n);
	save(argv[1], "truncated", obj, n - 30);
	obj[60] ^= 4;
	save(argv[1], "bitflip", obj, n);
	obj[60] ^= 4;
	n = encode(&k, TR_CIPHER_CHACHA20POLY1305, TR_COMPRESS_ZSTD, 4096, pt, 0, obj, sizeof(obj));
	memcpy(obj + n, "xyz", 3);
	save(argv[1], "empty-trailing", obj, n + 3);
	return 0;
}
