/*
 * zerochunk.h - chunks of zeros.  PostgreSQL files are often zero over
 * long stretches (a relation extended ahead of its use, a recycled WAL
 * file, a test's empty 1 GiB segments), and every such chunk of a backup
 * has the same id.  Backup recognises one by a scan, much cheaper than the
 * keyed hash it replaces; restore does not fetch it at all and leaves the
 * place a hole of the file it created (the file reads as zeros there, and
 * takes no disk).
 */
#ifndef TR_ZEROCHUNK_H
#define TR_ZEROCHUNK_H

#include <stddef.h>
#include <stdint.h>
#include "format/keyring.h"

typedef struct tr_zerochunk {
	uint64_t len;  /* 0: not computed (out of memory) */
	char id[66];   /* tr_chunk_id() of len zero bytes */
} tr_zerochunk;

/* The id of a chunk of len zeros under keys. */
void tr_zerochunk_init(tr_zerochunk *z, const tr_keys *keys, uint64_t len);
/* Whether a chunk with this id and length is all zeros. */
int tr_zerochunk_is(const tr_zerochunk *z, const char *id, uint64_t len);
/* Whether buf holds only zero bytes. */
int tr_all_zero(const void *buf, size_t len);

#endif
