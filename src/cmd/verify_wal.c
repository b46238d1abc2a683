/*
 * verify_wal.c - is the WAL from each backup's start to the end of the
 * archive continuous?
 *
 * Timelines are followed as PostgreSQL's recovery_target_timeline =
 * 'latest' does (timeline.h, shared with restore): for a backup on timeline t, the target is the newest
 * timeline whose history has t ending after the backup's start; segment s
 * is then expected on the newest timeline of that path that begins at or
 * before s.  The archive is summarised as runs of consecutive segments per
 * timeline, so memory grows with the number of gaps, not of segments.
 * Each history section (section.h) has its own WAL and timelines: a
 * backup is checked against its section's.
 */
#include "config.h"
#include "cmd/verify.h"
#include "base/log.h"
#include "repo/timeline.h"
#include "base/util.h"
#include "pg/walname.h"

#include <stdlib.h>
#include <string.h>

#define HISTORY_MAX (1024 * 1024)

struct run {
	uint64_t lo, hi;
};

struct timeline {
	uint32_t tli;
	struct run *runs;
	size_t n, cap;
};

struct wal_map {
	struct timeline *t;     /* the archived segments, per timeline */
	size_t n, cap;
	tr_timelines hist;      /* the readable .history files (timeline.h) */
	uint64_t seg_size, per_log;
	uint32_t section;       /* the history section whose WAL this is */
};

static struct timeline *timeline(struct wal_map *m, uint32_t tli)
{
	for (size_t i = 0; i < m->n; i++)
		if (m->t[i].tli == tli)
			return &m->t[i];
	if (m->n == m->cap) {
		size_t cap = m->cap ? 2 * m->cap : 8;
		void *grown = realloc(m->t, cap * sizeof *m->t);
		if (!grown)
			return NULL;
		m->t = grown;
		m->cap = cap;
	}
	memset(&m->t[m->n], 0, sizeof m->t[0]);
	m->t[m->n].tli = tli;
	return &m->t[m->n++];
}

static int add_segment(struct timeline *t, uint64_t seg)
{
	if (t->n && seg <= t->runs[t->n - 1].hi + 1) {
		if (seg > t->runs[t->n - 1].hi)
			t->runs[t->n - 1].hi = seg;
		return 0;
	}
	if (t->n == t->cap) {
		size_t cap = t->cap ? 2 * t->cap : 8;
		void *grown = realloc(t->runs, cap * sizeof *t->runs);
		if (!grown)
			return -1;
		t->runs = grown;
		t->cap = cap;
	}
	t->runs[t->n++] = (struct run){ seg, seg };
	return 0;
}

static int load_history(tr_verify *v, struct wal_map *m, const char *key)
{
	unsigned tli;
	if (sscanf(tr_basename(key), "%8X", &tli) != 1 || tr_verify_damage(v, key))
		return 0;  /* damaged: reported already, and cannot be followed */
	tr_membuf b = { malloc(HISTORY_MAX + 1), 0, HISTORY_MAX, 0 };
	void *grown = realloc(m->hist.v, (size_t)(m->hist.n + 1) * sizeof *m->hist.v);
	int rc = b.data && grown ? 0 : -1;
	if (grown)
		m->hist.v = grown;
	if (rc == 0 && tr_repo_get(v->repo, key, tr_mem_write, &b, NULL) == TR_OK) {
		tr_timeline *t = &m->hist.v[m->hist.n];
		((char *)b.data)[b.len] = '\0';
		if (tr_timeline_parse(tli, b.data, t) == 0) {
			m->hist.n++;
		} else {
			free(t->anc);
			tr_verify_report(v, "damaged WAL file %s: not a timeline history file", tr_basename(key));
		}
	}
	free(b.data);
	if (rc != 0)
		snprintf(v->err, sizeof v->err, "out of memory");
	return rc;
}

/* Reads the segments and histories of the listing into m. */
static int build_map(tr_verify *v, struct wal_map *m)
{
	char line[TR_VERIFY_LINE], *key, kind;
	int64_t mtime, size;
	rewind(v->listing);
	while (fgets(line, sizeof line, v->listing)) {
		unsigned tli, log, seg;
		if (tr_verify_parse_line(line, &kind, &mtime, &size, &key) != 0 || tr_section_of_key(key) != m->section)
			continue;
		if (kind == 'h' && load_history(v, m, key) != 0)
			return -1;
		const char *name = tr_basename(key);
		if (kind != 'w' || tr_wal_kind(name) != TR_WAL_SEGMENT || tr_verify_damage(v, key) ||
		    sscanf(name, "%8X%8X%8X", &tli, &log, &seg) != 3)
			continue;
		struct timeline *t = timeline(m, tli);
		if (!t || add_segment(t, (uint64_t)log * m->per_log + seg) != 0) {
			snprintf(v->err, sizeof v->err, "out of memory");
			return -1;
		}
	}
	return 0;
}

/* One step of a backup's timeline path: timeline tli from segment begin. */
struct step {
	uint32_t tli;
	uint64_t begin;
};

/* The path from timeline t (at LSN start) to the newest timeline that
 * descends from it after start (timeline.h).  Returns the number of steps
 * (>= 1), 0 if out of memory. */
static size_t timeline_path(struct wal_map *m, uint32_t t, uint64_t start, struct step **out)
{
	uint32_t target = tr_timeline_latest_from(&m->hist, t, start);
	int max = 2;
	for (int i = 0; i < m->hist.n; i++)
		if (m->hist.v[i].nanc + 2 > max)
			max = m->hist.v[i].nanc + 2;
	tr_tl_anc *anc = calloc((size_t)max, sizeof *anc);
	struct step *p = calloc((size_t)max, sizeof *p);
	size_t n = 0;
	if (anc && p) {
		int len = tr_timeline_path(&m->hist, target, anc, max), from = len - 1;
		while (from > 0 && anc[from].tli != t)
			from--;
		if (anc[from].tli != t)  /* t is not on the path: stay on t */
			len = from + 1, anc[from].tli = t;
		/* Timeline anc[k] begins where anc[k - 1] ended; t from the start. */
		for (int k = from; k < len; k++, n++)
			p[n] = (struct step){ anc[k].tli, k == from ? 0 : anc[k - 1].end / m->seg_size };
	}
	free(anc);
	if (!n)
		free(p);
	else
		*out = p;
	return n;
}

static void seg_name(const struct wal_map *m, uint32_t tli, uint64_t seg, char out[25])
{
	snprintf(out, 25, "%08X%08X%08X", tli, (unsigned)(seg / m->per_log), (unsigned)(seg % m->per_log));
}

/* Highest segment of timeline t archived within [lo, hi], or 0. */
static uint64_t highest_in(const struct timeline *t, uint64_t lo, uint64_t hi)
{
	uint64_t best = 0;
	for (size_t i = 0; t && i < t->n; i++)
		if (t->runs[i].lo <= hi && t->runs[i].hi >= lo)
			best = t->runs[i].hi < hi ? t->runs[i].hi : hi;
	return best;
}

/* A range of the path: timeline tli from segment lo; the segment before
 * lo is on prev_tli (the parent timeline at a fork). */
struct span {
	uint32_t tli, prev_tli;
	uint64_t lo;
};

static void report_gap(tr_verify *v, struct tr_vbackup *b, const struct wal_map *m, const struct span *sp,
		       uint64_t g0, uint64_t g1, uint64_t stop)
{
	char a[25], z[25];
	seg_name(m, sp->tli, g0, a);
	seg_name(m, sp->tli, g1, z);
	if (g0 <= stop) {
		b->broken = 1;
		tr_verify_report(v, "missing WAL %s..%s: backup %s is not restorable (needed between its start and stop)",
				 a, z, b->label);
		return;
	}
	tr_verify_report(v, "missing WAL %s..%s: after the stop of backup %s, which can be recovered only to "
			 "before %s", a, z, b->label, a);
	if (!b->first_missing[0]) {
		snprintf(b->first_missing, sizeof b->first_missing, "%s", a);
		seg_name(m, g0 > sp->lo ? sp->tli : sp->prev_tli, g0 - 1, b->last_reachable);
	}
}

/* Gaps of timeline t within [lo, hi]. */
static void check_range(tr_verify *v, struct tr_vbackup *b, struct wal_map *m, const struct span *sp,
			uint64_t hi, uint64_t stop)
{
	uint32_t tli = sp->tli;
	uint64_t lo = sp->lo;
	struct timeline *t = timeline(m, tli);
	uint64_t next = lo;   /* first segment not yet seen present */
	for (size_t i = 0; t && i < t->n && next <= hi; i++) {
		if (t->runs[i].hi < next)
			continue;
		if (t->runs[i].lo > hi)
			break;
		if (t->runs[i].lo > next)
			report_gap(v, b, m, sp, next, t->runs[i].lo - 1, stop);
		next = t->runs[i].hi + 1;
	}
	if (next <= hi)
		report_gap(v, b, m, sp, next, hi, stop);
}

static int check_backup(tr_verify *v, struct tr_vbackup *b, struct wal_map *m)
{
	const tr_manifest_hdr *h = &b->h;
	struct step *p = NULL;
	uint64_t start = h->start_lsn / m->seg_size, stop = (h->stop_lsn - 1) / m->seg_size, end = stop;
	size_t n = timeline_path(m, h->timeline, h->start_lsn, &p);
	if (n == 0) {
		snprintf(v->err, sizeof v->err, "out of memory");
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		uint64_t lo = p[i].begin > start ? p[i].begin : start;
		uint64_t hi = i + 1 < n && p[i + 1].begin ? p[i + 1].begin - 1 : UINT64_MAX;
		uint64_t top = lo <= hi ? highest_in(timeline(m, p[i].tli), lo, hi) : 0;
		if (top > end)
			end = top;
	}
	for (size_t i = 0; i < n; i++) {
		struct span sp = { p[i].tli, i ? p[i - 1].tli : p[i].tli, p[i].begin > start ? p[i].begin : start };
		uint64_t hi = i + 1 < n && p[i + 1].begin && p[i + 1].begin - 1 < end ? p[i + 1].begin - 1 : end;
		if (sp.lo <= hi)
			check_range(v, b, m, &sp, hi, stop);
	}
	free(p);
	return 0;
}

/* Diverged timelines (timeline.h): restore will ask which one to follow. */
static int report_divergence(tr_verify *v, const struct wal_map *m)
{
	tr_timelines view = m->hist;   /* the histories, borrowed; segments noted here */
	tr_tl_state *st = NULL;
	char text[2048];
	int n, tips = 0, rc = 0;
	view.segs = calloc(m->n + 1, sizeof *view.segs);
	view.nsegs = 0;
	for (size_t i = 0; view.segs && i < m->n; i++)
		if (m->t[i].n) {
			uint64_t top = m->t[i].runs[m->t[i].n - 1].hi;
			view.segs[view.nsegs++] = (tr_tl_segs){ m->t[i].tli, (top / m->per_log) << 32 | top % m->per_log, 1 };
		}
	if (!view.segs || (n = tr_timeline_states(&view, m->seg_size, &st)) < 0) {
		snprintf(v->err, sizeof v->err, "out of memory");
		rc = -1;
	} else {
		for (int i = 0; i < n; i++)
			tips += st[i].tip;
		tr_timeline_describe(st, n, text, sizeof text);
		if (tips > 1 && v->sections.n > 1)
			tr_verify_report(v, "diverged timelines in history section %u: %s (a restore must be given "
					 "--target-timeline)", (unsigned)m->section, text);
		else if (tips > 1)
			tr_verify_report(v, "diverged timelines: %s (a restore must be given --target-timeline)", text);
	}
	free(st);
	free(view.segs);
	return rc;
}

static void free_map(struct wal_map *m)
{
	for (size_t i = 0; i < m->n; i++)
		free(m->t[i].runs);
	free(m->t);
	tr_timelines_free(&m->hist);
}

/* The backups of section sec, against its WAL. */
static int verify_section(tr_verify *v, uint32_t sec)
{
	struct wal_map m;
	int rc = 0;
	memset(&m, 0, sizeof m);
	m.section = sec;
	for (int i = 0; i < v->nb && !m.seg_size; i++)
		if (v->b[i].mf && v->b[i].h.wal_segment_size && tr_section_of_backup(&v->sections, &v->b[i].h) == sec)
			m.seg_size = v->b[i].h.wal_segment_size;
	if (!m.seg_size)
		return 0;  /* no readable backup: nothing to measure WAL against */
	m.per_log = 0x100000000ULL / m.seg_size;
	rc = build_map(v, &m);
	if (rc == 0)
		rc = report_divergence(v, &m);
	for (int i = 0; rc == 0 && i < v->nb; i++) {
		struct tr_vbackup *b = &v->b[i];
		if (b->mf && b->h.wal_segment_size == m.seg_size && b->h.stop_lsn > b->h.start_lsn &&
		    tr_section_of_backup(&v->sections, &b->h) == sec)
			rc = check_backup(v, b, &m);
	}
	free_map(&m);
	return rc;
}

int tr_verify_wal(tr_verify *v)
{
	int rc = 0;
	/* A backup of no readable section: restore cannot tell its WAL. */
	for (int i = 0; i < v->nb; i++)
		if (v->b[i].mf && !tr_section_of_backup(&v->sections, &v->b[i].h)) {
			v->b[i].broken = 1;
			tr_verify_report(v, "backup %s is not restorable: the history section of its cluster (system "
					 "identifier %s) cannot be read", v->b[i].label, v->b[i].h.system_id);
		}
	for (int k = 0; rc == 0 && k < v->sections.n; k++)
		rc = verify_section(v, v->sections.v[k].n);
	return rc;
}
