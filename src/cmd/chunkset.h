/* chunkset.h - the chunk ids a backup stored lately, shared by its workers.
 *
 * A chunk that several files hold (all zeros, or copied data) is then
 * compressed and stored once per backup, and a worker that meets it again
 * knows its stored size without asking the repository, even while the
 * object is not yet visible (batched puts appear at sync).  Bounded: the
 * TR_CHUNKSET_SLOTS ids claimed last (about 1.5 MiB); an older one is
 * checked against the repository again.
 */
#ifndef TR_CHUNKSET_H
#define TR_CHUNKSET_H
#include <stdint.h>

#define TR_CHUNKSET_SLOTS 16384

typedef struct tr_chunkset tr_chunkset;

tr_chunkset *tr_chunkset_new(void);
void tr_chunkset_free(tr_chunkset *s);

/* 1: id was stored in this backup, *stored is its size (waits while
 * another worker is storing it).  0: the caller stores it, then calls
 * tr_chunkset_done() with the outcome. */
int tr_chunkset_claim(tr_chunkset *s, const char *id, uint64_t *stored);
void tr_chunkset_done(tr_chunkset *s, const char *id, int ok, uint64_t stored);

#endif
