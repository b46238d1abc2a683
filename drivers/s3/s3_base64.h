/* s3_base64.h - base64 (RFC 4648, with padding) for the headers S3 wants
 * it in: checksums, Content-MD5, SSE-C keys. */
#ifndef TR_S3_BASE64_H
#define TR_S3_BASE64_H

#include <stddef.h>

/* Encodes len bytes into out (NUL-terminated); -1 when out is too small
 * (it needs 4 * ceil(len / 3) + 1 bytes). */
int s3_base64_encode(const void *in, size_t len, char *out, size_t outlen);

/* Decodes a padded, canonical base64 string (unused low bits zero);
 * returns the number of bytes, or -1 when it is malformed or does not fit
 * in outlen. */
long s3_base64_decode(const char *in, unsigned char *out, size_t outlen);

#endif
