/* compress.h - thin streaming wrappers over zstd, used by format.c. */
#ifndef TR_COMPRESS_H
#define TR_COMPRESS_H
#include <stddef.h>

typedef struct tr_zstd_c tr_zstd_c;
typedef struct tr_zstd_d tr_zstd_d;

tr_zstd_c *tr_zstd_c_new(int level);
/* Compresses in[0..*inlen) into out[0..*outlen); updates both to the bytes
 * consumed and produced.  end != 0 flushes the end of the stream; returns 1
 * while more output is pending, 0 when done, -1 on error. */
int tr_zstd_c_step(tr_zstd_c *z, const void *in, size_t *inlen, void *out, size_t *outlen, int end);
/* Readies z for a new stream at level, keeping its memory. */
int tr_zstd_c_reset(tr_zstd_c *z, int level);
void tr_zstd_c_free(tr_zstd_c *z);

tr_zstd_d *tr_zstd_d_new(void);
/* Same contract; returns 1 while output is pending, 0 otherwise, -1 on
 * corrupt data (with a message in err). */
int tr_zstd_d_step(tr_zstd_d *z, const void *in, size_t *inlen, void *out, size_t *outlen,
		   const char **err);
/* True when the last step ended exactly at the end of a zstd frame. */
int tr_zstd_d_complete(const tr_zstd_d *z);
void tr_zstd_d_free(tr_zstd_d *z);

#endif
