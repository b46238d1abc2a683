/*
 * section_scope.c - the backups of one history section (see section.h),
 * for the commands that read backups: restore chooses only among the
 * backups of the section it recovers in, whose WAL it reads.
 */
#include "config.h"
#include "repo/section.h"
#include "repo/backupset.h"
#include "base/log.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

void tr_backupset_keep_section(tr_backupset *set, const tr_sections *s, uint32_t n)
{
	int kept = 0;
	for (int i = 0; i < set->n; i++) {
		if (tr_section_of_backup(s, &set->b[i]) == n)
			set->b[kept++] = set->b[i];
		else
			tr_manifest_hdr_free(&set->b[i]);
	}
	set->n = kept;
}

/* The newest backup of another section than n, for a hint. */
static const tr_manifest_hdr *newest_elsewhere(const tr_backupset *set, const tr_sections *s, uint32_t n,
					       uint32_t *where)
{
	for (int i = set->n - 1; i >= 0; i--)
		if ((*where = tr_section_of_backup(s, &set->b[i])) != n && *where)
			return &set->b[i];
	return NULL;
}

/* Which section: --backup's, else the section setting's, else the current. */
static int choose(const tr_backupset *set, const tr_sections *s, const char *label, uint32_t wanted, uint32_t *n,
		  char *err, size_t errlen)
{
	int b = label ? tr_backupset_find(set, label) : -1;
	const tr_section *bad = tr_sections_damaged(s);
	if (b >= 0) {
		*n = tr_section_of_backup(s, &set->b[b]);
		if (!*n)
			snprintf(err, errlen, "backup %s is of system identifier %s, which no readable history section records "
				 "(%s)", label, set->b[b].system_id, bad ? bad->why : "");
		return *n ? 0 : -1;
	}
	*n = wanted ? wanted : (uint32_t)s->n;
	if ((int)*n > s->n) {
		snprintf(err, errlen, "TOTALRECALL_SECTION (--section): the repository has %d history section%s, not %" PRIu32,
			 s->n, s->n == 1 ? "" : "s", *n);
		return -1;
	}
	return 0;
}

int tr_section_restore_scope(tr_repo *r, tr_backupset *set, const char *label, uint32_t wanted, uint32_t *n,
			     char *err, size_t errlen)
{
	tr_sections s;
	char id[160], hint[400] = "";
	uint32_t other = 0;
	if (tr_sections_for_listing(r, &s) != TR_OK) {
		snprintf(err, errlen, "cannot read the history sections: %s", tr_repo_error(r));
		return -1;
	}
	int rc = choose(set, &s, label, wanted, n, err, errlen);
	const tr_section *sec = rc == 0 ? &s.v[*n - 1] : NULL;
	const tr_manifest_hdr *elsewhere = sec ? newest_elsewhere(set, &s, *n, &other) : NULL;
	if (sec)
		tr_section_describe(sec, id, sizeof id);
	if (sec && elsewhere)
		snprintf(hint, sizeof hint, "; to restore an older cluster, give --backup (the newest of history section "
			 "%" PRIu32 " is %s, PostgreSQL %d) or --section %" PRIu32 ", and start it with that major version's "
			 "binaries", other, elsewhere->label, elsewhere->pg_version / 10000, other);
	if (sec) {
		tr_backupset_keep_section(set, &s, *n);
		tr_repo_use_section(r, *n);
	}
	if (sec && !set->n) {
		snprintf(err, errlen, "%s has no backup%s%s%s", id, sec->damaged ? ": " : "", sec->damaged ? sec->why : "",
			 *n == (uint32_t)s.n ? ": take one with `totalrecall backup`" : "");
		snprintf(err + strlen(err), errlen - strlen(err), "%s", hint);
		rc = -1;
	} else if (sec && s.n > 1) {
		tr_info("restore: %s", id);
	}
	tr_sections_free(&s);
	return rc;
}
