#!/usr/bin/env bash
# tests/integration/test_standby.sh - replicas from the repository and
# backups from a standby (fs driver, PostgreSQL 15):
#   a. restore --standby refuses recovery targets and a --primary-conninfo
#      without --standby, writing nothing
#   b. a standby built with restore --standby --primary-conninfo (a value
#      with quotes, escaped for postgresql.conf) streams from the primary:
#      a row inserted on the primary appears on it
#   c. a backup taken from that standby (--backup-standby=y) is marked as
#      such, and restores to the primary's data; the primary was asked to
#      finish the last segment; without a primary connection the primary's
#      archive_timeout finishes it
#   d. the choice of server: a standby at --pg-conninfo is refused without
#      --backup-standby; y with the standby down fails; prefer falls back
#      to the primary; a --pgdata of another server is refused
#   e. the standby promoted while its backup reads the files (the backup
#      paused by a test hook): the backup fails, says so, records nothing
# Last line: "standby: N passed, M failed".  TR_KEEP=1 keeps the temp dir.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/integration/lib.sh
. "$here/lib.sh"
# shellcheck source=tests/integration/bt_common.sh
. "$here/bt_common.sh"

tr_init standby
PGBIN=$(pg_bin) || tr_die "PostgreSQL 15 not found"
command -v python3 >/dev/null || tr_die "python3 is needed to read list --json"
: "${TR_CMD_TIMEOUT:=240}"
tr_note "server user $TR_SRV_USER, binary $TR_BIN, PostgreSQL $PGBIN, temp $TR_TMP"
repo_setup db-standby

streaming_to() { # PRIMARY APPLICATION_NAME
	sql_true "$1" "SELECT count(*) = 1 FROM pg_stat_replication WHERE application_name = \$a\$$2\$a\$ AND state = 'streaming'"
}
standby_of() { printf 'host=127.0.0.1 port=%s\n' "${PG_PORT[$1]}"; }
labels_now() { list_labels | tr '\n' ' '; }

pg_start_cluster p1 "${ARCHIVE_CONF[@]}" "max_wal_senders = 5" || tr_die "cannot start p1"
pg_cmd p1 pgbench -i -q -s 1 >"$TR_TMP/root/pgbench-i.log" 2>&1 || tr_die "pgbench -i failed"
psql_q p1 "CREATE TABLE marks (t text)"
do_backup p1
B1=$LAST_LABEL

# ------------------------------------------------------------------ a
section "a. what --standby refuses"
for bad in "--target-time|2026-01-01 00:00:00" "--target|immediate" "--target-exclusive|" "--target-action|promote"; do
	opt=${bad%%|*} val=${bad#*|}
	rm -rf "$TR_TMP/pg-bad"
	if [ -n "$val" ]; then set -- "$opt" "$val"; else set -- "$opt"; fi
	TR_DESC="restore --standby $*" assert_rc 1 tr_run restore --standby "$@" "$TR_TMP/pg-bad/data"
	assert_contains "$(cat "$TR_LAST_ERR")" "--standby" "restore --standby $*: names --standby"
	assert_file_absent "$TR_TMP/pg-bad/data" "restore --standby $*: nothing created"
done
TR_DESC="restore --primary-conninfo without --standby" assert_rc 1 tr_run restore --primary-conninfo "host=x" \
	"$TR_TMP/pg-bad/data"
assert_file_absent "$TR_TMP/pg-bad/data" "nothing created"

# ------------------------------------------------------------------ b
section "b. a standby built from the repository streams from the primary"
APP="tr standby's one"
# libpq quotes with '...' and \' inside; postgresql.conf then doubles each
# quote and backslash.
restore_to s1 --standby --primary-conninfo "host=127.0.0.1 port=${PG_PORT[p1]} user=$TR_SRV_USER application_name='tr standby\\'s one'"
assert_file_exists "${PG_DATA[s1]}/standby.signal" "standby.signal"
assert_file_absent "${PG_DATA[s1]}/recovery.signal" "no recovery.signal"
check "primary_conninfo written, quotes escaped for postgresql.conf" grep -qxF \
	"primary_conninfo = 'host=127.0.0.1 port=${PG_PORT[p1]} user=$TR_SRV_USER application_name=''tr standby\\\\''s one'''" \
	"${PG_DATA[s1]}/postgresql.auto.conf"
check "recovery_target_timeline = 'latest'" grep -qx "recovery_target_timeline = 'latest'" \
	"${PG_DATA[s1]}/postgresql.auto.conf"
start_restored s1 "hot_standby = on" || tr_die "cannot start s1"
wait_until 120 streaming_to p1 "$APP" && pass "s1 streams from p1 (application_name '$APP')" ||
	fail "s1 streams from p1 (application_name '$APP')"
assert_eq t "$(psql_q s1 'SELECT pg_is_in_recovery()')" "s1 is a standby"
psql_q p1 "INSERT INTO marks VALUES ('streamed')"
wait_until 60 sql_true s1 "SELECT EXISTS (SELECT 1 FROM marks WHERE t = 'streamed')" &&
	pass "a row inserted on p1 appears on s1" || fail "a row inserted on p1 appears on s1"

# ------------------------------------------------------------------ c
section "c. a backup of the standby"
pg_cmd p1 pgbench -n -t 200 >>"$TR_TMP/root/pgbench.log" 2>&1 || tr_die "pgbench failed"
psql_q p1 "INSERT INTO marks VALUES ('before the standby backup')"
wait_until 60 sql_true s1 "SELECT EXISTS (SELECT 1 FROM marks WHERE t = 'before the standby backup')" ||
	fail "s1 caught up"
do_backup p1 --backup-standby y --standby-conninfo "$(standby_of s1)"
B2=$LAST_LABEL
err=$(cat "$TR_TMP/root/backup-$LAST_BACKUP_END.err")
assert_contains "$err" "on the standby (data directory ${PG_DATA[s1]})" "it read s1's data directory"
assert_contains "$err" "asked the primary to switch WAL" "the primary was asked to finish the last segment"
assert_eq True "$(backup_field "$B2" from_standby)" "list --json: from_standby"
assert_eq False "$(backup_field "$B1" from_standby)" "list --json: p1's backup is not"
STATE=$(psql_state p1)
seg=$(pg_switch p1)
pg_wait_archived p1 "$seg" 120 || fail "p1: $seg archived"
restore_to r1 --backup "$B2" --target-action promote
start_restored r1 && wait_until 120 pg_not_in_recovery r1
assert_eq "$STATE" "$(psql_state r1)" "the standby's backup restores to the primary's data"
drop_cluster r1

# Without a primary to ask, the primary's archive_timeout finishes the
# segment (1 s here; the backup waits at most archive-timeout).
psql_q p1 "ALTER SYSTEM SET archive_timeout = 1" >/dev/null
psql_q p1 "SELECT pg_reload_conf()" >/dev/null
psql_q p1 "INSERT INTO marks VALUES ('no primary to ask')"
wait_until 60 sql_true s1 "SELECT EXISTS (SELECT 1 FROM marks WHERE t = 'no primary to ask')" || fail "s1 caught up"
do_backup p1 --backup-standby y --standby-conninfo "$(standby_of s1)" --pg-conninfo "host=127.0.0.1 port=$(free_port)" \
	--archive-timeout 60
err=$(cat "$TR_TMP/root/backup-$LAST_BACKUP_END.err")
assert_contains "$err" "no primary to finish the last WAL segment" "without a primary: it says so"
assert_contains "$err" "waiting for the primary to archive" "and waits for the primary's archiver"
psql_q p1 "ALTER SYSTEM RESET archive_timeout" >/dev/null
psql_q p1 "SELECT pg_reload_conf()" >/dev/null

# ------------------------------------------------------------------ d
section "d. which server: refusals and the fallback"
mapfile -t S1ENV < <(pg_env s1)
TR_DESC="backup with --pg-conninfo at the standby" assert_rc 1 tr_run "${S1ENV[@]}" backup
assert_contains "$(cat "$TR_LAST_ERR")" "--backup-standby=y" "says to use --backup-standby=y"
TR_DESC="backup of the standby reading p1's directory" assert_rc 1 tr_on p1 --backup-standby y \
	--standby-conninfo "$(standby_of s1)" --pgdata "${PG_DATA[p1]}" backup
assert_contains "$(cat "$TR_LAST_ERR")" "does not run on ${PG_DATA[p1]}" "refused: not that server's directory"
before=$(labels_now)
pg_stop_cluster s1
TR_DESC="--backup-standby=y with the standby down" assert_rc 1 tr_on p1 --backup-standby y \
	--standby-conninfo "$(standby_of s1)" backup
assert_contains "$(cat "$TR_LAST_ERR")" "--backup-standby=prefer would back up the primary" "says what prefer would do"
assert_eq "$before" "$(labels_now)" "nothing recorded"
do_backup p1 --backup-standby prefer --standby-conninfo "$(standby_of s1)"
assert_contains "$(cat "$TR_TMP/root/backup-$LAST_BACKUP_END.err")" "backing up the primary" "prefer falls back to p1"
assert_eq False "$(backup_field "$LAST_LABEL" from_standby)" "list --json: not from a standby"
pg_start s1 || tr_die "cannot restart s1"
wait_until 120 streaming_to p1 "$APP" || fail "s1 streams again"

# ------------------------------------------------------------------ e
section "e. the standby promoted during its backup"
PAUSE=$(pg_scratch hooks)/pause
before=$(labels_now)
wait_until 5 next_second || true
tr_on p1 "TOTALRECALL_TEST_PAUSE=backup-before-stop:$PAUSE" --backup-standby y --standby-conninfo "$(standby_of s1)" \
	backup >"$TR_TMP/root/promoted.out" 2>"$TR_TMP/root/promoted.err" &
bg=$!
wait_until 120 test -e "$PAUSE.reached" || fail "the backup paused before pg_backup_stop"
as_pg "$PGBIN/pg_ctl" -D "${PG_DATA[s1]}" -w -t 60 promote >/dev/null || fail "s1 promoted"
wait_until 60 pg_not_in_recovery s1 || fail "s1 left recovery"
as_pg touch "$PAUSE.go"
rc=0
wait "$bg" || rc=$?
assert_eq 1 "$rc" "the backup fails"
tr_note "$(grep -m1 'ERROR' "$TR_TMP/root/promoted.err")"
assert_contains "$(cat "$TR_TMP/root/promoted.err")" "the standby was promoted during the backup" "and says why"
assert_eq "$before" "$(labels_now)" "nothing recorded"

tr_note "total: ${SECONDS}s"
finish
