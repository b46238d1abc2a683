/*
 * testhook.h - a deterministic crash point for the crash tests
 * (tests/integration/test_crash.sh).
 *
 * With TOTALRECALL_TEST_KILL_AFTER_OPS=N in the environment, the process
 * sends itself SIGKILL when its storage operation number N+1 is about to
 * start (N = 0: before the first), as kill -9 would at that moment; when it
 * ends before that, it prints "test hook: K storage operations" on stderr
 * so that a test learns how many points a command has.  Without the
 * variable it costs one relaxed atomic increment per operation.
 */
#ifndef TR_TESTHOOK_H
#define TR_TESTHOOK_H

#include <stdint.h>

void tr_testhook_op(void);

/* With TOTALRECALL_TEST_TRUNCATE_AT=N: the first time a reader of the file
 * open as fd reports that it has read up to pos >= N, the file is
 * truncated to N bytes, as another process might do at that moment (the
 * shrinking-WAL test of archive-put).  Without it, a no-op. */
void tr_testhook_truncate(int fd, uint64_t pos);

#endif
