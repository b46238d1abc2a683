/* pcompress.c - compress one regular file in pieces on several threads
 * (see pcompress.h).
 *
 * Each piece is mapped and compressed with ZSTD_c_stableInBuffer: zstd
 * reads the mapping directly instead of copying the input into a window
 * buffer of its own, which saves a copy and a read() of the whole file.
 * Pages more than a window behind the position are dropped from the
 * mapping (MADV_DONTNEED on a private, never written file mapping: a later
 * touch would only read them again from the page cache, so it is always
 * safe), which keeps the memory of a thread at a few MiB.
 *
 * A file that shrinks while it is mapped makes the next touch of a page
 * past its new end raise SIGBUS.  That must not kill archive-put (an exit
 * status above 125 stops PostgreSQL's archiver, and the core file would
 * hold keys): a handler installed once jumps back out of zstd to the
 * compressing thread, whose piece then fails with an error.  Only a thread
 * that is reading a mapping arms it; any other SIGBUS kills the process as
 * before.
 */
#include "config.h"
#include "format/pcompress.h"

#define ZSTD_STATIC_LINKING_ONLY  /* ZSTD_c_stableInBuffer */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <zstd.h>

#include "base/testhook.h"

#define STEP (256u << 10)         /* input handed to zstd per call */
#define PIECE_ALIGN (1u << 20)    /* piece offsets: a multiple of any page size */
#define PAGE_ALIGN (64u << 10)    /* a multiple of any page size */
#define MAX_PIECES 16

struct piece {
	tr_pcomp *pc;
	pthread_t thread;
	int started;
	int fd;           /* for the test hook only */
	uint64_t off;     /* of the piece in the file */
	uint8_t *map;
	size_t len;
	uint8_t *out;
	size_t cap;
	size_t produced;  /* output bytes ready; under pc->mu */
	int done;         /* under pc->mu */
	int failed;       /* under pc->mu */
	size_t consumed;  /* the reader's own */
	uintptr_t out_dropped;  /* the reader's own: output pages below it are given back */
	char err[160];
};

/* The digest thread's own mapping of the whole file. */
struct digest {
	pthread_t thread;
	int started;
	uint8_t *map;
	size_t len;
	tr_pcomp_digest_fn fn;
	void *ctx;
	int done;         /* under pc->mu */
	char err[160];    /* under pc->mu once done */
};

struct tr_pcomp {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int level;
	int n;
	int cur;  /* the piece the reader is on */
	char err[200];
	struct piece p[MAX_PIECES];
	struct digest d;
};

int tr_pcomp_pieces(uint64_t size, int threads)
{
	uint64_t n = size / TR_PCOMP_PIECE_MIN;
	if (n == 0)
		return 0;
	if (threads < 1)
		threads = 1;
	if (n > (uint64_t)threads)
		n = (uint64_t)threads;
	if (n > MAX_PIECES)
		n = MAX_PIECES;
	return (int)n;
}

static void publish(struct piece *p, size_t produced, int done, const char *err)
{
	tr_pcomp *pc = p->pc;
	pthread_mutex_lock(&pc->mu);
	p->produced = produced;
	if (err) {
		snprintf(p->err, sizeof p->err, "%s", err);
		p->failed = 1;
	}
	p->done = done || err != NULL;
	pthread_cond_broadcast(&pc->cv);
	pthread_mutex_unlock(&pc->mu);
}

/* Bytes behind the position zstd may still read: its window, and a step
 * to spare. */
static size_t keep_behind(int level, size_t len)
{
	ZSTD_compressionParameters cp = ZSTD_getCParams(level, len, 0);
	return ((size_t)1 << cp.windowLog) + STEP;
}

static ZSTD_CCtx *piece_cctx(int level, size_t len)
{
	ZSTD_CCtx *c = ZSTD_createCCtx();
	if (c && (ZSTD_isError(ZSTD_CCtx_setParameter(c, ZSTD_c_compressionLevel, level)) ||
		  ZSTD_isError(ZSTD_CCtx_setParameter(c, ZSTD_c_stableInBuffer, 1)) ||
		  ZSTD_isError(ZSTD_CCtx_setPledgedSrcSize(c, len)))) {
		ZSTD_freeCCtx(c);
		c = NULL;
	}
	return c;
}

/* --- SIGBUS on a mapping: an error of the piece, not a crash --- */

static __thread sigjmp_buf *bus_jump;  /* set while this thread reads its mapping */
static pthread_once_t bus_once = PTHREAD_ONCE_INIT;

static void on_sigbus(int sig)
{
	if (bus_jump)
		siglongjmp(*bus_jump, 1);
	signal(sig, SIG_DFL);
	raise(sig);
}

static void install_bus_handler(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_sigbus;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGBUS, &sa, NULL);
}

/* Compresses the piece; NULL or an error.  *pos: output bytes so far. */
static const char *compress_piece(struct piece *p, ZSTD_CCtx *c, size_t *pos)
{
	size_t keep = keep_behind(p->pc->level, p->len), dropped = 0;
	ZSTD_inBuffer ib = { p->map, 0, 0 };
	ZSTD_outBuffer ob = { p->out, p->cap, 0 };
	for (;;) {
		ib.size = p->len - ib.size > STEP ? ib.size + STEP : p->len;
		tr_testhook_truncate(p->fd, p->off + ib.size);
		int end = ib.size == p->len;
		size_t r = ZSTD_compressStream2(c, &ob, &ib, end ? ZSTD_e_end : ZSTD_e_continue);
		*pos = ob.pos;
		if (ZSTD_isError(r))
			return ZSTD_getErrorName(r);
		if (end && r == 0)
			return NULL;
		if (ob.pos == ob.size)
			return "compressed output larger than its bound";
		if (ib.pos > dropped + keep + STEP) {
			size_t upto = (ib.pos - keep) & ~(size_t)(PAGE_ALIGN - 1);
			madvise(p->map + dropped, upto - dropped, MADV_DONTNEED);
			dropped = upto;
		}
		publish(p, ob.pos, 0, NULL);
	}
}

/* fn(arg), with a SIGBUS on the mapping turned into an error (zstd's
 * state, or the digest's, is abandoned, never used again). */
static const char *guarded(const char *(*fn)(void *), void *arg)
{
	sigjmp_buf jb;
	pthread_once(&bus_once, install_bus_handler);
	if (sigsetjmp(jb, 1) != 0) {
		bus_jump = NULL;
		return "the file shrank while it was being read (SIGBUS on its mapping)";
	}
	bus_jump = &jb;
	const char *err = fn(arg);
	bus_jump = NULL;
	return err;
}

struct compress_args {
	struct piece *p;
	ZSTD_CCtx *c;
	size_t *pos;
};

static const char *compress_call(void *arg)
{
	struct compress_args *a = arg;
	return compress_piece(a->p, a->c, a->pos);
}

/* Hands the mapping to the digest a step at a time, dropping what it
 * has passed. */
static void digest_mapping(struct digest *d)
{
	size_t dropped = 0;
	for (size_t off = 0; off < d->len;) {
		size_t n = d->len - off < STEP ? d->len - off : STEP;
		d->fn(d->ctx, d->map + off, n);
		off += n;
		size_t upto = off & ~(size_t)(PAGE_ALIGN - 1);
		if (upto >= dropped + 4 * STEP) {
			madvise(d->map + dropped, upto - dropped, MADV_DONTNEED);
			dropped = upto;
		}
	}
}

static const char *digest_call(void *arg)
{
	digest_mapping(arg);
	return NULL;
}

static void *digest_run(void *arg)
{
	tr_pcomp *pc = arg;
	struct digest *d = &pc->d;
	const char *err = guarded(digest_call, d);
	munmap(d->map, d->len);
	d->map = NULL;
	pthread_mutex_lock(&pc->mu);
	if (err)
		snprintf(d->err, sizeof d->err, "%s", err);
	d->done = 1;
	pthread_cond_broadcast(&pc->cv);
	pthread_mutex_unlock(&pc->mu);
	return NULL;
}

static int digest_init(tr_pcomp *pc, int fd, size_t len, char *err, size_t errlen)
{
	struct digest *d = &pc->d;
	d->len = len;
	d->map = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
	if (d->map == MAP_FAILED) {
		d->map = NULL;
		snprintf(err, errlen, "cannot map the file: %s", strerror(errno));
		return -1;
	}
	madvise(d->map, len, MADV_SEQUENTIAL);
	int rc = pthread_create(&d->thread, NULL, digest_run, pc);
	if (rc != 0) {
		snprintf(err, errlen, "cannot start a checksum thread: %s", strerror(rc));
		return -1;
	}
	d->started = 1;
	return 0;
}

int tr_pcomp_digest_wait(tr_pcomp *pc)
{
	if (!pc->d.fn)
		return 0;
	pthread_mutex_lock(&pc->mu);
	while (!pc->d.done)
		pthread_cond_wait(&pc->cv, &pc->mu);
	int failed = pc->d.err[0] != '\0';
	if (failed)
		snprintf(pc->err, sizeof pc->err, "%s", pc->d.err);
	pthread_mutex_unlock(&pc->mu);
	return failed ? -1 : 0;
}

static void *piece_run(void *arg)
{
	struct piece *p = arg;
	ZSTD_CCtx *c = piece_cctx(p->pc->level, p->len);
	size_t pos = 0;
	struct compress_args call = { p, c, &pos };
	const char *err = c ? guarded(compress_call, &call) : "out of memory for a zstd context";
	ZSTD_freeCCtx(c);
	munmap(p->map, p->len);
	p->map = NULL;
	publish(p, pos, 1, err);
	return NULL;
}

static int piece_init(tr_pcomp *pc, struct piece *p, int fd, uint64_t off, size_t len, char *err, size_t errlen)
{
	p->pc = pc;
	p->len = len;
	p->fd = fd;
	p->off = off;
	p->map = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, (off_t)off);
	if (p->map == MAP_FAILED) {
		p->map = NULL;
		snprintf(err, errlen, "cannot map the file: %s", strerror(errno));
		return -1;
	}
	madvise(p->map, len, MADV_SEQUENTIAL);
	p->cap = ZSTD_compressBound(len);
	p->out = malloc(p->cap);  /* only the pages written are ever resident */
	if (!p->out) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	int rc = pthread_create(&p->thread, NULL, piece_run, p);
	if (rc != 0) {
		snprintf(err, errlen, "cannot start a compression thread: %s", strerror(rc));
		return -1;
	}
	p->started = 1;
	return 0;
}

tr_pcomp *tr_pcomp_start(int fd, uint64_t size, int level, int threads, char *err, size_t errlen)
{
	return tr_pcomp_start_digest(fd, size, level, threads, NULL, NULL, err, errlen);
}

tr_pcomp *tr_pcomp_start_digest(int fd, uint64_t size, int level, int threads, tr_pcomp_digest_fn digest,
				void *digest_ctx, char *err, size_t errlen)
{
	tr_pcomp *pc = calloc(1, sizeof *pc);
	if (!pc) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	pthread_mutex_init(&pc->mu, NULL);
	pthread_cond_init(&pc->cv, NULL);
	pc->level = level == 0 ? 3 : level;
	pc->n = tr_pcomp_pieces(size, threads);
	pc->d.fn = digest;
	pc->d.ctx = digest_ctx;
	if (digest && digest_init(pc, fd, (size_t)size, err, errlen) != 0) {
		tr_pcomp_free(pc);
		return NULL;
	}
	uint64_t piece = size / (uint64_t)pc->n / PIECE_ALIGN * PIECE_ALIGN, off = 0;
	for (int i = 0; i < pc->n; i++) {
		uint64_t len = i == pc->n - 1 ? size - off : piece;
		if (piece_init(pc, &pc->p[i], fd, off, (size_t)len, err, errlen) != 0) {
			tr_pcomp_free(pc);
			return NULL;
		}
		off += len;
	}
	return pc;
}

/* The output already handed out is not needed again: its pages go back
 * (the thread only writes beyond produced), so the piece being read holds
 * little more than what it has not handed out yet. */
static void drop_read_output(struct piece *p, size_t n)
{
	uintptr_t base = (uintptr_t)p->out;
	if (!p->out_dropped)  /* never below the allocation: malloc keeps its header there */
		p->out_dropped = (base + PAGE_ALIGN - 1) & ~(uintptr_t)(PAGE_ALIGN - 1);
	p->consumed += n;
	uintptr_t to = (base + p->consumed) & ~(uintptr_t)(PAGE_ALIGN - 1);
	if (to > p->out_dropped) {
		madvise((void *)p->out_dropped, to - p->out_dropped, MADV_DONTNEED);
		p->out_dropped = to;
	}
}

ssize_t tr_pcomp_read(void *arg, void *buf, size_t len)
{
	tr_pcomp *pc = arg;
	pthread_mutex_lock(&pc->mu);
	while (pc->cur < pc->n) {
		struct piece *p = &pc->p[pc->cur];
		while (p->produced == p->consumed && !p->done)
			pthread_cond_wait(&pc->cv, &pc->mu);
		if (p->failed) {
			snprintf(pc->err, sizeof pc->err, "compressing part %d of %d failed: %s", pc->cur + 1, pc->n,
				 p->err);
			pthread_mutex_unlock(&pc->mu);
			return -1;
		}
		size_t ready = p->produced - p->consumed;
		if (ready > 0) {
			pthread_mutex_unlock(&pc->mu);
			/* Bytes below produced are final: the thread only appends. */
			size_t n = ready < len ? ready : len;
			memcpy(buf, p->out + p->consumed, n);
			drop_read_output(p, n);
			return (ssize_t)n;
		}
		free(p->out);  /* done and read: the thread no longer touches it */
		p->out = NULL;
		pc->cur++;
	}
	pthread_mutex_unlock(&pc->mu);
	return 0;
}

const char *tr_pcomp_error(const tr_pcomp *pc)
{
	return pc->err;
}

void tr_pcomp_free(tr_pcomp *pc)
{
	if (!pc)
		return;
	for (int i = 0; i < pc->n; i++) {
		struct piece *p = &pc->p[i];
		if (p->started)
			pthread_join(p->thread, NULL);
		else if (p->map)
			munmap(p->map, p->len);
		free(p->out);
	}
	if (pc->d.started)
		pthread_join(pc->d.thread, NULL);
	else if (pc->d.map)
		munmap(pc->d.map, pc->d.len);
	pthread_cond_destroy(&pc->cv);
	pthread_mutex_destroy(&pc->mu);
	free(pc);
}
