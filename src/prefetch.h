/*
 * prefetch.h - archive-get's read-ahead.  When PostgreSQL asks for WAL
 * segment S, a detached background process fetches the next `prefetch`
 * segments of the same timeline that are in the archive into
 * <state-dir>/prefetch/<repo>/, each written to a temporary name and
 * renamed once authenticated.  The next archive-get finds its segment
 * there and moves it into place without waiting on the network.  Only one
 * prefetcher runs at a time (a lock file); files the recovery has passed
 * are removed, so the spool holds at most `prefetch` segments.
 */
#ifndef TR_PREFETCH_H
#define TR_PREFETCH_H

#include "repo.h"
#include "settings.h"

/* 1 if name was prefetched and is now at dst (x filled), 0 if not. */
int tr_prefetch_take(const tr_repo *r, const char *name, const char *dst, tr_xfer *x);
/* Starts the background prefetcher for the segments after name. */
void tr_prefetch_spawn(const tr_config *cfg, const char *name);

#endif
