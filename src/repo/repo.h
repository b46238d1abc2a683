/*
 * repo.h - the repository: what lives where under the bucket, and the
 * keys that protect it.  Sits between the commands and the object format
 * and driver: commands speak in repository-relative names ("wal/...");
 * this layer adds the prefix and database id, encodes and decodes through
 * format.h and moves bytes through the driver.
 *
 * Layout under the bucket (see README, "Repository layout"):
 *   [<storage-prefix>/]<database-id>/keyring
 *   [<storage-prefix>/]<database-id>/keyring-copy
 *   [<storage-prefix>/]<database-id>/wal/<16 hex: timeline+log>/<WAL file name>
 *   [<storage-prefix>/]<database-id>/wal/<timeline>.history
 *   [<storage-prefix>/]<database-id>/backups/<label>/keyring
 * Every object's logical name, bound into its encryption, is
 * "<database-id>/<relative name>": an object copied to another name or
 * another database fails authentication.
 *
 * The repository's truth (see repo_unlock.c):
 *  - Before a write, the stored keyring must be the one the keys came from
 *    (one small GET: at every WAL file, and at least every 10 seconds for
 *    backup chunks); if it changed or vanished, the keys are unlocked from
 *    storage again, which repairs a lost or damaged keyring from an intact
 *    copy or refuses.  No object is written under a key the stored keyring
 *    does not hold.
 *  - An object the driver reports absent is reported absent (TR_ENOENT)
 *    only after the same check: in a repository that is gone (unmounted,
 *    emptied, moved), "absent" becomes an error.
 *
 * Driver calls (driver.h, "Threads"): a driver callback never calls the
 * connection it was called from.  A repository call made from inside one
 * (expire removes what it lists) goes to another connection of the same
 * driver, opened when first needed; only the first connection batches.
 * A failed call leaves the driver's message as the error (tr_repo_error), followed by what
 * its class means for the user (tr_repo_status_hint).
 */
#ifndef TR_REPO_H
#define TR_REPO_H

#include <stddef.h>
#include <stdint.h>
#include "format/checksum.h"
#include "format/zerochunk.h"
#include "totalrecall/driver.h"

/* Beyond the driver's TR_* statuses: */
#define TR_REPO_ECORRUPT -100  /* object failed authentication or decoding */
#define TR_REPO_EKEY -101      /* wrong passphrase / object under another key */

/* --- settings (resolved by conf/ once, at a command's entry) --- */

/* Settings a driver reads by name (driver.h: setting()), as the settings
 * table marks them; more than the table holds is a programming error. */
#define TR_DRIVER_SETTINGS_MAX 128

typedef struct tr_named_value {
	const char *name;
	const char *value;     /* NULL: unset */
} tr_named_value;

/* Where the repository is stored.  The strings stay the caller's for as
 * long as a connection made from them is open. */
typedef struct tr_storage_settings {
	const char *driver;                    /* "fs", "s3", "minio", "azure", ... */
	const char *driver_dir;                /* NULL: the installed driver directory */
	const char *bucket, *endpoint, *prefix;
	const char *azure_account, *azure_connection_string;
	tr_named_value by_name[TR_DRIVER_SETTINGS_MAX];  /* handed to the driver */
	int nby_name;
} tr_storage_settings;

/* The repository: its storage, name, passphrase and local state. */
typedef struct tr_repo_settings {
	tr_storage_settings storage;
	const char *database_id;
	const char *passphrase;    /* secret: never logged */
	const char *passphrase_name;  /* the setting, for messages: "TOTALRECALL_ENCRYPTION_KEY (--encryption-key)" */
	const char *state_dir;     /* resolved: key cache, look-ahead, prefetch, verify state */
	uint32_t kdf_iterations;   /* of a new keyring generation */
	int cipher;                /* TR_CIPHER_* (format.h) of new objects */
	int compress_level;        /* zstd level of new objects */
	int64_t lock_timeout;      /* seconds to wait for the repository lock (repolock.h) */
	/* a command's pool of connections (pool.h): */
	int parallel;              /* threads doing CPU work at a time (format/cpugate.h) */
	int transfers;             /* storage requests in flight; 0: by the driver (tr_pool_transfers) */
	int64_t chunk_size;        /* the chunk-size setting: the default transfers fit a memory budget */
} tr_repo_settings;

/* --- the connection --- */

/* A connection to the repository: opaque; one thread at a time uses it
 * (the pool gives each worker its own, pool.h). */
typedef struct tr_repo tr_repo;

typedef struct tr_xfer {
	uint64_t plain;    /* plaintext bytes */
	uint64_t stored;   /* bytes in storage */
} tr_xfer;

/* Loads the driver and connects.  *r is set whenever memory allowed,
 * also on failure (its error says why; tr_repo_close frees it).  TR_OK or
 * a TR_* status. */
int tr_repo_connect(tr_repo **r, const tr_repo_settings *s);
/* The same, but the driver is loaded and connected only when a call first
 * needs storage (its errors then come from that call): for a command that
 * may finish on local state alone, such as archive-put of a file uploaded
 * ahead, which then loads no TLS or HTTP library (about 6 ms on s3). */
int tr_repo_connect_lazy(tr_repo **r, const tr_repo_settings *s);
/* Another connection to the same repository holding the same unlocked
 * keys, for a worker thread (pool.h). */
int tr_repo_connect_like(tr_repo **r, const tr_repo *like);
void tr_repo_close(tr_repo *r);   /* NULL is allowed */
/* The last error, one line ("out of memory" for a NULL connection). */
const char *tr_repo_error(const tr_repo *r);
/* Sets the error, for a caller that failed a transfer of its own (a sink
 * that could not write), so that the message travels with the status. */
void tr_repo_set_error(tr_repo *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Beyond the driver's TR_* statuses, from unlocking: */
#define TR_REPO_ENOKEYRING -102  /* objects but no keyring copy that opens */

/* tr_repo_unlock_flags(): */
#define TR_UNLOCK_CREATE 0x1u  /* an empty place becomes a repository (only with atomic put-if-absent) */
#define TR_UNLOCK_CACHED 0x2u  /* archive-put/-get: this host's cache, if the passphrase was checked
				* within TR_KEYCACHE_VERIFY_AGE seconds, is enough */
#define TR_UNLOCK_WRITER 0x4u  /* the command writes: repairing a lost keyring must succeed */
/* Unlocks the keys: from the local cache (with TR_UNLOCK_CACHED), else
 * from the keyring in storage, deriving the KEK from the passphrase.
 * TR_OK; TR_ENOENT when there is no repository (nothing under the
 * prefix); TR_REPO_EKEY when the passphrase does not open it or its
 * copies contradict each other; TR_REPO_ENOKEYRING; or a driver status.
 * The error says why. */
int tr_repo_unlock_flags(tr_repo *r, unsigned flags);
/* tr_repo_unlock_flags(r, create ? TR_UNLOCK_CREATE | TR_UNLOCK_WRITER : 0). */
int tr_repo_unlock(tr_repo *r, int create);
/* Unlocks from storage again (the keys may be stale). */
int tr_repo_relock(tr_repo *r);
/* The keys came from this host's cache, not from storage. */
int tr_repo_keys_from_cache(const tr_repo *r);
/* The stored keyring is still the one the keys came from (checked in
 * storage unless another connection of this process did so less than a
 * second ago); unlocks again when it is not.  Writes call it themselves;
 * archive-put calls it early, so that it overlaps compression. */
int tr_repo_check_keyring(tr_repo *r);

/* --- what a connection is --- */

/* "[prefix/]dbid/": where the repository is, for messages. */
const char *tr_repo_base(const tr_repo *r);
/* 32 hex digits naming the repository (driver, bucket, endpoint, prefix,
 * database id) for local state: key cache, look-ahead and prefetch. */
const char *tr_repo_hash(const tr_repo *r);
void tr_repo_id_hash(const tr_repo_settings *s, char out[33]);
/* The settings it was connected with. */
const tr_repo_settings *tr_repo_settings_of(const tr_repo *r);
/* The zstd level new objects are compressed at, -1 if they are not. */
int tr_repo_zstd_level(const tr_repo *r);
/* The connection's capabilities (TR_CAP_*), asked at run time. */
unsigned tr_repo_caps(tr_repo *r);
/* The driver's name ("fs", "s3", ...), for messages. */
const char *tr_repo_driver_name(const tr_repo *r);
/* The driver's one-line description of the connection, or NULL. */
const char *tr_repo_describe(tr_repo *r);

/* --- history sections (section.h) --- */

/* Makes r work in history section n (>= 1): its WAL prefix. */
void tr_repo_use_section(tr_repo *r, uint32_t n);
/* The section r works in, and its WAL prefix: "wal/", or "wal-<N>/". */
uint32_t tr_repo_section(const tr_repo *r);
const char *tr_repo_wal_prefix(const tr_repo *r);
/* Where WAL file name lives in the section r works in. */
int tr_repo_wal_rel(const tr_repo *r, const char *name, char *out, size_t outlen);
/* Full storage key of a relative name. */
int tr_repo_key(const tr_repo *r, const char *rel, char *out, size_t outlen);

/* --- keyed digests: the keys never leave this layer --- */

/* The keyed name of a chunk (checksum.h: tr_chunk_id). */
void tr_repo_chunk_id(const tr_repo *r, const void *data, size_t len, char out[66]);
/* The same over a stream: tr_checksum_update, then tr_chunk_hasher_final. */
tr_checksum *tr_repo_chunk_hasher(const tr_repo *r);
/* The id of a chunk of len zeros, to tell one by a scan (zerochunk.h). */
void tr_repo_zerochunk(const tr_repo *r, uint64_t len, tr_zerochunk *z);
/* The keyed checksum of plaintext stored with an object (checksum.h). */
tr_checksum *tr_repo_checksum(const tr_repo *r);

/* --- local state of this repository and key --- */

/* "<state-dir>/<what>/<repository hash>-<key id>", created (0700) if
 * missing, and checked to be this user's alone (statedir.h).  Needs
 * unlocked keys: local state is only ever trusted for the repository and
 * key it was made with. */
int tr_repo_local_dir(const tr_repo *r, const char *what, char *out, size_t outlen);
/* The same, open: its checked file descriptor (statedir.h), or -1 (the
 * reason was logged as a warning). */
int tr_repo_local_dirfd(const tr_repo *r, const char *what, char *out, size_t outlen);
/* A MAC over local state (look-ahead markers, the copy of the history
 * sections) under the repository's MAC key: label, the repository, part a
 * and part b, so that a file planted or edited by someone without the
 * keys is not believed.  out is "" if out of memory. */
void tr_repo_local_mac(const tr_repo *r, const char *label, const void *a, size_t alen, const void *b, size_t blen,
		       char out[68]);

/* --- the keyring (repo_keys.c) --- */

/* init: unlocks (repairing every copy of the keyring that is missing,
 * damaged or stale), or creates the repository where there is none, or
 * writes its keyring back from this host's cached keys where every copy
 * is lost but objects remain (*created then).  Never a new key where
 * objects exist. */
int tr_repo_init(tr_repo *r, int *created);
/* key rotate: the next generation of the keyring under new_pass (NULL:
 * the passphrase r was unlocked with), with a new current data key if
 * new_data_key.  r must be unlocked to write. */
int tr_repo_rotate(tr_repo *r, const char *new_pass, int new_data_key);
/* The keyring the keys came from, parsed, and the current key's id.  0, or
 * -1 when there is none (a pool worker's connection). */
struct tr_keyring;
int tr_repo_keyring_info(const tr_repo *r, struct tr_keyring *ring, char key_id[17]);

/* --- the keyring's copies --- */

/* Stores the keyring beside a backup (backups/<label>/keyring), one of
 * its redundant copies. */
int tr_repo_put_keyring_copy(tr_repo *r, const char *label);
/* Checks every copy of the keyring for verify: calls report once per
 * problem.  Returns 1 if the main keyring or its copy is missing or
 * damaged (a repair failed), 0 otherwise, or a negative status. */
int tr_repo_keyring_report(tr_repo *r, void (*report)(void *ctx, const char *line), void *ctx);

/* --- objects --- */

/* flags: TR_PUT_*.  TR_PUT_BATCH is dropped when the driver cannot batch,
 * so callers may always ask for it and call tr_repo_sync() before anything
 * refers to the objects. */
int tr_repo_put(tr_repo *r, const char *rel, tr_read_fn src, void *ctx, unsigned flags,
		const char *checksum, tr_xfer *x);
/* The same for a source that already yields a zstd stream (pcompress.h):
 * it is framed and sealed as a zstd object without compressing it again.
 * x->plain counts the source's bytes, so the caller sets it. */
int tr_repo_put_zstd(tr_repo *r, const char *rel, tr_read_fn src, void *ctx, unsigned flags,
		     const char *checksum, tr_xfer *x);
/* Brackets CPU work (hashing, say) on a connection with a CPU gate: at
 * most `parallel` threads are inside at a time (format/cpugate.h).  Nests;
 * does nothing without a gate.  Encoding and decoding in tr_repo_put/get
 * do it themselves, and never while they wait on storage. */
void tr_repo_cpu_enter(tr_repo *r);
void tr_repo_cpu_leave(tr_repo *r);
/* Whether r holds a slot of its gate (inside tr_repo_cpu_enter). */
int tr_repo_cpu_held(const tr_repo *r);
/* Gives the slot back however deeply r entered (a caller that failed
 * before the matching tr_repo_cpu_leave). */
void tr_repo_cpu_release(tr_repo *r);
/* r's CPU work goes through gate (NULL: none) from now on; not while r
 * holds a slot.  The gate outlives r's use of it (pool.c gives each
 * worker the pool's; archive-put's look-ahead shares one with its call). */
struct tr_cpugate;
void tr_repo_use_cpugate(tr_repo *r, struct tr_cpugate *gate);
/* Removes many relative names, in batches the driver can take at once
 * (remove_many), else one by one; an absent object counts as removed.
 * TR_OK, or a status with the error naming an object left in place. */
int tr_repo_remove_many(tr_repo *r, const char *const *rels, size_t n);
/* Makes the batched puts of this connection durable.  Not from inside a
 * driver callback while batched puts wait (TR_EINVAL). */
int tr_repo_sync(tr_repo *r);
/* What a driver status means for the user, to follow its message: "" for
 * the statuses whose message says it all. */
const char *tr_repo_status_hint(int rc);
/* Decodes rel into sink.  TR_OK, TR_ENOENT, TR_REPO_EKEY,
 * TR_REPO_ECORRUPT or a driver status; the error says why. */
int tr_repo_get(tr_repo *r, const char *rel, tr_write_fn sink, void *ctx, tr_xfer *x);
/* The stored bytes of rel, as stored (prefetch spools them), checked on
 * the way: the transfer fails unless the object decodes and
 * authenticates. */
int tr_repo_get_raw(tr_repo *r, const char *rel, tr_write_fn sink, void *ctx);
/* Decodes stored bytes of rel read from a local file into sink: the same
 * authentication as tr_repo_get(). */
int tr_repo_decode_fd(tr_repo *r, const char *rel, int fd, tr_write_fn sink, void *ctx, tr_xfer *x);
int tr_repo_head(tr_repo *r, const char *rel, tr_object_info *info);
int tr_repo_remove(tr_repo *r, const char *rel);
/* Lists relative names under rel_prefix (info->key is relative). */
int tr_repo_list(tr_repo *r, const char *rel_prefix, tr_list_fn fn, void *ctx);

#endif
