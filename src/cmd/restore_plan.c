/* restore_plan.c - timeline, backup and target checks of a restore (see restore_plan.h). */
#include "config.h"
#include "cmd/restore_plan.h"
#include "base/log.h"
#include "pg/pgconn.h"
#include "conf/settings.h"
#include "repo/timeline.h"
#include "repo/walscan.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* How far back restore looks for the newest commit before giving up the
 * check (an idle server archives segments without any). */
#define TAIL_SEGMENTS 256

struct plan {
	tr_repo *r;
	const tr_backupset *set;
	const char *label, *name;
	int has_time, has_lsn, has_xid;
	int exclusive;         /* --target-exclusive */
	int64_t time_us;
	uint64_t lsn, xid;
	tr_timelines tl;
	tr_tl_state *st;
	int nst;
	uint64_t seg_size;
	uint32_t target;       /* the timeline recovery follows */
	int current;           /* --target-timeline current */
	int *cand;             /* backups on its history, oldest first */
	int ncand;
	char *err;
	size_t errlen;
};

/* --- times --- */

static int digits(const char **p, int n, int *out)
{
	*out = 0;
	for (int i = 0; i < n; i++, (*p)++) {
		if (!isdigit((unsigned char)**p))
			return -1;
		*out = *out * 10 + (**p - '0');
	}
	return 0;
}

/* The zone part: "", "Z", "UTC", "+HH", "+HH:MM", "+HHMM" (a space first allowed). */
static int parse_zone(const char *p, int *offset_s)
{
	int h = 0, m = 0, sign;
	*offset_s = 0;
	if (*p == ' ' && (p[1] == '+' || p[1] == '-' || strcmp(p + 1, "UTC") == 0))
		p++;
	if (!*p || strcmp(p, "Z") == 0 || strcmp(p, "UTC") == 0)
		return 0;
	if (*p != '+' && *p != '-')
		return -1;
	sign = *p++ == '-' ? -1 : 1;
	if (digits(&p, 2, &h) != 0)
		return -1;
	if (*p == ':')
		p++;
	if (*p && digits(&p, 2, &m) != 0)
		return -1;
	if (*p || h > 15 || m > 59)
		return -1;
	*offset_s = sign * (h * 3600 + m * 60);
	return 0;
}

int tr_parse_target_time(const char *s, int64_t *unix_us, char *utc, size_t utclen)
{
	struct tm tm, back;
	int y, mo, d, h, mi, sec, us = 0, off;
	const char *p = s;
	memset(&tm, 0, sizeof tm);
	if (digits(&p, 4, &y) || *p++ != '-' || digits(&p, 2, &mo) || *p++ != '-' || digits(&p, 2, &d) ||
	    (*p != ' ' && *p != 'T') || !*p++ || digits(&p, 2, &h) || *p++ != ':' || digits(&p, 2, &mi) ||
	    *p++ != ':' || digits(&p, 2, &sec))
		return -1;
	if (*p == '.') {
		int n = 0;
		for (p++; isdigit((unsigned char)*p); p++, n++)
			if (n < 6)
				us = us * 10 + (*p - '0');
		if (n == 0 || n > 6)
			return -1;   /* PostgreSQL keeps microseconds */
		for (; n < 6; n++)
			us *= 10;
	}
	if (parse_zone(p, &off) != 0)
		return -1;
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	time_t t = timegm(&tm);
	/* 2026-02-31 is not a date (timegm would make it March 3rd). */
	if (t == (time_t)-1 || !gmtime_r(&t, &back) || back.tm_mday != d || back.tm_mon != mo - 1 || back.tm_hour != h ||
	    back.tm_min != mi || back.tm_sec != sec)
		return -1;
	t -= off;
	*unix_us = (int64_t)t * 1000000 + us;
	gmtime_r(&t, &back);
	size_t n = strftime(utc, utclen, "%Y-%m-%d %H:%M:%S", &back);
	if (n == 0 || (size_t)snprintf(utc + n, utclen - n, us ? ".%06d+00" : "+00", us) >= utclen - n)
		return -1;
	return 0;
}

static void format_us(int64_t us, char out[40])
{
	time_t t = (time_t)(us / 1000000);
	struct tm tm;
	gmtime_r(&t, &tm);
	size_t n = strftime(out, 40, "%Y-%m-%d %H:%M:%S", &tm);
	snprintf(out + n, 40 - n, ".%06d+00", (int)(us % 1000000));
}

/* --- targets --- */

static int read_targets(struct plan *pl, const tr_restore_targets *tg, tr_restore_plan *p)
{
	const char *t = tg->time, *l = tg->lsn, *x = tg->xid;
	pl->label = tg->label;
	pl->name = tg->name;
	if (t && tr_parse_target_time(t, &pl->time_us, p->target_time, sizeof p->target_time) != 0) {
		snprintf(pl->err, pl->errlen, "TOTALRECALL_TARGET_TIME (--target-time): not a time "
			 "(YYYY-MM-DD HH:MM:SS[.ffffff][+HH[:MM]], UTC if no zone)");
		return -1;
	}
	if (l && tr_lsn_parse(l, &pl->lsn) != 0) {
		snprintf(pl->err, pl->errlen, "TOTALRECALL_TARGET_LSN (--target-lsn): not an LSN (like 0/3000028)");
		return -1;
	}
	pl->has_time = t != NULL;
	pl->has_lsn = l != NULL;
	pl->has_xid = x != NULL;
	pl->exclusive = tg->exclusive;
	pl->xid = x ? strtoull(x, NULL, 10) : 0;
	return 0;
}

/* --- timelines --- */

static uint32_t newest_timeline(const struct plan *pl)
{
	uint32_t best = 0;
	for (int i = 0; i < pl->nst; i++)
		if (pl->st[i].tli > best)
			best = pl->st[i].tli;
	for (int i = 0; i < pl->set->n; i++)
		if (pl->set->b[i].timeline > best)
			best = pl->set->b[i].timeline;
	return best;
}

static int known_timeline(const struct plan *pl, uint32_t tli)
{
	for (int i = 0; i < pl->nst; i++)
		if (pl->st[i].tli == tli)
			return 1;
	for (int i = 0; i < pl->set->n; i++)
		if (pl->set->b[i].timeline == tli)
			return 1;
	return 0;
}

static void refuse_diverged(struct plan *pl, const char *why)
{
	char text[1500], tips[128] = "";
	tr_timeline_describe(pl->st, pl->nst, text, sizeof text);
	for (int i = 0; i < pl->nst; i++)
		if (pl->st[i].tip)
			snprintf(tips + strlen(tips), sizeof tips - strlen(tips), "%s%u", *tips ? " or " : "", pl->st[i].tli);
	snprintf(pl->err, pl->errlen, "the archive holds diverged timelines, and restore will not guess which one "
		 "to follow%s: %s; choose one with --target-timeline %s (nothing was changed)", why, text, tips);
}

/* With several tips, a backup only one of them continues decides. */
static int tip_of_backup(struct plan *pl)
{
	int b = tr_backupset_find(pl->set, pl->label), found = 0;
	if (b < 0)
		return 0;  /* reported by the backup choice */
	for (int i = 0; i < pl->nst; i++)
		if (pl->st[i].tip &&
		    tr_timeline_contains(&pl->tl, pl->st[i].tli, pl->set->b[b].timeline, pl->set->b[b].stop_lsn)) {
			pl->target = pl->st[i].tli;
			found++;
		}
	if (found == 1)
		return 1;
	refuse_diverged(pl, found ? ", and more than one continues that backup" : "");
	return -1;
}

static int choose_timeline(struct plan *pl, const char *given)
{
	int tips = 0;
	for (int i = 0; i < pl->nst; i++)
		tips += pl->st[i].tip;
	if (given && strcmp(given, "latest") == 0) {
		pl->target = newest_timeline(pl);
	} else if (given && strcmp(given, "current") == 0) {
		/* The backup's own timeline, and only it. */
		int b = pl->label ? tr_backupset_find(pl->set, pl->label) : pl->set->n - 1;
		pl->current = 1;
		pl->target = pl->set->b[b >= 0 ? b : pl->set->n - 1].timeline;
	} else if (given) {
		char *end;
		unsigned long n = strtoul(given, &end, 10);
		if (!*given || *end || n == 0 || n > UINT32_MAX) {
			snprintf(pl->err, pl->errlen, "TOTALRECALL_TARGET_TIMELINE (--target-timeline): expected latest, "
				 "current or a timeline number");
			return -1;
		}
		pl->target = (uint32_t)n;
		if (!known_timeline(pl, pl->target)) {
			char text[1500];
			tr_timeline_describe(pl->st, pl->nst, text, sizeof text);
			snprintf(pl->err, pl->errlen, "timeline %u is not in the archive (%s)", pl->target, text);
			return -1;
		}
	} else if (tips <= 1) {
		pl->target = newest_timeline(pl);
	} else if (!pl->label || tip_of_backup(pl) != 1) {
		if (!pl->label)
			refuse_diverged(pl, "");
		return -1;
	}
	return 0;
}

/* The backups recovery along the chosen timeline can start from. */
static int list_candidates(struct plan *pl)
{
	pl->cand = calloc((size_t)pl->set->n + 1, sizeof *pl->cand);
	if (!pl->cand) {
		snprintf(pl->err, pl->errlen, "out of memory");
		return -1;
	}
	for (int i = 0; i < pl->set->n; i++) {
		const tr_manifest_hdr *b = &pl->set->b[i];
		if (pl->current ? b->timeline == pl->target
				: tr_timeline_contains(&pl->tl, pl->target, b->timeline, b->stop_lsn))
			pl->cand[pl->ncand++] = i;
	}
	return 0;
}

/* --- the WAL: finding records --- */

struct match {
	const struct plan *pl;
	uint64_t lsn;          /* where it was found */
	int kind;
	int64_t time_us;
	int found;
};

static int match_record(void *ctx, const tr_walrec *r)
{
	struct match *m = ctx;
	const struct plan *pl = m->pl;
	int hit = pl->has_xid ? (r->kind == TR_WR_COMMIT || r->kind == TR_WR_ABORT) && r->target_xid == (uint32_t)pl->xid
			      : r->kind == TR_WR_RESTORE_POINT && strcmp(r->name, pl->name) == 0;
	if (hit) {
		m->lsn = r->lsn;
		m->kind = r->kind;
		m->time_us = r->time_us;
		m->found = 1;
	}
	return hit;
}

static const char *what(const struct plan *pl, char *buf, size_t len)
{
	if (pl->has_xid)
		snprintf(buf, len, "transaction %" PRIu64, pl->xid);
	else
		snprintf(buf, len, "restore point \"%s\"", pl->name);
	return buf;
}

/* The first match in [from, to) along the timeline; -1 on error. */
static int scan_first(struct plan *pl, tr_walscan *ws, uint64_t from, uint64_t to, struct match *m)
{
	struct match here = { pl, 0, 0, 0, 0 };
	int rc = tr_walscan_range(ws, from, to, match_record, &here);
	if (rc < 0) {
		snprintf(pl->err, pl->errlen, "%s", tr_repo_error(pl->r));
		return -1;
	}
	if (here.found)
		*m = here;
	return 0;
}

/* A transaction commits (or aborts) once, after it was assigned: search
 * from the newest backup that ended before it was assigned, else from
 * the oldest one. */
static int find_xid(struct plan *pl, tr_walscan *ws, struct match *m, int *from_cand)
{
	int from = 0;
	for (int k = pl->ncand - 1; k >= 0; k--) {
		const tr_manifest_hdr *b = &pl->set->b[pl->cand[k]];
		int comparable = pl->xid > 0xffffffffULL || b->next_xid <= 0xffffffffULL;
		if (comparable && b->next_xid && pl->xid >= b->next_xid) {
			from = k;
			break;
		}
	}
	*from_cand = from;
	return scan_first(pl, ws, pl->set->b[pl->cand[from]].start_lsn, UINT64_MAX, m);
}

/* A restore point's name may repeat: recovery stops at the first one after
 * the backup's start, which must lie after the backup's stop.  Backups
 * are tried newest first, each one's stretch of WAL read once. */
static int find_name(struct plan *pl, tr_walscan *ws, struct match *m, int *chosen)
{
	uint64_t hi = UINT64_MAX;
	*chosen = -1;
	for (int k = pl->ncand - 1; k >= 0 && *chosen < 0; k--) {
		const tr_manifest_hdr *b = &pl->set->b[pl->cand[k]];
		if (b->start_lsn < hi && scan_first(pl, ws, b->start_lsn, hi, m) != 0)
			return -1;
		hi = b->start_lsn;
		if (m->found && m->lsn >= b->stop_lsn)
			*chosen = k;
	}
	return 0;
}

/* Picks by a record found in the WAL (--target-xid, --target-name); with
 * --backup (candidate *chosen), checks that the record follows its stop. */
static int choose_by_record(struct plan *pl, int *chosen)
{
	int given = pl->label ? *chosen : -1;
	if (!pl->ncand) {
		snprintf(pl->err, pl->errlen, "no backup in the repository is on the history of timeline %u", pl->target);
		return -1;
	}
	tr_walscan ws;
	struct match m = { pl, 0, 0, 0, 0 };
	char w[128], lsn[24];
	int from = 0, rc = tr_walscan_init(&ws, pl->r, &pl->tl, pl->target, pl->seg_size);
	if (rc != 0) {
		snprintf(pl->err, pl->errlen, "%s", tr_repo_error(pl->r));
		return -1;
	}
	what(pl, w, sizeof w);
	tr_info("restore: looking for %s in the archived WAL along timeline %u", w, pl->target);
	*chosen = -1;
	if (given >= 0) {
		from = given;
		rc = scan_first(pl, &ws, pl->set->b[pl->cand[given]].start_lsn, UINT64_MAX, &m);
		if (rc == 0 && m.found && m.lsn >= pl->set->b[pl->cand[given]].stop_lsn)
			*chosen = given;
	} else if (pl->has_xid) {
		rc = find_xid(pl, &ws, &m, &from);
	} else {
		rc = find_name(pl, &ws, &m, chosen);
	}
	if (rc == 0 && given < 0 && pl->has_xid && m.found)
		for (int k = pl->ncand - 1; k >= 0 && *chosen < 0; k--)
			if (pl->set->b[pl->cand[k]].stop_lsn <= m.lsn)
				*chosen = k;
	tr_info("restore: read %" PRIu64 " WAL segments%s%s", ws.segments, ws.segments ? ", up to " : "", ws.last);
	tr_walscan_free(&ws);
	if (rc != 0)
		return -1;
	tr_lsn_format(m.lsn, lsn);
	if (!m.found) {
		snprintf(pl->err, pl->errlen, "%s is not in the archived WAL of timeline %u from the start of backup %s "
			 "to the end of the archive: the recovery target is before the oldest backup that could reach it, or "
			 "after the end of the archive (nothing was changed)", w, pl->target,
			 pl->set->b[pl->cand[pl->has_xid ? from : 0]].label);
		return -1;
	}
	if (*chosen < 0 && given >= 0) {
		snprintf(pl->err, pl->errlen, "backup %s ends after the recovery target (%s is at %s)", pl->label, w, lsn);
		return -1;
	}
	if (*chosen < 0) {
		snprintf(pl->err, pl->errlen, "%s is at %s, before the oldest backup on timeline %u ends (%s): the "
			 "recovery target is before the oldest backup", w, lsn, pl->target, pl->set->b[pl->cand[0]].label);
		return -1;
	}
	if (m.kind == TR_WR_ABORT)
		tr_warn("restore: %s aborted (at %s): recovery stops after its abort", w, lsn);
	else
		tr_info("restore: %s is at %s", w, lsn);
	return 0;
}

/* --- the end of the archive --- */

struct tail {
	int64_t newest_commit;
	uint64_t last_lsn;
	int has_commit, has_record;
};

static int tail_record(void *ctx, const tr_walrec *r)
{
	struct tail *t = ctx;
	t->has_record = 1;
	if (r->lsn > t->last_lsn)
		t->last_lsn = r->lsn;
	if ((r->kind == TR_WR_COMMIT || r->kind == TR_WR_ABORT) && r->time_us) {
		if (!t->has_commit || r->time_us > t->newest_commit)
			t->newest_commit = r->time_us;
		t->has_commit = 1;
	}
	return 0;
}

/* The newest segment recovery along the timeline would read: its own
 * newest one, or the one holding its fork if it has none yet. */
static int tail_segment(const tr_walscan *ws, const struct plan *pl, uint64_t *segno)
{
	for (int i = 0; i < pl->tl.nsegs; i++)
		if (pl->tl.segs[i].tli == pl->target && pl->tl.segs[i].count) {
			uint64_t last = pl->tl.segs[i].last;
			*segno = (last >> 32) * (0x100000000ULL / pl->seg_size) + (last & 0xffffffffu);
			return 0;
		}
	if (ws->npath < 2)
		return -1;
	*segno = ws->path[ws->npath - 2].end / pl->seg_size;
	return 0;
}

/* For a time, the newest commit must be after it (recovery stops before
 * the first commit later than the target); for an LSN, a record must
 * start at or after it.  Reads segments back from the end, down to the
 * chosen backup's stop. */
static int check_end(struct plan *pl, const tr_manifest_hdr *b)
{
	tr_walscan ws;
	struct tail t = { 0, 0, 0, 0 };
	uint64_t segno, floor = b->stop_lsn / pl->seg_size;
	char when[40], lsn[24];
	int rc = 0, n = 0;
	if (tr_walscan_init(&ws, pl->r, &pl->tl, pl->target, pl->seg_size) != 0) {
		snprintf(pl->err, pl->errlen, "%s", tr_repo_error(pl->r));
		return -1;
	}
	if (tail_segment(&ws, pl, &segno) != 0) {
		snprintf(pl->err, pl->errlen, "the archive holds no WAL of timeline %u", pl->target);
		tr_walscan_free(&ws);
		return -1;
	}
	for (; rc == 0 && n < TAIL_SEGMENTS && segno >= floor; segno--, n++) {
		rc = tr_walscan_segment(&ws, segno, tail_record, &t);
		if (rc == 2)
			rc = 0;  /* a gap: verify reports those */
		if ((pl->has_time && t.has_commit) || (pl->has_lsn && t.has_record) || segno == 0)
			break;
	}
	tr_walscan_free(&ws);
	if (rc < 0) {
		snprintf(pl->err, pl->errlen, "%s", tr_repo_error(pl->r));
		return -1;
	}
	if ((pl->has_time && !t.has_commit) || (pl->has_lsn && !t.has_record)) {
		if (n >= TAIL_SEGMENTS) {
			tr_warn("restore: no %s in the last %d WAL segments of timeline %u: whether the target is reached is "
				"not checked", pl->has_time ? "transaction" : "record", TAIL_SEGMENTS, pl->target);
			return 0;
		}
		snprintf(pl->err, pl->errlen, "no transaction commits on timeline %u after backup %s ends: the recovery "
			 "target time is after the end of the archive (use no target, or --target immediate)", pl->target,
			 b->label);
		return -1;
	}
	/* Inclusive, recovery stops after the last commit at or before the
	 * target, which it knows only when a later one comes; exclusive,
	 * before the first commit at or after it. */
	if (pl->has_time && (pl->exclusive ? pl->time_us > t.newest_commit : pl->time_us >= t.newest_commit)) {
		format_us(t.newest_commit, when);
		snprintf(pl->err, pl->errlen, "the recovery target time is after the end of the archive: the newest "
			 "transaction on timeline %u committed at %s (recovery stops only before a later one; nothing was "
			 "changed)", pl->target, when);
		return -1;
	}
	if (pl->has_lsn && pl->lsn > t.last_lsn) {
		tr_lsn_format(t.last_lsn, lsn);
		snprintf(pl->err, pl->errlen, "the recovery target LSN is after the end of the archive: the last record "
			 "on timeline %u starts at %s (nothing was changed)", pl->target, lsn);
		return -1;
	}
	return 0;
}

/* --- the backup --- */

/* Whether candidate k ends before the time or LSN target. */
static int ends_before(const struct plan *pl, const tr_manifest_hdr *b)
{
	return !(pl->has_time && b->stop_time_us > pl->time_us) && !(pl->has_lsn && b->stop_lsn > pl->lsn);
}

static int choose_backup(struct plan *pl, int *chosen)
{
	int k = -1;
	if (pl->label) {
		int i = tr_backupset_find(pl->set, pl->label);
		if (i < 0) {
			snprintf(pl->err, pl->errlen, "no backup labelled %s in the repository", pl->label);
			return -1;
		}
		for (int c = 0; c < pl->ncand; c++)
			if (pl->cand[c] == i)
				k = c;
		if (k < 0) {
			snprintf(pl->err, pl->errlen, "backup %s (timeline %u, stop %" PRIX64 ") is not on the history of "
				 "timeline %u", pl->label, pl->set->b[i].timeline, pl->set->b[i].stop_lsn, pl->target);
			return -1;
		}
		if (!ends_before(pl, &pl->set->b[i])) {
			snprintf(pl->err, pl->errlen, "backup %s ends after the recovery target", pl->label);
			return -1;
		}
	} else {
		for (int c = pl->ncand - 1; c >= 0 && k < 0; c--)
			if (ends_before(pl, &pl->set->b[pl->cand[c]]))
				k = c;
		if (k < 0 && pl->ncand)
			snprintf(pl->err, pl->errlen, "the recovery target is before the oldest backup (%s)",
				 pl->set->b[pl->cand[0]].label);
		else if (k < 0)
			snprintf(pl->err, pl->errlen, "no backup in the repository is on the history of timeline %u",
				 pl->target);
		if (k < 0)
			return -1;
	}
	*chosen = k;
	return 0;
}

int tr_restore_plan_make(tr_repo *r, const tr_backupset *set, const tr_restore_targets *t, tr_restore_plan *p,
			 char *err, size_t errlen)
{
	struct plan pl;
	int k = -1, rc;
	memset(p, 0, sizeof *p);
	memset(&pl, 0, sizeof pl);
	pl.r = r;
	pl.set = set;
	pl.err = err;
	pl.errlen = errlen;
	pl.seg_size = set->b[set->n - 1].wal_segment_size;
	rc = read_targets(&pl, t, p);
	if (rc == 0 && (rc = tr_timelines_load(r, &pl.tl)) != TR_OK) {
		snprintf(err, errlen, "%s", tr_repo_error(r));
		rc = -1;
	}
	if (rc == 0 && (pl.nst = tr_timeline_states(&pl.tl, pl.seg_size, &pl.st)) < 0) {
		snprintf(err, errlen, "out of memory");
		rc = -1;
	}
	if (rc == 0)
		rc = choose_timeline(&pl, t->timeline);
	if (rc == 0)
		rc = list_candidates(&pl);
	if (rc == 0 && (pl.has_xid || pl.name) && !pl.label)
		rc = choose_by_record(&pl, &k);
	else if (rc == 0)
		rc = choose_backup(&pl, &k);
	if (rc == 0 && pl.label && (pl.has_xid || pl.name))
		rc = choose_by_record(&pl, &k);
	if (rc == 0 && (pl.has_time || pl.has_lsn))
		rc = check_end(&pl, &set->b[pl.cand[k]]);
	if (rc == 0) {
		p->chosen = pl.cand[k];
		if (pl.current)
			snprintf(p->timeline, sizeof p->timeline, "current");
		else
			snprintf(p->timeline, sizeof p->timeline, "%u", pl.target);
		tr_info("restore: backup %s (timeline %u); recovering along timeline %s%s", set->b[p->chosen].label,
			set->b[p->chosen].timeline, p->timeline,
			!pl.current && pl.target != newest_timeline(&pl) ? " (not the newest timeline in the archive)" : "");
	}
	free(pl.cand);
	free(pl.st);
	tr_timelines_free(&pl.tl);
	return rc;
}
