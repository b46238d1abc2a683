/*
 * assert.h - TR_ASSERT(cond): an invariant of the code, not a check of
 * input.  Bad input, a damaged object, a failing disk or network are
 * errors with a message and an exit status (src/README.md, "Errors");
 * TR_ASSERT states what the code itself guarantees (a count that cannot
 * go negative, an index inside its table, a buffer filled no further than
 * its size), so that a broken guarantee stops the process at once, naming
 * the file and line, instead of writing something wrong.
 *
 * Active when configure defines TR_ASSERTS: --enable-asserts, on by
 * default with --enable-werror (the test and CI builds: tests/run-all.sh,
 * tests/sanitize.sh); off in release builds, where the condition is not
 * evaluated (so it must have no side effect).
 */
#ifndef TR_ASSERT_H
#define TR_ASSERT_H

#ifdef TR_ASSERTS
/* Logs "assertion failed: <cond> (<file>:<line>)" and aborts. */
void tr_assert_failed(const char *cond, const char *file, int line) __attribute__((noreturn));
#define TR_ASSERT(cond) ((cond) ? (void)0 : tr_assert_failed(#cond, __FILE__, __LINE__))
#else
#define TR_ASSERT(cond) ((void)sizeof(!(cond)))
#endif

#endif
