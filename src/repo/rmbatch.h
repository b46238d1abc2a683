/*
 * rmbatch.h - removals gathered into batches of TR_REMOVE_MANY_MAX names
 * (tr_repo_remove_many: one DeleteObjects request per 1,000 keys on S3,
 * Blob Batch on Azure, one remove per key elsewhere).  For objects whose
 * removal order does not matter (expire's WAL and chunks): a batch may
 * remove its names in any order, and an interrupted one leaves some of
 * them behind, each either removed or whole.  Memory: one batch of names.
 */
#ifndef TR_RMBATCH_H
#define TR_RMBATCH_H

#include "repo/repo.h"

typedef struct tr_rmbatch {
	tr_repo *repo;
	char **rel;
	size_t n;
	void (*before_flush)(void *ctx);  /* e.g. renewing a lock; may be NULL */
	void *ctx;
} tr_rmbatch;

void tr_rmbatch_init(tr_rmbatch *b, tr_repo *r, void (*before_flush)(void *ctx), void *ctx);
/* Queues rel; removes the batch once it is full.  TR_OK or a status with
 * the connection's error (the batch is then dropped). */
int tr_rmbatch_add(tr_rmbatch *b, const char *rel);
/* Removes what is queued. */
int tr_rmbatch_flush(tr_rmbatch *b);
/* Frees the batch; what is still queued is not removed. */
void tr_rmbatch_free(tr_rmbatch *b);

#endif
