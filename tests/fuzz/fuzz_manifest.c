/* fuzz_manifest.c - libFuzzer target for the manifest parser.
 *
 * Built and run by tests/fuzz/run.sh.  The input is read as a manifest
 * through fmemopen: header, then records up to "end".  A header that
 * parses is written out again and must read back with the same fields,
 * so the writer and the reader agree on every value the fuzzer finds.
 */
#include "config.h"
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "repo/manifest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void roundtrip(const tr_manifest_hdr *h)
{
	char *buf = NULL, err[256];
	size_t len = 0;
	tr_manifest_hdr back;
	FILE *w = open_memstream(&buf, &len);
	if (!w)
		return;
	int ok = tr_manifest_write_hdr(w, h) == 0;
	fclose(w);
	FILE *r = ok ? fmemopen(buf, len, "r") : NULL;
	if (r) {
		if (tr_manifest_read_hdr(r, &back, err, sizeof err) != 0) {
			fprintf(stderr, "a written header does not read back: %s\n", err);
			abort();
		}
		if (strcmp(back.label, h->label) || back.start_lsn != h->start_lsn || back.stop_lsn != h->stop_lsn ||
		    back.timeline != h->timeline || strcmp(back.backup_label, h->backup_label) ||
		    strcmp(back.tablespace_map, h->tablespace_map)) {
			fprintf(stderr, "a written header reads back different\n");
			abort();
		}
		tr_manifest_hdr_free(&back);
		fclose(r);
	}
	free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[256];
	tr_manifest_hdr h;
	tr_mf_rec *rec;
	if (size == 0)
		return 0;  /* fmemopen refuses empty buffers */
	FILE *f = fmemopen((void *)data, size, "r");
	if (!f)
		return 0;
	if (tr_manifest_read_hdr(f, &h, err, sizeof err) == 0) {
		roundtrip(&h);
		tr_manifest_hdr_free(&h);
		rec = malloc(sizeof *rec);
		for (int i = 0; rec && i < 10000 && tr_manifest_read_rec(f, rec, err, sizeof err) == 1; i++)
			;
		free(rec);
	}
	fclose(f);
	return 0;
}
