/* A driver built for another ABI version: the loader must refuse it. */
#include "totalrecall/driver.h"

static const tr_driver drv = { .abi_version = TR_DRIVER_ABI_VERSION + 98, .struct_size = sizeof(tr_driver),
			       .name = "badabi" };

const tr_driver *totalrecall_driver(void);
const tr_driver *totalrecall_driver(void) { return &drv; }
