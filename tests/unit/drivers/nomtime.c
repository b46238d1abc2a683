/*
 * nomtime.c - tests only: the fs driver of the build tree, named
 * "nomtime", reporting every mtime as 0: a storage that does not tell
 * when an object was written (driver.h, "Times").  The core must then
 * keep what it would remove for its age, never break a lock for its age,
 * and verify every object again (test_retention.sh, test_verify.sh).
 *
 * It loads fs.so from its own directory (where a test copies both), else
 * from the build tree (drivers/fs/.libs, relative to tests/unit/drivers/
 * .libs), once, and copies its table with head() and list() wrapped; a
 * driver of the tests, it keeps that table in a static.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "totalrecall/driver.h"

static pthread_once_t once = PTHREAD_ONCE_INIT;
static const tr_driver *fs;
static tr_driver table;

static int nm_head(tr_conn *c, const char *key, tr_object_info *info)
{
	int rc = fs->head(c, key, info);
	info->mtime = 0;
	return rc;
}

struct relay {
	tr_list_fn fn;
	void *ctx;
	tr_object_info info;
};

static int relay(void *ctx, const tr_object_info *info)
{
	struct relay *r = ctx;
	r->info = *info;
	r->info.mtime = 0;
	return r->fn(r->ctx, &r->info);
}

static int nm_list(tr_conn *c, const char *prefix, tr_list_fn fn, void *ctx)
{
	struct relay *r = malloc(sizeof *r);
	if (!r)
		return TR_ENOMEM;
	r->fn = fn;
	r->ctx = ctx;
	int rc = fs->list(c, prefix, relay, r);
	free(r);
	return rc;
}

static void load_fs(void)
{
	static const char *const beside[] = { "/fs.so", "/../../../../drivers/fs/.libs/fs.so" };
	Dl_info self;
	char path[PATH_MAX + 64];
	void *h = NULL;
	if (!dladdr((void *)load_fs, &self) || !self.dli_fname)
		return;
	for (int i = 0; !h && i < 2; i++) {
		snprintf(path, sizeof path, "%s", self.dli_fname);
		char *slash = strrchr(path, '/');
		if (!slash)
			return;
		snprintf(slash, sizeof path - (size_t)(slash - path), "%s", beside[i]);
		h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	}
	tr_driver_entry_fn entry;
	*(void **)&entry = h ? dlsym(h, TR_DRIVER_ENTRY) : NULL;
	fs = entry ? entry() : NULL;
	if (!fs)
		return;
	table = *fs;
	table.name = "nomtime";
	table.head = nm_head;
	table.list = nm_list;
}

const tr_driver *totalrecall_driver(void);
const tr_driver *totalrecall_driver(void)
{
	pthread_once(&once, load_fs);
	return fs ? &table : NULL;
}
