/* rmbatch.c - removals in batches (see rmbatch.h). */
#include "config.h"
#include "repo/rmbatch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void tr_rmbatch_init(tr_rmbatch *b, tr_repo *r, void (*before_flush)(void *ctx), void *ctx)
{
	memset(b, 0, sizeof *b);
	b->repo = r;
	b->before_flush = before_flush;
	b->ctx = ctx;
}

static void drop(tr_rmbatch *b)
{
	for (size_t i = 0; i < b->n; i++)
		free(b->rel[i]);
	b->n = 0;
}

int tr_rmbatch_flush(tr_rmbatch *b)
{
	if (b->n == 0)
		return TR_OK;
	if (b->before_flush)
		b->before_flush(b->ctx);
	int rc = tr_repo_remove_many(b->repo, (const char *const *)b->rel, b->n);
	drop(b);
	return rc;
}

int tr_rmbatch_add(tr_rmbatch *b, const char *rel)
{
	if (!b->rel && !(b->rel = calloc(TR_REMOVE_MANY_MAX, sizeof *b->rel))) {
		tr_repo_set_error(b->repo, "out of memory");
		return TR_ENOMEM;
	}
	if (!(b->rel[b->n] = strdup(rel))) {
		tr_repo_set_error(b->repo, "out of memory");
		drop(b);
		return TR_ENOMEM;
	}
	return ++b->n == TR_REMOVE_MANY_MAX ? tr_rmbatch_flush(b) : TR_OK;
}

void tr_rmbatch_free(tr_rmbatch *b)
{
	drop(b);
	free(b->rel);
	b->rel = NULL;
}
