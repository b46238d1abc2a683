/* pcompress.h - compress one regular file in pieces on several threads.
 *
 * A WAL segment is 16 MiB and compressing it is most of what archive-put
 * costs; PostgreSQL waits for each call.  The file is cut into N pieces
 * (N = threads, each piece at least TR_PCOMP_PIECE_MIN bytes), each
 * compressed by its own thread into an independent zstd frame.  The frames
 * concatenated are one valid zstd stream, so the stored object is an
 * ordinary zstd object to every reader.
 *
 * Memory: each thread maps its piece and drops the pages it has passed
 * (they stay in the page cache), so a thread holds about 4 MiB of input,
 * its zstd context and its compressed output; piece i > 0 keeps its output
 * until the pieces before it have been read.
 *
 * Optionally one more thread hands the whole file, in order, to a digest
 * (archive-put's keyed checksum) while the pieces compress, from a
 * mapping of its own: the file is read once, and the checksum is known
 * about when the compressed stream is, so a driver that needs it before
 * it sends (object metadata) does not wait for a separate pass.
 */
#ifndef TR_PCOMPRESS_H
#define TR_PCOMPRESS_H
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define TR_PCOMP_PIECE_MIN (8u << 20)

typedef struct tr_pcomp tr_pcomp;

/* How many pieces a file of size bytes is cut into with up to threads
 * threads; 0 when it is smaller than one piece. */
int tr_pcomp_pieces(uint64_t size, int threads);

/* Starts compressing size bytes of fd (a regular file that must not change
 * meanwhile) at zstd level (0 = 3) in tr_pcomp_pieces() pieces.  NULL with
 * a message in err when the file cannot be mapped or a thread not started. */
tr_pcomp *tr_pcomp_start(int fd, uint64_t size, int level, int threads, char *err, size_t errlen);

/* Feeds bytes to a digest, in file order. */
typedef void (*tr_pcomp_digest_fn)(void *ctx, const void *data, size_t len);

/* The same, with a thread that hands every byte of the file to digest
 * (called from that thread only) while the pieces compress. */
tr_pcomp *tr_pcomp_start_digest(int fd, uint64_t size, int level, int threads, tr_pcomp_digest_fn digest,
				void *digest_ctx, char *err, size_t errlen);
/* Waits until the digest has seen the whole file: 0, or -1 when reading
 * the file failed (tr_pcomp_error).  0 at once without a digest. */
int tr_pcomp_digest_wait(tr_pcomp *pc);

/* A tr_read_fn: the zstd stream, pieces in order; 0 at the end, -1 when a
 * piece failed (tr_pcomp_error). */
ssize_t tr_pcomp_read(void *pc, void *buf, size_t len);
const char *tr_pcomp_error(const tr_pcomp *pc);

/* Waits for the threads and frees everything. */
void tr_pcomp_free(tr_pcomp *pc);

#endif
