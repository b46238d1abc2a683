/*
 * section_admit.c - which history section a command works in (see
 * section.h): archive-put, backup and check are admitted only for the
 * current section's cluster; archive-get reads the section restore chose.
 *
 * Sections change only when `totalrecall upgrade` adds one, so this host's
 * copy (section_cache.c) answers while it is younger than
 * TR_SECTIONS_RECHECK seconds and names the cluster asked about; anything
 * else (a cluster it does not name, an old copy, no copy) reads storage
 * before deciding, so a refusal is never based on a stale copy.
 */
#include "config.h"
#include "repo/section.h"
#include "repo/backupset.h"
#include "base/log.h"
#include "pg/pgconn.h"
#include "base/util.h"
#include "pg/walheader.h"
#include "pg/walname.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Reads the sections from storage (what known holds is not fetched
 * again) and keeps the copy.  Sections vanishing from storage while this
 * host knew some is a repository damaged or replaced, never "none yet". */
static int read_storage(tr_repo *r, const tr_sections *known, tr_sections *s, char *err, size_t errlen)
{
	if (tr_sections_load(r, known, s) != TR_OK) {
		snprintf(err, errlen, "cannot read the history sections: %s", tr_repo_error(r));
		return -1;
	}
	if (!s->n && known && known->n) {
		snprintf(err, errlen, "the history sections (%ssections/) are gone from storage, though this host read %d of "
			 "them: restore them from a copy of the bucket (a repository started again on purpose: remove "
			 "<state-dir>/sections/ on this host); nothing was written", tr_repo_base(r), known->n);
		return -1;
	}
	tr_sections_cache_save(r, s);
	return 0;
}

/* --- section 1 of a repository that records none yet --- */

static int any_object(void *ctx, const tr_object_info *info)
{
	(void)info;
	*(int *)ctx = 1;
	return 1;
}

/* WAL under a later section's prefix while no section is recorded: the
 * section objects were lost, and guessing would mix clusters. */
static int later_wal_exists(tr_repo *r, int *exists)
{
	*exists = 0;
	int rc = tr_repo_list(r, "wal-", any_object, exists);
	return *exists || rc == TR_OK ? 0 : -1;
}

/* The newest backup's cluster.  1 found, 0 none, -1 storage failed. */
static int newest_backup_id(tr_repo *r, tr_cluster_id *id, char *from, size_t fromlen)
{
	tr_backupset set;
	if (tr_backupset_load(r, &set) != TR_OK)
		return -1;
	int found = 0;
	for (int i = set.n - 1; i >= 0 && !found; i--)
		if (tr_cluster_id_from_server(set.b[i].pg_version, set.b[i].system_id, id) == 0) {
			snprintf(from, fromlen, "backup %s", set.b[i].label);
			found = 1;
		}
	tr_backupset_free(&set);
	return found;
}

struct newest_segment {
	char name[25];
};

static int note_segment(void *ctx, const tr_object_info *info)
{
	struct newest_segment *n = ctx;
	const char *name = tr_basename(info->key);
	if (tr_wal_kind(name) == TR_WAL_SEGMENT && strcmp(name, n->name) > 0)
		snprintf(n->name, sizeof n->name, "%s", name);
	return 0;
}

/* Takes the first bytes of an object, then stops the transfer. */
static int take_header(void *ctx, const void *buf, size_t len)
{
	tr_membuf *m = ctx;
	size_t take = m->cap - m->len < len ? m->cap - m->len : len;
	memcpy((char *)m->data + m->len, buf, take);
	m->len += take;
	return m->len == m->cap ? -1 : 0;
}

/* The cluster of the newest archived segment (its page header, which
 * authenticated before it was handed over).  1 found, 0 none, -1 failed. */
static int newest_wal_id(tr_repo *r, tr_cluster_id *id, char *from, size_t fromlen)
{
	struct newest_segment seg = { "" };
	uint8_t head[TR_WAL_LONG_HEADER_LEN];
	char rel[64], why[200];
	tr_wal_header h;
	if (tr_repo_list(r, "wal/", note_segment, &seg) != TR_OK)
		return -1;
	if (!seg.name[0])
		return 0;
	tr_membuf m = { head, 0, sizeof head, 0 };
	tr_wal_rel(seg.name, rel, sizeof rel);
	int rc = tr_repo_get(r, rel, take_header, &m, NULL);
	if (m.len < sizeof head || tr_wal_header_parse(head, sizeof head, &h, why, sizeof why) != 0) {
		if (rc != TR_OK && rc != TR_ECALLBACK && rc != TR_REPO_ECORRUPT && rc != TR_REPO_EKEY)
			return -1;
		tr_warn("history section 1: the newest archived segment %s tells no cluster (%s)", seg.name,
			m.len < sizeof head ? tr_repo_error(r) : why);
		return 0;
	}
	id->sysid = h.sysid;
	id->pg_major = h.pg_major;
	snprintf(from, fromlen, "WAL %s", seg.name);
	return 1;
}

/* Records section 1: the cluster the repository already holds, else the
 * one asking.  Then reads the sections again into s. */
static int migrate(tr_repo *r, const tr_cluster_id *id, const char *origin, tr_sections *s, char *err, size_t errlen)
{
	tr_cluster_id learned = *id;
	tr_section made;
	char from[128], o[192], text[160];
	int later = 0, found = later_wal_exists(r, &later) == 0 ? 0 : -1;
	if (found == 0 && later) {
		snprintf(err, errlen, "the repository %s holds WAL of a later history section (wal-N/) but no section "
			 "object (sections/): they were lost; restore them from a copy of the bucket, nothing was written",
			 tr_repo_base(r));
		return -1;
	}
	if (found == 0)
		found = newest_backup_id(r, &learned, from, sizeof from);
	if (found == 0)
		found = newest_wal_id(r, &learned, from, sizeof from);
	if (found < 0) {
		snprintf(err, errlen, "cannot learn which cluster the repository holds: %s", tr_repo_error(r));
		return -1;
	}
	if (!found)
		snprintf(from, sizeof from, "the first cluster to use it");
	snprintf(o, sizeof o, "%s, from %s", origin, from);
	int rc = tr_section_create(r, 1, &learned, o, &made);
	if (rc != TR_OK && rc != TR_EEXIST) {
		snprintf(err, errlen, "cannot record history section 1: %s", tr_repo_error(r));
		return -1;
	}
	tr_cluster_id_format(&made.id, text, sizeof text);
	if (rc == TR_OK)
		tr_info("history section 1 recorded: %s, from %s", text, from);
	tr_sections_free(s);
	return read_storage(r, NULL, s, err, errlen);
}

/* --- the decision --- */

static void refuse_other(const tr_sections *s, const tr_cluster_id *id, char *err, size_t errlen)
{
	const tr_section *cur = tr_sections_current(s), *older = tr_sections_by_sysid(s, id->sysid);
	const tr_section *bad = tr_sections_damaged(s);
	char mine[96], theirs[160];
	tr_cluster_id_format(id, mine, sizeof mine);
	tr_section_describe(cur, theirs, sizeof theirs);
	if (older && older->n != cur->n)
		snprintf(err, errlen, "the cluster of %s is history section %" PRIu32 "'s, and the repository has moved on "
			 "to %s with `totalrecall upgrade`: the old cluster no longer archives or backs up here (its backups "
			 "and WAL stay restorable)", mine, older->n, theirs);
	else if (older)
		snprintf(err, errlen, "the cluster of %s: the repository records %s, another major version for this "
			 "system identifier", mine, theirs);
	else
		snprintf(err, errlen, "the cluster of %s is not the one this repository serves, %s: another cluster never "
			 "archives or backs up here (a new initdb, a copy started with the same settings?); if pg_upgrade made "
			 "it from that cluster, run `totalrecall upgrade` first%s%s", mine, theirs, bad ? "; " : "",
			 bad ? bad->why : "");
}

/* Whether id is the current section's cluster: 0 (*out), -1 refused or
 * unreadable (err). */
static int judge(const tr_sections *s, const tr_cluster_id *id, tr_section *out, int *refused, char *err,
		 size_t errlen)
{
	const tr_section *cur = tr_sections_current(s);
	if (cur->damaged) {
		snprintf(err, errlen, "the current history section cannot be read, so no cluster is accepted until it is "
			 "repaired: %s", cur->why);
		return -1;
	}
	if (tr_cluster_id_equal(&cur->id, id)) {
		*out = *cur;
		return 0;
	}
	*refused = 1;
	refuse_other(s, id, err, errlen);
	return -1;
}

int tr_section_admit(tr_repo *r, const tr_cluster_id *id, const char *origin, tr_section *out, int *refused,
		     char *err, size_t errlen)
{
	tr_sections cached, s;
	int64_t age = 0;
	int rc = -1, have = tr_sections_cache_load(r, &cached, &age) == 0;
	const tr_section *cur = have ? tr_sections_current(&cached) : NULL;
	*refused = 0;
	memset(&s, 0, sizeof s);
	if (cur && age < TR_SECTIONS_RECHECK && tr_cluster_id_equal(&cur->id, id)) {
		*out = *cur;
		rc = 0;
	} else if (read_storage(r, have ? &cached : NULL, &s, err, errlen) == 0 &&
		   (s.n || migrate(r, id, origin, &s, err, errlen) == 0)) {
		rc = judge(&s, id, out, refused, err, errlen);
	}
	if (rc == 0)
		tr_repo_use_section(r, out->n);
	if (have)
		tr_sections_free(&cached);
	tr_sections_free(&s);
	return rc;
}

/* This host's copy if young enough, else storage. */
static int fresh_sections(tr_repo *r, tr_sections *s, char *err, size_t errlen)
{
	tr_sections cached;
	int64_t age = 0;
	int have = tr_sections_cache_load(r, &cached, &age) == 0;
	if (have && age < TR_SECTIONS_RECHECK) {
		*s = cached;
		return 0;
	}
	int rc = read_storage(r, have ? &cached : NULL, s, err, errlen);
	if (have)
		tr_sections_free(&cached);
	return rc;
}

int tr_section_current(tr_repo *r, tr_section *out, char *err, size_t errlen)
{
	tr_sections s;
	if (fresh_sections(r, &s, err, errlen) != 0)
		return -1;
	const tr_section *cur = tr_sections_current(&s);
	int rc = 0;
	memset(out, 0, sizeof *out);
	out->n = 1;
	if (cur && cur->damaged) {
		snprintf(err, errlen, "the current history section cannot be read: %s", cur->why);
		rc = -1;
	} else if (cur) {
		*out = *cur;
	}
	if (rc == 0)
		tr_repo_use_section(r, out->n);
	tr_sections_free(&s);
	return rc;
}

/* --- archive-get --- */

/* Section n, or that of sysid, or (both 0) the current one, in s: 0 found
 * (*n set), 1 not there. */
static int pick(const tr_sections *s, uint32_t wanted, uint64_t sysid, uint32_t *n)
{
	const tr_section *x;
	if (wanted)
		*n = wanted;
	else if (sysid && (x = tr_sections_by_sysid(s, sysid)))
		*n = x->n;
	else if (!sysid && s->n)
		*n = (uint32_t)s->n;
	else
		return 1;
	return wanted && (int)wanted > s->n;
}

int tr_section_for_reading(tr_repo *r, uint32_t wanted, uint32_t *n, char *err, size_t errlen)
{
	tr_sections cached, s;
	int64_t age = 0;
	uint64_t sysid = 0;
	char why[300];
	if (wanted == 1) {   /* always wal/: nothing to look up */
		*n = 1;
		tr_repo_use_section(r, 1);
		return 0;
	}
	if (!wanted && tr_pgcontrol_sysid("global/pg_control", &sysid, why, sizeof why) != 0)
		sysid = 0;   /* not run in a data directory: the current section */
	int have = tr_sections_cache_load(r, &cached, &age) == 0;
	/* A section never changes: a copy that has it answers at any age; the
	 * current one is only current while the copy is fresh. */
	int rc = have && (wanted || sysid || age < TR_SECTIONS_RECHECK) ? pick(&cached, wanted, sysid, n) : 1;
	if (rc == 1 && read_storage(r, have ? &cached : NULL, &s, err, errlen) == 0) {
		rc = pick(&s, wanted, sysid, n);
		if (rc == 1 && !wanted && !s.n) {
			*n = 1;   /* a repository that records no section: all its WAL is in wal/ */
			rc = 0;
		}
		if (rc == 1 && wanted)
			snprintf(err, errlen, "history section %" PRIu32 " (the section setting) does not exist: the repository "
				 "has %d", wanted, s.n);
		else if (rc == 1)
			snprintf(err, errlen, "the cluster in this data directory (system identifier %" PRIu64 ", in its "
				 "global/pg_control) is in none of the repository's %d history section%s: give the section to read "
				 "with --section (restore writes it into totalrecall_restore.conf)", sysid, s.n,
				 s.n == 1 ? "" : "s");
		rc = rc ? -1 : 0;
		tr_sections_free(&s);
	} else if (rc == 1) {
		rc = -1;
	}
	if (have)
		tr_sections_free(&cached);
	if (rc == 0)
		tr_repo_use_section(r, *n);
	return rc;
}

int tr_sections_for_listing(tr_repo *r, tr_sections *s)
{
	int rc = tr_sections_load(r, NULL, s);
	if (rc == TR_OK && !s->n) {
		if (!(s->v = calloc(1, sizeof *s->v))) {
			tr_repo_set_error(r, "out of memory");
			return TR_ENOMEM;
		}
		s->v[0].n = 1;
		s->n = 1;
	}
	return rc;
}

/* --- upgrade --- */

int tr_section_upgrade(tr_repo *r, const tr_cluster_id *id, const char *origin, tr_section *out, int *added,
		       char *err, size_t errlen)
{
	tr_sections s, cached;
	char mine[96], theirs[160] = "";
	int64_t age;
	int have = tr_sections_cache_load(r, &cached, &age) == 0;
	*added = 0;
	int failed = read_storage(r, have ? &cached : NULL, &s, err, errlen) != 0;
	if (have)
		tr_sections_free(&cached);
	if (failed || (!s.n && migrate(r, id, origin, &s, err, errlen) != 0))
		return -1;
	const tr_section *cur = tr_sections_current(&s), *older = tr_sections_by_sysid(&s, id->sysid);
	const tr_section *bad = tr_sections_damaged(&s);
	int rc = -1;
	tr_cluster_id_format(id, mine, sizeof mine);
	if (!cur->damaged)
		tr_section_describe(cur, theirs, sizeof theirs);
	if (bad)
		snprintf(err, errlen, "a history section cannot be read, and the new cluster could be that one: repair it "
			 "first (%s)", bad->why);
	else if (tr_cluster_id_equal(&cur->id, id))
		rc = 0;
	else if (older && older->n == cur->n)
		snprintf(err, errlen, "%s: the current section records %s, another major version for this system "
			 "identifier", mine, theirs);
	else if (older)
		snprintf(err, errlen, "%s is already history section %" PRIu32 ", older than the current %s: a repository "
			 "never goes back to an older cluster", mine, older->n, theirs);
	else if (id->pg_major < cur->id.pg_major)
		snprintf(err, errlen, "%s is an older major version than the current %s: a downgrade is not an upgrade "
			 "(use another database id for that cluster)", mine, theirs);
	else if (cur->n >= TR_SECTION_MAX)
		snprintf(err, errlen, "the repository has %u history sections, the most it keeps", (unsigned)TR_SECTION_MAX);
	else
		rc = 1;
	if (rc == 0)
		*out = *cur;
	if (rc == 1) {
		int made = tr_section_create(r, cur->n + 1, id, origin, out);
		rc = made == TR_OK ? 0 : -1;
		*added = made == TR_OK;
		if (made == TR_EEXIST) {
			tr_section_describe(out, theirs, sizeof theirs);
			snprintf(err, errlen, "another upgrade recorded %s at the same time: nothing was changed here; run "
				 "`totalrecall upgrade` again with the cluster that is to be current", theirs);
		} else if (made != TR_OK) {
			snprintf(err, errlen, "cannot record history section %" PRIu32 ": %s", cur->n + 1, tr_repo_error(r));
		}
	}
	tr_sections_free(&s);
	if (rc == 0 && *added) {   /* this host's copy, so that archive-put here knows at once */
		if (read_storage(r, NULL, &s, err, errlen) == 0)
			tr_sections_free(&s);
		else
			tr_warn("upgrade: %s", err);
	}
	if (rc == 0)
		tr_repo_use_section(r, out->n);
	return rc;
}

/* --- backup and check: the running server --- */

int tr_section_admit_server(tr_repo *r, tr_pg *pg, const char *origin, char *err, size_t errlen)
{
	tr_pg_info info;
	tr_cluster_id id;
	tr_section sec;
	char text[160];
	int refused = 0;
	if (tr_pg_info_get(pg, &info, err, errlen) != 0)
		return -1;
	if (tr_cluster_id_from_server(info.version, info.system_id, &id) != 0) {
		snprintf(err, errlen, "the server reports an unreadable system identifier or version");
		return -1;
	}
	if (tr_section_admit(r, &id, origin, &sec, &refused, err, errlen) != 0)
		return -1;
	tr_section_describe(&sec, text, sizeof text);
	tr_info("%s: the server is the repository's cluster: %s", origin, text);
	return 0;
}
