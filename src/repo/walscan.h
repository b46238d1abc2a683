/*
 * walscan.h - reads archived WAL along one timeline's history, as
 * recovery would, and hands its records to a callback (walrecord.h).
 *
 * Segment s is read from the newest timeline of the history that begins
 * at or before s and that the archive has it for, never going back to an
 * older timeline once a newer one was read (PostgreSQL's order).  Nothing
 * is written anywhere: segments are decoded from the repository as they
 * stream in, and a transfer stops as soon as the answer is known.  The WAL
 * is that of the history section the repository connection works in.
 */
#ifndef TR_WALSCAN_H
#define TR_WALSCAN_H

#include <stdint.h>
#include "repo/repo.h"
#include "repo/timeline.h"
#include "pg/walrecord.h"

typedef struct tr_walscan {
	tr_repo *r;
	uint64_t seg_size;
	tr_tl_anc *path;      /* the history, oldest first, the target timeline last (end = UINT64_MAX) */
	int npath;
	tr_waldec *dec;
	uint64_t segments;    /* segments read */
	char last[25];        /* the last segment read */
} tr_walscan;

int tr_walscan_init(tr_walscan *s, tr_repo *r, const tr_timelines *tl, uint32_t target, uint64_t seg_size);
void tr_walscan_free(tr_walscan *s);

/* Feeds fn the records that start in [from, to), in order, until one
 * starts at or after `to`, fn returns non-zero, or the WAL of the archive
 * ends (a missing segment, or the WAL ending inside one).  Returns 1 if fn
 * stopped it, 0 otherwise, -1 if the repository failed (s->r->err). */
int tr_walscan_range(tr_walscan *s, uint64_t from, uint64_t to, tr_walrec_fn fn, void *ctx);
/* Feeds fn the records that start in segment segno, read alone.  0, 1 if
 * fn stopped, 2 if the archive does not have the segment, -1 on error. */
int tr_walscan_segment(tr_walscan *s, uint64_t segno, tr_walrec_fn fn, void *ctx);

#endif
