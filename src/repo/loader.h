/* loader.h - find and dlopen a storage driver by name. */
#ifndef TR_LOADER_H
#define TR_LOADER_H

#include <stddef.h>
#include "totalrecall/driver.h"

typedef struct tr_loaded_driver {
	void *handle;             /* from dlopen */
	const tr_driver *drv;
	char path[4096];          /* the file it was loaded from */
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

#endif
