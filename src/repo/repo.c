/* repo.c - repository layout and encoded transfers; the keys come from
 * repo_unlock.c. */
#include "config.h"
#include "repo/repo.h"
#include "base/assert.h"
#include "repo/repo_internal.h"
#include "format/checksum.h"
#include "format/cpugate.h"
#include "base/log.h"
#include "base/statedir.h"
#include "base/testhook.h"
#include "base/util.h"
#include "repo/section.h"
#include "pg/walname.h"

#include <bearssl.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define set_err tr_repo_set_error

void tr_repo_set_error(tr_repo *r, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(r->err, sizeof r->err, fmt, ap);
	va_end(ap);
}

const char *tr_repo_error(const tr_repo *r)
{
	return r ? r->err : "out of memory";
}

/* The driver asks for its settings by name (driver.h): the ones the
 * storage settings hand it, "state-dir" the resolved one; any other name
 * is unknown to it. */
static const char *driver_setting(void *ctx, const char *name)
{
	const tr_storage_settings *s = ctx;
	for (int i = 0; i < s->nby_name; i++)
		if (strcmp(s->by_name[i].name, name) == 0)
			return s->by_name[i].value;
	return NULL;
}

static void driver_log(void *ctx, int level, const char *msg)
{
	(void)ctx;
	tr_log(level < 0 ? 0 : level > 3 ? 3 : level, "%s", msg);
}

/* "[prefix/]dbid/": the key prefix of everything in the repository. */
static void repo_base(const tr_repo_settings *s, char *out, size_t outlen)
{
	const char *prefix = s->storage.prefix;
	while (prefix && *prefix == '/')
		prefix++;
	size_t pl = prefix ? strlen(prefix) : 0;
	while (pl && prefix[pl - 1] == '/')
		pl--;
	snprintf(out, outlen, "%.*s%s%s/", (int)pl, pl ? prefix : "", pl ? "/" : "", s->database_id);
}

/* The value of "Name=" in an Azure connection string ("" if absent).  The
 * account names the storage as the endpoint does; the rest of the string
 * (the account key or SAS) is a secret and stays out of the hash, so that
 * rotating it keeps the local state. */
static void conn_string_part(const char *cs, const char *name, char *out, size_t outlen)
{
	size_t nl = strlen(name);
	out[0] = '\0';
	for (const char *p = cs; p && *p; p = strchr(p, ';') ? strchr(p, ';') + 1 : NULL) {
		while (*p == ' ')
			p++;
		if (strncasecmp(p, name, nl) == 0 && p[nl] == '=') {
			size_t n = strcspn(p + nl + 1, ";");
			snprintf(out, outlen, "%.*s", (int)n, p + nl + 1);
			return;
		}
	}
}

/* What tells storage locations apart besides driver, bucket, endpoint and
 * prefix: the Azure account (two accounts may hold containers of the same
 * name).  Empty for every other driver, so their hashes never changed. */
static void storage_account(const tr_storage_settings *s, char *out, size_t outlen)
{
	const char *account = s->azure_account;
	const char *cs = s->azure_connection_string;
	char name[256], endpoint[1024];
	out[0] = '\0';
	if (cs && *cs) {
		conn_string_part(cs, "AccountName", name, sizeof name);
		conn_string_part(cs, "BlobEndpoint", endpoint, sizeof endpoint);
		snprintf(out, outlen, "\n%s\n%s", name, endpoint);
	} else if (account && *account) {
		snprintf(out, outlen, "\n%s", account);
	}
}

void tr_repo_id_hash(const tr_repo_settings *s, char out[33])
{
	char base[1200], ident[4096], account[1300];
	br_sha256_context h;
	uint8_t digest[32];
	const char *endpoint = s->storage.endpoint;
	repo_base(s, base, sizeof base);
	storage_account(&s->storage, account, sizeof account);
	snprintf(ident, sizeof ident, "%s\n%s\n%s\n%s%s", s->storage.driver, s->storage.bucket,
		 endpoint ? endpoint : "", base, account);
	br_sha256_init(&h);
	br_sha256_update(&h, ident, strlen(ident));
	br_sha256_out(&h, digest);
	tr_hex(digest, 16, out);
}

int tr_repo_local_dirfd(const tr_repo *r, const char *what, char *out, size_t outlen)
{
	char sub[128], id[17], err[1024];
	tr_hex(r->keys.id, sizeof r->keys.id, id);
	snprintf(sub, sizeof sub, "%s/%s-%s", what, r->hash, id);
	if ((size_t)snprintf(out, outlen, "%s/%s", r->set.state_dir, sub) >= outlen) {
		errno = ENAMETOOLONG;
		return -1;
	}
	int fd = tr_private_dir(r->set.state_dir, sub, err, sizeof err);
	if (fd < 0) {
		tr_warn("%s", err);
		errno = EACCES;
	}
	return fd;
}

void tr_repo_local_mac(const tr_repo *r, const char *label, const void *a, size_t alen, const void *b, size_t blen,
		       char out[TR_CHECKSUM_STR_LEN])
{
	tr_checksum *c = tr_checksum_new(&r->keys);
	out[0] = '\0';
	if (!c)
		return;
	tr_checksum_update(c, label, strlen(label) + 1);
	tr_checksum_update(c, r->base, strlen(r->base) + 1);
	tr_checksum_update(c, a, alen);
	if (blen)
		tr_checksum_update(c, b, blen);
	tr_checksum_final(c, out);
	tr_checksum_free(c);
}

int tr_repo_local_dir(const tr_repo *r, const char *what, char *out, size_t outlen)
{
	int fd = tr_repo_local_dirfd(r, what, out, outlen);
	if (fd >= 0)
		close(fd);
	return fd >= 0 ? 0 : -1;
}

/* Loads the driver once; a lazy connection (tr_repo_connect_lazy) loads it
 * when a call first needs it. */
static int load_driver(tr_repo *r)
{
	if (r->ld.drv)
		return TR_OK;
	return tr_driver_load(r->set.storage.driver, r->set.storage.driver_dir, &r->ld, r->err, sizeof r->err) == 0
		       ? TR_OK
		       : TR_EINVAL;
}

/* The driver reads its settings through env for as long as the
 * connection lives: r's own copy of the storage settings, not the
 * caller's. */
static int open_conn(tr_repo *r, tr_conn **out)
{
	int loaded = load_driver(r);  /* tr_repo_connect_lazy: the first call that needs it */
	if (loaded != TR_OK)
		return loaded;
	tr_driver_env env = tr_driver_env_make(driver_setting, driver_log, &r->set.storage);
	int rc = tr_driver_open(&r->ld, &env, out);
	if (rc == TR_OK)
		return rc;
	set_err(r, "%s%s", *out ? r->ld.drv->errmsg(*out) : "out of memory", tr_repo_status_hint(rc));
	if (*out)
		r->ld.drv->close(*out);
	*out = NULL;
	return rc;
}

static int connect_repo(tr_repo **out, const tr_repo_settings *s, int lazy)
{
	tr_repo *r = calloc(1, sizeof *r);
	*out = r;
	if (!r)
		return TR_ENOMEM;
	tr_no_core_dumps();  /* before any key is loaded */
	r->set = *s;
	r->dbid = s->database_id;
	repo_base(s, r->base, sizeof r->base);
	tr_repo_use_section(r, 1);
	r->enc.cipher = s->cipher;
	r->enc.compress = TR_COMPRESS_ZSTD;
	r->enc.level = s->compress_level;
	tr_repo_id_hash(s, r->hash);

	return lazy ? TR_OK : open_conn(r, &r->conn);
}

int tr_repo_connect(tr_repo **out, const tr_repo_settings *s)
{
	return connect_repo(out, s, 0);
}

int tr_repo_connect_lazy(tr_repo **out, const tr_repo_settings *s)
{
	return connect_repo(out, s, 1);
}

int tr_repo_connect_like(tr_repo **out, const tr_repo *like)
{
	int rc = tr_repo_connect(out, &like->set);
	if (rc == TR_OK) {
		(*out)->keys = like->keys;
	}
	return rc;
}

void tr_repo_close(tr_repo *r)
{
	if (!r)
		return;
	for (int i = 0; i < TR_REPO_NEST_MAX; i++)
		if (r->nested[i])
			r->ld.drv->close(r->nested[i]);
	if (r->conn)
		r->ld.drv->close(r->conn);
	r->conn = NULL;
	memset(r->nested, 0, sizeof r->nested);
	tr_driver_unload(&r->ld);
	tr_keys_wipe(&r->keys);
	free(r->ring_text);
	r->ring_text = NULL;
	tr_enc_scratch_free(r->enc.scratch);
	r->enc.scratch = NULL;
	free(r);
}

/* --- what a connection is --- */

const char *tr_repo_base(const tr_repo *r) { return r->base; }
const char *tr_repo_hash(const tr_repo *r) { return r->hash; }
const tr_repo_settings *tr_repo_settings_of(const tr_repo *r) { return &r->set; }
int tr_repo_keys_from_cache(const tr_repo *r) { return r->keys_from_cache; }
uint32_t tr_repo_section(const tr_repo *r) { return r->section; }
const char *tr_repo_wal_prefix(const tr_repo *r) { return r->wal; }
const char *tr_repo_driver_name(const tr_repo *r) { return r->ld.drv ? r->ld.drv->name : r->set.storage.driver; }

int tr_repo_zstd_level(const tr_repo *r)
{
	return r->enc.compress == TR_COMPRESS_ZSTD ? r->enc.level : -1;
}

void tr_repo_chunk_id(const tr_repo *r, const void *data, size_t len, char out[66])
{
	tr_chunk_id(&r->keys, data, len, out);
}

void tr_repo_zerochunk(const tr_repo *r, uint64_t len, tr_zerochunk *z)
{
	tr_zerochunk_init(z, &r->keys, len);
}

tr_checksum *tr_repo_chunk_hasher(const tr_repo *r) { return tr_chunk_hasher_new(&r->keys); }
tr_checksum *tr_repo_checksum(const tr_repo *r) { return tr_checksum_new(&r->keys); }

int tr_repo_key(const tr_repo *r, const char *rel, char *out, size_t outlen)
{
	return (size_t)snprintf(out, outlen, "%s%s", r->base, rel) < outlen ? 0 : -1;
}

void tr_repo_use_section(tr_repo *r, uint32_t n)
{
	r->section = n ? n : 1;
	tr_section_wal_prefix(r->section, r->wal);
}

int tr_repo_wal_rel(const tr_repo *r, const char *name, char *out, size_t outlen)
{
	return tr_wal_rel_in(r->wal, name, out, outlen);
}

/* --- driver calls (repo.h) --- */

const char *tr_repo_status_hint(int rc)
{
	switch (rc) {
	case TR_ETRANSIENT: return " (temporary: the driver's retries ran out; try again later)";
	case TR_EAUTH: return " (the storage refused the credentials)";
	case TR_EPERM: return " (the storage does not permit this to these credentials)";
	case TR_ENOTSUP: return " (not supported by this storage)";
	default: return "";
	}
}

/* The connection for a driver call: the first one, or from inside a
 * callback of a call in progress, another one. */
static int conn_enter(tr_repo *r, tr_conn **c)
{
	if (r->depth > TR_REPO_NEST_MAX) {
		set_err(r, "storage calls nested more than %d deep in driver callbacks", TR_REPO_NEST_MAX);
		return TR_EINVAL;
	}
	tr_conn **slot = r->depth == 0 ? &r->conn : &r->nested[r->depth - 1];
	int rc = *slot ? TR_OK : open_conn(r, slot);
	if (rc != TR_OK)
		return rc;
	*c = *slot;
	r->depth++;
	return TR_OK;
}

/* Ends a call on c: its status, with the driver's message in r->err when
 * it failed.  A status the ABI does not define is a failure too. */
static int conn_leave(tr_repo *r, tr_conn *c, int rc)
{
	r->depth--;
	if (rc == TR_OK)
		return rc;
	if (rc > 0 || rc < TR_STATUS_MIN) {
		set_err(r, "driver %s returned status %d, which its ABI does not define: %s", r->ld.drv->name, rc,
			r->ld.drv->errmsg(c));
		return TR_EIO;
	}
	set_err(r, "%s%s", r->ld.drv->errmsg(c), tr_repo_status_hint(rc));
	return rc;
}

int tr_repo_drv_put(tr_repo *r, const char *key, const tr_put_args *a)
{
	tr_conn *c;
	int rc = conn_enter(r, &c);
	if (rc != TR_OK)
		return rc;
	tr_put_args args = *a;
	if ((args.flags & TR_PUT_BATCH) &&
	    (r->depth > 1 || !r->ld.drv->sync || !(r->ld.drv->caps(c) & TR_CAP_BATCH)))
		args.flags &= ~TR_PUT_BATCH;  /* only the first connection batches */
	rc = r->ld.drv->put(c, key, &args);
	/* Even a refused batched put may leave work for sync() (fs: the
	 * directory of a name another writer has not made durable yet). */
	if (args.flags & TR_PUT_BATCH)
		r->batched = 1;
	return conn_leave(r, c, rc);
}

int tr_repo_drv_get(tr_repo *r, const char *key, tr_write_fn sink, void *ctx)
{
	tr_conn *c;
	int rc = conn_enter(r, &c);
	return rc != TR_OK ? rc : conn_leave(r, c, r->ld.drv->get(c, key, sink, ctx));
}

static int drv_head(tr_repo *r, const char *key, tr_object_info *info)
{
	tr_conn *c;
	int rc = conn_enter(r, &c);
	return rc != TR_OK ? rc : conn_leave(r, c, r->ld.drv->head(c, key, info));
}

static int drv_list(tr_repo *r, const char *prefix, tr_list_fn fn, void *ctx)
{
	tr_conn *c;
	int rc = conn_enter(r, &c);
	return rc != TR_OK ? rc : conn_leave(r, c, r->ld.drv->list(c, prefix, fn, ctx));
}

static int drv_remove(tr_repo *r, const char *key)
{
	tr_conn *c;
	int rc = conn_enter(r, &c);
	return rc != TR_OK ? rc : conn_leave(r, c, r->ld.drv->remove(c, key));
}

static int drv_remove_many(tr_repo *r, const char *const *keys, size_t n)
{
	tr_conn *c;
	size_t failed = 0;
	int rc = conn_enter(r, &c);
	return rc != TR_OK ? rc : conn_leave(r, c, r->ld.drv->remove_many(c, keys, n, &failed));
}

/* --- encoded transfers --- */

static void logical_name(const tr_repo *r, const char *rel, char *out, size_t outlen)
{
	snprintf(out, outlen, "%s/%s", r->dbid, rel);
}

/* The body of a put.  The encoder is made at the first read, after
 * waiting for a slot of the connection's CPU gate if it has one (and
 * borrowing its scratch), and freed at the end of the body, when the slot
 * goes back: a driver that reads a body whole before it sends it (S3 and
 * Azure, up to one part) then waits on the network holding no slot.  The
 * crash tests also stop a put with its body half sent, and with the body
 * complete but not yet committed by the driver. */
struct put_src {
	tr_repo *r;
	const char *name;
	tr_enc_opts opts;
	tr_read_fn src;
	void *ctx;
	tr_enc *enc;
	enum { BODY_NEW, BODY_READING, BODY_ENDED, BODY_FAILED } state;
	tr_xfer x;
	char err[512];
};

static int start_encoder(struct put_src *h)
{
	tr_repo *r = h->r;
	tr_repo_cpu_enter(r);
	if (r->slot) {
		h->opts.scratch = tr_cpuslot_scratch(r->slot);
	} else {
		if (!r->enc.scratch)  /* a connection is used by one thread at a time */
			r->enc.scratch = tr_enc_scratch_new();
		h->opts.scratch = r->enc.scratch;
	}
	h->enc = tr_enc_new(&r->keys, h->name, &h->opts, h->src, h->ctx);
	if (!h->enc) {
		snprintf(h->err, sizeof h->err, "out of memory");
		tr_repo_cpu_leave(r);
		return -1;
	}
	return 0;
}

static void end_encoder(struct put_src *h)
{
	if (!h->enc)
		return;
	h->x.plain = tr_enc_bytes_in(h->enc);
	h->x.stored = tr_enc_bytes_out(h->enc);
	if (h->state == BODY_FAILED)
		snprintf(h->err, sizeof h->err, "%s", tr_enc_error(h->enc));
	tr_enc_free(h->enc);
	h->enc = NULL;
	tr_repo_cpu_leave(h->r);
}

static ssize_t put_read(void *ctx, void *buf, size_t len)
{
	struct put_src *h = ctx;
	if (h->state == BODY_NEW) {
		tr_testhook_op();
		h->state = start_encoder(h) == 0 ? BODY_READING : BODY_FAILED;
	}
	if (h->state != BODY_READING)
		return h->state == BODY_ENDED ? 0 : -1;
	ssize_t n = tr_enc_read(h->enc, buf, len);
	if (n > 0)
		return n;
	h->state = n == 0 ? BODY_ENDED : BODY_FAILED;
	end_encoder(h);
	if (n == 0)
		tr_testhook_op();
	return n;
}

void tr_repo_cpu_enter(tr_repo *r)
{
	if (r->cpu && r->cpu_depth++ == 0)
		r->slot = tr_cpugate_enter(r->cpu);
}

void tr_repo_cpu_leave(tr_repo *r)
{
	if (r->cpu && --r->cpu_depth == 0) {
		tr_cpugate_leave(r->cpu, r->slot);
		r->slot = NULL;
	}
}

int tr_repo_cpu_held(const tr_repo *r)
{
	return r->cpu_depth > 0;
}

void tr_repo_cpu_release(tr_repo *r)
{
	while (r->cpu_depth)
		tr_repo_cpu_leave(r);
}

void tr_repo_use_cpugate(tr_repo *r, struct tr_cpugate *gate)
{
	TR_ASSERT(r->cpu_depth == 0);
	r->cpu = gate;
}

unsigned tr_repo_caps(tr_repo *r)
{
	tr_conn *c;
	if (conn_enter(r, &c) != TR_OK)
		return 0;
	unsigned caps = r->ld.drv->caps(c);
	conn_leave(r, c, TR_OK);
	return caps;
}

const char *tr_repo_describe(tr_repo *r)
{
	tr_conn *c;
	if (load_driver(r) != TR_OK || !r->ld.drv->describe || conn_enter(r, &c) != TR_OK)
		return NULL;
	const char *line = r->ld.drv->describe(c);
	conn_leave(r, c, TR_OK);
	return line;
}

int tr_repo_sync(tr_repo *r)
{
	if (!r->batched)
		return TR_OK;
	if (r->depth > 0) {
		set_err(r, "batched puts synced from inside a driver callback");
		return TR_EINVAL;
	}
	tr_testhook_op();
	tr_conn *c;
	int rc = conn_enter(r, &c);
	if (rc != TR_OK)
		return rc;
	rc = conn_leave(r, c, r->ld.drv->sync(c));
	if (rc == TR_OK)
		r->batched = 0;
	return rc;
}

/* Chunks are many and content-addressed: for them the keyring check of
 * another connection of this process within the last 10 seconds counts.
 * Any other object is checked within the second. */
static int check_before_write(tr_repo *r, const char *rel)
{
	return tr_repo_keyring_guard(r, strncmp(rel, "chunks/", 7) == 0 ? 10.0 : 1.0, 1);
}

static int put_encoded(tr_repo *r, const char *rel, const tr_enc_opts *opts, tr_read_fn src, void *ctx,
		       unsigned flags, const char *checksum, tr_xfer *x)
{
	char key[TR_KEY_MAX + 1], name[TR_KEY_MAX + 1];
	if (tr_repo_key(r, rel, key, sizeof key) != 0) {
		set_err(r, "object name too long: %s", rel);
		return TR_EINVAL;
	}
	int rc = check_before_write(r, rel);
	if (rc != TR_OK)
		return rc;
	logical_name(r, rel, name, sizeof name);
	struct put_src h = { r, name, *opts, src, ctx, NULL, BODY_NEW, { 0, 0 }, "" };
	tr_put_args a = { put_read, &h, -1, flags, checksum };
	tr_testhook_op();
	rc = tr_repo_drv_put(r, key, &a);
	end_encoder(&h);  /* a driver that stopped reading early */
	if (rc == TR_ECALLBACK)
		set_err(r, "%s: %s", key, h.err);
	if (x)
		*x = h.x;
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

int tr_repo_check_keyring(tr_repo *r)
{
	return tr_repo_keyring_guard(r, 1.0, 1);
}

/* --- decoding under whichever key the object names --- */

#define KEY_ID_AT 12  /* offset of the key id in an object's header (format.h) */

/* A sink in front of the decoder: the header's key id picks the data key
 * (objects written before a --new-data-key rotation keep their key). */
struct keyed_dec {
	const tr_keys *keys;
	const char *name;
	tr_write_fn sink;
	void *ctx;
	uint8_t head[TR_FMT_HEADER_LEN];
	size_t have;
	tr_dec *dec;
	int nomem;
};

static int start_decoder(struct keyed_dec *k)
{
	tr_keys *one = calloc(1, sizeof *one);
	if (!one) {
		k->nomem = 1;
		return -1;
	}
	*one = *k->keys;
	const tr_key_slot *s = k->have == TR_FMT_HEADER_LEN ? tr_keys_find(k->keys, k->head + KEY_ID_AT) : NULL;
	if (s) {  /* the decoder reads enc and id */
		memcpy(one->enc, s->enc, 32);
		memcpy(one->id, s->id, 8);
	}
	k->dec = tr_dec_new(one, k->name, k->sink, k->ctx);
	tr_keys_wipe(one);
	free(one);
	if (!k->dec) {
		k->nomem = 1;
		return -1;
	}
	return tr_dec_write(k->dec, k->head, k->have);
}

static int keyed_write(void *ctx, const void *buf, size_t len)
{
	struct keyed_dec *k = ctx;
	if (!k->dec) {
		size_t take = TR_FMT_HEADER_LEN - k->have < len ? TR_FMT_HEADER_LEN - k->have : len;
		memcpy(k->head + k->have, buf, take);
		k->have += take;
		TR_ASSERT(k->have <= TR_FMT_HEADER_LEN);
		buf = (const uint8_t *)buf + take;
		len -= take;
		if (k->have < TR_FMT_HEADER_LEN)
			return 0;
		if (start_decoder(k) != 0)
			return -1;
	}
	return len ? tr_dec_write(k->dec, buf, len) : 0;
}

/* The sink a driver's get() writes to: decoding is CPU work, done
 * holding a slot of the connection's CPU gate, if any, one piece of the
 * body at a time, never while the driver waits for the next bytes. */
struct gated_sink {
	tr_repo *r;
	tr_write_fn fn;
	void *ctx;
};

static int gated_write(void *ctx, const void *buf, size_t len)
{
	struct gated_sink *g = ctx;
	tr_repo_cpu_enter(g->r);
	int rc = g->fn(g->ctx, buf, len);
	tr_repo_cpu_leave(g->r);
	return rc;
}

/* The status of a transfer through a keyed decoder; fills x. */
static int keyed_finish(tr_repo *r, struct keyed_dec *k, const char *key, int rc, tr_xfer *x)
{
	tr_repo_cpu_enter(r);
	if (rc == TR_OK && !k->dec && start_decoder(k) != 0 && k->nomem)
		rc = TR_ENOMEM;
	int st = !k->dec ? TR_FMT_OK : rc == TR_OK ? tr_dec_finish(k->dec) : tr_dec_status(k->dec);
	tr_repo_cpu_leave(r);
	if (k->nomem) {
		set_err(r, "out of memory");
		rc = TR_ENOMEM;
	} else if (st == TR_FMT_ESINK) {
		set_err(r, "%s: writing the restored data failed", key);
		rc = TR_ECALLBACK;
	} else if (st != TR_FMT_OK) {
		set_err(r, "%s: %s", key, tr_dec_error(k->dec));
		rc = st == TR_FMT_EKEY ? TR_REPO_EKEY : TR_REPO_ECORRUPT;
	}  /* else a driver failure, its message in r->err */
	if (x) {
		x->stored = k->dec ? tr_dec_bytes_in(k->dec) : 0;
		x->plain = k->dec ? tr_dec_bytes_out(k->dec) : 0;
	}
	tr_dec_free(k->dec);
	k->dec = NULL;
	return rc;
}

/* "Absent" holds only in a repository confirmed present (repo.h). */
static int confirm_absent(tr_repo *r, const char *key)
{
	char saved[sizeof r->err];
	snprintf(saved, sizeof saved, "%s", r->err);
	int rc = tr_repo_keyring_guard(r, 1.0, 0);
	if (rc != TR_OK) {
		char why[sizeof r->err];
		snprintf(why, sizeof why, "%s", r->err);
		set_err(r, "%s is not in storage, and the repository itself is not confirmed: %.1500s", key, why);
		return rc == TR_ENOENT ? TR_EIO : rc;
	}
	snprintf(r->err, sizeof r->err, "%s", saved);
	return TR_ENOENT;
}

int tr_repo_get(tr_repo *r, const char *rel, tr_write_fn sink, void *ctx, tr_xfer *x)
{
	char key[TR_KEY_MAX + 1], name[TR_KEY_MAX + 1];
	if (tr_repo_key(r, rel, key, sizeof key) != 0) {
		set_err(r, "object name too long: %s", rel);
		return TR_EINVAL;
	}
	logical_name(r, rel, name, sizeof name);
	struct keyed_dec k = { &r->keys, name, sink, ctx, { 0 }, 0, NULL, 0 };
	struct gated_sink g = { r, keyed_write, &k };
	tr_testhook_op();
	int rc = keyed_finish(r, &k, key, tr_repo_drv_get(r, key, gated_write, &g), x);
	return rc == TR_ENOENT ? confirm_absent(r, key) : rc;
}

static ssize_t fd_read(void *ctx, void *buf, size_t len)
{
	return tr_read_full(*(int *)ctx, buf, len);
}

int tr_repo_decode_fd(tr_repo *r, const char *rel, int fd, tr_write_fn sink, void *ctx, tr_xfer *x)
{
	char key[TR_KEY_MAX + 1], name[TR_KEY_MAX + 1], buf[65536];
	tr_repo_key(r, rel, key, sizeof key);
	logical_name(r, rel, name, sizeof name);
	struct keyed_dec k = { &r->keys, name, sink, ctx, { 0 }, 0, NULL, 0 };
	ssize_t n;
	int rc = TR_OK;
	while (rc == TR_OK && (n = fd_read(&fd, buf, sizeof buf)) != 0)
		rc = n < 0 ? TR_EIO : keyed_write(&k, buf, (size_t)n) == 0 ? TR_OK : TR_ECALLBACK;
	if (rc == TR_EIO) {
		set_err(r, "%s: cannot read the local copy: %s", key, strerror(errno));
		tr_dec_free(k.dec);
		return rc;
	}
	return keyed_finish(r, &k, key, rc == TR_ECALLBACK ? TR_OK : rc, x);
}

static int discard(void *ctx, const void *buf, size_t len)
{
	(void)ctx; (void)buf; (void)len;
	return 0;
}

/* The stored bytes go to the caller's sink and through a decoder: the
 * transfer succeeds only if the object authenticates. */
struct tee {
	tr_write_fn raw;
	void *ctx;
	struct keyed_dec k;
};

static int tee_write(void *ctx, const void *buf, size_t len)
{
	struct tee *t = ctx;
	return t->raw(t->ctx, buf, len) == 0 ? keyed_write(&t->k, buf, len) : -1;
}

int tr_repo_get_raw(tr_repo *r, const char *rel, tr_write_fn sink, void *ctx)
{
	char key[TR_KEY_MAX + 1], name[TR_KEY_MAX + 1];
	tr_repo_key(r, rel, key, sizeof key);
	logical_name(r, rel, name, sizeof name);
	struct tee t = { sink, ctx, { &r->keys, name, discard, NULL, { 0 }, 0, NULL, 0 } };
	struct gated_sink g = { r, tee_write, &t };
	tr_testhook_op();
	int rc = keyed_finish(r, &t.k, key, tr_repo_drv_get(r, key, gated_write, &g), NULL);
	return rc == TR_ENOENT ? confirm_absent(r, key) : rc;
}

int tr_repo_head(tr_repo *r, const char *rel, tr_object_info *info)
{
	char key[TR_KEY_MAX + 1];
	tr_repo_key(r, rel, key, sizeof key);
	tr_testhook_op();
	int rc = drv_head(r, key, info);
	return rc == TR_ENOENT ? confirm_absent(r, key) : rc;
}

int tr_repo_remove(tr_repo *r, const char *rel)
{
	char key[TR_KEY_MAX + 1];
	tr_repo_key(r, rel, key, sizeof key);
	tr_testhook_op();
	return drv_remove(r, key);
}

/* One driver call for up to TR_REMOVE_MANY_MAX names. */
static int remove_batch(tr_repo *r, const char *const *rels, size_t n)
{
	char *keys = malloc(n * (TR_KEY_MAX + 1));
	const char **v = malloc(n * sizeof *v);
	int rc = keys && v ? TR_OK : TR_ENOMEM;
	for (size_t i = 0; rc == TR_OK && i < n; i++) {
		v[i] = keys + i * (TR_KEY_MAX + 1);
		if (tr_repo_key(r, rels[i], keys + i * (TR_KEY_MAX + 1), TR_KEY_MAX + 1) != 0) {
			set_err(r, "object name too long: %s", rels[i]);
			rc = TR_EINVAL;
		}
	}
	if (rc == TR_OK) {
		tr_testhook_op();
		rc = drv_remove_many(r, v, n);
	} else if (rc == TR_ENOMEM) {
		set_err(r, "out of memory");
	}
	free(keys);
	free(v);
	return rc;
}

int tr_repo_remove_many(tr_repo *r, const char *const *rels, size_t n)
{
	int rc = load_driver(r);
	if (rc != TR_OK)
		return rc;
	if (!TR_DRIVER_HAS(r->ld.drv, remove_many)) {
		for (size_t i = 0; rc == TR_OK && i < n; i++)
			rc = tr_repo_remove(r, rels[i]);
		return rc;
	}
	for (size_t i = 0; rc == TR_OK && i < n; i += TR_REMOVE_MANY_MAX)
		rc = remove_batch(r, rels + i, n - i < TR_REMOVE_MANY_MAX ? n - i : TR_REMOVE_MANY_MAX);
	return rc;
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
	int rc = drv_list(r, key, strip_base, l);
	free(l);
	return rc;
}
