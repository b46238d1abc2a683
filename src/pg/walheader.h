/*
 * walheader.h - the long page header that starts every WAL segment, as
 * PostgreSQL 13 to 17 write it (XLogLongPageHeaderData, in the byte order
 * of the machine that wrote it, which is the one archiving it):
 *
 *   offset  0  u16 xlp_magic        one value per WAL format version
 *           2  u16 xlp_info         XLP_LONG_HEADER (0x0002) on a segment's first page
 *           4  u32 xlp_tli          timeline of the first record on the page
 *           8  u64 xlp_pageaddr     WAL position of the page: the segment's start
 *          16  u32 xlp_rem_len
 *          24  u64 xlp_sysid        the cluster's system identifier
 *          32  u32 xlp_seg_size     wal_segment_size
 *          36  u32 xlp_xlog_blcksz  the WAL page size
 *
 * archive-put stores a file under a segment name only if it is one: the
 * size is a valid wal_segment_size, equal to xlp_seg_size, and the header
 * names the segment's own position.  The page's timeline may be lower than
 * the file name's: the first segment of a new timeline begins with a copy
 * of the old timeline's last segment (PostgreSQL's own reader allows it
 * too).  The system identifier is exposed for callers that must refuse
 * WAL of another cluster.
 */
#ifndef TR_WALHEADER_H
#define TR_WALHEADER_H

#include <stddef.h>
#include <stdint.h>

#define TR_WAL_LONG_HEADER_LEN 40
#define TR_XLP_LONG_HEADER 0x0002

typedef struct tr_wal_header {
	uint16_t magic;
	uint16_t info;
	uint32_t timeline;
	uint64_t pageaddr;
	uint64_t sysid;
	uint32_t seg_size;
	uint32_t blcksz;
	int pg_major;          /* from the magic: 13 to 17 */
} tr_wal_header;

/* 1 if size is a wal_segment_size PostgreSQL accepts: a power of two
 * from 1 MiB to 1 GiB. */
int tr_wal_segment_size_ok(uint64_t size);
/* PostgreSQL major version whose WAL carries this magic, or 0. */
int tr_wal_magic_version(uint16_t magic);
/* Reads the first TR_WAL_LONG_HEADER_LEN bytes of buf.  0, or -1 with err
 * when there are fewer bytes, the magic is unknown or the long header
 * flag is not set. */
int tr_wal_header_parse(const uint8_t *buf, size_t len, tr_wal_header *h, char *err, size_t errlen);
/* Checks that a file of size bytes that starts with buf (len bytes) is
 * the WAL segment its file name (24 hex digits) says: see above.  0 with
 * *h filled, or -1 with one line in err. */
int tr_wal_segment_check(const char *name, uint64_t size, const uint8_t *buf, size_t len, tr_wal_header *h,
			 char *err, size_t errlen);

#endif
