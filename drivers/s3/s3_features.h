/* s3_features.h - what bucket settings add to requests: server-side
 * encryption (SSE-S3, SSE-KMS, SSE-C), storage classes (one for WAL, one
 * for the rest, told apart by a key prefix the core passes), integrity
 * checksums on every body, requester pays, and the right Content-Type. */
#ifndef TR_S3_FEATURES_H
#define TR_S3_FEATURES_H

#include "s3_http.h"

/* Which S3 operation a request is, from its method, key and query. */
enum s3_op {
	S3_OP_OTHER = 0,     /* bucket requests, DELETE, AbortMultipartUpload */
	S3_OP_PUT_OBJECT,
	S3_OP_UPLOAD_PART,
	S3_OP_CREATE_MPU,
	S3_OP_COMPLETE_MPU,
	S3_OP_GET_OBJECT,
	S3_OP_HEAD_OBJECT,
};

enum s3_op s3_request_op(const s3_request *req);

/* Digests of a request body, computed once per request. */
typedef struct s3_digests {
	char sha256_hex[65];   /* x-amz-content-sha256 */
	char sha256_b64[48];   /* x-amz-checksum-sha256 */
	char md5_b64[32];      /* Content-MD5, only with s3-checksum=md5 */
} s3_digests;

void s3_digests_compute(const tr_conn *c, const void *body, size_t len, s3_digests *d);

/* Appends the headers the features need for req to hdr[*n .. max). */
void s3_features_headers(const tr_conn *c, const s3_request *req, const s3_digests *d, s3_kv *hdr,
			 size_t *n, size_t max);

/* The storage class an object under key gets, or NULL for the bucket's default. */
const char *s3_storage_class_for(const s3_features *f, const char *key);

/* Checks a storage class name: 0, or -1 with why set. */
int s3_storage_class_check(const char *cls, char *why, size_t whylen);

#endif
