/* s3_str.h - a growable byte buffer, for requests, URLs and responses. */
#ifndef TR_S3_STR_H
#define TR_S3_STR_H

#include <stddef.h>

typedef struct s3_str {
	char *p;       /* always NUL-terminated once anything was added */
	size_t len;
	size_t cap;
	int oom;       /* sticky: set once an allocation failed */
} s3_str;

void s3_str_addn(s3_str *s, const char *data, size_t n);
void s3_str_add(s3_str *s, const char *cstr);
void s3_str_addc(s3_str *s, char c);
void s3_str_printf(s3_str *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends len bytes of in percent-encoded as RFC 3986 asks (what SigV4
 * and the Blob service both sign): all but the unreserved characters
 * A-Z a-z 0-9 - _ . ~ and, with keep_slash, '/', as %XX in upper case. */
void s3_str_add_encoded(s3_str *s, const char *in, size_t len, int keep_slash);
/* Hands the string over to the caller (NULL if an allocation failed). */
char *s3_str_take(s3_str *s);
void s3_str_reset(s3_str *s);
void s3_str_free(s3_str *s);

#endif
