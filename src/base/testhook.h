/*
 * testhook.h - deterministic fault points for the tests.
 *
 * Crash point (tests/integration/test_crash.sh): with
 * TOTALRECALL_TEST_KILL_AFTER_OPS=N in the environment, the process sends
 * itself SIGKILL when its storage operation number N+1 is about to start
 * (N = 0: before the first), as kill -9 would at that moment; when it ends
 * before that, it prints "test hook: K storage operations" on stderr so
 * that a test learns how many points a command has.  Without the variable
 * it costs one relaxed atomic increment per operation.
 *
 * Failure point: with TOTALRECALL_TEST_FAIL=<point>:<n>, the n-th call
 * (from 1) of tr_testhook_fail("<point>") returns 1 and the caller fails
 * as if that step had failed (points: "chunk", a backup's chunk job).
 *
 * Pause point (races made deterministic): with
 * TOTALRECALL_TEST_PAUSE=<point>:<path>, tr_testhook_pause("<point>")
 * creates <path>.reached, then waits until <path>.go exists (at most five
 * minutes).  Points: "expire-chunks" (expire holds the repository lock and
 * has scanned the backup locks, before it removes chunks),
 * "backup-before-manifest" (every chunk is stored, the manifest is not),
 * "backup-before-stop" (a standby's backup has read its files, before
 * pg_backup_stop), "restore-before-control" (a restore has written
 * everything but global/pg_control).
 * Without the variables both cost one getenv per call.
 */
#ifndef TR_TESTHOOK_H
#define TR_TESTHOOK_H

#include <stdint.h>

void tr_testhook_op(void);
int tr_testhook_fail(const char *point);
void tr_testhook_pause(const char *point);

/* With TOTALRECALL_TEST_TRUNCATE_AT=N: the first time a reader of the file
 * open as fd reports that it has read up to pos >= N, the file is
 * truncated to N bytes, as another process might do at that moment (the
 * shrinking-WAL test of archive-put).  Without it, a no-op. */
void tr_testhook_truncate(int fd, uint64_t pos);

#endif
