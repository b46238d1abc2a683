/*
 * walrecord.c - WAL record decoder (see walrecord.h).
 *
 * Layout, as PostgreSQL 14 to 17 write it (access/xlog_internal.h,
 * access/xlogrecord.h, access/xact.h): every page starts with a header, 40
 * bytes on a segment's first page and 24 on the others; records start at
 * 8-byte boundaries with a 24-byte header (total length, xid, previous
 * record, info, resource manager, CRC) that may itself be split across
 * pages; a page whose first bytes continue a record says so
 * (XLP_FIRST_IS_CONTRECORD) and how many bytes of it remain.  The CRC
 * covers the record's data, then its header up to the CRC field.
 */
#include "config.h"
#include "pg/walrecord.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define SHORT_PHD 24
#define LONG_PHD 40
#define REC_HDR 24
#define CRC_OFF 20
#define REC_MAX (1024u * 1024 * 1024)   /* PostgreSQL's records stay below 1 GiB */

#define XLP_FIRST_IS_CONTRECORD 0x0001
#define XLP_LONG_HEADER 0x0002
#define XLP_FIRST_IS_OVERWRITE_CONTRECORD 0x0008

#define RM_XLOG_ID 0
#define RM_XACT_ID 1
#define XLOG_SWITCH 0x40
#define XLOG_RESTORE_POINT 0x70
#define XACT_OPMASK 0x70
#define XACT_HAS_INFO 0x80
#define XACT_COMMIT 0x00
#define XACT_ABORT 0x20
#define XACT_COMMIT_PREPARED 0x30
#define XACT_ABORT_PREPARED 0x40

/* xl_xact_xinfo flags, in the order their parts follow. */
#define XINFO_DBINFO (1u << 0)
#define XINFO_SUBXACTS (1u << 1)
#define XINFO_RELFILENODES (1u << 2)
#define XINFO_INVALS (1u << 3)
#define XINFO_TWOPHASE (1u << 4)
#define XINFO_DROPPED_STATS (1u << 8)

#define PG15_MAGIC 0xD110   /* XLOG_PAGE_MAGIC of PostgreSQL 15 (14: 0xD10D) */
#define PG18_MAGIC 0xD118

enum state { S_HDR, S_DATA, S_PAD, S_SKIP, S_ENDED };

struct tr_waldec {
	uint64_t seg_size, segno, pos;  /* pos: bytes of the current segment fed so far */
	uint32_t blcksz;
	uint16_t magic;
	int begun;
	enum state st;
	const char *why;                /* why the WAL ended inside the segment */
	uint8_t phdr[LONG_PHD];         /* the page header being read */
	uint64_t skip;                  /* S_SKIP: bytes of a continued record still to pass */
	uint8_t hdr[REC_HDR];           /* the record header being read */
	size_t have;
	uint64_t rec_lsn, tot, left;
	uint64_t prev;                  /* start of the previous record, 0 if unknown */
	uint64_t last;
	uint32_t crc;
	int keep;                       /* a record reported in detail: its bytes are kept */
	uint8_t *buf;
	size_t buflen;
};

/* --- CRC-32C (Castagnoli, reflected), PostgreSQL's pg_crc32c --- */

static uint32_t crc_table[8][256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

static void crc_init(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;
		for (int k = 0; k < 8; k++)
			c = c & 1 ? (c >> 1) ^ 0x82F63B78u : c >> 1;
		crc_table[0][i] = c;
	}
	for (int t = 1; t < 8; t++)
		for (int i = 0; i < 256; i++)
			crc_table[t][i] = (crc_table[t - 1][i] >> 8) ^ crc_table[0][crc_table[t - 1][i] & 0xff];
}

/* Slicing by 8: eight table look-ups per 8 bytes. */
uint32_t tr_crc32c(uint32_t crc, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	pthread_once(&crc_once, crc_init);
	while (len >= 8) {
		uint32_t lo = crc ^ ((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24);
		crc = crc_table[7][lo & 0xff] ^ crc_table[6][(lo >> 8) & 0xff] ^ crc_table[5][(lo >> 16) & 0xff] ^
		      crc_table[4][lo >> 24] ^ crc_table[3][p[4]] ^ crc_table[2][p[5]] ^ crc_table[1][p[6]] ^
		      crc_table[0][p[7]];
		p += 8;
		len -= 8;
	}
	while (len--)
		crc = (crc >> 8) ^ crc_table[0][(crc ^ *p++) & 0xff];
	return crc;
}

/* WAL is written in the server's byte order: the host's, here. */
static uint16_t get16(const uint8_t *p) { uint16_t v; memcpy(&v, p, 2); return v; }
static uint32_t get32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static uint64_t get64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return v; }

tr_waldec *tr_waldec_new(uint64_t seg_size)
{
	tr_waldec *d = calloc(1, sizeof *d);
	if (!d)
		return NULL;
	d->buf = malloc(TR_WALREC_KEEP);
	if (!d->buf) {
		free(d);
		return NULL;
	}
	d->seg_size = seg_size;
	d->blcksz = 8192;
	pthread_once(&crc_once, crc_init);
	return d;
}

void tr_waldec_free(tr_waldec *d)
{
	if (d)
		free(d->buf);
	free(d);
}

void tr_waldec_begin(tr_waldec *d, uint64_t segno)
{
	int follows = d->begun && segno == d->segno + 1 && d->pos == d->seg_size;
	if (follows && d->st == S_ENDED && d->why)
		follows = 0;       /* the previous segment's WAL ended early */
	if (!follows) {
		d->prev = 0;
		d->st = S_HDR;
		d->have = 0;
	} else if (d->st == S_ENDED) {
		d->st = S_HDR;     /* after a WAL switch: a new record, linked to it */
		d->have = 0;
	}
	d->begun = 1;
	d->segno = segno;
	d->pos = 0;
	d->why = NULL;
}

const char *tr_waldec_ended(const tr_waldec *d) { return d->st == S_ENDED ? d->why : NULL; }

uint64_t tr_waldec_last_lsn(const tr_waldec *d) { return d->last; }

static uint64_t cur_lsn(const tr_waldec *d) { return d->segno * d->seg_size + d->pos; }

static void end_wal(tr_waldec *d, const char *why)
{
	d->st = S_ENDED;
	d->why = why;
}

/* A page header is complete in d->phdr; pos is just past it. */
static void page_header(tr_waldec *d, size_t size)
{
	uint16_t magic = get16(d->phdr), info = get16(d->phdr + 2);
	uint64_t addr = get64(d->phdr + 8), rem = get32(d->phdr + 16);
	uint64_t page_lsn = cur_lsn(d) - size;
	if (size == LONG_PHD) {
		uint32_t seg = get32(d->phdr + 32), blck = get32(d->phdr + 36);
		if (!(info & XLP_LONG_HEADER) || seg != d->seg_size || blck < 1024 || blck > 65536 || (blck & (blck - 1)))
			return end_wal(d, magic || addr ? "not a WAL segment of this size" : "zeroed page");
		d->blcksz = blck;
	}
	if (addr != page_lsn || magic == 0 || (d->magic && magic != d->magic))
		return end_wal(d, magic || addr ? "a page from another position (stale or recycled)" : "zeroed page");
	d->magic = magic;
	int mid = d->st == S_DATA || (d->st == S_HDR && d->have > 0);
	if (mid && (info & XLP_FIRST_IS_CONTRECORD)) {
		/* A split record header holds its total length in its first 4 bytes. */
		if (rem != (d->st == S_DATA ? d->left : get32(d->hdr) - d->have))
			end_wal(d, "a continued record of the wrong length");
	} else if (mid && (info & XLP_FIRST_IS_OVERWRITE_CONTRECORD)) {
		d->st = S_HDR;     /* the incomplete record was abandoned and overwritten */
		d->have = 0;
		d->prev = 0;
	} else if (mid || (d->st == S_SKIP && !(info & XLP_FIRST_IS_CONTRECORD))) {
		end_wal(d, "a record whose continuation is missing");
	} else if (info & XLP_FIRST_IS_CONTRECORD) {
		d->skip = rem;     /* the tail of a record that began before we did */
		d->st = rem ? S_SKIP : S_PAD;
	}
}

/* Offset and length of the record's main data in d->buf (the bytes after
 * the record header), walking the block headers; -1 if they are not all
 * kept or do not add up. */
static int main_data(const tr_waldec *d, size_t *off, size_t *len)
{
	const uint8_t *b = d->buf;
	size_t p = 0, n = d->buflen, body = (size_t)(d->tot - REC_HDR);
	uint64_t blocks = 0, mlen = 0;
	uint8_t compressed = d->magic >= PG15_MAGIC ? 0x1C : 0x02;
	for (;;) {
		if (p >= n)
			return -1;
		uint8_t id = b[p++];
		if (id == 255 || id == 254) {          /* XLR_BLOCK_ID_DATA_SHORT / _LONG */
			if (p + (id == 255 ? 1 : 4) > n)
				return -1;
			mlen = id == 255 ? b[p] : get32(b + p);
			p += id == 255 ? 1 : 4;
			break;
		}
		if (id == 253 || id == 252) {          /* replication origin, top-level xid */
			p += id == 253 ? 2 : 4;
			continue;
		}
		if (id > 32 || p + 3 > n)              /* XLR_MAX_BLOCK_ID */
			return -1;
		uint8_t fork_flags = b[p];
		blocks += get16(b + p + 1);
		p += 3;
		if (fork_flags & 0x10) {               /* BKPBLOCK_HAS_IMAGE */
			if (p + 5 > n)
				return -1;
			blocks += get16(b + p);
			uint8_t bimg = b[p + 4];
			p += 5 + ((bimg & 0x01) && (bimg & compressed) ? 2 : 0);
		}
		p += (fork_flags & 0x80 ? 0 : 12) + 4;  /* RelFileNode unless BKPBLOCK_SAME_REL, BlockNumber */
	}
	if (p + blocks + mlen != body || body > n)
		return -1;
	*off = body - mlen;
	*len = mlen;
	return 0;
}

/* The transaction a commit or abort record ends, and when. */
static void xact_details(const tr_waldec *d, tr_walrec *r, uint8_t op, const uint8_t *m, size_t len)
{
	r->target_xid = r->xid;
	if (len < 8)
		return;
	r->time_us = (int64_t)get64(m) + TR_PG_EPOCH_US;
	if (!(r->info & XACT_HAS_INFO) || len < 12)
		return;
	uint32_t xinfo = get32(m + 8);
	size_t p = 12, stats_item = d->magic >= PG18_MAGIC ? 16 : 12;
	if (xinfo & XINFO_DBINFO)
		p += 8;
	const struct { uint32_t flag; size_t item; } parts[] = {
		{ XINFO_SUBXACTS, 4 }, { XINFO_RELFILENODES, 12 }, { XINFO_DROPPED_STATS, stats_item },
		{ XINFO_INVALS, 16 },
	};
	for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
		if (!(xinfo & parts[i].flag) || (parts[i].flag == XINFO_INVALS && op != XACT_COMMIT &&
						  op != XACT_COMMIT_PREPARED))
			continue;
		if (p + 4 > len)
			return;
		p += 4 + (size_t)get32(m + p) * parts[i].item;
	}
	if ((xinfo & XINFO_TWOPHASE) && p + 4 <= len)
		r->target_xid = get32(m + p);
}

static void details(const tr_waldec *d, tr_walrec *r)
{
	size_t off, len;
	if (!d->keep || main_data(d, &off, &len) != 0)
		return;
	const uint8_t *m = d->buf + off;
	if (r->kind == TR_WR_RESTORE_POINT && len >= 8 + 64) {
		r->time_us = (int64_t)get64(m) + TR_PG_EPOCH_US;
		memcpy(r->name, m + 8, 64);
		r->name[64] = '\0';
	} else if (r->kind == TR_WR_COMMIT || r->kind == TR_WR_ABORT) {
		xact_details(d, r, r->info & XACT_OPMASK, m, len);
	}
}

static int classify(uint8_t rmid, uint8_t info)
{
	if (rmid == RM_XLOG_ID && (info & 0xF0) == XLOG_SWITCH)
		return TR_WR_SWITCH;
	if (rmid == RM_XLOG_ID && (info & 0xF0) == XLOG_RESTORE_POINT)
		return TR_WR_RESTORE_POINT;
	if (rmid == RM_XACT_ID) {
		uint8_t op = info & XACT_OPMASK;
		if (op == XACT_COMMIT || op == XACT_COMMIT_PREPARED)
			return TR_WR_COMMIT;
		if (op == XACT_ABORT || op == XACT_ABORT_PREPARED)
			return TR_WR_ABORT;
	}
	return TR_WR_OTHER;
}

static int finish_record(tr_waldec *d, tr_walrec_fn fn, void *ctx)
{
	uint32_t crc = TR_CRC32C_FIN(tr_crc32c(d->crc, d->hdr, CRC_OFF));
	if (crc != get32(d->hdr + CRC_OFF)) {
		end_wal(d, "a record that fails its CRC");
		return 0;
	}
	tr_walrec r;
	memset(&r, 0, sizeof r);
	r.lsn = d->rec_lsn;
	r.end = cur_lsn(d);
	r.xid = get32(d->hdr + 4);
	r.info = d->hdr[16];
	r.rmid = d->hdr[17];
	r.kind = classify(r.rmid, r.info);
	details(d, &r);
	d->prev = d->last = d->rec_lsn;
	d->st = S_PAD;
	if (r.kind == TR_WR_SWITCH)
		end_wal(d, NULL);
	int rc = fn ? fn(ctx, &r) : 0;
	if (rc)
		end_wal(d, NULL);
	return rc;
}

/* The record header is complete. */
static int start_record(tr_waldec *d, tr_walrec_fn fn, void *ctx)
{
	d->tot = get32(d->hdr);
	if (d->tot < REC_HDR || d->tot > REC_MAX) {
		end_wal(d, d->tot ? "a record of impossible length" : "zeroed space");
		return 0;
	}
	if (d->prev && get64(d->hdr + 8) != d->prev) {
		end_wal(d, "a record that does not follow the previous one");
		return 0;
	}
	d->left = d->tot - REC_HDR;
	d->crc = TR_CRC32C_INIT;
	d->keep = classify(d->hdr[17], d->hdr[16]) != TR_WR_OTHER;
	d->buflen = 0;
	d->st = S_DATA;
	return d->left ? 0 : finish_record(d, fn, ctx);
}

/* Consumes up to n bytes of record material (never past a page end). */
static size_t step(tr_waldec *d, const uint8_t *p, size_t n, tr_walrec_fn fn, void *ctx, int *rc)
{
	switch (d->st) {
	case S_SKIP:
		n = n < d->skip ? n : (size_t)d->skip;
		d->skip -= n;
		if (!d->skip)
			d->st = S_PAD;
		d->pos += n;
		return n;
	case S_PAD: {
		size_t pad = (size_t)((8 - d->pos % 8) % 8);
		n = n < pad ? n : pad;
		if (n == pad)
			d->st = S_HDR;
		d->pos += n;
		return n;
	}
	case S_HDR:
		if (d->have == 0)
			d->rec_lsn = cur_lsn(d);
		n = n < REC_HDR - d->have ? n : REC_HDR - d->have;
		memcpy(d->hdr + d->have, p, n);
		d->have += n;
		d->pos += n;
		if (d->have >= 4 && get32(d->hdr) == 0)
			end_wal(d, "zeroed space");
		else if (d->have == REC_HDR) {
			d->have = 0;
			*rc = start_record(d, fn, ctx);
		}
		return n;
	case S_DATA:
		n = n < d->left ? n : (size_t)d->left;
		d->crc = tr_crc32c(d->crc, p, n);
		if (d->keep && d->buflen < TR_WALREC_KEEP) {
			size_t k = TR_WALREC_KEEP - d->buflen < n ? TR_WALREC_KEEP - d->buflen : n;
			memcpy(d->buf + d->buflen, p, k);
			d->buflen += k;
		}
		d->left -= n;
		d->pos += n;
		if (!d->left)
			*rc = finish_record(d, fn, ctx);
		return n;
	case S_ENDED:
		break;
	}
	return 0;
}

int tr_waldec_feed(tr_waldec *d, const void *buf, size_t len, tr_walrec_fn fn, void *ctx)
{
	const uint8_t *p = buf;
	int rc = 0;
	while (len && rc == 0) {
		if (d->st == S_ENDED || d->pos >= d->seg_size) {
			d->pos += len;   /* the rest of the segment is not WAL */
			return 0;
		}
		uint64_t in_page = d->pos % d->blcksz;
		size_t phd = d->pos < d->blcksz ? LONG_PHD : SHORT_PHD;
		size_t n;
		if (in_page < phd) {
			n = phd - (size_t)in_page < len ? phd - (size_t)in_page : len;
			memcpy(d->phdr + in_page, p, n);
			d->pos += n;
			if (in_page + n == phd)
				page_header(d, phd);
		} else {
			size_t room = (size_t)(d->blcksz - in_page);
			n = step(d, p, room < len ? room : len, fn, ctx, &rc);
		}
		p += n;
		len -= n;
	}
	return rc;
}
