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

void tr_testhook_op(void);

#endif
