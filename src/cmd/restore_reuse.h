/*
 * restore_reuse.h - a chunk a restore already wrote is copied from the
 * restored file, not fetched again.  A cluster holds the same content in
 * many places (the catalogs of template0, template1 and every database
 * created from them; copied files), and backup stores it once: restore
 * then needs one request per distinct chunk, not one per reference.
 *
 * The producer (lay_out, one thread) notes every chunk it queues.  The
 * first reference of an id is fetched as usual and marked done (or
 * failed) by its worker; a later one waits for it, then copies its bytes
 * from the file and place the first one went to: that file is this
 * restore's own, written from an authenticated object, and the bytes read
 * back are copied only if their keyed id is still the chunk's (anything
 * that changed the file since, a later write or another process, makes
 * it fetch instead).  A later reference
 * is always queued after the first, and the pool's queue is first in,
 * first out, so the first is already running (or done) when a later one
 * waits.  Bounded: the TR_REUSE_SLOTS ids noted last (about 3 MiB with
 * their paths); an older one is fetched again.
 */
#ifndef TR_RESTORE_REUSE_H
#define TR_RESTORE_REUSE_H

#include <stddef.h>
#include <stdint.h>

#define TR_REUSE_SLOTS 16384

typedef struct tr_reuse tr_reuse;
typedef struct tr_reuse_src tr_reuse_src;

/* How the keyed id of bytes read back is computed: restore gives
 * tr_repo_chunk_id() on the worker's own connection (the keys stay in
 * repo/, and a connection is used by one thread at a time), a test
 * tr_chunk_id() with its keys. */
typedef struct tr_chunk_idf {
	void (*fn)(const void *ctx, const void *data, size_t len, char out[66]);
	const void *ctx;
} tr_chunk_idf;

tr_reuse *tr_reuse_new(void);
/* After every job is done or skipped. */
void tr_reuse_free(tr_reuse *u);

/* Producer: notes that id (len bytes) goes to path at off.  Returns NULL
 * and sets *first when this is the first reference in the window (the
 * caller fetches it and calls tr_reuse_done with *first), else the first
 * one's source to copy from (tr_reuse_copy); both hold a reference that
 * tr_reuse_done / tr_reuse_copy give back.  NULL with *first NULL when
 * out of memory: fetch it, nothing to report. */
tr_reuse_src *tr_reuse_note(tr_reuse *u, const char *id, const char *path, uint64_t off, uint64_t len,
			    tr_reuse_src **first);
/* The first reference's worker: its bytes are written (ok) or not. */
void tr_reuse_done(tr_reuse *u, tr_reuse_src *first, int ok);
/* A later reference's worker: waits for the first, copies its bytes to
 * path at off through buf (the chunk's length), once idf says they still
 * have the chunk's id.  0; 1 when the first failed or its place no longer
 * holds the chunk (the caller fetches instead); -1 when writing failed
 * (err). */
int tr_reuse_copy(tr_reuse *u, tr_reuse_src *src, const tr_chunk_idf *idf, const char *path, uint64_t off,
		  void *buf, char *err, size_t errlen);
/* A job skipped after a failure gives its reference back. */
void tr_reuse_drop(tr_reuse *u, tr_reuse_src *s);

/* 1 when path holds the chunk id (len bytes) at off, by its keyed id
 * computed (idf) from the bytes read into buf; 0 when it does not or
 * cannot be read.  (Copies from a restored file, and --delta's chunks in
 * place.) */
int tr_chunk_at(const tr_chunk_idf *idf, const char *path, uint64_t off, uint64_t len, const char *id, void *buf);

#endif
