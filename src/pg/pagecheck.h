/*
 * pagecheck.h - PostgreSQL data page checksums, verified as backup reads
 * the relation files of a cluster with data checksums.
 *
 * The checksum is PostgreSQL's (storage/checksum_impl.h, written here
 * anew): the 8 KiB page, its pd_checksum field taken as zero, is read as
 * 32 columns of 32-bit words, each column folded into its own running
 * value from a fixed start with an FNV-1a step that also mixes in the
 * high bits (x = sum ^ word; sum = x * 16777619 ^ (x >> 17)), followed by
 * two rounds of zeros; the 32 values are XORed, XORed with the block
 * number in the relation (not in the 1 GiB segment file), and reduced to
 * 16 bits, never 0: (v % 65535) + 1.
 *
 * As pgBackRest does, a page is not judged when it cannot be judged from
 * the bytes a backup reads: all-zero pages (extended, never written), and
 * pages whose LSN is at or after the backup's start (written while the
 * backup ran: torn reads are possible, and WAL replay rewrites them from
 * the full-page images logged after the start).  A page that fails is read
 * once more from the file before it is called damaged, since a concurrent
 * write may have torn the first read.
 *
 * Relation files only: base/<db>/, global/ and pg_tblspc/<ts>/<version>/
 * <db>/ files named <relfilenode>[_fsm|_vm|_init][.<segment>].
 */
#ifndef TR_PAGECHECK_H
#define TR_PAGECHECK_H

#include <stddef.h>
#include <stdint.h>

#define TR_PAGE_SIZE 8192
/* Damaged pages a backup lists by file and block (the count is exact). */
#define TR_PAGECHECK_LIST_MAX 1000

/* PostgreSQL's pg_checksum_page() of an 8 KiB page at block blkno. */
uint16_t tr_page_checksum(const uint8_t *page, uint32_t blkno);

enum tr_page_verdict {
	TR_PAGE_OK,       /* its checksum matches */
	TR_PAGE_ZERO,     /* all zeros: not judged */
	TR_PAGE_NEWER,    /* LSN at or after the backup's start: not judged */
	TR_PAGE_DAMAGED
};
enum tr_page_verdict tr_page_verify(const uint8_t *page, uint32_t blkno, uint64_t start_lsn);

/* 1 if path (relative to the data directory) is a relation file, with
 * its segment number (the ".N" suffix, 0 without). */
int tr_pagecheck_relation(const char *path, uint32_t *segno);

typedef struct tr_pagecheck tr_pagecheck;

/* relseg_blocks: blocks per segment file (PostgreSQL's segment_size /
 * block_size, 131072 by default). */
tr_pagecheck *tr_pagecheck_new(uint64_t start_lsn, uint32_t relseg_blocks);
/* Verifies the pages starting in buf (len bytes read at offset of the
 * file path; abspath to read a page again).  Thread-safe. */
void tr_pagecheck_chunk(tr_pagecheck *pc, const char *path, const char *abspath, uint64_t offset,
			const uint8_t *buf, size_t len);
/* Pages found damaged, and how many were judged. */
uint64_t tr_pagecheck_damaged(const tr_pagecheck *pc);
uint64_t tr_pagecheck_verified(const tr_pagecheck *pc);
/* The damaged pages, "<path> <block>\n" each, sorted by path and block,
 * at most TR_PAGECHECK_LIST_MAX; malloc'ed ("" when none). */
char *tr_pagecheck_list(tr_pagecheck *pc);
void tr_pagecheck_free(tr_pagecheck *pc);

#endif
