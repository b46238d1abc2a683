/*
 * format.h - the stored object format: zstd, then authenticated encryption,
 * in frames, with the object's logical name bound into the keys.
 *
 * Knows nothing of storage: the encoder is a pull source (tr_read_fn) a
 * driver's put() reads from; the decoder is a push sink (tr_write_fn) a
 * driver's get() writes to.  Memory is bounded by the frame size.
 *
 * Layout (all integers big-endian):
 *   header (TR_FMT_HEADER_LEN bytes, authenticated through the key):
 *     magic "TRC1" | u8 format version (1) | u8 cipher id | u8 compression id
 *     | u8 flags (0) | u32 frame size | 8-byte key id | 16-byte random salt
 *   frames, one or more:
 *     u32 ciphertext length L | L bytes of ciphertext | 16-byte tag
 *   Object key = HMAC-SHA256(enc key, "object" | header | name), so a change to
 *   the header or a swapped name fails authentication.  Frame i (from 0) is
 *   sealed with nonce = u32 final-flag | u64 i, so reordering, duplicating,
 *   dropping or truncating frames (also at a frame boundary: the last frame
 *   carries the final flag) fails.  Bytes after the final frame fail.
 */
#ifndef TR_FORMAT_H
#define TR_FORMAT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "totalrecall/driver.h"
#include "format/keyring.h"

#define TR_FMT_MAGIC "TRC1"
#define TR_FMT_VERSION 1
#define TR_FMT_HEADER_LEN 36
#define TR_FMT_TAG_LEN 16
#define TR_FMT_FRAME_DEFAULT (256 * 1024)
#define TR_FMT_FRAME_MAX (16 * 1024 * 1024)

enum tr_fmt_cipher { TR_CIPHER_AUTO = 0, TR_CIPHER_AES256GCM = 1, TR_CIPHER_CHACHA20POLY1305 = 2 };
enum tr_fmt_compress { TR_COMPRESS_NONE = 0, TR_COMPRESS_ZSTD = 1 };

/* Decoder errors, from tr_dec_status(). */
enum tr_fmt_err {
	TR_FMT_OK = 0,
	TR_FMT_EFORMAT = -1,  /* not a TotalRecall object, or unknown version/algorithm */
	TR_FMT_EKEY = -2,     /* key id differs: encrypted with another key */
	TR_FMT_EAUTH = -3,    /* authentication failed: tampered, swapped or reordered */
	TR_FMT_ETRUNC = -4,   /* ended before the final frame */
	TR_FMT_ETRAIL = -5,   /* bytes after the final frame */
	TR_FMT_EDATA = -6,    /* authenticated but decompression failed */
	TR_FMT_ESINK = -7,    /* the sink refused the bytes */
	TR_FMT_ENOMEM = -8
};

/* Memory an encoder may borrow instead of allocating its own: a zstd
 * context and the frame buffers.  A thread that stores many objects (a
 * backup worker) keeps one, so that each object does not allocate and
 * fault in several MiB afresh.  One encoder at a time per scratch. */
typedef struct tr_enc_scratch tr_enc_scratch;
tr_enc_scratch *tr_enc_scratch_new(void);
void tr_enc_scratch_free(tr_enc_scratch *s);  /* wipes the buffers */

typedef struct tr_enc_opts {
	int cipher;          /* TR_CIPHER_*, AUTO picks AES-GCM with AES-NI, else ChaCha20 */
	int compress;        /* TR_COMPRESS_* */
	int level;           /* zstd level, 0 = default (3) */
	uint32_t frame_size; /* 0 = TR_FMT_FRAME_DEFAULT */
	int precompressed;   /* the source already yields a zstd stream (compress
			      * must be TR_COMPRESS_ZSTD): frame and seal it only */
	tr_enc_scratch *scratch; /* NULL: the encoder allocates its own memory */
} tr_enc_opts;

typedef struct tr_enc tr_enc;
typedef struct tr_dec tr_dec;

/* Encoder over a plaintext source.  name is the logical object name bound
 * into the keys.  opts may be NULL for defaults.  NULL on ENOMEM/EINVAL. */
tr_enc *tr_enc_new(const tr_keys *keys, const char *name, const tr_enc_opts *opts,
		   tr_read_fn src, void *src_ctx);
/* A tr_read_fn: fills buf with encoded bytes; 0 at the end; -1 on error
 * (the source failed, or out of memory: see tr_enc_error()). */
ssize_t tr_enc_read(void *enc, void *buf, size_t len);
const char *tr_enc_error(const tr_enc *enc);
uint64_t tr_enc_bytes_in(const tr_enc *enc);   /* plaintext bytes consumed */
uint64_t tr_enc_bytes_out(const tr_enc *enc);  /* encoded bytes produced */
void tr_enc_free(tr_enc *enc);

/* Decoder writing authenticated plaintext to sink.  Never hands the sink a
 * byte of a frame before that frame is authenticated. */
tr_dec *tr_dec_new(const tr_keys *keys, const char *name, tr_write_fn sink, void *sink_ctx);
/* A tr_write_fn: consumes encoded bytes; -1 once an error is recorded. */
int tr_dec_write(void *dec, const void *buf, size_t len);
/* Call at the end of the input: TR_FMT_OK only if the final frame was seen
 * and nothing followed it. */
int tr_dec_finish(tr_dec *dec);
int tr_dec_status(const tr_dec *dec);           /* TR_FMT_* so far */
const char *tr_dec_error(const tr_dec *dec);    /* one line, "" if none */
uint64_t tr_dec_bytes_in(const tr_dec *dec);
uint64_t tr_dec_bytes_out(const tr_dec *dec);
void tr_dec_free(tr_dec *dec);

/* One-shot helpers for small objects held in memory (manifests, keyrings).
 * *out is malloc'ed.  Return 0 or a TR_FMT_* error. */
int tr_fmt_seal(const tr_keys *keys, const char *name, const void *in, size_t len,
		uint8_t **out, size_t *outlen);
int tr_fmt_open(const tr_keys *keys, const char *name, const void *in, size_t len,
		uint8_t **out, size_t *outlen);

#endif
