#!/usr/bin/env bash
# tests/integration/demo.sh - the quick-start demo (tests/quickstart.sh runs
# it after building): a throwaway PostgreSQL 15 whose archive_command is
# `totalrecall archive-put %p` on the fs driver, some WAL from pgbench, a
# segment read back with `totalrecall archive-get` and compared, a base
# backup with `totalrecall backup`, more traffic, `totalrecall restore`
# into a new data directory, the restored server started (it replays the
# archived WAL through archive-get) and its data compared, a short summary.  Everything it creates lives in one temp dir, removed at the end
# (TR_KEEP=1 keeps it, to look at the repository).  Exit 0 on success.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/integration/lib.sh
. "$here/lib.sh"

demo_fail() {
	printf 'demo: FAILED: %s\n' "$*"
	if [ -n "${PG_LOG[demo]:-}" ] && [ -f "${PG_LOG[demo]}" ]; then
		echo "--- last lines of the server log"
		tail -n 20 "${PG_LOG[demo]}"
	fi
	echo "demo: 0 passed, 1 failed"
	exit 1
}

tr_init demo
PGBIN=$(pg_bin) || demo_fail "PostgreSQL 15 not found (tests/install-deps.sh build installs it)"
start=$SECONDS

BUCKET=$(pg_scratch bucket)
DBID=quickstart-demo
tr_write_keyfile "$(head -c 24 /dev/urandom | base64)"
tr_env_set TOTALRECALL_DRIVER=fs "TOTALRECALL_BUCKET=$BUCKET" \
	"TOTALRECALL_DATABASE_ID=$DBID" "TOTALRECALL_ENCRYPTION_KEY=file:$KEYFILE" \
	"TOTALRECALL_STATE_DIR=$TR_TMP/state"

echo "demo: starting PostgreSQL ($PGBIN) as $TR_SRV_USER in $TR_TMP"
pg_start_cluster demo "wal_level = replica" "archive_mode = on" \
	"archive_command = '$TR_BIN archive-put %p'" "wal_keep_size = '1GB'" ||
	demo_fail "cannot start PostgreSQL"
echo "demo: archive_command = '$TR_BIN archive-put %p' (driver fs, bucket $BUCKET)"

echo "demo: generating WAL with pgbench (scale 2, 500 transactions)"
pg_cmd demo pgbench -i -q -s 2 >"$TR_TMP/root/pgbench.log" 2>&1 || demo_fail "pgbench -i failed"
pg_cmd demo pgbench -n -c 2 -j 2 -t 250 >>"$TR_TMP/root/pgbench.log" 2>&1 || demo_fail "pgbench failed"
last=$(pg_switch demo)

echo "demo: waiting for PostgreSQL to archive up to $last"
pg_wait_archived demo "$last" 120 ||
	demo_fail "archiving did not reach $last: $(psql_q demo 'SELECT last_archived_wal, failed_count, last_failed_wal FROM pg_stat_archiver')"
read -r archived failed < <(psql_q demo "SELECT archived_count, failed_count FROM pg_stat_archiver" | tr '|' ' ')

bytes_in=0
for f in "${PG_DATA[demo]}"/pg_wal/archive_status/*.done; do
	f=${PG_DATA[demo]}/pg_wal/$(basename "$f" .done)
	[ -f "$f" ] && bytes_in=$((bytes_in + $(stat -c %s "$f")))
done
bytes_stored=$(find "$BUCKET/$DBID/wal" -type f ! -name '.tr-tmp-*' -printf '%s\n' | awk '{s += $1} END {print s + 0}')

echo "demo: reading $last back with archive-get"
out=$(pg_scratch restore)/$last
tr_run archive-get "$out" "$last" 2>"$TR_TMP/root/get.err" ||
	demo_fail "archive-get $last: $(cat "$TR_TMP/root/get.err")"
cmp -s "$out" "${PG_DATA[demo]}/pg_wal/$last" ||
	demo_fail "archive-get returned different bytes for $last"
echo "demo: $last restored byte-identical ($(stat -c %s "$out") bytes)"

conn=("PGHOST=${PG_SOCK[demo]}" "PGPORT=${PG_PORT[demo]}" "PGUSER=$TR_SRV_USER" PGDATABASE=postgres)
echo "demo: base backup with totalrecall backup"
tr_run "${conn[@]}" backup 2>"$TR_TMP/root/backup.err" || demo_fail "backup: $(tail -n 3 "$TR_TMP/root/backup.err")"
label=$(sed -n 's/.*backup \([0-9]\{8\}-[0-9]\{6\}F\): complete.*/\1/p' "$TR_TMP/root/backup.err")
echo "demo: backup $label: $(grep -o 'complete.*' "$TR_TMP/root/backup.err")"

echo "demo: more traffic after the backup (250 transactions), then restore into a new directory"
pg_cmd demo pgbench -n -c 2 -j 2 -t 250 >>"$TR_TMP/root/pgbench.log" 2>&1 || demo_fail "pgbench failed"
state_sql="SELECT count(*) || ':' || sum(abalance) FROM pgbench_accounts"
want=$(psql_q demo "$state_sql")
last=$(pg_switch demo)
pg_wait_archived demo "$last" 120 || demo_fail "archiving did not reach $last"
pg_stop_cluster demo || demo_fail "cannot stop PostgreSQL"

pg_register restored "$(pg_scratch restored)/data" || demo_fail "cannot prepare the restore directory"
tr_run restore "${PG_DATA[restored]}" 2>"$TR_TMP/root/restore.err" ||
	demo_fail "restore: $(tail -n 3 "$TR_TMP/root/restore.err")"
echo "demo: $(grep -o 'restore: .* restored.*' "$TR_TMP/root/restore.err" | head -n 1)"
pg_conf restored "archive_mode = off"
pg_start restored || demo_fail "the restored server did not start"
wait_until 120 pg_not_in_recovery restored || demo_fail "the restored server did not finish recovery"
got=$(psql_q restored "$state_sql")
[ "$got" = "$want" ] || demo_fail "the restored data differ: $got, expected $want"
echo "demo: the restored server replayed the archive and holds the same data ($got)"
pg_stop_cluster restored || demo_fail "cannot stop the restored server"

mib() { awk -v b="$1" 'BEGIN { printf "%.1f MiB", b / 1048576 }'; }
cat <<EOF

TotalRecall quick-start demo
  WAL files archived    $archived (failed attempts: $failed)
  bytes in              $bytes_in ($(mib "$bytes_in"))
  bytes stored          $bytes_stored ($(mib "$bytes_stored"), compressed and encrypted)
  repository            $BUCKET/$DBID (keyring, wal/<16 hex>/<segment>)
  read back             a segment, identical
  base backup           $label
  restored              into a new directory, recovered to the latest state, same data
  time                  $((SECONDS - start)) s
EOF
if [ "${TR_KEEP:-0}" = 1 ]; then
	echo "  kept                  $TR_TMP"
else
	echo "  (temp dir, server and repository removed; TR_KEEP=1 keeps them)"
fi
echo "demo: ok"
echo "demo: 1 passed, 0 failed"
