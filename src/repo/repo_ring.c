/* repo_ring.c - the keyring objects in storage: the keyring, its copy and
 * the copies beside backups, read and written raw (they are not encoded:
 * the keyring is what opens everything else). */
#include "config.h"
#include "repo/repo_internal.h"
#include "base/log.h"
#include "base/testhook.h"
#include "base/util.h"

#include <bearssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void tr_ring_hash(const char *text, size_t len, uint8_t out[32])
{
	br_sha256_context h;
	br_sha256_init(&h);
	br_sha256_update(&h, text, len);
	br_sha256_out(&h, out);
}

int tr_ring_fetch(tr_repo *r, const char *rel, char **text, size_t *len)
{
	char key[TR_KEY_MAX + 1];
	char *buf = malloc(TR_KEYRING_MAX + 1);
	if (!buf) {
		tr_repo_set_error(r, "out of memory");
		return TR_ENOMEM;
	}
	tr_membuf m = { buf, 0, TR_KEYRING_MAX, 0 };
	tr_repo_key(r, rel, key, sizeof key);
	tr_testhook_op();
	int rc = tr_repo_drv_get(r, key, tr_mem_write, &m);
	if (rc == TR_ECALLBACK) {
		tr_repo_set_error(r, "%s is larger than %d bytes: not a TotalRecall keyring", key, TR_KEYRING_MAX);
		rc = TR_REPO_ECORRUPT;
	}
	if (rc != TR_OK) {
		free(buf);
		return rc;
	}
	buf[m.len] = '\0';
	*text = buf;
	*len = m.len;
	return TR_OK;
}

int tr_ring_store(tr_repo *r, const char *rel, const char *text, size_t len, unsigned flags)
{
	char key[TR_KEY_MAX + 1];
	tr_membuf m = { (void *)text, len, len, 0 };
	tr_put_args a = { tr_mem_read, &m, (int64_t)len, flags, NULL };
	tr_repo_key(r, rel, key, sizeof key);
	tr_testhook_op();
	return tr_repo_drv_put(r, key, &a);
}

void tr_ring_cand_fill(tr_repo *r, tr_ring_cand *c, const char *name, const char *text, size_t len, char *note,
		       size_t notelen)
{
	char perr[256];
	memset(c, 0, sizeof *c);
	c->name = name;
	if (!text)
		return;
	c->present = 1;
	tr_ring_hash(text, len, c->hash);
	if (tr_keyring_parse(text, len, &c->ring, perr, sizeof perr) != 0) {
		snprintf(note, notelen, "%s is damaged: %s", name, perr);
		return;
	}
	if (c->ring.version >= 2 && strcmp(c->ring.repository, r->dbid) != 0) {
		snprintf(note, notelen, "%s is the keyring of database id %s, not of %s", name, c->ring.repository,
			 r->dbid);
		return;
	}
	c->parsed = 1;
}

static int stop_at_first(void *ctx, const tr_object_info *info)
{
	(void)info;
	*(int *)ctx = 1;
	return 1;
}

int tr_ring_nonempty(tr_repo *r, int *nonempty)
{
	*nonempty = 0;
	return tr_repo_list(r, "", stop_at_first, nonempty);
}

struct copies {
	char (*rels)[128];
	int n, cap, max;
};

/* Backup labels sort by time and listing is in ascending order: with a
 * limit, the oldest are dropped as newer ones come. */
static int collect_copy(void *ctx, const tr_object_info *info)
{
	struct copies *s = ctx;
	const char *k = info->key;
	size_t n = strlen(k);
	if (n < 16 || n >= 128 || strcmp(k + n - 8, "/keyring") != 0 || memchr(k + 8, '/', n - 16) != NULL)
		return 0;
	if (s->max && s->n == s->max) {
		memmove(s->rels, s->rels + 1, (size_t)(s->max - 1) * sizeof *s->rels);
		s->n--;
	}
	if (s->n == s->cap) {
		int cap = s->cap ? 2 * s->cap : 16;
		void *grown = realloc(s->rels, (size_t)cap * sizeof *s->rels);
		if (!grown)
			return 1;
		s->rels = grown;
		s->cap = cap;
	}
	snprintf(s->rels[s->n++], 128, "%s", k);
	return 0;
}

int tr_ring_backup_copies(tr_repo *r, char (**rels)[128], int *n, int max)
{
	struct copies s = { NULL, 0, 0, max };
	int rc = tr_repo_list(r, "backups/", collect_copy, &s);
	for (int i = 0; i < s.n / 2; i++) {  /* newest first */
		char t[128];
		memcpy(t, s.rels[i], 128);
		memcpy(s.rels[i], s.rels[s.n - 1 - i], 128);
		memcpy(s.rels[s.n - 1 - i], t, 128);
	}
	if (rc != TR_OK) {
		free(s.rels);
		s.rels = NULL;
		s.n = 0;
	}
	*rels = s.rels;
	*n = s.n;
	return rc;
}

int tr_repo_put_keyring_copy(tr_repo *r, const char *label)
{
	char rel[128];
	if (!r->ring_text) {
		tr_repo_set_error(r, "no keyring text to copy beside backup %s", label);
		return TR_EINVAL;
	}
	int rc = tr_repo_check_keyring(r);  /* the copy must be the stored keyring */
	snprintf(rel, sizeof rel, "backups/%s/keyring", label);
	return rc == TR_OK ? tr_ring_store(r, rel, r->ring_text, r->ring_len, 0) : rc;
}

int tr_repo_write_copies(tr_repo *r, const char *text, size_t len, char rels[][128], int nrels)
{
	uint8_t want[32];
	tr_ring_hash(text, len, want);
	for (int i = 0; i < nrels; i++) {
		char *have = NULL;
		size_t hlen = 0;
		uint8_t got[32];
		int rc = tr_ring_fetch(r, rels[i], &have, &hlen);
		if (rc == TR_OK)
			tr_ring_hash(have, hlen, got);
		free(have);
		if (rc == TR_OK && memcmp(got, want, 32) == 0)
			continue;
		if (rc != TR_OK && rc != TR_ENOENT && rc != TR_REPO_ECORRUPT)
			return rc;
		if ((rc = tr_ring_store(r, rels[i], text, len, 0)) != TR_OK)
			return rc;
		tr_info("rewrote %s%s with the current keyring", r->base, rels[i]);
	}
	return TR_OK;
}

/* --- verify --- */

static int report_copy(tr_repo *r, const char *rel, const uint8_t want[32], uint64_t gen,
		       void (*report)(void *, const char *), void *ctx)
{
	char *text = NULL, line[1400], note[400] = "";
	size_t len = 0;
	tr_ring_cand c;
	int rc = tr_ring_fetch(r, rel, &text, &len);
	if (rc != TR_OK && rc != TR_ENOENT && rc != TR_REPO_ECORRUPT)
		return rc;
	tr_ring_cand_fill(r, &c, rel, rc == TR_OK ? text : NULL, len, note, sizeof note);
	free(text);
	if (!c.present)
		snprintf(line, sizeof line, "missing keyring copy %s%s", r->base, rel);
	else if (!c.parsed)
		snprintf(line, sizeof line, "damaged keyring copy: %s", note);
	else if (memcmp(c.hash, want, 32) == 0)
		return 0;
	else
		snprintf(line, sizeof line, "keyring copy %s%s is generation %llu, not the current %llu "
			 "(`totalrecall init` rewrites it)", r->base, rel, (unsigned long long)c.ring.generation,
			 (unsigned long long)gen);
	report(ctx, line);
	return c.present && c.parsed ? 0 : 1;
}

int tr_repo_keyring_report(tr_repo *r, void (*report)(void *ctx, const char *line), void *ctx)
{
	char (*rels)[128], line[1400];
	int nrels, bad = 0;
	uint8_t want[32];
	tr_keyring ring;
	char perr[256];
	if (!r->ring_text || tr_keyring_parse(r->ring_text, r->ring_len, &ring, perr, sizeof perr) != 0)
		return TR_EINVAL;
	tr_ring_hash(r->ring_text, r->ring_len, want);
	for (const char *p = r->notices; *p;) {  /* what unlocking repaired */
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) : strlen(p);
		snprintf(line, sizeof line, "%.*s", (int)n, p);
		report(ctx, line);
		p += n + (nl ? 1 : 0);
	}
	const char *mains[] = { TR_RING_MAIN, TR_RING_COPY };
	for (int i = 0; i < 2; i++) {
		int rc = report_copy(r, mains[i], want, ring.generation, report, ctx);
		if (rc < 0)
			return rc;
		bad |= rc;
	}
	int rc = tr_ring_backup_copies(r, &rels, &nrels, 0);
	for (int i = 0; rc == TR_OK && i < nrels; i++)
		rc = report_copy(r, rels[i], want, ring.generation, report, ctx) < 0 ? TR_EIO : TR_OK;
	free(rels);
	return rc == TR_OK ? bad : rc;
}
