/*
 * tmpobj.h - objects held in anonymous temporary files: a manifest, a
 * listing or a backup's record body that may be larger than memory should
 * hold.  The files live in <state-dir>/tmp and are unlinked at once, so
 * nothing is left behind, even after kill -9.
 */
#ifndef TR_TMPOBJ_H
#define TR_TMPOBJ_H

#include <stdio.h>
#include "repo/repo.h"

/* An anonymous temporary file in <state_dir>/tmp (created 0700 if
 * missing); NULL with errno. */
FILE *tr_tmpfile_in(const char *state_dir);
/* The same in the state directory of r's settings. */
FILE *tr_repo_tmpfile(const tr_repo *r);
/* Decodes an object into an anonymous temporary file, rewound. */
FILE *tr_repo_get_tmpfile(tr_repo *r, const char *rel, int *status);
/* Stores the contents of a FILE (from its start) as an object. */
int tr_repo_put_file(tr_repo *r, const char *rel, FILE *f, unsigned flags, tr_xfer *x);

#endif
