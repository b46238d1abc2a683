#!/usr/bin/env bash
# tests/integration/test_restore_safety.sh - restore writes only inside its
# target (fs driver, PostgreSQL 15):
#   a. a cluster made with initdb --waldir (symlinked pg_wal), a tablespace
#      and a symlinked include directory, restored on the same host while it
#      runs: the tablespace's own location is refused; with --tablespace-map
#      (by name) and --archive-mode=off the copy gets a plain pg_wal and
#      conf.d; the original's WAL segments and tablespace files keep their
#      checksums through the restore and while the copy runs; both run; the
#      original checkpoints and restarts afterwards
#   b. --link-map (directory and file links) and --tablespace-map by OID:
#      links to the new places, the copy starts; maps naming nothing, or a
#      place inside the data directory, are refused
#   c. a failed restore (a damaged chunk) with both maps: what the run
#      created is gone, a pre-existing empty link target stays (empty), the
#      original is untouched
#   d. the target's lock: held by another process -> refused; left by a
#      killed restore -> refused as interrupted; two restores started at
#      once -> exactly one restores
#   e. a crafted manifest naming ../ and absolute paths -> refused, nothing
#      written anywhere
#   f. as root: refused without a target directory owned by the database
#      user; with one, every restored file belongs to that user and the
#      cluster starts
#   g. a data directory path with '%', a space and a quote, and a restore
#      point whose name holds a quote, a backslash and a newline: the
#      restored cluster starts and recovers to that restore point
# Last line: "restore_safety: N passed, M failed".  TR_KEEP=1 keeps the temp dir.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/integration/lib.sh
. "$here/lib.sh"
# shellcheck source=tests/integration/bt_common.sh
. "$here/bt_common.sh"

tr_init restore_safety
PGBIN=$(pg_bin) || tr_die "PostgreSQL 15 not found"
command -v python3 >/dev/null || tr_die "python3 is needed to read list --json"
: "${TR_CMD_TIMEOUT:=180}"
tr_note "server user $TR_SRV_USER, binary $TR_BIN, PostgreSQL $PGBIN, temp $TR_TMP"
repo_setup db-safety
TS_SQL="SELECT count(*), md5(string_agg(t, ',' ORDER BY i)) FROM t_ts"

# The original's files a restore must never touch: every complete WAL
# segment (not the one being written) and every tablespace file, with
# their checksums.  Taken with the original idle after a checkpoint.
orig_fingerprint() {
	local cur
	cur=$(psql_q p1 "SELECT pg_walfile_name(pg_current_wal_insert_lsn())")
	(cd "$TR_TMP/p1-wal" && find . -maxdepth 1 -type f -name '[0-9A-F]*' ! -name "$cur" -print0 | sort -z |
		xargs -0r sha256sum)
	(cd "$TR_TMP/ts1" && find . -type f -print0 | sort -z | xargs -0r sha256sum)
}

# ------------------------------------------------------------------ a
section "a. initdb --waldir, a tablespace and a symlinked conf.d, restored while the original runs"
pg_init_cluster p1 --waldir="$TR_TMP/p1-wal" || tr_die "cannot initdb p1"
as_pg mkdir -p "$TR_TMP/p1-confd" "$TR_TMP/ts1"
printf "work_mem = '7MB'\n" | as_pg tee "$TR_TMP/p1-confd/extra.conf" >/dev/null
as_pg ln -s "$TR_TMP/p1-confd" "${PG_DATA[p1]}/conf.d"
pg_conf p1 "${ARCHIVE_CONF[@]}" "include_dir = 'conf.d'"
pg_start p1 || tr_die "cannot start p1"
setup "p1's pg_wal is a link to $TR_TMP/p1-wal" test "$(readlink "${PG_DATA[p1]}/pg_wal")" = "$TR_TMP/p1-wal"
psql_q p1 "CREATE TABLESPACE ts1 LOCATION '$TR_TMP/ts1'"
psql_q p1 "CREATE TABLE t_ts (i int, t text) TABLESPACE ts1"
psql_q p1 "INSERT INTO t_ts SELECT g, md5(g::text) FROM generate_series(1, 20000) g"
OID=$(psql_q p1 "SELECT oid FROM pg_tablespace WHERE spcname = 'ts1'")
pg_cmd p1 pgbench -i -q -s 1 >"$TR_TMP/root/pgbench-i.log" 2>&1 || tr_die "pgbench -i failed"
do_backup p1
B1=$LAST_LABEL
psql_q p1 "INSERT INTO t_ts SELECT g, md5(g::text) FROM generate_series(20001, 25000) g"
pg_cmd p1 pgbench -n -c 2 -j 2 -t 100 >>"$TR_TMP/root/pgbench.log" 2>&1 || tr_die "pgbench failed"
STATE=$(psql_state p1)
TS_STATE=$(psql_q p1 "$TS_SQL")
seg=$(pg_switch p1)
pg_wait_archived p1 "$seg" 120 || fail "p1: $seg not archived"
psql_q p1 "CHECKPOINT"
BEFORE=$(orig_fingerprint)
setup "the fingerprint covers WAL segments and tablespace files ($(wc -l <<<"$BEFORE") files)" \
	test "$(grep -c '' <<<"$BEFORE")" -gt 5

pg_register r0 "$TR_TMP/pg-r0/data"
TR_DESC="restore into the tablespace's own location (the original's, not empty) is refused" \
	assert_rc 1 tr_run restore "${PG_DATA[r0]}"
assert_contains "$(cat "$TR_LAST_ERR")" "$TR_TMP/ts1" "the refusal names the tablespace's location"
assert_contains "$(cat "$TR_LAST_ERR")" "--tablespace-map" "the refusal points at --tablespace-map"
assert_file_absent "${PG_DATA[r0]}" "the refused restore left no directory"
assert_eq "$BEFORE" "$(orig_fingerprint)" "the refused restore touched none of the original's files"

restore_to r1 --tablespace-map "ts1=$TR_TMP/r1-ts" --archive-mode=off
R1=${PG_DATA[r1]}
check "r1: pg_wal is a plain directory, not a link" test -d "$R1/pg_wal" -a ! -L "$R1/pg_wal"
check "r1: pg_wal/archive_status exists" test -d "$R1/pg_wal/archive_status"
check "r1: conf.d is a plain directory holding extra.conf" test -d "$R1/conf.d" -a ! -L "$R1/conf.d" -a -f "$R1/conf.d/extra.conf"
assert_eq "$TR_TMP/r1-ts" "$(readlink "$R1/pg_tblspc/$OID")" "r1: tablespace $OID (named ts1) links to $TR_TMP/r1-ts"
check "r1: tablespace_map names the new location" grep -qx "$OID $TR_TMP/r1-ts" "$R1/tablespace_map"
check "r1: --archive-mode=off wrote archive_mode = 'off'" grep -qx "archive_mode = 'off'" "$R1/postgresql.auto.conf"
assert_eq "$BEFORE" "$(orig_fingerprint)" "after the restore: the original's WAL segments and tablespace files are unchanged"
if pg_start r1 && wait_until 180 pg_not_in_recovery r1; then
	pass "r1 recovered and runs beside p1"
	assert_eq "$STATE" "$(psql_state r1)" "r1: pgbench_accounts = p1's"
	assert_eq "$TS_STATE" "$(psql_q r1 "$TS_SQL")" "r1: the tablespace's table = p1's"
	assert_eq "7MB" "$(psql_q r1 'SHOW work_mem')" "r1: conf.d's settings apply"
	assert_eq off "$(psql_q r1 'SHOW archive_mode')" "r1: archive_mode is off"
	psql_q r1 "CREATE TABLE copy_only AS SELECT g FROM generate_series(1, 100000) g; CHECKPOINT"
	pg_switch r1 >/dev/null
	pg_switch r1 >/dev/null
	psql_q r1 "CHECKPOINT"
	assert_eq "$BEFORE" "$(orig_fingerprint)" "after r1 wrote, switched WAL and checkpointed: the original's files are unchanged"
else
	fail "r1 did not recover: $(tail -n 5 "${PG_LOG[r1]}" | tr '\n' '|')"
fi
check "r1 archived nothing into the repository (no 00000002.history)" test ! -e "$REPO/wal/00000002.history"
psql_q p1 "INSERT INTO t_ts VALUES (0, 'after the copy'); CHECKPOINT"
if pg_stop_cluster p1 && pg_start p1; then
	pass "p1 checkpointed, stopped and started again after the copy ran"
else
	fail "p1 does not restart: $(grep -m2 -E 'PANIC|FATAL' "${PG_LOG[p1]}" | tr '\n' '|')"
fi
assert_eq 25001 "$(psql_q p1 'SELECT count(*) FROM t_ts')" "p1: its tablespace table is intact"
drop_cluster r1

# ------------------------------------------------------------------ b
section "b. --link-map and --tablespace-map by OID"
as_pg mkdir -p "$TR_TMP/p1-confd2"
printf "log_min_duration_statement = 12345\n" | as_pg tee "$TR_TMP/p1-confd2/linked.conf" >/dev/null
as_pg ln -s "$TR_TMP/p1-confd2/linked.conf" "$TR_TMP/p1-confd/linked.conf"
psql_q p1 "SELECT pg_reload_conf()" >/dev/null
do_backup p1
B2=$LAST_LABEL
# p1 itself wrote since (its restart, the backup's checkpoint): take the
# fingerprint again, idle after a checkpoint.
psql_q p1 "CHECKPOINT"
BEFORE=$(orig_fingerprint)
bad_map() { # DESC MESSAGE ARGS...
	local desc=$1 msg=$2 d=$TR_TMP/pg-badmap/data
	shift 2
	TR_DESC="restore $desc is refused" assert_rc 1 tr_run "$@" restore "$d"
	assert_contains "$(cat "$TR_LAST_ERR")" "$msg" "restore $desc: says '$msg'"
	assert_file_absent "$d" "restore $desc: nothing created"
}
bad_map "--link-map of a link the backup lacks" "has no link" --tablespace-map "ts1=$TR_TMP/x1" --link-map "pg_log=$TR_TMP/x2"
bad_map "--tablespace-map of an unknown name" "no tablespace of that name" --tablespace-map "nosuch=$TR_TMP/x3"
bad_map "--tablespace-map of an unknown OID" "has no tablespace" --tablespace-map "ts1=$TR_TMP/x1" --tablespace-map "99999=$TR_TMP/x4"
bad_map "--link-map into the data directory" "overlaps" --tablespace-map "ts1=$TR_TMP/x1" --link-map "pg_wal=$TR_TMP/pg-badmap/data/wal"
bad_map "--link-map with a relative path" "must be absolute" --link-map "pg_wal=wal"
restore_to r2 --backup "$B2" --link-map "pg_wal=$TR_TMP/r2-wal" --link-map "conf.d=$TR_TMP/r2-confd" \
	--link-map "conf.d/linked.conf=$TR_TMP/r2-linked.conf" --tablespace-map "$OID=$TR_TMP/r2-ts"
R2=${PG_DATA[r2]}
assert_eq "$TR_TMP/r2-wal" "$(readlink "$R2/pg_wal")" "r2: pg_wal links to the mapped place"
assert_eq "$TR_TMP/r2-confd" "$(readlink "$R2/conf.d")" "r2: conf.d links to the mapped place"
assert_same_file "$TR_TMP/p1-confd/extra.conf" "$TR_TMP/r2-confd/extra.conf" "r2: conf.d's files are in the mapped place"
assert_eq "$TR_TMP/r2-linked.conf" "$(readlink "$TR_TMP/r2-confd/linked.conf")" "r2: a file link is mapped to a file link"
assert_same_file "$TR_TMP/p1-confd2/linked.conf" "$TR_TMP/r2-linked.conf" "r2: the linked file's content is in the mapped file"
assert_eq "$TR_TMP/r2-ts" "$(readlink "$R2/pg_tblspc/$OID")" "r2: the tablespace links to the mapped place"
if start_restored r2 && wait_until 180 pg_not_in_recovery r2; then
	pass "r2 recovered"
	assert_eq "$TS_STATE" "$(psql_q r2 "SELECT count(*), md5(string_agg(t, ',' ORDER BY i)) FROM t_ts WHERE i > 0")" "r2: the tablespace's table"
	assert_eq 12345 "$(psql_q r2 'SHOW log_min_duration_statement' | tr -dc 0-9)" "r2: the linked file's setting applies"
	check "r2 writes its WAL into the mapped pg_wal" test -n "$(find "$TR_TMP/r2-wal" -maxdepth 1 -name '00000002*' | head -n 1)"
fi
drop_cluster r2
assert_eq "$BEFORE" "$(orig_fingerprint)" "after b: the original's files are unchanged"

# ------------------------------------------------------------------ c
section "c. a failed restore removes what it created, only that"
as_pg mkdir -p "$TR_TMP/r3-wal"
victim=$(chunk_files | xargs stat -c '%s %n' | sort -rn | awk 'NR == 1 { print $2 }')
flip_byte "$victim" 100
pg_register r3 "$TR_TMP/pg-r3/data"
marker=$TR_TMP/root/c-marker
touch "$marker"
TR_DESC="restore with a damaged chunk fails" assert_rc 1 tr_run --backup "$B2" --link-map "pg_wal=$TR_TMP/r3-wal" \
	--tablespace-map "ts1=$TR_TMP/r3-ts" restore "${PG_DATA[r3]}"
assert_contains "$(cat "$TR_LAST_ERR")" "${victim##*/}" "the failure names the damaged chunk"
assert_not_contains "$(cat "$TR_LAST_ERR")" "in place" "undo left nothing behind"
assert_file_absent "${PG_DATA[r3]}" "the data directory the run created is gone"
assert_file_absent "$TR_TMP/r3-ts" "the tablespace directory the run created is gone"
check "the link target that existed before is still there" test -d "$TR_TMP/r3-wal"
assert_eq "" "$(find "$TR_TMP/r3-wal" -mindepth 1 | head -n 3)" "... and empty"
assert_eq "" "$(find "$TR_TMP" -newer "$marker" ! -type d ! -path "$TR_TMP/root/*" ! -path "$TR_TMP/state/*" ! -path "$TR_TMP/pg-p1/*" ! -path "$TR_TMP/p1-wal/*" ! -path "$TR_TMP/home/*" | head -n 5)" \
	"no file the failed restore wrote is left anywhere"
assert_eq "$BEFORE" "$(orig_fingerprint)" "the original's files are unchanged"
flip_byte "$victim" 100

# ------------------------------------------------------------------ d
section "d. the target's lock"
pg_register r4 "$TR_TMP/pg-r4/data"
R4=${PG_DATA[r4]}
as_pg mkdir -p "$R4"
as_pg touch "$R4/totalrecall_restore.lock"
TR_DESC="restore while another process holds the target's lock is refused" \
	assert_rc 1 as_pg flock "$R4/totalrecall_restore.lock" env -i "${TR_ENV[@]}" "$TR_BIN" \
	--tablespace-map "ts1=$TR_TMP/r4-ts" restore "$R4"
assert_contains "$(cat "$TR_LAST_ERR")" "another restore is writing into" "says another restore is writing"
assert_eq "totalrecall_restore.lock" "$(ls -A "$R4")" "the directory still holds only the lock"
as_pg rm -f "$R4/totalrecall_restore.lock"
TR_DESC="a restore killed after 60 storage operations" assert_rc 137 tr_run TOTALRECALL_TEST_KILL_AFTER_OPS=60 \
	--tablespace-map "ts1=$TR_TMP/r4-ts" restore "$R4"
check "the killed restore left its lock" test -f "$R4/totalrecall_restore.lock"
check "and some of its files" test -n "$(find "$R4" -name PG_VERSION | head -n 1)"
TR_DESC="restore over an interrupted restore is refused" assert_rc 1 tr_run --tablespace-map "ts1=$TR_TMP/r4-ts2" restore "$R4"
assert_contains "$(cat "$TR_LAST_ERR")" "interrupted" "says a restore was interrupted there"
check "the interrupted restore's files are left as they were" test -n "$(find "$R4" -name PG_VERSION | head -n 1)"
assert_file_absent "$TR_TMP/r4-ts2" "the refused restore created no tablespace directory"
# Two restores into one new directory at the same time: exactly one restores.
pg_register r5 "$TR_TMP/pg-r5/data"
R5=${PG_DATA[r5]}
for x in a b; do
	(
		rc=0
		tr_run --tablespace-map "ts1=$TR_TMP/r5-ts-$x" restore "$R5" >"$TR_TMP/root/r5$x.out" 2>&1 || rc=$?
		echo "$rc" >"$TR_TMP/root/r5$x.rc"
	) &
done
wait
rcs="$(cat "$TR_TMP/root/r5a.rc") $(cat "$TR_TMP/root/r5b.rc")"
tr_note "two restores at once: exit statuses $rcs; $(grep -h 'restore:' "$TR_TMP/root/r5a.out" "$TR_TMP/root/r5b.out" | grep -v INFO | head -n 2 | tr '\n' '|')"
check "exactly one of two simultaneous restores succeeded ($rcs)" test "$rcs" = "0 1" -o "$rcs" = "1 0"
loser=$([ "$(cat "$TR_TMP/root/r5a.rc")" = 1 ] && echo a || echo b)
winner=$([ "$loser" = a ] && echo b || echo a)
check "the other was refused by the lock or the emptiness check" grep -qE "another restore is writing|is not empty|interrupted" "$TR_TMP/root/r5$loser.out"
assert_file_absent "$R5/totalrecall_restore.lock" "the winner released its lock"
assert_file_absent "$TR_TMP/r5-ts-$loser" "the loser created no tablespace directory"
check "the winner's tablespace is in place" test -d "$TR_TMP/r5-ts-$winner"
if start_restored r5 && wait_until 180 pg_not_in_recovery r5; then
	assert_eq "$STATE" "$(psql_state r5)" "the winner's restore recovers p1's data"
fi
drop_cluster r5

# ------------------------------------------------------------------ e
section "e. a crafted manifest"
EVIL=20990101-000000F
craft() { # SED-EXPRESSION: a copy of B1's manifest and info, labelled $EVIL, changed by the expression
	repotool get "backups/$B1/info" | sed "s/^label .*/label $EVIL/" | repotool put "backups/$EVIL/info"
	repotool get "backups/$B1/manifest" | sed -e "s/^label .*/label $EVIL/" -e "$1" | repotool put "backups/$EVIL/manifest"
}
repotool get "backups/$B1/manifest" >"$TR_TMP/root/b1.manifest"
chunk_line=$(grep -m1 '^c ' "$TR_TMP/root/b1.manifest")
for evil_path in "..%2F..%2Fescaped-by-restore" "%2Ftmp%2Fescaped-by-restore-$$" "base%2F..%2F..%2Fescaped-by-restore"; do
	craft "/^entries\$/a f 0600 8192 0 0000 $evil_path\\n$chunk_line"
	setup "the crafted backup $EVIL is listed" grep -qx "$EVIL" <<<"$(list_labels)"
	pg_register r6 "$TR_TMP/pg-r6/data"
	TR_DESC="restore of a manifest naming $evil_path is refused" assert_rc 1 tr_run --backup "$EVIL" \
		--tablespace-map "ts1=$TR_TMP/r6-ts" restore "${PG_DATA[r6]}"
	assert_contains "$(cat "$TR_LAST_ERR")" "outside the data directory" "the refusal says the path leaves the data directory"
	assert_file_absent "${PG_DATA[r6]}" "nothing was created for it"
	assert_eq "" "$(find "$TR_TMP" /tmp -maxdepth 3 -name 'escaped-by-restore*' 2>/dev/null | head -n 3)" "no escaped file anywhere"
done
rm -rf "${REPO:?}/backups/$EVIL"

# ------------------------------------------------------------------ f
section "f. restore run as root"
if [ "$(id -u)" -eq 0 ]; then
	mkdir -p "$TR_TMP/roothome"
	tr_build_env -u TOTALRECALL_STATE_DIR "HOME=$TR_TMP/roothome"
	TR_DESC="restore as root into a new directory is refused" assert_rc 1 env -i "${TR_ENV_BUILT[@]}" "$TR_BIN" \
		--tablespace-map "ts1=$TR_TMP/r7-ts" restore "$TR_TMP/pg-r7/data"
	assert_contains "$(cat "$TR_LAST_ERR")" "root" "the refusal explains running as root"
	assert_file_absent "$TR_TMP/pg-r7" "the refused restore created nothing"
	pg_register r7 "$TR_TMP/pg-r7/data"
	as_pg mkdir -p "${PG_DATA[r7]}"
	TR_DESC="restore as root into a directory owned by $TR_SRV_USER" assert_rc 0 env -i "${TR_ENV_BUILT[@]}" "$TR_BIN" \
		--tablespace-map "ts1=$TR_TMP/r7-ts" restore "${PG_DATA[r7]}"
	assert_eq "" "$(find "${PG_DATA[r7]}" "$TR_TMP/r7-ts" ! -user "$TR_SRV_USER" | head -n 3)" "every restored file belongs to $TR_SRV_USER"
	if start_restored r7 && wait_until 180 pg_not_in_recovery r7; then
		assert_eq "$STATE" "$(psql_state r7)" "the cluster restored by root recovers as $TR_SRV_USER"
	fi
	drop_cluster r7
else
	skip "f. restore run as root (not root here)"
fi

# ------------------------------------------------------------------ g
section "g. '%' and quotes in the path, a newline in the restore point's name"
RP_NAME=$'it\'s a \\ name\nover two lines'
pg_cmd p1 pgbench -n -c 2 -j 2 -t 50 >>"$TR_TMP/root/pgbench.log" 2>&1 || tr_die "pgbench failed"
RP_STATE=$(psql_state p1)
# (psql substitutes :'name', quoted, only in what it reads, not in -c)
pg_cmd p1 psql -X -q -At -v ON_ERROR_STOP=1 -v "name=$RP_NAME" <<<"SELECT pg_create_restore_point(:'name')" >/dev/null
pg_cmd p1 pgbench -n -c 2 -j 2 -t 50 >>"$TR_TMP/root/pgbench.log" 2>&1 || tr_die "pgbench failed"
seg=$(pg_switch p1)
pg_wait_archived p1 "$seg" 120 || fail "p1: $seg not archived"
setup "p1 changed after the restore point" test "$RP_STATE" != "$(psql_state p1)"
pg_register r8 "$TR_TMP/pg-r8/da%ta %f 'q'"
restore_to r8 --target-name "$RP_NAME" --target-action promote --tablespace-map "ts1=$TR_TMP/r8-ts"
if start_restored r8 && wait_until 180 pg_not_in_recovery r8; then
	assert_eq "$RP_STATE" "$(psql_state r8)" "recovered to the restore point named with a quote, a backslash and a newline"
	check "restore_command fetched WAL from the repository" grep -q 'restored log file' "${PG_LOG[r8]}"
fi
drop_cluster r8
bad_map "--target-name of a restore point not in the archive" "not in the archived WAL" \
	--tablespace-map "ts1=$TR_TMP/x1" --target-name "no such point"

tr_note "total: ${SECONDS}s"
finish
