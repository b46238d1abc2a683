#!/usr/bin/env bash
# test_crash.sh - kill -9 of archive-put, backup, expire and restore at
# many points, each followed by `verify` and a normal run of the command.
#
# Kill points are deterministic: TOTALRECALL_TEST_KILL_AFTER_OPS=N makes
# the command SIGKILL itself before its storage step N+1 (src/base/testhook.h:
# before each driver call, when a put's body starts, and when it is
# complete but not committed).  A run with a huge N tells how many steps a
# command takes; the points are then drawn from a seeded generator
# (CRASH_SEED, default 1), so a failure is reproducible.  After every kill:
# the repository verifies (no listed backup is broken), the normal run
# succeeds, and every archived WAL file reads back byte-identical.
set -euo pipefail
. "$(dirname "$0")/lib_verify.sh"
lv_init crash
SEED=${CRASH_SEED:-1}
POINTS=${CRASH_POINTS:-20}
RANDOM=$SEED
note "seed $SEED, $POINTS points per command"

# Copy every WAL file as archived, to compare what archive-get returns.
as_user mkdir -p "$LV_TMP/walcopy"
lv_start_pg_with_copy() {
	lv_start_pg
	as_user "$LV_PGBIN/pg_ctl" -D "$LV_PGDATA" -w stop >/dev/null
	sed -i "s|^archive_command = '|archive_command = 'cp %p $LV_TMP/walcopy/%f \&\& |" "$LV_PGDATA/postgresql.conf"
	as_user "$LV_PGBIN/pg_ctl" -D "$LV_PGDATA" -l "$LV_TMP/server.log" -w -t 60 start >/dev/null
}
lv_start_pg_with_copy

# steps CMD...: runs the command fully; STEPS is how many storage steps it took.
STEPS=0
steps() {
	LV_EXTRA=TOTALRECALL_TEST_KILL_AFTER_OPS=100000000 tr_run "$@"
	STEPS=0
	[ "$RC" = 0 ] || { fail "$1 (counting its steps) failed: ${ERR:0:400}"; return 0; }
	STEPS=$(sed -n 's/^test hook: \([0-9]*\) storage operations$/\1/p' <<<"$ERR" | tail -1)
}

# points TOTAL: POINTS seeded kill points in [0, TOTAL), the first and last included.
points() {
	local total=$1 i
	[ "$total" -gt 0 ] || return 0
	echo 0
	[ "$total" -gt 1 ] && echo $((total - 1))
	for ((i = 2; i < POINTS; i++)); do echo $(((RANDOM * 32768 + RANDOM) % total)); done
}

# killed_run N CMD...: the command, SIGKILLed before step N+1.  0 if it
# was killed, 2 if it finished first (steps vary: a backup uploads only
# what changed), 1 (and a failure) otherwise.
KILLS=0
killed_run() {
	local n=$1
	shift
	LV_EXTRA=TOTALRECALL_TEST_KILL_AFTER_OPS=$n tr_run "$@"
	if [ "$RC" = 137 ]; then KILLS=$((KILLS + 1)); return 0; fi
	if [ "$RC" = 0 ]; then note "$1 finished before step $n"; return 2; fi
	fail "$1 with a kill point at $n: expected SIGKILL (137), got $RC: ${ERR:0:300}"
	return 1
}

# The kill points are the test's set-up: too few is a broken test.
enough_kills() { # COMMAND
	setup "$1 was killed at $KILLS points (at least $POINTS)" test "$KILLS" -ge "$POINTS"
	KILLS=0
}

verify_ok() { # DESC
	tr_run verify --full
	if [ "$RC" = 0 ]; then pass "$1: verify"; else fail "$1: verify exit $RC: ${OUT:0:600} ${ERR:0:300}"; fi
}

# Every WAL file archived so far reads back byte-identical.
check_wal() { # DESC
	local f bad=0 n=0
	for f in "$LV_TMP"/walcopy/*; do
		[ -f "$f" ] || continue
		n=$((n + 1))
		tr_run archive-get "$LV_TMP/get.out" "$(basename "$f")"
		if [ "$RC" != 0 ] || ! cmp -s "$f" "$LV_TMP/get.out"; then
			bad=$((bad + 1))
			note "$(basename "$f"): archive-get exit $RC"
		fi
		rm -f "$LV_TMP/get.out"
	done
	if [ "$bad" = 0 ]; then pass "$1: $n archived WAL files read back identical"; else fail "$1: $bad of $n WAL files differ or are missing"; fi
}

# ---------------------------------------------------------------- archive-put
# Against a second repository, from copies of real segments: PostgreSQL's
# own archiver is not disturbed.
for i in 1 2 3; do pg_new_segment; done
src=$LV_TMP/putsrc
as_user mkdir -p "$src/pg_wal"
as_user cp "$LV_TMP"/walcopy/* "$src/pg_wal/"
mapfile -t segs < <(ls "$src/pg_wal")
save_env=("${LV_ENV[@]}")
LV_ENV=("${LV_ENV[@]/TOTALRECALL_DATABASE_ID=db1/TOTALRECALL_DATABASE_ID=puts}")
LV_ENV=("${LV_ENV[@]/TOTALRECALL_STATE_DIR=*/TOTALRECALL_STATE_DIR=$LV_TMP/state-puts}")
fresh_repo() { as_user rm -rf "$LV_REPO/puts" "$LV_TMP/state-puts"; }  # a new repository on a new host
put_point() { # STEP SEGMENT
	local p=$1 seg=$2
	killed_run "$p" archive-put "pg_wal/$seg" || return 0
	if [ -f "$LV_REPO/puts/keyring" ]; then
		verify_ok "archive-put killed at step $p ($seg)"
	else
		tr_run verify
		assert_rc 1 "archive-put killed at step $p, before the keyring existed: verify finds no repository"
	fi
	tr_run archive-put "pg_wal/$seg"
	assert_rc 0 "archive-put of $seg after the kill at step $p"
	tr_run archive-get "$LV_TMP/put.out" "$seg"
	if [ "$RC" = 0 ] && cmp -s "$LV_TMP/put.out" "pg_wal/$seg"; then pass "$seg reads back identical"; else fail "$seg reads back: exit $RC"; fi
	rm -f "$LV_TMP/put.out"
}
cd "$src"
fresh_repo
steps archive-put "pg_wal/${segs[0]}"
create=$STEPS
steps archive-put "pg_wal/${segs[1]}"
put=$STEPS
note "archive-put: $create steps when it creates the repository, $put when it exists"
# Every step of creating the repository, then seeded points of later puts.
for ((p = 0; p < create; p++)); do
	fresh_repo
	put_point "$p" "${segs[0]}"
done
i=1
while [ "$KILLS" -lt "$POINTS" ] && [ "$i" -lt $((POINTS * 4)) ]; do
	seg=${segs[$((i % ${#segs[@]}))]}
	[ "$((i % ${#segs[@]}))" = 0 ] && fresh_repo
	put_point $((RANDOM % put)) "$seg"
	i=$((i + 1))
done
enough_kills archive-put
cd "$LV_TMP"
LV_ENV=("${save_env[@]}")

# ---------------------------------------------------------------- backup
tr_run backup
assert_rc 0 "first backup"
psql_q "create table more as select g, md5(g::text) from generate_series(1, 50000) g" >/dev/null
# A backup's steps depend on what changed since the last one: each normal
# run counts its own steps, and the next point is drawn below that count.
steps backup
total=$STEPS
tries=0
while [ "$KILLS" -lt "$POINTS" ] && [ "$tries" -lt $((POINTS * 3)) ]; do
	tries=$((tries + 1))
	p=$(((RANDOM * 32768 + RANDOM) % (total > 0 ? total : 1)))
	killed_run "$p" backup && verify_ok "backup killed at step $p"
	psql_q "insert into more select g, md5(g::text) from generate_series(1, 500) g" >/dev/null
	steps backup
	total=$STEPS
	if [ "${total:-0}" -gt 0 ]; then pass "backup after the kill at step $p ($total steps)"; fi
done
enough_kills backup
verify_ok "after the backup kills"
check_wal "after the backup kills"

# ---------------------------------------------------------------- restore
ref=$LV_TMP/restore-ref
tr_run restore "$ref"
assert_rc 0 "reference restore"
steps restore "$LV_TMP/restore-count"
total=$STEPS
note "restore: $total steps"
n=0
for p in $(points "$total"); do
	n=$((n + 1))
	killed_run "$p" restore "$LV_TMP/restore-k$n" || continue
	tr_run verify
	assert_rc 0 "restore killed at step $p: verify (incremental)"
	tr_run restore "$LV_TMP/restore-n$n"
	assert_rc 0 "restore after the kill at step $p"
	if diff -r --no-dereference -x postgresql.auto.conf -x totalrecall_spool "$ref" "$LV_TMP/restore-n$n" >/dev/null; then pass "restore $n is identical to the reference"; else fail "restore $n differs from the reference"; fi
	rm -rf "$LV_TMP/restore-k$n" "$LV_TMP/restore-n$n"
done
enough_kills restore

# ---------------------------------------------------------------- expire
# Expire needs something to remove each time: the repository is saved
# once (with chunks aged past expire's one-hour grace) and put back before
# every point.
tr_run backup
assert_rc 0 "one more backup for expire"
pg_new_segment
as_user "$LV_PGBIN/pg_ctl" -D "$LV_PGDATA" -w stop >/dev/null  # nothing writes to the repository from here on
find "$LV_REPO" -type f -exec touch -d '2 hours ago' {} +
as_user cp -a "$LV_REPO" "$LV_TMP/repo.saved"
LV_ENV+=(TOTALRECALL_RETENTION_COUNT=1)
steps expire
total=$STEPS
note "expire: $total steps"
as_user rm -rf "$LV_REPO" && as_user cp -a "$LV_TMP/repo.saved" "$LV_REPO"
for p in $(points "$total"); do
	killed_run "$p" expire || continue
	verify_ok "expire killed at step $p"
	tr_run expire
	assert_rc 0 "expire after the kill at step $p"
	verify_ok "expire completed after the kill at step $p"
	tr_run list
	if [ "$(grep -c '^[0-9]\{8\}-' <<<"$OUT")" = 1 ]; then pass "one backup is left"; else fail "backups left: $OUT"; fi
	as_user rm -rf "$LV_REPO" && as_user cp -a "$LV_TMP/repo.saved" "$LV_REPO"
done
enough_kills expire

finish
