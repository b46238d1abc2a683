/* loader.h - find and dlopen a storage driver by name, and open its
 * connections.  Drivers of ABI version 2 are used as they are; drivers of
 * version 1 through an adapter (driver_v1.c); any other version is
 * refused with both versions named. */
#ifndef TR_LOADER_H
#define TR_LOADER_H

#include <stddef.h>
#include "totalrecall/driver.h"

typedef struct tr_loaded_driver {
	void *handle;             /* from dlopen */
	const tr_driver *drv;     /* version 2: the driver's table, or adapted */
	int abi_version;          /* the version the driver was built for */
	const void *v1;           /* a version-1 driver's own table, else NULL */
	tr_driver adapted;        /* drv points here for a version-1 driver */
	char path[4096];          /* the file it was loaded from */
	/* (drv may point into the struct itself: never copy one) */
} tr_loaded_driver;

/*
 * Loads driver `name` from dir_override if it is non-NULL and non-empty,
 * else from the first of: the installed driver directory
 * ($(pkglibdir)/drivers), and the build tree next to the running binary
 * (../drivers/NAME/.libs).  On failure returns -1 with one line in err
 * naming the driver, the reason and the directories searched.
 */
int tr_driver_load(const char *name, const char *dir_override,
		   tr_loaded_driver *out, char *err, size_t errlen);
void tr_driver_unload(tr_loaded_driver *ld);

/* Opens a connection: ld->drv->open(env, out), or the adapter's for a
 * version-1 driver.  Every connection is opened here (never with
 * ld->drv->open directly); env is the core's, of this version. */
int tr_driver_open(const tr_loaded_driver *ld, const tr_driver_env *env, tr_conn **out);

/* An environment of this version for open(). */
tr_driver_env tr_driver_env_make(tr_setting_fn setting, tr_log_fn log, void *ctx);

#endif
