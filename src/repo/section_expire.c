/*
 * section_expire.c - which WAL retention removes, history section by
 * history section (see section.h): each section's WAL is needed only by
 * that section's backups.
 *
 *  - In a section that keeps backups: the WAL files of any timeline below
 *    the lowest start segment of its kept backups (its .history files
 *    stay), as before sections existed.
 *  - In a section other than the current one that keeps no backup: all
 *    its WAL, .history files included (nothing can be restored from it
 *    any more).  Its section object stays: the repository still records
 *    that cluster, so its WAL is never taken for the current one's.
 *  - The current section's WAL is never removed for lack of a backup: it
 *    is being archived, and its first backup needs what follows.
 *  - While a section cannot be read, no WAL is removed (a backup whose
 *    section is unknown may need any of it).
 */
#include "config.h"
#include "repo/section.h"
#include "base/log.h"
#include "base/util.h"
#include "pg/walname.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

struct wal_scan {
	tr_section_remove_fn remove;
	void *ctx;
	uint64_t keep_from;   /* segment number (log * per_log + seg); 0 with all */
	uint64_t per_log;
	int all;              /* every WAL file, .history too */
	int failed;
};

static int wal_candidate(void *ctx, const tr_object_info *info)
{
	struct wal_scan *w = ctx;
	const char *name = tr_basename(info->key);
	unsigned tli, log, seg;
	int kind = tr_wal_kind(name);
	if (kind == TR_WAL_NONE)
		return 0;
	if (!w->all && (kind == TR_WAL_HISTORY || sscanf(name, "%8X%8X%8X", &tli, &log, &seg) != 3 ||
			(uint64_t)log * w->per_log + seg >= w->keep_from))
		return 0;
	if (w->remove(w->ctx, info->key, info->size) != 0) {
		w->failed = 1;
		return 1;
	}
	return 0;
}

/* The lowest start segment of section n's kept backups (one on another
 * timeline may have started earlier than an older one), UINT64_MAX when
 * it keeps none; *seg_size: their segment size. */
static uint64_t first_needed(const tr_backupset *set, const int *keep, const tr_sections *s, uint32_t n,
			     uint64_t *seg_size)
{
	uint64_t first = UINT64_MAX;
	for (int i = 0; i < set->n; i++) {
		if (!keep[i] || tr_section_of_backup(s, &set->b[i]) != n)
			continue;
		uint64_t seg = set->b[i].start_lsn / set->b[i].wal_segment_size;
		*seg_size = set->b[i].wal_segment_size;
		if (seg < first)
			first = seg;
	}
	return first;
}

int tr_sections_expire_wal(tr_repo *r, const tr_backupset *set, const int *keep, tr_section_remove_fn remove,
			   void *ctx, char *err, size_t errlen)
{
	tr_sections s;
	int rc = 0;
	if (tr_sections_for_listing(r, &s) != TR_OK) {
		snprintf(err, errlen, "cannot read the history sections: %s", tr_repo_error(r));
		return -1;
	}
	const tr_section *bad = tr_sections_damaged(&s);
	if (bad)
		tr_warn("expire: no WAL is removed while a history section cannot be read: %s", bad->why);
	for (int k = 0; !bad && rc == 0 && k < s.n; k++) {
		uint64_t seg_size = 16 * 1024 * 1024;
		struct wal_scan w = { remove, ctx, first_needed(set, keep, &s, s.v[k].n, &seg_size), 0, 0, 0 };
		w.per_log = 0x100000000ULL / seg_size;
		w.all = w.keep_from == UINT64_MAX;
		if (w.all && k == s.n - 1)
			continue;   /* the current section: its first backup is still to come */
		if (w.all)
			tr_info("expire: history section %" PRIu32 " keeps no backup: its WAL goes (the section stays recorded)",
				s.v[k].n);
		tr_repo_use_section(r, s.v[k].n);
		if (tr_repo_list(r, tr_repo_wal_prefix(r), wal_candidate, &w) != TR_OK && !w.failed) {
			snprintf(err, errlen, "%s", tr_repo_error(r));
			rc = -1;
		}
		if (w.failed)
			rc = -1;   /* err said by remove */
	}
	tr_sections_free(&s);
	return rc;
}
