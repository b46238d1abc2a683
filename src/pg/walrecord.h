/*
 * walrecord.h - reads PostgreSQL WAL records out of the bytes of archived
 * segments, for what restore must know before it writes anything: where
 * and when transactions commit or abort, where restore points are, and
 * where the WAL ends.
 *
 * The decoder is fed the plaintext of consecutive segments as it arrives
 * (no segment is held in memory).  It follows page headers, records split
 * across pages and segments, alignment, and checks every record's CRC-32C
 * and its link to the previous record, as recovery does: zeroed space, a
 * stale page, a broken link or a bad checksum ends the WAL of the segment.
 * Only the few records it reports in detail are kept, each up to
 * TR_WALREC_KEEP bytes; the others are checked and passed over.
 */
#ifndef TR_WALRECORD_H
#define TR_WALRECORD_H

#include <stddef.h>
#include <stdint.h>

#define TR_WALREC_KEEP (1024 * 1024)

enum tr_walrec_kind {
	TR_WR_OTHER,
	TR_WR_COMMIT,          /* XLOG_XACT_COMMIT or COMMIT_PREPARED */
	TR_WR_ABORT,           /* XLOG_XACT_ABORT or ABORT_PREPARED */
	TR_WR_RESTORE_POINT,   /* pg_create_restore_point() */
	TR_WR_SWITCH           /* pg_switch_wal(): the rest of the segment is unused */
};

typedef struct tr_walrec {
	uint64_t lsn;          /* where the record starts */
	uint64_t end;          /* where it ends (before alignment) */
	uint8_t rmid, info;
	uint32_t xid;          /* xl_xid */
	int kind;              /* enum tr_walrec_kind */
	uint32_t target_xid;   /* commit/abort: the transaction it ends (the prepared one for *_PREPARED) */
	int64_t time_us;       /* commit/abort/restore point: its time, Unix microseconds (0: unknown) */
	char name[65];         /* restore point: its name */
} tr_walrec;

/* Called for every valid record; a non-zero return stops the decoder. */
typedef int (*tr_walrec_fn)(void *ctx, const tr_walrec *r);

typedef struct tr_waldec tr_waldec;

tr_waldec *tr_waldec_new(uint64_t seg_size);
void tr_waldec_free(tr_waldec *d);
/* The bytes fed next are segment segno's, from its first byte.  A record
 * continued from the previous segment is followed only when segno is the
 * one after the segment fed last and that one was fed whole. */
void tr_waldec_begin(tr_waldec *d, uint64_t segno);
/* Feeds bytes of the current segment.  0, or the callback's non-zero
 * value (the remaining bytes of the segment are then ignored). */
int tr_waldec_feed(tr_waldec *d, const void *buf, size_t len, tr_walrec_fn fn, void *ctx);
/* Whether the WAL ended inside the current segment before its end, and
 * why (NULL when it did not, or when it ended at a WAL switch). */
const char *tr_waldec_ended(const tr_waldec *d);
/* Start of the last valid record decoded so far, 0 if none. */
uint64_t tr_waldec_last_lsn(const tr_waldec *d);

/* CRC-32C as PostgreSQL computes it (exposed for tests). */
uint32_t tr_crc32c(uint32_t crc, const void *buf, size_t len);
#define TR_CRC32C_INIT 0xFFFFFFFFu
#define TR_CRC32C_FIN(c) ((c) ^ 0xFFFFFFFFu)

/* PostgreSQL's TimestampTz (microseconds since 2000-01-01 UTC) to Unix
 * microseconds. */
#define TR_PG_EPOCH_US 946684800000000LL

#endif
