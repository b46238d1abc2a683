#!/usr/bin/env bash
# tests/integration/test_retention.sh - `expire` against a real repository
# (fs driver, PostgreSQL 15) holding backups and WAL of two timelines:
#   a. build: backups on p1 (timeline 1); one restored into q1, promoted,
#      archiving into the same repository on timeline 2; backups on q1; a
#      last backup on p1
#   b. --dry-run: lists exactly what would go, with sizes; removes nothing
#   c. --retention-count: exactly the expected objects go (expired backups'
#      manifest and info, WAL below the oldest kept backup's start segment
#      on any timeline); .history files, the newest backup and the WAL after
#      it stay; unreferenced chunks younger than an hour stay
#   d. --retention-days keeping everything, alone and with a count
#   e. chunks: aged unreferenced chunks go, referenced ones never; a lock
#      under locks/ (a backup in progress) prevents chunk removal, a stale
#      one does not; through a driver that does not tell storage times
#      (mtime 0: tests/unit/drivers/nomtime.c), nothing goes for its age,
#      and a foreign repository lock is never taken over for its age
#   f. every retained backup still restores to its latest point
#   g. a kept backup that starts at a lower segment than an older kept one
#      (the other timeline) keeps its WAL
# Last line: "retention: N passed, M failed".  TR_KEEP=1 keeps the temp dir.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/integration/lib.sh
. "$here/lib.sh"
# shellcheck source=tests/integration/bt_common.sh
. "$here/bt_common.sh"

tr_init retention
PGBIN=$(pg_bin) || tr_die "PostgreSQL 15 not found"
command -v python3 >/dev/null || tr_die "python3 is needed to read list --json"
: "${TR_CMD_TIMEOUT:=180}"
tr_note "server user $TR_SRV_USER, binary $TR_BIN, PostgreSQL $PGBIN, temp $TR_TMP"
repo_setup db-ret
# The keeper and ephemeral tables' chunks are told from pgbench's by their
# stored size (big_chunks): random text stays large, pgbench's compresses
# well, at this chunk size.
TR_ENV+=(TOTALRECALL_CHUNK_SIZE=1MiB)

# segno LSN: the segment number (16 MiB segments) of an LSN.
segno() {
	local hi=${1%%/*} lo=${1##*/}
	echo $((((16#$hi) * 4294967296 + 16#$lo) / 16777216))
}

# expected_wal KEEP_FROM: the WAL objects (relative to the repository) the
# rules remove: not .history, segment number below KEEP_FROM.
expected_wal() {
	(cd "$REPO" && find wal -type f -printf '%P\n' | sort) | python3 -c '
import re, sys
keep = int(sys.argv[1])
for line in sys.stdin:
    p = line.strip()
    name = p.rsplit("/", 1)[-1]
    m = re.match(r"^([0-9A-F]{8})([0-9A-F]{8})([0-9A-F]{8})", name)
    if not m or name.endswith(".history"):
        continue
    if int(m.group(2), 16) * 256 + int(m.group(3), 16) < keep:
        print("wal/" + p)' "$1"
}

# expire_run [ARGS...]: runs expire, output in $TR_LAST_OUT/$TR_LAST_ERR.
expire_run() {
	TR_DESC="expire $*" assert_rc 0 tr_run "$@" expire
}

# listed_objects: the objects a dry run listed, "KEY SIZE", sorted.
listed_objects() {
	sed -n 's/^would remove .* \([^ ]*\) (\([0-9]*\) bytes)$/\1 \2/p' "$TR_LAST_OUT" | sort
}

# big_chunks_of LISTFILE: chunk files in LISTFILE larger than 300 KB: the
# random-text tables' chunks (the rest of the database compresses 10x).
big_chunks() {
	while read -r f; do
		[ "$(stat -c %s "$f")" -gt 300000 ] && printf '%s\n' "${f#"$REPO"/}"
	done
	return 0
}

# ------------------------------------------------------------------ a
section "a. backups and WAL on two timelines"
pg_start_cluster p1 "${ARCHIVE_CONF[@]}" || tr_die "cannot start p1"
pg_cmd p1 pgbench -i -q -s 2 >"$TR_TMP/root/pgbench-i.log" 2>&1 || tr_die "pgbench -i failed"
# keeper: random text that every backup references; ephemeral: random text
# that only backup A2 sees.
psql_q p1 "CREATE TABLE keeper AS SELECT g, md5(random()::text) || md5(random()::text) AS t FROM generate_series(1, 40000) g"
KEEPER=$(psql_q p1 "SELECT count(*), md5(string_agg(t, ',' ORDER BY g)) FROM keeper")
traffic() { pg_cmd "$1" pgbench -n -c 2 -j 2 -t 150 >>"$TR_TMP/root/pgbench.log" 2>&1 || tr_die "pgbench on $1 failed"; }

chunks0=$(chunk_files)
do_backup p1
A1=$LAST_LABEL
KEEPER_CHUNKS=$(comm -13 <(printf '%s\n' "$chunks0") <(chunk_files) | big_chunks)
setup "the keeper table has chunks of its own ($(wc -w <<<"$KEEPER_CHUNKS"))" test -n "$KEEPER_CHUNKS"
traffic p1
psql_q p1 "CREATE TABLE ephemeral AS SELECT g, md5(random()::text) || md5(random()::text) AS t FROM generate_series(1, 40000) g"
chunks1=$(chunk_files)
do_backup p1
A2=$LAST_LABEL
EPHEMERAL_CHUNKS=$(comm -13 <(printf '%s\n' "$chunks1") <(chunk_files) | big_chunks)
setup "the ephemeral table has chunks of its own ($(wc -w <<<"$EPHEMERAL_CHUNKS"))" test -n "$EPHEMERAL_CHUNKS"
psql_q p1 "DROP TABLE ephemeral"
traffic p1
do_backup p1
A3=$LAST_LABEL

# q1: A2 restored, promoted at the end of the backup: timeline 2, archiving
# into the same repository (its postgresql.conf is p1's).
restore_to q1 --backup "$A2" --target immediate --target-action promote
pg_start q1 || tr_die "cannot start q1"
wait_until 120 pg_not_in_recovery q1 || tr_die "q1 did not promote"
pass "q1 (A2 restored, promoted) runs"
setup "q1 is on timeline 2" test "$(psql_q q1 'SELECT timeline_id FROM pg_control_checkpoint()')" = 2
check "q1 archived 00000002.history into the repository" wait_until 60 test -f "$REPO/wal/00000002.history"
# q1 has the ephemeral table too (it is A2): dropped there as well, only A2
# references its chunks.
psql_q q1 "DROP TABLE ephemeral"
traffic q1
do_backup q1
Q1=$LAST_LABEL
traffic q1
do_backup q1
Q2=$LAST_LABEL
traffic p1
do_backup p1
A4=$LAST_LABEL
# Changes after the newest backup of each timeline: "latest" must reach them.
traffic p1
traffic q1
FINAL_P=$(psql_state p1)
FINAL_Q=$(psql_state q1)
seg=$(pg_switch p1)
pg_wait_archived p1 "$seg" 60 || fail "p1: $seg not archived"
seg=$(pg_switch q1)
pg_wait_archived q1 "$seg" 60 || fail "q1: $seg not archived"

list_json >"$TR_TMP/root/all.json"
assert_eq "$A1 $A2 $A3 $Q1 $Q2 $A4" "$(jq_py '[b["label"] for b in j["backups"]]' <"$TR_TMP/root/all.json" | tr '\n' ' ' | sed 's/ $//')" \
	"six backups, ordered by stop time"
assert_eq "1 1 1 2 2 1" "$(jq_py '[b["timeline"] for b in j["backups"]]' <"$TR_TMP/root/all.json" | tr '\n' ' ' | sed 's/ $//')" \
	"timelines of the backups"
check "WAL of both timelines in the archive" test -n "$(find "$REPO/wal" -name '00000001*' | head -n 1)" -a -n "$(find "$REPO/wal" -name '00000002*' -not -name '*.history' | head -n 1)"
declare -A START
for l in $A1 $A2 $A3 $Q1 $Q2 $A4; do
	START[$l]=$(segno "$(jq_py "[b['start_lsn'] for b in j['backups'] if b['label'] == '$l'][0]" <"$TR_TMP/root/all.json")")
done
tr_note "start segments: A1 ${START[$A1]} A2 ${START[$A2]} A3 ${START[$A3]} Q1 ${START[$Q1]} Q2 ${START[$Q2]} A4 ${START[$A4]}"

# ------------------------------------------------------------------ b
# Keep the three newest: Q1, Q2, A4.  Q1 is the oldest kept one; in this
# repository it also starts at the lowest segment of the three.
section "b. --dry-run --retention-count 3"
min_kept=$(printf '%s\n' "${START[$Q1]}" "${START[$Q2]}" "${START[$A4]}" | sort -n | head -n 1)
setup "the oldest kept backup (Q1) starts at the lowest segment of the kept ones" test "${START[$Q1]}" = "$min_kept"
# A backup is its info, its manifest and the copy of the keyring beside it.
backup_objects() { for l in "$@"; do printf 'backups/%s/info\nbackups/%s/keyring\nbackups/%s/manifest\n' "$l" "$l" "$l"; done | sort; }
EXP_BACKUPS=$(backup_objects $A1 $A2 $A3)
EXP_WAL=$(expected_wal "$min_kept")
setup "some WAL is below segment $min_kept (on timeline 1: $(grep -c '^wal/00000001' <<<"$EXP_WAL" || true) files)" test -n "$EXP_WAL"
before=$(repo_listing)
expire_run --dry-run --retention-count 3
assert_eq "$before" "$(repo_listing)" "--dry-run: the repository listing is unchanged"
assert_eq "$(printf '%s\n%s\n' "$EXP_BACKUPS" "$EXP_WAL" | sort)" "$(listed_objects | cut -d' ' -f1)" \
	"--dry-run lists exactly A1-A3's manifest and info and the WAL below segment $min_kept (no chunk: all younger than an hour)"
wrong=$(listed_objects | grep '^wal/' | while read -r k s; do [ "$(stat -c %s "$REPO/$k")" = "$s" ] || echo "$k"; done || true)
assert_eq "" "$wrong" "--dry-run: the WAL sizes listed are the objects' sizes"
wrong=$(listed_objects | grep '^backups/' | while read -r k s; do [ "$(stat -c %s "$REPO/$k")" = "$s" ] || echo "$k:$s"; done | head -n 2 | tr '\n' ' ' || true)
assert_eq "" "$wrong" "--dry-run: the manifest and info sizes listed are the objects' sizes"

# ------------------------------------------------------------------ c
section "c. --retention-count 3"
expire_run --retention-count 3
after=$(repo_listing)
gone=$(comm -23 <(cut -d' ' -f1 <<<"$before") <(cut -d' ' -f1 <<<"$after"))
added=$(comm -13 <(cut -d' ' -f1 <<<"$before") <(cut -d' ' -f1 <<<"$after"))
assert_eq "$(printf '%s\n%s\n' "$EXP_BACKUPS" "$EXP_WAL" | sort)" "$gone" "exactly the expired backups' manifest and info and the WAL below segment $min_kept went"
assert_eq "" "$added" "nothing was added to the repository"
list_json >"$TR_TMP/root/after-c.json"
assert_eq "$Q1 $Q2 $A4" "$(jq_py '[b["label"] for b in j["backups"]]' <"$TR_TMP/root/after-c.json" | tr '\n' ' ' | sed 's/ $//')" \
	"list: Q1 Q2 A4 remain"
assert_eq "" "$(cd "$REPO" && find . -mindepth 1 -type d -empty | sort)" "no empty directory is left behind (fs driver)"
assert_not_contains "$(cat "$TR_LAST_ERR")" "(stopped 1" "stop times are not logged as epoch seconds"
check "stop times are logged in ISO 8601 UTC" grep -qE "expire: backup $A1 \(stopped [0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z" "$TR_LAST_ERR"
check ".history files kept" test -f "$REPO/wal/00000002.history"
newest_wal_before=$(cut -d' ' -f1 <<<"$before" | grep -E '^wal/[0-9A-F]{16}/[0-9A-F]{24}$' | sort -t/ -k3 | tail -n 1)
check "the newest WAL ($newest_wal_before) kept" test -f "$REPO/$newest_wal_before"
check "the newest backup's manifest and info kept" test -f "$REPO/backups/$A4/manifest" -a -f "$REPO/backups/$A4/info"
missing=$(for c in $EPHEMERAL_CHUNKS $KEEPER_CHUNKS; do [ -f "$REPO/$c" ] || echo "$c"; done)
assert_eq "" "$missing" "chunks younger than an hour stay (also the unreferenced ones of the dropped table)"
wal_first=$(jq_py 'j["wal"]["first"]' <"$TR_TMP/root/after-c.json")
check "list: the WAL range starts at or after segment $min_kept ($wal_first)" \
	test "$(((16#${wal_first:8:8}) * 256 + 16#${wal_first:16:8}))" -ge "$min_kept"

# ------------------------------------------------------------------ d
section "d. --retention-days"
before=$(repo_listing)
expire_run --dry-run --retention-days 1
assert_eq "" "$(listed_objects | grep '^backups/' || true)" "--retention-days 1: every backup (all younger than a day) is kept"
expire_run --dry-run --retention-count 1 --retention-days 1
assert_eq "" "$(listed_objects | grep '^backups/' || true)" "--retention-count 1 --retention-days 1: the days rule keeps what the count rule would drop"
expire_run --dry-run --retention-count 1
assert_eq "$(backup_objects $Q1 $Q2)" \
	"$(listed_objects | grep '^backups/' | cut -d' ' -f1 || true)" "--retention-count 1 alone would drop Q1 and Q2"
expire_run --retention-days 1
assert_eq "$before" "$(repo_listing)" "expire --retention-days 1 removed nothing"
expire_run
assert_eq "$before" "$(repo_listing)" "expire with neither rule removed nothing"

# ------------------------------------------------------------------ e
section "e. chunks: grace, lock, removal"
find "$REPO/chunks" -type f -exec touch -d '2 hours ago' {} +
as_pg mkdir -p "$REPO/locks"
printf 'backup 20990101-000000F in progress\n' | as_pg tee "$REPO/locks/20990101-000000F" >/dev/null
before=$(repo_listing)
expire_run --retention-count 3
assert_eq "$before" "$(repo_listing)" "a fresh lock under locks/: nothing removed"
assert_contains "$(cat "$TR_LAST_ERR")" "in progress" "expire says a backup is in progress"
touch -d '2 days ago' "$REPO/locks/20990101-000000F"
# Infos of backups killed before their manifest: one a day old and
# unlocked (goes), one fresh (may be a backup still running: stays).
some_info=$(find "$REPO/backups" -name info | head -n 1)
as_pg mkdir -p "$REPO/backups/20990102-000000F" "$REPO/backups/20990103-000000F"
as_pg cp "$some_info" "$REPO/backups/20990102-000000F/info"
as_pg cp "$some_info" "$REPO/backups/20990103-000000F/info"
touch -d '2 days ago' "$REPO/backups/20990102-000000F/info"
# A backup killed after its keyring copy and before its info leaves the
# copy alone: a day old and unlocked, it goes too.
some_ring=$(find "$REPO/backups" -name keyring | head -n 1)
as_pg mkdir -p "$REPO/backups/20990104-000000F"
as_pg cp "$some_ring" "$REPO/backups/20990104-000000F/keyring"
touch -d '2 days ago' "$REPO/backups/20990104-000000F/keyring"
# The same repository through a driver without storage times: the lock,
# two days old by the file system, is of unknown age, so it stays and
# counts as a running backup; with it set aside, the aged unreferenced
# chunks, the day-old info and the lone keyring copy stay too.
NOMTIME=(TOTALRECALL_DRIVER=nomtime "TOTALRECALL_DRIVER_DIR=$TR_TMP/nomtime")
mkdir -p "$TR_TMP/nomtime"
cp "$top_builddir/tests/unit/drivers/.libs/nomtime.so" "$top_builddir/drivers/fs/.libs/fs.so" "$TR_TMP/nomtime/"
chmod -R a+rX "$TR_TMP/nomtime"
before=$(repo_listing)
TR_DESC="expire without storage times" assert_rc 0 tr_run "${NOMTIME[@]}" --retention-count 3 expire
assert_eq "$before" "$(repo_listing)" "no storage times: nothing removed (the two-day-old lock stays)"
assert_contains "$(cat "$TR_LAST_ERR")" "in progress" "no storage times: a lock of unknown age counts as a running backup"
as_pg mv "$REPO/locks/20990101-000000F" "$TR_TMP/lock-aside"
before=$(repo_listing)
TR_DESC="expire without storage times, no lock" assert_rc 0 tr_run "${NOMTIME[@]}" --retention-count 3 expire
assert_eq "$before" "$(repo_listing)" \
	"no storage times: aged unreferenced chunks, a day-old info and a lone keyring copy all stay"
assert_contains "$(cat "$TR_LAST_ERR")" "objects kept: the storage (driver nomtime) does not tell when they were written" \
	"expire says it kept objects for their unknown age"
as_pg mkdir -p "$REPO/locks" && as_pg mv "$TR_TMP/lock-aside" "$REPO/locks/20990101-000000F"
touch -d '2 days ago' "$REPO/locks/20990101-000000F"
before=$(repo_listing)
expire_run --dry-run --retention-count 3
DRY=$(listed_objects)
assert_eq "$before" "$(repo_listing)" "--dry-run: the repository listing is unchanged"
missing=$(for c in $EPHEMERAL_CHUNKS; do grep -qx "$c [0-9]*" <<<"$DRY" || echo "$c"; done)
assert_eq "" "$missing" "--dry-run lists every chunk of the dropped table (only A2 referenced them)"
listed_keepers=$(for c in $KEEPER_CHUNKS; do grep -q "^$c " <<<"$DRY" && echo "$c"; done || true)
assert_eq "" "$listed_keepers" "--dry-run lists no chunk of the keeper table"
assert_eq "$(printf '%s\n' backups/20990102-000000F/info backups/20990104-000000F/keyring locks/20990101-000000F)" \
	"$(grep -v '^chunks/' <<<"$DRY" | cut -d' ' -f1 | sort || true)" \
	"--dry-run lists, besides chunks, only the stale lock, the day-old info without a manifest and the day-old lone keyring copy"
wrong=$(while read -r k s; do [ -z "$k" ] || [ "$(stat -c %s "$REPO/$k")" = "$s" ] || echo "$k"; done <<<"$DRY")
assert_eq "" "$wrong" "--dry-run: the chunk sizes listed are the objects' sizes"
expire_run --retention-count 3
after=$(repo_listing)
gone=$(comm -23 <(cut -d' ' -f1 <<<"$before") <(cut -d' ' -f1 <<<"$after"))
assert_eq "$(cut -d' ' -f1 <<<"$DRY")" "$gone" "a stale lock (2 days): exactly what the dry run listed went"
missing=$(for c in $KEEPER_CHUNKS; do [ -f "$REPO/$c" ] || echo "$c"; done)
assert_eq "" "$missing" "the keeper table's chunks (referenced) stay"
left=$(for c in $EPHEMERAL_CHUNKS; do [ -f "$REPO/$c" ] && echo "$c"; done || true)
assert_eq "" "$left" "the dropped table's chunks (unreferenced, aged) are gone"
check "the stale lock is gone" test ! -e "$REPO/locks/20990101-000000F"
check "the day-old info without a manifest is gone" test ! -e "$REPO/backups/20990102-000000F/info"
check "the fresh info without a manifest stays" test -f "$REPO/backups/20990103-000000F/info"
check "the day-old keyring copy without info or manifest is gone" test ! -e "$REPO/backups/20990104-000000F"
as_pg rm -rf "$REPO/backups/20990103-000000F" "$REPO/backups/20990102-000000F"
# The repository lock of an expire on another host, two hours old: without
# storage times it is never stale (expire waits lock-timeout and fails,
# naming it); through fs it is taken over.
printf 'expire host elsewhere.example boot - pidns - pid 1 start 1 since 1\n' | repotool put locks/repository
touch -d '2 hours ago' "$REPO/locks/repository"
TR_DESC="expire without storage times, a foreign repository lock" \
	assert_rc 1 tr_run "${NOMTIME[@]}" TOTALRECALL_LOCK_TIMEOUT=2 --retention-count 3 expire
assert_contains "$(cat "$TR_LAST_ERR")" "the repository is locked by expire host elsewhere.example" \
	"no storage times: expire gives up on the foreign lock, naming its holder"
assert_contains "$(cat "$TR_LAST_ERR")" "does not tell its age" "... and says why it is not taken over"
check "no storage times: the repository lock stays" test -f "$REPO/locks/repository"
expire_run --retention-count 3
assert_contains "$(cat "$TR_LAST_ERR")" "taking over the repository lock of expire host elsewhere.example" \
	"through fs, the two-hour-old repository lock is taken over"
check "... and released at the end" test ! -e "$REPO/locks/repository"

# ------------------------------------------------------------------ f
section "f. every retained backup restores to its latest point"
PGCOUNT=$(psql_q p1 "SELECT count(*) FROM pgbench_accounts")
setup "the two timelines differ" test "$FINAL_P" != "$FINAL_Q"
for l in $Q1 $Q2 $A4; do
	n=r$l
	n=${n//-/_}
	restore_to "$n" --backup "$l"
	if start_restored "$n"; then
		check "$l: out of recovery" wait_until 180 pg_not_in_recovery "$n"
		assert_eq "$PGCOUNT" "$(psql_q "$n" 'SELECT count(*) FROM pgbench_accounts' || true)" "$l: pgbench_accounts has $PGCOUNT rows"
		want=$FINAL_Q
		[ "$l" = "$A4" ] && want=$FINAL_P
		# Q1 and Q2 are backups of q1, itself restored with --target immediate:
		# their postgresql.auto.conf still holds that target.
		assert_eq "$want" "$(psql_state "$n" || true)" "$l: pgbench_accounts = its timeline's latest state (the changes after the backup replayed)"
		assert_eq "$KEEPER" "$(psql_q "$n" "SELECT count(*), md5(string_agg(t, ',' ORDER BY g)) FROM keeper" || true)" "$l: the keeper table is intact"
		# Timeline 2 exists in the archive: the promoted cluster takes 3.
		assert_eq 3 "$(psql_q "$n" 'SELECT timeline_id FROM pg_control_checkpoint()' || true)" "$l: promoted to timeline 3"
		if [ "$l" = "$A4" ]; then
			check "$l (timeline 1): restore chose to recover along timeline 1" grep -q 'recovering along timeline 1' "$TR_TMP/root/restore-$n.err"
			check "$l: recovery replayed timeline 1 WAL" grep -q 'restored log file "00000001' "${PG_LOG[$n]}"
		fi
	fi
	drop_cluster "$n"
done
assert_eq "" "$(find "$REPO/wal" -name '00000003.history')" "no restored cluster archived into the repository"

# ------------------------------------------------------------------ g
# q1 now writes more WAL than p1 has: its next backup (Q3) starts at a
# higher segment than p1's next one (A5), which stops later.  Keeping the
# two newest, A5's WAL must stay although Q3 is the older of the two.
section "g. kept backups on two timelines, the older one starting higher"
psql_q q1 "CREATE TABLE pad (i int)"
cur_p1=$(segno "$(psql_q p1 'SELECT pg_current_wal_lsn()')")
n=$((cur_p1 - $(segno "$(psql_q q1 'SELECT pg_current_wal_lsn()')") + 3))
if [ "$n" -gt 0 ]; then
	psql_q q1 "DO \$\$ BEGIN FOR i IN 1..$n LOOP INSERT INTO pad VALUES (i); PERFORM pg_switch_wal(); END LOOP; END \$\$"
fi
do_backup q1
Q3=$LAST_LABEL
traffic p1
do_backup p1
A5=$LAST_LABEL
list_json >"$TR_TMP/root/g.json"
sq3=$(segno "$(jq_py "[b['start_lsn'] for b in j['backups'] if b['label'] == '$Q3'][0]" <"$TR_TMP/root/g.json")")
sa5=$(segno "$(jq_py "[b['start_lsn'] for b in j['backups'] if b['label'] == '$A5'][0]" <"$TR_TMP/root/g.json")")
tr_note "Q3 (timeline 2) starts at segment $sq3, A5 (timeline 1, newer) at $sa5"
setup "A5 is newer than Q3 and starts at a lower segment" test "$sa5" -lt "$sq3"
expire_run --retention-count 2
a5seg=$(printf '00000001%08X%08X' $((sa5 / 256)) $((sa5 % 256)))
check "A5's first WAL segment $a5seg is still in the archive" test -f "$REPO/wal/${a5seg:0:16}/$a5seg"
restore_to rA5 --backup "$A5"
if [ "$TR_LAST_RC" = 0 ]; then
	pg_conf rA5 "archive_mode = off"
	if pg_start rA5 2>/dev/null && wait_until 120 pg_not_in_recovery rA5; then
		pass "A5 restores to its latest point after expire --retention-count 2"
	else
		fail "A5 restores to its latest point after expire --retention-count 2"
	fi
fi
drop_cluster rA5

tr_note "total: ${SECONDS}s"
finish
