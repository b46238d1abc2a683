/* conformance.h - the checks every storage driver passes: the contract of
 * include/totalrecall/driver.h (version 2) tested against live
 * connections of a loaded driver.  Written once; drvtool's `conform`
 * command runs it, and the driver test scripts run that for fs, s3 and
 * minio (moto), s3 on a server that ignores If-None-Match (s3rver), azure
 * (Azurite) and a version-1 driver through the core's adapter. */
#ifndef TR_CONFORMANCE_H
#define TR_CONFORMANCE_H

#include <stdint.h>
#include "repo/loader.h"

typedef struct tr_conform_opts {
	const char *prefix;     /* every key is under it (unique per run); NULL: made up */
	int64_t large;          /* bytes of the large body, 0: that check is left out */
	/* Error-class mode: NULL runs the suite; "transient", "auth", "perm"
	 * checks instead that each operation in ops fails with that class
	 * (the caller's settings make it so: a dead endpoint, a wrong key). */
	const char *expect;
	const char *ops;        /* "put,get,head,list,remove" (the default) or a part */
	/* The listing checks leave out "a-b" and "a.b" beside "a/b": for a
	 * server known to list '/' before them (s3rver), whose driver then
	 * refuses the listing (tested on its own). */
	int plain_keys;
} tr_conform_opts;

/* Runs the suite (or the error-class checks) with connections opened
 * from env, printing "ok   NAME" or "FAIL NAME: why" per check and a
 * last line "conformance DRIVER: N passed, M failed".  Returns M. */
int tr_conform_run(const tr_loaded_driver *ld, const tr_driver_env *env, const tr_conform_opts *o);

#endif
