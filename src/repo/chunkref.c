/* chunkref.c - slicing chunk references (see chunkref.h). */
#include "config.h"
#include "repo/chunkref.h"
#include "base/assert.h"
#include "base/util.h"

#include <stdlib.h>
#include <string.h>

void tr_chunk_rel(const char *id, char *out, size_t outlen)
{
	snprintf(out, outlen, "chunks/%.2s/%s", id + 1, id);
}

unsigned tr_chunkref_slice(const char *id, unsigned passes)
{
	uint8_t b;
	char two[3] = { id[0] ? id[1] : 0, id[0] && id[1] ? id[2] : 0, 0 };
	return passes > 1 && tr_unhex(two, &b, 1) == 0 ? b % passes : 0;
}

unsigned tr_chunkref_passes(uint64_t count, size_t item_size)
{
	uint64_t passes = count * item_size / TR_CHUNKREF_BUDGET + 1;
	return passes > TR_CHUNKREF_MAX_PASSES ? TR_CHUNKREF_MAX_PASSES : (unsigned)passes;
}

uint64_t tr_chunkref_estimate(const tr_manifest_hdr *h)
{
	/* At most one chunk per file plus one per chunk-size bytes. */
	return h->file_count + h->logical_bytes / (h->chunk_size ? h->chunk_size : 1);
}

int tr_chunkref_scan(FILE *f, unsigned pass, unsigned passes, tr_chunkref_fn fn, void *ctx, char *err,
		     size_t errlen)
{
	TR_ASSERT(pass < passes && passes <= TR_CHUNKREF_MAX_PASSES);
	/* Two records of 8 KiB each: on the heap, the callers run in threads. */
	tr_mf_rec *file = calloc(1, sizeof *file), *rec = malloc(sizeof *rec);
	tr_manifest_hdr h;
	int r = -1;
	if (!file || !rec) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	if (fseek(f, 0, SEEK_SET) != 0 || tr_manifest_read_hdr(f, &h, err, errlen) != 0)
		goto out;
	tr_manifest_hdr_free(&h);
	while ((r = tr_manifest_read_rec(f, rec, err, errlen)) == 1) {
		if (rec->type == 'f') {
			tr_mf_rec *t = file;
			file = rec;
			rec = t;
		} else if (rec->type == 'c' && tr_chunkref_slice(rec->chunk, passes) == pass && fn(ctx, file, rec)) {
			r = 1;
			break;
		}
	}
out:
	free(file);
	free(rec);
	return r;
}

static int cmp_ids(const void *a, const void *b) { return strcmp(a, b); }

int tr_idset_add(tr_idset *s, const char *id)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 1024;
		void *grown = realloc(s->v, cap * sizeof *s->v);
		if (!grown)
			return -1;
		s->v = grown;
		s->cap = cap;
	}
	snprintf(s->v[s->n++], sizeof s->v[0], "%s", id);
	return 0;
}

void tr_idset_sort(tr_idset *s)
{
	if (s->n)
		qsort(s->v, s->n, sizeof *s->v, cmp_ids);
}

int tr_idset_has(const tr_idset *s, const char *id)
{
	return s->n && bsearch(id, s->v, s->n, sizeof *s->v, cmp_ids) != NULL;
}

void tr_idset_free(tr_idset *s)
{
	free(s->v);
	memset(s, 0, sizeof *s);
}
