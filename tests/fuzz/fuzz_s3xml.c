/* fuzz_s3xml.c - libFuzzer target for the s3 driver's XML response parser.
 *
 * Built and run by tests/fuzz/run.sh, replayed over its seeds by make
 * check.  One input is read the ways the driver reads a response body: as
 * a ListObjectsV2 page (every entry handed over must have a key that fits
 * and a size that is not negative), as an <Error> body, as an
 * InitiateMultipartUpload result (<UploadId>), and each <LastModified> as a
 * time.  Whatever the server sends, the parser must not read out of
 * bounds, leak, or hand back unterminated strings.
 */
#include "config.h"
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "s3_xml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int seen(void *ctx, const tr_object_info *info)
{
	size_t *n = ctx;
	if (strnlen(info->key, sizeof info->key) == sizeof info->key || info->size < 0) {
		fprintf(stderr, "an entry with an unterminated key or a negative size\n");
		abort();
	}
	return ++*n >= 100000;  /* stop, as a caller may */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *xml = (const char *)data;
	size_t n = 0;
	s3_list_page page = { 0, NULL, 0 };
	if (s3_xml_parse_list(xml, size, seen, &n, &page) == 0 && page.truncated && page.next_token &&
	    strlen(page.next_token) > size) {
		fprintf(stderr, "a continuation token longer than the page\n");
		abort();
	}
	free(page.next_token);

	s3_xml_error e;
	if (s3_xml_parse_error(xml, size, &e) == 1 &&
	    (strnlen(e.code, sizeof e.code) == sizeof e.code || strnlen(e.message, sizeof e.message) == sizeof e.message))
		abort();

	char upload_id[1024];
	if (s3_xml_text(xml, size, "UploadId", upload_id, sizeof upload_id) == 1 &&
	    strnlen(upload_id, sizeof upload_id) == sizeof upload_id)
		abort();

	const char *p = xml, *after;
	size_t inner;
	while (p < xml + size && s3_xml_element(p, size - (size_t)(p - xml), "LastModified", &inner, &after)) {
		char t[64];
		if (s3_xml_text(p, size - (size_t)(p - xml), "LastModified", t, sizeof t) == 1)
			(void)s3_xml_time(t);
		if (after <= p)
			break;
		p = after;
	}
	return 0;
}
