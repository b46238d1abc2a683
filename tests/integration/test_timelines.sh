#!/usr/bin/env bash
# tests/integration/test_timelines.sh - timelines are never guessed (fs
# driver, PostgreSQL 15).  A copy of production is restored and promoted
# (timeline 2) with production's settings, so it archives into the same
# repository, and production (timeline 1) goes on:
#   a. before production writes past the fork, a default restore follows
#      the newest timeline (2) from the backup before the fork
#   b. once it does: archive-put on production logs a warning and records
#      a timeline-divergence metric; list and list --json report the
#      divergence, verify reports it
#   c. a default restore is refused, naming each timeline, its fork point
#      and its last archived segment; --backup of a backup both timelines
#      continue is refused too; --backup of a backup only timeline 1
#      continues is restored along timeline 1; an unknown timeline is
#      refused
#   d. --target-timeline 1 restores the newest backup (taken after the
#      fork) and recovers production's latest state; --target-timeline 2
#      passes over that backup (not on timeline 2's history) for the one
#      before the fork and recovers the copy's latest state; both with
#      --archive-mode=off, and neither archives into the repository
#   e. a damaged history file: list warns and goes on, timeline 1 restores
# Last line: "timelines: N passed, M failed".  TR_KEEP=1 keeps the temp dir.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/integration/lib.sh
. "$here/lib.sh"
# shellcheck source=tests/integration/bt_common.sh
. "$here/bt_common.sh"

tr_init timelines
PGBIN=$(pg_bin) || tr_die "PostgreSQL 15 not found"
command -v python3 >/dev/null || tr_die "python3 is needed to read list --json"
: "${TR_CMD_TIMEOUT:=180}"
tr_note "server user $TR_SRV_USER, binary $TR_BIN, PostgreSQL $PGBIN, temp $TR_TMP"
repo_setup db-tl
traffic() { pg_cmd "$1" pgbench -n -c 2 -j 2 -t 100 >>"$TR_TMP/root/pgbench.log" 2>&1 || tr_die "pgbench on $1 failed"; }
# archived NAME: switches WAL on cluster NAME and waits until it is archived.
archived() {
	local seg
	seg=$(pg_switch "$1")
	pg_wait_archived "$1" "$seg" 120 || fail "$1: $seg not archived"
}
# newest_segment TLI: the newest segment of a timeline in the repository.
newest_segment() {
	find "$REPO/wal" -type f -name "$(printf '%08X' "$1")????????????????" -printf '%f\n' | sort | tail -n 1
}
refused() { # NAME DESC ARGS...: restore is refused, nothing is created
	local name=$1 desc=$2
	shift 2
	rm -rf "$TR_TMP/pg-$name"
	TR_DESC="restore $desc is refused" assert_rc 1 tr_run "$@" restore "$TR_TMP/pg-$name/data"
	assert_file_absent "$TR_TMP/pg-$name/data" "restore $desc: nothing created"
}

# ------------------------------------------------------------------ a
section "a. a promoted copy archiving into production's repository"
pg_start_cluster p1 "${ARCHIVE_CONF[@]}" || tr_die "cannot start p1"
pg_cmd p1 pgbench -i -q -s 1 >"$TR_TMP/root/pgbench-i.log" 2>&1 || tr_die "pgbench -i failed"
do_backup p1
B1=$LAST_LABEL
traffic p1
archived p1
# The copy: restored with production's settings (archive_command included),
# promoted at the end of the archive: timeline 2, in the same repository.
restore_to q --backup "$B1"
pg_start q || tr_die "cannot start q"
wait_until 180 pg_not_in_recovery q || tr_die "q did not promote: $(tail -n 5 "${PG_LOG[q]}")"
setup "q promoted to timeline 2" test "$(psql_q q 'SELECT timeline_id FROM pg_control_checkpoint()')" = 2
check "q archived 00000002.history into production's repository" wait_until 60 test -f "$REPO/wal/00000002.history"
hist=$(pg_scratch hist)/00000002.history
tr_run archive-get "$hist" 00000002.history || fail "archive-get 00000002.history"
FORK=$(awk '$1 == 1 { print $2 }' "$hist")
setup "timeline 2 forked from timeline 1 at $FORK" test -n "$FORK"
restore_to r_a
assert_eq "$B1" "$(restored_backup r_a)" "no divergence yet: a default restore takes $B1"
check "no divergence yet: it follows the newest timeline, 2" grep -q "recovering along timeline 2" "$TR_TMP/root/restore-r_a.err"
drop_cluster r_a

# ------------------------------------------------------------------ b
section "b. production goes on past the fork"
psql_q q "CREATE TABLE only_q AS SELECT g FROM generate_series(1, 1000) g"
traffic q
archived q
traffic p1
archived p1
do_backup p1
B2=$LAST_LABEL
traffic p1
warned() { grep -q "timeline 1 is archived past $FORK, where timeline 2 forked" "${PG_LOG[p1]}"; }
# archive-put probes for new timelines every few seconds: archive until it warns.
deadline=$((SECONDS + 60))
while ! warned && [ "$SECONDS" -lt "$deadline" ]; do
	psql_q p1 "CREATE TABLE IF NOT EXISTS tick (i int); INSERT INTO tick VALUES (1)"
	archived p1
done
check "archive-put on production warns that it archives past timeline 2's fork" warned
check "... and records a timeline-divergence metric in production's spool" \
	grep -q "timeline-divergence" "${PG_DATA[p1]}/totalrecall_spool/metrics.spool"
P_FINAL=$(psql_state p1)
Q_FINAL=$(psql_state q)
archived p1
archived q
setup "the two timelines differ" test "$P_FINAL" != "$Q_FINAL"
LAST1=$(newest_segment 1)
LAST2=$(newest_segment 2)
tr_note "fork $FORK; newest segments: $LAST1 (timeline 1), $LAST2 (timeline 2); backups $B1 (before the fork), $B2 (timeline 1, after it)"

TR_DESC="list" assert_rc 0 tr_run list
assert_contains "$(cat "$TR_LAST_OUT")" "DIVERGED" "list says the timelines diverged"
assert_contains "$(cat "$TR_LAST_OUT")" "timeline 2: forked from timeline 1 at $FORK, last archived segment $LAST2" "list names timeline 2's fork and last segment"
list_json >"$TR_TMP/root/tl.json"
assert_eq True "$(jq_py 'j["diverged"]' <"$TR_TMP/root/tl.json")" "list --json: diverged"
assert_eq "1:None:$LAST1:True 2:1:$LAST2:True" \
	"$(jq_py '["%s:%s:%s:%s" % (t["timeline"], t["parent"], t["last_segment"], t["tip"]) for t in j["timelines"]]' <"$TR_TMP/root/tl.json" | tr '\n' ' ' | sed 's/ $//')" \
	"list --json: both timelines, their parents, last segments, both tips"
tr_run verify >"$TR_TMP/root/verify.out" 2>&1 || true
assert_contains "$(cat "$TR_TMP/root/verify.out")" "diverged timelines" "verify reports the diverged timelines"

# ------------------------------------------------------------------ c
section "c. restore refuses to guess"
refused r_c "without --target-timeline"
err=$(cat "$TR_LAST_ERR")
assert_contains "$err" "diverged timelines" "the refusal says the timelines diverged"
assert_contains "$err" "timeline 1: last archived segment $LAST1" "... names timeline 1 and its last archived segment"
assert_contains "$err" "timeline 2: forked from timeline 1 at $FORK, last archived segment $LAST2" "... names timeline 2, its fork point and last segment"
assert_contains "$err" "--target-timeline 1 or 2" "... says how to choose"
refused r_c "--backup $B1, which both timelines continue" --backup "$B1"
assert_contains "$(cat "$TR_LAST_ERR")" "more than one continues" "says both timelines continue $B1"
refused r_c "--target-timeline 7" --target-timeline 7
assert_contains "$(cat "$TR_LAST_ERR")" "timeline 7 is not in the archive" "says timeline 7 is not in the archive"
restore_to r_b2 --backup "$B2" --archive-mode=off
check "--backup $B2 (only timeline 1 continues it): restored along timeline 1" \
	grep -q "recovering along timeline 1" "$TR_TMP/root/restore-r_b2.err"
drop_cluster r_b2

# ------------------------------------------------------------------ d
section "d. each timeline on request"
for tl in 1 2; do
	n=r_tl$tl
	restore_to "$n" --target-timeline "$tl" --archive-mode=off
	want_backup=$B2
	want_state=$P_FINAL
	if [ "$tl" = 2 ]; then want_backup=$B1; want_state=$Q_FINAL; fi
	assert_eq "$want_backup" "$(restored_backup "$n")" "--target-timeline $tl: restore chose $want_backup"
	check "--target-timeline $tl: recovery_target_timeline = '$tl'" grep -qx "recovery_target_timeline = '$tl'" "${PG_DATA[$n]}/postgresql.auto.conf"
	if pg_start "$n" && wait_until 180 pg_not_in_recovery "$n"; then
		pass "$n recovered along timeline $tl and promoted"
		assert_eq "$want_state" "$(psql_state "$n")" "--target-timeline $tl: pgbench_accounts = timeline $tl's latest state"
		assert_eq "$([ "$tl" = 2 ] && echo t || echo f)" "$(psql_q "$n" "SELECT to_regclass('only_q') IS NOT NULL")" \
			"--target-timeline $tl: the copy's table is $([ "$tl" = 2 ] && echo there || echo absent)"
		assert_eq off "$(psql_q "$n" 'SHOW archive_mode')" "$n: archive_mode is off (--archive-mode=off)"
		psql_q "$n" "SELECT pg_switch_wal()" >/dev/null
	else
		fail "$n did not recover: $(grep -m2 -E 'FATAL|PANIC' "${PG_LOG[$n]}" | tr '\n' '|')"
	fi
	drop_cluster "$n"
done
assert_eq "00000002.history" "$(find "$REPO/wal" -name '*.history' -printf '%f\n' | sort | tr '\n' ' ' | sed 's/ $//')" \
	"the restored copies archived nothing into the repository (only 00000002.history there)"

# ------------------------------------------------------------------ e
section "e. a damaged history file blocks only itself"
flip_byte "$REPO/wal/00000002.history" 40
TR_DESC="list with a damaged 00000002.history" assert_rc 0 tr_run list
assert_contains "$(cat "$TR_LAST_ERR")" "00000002.history is damaged" "list warns, naming the damaged history file"
restore_to r_e --target-timeline 1 --archive-mode=off
assert_eq "$B2" "$(restored_backup r_e)" "timeline 1 is still restored, from $B2"
drop_cluster r_e
flip_byte "$REPO/wal/00000002.history" 40

tr_note "total: ${SECONDS}s"
finish
