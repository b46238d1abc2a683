/*
 * timeline.h - PostgreSQL timelines, from the .history files in the
 * archive.  The history file of timeline N lists its ancestors, each with
 * the LSN at which the lineage left it ("1  0/8000000  reason").
 */
#ifndef TR_TIMELINE_H
#define TR_TIMELINE_H

#include <stdint.h>
#include "repo.h"

typedef struct tr_tl_anc {
	uint32_t tli;
	uint64_t end;      /* where timeline N's lineage left it */
} tr_tl_anc;

typedef struct tr_timeline {
	uint32_t tli;
	tr_tl_anc *anc;    /* ancestors, oldest first */
	int nanc;
} tr_timeline;

typedef struct tr_timelines {
	tr_timeline *v;
	int n;
} tr_timelines;

/* Reads and parses every .history file.  0 or a TR_* status (r->err). */
int tr_timelines_load(tr_repo *r, tr_timelines *tl);
void tr_timelines_free(tr_timelines *tl);
/* Parses one history file's text into t (exposed for tests). */
int tr_timeline_parse(uint32_t tli, const char *text, tr_timeline *t);
/* The newest timeline whose lineage runs through timeline t at least up to
 * lsn (t itself if there is none): where recovery of a backup of timeline
 * t that ends at lsn can go, as recovery_target_timeline = 'latest' would
 * if no unrelated timeline were newer. */
uint32_t tr_timeline_latest_from(const tr_timelines *tl, uint32_t t, uint64_t lsn);
/* The newest timeline in the archive, 0 if none. */
uint32_t tr_timeline_newest(const tr_timelines *tl);
/* The ancestors of target (with target itself last, end = UINT64_MAX). */
int tr_timeline_path(const tr_timelines *tl, uint32_t target, tr_tl_anc *out, int max);

#endif
