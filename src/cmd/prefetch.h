/*
 * prefetch.h - archive-get's read-ahead.  When PostgreSQL asks for WAL
 * segment S, a detached background process fetches the next `prefetch`
 * segments of the same timeline that are in the archive into
 * <state-dir>/prefetch/<repo>/, exactly as stored: still encrypted and
 * authenticated, each written to a temporary file (O_EXCL), fsynced and
 * renamed.  The next archive-get finds its segment there, checks that the
 * spooled file is a regular file of ours of a plausible size, and decodes
 * it into place like an object from storage: a spooled file that was
 * tampered with, truncated, or swapped for another segment fails
 * authentication (the object's name is bound into its key), is removed,
 * and the segment is fetched from the archive instead.  Only one
 * prefetcher runs at a time (a lock file); files the recovery has passed
 * are removed, so the spool holds at most `prefetch` segments.
 */
#ifndef TR_PREFETCH_H
#define TR_PREFETCH_H

#include <stdint.h>
#include "repo/repo.h"

/* 0 if name was prefetched, authenticated and is now at dst (x filled);
 * 1 if it was not spooled or the spooled copy was unusable (removed), or
 * prefetch (the setting: segments read ahead) is 0. */
int tr_prefetch_take(tr_repo *r, int prefetch, const char *name, const char *dst, tr_xfer *x);
/* Starts the background prefetcher for the next prefetch segments after
 * name, in history section `section` (section.h; each has its own
 * spool), connected with rs. */
void tr_prefetch_spawn(const tr_repo_settings *rs, int prefetch, uint32_t section, const char *name);

#endif
