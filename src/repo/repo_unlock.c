/*
 * repo_unlock.c - where the keys come from, and the repository's truth.
 *
 * From this host's cache (archive-put and archive-get, when the
 * passphrase was checked within a minute), or from storage: the keyring
 * and its copy are read, every distinct KEK they need is derived from the
 * passphrase, keyresolve.h decides which to believe, a lost, damaged or
 * stale copy is rewritten from the chosen one, and a 0.1 keyring is
 * rewritten as version 2 by the first command that writes.  Only when
 * both are lost are the copies beside backups (and this host's cache)
 * consulted.  A new keyring is created only in a place without any object,
 * only by a put-if-absent the server makes atomic, and never where this
 * host has already used a repository.
 *
 * Before every write, and before any "absent" answer, the stored keyring
 * is compared with the one the keys came from (tr_repo_keyring_guard);
 * connections of one process (backup workers, look-ahead) share that
 * check through a process-wide record.
 */
#include "config.h"
#include "repo/repo_internal.h"
#include "base/log.h"
#include "base/util.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_CANDS (2 + TR_RING_BACKUP_COPIES + 1)
#define MAX_KEKS 4

static const char *passphrase(const tr_repo *r)
{
	return r->set.passphrase;
}

static void notice(tr_repo *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void notice(tr_repo *r, const char *fmt, ...)
{
	char line[600];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	tr_warn("%s", line);
	size_t n = strlen(r->notices);
	snprintf(r->notices + n, sizeof r->notices - n, "%s\n", line);
}

static int open_cache(tr_repo *r, tr_keycache *kc)
{
	char err[1024];
	if (tr_keycache_open(kc, r->set.state_dir, r->hash, err, sizeof err) == 0)
		return TR_OK;
	tr_repo_set_error(r, "%s", err);
	return TR_EINVAL;
}

void tr_repo_adopt(tr_repo *r, const tr_keys *keys, const char *text, size_t len, const uint8_t *kek)
{
	tr_keycache kc;
	char *copy = malloc(len + 1);
	if (copy) {
		memcpy(copy, text, len);
		copy[len] = '\0';
		free(r->ring_text);
		r->ring_text = copy;
		r->ring_len = len;
	}
	r->keys = *keys;
	tr_ring_hash(text, len, r->keys.ring_hash);
	if (open_cache(r, &kc) != TR_OK) {
		tr_warn("%s (the keys are not cached)", r->err);
		return;
	}
	if (tr_keycache_store_keys(&kc, &r->keys) != 0)
		tr_warn("cannot cache the keys in %s: %s", kc.path, strerror(errno));
	if (kek) {
		uint8_t v[32];
		tr_keycache_verifier(kek, r->hash, r->keys.ring_hash, v);
		if (tr_keycache_save_ring(&kc, text, len, v) != 0)
			tr_warn("cannot write %s/keyring: %s (every command will derive the key again)", kc.path,
				strerror(errno));
	}
	tr_keycache_close(&kc);
}

/* --- from this host's cache --- */

static int keys_from_snapshot(tr_keycache *kc, const char *text, size_t len, tr_keyring *ring, tr_keys *keys)
{
	char perr[256];
	memset(keys, 0, sizeof *keys);
	if (tr_keyring_parse(text, len, ring, perr, sizeof perr) != 0)
		return -1;
	for (int i = 0; i < ring->nkeys; i++)
		if (tr_keycache_load_key(kc, ring->keys[i].id, keys) != 0)
			return -1;
	if (tr_keys_set_current(keys, ring->current) != 0)
		return -1;
	tr_ring_hash(text, len, keys->ring_hash);
	return 0;
}

/* The passphrase still opens the snapshot: a KDF, no storage. */
static int passphrase_still_right(const tr_repo *r, const tr_keyring *ring, const uint8_t ring_hash[32],
				  const uint8_t verifier[32])
{
	uint8_t kek[32], v[32];
	tr_kdf_kek(passphrase(r), ring->salt, ring->iterations, kek);
	tr_keycache_verifier(kek, r->hash, ring_hash, v);
	explicit_bzero(kek, sizeof kek);
	return tr_ct_memeq(v, verifier, 32);
}

/* A 0.1 keyring is migrated by the first command that writes: such a
 * command unlocks from storage. */
static int unlock_cached(tr_repo *r, tr_keycache *kc, int writer)
{
	char *text;
	size_t len;
	uint8_t verifier[32];
	time_t checked;
	tr_keyring *ring = malloc(sizeof *ring);
	tr_keys *keys = malloc(sizeof *keys);
	int rc = ring && keys && tr_keycache_load_ring(kc, &text, &len, verifier, &checked) == 0 ? 0 : -1;
	if (rc == 0) {
		time_t age = time(NULL) - checked;
		rc = keys_from_snapshot(kc, text, len, ring, keys);
		if (rc == 0 && writer && ring->version == 1)
			rc = -1;
		if (rc == 0 && (age < 0 || age >= TR_KEYCACHE_VERIFY_AGE)) {
			rc = passphrase_still_right(r, ring, keys->ring_hash, verifier) ? 0 : -1;
			if (rc == 0)
				tr_keycache_touch_ring(kc);
		}
		if (rc == 0) {
			r->keys = *keys;
			free(r->ring_text);
			r->ring_text = text;
			r->ring_len = len;
			r->keys_from_cache = 1;
		} else {
			free(text);
		}
	}
	if (keys)
		tr_keys_wipe(keys);
	free(keys);
	free(ring);
	return rc;
}

/* --- from storage --- */

struct unlock {
	tr_ring_cand c[MAX_CANDS];
	char *text[MAX_CANDS];
	size_t len[MAX_CANDS];
	char names[MAX_CANDS][160];
	int n, chosen, nonempty;
	char notes[1200];
	uint8_t kek[MAX_KEKS][32];
	uint8_t salt[MAX_KEKS][16];
	uint32_t iter[MAX_KEKS];
	int nkek;
};

static void unlock_free(struct unlock *u)
{
	for (int i = 0; i < u->n; i++)
		free(u->text[i]);
	explicit_bzero(u->kek, sizeof u->kek);
	free(u);
}

static void add_text(tr_repo *r, struct unlock *u, const char *name, char *text, size_t len)
{
	char note[400] = "";
	int i = u->n++;
	snprintf(u->names[i], sizeof u->names[i], "%s", name);
	u->text[i] = text;
	u->len[i] = len;
	tr_ring_cand_fill(r, &u->c[i], u->names[i], text, len, note, sizeof note);
	if (note[0]) {
		size_t n = strlen(u->notes);
		snprintf(u->notes + n, sizeof u->notes - n, "%s%s", n ? "; " : "", note);
	}
}

/* Reads one copy.  An unreadable store (not merely an absent object) is
 * an error: nothing may be decided without it. */
static int add_fetched(tr_repo *r, struct unlock *u, const char *rel)
{
	char *text = NULL;
	size_t len = 0;
	if (u->n == MAX_CANDS)
		return TR_OK;
	int rc = tr_ring_fetch(r, rel, &text, &len);
	if (rc == TR_REPO_ECORRUPT && (text = calloc(1, 1)))
		rc = TR_OK;  /* present, and damaged */
	if (rc != TR_OK && rc != TR_ENOENT)
		return rc;
	add_text(r, u, rel, text, len);
	return TR_OK;
}

static const uint8_t *kek_for(tr_repo *r, struct unlock *u, const tr_keyring *ring)
{
	for (int i = 0; i < u->nkek; i++)
		if (u->iter[i] == ring->iterations && memcmp(u->salt[i], ring->salt, 16) == 0)
			return u->kek[i];
	if (u->nkek == MAX_KEKS)
		return NULL;
	int i = u->nkek++;
	memcpy(u->salt[i], ring->salt, 16);
	u->iter[i] = ring->iterations;
	tr_kdf_kek(passphrase(r), ring->salt, ring->iterations, u->kek[i]);
	return u->kek[i];
}

/* Tries the passphrase on every parsed copy, newest generation first (at
 * most MAX_KEKS derivations). */
static void open_all(tr_repo *r, struct unlock *u)
{
	tr_keys *keys = malloc(sizeof *keys);
	int done[MAX_CANDS] = { 0 };
	for (int round = 0; keys && round < u->n; round++) {
		int best = -1;
		for (int i = 0; i < u->n; i++)
			if (!done[i] && u->c[i].parsed &&
			    (best < 0 || u->c[i].ring.generation > u->c[best].ring.generation))
				best = i;
		if (best < 0)
			break;
		done[best] = 1;
		const uint8_t *kek = kek_for(r, u, &u->c[best].ring);
		u->c[best].opens = kek && tr_keyring_open(&u->c[best].ring, kek, keys) == 0;
	}
	if (keys)
		tr_keys_wipe(keys);
	free(keys);
}

static int resolve(tr_repo *r, struct unlock *u, tr_keycache *kc)
{
	char why[1024];
	tr_keys *known = calloc(1, sizeof *known);
	uint8_t ids[TR_KEYS_MAX][8];
	int nknown = known ? tr_keycache_load_all(kc, known) : 0;
	for (int i = 0; i < nknown; i++)
		memcpy(ids[i], known->slot[i].id, 8);
	if (known)
		tr_keys_wipe(known);
	free(known);
	int res = tr_ring_resolve(u->c, u->n, (const uint8_t (*)[8])ids, nknown, &u->chosen, why, sizeof why);
	const char *label = r->set.passphrase_name;
	if (res == TR_RESOLVE_WRONG_KEY)
		tr_repo_set_error(r, "%s: encryption key does not match this repository (%s%s)", label, r->base,
				u->c[0].parsed ? TR_RING_MAIN : why);
	else if (res == TR_RESOLVE_NEWER)
		tr_repo_set_error(r, "%s: encryption key does not match this repository: %s", label, why);
	else if (res == TR_RESOLVE_CONFLICT)
		tr_repo_set_error(r, "refusing to use the repository at %s: %s; nothing was written (if it was "
				"re-created on purpose, remove %s/keys/%s on this host)", r->base, why,
				r->set.state_dir, r->hash);
	return res;
}

/* Both main and copy lost: the copies beside the newest backups, then
 * this host's snapshot (only where objects remain to be opened). */
static int more_candidates(tr_repo *r, struct unlock *u, tr_keycache *kc)
{
	char (*rels)[128] = NULL;
	int n = 0;
	int rc = tr_ring_nonempty(r, &u->nonempty);
	if (rc == TR_OK && u->nonempty)
		rc = tr_ring_backup_copies(r, &rels, &n, TR_RING_BACKUP_COPIES);
	for (int i = 0; rc == TR_OK && i < n; i++)
		rc = add_fetched(r, u, rels[i]);
	free(rels);
	char *text;
	size_t len;
	uint8_t v[32];
	time_t t;
	if (rc == TR_OK && u->nonempty && u->n < MAX_CANDS && tr_keycache_load_ring(kc, &text, &len, v, &t) == 0)
		add_text(r, u, "this host's cached keyring", text, len);
	return rc;
}

static int create_new(tr_repo *r, unsigned flags);

/* No keyring anywhere. */
static int nothing_found(tr_repo *r, struct unlock *u, tr_keycache *kc, unsigned flags)
{
	int knows = tr_keycache_knows(kc);
	if (u->nonempty) {
		tr_repo_set_error(r, "%s holds objects but no keyring that opens (%s)%s", r->base,
				u->notes[0] ? u->notes : "keyring and keyring-copy are missing",
				knows ? ": this host's key cache still holds its keys; `totalrecall init` writes the "
					"keyring back from them" : ": restore the keyring object from a copy of the bucket");
		return TR_REPO_ENOKEYRING;
	}
	if (knows && !(flags & TR_UNLOCK_INIT)) {  /* an empty mount point, an emptied bucket: never "no repository yet" */
		tr_repo_set_error(r, "the repository at %s is gone: no keyring and no object under it, although this "
				"host has used it (its keys are in %s/keys/%s). If the storage was unmounted or emptied, "
				"bring it back; `totalrecall init` starts the repository again there", r->base,
				r->set.state_dir, r->hash);
		return TR_EIO;
	}
	if (!(flags & TR_UNLOCK_CREATE)) {
		tr_repo_set_error(r, "no repository at %s (keyring not found): check the bucket, storage prefix and "
				"database id", r->base);
		return TR_ENOENT;
	}
	if (!(tr_repo_caps(r) & TR_CAP_PUT_IF_ABSENT)) {
		tr_repo_set_error(r, "no repository at %s, and the %s storage cannot create one atomically (no "
				"conditional writes): run `totalrecall init` once to create it", r->base,
				r->set.storage.driver);
		return TR_EINVAL;
	}
	return create_new(r, flags);
}

static int adopt_chosen(tr_repo *r, struct unlock *u)
{
	tr_ring_cand *c = &u->c[u->chosen];
	tr_keys *keys = malloc(sizeof *keys);
	const uint8_t *kek = kek_for(r, u, &c->ring);
	int rc = keys && kek && tr_keyring_open(&c->ring, kek, keys) == 0 ? TR_OK : TR_ENOMEM;
	if (rc == TR_OK)
		tr_repo_adopt(r, keys, u->text[u->chosen], u->len[u->chosen], kek);
	else
		tr_repo_set_error(r, "out of memory");
	if (keys)
		tr_keys_wipe(keys);
	free(keys);
	r->keys_from_cache = 0;
	return rc;
}

static int repair(tr_repo *r, struct unlock *u, unsigned flags)
{
	const char *rels[] = { TR_RING_MAIN, TR_RING_COPY };
	for (int i = 0; i < 2 && i < u->n; i++) {
		if (i == u->chosen || !tr_ring_stale(u->c, i, u->chosen))
			continue;
		const char *what = !u->c[i].present ? "missing" : !u->c[i].parsed || !u->c[i].opens ? "damaged" : "stale";
		int rc = tr_ring_store(r, rels[i], r->ring_text, r->ring_len, 0);
		if (rc == TR_OK) {
			notice(r, "%s%s was %s: rewritten from %s", r->base, rels[i], what, u->names[u->chosen]);
			continue;
		}
		char why[sizeof r->err];
		snprintf(why, sizeof why, "%s", r->err);
		tr_repo_set_error(r, "%s%s is %s and could not be rewritten from %s: %.1500s", r->base, rels[i], what,
				u->names[u->chosen], why);
		if (flags & TR_UNLOCK_WRITER)
			return rc;  /* no object is written while a copy is lost */
		tr_warn("%s", r->err);
	}
	return TR_OK;
}

/* A 0.1 keyring becomes version 2 (generation 1, same salt, same key),
 * the copy first: a 0.1 keyring beside a version 2 copy is an older
 * generation of it. */
static int migrate(tr_repo *r, struct unlock *u)
{
	tr_ring_cand *c = &u->c[u->chosen];
	char *text = malloc(TR_KEYRING_MAX);
	tr_keyring *ring = malloc(sizeof *ring);
	const uint8_t *kek = kek_for(r, u, &c->ring);
	int n = -1, rc = TR_ENOMEM;
	if (text && ring && kek && tr_keyring_seal(ring, &r->keys, r->dbid, 1, c->ring.iterations, c->ring.salt, kek) == 0)
		n = tr_keyring_format(ring, text, TR_KEYRING_MAX);
	if (n > 0 && (rc = tr_ring_store(r, TR_RING_COPY, text, (size_t)n, 0)) == TR_OK &&
	    (rc = tr_ring_store(r, TR_RING_MAIN, text, (size_t)n, 0)) == TR_OK) {
		tr_keys keys = r->keys;
		tr_repo_adopt(r, &keys, text, (size_t)n, kek);
		tr_keys_wipe(&keys);
		notice(r, "migrated the keyring of %s from version 1 (TotalRecall 0.1) to version 2", r->base);
	} else if (rc == TR_ENOMEM) {
		tr_repo_set_error(r, "out of memory");
	}
	free(text);
	free(ring);
	return rc;
}

int tr_repo_unlock_storage(tr_repo *r, unsigned flags)
{
	tr_keycache kc;
	struct unlock *u = calloc(1, sizeof *u);
	if (!u) {
		tr_repo_set_error(r, "out of memory");
		return TR_ENOMEM;
	}
	int rc = open_cache(r, &kc);
	if (rc != TR_OK) {
		free(u);
		return rc;
	}
	if ((rc = add_fetched(r, u, TR_RING_MAIN)) == TR_OK)
		rc = add_fetched(r, u, TR_RING_COPY);
	open_all(r, u);
	int res = rc == TR_OK ? resolve(r, u, &kc) : -1;
	if (res == TR_RESOLVE_NONE && (rc = more_candidates(r, u, &kc)) == TR_OK) {
		open_all(r, u);
		res = resolve(r, u, &kc);
	}
	if (rc == TR_OK && res == TR_RESOLVE_NONE)
		rc = nothing_found(r, u, &kc, flags);
	else if (rc == TR_OK && res != TR_RESOLVE_OK)
		rc = TR_REPO_EKEY;
	else if (rc == TR_OK && (rc = adopt_chosen(r, u)) == TR_OK)
		rc = u->c[u->chosen].ring.version == 1 && (flags & TR_UNLOCK_WRITER) ? migrate(r, u) : repair(r, u, flags);
	tr_keycache_close(&kc);
	unlock_free(u);
	/* Objects but no keyring: a creator racing us may have put its keyring
	 * after we looked for it and before we listed.  Look once more. */
	if (rc == TR_REPO_ENOKEYRING && !(flags & TR_UNLOCK_RETRIED))
		return tr_repo_unlock_storage(r, flags | TR_UNLOCK_RETRIED);
	return rc;
}

/* --- creating --- */

int tr_repo_create_keyring(tr_repo *r, tr_keys *keys, uint64_t generation)
{
	uint8_t salt[16], kek[32];
	uint32_t iter = r->set.kdf_iterations;
	char *text = malloc(TR_KEYRING_MAX);
	tr_keyring *ring = malloc(sizeof *ring);
	int n = -1, rc;
	if (text && ring && tr_random(salt, sizeof salt) == 0) {
		tr_kdf_kek(passphrase(r), salt, iter, kek);
		if (tr_keyring_seal(ring, keys, r->dbid, generation, iter, salt, kek) == 0)
			n = tr_keyring_format(ring, text, TR_KEYRING_MAX);
	}
	if (n < 0) {
		tr_repo_set_error(r, "cannot create a keyring: out of memory or random numbers");
		rc = TR_ENOMEM;
	} else if ((rc = tr_ring_store(r, TR_RING_MAIN, text, (size_t)n, TR_PUT_IF_ABSENT)) == TR_OK &&
		   (rc = tr_ring_store(r, TR_RING_COPY, text, (size_t)n, 0)) == TR_OK) {
		tr_repo_adopt(r, keys, text, (size_t)n, kek);
		tr_info("created repository %s (keyring %skeyring and keyring-copy, PBKDF2-SHA256 %u iterations)",
			r->base, r->base, iter);
	}
	explicit_bzero(kek, sizeof kek);
	free(text);
	free(ring);
	return rc;
}

static int create_new(tr_repo *r, unsigned flags)
{
	uint8_t data[32];
	tr_keys *keys = calloc(1, sizeof *keys);
	int rc = keys && tr_random(data, sizeof data) == 0 ? TR_OK : TR_ENOMEM;
	if (rc == TR_OK) {
		tr_keys_add(keys, data, (int64_t)time(NULL));
		rc = tr_repo_create_keyring(r, keys, 1);
	}
	explicit_bzero(data, sizeof data);
	if (keys)
		tr_keys_wipe(keys);
	free(keys);
	if (rc == TR_EEXIST)  /* another creator won the race: its keyring, if ours opens it */
		rc = tr_repo_unlock_storage(r, flags & ~TR_UNLOCK_CREATE);
	return rc;
}

/* --- the entry points --- */

int tr_repo_unlock_flags(tr_repo *r, unsigned flags)
{
	tr_keycache kc;
	r->writer = (flags & TR_UNLOCK_WRITER) != 0;
	r->notices[0] = '\0';
	if ((flags & TR_UNLOCK_CACHED) && open_cache(r, &kc) == TR_OK) {
		int rc = unlock_cached(r, &kc, r->writer);
		tr_keycache_close(&kc);
		if (rc == 0)
			return TR_OK;
	}
	return tr_repo_unlock_storage(r, flags);
}

int tr_repo_unlock(tr_repo *r, int create)
{
	return tr_repo_unlock_flags(r, create ? TR_UNLOCK_CREATE | TR_UNLOCK_WRITER : 0);
}

/* --- the guard --- */

static pthread_mutex_t guard_mu = PTHREAD_MUTEX_INITIALIZER;
static struct {
	char repo[33];
	tr_keys keys;      /* the keys confirmed last */
	double checked;    /* tr_now() of that confirmation, 0: never */
} confirmed;

/* 0 if the stored keyring is r's, 1 if it changed, vanished or is
 * damaged, or a driver status when storage cannot say. */
static int stored_ring_changed(tr_repo *r)
{
	char *text;
	size_t len;
	uint8_t h[32];
	int rc = tr_ring_fetch(r, TR_RING_MAIN, &text, &len);
	if (rc == TR_ENOENT || rc == TR_REPO_ECORRUPT)
		return 1;
	if (rc != TR_OK)
		return rc;
	tr_ring_hash(text, len, h);
	free(text);
	return memcmp(h, r->keys.ring_hash, 32) != 0;
}

int tr_repo_keyring_guard(tr_repo *r, double ttl, int writer)
{
	pthread_mutex_lock(&guard_mu);
	int rc = TR_OK;
	if (confirmed.checked > 0 && strcmp(confirmed.repo, r->hash) == 0 && tr_now() - confirmed.checked < ttl) {
		if (memcmp(confirmed.keys.ring_hash, r->keys.ring_hash, 32) != 0)
			r->keys = confirmed.keys;
	} else {
		double t0 = tr_now();
		rc = stored_ring_changed(r);
		tr_debug("keyring check of %s: %.2f ms", r->base, (tr_now() - t0) * 1000);
		if (rc == 1) {
			tr_info("the keyring of %s changed or vanished since the keys were unlocked: unlocking again",
				r->base);
			rc = tr_repo_unlock_storage(r, writer ? TR_UNLOCK_WRITER : 0);
		}
		if (rc == TR_OK) {
			snprintf(confirmed.repo, sizeof confirmed.repo, "%s", r->hash);
			confirmed.keys = r->keys;
			confirmed.checked = tr_now();
		}
	}
	pthread_mutex_unlock(&guard_mu);
	return rc;
}

int tr_repo_relock(tr_repo *r)
{
	pthread_mutex_lock(&guard_mu);
	confirmed.checked = 0;
	pthread_mutex_unlock(&guard_mu);
	return tr_repo_unlock_storage(r, r->writer ? TR_UNLOCK_WRITER : 0);
}
