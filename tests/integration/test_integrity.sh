#!/usr/bin/env bash
# tests/integration/test_integrity.sh - backups and retention that cannot
# destroy data (issue 14), against PostgreSQL 15 on the fs driver:
#   a. set-up: a cluster archiving into an fs repository, one backup
#   b. a chunk job that fails (test hook): the backup fails promptly,
#      naming it, never hangs, writes no manifest; the next one succeeds
#   c. a server started with a relative pg_ctl -D: metrics go to the
#      data directory's spool, not to a stray directory inside it
#   d. check on an idle server whose archive_command fails: check fails
#   e. a chunk damaged and one deleted: verify records them, the next
#      backup stores them again (and one deleted behind verify's back),
#      verify passes and the backup restores
#   f. expire with the newest manifest damaged keeps the older intact
#      backup and its WAL, removes no chunk; with no restorable backup,
#      expire fails and removes nothing
#   g. expire racing a backup, both orders (pause hooks): a chunk the
#      running backup shares is never removed; a backup waits for the
#      repository lock expire holds, then stores what expire removed
#   h. a damaged info: list, backup, restore --backup of another backup
#      and expire go on, naming it; with its manifest damaged too, it is
#      left out and expired once older than every kept backup
# Races are made deterministic with the pause test hook (src/base/testhook.h),
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
# The fixtures are sized in chunks of 1 MiB, and new_chunks tells their
# random data from the database's by stored size at that chunk size.
TR_ENV+=(TOTALRECALL_CHUNK_SIZE=1MiB)

# no_sanitizer_report DESC: the last command's stderr holds no report of
# AddressSanitizer, LeakSanitizer or UBSan (tests/sanitize.sh builds; a
# leak there exits 1 like the failures these commands are expected to end
# in, so the status alone cannot tell).  A pass is counted only in a
# sanitized build (tests/sanitize.sh sets ASAN_OPTIONS): elsewhere the
# check cannot fail.
no_sanitizer_report() {
	if grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$TR_LAST_ERR"; then
		fail "$1: sanitizer report: $(grep -E -A6 'Sanitizer|runtime error' "$TR_LAST_ERR" | head -8 | tr '\n' '|')"
	elif [ -n "${ASAN_OPTIONS:-}" ]; then
		pass "$1: no sanitizer report"
	fi
}

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
	no_sanitizer_report "failed backup (chunk $n, parallel $par)"
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

# ------------------------------------------------------------------ helpers
as_pg mkdir -p "$TR_TMP/hooks"

# fixture NAME KIB: a file of random bytes in p1's data directory.
fixture() { as_pg dd if=/dev/urandom of="$D/$1" bs=1K count="$2" status=none; }

# new_chunks BEFORE: chunk objects that are not in the sorted list BEFORE
# and are larger than 300 KB (random data; the database compresses 10x).
new_chunks() {
	comm -13 <(printf '%s\n' "$1") <(chunk_files) | while read -r f; do
		[ "$(stat -c %s "$f")" -gt 300000 ] && printf '%s\n' "$f"
	done
	return 0
}

# verify_run [ARGS]: verify, output in $TR_LAST_OUT; its status in $TR_LAST_RC.
verify_run() {
	TR_LAST_RC=0
	tr_run verify "$@" >"$TR_LAST_OUT" 2>"$TR_LAST_ERR" || TR_LAST_RC=$?
}

# bg NAME ARGS...: totalrecall on p1 in the background; stderr in
# $TR_TMP/root/NAME.err, status in $TR_TMP/root/NAME.rc when it ends.
bg() {
	local name=$1
	shift
	(rc=0; tr_on p1 "$@" >"$TR_TMP/root/$name.out" 2>"$TR_TMP/root/$name.err" || rc=$?
	 echo "$rc" >"$TR_TMP/root/$name.rc") &
}
bg_rc() { cat "$TR_TMP/root/$1.rc" 2>/dev/null; }
bg_done() { [ -s "$TR_TMP/root/$1.rc" ]; }
reached() { [ -e "$TR_TMP/hooks/$1.reached" ]; }
release() { touch "$TR_TMP/hooks/$1.go"; }

# ------------------------------------------------------------------ e
# A chunk damaged (one byte flipped) and one deleted; verify records the
# damage in its state; the next backup stores both again (it would
# otherwise share them: same data as the previous backup).  A third chunk
# deleted without verify knowing is found by the backup's listing.
section "e. damaged and deleted chunks are stored again by the next backup"
before=$(chunk_files)
fixture aaa_fixture 3072
do_backup p1
E1=$LAST_LABEL
mapfile -t FIX < <(new_chunks "$before")
assert_eq 3 "${#FIX[@]}" "the fixture's three chunks were stored by $E1"
flip_byte "${FIX[0]}" 200
as_pg rm -f "${FIX[1]}"
verify_run
assert_eq 1 "$TR_LAST_RC" "verify fails with a damaged and a missing chunk"
assert_contains "$(cat "$TR_LAST_OUT")" "damaged chunk $(basename "${FIX[0]}") of backup $E1" "verify names the damaged chunk"
assert_contains "$(cat "$TR_LAST_OUT")" "missing chunk $(basename "${FIX[1]}") of backup $E1" "verify names the missing chunk"
# A restore that meets the damaged or missing chunk fails, naming it; the chunks
# queued behind it are skipped and freed (pool.h; leak-checked under
# tests/sanitize.sh).
pg_register rE1 "$TR_TMP/pg-rE1/data"
TR_DESC="restore of $E1 with a chunk missing" assert_rc 1 tr_run --backup "$E1" restore "${PG_DATA[rE1]}"
assert_contains "$(cat "$TR_LAST_ERR")" "(chunk of aaa_fixture)" "restore names the broken chunk and its file"
no_sanitizer_report "failed restore"
check "the failed restore left nothing behind" test ! -e "${PG_DATA[rE1]}/PG_VERSION"
ino0=$(stat -c %i "${FIX[0]}")
do_backup p1
E2=$LAST_LABEL
assert_contains "$(cat "$TR_LAST_ERR")" "stored again 2 chunks" "$E2 stored the two chunks again"
check "the missing chunk is back" test -f "${FIX[1]}"
assert_ne "$ino0" "$(stat -c %i "${FIX[0]}")" "the damaged chunk was replaced by a new file (written, then renamed over)"
verify_run
assert_eq 0 "$TR_LAST_RC" "verify passes: $E2, and $E1 too, are restorable again ($(head -c 300 "$TR_LAST_OUT" | tr '\n' '|'))"
as_pg rm -f "${FIX[2]}"
do_backup p1
E3=$LAST_LABEL
assert_contains "$(cat "$TR_LAST_ERR")" "1 chunk of $E2 missing from storage" "$E3 found the chunk deleted behind verify's back"
check "the third chunk is back" test -f "${FIX[2]}"
verify_run
assert_eq 0 "$TR_LAST_RC" "verify passes after $E3"
FIXSUM=$(sha256_of "$D/aaa_fixture")
STATE=$(psql_state p1)
restore_to rE3 --backup "$E3"
check "the restored fixture is byte-identical" test "$(sha256_of "${PG_DATA[rE3]}/aaa_fixture")" = "$FIXSUM"
if start_restored rE3; then
	wait_until 120 pg_not_in_recovery rE3 || true
	assert_eq "$STATE" "$(psql_state rE3 || true)" "$E3 restores pgbench_accounts"
fi
drop_cluster rE3

# ------------------------------------------------------------------ f
# expire --retention-count 1 with the newest manifest damaged: the intact
# older backup (and its WAL) is the one that counts, and stays.
section "f. expire with the newest manifest damaged"
do_backup p1
F1=$LAST_LABEL
psql_q p1 "UPDATE pgbench_accounts SET abalance = abalance + 1 WHERE aid <= 1000"
do_backup p1
F2=$LAST_LABEL
F1START=$(backup_field "$F1" start_lsn)
flip_byte "$REPO/backups/$F2/manifest" 100
expire_ok() { TR_DESC="expire $*" assert_rc 0 tr_run "$@" expire; }
expire_ok --retention-count 1
assert_contains "$(cat "$TR_LAST_ERR")" "backup $F2 is not restorable" "expire names the damaged backup"
assert_contains "$(cat "$TR_LAST_ERR")" "no chunk is removed" "expire removes no chunk while a kept manifest cannot be read"
check "$F1 (intact, older) is kept" test -f "$REPO/backups/$F1/manifest" -a -f "$REPO/backups/$F1/info"
check "$F2 (damaged) is kept" test -f "$REPO/backups/$F2/manifest"
check "$E3 (older than the restorable one kept) is gone" test ! -e "$REPO/backups/$E3"
hi=${F1START%%/*} lo=${F1START##*/}
f1seg=$(printf '00000001%08X%08X' $((16#$hi)) $(((16#$lo) / 16777216)))
check "the WAL from $F1's start ($f1seg) is kept" test -f "$REPO/wal/${f1seg:0:16}/$f1seg"
restore_to rF1 --backup "$F1"
if start_restored rF1; then
	check "$F1 restores and recovers" wait_until 120 pg_not_in_recovery rF1
fi
drop_cluster rF1
do_backup p1
F3=$LAST_LABEL
expire_ok --retention-count 1
check "once $F3 is newer, the damaged $F2 expires" test ! -e "$REPO/backups/$F2"
check "... and $F1 too" test ! -e "$REPO/backups/$F1"
check "$F3 stays" test -f "$REPO/backups/$F3/manifest"
flip_byte "$REPO/backups/$F3/manifest" 100
before=$(repo_listing)
TR_DESC="expire when no backup is restorable" assert_rc 1 tr_run --retention-count 1 expire
assert_contains "$(cat "$TR_LAST_ERR")" "no backup in the repository is restorable" "expire says why"
assert_eq "$before" "$(repo_listing)" "... and removes nothing"
flip_byte "$REPO/backups/$F3/manifest" 100

# ------------------------------------------------------------------ g
# A chunk that only an expired backup references, old enough for expire
# to remove, which a new backup finds again (the file went back to an
# earlier content): expire and the backup race for it.  Pause hooks fix
# the order; without the repository lock, the backup would share a chunk
# expire removes next.
section "g. expire racing a backup"
# race_setup TAG: backups TAG1 (content 1) and TAG2 (content 2) of a
# fixture, then content 1 again; every chunk aged two hours.  Sets OLD
# (the content-1 chunk, referenced only by TAG1) and FIRST (TAG1).
race_setup() {
	local before
	before=$(chunk_files)
	fixture zz_race 1024
	as_pg cp "$D/zz_race" "$TR_TMP/race-$1"
	do_backup p1
	FIRST=$LAST_LABEL
	OLD=$(new_chunks "$before")
	fixture zz_race 1024
	do_backup p1
	as_pg cp "$TR_TMP/race-$1" "$D/zz_race"
	find "$REPO/chunks" -type f -exec touch -d '2 hours ago' {} +
}

# g1. the backup first: paused with all its chunks stored (the old one
# found present), expire runs meanwhile.
race_setup g1
setup "g1: one chunk of the first content ($(basename "$OLD"))" test -n "$OLD" -a -f "$OLD"
bg g1backup TOTALRECALL_TEST_PAUSE="backup-before-manifest:$TR_TMP/hooks/g1" backup
wait_until 120 reached g1 || fail "g1: the backup did not reach its pause point"
TR_DESC="g1: expire while a backup runs" assert_rc 0 tr_run --retention-count 1 expire
assert_contains "$(cat "$TR_LAST_ERR")" "a backup is in progress" "g1: expire sees the running backup"
check "g1: expire removed $FIRST" test ! -e "$REPO/backups/$FIRST"
check "g1: ... but not the chunk the running backup shares" test -f "$OLD"
release g1
wait_until 120 bg_done g1backup || fail "g1: the backup did not finish"
assert_eq 0 "$(bg_rc g1backup)" "g1: the backup completes"
verify_run
assert_eq 0 "$TR_LAST_RC" "g1: verify passes (every chunk of the new backup exists)"

# g2. expire first: paused before removing chunks, holding the lock; a
# backup started meanwhile waits for it, then stores the chunk anew.
race_setup g2
setup "g2: one chunk of the first content" test -n "$OLD" -a -f "$OLD"
bg g2expire TOTALRECALL_TEST_PAUSE="expire-chunks:$TR_TMP/hooks/g2" --retention-count 1 expire
wait_until 120 reached g2 || fail "g2: expire did not reach its pause point"
bg g2backup backup
waiting() { grep -q "waiting for the repository lock held by expire" "$TR_TMP/root/g2backup.err"; }
check "g2: the backup waits for the repository lock expire holds" wait_until 60 waiting
assert_eq "repository" "$(ls "$REPO/locks" 2>/dev/null | tr '\n' ' ' | sed 's/ $//')" \
	"g2: the waiting backup has not registered (only the repository lock in locks/)"
release g2
wait_until 120 bg_done g2expire || fail "g2: expire did not finish"
assert_eq 0 "$(bg_rc g2expire)" "g2: expire completes"
wait_until 120 bg_done g2backup || fail "g2: the backup did not finish"
assert_eq 0 "$(bg_rc g2backup)" "g2: the backup completes after expire"
check "g2: the chunk expire removed was stored again by the backup" test -f "$OLD"
verify_run
assert_eq 0 "$TR_LAST_RC" "g2: verify passes"
check "g2: the repository lock is released" test ! -e "$REPO/locks/repository"

# ------------------------------------------------------------------ h
# A damaged info blocks only its own backup.
section "h. a damaged info"
do_backup p1
H1=$LAST_LABEL
do_backup p1
H2=$LAST_LABEL
flip_byte "$REPO/backups/$H1/info" 60
TR_DESC="list with a damaged info" assert_rc 0 tr_run list
assert_contains "$(cat "$TR_LAST_OUT")" "damaged backup $H1: info damaged" "list names the damaged info"
check "list still lists $H1 (from its manifest) and $H2" \
	grep -q "^$H1 " "$TR_LAST_OUT" -a -n "$(grep "^$H2 " "$TR_LAST_OUT")"
assert_contains "$(cat "$TR_LAST_ERR")" "backup $H1: info damaged" "list warns, naming the object"
list_json >"$TR_TMP/root/h.json"
assert_eq "$H1 True" "$(jq_py '[d["label"] + " " + str(d["listed"]) for d in j["damaged"]]' <"$TR_TMP/root/h.json")" \
	"list --json: damaged names $H1, listed from its manifest"
do_backup p1
H3=$LAST_LABEL
assert_contains "$(cat "$TR_LAST_ERR")" "backup $H1: info damaged" "backup goes on, naming the damaged info"
restore_to rH2 --backup "$H2"
check "restore --backup $H2 goes on" test -f "${PG_DATA[rH2]}/backup_label"
drop_cluster rH2
t=$(stat -c %Y "$REPO/backups/$H1/manifest")
flip_byte "$REPO/backups/$H1/manifest" 100
touch -d "@$t" "$REPO/backups/$H1/manifest"  # bit rot leaves the storage time alone
TR_DESC="list with $H1's info and manifest damaged" assert_rc 0 tr_run list
assert_contains "$(cat "$TR_LAST_OUT")" "damaged backup $H1: info damaged" "list names $H1 ..."
assert_contains "$(cat "$TR_LAST_OUT")" "(not restorable)" "... as not restorable"
check "list still lists $H2 and $H3" grep -q "^$H2 " "$TR_LAST_OUT"
pg_register rH1 "$TR_TMP/pg-rH1/data"
TR_DESC="restore --backup $H1 (unreadable)" assert_rc 1 tr_run --backup "$H1" restore "${PG_DATA[rH1]}"
assert_contains "$(cat "$TR_LAST_ERR")" "$H1" "restore names the backup it cannot use"
restore_to rH3 --backup "$H3"
drop_cluster rH3
TR_DESC="expire --retention-count 2 with an unreadable backup" assert_rc 0 tr_run --retention-count 2 expire
assert_contains "$(cat "$TR_LAST_ERR")" "$H1" "expire goes on, naming it"
check "the unreadable $H1, older than every kept backup, is removed" test ! -e "$REPO/backups/$H1"
check "$H2 and $H3 stay" test -f "$REPO/backups/$H2/manifest" -a -f "$REPO/backups/$H3/manifest"

tr_note "total: ${SECONDS}s"
finish
