/* datadir.c - data directory walk with PostgreSQL's exclusions. */
#include "config.h"
#include "pg/datadir.h"
#include "base/log.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *const skip_contents[] = {
	"pg_wal", "pg_dynshmem", "pg_notify", "pg_replslot", "pg_serial", "pg_snapshots",
	"pg_stat_tmp", "pg_subtrans", NULL
};
static const char *const skip_files[] = {
	"postmaster.pid", "postmaster.opts", "backup_label", "tablespace_map", "backup_manifest",
	"postgresql.auto.conf.tmp", "current_logfiles.tmp", "recovery.signal", "standby.signal",
	"totalrecall_restore.conf", "totalrecall_restore.lock", NULL
};

static int in_list(const char *const *list, const char *s)
{
	for (; *list; list++)
		if (strcmp(*list, s) == 0)
			return 1;
	return 0;
}

/* t<digits>_<digits>[...]: a temporary relation's files. */
static int temp_relation(const char *name)
{
	const char *p = name;
	if (*p++ != 't' || !isdigit((unsigned char)*p))
		return 0;
	while (isdigit((unsigned char)*p))
		p++;
	return *p == '_' && isdigit((unsigned char)p[1]);
}

int tr_datadir_excluded(const char *dir_rel, const char *name, int is_dir)
{
	if (strncmp(name, "pgsql_tmp", 9) == 0 || temp_relation(name))
		return 1;
	if (strcmp(name, "pg_internal.init") == 0)
		return 1;
	if (*dir_rel == '\0') {
		if (!is_dir && in_list(skip_files, name))
			return 1;
		if (is_dir && strcmp(name, TR_SPOOL_DIRNAME) == 0)
			return 1;
	}
	/* Inside a skipped directory only pg_wal/archive_status survives. */
	if (in_list(skip_contents, dir_rel))
		return !(is_dir && strcmp(dir_rel, "pg_wal") == 0 && strcmp(name, "archive_status") == 0);
	if (strcmp(dir_rel, "pg_wal/archive_status") == 0)
		return 1;
	return 0;
}

/* Directories holding relation files: base/N and pg_tblspc/T/PG_x/N. */
static int database_dir(const char *rel)
{
	const char *p;
	if (strncmp(rel, "base/", 5) == 0)
		p = rel + 5;
	else if (strncmp(rel, "pg_tblspc/", 10) == 0 && (p = strchr(rel + 10, '/')) && (p = strchr(p + 1, '/')))
		p++;
	else
		return 0;
	for (; *p; p++)
		if (!isdigit((unsigned char)*p))
			return 0;
	return 1;
}

/* Relfilenode part of a relation file name ("16384", "16384_vm", "16384.2"). */
static size_t relnode_len(const char *name)
{
	size_t n = 0;
	while (isdigit((unsigned char)name[n]))
		n++;
	return n;
}

struct names {
	struct dirent **e;
	int n;
	const char **init;  /* names of the _init forks in this directory */
	int ninit;
};

/* Collects the init forks of a database directory (usually none). */
static void find_init_forks(struct names *all)
{
	all->init = NULL;
	all->ninit = 0;
	for (int i = 0; i < all->n; i++) {
		const char *o = all->e[i]->d_name;
		size_t n = relnode_len(o);
		if (n && strcmp(o + n, "_init") == 0) {
			const char **grown = realloc(all->init, (size_t)(all->ninit + 1) * sizeof *grown);
			if (!grown)
				continue;
			all->init = grown;
			all->init[all->ninit++] = o;
		}
	}
}

/* Is name a non-init fork of an unlogged relation (one with an _init fork)? */
static int unlogged_fork(const struct names *all, const char *name)
{
	size_t n = relnode_len(name);
	if (n == 0 || strncmp(name + n, "_init", 5) == 0)
		return 0;
	for (int i = 0; i < all->ninit; i++)
		if (relnode_len(all->init[i]) == n && strncmp(all->init[i], name, n) == 0)
			return 1;
	return 0;
}

/* Directories sort as if their names ended in '/', the byte order of
 * the paths of their contents; links as what they point to. */
static int cmp_entries(const void *pa, const void *pb)
{
	const struct dirent *a = *(const struct dirent *const *)pa, *b = *(const struct dirent *const *)pb;
	const unsigned char *x = (const unsigned char *)a->d_name, *y = (const unsigned char *)b->d_name;
	while (*x && *x == *y)
		x++, y++;
	unsigned cx = *x ? *x : (a->d_type == DT_DIR ? '/' : 0);
	unsigned cy = *y ? *y : (b->d_type == DT_DIR ? '/' : 0);
	return (int)cx - (int)cy;
}

/* Links and entries of unknown type get the type of what they lead to
 * (DT_DIR or DT_REG) for sorting; the walk itself uses lstat. */
static void sort_types(const char *dir, struct dirent **e, int n)
{
	char path[PATH_MAX];
	struct stat st;
	for (int i = 0; i < n; i++) {
		if (e[i]->d_type != DT_LNK && e[i]->d_type != DT_UNKNOWN)
			continue;
		snprintf(path, sizeof path, "%s/%s", dir, e[i]->d_name);
		e[i]->d_type = stat(path, &st) == 0 && S_ISDIR(st.st_mode) ? DT_DIR : DT_REG;
	}
}

#define MAX_DEPTH 128

struct walker {
	const char *root;
	tr_dd_fn fn;
	void *ctx;
	char *err;
	size_t errlen;
	struct { dev_t dev; ino_t ino; } path[MAX_DEPTH];  /* the directories being walked */
	int depth;
};

static int walk(struct walker *w, const char *rel);

/* A link outside pg_tblspc (a symlinked pg_wal, links the user made) is
 * recorded, and what it points to is backed up as if it lived at the
 * link: restore brings it back as a plain directory or file unless told
 * where to put it, so that a copy never writes into the original's
 * files.  A link to a directory being walked would never end. */
static int follow_link(struct walker *w, const char *path, const char *child, tr_dd_entry *e)
{
	struct stat st;
	int rc = w->fn(w->ctx, e);
	if (rc != 0)
		return rc;
	if (stat(path, &st) != 0) {
		tr_warn("backup: %s links to %s, which does not exist: restored as an empty directory", child,
			e->target);
		return 0;
	}
	if (S_ISREG(st.st_mode)) {
		tr_dd_entry f = { 'f', child, st.st_mode & 07777, st.st_size, st.st_mtime, NULL };
		return w->fn(w->ctx, &f);
	}
	if (!S_ISDIR(st.st_mode))
		return 0;
	for (int i = 0; i < w->depth; i++)
		if (w->path[i].dev == st.st_dev && w->path[i].ino == st.st_ino) {
			snprintf(w->err, w->errlen, "%s links to %s, a directory that contains the link: remove or "
				 "replace that link", path, e->target);
			return -1;
		}
	return walk(w, child);
}

static int visit(struct walker *w, const char *rel, const char *name, const struct names *all)
{
	char path[PATH_MAX], child[PATH_MAX], target[PATH_MAX];
	struct stat st;
	snprintf(child, sizeof child, "%s%s%s", rel, *rel ? "/" : "", name);
	snprintf(path, sizeof path, "%s/%s", w->root, child);
	if (lstat(path, &st) != 0) {
		if (errno == ENOENT)  /* dropped while we walk: fine, WAL replay knows */
			return 0;
		snprintf(w->err, w->errlen, "cannot stat %s: %s", path, strerror(errno));
		return -1;
	}
	int in_tblspc = strcmp(rel, "pg_tblspc") == 0;
	struct stat to;
	int is_dir = S_ISDIR(st.st_mode) ||
		     (S_ISLNK(st.st_mode) && (in_tblspc || (stat(path, &to) == 0 && S_ISDIR(to.st_mode))));
	if (tr_datadir_excluded(rel, name, is_dir) || (!is_dir && database_dir(rel) && unlogged_fork(all, name)))
		return 0;
	tr_dd_entry e = { 0, child, st.st_mode & 07777, st.st_size, st.st_mtime, NULL };
	if (S_ISLNK(st.st_mode)) {
		ssize_t n = readlink(path, target, sizeof target - 1);
		if (n < 0) {
			snprintf(w->err, w->errlen, "cannot read link %s: %s", path, strerror(errno));
			return -1;
		}
		target[n] = '\0';
		e.type = 'l';
		e.target = target;
		e.mode = 0777;
		if (!in_tblspc)
			return follow_link(w, path, child, &e);
		int rc = w->fn(w->ctx, &e);
		return rc ? rc : walk(w, child);
	}
	if (S_ISDIR(st.st_mode)) {
		e.type = 'd';
		int rc = w->fn(w->ctx, &e);
		return rc ? rc : walk(w, child);
	}
	if (!S_ISREG(st.st_mode))
		return 0;  /* sockets, fifos: nothing to back up */
	e.type = 'f';
	return w->fn(w->ctx, &e);
}

static int walk(struct walker *w, const char *rel)
{
	char path[PATH_MAX];
	struct names all;
	struct stat st;
	snprintf(path, sizeof path, "%s%s%s", w->root, *rel ? "/" : "", rel);
	all.n = scandir(path, &all.e, NULL, NULL);
	if (all.n < 0) {
		if (errno == ENOENT && *rel)
			return 0;
		snprintf(w->err, w->errlen, "cannot list %s: %s", path, strerror(errno));
		return -1;
	}
	sort_types(path, all.e, all.n);
	qsort(all.e, (size_t)all.n, sizeof *all.e, cmp_entries);
	if (w->depth == MAX_DEPTH || stat(path, &st) != 0) {
		snprintf(w->err, w->errlen, "cannot walk %s: %s", path, w->depth == MAX_DEPTH ? "nested too deep" :
			 strerror(errno));
		for (int i = 0; i < all.n; i++)
			free(all.e[i]);
		free(all.e);
		return -1;
	}
	w->path[w->depth].dev = st.st_dev;
	w->path[w->depth++].ino = st.st_ino;
	all.init = NULL;
	all.ninit = 0;
	if (database_dir(rel))
		find_init_forks(&all);
	int rc = 0;
	for (int i = 0; i < all.n && rc == 0; i++) {
		const char *name = all.e[i]->d_name;
		if (strcmp(name, ".") != 0 && strcmp(name, "..") != 0)
			rc = visit(w, rel, name, &all);
	}
	free(all.init);
	for (int i = 0; i < all.n; i++)
		free(all.e[i]);
	free(all.e);
	w->depth--;
	return rc;
}

int tr_datadir_walk(const char *root, tr_dd_fn fn, void *ctx, char *err, size_t errlen)
{
	struct walker *w = calloc(1, sizeof *w);
	if (!w) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	*w = (struct walker){ .root = root, .fn = fn, .ctx = ctx, .err = err, .errlen = errlen };
	int rc = walk(w, "");
	free(w);
	return rc;
}
