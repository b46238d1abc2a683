/* azure_crypto.h - base64 and the two digests the Blob service wants:
 * HMAC-SHA256 for Shared Key signatures, MD5 for Content-MD5. */
#ifndef TR_AZURE_CRYPTO_H
#define TR_AZURE_CRYPTO_H

#include <stddef.h>

/* Standard base64 with padding; out needs 4 * ((len + 2) / 3) + 1 bytes. */
void az_base64_encode(const void *in, size_t len, char *out);
/* Decodes standard base64 (padding optional, no whitespace); returns the
 * number of bytes written, or -1 when in is not base64 or out too small. */
long az_base64_decode(const char *in, size_t len, unsigned char *out, size_t outlen);

/* base64(HMAC-SHA256(key, msg)) into out[45]. */
void az_hmac_sha256_b64(const unsigned char *key, size_t klen, const void *msg, size_t mlen,
			char out[45]);
/* base64(MD5(data)) into out[25]. */
void az_md5_b64(const void *data, size_t len, char out[25]);

#endif
