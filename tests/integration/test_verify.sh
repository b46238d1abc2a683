#!/usr/bin/env bash
# test_verify.sh - `totalrecall verify` against a real PostgreSQL 15
# archiving to the fs driver: a clean repository passes (exit 0); a flipped
# byte in a chunk, a deleted chunk and a WAL gap inside a backup fail naming
# what is broken (exit 1); a WAL gap after the newest backup means the
# latest state is not reachable (exit 2, naming the last reachable
# segment); incremental runs decode only new objects, --full decodes all;
# through a driver that does not tell storage times (mtime 0), every run
# decodes everything.
set -euo pipefail
. "$(dirname "$0")/lib_verify.sh"
lv_init verify
lv_start_pg

# Objects verify decodes (not the keyring, manifests or fs temporaries).
count_objects() {
	find "$LV_REPO/db1/wal" "$LV_REPO/db1/chunks" "$LV_REPO/db1/backups" -type f \
		\( -path '*/wal/*' -o -path '*/chunks/*' -o -name info \) ! -name '.tr-tmp-*' | wc -l
}
decoded() { sed -n 's/.*verify: decoded \([0-9]*\) objects.*/\1/p' <<<"$OUT"; }

pg_new_segment
tr_run backup
assert_rc 0 "backup"
tr_run list --json
read -r LABEL START STOP < <(python3 -c '
import json,sys
b=json.loads(sys.stdin.read())["backups"][0]
def seg(lsn, tli):
    hi, lo = (int(x, 16) for x in lsn.split("/"))
    n = (hi << 32 | lo)
    return n
s = seg(b["start_lsn"], 1) // (16 << 20); e = (seg(b["stop_lsn"], 1) - 1) // (16 << 20)
name = lambda n: "%08X%08X%08X" % (b["timeline"], n // 256, n % 256)
print(b["label"], name(s), name(e))' <<<"$OUT")
note "backup $LABEL, WAL $START..$STOP"

# 1. a clean repository
tr_run verify
assert_rc 0 "verify of a clean repository"
assert_contains "$OUT" "0 not restorable" "summary says every backup is restorable"
assert_eq_num() { if [ "$1" = "$2" ]; then pass "$3 ($1)"; else fail "$3: expected $1, got $2"; fi; }
assert_eq_num "$(count_objects)" "$(decoded)" "first run decodes every object"

# 2. incremental: only the objects archived since
before=$(count_objects)
pg_new_segment
pg_new_segment
after=$(count_objects)
tr_run verify
assert_rc 0 "incremental verify"
assert_eq_num $((after - before)) "$(decoded)" "incremental run decodes only the new objects"
tr_run verify
assert_eq_num 0 "$(decoded)" "a run with nothing new decodes nothing"
tr_run verify --full
assert_rc 0 "verify --full"
assert_eq_num "$after" "$(decoded)" "--full decodes every object"

# 2b. a storage that does not tell when objects were written (mtime 0,
# driver.h): the same repository through tests/unit/drivers/nomtime.c (fs
# with every mtime 0).  Nothing is known unchanged: every run decodes all.
cp "$top_builddir/tests/unit/drivers/.libs/nomtime.so" "$LV_TMP/drivers/" && chmod a+r "$LV_TMP/drivers/nomtime.so"
LV_EXTRA="TOTALRECALL_DRIVER=nomtime" tr_run verify
assert_rc 0 "verify through a driver without storage times"
assert_eq_num "$(count_objects)" "$(decoded)" "without storage times: the first run decodes every object"
LV_EXTRA="TOTALRECALL_DRIVER=nomtime" tr_run verify
assert_eq_num "$(count_objects)" "$(decoded)" "without storage times: the next run decodes every object again"

tr_run verify --backup "$LABEL"
assert_rc 0 "verify --backup $LABEL"
tr_run verify --backup nosuchbackup
assert_rc 1 "verify --backup of an unknown label"
assert_contains "$ERR" "no backup labelled nosuchbackup" "unknown label is named"

# 3. one flipped byte in a chunk
chunk=$(find "$LV_REPO/db1/chunks" -type f -name 'c*' -size +100c -print -quit)
cid=$(basename "$chunk")
flip_byte "$chunk"
tr_run verify
assert_rc 1 "verify with a damaged chunk"
assert_contains "$OUT" "damaged chunk $cid of backup $LABEL file" "the damaged chunk, its backup and file are named"
assert_contains "$OUT" "authentication failed" "the decoder's reason is given"
flip_byte "$chunk"
tr_run verify
assert_rc 0 "verify after the chunk is repaired (damaged keys are decoded again)"

# 4. a missing chunk
mv "$chunk" "$LV_TMP/chunk.saved"
tr_run verify
assert_rc 1 "verify with a missing chunk"
assert_contains "$OUT" "missing chunk $cid of backup $LABEL file" "the missing chunk, its backup and file are named"
mv "$LV_TMP/chunk.saved" "$chunk"

# 5. WAL missing between start and stop
mv "$(seg_path "$START")" "$LV_TMP/wal.saved"
tr_run verify
assert_rc 1 "verify with WAL missing inside the backup"
assert_contains "$OUT" "missing WAL $START..$START: backup $LABEL is not restorable" "the missing range is named"
mv "$LV_TMP/wal.saved" "$(seg_path "$START")"

# 6. WAL missing after the stop of the newest backup: every backup is
# restorable, but the latest state is not (exit 2)
pg_new_segment
s1=$SEG
pg_new_segment
s2=$SEG
pg_new_segment
mv "$(seg_path "$s2")" "$LV_TMP/wal2.saved"
tr_run verify
assert_rc 2 "verify with WAL missing after the newest backup's stop"
assert_contains "$OUT" "missing WAL $s2..$s2: after the stop of backup $LABEL" "the gap after the stop is reported"
assert_contains "$OUT" "latest state not reachable: WAL from $s2 is missing after the newest backup $LABEL; a restore to the latest state stops at $s1" \
	"the last reachable segment is named"
assert_contains "$OUT" "0 not restorable" "... and every backup is still restorable"
assert_contains "$ERR" "the latest state is not reachable" "one error line says so (it goes to the metrics)"
mv "$LV_TMP/wal2.saved" "$(seg_path "$s2")"
tr_run verify
assert_rc 0 "verify once the gap is filled: the latest state is reachable again"
note "segments $s1 $s2"

# 7. a damaged WAL file after the stop, a damaged unreferenced chunk, and
# the chunks of a backup whose manifest is gone (never listed: unreferenced)
flip_byte "$(seg_path "$s2")" 100
orphan=$LV_REPO/db1/chunks/${cid:1:2}/c${cid:1:2}$(printf '%062d' 0)
as_user cp "$chunk" "$orphan"
psql_q "create table big as select g, md5(g::text) from generate_series(1,20000) g" >/dev/null
tr_run backup
assert_rc 0 "second backup"
tr_run list
label2=$(awk 'NR > 2 && $1 != "'"$LABEL"'" && $1 ~ /^[0-9]/ { print $1 }' <<<"$OUT" | tail -1)
rm -f "$LV_REPO/db1/backups/$label2/manifest"
# --full: the previous run recorded $s2 as verified, and the flip may fall
# within the same second as its storage time, which an incremental run
# compares (objects never change in place; this test's damage does).
tr_run verify --full
assert_rc 2 "damaged WAL after the stop: the latest state is not reachable (exit 2); unreferenced chunks change nothing"
assert_contains "$OUT" "damaged WAL file $s2" "damaged WAL is named"
assert_contains "$OUT" "a restore to the latest state stops at $s1" "the last reachable segment is the one before it"
assert_contains "$OUT" "damaged chunk $(basename "$orphan"), referenced by no backup" "a damaged orphan chunk is named"
assert_contains "$OUT" "unreferenced chunk" "chunks of the unlisted backup are reported as unreferenced"
flip_byte "$(seg_path "$s2")" 100
tr_run verify
assert_rc 0 "verify once the WAL file is repaired"

# 8. timelines: restore the backup, let it recover to the end of the
# archive and promote (timeline 2); verify follows the backup onto the new
# timeline and reports a gap there, not on the abandoned timeline 1.
as_user "$LV_PGBIN/pg_ctl" -D "$LV_PGDATA" -w stop >/dev/null
tr_run restore "$LV_TMP/pg2"
assert_rc 0 "restore for a new timeline"
LV_PGDATA=$LV_TMP/pg2
as_user "$LV_PGBIN/pg_ctl" -D "$LV_PGDATA" -l "$LV_TMP/server2.log" -w -t 120 start >/dev/null ||
	die "restored server did not start: $(tail -5 "$LV_TMP/server2.log")"
promoted() { [ "$(psql_q "select pg_is_in_recovery()" 2>/dev/null)" = f ]; }
wait_until 120 promoted || die "restored server did not finish recovery: $(tail -5 "$LV_TMP/server2.log")"
wait_until 60 test -f "$LV_REPO/db1/wal/00000002.history" || die "00000002.history was not archived"
pg_new_segment
t2a=$SEG
pg_new_segment
t2b=$SEG
pg_new_segment
note "timeline 2 segments $t2a $t2b $SEG"
tr_run verify
assert_rc 0 "verify after the switch to timeline 2"
assert_not_contains "$OUT" "missing WAL" "the WAL is continuous along timeline 1 then 2"
mv "$(seg_path "$t2b")" "$LV_TMP/wal3.saved"
tr_run verify
assert_rc 2 "verify with a gap on timeline 2 after the backup's stop (exit 2)"
assert_contains "$OUT" "missing WAL $t2b..$t2b: after the stop of backup $LABEL" "the gap on timeline 2 is named"
assert_contains "$OUT" "a restore to the latest state stops at $t2a" "the last reachable segment is on timeline 2"
assert_not_contains "$OUT" "missing WAL 00000001" "nothing is expected on timeline 1 after the switch"
mv "$LV_TMP/wal3.saved" "$(seg_path "$t2b")"

finish
