/* bench_format.c - encoder (and decoder) throughput of the object format.
 *
 *   make -C tests bench/bench_format && tests/bench/bench_format [MiB]
 *
 * Encodes a buffer of compressible text and one of random bytes, at zstd
 * levels 1 and 3 and without compression, with both ciphers, and prints
 * MB/s of plaintext (1 MB = 10^6 bytes).  Not run by make check. */
#include "config.h"
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "format/cipher.h"
#include "format/format.h"
#include "format/keyring.h"
#include "base/util.h"

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

static int null_write(void *ctx, const void *buf, size_t len)
{
	(void)buf;
	*(size_t *)ctx += len;
	return 0;
}

static uint8_t *g_obj;
static size_t g_objcap;

static double run(const tr_keys *k, const uint8_t *data, size_t len, int cipher, int compress,
		  int level, size_t *objlen, double *dec_mbs)
{
	tr_enc_opts o = { cipher, compress, level, 0, 0, NULL };
	struct mem m = { data, len, 0 };
	double t0 = tr_now();
	tr_enc *e = tr_enc_new(k, "bench", &o, mem_read, &m);
	size_t out = 0;
	ssize_t n;
	while ((n = tr_enc_read(e, g_obj + out, 1 << 20)) > 0) {
		out += (size_t)n;
		if (out + (1 << 20) > g_objcap) {
			fprintf(stderr, "object buffer too small\n");
			exit(1);
		}
	}
	double t1 = tr_now();
	if (n < 0) {
		fprintf(stderr, "encode failed: %s\n", tr_enc_error(e));
		exit(1);
	}
	tr_enc_free(e);
	size_t got = 0;
	double t2 = tr_now();
	tr_dec *d = tr_dec_new(k, "bench", null_write, &got);
	for (size_t off = 0; off < out; off += 1 << 20)
		tr_dec_write(d, g_obj + off, out - off < (1 << 20) ? out - off : 1 << 20);
	if (tr_dec_finish(d) != TR_FMT_OK || got != len) {
		fprintf(stderr, "decode failed: %s\n", tr_dec_error(d));
		exit(1);
	}
	tr_dec_free(d);
	double t3 = tr_now();
	*objlen = out;
	*dec_mbs = len / 1e6 / (t3 - t2);
	return len / 1e6 / (t1 - t0);
}

int main(int argc, char **argv)
{
	size_t len = (size_t)(argc > 1 ? atoi(argv[1]) : 16) << 20;
	uint8_t *text = malloc(len), *rnd = malloc(len);
	g_objcap = len + len / 8 + (4 << 20);
	g_obj = malloc(g_objcap);
	/* Log-like text: repeated words, varying numbers (ratio about 0.1). */
	uint64_t x = 88172645463325252ull;
	for (size_t i = 0, ln = 0; i < len; ln++) {
		char line[256];
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		int n = snprintf(line, sizeof(line), "2024-05-01 12:%02u:%02u.%03u UTC [%u] LOG:  "
				 "checkpoint complete: wrote %u buffers (%u.%u%%); %u WAL file(s) "
				 "added, 0 removed, lsn=%X/%08X\n", (unsigned)(ln / 600 % 60),
				 (unsigned)(ln / 10 % 60), (unsigned)(x % 1000),
				 (unsigned)(4000 + x % 50), (unsigned)(x >> 20 & 4095),
				 (unsigned)(x >> 32 & 63), (unsigned)(x >> 40 & 9),
				 (unsigned)(x >> 44 & 3), (unsigned)(ln >> 12),
				 (unsigned)(ln * 8192 + (x & 255)));
		for (int j = 0; j < n && i < len; j++)
			text[i++] = (uint8_t)line[j];
	}
	for (size_t i = 0; i < len; i += 1 << 20)
		tr_random(rnd + i, len - i < (1 << 20) ? len - i : 1 << 20);
	tr_keys k;
	memset(&k, 0, sizeof(k));
	tr_keys_derive(&k);

	printf("%zu MiB, AES-GCM in hardware: %s\n", len >> 20, tr_aead_aes_hw() ? "yes" : "no");
	printf("%-10s %-17s %-6s %10s %10s %8s\n", "data", "cipher", "zstd", "enc MB/s",
	       "dec MB/s", "ratio");
	size_t warm_len;
	double warm_dec;
	run(&k, rnd, len, TR_CIPHER_AES256GCM, TR_COMPRESS_NONE, 0, &warm_len, &warm_dec);
	const int ciphers[] = { TR_CIPHER_AES256GCM, TR_CIPHER_CHACHA20POLY1305 };
	const int levels[] = { 3, 1, -1 };
	for (int dk = 0; dk < 2; dk++)
		for (int c = 0; c < 2; c++)
			for (int l = 0; l < 3; l++) {
				size_t objlen;
				double dec;
				int comp = levels[l] < 0 ? TR_COMPRESS_NONE : TR_COMPRESS_ZSTD;
				double enc = run(&k, dk ? rnd : text, len, ciphers[c], comp,
						 comp ? levels[l] : 0, &objlen, &dec);
				char lv[8];
				snprintf(lv, sizeof(lv), comp ? "%d" : "off", levels[l]);
				printf("%-10s %-17s %-6s %10.0f %10.0f %8.3f\n",
				       dk ? "random" : "text",
				       c ? "chacha20-poly1305" : "aes-256-gcm", lv, enc, dec,
				       (double)objlen / (double)len);
			}
	free(text);
	free(rnd);
	free(g_obj);
	return 0;
}
