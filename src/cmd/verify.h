/*
 * verify.h - what the parts of `totalrecall verify` share.
 *
 * verify.c runs the phases; verify_list.c collects the listing and decodes
 * objects on the worker pool; verify_wal.c checks WAL continuity along
 * timelines; verify_chunks.c checks chunk references slice by slice;
 * verify_state.c keeps what the next run may skip.
 *
 * The listing of the repository is collected into a temporary file first
 * (listing callbacks must not call the driver again), one line per object:
 *   <kind> <mtime> <size> <relative key>
 * kind: 'w' WAL segment/.backup/.partial, 'h' .history (of any history
 * section, section.h), 'i' backup info, 'm' backup manifest, 'c' chunk,
 * 'o' anything else.  Each prefix lists in
 * ascending key order, so the lines of one kind are sorted.
 */
#ifndef TR_VERIFY_H
#define TR_VERIFY_H

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include "repo/manifest.h"
#include "repo/pool.h"
#include "repo/repo.h"
#include "repo/section.h"
#include "repo/verify_state.h"

#define TR_VERIFY_LINE 1200   /* longest listing line */

struct tr_vbackup {
	char label[64];
	tr_manifest_hdr h;     /* from the manifest itself: info may be the damaged one */
	FILE *mf;              /* decoded manifest, NULL if missing or damaged */
	int broken;            /* not restorable */
	/* The first WAL gap after its stop, along its timeline path: a
	 * recovery from it stops at last_reachable, before first_missing. */
	char first_missing[25], last_reachable[25];
};

/* A damaged object and the decoder's reason; sorted by key after each phase. */
struct tr_vdamage {
	char *key;
	char *reason;
};

typedef struct tr_verify {
	tr_repo *repo;
	const char *only;           /* --backup LABEL, or NULL for every backup */
	int full;                   /* --full, or no usable state */
	FILE *listing;
	tr_vstate prev;             /* what the last run recorded */
	int64_t watermark;          /* newest storage mtime in this listing */
	uint64_t start_seg_min;     /* with --backup: WAL below this is not decoded */
	tr_pool *pool;
	tr_sections sections;       /* the history sections (section.h) */

	pthread_mutex_t mu;         /* guards the counters and damage below */
	struct tr_vdamage *dmg;
	size_t ndmg, capdmg, dmg_sorted;
	uint64_t decoded, decoded_bytes, skipped;
	uint64_t dec_wal, dec_info, dec_chunk;

	struct tr_vbackup *b;
	int nb;
	uint64_t manifests_read;
	uint64_t problems;          /* lines printed */
	char err[2048];             /* a failure that stops verify (storage, memory) */
} tr_verify;

/* Prints one problem line on stdout. */
void tr_verify_report(tr_verify *v, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* verify_list.c */
int tr_verify_collect(tr_verify *v);
int tr_verify_check_keyring(tr_verify *v);
/* Whether an object of this listing line must be decoded this run. */
int tr_verify_needs_decode(const tr_verify *v, const char *key, int64_t mtime, int64_t size);
/* The pool's job: decodes one object, records damage; -1 only if the
 * storage failed. */
int tr_verify_decode_job(tr_repo *repo, void *job, void *arg);
/* Frees a decoding job the pool skipped after a failure (pool.h). */
void tr_verify_skip_job(void *job, void *arg);
/* Queues the decoding of one object on the pool. */
int tr_verify_submit(tr_verify *v, char kind, const char *key);
/* Decodes the WAL, history and info objects that need it; waits. */
int tr_verify_decode_small(tr_verify *v);
/* Waits until the pool is idle; -1 with v->err if a job failed. */
int tr_verify_wait(tr_verify *v);
/* Parses a listing line in place; 0 or -1. */
int tr_verify_parse_line(char *line, char *kind, int64_t *mtime, int64_t *size, char **key);
/* Damage found this run (after the pool is idle): its reason, or NULL. */
const char *tr_verify_damage(tr_verify *v, const char *key);
void tr_verify_add_damage(tr_verify *v, const char *key, const char *reason);

/* verify_wal.c: reports gaps; marks backups broken. */
int tr_verify_wal(tr_verify *v);

/* verify_chunks.c: references, decoding and unreferenced chunks. */
int tr_verify_chunks(tr_verify *v);

#endif
