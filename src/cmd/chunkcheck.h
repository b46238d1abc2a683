/*
 * chunkcheck.h - which chunks a backup must store again instead of
 * sharing them.
 *
 * A backup does not upload a chunk whose id equals the one at the same
 * place in the previous backup, and treats a chunk whose name exists as
 * stored.  So a chunk that was deleted, or damaged in storage, would be
 * referenced by every later backup and no backup could repair it.  Before
 * it reads the data directory, a backup therefore collects:
 *   - the chunks `verify` recorded as damaged in its state on this host
 *     (verify_state.h): they are stored again over the damaged object, as
 *     a plain put (write the good copy, then switch: the fs driver renames
 *     over the name, S3 replaces the object whole), never removed first;
 *   - the chunks the previous manifest references that a listing of
 *     chunks/ does not hold: one listing, no download.  The comparison is
 *     done one slice of the id space at a time (chunkref.h), so memory
 *     stays within TR_CHUNKREF_BUDGET whatever the size of the repository.
 * A chunk damaged in storage that verify has not seen yet is not found
 * here: the worker runs verify after every scheduled backup.
 */
#ifndef TR_CHUNKCHECK_H
#define TR_CHUNKCHECK_H

#include <stdio.h>
#include "repo/chunkref.h"
#include "repo/repo.h"

/* More missing chunks than this (a deleted chunks/ directory): the previous
 * manifest is not used for deduplication at all (*drop_prev). */
#define TR_CHUNKCHECK_MAX 100000

/* Fills out (sorted) with the ids to store again; prev is the decoded
 * previous manifest or NULL (read from its start; the caller positions it
 * again).  *missing and *damaged count the two kinds.  0, or -1 with err
 * when storage cannot be listed. */
int tr_chunkcheck(tr_repo *r, FILE *prev, tr_idset *out, int *drop_prev, uint64_t *missing, uint64_t *damaged,
		  char *err, size_t errlen);

#endif
