/*
 * section.h - the clusters a repository serves, as numbered history
 * sections (pgBackRest calls them the db-history of a stanza).
 *
 * Section N records one cluster: its system identifier and PostgreSQL
 * major version (clusterid.h).  Section 1 is the first cluster the
 * repository served; `totalrecall upgrade` adds the next one after a
 * pg_upgrade (whose new cluster has a new system identifier).  The
 * highest-numbered section is the current one: archive-put and backup
 * accept only its cluster.  Older sections stay: their backups are listed
 * and restorable (with that major version's binaries) until retention
 * removes them, and each section keeps its own WAL.
 *
 *   sections/<N>    section N (decimal, no leading zero), one object each:
 *                   encrypted and authenticated like every object (its
 *                   name is bound into its key, so an object moved to
 *                   another number fails), written once with
 *                   put-if-absent, read back, never changed or removed
 *   wal/...         section 1's WAL, where every earlier version put it
 *   wal-<N>/...     section N's WAL for N >= 2: after pg_upgrade the new
 *                   cluster's WAL file names start again at timeline 1
 *                   and would collide with the old cluster's
 *
 * Object text (one "key value" per line; unknown keys are ignored):
 *   totalrecall-section 1
 *   section <N>
 *   system-identifier <decimal>
 *   pg-version <major>
 *   created <unix time>
 *   origin <the command that made it, and from what>
 *
 * A backup belongs to the section of its system identifier (each section's
 * is unique: upgrade refuses one already recorded).  A backup whose
 * identifier no section records was taken before sections existed (by
 * 0.1, of whatever cluster archived then): its WAL is in wal/, so it
 * counts as section 1's.
 */
#ifndef TR_SECTION_H
#define TR_SECTION_H

#include <stddef.h>
#include <stdint.h>
#include "repo/backupset.h"
#include "pg/clusterid.h"
#include "repo/manifest.h"
#include "pg/pgconn.h"
#include "repo/repo.h"

#define TR_SECTION_MAX 9999   /* more would be a damaged listing, not upgrades */

typedef struct tr_section {
	uint32_t n;
	tr_cluster_id id;
	int64_t created;
	char origin[96];
	int damaged;          /* listed (or a gap below one that is), but missing or unreadable */
	char why[700];        /* then: which object and why */
} tr_section;

typedef struct tr_sections {
	tr_section *v;        /* v[i] is section i + 1 */
	int n;                /* the highest section in storage: v[n - 1] is the current one */
} tr_sections;

/* Reads every section from storage.  Sections in known (may be NULL) are
 * taken from it without a GET: they never change.  A section that is
 * missing below the highest, or whose object fails authentication or does
 * not parse, is marked damaged and named in why; only a storage failure
 * fails the load.  TR_OK or a TR_* status (r->err). */
int tr_sections_load(tr_repo *r, const tr_sections *known, tr_sections *s);
void tr_sections_free(tr_sections *s);
int tr_sections_copy(const tr_sections *from, tr_sections *to);
/* The current section, or NULL when the repository records none. */
const tr_section *tr_sections_current(const tr_sections *s);
/* The readable section whose cluster has this system identifier, or NULL. */
const tr_section *tr_sections_by_sysid(const tr_sections *s, uint64_t sysid);
/* The first damaged section, or NULL. */
const tr_section *tr_sections_damaged(const tr_sections *s);

/* Writes section n put-if-absent and reads it back.  TR_OK with *out;
 * TR_EEXIST when section n exists for another cluster (another writer
 * won: *out is that one); or a TR_* status (r->err). */
int tr_section_create(tr_repo *r, uint32_t n, const tr_cluster_id *id, const char *origin, tr_section *out);

/* "system identifier 7312... (PostgreSQL 15, history section 2)". */
void tr_section_describe(const tr_section *s, char *out, size_t outlen);
/* The section a backup belongs to (see the top); 0 when its identifier
 * matches no readable section while one is damaged (it may be that one's). */
uint32_t tr_section_of_backup(const tr_sections *s, const tr_manifest_hdr *h);
/* Section n's WAL prefix: "wal/" for section 1 (where every earlier
 * version put it), "wal-<n>/" for n >= 2. */
void tr_section_wal_prefix(uint32_t n, char out[24]);
/* The section of a repository key under a WAL prefix ("wal/..." is 1,
 * "wal-7/..." is 7), 0 for any other key. */
uint32_t tr_section_of_key(const char *key);

/* --- this host's copy (section_cache.c) --- */

/* Seconds after which archive-put and archive-get read the sections from
 * storage again, even when their copy answers: a host whose old cluster
 * still archives after an upgrade made elsewhere is refused within this
 * time. */
#define TR_SECTIONS_RECHECK 60

/* The sections as this host last read them: <state-dir>/sections/<repo>/
 * sections, with a MAC under the repository's MAC key (a file planted or
 * edited without the keys is not believed).  *age: seconds since they were
 * read from storage.  0, or -1 if there is no usable copy. */
int tr_sections_cache_load(const tr_repo *r, tr_sections *s, int64_t *age);
/* Records s (read from storage just now); a copy with a damaged section is
 * not kept. */
void tr_sections_cache_save(const tr_repo *r, const tr_sections *s);

/* --- which section a command works in (section_admit.c) --- */

/* archive-put, backup, check: the section of cluster id, which must be
 * the current one.  A repository that records no section yet gets section
 * 1 first (the cluster it already holds: the newest backup's, else the
 * newest archived segment's, else id; see README, "From 0.1").  Uses this
 * host's copy while it is fresh and answers, storage otherwise.  0 with
 * *out; -1 with one line in err, and *refused set when the cluster is not
 * the current one (another cluster, or an older section's). */
int tr_section_admit(tr_repo *r, const tr_cluster_id *id, const char *origin, tr_section *out, int *refused,
		     char *err, size_t errlen);
/* backup and check: tr_section_admit() for the server pg is connected to;
 * logs which section it is.  0, or -1 with one line in err. */
int tr_section_admit_server(tr_repo *r, tr_pg *pg, const char *origin, char *err, size_t errlen);
/* archive-put of a file without a page header (.history, .backup): the
 * current section, n = 1 with a zero id when there is none yet. */
int tr_section_current(tr_repo *r, tr_section *out, char *err, size_t errlen);
/* archive-get: the section whose WAL it reads: wanted (the section
 * setting, which restore writes) if not 0; else the section of the cluster
 * in the working directory (global/pg_control: PostgreSQL runs
 * restore_command in its data directory); else the current one (1 when
 * there is none).  0 with *n, or -1 with one line in err. */
int tr_section_for_reading(tr_repo *r, uint32_t wanted, uint32_t *n, char *err, size_t errlen);
/* upgrade: makes cluster id the current section, adding the next one
 * (put-if-absent) unless it already is (*added 0: nothing to do).
 * Refuses an older section's cluster, a lower major version, and adding
 * a section while one cannot be read.  0 with *out, or -1 with one line in
 * err. */
int tr_section_upgrade(tr_repo *r, const tr_cluster_id *id, const char *origin, tr_section *out, int *added,
		       char *err, size_t errlen);
/* Every section, from storage, for commands that read the whole
 * repository; a repository that records none yet reads as one section 1
 * of unknown identity.  TR_OK or a TR_* status (r->err). */
int tr_sections_for_listing(tr_repo *r, tr_sections *s);

/* --- the backups of one section (section_scope.c) --- */

/* Leaves in set only the backups of section n. */
void tr_backupset_keep_section(tr_backupset *set, const tr_sections *s, uint32_t n);
/* restore: the section it recovers in (label's, the --backup given,
 * else wanted, the section setting, else the current one), its backups alone left in set, and r
 * working in it.  A section without a backup is refused, naming the
 * newest backup of an older one.  0 with *n, or -1 with one line in err. */
int tr_section_restore_scope(tr_repo *r, tr_backupset *set, const char *label, uint32_t wanted, uint32_t *n,
			     char *err, size_t errlen);

/* --- retention (section_expire.c) --- */

/* Removes one object (or says it would): 0, or -1 with its own message. */
typedef int (*tr_section_remove_fn)(void *ctx, const char *rel, int64_t size);
/* expire: the WAL no kept backup needs (keep[i] for set->b[i]), section
 * by section (see section_expire.c).  0, or -1 with err (or the remover's
 * message). */
int tr_sections_expire_wal(tr_repo *r, const tr_backupset *set, const int *keep, tr_section_remove_fn remove,
			   void *ctx, char *err, size_t errlen);

#endif
