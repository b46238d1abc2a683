/* timeline.c - timeline histories (see timeline.h). */
#include "config.h"
#include "repo/timeline.h"
#include "base/log.h"
#include "pg/pgconn.h"
#include "base/util.h"
#include "pg/walname.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int tr_timeline_parse(uint32_t tli, const char *text, tr_timeline *t)
{
	memset(t, 0, sizeof *t);
	t->tli = tli;
	for (const char *line = text; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
		unsigned parent;
		char lsn[32];
		while (*line == ' ' || *line == '\t')
			line++;
		if (*line == '#' || *line == '\n' || !*line)
			continue;
		if (sscanf(line, "%u %31s", &parent, lsn) != 2)
			return -1;
		tr_tl_anc *grown = realloc(t->anc, (size_t)(t->nanc + 1) * sizeof *grown);
		if (!grown)
			return -1;
		t->anc = grown;
		t->anc[t->nanc].tli = parent;
		if (tr_lsn_parse(lsn, &t->anc[t->nanc].end) != 0)
			return -1;
		t->nanc++;
	}
	return 0;
}

static tr_tl_segs *segs_of(tr_timelines *tl, uint32_t tli)
{
	for (int i = 0; i < tl->nsegs; i++)
		if (tl->segs[i].tli == tli)
			return &tl->segs[i];
	tr_tl_segs *grown = realloc(tl->segs, (size_t)(tl->nsegs + 1) * sizeof *grown);
	if (!grown)
		return NULL;
	tl->segs = grown;
	memset(&grown[tl->nsegs], 0, sizeof *grown);
	grown[tl->nsegs].tli = tli;
	return &grown[tl->nsegs++];
}

int tr_timeline_note_segment(tr_timelines *tl, const char *name)
{
	unsigned tli, log, seg;
	if (tr_wal_kind(name) != TR_WAL_SEGMENT || sscanf(name, "%8X%8X%8X", &tli, &log, &seg) != 3)
		return 0;
	tr_tl_segs *s = segs_of(tl, tli);
	if (!s)
		return -1;
	uint64_t n = (uint64_t)log << 32 | seg;
	if (!s->count || n > s->last)
		s->last = n;
	s->count++;
	return 0;
}

int tr_timeline_note(tr_timelines *tl, const char *name)
{
	unsigned tli;
	if (tr_wal_kind(name) == TR_WAL_SEGMENT)
		return tr_timeline_note_segment(tl, name);
	if (tr_wal_kind(name) != TR_WAL_HISTORY || sscanf(name, "%8X", &tli) != 1)
		return 0;
	uint32_t *grown = realloc(tl->pending, (size_t)(tl->npending + 1) * sizeof *grown);
	if (!grown)
		return -1;
	tl->pending = grown;
	tl->pending[tl->npending++] = tli;
	return 0;
}

static int note_listed(void *ctx, const tr_object_info *info)
{
	return tr_timeline_note(ctx, tr_basename(info->key)) ? 1 : 0;
}

int tr_timelines_read(tr_repo *r, tr_timelines *tl)
{
	enum { HISTORY_MAX = 65536 };
	tr_membuf text = { malloc(HISTORY_MAX + 1), 0, HISTORY_MAX, 0 };
	int rc = text.data ? TR_OK : TR_ENOMEM;
	tr_timeline *grown = rc == TR_OK && tl->npending
		? realloc(tl->v, (size_t)(tl->n + tl->npending) * sizeof *grown) : tl->v;
	if (rc == TR_OK && tl->npending && !grown)
		rc = TR_ENOMEM;
	if (rc == TR_OK)
		tl->v = grown;
	for (int i = 0; rc == TR_OK && i < tl->npending; i++) {
		char rel[64];
		snprintf(rel, sizeof rel, "%s%08X.history", tr_repo_wal_prefix(r), tl->pending[i]);
		text.len = 0;
		rc = tr_repo_get(r, rel, tr_mem_write, &text, NULL);
		((char *)text.data)[text.len] = '\0';
		if (rc == TR_OK && tr_timeline_parse(tl->pending[i], text.data, &tl->v[tl->n]) != 0) {
			free(tl->v[tl->n].anc);
			tr_repo_set_error(r, "%s: not a timeline history file", rel);
			rc = TR_REPO_ECORRUPT;
		} else if (rc == TR_OK) {
			tl->n++;
		}
		/* A damaged history file blocks only itself: its timeline's
		 * ancestry is unknown (restore then names it among the tips). */
		if (rc == TR_REPO_ECORRUPT) {
			tr_warn("%s is damaged (%s): timeline %u's history is unknown", rel, tr_repo_error(r), tl->pending[i]);
			rc = TR_OK;
		}
	}
	free(text.data);
	free(tl->pending);
	tl->pending = NULL;
	tl->npending = 0;
	return rc;
}

int tr_timelines_load(tr_repo *r, tr_timelines *tl)
{
	memset(tl, 0, sizeof *tl);
	int rc = tr_repo_list(r, tr_repo_wal_prefix(r), note_listed, tl);
	if (rc == TR_OK)
		rc = tr_timelines_read(r, tl);
	if (rc != TR_OK)
		tr_timelines_free(tl);
	return rc;
}

void tr_timelines_free(tr_timelines *tl)
{
	for (int i = 0; i < tl->n; i++)
		free(tl->v[i].anc);
	free(tl->v);
	free(tl->segs);
	free(tl->pending);
	memset(tl, 0, sizeof *tl);
}

uint32_t tr_timeline_latest_from(const tr_timelines *tl, uint32_t t, uint64_t lsn)
{
	uint32_t best = t;
	for (int i = 0; i < tl->n; i++) {
		const tr_timeline *x = &tl->v[i];
		if (x->tli <= best)
			continue;
		for (int a = 0; a < x->nanc; a++)
			if (x->anc[a].tli == t && x->anc[a].end >= lsn)
				best = x->tli;
	}
	return best;
}

uint32_t tr_timeline_newest(const tr_timelines *tl)
{
	uint32_t best = 0;
	for (int i = 0; i < tl->n; i++)
		if (tl->v[i].tli > best)
			best = tl->v[i].tli;
	return best;
}

int tr_timeline_path(const tr_timelines *tl, uint32_t target, tr_tl_anc *out, int max)
{
	int n = 0;
	for (int i = 0; i < tl->n; i++)
		if (tl->v[i].tli == target)
			for (int a = 0; a < tl->v[i].nanc && n < max - 1; a++)
				out[n++] = tl->v[i].anc[a];
	if (n < max) {
		out[n].tli = target;
		out[n++].end = UINT64_MAX;
	}
	return n;
}

static const tr_timeline *history_of(const tr_timelines *tl, uint32_t tli)
{
	for (int i = 0; i < tl->n; i++)
		if (tl->v[i].tli == tli)
			return &tl->v[i];
	return NULL;
}

int tr_timeline_contains(const tr_timelines *tl, uint32_t x, uint32_t t, uint64_t lsn)
{
	const tr_timeline *h = history_of(tl, x);
	if (x == t)
		return 1;
	for (int a = 0; h && a < h->nanc; a++)
		if (h->anc[a].tli == t)
			return h->anc[a].end >= lsn;
	return 0;
}

static int add_state(tr_tl_state **v, int *n, uint32_t tli)
{
	for (int i = 0; i < *n; i++)
		if ((*v)[i].tli == tli)
			return 0;
	tr_tl_state *grown = realloc(*v, (size_t)(*n + 1) * sizeof *grown);
	if (!grown)
		return -1;
	*v = grown;
	memset(&grown[*n], 0, sizeof *grown);
	grown[(*n)++].tli = tli;
	return 0;
}

static int by_tli(const void *a, const void *b)
{
	const tr_tl_state *x = a, *y = b;
	return x->tli < y->tli ? -1 : x->tli > y->tli;
}

/* Start LSN of a segment named log << 32 | seg. */
static uint64_t segment_start(uint64_t name, uint64_t seg_size)
{
	return (name >> 32) << 32 | (name & 0xffffffffu) * seg_size;
}

/* Is timeline x (state s) continued by timeline y? */
static int continued_by(const tr_timelines *tl, const tr_tl_state *s, uint32_t y, uint64_t seg_size)
{
	const tr_timeline *h = history_of(tl, y);
	for (int a = 0; h && y != s->tli && a < h->nanc; a++)
		if (h->anc[a].tli == s->tli)
			return !s->has_segments || segment_start(s->last, seg_size) < h->anc[a].end;
	return 0;
}

int tr_timeline_states(const tr_timelines *tl, uint64_t seg_size, tr_tl_state **out)
{
	tr_tl_state *v = NULL;
	int n = 0, rc = 0;
	for (int i = 0; rc == 0 && i < tl->n; i++)
		rc = add_state(&v, &n, tl->v[i].tli);
	for (int i = 0; rc == 0 && i < tl->nsegs; i++)
		rc = add_state(&v, &n, tl->segs[i].tli);
	if (rc != 0) {
		free(v);
		return -1;
	}
	for (int i = 0; i < n; i++) {
		const tr_timeline *h = history_of(tl, v[i].tli);
		if (h && h->nanc) {
			v[i].parent = h->anc[h->nanc - 1].tli;
			v[i].fork = h->anc[h->nanc - 1].end;
		}
		for (int k = 0; k < tl->nsegs; k++)
			if (tl->segs[k].tli == v[i].tli && tl->segs[k].count) {
				v[i].has_segments = 1;
				v[i].last = tl->segs[k].last;
			}
	}
	for (int i = 0; i < n; i++) {
		v[i].tip = 1;
		for (int k = 0; k < n && v[i].tip; k++)
			if (continued_by(tl, &v[i], v[k].tli, seg_size))
				v[i].tip = 0;
	}
	if (n)
		qsort(v, (size_t)n, sizeof *v, by_tli);
	*out = v;
	return n;
}

void tr_timeline_last_name(const tr_tl_state *s, char out[25])
{
	if (s->has_segments)
		snprintf(out, 25, "%08X%08X%08X", s->tli, (unsigned)(s->last >> 32), (unsigned)s->last);
	else
		snprintf(out, 25, "none");
}

void tr_timeline_describe(const tr_tl_state *s, int n, char *out, size_t outlen)
{
	size_t o = 0;
	out[0] = '\0';
	for (int i = 0; i < n && o < outlen; i++) {
		char last[25], fork[24];
		tr_timeline_last_name(&s[i], last);
		tr_lsn_format(s[i].fork, fork);
		int w;
		if (s[i].parent)
			w = snprintf(out + o, outlen - o, "%stimeline %u: forked from timeline %u at %s, last archived "
				     "segment %s", i ? "; " : "", s[i].tli, s[i].parent, fork, last);
		else
			w = snprintf(out + o, outlen - o, "%stimeline %u: last archived segment %s", i ? "; " : "",
				     s[i].tli, last);
		if (w < 0)
			break;
		o += (size_t)w;
	}
}
