#!/usr/bin/env bash
# tests/integration/test_restore_targets.sh - recovery targets are exact
# (fs driver, PostgreSQL 15 with timezone = 'Asia/Tokyo' and
# track_commit_timestamp, so every row's commit time is known):
#   a. a zone-less --target-time is UTC: written as +00, the restored
#      cluster holds exactly the transactions committed by then (PostgreSQL
#      would have read it as Tokyo time, 9 hours earlier)
#   b. a target within a backup's last second: the backup that ends after
#      it is passed over for the one before (stop times have microseconds);
#      --backup of the later one with that target is refused
#   c. a transaction open across a backup: --target-xid restores from that
#      backup, and the transaction's row is there
#   d. targets the archive does not reach are refused before anything is
#      written: a transaction that never committed, a time after the newest
#      commit, an LSN after the last record
#   e. --target-exclusive stops just before a transaction (its row is
#      missing, the one before it is there; without it both are), and is
#      refused without a time, LSN or xid target
# Last line: "restore_targets: N passed, M failed".  TR_KEEP=1 keeps the temp dir.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/integration/lib.sh
. "$here/lib.sh"
# shellcheck source=tests/integration/bt_common.sh
. "$here/bt_common.sh"

tr_init restore_targets
PGBIN=$(pg_bin) || tr_die "PostgreSQL 15 not found"
command -v python3 >/dev/null || tr_die "python3 is needed to read list --json"
: "${TR_CMD_TIMEOUT:=180}"
tr_note "server user $TR_SRV_USER, binary $TR_BIN, PostgreSQL $PGBIN, temp $TR_TMP"
repo_setup db-targets
traffic() { pg_cmd p1 pgbench -n -c 2 -j 2 -t "${1:-100}" >>"$TR_TMP/root/pgbench.log" 2>&1 || tr_die "pgbench failed"; }
archived() {
	local seg
	seg=$(pg_switch p1)
	pg_wait_archived p1 "$seg" 120 || fail "p1: $seg not archived"
}
# utc_now: the server's clock in UTC, microseconds, without a zone.
utc_now() { psql_q p1 "SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US')"; }
# committed_by T: pgbench transactions committed at or before UTC time T.
committed_by() { psql_q p1 "SELECT count(*) FROM pgbench_history WHERE pg_xact_commit_timestamp(xmin) <= '$1+00'"; }
history_rows() { psql_q "$1" "SELECT count(*) FROM pgbench_history"; }
# recovered NAME: starts a restored cluster (promote at the target) and
# waits until it left recovery.
recovered() {
	start_restored "$1" && wait_until 180 pg_not_in_recovery "$1" && pass "$1 recovered and promoted"
}
refused() { # DESC MESSAGE ARGS...
	local desc=$1 msg=$2
	shift 2
	rm -rf "$TR_TMP/pg-bad"
	TR_DESC="restore $desc is refused" assert_rc 1 tr_run "$@" restore "$TR_TMP/pg-bad/data"
	assert_contains "$(cat "$TR_LAST_ERR")" "$msg" "restore $desc: says '$msg'"
	assert_file_absent "$TR_TMP/pg-bad/data" "restore $desc: nothing created"
}

pg_start_cluster p1 "${ARCHIVE_CONF[@]}" "timezone = 'Asia/Tokyo'" "track_commit_timestamp = on" ||
	tr_die "cannot start p1"
setup "p1 runs in Tokyo time" test "$(psql_q p1 'SHOW timezone')" = Asia/Tokyo
pg_cmd p1 pgbench -i -q -s 1 >"$TR_TMP/root/pgbench-i.log" 2>&1 || tr_die "pgbench -i failed"
psql_q p1 "CREATE TABLE open_xact (i int)"
do_backup p1
B1=$LAST_LABEL

# ------------------------------------------------------------------ a
section "a. a zone-less target time is UTC"
traffic 150
T_A=$(utc_now)
traffic 150
archived
WANT_A=$(committed_by "$T_A")
setup "transactions before and after $T_A ($WANT_A before, $(history_rows p1) in all)" \
	test "$WANT_A" -gt 0 -a "$WANT_A" -lt "$(history_rows p1)"
restore_to r_a --target-time "$T_A" --target-action promote
check "written to PostgreSQL with an explicit +00" grep -qE "^recovery_target_time = '${T_A%.*}(\.[0-9]+)?\+00'\$" "${PG_DATA[r_a]}/postgresql.auto.conf"
if recovered r_a; then
	assert_eq "$WANT_A" "$(history_rows r_a)" "the Tokyo cluster holds exactly the transactions committed by $T_A UTC"
fi
drop_cluster r_a

# rows_beyond NAME N: NAME's history table holds more than N rows (a
# condition wait_until evaluates again on every try).
rows_beyond() { [ "$(history_rows "$1")" -gt "$2" ]; }

# ------------------------------------------------------------------ b
section "b. a target within a backup's last second"
traffic 100
# Transactions go on while the backup runs and after it stops.  A backup
# that stops in the first 20 ms of a second leaves too short a window for
# the test (a commit between the second's start and the stop): take
# another, at most three.
for attempt in 1 2 3; do
	pg_cmd p1 pgbench -n -c 1 -j 1 -T 5 >>"$TR_TMP/root/pgbench.log" 2>&1 &
	bg=$!
	before_b=$(history_rows p1)
	wait_until 30 rows_beyond p1 "$before_b" || fail "the background traffic did not start"
	do_backup p1
	B2=$LAST_LABEL
	wait "$bg" || fail "background pgbench failed"
	STOP_US=$(repotool get "backups/$B2/info" | sed -n 's/^stop-time-us //p')
	[ -n "$STOP_US" ] && [ "$((STOP_US % 1000000))" -ge 20000 ] && break
	tr_note "attempt $attempt: $B2 stopped at $STOP_US, too early in its second: another backup"
done
archived
check "backup $B2 records its stop time in microseconds ($STOP_US)" test -n "$STOP_US" -a "$((STOP_US % 1000000))" -ne 0
# The first microsecond of the second B2 stopped in: B2 ends after it.
T_B=$(python3 -c "import datetime, sys; print(datetime.datetime.utcfromtimestamp(int(sys.argv[1]) // 1000000).strftime('%Y-%m-%d %H:%M:%S'))" "$STOP_US")
WANT_B=$(committed_by "$T_B")
setup "transactions committed after $T_B, before $B2 stopped" \
	test "$(psql_q p1 "SELECT count(*) FROM pgbench_history WHERE pg_xact_commit_timestamp(xmin) > '$T_B+00' AND pg_xact_commit_timestamp(xmin) <= to_timestamp($STOP_US / 1000000.0)")" -gt 0
restore_to r_b --target-time "$T_B" --target-action promote
PREV=$(list_labels | grep -x -B1 "$B2" | head -n 1)
assert_eq "$PREV" "$(restored_backup r_b)" "a target in $B2's last second restores the backup before it ($PREV), not $B2 (which ends after it)"
if recovered r_b; then
	assert_eq "$WANT_B" "$(history_rows r_b)" "the transactions committed by $T_B, exactly"
fi
drop_cluster r_b
refused "--backup $B2 with a target in its last second" "ends after the recovery target" --backup "$B2" --target-time "$T_B"

# ------------------------------------------------------------------ c
section "c. a transaction open across a backup"
fifo=$TR_TMP/root/session.in
mkfifo "$fifo"
pg_cmd p1 psql -X -q -At -v ON_ERROR_STOP=1 <"$fifo" >"$TR_TMP/root/session.out" 2>&1 &
session=$!
exec 7>"$fifo"
echo "BEGIN; INSERT INTO open_xact VALUES (42); SELECT txid_current();" >&7
wait_until 30 grep -qE '^[0-9]+$' "$TR_TMP/root/session.out" || fail "the open transaction did not start"
XID=$(grep -E '^[0-9]+$' "$TR_TMP/root/session.out" | head -n 1)
# Later transactions complete while it stays open: the backup's snapshot
# (next-xid) is then past it, which made the old choice pass the backup over.
traffic 20
do_backup p1
B3=$LAST_LABEL
echo "COMMIT;" >&7
exec 7>&-
wait "$session" || fail "the open transaction's session failed"
setup "transaction $XID, open across $B3, committed after it" test "$(psql_q p1 'SELECT count(*) FROM open_xact')" = 1
NEXT_B3=$(repotool get "backups/$B3/info" | sed -n 's/^next-xid //p')
setup "$B3's next transaction id ($NEXT_B3) is past $XID: an older rule would pass over $B3" test "$NEXT_B3" -gt "$XID"
traffic 50
archived
restore_to r_c --target-xid "$XID" --target-action promote
assert_eq "$B3" "$(restored_backup r_c)" "--target-xid $XID restores $B3, across which it was open"
if recovered r_c; then
	assert_eq 42 "$(psql_q r_c 'SELECT i FROM open_xact')" "its row is there"
fi
drop_cluster r_c

# ------------------------------------------------------------------ d
section "d. targets the archive does not reach"
NEXT=$(psql_q p1 "SELECT txid_current()")
refused "--target-xid of a transaction that never committed" "not in the archived WAL" --target-xid "$((NEXT + 1000))"
refused "--target-time after the newest commit" "after the end of the archive" --target-time "$(utc_now)"
refused "--target-lsn after the last record" "after the end of the archive" \
	--target-lsn "$(psql_q p1 "SELECT pg_current_wal_lsn() + 100000000")"

# ------------------------------------------------------------------ e
section "e. an exclusive xid target"
psql_q p1 "CREATE TABLE excl (i int)"
psql_q p1 "INSERT INTO excl VALUES (1)"
X2=$(psql_q p1 "INSERT INTO excl VALUES (2) RETURNING txid_current()")
psql_q p1 "INSERT INTO excl VALUES (3)"
archived
excl_rows() { psql_q "$1" "SELECT string_agg(i::text, ',' ORDER BY i) FROM excl"; }
restore_to r_e --target-xid "$X2" --target-exclusive --target-action promote
check "written as recovery_target_inclusive = 'off'" grep -qx "recovery_target_inclusive = 'off'" \
	"${PG_DATA[r_e]}/postgresql.auto.conf"
if recovered r_e; then
	assert_eq 1 "$(excl_rows r_e)" "--target-exclusive $X2: stopped just before transaction $X2"
fi
drop_cluster r_e
restore_to r_i --target-xid "$X2" --target-action promote
if recovered r_i; then
	assert_eq 1,2 "$(excl_rows r_i)" "without it, transaction $X2 is restored too"
fi
drop_cluster r_i
refused "--target-exclusive without a time, LSN or xid target" "needs --target-time" --target-exclusive \
	--target immediate

tr_note "total: ${SECONDS}s"
finish
