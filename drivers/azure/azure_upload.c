/* azure_upload.c - put(): a body of up to one block goes up in one Put
 * Blob; a larger one as staged blocks (Put Block, one block in memory at
 * a time, kept for retries) committed by one Put Block List.  The blob
 * appears only at the commit, whole, with its checksum as metadata
 * (x-ms-meta-trchecksum).  Put-if-absent is If-None-Match: * on the Put
 * Blob or on the commit, so it stays atomic for large bodies too.
 *
 * Block ids carry a random upload id: two writers staging blocks for the
 * same name at once (uncommitted blocks belong to the blob name, not to
 * an upload) can never commit each other's blocks.  There is no call to
 * drop staged blocks; the service discards uncommitted blocks after a
 * week. */
#include "config.h"
#include "azure_http.h"
#include "azure_crypto.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FIRST_ALLOC ((size_t)64 * 1024)

/* The caller's body, read one block at a time, with a one-byte lookahead
 * so a body of exactly one block still goes up in one Put Blob. */
typedef struct body {
	tr_read_fn read;
	void *ctx;
	int eof;
	int have_peek;
	unsigned char peek;
} body;

/* A block buffer that grows on demand up to cap: small bodies stay cheap,
 * big ones never take more than one block of memory. */
typedef struct block {
	unsigned char *p;
	size_t len, alloc, cap;
} block;

typedef struct put_opts {
	const char *checksum;  /* NULL for none */
	int if_absent;
} put_opts;

static int read_more(tr_conn *c, body *b, block *blk)
{
	if (b->have_peek) {
		blk->p[blk->len++] = b->peek;
		b->have_peek = 0;
		return TR_OK;
	}
	ssize_t n = b->read(b->ctx, blk->p + blk->len, blk->alloc - blk->len);
	if (n < 0)
		return az_fail(c, TR_ECALLBACK, AZ_NAME ": the read callback failed");
	if (n == 0)
		b->eof = 1;
	blk->len += (size_t)n;
	return TR_OK;
}

/* Fills blk up to its cap or the end of the body. */
static int fill(tr_conn *c, body *b, block *blk)
{
	blk->len = 0;
	while (blk->len < blk->cap && (b->have_peek || !b->eof)) {
		if (blk->len == blk->alloc) {
			size_t n = blk->alloc ? blk->alloc * 2 : FIRST_ALLOC;
			n = n < blk->cap ? n : blk->cap;
			unsigned char *p = realloc(blk->p, n);
			if (!p)
				return az_fail(c, TR_ENOMEM, AZ_NAME ": out of memory for a %zu-byte block", blk->cap);
			blk->p = p;
			blk->alloc = n;
		}
		int rc = read_more(c, b, blk);
		if (rc != TR_OK)
			return rc;
	}
	return TR_OK;
}

/* 1 when the body has no byte left (reads one ahead), 0, or a status. */
static int at_end(tr_conn *c, body *b)
{
	if (b->have_peek)
		return 0;
	while (!b->eof) {
		ssize_t n = b->read(b->ctx, &b->peek, 1);
		if (n < 0)
			return az_fail(c, TR_ECALLBACK, AZ_NAME ": the read callback failed");
		if (n == 0)
			b->eof = 1;
		else
			return (b->have_peek = 1, 0);
	}
	return 1;
}

static int exists(tr_conn *c, const char *key)
{
	return az_fail(c, TR_EEXIST, AZ_NAME ": PUT %s/%s: the blob already exists", c->conf.container, key);
}

static void add_put_headers(az_request *req, const put_opts *o, const char *md5)
{
	az_request_header(req, "Content-MD5", md5);
	if (o->checksum)
		az_request_header(req, "x-ms-meta-trchecksum", o->checksum);
	if (o->if_absent)
		az_request_header(req, "If-None-Match", "*");
}

static int put_blob(tr_conn *c, const char *key, const block *blk, const put_opts *o)
{
	char md5[25];
	az_md5_b64(blk->p ? blk->p : (const unsigned char *)"", blk->len, md5);
	az_request req = { .method = "PUT", .key = key, .body = blk->p, .body_len = blk->len };
	az_response resp;
	az_request_header(&req, "x-ms-blob-type", "BlockBlob");
	add_put_headers(&req, o, md5);
	int rc = az_http_do(c, &req, &resp);
	az_response_free(&resp);
	return rc == TR_EEXIST ? exists(c, key) : rc;
}

/* --- staged blocks --- */

typedef struct staged {
	tr_conn *c;
	const char *key;
	char upload_id[17];
	s3_str list;           /* the <Latest> elements of the block list */
	int nblocks;
} staged;

static int put_block(staged *s, const block *blk)
{
	char raw[32], id[48], md5[25];
	snprintf(raw, sizeof raw, "%s-%08d", s->upload_id, s->nblocks + 1);
	az_base64_encode(raw, strlen(raw), id);
	az_md5_b64(blk->p, blk->len, md5);
	az_request req = { .method = "PUT", .key = s->key, .body = blk->p, .body_len = blk->len };
	az_response resp;
	az_request_query(&req, "comp", "block");
	az_request_query(&req, "blockid", id);
	az_request_header(&req, "Content-MD5", md5);
	int rc = az_http_do(s->c, &req, &resp);
	az_response_free(&resp);
	if (rc != TR_OK)
		return rc;
	s->nblocks++;
	s3_str_printf(&s->list, "<Latest>%s</Latest>", id);
	return s->list.oom ? az_fail(s->c, TR_ENOMEM, AZ_NAME ": out of memory") : TR_OK;
}

static int commit(staged *s, const put_opts *o)
{
	s3_str xml = { 0 };
	char md5[25];
	s3_str_printf(&xml, "<?xml version=\"1.0\" encoding=\"utf-8\"?><BlockList>%s</BlockList>", s->list.p);
	if (xml.oom) {
		s3_str_free(&xml);
		return az_fail(s->c, TR_ENOMEM, AZ_NAME ": out of memory");
	}
	az_md5_b64(xml.p, xml.len, md5);
	az_request req = { .method = "PUT", .key = s->key, .body = xml.p, .body_len = xml.len };
	az_response resp;
	az_request_query(&req, "comp", "blocklist");
	add_put_headers(&req, o, md5);
	int rc = az_http_do(s->c, &req, &resp);
	az_response_free(&resp);
	s3_str_free(&xml);
	return rc == TR_EEXIST ? exists(s->c, s->key) : rc;
}

/* blk holds the first full block and the body has more. */
static int put_staged(tr_conn *c, const char *key, body *b, block *blk, const put_opts *o)
{
	staged s = { .c = c, .key = key };
	int rc = TR_OK;
	snprintf(s.upload_id, sizeof s.upload_id, "%016llx", (unsigned long long)az_random(c));
	while (rc == TR_OK && blk->len > 0) {
		if (s.nblocks >= AZ_MAX_BLOCKS)
			rc = az_fail(c, TR_EINVAL, AZ_NAME ": PUT %s/%s: more than %d blocks of %zu bytes; raise "
				     "azure-block-size", c->conf.container, key, AZ_MAX_BLOCKS, blk->cap);
		if (rc == TR_OK)
			rc = put_block(&s, blk);
		if (rc == TR_OK)
			rc = fill(c, b, blk);
	}
	if (rc == TR_OK)
		rc = commit(&s, o);
	else if (s.nblocks > 0)
		az_log(c, 3, AZ_NAME ": %d uncommitted blocks of %s/%s stay until the service discards them",
		       s.nblocks, c->conf.container, key);
	s3_str_free(&s.list);
	return rc;
}

/* With a size hint beyond 50,000 blocks, blocks grow so the body fits. */
static size_t block_size_for(tr_conn *c, int64_t hint)
{
	size_t size = c->conf.block_size;
	if (hint > 0 && (uint64_t)hint / AZ_MAX_BLOCKS >= size)
		size = (size_t)((uint64_t)hint / AZ_MAX_BLOCKS + 1);
	return size < AZ_MAX_BLOCK ? size : AZ_MAX_BLOCK;
}

int az_put(tr_conn *c, const char *key, const tr_put_args *a)
{
	put_opts o = { .checksum = a->checksum && *a->checksum ? a->checksum : NULL,
		       .if_absent = (a->flags & TR_PUT_IF_ABSENT) != 0 };
	body b = { .read = a->read, .ctx = a->read_ctx };
	block blk = { .cap = block_size_for(c, a->size_hint) };
	int rc = fill(c, &b, &blk);
	int end = rc == TR_OK ? (blk.len < blk.cap ? 1 : at_end(c, &b)) : rc;
	if (end == 1)
		rc = put_blob(c, key, &blk, &o);
	else if (end == 0)
		rc = put_staged(c, key, &b, &blk, &o);
	else
		rc = end;
	free(blk.p);
	return rc;
}
