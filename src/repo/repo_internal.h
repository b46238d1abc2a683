/* repo_internal.h - the repository connection itself, the keyring objects
 * in storage and the unlock machinery: shared by the files of repo/ that
 * implement repo.h (repo.c, repo_unlock.c, repo_ring.c, repo_keys.c).
 * Nothing outside repo/ includes it (tests/lint/layers.sh). */
#ifndef TR_REPO_INTERNAL_H
#define TR_REPO_INTERNAL_H

#include "format/format.h"
#include "format/keyring.h"
#include "repo/keycache.h"
#include "repo/keyresolve.h"
#include "repo/loader.h"
#include "repo/repo.h"

/* Connections for calls made from inside a driver callback (repo.c). */
#define TR_REPO_NEST_MAX 2

struct tr_repo {
	tr_repo_settings set;   /* a copy: its strings are the caller's */
	tr_loaded_driver ld;
	tr_conn *conn;
	tr_conn *nested[TR_REPO_NEST_MAX]; /* opened when first needed */
	int depth;              /* driver calls in progress (nested in callbacks) */
	int batched;            /* batched puts on conn not yet synced */
	tr_keys keys;
	int keys_from_cache;
	int writer;             /* unlocked to write: repairs and the 0.1 migration must succeed */
	char hash[33];          /* tr_repo_id_hash() */
	char *ring_text;        /* the keyring text the keys came from (NULL on pool workers) */
	size_t ring_len;
	char notices[1024];     /* repairs done while unlocking, one per line */
	char base[1200];        /* key prefix: "[prefix/]dbid/" */
	const char *dbid;
	uint32_t section;       /* the history section worked in (section.h); 1 unless set */
	char wal[24];           /* its WAL prefix: "wal/", or "wal-<N>/" for section N >= 2 */
	tr_enc_opts enc;        /* enc.scratch: this connection's, made on first put */
	char err[2048];         /* last error, one line */
	/* A pool worker among more transfers than CPUs (pool.h): its CPU work
	 * waits for a slot of this gate, whose scratch encoders borrow. */
	struct tr_cpugate *cpu;
	struct tr_cpuslot *slot;   /* held while cpu_depth > 0 */
	int cpu_depth;
};

#define TR_RING_MAIN "keyring"
#define TR_RING_COPY "keyring-copy"
#define TR_RING_BACKUP_COPIES 8

/* init: an empty place is "no repository" (TR_ENOENT) even where this
 * host has used one, since init is told to start again there. */
#define TR_UNLOCK_INIT 0x100u
/* internal: the one second look after "objects but no keyring" */
#define TR_UNLOCK_RETRIED 0x200u   /* newest backup copies read when both main and copy are lost */

/* The driver's get and put of a full storage key, on the connection the
 * call depth picks (repo.h); a failure leaves the message in r->err. */
int tr_repo_drv_get(tr_repo *r, const char *key, tr_write_fn sink, void *ctx);
int tr_repo_drv_put(tr_repo *r, const char *key, const tr_put_args *a);

/* --- keyring objects (repo_ring.c) --- */

/* Reads rel raw: TR_OK with *text (malloc'ed, NUL-terminated), TR_ENOENT,
 * TR_REPO_ECORRUPT (larger than any keyring), or a driver status. */
int tr_ring_fetch(tr_repo *r, const char *rel, char **text, size_t *len);
/* Writes rel raw (flags: TR_PUT_*). */
int tr_ring_store(tr_repo *r, const char *rel, const char *text, size_t len, unsigned flags);
/* Fills a candidate from a fetched text: parsed when it is a keyring of
 * this database id.  note receives why it is not, if so. */
void tr_ring_cand_fill(tr_repo *r, tr_ring_cand *c, const char *name, const char *text, size_t len, char *note,
		       size_t notelen);
/* *nonempty: any object under the repository's prefix.  TR_OK or a
 * driver status. */
int tr_ring_nonempty(tr_repo *r, int *nonempty);
/* The rels of the keyring copies beside backups, newest first, at most
 * max (0: all); *rels is malloc'ed (NULL when there are none). */
int tr_ring_backup_copies(tr_repo *r, char (**rels)[128], int *n, int max);
/* SHA-256 of a text. */
void tr_ring_hash(const char *text, size_t len, uint8_t out[32]);

/* --- unlocking (repo_unlock.c) --- */

/* Unlocks from storage: the keyring and its copies, resolved, repaired,
 * migrated from 0.1 when writing.  flags: TR_UNLOCK_*. */
int tr_repo_unlock_storage(tr_repo *r, unsigned flags);
/* Makes keys (opened from the keyring text) the repository's, and records
 * them in this host's cache with the verifier of kek (NULL: no snapshot). */
void tr_repo_adopt(tr_repo *r, const tr_keys *keys, const char *text, size_t len, const uint8_t *kek);
/* Creates the keyring in an empty place put-if-absent, with keys (fresh
 * or this host's cached ones).  TR_OK, TR_EEXIST (another creator won),
 * or an error. */
int tr_repo_create_keyring(tr_repo *r, tr_keys *keys, uint64_t generation);
/* The stored keyring is still the one r's keys came from: trusted if
 * another connection of this process saw so less than ttl seconds ago,
 * else fetched; when it changed or vanished, the keys are unlocked from
 * storage again (writer: repairs must succeed). */
int tr_repo_keyring_guard(tr_repo *r, double ttl, int writer);
/* Writes text to every copy in rels[] that is not identical. */
int tr_repo_write_copies(tr_repo *r, const char *text, size_t len, char rels[][128], int nrels);

#endif
