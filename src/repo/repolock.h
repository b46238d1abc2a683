/*
 * repolock.h - the repository lock backup and expire share, and who holds
 * a lock.
 *
 * locks/repository is created put-if-absent (atomic on the fs driver and on
 * S3 servers that honour If-None-Match; see README, S3) and holds its
 * holder's identity.  expire holds it from before it reads the backups
 * until it has removed its chunks, so no backup can register between its
 * look at locks/ and its last removal; backup holds it while it registers
 * itself (locks/<label>) and reads the previous manifest.  A running
 * backup's lock in turn keeps expire from removing any chunk, so every
 * chunk the backup reuses counts as referenced.
 *
 * A holder is "<command> host <name> boot <boot id> pidns <namespace> pid
 * <pid> start <start time>".  A lock whose holder is a process of this
 * machine and PID namespace that no longer runs (killed) is taken over at
 * once; any other lock only once it is older than TR_REPOLOCK_STALE
 * seconds (by storage time): a holder rewrites its lock every
 * TR_REPOLOCK_REFRESH seconds while it works.  A lock whose storage time
 * is unknown (driver.h, "Times") is never old enough.
 */
#ifndef TR_REPOLOCK_H
#define TR_REPOLOCK_H

#include <stddef.h>
#include "repo/repo.h"

#define TR_REPOLOCK_NAME "locks/repository"
#define TR_REPOLOCK_STALE 3600
#define TR_REPOLOCK_REFRESH 600

typedef struct tr_repolock {
	tr_repo *repo;
	int held;
	double refreshed;      /* when the lock object was last written */
	char body[512];
} tr_repolock;

/* Takes the lock for `command`, waiting up to lock-timeout seconds for
 * the holder (logging once whom it waits for).  0, or -1 with err naming
 * the holder. */
int tr_repolock_take(tr_repo *r, tr_repolock *l, const char *command, char *err, size_t errlen);
/* Rewrites the lock when it is due (call it while working). */
void tr_repolock_refresh(tr_repolock *l);
/* Removes the lock if held; harmless otherwise. */
void tr_repolock_release(tr_repolock *l);

/* 1 if the lock object rel holds exactly body: this very process wrote it
 * (a put-if-absent the driver retried after its first attempt had
 * succeeded answers "exists"). */
int tr_lock_is_ours(tr_repo *r, const char *rel, const char *body);
/* This process as a lock holder (see above), one line, no newline. */
void tr_lock_holder_self(const char *command, char *out, size_t len);
/* 1 if the holder line names a process of this machine and PID namespace
 * that no longer runs; 0 if it runs or cannot be told from here. */
int tr_lock_holder_gone(const char *holder);

/* locks/<label>: a backup in progress, naming its holder (see above).
 * Expire removes no chunk while such a lock exists, unless it is older
 * than TR_LOCK_STALE seconds or its holder, a process of the same
 * machine, no longer runs. */
#define TR_LOCK_STALE (24 * 3600)
/* TR_OK, TR_EEXIST if a backup holds that label, or a failure. */
int tr_lock_take(tr_repo *r, const char *label);
void tr_lock_release(tr_repo *r, const char *label);

#endif
