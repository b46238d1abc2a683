/* compress.c - streaming zstd wrappers (see compress.h). */
#include "config.h"
#include "format/compress.h"

#include <stdlib.h>
#include <zstd.h>

struct tr_zstd_c {
	ZSTD_CCtx *cctx;
};

struct tr_zstd_d {
	ZSTD_DCtx *dctx;
	int complete;
};

tr_zstd_c *tr_zstd_c_new(int level)
{
	tr_zstd_c *z = calloc(1, sizeof(*z));
	if (!z)
		return NULL;
	z->cctx = ZSTD_createCCtx();
	if (!z->cctx) {
		free(z);
		return NULL;
	}
	if (level == 0)
		level = 3;
	if (ZSTD_isError(ZSTD_CCtx_setParameter(z->cctx, ZSTD_c_compressionLevel, level))) {
		tr_zstd_c_free(z);
		return NULL;
	}
	return z;
}

int tr_zstd_c_step(tr_zstd_c *z, const void *in, size_t *inlen, void *out, size_t *outlen, int end)
{
	ZSTD_inBuffer ib = { in, *inlen, 0 };
	ZSTD_outBuffer ob = { out, *outlen, 0 };
	size_t r = ZSTD_compressStream2(z->cctx, &ob, &ib, end ? ZSTD_e_end : ZSTD_e_continue);
	*inlen = ib.pos;
	*outlen = ob.pos;
	if (ZSTD_isError(r))
		return -1;
	if (end)
		return r != 0;
	return ob.pos == ob.size && ob.size > 0;
}

int tr_zstd_c_reset(tr_zstd_c *z, int level)
{
	if (ZSTD_isError(ZSTD_CCtx_reset(z->cctx, ZSTD_reset_session_only)) ||
	    ZSTD_isError(ZSTD_CCtx_setParameter(z->cctx, ZSTD_c_compressionLevel, level == 0 ? 3 : level)))
		return -1;
	return 0;
}

void tr_zstd_c_free(tr_zstd_c *z)
{
	if (!z)
		return;
	ZSTD_freeCCtx(z->cctx);
	free(z);
}

tr_zstd_d *tr_zstd_d_new(void)
{
	tr_zstd_d *z = calloc(1, sizeof(*z));
	if (!z)
		return NULL;
	z->dctx = ZSTD_createDCtx();
	if (!z->dctx) {
		free(z);
		return NULL;
	}
	return z;
}

int tr_zstd_d_step(tr_zstd_d *z, const void *in, size_t *inlen, void *out, size_t *outlen,
		   const char **err)
{
	ZSTD_inBuffer ib = { in, *inlen, 0 };
	ZSTD_outBuffer ob = { out, *outlen, 0 };
	size_t r = ZSTD_decompressStream(z->dctx, &ob, &ib);
	*inlen = ib.pos;
	*outlen = ob.pos;
	if (ZSTD_isError(r)) {
		if (err)
			*err = ZSTD_getErrorName(r);
		z->complete = 0;
		return -1;
	}
	/* A call that moved nothing (flushing an already finished frame)
	 * leaves the completeness of the stream as it was. */
	if (ib.pos > 0 || ob.pos > 0)
		z->complete = (r == 0);
	return ob.pos == ob.size && ob.size > 0;
}

int tr_zstd_d_complete(const tr_zstd_d *z)
{
	return z->complete;
}

void tr_zstd_d_free(tr_zstd_d *z)
{
	if (!z)
		return;
	ZSTD_freeDCtx(z->dctx);
	free(z);
}
