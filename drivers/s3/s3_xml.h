/* s3_xml.h - just enough XML for S3 responses: ListObjectsV2 pages,
 * <Error> bodies, InitiateMultipartUpload and CompleteMultipartUpload
 * results.  S3 never nests an element inside one of the same name, which
 * is what keeps this small. */
#ifndef TR_S3_XML_H
#define TR_S3_XML_H

#include <stddef.h>
#include <stdint.h>
#include "totalrecall/driver.h"

/* Finds the first <tag>...</tag> (or <tag/>) in xml[0..len).  Returns a
 * pointer to its raw inner text and sets *inner_len and *after (the byte
 * following the end tag), or NULL when there is none. */
const char *s3_xml_element(const char *xml, size_t len, const char *tag, size_t *inner_len,
			   const char **after);

/* Decodes the five XML entities and numeric references into out (always
 * NUL-terminated).  Returns the decoded length, or -1 when it does not fit
 * or an entity is malformed. */
long s3_xml_decode(const char *in, size_t len, char *out, size_t outlen);

/* Decoded text of the first <tag> into out; 1 found, 0 absent, -1 bad. */
int s3_xml_text(const char *xml, size_t len, const char *tag, char *out, size_t outlen);

typedef struct s3_xml_error {
	char code[64];
	char message[512];
	char region[64];   /* <Region>, on redirects and region mismatches */
} s3_xml_error;

/* Fills e from an <Error> body; 1 when there is one, 0 otherwise. */
int s3_xml_parse_error(const char *xml, size_t len, s3_xml_error *e);

typedef struct s3_list_page {
	int truncated;
	char *next_token;   /* malloc'ed, NULL when not truncated */
	size_t count;       /* entries handed to the callback */
} s3_list_page;

/* Hands each <Contents> of a ListObjectsV2 page to fn in document order.
 * Returns 0, 1 when fn asked to stop, -1 on a malformed page, -2 when out
 * of memory. */
int s3_xml_parse_list(const char *xml, size_t len, tr_list_fn fn, void *ctx,
		      s3_list_page *page);

/* "2009-10-12T17:50:30.000Z" -> seconds since the epoch, 0 if malformed. */
int64_t s3_xml_time(const char *iso8601);

#endif
