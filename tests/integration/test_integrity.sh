#!/usr/bin/env bash
# tests/integration/test_integrity.sh - backups and retention that cannot
# destroy data (issue 14), against PostgreSQL 15 on the fs driver:
#   a. set-up: a cluster archiving into an fs repository, one backup
#   b. a chunk job that fails (test hook): the backup fails promptly,
#      naming it, never hangs, writes no manifest; the next one succeeds
#   c. a server started with a relative pg_ctl -D: metrics go to the
#      data directory's spool, not to a stray directory inside it
#   d. check on an idle server whose archive_command fails: check fails
# Races are made deterministic with the pause test hook (src/testhook.h),
# never with sleeps.  Last line: "integrity: N passed, M failed".
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/integration/lib.sh
. "$here/lib.sh"
# shellcheck source=tests/integration/bt_common.sh
. "$here/bt_common.sh"

tr_init integrity
PGBIN=$(pg_bin) || tr_die "PostgreSQL 15 not found"
: "${TR_CMD_TIMEOUT:=180}"
tr_note "server user $TR_SRV_USER, binary $TR_BIN, PostgreSQL $PGBIN, temp $TR_TMP"
repo_setup db-int

# manifests: the labels that have a manifest, sorted.
manifests() { find "$REPO/backups" -name manifest -printf '%h\n' 2>/dev/null | xargs -rn1 basename | sort; }

# ------------------------------------------------------------------ a
section "a. set-up"
pg_start_cluster p1 "${ARCHIVE_CONF[@]}" || tr_die "cannot start p1"
pg_cmd p1 pgbench -i -q -s 1 >"$TR_TMP/root/pgbench-i.log" 2>&1 || tr_die "pgbench -i failed"
D=${PG_DATA[p1]}
do_backup p1
B0=$LAST_LABEL

# ------------------------------------------------------------------ b
# A file of three chunks followed by 1100 empty files: the walk gets far
# ahead of the chunks and waits for the head of its queue, whose chunks the
# failure makes the pool skip (what used to hang, backup.c/pool.c).
section "b. a failing chunk job"
as_pg dd if=/dev/urandom of="$D/aaa_big" bs=64K count=3 status=none
as_pg mkdir "$D/aab"
(cd "$D/aab" && as_pg touch $(seq -f 'e%04g' 1 1100))
before=$(manifests)
for spec in 1:2 1:3 2:2 2:4 2:40; do
	par=${spec%%:*} n=${spec##*:}
	TR_DESC="backup with chunk job $n failing (parallel $par)" assert_rc 1 \
		tr_on p1 TR_CMD_TIMEOUT=60 TOTALRECALL_PARALLEL="$par" TOTALRECALL_CHUNK_SIZE=64KiB \
		TOTALRECALL_TEST_FAIL="chunk:$n" backup
	assert_contains "$(cat "$TR_LAST_ERR")" "test hook: chunk job failed" "the failure is named (chunk $n, parallel $par)"
done
assert_eq "$before" "$(manifests)" "no failed backup wrote a manifest"
do_backup p1
check "the next backup succeeds and is listed" test "$LAST_LABEL" != "$B0"
as_pg rm -rf "$D/aaa_big" "$D/aab"

# ------------------------------------------------------------------ c
# pg_ctl -D with a relative path puts PGDATA=<that path> into the server's
# environment; archive_command runs in the data directory, where the path
# names nothing: the metrics must still go to <data directory>/totalrecall_spool.
section "c. metrics of a server started with a relative pg_ctl -D"
pg_stop_cluster p1
as_pg rm -rf "$D/totalrecall_spool"
tr_build_env
(cd "$(dirname "$D")" && as_pg env -i "${TR_ENV_BUILT[@]}" "$PGBIN/pg_ctl" -D "$(basename "$D")" \
	-l "${PG_LOG[p1]}" -w -t 60 start >/dev/null) || tr_die "cannot start p1 with a relative -D"
wait_until 30 pg_is_ready p1 || tr_die "p1 does not answer"
psql_q p1 "CREATE TABLE rel_d AS SELECT 1 AS x"
seg=$(pg_switch p1)
pg_wait_archived p1 "$seg" 60 || fail "$seg not archived"
check "archive-put recorded $seg in <data directory>/totalrecall_spool" \
	wait_until 10 grep -q "archive-put	$seg" "$D/totalrecall_spool/metrics.spool"
check "no stray spool inside the data directory" test ! -e "$D/$(basename "$D")"

# ------------------------------------------------------------------ d
# On an idle server pg_switch_wal() names a segment archived long ago:
# check must write a record first and wait for the segment holding it.
section "d. check on an idle server with a broken archive_command"
seg=$(pg_switch p1)
pg_wait_archived p1 "$seg" 60 || fail "$seg not archived"
TR_DESC="check with a working archive_command" assert_rc 0 tr_on p1 check
pg_conf p1 "archive_command = '/bin/false archive-put %p'"
psql_q p1 "SELECT pg_reload_conf()" >/dev/null
wait_until 30 sql_true p1 "SELECT current_setting('archive_command') LIKE '/bin/false%'" || fail "reload"
seg=$(pg_switch p1)   # idle from here: nothing written since this switch
TR_DESC="check on the idle server with a broken archive_command" assert_rc 1 \
	tr_on p1 TOTALRECALL_ARCHIVE_TIMEOUT=5 check
assert_contains "$(cat "$TR_LAST_ERR")" "was not archived within 5 seconds" "check names the segment it waited for"
pg_conf p1 "archive_command = '$TR_BIN archive-put %p'"
psql_q p1 "SELECT pg_reload_conf()" >/dev/null
wait_until 30 sql_true p1 "SELECT current_setting('archive_command') LIKE '%totalrecall%'" || fail "reload"
TR_DESC="check once archive_command works again" assert_rc 0 tr_on p1 check

tr_note "total: ${SECONDS}s"
finish
