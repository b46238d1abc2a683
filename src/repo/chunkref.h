/*
 * chunkref.h - chunks: where one lives in the repository, and the chunk
 * references of manifests, one slice of the chunk id space at a time.
 *
 *   chunks/<2 hex>/<chunk id>  deduplicated, shared by every backup
 *
 * A repository can reference millions of chunks; holding every id at once
 * would make memory grow with the repository.  Callers instead pick a
 * number of passes from a memory budget and, in pass p, look only at ids
 * whose slice is p.  Chunk ids are keyed hashes, so slices are even.
 * Used by expire (which chunks are still referenced) and verify (which
 * references point at missing or damaged chunks).
 */
#ifndef TR_CHUNKREF_H
#define TR_CHUNKREF_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "repo/manifest.h"

#define TR_CHUNKREF_BUDGET (64u * 1024 * 1024)  /* bytes per pass */
#define TR_CHUNKREF_MAX_PASSES 256u

/* The repository-relative name of chunk id "c<64 hex>". */
void tr_chunk_rel(const char *id, char *out, size_t outlen);

/* Slice (0..passes-1) of a chunk id "c<64 hex>". */
unsigned tr_chunkref_slice(const char *id, unsigned passes);
/* Passes needed to hold `count` items of `item_size` bytes within the budget. */
unsigned tr_chunkref_passes(uint64_t count, size_t item_size);
/* An upper bound of the chunk references of a backup, from its header. */
uint64_t tr_chunkref_estimate(const tr_manifest_hdr *h);

/* Called for each chunk reference of the slice, with the file record it
 * belongs to.  Non-zero stops the scan (tr_chunkref_scan returns 1). */
typedef int (*tr_chunkref_fn)(void *ctx, const tr_mf_rec *file, const tr_mf_rec *chunk);

/* Reads the decoded manifest f from its start; calls fn for each chunk of
 * slice `pass`.  0, 1 if fn stopped it, -1 with err if the manifest is
 * malformed or memory ran out. */
int tr_chunkref_scan(FILE *f, unsigned pass, unsigned passes, tr_chunkref_fn fn, void *ctx, char *err,
		     size_t errlen);

/* A set of chunk ids: add, then sort, then look up. */
typedef struct tr_idset {
	char (*v)[66];
	size_t n, cap;
} tr_idset;

int tr_idset_add(tr_idset *s, const char *id);
void tr_idset_sort(tr_idset *s);
int tr_idset_has(const tr_idset *s, const char *id);
void tr_idset_free(tr_idset *s);

#endif
