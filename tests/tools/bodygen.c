/* bodygen.c - see bodygen.h. */
#include "bodygen.h"

#include <string.h>

void tr_bodygen_init(tr_bodygen *g, uint64_t size, uint64_t seed)
{
	memset(g, 0, sizeof *g);
	g->left = size;
	g->state = 0x243F6A8885A308D3ULL ^ seed * 0x9E3779B97F4A7C15ULL;
}

void tr_bodygen_bytes(tr_bodygen *g, unsigned char *buf, size_t len)
{
	for (size_t i = 0; i < len;) {
		if (g->npend == 0) {
			g->state ^= g->state << 13;
			g->state ^= g->state >> 7;
			g->state ^= g->state << 17;
			memcpy(g->pend, &g->state, 8);
			g->npend = 8;
		}
		size_t n = g->npend < len - i ? g->npend : len - i;
		memcpy(buf + i, g->pend + (8 - g->npend), n);
		g->npend -= n;
		i += n;
	}
	g->left -= len;
}

ssize_t tr_bodygen_read(void *ctx, void *buf, size_t len)
{
	tr_bodygen *g = ctx;
	if (len > g->left)
		len = (size_t)g->left;
	tr_bodygen_bytes(g, buf, len);
	return (ssize_t)len;
}
