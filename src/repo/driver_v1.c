/*
 * driver_v1.c - runs a driver built for ABI version 1 as a version-2 one.
 *
 * Version 1's table had the same functions in another order, a static
 * capability field, sync(), conn_caps() and describe() appended (present
 * when struct_size covers them), and an environment without size and
 * version.  Its statuses keep their values in version 2, except that its
 * TR_EIO was documented as "storage failed after the driver's retries":
 * it becomes TR_ETRANSIENT, so the core retries it as it always did.  Its
 * TR_EAUTH covered refused permissions too, and stays TR_EAUTH.  A
 * status version 1 did not define is reported, as TR_EIO.
 *
 * The adapter's connection holds the table, so the functions of the
 * adapted table (one per loaded driver, in tr_loaded_driver) reach the
 * driver; only open() needs the table from the loader
 * (tr_driver_v1_open).
 */
#include "config.h"
#include "repo/driver_v1.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Version 1's table and environment, member for member. */
struct v1_env {
	tr_setting_fn setting;
	tr_log_fn log;
	void *ctx;
};

struct v1_driver {
	int abi_version;
	size_t struct_size;
	const char *name;
	const char *version;
	unsigned caps;
	int (*open)(const struct v1_env *env, tr_conn **out);
	int (*put)(tr_conn *c, const char *key, const tr_put_args *args);
	int (*get)(tr_conn *c, const char *key, tr_write_fn write, void *ctx);
	int (*head)(tr_conn *c, const char *key, tr_object_info *info);
	int (*list)(tr_conn *c, const char *prefix, tr_list_fn fn, void *ctx);
	int (*remove)(tr_conn *c, const char *key);
	const char *(*errmsg)(tr_conn *c);
	void (*close)(tr_conn *c);
	int (*sync)(tr_conn *c);                 /* appended: may be absent */
	unsigned (*conn_caps)(tr_conn *c);       /* appended: may be absent */
	const char *(*describe)(tr_conn *c);     /* appended: may be absent */
};

#define V1_SIZE_MIN offsetof(struct v1_driver, sync)
#define V1_HAS(d, m) ((d)->struct_size >= offsetof(struct v1_driver, m) + sizeof((d)->m) && (d)->m != NULL)

/* The adapter's connection: the driver's own, and the table. */
struct tr_conn {
	const struct v1_driver *d;
	tr_conn *inner;
	char msg[160];   /* the adapter's own message, "" when the driver's stands */
};

static int status_v2(tr_conn *c, int rc)
{
	c->msg[0] = '\0';
	if (rc == TR_EIO)
		return TR_ETRANSIENT;
	if (rc <= 0 && rc >= TR_ENOSPACE)
		return rc;
	snprintf(c->msg, sizeof c->msg, "driver %s (ABI version 1) returned status %d, which version 1 does not define",
		 c->d->name, rc);
	return TR_EIO;
}

static void a_close(tr_conn *c)
{
	if (!c)
		return;
	c->d->close(c->inner);
	free(c);
}

static const char *a_errmsg(tr_conn *c)
{
	return c->msg[0] ? c->msg : c->d->errmsg(c->inner);
}

static unsigned a_caps(tr_conn *c)
{
	if (!V1_HAS(c->d, conn_caps))
		return c->d->caps;
	return c->d->conn_caps(c->inner) & c->d->caps;
}

static const char *a_describe(tr_conn *c)
{
	return V1_HAS(c->d, describe) ? c->d->describe(c->inner) : NULL;
}

static int a_put(tr_conn *c, const char *key, const tr_put_args *a)
{
	unsigned known = TR_PUT_IF_ABSENT | ((a_caps(c) & TR_CAP_BATCH) ? TR_PUT_BATCH : 0);
	if (a->flags & ~known) {
		snprintf(c->msg, sizeof c->msg, "driver %s (ABI version 1): put %.60s: flags 0x%x not supported", c->d->name,
			 key, a->flags & ~known);
		return TR_ENOTSUP;
	}
	return status_v2(c, c->d->put(c->inner, key, a));
}

static int a_get(tr_conn *c, const char *key, tr_write_fn fn, void *ctx)
{
	return status_v2(c, c->d->get(c->inner, key, fn, ctx));
}

static int a_head(tr_conn *c, const char *key, tr_object_info *info)
{
	return status_v2(c, c->d->head(c->inner, key, info));
}

static int a_list(tr_conn *c, const char *prefix, tr_list_fn fn, void *ctx)
{
	return status_v2(c, c->d->list(c->inner, prefix, fn, ctx));
}

static int a_remove(tr_conn *c, const char *key)
{
	return status_v2(c, c->d->remove(c->inner, key));
}

static int a_sync(tr_conn *c)
{
	if (!(a_caps(c) & TR_CAP_BATCH) || !V1_HAS(c->d, sync)) {
		snprintf(c->msg, sizeof c->msg, "driver %s (ABI version 1) cannot batch", c->d->name);
		return TR_ENOTSUP;
	}
	return status_v2(c, c->d->sync(c->inner));
}

/* Never called: the loader opens version-1 drivers (tr_driver_v1_open),
 * since this function would not know which driver to open. */
static int a_open(const tr_driver_env *env, tr_conn **out)
{
	(void)env;
	*out = NULL;
	return TR_ENOTSUP;
}

int tr_driver_v1_open(const void *table, const tr_driver_env *env, tr_conn **out)
{
	const struct v1_driver *d = table;
	struct v1_env e = { env->setting, env->log, env->ctx };
	tr_conn *c = calloc(1, sizeof *c);
	*out = c;
	if (!c)
		return TR_ENOMEM;
	c->d = d;
	int rc = d->open(&e, &c->inner);
	if (!c->inner) {
		free(c);
		*out = NULL;
		return TR_ENOMEM;
	}
	return rc == TR_OK ? rc : status_v2(c, rc);
}

int tr_driver_v1_adapt(const void *table, const char *name, const char *path, tr_driver *out, char *err,
		       size_t errlen)
{
	const struct v1_driver *d = table;
	if (d->struct_size < V1_SIZE_MIN || !d->open || !d->put || !d->get || !d->head || !d->list ||
	    !d->remove || !d->errmsg || !d->close) {
		snprintf(err, errlen, "driver \"%s\" (%s): incomplete function table (ABI version 1)", name, path);
		return -1;
	}
	*out = (tr_driver){
		.abi_version = TR_DRIVER_ABI_VERSION,
		.struct_size = sizeof(tr_driver),
		.name = d->name,
		.version = d->version,
		.open = a_open,
		.close = a_close,
		.errmsg = a_errmsg,
		.caps = a_caps,
		.describe = a_describe,
		.put = a_put,
		.get = a_get,
		.head = a_head,
		.list = a_list,
		.remove = a_remove,
		.sync = a_sync,
	};
	return 0;
}
