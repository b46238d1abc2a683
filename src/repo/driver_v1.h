/* driver_v1.h - drivers built for ABI version 1 run through an adapter
 * that presents them as version 2 (driver.h).  Used by the loader only. */
#ifndef TR_DRIVER_V1_H
#define TR_DRIVER_V1_H

#include <stddef.h>
#include "totalrecall/driver.h"

/* Checks a version-1 table (the entry point's answer, abi_version 1) and
 * fills out with adapter functions.  0, or -1 with one line in err naming
 * the driver and the file. */
int tr_driver_v1_adapt(const void *table, const char *name, const char *path, tr_driver *out, char *err,
		       size_t errlen);

/* Opens a connection of the version-1 driver table: it gets the
 * environment of version 1, and the connection returned is the adapter's,
 * for the functions of the table tr_driver_v1_adapt() made. */
int tr_driver_v1_open(const void *table, const tr_driver_env *env, tr_conn **out);

#endif
