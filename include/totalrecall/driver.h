/*
 * totalrecall/driver.h - the storage driver ABI of TotalRecall, version 2.
 *
 * This is the only public header of TotalRecall.  A storage driver is a
 * shared object that TotalRecall loads with dlopen() by name ("fs", "s3",
 * "minio", ...).  It exports one function,
 *
 *     const tr_driver *totalrecall_driver(void);
 *
 * that returns a pointer to a static, read-only tr_driver: a versioned
 * struct of function pointers, in the spirit of SQLite's sqlite3_vfs.
 * drivers/README.md walks through writing one.
 *
 * Rules every driver follows:
 *  - No global mutable state.  Everything lives in the tr_conn the driver
 *    allocates in open(); two connections never share anything but what
 *    the driver guards itself (see "Threads" below).
 *  - Bodies stream in both directions.  put() pulls the body through a
 *    tr_read_fn, get() pushes it through a tr_write_fn; a driver never
 *    holds a whole object in memory (it may buffer one part of a bounded,
 *    configured size, for retries).
 *  - Keys are byte strings of 1 to TR_KEY_MAX bytes, '/'-separated, with
 *    no empty, "." or ".." segment (so no leading, trailing or double
 *    '/') and no NUL: tr_key_ok().  Drivers map them to their storage as
 *    they see fit and return them unchanged from list().  A key that
 *    breaks these rules is refused with TR_EINVAL.
 *  - A driver knows nothing of PostgreSQL, of the object format or of
 *    encryption: it moves opaque bytes and one opaque checksum string.
 *  - Functions return a TR_* status (below).  On any status other than
 *    TR_OK the driver leaves a one-line human-readable message, naming the
 *    object and never a secret, that errmsg() returns until the next call.
 *
 * Error classes.  The status says what the core may do next; the message
 * says what happened.  The core relies on the class, so a driver picks it
 * with care:
 *  - TR_ENOENT only when the storage itself confirmed that the key does
 *    not exist (S3's NoSuchKey, Azure's BlobNotFound, ENOENT from the
 *    file system).  A missing bucket, a 404 from a proxy or an answer the
 *    driver cannot read is never "absent": PostgreSQL takes an absent WAL
 *    file for the end of the archive, so a false TR_ENOENT loses data.
 *  - TR_ETRANSIENT when the failure may pass (connection refused or reset,
 *    timeouts, throttling, 5xx answers, a body cut short) and the
 *    driver's own retries, if it has any, are exhausted.  The core may try
 *    the whole operation again later and tells the user it is temporary.
 *  - TR_EIO when asking again will fail again: the storage answered, and
 *    the answer is a refusal or makes no sense (a missing bucket, a bad
 *    request, a TLS certificate that does not verify).
 *  - TR_EAUTH when the storage refused the credentials (unknown key, bad
 *    signature, expired token); TR_EPERM when it accepted them but does
 *    not permit the operation (a bucket policy, a read-only SAS, EACCES).
 *  - TR_ENOTSUP when the connection cannot do what was asked: a TR_PUT_*
 *    flag the driver does not know or the connection cannot honour (never
 *    ignore a flag: an ignored TR_PUT_IF_ABSENT overwrites), sync() on a
 *    connection without TR_CAP_BATCH, an API the server lacks.
 *
 * Threads.
 *  - A connection is used by one thread at a time: the core opens one
 *    connection per thread and never calls two functions of one
 *    connection at once.  Different connections of one driver are used
 *    by different threads at the same time, so whatever a driver shares
 *    between them (process-wide library set-up such as
 *    curl_global_init(), a cache file in state-dir) it guards itself
 *    (pthread_once, a file written aside and renamed).
 *  - totalrecall_driver() may be called from any thread, any number of
 *    times, and returns the same table.
 *  - Callbacks (tr_read_fn, tr_write_fn, tr_list_fn, and the
 *    environment's setting and log) run on the thread that called the
 *    driver, before the driver's function returns, never later.
 *  - A callback never calls a function of the connection it was called
 *    from: what the core does during a call (removing keys it lists,
 *    say) goes to another connection.  So a driver may keep the state of
 *    the call in progress (an open response, its place in a listing) in
 *    the connection across its callbacks.
 *  - A list callback reads the tr_object_info it is given, copies what it
 *    keeps (the struct is reused), and returns 0 to go on or non-zero to
 *    stop; list() then returns TR_OK at once.  A key that exists, unchanged,
 *    for the whole listing is listed exactly once; a key put or removed
 *    meanwhile may or may not be.
 *
 * Times.  tr_object_info.mtime is when the object was last written, in
 * seconds since the epoch by the storage's clock, or 0 when the storage
 * does not say.  The core takes 0 (or less) as unknown and never acts on
 * an age it does not know: it keeps the object, the lock or the backup
 * (expire), does not break the lock (repository lock), and verifies the
 * object again (verify).
 *
 * Versioning.  abi_version is bumped for incompatible changes only; the
 * core refuses a driver of a version it does not know, naming both.  A
 * core of version 2 still loads version-1 drivers through an adapter.
 * Members added within a version are appended at the end of the struct
 * and announced by struct_size, so an older core ignores them and a newer
 * core checks TR_DRIVER_HAS() before calling them.  The environment the
 * core hands to open() carries its own size and ABI version the same
 * way: a driver checks TR_DRIVER_ENV_OK() (and TR_ENV_HAS() for members
 * appended later) before it uses it.
 */
#ifndef TOTALRECALL_DRIVER_H
#define TOTALRECALL_DRIVER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#define TR_DRIVER_ABI_VERSION 2

/* Name of the symbol every driver exports. */
#define TR_DRIVER_ENTRY "totalrecall_driver"

#define TR_KEY_MAX 1024      /* longest key, in bytes */
#define TR_CHECKSUM_MAX 128  /* longest checksum string, without the NUL */

/* A key as the ABI defines it: 1 to TR_KEY_MAX bytes, segments separated
 * by '/', none of them empty, "." or "..".  For drivers to refuse others
 * with TR_EINVAL (a driver may refuse more, saying so). */
static inline int tr_key_ok(const char *key)
{
	const char *seg = key;
	if (!key)
		return 0;
	for (const char *p = key;; p++) {
		if (p - key > TR_KEY_MAX)
			return 0;
		if (*p != '/' && *p != '\0')
			continue;
		size_t len = (size_t)(p - seg);
		if (len == 0 || (len <= 2 && seg[0] == '.' && seg[len - 1] == '.'))
			return 0;
		if (*p == '\0')
			return 1;
		seg = p + 1;
	}
}

/* Status codes (see "Error classes" above).  Negative values are errors. */
enum tr_status {
	TR_OK = 0,
	TR_ENOENT = -1,      /* the storage confirmed that the key does not exist */
	TR_EEXIST = -2,      /* put with TR_PUT_IF_ABSENT: the key exists */
	TR_EIO = -3,         /* permanent: the storage failed, asking again fails again */
	TR_EAUTH = -4,       /* the storage refused the credentials */
	TR_EINVAL = -5,      /* bad setting, key or argument */
	TR_ENOMEM = -6,      /* out of memory */
	TR_ECALLBACK = -7,   /* the caller's read or write callback failed */
	TR_ECORRUPT = -8,    /* the storage returned inconsistent data */
	TR_ENOSPACE = -9,    /* the storage is full */
	TR_ETRANSIENT = -10, /* may pass: gave up after the driver's retries */
	TR_EPERM = -11,      /* credentials accepted, operation not permitted */
	TR_ENOTSUP = -12     /* this connection cannot do what was asked */
};
/* Version 1's name of TR_ENOENT (same value, same meaning). */
#define TR_ENOTFOUND TR_ENOENT
/* The lowest status a driver of this version returns. */
#define TR_STATUS_MIN TR_ENOTSUP

/* Capability flags, returned by caps() for one connection. */
#define TR_CAP_PUT_IF_ABSENT 0x1u  /* put-if-absent is atomic across hosts */
#define TR_CAP_CHECKSUM      0x2u  /* the checksum string is kept and returned by head() */
#define TR_CAP_RANGE_RESUME  0x4u  /* get() resumes an interrupted body itself */
#define TR_CAP_BATCH         0x8u  /* TR_PUT_BATCH and sync() work */
/* The storage is across a network: each request waits on latency (real
 * S3 answers in 15-40 ms), so the core keeps many requests in flight on
 * connections of their own (its `transfers` setting defaults to 16
 * instead of the number of CPUs) and uploads WAL ahead of the call
 * PostgreSQL waits for.  A driver of a local disk leaves it unset. */
#define TR_CAP_REMOTE        0x10u

/* Flags for tr_put_args.flags.  A driver refuses any flag it does not
 * know, or cannot honour on this connection, with TR_ENOTSUP. */
/* Fail with TR_EEXIST instead of replacing.  Atomic across hosts only
 * with TR_CAP_PUT_IF_ABSENT; without it the driver checks, then writes. */
#define TR_PUT_IF_ABSENT 0x1u
/*
 * With TR_CAP_BATCH: the put may complete only at the next sync() of
 * this connection.  Until then the object may not be visible, and
 * neither its body nor its name is sure to survive a crash of the host;
 * a put never synced (the connection closed first, or sync() failed) may
 * never appear.  With TR_PUT_IF_ABSENT, put() fails with TR_EEXIST when
 * the key exists as it is called; a key that appears before sync() keeps
 * its object.  So batch only content-addressed objects (any object under
 * the key holds the same content), that nothing refers to until sync()
 * has returned TR_OK.  Lets a driver make many small objects durable at
 * once.
 */
#define TR_PUT_BATCH 0x2u

/*
 * Pull callback for put(): fill buf with up to len bytes.  Returns the
 * number of bytes written, 0 at the end of the body, -1 on error (the
 * driver then aborts the upload, leaves nothing under the key, and
 * returns TR_ECALLBACK).
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

/* What the core hands to open().  It lives only during open(): a driver
 * copies what it keeps (the pointers stay valid as long as the
 * connection). */
typedef struct tr_driver_env {
	size_t size;         /* sizeof(tr_driver_env) the core was built with */
	int abi_version;     /* TR_DRIVER_ABI_VERSION of the core */
	tr_setting_fn setting;
	tr_log_fn log;       /* may be NULL */
	void *ctx;           /* passed back to setting() and log() */
} tr_driver_env;

/* The environment of version 2, and a test a driver makes in open(). */
#define TR_DRIVER_ENV_SIZE_V2 (offsetof(tr_driver_env, ctx) + sizeof(void *))
#define TR_DRIVER_ENV_OK(env) \
	((env) != NULL && (env)->abi_version >= 2 && (env)->size >= TR_DRIVER_ENV_SIZE_V2 && (env)->setting != NULL)
/* True when the core's environment has member m (one appended later). */
#define TR_ENV_HAS(env, m) ((env)->size >= offsetof(tr_driver_env, m) + sizeof((env)->m))

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
	int64_t mtime;      /* seconds since the epoch, 0: unknown (see "Times") */
	char checksum[TR_CHECKSUM_MAX + 1]; /* "" if none was stored (or no TR_CAP_CHECKSUM) */
} tr_object_info;

/* Called once per key by list(), in ascending byte order of the keys (see
 * "Threads" for what it may do).  Return 0 to go on, non-zero to stop. */
typedef int (*tr_list_fn)(void *ctx, const tr_object_info *info);

typedef struct tr_conn tr_conn;

typedef struct tr_driver {
	int abi_version;     /* TR_DRIVER_ABI_VERSION the driver was built for */
	size_t struct_size;  /* sizeof(tr_driver) the driver was built with */
	const char *name;    /* "fs", "s3", ...: the file name without ".so" */
	const char *version; /* the driver's own version string */

	/* --- the connection --- */

	/* Connect using env's settings (check TR_DRIVER_ENV_OK(env) first).
	 * On failure returns a status and, if it could allocate one, a
	 * connection whose errmsg() explains; the caller then closes it.
	 * *out is NULL only on TR_ENOMEM. */
	int (*open)(const tr_driver_env *env, tr_conn **out);

	/* Free the connection, dropping batched puts never synced; NULL is
	 * allowed. */
	void (*close)(tr_conn *c);

	/* The message of the last failed call, never NULL. */
	const char *(*errmsg)(tr_conn *c);

	/* The capabilities of this connection, TR_CAP_*, asked at run time,
	 * like SQLite's xDeviceCharacteristics: atomic put-if-absent, say, is
	 * a property of the server the driver talks to, not of the driver
	 * (an S3-compatible server may ignore If-None-Match).  May talk to
	 * the server the first time it is called; cheap afterwards.  The
	 * answer never grows during the life of the connection. */
	unsigned (*caps)(tr_conn *c);

	/* One line describing the connection for `totalrecall check`: where
	 * the credentials came from, which server features are in use.  Never
	 * a secret.  The string lives until the next call on c.  NULL, or a
	 * NULL result: nothing to say. */
	const char *(*describe)(tr_conn *c);

	/* --- objects --- */

	/* Store a body under key, replacing it unless TR_PUT_IF_ABSENT.  The
	 * object appears whole or not at all: a reader never sees a partial
	 * body under key, and a failed put leaves no partial upload behind. */
	int (*put)(tr_conn *c, const char *key, const tr_put_args *args);

	/* Stream the body of key to write(); TR_ENOENT if absent. */
	int (*get)(tr_conn *c, const char *key, tr_write_fn write, void *ctx);

	/* Size, time and checksum of key; TR_ENOENT if absent. */
	int (*head)(tr_conn *c, const char *key, tr_object_info *info);

	/* Every key that starts with prefix ("" for all), in ascending byte
	 * order.  A prefix nothing starts with is TR_OK with no call. */
	int (*list)(tr_conn *c, const char *prefix, tr_list_fn fn, void *ctx);

	/* Remove key.  Removing an absent key is TR_OK. */
	int (*remove)(tr_conn *c, const char *key);

	/* Completes every TR_PUT_BATCH put of this connection: each object
	 * is visible and durable (body and name) when it returns TR_OK.  The
	 * core calls it after batched puts whatever their status (one that
	 * found its key taken may leave work: making the name another
	 * writer made durable).  NULL when no connection of the driver can
	 * batch; TR_ENOTSUP on a connection without TR_CAP_BATCH. */
	int (*sync)(tr_conn *c);

	/* --- appended within version 2 (TR_DRIVER_HAS) --- */

	/* Remove keys[0..n-1] (1 <= n <= TR_REMOVE_MANY_MAX) in as few
	 * requests as the storage allows (S3 DeleteObjects, Azure Blob
	 * Batch); an absent key counts as removed.  TR_OK when every key is
	 * gone.  On any other status each key is either removed or untouched,
	 * *failed (if failed is not NULL) is the index of a key that is still
	 * there or whose fate is unknown, and errmsg() names that key.  The
	 * status is the class of that key's failure (a key refused with
	 * AccessDenied is TR_EPERM, say).  NULL: the core calls remove() once
	 * per key.  Appended within version 2: the core calls it only when
	 * TR_DRIVER_HAS(d, remove_many). */
	int (*remove_many)(tr_conn *c, const char *const *keys, size_t n, size_t *failed);
} tr_driver;

/* The size of version 2's tr_driver: a driver provides at least this
 * much; members appended later are used only when struct_size covers
 * them. */
#define TR_DRIVER_SIZE_V2 (offsetof(tr_driver, sync) + sizeof(int (*)(tr_conn *)))
/* True when driver d's struct covers member m and m is set. */
#define TR_DRIVER_HAS(d, m) \
	((d)->struct_size >= offsetof(tr_driver, m) + sizeof((d)->m) && (d)->m != NULL)

/* The most keys one remove_many() call is given (S3's DeleteObjects
 * limit; a driver whose storage takes fewer per request splits them). */
#define TR_REMOVE_MANY_MAX 1000

/* The entry point every driver exports under TR_DRIVER_ENTRY. */
typedef const tr_driver *(*tr_driver_entry_fn)(void);

#ifdef __cplusplus
}
#endif

#endif /* TOTALRECALL_DRIVER_H */
