/*
 * verify_state.h - what `totalrecall verify` remembers between runs, so
 * the next run decodes only what is new.
 *
 * Stored objects never change, so an object decoded successfully once
 * need not be decoded again.  Remembering every verified key would grow
 * with the repository; instead the state holds:
 *   - the watermark: the newest storage mtime seen by the last full run
 *     (storage times, so the local clock does not matter);
 *   - the margin: objects with mtimes within it below the watermark are
 *     listed with their size and mtime, because an upload that started
 *     before the last listing may have become visible only after it
 *     (S3 dates multipart uploads by their start);
 *   - the keys that were damaged, decoded again every run.
 * An object is skipped when its mtime is below watermark - margin, or it
 * is listed as recent with the same mtime and size, and it is not damaged.
 * An object whose mtime the storage does not tell (0, driver.h) is never
 * skipped: without a time, "not changed since" cannot be known.
 * Memory: the recent objects (what was written within the margin) and
 * the damaged keys, independent of the size of the repository.
 *
 * File <state-dir>/verify/<hash of the repository identity>.state:
 *   totalrecall-verify-state 1
 *   watermark <seconds>
 *   margin <seconds>
 *   r <mtime> <size> <key>      recent, verified
 *   d <key>                     damaged
 * Written through an atomic file (atomicfile.h): a crash leaves the old
 * state.
 */
#ifndef TR_VERIFY_STATE_H
#define TR_VERIFY_STATE_H

#include <stdint.h>
#include <stdio.h>
#include "base/atomicfile.h"

#define TR_VERIFY_MARGIN 3600

struct tr_vrecent {
	char *key;
	int64_t mtime, size;
};

typedef struct tr_vstate {
	int valid;                  /* a state was loaded */
	int64_t watermark, margin;
	struct tr_vrecent *recent;  /* sorted by key */
	size_t nrecent, caprecent;
	char **damaged;             /* sorted */
	size_t ndamaged, capdamaged;
} tr_vstate;

/* Path of the verify state of the repository named repo_hash (tr_repo_id_hash). */
void tr_vstate_path(const char *state_dir, const char *repo_hash, char *out, size_t outlen);
/* Loads the state; a missing or unreadable one leaves s->valid 0. */
void tr_vstate_load(tr_vstate *s, const char *path);
/* 1 if the object can be skipped (verified by an earlier run). */
int tr_vstate_verified(const tr_vstate *s, const char *key, int64_t mtime, int64_t size);
int tr_vstate_was_damaged(const tr_vstate *s, const char *key);
void tr_vstate_free(tr_vstate *s);

/* Writing: begin, then lines, then commit (atomic rename) or abort. */
typedef struct tr_vstate_writer {
	tr_atomic a;
	FILE *f;                /* on a duplicate of a.fd */
	char path[4400], tmp[4420];  /* the state, and its temporary file while written */
} tr_vstate_writer;

int tr_vstate_begin(tr_vstate_writer *w, const char *path, int64_t watermark, int64_t margin);
void tr_vstate_recent(tr_vstate_writer *w, const char *key, int64_t mtime, int64_t size);
void tr_vstate_damaged(tr_vstate_writer *w, const char *key);
int tr_vstate_commit(tr_vstate_writer *w);
void tr_vstate_abort(tr_vstate_writer *w);

#endif
