/* verify_state.c - verify's incremental state (see verify_state.h). */
#include "config.h"
#include "repo/verify_state.h"
#include "base/util.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define STATE_MAGIC "totalrecall-verify-state 1"

void tr_vstate_path(const char *state_dir, const char *repo_hash, char *out, size_t outlen)
{
	/* Named by the hash of the repository's identity (tr_repo_id_hash),
	 * as the rest of its local state. */
	snprintf(out, outlen, "%s/verify/%s.state", state_dir, repo_hash);
}

static int add_recent(tr_vstate *s, const char *key, int64_t mtime, int64_t size)
{
	if (s->nrecent == s->caprecent) {
		size_t cap = s->caprecent ? 2 * s->caprecent : 256;
		void *grown = realloc(s->recent, cap * sizeof *s->recent);
		if (!grown)
			return -1;
		s->recent = grown;
		s->caprecent = cap;
	}
	char *k = strdup(key);
	if (!k)
		return -1;
	s->recent[s->nrecent++] = (struct tr_vrecent){ k, mtime, size };
	return 0;
}

static int add_damaged(tr_vstate *s, const char *key)
{
	if (s->ndamaged == s->capdamaged) {
		size_t cap = s->capdamaged ? 2 * s->capdamaged : 16;
		void *grown = realloc(s->damaged, cap * sizeof *s->damaged);
		if (!grown)
			return -1;
		s->damaged = grown;
		s->capdamaged = cap;
	}
	return (s->damaged[s->ndamaged] = strdup(key)) ? (s->ndamaged++, 0) : -1;
}

static int cmp_recent(const void *a, const void *b)
{
	return strcmp(((const struct tr_vrecent *)a)->key, ((const struct tr_vrecent *)b)->key);
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* One line of the state; -1 if malformed. */
static int load_line(tr_vstate *s, char *line)
{
	long long a, b;
	int off = 0;
	if (sscanf(line, "watermark %lld", &a) == 1)
		s->watermark = a;
	else if (sscanf(line, "margin %lld", &a) == 1)
		s->margin = a;
	else if (sscanf(line, "r %lld %lld %n", &a, &b, &off) == 2 && off > 0 && line[off])
		return add_recent(s, line + off, a, b);
	else if (line[0] == 'd' && line[1] == ' ' && line[2])
		return add_damaged(s, line + 2);
	else
		return -1;
	return 0;
}

void tr_vstate_load(tr_vstate *s, const char *path)
{
	char line[1200];
	memset(s, 0, sizeof *s);
	FILE *f = fopen(path, "r");
	if (!f)
		return;
	int ok = fgets(line, sizeof line, f) && strcmp(line, STATE_MAGIC "\n") == 0;
	while (ok && fgets(line, sizeof line, f)) {
		size_t n = strlen(line);
		ok = n > 0 && line[n - 1] == '\n';
		if (ok) {
			line[n - 1] = '\0';
			ok = load_line(s, line) == 0;
		}
	}
	fclose(f);
	if (!ok || s->watermark <= 0) {
		tr_vstate_free(s);  /* an unusable state means a full run */
		return;
	}
	if (s->nrecent)  /* qsort(NULL, 0) is undefined */
		qsort(s->recent, s->nrecent, sizeof *s->recent, cmp_recent);
	if (s->ndamaged)
		qsort(s->damaged, s->ndamaged, sizeof *s->damaged, cmp_str);
	s->valid = 1;
}

int tr_vstate_was_damaged(const tr_vstate *s, const char *key)
{
	return s->ndamaged && bsearch(&key, s->damaged, s->ndamaged, sizeof *s->damaged, cmp_str) != NULL;
}

int tr_vstate_verified(const tr_vstate *s, const char *key, int64_t mtime, int64_t size)
{
	if (!s->valid || mtime <= 0 || tr_vstate_was_damaged(s, key))
		return 0;  /* an object of unknown age (driver.h, "Times") is verified every time */
	if (mtime < s->watermark - s->margin)
		return 1;
	struct tr_vrecent probe = { (char *)key, 0, 0 };
	const struct tr_vrecent *r =
		s->nrecent ? bsearch(&probe, s->recent, s->nrecent, sizeof *s->recent, cmp_recent) : NULL;
	return r && r->mtime == mtime && r->size == size;
}

void tr_vstate_free(tr_vstate *s)
{
	for (size_t i = 0; i < s->nrecent; i++)
		free(s->recent[i].key);
	for (size_t i = 0; i < s->ndamaged; i++)
		free(s->damaged[i]);
	free(s->recent);
	free(s->damaged);
	memset(s, 0, sizeof *s);
}

int tr_vstate_begin(tr_vstate_writer *w, const char *path, int64_t watermark, int64_t margin)
{
	char dir[4400];
	snprintf(w->path, sizeof w->path, "%s", path);
	w->f = NULL;
	tr_dirname(path, dir, sizeof dir);
	if (tr_mkdirs(dir, 0700) != 0 || tr_atomic_open(&w->a, path, 0600) != 0)
		return -1;
	snprintf(w->tmp, sizeof w->tmp, "%s/%s", dir, w->a.tmp);
	int fd = dup(w->a.fd);
	if (fd < 0 || !(w->f = fdopen(fd, "w"))) {
		if (fd >= 0)
			close(fd);
		tr_atomic_abort(&w->a);
		return -1;
	}
	fprintf(w->f, STATE_MAGIC "\nwatermark %" PRId64 "\nmargin %" PRId64 "\n", watermark, margin);
	return 0;
}

void tr_vstate_recent(tr_vstate_writer *w, const char *key, int64_t mtime, int64_t size)
{
	fprintf(w->f, "r %" PRId64 " %" PRId64 " %s\n", mtime, size, key);
}

void tr_vstate_damaged(tr_vstate_writer *w, const char *key)
{
	fprintf(w->f, "d %s\n", key);
}

/* The lines went through the duplicate; the atomic file fsyncs, renames
 * and fsyncs the directory, or removes the temporary file. */
int tr_vstate_commit(tr_vstate_writer *w)
{
	int rc = fflush(w->f) == 0 && !ferror(w->f) ? 0 : -1;
	if (fclose(w->f) != 0)
		rc = -1;
	w->f = NULL;
	if (rc == 0)
		return tr_atomic_commit(&w->a, 0);
	tr_atomic_abort(&w->a);
	return rc;
}

void tr_vstate_abort(tr_vstate_writer *w)
{
	if (w->f)
		fclose(w->f);
	w->f = NULL;
	tr_atomic_abort(&w->a);
}
