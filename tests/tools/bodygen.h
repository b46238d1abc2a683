/* bodygen.h - tests only: reproducible bodies of any size (xorshift64
 * words, handed out byte-exactly whatever the read sizes), for drvtool
 * and the driver conformance suite. */
#ifndef TR_BODYGEN_H
#define TR_BODYGEN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

typedef struct tr_bodygen {
	uint64_t left;           /* bytes still to hand out */
	uint64_t state;
	unsigned char pend[8];
	size_t npend;
} tr_bodygen;

/* size bytes of the body numbered seed. */
void tr_bodygen_init(tr_bodygen *g, uint64_t size, uint64_t seed);
/* The next len bytes of the body (len <= g->left, not checked). */
void tr_bodygen_bytes(tr_bodygen *g, unsigned char *buf, size_t len);
/* A tr_read_fn over a tr_bodygen (ctx). */
ssize_t tr_bodygen_read(void *ctx, void *buf, size_t len);

#endif
