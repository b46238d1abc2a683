/* format.c - the stored object format (see format.h for the layout).
 *
 * Encoder: a pull source.  It fills one frame of (compressed) plaintext,
 * one byte beyond the frame size to learn whether more follows, seals it
 * and hands out [length | ciphertext | tag] to the reader in any sizes.
 * Frames before the final one carry exactly frame_size ciphertext bytes;
 * the final frame carries 0..frame_size bytes.
 *
 * Decoder: a push sink.  It collects one whole frame, authenticates it and
 * only then decompresses it and passes the plaintext on.  A frame shorter
 * than the frame size can only be the final one; a full-size frame is
 * opened as a middle frame first and, if that fails, as the final one.
 *
 * Memory is one frame buffer plus the zstd contexts, whatever the object
 * size.  Key material lives in the tr_enc / tr_dec and is wiped on free.
 */
#include "config.h"
#include "format/format.h"
#include "base/assert.h"
#include "format/cipher.h"
#include "format/compress.h"
#include "base/util.h"

#include <bearssl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FRAME_MIN 16u
#define ENC_INBUF (128 * 1024)
#define DEC_OUTBUF (128 * 1024)

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void make_nonce(uint8_t nonce[12], int final, uint64_t i)
{
	put32(nonce, final ? 1u : 0u);
	put32(nonce + 4, (uint32_t)(i >> 32));
	put32(nonce + 8, (uint32_t)i);
}

/* Object key = HMAC-SHA256(enc key, "object" | header | name). */
static tr_aead *object_aead(const uint8_t enc[32], const uint8_t hdr[TR_FMT_HEADER_LEN],
			    const char *name, int cipher)
{
	br_hmac_key_context kc;
	br_hmac_context hc;
	uint8_t key[32];
	br_hmac_key_init(&kc, &br_sha256_vtable, enc, 32);
	br_hmac_init(&hc, &kc, 0);
	br_hmac_update(&hc, "object", 6);
	br_hmac_update(&hc, hdr, TR_FMT_HEADER_LEN);
	br_hmac_update(&hc, name, strlen(name));
	br_hmac_out(&hc, key);
	tr_aead *a = tr_aead_new(cipher, key);
	explicit_bzero(&kc, sizeof(kc));
	explicit_bzero(&hc, sizeof(hc));
	explicit_bzero(key, sizeof(key));
	return a;
}

/* ---------------------------------------------------------------- encoder */

struct tr_enc {
	tr_read_fn src;
	void *src_ctx;
	tr_aead *aead;
	tr_zstd_c *z;
	uint32_t frame_size;
	uint8_t hdr[TR_FMT_HEADER_LEN];
	uint8_t *buf;          /* u32 length | frame_size + 1 bytes | tag */
	uint8_t *in;           /* source buffer when compressing */
	size_t in_pos, in_len;
	int carry_valid;       /* the byte past the last full frame */
	uint8_t carry;
	int src_eof, zdone, final_done, failed;
	const uint8_t *pend;   /* encoded bytes not yet handed out */
	size_t pend_len;
	uint64_t frame_no, bytes_in, bytes_out;
	tr_enc_scratch *scratch;  /* owns buf, in and z when set */
	char err[256];
};

/* Buffers may hold plaintext: wiped before they go back. */
static void wipe_free(void *p, size_t len)
{
	if (!p)
		return;
	explicit_bzero(p, len);
	free(p);
}

struct tr_enc_scratch {
	uint8_t *buf;
	size_t buf_cap;
	uint8_t *in;
	tr_zstd_c *z;
};

tr_enc_scratch *tr_enc_scratch_new(void)
{
	return calloc(1, sizeof(tr_enc_scratch));
}

void tr_enc_scratch_free(tr_enc_scratch *s)
{
	if (!s)
		return;
	wipe_free(s->buf, s->buf_cap);
	wipe_free(s->in, ENC_INBUF);
	tr_zstd_c_free(s->z);
	free(s);
}

/* Points the encoder at the scratch's memory, growing what is too small. */
static int borrow_scratch(tr_enc *e, tr_enc_scratch *s, size_t buf_len, int zstd, int level)
{
	if (s->buf_cap < buf_len) {
		free(s->buf);
		s->buf_cap = 0;
		if (!(s->buf = malloc(buf_len)))
			return -1;
		s->buf_cap = buf_len;
	}
	if (zstd) {
		if (!s->in && !(s->in = malloc(ENC_INBUF)))
			return -1;
		if (s->z && tr_zstd_c_reset(s->z, level) != 0) {
			tr_zstd_c_free(s->z);
			s->z = NULL;
		}
		if (!s->z && !(s->z = tr_zstd_c_new(level)))
			return -1;
	}
	e->scratch = s;
	e->buf = s->buf;
	e->in = zstd ? s->in : NULL;
	e->z = zstd ? s->z : NULL;
	return 0;
}

tr_enc *tr_enc_new(const tr_keys *keys, const char *name, const tr_enc_opts *opts,
		   tr_read_fn src, void *src_ctx)
{
	tr_enc_opts o = { TR_CIPHER_AUTO, TR_COMPRESS_ZSTD, 0, 0, 0, NULL };
	if (opts)
		o = *opts;
	if (o.cipher == TR_CIPHER_AUTO)
		o.cipher = tr_aead_aes_hw() ? TR_CIPHER_AES256GCM : TR_CIPHER_CHACHA20POLY1305;
	if (o.frame_size == 0)
		o.frame_size = TR_FMT_FRAME_DEFAULT;
	if ((o.cipher != TR_CIPHER_AES256GCM && o.cipher != TR_CIPHER_CHACHA20POLY1305) ||
	    (o.compress != TR_COMPRESS_NONE && o.compress != TR_COMPRESS_ZSTD) ||
	    o.frame_size < FRAME_MIN || o.frame_size > TR_FMT_FRAME_MAX || !src || !keys ||
	    (o.precompressed && o.compress != TR_COMPRESS_ZSTD))
		return NULL;
	if (!name)
		name = "";

	tr_enc *e = calloc(1, sizeof(*e));
	if (!e)
		return NULL;
	e->src = src;
	e->src_ctx = src_ctx;
	e->frame_size = o.frame_size;
	memcpy(e->hdr, TR_FMT_MAGIC, 4);
	e->hdr[4] = TR_FMT_VERSION;
	e->hdr[5] = (uint8_t)o.cipher;
	e->hdr[6] = (uint8_t)o.compress;
	e->hdr[7] = 0;
	put32(e->hdr + 8, o.frame_size);
	memcpy(e->hdr + 12, keys->id, 8);
	if (tr_random(e->hdr + 20, 16) < 0)
		goto fail;
	size_t buf_len = 4 + (size_t)o.frame_size + TR_FMT_TAG_LEN;
	int zstd = o.compress == TR_COMPRESS_ZSTD && !o.precompressed;
	if (o.scratch) {
		if (borrow_scratch(e, o.scratch, buf_len, zstd, o.level) != 0)
			goto fail;
	} else {
		e->buf = malloc(buf_len);
		if (!e->buf)
			goto fail;
		if (zstd) {
			e->in = malloc(ENC_INBUF);
			e->z = tr_zstd_c_new(o.level);
			if (!e->in || !e->z)
				goto fail;
		}
	}
	e->aead = object_aead(keys->enc, e->hdr, name, o.cipher);
	if (!e->aead)
		goto fail;
	e->pend = e->hdr;
	e->pend_len = TR_FMT_HEADER_LEN;
	return e;
fail:
	tr_enc_free(e);
	return NULL;
}

static int enc_fail(tr_enc *e, const char *msg)
{
	snprintf(e->err, sizeof(e->err), "%s", msg);
	e->failed = 1;
	return -1;
}

/* Fills, seals and queues the next frame. */
static int enc_frame(tr_enc *e)
{
	const size_t cap = (size_t)e->frame_size + 1;
	uint8_t *d = e->buf + 4;
	size_t fill = 0;

	if (e->carry_valid) {
		d[0] = e->carry;
		fill = 1;
		e->carry_valid = 0;
	}
	while (fill < cap) {
		if (!e->z) {
			if (e->src_eof)
				break;
			size_t want = cap - fill;
			if (want > SSIZE_MAX)
				want = SSIZE_MAX;
			ssize_t n = e->src(e->src_ctx, d + fill, want);
			if (n < 0)
				return enc_fail(e, "reading the data to store failed");
			if ((size_t)n > want)
				return enc_fail(e, "the data source returned more bytes than asked for");
			if (n == 0) {
				e->src_eof = 1;
				break;
			}
			fill += (size_t)n;
			e->bytes_in += (uint64_t)n;
		} else {
			if (e->zdone)
				break;
			if (e->in_pos == e->in_len && !e->src_eof) {
				ssize_t n = e->src(e->src_ctx, e->in, ENC_INBUF);
				if (n < 0)
					return enc_fail(e, "reading the data to store failed");
				if ((size_t)n > ENC_INBUF)
					return enc_fail(e, "the data source returned more bytes than asked for");
				if (n == 0) {
					e->src_eof = 1;
				} else {
					e->in_pos = 0;
					e->in_len = (size_t)n;
					e->bytes_in += (uint64_t)n;
				}
			}
			size_t il = e->in_len - e->in_pos, ol = cap - fill;
			int r = tr_zstd_c_step(e->z, e->in + e->in_pos, &il, d + fill, &ol, e->src_eof);
			if (r < 0)
				return enc_fail(e, "zstd compression failed");
			e->in_pos += il;
			fill += ol;
			if (e->src_eof && r == 0)
				e->zdone = 1;
		}
	}

	TR_ASSERT(fill <= cap);  /* the buffer holds frame_size + 1 bytes */
	int final = fill < cap;
	size_t len = final ? fill : e->frame_size;
	if (!final) {
		e->carry = d[e->frame_size];
		e->carry_valid = 1;
	}
	uint8_t nonce[12];
	make_nonce(nonce, final, e->frame_no);
	put32(e->buf, (uint32_t)len);
	tr_aead_seal(e->aead, nonce, NULL, 0, d, len, d + len);
	e->frame_no++;
	e->final_done = final;
	e->pend = e->buf;
	e->pend_len = 4 + len + TR_FMT_TAG_LEN;
	return 0;
}

ssize_t tr_enc_read(void *p, void *buf, size_t len)
{
	tr_enc *e = p;
	size_t done = 0;
	if (e->failed)
		return -1;
	if (len > SSIZE_MAX)
		len = SSIZE_MAX;
	while (done < len) {
		if (e->pend_len == 0) {
			if (e->final_done)
				break;
			if (enc_frame(e) < 0)
				return -1;
		}
		size_t n = e->pend_len < len - done ? e->pend_len : len - done;
		memcpy((uint8_t *)buf + done, e->pend, n);
		e->pend += n;
		e->pend_len -= n;
		done += n;
	}
	e->bytes_out += done;
	return (ssize_t)done;
}

const char *tr_enc_error(const tr_enc *e)
{
	return e->err;
}

uint64_t tr_enc_bytes_in(const tr_enc *e)
{
	return e->bytes_in;
}

uint64_t tr_enc_bytes_out(const tr_enc *e)
{
	return e->bytes_out;
}

void tr_enc_free(tr_enc *e)
{
	if (!e)
		return;
	tr_aead_free(e->aead);
	if (!e->scratch) {  /* borrowed memory is wiped when its scratch is freed */
		tr_zstd_c_free(e->z);
		wipe_free(e->buf, 4 + (size_t)e->frame_size + TR_FMT_TAG_LEN);
		wipe_free(e->in, ENC_INBUF);
	}
	explicit_bzero(e, sizeof(*e));
	free(e);
}

/* ---------------------------------------------------------------- decoder */

enum { D_HEADER, D_LENGTH, D_BODY, D_DONE };

struct tr_dec {
	tr_write_fn sink;
	void *sink_ctx;
	uint8_t enc[32];       /* keys->enc, wiped on free */
	uint8_t id[8];
	char *name;
	int state;
	uint8_t hdr[TR_FMT_HEADER_LEN];
	size_t hdr_fill;
	uint32_t frame_size;
	tr_aead *aead;
	tr_zstd_d *z;
	uint8_t *zout;
	uint8_t lenbuf[4];
	size_t len_fill;
	uint32_t flen;         /* ciphertext length of the current frame */
	uint8_t *buf;          /* ciphertext | tag of the current frame */
	size_t body_fill;
	uint64_t frame_no, bytes_in, bytes_out;
	int status;
	char err[TR_KEY_MAX + 256];
};

tr_dec *tr_dec_new(const tr_keys *keys, const char *name, tr_write_fn sink, void *sink_ctx)
{
	if (!keys || !sink)
		return NULL;
	tr_dec *d = calloc(1, sizeof(*d));
	if (!d)
		return NULL;
	d->name = strdup(name ? name : "");
	if (!d->name) {
		free(d);
		return NULL;
	}
	d->sink = sink;
	d->sink_ctx = sink_ctx;
	memcpy(d->enc, keys->enc, 32);
	memcpy(d->id, keys->id, 8);
	d->state = D_HEADER;
	return d;
}

__attribute__((format(printf, 3, 4)))
static int dec_fail(tr_dec *d, int status, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(d->err, sizeof(d->err), fmt, ap);
	va_end(ap);
	d->status = status;
	return -1;
}

static int dec_header(tr_dec *d)
{
	const uint8_t *h = d->hdr;
	if (h[4] != TR_FMT_VERSION)
		return dec_fail(d, TR_FMT_EFORMAT, "unsupported object format version %u "
				"(this build reads version %d)", h[4], TR_FMT_VERSION);
	if (h[5] != TR_CIPHER_AES256GCM && h[5] != TR_CIPHER_CHACHA20POLY1305)
		return dec_fail(d, TR_FMT_EFORMAT, "unknown cipher id %u in the object header", h[5]);
	if (h[6] != TR_COMPRESS_NONE && h[6] != TR_COMPRESS_ZSTD)
		return dec_fail(d, TR_FMT_EFORMAT, "unknown compression id %u in the object header",
				h[6]);
	if (h[7] != 0)
		return dec_fail(d, TR_FMT_EFORMAT, "unknown flags 0x%02x in the object header", h[7]);
	uint32_t fs = get32(h + 8);
	if (fs == 0 || fs > TR_FMT_FRAME_MAX)
		return dec_fail(d, TR_FMT_EFORMAT, "invalid frame size %u in the object header "
				"(1 to %d)", (unsigned)fs, TR_FMT_FRAME_MAX);
	if (memcmp(h + 12, d->id, 8) != 0) {
		char got[17], want[17];
		tr_hex(h + 12, 8, got);
		tr_hex(d->id, 8, want);
		return dec_fail(d, TR_FMT_EKEY, "encrypted with another key (key id %s, expected %s): "
				"encryption key does not match this repository", got, want);
	}
	d->frame_size = fs;
	d->buf = malloc((size_t)fs + TR_FMT_TAG_LEN);
	if (!d->buf)
		return dec_fail(d, TR_FMT_ENOMEM, "out of memory");
	if (h[6] == TR_COMPRESS_ZSTD) {
		d->z = tr_zstd_d_new();
		d->zout = malloc(DEC_OUTBUF);
		if (!d->z || !d->zout)
			return dec_fail(d, TR_FMT_ENOMEM, "out of memory");
	}
	d->aead = object_aead(d->enc, h, d->name, h[5]);
	if (!d->aead)
		return dec_fail(d, TR_FMT_ENOMEM, "out of memory");
	return 0;
}

static int dec_emit(tr_dec *d, const uint8_t *p, size_t len)
{
	if (len == 0)
		return 0;
	if (d->sink(d->sink_ctx, p, len) != 0)
		return dec_fail(d, TR_FMT_ESINK, "writing the restored data failed at frame %llu",
				(unsigned long long)d->frame_no);
	d->bytes_out += len;
	return 0;
}

/* Authenticates the frame in d->buf, then passes its plaintext on. */
static int dec_frame(tr_dec *d)
{
	uint8_t nonce[12];
	uint8_t *data = d->buf, *tag = d->buf + d->flen;
	int final = 1, rc = -1;

	if (d->flen == d->frame_size) {
		make_nonce(nonce, 0, d->frame_no);
		rc = tr_aead_open(d->aead, nonce, NULL, 0, data, d->flen, tag);
		final = rc != 0;
	}
	if (rc != 0) {
		make_nonce(nonce, 1, d->frame_no);
		rc = tr_aead_open(d->aead, nonce, NULL, 0, data, d->flen, tag);
	}
	if (rc != 0)
		return dec_fail(d, TR_FMT_EAUTH, "authentication failed at frame %llu: the object was "
				"altered, truncated or is not the object named %s",
				(unsigned long long)d->frame_no, d->name);

	if (!d->z) {
		if (dec_emit(d, data, d->flen) < 0)
			return -1;
	} else {
		size_t pos = 0;
		for (;;) {
			size_t il = d->flen - pos, ol = DEC_OUTBUF;
			const char *zerr = "corrupt data";
			int r = tr_zstd_d_step(d->z, data + pos, &il, d->zout, &ol, &zerr);
			if (r < 0)
				return dec_fail(d, TR_FMT_EDATA, "decompression failed at frame %llu: %s",
						(unsigned long long)d->frame_no, zerr);
			pos += il;
			if (dec_emit(d, d->zout, ol) < 0)
				return -1;
			if (pos == d->flen && r == 0)
				break;
		}
	}
	if (final) {
		if (d->z && !tr_zstd_d_complete(d->z))
			return dec_fail(d, TR_FMT_EDATA, "decompression failed at frame %llu: the "
					"compressed data ends early", (unsigned long long)d->frame_no);
		d->state = D_DONE;
	} else {
		d->state = D_LENGTH;
		d->len_fill = 0;
	}
	d->frame_no++;
	return 0;
}

int tr_dec_write(void *p, const void *buf, size_t len)
{
	tr_dec *d = p;
	const uint8_t *in = buf;

	if (d->status != TR_FMT_OK)
		return -1;
	while (len > 0) {
		size_t n;
		switch (d->state) {
		case D_HEADER:
			n = TR_FMT_HEADER_LEN - d->hdr_fill;
			n = n < len ? n : len;
			memcpy(d->hdr + d->hdr_fill, in, n);
			d->hdr_fill += n;
			if (memcmp(d->hdr, TR_FMT_MAGIC, d->hdr_fill < 4 ? d->hdr_fill : 4) != 0)
				return dec_fail(d, TR_FMT_EFORMAT, "not a TotalRecall object "
						"(it does not start with \"" TR_FMT_MAGIC "\")");
			if (d->hdr_fill == TR_FMT_HEADER_LEN) {
				if (dec_header(d) < 0)
					return -1;
				d->state = D_LENGTH;
				d->len_fill = 0;
			}
			break;
		case D_LENGTH:
			n = 4 - d->len_fill;
			n = n < len ? n : len;
			memcpy(d->lenbuf + d->len_fill, in, n);
			d->len_fill += n;
			if (d->len_fill == 4) {
				d->flen = get32(d->lenbuf);
				if (d->flen > d->frame_size)
					return dec_fail(d, TR_FMT_EAUTH, "authentication failed at frame %llu "
							"(length %u is more than the frame size %u): the "
							"object was altered or is not a TotalRecall object",
							(unsigned long long)d->frame_no, (unsigned)d->flen,
							(unsigned)d->frame_size);
				d->state = D_BODY;
				d->body_fill = 0;
			}
			break;
		case D_BODY:
			TR_ASSERT(d->flen <= d->frame_size);  /* checked as the length was read */
			n = d->flen + TR_FMT_TAG_LEN - d->body_fill;
			n = n < len ? n : len;
			memcpy(d->buf + d->body_fill, in, n);
			d->body_fill += n;
			if (d->body_fill == d->flen + TR_FMT_TAG_LEN) {
				d->bytes_in += n;
				in += n;
				len -= n;
				if (dec_frame(d) < 0)
					return -1;
				continue;
			}
			break;
		default:
			return dec_fail(d, TR_FMT_ETRAIL, "unexpected bytes after the final frame: "
					"the object was altered or has something appended");
		}
		d->bytes_in += n;
		in += n;
		len -= n;
	}
	return 0;
}

int tr_dec_finish(tr_dec *d)
{
	if (d->status != TR_FMT_OK)
		return d->status;
	if (d->state != D_DONE) {
		dec_fail(d, TR_FMT_ETRUNC, "truncated: ends before its final frame");
		return d->status;
	}
	return TR_FMT_OK;
}

int tr_dec_status(const tr_dec *d)
{
	return d->status;
}

const char *tr_dec_error(const tr_dec *d)
{
	return d->err;
}

uint64_t tr_dec_bytes_in(const tr_dec *d)
{
	return d->bytes_in;
}

uint64_t tr_dec_bytes_out(const tr_dec *d)
{
	return d->bytes_out;
}

void tr_dec_free(tr_dec *d)
{
	if (!d)
		return;
	tr_aead_free(d->aead);
	tr_zstd_d_free(d->z);
	wipe_free(d->buf, (size_t)d->frame_size + TR_FMT_TAG_LEN);
	wipe_free(d->zout, DEC_OUTBUF);
	free(d->name);
	explicit_bzero(d, sizeof(*d));
	free(d);
}

/* ------------------------------------------------------- one-shot helpers */

struct membuf {
	const uint8_t *in;
	size_t len, pos;
	uint8_t *out;
	size_t outlen, outcap;
};

static ssize_t mem_read(void *ctx, void *buf, size_t len)
{
	struct membuf *m = ctx;
	size_t n = m->len - m->pos < len ? m->len - m->pos : len;
	if (n)
		memcpy(buf, m->in + m->pos, n);
	m->pos += n;
	return (ssize_t)n;
}

static int mem_append(struct membuf *m, const void *buf, size_t len)
{
	if (m->outcap - m->outlen < len) {
		size_t cap = m->outcap ? m->outcap : 1024;
		while (cap - m->outlen < len) {
			if (cap > SIZE_MAX / 2)
				return -1;
			cap *= 2;
		}
		uint8_t *p = realloc(m->out, cap);
		if (!p)
			return -1;
		m->out = p;
		m->outcap = cap;
	}
	memcpy(m->out + m->outlen, buf, len);
	m->outlen += len;
	return 0;
}

static int mem_write(void *ctx, const void *buf, size_t len)
{
	return mem_append(ctx, buf, len);
}

int tr_fmt_seal(const tr_keys *keys, const char *name, const void *in, size_t len,
		uint8_t **out, size_t *outlen)
{
	struct membuf m = { in, len, 0, NULL, 0, 0 };
	uint8_t chunk[16384];
	*out = NULL;
	*outlen = 0;
	tr_enc *e = tr_enc_new(keys, name, NULL, mem_read, &m);
	if (!e)
		return TR_FMT_ENOMEM;
	for (;;) {
		ssize_t n = tr_enc_read(e, chunk, sizeof(chunk));
		if (n < 0 || (n > 0 && mem_append(&m, chunk, (size_t)n) < 0)) {
			tr_enc_free(e);
			free(m.out);
			return TR_FMT_ENOMEM;
		}
		if (n == 0)
			break;
	}
	tr_enc_free(e);
	*out = m.out;
	*outlen = m.outlen;
	return TR_FMT_OK;
}

int tr_fmt_open(const tr_keys *keys, const char *name, const void *in, size_t len,
		uint8_t **out, size_t *outlen)
{
	struct membuf m = { NULL, 0, 0, NULL, 0, 0 };
	*out = NULL;
	*outlen = 0;
	tr_dec *d = tr_dec_new(keys, name, mem_write, &m);
	if (!d)
		return TR_FMT_ENOMEM;
	tr_dec_write(d, in, len);
	int rc = tr_dec_finish(d);
	if (rc == TR_FMT_ESINK)
		rc = TR_FMT_ENOMEM;
	tr_dec_free(d);
	if (rc != TR_FMT_OK) {
		if (m.out)
			explicit_bzero(m.out, m.outlen);
		free(m.out);
		return rc;
	}
	if (!m.out && !(m.out = malloc(1)))
		return TR_FMT_ENOMEM;
	*out = m.out;
	*outlen = m.outlen;
	return TR_FMT_OK;
}
