/* timeline.c - timeline histories (see timeline.h). */
#include "config.h"
#include "timeline.h"
#include "pgconn.h"
#include "util.h"
#include "walname.h"

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

struct history_names {
	uint32_t *tli;
	int n;
};

static int collect_history(void *ctx, const tr_object_info *info)
{
	struct history_names *h = ctx;
	const char *name = tr_basename(info->key);
	unsigned tli;
	if (tr_wal_kind(name) != TR_WAL_HISTORY || sscanf(name, "%8X", &tli) != 1)
		return 0;
	uint32_t *grown = realloc(h->tli, (size_t)(h->n + 1) * sizeof *grown);
	if (!grown)
		return 1;
	h->tli = grown;
	h->tli[h->n++] = tli;
	return 0;
}

int tr_timelines_load(tr_repo *r, tr_timelines *tl)
{
	struct history_names h = { NULL, 0 };
	enum { HISTORY_MAX = 65536 };
	tr_membuf text = { malloc(HISTORY_MAX + 1), 0, HISTORY_MAX, 0 };
	memset(tl, 0, sizeof *tl);
	int rc = text.data ? tr_repo_list(r, "wal/", collect_history, &h) : TR_ENOMEM;
	if (rc == TR_OK && h.n && !(tl->v = calloc((size_t)h.n, sizeof *tl->v)))
		rc = TR_ENOMEM;
	for (int i = 0; rc == TR_OK && i < h.n; i++) {
		char rel[64];
		snprintf(rel, sizeof rel, "wal/%08X.history", h.tli[i]);
		text.len = 0;
		rc = tr_repo_get(r, rel, tr_mem_write, &text, NULL);
		((char *)text.data)[text.len] = '\0';
		if (rc == TR_OK && tr_timeline_parse(h.tli[i], text.data, &tl->v[tl->n++]) != 0) {
			snprintf(r->err, sizeof r->err, "%s: not a timeline history file", rel);
			rc = TR_REPO_ECORRUPT;
		}
	}
	free(text.data);
	free(h.tli);
	if (rc != TR_OK)
		tr_timelines_free(tl);
	return rc;
}

void tr_timelines_free(tr_timelines *tl)
{
	for (int i = 0; i < tl->n; i++)
		free(tl->v[i].anc);
	free(tl->v);
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
