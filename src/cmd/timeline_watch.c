/*
 * timeline_watch.c - archive-put's watch for diverged timelines (see
 * archive.h, tr_timeline_watch).
 *
 * The history files of the repository are kept in a small cache in the
 * state directory (<state-dir>/timelines/<repository>/histories, and
 * histories-<N> for history section N >= 2, section.h): the
 * ancestors of every timeline seen, the segment size, and when the
 * repository was last probed.  New history files are probed for at most
 * every PROBE_EVERY seconds, the way PostgreSQL finds the newest timeline
 * (one GET of <next>.history, until two in a row are missing), so
 * archiving pays one small request every few seconds at most.  A history
 * file archived from this host is added at once.
 */
#include "config.h"
#include "cmd/archive.h"
#include "base/atomicfile.h"
#include "repo/timeline.h"
#include "base/log.h"
#include "pg/pgconn.h"
#include "base/metric.h"
#include "base/util.h"
#include "pg/walname.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define PROBE_EVERY 10
#define MAX_ENTRIES 65536

struct wentry {
	uint32_t tli, anc;   /* timeline tli's history leaves anc ... */
	uint64_t end;        /* ... at this LSN */
};

struct watch {
	char path[PATH_MAX];
	uint32_t next;       /* the first timeline whose history file was not found */
	uint64_t seg_size;
	int64_t probed;
	struct wentry *e;
	int n;
};

static void load(struct watch *w)
{
	char *buf, *save = NULL;
	size_t len;
	w->next = 2;
	if (tr_read_small_file(w->path, 4 * 1024 * 1024, &buf, &len) != 0)
		return;
	for (char *line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		unsigned tli, anc;
		unsigned long long a, b;
		if (sscanf(line, "next %u", &tli) == 1 && tli >= 2)
			w->next = tli;
		else if (sscanf(line, "seg-size %llu", &a) == 1)
			w->seg_size = a;
		else if (sscanf(line, "probed %llu", &a) == 1)
			w->probed = (int64_t)a;
		else if (sscanf(line, "h %u %u %llx", &tli, &anc, &b) == 3 && w->n < MAX_ENTRIES) {
			struct wentry *grown = realloc(w->e, (size_t)(w->n + 1) * sizeof *grown);
			if (!grown)
				break;
			w->e = grown;
			w->e[w->n++] = (struct wentry){ tli, anc, b };
		}
	}
	free(buf);
}

/* Through an atomic file (atomicfile.h): readers see one whole file. */
static void save(const struct watch *w)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	if (!f)
		return;
	fprintf(f, "next %u\nseg-size %" PRIu64 "\nprobed %" PRId64 "\n", w->next, w->seg_size, w->probed);
	for (int i = 0; i < w->n; i++)
		fprintf(f, "h %u %u %" PRIx64 "\n", w->e[i].tli, w->e[i].anc, w->e[i].end);
	if (fclose(f) == 0 && tr_atomic_write_file(w->path, text, len, 0600, 0) != 0)
		tr_debug("timeline watch: cannot write %s: %s", w->path, strerror(errno));
	free(text);
}

static int known(const struct watch *w, uint32_t tli)
{
	for (int i = 0; i < w->n; i++)
		if (w->e[i].tli == tli)
			return 1;
	return 0;
}

static void add(struct watch *w, const tr_timeline *t)
{
	if (known(w, t->tli))
		return;
	for (int a = 0; a < t->nanc && w->n < MAX_ENTRIES; a++) {
		struct wentry *grown = realloc(w->e, (size_t)(w->n + 1) * sizeof *grown);
		if (!grown)
			return;
		w->e = grown;
		w->e[w->n++] = (struct wentry){ t->tli, t->anc[a].tli, t->anc[a].end };
	}
	if (t->tli >= w->next)
		w->next = t->tli + 1;
}

/* GETs <next>.history and on, until two in a row are missing. */
static void probe(tr_repo *r, struct watch *w)
{
	enum { HISTORY_MAX = 65536 };
	tr_membuf text = { malloc(HISTORY_MAX + 1), 0, HISTORY_MAX, 0 };
	int misses = 0;
	for (uint32_t tli = w->next; text.data && misses < 2; tli++) {
		char rel[64];
		tr_timeline t;
		snprintf(rel, sizeof rel, "%s%08X.history", tr_repo_wal_prefix(r), tli);
		text.len = 0;
		int rc = tr_repo_get(r, rel, tr_mem_write, &text, NULL);
		if (rc == TR_ENOENT) {
			misses++;
			continue;
		}
		if (rc != TR_OK)
			break;   /* tried again at the next probe */
		misses = 0;
		((char *)text.data)[text.len] = '\0';
		if (tr_timeline_parse(tli, text.data, &t) == 0)
			add(w, &t);
		free(t.anc);
	}
	free(text.data);
	w->probed = (int64_t)time(NULL);
}

/* A warning in PostgreSQL's log, and a metrics record a monitor can count. */
static void report(const char *name, const char *msg)
{
	tr_warn("%s", msg);
	tr_metric_now("timeline-divergence", name, "warning", msg);
}

/* A segment of timeline p stored at or after the fork of a child. */
static void check_segment(tr_repo *r, const struct watch *w, const char *name)
{
	unsigned tli, log, seg;
	char msg[512], fork[24];
	if (!w->seg_size || sscanf(name, "%8X%8X%8X", &tli, &log, &seg) != 3)
		return;
	uint64_t start = (uint64_t)log << 32 | (uint64_t)seg * w->seg_size;
	for (int i = 0; i < w->n; i++)
		if (w->e[i].anc == tli && start >= w->e[i].end) {
			tr_lsn_format(w->e[i].end, fork);
			snprintf(msg, sizeof msg, "archive-put %s: timeline %u is archived past %s, where timeline %u forked "
				 "from it: the repository now holds diverged histories, and restore will ask which one to "
				 "follow (--target-timeline; see totalrecall list)", name, tli, fork, w->e[i].tli);
			report(name, msg);
		}
}

/* A new timeline whose parent is already archived past its fork. */
static void check_history(tr_repo *r, struct watch *w, const char *path, const char *name)
{
	char *text, rel[64], seg[25], msg[512], fork[24];
	size_t len;
	tr_timeline t;
	unsigned tli;
	tr_object_info info;
	if (sscanf(name, "%8X", &tli) != 1 || tr_read_small_file(path, 65536, &text, &len) != 0)
		return;
	if (tr_timeline_parse(tli, text, &t) == 0 && t.nanc) {
		add(w, &t);
		const tr_tl_anc *parent = &t.anc[t.nanc - 1];
		uint64_t first = w->seg_size ? (parent->end + w->seg_size - 1) / w->seg_size * w->seg_size : 0;
		tr_wal_file_name(parent->tli, first, w->seg_size ? w->seg_size : 1, seg);
		if (w->seg_size && tr_repo_wal_rel(r, seg, rel, sizeof rel) == 0 && tr_repo_head(r, rel, &info) == TR_OK) {
			tr_lsn_format(parent->end, fork);
			snprintf(msg, sizeof msg, "archive-put %s: timeline %u forks from timeline %u at %s, which is already "
				 "archived past it (%s): the repository now holds diverged histories, and restore will ask "
				 "which one to follow (--target-timeline; see totalrecall list)", name, tli, parent->tli, fork,
				 seg);
			report(name, msg);
		}
	}
	free(t.anc);
	free(text);
}

/* The segment size, from a segment archive-put just read. */
static void learn_seg_size(struct watch *w, const char *path)
{
	struct stat st;
	if (stat(path, &st) == 0 && S_ISREG(st.st_mode) && st.st_size >= 1024 * 1024 &&
	    st.st_size <= 1024 * 1024 * 1024 && !(st.st_size & (st.st_size - 1)))
		w->seg_size = (uint64_t)st.st_size;
}

void tr_timeline_watch(tr_repo *r, const char *path, const char *name)
{
	struct watch w;
	char dir[PATH_MAX];
	int kind = tr_wal_kind(name);
	if (kind != TR_WAL_SEGMENT && kind != TR_WAL_HISTORY)
		return;
	memset(&w, 0, sizeof w);
	/* One cache per history section: each has its own timelines. */
	char file[32] = "histories";
	if (tr_repo_section(r) > 1)
		snprintf(file, sizeof file, "histories-%u", (unsigned)tr_repo_section(r));
	if (tr_repo_local_dir(r, "timelines", dir, sizeof dir) != 0 ||
	    (size_t)snprintf(w.path, sizeof w.path, "%s/%s", dir, file) >= sizeof w.path) {
		tr_debug("timeline watch: no state directory: %s", strerror(errno));
		return;
	}
	load(&w);
	if (kind == TR_WAL_SEGMENT)
		learn_seg_size(&w, path);
	if (time(NULL) - w.probed >= PROBE_EVERY || w.probed > time(NULL))
		probe(r, &w);
	if (kind == TR_WAL_SEGMENT)
		check_segment(r, &w, name);
	else
		check_history(r, &w, path, name);
	save(&w);
	free(w.e);
}
