#!/usr/bin/env bash
# tests/integration/test_backup_s3.sh - a full cycle through the s3 driver
# against moto_server on 127.0.0.1 (path-style addressing): archive_command,
# backup, list --json against the bucket's objects, restore to the latest
# point (each chunk object fetched once: moto's log counts the GETs), a
# restored cluster with the same data, expire --dry-run; a chunk
# damaged and one deleted in the bucket, stored again by the next backup;
# the repository lock held by one expire makes another give up; then the
# same cycle for another database through faultproxy.py at 5% injected
# faults (500, 503, resets, stalls, truncated bodies; seed TR_FAULT_SEED).
# Uses lib.sh (PostgreSQL clusters); moto is started the way
# s3/lib_s3.sh does it (that file cannot be sourced next to lib.sh: both
# define check, finish, free_port and an EXIT trap).  A missing
# moto_server or aws CLI fails the test.
# Last line: "backup_s3: N passed, M failed".
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/integration/lib.sh
. "$here/lib.sh"
# shellcheck source=tests/integration/bt_common.sh
. "$here/bt_common.sh"

tr_init backup_s3
pg_bin >/dev/null || tr_die "PostgreSQL 15 not found"
command -v python3 >/dev/null || tr_die "python3 is needed to read list --json"
AWS=/usr/bin/aws
[ -x "$AWS" ] || AWS=$(command -v aws) || tr_die "the aws CLI is not installed"
: "${TR_CMD_TIMEOUT:=180}"

# ------------------------------------------------------------------ moto
section "moto_server"
setup "moto_server listens" tr_moto_start
S3_ID=testing
S3_SECRET="moto-secret-$$-$RANDOM"
aws_s3() {
	AWS_ACCESS_KEY_ID=$S3_ID AWS_SECRET_ACCESS_KEY=$S3_SECRET AWS_DEFAULT_REGION=us-east-1 \
		AWS_EC2_METADATA_DISABLED=true AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null \
		"$AWS" --endpoint-url "$MOTO_URL" "$@"
}
BUCKET=tr-bt
PREFIX=ci/bt
DBID=db-s3
make_bucket() { aws_s3 s3api create-bucket --bucket "$BUCKET" >/dev/null; }
setup "bucket $BUCKET created" make_bucket
# s3_objects PREFIX: "KEY SIZE" of the objects below <prefix>/<db>/PREFIX,
# keys relative to <prefix>/<db>/, sorted; s3_keys PREFIX: the keys alone.
s3_objects() {
	aws_s3 s3api list-objects-v2 --bucket "$BUCKET" --prefix "$PREFIX/$DBID/$1" --output json |
		python3 -c 'import json, sys
d = sys.stdin.read().strip()
for o in (json.loads(d).get("Contents", []) if d else []):
    print(o["Key"].split("/", 3)[3], o["Size"])' | sort
}
s3_keys() { s3_objects "$1" | cut -d' ' -f1; }

tr_write_keyfile "the s3 passphrase $RANDOM"
# The s3 driver: next to the binary in the build tree, or in
# $TR_DRIVER_DIR (lib.sh copies every driver there when it copies the binary).
tr_env_set TOTALRECALL_DRIVER=s3 "TOTALRECALL_BUCKET=$BUCKET" \
	"TOTALRECALL_STORAGE_PREFIX=$PREFIX" "TOTALRECALL_DATABASE_ID=$DBID" \
	"TOTALRECALL_ENCRYPTION_KEY=file:$KEYFILE" TOTALRECALL_KDF_ITERATIONS=1000 \
	"TOTALRECALL_S3_ENDPOINT=$MOTO_URL" TOTALRECALL_S3_URI_STYLE=path AWS_REGION=us-east-1 \
	"AWS_ACCESS_KEY_ID=$S3_ID" "AWS_SECRET_ACCESS_KEY=$S3_SECRET" \
	"TOTALRECALL_STATE_DIR=$TR_TMP/state" TOTALRECALL_LOG_LEVEL=info TOTALRECALL_PARALLEL=2 \
	TOTALRECALL_RETRIES=2 TOTALRECALL_TIMEOUT=20
ARCHIVE_CONF=("wal_level = replica" "archive_mode = on"
	"archive_command = '$TR_BIN archive-put %p'" "checkpoint_timeout = '1h'"
	"max_wal_size = '4GB'" "autovacuum = off")

# ------------------------------------------------------------------ cycle
# archive_and_backup NAME WHAT WAIT: starts cluster NAME archiving through
# the current settings, pgbench traffic, a backup (LAST_LABEL), more
# traffic archived up to the end (FINAL_STATE: pgbench_accounts then).
archive_and_backup() {
	local name=$1 what=$2 wait=$3 seg
	pg_start_cluster "$name" "${ARCHIVE_CONF[@]}" || tr_die "cannot start $name"
	pg_cmd "$name" pgbench -i -q -s 2 >"$TR_TMP/root/pgbench-$name.log" 2>&1 || tr_die "pgbench -i failed"
	pg_cmd "$name" pgbench -n -c 2 -j 2 -t 200 >>"$TR_TMP/root/pgbench-$name.log" 2>&1 || tr_die "pgbench failed"
	seg=$(pg_switch "$name")
	if pg_wait_archived "$name" "$seg" "$wait"; then
		pass "$name archives $what (up to $seg)"
	else
		fail "$name archiving: $(psql_q "$name" 'SELECT last_archived_wal, failed_count, last_failed_wal FROM pg_stat_archiver')"
	fi
	do_backup "$name"
	check "$name: the backup is listed ($LAST_LABEL)" test -n "$LAST_LABEL"
	pg_cmd "$name" pgbench -n -c 2 -j 2 -t 200 >>"$TR_TMP/root/pgbench-$name.log" 2>&1 || tr_die "pgbench failed"
	FINAL_STATE=$(psql_state "$name")
	seg=$(pg_switch "$name")
	pg_wait_archived "$name" "$seg" "$wait" || fail "$name: $seg not archived"
}

section "archive and backup through s3"
archive_and_backup p1 "through the s3 driver" 120
S1=$LAST_LABEL
FINAL=$FINAL_STATE

section "list --json against the bucket"
list_json >"$TR_TMP/root/list.json"
assert_eq "backups/$S1/info backups/$S1/keyring backups/$S1/manifest" "$(s3_keys backups/ | tr '\n' ' ' | sed 's/ $//')" \
	"the bucket holds the backup's info, keyring copy and manifest under <prefix>/<db>/backups/"
nchunks=$(s3_keys chunks/ | wc -l)
check "the bucket holds chunks under <prefix>/<db>/chunks/ ($nchunks)" test "$nchunks" -gt 10
mapfile -t SEGS < <(s3_keys wal/ | sed 's,.*/,,' | grep -E '^[0-9A-F]{24}$' | sort)
assert_eq "${#SEGS[@]}" "$(jq_py 'j["wal"]["segments"]' <"$TR_TMP/root/list.json")" "list --json: wal.segments = segment objects in the bucket"
assert_eq "${SEGS[0]}" "$(jq_py 'j["wal"]["first"]' <"$TR_TMP/root/list.json")" "list --json: wal.first"
assert_eq "${SEGS[-1]}" "$(jq_py 'j["wal"]["last"]' <"$TR_TMP/root/list.json")" "list --json: wal.last"
assert_eq "$(psql_q p1 'SELECT system_identifier FROM pg_control_system()')" "$(jq_py 'j["backups"][0]["system_id"]' <"$TR_TMP/root/list.json")" "list --json: system_id"

section "restore through s3 to the latest point"
# Requests counted in moto's log: the cluster holds the same chunk in many
# places (template0, template1 and postgres share catalogs), and restore
# fetches each chunk object once, copying the later references.
moto_before=$(wc -l <"$TR_TMP/root/moto.log")
restore_to r1 TOTALRECALL_LOG_LEVEL=debug
tail -n +"$((moto_before + 1))" "$TR_TMP/root/moto.log" | grep -o '"GET /[^ ]*/chunks/[^ ]*' | sort >"$TR_TMP/root/restore-gets"
chunk_gets=$(wc -l <"$TR_TMP/root/restore-gets")
copied=$(sed -n 's/.*restore: [0-9]* chunks fetched, \([0-9]*\) copied.*/\1/p' "$TR_TMP/root/restore-r1.err")
check "restore copied repeated chunks from the files it wrote (${copied:-none} copied)" test "${copied:-0}" -ge 1
check "restore GETs chunk objects ($chunk_gets requests)" test "$chunk_gets" -gt 10
assert_eq "" "$(uniq -d "$TR_TMP/root/restore-gets" | head -n 3)" "restore GETs no chunk object twice"
assert_eq "$S1" "$(restored_backup r1)" "restore chose $S1"
check "totalrecall_restore.conf is private (0600)" test "$(stat -c %a "${PG_DATA[r1]}/totalrecall_restore.conf")" = 600
# Settings given as values (not file:) are written resolved; reported.
tr_note "secret access key written in plain text to totalrecall_restore.conf: $(grep -c -F -- "$S3_SECRET" "${PG_DATA[r1]}/totalrecall_restore.conf" || true) line(s)"
if start_restored r1; then
	check "r1 left recovery" wait_until 180 pg_not_in_recovery r1
	assert_eq "$FINAL" "$(psql_state r1 || true)" "r1: pgbench_accounts = p1's final state (backup + WAL from moto)"
	check "r1 read WAL through archive-get" grep -q 'restored log file' "${PG_LOG[r1]}"
fi
drop_cluster r1
assert_not_contains "$(cat "${PG_LOG[p1]}")" "$S3_SECRET" "the server log does not contain the secret access key"

section "expire --dry-run through s3"
before=$( (s3_keys backups/; s3_keys wal/; s3_keys chunks/) | md5sum)
TR_DESC="expire --dry-run --retention-count 1" assert_rc 0 tr_run --dry-run --retention-count 1 expire
assert_eq "$before" "$( (s3_keys backups/; s3_keys wal/; s3_keys chunks/) | md5sum)" "--dry-run removed nothing from the bucket"

# ------------------------------------------------------------------ repair
# A chunk overwritten with garbage and one deleted in the bucket: verify
# names both, the next backup stores them again (a plain PUT replaces the
# damaged object whole), verify passes.  Then the repository lock on S3:
# while one expire holds it, another gives up after lock-timeout.
section "s3: damaged and deleted chunks stored again; the repository lock"
before=$(s3_objects chunks/)
as_pg dd if=/dev/urandom of="${PG_DATA[p1]}/zz_fixture" bs=1K count=2048 status=none
do_backup p1
S2=$LAST_LABEL
mapfile -t FIX < <(comm -13 <(printf '%s\n' "$before") <(s3_objects chunks/) | awk -v p="$PREFIX/$DBID/" '$2 > 300000 { print p $1 }')
assert_eq 2 "${#FIX[@]}" "s3: the fixture's two chunks were stored by $S2"
printf 'not a chunk at all\n' >"$TR_TMP/root/garbage"
aws_s3 s3api put-object --bucket "$BUCKET" --key "${FIX[0]}" --body "$TR_TMP/root/garbage" >/dev/null
aws_s3 s3api delete-object --bucket "$BUCKET" --key "${FIX[1]}" >/dev/null
TR_DESC="s3: verify with a damaged and a missing chunk" assert_rc 1 tr_run verify
assert_contains "$(cat "$TR_LAST_OUT")" "damaged chunk ${FIX[0]##*/} of backup $S2" "s3: verify names the damaged chunk"
assert_contains "$(cat "$TR_LAST_OUT")" "missing chunk ${FIX[1]##*/} of backup $S2" "s3: verify names the missing chunk"
do_backup p1
assert_contains "$(cat "$TR_LAST_ERR")" "stored again 2 chunks" "s3: the next backup stored both again"
TR_DESC="s3: verify after the repairing backup" assert_rc 0 tr_run verify
as_pg mkdir -p "$TR_TMP/hooks"
(rc=0; tr_run TOTALRECALL_TEST_PAUSE="expire-chunks:$TR_TMP/hooks/s3lock" expire >"$TR_TMP/root/s3exp.out" \
	2>"$TR_TMP/root/s3exp.err" || rc=$?; echo "$rc" >"$TR_TMP/root/s3exp.rc") &
wait_until 120 test -e "$TR_TMP/hooks/s3lock.reached" || fail "s3: expire did not reach its pause point"
TR_DESC="s3: a second expire while the first holds the lock" assert_rc 1 tr_run TOTALRECALL_LOCK_TIMEOUT=2 expire
assert_contains "$(cat "$TR_LAST_ERR")" "the repository is locked by expire" "s3: it names the holder and gives up"
touch "$TR_TMP/hooks/s3lock.go"
wait_until 120 test -s "$TR_TMP/root/s3exp.rc" || fail "s3: the first expire did not finish"
assert_eq 0 "$(cat "$TR_TMP/root/s3exp.rc" 2>/dev/null)" "s3: the first expire completes"
assert_eq "" "$(s3_keys locks/)" "s3: no lock is left in the bucket"

drop_cluster p1

# ------------------------------------------------------------------ faults
# The same cycle (archive_command, backup, restore, recovery through
# archive-get, verify) through faultproxy.py at a 5% fault rate: HTTP 500
# and 503, connection resets, 3 s stalls and truncated bodies, on a seeded
# schedule (TR_FAULT_SEED).  The drivers' retries must carry every
# operation through, and the restored cluster must hold the same data.
section "full cycle through 5% injected faults"
FAULT_SEED=${TR_FAULT_SEED:-5}
faultproxy_start "$TR_TMP/root/proxy.log" --upstream "127.0.0.1:$MOTO_PORT" --seed "$FAULT_SEED" \
	--rate 0.05 --faults 500,503,reset,stall,truncate --stall 3 -v ||
	tr_die "faultproxy did not come up: $(tail -n 5 "$TR_TMP/root/proxy.log")"
TR_BG_PIDS+=("$FAULTPROXY_PID")
PROXY_PORT=$FAULTPROXY_PORT
DBID=db-faults
# A stall (3 s without a byte) trips the 2 s timeout; 10 retries with backoff.
tr_env_set "TOTALRECALL_DATABASE_ID=$DBID" "TOTALRECALL_S3_ENDPOINT=http://127.0.0.1:$PROXY_PORT" \
	TOTALRECALL_RETRIES=10 TOTALRECALL_TIMEOUT=2 TOTALRECALL_RETRY_MAX_TIME=120
archive_and_backup p2 "through the fault proxy" 300
F1=$LAST_LABEL
FINAL2=$FINAL_STATE
restore_to r2
assert_eq "${F1:-(no backup)}" "$(restored_backup r2)" "faults: restore chose $F1"
if start_restored r2; then
	check "faults: r2 left recovery (WAL through archive-get and the proxy)" wait_until 300 pg_not_in_recovery r2
	assert_eq "$FINAL2" "$(psql_state r2 || true)" "faults: r2's pgbench_accounts = p2's final state"
fi
drop_cluster r2
TR_DESC="faults: verify --full through the proxy" assert_rc 0 tr_run --full verify
injected=$(grep -c 'inject ' "$TR_TMP/root/proxy.log" || true)
tr_note "faultproxy injected $injected faults (seed $FAULT_SEED): $(sed -n 's/.*inject \([a-z0-9]*\) .*/\1/p' "$TR_TMP/root/proxy.log" | sort | uniq -c | tr '\n' ' ')"
setup "faults: the proxy injected faults into the cycle ($injected)" test "$injected" -ge 5
drop_cluster p2
tr_note "total: ${SECONDS}s"
finish
