/*
 * driver_v1.h - tests only: include/totalrecall/driver.h as it was at ABI
 * version 1, frozen, so that tests/unit/drivers/v1fs.c
 * is a driver built against the old header (the core loads it through
 * src/repo/driver_v1.c).  Never edit: it is what old drivers were built with.
 *
 * totalrecall/driver.h - the storage driver ABI of TotalRecall.
 *
 * This is the only public header of TotalRecall.  A storage driver is a
 * shared object that TotalRecall loads with dlopen() by name ("fs", "s3",
 * "minio", ...).  It exports one function,
 *
 *     const tr_driver *totalrecall_driver(void);
 *
 * that returns a pointer to a static, read-only tr_driver: a versioned
 * struct of function pointers, in the spirit of SQLite's sqlite3_vfs.
 *
 * Rules every driver follows:
 *  - No global mutable state.  Everything lives in the tr_conn the driver
 *    allocates in open(); two connections never share anything.
 *  - Bodies stream in both directions.  put() pulls the body through a
 *    tr_read_fn, get() pushes it through a tr_write_fn; a driver never
 *    holds a whole object in memory (it may buffer one part of a bounded,
 *    configured size, for retries).
 *  - Keys are byte strings of up to TR_KEY_MAX bytes, '/'-separated, with no
 *    leading '/', no "." or ".." segment and no NUL.  Drivers map them to
 *    their storage as they see fit and return them unchanged from list().
 *  - A driver knows nothing of PostgreSQL, of the object format or of
 *    encryption: it moves opaque bytes and one opaque checksum string.
 *  - Functions return a TR_* status.  On any status other than TR_OK the
 *    driver leaves a one-line human-readable message, naming the object
 *    and never a secret, that errmsg() returns until the next call.
 *
 * Versioning: abi_version is bumped only for incompatible changes.  New
 * function pointers are appended at the end of the struct and announced by
 * struct_size, so an older core ignores them and a newer core checks
 * struct_size before calling them.
 */
#ifndef TOTALRECALL_DRIVER_H
#define TOTALRECALL_DRIVER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#define TR_DRIVER_ABI_VERSION 1

/* Name of the symbol every driver exports. */
#define TR_DRIVER_ENTRY "totalrecall_driver"

#define TR_KEY_MAX 1024      /* longest key, in bytes */
#define TR_CHECKSUM_MAX 128  /* longest checksum string, without the NUL */

/* Status codes.  Negative values are errors. */
enum tr_status {
	TR_OK = 0,
	TR_ENOTFOUND = -1,   /* the object is confirmed absent */
	TR_EEXIST = -2,      /* put with TR_PUT_IF_ABSENT: the key exists */
	TR_EIO = -3,         /* storage failed after the driver's retries */
	TR_EAUTH = -4,       /* credentials refused or permission denied */
	TR_EINVAL = -5,      /* bad setting or argument */
	TR_ENOMEM = -6,      /* out of memory */
	TR_ECALLBACK = -7,   /* the caller's read or write callback failed */
	TR_ECORRUPT = -8,    /* the storage returned inconsistent data */
	TR_ENOSPACE = -9     /* the storage is full */
};

/* Capability flags, advertised in tr_driver.caps. */
#define TR_CAP_PUT_IF_ABSENT 0x1u  /* put-if-absent is atomic across hosts */
#define TR_CAP_CHECKSUM      0x2u  /* the checksum string is kept and returned by head() */
#define TR_CAP_RANGE_RESUME  0x4u  /* get() resumes an interrupted body itself */
#define TR_CAP_BATCH         0x8u  /* TR_PUT_BATCH and sync() are implemented */

/* Flags for tr_put_args.flags. */
#define TR_PUT_IF_ABSENT 0x1u      /* fail with TR_EEXIST instead of replacing */
/*
 * On a driver with TR_CAP_BATCH: the put may complete only at the next
 * sync() of this connection.  Until then the object may not be visible,
 * and neither its body nor its name is sure to survive a crash of the
 * host; a put never synced (the connection closed first, or sync()
 * failed) may never appear.  With TR_PUT_IF_ABSENT, put() fails with
 * TR_EEXIST when the key exists as it is called; a key that appears
 * before sync() keeps its object.  So batch only content-addressed
 * objects (any object under the key holds the same content), that nothing
 * refers to until sync() has returned TR_OK.  Lets a driver make many
 * small objects durable at once.
 */
#define TR_PUT_BATCH 0x2u

/*
 * Pull callback for put(): fill buf with up to len bytes.  Returns the
 * number of bytes written, 0 at the end of the body, -1 on error (the
 * driver then aborts the upload and returns TR_ECALLBACK).
 */
typedef ssize_t (*tr_read_fn)(void *ctx, void *buf, size_t len);

/*
 * Push callback for get(): consume len bytes.  Returns 0, or -1 to abort
 * (the driver returns TR_ECALLBACK).  The bytes handed to it are always
 * the next bytes of the object: a driver that retries an interrupted
 * download resumes where it stopped and never repeats or skips bytes.
 */
typedef int (*tr_write_fn)(void *ctx, const void *buf, size_t len);

/* Looks up a setting by name ("bucket", "region", "endpoint", ...);
 * returns NULL when unset.  The strings live as long as the connection. */
typedef const char *(*tr_setting_fn)(void *ctx, const char *name);

/* Log callback: level is 0 error, 1 warning, 2 info, 3 debug. */
typedef void (*tr_log_fn)(void *ctx, int level, const char *msg);

/* What the core hands to open(). */
typedef struct tr_driver_env {
	tr_setting_fn setting;
	tr_log_fn log;     /* may be NULL */
	void *ctx;         /* passed back to setting() and log() */
} tr_driver_env;

typedef struct tr_put_args {
	tr_read_fn read;
	void *read_ctx;
	int64_t size_hint;  /* body size if known, else -1 */
	unsigned flags;     /* TR_PUT_* */
	const char *checksum; /* opaque, [A-Za-z0-9:_-], <= TR_CHECKSUM_MAX; may be NULL */
} tr_put_args;

typedef struct tr_object_info {
	char key[TR_KEY_MAX + 1];
	int64_t size;       /* bytes */
	int64_t mtime;      /* seconds since the epoch, 0 if unknown */
	char checksum[TR_CHECKSUM_MAX + 1]; /* "" if none was stored */
} tr_object_info;

/* Called once per key by list(), in ascending byte order of the keys.
 * Return 0 to go on, non-zero to stop (list() then returns TR_OK). */
typedef int (*tr_list_fn)(void *ctx, const tr_object_info *info);

typedef struct tr_conn tr_conn;

typedef struct tr_driver {
	int abi_version;     /* TR_DRIVER_ABI_VERSION the driver was built for */
	size_t struct_size;  /* sizeof(tr_driver) the driver was built with */
	const char *name;    /* "fs", "s3", ... */
	const char *version; /* the driver's own version string */
	unsigned caps;       /* TR_CAP_* */

	/* Connect using env's settings.  On failure returns a status and, if
	 * it could allocate one, a connection whose errmsg() explains; the
	 * caller then closes it.  *out is NULL only on TR_ENOMEM. */
	int (*open)(const tr_driver_env *env, tr_conn **out);

	/* Store a body under key, replacing it unless TR_PUT_IF_ABSENT.  The
	 * object appears whole or not at all: a reader never sees a partial
	 * body under key, and a failed put leaves no partial upload behind. */
	int (*put)(tr_conn *c, const char *key, const tr_put_args *args);

	/* Stream the body of key to write(); TR_ENOTFOUND if absent. */
	int (*get)(tr_conn *c, const char *key, tr_write_fn write, void *ctx);

	/* Size, time and checksum of key; TR_ENOTFOUND if absent. */
	int (*head)(tr_conn *c, const char *key, tr_object_info *info);

	/* Every key that starts with prefix, in ascending order. */
	int (*list)(tr_conn *c, const char *prefix, tr_list_fn fn, void *ctx);

	/* Remove key.  Removing an absent key is TR_OK. */
	int (*remove)(tr_conn *c, const char *key);

	/* The message of the last failed call, never NULL. */
	const char *(*errmsg)(tr_conn *c);

	/* Free the connection; NULL is allowed. */
	void (*close)(tr_conn *c);

	/* --- appended in 0.2 (present when struct_size covers them) --- */

	/* Completes every TR_PUT_BATCH put of this connection: each object
	 * is visible and durable (body and name) when it returns TR_OK.
	 * NULL without TR_CAP_BATCH. */
	int (*sync)(tr_conn *c);

	/* --- appended in 0.3 (present when struct_size covers them) --- */

	/* The capabilities of this connection, TR_CAP_*, asked at run time:
	 * atomic put-if-absent, say, is a property of the server the driver
	 * talks to, not of the driver (an S3-compatible server may ignore
	 * If-None-Match).  May talk to the server once to find out.  A result
	 * is never wider than caps.  NULL: caps holds for every connection. */
	unsigned (*conn_caps)(tr_conn *c);

	/* One line describing the connection for `totalrecall check`: where
	 * the credentials came from, which server features are in use.  Never
	 * a secret.  The string lives until the next call on c.  NULL, or a
	 * NULL result: nothing to say. */
	const char *(*describe)(tr_conn *c);
} tr_driver;

/* The size of the first version of tr_driver: a driver must provide at
 * least this much; later members are used only when struct_size covers
 * them. */
#define TR_DRIVER_SIZE_V1 offsetof(tr_driver, sync)
/* True when driver d's struct covers member m (an appended one). */
#define TR_DRIVER_HAS(d, m) \
	((d)->struct_size >= offsetof(tr_driver, m) + sizeof((d)->m) && (d)->m != NULL)

/* The entry point every driver exports under TR_DRIVER_ENTRY. */
typedef const tr_driver *(*tr_driver_entry_fn)(void);

#ifdef __cplusplus
}
#endif

#endif /* TOTALRECALL_DRIVER_H */
