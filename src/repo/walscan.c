/* walscan.c - archived WAL along a timeline's history (see walscan.h). */
#include "config.h"
#include "repo/walscan.h"
#include "base/log.h"
#include "pg/pgconn.h"
#include "pg/walname.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int tr_walscan_init(tr_walscan *s, tr_repo *r, const tr_timelines *tl, uint32_t target, uint64_t seg_size)
{
	int max = 2;
	memset(s, 0, sizeof *s);
	for (int i = 0; i < tl->n; i++)
		if (tl->v[i].nanc + 2 > max)
			max = tl->v[i].nanc + 2;
	s->r = r;
	s->seg_size = seg_size;
	s->path = calloc((size_t)max, sizeof *s->path);
	s->dec = tr_waldec_new(seg_size);
	if (!s->path || !s->dec) {
		tr_walscan_free(s);
		tr_repo_set_error(r, "out of memory");
		return -1;
	}
	s->npath = tr_timeline_path(tl, target, s->path, max);
	return 0;
}

void tr_walscan_free(tr_walscan *s)
{
	free(s->path);
	tr_waldec_free(s->dec);
	memset(s, 0, sizeof *s);
}

struct feed {
	tr_walscan *s;
	uint64_t from, to;
	tr_walrec_fn fn;
	void *ctx;
	int stopped;          /* 1: fn stopped, 2: reached `to` */
	uint64_t segno;       /* the segment being read */
	int begun;            /* its first bytes arrived (a missing one must not reset the decoder) */
};

static int on_record(void *ctx, const tr_walrec *r)
{
	struct feed *f = ctx;
	if (r->lsn < f->from)
		return 0;
	if (r->lsn >= f->to)
		return f->stopped = 2;
	if (f->fn(f->ctx, r))
		return f->stopped = 1;
	return 0;
}

static int sink(void *ctx, const void *buf, size_t len)
{
	struct feed *f = ctx;
	if (!f->begun) {
		tr_waldec_begin(f->s->dec, f->segno);
		f->begun = 1;
	}
	tr_waldec_feed(f->s->dec, buf, len, on_record, f);
	/* Stop the transfer once the answer is known (or the WAL ended). */
	return f->stopped || tr_waldec_ended(f->s->dec) ? -1 : 0;
}

/* Reads segment segno from the newest timeline of the path that begins at
 * or before it (and is not older than *tli, when given).  0 read, 2 not in
 * the archive, -1 error. */
static int read_segment(tr_walscan *s, uint64_t segno, uint32_t *tli, struct feed *f)
{
	for (int k = s->npath - 1; k >= 0; k--) {
		uint64_t begin = k ? s->path[k - 1].end / s->seg_size : 0;
		if (begin > segno || (tli && s->path[k].tli < *tli))
			continue;
		char name[25], rel[64];
		tr_wal_file_name(s->path[k].tli, segno * s->seg_size, s->seg_size, name);
		tr_repo_wal_rel(s->r, name, rel, sizeof rel);
		f->segno = segno;
		f->begun = 0;
		int rc = tr_repo_get(s->r, rel, sink, f, NULL);
		if (rc == TR_ENOENT)
			continue;
		if (rc != TR_OK && !(rc == TR_ECALLBACK && (f->stopped || tr_waldec_ended(s->dec))))
			return -1;
		if (tli)
			*tli = s->path[k].tli;
		s->segments++;
		memcpy(s->last, name, sizeof s->last);
		tr_debug("restore: read WAL %s for the recovery target", name);
		return 0;
	}
	return 2;
}

int tr_walscan_range(tr_walscan *s, uint64_t from, uint64_t to, tr_walrec_fn fn, void *ctx)
{
	struct feed f = { s, from, to, fn, ctx, 0, 0, 0 };
	uint32_t tli = 0;
	for (uint64_t segno = from / s->seg_size; !f.stopped; segno++) {
		int rc = read_segment(s, segno, &tli, &f);
		if (rc < 0)
			return -1;
		if (rc == 2 || (tr_waldec_ended(s->dec) && !f.stopped))
			return 0;      /* the end of the archived WAL */
	}
	return f.stopped == 1;
}

int tr_walscan_segment(tr_walscan *s, uint64_t segno, tr_walrec_fn fn, void *ctx)
{
	struct feed f = { s, 0, UINT64_MAX, fn, ctx, 0, 0, 0 };
	int rc = read_segment(s, segno, NULL, &f);
	return rc != 0 ? rc : f.stopped == 1;
}
