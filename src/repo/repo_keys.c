/*
 * repo_keys.c - the keyring's administration: what `totalrecall init` and
 * `totalrecall key rotate` do to the repository (see repo.h; the commands
 * are cmd/keycmd.c).
 *
 * init creates a repository explicitly (where the storage has no atomic
 * put-if-absent, archive-put will not), and on an existing one checks the
 * passphrase and rewrites every copy of the keyring that is missing,
 * damaged or stale.  Where objects remain but every copy of the keyring is
 * lost, it writes the keyring back from this host's cached keys: never a
 * new key where objects exist.
 *
 * key rotate writes generation N+1 of the keyring (new salt, every data
 * key re-wrapped under the new passphrase's KEK, optionally a new current
 * data key) to the keyring, then its copy, then the copies beside
 * backups.  Killed at any point, the repository opens with the old or the
 * new passphrase: before the keyring is written nothing changed; after,
 * the keyring opens with the new one, an old-generation copy is stale and
 * repaired by the next command, and the old passphrase is refused (a
 * newer generation it cannot open exists, see keyresolve.h).
 */
#include "config.h"
#include "repo/repo_internal.h"
#include "base/log.h"
#include "base/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int tr_repo_keyring_info(const tr_repo *r, tr_keyring *ring, char key_id[17])
{
	char perr[256];
	tr_hex(r->keys.id, 8, key_id);
	return r->ring_text && tr_keyring_parse(r->ring_text, r->ring_len, ring, perr, sizeof perr) == 0 ? 0 : -1;
}

/* Rewrites every copy beside a backup that is not the current keyring. */
static int refresh_backup_copies(tr_repo *r)
{
	char (*rels)[128];
	int n;
	int rc = tr_ring_backup_copies(r, &rels, &n, 0);
	if (rc == TR_OK)
		rc = tr_repo_write_copies(r, r->ring_text, r->ring_len, rels, n);
	free(rels);
	return rc;
}

/* --- init --- */

/* The keyring read back must be ours: with a put-if-absent that is not
 * atomic, another init may have won the race. */
static int confirm_ours(tr_repo *r)
{
	char *text;
	size_t len;
	uint8_t h[32];
	int rc = tr_ring_fetch(r, TR_RING_MAIN, &text, &len);
	if (rc != TR_OK)
		return rc;
	tr_ring_hash(text, len, h);
	free(text);
	if (memcmp(h, r->keys.ring_hash, 32) == 0)
		return TR_OK;
	tr_repo_set_error(r, "another keyring appeared at %skeyring while it was being created: run init again",
			  r->base);
	return TR_EEXIST;
}

/* An empty place (fresh keys, or this host's cached ones), or objects
 * whose keyring is lost (cached keys only). */
static int create_or_rebuild(tr_repo *r, int nonempty)
{
	tr_keycache kc;
	char err[1024];
	tr_keys *keys = calloc(1, sizeof *keys);
	int n = 0, rc = TR_ENOMEM;
	if (!keys)
		return rc;
	if (tr_keycache_open(&kc, r->set.state_dir, r->hash, err, sizeof err) == 0) {
		n = tr_keycache_load_all(&kc, keys);
		tr_keycache_close(&kc);
	}
	if (n == 0 && nonempty) {
		rc = TR_REPO_ENOKEYRING;  /* r->err from unlocking says why */
	} else {
		uint8_t data[32];
		if (n == 0 && tr_random(data, sizeof data) == 0)
			tr_keys_add(keys, data, (int64_t)time(NULL));
		explicit_bzero(data, sizeof data);
		if (nonempty)  /* every copy is lost or damaged: nothing to keep */
			tr_repo_remove(r, TR_RING_MAIN);
		rc = tr_repo_create_keyring(r, keys, 1);
		if (rc == TR_OK && n)
			tr_warn("the keyring of %s was written from this host's %d cached key%s", r->base, n,
				n == 1 ? "" : "s");
	}
	tr_keys_wipe(keys);
	free(keys);
	return rc == TR_OK ? confirm_ours(r) : rc;
}

int tr_repo_init(tr_repo *r, int *created)
{
	int rc = tr_repo_unlock_storage(r, TR_UNLOCK_WRITER | TR_UNLOCK_INIT);
	*created = 0;
	if (rc == TR_ENOENT || rc == TR_REPO_ENOKEYRING) {
		*created = 1;
		rc = create_or_rebuild(r, rc == TR_REPO_ENOKEYRING);
	}
	return rc == TR_OK ? refresh_backup_copies(r) : rc;
}

/* --- key rotate --- */

static int seal_next(tr_repo *r, const tr_keys *keys, const char *pass, char *text, size_t cap)
{
	tr_keyring *cur = malloc(sizeof *cur), *next = malloc(sizeof *next);
	uint8_t salt[16], kek[32];
	char id[17];
	uint32_t iter = r->set.kdf_iterations;
	int n = -1;
	if (cur && next && tr_repo_keyring_info(r, cur, id) == 0 && tr_random(salt, sizeof salt) == 0) {
		tr_kdf_kek(pass, salt, iter < cur->iterations ? cur->iterations : iter, kek);
		if (tr_keyring_seal(next, keys, r->dbid, cur->generation + 1, iter < cur->iterations ? cur->iterations : iter,
				    salt, kek) == 0)
			n = tr_keyring_format(next, text, cap);
		explicit_bzero(kek, sizeof kek);
	}
	free(cur);
	free(next);
	return n;
}

static int new_keys(tr_repo *r, int new_data_key, tr_keys *keys)
{
	uint8_t data[32];
	*keys = r->keys;
	if (!new_data_key)
		return 0;
	if (keys->nslots == TR_KEYS_MAX) {
		tr_repo_set_error(r, "the keyring already holds %d data keys, the most it can", TR_KEYS_MAX);
		return -1;
	}
	int rc = tr_random(data, sizeof data) == 0 && tr_keys_add(keys, data, (int64_t)time(NULL)) == 0 ? 0 : -1;
	if (rc == 0)
		tr_keys_set_current(keys, keys->slot[keys->nslots - 1].id);
	explicit_bzero(data, sizeof data);
	return rc;
}

/* Keyring, then copy, then the copies beside backups; then this host's
 * cache learns the new key, and forgets the snapshot so that its next
 * command checks the passphrase it is configured with. */
static int write_generation(tr_repo *r, tr_keys *keys, const char *text, size_t len)
{
	tr_keycache kc;
	char err[1024];
	int rc = tr_ring_store(r, TR_RING_MAIN, text, len, 0);
	if (rc == TR_OK)
		rc = tr_ring_store(r, TR_RING_COPY, text, len, 0);
	if (rc == TR_OK) {
		free(r->ring_text);
		r->ring_text = strdup(text);
		r->ring_len = len;
		rc = r->ring_text ? refresh_backup_copies(r) : TR_ENOMEM;
	}
	if (tr_keycache_open(&kc, r->set.state_dir, r->hash, err, sizeof err) == 0) {
		tr_keycache_store_keys(&kc, keys);
		tr_keycache_forget_ring(&kc);
		tr_keycache_close(&kc);
	}
	return rc;
}

int tr_repo_rotate(tr_repo *r, const char *new_pass, int new_data_key)
{
	char *text = malloc(TR_KEYRING_MAX);
	tr_keys *keys = malloc(sizeof *keys);
	int rc = TR_ENOMEM;
	if (!new_pass)
		new_pass = r->set.passphrase;
	tr_repo_set_error(r, "cannot seal the new keyring: out of memory or random numbers");
	if (text && keys && (rc = new_keys(r, new_data_key, keys) == 0 ? TR_OK : TR_EINVAL) == TR_OK) {
		int n = seal_next(r, keys, new_pass, text, TR_KEYRING_MAX);
		rc = n > 0 ? write_generation(r, keys, text, (size_t)n) : TR_ENOMEM;
		if (rc == TR_OK) {
			r->keys = *keys;
			tr_ring_hash(text, (size_t)n, r->keys.ring_hash);
		}
	}
	if (keys)
		tr_keys_wipe(keys);
	free(keys);
	free(text);
	return rc;
}
