/*
 * timeline.h - PostgreSQL timelines, from the .history files in the
 * archive.  The history file of timeline N lists its ancestors, each with
 * the LSN at which the lineage left it ("1  0/8000000  reason").
 */
#ifndef TR_TIMELINE_H
#define TR_TIMELINE_H

#include <stdint.h>
#include "repo/repo.h"

typedef struct tr_tl_anc {
	uint32_t tli;
	uint64_t end;      /* where timeline N's lineage left it */
} tr_tl_anc;

typedef struct tr_timeline {
	uint32_t tli;
	tr_tl_anc *anc;    /* ancestors, oldest first */
	int nanc;
} tr_timeline;

/* What the archive holds of one timeline's segments. */
typedef struct tr_tl_segs {
	uint32_t tli;
	uint64_t last;     /* newest segment: log << 32 | seg, as in its name */
	uint64_t count;
} tr_tl_segs;

typedef struct tr_timelines {
	tr_timeline *v;
	int n;
	tr_tl_segs *segs;  /* filled by tr_timelines_load (or tr_timeline_note_segment) */
	int nsegs;
	uint32_t *pending; /* history files noted, not read yet */
	int npending;
} tr_timelines;

/* One timeline as restore, list and verify report it. */
typedef struct tr_tl_state {
	uint32_t tli;
	uint32_t parent;   /* 0: none known (timeline 1, or no history file) */
	uint64_t fork;     /* where it left its parent */
	int has_segments;
	uint64_t last;     /* newest archived segment (log << 32 | seg) */
	int tip;           /* no other timeline continues it */
} tr_tl_state;

/* Reads and parses every .history file, and notes the newest segment of
 * each timeline, of the history section r works in (r->wal: each section
 * has its own timelines, section.h).  0 or a TR_* status (r->err). */
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

/* Counts an archived segment (a 24-hex-digit name); -1 out of memory. */
int tr_timeline_note_segment(tr_timelines *tl, const char *name);
/* The same for any name of a wal/ listing (history files are noted, to
 * be read by tr_timelines_read); for commands that list wal/ anyway. */
int tr_timeline_note(tr_timelines *tl, const char *name);
/* Reads and parses the history files noted (in r's section).  0 or a
 * TR_* status. */
int tr_timelines_read(tr_repo *r, tr_timelines *tl);
/* Whether the lineage of timeline x runs through timeline t up to lsn:
 * x == t, or x's history leaves t at or after lsn.  A backup of timeline t
 * that stops at lsn can be recovered along x exactly then. */
int tr_timeline_contains(const tr_timelines *tl, uint32_t x, uint32_t t, uint64_t lsn);
/*
 * Every timeline of the archive (from history files and segments), oldest
 * first, into *out (malloc'ed); returns how many, -1 out of memory.
 *
 * Timeline X is continued by Y when Y's history leaves X at LSN f and the
 * archive holds no segment of X that starts at or after f: recovery along
 * Y replays all of X there is.  A timeline no other continues is a tip.
 * Two tips are diverged histories: a parent archived past a child's fork
 * (a promoted copy archiving into the repository while the original goes
 * on), or two children of one point.  Which one is "the" database cannot
 * be told from the archive.
 */
int tr_timeline_states(const tr_timelines *tl, uint64_t seg_size, tr_tl_state **out);
/* "timeline 1: last archived segment 0000..., timeline 2: forked from
 * timeline 1 at 0/5000028, last archived segment 0000...". */
void tr_timeline_describe(const tr_tl_state *s, int n, char *out, size_t outlen);
/* The segment name of a state's newest segment, or "none". */
void tr_timeline_last_name(const tr_tl_state *s, char out[25]);

#endif
