/*
 * backupset.h - the backups in a repository.
 *
 *   backups/<label>/info       the manifest header alone (for list)
 *   backups/<label>/manifest   the whole manifest, written last: a backup
 *                              exists only once this object does
 *   backups/<label>/keyring    a copy of the keyring (repo.h)
 * Their chunks are chunkref.h's, their locks repolock.h's.
 */
#ifndef TR_BACKUPSET_H
#define TR_BACKUPSET_H

#include <stdio.h>
#include "repo/manifest.h"
#include "repo/repo.h"

typedef struct tr_backupset {
	tr_manifest_hdr *b;   /* ordered by stop time, oldest first */
	int n;
} tr_backupset;

/* A backup whose info cannot be read (missing, or failing authentication
 * or decoding).  Its header is then read from its manifest, which starts
 * with the same header; when that fails too, the backup is left out of
 * the set. */
typedef struct tr_backup_damage {
	char label[64];
	int listed;              /* the header came from the manifest: in the set */
	int64_t manifest_mtime;  /* storage time of its manifest object */
	char reason[600];        /* the objects and why, for messages */
} tr_backup_damage;

typedef struct tr_backup_damages {
	tr_backup_damage *v;
	int n;
} tr_backup_damages;

/* Loads the header of every complete backup.  A damaged object blocks
 * only its own backup: each is logged as a warning naming it (and noted
 * in *dmg when dmg is not NULL); only a failure to read storage fails the
 * load.  0 or a TR_* status. */
int tr_backupset_load(tr_repo *r, tr_backupset *set);
int tr_backupset_load_checked(tr_repo *r, tr_backupset *set, tr_backup_damages *dmg);
void tr_backupset_free(tr_backupset *set);
void tr_backup_damages_free(tr_backup_damages *d);
/* Whether a repository status means the object itself is bad (missing,
 * failing authentication or decoding), as opposed to storage failing. */
int tr_status_is_damage(int status);
/* Index of the backup with this label, or -1. */
int tr_backupset_find(const tr_backupset *set, const char *label);

/* Opens the manifest of label (decoded into a temporary file, tmpobj.h)
 * and reads its header; rewinds nothing. */
FILE *tr_manifest_open(tr_repo *r, const char *label, tr_manifest_hdr *h, int *status);

/* A backup time (seconds since the epoch) as ISO 8601 UTC:
 * "2026-11-26T14:30:00Z". */
void tr_backup_time_iso(int64_t t, char out[32]);

#endif
