/* sigv4.h - AWS Signature Version 4 (header-based), with BearSSL. */
#ifndef TR_S3_SIGV4_H
#define TR_S3_SIGV4_H

#include <stddef.h>
#include "drv_kv.h"

/* A name/value pair: a query parameter or a header, unencoded. */
typedef drv_kv s3_kv;

/* Path rules.  S3 signs the path as given (encoded once, '/' kept, no
 * normalisation); every other service first removes dot segments and
 * collapses '//' (RFC 3986 section 5.2.4), which the generic AWS test
 * suite exercises. */
enum s3_sigv4_rules { S3_SIGV4_S3 = 0, S3_SIGV4_GENERIC = 1 };

typedef struct s3_sigv4_request {
	const char *method;
	const char *path;         /* raw (decoded) path, starting with '/' */
	const s3_kv *query;       /* raw pairs; value "" for "?flag" */
	size_t nquery;
	const s3_kv *headers;     /* every header to sign, as sent */
	size_t nheaders;
	const char *payload_hash; /* lowercase hex SHA-256 or UNSIGNED-PAYLOAD */
	enum s3_sigv4_rules rules;
} s3_sigv4_request;

typedef struct s3_sigv4_key {
	const char *access_key_id;
	const char *secret_access_key;
	const char *region;
	const char *service;      /* "s3" */
	const char *amz_date;     /* YYYYMMDDTHHMMSSZ, as in x-amz-date */
} s3_sigv4_key;

/* Everything the signer produced; strings are malloc'ed. */
typedef struct s3_sigv4_result {
	char *canonical_request;
	char *string_to_sign;
	char *signed_headers;
	char *authorization;
	char signature[65];
} s3_sigv4_result;

/* Returns 0, or -1 when out of memory (res is then all NULL). */
int s3_sigv4_sign(const s3_sigv4_request *req, const s3_sigv4_key *key,
		  s3_sigv4_result *res);
void s3_sigv4_result_free(s3_sigv4_result *res);

/* Percent-encodes len bytes of in per the S3 rules: every byte outside
 * A-Za-z0-9-_.~ as %XX (uppercase), '/' kept when keep_slash.  Returns a
 * malloc'ed string or NULL. */
char *s3_uri_encode(const char *in, size_t len, int keep_slash);

/* The canonical query string ("a=1&b=2", sorted, encoded); malloc'ed. */
char *s3_canonical_query(const s3_kv *query, size_t nquery);

/* Lowercase hex SHA-256 of data into out[65]. */
void s3_sha256_hex(const void *data, size_t len, char out[65]);

#endif
