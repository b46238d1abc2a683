/* section.c - history section objects in storage (see section.h). */
#include "config.h"
#include "repo/section.h"
#include "base/log.h"
#include "base/util.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SECTION_TEXT_MAX 4096
#define SECTION_FORMAT "totalrecall-section 1"

/* --- the object's text --- */

static int format_section(const tr_section *s, char *out, size_t outlen)
{
	int n = snprintf(out, outlen,
			 SECTION_FORMAT "\nsection %" PRIu32 "\nsystem-identifier %" PRIu64 "\npg-version %d\n"
			 "created %" PRId64 "\norigin %s\n",
			 s->n, s->id.sysid, s->id.pg_major, s->created, s->origin);
	return n > 0 && (size_t)n < outlen ? n : -1;
}

/* One "key value" line: 1 if key matched (value in *v). */
static int line_value(const char *line, const char *key, const char **v)
{
	size_t kl = strlen(key);
	if (strncmp(line, key, kl) != 0 || line[kl] != ' ')
		return 0;
	*v = line + kl + 1;
	return 1;
}

static int parse_u64(const char *v, uint64_t *out)
{
	char *end;
	if (*v < '0' || *v > '9')
		return -1;
	*out = strtoull(v, &end, 10);
	return *end ? -1 : 0;
}

/* Parses text (NUL-terminated, lines end in '\n') as section n. */
static int parse_section(uint32_t n, char *text, tr_section *s, char *why, size_t whylen)
{
	uint64_t num = 0, sysid = 0, major = 0, created = 0;
	int have = 0;
	char *save = NULL;
	memset(s, 0, sizeof *s);
	for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save), have |= 1) {
		const char *v;
		if (!(have & 1) && strcmp(line, SECTION_FORMAT) != 0)
			break;
		if (line_value(line, "section", &v))
			have |= parse_u64(v, &num) == 0 ? 2 : 0;
		else if (line_value(line, "system-identifier", &v))
			have |= parse_u64(v, &sysid) == 0 ? 4 : 0;
		else if (line_value(line, "pg-version", &v))
			have |= parse_u64(v, &major) == 0 ? 8 : 0;
		else if (line_value(line, "created", &v))
			parse_u64(v, &created);
		else if (line_value(line, "origin", &v))
			snprintf(s->origin, sizeof s->origin, "%s", v);
	}
	if (have != 15 || sysid == 0 || major < 10 || major > 99) {
		snprintf(why, whylen, "not a history section (%s)", !(have & 1) ? "no \"" SECTION_FORMAT "\" line"
			 : "a required line is missing or malformed");
		return -1;
	}
	if (num != n) {
		snprintf(why, whylen, "it says it is section %" PRIu64, num);
		return -1;
	}
	s->n = n;
	s->id.sysid = sysid;
	s->id.pg_major = (int)major;
	s->created = (int64_t)created;
	return 0;
}

/* --- storage --- */

static void section_rel(uint32_t n, char *out, size_t outlen)
{
	snprintf(out, outlen, "sections/%" PRIu32, n);
}

/* "sections/<N>", N decimal without a leading zero: N, else 0. */
static uint32_t listed_number(const char *key)
{
	const char *p = key + strlen("sections/");
	char *end;
	if (strncmp(key, "sections/", 9) != 0 || *p < '1' || *p > '9')
		return 0;
	unsigned long v = strtoul(p, &end, 10);
	return *end || v > TR_SECTION_MAX ? 0 : (uint32_t)v;
}

struct listed {
	uint8_t seen[TR_SECTION_MAX + 1];
	uint32_t max;
};

static int note_listed(void *ctx, const tr_object_info *info)
{
	struct listed *l = ctx;
	uint32_t n = listed_number(info->key);
	if (n) {
		l->seen[n] = 1;
		if (n > l->max)
			l->max = n;
	}
	return 0;
}

/* GETs and parses section n.  TR_OK (s->damaged tells) or a storage status. */
static int fetch_section(tr_repo *r, uint32_t n, tr_section *s)
{
	char rel[32], text[SECTION_TEXT_MAX + 1], why[300];
	tr_membuf m = { text, 0, SECTION_TEXT_MAX, 0 };
	section_rel(n, rel, sizeof rel);
	int rc = tr_repo_get(r, rel, tr_mem_write, &m, NULL);
	if (rc == TR_OK) {
		text[m.len] = '\0';
		if (parse_section(n, text, s, why, sizeof why) == 0)
			return TR_OK;
		snprintf(s->why, sizeof s->why, "%s%s: %s", tr_repo_base(r), rel, why);
	} else if (rc == TR_REPO_ECORRUPT || rc == TR_REPO_EKEY || rc == TR_ECALLBACK) {
		memset(s, 0, sizeof *s);
		snprintf(s->why, sizeof s->why, "%s", rc == TR_ECALLBACK ? "larger than any history section" : tr_repo_error(r));
	} else if (rc == TR_ENOENT) {
		memset(s, 0, sizeof *s);
		snprintf(s->why, sizeof s->why, "%s%s was listed but is gone", tr_repo_base(r), rel);
	} else {
		return rc;
	}
	s->n = n;
	s->damaged = 1;
	return TR_OK;
}

static const tr_section *known_section(const tr_sections *known, uint32_t n)
{
	return known && (int)n <= known->n && !known->v[n - 1].damaged ? &known->v[n - 1] : NULL;
}

int tr_sections_load(tr_repo *r, const tr_sections *known, tr_sections *s)
{
	struct listed *l = calloc(1, sizeof *l);
	int rc = l ? tr_repo_list(r, "sections/", note_listed, l) : TR_ENOMEM;
	memset(s, 0, sizeof *s);
	if (rc == TR_OK && l->max && !(s->v = calloc(l->max, sizeof *s->v)))
		rc = TR_ENOMEM;
	for (uint32_t n = 1; rc == TR_OK && l && n <= l->max; n++) {
		tr_section *x = &s->v[n - 1];
		const tr_section *k = known_section(known, n);
		if (!l->seen[n]) {
			x->n = n;
			x->damaged = 1;
			snprintf(x->why, sizeof x->why, "%ssections/%" PRIu32 " is missing (section %" PRIu32 " exists)", tr_repo_base(r),
				 n, l->max);
		} else if (k) {
			*x = *k;
		} else {
			rc = fetch_section(r, n, x);
		}
	}
	if (rc == TR_ENOMEM)
		tr_repo_set_error(r, "out of memory");
	if (rc == TR_OK)
		s->n = (int)(l ? l->max : 0);
	else
		tr_sections_free(s);
	free(l);
	return rc;
}

void tr_sections_free(tr_sections *s)
{
	free(s->v);
	memset(s, 0, sizeof *s);
}

int tr_sections_copy(const tr_sections *from, tr_sections *to)
{
	memset(to, 0, sizeof *to);
	if (!from->n)
		return 0;
	if (!(to->v = malloc((size_t)from->n * sizeof *to->v)))
		return -1;
	memcpy(to->v, from->v, (size_t)from->n * sizeof *to->v);
	to->n = from->n;
	return 0;
}

const tr_section *tr_sections_current(const tr_sections *s)
{
	return s->n ? &s->v[s->n - 1] : NULL;
}

const tr_section *tr_sections_by_sysid(const tr_sections *s, uint64_t sysid)
{
	for (int i = 0; i < s->n; i++)
		if (!s->v[i].damaged && s->v[i].id.sysid == sysid)
			return &s->v[i];
	return NULL;
}

const tr_section *tr_sections_damaged(const tr_sections *s)
{
	for (int i = 0; i < s->n; i++)
		if (s->v[i].damaged)
			return &s->v[i];
	return NULL;
}

int tr_section_create(tr_repo *r, uint32_t n, const tr_cluster_id *id, const char *origin, tr_section *out)
{
	char rel[32], text[SECTION_TEXT_MAX];
	tr_section s;
	memset(&s, 0, sizeof s);
	s.n = n;
	s.id = *id;
	s.created = (int64_t)time(NULL);
	snprintf(s.origin, sizeof s.origin, "%s", origin);
	int len = format_section(&s, text, sizeof text);
	if (len < 0) {
		tr_repo_set_error(r, "section %" PRIu32 ": its text is too long", n);
		return TR_EINVAL;
	}
	section_rel(n, rel, sizeof rel);
	tr_membuf src = { text, (size_t)len, (size_t)len, 0 };
	int rc = tr_repo_put(r, rel, tr_mem_read, &src, TR_PUT_IF_ABSENT, NULL, NULL);
	if (rc != TR_OK && rc != TR_EEXIST)
		return rc;
	/* Read back: the one stored is the truth, whoever wrote it (and on a
	 * store without an atomic put-if-absent, the last of two writers). */
	rc = fetch_section(r, n, out);
	if (rc != TR_OK)
		return rc;
	if (out->damaged) {
		tr_repo_set_error(r, "%s", out->why);
		return TR_REPO_ECORRUPT;
	}
	return tr_cluster_id_equal(&out->id, id) ? TR_OK : TR_EEXIST;
}

void tr_section_describe(const tr_section *s, char *out, size_t outlen)
{
	if (s->damaged)
		snprintf(out, outlen, "history section %" PRIu32 " (unreadable)", s->n);
	else
		snprintf(out, outlen, "system identifier %" PRIu64 " (PostgreSQL %d, history section %" PRIu32 ")",
			 s->id.sysid, s->id.pg_major, s->n);
}

uint32_t tr_section_of_backup(const tr_sections *s, const tr_manifest_hdr *h)
{
	char *end;
	uint64_t sysid = strtoull(h->system_id, &end, 10);
	const tr_section *x = *end ? NULL : tr_sections_by_sysid(s, sysid);
	if (x)
		return x->n;
	return tr_sections_damaged(s) ? 0 : 1;
}

void tr_section_wal_prefix(uint32_t n, char out[24])
{
	if (n <= 1)
		snprintf(out, 24, "wal/");
	else
		snprintf(out, 24, "wal-%u/", (unsigned)n);
}

uint32_t tr_section_of_key(const char *key)
{
	if (strncmp(key, "wal/", 4) == 0)
		return 1;
	if (strncmp(key, "wal-", 4) != 0 || key[4] < '1' || key[4] > '9')
		return 0;
	char *end;
	unsigned long n = strtoul(key + 4, &end, 10);
	return *end == '/' && n >= 2 && n <= TR_SECTION_MAX ? (uint32_t)n : 0;
}
