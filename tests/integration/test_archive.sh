#!/usr/bin/env bash
# tests/integration/test_archive.sh - end-to-end WAL archiving with the fs
# driver against a real PostgreSQL 15:
#   a. archive_command on a busy cluster: every .done file is in the
#      repository, at its documented key, and reads back byte-identical
#   b. a second cluster recovers from the archive through restore_command
#  b2. with a wrong key, that recovery stops (exit 128) instead of promoting
#   c. archive-put idempotency; a different content is refused untouched
#   d. concurrent archive-puts (same content, different contents)
#   e. archive-get exit codes (absent, wrong key, tampered, unreachable)
#  e2. archive-get read-ahead (prefetch spool)
#   f. .history, .backup and .partial files
#   g. a cluster with 64 MiB segments
#   h. bad input: missing settings, unreadable secrets, missing file
#   i. the same settings from a config file (-c) and long options
#   j. archive-put look-ahead (files marked .ready stored in parallel)
# Last line: "archive: N passed, M failed".  TR_KEEP=1 keeps the temp dir.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/integration/lib.sh
. "$here/lib.sh"

tr_init archive
PGBIN=$(pg_bin) || tr_die "PostgreSQL 15 not found"
tr_note "server user $TR_SRV_USER, binary $TR_BIN, PostgreSQL $PGBIN, temp $TR_TMP"

t_start=$SECONDS
section() {
	tr_note "== $* (at ${SECONDS}s)"
}

# ------------------------------------------------------------------ setup
KEY="correct horse battery staple $$-$RANDOM-canary"
PREFIX=ci/archive
DBID="db-main"
BUCKET=$(pg_scratch bucket)
REPO=$BUCKET/$PREFIX/$DBID
tr_write_keyfile "$KEY"
tr_env_set TOTALRECALL_DRIVER=fs "TOTALRECALL_BUCKET=$BUCKET" \
	"TOTALRECALL_DATABASE_ID=$DBID" "TOTALRECALL_ENCRYPTION_KEY=file:$KEYFILE" \
	"TOTALRECALL_STORAGE_PREFIX=$PREFIX" TOTALRECALL_KDF_ITERATIONS=1000 \
	"TOTALRECALL_STATE_DIR=$TR_TMP/state" TOTALRECALL_LOG_LEVEL=info
# Direct calls read from the repository (the read-ahead has its own checks,
# e2); the recovering servers use the default read-ahead.
tr_env_set TOTALRECALL_PREFETCH=0

ARCHIVE_CONF=("wal_level = replica" "archive_mode = on"
	"archive_command = '$TR_BIN archive-put %p'" "wal_keep_size = '4GB'"
	"max_wal_senders = 4" "checkpoint_timeout = '1h'" "max_wal_size = '4GB'")

# Files in pg_wal/archive_status marked .done, one name a line.
done_files() {
	local f
	for f in "${PG_DATA[$1]}"/pg_wal/archive_status/*.done; do
		[ -e "$f" ] || continue
		f=${f##*/}
		printf '%s\n' "${f%.done}"
	done
}

# not_grep_r STRING DIR: true when no file below DIR contains STRING.
# shellcheck disable=SC2317  # called through check
not_grep_r() { ! grep -rqF -- "$1" "$2"; }

# not_ok CMD...: true when CMD fails (its output discarded).
# shellcheck disable=SC2317  # called through check
not_ok() { ! "$@" >/dev/null 2>&1; }

# A fresh empty directory owned by the server user.
newdir() {
	local d=$TR_TMP/$1
	rm -rf "$d"
	as_pg mkdir -p "$d"
	printf '%s\n' "$d"
}

# A copy of FILE owned by the server user in DIR, under NAME.
copy_as() {
	as_pg cp "$1" "$2/$3"
}

# ------------------------------------------------------------------ a
section "a. archive_command on a busy cluster"
setup "p1 started with archive_command = totalrecall archive-put %p" pg_start_cluster p1 "${ARCHIVE_CONF[@]}"
# Hand-made segments archived into p1's repository must be p1's WAL.
FAKE_SYSID=$(pg_sysid p1) || tr_die "cannot read p1's system identifier"

pg_cmd p1 pgbench -i -q -s 3 >"$TR_TMP/root/pgbench-i.log" 2>&1 || tr_die "pgbench -i failed"
pg_cmd p1 pgbench -n -c 2 -j 2 -t 400 >"$TR_TMP/root/pgbench-1.log" 2>&1 || tr_die "pgbench failed"
pg_switch p1 >/dev/null

# b needs a base backup taken before more changes.
pg_register r1 "$TR_TMP/pg-r1/data"
basebackup_r1() {
	pg_cmd p1 pg_basebackup -D "${PG_DATA[r1]}" -X none -c fast --no-sync >"$TR_TMP/root/basebackup.log" 2>&1 ||
		{ tr '\n' '|' <"$TR_TMP/root/basebackup.log"; echo; return 1; }
}
setup "pg_basebackup -X none of p1 (waits for its WAL to be archived)" basebackup_r1
# A second copy of the base backup, for recovery with a wrong key (b2).
pg_register r2 "$TR_TMP/pg-r2/data"
as_pg cp -a "${PG_DATA[r1]}" "${PG_DATA[r2]}"

psql_q p1 "CREATE TABLE after_backup AS SELECT g AS x, md5(g::text) AS y FROM generate_series(1, 5000) g"
pg_cmd p1 pgbench -n -c 2 -j 2 -t 300 >"$TR_TMP/root/pgbench-2.log" 2>&1 || tr_die "pgbench failed"
last=""
for i in 1 2 3; do
	psql_q p1 "INSERT INTO after_backup SELECT g, 'switch $i' FROM generate_series(1, 100) g"
	last=$(pg_switch p1)
done
tr_note "last switched segment: $last"
if pg_wait_archived p1 "$last" 180; then
	pass "pg_stat_archiver: last_archived_wal >= $last, failed_count = 0"
else
	fail "pg_stat_archiver: $(psql_q p1 'SELECT last_archived_wal, failed_count, last_failed_wal FROM pg_stat_archiver')"
fi

mapfile -t DONE < <(done_files p1)
tr_note "${#DONE[@]} files marked .done"
check "at least 5 WAL files archived (got ${#DONE[@]})" test "${#DONE[@]}" -ge 5
missing=() bad=() compared=0
getdir=$(newdir get-a)
for f in "${DONE[@]}"; do
	obj=$REPO/$(wal_object_key "$f")
	[ -f "$obj" ] || missing+=("$f")
	if [ -f "${PG_DATA[p1]}/pg_wal/$f" ]; then
		if tr_run archive-get "$getdir/$f" "$f" 2>>"$TR_TMP/root/get-a.err" &&
			cmp -s "$getdir/$f" "${PG_DATA[p1]}/pg_wal/$f"; then
			compared=$((compared + 1))
		else
			bad+=("$f")
		fi
	fi
done
assert_eq "" "${missing[*]}" "every .done file has its object at <prefix>/<db>/wal/<16 chars>/<name> (or wal/<name>.history)"
assert_eq "" "${bad[*]}" "archive-get of $compared files still in pg_wal returns identical bytes"
check "the archive includes the base backup's .backup file" \
	grep -q '\.backup$' < <(printf '%s\n' "${DONE[@]}")
check "the keyring object exists at <prefix>/<db>/keyring" test -f "$REPO/keyring"
check "the repository holds no .tr-tmp-* leftovers" \
	test -z "$(find "$BUCKET" -name '.tr-tmp-*' -print -quit)"
plain=0
for f in "${DONE[@]}"; do
	case $f in *.backup | *.history) continue ;; esac
	obj=$REPO/$(wal_object_key "$f")
	if [ -f "$obj" ] && [ -f "${PG_DATA[p1]}/pg_wal/$f" ] &&
		cmp -s -n 4096 "$obj" "${PG_DATA[p1]}/pg_wal/$f"; then
		plain=$((plain + 1))
	fi
done
assert_eq 0 "$plain" "no stored segment starts with the plain WAL bytes"
assert_not_contains "$(cat "${PG_LOG[p1]}")" "$KEY" "the server log of p1 does not contain the key"
check "the passphrase appears nowhere in the repository" not_grep_r "$KEY" "$BUCKET"

# ------------------------------------------------------------------ b
section "b. recovery of a base backup through restore_command"
exp_acc=$(psql_q p1 "SELECT count(*), sum(abalance) FROM pgbench_accounts")
exp_after=$(psql_q p1 "SELECT count(*), sum(x), md5(string_agg(y, ',' ORDER BY x, y)) FROM after_backup")
as_pg touch "${PG_DATA[r1]}/recovery.signal"
pg_conf r1 "# --- restore" "archive_mode = off" "hot_standby = on" \
	"restore_command = '$TR_BIN archive-get %p %f'"
if pg_start r1 -u TOTALRECALL_PREFETCH; then
	pass "r1 (base backup + recovery.signal) started"
	if wait_until 240 pg_not_in_recovery r1; then
		pass "r1 replayed the archive and promoted at its end"
	else
		fail "r1 still in recovery after 240 s"
	fi
	assert_eq "$exp_acc" "$(psql_q r1 "SELECT count(*), sum(abalance) FROM pgbench_accounts" || true)" \
		"r1: count(*), sum(abalance) of pgbench_accounts = p1's ($exp_acc)"
	assert_eq "$exp_after" "$(psql_q r1 "SELECT count(*), sum(x), md5(string_agg(y, ',' ORDER BY x, y)) FROM after_backup" || true)" \
		"r1: table created after the base backup = p1's"
	restored=$(grep -c 'restored log file' "${PG_LOG[r1]}" || true)
	check "r1 restored WAL through archive-get ($restored files)" test "$restored" -ge 3
	check "r1's log: archive recovery complete" grep -q 'archive recovery complete' "${PG_LOG[r1]}"
	assert_not_contains "$(cat "${PG_LOG[r1]}")" "$KEY" "the server log of r1 does not contain the key"
	pg_stop_cluster r1 || fail "stopping r1"
else
	fail "r1 did not start; log: $(tail -n 5 "${PG_LOG[r1]}" | tr '\n' '|')"
fi

# ------------------------------------------------------------------ b2
section "b2. recovery with a wrong key stops instead of promoting"
as_pg touch "${PG_DATA[r2]}/recovery.signal"
pg_conf r2 "# --- restore" "archive_mode = off" "hot_standby = on" \
	"restore_command = '$TR_BIN archive-get %p %f'"
# A host that has no key cached (a host with one checks the passphrase
# through the KDF at most once a minute: see test_keys.sh).
if pg_start r2 -u TOTALRECALL_PREFETCH TOTALRECALL_ENCRYPTION_KEY=not-the-key \
	"TOTALRECALL_STATE_DIR=$(newdir state-r2)" 2>/dev/null; then
	fail "r2 started although every archive-get fails"
	pg_stop_cluster r2 immediate || true
else
	pass "r2 (wrong key) did not start"
fi
check "r2's log: restore_command exited with code 128, recovery aborted" \
	grep -q 'exit code 128' "${PG_LOG[r2]}"
check "r2 did not end recovery" not_grep_r 'archive recovery complete' "${PG_LOG[r2]}"
check "r2 is not running" test ! -f "${PG_DATA[r2]}/postmaster.pid"
if pg_start r2 -u TOTALRECALL_PREFETCH && wait_until 240 pg_not_in_recovery r2; then
	pass "r2 restarted with the right key: recovered and promoted"
	assert_eq "$exp_after" "$(psql_q r2 "SELECT count(*), sum(x), md5(string_agg(y, ',' ORDER BY x, y)) FROM after_backup" || true)" \
		"r2: table created after the base backup = p1's"
	pg_stop_cluster r2 || fail "stopping r2"
else
	fail "r2 with the right key did not recover"
fi

# The segment used by c, d and e: archived and still in pg_wal.
SEG=""
for f in "${DONE[@]}"; do
	if [[ $f =~ ^[0-9A-F]{24}$ ]] && [ -f "${PG_DATA[p1]}/pg_wal/$f" ]; then
		SEG=$f
		break
	fi
done
[ -n "$SEG" ] || tr_die "no archived segment left in pg_wal"
SEGOBJ=$REPO/$(wal_object_key "$SEG")
pg_stop_cluster p1 || fail "stopping p1"

# ------------------------------------------------------------------ c
section "c. archive-put idempotency ($SEG)"
wc_=$(newdir work-c)
copy_as "${PG_DATA[p1]}/pg_wal/$SEG" "$wc_" "$SEG"
before=$(sha256_of "$SEGOBJ")
TR_DESC="archive-put of an archived segment, same content (1st)" assert_rc 0 in_dir "$wc_" tr_run archive-put "$SEG"
TR_DESC="archive-put of an archived segment, same content (2nd)" assert_rc 0 in_dir "$wc_" tr_run archive-put "$SEG"
flip_byte "$wc_/$SEG" 100000
TR_DESC="archive-put of a different content under an archived name" assert_rc 1 in_dir "$wc_" tr_run archive-put "$SEG"
err=$(cat "$TR_LAST_ERR")
assert_contains "$err" "$SEG" "the error names $SEG"
assert_eq "$before" "$(sha256_of "$SEGOBJ")" "the stored object is unchanged (sha256)"
getdir=$(newdir get-c)
tr_run archive-get "$getdir/out" "$SEG" 2>/dev/null || true
assert_same_file "$getdir/out" "${PG_DATA[p1]}/pg_wal/$SEG" "archive-get still returns the original content"
as_pg truncate -s 8192 "$wc_/$SEG"
TR_DESC="archive-put of a truncated copy under an archived name" assert_rc 1 in_dir "$wc_" tr_run archive-put "$SEG"
assert_eq "$before" "$(sha256_of "$SEGOBJ")" "the stored object is still unchanged"

# ------------------------------------------------------------------ d
section "d. concurrent archive-puts"
# bg_put DIR NAME TAG: archive-put in the background; pid in BG_PID.
bg_put() {
	in_dir "$1" tr_run archive-put "$2" >"$TR_TMP/root/$3.out" 2>"$TR_TMP/root/$3.err" &
	BG_PID=$!
	TR_BG_PIDS+=("$BG_PID")
}
wd=$(newdir work-d)
name=0000000100000000000000F0
fake_segment "$wd" "$name" 1
bg_put "$wd" "$name" same1
p_a=$BG_PID
bg_put "$wd" "$name" same2
p_b=$BG_PID
rc_a=0 rc_b=0
wait "$p_a" || rc_a=$?
wait "$p_b" || rc_b=$?
assert_eq "0 0" "$rc_a $rc_b" "two concurrent archive-puts of the same file both exit 0"
n=$(find "$REPO/wal" -name "$name*" | wc -l)
assert_eq 1 "$n" "one object for $name"
getdir=$(newdir get-d)
tr_run archive-get "$getdir/$name" "$name" 2>/dev/null || true
assert_same_file "$getdir/$name" "$wd/$name" "archive-get after the race returns identical bytes"

for i in 1 2 3 4 5; do
	name=0000000100000000000000F$i
	da=$(newdir "work-d$i-a")
	db=$(newdir "work-d$i-b")
	FAKE_RANDOM=4194304 fake_segment "$da" "$name" "$((10 * i))"
	FAKE_RANDOM=4194304 fake_segment "$db" "$name" "$((10 * i + 1))"
	bg_put "$da" "$name" "diff$i-a"
	p_a=$BG_PID
	bg_put "$db" "$name" "diff$i-b"
	p_b=$BG_PID
	rc_a=0 rc_b=0
	wait "$p_a" || rc_a=$?
	wait "$p_b" || rc_b=$?
	ok=$(((rc_a == 0) + (rc_b == 0)))
	assert_eq 1 "$ok" "round $i: of two concurrent puts of different contents exactly one exits 0 (rc $rc_a, $rc_b)"
	got=$getdir/$name
	tr_run archive-get "$got" "$name" 2>/dev/null || true
	if { [ "$rc_a" = 0 ] && cmp -s "$got" "$da/$name"; } || { [ "$rc_b" = 0 ] && cmp -s "$got" "$db/$name"; }; then
		pass "round $i: the stored object is the winner's whole content"
	else
		fail "round $i: the stored object is not the content of a put that exited 0"
	fi
done
check "no .tr-tmp-* leftovers after the races" \
	test -z "$(find "$BUCKET" -name '.tr-tmp-*' -print -quit)"

# ------------------------------------------------------------------ e
section "e. archive-get exit codes"
de=$(newdir get-e)
# absent: no file, no temp file left in the destination directory
TR_DESC="archive-get of an absent segment" assert_rc 1 tr_run archive-get "$de/RECOVERYXLOG" 0000000100000000000000E0
assert_file_absent "$de/RECOVERYXLOG" "no file created for an absent segment"
TR_DESC="archive-get of an absent segment, relative dst path (as PostgreSQL calls it)" \
	assert_rc 1 in_dir "$de" tr_run archive-get RECOVERYXLOG 0000000100000000000000E0
assert_file_absent "$de/RECOVERYXLOG"
TR_DESC="archive-get of an absent 00000002.history" assert_rc 1 tr_run archive-get "$de/RECOVERYHISTORY" 00000002.history
check "absent history file: at most one line on stderr ($(line_count "$TR_LAST_ERR"))" test "$(line_count "$TR_LAST_ERR")" -le 1
check "absent history file: nothing on stdout" test ! -s "$TR_LAST_OUT"
assert_file_absent "$de/RECOVERYHISTORY"

# A wrong key on a host without the key cached (with it cached, see
# test_keys.sh: refused once the minute of the last passphrase check is up).
wst=(TOTALRECALL_ENCRYPTION_KEY=wrong-key "TOTALRECALL_STATE_DIR=$(newdir state-wrong)")
TR_DESC="archive-get with a wrong key" assert_rc 128 tr_run "${wst[@]}" archive-get "$de/x" "$SEG"
assert_file_absent "$de/x" "no file after a wrong key"
assert_not_contains "$(cat "$TR_LAST_ERR")" "wrong-key" "the wrong key is not printed"
wrongdir=$(newdir work-e)
fake_segment "$wrongdir" 0000000100000000000000E1 3
TR_DESC="archive-put with a wrong key" assert_rc 1 in_dir "$wrongdir" tr_run "${wst[@]}" archive-put 0000000100000000000000E1
assert_file_absent "$REPO/$(wal_object_key 0000000100000000000000E1)" "nothing stored with a wrong key"

cp -p "$SEGOBJ" "$TR_TMP/root/segobj.orig"
size=$(stat -c %s "$SEGOBJ")
flip_byte "$SEGOBJ" $((size / 2))
TR_DESC="archive-get of an object with one flipped byte" assert_rc 128 tr_run archive-get "$de/x" "$SEG"
assert_file_absent "$de/x" "no file after a tampered object"
assert_contains "$(cat "$TR_LAST_ERR")" "authenticat" "the error mentions authentication"
cp "$TR_TMP/root/segobj.orig" "$SEGOBJ"
flip_byte "$SEGOBJ" 10
TR_DESC="archive-get of an object with a flipped header byte" assert_rc 128 tr_run archive-get "$de/x" "$SEG"
assert_file_absent "$de/x"
cp "$TR_TMP/root/segobj.orig" "$SEGOBJ"
truncate -s $((size / 2)) "$SEGOBJ"
TR_DESC="archive-get of an object truncated to half" assert_rc 128 tr_run archive-get "$de/x" "$SEG"
assert_file_absent "$de/x"
cp "$TR_TMP/root/segobj.orig" "$SEGOBJ"
truncate -s $((size - 1)) "$SEGOBJ"
TR_DESC="archive-get of an object missing its last byte" assert_rc 128 tr_run archive-get "$de/x" "$SEG"
assert_file_absent "$de/x"
cp "$TR_TMP/root/segobj.orig" "$SEGOBJ"
: >"$SEGOBJ"
TR_DESC="archive-get of an empty object" assert_rc 128 tr_run archive-get "$de/x" "$SEG"
assert_file_absent "$de/x"
cp "$TR_TMP/root/segobj.orig" "$SEGOBJ"
echo "stale RECOVERYXLOG" | as_pg tee "$de/x" >/dev/null
TR_DESC="archive-get after restoring the object, over a stale destination file" assert_rc 0 tr_run archive-get "$de/x" "$SEG"
assert_same_file "$de/x" "${PG_DATA[p1]}/pg_wal/$SEG" "restored object reads back identical"
rm -f "$de/x"

TR_DESC="archive-get with the bucket directory missing" \
	assert_rc 128 tr_run "TOTALRECALL_BUCKET=$TR_TMP/no-such-bucket" archive-get "$de/x" "$SEG"
assert_file_absent "$de/x"
TR_DESC="archive-get of an absent segment with the bucket directory missing" \
	assert_rc 128 tr_run "TOTALRECALL_BUCKET=$TR_TMP/no-such-bucket" archive-get "$de/x" 0000000100000000000000E0
assert_file_absent "$de/x"
as_pg touch "$TR_TMP/bucket-is-a-file"
TR_DESC="archive-get with the bucket being a regular file" \
	assert_rc 128 tr_run "TOTALRECALL_BUCKET=$TR_TMP/bucket-is-a-file" archive-get "$de/x" "$SEG"
assert_file_absent "$de/x"
TR_DESC="archive-get with TOTALRECALL_DATABASE_ID missing (a configuration error is not 'absent')" \
	assert_rc 128 tr_run -u TOTALRECALL_DATABASE_ID archive-get "$de/x" "$SEG"
assert_file_absent "$de/x"
# Authenticated names: a segment moved to another name, or to another
# database's repository, fails; so does a tampered keyring.
SEG2=""
for f in "${DONE[@]}"; do
	if [[ $f =~ ^[0-9A-F]{24}$ ]] && [ "$f" != "$SEG" ] && [ -f "$REPO/$(wal_object_key "$f")" ]; then
		SEG2=$f
		break
	fi
done
SEG2OBJ=$REPO/$(wal_object_key "$SEG2")
cp -p "$SEG2OBJ" "$TR_TMP/root/seg2obj.orig"
cp "$SEGOBJ" "$SEG2OBJ"
TR_DESC="archive-get $SEG2 whose object was replaced by $SEG's" assert_rc 128 tr_run archive-get "$de/x" "$SEG2"
assert_file_absent "$de/x" "no file after a swapped object"
cp "$TR_TMP/root/seg2obj.orig" "$SEG2OBJ"
other=$BUCKET/$PREFIX/db-other
TR_DESC="archive-put into a second database id" assert_rc 0 in_dir "$wrongdir" tr_run TOTALRECALL_DATABASE_ID=db-other archive-put 0000000100000000000000E1
as_pg mkdir -p "$other/$(dirname "$(wal_object_key "$SEG")")"
as_pg cp "$SEGOBJ" "$other/$(wal_object_key "$SEG")"
TR_DESC="archive-get of an object copied from another database's repository" \
	assert_rc 128 tr_run TOTALRECALL_DATABASE_ID=db-other archive-get "$de/x" "$SEG"
assert_file_absent "$de/x"
TR_DESC="archive-get of an absent segment from the second database id" \
	assert_rc 1 tr_run TOTALRECALL_DATABASE_ID=db-other archive-get "$de/x" 0000000100000000000000E3
cp -p "$REPO/keyring" "$TR_TMP/root/keyring.orig"
for ring in keyring keyring-copy; do
	cp -p "$REPO/$ring" "$TR_TMP/root/$ring.save"
	sed -i 's/[0-9a-f]\([^0-9a-f]*\)$/0\1/' "$REPO/$ring"
	if cmp -s "$REPO/$ring" "$TR_TMP/root/$ring.save"; then
		flip_byte "$REPO/$ring" $(($(stat -c %s "$REPO/$ring") / 2))
	fi
done
fresh=$(newdir state-fresh)
TR_DESC="archive-get with the keyring and its copy tampered (no cached key)" \
	assert_rc 128 tr_run "TOTALRECALL_STATE_DIR=$fresh" archive-get "$de/x" "$SEG"
assert_file_absent "$de/x"
cp "$TR_TMP/root/keyring-copy.save" "$REPO/keyring-copy"
fresh=$(newdir state-fresh)
TR_DESC="archive-get with the keyring tampered and its copy intact (no cached key)" \
	assert_rc 0 tr_run "TOTALRECALL_STATE_DIR=$fresh" archive-get "$de/x" "$SEG"
assert_same_file "$REPO/keyring" "$TR_TMP/root/keyring.orig" "the tampered keyring was rewritten from its copy"
rm -f "$de/x"
cp "$TR_TMP/root/keyring.orig" "$REPO/keyring"
fresh=$(newdir state-fresh)
TR_DESC="archive-get with a wrong key and no cached key" \
	assert_rc 128 tr_run "TOTALRECALL_STATE_DIR=$fresh" TOTALRECALL_ENCRYPTION_KEY=wrong-key archive-get "$de/x" "$SEG"
assert_contains "$(cat "$TR_LAST_ERR")" "does not match" "the error says the key does not match the repository"
TR_DESC="archive-get with the keyring and a fresh state dir" \
	assert_rc 0 tr_run "TOTALRECALL_STATE_DIR=$fresh" archive-get "$de/x" "$SEG"
assert_same_file "$de/x" "${PG_DATA[p1]}/pg_wal/$SEG" "fresh state dir: identical bytes"
rm -f "$de/x"

# Names and destinations.
TR_DESC="archive-get of a name that is not a WAL file name" assert_rc 128 tr_run archive-get "$de/x" ../../keyring
assert_file_absent "$de/x"
TR_DESC="archive-get into a missing directory" assert_rc 128 tr_run archive-get "$de/no/such/dir/x" "$SEG"
as_pg mkdir -p "$de/ro"
chmod 0555 "$de/ro"
if ! as_pg test -w "$de/ro"; then
	TR_DESC="archive-get into a read-only directory" assert_rc 128 tr_run archive-get "$de/ro/x" "$SEG"
	assert_file_absent "$de/ro/x"
fi
rmdir "$de/ro"
as_pg touch "$wrongdir/notawalfile.txt"
TR_DESC="archive-put of a file whose name is not a WAL file name" \
	assert_rc 1 in_dir "$wrongdir" tr_run archive-put notawalfile.txt

left=$(find "$de" -mindepth 1 | head -n 3 | tr '\n' ' ')
assert_eq "" "$left" "no temporary file left in the destination directory"

# ------------------------------------------------------------------ e2
section "e2. archive-get read-ahead (prefetch)"
# The segments after SEG, in archive order.
NEXT=()
for f in "${DONE[@]}"; do
	if [[ $f =~ ^[0-9A-F]{24}$ ]] && [[ $f > $SEG ]] && [ -f "$REPO/$(wal_object_key "$f")" ]; then
		NEXT+=("$f")
	fi
done
# prefetch_idle STATE: a prefetcher has spooled something and let go.
# shellcheck disable=SC2317  # called through check and wait_until
prefetch_idle() {
	local lock
	for lock in "$1"/prefetch/*/.lock; do
		[ -f "$lock" ] || return 1
		flock -n "$lock" true || return 1
		compgen -G "${lock%/.lock}/[0-9A-F]*" >/dev/null || return 1
	done
	compgen -G "$1/prefetch/*/.lock" >/dev/null
}
if [ "${#NEXT[@]}" -ge 3 ]; then
	pst=$(newdir state-prefetch)
	pf=(TOTALRECALL_PREFETCH=4 "TOTALRECALL_STATE_DIR=$pst")
	TR_DESC="archive-get $SEG with prefetch = 4" assert_rc 0 tr_run "${pf[@]}" archive-get "$de/p0" "$SEG"
	check "the prefetcher spooled ${NEXT[0]} and finished" wait_until 60 prefetch_idle "$pst"
	TR_DESC="archive-get ${NEXT[0]} (prefetched)" assert_rc 0 tr_run "${pf[@]}" archive-get "$de/p1" "${NEXT[0]}"
	assert_contains "$(cat "$TR_LAST_ERR")" prefetched "served from the prefetch spool"
	assert_same_file "$de/p1" "${PG_DATA[p1]}/pg_wal/${NEXT[0]}" "the prefetched segment is identical"
	wait_until 60 prefetch_idle "$pst" || true
	# The passphrase is checked (KDF) when the last check is a minute old.
	touch -d '-2 minutes' "$pst"/keys/*/keyring
	TR_DESC="archive-get of a prefetched segment with a wrong key" \
		assert_rc 128 tr_run "${pf[@]}" TOTALRECALL_ENCRYPTION_KEY=wrong-key archive-get "$de/p2" "${NEXT[1]}"
	assert_file_absent "$de/p2" "no file for a wrong key, prefetched or not"
	rm -f "$de/p2"
	wait_until 60 prefetch_idle "$pst" || true

	# An object tampered with before the read-ahead is never spooled.
	pst=$(newdir state-prefetch2)
	pf=(TOTALRECALL_PREFETCH=4 "TOTALRECALL_STATE_DIR=$pst")
	victim=${NEXT[1]}
	vobj=$REPO/$(wal_object_key "$victim")
	cp -p "$vobj" "$TR_TMP/root/victim.orig"
	flip_byte "$vobj" $(($(stat -c %s "$vobj") / 2))
	TR_DESC="archive-get ${NEXT[0]} with prefetch = 4, the next object tampered" \
		assert_rc 0 tr_run "${pf[@]}" archive-get "$de/p3" "${NEXT[0]}"
	check "the prefetcher finished" wait_until 60 prefetch_idle "$pst"
	check "the tampered $victim was not spooled" not_ok compgen -G "$pst/prefetch/*/$victim"
	TR_DESC="archive-get of the tampered $victim after the read-ahead" \
		assert_rc 128 tr_run "${pf[@]}" archive-get "$de/p4" "$victim"
	assert_file_absent "$de/p4"
	cp "$TR_TMP/root/victim.orig" "$vobj"
	wait_until 60 prefetch_idle "$pst" || true
	rm -f "$de"/p[0-9]
else
	fail "fewer than 3 archived segments after $SEG for the prefetch checks"
fi

# ------------------------------------------------------------------ f
section "f. .history, .backup and .partial files"
wf=$(newdir work-f)
gf=$(newdir get-f)
printf '1\t0/3000000\tno recovery target specified\n' | as_pg tee "$wf/00000002.history" >/dev/null
printf 'START WAL LOCATION: 0/A3000028 (file 0000000100000000000000A3)\nSTOP WAL LOCATION: 0/A3000100 (file 0000000100000000000000A3)\nCHECKPOINT LOCATION: 0/A3000060\nBACKUP METHOD: streamed\nLABEL: test\n' |
	as_pg tee "$wf/0000000100000000000000A3.00000028.backup" >/dev/null
{ head -c 3000000 /dev/urandom; head -c 13777216 /dev/zero; } | as_pg tee "$wf/0000000100000000000000A4.partial" >/dev/null
for f in 00000002.history 0000000100000000000000A3.00000028.backup 0000000100000000000000A4.partial; do
	TR_DESC="archive-put $f" assert_rc 0 in_dir "$wf" tr_run archive-put "$f"
	check "$f stored at $(wal_object_key "$f")" test -f "$REPO/$(wal_object_key "$f")"
	TR_DESC="archive-get $f" assert_rc 0 tr_run archive-get "$gf/$f" "$f"
	assert_same_file "$gf/$f" "$wf/$f" "$f round-trips byte-identical"
	TR_DESC="archive-put $f again" assert_rc 0 in_dir "$wf" tr_run archive-put "$f"
done
check "the history file is not below a 16-character directory" test ! -e "$REPO/wal/00000002.history/00000002.history"

# ------------------------------------------------------------------ g
section "g. a cluster with 64 MiB WAL segments"
pg_init_cluster s64 --wal-segsize=64 || tr_die "initdb --wal-segsize=64 failed"
pg_conf s64 "${ARCHIVE_CONF[@]}"
setup "s64 started" pg_start s64 TOTALRECALL_DATABASE_ID=db-seg64 -u TOTALRECALL_STORAGE_PREFIX
setup "s64 has 64 MiB WAL segments" test "$(psql_q s64 "SHOW wal_segment_size")" = 64MB
psql_q s64 "CREATE TABLE t AS SELECT g, md5(g::text) FROM generate_series(1, 100000) g"
seg64=$(pg_switch s64)
if pg_wait_archived s64 "$seg64" 120; then
	pass "s64: $seg64 archived"
else
	fail "s64: $(psql_q s64 'SELECT last_archived_wal, failed_count FROM pg_stat_archiver')"
fi
obj64=$BUCKET/db-seg64/$(wal_object_key "$seg64")
check "with no prefix the object is at <db>/wal/<16>/<name>" test -f "$obj64"
g64=$(newdir get-g)
TR_DESC="archive-get of a 64 MiB segment" assert_rc 0 tr_run TOTALRECALL_DATABASE_ID=db-seg64 -u TOTALRECALL_STORAGE_PREFIX archive-get "$g64/$seg64" "$seg64"
assert_same_file "$g64/$seg64" "${PG_DATA[s64]}/pg_wal/$seg64" "the 64 MiB segment round-trips byte-identical"
pg_stop_cluster s64 || fail "stopping s64"

# ------------------------------------------------------------------ h
section "h. bad input"
wh=$(newdir work-h)
fake_segment "$wh" 0000000100000000000000E2 4
CANARY="canary-$RANDOM-secret"
TR_DESC="archive-put without TOTALRECALL_DATABASE_ID" \
	assert_rc 1 in_dir "$wh" tr_run -u TOTALRECALL_DATABASE_ID "TOTALRECALL_ENCRYPTION_KEY=$CANARY" archive-put 0000000100000000000000E2
err=$(cat "$TR_LAST_ERR")
assert_eq 1 "$(line_count "$TR_LAST_ERR")" "one line on stderr"
assert_contains "$err" TOTALRECALL_DATABASE_ID "the error names TOTALRECALL_DATABASE_ID"
assert_not_contains "$err" "$CANARY" "the error does not contain the key"

TR_DESC="archive-put with TOTALRECALL_ENCRYPTION_KEY=file:/nonexistent" \
	assert_rc 1 in_dir "$wh" tr_run TOTALRECALL_ENCRYPTION_KEY=file:/nonexistent/tr-key archive-put 0000000100000000000000E2
err=$(cat "$TR_LAST_ERR")
assert_contains "$err" TOTALRECALL_ENCRYPTION_KEY "the error names the setting"
assert_contains "$err" /nonexistent/tr-key "the error names the file"
assert_not_contains "$err" "$KEY" "the error does not contain the key"
TR_DESC="archive-get with TOTALRECALL_ENCRYPTION_KEY=file:/nonexistent" \
	assert_rc 128 tr_run TOTALRECALL_ENCRYPTION_KEY=file:/nonexistent/tr-key archive-get "$wh/x" "$SEG"
assert_file_absent "$wh/x"

TR_DESC="archive-put with TOTALRECALL_ENCRYPTION_KEY=env:UNSET_VAR" \
	assert_rc 1 in_dir "$wh" tr_run TOTALRECALL_ENCRYPTION_KEY=env:TR_TEST_UNSET_VAR archive-put 0000000100000000000000E2
assert_contains "$(cat "$TR_LAST_ERR")" TOTALRECALL_ENCRYPTION_KEY "the error names the setting"

TR_DESC="archive-put with the key through env:NAME" \
	assert_rc 0 in_dir "$wh" tr_run "TR_TEST_KEY_VAR=$KEY" TOTALRECALL_ENCRYPTION_KEY=env:TR_TEST_KEY_VAR archive-put 0000000100000000000000E2
assert_not_contains "$(cat "$TR_LAST_ERR")" "$KEY" "the info line does not contain the key"
TR_DESC="archive-get with the key given inline" \
	assert_rc 0 tr_run "TOTALRECALL_ENCRYPTION_KEY=$KEY" archive-get "$wh/E2" 0000000100000000000000E2
assert_same_file "$wh/E2" "$wh/0000000100000000000000E2" "env:, file: and inline key are the same key"

TR_DESC="archive-get with the key through two levels (env:A, A=file:...)" \
	assert_rc 0 tr_run TOTALRECALL_ENCRYPTION_KEY=env:TR_TEST_A "TR_TEST_A=file:$KEYFILE" archive-get "$wh/E2b" 0000000100000000000000E2
assert_same_file "$wh/E2b" "$wh/0000000100000000000000E2" "two-level indirection reads the key file"

# Malformed settings: archive-put exits 1, archive-get 128 (never "absent").
bad_settings=("TOTALRECALL_ENCRYPTION_KEY=" "TOTALRECALL_DATABASE_ID=a/b" "TOTALRECALL_KDF_ITERATIONS=abc"
	"TOTALRECALL_DRIVER=nosuch" "TOTALRECALL_BUCKET=relative/dir")
for kv in "${bad_settings[@]}"; do
	TR_DESC="archive-put with $kv" assert_rc 1 in_dir "$wh" tr_run "$kv" archive-put 0000000100000000000000E2
	# the option name (e.g. kdf-iterations), part of "VAR (--option)" too
	opt=${kv%%=*}
	opt=${opt#TOTALRECALL_}
	opt=${opt//_/-}
	assert_contains "$(cat "$TR_LAST_ERR")" "${opt,,}" "the error names the setting (${opt,,})"
	TR_DESC="archive-get with $kv" assert_rc 128 tr_run "$kv" archive-get "$wh/x" 0000000100000000000000E2
	assert_file_absent "$wh/x"
done
TR_DESC="archive-put without its argument" assert_rc 1 tr_run archive-put
TR_DESC="archive-get with one argument" assert_rc 128 tr_run archive-get 0000000100000000000000E2
check "an unknown command fails" not_ok tr_run frobnicate

TR_DESC="archive-put of a missing file" \
	assert_rc 1 in_dir "$wh" tr_run archive-put pg_wal/0000000100000000000000E3
assert_contains "$(cat "$TR_LAST_ERR")" 0000000100000000000000E3 "the error names the file"
assert_file_absent "$REPO/$(wal_object_key 0000000100000000000000E3)" "nothing stored for a missing file"

TR_DESC="archive-put with the bucket being a regular file" \
	assert_rc 1 in_dir "$wh" tr_run "TOTALRECALL_BUCKET=$TR_TMP/bucket-is-a-file" archive-put 0000000100000000000000E2
assert_not_contains "$(cat "$TR_LAST_ERR")" "$KEY" "the error does not contain the key"

# ------------------------------------------------------------------ i
section "i. config file and long options"
wi=$(newdir work-i)
# bare_run ARGS...: totalrecall with no TOTALRECALL_* variable at all.
# shellcheck disable=SC2317  # called through assert_rc
bare_run() {
	as_pg env -i PATH=/usr/bin:/bin "HOME=$TR_TMP/home" LC_ALL=C "$TR_BIN" "$@"
}
cfg=$TR_TMP/secret/totalrecall.conf
printf '%s\n' "# a comment" "driver = fs" "driver-dir = $TR_DRIVER_DIR" "bucket = $BUCKET" \
	"storage-prefix = $PREFIX" "database-id = $DBID" "encryption-key = file:$KEYFILE" "" \
	"TOTALRECALL_STATE_DIR = $TR_TMP/state" | as_pg tee "$cfg" >/dev/null
TR_DESC="archive-get with every setting from -c FILE" assert_rc 0 bare_run -c "$cfg" archive-get "$wi/a" "$SEG"
assert_same_file "$wi/a" "${PG_DATA[p1]}/pg_wal/$SEG" "-c FILE: identical bytes"
TR_DESC="archive-get with every setting as a long option" assert_rc 0 bare_run --driver fs \
	"--driver-dir=$TR_DRIVER_DIR" --bucket "$BUCKET" --storage-prefix "$PREFIX" --database-id "$DBID" \
	--encryption-key "file:$KEYFILE" --state-dir "$TR_TMP/state" archive-get "$wi/b" "$SEG"
assert_same_file "$wi/b" "${PG_DATA[p1]}/pg_wal/$SEG" "long options: identical bytes"
TR_DESC="a long option overrides the environment" assert_rc 0 tr_run TOTALRECALL_DATABASE_ID=other-db \
	-- --database-id "$DBID" archive-get "$wi/c" "$SEG"
assert_same_file "$wi/c" "${PG_DATA[p1]}/pg_wal/$SEG" "option over environment: identical bytes"
TR_DESC="the environment overrides the config file (other-db: no repository)" assert_rc 128 tr_run \
	TOTALRECALL_DATABASE_ID=other-db -- -c "$cfg" archive-get "$wi/d" "$SEG"
assert_contains "$(cat "$TR_LAST_ERR")" other-db "the error names the repository of the environment's database id"
assert_file_absent "$wi/d"
cfg2=$TR_TMP/secret/inline.conf
sed "s|^encryption-key = .*|encryption-key = $KEY|; s|^bucket = .*|bucket = $TR_TMP/bucket-is-a-file|" "$cfg" |
	as_pg tee "$cfg2" >/dev/null
TR_DESC="archive-put with the passphrase inline in a config file and an unusable bucket" \
	assert_rc 1 in_dir "$wh" bare_run -c "$cfg2" archive-put 0000000100000000000000E2
assert_not_contains "$(cat "$TR_LAST_ERR")" "$KEY" "the error does not contain the key"

# ------------------------------------------------------------------ j
section "j. archive-put look-ahead"
# A data directory as PostgreSQL leaves it: segments marked .ready.
wj=$(newdir work-j)
as_pg mkdir -p "$wj/pg_wal/archive_status"
AHEAD=(0000000100000000000000B0 0000000100000000000000B1 0000000100000000000000B2 0000000100000000000000B3)
seed=20
for f in "${AHEAD[@]}"; do
	FAKE_RANDOM=1048576 fake_segment "$wj/pg_wal" "$f" $((seed += 1)) 2097152
	as_pg touch "$wj/pg_wal/archive_status/$f.ready"
done
jst=$(newdir state-ahead)
ja=(TOTALRECALL_ARCHIVE_AHEAD=4 "TOTALRECALL_STATE_DIR=$jst")
TR_DESC="archive-put ${AHEAD[0]} with three more files marked .ready" \
	assert_rc 0 in_dir "$wj" tr_run "${ja[@]}" archive-put "pg_wal/${AHEAD[0]}"
for f in "${AHEAD[@]:1}"; do
	check "$f was stored ahead by the time archive-put returned" test -f "$REPO/$(wal_object_key "$f")"
done
# Claiming a file stored ahead needs no storage: it succeeds even where no
# driver can be loaded (tr_repo_connect_lazy), and a file that was not
# stored ahead then fails naming the driver.
nodrv=$(newdir no-drivers)
TR_DESC="archive-put ${AHEAD[1]} (stored ahead) with no driver to load" \
	assert_rc 0 in_dir "$wj" tr_run "${ja[@]}" "TOTALRECALL_DRIVER_DIR=$nodrv" archive-put "pg_wal/${AHEAD[1]}"
assert_contains "$(cat "$TR_LAST_ERR")" "archived ahead" "it says the file was archived ahead"
jx=0000000100000000000000B4
FAKE_RANDOM=1048576 fake_segment "$wj/pg_wal" "$jx" 30 2097152
TR_DESC="archive-put $jx (not stored ahead) with no driver to load" \
	assert_rc 1 in_dir "$wj" tr_run "${ja[@]}" "TOTALRECALL_DRIVER_DIR=$nodrv" archive-put "pg_wal/$jx"
assert_contains "$(cat "$TR_LAST_ERR")" "driver \"fs\" not found" "the error names the driver it could not load"
assert_file_absent "$REPO/$(wal_object_key "$jx")" "nothing was stored for $jx"
# A file that changed after its look-ahead upload is not reported archived.
b2obj=$REPO/$(wal_object_key "${AHEAD[2]}")
b2sum=$(sha256_of "$b2obj")
flip_byte "$wj/pg_wal/${AHEAD[2]}" 4096
TR_DESC="archive-put ${AHEAD[2]}, changed since its look-ahead upload" \
	assert_rc 1 in_dir "$wj" tr_run "${ja[@]}" archive-put "pg_wal/${AHEAD[2]}"
assert_eq "$b2sum" "$(sha256_of "$b2obj")" "the object stored ahead is unchanged"
touch -d '-2 minutes' "$jst"/keys/*/keyring  # the passphrase check is due
TR_DESC="archive-put ${AHEAD[3]} (stored ahead) with a wrong key" \
	assert_rc 1 in_dir "$wj" tr_run "${ja[@]}" TOTALRECALL_ENCRYPTION_KEY=wrong-key archive-put "pg_wal/${AHEAD[3]}"
TR_DESC="archive-put ${AHEAD[3]} with the right key" \
	assert_rc 0 in_dir "$wj" tr_run "${ja[@]}" archive-put "pg_wal/${AHEAD[3]}"
gj=$(newdir get-j)
for f in "${AHEAD[1]}" "${AHEAD[3]}"; do
	tr_run archive-get "$gj/$f" "$f" 2>/dev/null || true
	assert_same_file "$gj/$f" "$wj/pg_wal/$f" "$f stored ahead reads back identical"
done

check "no process started by the test outlives it (read-ahead finished)" wait_until 60 tr_no_strays
tr_note "total ${SECONDS}s (started at ${t_start}s)"
finish
