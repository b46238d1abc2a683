/*
 * keycache.h - this host's cache of a repository's keys.
 *
 * Deriving the KEK costs a deliberately slow PBKDF2 (about 0.4 s at the
 * default 600,000 iterations); archive-put and archive-get run once per
 * WAL file, so they must not pay it every time.  The cache lives in
 * <state-dir>/keys/<repository hash>/ (mode 0700, checked on every use,
 * see statedir.h) and holds:
 *
 *   <key id>.key   one file per data key this host has ever unlocked
 *                  (mode 0600), created once and never overwritten: a
 *                  keyring lost or replaced in storage can never take the
 *                  last copy of a key with it.  The key id is derived from
 *                  the key, so a damaged file is recognised.  It also says
 *                  where the key stands in the keyring (the first one keys
 *                  chunk names and checksums), for init's rebuild.
 *   keyring        the keyring text last opened here, with a verifier
 *                  HMAC-SHA256(KEK, "totalrecall keycache verifier" |
 *                  repository hash | SHA-256 of the keyring text); its
 *                  modification time is when the passphrase was last
 *                  checked through the KDF.
 *
 * The verifier needs the KEK, so a stolen cache file does not let anyone
 * test passphrase guesses faster than the KDF allows (the data keys it
 * holds are as sensitive as the passphrase anyway: they are what the
 * passphrase protects).  The flip side: checking the configured
 * passphrase costs a KDF, so archive-put and archive-get use the cache for
 * up to TR_KEYCACHE_VERIFY_AGE seconds after the last check (see repo.h
 * for what every write and every "absent" answer still checks in
 * storage).
 */
#ifndef TR_KEYCACHE_H
#define TR_KEYCACHE_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include "format/keyring.h"

#define TR_KEYCACHE_VERIFY_AGE 60

typedef struct tr_keycache {
	int dirfd;          /* <state-dir>/keys/<repository hash>, or -1 */
	char hash[33];      /* repository hash */
	char path[4200];    /* for messages */
} tr_keycache;

/* Opens (creates) the repository's cache directory.  0, or -1 with err
 * (the state directory failed its checks). */
int tr_keycache_open(tr_keycache *kc, const char *state_dir, const char *repo_hash, char *err, size_t errlen);
void tr_keycache_close(tr_keycache *kc);

/* Writes a file for every slot of keys that has none yet.  0, or -1 with
 * errno (callers warn: the cache only saves time). */
int tr_keycache_store_keys(tr_keycache *kc, const tr_keys *keys);
/* Appends the cached key with this id to keys: 0, 1 if not cached, -1 if
 * its file is damaged. */
int tr_keycache_load_key(tr_keycache *kc, const uint8_t id[8], tr_keys *keys);
/* Every cached key, in keyring order, the last one current: how many (0
 * if none). */
int tr_keycache_load_all(tr_keycache *kc, tr_keys *keys);
/* 1 if this host holds any key of the repository. */
int tr_keycache_knows(tr_keycache *kc);

/* verifier = HMAC-SHA256(kek, label | repository hash | ring_hash). */
void tr_keycache_verifier(const uint8_t kek[32], const char *repo_hash, const uint8_t ring_hash[32],
			  uint8_t out[32]);
/* Replaces the keyring snapshot (text and verifier), checked now. */
int tr_keycache_save_ring(tr_keycache *kc, const char *text, size_t len, const uint8_t verifier[32]);
/* The snapshot: 0 with *text (malloc'ed, NUL-terminated), verifier and
 * the time of the last passphrase check; -1 if there is none or it is
 * damaged. */
int tr_keycache_load_ring(tr_keycache *kc, char **text, size_t *len, uint8_t verifier[32], time_t *checked);
/* Records a passphrase check (now) on the snapshot. */
void tr_keycache_touch_ring(tr_keycache *kc);
/* Removes the snapshot: the next command unlocks from storage. */
void tr_keycache_forget_ring(tr_keycache *kc);

#endif
