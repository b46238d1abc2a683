/* pagecheck.c - data page checksums (see pagecheck.h). */
#include "config.h"
#include "pg/pagecheck.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define COLUMNS 32
#define FNV_PRIME 16777619u
#define CHECKSUM_OFFSET 8   /* pd_checksum, after the 8-byte pd_lsn */
#define UPPER_OFFSET 14     /* pd_upper */

/* The columns' starting values, PostgreSQL's. */
static const uint32_t column_start[COLUMNS] = {
	0x5B1F36E9, 0xB8525960, 0x02AB50AA, 0x1DE66D2A, 0x79FF467A, 0x9BB9F8A3, 0x217E7CD2, 0x83E13D2C,
	0xF8D4474F, 0xE39EB970, 0x42C6AE16, 0x993216FA, 0x7B093B5D, 0x98DAFF3C, 0xF718902A, 0x0B1C9CDB,
	0xE58F764B, 0x187636BC, 0x5D7B3BB1, 0xE73DE7DE, 0x92BEC979, 0xCCA6C0B2, 0x304A0979, 0x85AA43D4,
	0x783125BB, 0x6CA8EAA2, 0xE407EAC6, 0x4B5CFC3E, 0x9FBF8C76, 0x15CA20BE, 0xF2CA9FD3, 0x959BD756,
};

static inline uint32_t fold(uint32_t sum, uint32_t word)
{
	uint32_t x = sum ^ word;
	return x * FNV_PRIME ^ (x >> 17);
}

uint16_t tr_page_checksum(const uint8_t *page, uint32_t blkno)
{
	uint32_t words[TR_PAGE_SIZE / 4], sums[COLUMNS], v = 0;
	memcpy(words, page, sizeof words);       /* any alignment; the page's own byte order */
	memset((uint8_t *)words + CHECKSUM_OFFSET, 0, 2);
	memcpy(sums, column_start, sizeof sums);
	for (size_t row = 0; row < TR_PAGE_SIZE / 4 / COLUMNS; row++)
		for (size_t c = 0; c < COLUMNS; c++)
			sums[c] = fold(sums[c], words[row * COLUMNS + c]);
	for (int round = 0; round < 2; round++)
		for (size_t c = 0; c < COLUMNS; c++)
			sums[c] = fold(sums[c], 0);
	for (size_t c = 0; c < COLUMNS; c++)
		v ^= sums[c];
	v ^= blkno;
	return (uint16_t)(v % 65535 + 1);
}

static int all_zero(const uint8_t *page)
{
	for (size_t i = 0; i < TR_PAGE_SIZE; i++)
		if (page[i])
			return 0;
	return 1;
}

enum tr_page_verdict tr_page_verify(const uint8_t *page, uint32_t blkno, uint64_t start_lsn)
{
	uint32_t hi, lo;
	uint16_t stored, upper;
	memcpy(&hi, page, 4);
	memcpy(&lo, page + 4, 4);
	memcpy(&stored, page + CHECKSUM_OFFSET, 2);
	memcpy(&upper, page + UPPER_OFFSET, 2);
	/* A new page (pd_upper 0) must be all zeros, as PostgreSQL checks. */
	if (upper == 0 && all_zero(page))
		return TR_PAGE_ZERO;
	if (((uint64_t)hi << 32 | lo) >= start_lsn)
		return TR_PAGE_NEWER;
	return tr_page_checksum(page, blkno) == stored ? TR_PAGE_OK : TR_PAGE_DAMAGED;
}

/* --- which files --- */

static size_t digits(const char *s)
{
	size_t n = 0;
	while (isdigit((unsigned char)s[n]))
		n++;
	return n;
}

/* <relfilenode>[_fsm|_vm|_init][.<segment>] */
static int relation_name(const char *name, uint32_t *segno)
{
	size_t n = digits(name);
	const char *p = name + n;
	if (n == 0)
		return 0;
	if (strncmp(p, "_fsm", 4) == 0)
		p += 4;
	else if (strncmp(p, "_vm", 3) == 0)
		p += 3;
	else if (strncmp(p, "_init", 5) == 0)
		p += 5;
	*segno = 0;
	if (*p == '.') {
		size_t m = digits(p + 1);
		if (m == 0 || m > 9)
			return 0;
		*segno = (uint32_t)strtoul(p + 1, NULL, 10);
		p += 1 + m;
	}
	return *p == '\0';
}

/* The directory part: base/<digits>, global, pg_tblspc/<digits>/<any>/<digits>. */
static int relation_dir(const char *dir, size_t len)
{
	char d[4096];
	if (len >= sizeof d)
		return 0;
	memcpy(d, dir, len);
	d[len] = '\0';
	if (strcmp(d, "global") == 0)
		return 1;
	const char *p;
	if (strncmp(d, "base/", 5) == 0)
		p = d + 5;
	else if (strncmp(d, "pg_tblspc/", 10) == 0 && digits(d + 10) && d[10 + digits(d + 10)] == '/' &&
		 (p = strchr(d + 11 + digits(d + 10), '/')))
		p++;
	else
		return 0;
	return *p && digits(p) == strlen(p);
}

int tr_pagecheck_relation(const char *path, uint32_t *segno)
{
	const char *slash = strrchr(path, '/');
	return slash && relation_dir(path, (size_t)(slash - path)) && relation_name(slash + 1, segno);
}

/* --- a backup's findings --- */

struct damaged {
	char *path;
	uint32_t block;
};

struct tr_pagecheck {
	uint64_t start_lsn;
	uint32_t relseg_blocks;
	pthread_mutex_t mu;
	struct damaged *v;
	size_t n;
	uint64_t count, verified;
};

tr_pagecheck *tr_pagecheck_new(uint64_t start_lsn, uint32_t relseg_blocks)
{
	tr_pagecheck *pc = calloc(1, sizeof *pc);
	if (!pc)
		return NULL;
	pc->start_lsn = start_lsn;
	pc->relseg_blocks = relseg_blocks ? relseg_blocks : 131072;
	pthread_mutex_init(&pc->mu, NULL);
	return pc;
}

static void note(tr_pagecheck *pc, const char *path, uint32_t block, uint64_t verified)
{
	pthread_mutex_lock(&pc->mu);
	pc->verified += verified;
	if (block != UINT32_MAX) {
		pc->count++;
		struct damaged *grown = pc->n < TR_PAGECHECK_LIST_MAX ? realloc(pc->v, (pc->n + 1) * sizeof *grown) : NULL;
		if (grown) {
			pc->v = grown;
			if ((grown[pc->n].path = strdup(path)))
				grown[pc->n++].block = block;
		}
	}
	pthread_mutex_unlock(&pc->mu);
}

/* A page that failed, read again: a write may have torn the first read. */
static enum tr_page_verdict read_again(const tr_pagecheck *pc, const char *abspath, uint64_t off, uint32_t blkno)
{
	uint8_t page[TR_PAGE_SIZE];
	size_t done = 0;
	ssize_t n = 1;
	int fd = open(abspath, O_RDONLY | O_CLOEXEC);
	while (fd >= 0 && done < sizeof page && (n = pread(fd, page + done, sizeof page - done, (off_t)(off + done))) > 0)
		done += (size_t)n;
	if (fd >= 0)
		close(fd);
	if (fd < 0 || done < sizeof page)
		return TR_PAGE_OK;  /* dropped or truncated meanwhile: WAL replay knows */
	return tr_page_verify(page, blkno, pc->start_lsn);
}

void tr_pagecheck_chunk(tr_pagecheck *pc, const char *path, const char *abspath, uint64_t offset,
			const uint8_t *buf, size_t len)
{
	uint32_t segno;
	uint64_t verified = 0;
	if (!tr_pagecheck_relation(path, &segno))
		return;
	/* The pages that start in this chunk; one crossing its end is read
	 * whole from the file (a chunk size that is not a multiple of 8 KiB). */
	uint64_t first = (offset + TR_PAGE_SIZE - 1) / TR_PAGE_SIZE;
	for (uint64_t page = first; page * TR_PAGE_SIZE < offset + len; page++) {
		uint64_t at = page * TR_PAGE_SIZE;
		uint32_t blkno = (uint32_t)((uint64_t)segno * pc->relseg_blocks + page);
		enum tr_page_verdict v = at + TR_PAGE_SIZE <= offset + len
			? tr_page_verify(buf + (at - offset), blkno, pc->start_lsn)
			: read_again(pc, abspath, at, blkno);
		if (v == TR_PAGE_DAMAGED)
			v = read_again(pc, abspath, at, blkno);
		verified += v == TR_PAGE_OK || v == TR_PAGE_DAMAGED;
		if (v == TR_PAGE_DAMAGED)
			note(pc, path, blkno, 0);
	}
	note(pc, path, UINT32_MAX, verified);
}

uint64_t tr_pagecheck_damaged(const tr_pagecheck *pc) { return pc ? pc->count : 0; }
uint64_t tr_pagecheck_verified(const tr_pagecheck *pc) { return pc ? pc->verified : 0; }

static int cmp_damaged(const void *a, const void *b)
{
	const struct damaged *x = a, *y = b;
	int c = strcmp(x->path, y->path);
	return c ? c : (x->block > y->block) - (x->block < y->block);
}

char *tr_pagecheck_list(tr_pagecheck *pc)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	if (!f)
		return NULL;
	pthread_mutex_lock(&pc->mu);
	if (pc->n)
		qsort(pc->v, pc->n, sizeof *pc->v, cmp_damaged);
	for (size_t i = 0; i < pc->n; i++)
		fprintf(f, "%s %u\n", pc->v[i].path, pc->v[i].block);
	pthread_mutex_unlock(&pc->mu);
	if (fclose(f) != 0) {
		free(text);
		return NULL;
	}
	return text;
}

void tr_pagecheck_free(tr_pagecheck *pc)
{
	if (!pc)
		return;
	for (size_t i = 0; i < pc->n; i++)
		free(pc->v[i].path);
	free(pc->v);
	pthread_mutex_destroy(&pc->mu);
	free(pc);
}
