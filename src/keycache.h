/*
 * keycache.h - the local cache of a repository's unlocked keyring.
 *
 * Deriving the KEK costs a deliberately slow PBKDF2; the cache makes that a
 * once-per-host cost instead of a per-segment one, and saves the storage
 * request for the keyring.  One file per repository in
 * <state-dir>/keys/, mode 0600, in a 0700 directory: it holds the KEK and
 * is as sensitive as the passphrase itself.  A cached entry is used only if
 * its verifier matches the current passphrase, and is revalidated against
 * the repository after TR_KEYCACHE_MAX_AGE seconds.  In between, the
 * stored keyring is compared with the cached one at most every
 * TR_KEYCACHE_CHECK_AGE seconds (one small GET), so a repository that was
 * wiped or re-created under a new keyring is noticed within a minute
 * instead of receiving objects no keyring can open.
 */
#ifndef TR_KEYCACHE_H
#define TR_KEYCACHE_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include "keyring.h"

#define TR_KEYCACHE_MAX_AGE 3600
#define TR_KEYCACHE_CHECK_AGE 60

/* Path of the cache file for a repository (see tr_repo_id_hash). */
int tr_keycache_path(const char *state_dir, const char *repo_hash, char *out, size_t outlen);
/* 0 and fills ring/kek/age when a valid entry for passphrase exists; -1 otherwise. */
int tr_keycache_load(const char *path, const char *passphrase, tr_keyring *ring,
		     uint8_t kek[32], time_t *age);
/* Writes the entry atomically; -1 with errno on failure (callers only warn). */
int tr_keycache_store(const char *path, const char *passphrase, const tr_keyring *ring,
		      const uint8_t kek[32]);
void tr_keycache_forget(const char *path);
/* 1 if the entry was compared with the stored keyring less than
 * TR_KEYCACHE_CHECK_AGE seconds ago. */
int tr_keycache_checked_recently(const char *path);
/* Records that the entry matched the stored keyring just now. */
void tr_keycache_mark_checked(const char *path);

#endif
