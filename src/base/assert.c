/* assert.c - TR_ASSERT's failure (see assert.h). */
#include "config.h"
#include "base/assert.h"

#include <stdio.h>
#include <stdlib.h>

#ifdef TR_ASSERTS
void tr_assert_failed(const char *cond, const char *file, int line)
{
	/* Not through tr_log: the process is in a state its own code did not
	 * foresee; one write to stderr, then abort (a core file, where
	 * allowed, shows where). */
	fprintf(stderr, "totalrecall: ERROR: assertion failed: %s (%s:%d)\n", cond, file, line);
	abort();
}
#endif
