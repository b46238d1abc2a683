/* test_walrecord.c - the WAL record decoder against WAL laid out here the
 * way PostgreSQL 15 writes it (page headers, records split across pages
 * and segments, alignment, CRC-32C): commits, aborts, a prepared
 * transaction's commit, restore points, a WAL switch, zeroed space, a
 * flipped byte, a decoder starting in the middle of a record, and bytes
 * fed in pieces of every size. */
#include "config.h"
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pg/walrecord.h"

#define SEG 32768      /* 4 pages of 8 KiB: records cross segments soon */
#define BLCK 8192
#define NSEG 4
#define BASE ((uint64_t)5 * SEG)  /* LSN of the first segment (segno 5) */

/* ---- a WAL writer ---- */
struct walw {
	uint8_t buf[NSEG * SEG];
	size_t pos;          /* next byte to write */
	uint64_t prev;       /* LSN of the previous record */
};

static void put16(uint8_t *p, uint16_t v) { memcpy(p, &v, 2); }
static void put32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }
static void put64(uint8_t *p, uint64_t v) { memcpy(p, &v, 8); }

static void page_header(struct walw *w, uint32_t rem)
{
	uint8_t *p = w->buf + w->pos;
	int is_long = w->pos % SEG == 0;
	put16(p, 0xD110);
	put16(p + 2, (uint16_t)((is_long ? 2 : 0) | (rem ? 1 : 0)));
	put32(p + 4, 1);
	put64(p + 8, BASE + w->pos);
	put32(p + 16, rem);
	if (is_long) {
		put64(p + 24, 7000000000000000001ULL);
		put32(p + 32, SEG);
		put32(p + 36, BLCK);
	}
	w->pos += is_long ? 40 : 24;
}

/* Writes record bytes, with a page header at every page start. */
static void put_bytes(struct walw *w, const uint8_t *b, size_t len)
{
	size_t left = len;
	while (left) {
		if (w->pos % BLCK == 0)
			page_header(w, left == len ? 0 : (uint32_t)left);
		size_t room = BLCK - w->pos % BLCK, n = left < room ? left : room;
		memcpy(w->buf + w->pos, b, n);
		w->pos += n;
		b += n;
		left -= n;
	}
}

static void start_writer(struct walw *w)
{
	memset(w, 0, sizeof *w);
	page_header(w, 0);
}

/* Appends a record; returns its LSN. */
static uint64_t add_record(struct walw *w, uint8_t rmid, uint8_t info, uint32_t xid, const uint8_t *body,
			   size_t blen)
{
	uint8_t *rec = calloc(1, 24 + blen);
	w->pos = (w->pos + 7) & ~(size_t)7;
	if (w->pos % BLCK == 0)
		page_header(w, 0);
	uint64_t lsn = BASE + w->pos;
	put32(rec, (uint32_t)(24 + blen));
	put32(rec + 4, xid);
	put64(rec + 8, w->prev);
	rec[16] = info;
	rec[17] = rmid;
	memcpy(rec + 24, body, blen);
	uint32_t crc = tr_crc32c(TR_CRC32C_INIT, rec + 24, blen);
	crc = TR_CRC32C_FIN(tr_crc32c(crc, rec, 20));
	put32(rec + 20, crc);
	put_bytes(w, rec, 24 + blen);
	free(rec);
	w->prev = lsn;
	return lsn;
}

/* A record of some other resource manager, with main data of len bytes. */
static uint64_t add_filler(struct walw *w, size_t len)
{
	uint8_t *b = malloc(len + 5);
	b[0] = 254;
	put32(b + 1, (uint32_t)len);
	for (size_t i = 0; i < len; i++)
		b[5 + i] = (uint8_t)(i * 7);
	uint64_t lsn = add_record(w, 10, 0x00, 0, b, len + 5);
	free(b);
	return lsn;
}

static uint64_t add_xact(struct walw *w, uint8_t op, uint32_t xid, int64_t unix_us, uint32_t twophase)
{
	uint8_t b[64];
	size_t n = 2;
	put64(b + n, (uint64_t)(unix_us - TR_PG_EPOCH_US));
	n += 8;
	if (twophase) {
		put32(b + n, (1u << 0) | (1u << 1) | (1u << 4));  /* dbinfo, 2 subxacts, twophase */
		n += 4;
		put32(b + n, 5);
		put32(b + n + 4, 1663);
		n += 8;
		put32(b + n, 2);
		put32(b + n + 4, 900);
		put32(b + n + 8, 901);
		n += 12;
		put32(b + n, twophase);
		n += 4;
		op |= 0x80;
	}
	b[0] = 255;
	b[1] = (uint8_t)(n - 2);
	return add_record(w, 1, op, xid, b, n);
}

static uint64_t add_restore_point(struct walw *w, const char *name, int64_t unix_us)
{
	uint8_t b[2 + 72];
	memset(b, 0, sizeof b);
	b[0] = 255;
	b[1] = 72;
	put64(b + 2, (uint64_t)(unix_us - TR_PG_EPOCH_US));
	memcpy(b + 10, name, strlen(name));
	return add_record(w, 0, 0x70, 0, b, sizeof b);
}

/* ---- what the decoder reports ---- */
struct seen {
	tr_walrec r[512];
	int n;
	int stop_at_kind;    /* stop when this kind is seen (0: never) */
};

static int collect(void *ctx, const tr_walrec *r)
{
	struct seen *s = ctx;
	if (s->n < 512)
		s->r[s->n++] = *r;
	return s->stop_at_kind && r->kind == s->stop_at_kind;
}

/* Feeds segments first..last of w in pieces of `piece` bytes. */
static tr_waldec *decode_to(const struct walw *w, int first, int last, size_t piece, struct seen *s)
{
	tr_waldec *d = tr_waldec_new(SEG);
	ck_assert_ptr_nonnull(d);
	for (int g = first; g <= last; g++) {
		tr_waldec_begin(d, 5 + (uint64_t)g);
		for (size_t off = 0; off < SEG; off += piece) {
			size_t n = SEG - off < piece ? SEG - off : piece;
			if (tr_waldec_feed(d, w->buf + (size_t)g * SEG + off, n, collect, s) != 0)
				return d;
		}
	}
	return d;
}

static tr_waldec *decode(const struct walw *w, int first, size_t piece, struct seen *s)
{
	return decode_to(w, first, NSEG - 1, piece, s);
}

static const tr_walrec *find(const struct seen *s, uint64_t lsn)
{
	for (int i = 0; i < s->n; i++)
		if (s->r[i].lsn == lsn)
			return &s->r[i];
	return NULL;
}

static struct walw W;
static uint64_t l_commit, l_abort, l_rp, l_prepared, l_cross_seg, l_last;

/* Records: fillers, a commit, a restore point crossing a page, a big
 * filler crossing into segment 2, a prepared commit, an abort. */
static void build(void)
{
	start_writer(&W);
	add_filler(&W, 100);
	l_commit = add_xact(&W, 0x00, 731, 1767225600123456LL, 0);
	/* Fill the page up to 48 bytes before its end. */
	size_t room = BLCK - ((W.pos + 7) & ~(size_t)7) % BLCK;
	if (room < 200) {
		add_filler(&W, 300);
		room = BLCK - ((W.pos + 7) & ~(size_t)7) % BLCK;
	}
	add_filler(&W, room - 48 - 29);
	l_rp = add_restore_point(&W, "before it'all\nends", 1767225601000000LL);
	ck_assert_uint_ne(l_rp / BLCK, (l_rp + 24 + 74) / BLCK);   /* it does cross a page */
	while (W.pos < SEG - 3000)
		add_filler(&W, 1000);
	l_cross_seg = add_filler(&W, 9000);
	ck_assert_uint_lt(l_cross_seg - BASE, SEG);
	l_prepared = add_xact(&W, 0x30, 0, 1767225602000000LL, 4242);
	ck_assert_uint_ge(l_prepared - BASE, SEG);
	l_abort = add_xact(&W, 0x20, 733, 1767225603000000LL, 0);
	l_last = add_filler(&W, 300);
}

START_TEST(test_crc32c)
{
	ck_assert_uint_eq(TR_CRC32C_FIN(tr_crc32c(TR_CRC32C_INIT, "123456789", 9)), 0xE3069283u);
	/* Pieces give the same CRC as the whole. */
	uint32_t c = tr_crc32c(TR_CRC32C_INIT, "1234", 4);
	ck_assert_uint_eq(TR_CRC32C_FIN(tr_crc32c(c, "56789", 5)), 0xE3069283u);
}
END_TEST

static void check_all(const struct seen *s, const tr_waldec *d)
{
	const tr_walrec *r = find(s, l_commit);
	ck_assert_ptr_nonnull(r);
	ck_assert_int_eq(r->kind, TR_WR_COMMIT);
	ck_assert_uint_eq(r->target_xid, 731);
	ck_assert_int_eq(r->time_us, 1767225600123456LL);
	r = find(s, l_rp);
	ck_assert_ptr_nonnull(r);
	ck_assert_int_eq(r->kind, TR_WR_RESTORE_POINT);
	ck_assert_str_eq(r->name, "before it'all\nends");
	ck_assert_int_eq(r->time_us, 1767225601000000LL);
	ck_assert_ptr_nonnull(find(s, l_cross_seg));
	r = find(s, l_prepared);
	ck_assert_ptr_nonnull(r);
	ck_assert_int_eq(r->kind, TR_WR_COMMIT);
	ck_assert_uint_eq(r->target_xid, 4242);
	r = find(s, l_abort);
	ck_assert_ptr_nonnull(r);
	ck_assert_int_eq(r->kind, TR_WR_ABORT);
	ck_assert_uint_eq(r->target_xid, 733);
	ck_assert_uint_eq(tr_waldec_last_lsn(d), l_last);
	ck_assert_str_eq(s->r[s->n - 1].lsn == l_last ? "last" : "other", "last");
	/* After the last record: zeroed space. */
	ck_assert_ptr_nonnull(tr_waldec_ended(d));
}

START_TEST(test_whole_segments)
{
	static struct seen s;
	build();
	memset(&s, 0, sizeof s);
	tr_waldec *d = decode(&W, 0, SEG, &s);
	check_all(&s, d);
	/* Every record is reported once, in order, each after the previous. */
	for (int i = 1; i < s.n; i++)
		ck_assert_uint_gt(s.r[i].lsn, s.r[i - 1].lsn);
	tr_waldec_free(d);
}
END_TEST

START_TEST(test_any_piece_size)
{
	static struct seen whole, s;
	static const size_t pieces[] = { 1, 3, 7, 24, 40, 41, 1000, 8191, 8193 };
	build();
	memset(&whole, 0, sizeof whole);
	tr_waldec_free(decode(&W, 0, SEG, &whole));
	for (size_t i = 0; i < sizeof pieces / sizeof pieces[0]; i++) {
		memset(&s, 0, sizeof s);
		tr_waldec *d = decode(&W, 0, pieces[i], &s);
		ck_assert_int_eq(s.n, whole.n);
		check_all(&s, d);
		tr_waldec_free(d);
	}
}
END_TEST

START_TEST(test_start_mid_record)
{
	static struct seen s;
	build();
	memset(&s, 0, sizeof s);
	/* Segment 1 begins inside the 9000-byte filler: it is skipped. */
	tr_waldec *d = decode(&W, 1, SEG, &s);
	ck_assert_ptr_null(find(&s, l_cross_seg));
	ck_assert_ptr_null(find(&s, l_commit));
	ck_assert_ptr_nonnull(find(&s, l_prepared));
	ck_assert_uint_eq(s.r[0].lsn, l_prepared);
	ck_assert_uint_eq(tr_waldec_last_lsn(d), l_last);
	tr_waldec_free(d);
}
END_TEST

START_TEST(test_flipped_byte_ends_wal)
{
	static struct seen s;
	build();
	memset(&s, 0, sizeof s);
	W.buf[l_rp - BASE + 30] ^= 0x40;   /* inside the restore point */
	tr_waldec *d = decode_to(&W, 0, 0, 777, &s);
	ck_assert_ptr_nonnull(find(&s, l_commit));
	ck_assert_ptr_null(find(&s, l_rp));
	ck_assert_ptr_null(find(&s, l_abort));
	ck_assert_ptr_nonnull(strstr(tr_waldec_ended(d) ? tr_waldec_ended(d) : "", "CRC"));
	ck_assert_uint_lt(tr_waldec_last_lsn(d), l_rp);
	tr_waldec_free(d);
}
END_TEST

START_TEST(test_switch_skips_rest_of_segment)
{
	static struct seen s;
	start_writer(&W);
	add_filler(&W, 100);
	uint8_t sw[2] = { 0, 0 };
	uint64_t l_switch = add_record(&W, 0, 0x40, 0, sw, 0);
	/* Garbage after the switch (never a valid record): ignored. */
	memset(W.buf + W.pos + 8, 0xAB, 500);
	/* The next segment starts with a record linked to the switch. */
	W.pos = SEG;
	uint64_t l_next = add_xact(&W, 0x00, 900, 1767225700000000LL, 0);
	memset(&s, 0, sizeof s);
	tr_waldec *d = decode(&W, 0, 100, &s);
	ck_assert_ptr_nonnull(find(&s, l_switch));
	ck_assert_int_eq(find(&s, l_switch)->kind, TR_WR_SWITCH);
	const tr_walrec *r = find(&s, l_next);
	ck_assert_ptr_nonnull(r);
	ck_assert_uint_eq(r->target_xid, 900);
	tr_waldec_free(d);
}
END_TEST

START_TEST(test_callback_stops)
{
	static struct seen s;
	build();
	memset(&s, 0, sizeof s);
	s.stop_at_kind = TR_WR_RESTORE_POINT;
	tr_waldec *d = decode(&W, 0, SEG, &s);
	ck_assert_uint_eq(s.r[s.n - 1].lsn, l_rp);
	ck_assert_ptr_null(find(&s, l_abort));
	tr_waldec_free(d);
}
END_TEST

START_TEST(test_broken_link_ends_wal)
{
	static struct seen s;
	build();
	memset(&s, 0, sizeof s);
	/* A valid record whose xl_prev names another record: stale WAL. */
	struct walw *w = &W;
	w->prev = l_commit;
	uint64_t l_stale = add_filler(w, 50);
	tr_waldec *d = decode_to(w, 0, (int)((l_stale - BASE) / SEG), SEG, &s);
	ck_assert_ptr_nonnull(find(&s, l_last));
	ck_assert_ptr_null(find(&s, l_stale));
	ck_assert_ptr_nonnull(tr_waldec_ended(d));
	ck_assert_ptr_nonnull(strstr(tr_waldec_ended(d), "does not follow"));
	tr_waldec_free(d);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("walrecord");
	TCase *tc = tcase_create("decoder");
	tcase_add_test(tc, test_crc32c);
	tcase_add_test(tc, test_whole_segments);
	tcase_add_test(tc, test_any_piece_size);
	tcase_add_test(tc, test_start_mid_record);
	tcase_add_test(tc, test_flipped_byte_ends_wal);
	tcase_add_test(tc, test_switch_skips_rest_of_segment);
	tcase_add_test(tc, test_callback_stops);
	tcase_add_test(tc, test_broken_link_ends_wal);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
