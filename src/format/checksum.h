/* checksum.h - keyed checksums of plaintext, stored as object metadata so
 * that archive-put can tell identical from different content without
 * downloading, and without revealing equal contents to an outsider. */
#ifndef TR_CHECKSUM_H
#define TR_CHECKSUM_H

#include <stddef.h>
#include <stdint.h>
#include "format/keyring.h"

#define TR_CHECKSUM_STR_LEN 68  /* "h1:" + 64 hex digits + NUL */

typedef struct tr_checksum tr_checksum;

/* Streaming HMAC-SHA256 with keys->mac. */
tr_checksum *tr_checksum_new(const tr_keys *keys);
void tr_checksum_update(tr_checksum *c, const void *data, size_t len);
/* Writes "h1:" followed by 64 lowercase hex digits and a NUL (68 bytes). */
void tr_checksum_final(tr_checksum *c, char out[68]);
void tr_checksum_free(tr_checksum *c);

/* Keyed name of a chunk: "c" followed by 64 hex digits (HMAC with keys->chunk). */
void tr_chunk_id(const tr_keys *keys, const void *data, size_t len, char out[66]);

/* The same name computed over a stream (verify reads chunks that way):
 * tr_chunk_hasher_new, tr_checksum_update, then tr_chunk_hasher_final,
 * which also frees it. */
tr_checksum *tr_chunk_hasher_new(const tr_keys *keys);
void tr_chunk_hasher_final(tr_checksum *c, char out[66]);

#endif
