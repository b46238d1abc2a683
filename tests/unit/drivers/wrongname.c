/* A complete driver table whose name differs from its file name. */
#include "totalrecall/driver.h"

static int op(void) { return TR_EIO; }
static const tr_driver drv = {
	.abi_version = TR_DRIVER_ABI_VERSION, .struct_size = sizeof(tr_driver), .name = "other",
	.open = (void *)op, .close = (void *)op, .errmsg = (void *)op, .caps = (void *)op,
	.put = (void *)op, .get = (void *)op, .head = (void *)op, .list = (void *)op, .remove = (void *)op,
};

const tr_driver *totalrecall_driver(void);
const tr_driver *totalrecall_driver(void) { return &drv; }
