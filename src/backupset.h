/*
 * backupset.h - the backups in a repository.
 *
 *   backups/<label>/info       the manifest header alone (for list)
 *   backups/<label>/manifest   the whole manifest, written last: a backup
 *                              exists only once this object does
 *   chunks/<2 hex>/<chunk id>  deduplicated, shared by every backup
 */
#ifndef TR_BACKUPSET_H
#define TR_BACKUPSET_H

#include <stdio.h>
#include "manifest.h"
#include "repo.h"

typedef struct tr_backupset {
	tr_manifest_hdr *b;   /* ordered by stop time, oldest first */
	int n;
} tr_backupset;

/* Loads the header of every complete backup.  0 or a TR_* status. */
int tr_backupset_load(tr_repo *r, tr_backupset *set);
void tr_backupset_free(tr_backupset *set);
/* Index of the backup with this label, or -1. */
int tr_backupset_find(const tr_backupset *set, const char *label);

/* Decodes an object into an anonymous temporary file, rewound. */
FILE *tr_repo_get_tmpfile(tr_repo *r, const char *rel, int *status);
/* Opens the manifest of label and reads its header; rewinds nothing. */
FILE *tr_manifest_open(tr_repo *r, const char *label, tr_manifest_hdr *h, int *status);
/* Stores the contents of a FILE (from its start) as an object. */
int tr_repo_put_file(tr_repo *r, const char *rel, FILE *f, unsigned flags, tr_xfer *x);
/* An anonymous temporary file in the state directory. */
FILE *tr_tmpfile(const tr_config *cfg);

void tr_chunk_rel(const char *id, char *out, size_t outlen);
/* A backup time (seconds since the epoch) as ISO 8601 UTC:
 * "2026-11-26T14:30:00Z". */
void tr_backup_time_iso(int64_t t, char out[32]);

/* locks/<label>: a backup in progress.  Expire removes no chunk while a
 * lock younger than TR_LOCK_STALE seconds exists. */
#define TR_LOCK_STALE (24 * 3600)
int tr_lock_take(tr_repo *r, const char *label);
void tr_lock_release(tr_repo *r, const char *label);

#endif
