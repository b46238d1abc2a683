#!/usr/bin/env bash
# tests/integration/test_backup_restore.sh - base backups and restore with
# the fs driver against a real PostgreSQL 15:
#   a. full cycle: backups, traffic in recorded phases, restores at
#      --target-time/-lsn/-xid/-name, --target immediate and latest, each
#      compared with the checksum of pgbench_accounts recorded at its target
#   b. a tampered chunk: restore fails naming the file, leaves nothing
#   c. backups killed with SIGKILL at seeded random points: never listed,
#      the next backup succeeds and restores
#   d. restore into a non-empty directory is refused, the directory untouched
#   e. list --json against the repository (manifests, .backup files, wal/)
#   f. restore --try on an empty repository; --copy-pg-conf
#   g. check: exit 0 when set up, non-zero naming archive_command otherwise
#   h. dedup: scale 50, 1% of the rows updated, the second backup uploads
#      at most 10% of the first one's stored bytes
#   i. a file with chunks of zeros restores identical, with holes there;
#      repeated chunks are copied from the restored files
# Last line: "backup_restore: N passed, M failed".  TR_KEEP=1 keeps the temp
# dir; TR_SEED changes the kill points; TR_DEDUP_SCALE the dedup scale.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/integration/lib.sh
. "$here/lib.sh"
# shellcheck source=tests/integration/bt_common.sh
. "$here/bt_common.sh"

tr_init backup_restore
PGBIN=$(pg_bin) || tr_die "PostgreSQL 15 not found"
command -v python3 >/dev/null || tr_die "python3 is needed to read list --json"
tr_note "server user $TR_SRV_USER, binary $TR_BIN, PostgreSQL $PGBIN, temp $TR_TMP"
: "${TR_CMD_TIMEOUT:=180}"
SEED=${TR_SEED:-20261127}
RANDOM=$SEED
tr_note "seed $SEED"

repo_setup db-br

# dir_fingerprint DIR: a listing (type, mode, size, path) and checksum of
# every file below DIR.
dir_fingerprint() {
	(cd "$1" && find . -printf '%y %m %s %P\n' | sort && find . -type f -print0 | sort -z | xargs -0r sha256sum)
}

# ------------------------------------------------------------------ a
section "a. full cycle"
setup "p1 started, archiving through totalrecall archive-put" pg_start_cluster p1 "${ARCHIVE_CONF[@]}"
t=$SECONDS
pg_cmd p1 pgbench -i -q -s 5 >"$TR_TMP/root/pgbench-i.log" 2>&1 || tr_die "pgbench -i failed"
pg_cmd p1 pgbench -n -c 2 -j 2 -t 300 >>"$TR_TMP/root/pgbench.log" 2>&1 || tr_die "pgbench failed"
psql_q p1 "CREATE TABLE marker (phase int, xid bigint, at timestamptz DEFAULT clock_timestamp())"
tr_note "pgbench -i -s 5 and traffic: $((SECONDS - t)) s"

do_backup p1
B1=$LAST_LABEL
check "backup B1 ($B1) is listed" test -n "$B1"

# ------------------------------------------------------------------ b
# Right after the first backup every chunk in the repository belongs to it.
section "b. a tampered chunk"
mapfile -t CHUNKS < <(chunk_files)
check "the repository holds chunks under <bucket>/<db>/chunks/ (${#CHUNKS[@]})" test "${#CHUNKS[@]}" -gt 10
victim=${CHUNKS[$((RANDOM % ${#CHUNKS[@]}))]}
vsize=$(stat -c %s "$victim")
voff=$((vsize / 2))
tr_note "flipping byte $voff of $victim ($vsize bytes)"
flip_byte "$victim" "$voff"
pg_register t1 "$TR_TMP/pg-t1/data"
TR_DESC="restore with a tampered chunk fails" assert_rc 1 tr_run restore "${PG_DATA[t1]}"
err=$(cat "$TR_LAST_ERR")
assert_contains "$err" "${victim##*/}" "the message names the tampered chunk object"
named=$(sed -n 's/.*(chunk of \([^)]*\)).*/\1/p' <<<"$err" | head -n 1)
check "the message names the data-directory file the chunk belongs to ('$named')" \
	test -n "$named" -a -f "${PG_DATA[p1]}/$named"
left=$(find "${PG_DATA[t1]}" -mindepth 1 2>/dev/null | head -n 5 | tr '\n' ' ' || true)
assert_eq "" "$left" "the target directory is left empty"
assert_file_absent "${PG_DATA[t1]}/global/pg_control" "no global/pg_control in the target"
if [ -d "${PG_DATA[t1]}" ]; then
	check "pg_ctl start fails on what is left" start_fails t1
fi
setup "byte flipped back" flip_byte "$victim" "$voff"
# A missing chunk, the same way.
victim=${CHUNKS[$((RANDOM % ${#CHUNKS[@]}))]}
mv "$victim" "$TR_TMP/root/moved-chunk"
pg_register t2 "$TR_TMP/pg-t2/data"
TR_DESC="restore with a missing chunk fails" assert_rc 1 tr_run restore "${PG_DATA[t2]}"
named=$(sed -n 's/.*(chunk of \([^)]*\)).*/\1/p' "$TR_LAST_ERR" | head -n 1)
check "missing chunk: the message names the data-directory file ('$named')" test -n "$named" -a -f "${PG_DATA[p1]}/$named"
assert_eq "" "$(find "${PG_DATA[t2]}" -mindepth 1 2>/dev/null | head -n 5 | tr '\n' ' ' || true)" "missing chunk: the target directory is left empty"
setup "the missing chunk put back" mv "$TR_TMP/root/moved-chunk" "$victim"

# ------------------------------------------------------------------ phases
section "a. traffic in recorded phases"
declare -A STATE TIME LSN XID
phase() { # N: traffic, a committed marker (its txid), then the state
	local i=$1
	pg_cmd p1 pgbench -n -c 2 -j 2 -t 200 >>"$TR_TMP/root/pgbench.log" 2>&1 || tr_die "pgbench failed"
	XID[$i]=$(psql_q p1 "INSERT INTO marker (phase, xid) VALUES ($i, txid_current()) RETURNING xid")
	STATE[$i]=$(psql_state p1)
	TIME[$i]=$(sql_time p1)
	LSN[$i]=$(psql_q p1 "SELECT pg_current_wal_lsn()")
	psql_q p1 "SELECT pg_create_restore_point('phase$i')" >/dev/null
	local seg
	seg=$(pg_switch p1)
	pg_wait_archived p1 "$seg" 120 || fail "phase $i: $seg not archived"
	tr_note "phase $i: xid ${XID[$i]}, time ${TIME[$i]}, lsn ${LSN[$i]}, state ${STATE[$i]}"
	# The next phase starts in a later second than this one's time.
	wait_until 5 sql_true p1 "SELECT clock_timestamp() >= date_trunc('second', '${TIME[$i]}'::timestamptz) + interval '1 second'" ||
		fail "the server clock did not pass ${TIME[$i]}"
}
phase 1
phase 2
STATE[b2]=$(psql_state p1)
do_backup p1
B2=$LAST_LABEL
phase 3

# ------------------------------------------------------------------ c
section "c. backups killed with SIGKILL"
labels_before=$(list_labels | tr '\n' ' ')
dur=$(backup_field "$B2" duration)
max_ms=$(python3 -c "print(max(300, int(float('$dur') * 1000)))")
tr_note "a backup takes ${dur}s here; kill points drawn in [50, $max_ms] ms from seed $SEED"
kills=0 attempts=0 completed=0
# Kill points, drawn from the seed: "delay MS" after the process started,
# "lock" as soon as its lock object exists, "chunks N" once N new chunk
# files are in the repository.
lock_exists() { [ -n "$(find "$REPO/locks" -type f 2>/dev/null | head -n 1)" ]; }
chunks_grew() { [ "$(chunk_files | wc -l)" -ge "$1" ]; }
# "ops N": the backup kills itself before its N+1th storage operation
# (TOTALRECALL_TEST_KILL_AFTER_OPS), which does not depend on how fast the
# backup runs here; the timed kinds do, and a fast backup may finish first.
KINDS=(ops delay lock ops chunks ops delay ops chunks ops lock ops delay ops)
while [ "$kills" -lt 6 ] && [ "$attempts" -lt ${#KINDS[@]} ]; do
	kind=${KINDS[$attempts]}
	attempts=$((attempts + 1))
	# Changes for the backup to upload.
	pg_cmd p1 pgbench -n -c 2 -j 2 -t 100 >>"$TR_TMP/root/pgbench.log" 2>&1 || tr_die "pgbench failed"
	wait_until 5 next_second || true
	delay_ms=$((20 + (RANDOM * 32768 + RANDOM) % (max_ms * 6 / 10)))
	nchunks0=$(chunk_files | wc -l)
	want=$((nchunks0 + 1 + RANDOM % 30))
	ops_n=$((1 + RANDOM % 30))
	hook=()
	case $kind in
	ops) point="before its storage operation $((ops_n + 1))"; hook=("TOTALRECALL_TEST_KILL_AFTER_OPS=$ops_n") ;;
	delay) point="${delay_ms} ms after the start" ;;
	lock) point="when its lock object appears" ;;
	chunks) point="when $((want - nchunks0)) new chunk files are stored" ;;
	esac
	tag="kill-$attempts-$$"
	mapfile -t e < <(pg_env p1)
	as_pg env -i "${TR_ENV[@]}" "${e[@]}" "TR_KILL_TAG=$tag" ${hook[@]+"${hook[@]}"} "$TR_BIN" backup \
		>"$TR_TMP/root/kill-$attempts.out" 2>"$TR_TMP/root/kill-$attempts.err" &
	wrapper=$!
	wait_until 10 has_tagged "$tag" || true
	case $kind in
	ops) ;;
	delay) sleep "$(printf '%d.%03d' $((delay_ms / 1000)) $((delay_ms % 1000)))" ;; # the fault's timing, not synchronisation
	lock) wait_until 30 lock_exists || true ;;
	chunks) wait_until 30 chunks_grew "$want" || true ;;
	esac
	killed=0
	[ "$kind" = ops ] || for pid in $(tagged_pids "$tag"); do kill -KILL "$pid" 2>/dev/null && killed=1; done
	rc=0
	wait "$wrapper" || rc=$?
	[ "$kind" = ops ] && [ "$rc" = 137 ] && killed=1
	# shellcheck disable=SC2034  # read by next_second (bt_common.sh)
	LAST_BACKUP_END=$(date +%s)
	# A kill that lands after the manifest is written (the commit point),
	# while the backup releases its lock, leaves a complete backup: listed,
	# and counted as completed (restorability is checked for every listed
	# backup below).
	label=$(sed -n 's/^totalrecall: INFO: backup \([0-9F-]*\): started.*/\1/p' "$TR_TMP/root/kill-$attempts.err" | head -n 1)
	if [ "$killed" = 1 ] && [ "$rc" != 0 ] && [ -n "$label" ] &&
		[ "$(list_labels | tr '\n' ' ')" = "$labels_before$label " ]; then
		killed=0
		tr_note "attempt $attempts: killed $point, after backup $label had committed its manifest"
	fi
	if [ "$killed" = 1 ] && [ "$rc" != 0 ]; then
		kills=$((kills + 1))
		tr_note "attempt $attempts: killed $point (exit $rc), $(($(chunk_files | wc -l) - nchunks0)) chunk files written"
		assert_eq "$labels_before" "$(list_labels | tr '\n' ' ')" "backup killed $point: list --json unchanged"
		check "backup killed $point: the server ends the backup session" \
			wait_until 30 sql_true p1 "SELECT count(*) = 0 FROM pg_stat_activity WHERE application_name = 'totalrecall'"
	else
		completed=$((completed + 1))
		tr_note "attempt $attempts: the backup ended by itself before the kill point ($point; exit $rc)"
		labels_before=$(list_labels | tr '\n' ' ')
	fi
done
setup "at least 5 backups killed ($kills killed in $attempts attempts, $completed completed first)" test "$kills" -ge 5
tr_note "temporary files left in the repository by the killed backups: $(find "$BUCKET" -name '.tr-tmp-*' | wc -l)"
# A killed backup cannot remove its lock: expire then keeps every chunk
# until the lock is a day old (reported, not a failure).
tr_note "lock objects left by the killed backups under locks/: $(find "$REPO/locks" -type f 2>/dev/null | wc -l)"
do_backup p1
B3=$LAST_LABEL
check "the backup after the kills ($B3) is listed" test -n "$B3" -a "$B3" != "$B2"
STATE[b3]=$(psql_state p1)

phase 4
phase 5
STATE[final]=$(psql_state p1)
seg=$(pg_switch p1)
pg_wait_archived p1 "$seg" 120 || fail "$seg not archived"

setup "phase times strictly increase" test "${TIME[1]}" \< "${TIME[2]}" -a "${TIME[2]}" \< "${TIME[3]}" -a "${TIME[3]}" \< "${TIME[4]}"
bad=$(psql_q p1 "SELECT count(*) FROM marker m WHERE at >= (CASE phase WHEN 1 THEN '${TIME[1]}' WHEN 2 THEN '${TIME[2]}' WHEN 3 THEN '${TIME[3]}' WHEN 4 THEN '${TIME[4]}' ELSE '${TIME[5]}' END)::timestamptz
	OR at <= (CASE phase WHEN 1 THEN '-infinity' WHEN 2 THEN '${TIME[1]}' WHEN 3 THEN '${TIME[2]}' WHEN 4 THEN '${TIME[3]}' ELSE '${TIME[4]}' END)::timestamptz")
setup "every phase's marker commit lies strictly between the previous phase's time and its own ($bad do not)" \
	test "$bad" = 0
for i in 1 2 3 4; do
	setup "phase $((i + 1)) changed pgbench_accounts" test "${STATE[$i]}" != "${STATE[$((i + 1))]}"
done

# restore_case NAME EXPECTED-BACKUP EXPECTED-STATE DESC [restore args]
restore_case() {
	local name=$1 want_backup=$2 want_state=$3 desc=$4 t0=$SECONDS
	shift 4
	restore_to "$name" "$@"
	assert_eq "$want_backup" "$(restored_backup "$name")" "$desc: restore chose backup $want_backup"
	if [ "$TR_LAST_RC" != 0 ]; then
		return 0
	fi
	if start_restored "$name"; then
		if wait_until 180 pg_not_in_recovery "$name"; then
			pass "$desc: $name left recovery"
		else
			fail "$desc: $name still in recovery after 180 s"
		fi
		assert_eq "$want_state" "$(psql_state "$name" 2>/dev/null || true)" "$desc: pgbench_accounts = the state recorded at the target"
	fi
	tr_note "$desc: $((SECONDS - t0)) s"
	drop_cluster "$name"
}

section "a. restores at targets"
restore_case r_time "$B1" "${STATE[1]}" "--target-time (phase 1)" --target-time "${TIME[1]}" --target-action promote
restore_case r_lsn "$B1" "${STATE[2]}" "--target-lsn (phase 2)" --target-lsn "${LSN[2]}" --target-action promote
restore_case r_xid "$B2" "${STATE[3]}" "--target-xid (phase 3)" --target-xid "${XID[3]}" --target-action promote
restore_case r_name "$B3" "${STATE[4]}" "--target-name phase4" --target-name phase4 --target-action promote

# --target immediate with the default action (pause): consistent at the
# end of backup B2, still in recovery, paused.
section "a. --target immediate (default action: pause)"
restore_to r_imm --backup "$B2" --target immediate
assert_eq "$B2" "$(restored_backup r_imm)" "--target immediate --backup $B2: restore chose $B2"
if start_restored r_imm; then
	check "r_imm: recovery paused at the end of the backup" \
		wait_until 120 sql_true r_imm "SELECT pg_get_wal_replay_pause_state() = 'paused'"
	assert_eq t "$(psql_q r_imm 'SELECT pg_is_in_recovery()')" "r_imm: still in recovery (paused, not promoted)"
	assert_eq "${STATE[b2]}" "$(psql_state r_imm || true)" "--target immediate: pgbench_accounts = the state when $B2 was taken"
fi
drop_cluster r_imm

# latest, with --copy-pg-conf (f): the given file becomes postgresql.conf.
section "a/f. latest, with --copy-pg-conf"
conf=$TR_TMP/conf/restored.conf
as_pg mkdir -p "$TR_TMP/conf"
printf '%s\n' "# given with --copy-pg-conf" "shared_buffers = 16MB" "max_connections = 20" "fsync = off" \
	"wal_level = replica" "archive_mode = off" "hot_standby = on" "log_min_messages = info" |
	as_pg tee "$conf" >/dev/null
restore_to r_latest --copy-pg-conf "$conf"
assert_eq "$B3" "$(restored_backup r_latest)" "latest: restore chose the newest backup $B3"
assert_same_file "$conf" "${PG_DATA[r_latest]}/postgresql.conf" "--copy-pg-conf: postgresql.conf is the given file"
check "the restored directory has backup_label and recovery.signal" \
	test -f "${PG_DATA[r_latest]}/backup_label" -a -f "${PG_DATA[r_latest]}/recovery.signal"
start_lsn=$(backup_field "$B3" start_lsn)
check "backup_label's START WAL LOCATION is $B3's start_lsn ($start_lsn)" \
	grep -q "^START WAL LOCATION: $start_lsn " "${PG_DATA[r_latest]}/backup_label"
if start_restored r_latest; then
	if wait_until 180 pg_not_in_recovery r_latest; then
		pass "latest: r_latest replayed the whole archive and promoted"
	else
		fail "latest: r_latest still in recovery after 180 s"
	fi
	assert_eq "${STATE[final]}" "$(psql_state r_latest || true)" "latest: pgbench_accounts = p1's final state"
	assert_eq 5 "$(psql_q r_latest 'SELECT count(*) FROM marker' || true)" "latest: every phase marker"
fi
drop_cluster r_latest

# The other way to keep a restored cluster out of the repository: archive
# into another database id, set in the server's environment.  Its recovery
# must still read the repository restore wrote into totalrecall_restore.conf.
section "a. a restored cluster archiving into another database id"
restore_to r_other
if pg_start r_other TOTALRECALL_DATABASE_ID=db-other 2>/dev/null && wait_until 180 pg_not_in_recovery r_other; then
	pass "r_other (environment: database id db-other) recovered from db-br and promoted"
	assert_eq "${STATE[final]}" "$(psql_state r_other || true)" "r_other: pgbench_accounts = p1's final state"
	check "r_other archives into db-other (its 00000002.history)" wait_until 60 test -f "$BUCKET/db-other/wal/00000002.history"
else
	fail "r_other (environment: database id db-other) recovers from db-br: $(grep -m1 FATAL "${PG_LOG[r_other]}" || true)"
fi
drop_cluster r_other
histories=$(find "$REPO/wal" -name '*.history' | wc -l)
assert_eq 0 "$histories" "no restored cluster archived into the repository (no .history object)"

# ------------------------------------------------------------------ d
section "d. restore into a non-empty directory"
nd=$(pg_scratch nonempty)
as_pg mkdir -p "$nd/sub"
printf 'precious\n' | as_pg tee "$nd/PG_VERSION" >/dev/null
head -c 4096 /dev/urandom | as_pg tee "$nd/sub/data" >/dev/null
before=$(dir_fingerprint "$nd")
TR_DESC="restore into a non-empty directory is refused" assert_rc 1 tr_run restore "$nd"
assert_contains "$(cat "$TR_LAST_ERR")" "$nd" "the message names the directory"
assert_eq "$before" "$(dir_fingerprint "$nd")" "the directory's listing and checksums are unchanged"
ed=$(pg_scratch onlyhidden)
as_pg touch "$ed/.keep"
TR_DESC="a directory holding only a dot file is not empty either" assert_rc 1 tr_run restore "$ed"

# Targets restore refuses before writing anything.
section "d. impossible targets"
bad_target() { # DESC EXPECTED-MESSAGE ARGS...
	local desc=$1 msg=$2 d=$TR_TMP/pg-bad/data
	shift 2
	rm -rf "$TR_TMP/pg-bad"
	as_pg mkdir -p "$TR_TMP/pg-bad"
	TR_DESC="restore $desc is refused" assert_rc 1 tr_run "$@" restore "$d"
	assert_contains "$(cat "$TR_LAST_ERR")" "$msg" "restore $desc: says '$msg'"
	assert_file_absent "$d" "restore $desc: the directory was not created"
}
bad_target "--target-lsn after the archive" "after the end of the archive" --target-lsn FFFF/FFFFFFFF
bad_target "--target-time after the archive" "after the end of the archive" --target-time "2099-01-01 00:00:00+00"
bad_target "--target-time before the oldest backup" "before the oldest backup" --target-time "2000-01-01 00:00:00+00"
bad_target "--target-xid before the oldest backup" "before the oldest backup" --target-xid 3
bad_target "with two targets" "at most one" --target-lsn "${LSN[1]}" --target-name phase1
bad_target "--backup of an unknown label" "no backup labelled" --backup 19990101-000000F
bad_target "--backup B2 with a target before it" "ends after the recovery target" --backup "$B2" --target-time "${TIME[1]}"

# ------------------------------------------------------------------ e
section "e. list --json against the repository"
list_json >"$TR_TMP/root/final.json"
nlisted=$(jq_py 'len(j["backups"])' <"$TR_TMP/root/final.json")
mapfile -t MF < <(cd "$REPO/backups" && ls -d -- */manifest 2>/dev/null | sed 's,/manifest$,,' | sort)
assert_eq "${#MF[@]}" "$nlisted" "list --json: as many backups as backups/*/manifest files"
assert_eq "$(printf '%s\n' "${MF[@]}")" "$(jq_py 'sorted(b["label"] for b in j["backups"])' <"$TR_TMP/root/final.json")" \
	"list --json: labels = the backups/<label>/manifest directories"
assert_eq "$((3 + completed))" "$nlisted" "list --json: B1, B2, B3 and the $completed backups that completed before their kill point"
assert_eq "$B1 $B2 $B3" "$(jq_py '[b["label"] for b in j["backups"]]' <"$TR_TMP/root/final.json" | sed -n "1p;2p;\$p" | tr '\n' ' ' | sed 's/ $//')" \
	"list --json: B1 and B2 first, B3 last (oldest first)"
vdir=$(pg_scratch verify)
for lbl in $B1 $B2 $B3; do
	read -r start stop tli < <(jq_py "[' '.join([b['start_lsn'], b['stop_lsn'], str(b['timeline'])]) for b in j['backups'] if b['label'] == '$lbl'][0]" <"$TR_TMP/root/final.json")
	# The .backup history file PostgreSQL archived at the end of the backup.
	hi=${start%%/*}
	lo=${start##*/}
	segno=$(((16#$lo) / (16 * 1024 * 1024)))
	off=$(((16#$lo) % (16 * 1024 * 1024)))
	bname=$(printf '%08X%08X%08X.%08X.backup' "$tli" "$((16#$hi))" "$segno" "$off")
	rm -f "$vdir/$bname"
	if tr_run archive-get "$vdir/$bname" "$bname" 2>/dev/null; then
		pass "$lbl: the archive holds $bname (start $start)"
		assert_eq "STOP WAL LOCATION: $stop" "$(grep -o '^STOP WAL LOCATION: [0-9A-F/]*' "$vdir/$bname")" "$lbl: stop_lsn = STOP WAL LOCATION of $bname"
		assert_eq "LABEL: $lbl" "$(grep '^LABEL: ' "$vdir/$bname")" "$lbl: label = LABEL of $bname"
	else
		fail "$lbl: no $bname in the archive for start_lsn $start"
	fi
done
mapfile -t SEGS < <(cd "$REPO/wal" && find . -type f -printf '%f\n' | grep -E '^[0-9A-F]{24}$' | sort)
assert_eq "${SEGS[0]}" "$(jq_py 'j["wal"]["first"]' <"$TR_TMP/root/final.json")" "list --json: wal.first = the oldest segment under wal/"
assert_eq "${SEGS[-1]}" "$(jq_py 'j["wal"]["last"]' <"$TR_TMP/root/final.json")" "list --json: wal.last = the newest segment under wal/"
assert_eq "${#SEGS[@]}" "$(jq_py 'j["wal"]["segments"]' <"$TR_TMP/root/final.json")" "list --json: wal.segments = segment files under wal/"
pgc_tli=$(as_pg "$PGBIN/pg_controldata" -D "${PG_DATA[p1]}" | sed -n 's/^Latest checkpoint.s TimeLineID: *//p')
assert_eq "$pgc_tli" "$(jq_py 'j["backups"][-1]["timeline"]' <"$TR_TMP/root/final.json")" "list --json: timeline = pg_control's"
assert_eq "$(psql_q p1 'SELECT system_identifier FROM pg_control_system()')" "$(jq_py 'j["backups"][-1]["system_id"]' <"$TR_TMP/root/final.json")" "list --json: system_id = pg_control's"
assert_eq "$(psql_q p1 "SELECT current_setting('server_version_num')")" "$(jq_py 'j["backups"][-1]["pg_version"]' <"$TR_TMP/root/final.json")" "list --json: pg_version"

# ------------------------------------------------------------------ f
section "f. restore --try on an empty repository"
td=$(pg_scratch tryempty)
TR_DESC="restore --try, no repository at all" assert_rc 0 tr_run TOTALRECALL_DATABASE_ID=db-none --try restore "$td"
assert_eq "" "$(find "$td" -mindepth 1 | head -n 3)" "restore --try (no repository): the directory is untouched"
check "restore --try (no repository): no repository created" test ! -e "$BUCKET/db-none"
tr_run TOTALRECALL_DATABASE_ID=db-nobackup archive-put "$(realpath --relative-to="$TR_TMP" "$vdir/$bname")" 2>/dev/null ||
	fail "archive-put into db-nobackup"
TR_DESC="restore --try, a repository without backups" assert_rc 0 tr_run TOTALRECALL_DATABASE_ID=db-nobackup --try restore "$td"
assert_eq "" "$(find "$td" -mindepth 1 | head -n 3)" "restore --try (no backup): the directory is untouched"
TR_DESC="restore without --try on a repository without backups fails" assert_rc 1 tr_run TOTALRECALL_DATABASE_ID=db-nobackup restore "$td"
assert_eq "" "$(find "$td" -mindepth 1 | head -n 3)" "restore (no backup): the directory is untouched"
# --try only forgives an empty repository, not a wrong key.
TR_DESC="restore --try with a wrong key fails" assert_rc 1 tr_run TOTALRECALL_ENCRYPTION_KEY=not-the-key --try restore "$td"
assert_contains "$(cat "$TR_LAST_ERR")" "encryption key does not match" "restore --try with a wrong key: says the key does not match"
assert_eq "" "$(find "$td" -mindepth 1 | head -n 3)" "restore --try (wrong key): the directory is untouched"

# ------------------------------------------------------------------ g
section "g. check"
TR_DESC="check with a correct setup" assert_rc 0 tr_on p1 check
psql_q p1 "ALTER SYSTEM SET archive_command = '/bin/false'"
psql_q p1 "SELECT pg_reload_conf()" >/dev/null
archive_command_is() { [ "$(psql_q p1 'SHOW archive_command')" = "$1" ]; }
setup "archive_command = /bin/false reloaded" wait_until 10 archive_command_is /bin/false
TR_DESC="check with archive_command = /bin/false" assert_rc 1 tr_on p1 check
assert_contains "$(cat "$TR_LAST_ERR")" "archive_command" "check names archive_command"
psql_q p1 "ALTER SYSTEM RESET archive_command"
psql_q p1 "SELECT pg_reload_conf()" >/dev/null

# ------------------------------------------------------------------ i
# A file with whole chunks of zeros: restore leaves holes there (they are
# never fetched), writes the rest, and the file reads back identical.  Its
# fourth chunk repeats its second: restore copies it from there.
section "i. chunks of zeros restore as holes, a repeated chunk is copied"
zf=${PG_DATA[p1]}/trzeros.bin
CH=$((4 * 1048576))  # the default chunk-size
as_pg python3 -c 'import sys
ch = int(sys.argv[2])
with open(sys.argv[1], "wb") as f:
    f.truncate(4 * ch + 100)
    for at in (1, 3):
        f.seek(at * ch + 4096); f.write(b"not zero" * 512)' "$zf" "$CH"
do_backup p1
BZ=$LAST_LABEL
restore_to zr TOTALRECALL_LOG_LEVEL=debug --backup "$BZ" --target immediate
rz=${PG_DATA[zr]}/trzeros.bin
check "the file with zeros is restored identical" cmp -s "$zf" "$rz"
alloc=$(($(stat -c '%b * %B' "$rz")))
check "the chunks of zeros are holes ($alloc bytes allocated of $(stat -c %s "$rz"))" test "$alloc" -le $((2 * CH + 65536))
copied=$(sed -n 's/.*restore: [0-9]* chunks fetched, \([0-9]*\) copied.*/\1/p' "$TR_TMP/root/restore-zr.err")
check "repeated chunks were copied from the restored files, not fetched (${copied:-none} copied)" test "${copied:-0}" -ge 1
drop_cluster zr
as_pg rm -f "$zf"
drop_cluster p1

# ------------------------------------------------------------------ h
SCALE=${TR_DEDUP_SCALE:-50}
section "h. dedup: scale $SCALE, 1% of pgbench_accounts updated"
tr_env_set TOTALRECALL_DATABASE_ID=db-dedup
REPO=$BUCKET/db-dedup
# The WAL of pgbench -i is not archived (archive_command = true until the
# data is loaded): the measure excludes WAL and only the backups' need it.
pg_start_cluster p2 "${ARCHIVE_CONF[@]}" "archive_command = '/bin/true'" || tr_die "cannot start p2"
t=$SECONDS
pg_cmd p2 pgbench -i -q -s "$SCALE" >"$TR_TMP/root/pgbench-i-50.log" 2>&1 || tr_die "pgbench -i -s $SCALE failed"
tr_note "pgbench -i -s $SCALE: $((SECONDS - t)) s"
psql_q p2 "ALTER SYSTEM SET archive_command = '$TR_BIN archive-put %p'"
psql_q p2 "SELECT pg_reload_conf()" >/dev/null
psql_q p2 "CHECKPOINT"
t=$SECONDS
do_backup p2
D1=$LAST_LABEL
tr_note "first backup: $((SECONDS - t)) s"
chunks_before=$(file_bytes "$REPO/chunks")
du_before=$(du -sb "$REPO/chunks" | cut -f1)
s1=$(backup_field "$D1" stored_bytes)
n1=$(backup_field "$D1" new_bytes)
# stored_bytes counts a chunk at every place it is used (the template
# databases share most of their files); new_bytes what was uploaded.
assert_eq "$chunks_before" "$n1" "first backup: new_bytes = the bytes of the chunk files in the (new) repository"
check "first backup: new_bytes ($n1) <= stored_bytes ($s1)" test "$n1" -le "$s1"
rows=$((SCALE * 100000 / 100))
lo=$((SCALE * 100000 / 2))
psql_q p2 "UPDATE pgbench_accounts SET abalance = abalance + 1 WHERE aid > $lo AND aid <= $((lo + rows))"
t=$SECONDS
do_backup p2
D2=$LAST_LABEL
tr_note "second backup: $((SECONDS - t)) s"
chunks_after=$(file_bytes "$REPO/chunks")
du_after=$(du -sb "$REPO/chunks" | cut -f1)
n2=$(backup_field "$D2" new_bytes)
s2=$(backup_field "$D2" stored_bytes)
added=$((chunks_after - chunks_before))
tr_note "first backup stored $s1 bytes; second: stored $s2, new $n2; chunk files grew by $added bytes, du -b of chunks/ by $((du_after - du_before))"
check "dedup: the second backup's new_bytes ($n2) <= 10% of the first's stored bytes ($s1)" test "$((n2 * 10))" -le "$s1"
check "dedup: bytes added under chunks/ ($added) <= 10% of the first's stored bytes ($s1)" test "$((added * 10))" -le "$s1"
check "dedup: du -b of chunks/ grew by at most 10% of the first's stored bytes" test "$(((du_after - du_before) * 10))" -le "$s1"
assert_eq "$added" "$n2" "dedup: new_bytes of the second backup = the bytes of the chunk files it added"
check "dedup: the second backup uploaded something (the changed pages: $n2 bytes)" test "$n2" -gt 0
drop_cluster p2

tr_note "total: ${SECONDS}s"
finish
