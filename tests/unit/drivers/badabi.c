/* A driver built for an ABI version this core does not know (99): the
 * loader must refuse it, naming both versions. */
#include "totalrecall/driver.h"

static const tr_driver drv = { .abi_version = 99, .struct_size = sizeof(tr_driver), .name = "badabi" };

const tr_driver *totalrecall_driver(void);
const tr_driver *totalrecall_driver(void) { return &drv; }
