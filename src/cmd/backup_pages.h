/*
 * backup_pages.h - what a backup does with data page checksums
 * (pagecheck.h): it verifies them when the cluster has them, and reports
 * damaged pages by file and block in its manifest (hence list and info),
 * in its log line, in a warning and in a "page-checksum" metrics record.
 * Damaged pages never fail the backup: it holds the files as read, and
 * the DBA learns where the disk lost data.
 */
#ifndef TR_BACKUP_PAGES_H
#define TR_BACKUP_PAGES_H

#include <stddef.h>
#include <stdint.h>
#include "repo/manifest.h"
#include "pg/pagecheck.h"
#include "pg/pgconn.h"

/* After pg_backup_start: a collector when the pages can be verified (NULL
 * otherwise); h->page_checksums says which. */
tr_pagecheck *tr_backup_pages_start(const tr_pg_info *info, tr_manifest_hdr *h);
/* After the files are read: the findings into h, the warning and the
 * metrics record; note gets the part of the backup's log line. */
int tr_backup_pages_finish(tr_pagecheck *pc, tr_manifest_hdr *h, char *note, size_t notelen);

#endif
