/* repo.c - repository layout, key unlocking, and encoded transfers. */
#include "config.h"
#include "repo.h"
#include "keycache.h"
#include "log.h"
#include "testhook.h"
#include "util.h"

#include <bearssl.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KEYRING_NAME "keyring"

static void set_err(tr_repo *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set_err(tr_repo *r, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(r->err, sizeof r->err, fmt, ap);
	va_end(ap);
}

/* Settings the driver asks for by name; "state-dir" is the resolved one. */
static const char *driver_setting(void *ctx, const char *name)
{
	const tr_config *cfg = ctx;
	int id = tr_setting_find(name);
	if (id < 0 || !(tr_setting_defs()[id].flags & TR_SF_DRIVER))
		return NULL;
	return tr_config_get(cfg, id);
}

static void driver_log(void *ctx, int level, const char *msg)
{
	(void)ctx;
	tr_log(level < 0 ? 0 : level > 3 ? 3 : level, "%s", msg);
}

static int cipher_id(const char *name)
{
	if (name && strcmp(name, "aes-256-gcm") == 0)
		return TR_CIPHER_AES256GCM;
	if (name && strcmp(name, "chacha20-poly1305") == 0)
		return TR_CIPHER_CHACHA20POLY1305;
	return TR_CIPHER_AUTO;
}

/* "[prefix/]dbid/": the key prefix of everything in the repository. */
static void repo_base(const tr_config *cfg, char *out, size_t outlen)
{
	const char *prefix = tr_config_get(cfg, TR_S_STORAGE_PREFIX);
	while (prefix && *prefix == '/')
		prefix++;
	size_t pl = prefix ? strlen(prefix) : 0;
	while (pl && prefix[pl - 1] == '/')
		pl--;
	snprintf(out, outlen, "%.*s%s%s/", (int)pl, pl ? prefix : "", pl ? "/" : "",
		 tr_config_get(cfg, TR_S_DATABASE_ID));
}

void tr_repo_id_hash(const tr_config *cfg, char out[33])
{
	char base[1200], ident[4096];
	br_sha256_context h;
	uint8_t digest[32];
	const char *endpoint = tr_config_get(cfg, TR_S_ENDPOINT);
	repo_base(cfg, base, sizeof base);
	snprintf(ident, sizeof ident, "%s\n%s\n%s\n%s", tr_config_get(cfg, TR_S_DRIVER), tr_config_get(cfg, TR_S_BUCKET),
		 endpoint ? endpoint : "", base);
	br_sha256_init(&h);
	br_sha256_update(&h, ident, strlen(ident));
	br_sha256_out(&h, digest);
	tr_hex(digest, 16, out);
}

int tr_repo_local_dir(const tr_repo *r, const char *what, char *out, size_t outlen)
{
	char hash[33], id[17];
	tr_repo_id_hash(r->cfg, hash);
	tr_hex(r->keys.id, sizeof r->keys.id, id);
	if ((size_t)snprintf(out, outlen, "%s/%s/%s-%s", tr_config_get(r->cfg, TR_S_STATE_DIR), what, hash, id) >=
	    outlen) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return tr_mkdirs(out, 0700);
}

int tr_repo_connect(tr_repo *r, const tr_config *cfg)
{
	char hash[33];
	memset(r, 0, sizeof *r);
	r->cfg = cfg;
	r->dbid = tr_config_get(cfg, TR_S_DATABASE_ID);
	repo_base(cfg, r->base, sizeof r->base);
	r->enc.cipher = cipher_id(tr_config_get(cfg, TR_S_CIPHER));
	r->enc.compress = TR_COMPRESS_ZSTD;
	r->enc.level = (int)tr_config_int(cfg, TR_S_COMPRESS_LEVEL);

	const char *driver = tr_config_get(cfg, TR_S_DRIVER);
	if (tr_driver_load(driver, tr_config_get(cfg, TR_S_DRIVER_DIR), &r->ld, r->err, sizeof r->err) != 0)
		return TR_EINVAL;
	tr_driver_env env = { driver_setting, driver_log, (void *)cfg };
	int rc = r->ld.drv->open(&env, &r->conn);
	if (rc != TR_OK) {
		set_err(r, "%s", r->conn ? r->ld.drv->errmsg(r->conn) : "out of memory");
		return rc;
	}
	tr_repo_id_hash(cfg, hash);
	tr_keycache_path(tr_config_get(cfg, TR_S_STATE_DIR), hash, r->cache_path, sizeof r->cache_path);
	return TR_OK;
}

void tr_repo_close(tr_repo *r)
{
	if (r->conn)
		r->ld.drv->close(r->conn);
	r->conn = NULL;
	tr_driver_unload(&r->ld);
	tr_keys_wipe(&r->keys);
	tr_enc_scratch_free(r->enc.scratch);
	r->enc.scratch = NULL;
}

int tr_repo_key(const tr_repo *r, const char *rel, char *out, size_t outlen)
{
	return (size_t)snprintf(out, outlen, "%s%s", r->base, rel) < outlen ? 0 : -1;
}

static int driver_fail(tr_repo *r, int rc)
{
	set_err(r, "%s", r->ld.drv->errmsg(r->conn));
	return rc;
}

/* --- raw (unencoded) transfers, for the keyring only --- */

/* Reads the keyring object: 0, 1 if absent, or a negative status. */
static int fetch_keyring(tr_repo *r, tr_keyring *ring)
{
	char key[TR_KEY_MAX + 1], buf[TR_KEYRING_MAX + 1], perr[256];
	tr_membuf m = { buf, 0, TR_KEYRING_MAX, 0 };
	tr_repo_key(r, KEYRING_NAME, key, sizeof key);
	tr_testhook_op();
	int rc = r->ld.drv->get(r->conn, key, tr_mem_write, &m);
	if (rc == TR_ENOTFOUND)
		return 1;
	if (rc == TR_ECALLBACK) {
		set_err(r, "keyring %s is larger than %d bytes: not a TotalRecall keyring", key, TR_KEYRING_MAX);
		return TR_REPO_ECORRUPT;
	}
	if (rc != TR_OK)
		return driver_fail(r, rc);
	buf[m.len] = '\0';
	if (tr_keyring_parse(buf, m.len, ring, perr, sizeof perr) != 0) {
		set_err(r, "keyring %s: %s", key, perr);
		return TR_REPO_ECORRUPT;
	}
	return 0;
}

/* Creates the repository's keyring; a racing creator's keyring wins. */
static int create_keyring(tr_repo *r, const char *pass, tr_keyring *ring, uint8_t kek[32])
{
	char key[TR_KEY_MAX + 1], buf[TR_KEYRING_MAX];
	uint32_t iter = (uint32_t)tr_config_int(r->cfg, TR_S_KDF_ITERATIONS);
	if (tr_keyring_create(pass, iter, ring, &r->keys, kek) != 0) {
		set_err(r, "cannot create a keyring: no random numbers");
		return TR_EIO;
	}
	int n = tr_keyring_format(ring, buf, sizeof buf);
	tr_membuf m = { buf, (size_t)n, sizeof buf, 0 };
	tr_put_args a = { tr_mem_read, &m, n, TR_PUT_IF_ABSENT, NULL };
	tr_repo_key(r, KEYRING_NAME, key, sizeof key);
	tr_testhook_op();
	int rc = r->ld.drv->put(r->conn, key, &a);
	if (rc == TR_EEXIST)
		return 1;
	if (rc != TR_OK)
		return driver_fail(r, rc);
	tr_info("created repository %s (keyring %s, PBKDF2-SHA256 %u iterations)", r->base, key, iter);
	return 0;
}

static int unlock_from_storage(tr_repo *r, int create, const char *pass)
{
	tr_keyring ring;
	uint8_t kek[32];
	int rc = fetch_keyring(r, &ring);
	if (rc == 1 && !create) {
		set_err(r, "no repository at %s (keyring not found): check the bucket, storage prefix and database id",
			r->base);
		return TR_ENOTFOUND;
	}
	if (rc == 1) {
		rc = create_keyring(r, pass, &ring, kek);
		if (rc == 1)  /* lost the race: use the winner's keyring */
			rc = fetch_keyring(r, &ring);
		else if (rc == 0)
			goto cache;
	}
	if (rc != 0)
		return rc;
	tr_kdf_kek(pass, ring.salt, ring.iterations, kek);
	if (tr_keyring_unwrap(&ring, kek, &r->keys) != 0) {
		explicit_bzero(kek, sizeof kek);
		set_err(r, "%s: encryption key does not match this repository (%skeyring)",
			"TOTALRECALL_ENCRYPTION_KEY", r->base);
		return TR_REPO_EKEY;
	}
cache:
	if (tr_keycache_store(r->cache_path, pass, &ring, kek) != 0)
		tr_warn("cannot write the key cache %s: %s (every command will derive the key again)",
			r->cache_path, strerror(errno));
	else
		tr_keycache_mark_checked(r->cache_path);
	explicit_bzero(kek, sizeof kek);
	return TR_OK;
}

/* The cached keyring is still the stored one (checked once a minute). */
static int cached_ring_current(tr_repo *r, const tr_keyring *cached)
{
	tr_keyring stored;
	if (tr_keycache_checked_recently(r->cache_path))
		return 1;
	if (fetch_keyring(r, &stored) != 0)
		return 0;  /* gone or unreadable: unlock from storage says which */
	if (memcmp(stored.salt, cached->salt, sizeof stored.salt) != 0 ||
	    memcmp(stored.wrapped, cached->wrapped, sizeof stored.wrapped) != 0 ||
	    memcmp(stored.key_id, cached->key_id, sizeof stored.key_id) != 0) {
		tr_info("the keyring of %s changed since it was cached: unlocking it again", r->base);
		return 0;
	}
	tr_keycache_mark_checked(r->cache_path);
	return 1;
}

int tr_repo_unlock(tr_repo *r, int create)
{
	const char *pass = tr_config_get(r->cfg, TR_S_ENCRYPTION_KEY);
	tr_keyring ring;
	uint8_t kek[32];
	time_t age;

	if (tr_keycache_load(r->cache_path, pass, &ring, kek, &age) == 0 && age < TR_KEYCACHE_MAX_AGE &&
	    cached_ring_current(r, &ring) && tr_keyring_unwrap(&ring, kek, &r->keys) == 0) {
		explicit_bzero(kek, sizeof kek);
		r->keys_from_cache = 1;
		return TR_OK;
	}
	explicit_bzero(kek, sizeof kek);
	r->keys_from_cache = 0;
	return unlock_from_storage(r, create, pass);
}

int tr_repo_relock(tr_repo *r)
{
	tr_keycache_forget(r->cache_path);
	tr_keys_wipe(&r->keys);
	return tr_repo_unlock(r, 0);
}

/* --- encoded transfers --- */

static void logical_name(const tr_repo *r, const char *rel, char *out, size_t outlen)
{
	snprintf(out, outlen, "%s/%s", r->dbid, rel);
}

/* The crash tests also stop a put with its body half sent, and with the
 * body complete but not yet committed by the driver. */
struct hooked_src {
	tr_enc *enc;
	int started, ended;
};

static ssize_t hooked_read(void *ctx, void *buf, size_t len)
{
	struct hooked_src *h = ctx;
	if (!h->started++)
		tr_testhook_op();
	ssize_t n = tr_enc_read(h->enc, buf, len);
	if (n == 0 && !h->ended++)
		tr_testhook_op();
	return n;
}

static int can_batch(const tr_repo *r)
{
	const tr_driver *d = r->ld.drv;
	return (d->caps & TR_CAP_BATCH) && TR_DRIVER_HAS(d, sync);
}

unsigned tr_repo_caps(tr_repo *r)
{
	const tr_driver *d = r->ld.drv;
	if (!TR_DRIVER_HAS(d, conn_caps))
		return d->caps;
	return d->conn_caps(r->conn) & d->caps;
}

const char *tr_repo_describe(tr_repo *r)
{
	const tr_driver *d = r->ld.drv;
	return TR_DRIVER_HAS(d, describe) ? d->describe(r->conn) : NULL;
}

int tr_repo_sync(tr_repo *r)
{
	if (!can_batch(r))
		return TR_OK;
	tr_testhook_op();
	int rc = r->ld.drv->sync(r->conn);
	return rc == TR_OK ? rc : driver_fail(r, rc);
}

static int put_encoded(tr_repo *r, const char *rel, const tr_enc_opts *opts, tr_read_fn src, void *ctx,
		       unsigned flags, const char *checksum, tr_xfer *x)
{
	char key[TR_KEY_MAX + 1], name[TR_KEY_MAX + 1];
	if (tr_repo_key(r, rel, key, sizeof key) != 0) {
		set_err(r, "object name too long: %s", rel);
		return TR_EINVAL;
	}
	logical_name(r, rel, name, sizeof name);
	if (!r->enc.scratch)  /* a connection is used by one thread at a time */
		r->enc.scratch = tr_enc_scratch_new();
	tr_enc_opts o = *opts;
	o.scratch = r->enc.scratch;
	tr_enc *enc = tr_enc_new(&r->keys, name, &o, src, ctx);
	if (!enc) {
		set_err(r, "out of memory");
		return TR_ENOMEM;
	}
	struct hooked_src hs = { enc, 0, 0 };
	if (!can_batch(r))
		flags &= ~TR_PUT_BATCH;
	tr_put_args a = { hooked_read, &hs, -1, flags, checksum };
	tr_testhook_op();
	int rc = r->ld.drv->put(r->conn, key, &a);
	if (rc == TR_ECALLBACK)
		set_err(r, "%s: %s", key, tr_enc_error(enc));
	else if (rc != TR_OK)
		driver_fail(r, rc);
	if (x) {
		x->plain = tr_enc_bytes_in(enc);
		x->stored = tr_enc_bytes_out(enc);
	}
	tr_enc_free(enc);
	return rc;
}

int tr_repo_put(tr_repo *r, const char *rel, tr_read_fn src, void *ctx, unsigned flags,
		const char *checksum, tr_xfer *x)
{
	return put_encoded(r, rel, &r->enc, src, ctx, flags, checksum, x);
}

int tr_repo_put_zstd(tr_repo *r, const char *rel, tr_read_fn src, void *ctx, unsigned flags,
		     const char *checksum, tr_xfer *x)
{
	tr_enc_opts o = r->enc;
	o.compress = TR_COMPRESS_ZSTD;
	o.precompressed = 1;
	return put_encoded(r, rel, &o, src, ctx, flags, checksum, x);
}

int tr_repo_get(tr_repo *r, const char *rel, tr_write_fn sink, void *ctx, tr_xfer *x)
{
	char key[TR_KEY_MAX + 1], name[TR_KEY_MAX + 1];
	if (tr_repo_key(r, rel, key, sizeof key) != 0) {
		set_err(r, "object name too long: %s", rel);
		return TR_EINVAL;
	}
	logical_name(r, rel, name, sizeof name);
	tr_dec *dec = tr_dec_new(&r->keys, name, sink, ctx);
	if (!dec) {
		set_err(r, "out of memory");
		return TR_ENOMEM;
	}
	tr_testhook_op();
	int rc = r->ld.drv->get(r->conn, key, tr_dec_write, dec);
	int st = rc == TR_OK ? tr_dec_finish(dec) : tr_dec_status(dec);
	if (rc == TR_OK && st == TR_FMT_OK) {
		/* done */
	} else if (st == TR_FMT_ESINK) {
		set_err(r, "%s: writing the restored data failed", key);
		rc = TR_ECALLBACK;
	} else if (st != TR_FMT_OK) {
		set_err(r, "%s: %s", key, tr_dec_error(dec));
		rc = st == TR_FMT_EKEY ? TR_REPO_EKEY : TR_REPO_ECORRUPT;
	} else {
		driver_fail(r, rc);
	}
	if (x) {
		x->stored = tr_dec_bytes_in(dec);
		x->plain = tr_dec_bytes_out(dec);
	}
	tr_dec_free(dec);
	return rc;
}

int tr_repo_head(tr_repo *r, const char *rel, tr_object_info *info)
{
	char key[TR_KEY_MAX + 1];
	tr_repo_key(r, rel, key, sizeof key);
	tr_testhook_op();
	int rc = r->ld.drv->head(r->conn, key, info);
	return rc == TR_OK ? rc : driver_fail(r, rc);
}

int tr_repo_remove(tr_repo *r, const char *rel)
{
	char key[TR_KEY_MAX + 1];
	tr_repo_key(r, rel, key, sizeof key);
	tr_testhook_op();
	int rc = r->ld.drv->remove(r->conn, key);
	return rc == TR_OK ? rc : driver_fail(r, rc);
}

struct rel_list {
	size_t skip;
	tr_list_fn fn;
	void *ctx;
	tr_object_info info;
};

static int strip_base(void *ctx, const tr_object_info *info)
{
	struct rel_list *l = ctx;
	l->info = *info;
	memmove(l->info.key, info->key + l->skip, strlen(info->key + l->skip) + 1);
	return l->fn(l->ctx, &l->info);
}

int tr_repo_list(tr_repo *r, const char *rel_prefix, tr_list_fn fn, void *ctx)
{
	char key[TR_KEY_MAX + 1];
	tr_repo_key(r, rel_prefix, key, sizeof key);
	struct rel_list *l = calloc(1, sizeof *l);
	if (!l)
		return TR_ENOMEM;
	l->skip = strlen(r->base);
	l->fn = fn;
	l->ctx = ctx;
	tr_testhook_op();
	int rc = r->ld.drv->list(r->conn, key, strip_base, l);
	free(l);
	return rc == TR_OK ? rc : driver_fail(r, rc);
}
