/* chunkcheck.c - the chunks a backup stores again (see chunkcheck.h). */
#include "config.h"
#include "cmd/chunkcheck.h"
#include "repo/backupset.h"
#include "repo/tmpobj.h"
#include "base/util.h"
#include "repo/verify_state.h"

#include <stdlib.h>
#include <string.h>

/* The chunks verify found damaged, from its state on this host. */
static int add_damaged(tr_repo *r, tr_idset *out, uint64_t *n)
{
	char path[4400];
	tr_vstate vs;
	tr_vstate_path(tr_repo_settings_of(r)->state_dir, tr_repo_hash(r), path, sizeof path);
	tr_vstate_load(&vs, path);
	int rc = 0;
	for (size_t i = 0; rc == 0 && i < vs.ndamaged; i++) {
		const char *id = tr_basename(vs.damaged[i]);
		if (strncmp(vs.damaged[i], "chunks/", 7) == 0 && id[0] == 'c' && strlen(id) == 65) {
			rc = tr_idset_add(out, id);
			++*n;
		}
	}
	tr_vstate_free(&vs);
	return rc;
}

/* --- the listing of chunks/, one id a line in a temporary file --- */

struct listing {
	FILE *f;
	uint64_t n;
	int failed;
};

static int list_one(void *ctx, const tr_object_info *info)
{
	struct listing *l = ctx;
	const char *id = tr_basename(info->key);
	if (id[0] != 'c' || strlen(id) != 65)
		return 0;
	if (fprintf(l->f, "%s\n", id) < 0) {
		l->failed = 1;
		return 1;
	}
	l->n++;
	return 0;
}

static int load_present(FILE *f, unsigned pass, unsigned passes, tr_idset *present)
{
	char line[80];
	present->n = 0;
	rewind(f);
	while (fgets(line, sizeof line, f)) {
		line[strcspn(line, "\n")] = '\0';
		if (tr_chunkref_slice(line, passes) == pass && tr_idset_add(present, line) != 0)
			return -1;
	}
	tr_idset_sort(present);
	return 0;
}

struct missing_scan {
	const tr_idset *present;
	tr_idset *out;
	uint64_t found;
};

static int check_ref(void *ctx, const tr_mf_rec *file, const tr_mf_rec *chunk)
{
	struct missing_scan *m = ctx;
	(void)file;
	if (tr_idset_has(m->present, chunk->chunk))
		return 0;
	if (++m->found > TR_CHUNKCHECK_MAX)
		return 1;  /* too many: the caller gives up on the previous manifest */
	return tr_idset_add(m->out, chunk->chunk) != 0;
}

/* Sorts and drops duplicates (a chunk several files hold). */
static void sort_unique(tr_idset *s)
{
	size_t w = 0;
	tr_idset_sort(s);
	for (size_t i = 0; i < s->n; i++)
		if (w == 0 || strcmp(s->v[w - 1], s->v[i]) != 0)
			memmove(s->v[w++], s->v[i], sizeof s->v[0]);
	s->n = w;
}

/* The chunks prev references that storage does not hold. */
static int add_missing(tr_repo *r, FILE *prev, tr_idset *out, int *overflow, char *err, size_t errlen)
{
	struct listing l = { tr_repo_tmpfile(r), 0, 0 };
	tr_idset present = { NULL, 0, 0 };
	int rc = 0;
	if (!l.f) {
		snprintf(err, errlen, "cannot create a temporary file in the state directory");
		return -1;
	}
	if (tr_repo_list(r, "chunks/", list_one, &l) != TR_OK || l.failed || fflush(l.f) != 0) {
		snprintf(err, errlen, "listing chunks/: %s", l.failed ? "cannot write a temporary file" : tr_repo_error(r));
		rc = -1;
	}
	unsigned passes = tr_chunkref_passes(l.n, sizeof present.v[0]);
	struct missing_scan m = { &present, out, 0 };
	for (unsigned p = 0; rc == 0 && p < passes && !*overflow; p++) {
		int s = load_present(l.f, p, passes, &present);
		if (s == 0)
			s = tr_chunkref_scan(prev, p, passes, check_ref, &m, err, errlen);
		if (s == 1 && m.found > TR_CHUNKCHECK_MAX)
			*overflow = 1;
		else if (s != 0) {
			if (s == 1 || !*err)
				snprintf(err, errlen, "out of memory");
			rc = -1;
		}
	}
	tr_idset_free(&present);
	fclose(l.f);
	return rc;
}

int tr_chunkcheck(tr_repo *r, FILE *prev, tr_idset *out, int *drop_prev, uint64_t *missing, uint64_t *damaged,
		  char *err, size_t errlen)
{
	*drop_prev = 0;
	*missing = *damaged = 0;
	err[0] = '\0';
	if (prev && add_missing(r, prev, out, drop_prev, err, errlen) != 0)
		return -1;
	sort_unique(out);
	*missing = *drop_prev ? TR_CHUNKCHECK_MAX : out->n;
	if (*drop_prev)
		out->n = 0;  /* every chunk goes through put-if-absent: the missing ones get stored */
	if (add_damaged(r, out, damaged) != 0) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	sort_unique(out);
	return 0;
}
