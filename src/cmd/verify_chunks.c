/*
 * verify_chunks.c - chunks: every reference points at a chunk that exists
 * and decodes to its id; chunks nobody references are noted.
 *
 * Works one slice of the id space at a time (chunkref.h): the chunks of the
 * slice are read from the listing, every manifest in scope is scanned for
 * references into the slice, then the chunks that need it are decoded on
 * the pool.  Memory stays within TR_CHUNKREF_BUDGET per pass.
 */
#include "config.h"
#include "cmd/verify.h"
#include "repo/backupset.h"
#include "repo/chunkref.h"
#include "base/log.h"
#include "base/util.h"

#include <stdlib.h>
#include <string.h>

struct centry {
	char id[66];
	unsigned char referenced, decode;
};

struct slice {
	struct centry *e;
	size_t n, cap;
};

static int cmp_entry(const void *a, const void *b)
{
	return strcmp(((const struct centry *)a)->id, ((const struct centry *)b)->id);
}

static struct centry *find(struct slice *s, const char *id)
{
	struct centry probe;
	snprintf(probe.id, sizeof probe.id, "%s", id);
	return s->n ? bsearch(&probe, s->e, s->n, sizeof *s->e, cmp_entry) : NULL;
}

static uint64_t count_chunks(tr_verify *v)
{
	char line[TR_VERIFY_LINE];
	uint64_t n = 0;
	rewind(v->listing);
	while (fgets(line, sizeof line, v->listing))
		n += line[0] == 'c';
	return n;
}

static int load_slice(tr_verify *v, unsigned pass, unsigned passes, struct slice *s)
{
	char line[TR_VERIFY_LINE], *key, kind;
	int64_t mtime, size;
	s->n = 0;
	rewind(v->listing);
	while (fgets(line, sizeof line, v->listing)) {
		if (line[0] != 'c' || tr_verify_parse_line(line, &kind, &mtime, &size, &key) != 0)
			continue;
		const char *id = tr_basename(key);
		if (tr_chunkref_slice(id, passes) != pass)
			continue;
		if (s->n == s->cap) {
			size_t cap = s->cap ? 2 * s->cap : 4096;
			void *grown = realloc(s->e, cap * sizeof *s->e);
			if (!grown) {
				snprintf(v->err, sizeof v->err, "out of memory");
				return -1;
			}
			s->e = grown;
			s->cap = cap;
		}
		struct centry *e = &s->e[s->n++];
		snprintf(e->id, sizeof e->id, "%s", id);
		e->referenced = 0;
		e->decode = tr_verify_needs_decode(v, key, mtime, size);
		if (!e->decode)
			v->skipped++;
	}
	if (s->n)  /* qsort(NULL, 0) is undefined */
		qsort(s->e, s->n, sizeof *s->e, cmp_entry);
	return 0;
}

struct ref_scan {
	tr_verify *v;
	struct tr_vbackup *b;
	struct slice *s;
	int damaged_pass;          /* second scan: report references to damaged chunks */
	char last[66];             /* a file that repeats a chunk is reported once */
	char last_path[256];
};

static int seen_here(struct ref_scan *r, const tr_mf_rec *file, const char *id)
{
	if (!strcmp(r->last, id) && !strncmp(r->last_path, file->path, sizeof r->last_path - 1))
		return 1;
	snprintf(r->last, sizeof r->last, "%s", id);
	snprintf(r->last_path, sizeof r->last_path, "%s", file->path);
	return 0;
}

static int on_ref(void *ctx, const tr_mf_rec *file, const tr_mf_rec *chunk)
{
	struct ref_scan *r = ctx;
	struct centry *e = find(r->s, chunk->chunk);
	char rel[128];
	if (r->damaged_pass) {
		tr_chunk_rel(chunk->chunk, rel, sizeof rel);
		const char *why = e ? tr_verify_damage(r->v, rel) : NULL;
		if (why && !seen_here(r, file, chunk->chunk)) {
			r->b->broken = 1;
			tr_verify_report(r->v, "damaged chunk %s of backup %s file %s: %s", chunk->chunk, r->b->label,
					 file->path, why);
		}
		return 0;
	}
	if (e) {
		e->referenced = 1;
	} else if (!seen_here(r, file, chunk->chunk)) {
		r->b->broken = 1;
		tr_verify_report(r->v, "missing chunk %s of backup %s file %s", chunk->chunk, r->b->label, file->path);
	}
	return 0;
}

static int scan_refs(tr_verify *v, unsigned pass, unsigned passes, struct slice *s, int damaged_pass)
{
	for (int i = 0; i < v->nb; i++) {
		struct ref_scan r = { v, &v->b[i], s, damaged_pass, "", "" };
		if (!v->b[i].mf)
			continue;
		if (tr_chunkref_scan(v->b[i].mf, pass, passes, on_ref, &r, v->err, sizeof v->err) != 0)
			return -1;
	}
	return 0;
}

static int decode_slice(tr_verify *v, struct slice *s, int *damaged)
{
	char rel[128];
	for (size_t i = 0; i < s->n; i++) {
		if (!s->e[i].decode || (v->only && !s->e[i].referenced))
			continue;
		tr_chunk_rel(s->e[i].id, rel, sizeof rel);
		if (tr_verify_submit(v, 'c', rel) != 0)
			return -1;
	}
	if (tr_verify_wait(v) != 0)
		return -1;
	*damaged = 0;
	for (size_t i = 0; i < s->n; i++) {
		tr_chunk_rel(s->e[i].id, rel, sizeof rel);
		*damaged |= tr_verify_damage(v, rel) != NULL;
	}
	return 0;
}

/* Damaged chunks nobody references, and unreferenced chunks. */
static void report_unreferenced(tr_verify *v, struct slice *s)
{
	char rel[128];
	for (size_t i = 0; i < s->n; i++) {
		if (s->e[i].referenced)
			continue;
		tr_chunk_rel(s->e[i].id, rel, sizeof rel);
		const char *why = tr_verify_damage(v, rel);
		if (why)
			tr_verify_report(v, "damaged chunk %s, referenced by no backup: %s", s->e[i].id, why);
		else if (!v->only)
			tr_verify_report(v, "unreferenced chunk %s (informational: expire removes it)", s->e[i].id);
	}
}

int tr_verify_chunks(tr_verify *v)
{
	struct slice s = { NULL, 0, 0 };
	unsigned passes = tr_chunkref_passes(count_chunks(v), sizeof(struct centry));
	int rc = 0;
	tr_debug("verify: chunks in %u pass%s", passes, passes == 1 ? "" : "es");
	for (unsigned p = 0; p < passes && rc == 0; p++) {
		int damaged = 0;
		rc = load_slice(v, p, passes, &s);
		if (rc == 0)
			rc = scan_refs(v, p, passes, &s, 0);
		if (rc == 0)
			rc = decode_slice(v, &s, &damaged);
		if (rc == 0 && damaged)
			rc = scan_refs(v, p, passes, &s, 1);
		if (rc == 0)
			report_unreferenced(v, &s);
	}
	free(s.e);
	return rc;
}
