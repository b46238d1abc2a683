#!/usr/bin/env bash
# tests/integration/test_pagecheck.sh - backups verify data page checksums
# (fs driver, PostgreSQL 15 with data checksums):
#   a. a backup of a healthy cluster verifies its pages and finds none
#      damaged (list --json: page_checksums "verified", damaged_pages 0)
#   b. bytes flipped in a table's page with the server stopped: the next
#      backup, taken while pgbench writes, completes and reports exactly
#      that file and block in its log line, a warning, list --json, the
#      list table and a "page-checksum" metrics record
#   c. the same cluster with checksums turned off: nothing is verified
#      (page_checksums "off")
# Last line: "pagecheck: N passed, M failed".  TR_KEEP=1 keeps the temp dir.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/integration/lib.sh
. "$here/lib.sh"
# shellcheck source=tests/integration/bt_common.sh
. "$here/bt_common.sh"

tr_init pagecheck
PGBIN=$(pg_bin) || tr_die "PostgreSQL 15 not found"
command -v python3 >/dev/null || tr_die "python3 is needed to read list --json"
tr_note "server user $TR_SRV_USER, binary $TR_BIN, PostgreSQL $PGBIN, temp $TR_TMP"
repo_setup db-pages
SPOOL=$(pg_scratch spool)

# ------------------------------------------------------------------ a
section "a. a healthy cluster"
pg_start_cluster p1 "${ARCHIVE_CONF[@]}" || tr_die "cannot start p1"
setup "p1 has data checksums" test "$(psql_q p1 'SHOW data_checksums')" = on
pg_cmd p1 pgbench -i -q -s 1 >"$TR_TMP/root/pgbench-i.log" 2>&1 || tr_die "pgbench -i failed"
psql_q p1 "CREATE TABLE victim AS SELECT g AS i, repeat('v', 300) AS s FROM generate_series(1, 200) g"
psql_q p1 "CHECKPOINT"
VICTIM=$(psql_q p1 "SELECT pg_relation_filepath('victim')")
setup "victim has at least 4 blocks" test "$(psql_q p1 "SELECT pg_relation_size('victim') / 8192")" -ge 4
do_backup p1
B1=$LAST_LABEL
assert_contains "$(cat "$TR_LAST_ERR")" "page checksums verified" "the log line says the pages were verified"
assert_eq verified "$(backup_field "$B1" page_checksums)" "list --json: page_checksums verified"
assert_eq 0 "$(backup_field "$B1" damaged_pages)" "list --json: no damaged page"

# ------------------------------------------------------------------ b
section "b. a damaged page, found by the next backup"
pg_stop_cluster p1
flip_byte "${PG_DATA[p1]}/$VICTIM" $((2 * 8192 + 5000))
flip_byte "${PG_DATA[p1]}/$VICTIM" $((2 * 8192 + 5001))
pg_start p1 || tr_die "cannot restart p1"
# Writes while the backup reads: pages torn or newer than its start are
# never reported.
pg_cmd p1 pgbench -n -c 2 -j 2 -T 4 >"$TR_TMP/root/pgbench.log" 2>&1 &
load=$!
do_backup p1 "TOTALRECALL_SPOOL_DIR=$SPOOL"
B2=$LAST_LABEL
wait "$load" || fail "pgbench during the backup failed"
log=$(cat "$TR_TMP/root/backup-$LAST_BACKUP_END.err")
assert_contains "$log" "complete" "the backup completes"
assert_contains "$log" "1 page with a bad checksum: $VICTIM block 2" "its log line names the file and block"
assert_contains "$log" "WARNING" "and a warning does"
assert_eq 1 "$(backup_field "$B2" damaged_pages)" "list --json: exactly one damaged page"
assert_eq "$VICTIM 2" "$(list_json | jq_py "' '.join('%s %d' % (d['file'], d['block']) for b in j['backups'] if b['label'] == '$B2' for d in b['damaged_page_list'])")" \
	"list --json: its file and block"
TR_DESC="list" assert_rc 0 tr_run list
assert_contains "$(cat "$TR_LAST_OUT")" "DAMAGED PAGES in $B2: 1 page with a bad checksum: $VICTIM 2" "the list table says it too"
check "a page-checksum metrics record names the backup, the file and the block" \
	grep -qP "\tpage-checksum\t$B2\t.*\twarning\t1 page with a bad checksum: ${VICTIM//\//\\/} block 2" "$SPOOL/metrics.spool"
check "the backup's own record says ok" grep -qP "\tbackup\t$B2\t.*\tok\t" "$SPOOL/metrics.spool"

# ------------------------------------------------------------------ c
section "c. checksums turned off"
pg_stop_cluster p1
as_pg "$PGBIN/pg_checksums" -D "${PG_DATA[p1]}" --disable >/dev/null || tr_die "pg_checksums --disable"
pg_start p1 || tr_die "cannot restart p1"
do_backup p1
assert_eq off "$(backup_field "$LAST_LABEL" page_checksums)" "list --json: page_checksums off"
assert_eq 0 "$(backup_field "$LAST_LABEL" damaged_pages)" "nothing verified, nothing reported"

tr_note "total: ${SECONDS}s"
finish
