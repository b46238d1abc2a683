#!/usr/bin/env bash
# test_worker.sh - the background worker (postgres/totalrecall.so) against a
# real PostgreSQL 15 cluster: schema and views, spool ingestion, exactly-once
# across crashes, archive-put metrics, scheduled backup, expire and the
# verify after it, no work on a standby, prompt stop of a running child on
# fast shutdown; then a second, idle cluster with archive_timeout = 1 s:
# the worker's own metrics do not keep it archiving a segment per second,
# and a damaged backup info does not stop the worker's runs.
#
# PostgreSQL refuses to run as root: as root, the clusters run as the
# unprivileged user trtest (created if missing).  Skips (exit 77) when the
# worker was not built (no PGXS) or PostgreSQL 15 is not installed.
set -euo pipefail

top_builddir=${top_builddir:-$(cd "$(dirname "$0")/../.." && pwd)}
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
SO=$top_builddir/postgres/totalrecall.so
BIN=$top_builddir/src/totalrecall
DRIVER_DIR=$top_builddir/drivers/fs/.libs
TIMEOUT=${TR_TEST_TIMEOUT:-90}

passed=0 failed=0
summary() { echo "worker: $passed passed, $failed failed"; }

if [ ! -x "$PGBIN/pg_ctl" ] || [ ! -f "$SO" ] || [ ! -x "$BIN" ]; then
	echo "SKIP - needs $PGBIN/pg_ctl, $SO and $BIN"
	echo "worker: 0 passed, 0 failed, 1 skipped"
	exit 77
fi

TR_USER=trtest
if [ "$(id -u)" -eq 0 ]; then
	# polled: another test run beside this one may hold /etc/passwd's lock
	for _ in $(seq 1 150); do
		{ id "$TR_USER" || useradd --system --no-create-home --shell /bin/sh "$TR_USER"; } >/dev/null 2>&1 && break
		sleep 0.2
	done
fi

tmp=$(mktemp -d /tmp/tr-test-worker-XXXXXX)
chmod 755 "$tmp"
[ "$(id -u)" -eq 0 ] && chown "$TR_USER" "$tmp"
DATA=$tmp/primary
STANDBY=$tmp/standby
SOCK=$tmp/sock
SPOOL=$DATA/totalrecall_spool
PORT=$((20000 + $$ % 20000))
SPORT=$((PORT + 1))

# Runs a command as the cluster's owner.
run() {
	if [ "$(id -u)" -eq 0 ]; then
		runuser -u "$TR_USER" -- "$@"
	else
		"$@"
	fi
}

stop_all() {
	for d in "$STANDBY" "$DATA" "$tmp/idle"; do
		if [ -f "$d/postmaster.pid" ]; then
			run "$PGBIN/pg_ctl" -D "$d" -m immediate -w stop >/dev/null 2>&1 || true
		fi
	done
	if [ -f "$tmp/slow.pid" ]; then
		kill -9 "$(cat "$tmp/slow.pid")" 2>/dev/null || true
	fi
}
cleanup() {
	local rc=$?
	stop_all
	if [ "$failed" -ne 0 ] || [ "$rc" -ne 0 ]; then
		echo "--- server log (tail) ---"
		tail -n 60 "$tmp/primary.log" 2>/dev/null || true
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ok() { passed=$((passed + 1)); echo "ok: $1"; }
not_ok() { failed=$((failed + 1)); echo "FAILED: $1"; }
check() { # description command...
	local what=$1
	shift
	if "$@"; then ok "$what"; else not_ok "$what"; fi
}
# setup description command...: a set-up step, as in lib.sh: not counted
# when it works; one failure and the end of the test when it does not.
setup() {
	local what=$1
	shift
	if "$@"; then echo "# setup: $what"; else not_ok "setup: $what"; summary; exit 1; fi
}

# Polls a condition (a command) every 0.2 s for at most $TIMEOUT seconds.
wait_for() {
	local deadline=$((SECONDS + TIMEOUT))
	until "$@" >/dev/null 2>&1; do
		[ "$SECONDS" -ge "$deadline" ] && return 1
		sleep 0.2
	done
}

q() { run "$PGBIN/psql" -h "$SOCK" -p "$PORT" -U postgres -d postgres -XAtq -v ON_ERROR_STOP=1 -c "$1"; }
q_is() { [ "$(q "$1" 2>/dev/null)" = "$2" ]; }
log_has() { grep -q -- "$1" "$tmp/primary.log"; }

# The server's environment, which the worker passes on to its children.
export TOTALRECALL_DRIVER=fs TOTALRECALL_BUCKET=$tmp/bucket TOTALRECALL_DATABASE_ID=worker-test
export TOTALRECALL_ENCRYPTION_KEY=worker-test-passphrase TOTALRECALL_STATE_DIR=$tmp/state
export TOTALRECALL_KDF_ITERATIONS=1000 TOTALRECALL_DRIVER_DIR=$DRIVER_DIR
export TOTALRECALL_SCHEDULE='* * * * *' TOTALRECALL_RETENTION_COUNT=2
unset POSTGRES_DB TOTALRECALL_SPOOL_DIR PGDATA PGHOST PGPORT PGUSER PGDATABASE

# new_cluster DATADIR PORT [LINE...]: initdb, with the worker loaded and
# archiving through totalrecall, plus the given postgresql.conf lines.
new_cluster() {
	local dir=$1 port=$2
	shift 2
	run "$PGBIN/initdb" -D "$dir" -U postgres -A trust --no-sync >"$tmp/initdb-$(basename "$dir").log" 2>&1 || return 1
	cat >>"$dir/postgresql.conf" <<EOF
port = $port
listen_addresses = ''
unix_socket_directories = '$SOCK'
shared_preload_libraries = '$SO'
totalrecall.binary = '$BIN'
totalrecall.naptime = 1
wal_level = replica
archive_mode = on
archive_command = '$BIN archive-put %p'
fsync = off
EOF
	printf '%s\n' "$@" >>"$dir/postgresql.conf"
}

# ---- set up the primary ----
run mkdir -p "$SOCK" "$tmp/bucket" "$tmp/state"
setup "primary initialised" new_cluster "$DATA" "$PORT" "totalrecall.enabled = off"
setup "primary started" run "$PGBIN/pg_ctl" -D "$DATA" -l "$tmp/primary.log" -w start >/dev/null

# Appends lines (stdin) to the spool the way tr_spool_append does: under
# flock, re-checking that the path still names the locked file, since the
# worker renames it away under the same lock.
cat >"$tmp/append.sh" <<'EOF'
#!/usr/bin/env bash
set -euo pipefail
file=$1/metrics.spool
data=$(cat)
mkdir -p -m 700 "$1"
while :; do
	exec {fd}>>"$file"
	flock "$fd"
	if [ "$(stat -L -c %d:%i "/proc/$BASHPID/fd/$fd")" = "$(stat -c %d:%i "$file" 2>/dev/null)" ]; then
		printf '%s\n' "$data" >&"$fd"
		exec {fd}>&-
		exit 0
	fi
	exec {fd}>&-
done
EOF
chmod 755 "$tmp/append.sh"
spool_append() { run "$tmp/append.sh" "$SPOOL"; }

new_id() { od -An -tx1 -N16 /dev/urandom | tr -d ' \n'; }
# A record in the spool format (src/base/spool.h): subject, then optional error.
record() {
	printf '1\t%s\tcheck\t%s\t1700000000000000\t1700000001000000\t10\t20\tok\t%s\n' "$(new_id)" "$1" "${2:-}"
}
records() { # subject count
	for ((i = 0; i < $2; i++)); do record "$1"; done
}
# "rows/distinct ids" of a subject is "$2".
count_is() { q_is "SELECT count(*) || '/' || count(DISTINCT id) FROM totalrecall.metrics WHERE subject = '$1'" "$2"; }
no_ingest_files() { ! compgen -G "$SPOOL/*.ingest" >/dev/null && [ ! -s "$SPOOL/metrics.spool" ]; }
worker_pid() {
	local p
	p=$(q "SELECT pid FROM pg_stat_activity WHERE backend_type = 'totalrecall worker'") && [ -n "$p" ] && echo "$p"
}

# ---- schema and views ----
check "worker creates schema version 2" wait_for q_is "SELECT version FROM totalrecall.schema_version" 2
check "metrics table and four views exist" q_is \
	"SELECT count(*) FROM pg_views WHERE schemaname = 'totalrecall'
	   AND viewname IN ('last_backup', 'archive_status', 'failures_24h', 'last_verify')" 4
views_answer() {
	q "SELECT * FROM totalrecall.last_backup, totalrecall.archive_status,
	   (SELECT count(*) FROM totalrecall.failures_24h) f, (SELECT count(*) FROM totalrecall.last_verify) v" >/dev/null
}
check "views answer" views_answer
check "bytes are 64-bit" q_is "SELECT string_agg(data_type, ',' ORDER BY column_name) FROM information_schema.columns
	WHERE table_schema = 'totalrecall' AND table_name = 'metrics' AND column_name LIKE 'bytes%'" "bigint,bigint"

# ---- hand-written spool lines ----
id1=$(new_id) id2=$(new_id)
{
	printf '1\t%s\tarchive-put\t000000010000000000000042\t1700000000000000\t1700000000500000\t16777216\t5000000000\tok\t\n' "$id1"
	printf '1\t%s\tbackup\tlabel\\\\x\t1700000000000000\t1700000060000000\t1\t2\tfailed\tdisk\\tfull\\nsee log\n' "$id2"
	printf 'this line is malformed\n'
} | spool_append
check "spool lines are ingested" wait_for q_is "SELECT count(*) FROM totalrecall.metrics WHERE id IN ('$id1', '$id2')" 2
check "the spool file is gone" wait_for no_ingest_files
check "fields round-trip (64-bit size, escapes, times)" q_is \
	"SELECT bytes_stored || '|' || coalesce((error = E'disk\\tfull\\nsee log')::text, 'null') || '|' ||
	        subject || '|' || extract(epoch FROM finished_at - started_at)
	 FROM totalrecall.metrics WHERE id IN ('$id1', '$id2') ORDER BY operation" \
	"$(printf '5000000000|null|000000010000000000000042|0.500000\n2|true|label\\x|60.000000')"
check "a malformed line is skipped and logged" log_has "skipped 1 malformed line"
# A crashed writer's incomplete last line, in a claimed file.
idc=$(new_id)
{
	printf '1\t%s\tcheck\ttail\t1700000000000000\t1700000000000000\t0\t0\tok\t\n' "$idc"
	printf '1\t%s\tcheck\ttail\t17000' "$(new_id)"
} | run tee "$SPOOL/metrics.00000000000000000000.ingest" >/dev/null
check "an incomplete last line is skipped" wait_for no_ingest_files
check "... the complete one ingested" count_is tail 1/1
check "... and the skip logged" log_has "ignored an incomplete last line"
check "failures_24h lists nothing from 2023" q_is "SELECT count(*) FROM totalrecall.failures_24h WHERE id = '$id2'" 0

# ---- a claimed file whose rows were already committed ----
ida=$(new_id) idb=$(new_id)
q "INSERT INTO totalrecall.metrics VALUES ('$ida', 'check', 'pre', now(), now(), 0, 0, 'ok', NULL)"
{
	printf '1\t%s\tcheck\tpre\t1700000000000000\t1700000000000000\t0\t0\tok\t\n' "$ida"
	printf '1\t%s\tcheck\tpre\t1700000000000000\t1700000000000000\t0\t0\tok\t\n' "$idb"
} | run tee "$SPOOL/metrics.00000000000000000001.ingest" >/dev/null
check "a re-ingested file adds only its new rows" wait_for q_is "SELECT count(*) FROM totalrecall.metrics WHERE subject = 'pre'" 2
check "... and is removed" wait_for no_ingest_files

# ---- crash between commit and unlink ----
q "ALTER SYSTEM SET totalrecall.test_crash_after_commit = on"
q "SELECT pg_reload_conf()" >/dev/null
wait_for q_is "SHOW totalrecall.test_crash_after_commit" on || true
records crash1 25 | spool_append
check "the worker aborted after committing" wait_for log_has "test_crash_after_commit: aborting"
check "after the crash, the file is ingested again and removed" wait_for no_ingest_files
check "... with no duplicate and no loss (25 rows)" wait_for count_is crash1 25/25
check "... and says it was ingested before" log_has "was ingested before; 25 record(s) already present"
wait_for q "SELECT 1"
q "ALTER SYSTEM RESET totalrecall.test_crash_after_commit"
q "SELECT pg_reload_conf()" >/dev/null

# ---- kill -9 of the worker at arbitrary points ----
for _ in 1 2 3; do
	records kill9 100 | spool_append
	if wait_for worker_pid; then
		kill -9 "$(worker_pid)" 2>/dev/null || true
	fi
	wait_for q "SELECT 1" || true
done
records kill9 100 | spool_append
check "no row lost or duplicated across kill -9 (400 rows)" wait_for count_is kill9 400/400
check "the worker came back after kill -9" wait_for worker_pid

# ---- archive-put records its metrics ----
q "CREATE TABLE t AS SELECT generate_series(1, 1000) AS x; SELECT pg_switch_wal()" >/dev/null
check "archive-put rows appear" wait_for q_is \
	"SELECT count(*) > 0 FROM totalrecall.metrics WHERE operation = 'archive-put' AND status = 'ok' AND id <> '$id1'" t
check "archive_status shows the last archived WAL file" wait_for q_is \
	"SELECT last_archived_wal ~ '^[0-9A-F]{24}$' AND lag < interval '1 hour' FROM totalrecall.archive_status" t

# ---- scheduled backup and expire ----
q "ALTER SYSTEM SET totalrecall.enabled = on"
q "SELECT pg_reload_conf()" >/dev/null
has_backup() { run env TOTALRECALL_PGDATA="$DATA" "$BIN" list --json 2>/dev/null | grep -q '"label"'; }
check "a scheduled backup appears in list --json" wait_for has_backup
check "metrics row for backup" wait_for q_is \
	"SELECT count(*) > 0 FROM totalrecall.metrics WHERE operation = 'backup' AND status = 'ok'" t
check "metrics row for expire" wait_for q_is "SELECT count(*) > 0 FROM totalrecall.metrics WHERE operation = 'expire'" t
check "last_backup names it" wait_for q_is "SELECT label IS NOT NULL AND age < interval '1 hour' FROM totalrecall.last_backup" t
check "the worker logged the runs" log_has "totalrecall: backup --scheduled finished"
check "a verify ran after the scheduled backup and its result is in totalrecall.metrics" wait_for q_is \
	"SELECT status FROM totalrecall.last_verify" ok
check "... and the worker logged it" log_has "totalrecall: verify finished"
q "ALTER SYSTEM SET totalrecall.enabled = off"
q "SELECT pg_reload_conf()" >/dev/null

# ---- not on a standby ----
setup "pg_basebackup of the primary" \
	run "$PGBIN/pg_basebackup" -h "$SOCK" -p "$PORT" -U postgres -D "$STANDBY" -R -X stream >"$tmp/basebackup.log" 2>&1
cat >>"$STANDBY/postgresql.conf" <<EOF
port = $SPORT
archive_mode = off
EOF
setup "standby started" run "$PGBIN/pg_ctl" -D "$STANDBY" -l "$tmp/standby.log" -w start >/dev/null
sq_is() { [ "$(run "$PGBIN/psql" -h "$SOCK" -p "$SPORT" -U postgres -d postgres -XAtq -c "$1" 2>/dev/null)" = "$2" ]; }
setup "standby is in recovery" wait_for sq_is "SELECT pg_is_in_recovery()" t
# Bounded: the standby serves queries, so it is past the point where a
# RecoveryFinished worker could have started if it wrongly did.
check "no worker on the standby" sq_is "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'totalrecall worker'" 0
check "no worker start in the standby's log" bash -c "! grep -q 'totalrecall worker started' '$tmp/standby.log'"
run "$PGBIN/pg_ctl" -D "$STANDBY" -m fast -w stop >/dev/null

# ---- fast shutdown while a child runs ----
cat >"$tmp/slow.sh" <<EOF
#!/bin/sh
echo \$\$ > '$tmp/slow.pid'
while :; do sleep 1; done
EOF
chmod 755 "$tmp/slow.sh"
q "ALTER SYSTEM SET totalrecall.\"binary\" = '$tmp/slow.sh'"
q "ALTER SYSTEM SET totalrecall.enabled = on"
q "SELECT pg_reload_conf()" >/dev/null
slow_running() { [ -s "$tmp/slow.pid" ] && kill -0 "$(cat "$tmp/slow.pid")"; }
check "the worker runs the (slow) child" wait_for slow_running
# SIGTERM to the worker alone (not its process group): it must stop the
# child itself.
first=$(cat "$tmp/slow.pid")
first_gone() { ! kill -0 "$first" 2>/dev/null; }
start=$SECONDS
kill -TERM "$(worker_pid)"
check "SIGTERM to the worker stops its child" wait_for first_gone
check "... within 10 s" test $((SECONDS - start)) -lt 10
check "... and says so" log_has "stopping child process $first"
rm -f "$tmp/slow.pid"
check "the worker comes back and runs the child again" wait_for slow_running
start=$SECONDS
run "$PGBIN/pg_ctl" -D "$DATA" -m fast -t 60 -w stop >/dev/null
check "fast shutdown with a running child takes under 10 s" test $((SECONDS - start)) -lt 10
check "the child is gone" bash -c "! kill -0 $(cat "$tmp/slow.pid") 2>/dev/null"
check "the worker stopped its child" log_has "totalrecall: stopping child process"

# ---- an idle server with archive_timeout ----
# Every insert into totalrecall.metrics writes WAL; with archive_timeout,
# WAL makes an idle server switch and archive a segment, whose archive-put
# record the next ingestion would insert: one segment per archive_timeout,
# forever.  Measured: segments archived during 8 archive_timeout periods of
# idleness (it was 8 before the worker held routine records back).
IDLE=$tmp/idle
IPORT=$((PORT + 2))
setup "idle cluster initialised" new_cluster "$IDLE" "$IPORT" "archive_timeout = 1"
TOTALRECALL_DATABASE_ID=worker-idle TOTALRECALL_SCHEDULE=7d \
	setup "idle cluster started" run "$PGBIN/pg_ctl" -D "$IDLE" -l "$tmp/idle.log" -w start >/dev/null
iq() { run "$PGBIN/psql" -h "$SOCK" -p "$IPORT" -U postgres -d postgres -XAtq -c "$1" 2>/dev/null; }
iq_is() { [ "$(iq "$1")" = "$2" ]; }
ilog_has() { grep -q -- "$1" "$tmp/idle.log"; }
segments() { find "$tmp/bucket/worker-idle/wal" -type f -name '0*' ! -name '*.*' 2>/dev/null | wc -l; }
check "idle: the first scheduled backup and its verify are recorded" wait_for iq_is \
	"SELECT count(*) FILTER (WHERE operation = 'backup' AND status = 'ok') || '/' ||
	        count(*) FILTER (WHERE operation = 'verify' AND status = 'ok') FROM totalrecall.metrics" 1/1
a=$(segments)
t0=$SECONDS
sleep 8  # a measurement window (8 archive_timeout periods), not a wait for a condition
b=$(segments)
echo "# idle: $((b - a)) segments archived in $((SECONDS - t0)) s with archive_timeout = 1 s"
check "idle: at most 2 segments archived in 8 archive_timeout periods (got $((b - a)))" test $((b - a)) -le 2
check "idle: the worker kept running meanwhile" ilog_has "totalrecall: expire finished"
iq "CREATE TABLE busy AS SELECT 1 AS x" >/dev/null
seg=$(iq "SELECT pg_walfile_name(pg_switch_wal())")
check "idle: once sessions write again, the records are ingested at once ($seg)" wait_for iq_is \
	"SELECT count(*) > 0 FROM totalrecall.metrics WHERE operation = 'archive-put' AND subject = '$seg'" t
# A damaged info used to make every backup --scheduled and expire fail.
info=$(find "$tmp/bucket/worker-idle/backups" -name info | head -n 1)
label=$(basename "$(dirname "$info")")
printf 'X' | dd of="$info" bs=1 seek=50 conv=notrunc status=none
mark=$(wc -l <"$tmp/idle.log")
after_mark() { tail -n +"$((mark + 1))" "$tmp/idle.log" | grep -q -- "$1"; }
check "idle: with a damaged info the runs go on, naming it" wait_for after_mark "backup $label: info damaged"
check "... backup --scheduled finishes" wait_for after_mark "totalrecall: backup --scheduled finished"
check "... expire finishes" wait_for after_mark "totalrecall: expire finished"
check "... and neither failed" bash -c "! tail -n +$((mark + 1)) '$tmp/idle.log' | grep -q 'failed with exit status'"
run "$PGBIN/pg_ctl" -D "$IDLE" -m fast -w stop >/dev/null

summary
[ "$failed" -eq 0 ]
