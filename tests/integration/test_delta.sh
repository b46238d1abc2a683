#!/usr/bin/env bash
# tests/integration/test_delta.sh - restore --delta re-syncs an old primary
# after a failover (fs driver, PostgreSQL 15):
#   a. a primary p1 with pgbench data and a standby s1 built with
#      restore --standby; p1 is stopped, s1 promoted, 1% of
#      pgbench_accounts changed on s1 and a backup taken there
#   b. restore --delta --standby into p1's old data directory fetches at
#      most 10% of what a full restore of the same backup fetches; p1
#      then streams from s1 and holds the same data; the full restore
#      holds it too; the metrics record says what was fetched and reused
#   c. refused, nothing changed: a running server, another cluster
#   d. a delta restore killed before pg_control is written leaves a
#      directory PostgreSQL cannot start and an ordinary restore refuses;
#      running restore --delta again finishes it
# Last line: "delta: N passed, M failed".  TR_KEEP=1 keeps the temp dir.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/integration/lib.sh
. "$here/lib.sh"
# shellcheck source=tests/integration/bt_common.sh
. "$here/bt_common.sh"

tr_init delta
PGBIN=$(pg_bin) || tr_die "PostgreSQL 15 not found"
command -v python3 >/dev/null || tr_die "python3 is needed to read list --json"
: "${TR_CMD_TIMEOUT:=240}"
tr_note "server user $TR_SRV_USER, binary $TR_BIN, PostgreSQL $PGBIN, temp $TR_TMP"
repo_setup db-delta
# A delta restore fetches the chunks that differ: 1% of a small table's
# rows touches a larger share of its 4 MiB chunks (the default) than of
# 1 MiB ones, and the 10% bound below is for 1 MiB.
TR_ENV+=(TOTALRECALL_CHUNK_SIZE=1MiB)
SCALE=${TR_DELTA_SCALE:-5}

# conninfo NAME: how a standby reaches cluster NAME.
conninfo() { printf 'host=127.0.0.1 port=%s user=%s application_name=%s\n' "${PG_PORT[$1]}" "$TR_SRV_USER" "$2"; }
streaming_to() { # PRIMARY APPLICATION_NAME
	sql_true "$1" "SELECT count(*) = 1 FROM pg_stat_replication WHERE application_name = '$2' AND state = 'streaming'"
}
same_state() { [ "$(psql_state "$1")" = "$2" ]; }
# fetched LOGFILE: the bytes a restore fetched, from its last line.
fetched() {
	sed -n -e 's/.* restored into .*: \([0-9]*\) bytes fetched.*/\1/p' -e 's/.* restored, \([0-9]*\) bytes;.*/\1/p' "$1" |
		tail -n 1
}

# ------------------------------------------------------------------ a
section "a. a failover: p1 stopped, s1 promoted, 1% of the accounts changed"
pg_start_cluster p1 "${ARCHIVE_CONF[@]}" "max_wal_senders = 5" || tr_die "cannot start p1"
pg_cmd p1 pgbench -i -q -s "$SCALE" >"$TR_TMP/root/pgbench-i.log" 2>&1 || tr_die "pgbench -i failed"
psql_q p1 "CHECKPOINT"
do_backup p1
B1=$LAST_LABEL
restore_to s1 --standby --primary-conninfo "$(conninfo p1 s1)"
# s1 keeps the restored archive settings: promoted, it archives into the
# repository (the new primary's WAL the old one will need).
pg_start s1 || tr_die "cannot start s1"
wait_until 120 streaming_to p1 s1 || fail "s1 streams from p1"
pg_stop_cluster p1
as_pg "$PGBIN/pg_ctl" -D "${PG_DATA[s1]}" -w -t 60 promote >/dev/null || fail "s1 promoted"
wait_until 60 pg_not_in_recovery s1 || fail "s1 left recovery"
ROWS=$((SCALE * 100000))
psql_q s1 "UPDATE pgbench_accounts SET abalance = abalance + 7 WHERE aid <= $((ROWS / 100))"
psql_q s1 "CHECKPOINT"
do_backup s1
B2=$LAST_LABEL
STATE=$(psql_state s1)
setup "$B2 of the new primary s1 after $B1 of p1" test -n "$B2" -a "$B2" != "$B1"

# ------------------------------------------------------------------ c
section "c. refused: a running server, another cluster"
TR_DESC="restore --delta into the running s1" assert_rc 1 tr_run restore --delta "${PG_DATA[s1]}"
assert_contains "$(cat "$TR_LAST_ERR")" "a server is running on" "says a server runs there"
check "s1 still runs" pg_is_ready s1
pg_init_cluster x1 || tr_die "initdb x1"
before=$(cd "${PG_DATA[x1]}" && find . -printf '%P %s %T@\n' | sort | sha256sum)
TR_DESC="restore --delta into another cluster" assert_rc 1 tr_run restore --delta "${PG_DATA[x1]}"
assert_contains "$(cat "$TR_LAST_ERR")" "system identifier" "names the system identifiers"
assert_eq "$before" "$(cd "${PG_DATA[x1]}" && find . -printf '%P %s %T@\n' | sort | sha256sum)" "x1 unchanged"
drop_cluster x1

# ------------------------------------------------------------------ b
section "b. the old primary re-synced with restore --delta --standby"
TR_DESC="restore --delta --standby into p1" assert_rc 0 tr_run restore --delta --standby \
	--primary-conninfo "$(conninfo s1 p1)" "${PG_DATA[p1]}"
cp "$TR_LAST_ERR" "$TR_TMP/root/restore-delta.err"
DELTA=$(fetched "$TR_TMP/root/restore-delta.err")
REUSED=$(sed -n 's/.* \([0-9]*\) bytes already in place.*/\1/p' "$TR_TMP/root/restore-delta.err" | tail -n 1)
tr_note "delta: $(grep -o 'restored into.*' "$TR_TMP/root/restore-delta.err")"
assert_file_exists "${PG_DATA[p1]}/standby.signal" "p1 is a standby"
assert_file_absent "${PG_DATA[p1]}/global/pg_control.totalrecall-delta" "the mark is gone"
assert_file_absent "${PG_DATA[p1]}/totalrecall_restore.lock" "the lock is gone"
assert_eq 0 "$(find "${PG_DATA[p1]}/pg_wal" -maxdepth 1 -type f | wc -l)" "p1's old WAL is gone"
check "the metrics record the bytes fetched and reused" \
	grep -qP "\trestore-delta\t$B2\t[0-9-]+\t[0-9-]+\t$REUSED\t[0-9]+\tok\t$DELTA bytes fetched" \
	"${PG_DATA[p1]}/totalrecall_spool/metrics.spool"
pg_start p1 || fail "p1 starts as a standby of s1"
wait_until 120 streaming_to s1 p1 || fail "p1 streams from s1"
wait_until 120 same_state p1 "$STATE" && pass "p1 holds s1's data" || fail "p1 holds s1's data"
psql_q s1 "CREATE TABLE after_resync AS SELECT 42 AS answer"
wait_until 60 sql_true p1 "SELECT EXISTS (SELECT 1 FROM pg_class WHERE relname = 'after_resync')" &&
	pass "a table made on s1 reaches p1" || fail "a table made on s1 reaches p1"

restore_to f1
FULL=$(fetched "$TR_TMP/root/restore-f1.err")
tr_note "full restore of $B2: $FULL bytes; delta: $DELTA bytes fetched, $REUSED in place"
setup "the full restore fetched something ($FULL bytes)" test "${FULL:-0}" -gt 1000000
check "the delta restore fetched at most 10% of a full restore ($DELTA of $FULL bytes)" \
	test "${DELTA:-999999999999}" -le $((FULL / 10))
start_restored f1 && wait_until 120 pg_not_in_recovery f1
assert_eq "$(psql_q f1 "$STATE_SQL")" "$STATE" "the full restore holds the same data"
drop_cluster f1

# ------------------------------------------------------------------ d
section "d. an interrupted delta restore cannot be started, and is finished by another"
pg_stop_cluster p1
psql_q s1 "UPDATE pgbench_accounts SET abalance = abalance - 1 WHERE aid <= 100; CHECKPOINT"
do_backup s1
STATE=$(psql_state s1)
PAUSE=$(pg_scratch hooks)/pause
tr_run TR_KILL_TAG=delta-kill "TOTALRECALL_TEST_PAUSE=restore-before-control:$PAUSE" restore --delta --standby \
	--primary-conninfo "$(conninfo s1 p1)" "${PG_DATA[p1]}" >"$TR_TMP/root/killed.out" 2>&1 &
bg=$!
wait_until 120 test -e "$PAUSE.reached" || fail "the delta restore reached the point before pg_control"
for pid in $(tagged_pids delta-kill); do kill -KILL "$pid"; done
wait "$bg" 2>/dev/null || true
assert_file_absent "${PG_DATA[p1]}/global/pg_control" "no global/pg_control"
assert_file_exists "${PG_DATA[p1]}/global/pg_control.totalrecall-delta" "the mark is there"
assert_file_exists "${PG_DATA[p1]}/totalrecall_restore.lock" "the lock file is there"
check "PostgreSQL cannot start it" start_fails p1
TR_DESC="an ordinary restore into it" assert_rc 1 tr_run restore "${PG_DATA[p1]}"
assert_contains "$(cat "$TR_LAST_ERR")" "interrupted" "says a restore was interrupted"
TR_DESC="restore --delta again" assert_rc 0 tr_run restore --delta --standby --primary-conninfo "$(conninfo s1 p1)" \
	"${PG_DATA[p1]}"
tr_note "$(grep -o 'restored into.*' "$TR_LAST_ERR")"
assert_file_exists "${PG_DATA[p1]}/global/pg_control" "global/pg_control is written"
assert_file_absent "${PG_DATA[p1]}/global/pg_control.totalrecall-delta" "the mark is gone"
assert_file_absent "${PG_DATA[p1]}/totalrecall_restore.lock" "the lock is gone"
pg_start p1 || fail "p1 starts"
wait_until 120 same_state p1 "$STATE" && pass "p1 holds s1's data again" || fail "p1 holds s1's data again"

tr_note "total: ${SECONDS}s"
finish
