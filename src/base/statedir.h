/*
 * statedir.h - local state is trusted only when it is ours.
 *
 * The state directory holds the key cache, the look-ahead markers, the
 * prefetch spool and facts about storage: another local user who could
 * create, replace or write into it could read keys or plant WAL.  So every
 * use opens it, and each directory below it, without following a symbolic
 * link, and checks that it is a directory owned by this user (the
 * effective uid) that no other user can write; the directories below it
 * must give no access at all to others (mode 0700).  What is missing is
 * created with mode 0700.  A check that fails names the directory and
 * what is wrong with it, and nothing is read or written there.
 */
#ifndef TR_STATEDIR_H
#define TR_STATEDIR_H

#include <stddef.h>

/* Opens root, then each '/'-separated component of sub below it ("" for
 * root itself), checking each and creating what is missing.  Returns an
 * O_DIRECTORY file descriptor, or -1 with a one-line message in err. */
int tr_private_dir(const char *root, const char *sub, char *err, size_t errlen);

/* Checks an open directory: owned by us, not writable by others, and with
 * private set, not accessible to others at all.  0, or -1 with err naming
 * what (a path, for the message). */
int tr_private_dir_check(int fd, const char *what, int private_, char *err, size_t errlen);

#endif
