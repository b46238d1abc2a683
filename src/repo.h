/*
 * repo.h - the repository: what lives where under the bucket, and the
 * keys that protect it.  Sits between the commands and the object format
 * and driver: commands speak in repository-relative names ("wal/...");
 * this layer adds the prefix and database id, encodes and decodes through
 * format.h and moves bytes through the driver.
 *
 * Layout under the bucket (see README, "Repository layout"):
 *   [<storage-prefix>/]<database-id>/keyring
 *   [<storage-prefix>/]<database-id>/wal/<16 hex: timeline+log>/<WAL file name>
 *   [<storage-prefix>/]<database-id>/wal/<timeline>.history
 * Every object's logical name, bound into its encryption, is
 * "<database-id>/<relative name>": an object copied to another name or
 * another database fails authentication.
 */
#ifndef TR_REPO_H
#define TR_REPO_H

#include <stddef.h>
#include <stdint.h>
#include "format.h"
#include "keyring.h"
#include "loader.h"
#include "settings.h"

/* Beyond the driver's TR_* statuses: */
#define TR_REPO_ECORRUPT -100  /* object failed authentication or decoding */
#define TR_REPO_EKEY -101      /* wrong passphrase / object under another key */

typedef struct tr_repo {
	const tr_config *cfg;
	tr_loaded_driver ld;
	tr_conn *conn;
	tr_keys keys;
	int keys_from_cache;
	char cache_path[4300];
	char base[1200];        /* key prefix: "[prefix/]dbid/" */
	const char *dbid;
	tr_enc_opts enc;        /* enc.scratch: this connection's, made on first put */
	char err[2048];         /* last error, one line */
} tr_repo;

typedef struct tr_xfer {
	uint64_t plain;    /* plaintext bytes */
	uint64_t stored;   /* bytes in storage */
} tr_xfer;

/* Loads the driver and connects.  0 or a TR_* status with r->err. */
int tr_repo_connect(tr_repo *r, const tr_config *cfg);
/* Unlocks the keys: from the local cache, else from the keyring object;
 * with create, a missing keyring is created (put-if-absent). */
int tr_repo_unlock(tr_repo *r, int create);
/* Drops cached keys and unlocks from the repository again. */
int tr_repo_relock(tr_repo *r);
void tr_repo_close(tr_repo *r);

/* 32 hex digits naming the repository (driver, bucket, endpoint, prefix,
 * database id) for local state: key cache, look-ahead and prefetch. */
void tr_repo_id_hash(const tr_config *cfg, char out[33]);
/* "<state-dir>/<what>/<repository hash>-<key id>", created (0700) if
 * missing.  Needs unlocked keys: local state is only ever trusted for the
 * repository and key it was made with. */
int tr_repo_local_dir(const tr_repo *r, const char *what, char *out, size_t outlen);

/* Full storage key of a relative name. */
int tr_repo_key(const tr_repo *r, const char *rel, char *out, size_t outlen);

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
/* The connection's capabilities (TR_CAP_*), asked at run time when the
 * driver can tell (conn_caps), else the driver's static ones. */
unsigned tr_repo_caps(tr_repo *r);
/* The driver's one-line description of the connection, or NULL. */
const char *tr_repo_describe(tr_repo *r);
/* Makes the batched puts of this connection durable. */
int tr_repo_sync(tr_repo *r);
/* Decodes rel into sink.  TR_OK, TR_ENOTFOUND, TR_REPO_EKEY,
 * TR_REPO_ECORRUPT or a driver status; message in r->err. */
int tr_repo_get(tr_repo *r, const char *rel, tr_write_fn sink, void *ctx, tr_xfer *x);
int tr_repo_head(tr_repo *r, const char *rel, tr_object_info *info);
int tr_repo_remove(tr_repo *r, const char *rel);
/* Lists relative names under rel_prefix (info->key is relative). */
int tr_repo_list(tr_repo *r, const char *rel_prefix, tr_list_fn fn, void *ctx);

#endif
