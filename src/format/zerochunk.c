/* zerochunk.c - chunks of zeros (see zerochunk.h). */
#include "config.h"
#include "format/zerochunk.h"
#include "format/checksum.h"

#include <stdlib.h>
#include <string.h>

void tr_zerochunk_init(tr_zerochunk *z, const tr_keys *keys, uint64_t len)
{
	void *zeros = len ? calloc(1, (size_t)len) : NULL;
	memset(z, 0, sizeof *z);
	if (!zeros)
		return;
	tr_chunk_id(keys, zeros, (size_t)len, z->id);
	z->len = len;
	free(zeros);
}

int tr_zerochunk_is(const tr_zerochunk *z, const char *id, uint64_t len)
{
	return z->len && len == z->len && strcmp(id, z->id) == 0;
}

int tr_all_zero(const void *buf, size_t len)
{
	const unsigned char *p = buf;
	/* The first 64 bytes are zero, and every byte equals the one 64 bytes
	 * before it: all are zero.  memcmp runs at memory speed. */
	size_t head = len < 64 ? len : 64;
	for (size_t i = 0; i < head; i++)
		if (p[i])
			return 0;
	return len <= 64 || memcmp(p, p + 64, len - 64) == 0;
}
