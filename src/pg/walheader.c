/* walheader.c - parse and check the long page header of a WAL segment
 * (see walheader.h). */
#include "config.h"
#include "pg/walheader.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static const struct { uint16_t magic; int major; } magics[] = {
	{ 0xD106, 13 }, { 0xD10D, 14 }, { 0xD110, 15 }, { 0xD113, 16 }, { 0xD116, 17 },
};

int tr_wal_segment_size_ok(uint64_t size)
{
	return size >= (1u << 20) && size <= (1u << 30) && (size & (size - 1)) == 0;
}

int tr_wal_magic_version(uint16_t magic)
{
	for (size_t i = 0; i < sizeof magics / sizeof magics[0]; i++)
		if (magics[i].magic == magic)
			return magics[i].major;
	return 0;
}

/* Native byte order: the header was written by this machine's PostgreSQL. */
static uint16_t get16(const uint8_t *p) { uint16_t v; memcpy(&v, p, sizeof v); return v; }
static uint32_t get32(const uint8_t *p) { uint32_t v; memcpy(&v, p, sizeof v); return v; }
static uint64_t get64(const uint8_t *p) { uint64_t v; memcpy(&v, p, sizeof v); return v; }

int tr_wal_header_parse(const uint8_t *buf, size_t len, tr_wal_header *h, char *err, size_t errlen)
{
	memset(h, 0, sizeof *h);
	if (len < TR_WAL_LONG_HEADER_LEN) {
		snprintf(err, errlen, "shorter than a WAL page header (%zu bytes)", len);
		return -1;
	}
	h->magic = get16(buf);
	h->info = get16(buf + 2);
	h->timeline = get32(buf + 4);
	h->pageaddr = get64(buf + 8);
	h->sysid = get64(buf + 24);
	h->seg_size = get32(buf + 32);
	h->blcksz = get32(buf + 36);
	h->pg_major = tr_wal_magic_version(h->magic);
	if (!h->pg_major) {
		snprintf(err, errlen, "page magic 0x%04X is not WAL of PostgreSQL 13 to 17", (unsigned)h->magic);
		return -1;
	}
	if (!(h->info & TR_XLP_LONG_HEADER)) {
		snprintf(err, errlen, "the first page lacks the long header a segment starts with");
		return -1;
	}
	return 0;
}

static int blcksz_ok(uint32_t b)
{
	return b >= 1024 && b <= 65536 && (b & (b - 1)) == 0;
}

/* The segment number a file name denotes, for segments of seg_size bytes. */
static int name_position(const char *name, uint64_t seg_size, uint32_t *tli, uint64_t *segno)
{
	unsigned t, log, seg;
	if (strlen(name) < 24 || sscanf(name, "%8X%8X%8X", &t, &log, &seg) != 3)
		return -1;
	uint64_t per_log = UINT64_C(0x100000000) / seg_size;
	if (seg >= per_log)
		return -1;
	*tli = t;
	*segno = (uint64_t)log * per_log + seg;
	return 0;
}

int tr_wal_segment_check(const char *name, uint64_t size, const uint8_t *buf, size_t len, tr_wal_header *h,
			 char *err, size_t errlen)
{
	char why[200];
	uint32_t tli;
	uint64_t segno;
	if (!tr_wal_segment_size_ok(size)) {
		snprintf(err, errlen, "%" PRIu64 " bytes: a WAL segment is a power of two from 1 MiB to 1 GiB", size);
		return -1;
	}
	if (tr_wal_header_parse(buf, len, h, why, sizeof why) != 0) {
		snprintf(err, errlen, "not a WAL segment: %s", why);
		return -1;
	}
	if (h->seg_size != size || !blcksz_ok(h->blcksz) || size % h->blcksz) {
		snprintf(err, errlen, "not a whole WAL segment: %" PRIu64 " bytes, the header says segments of %u "
			 "bytes in pages of %u", size, (unsigned)h->seg_size, (unsigned)h->blcksz);
		return -1;
	}
	if (name_position(name, size, &tli, &segno) != 0) {
		snprintf(err, errlen, "the name is not a segment of %" PRIu64 "-byte WAL", size);
		return -1;
	}
	if (h->timeline == 0 || h->timeline > tli || h->pageaddr != segno * size) {
		snprintf(err, errlen, "the header is of WAL position %X/%08X on timeline %u, not of this segment",
			 (unsigned)(h->pageaddr >> 32), (unsigned)h->pageaddr, (unsigned)h->timeline);
		return -1;
	}
	return 0;
}
