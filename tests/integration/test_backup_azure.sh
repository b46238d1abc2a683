#!/usr/bin/env bash
# tests/integration/test_backup_azure.sh - a full cycle through the azure
# driver against Azurite on 127.0.0.1 (path-style endpoint, Shared Key
# from a connection string given as file:): archive_command, backup, list
# --json against the container's blobs (read by azure/azhelper.py, an
# independent client), restore to the latest point, a restored cluster
# with the same data, verify --full, a second backup and expire
# --retention-count 1 removing the first one's blobs; archive-get of a
# missing segment (exit 1) and of any segment once the container is gone
# (exit 128: a vanished repository is not the end of WAL); then backup,
# restore and verify through faultproxy.py at 5% injected faults.
# Uses lib.sh (PostgreSQL clusters); Azurite is started here (azure/
# lib_azure.sh cannot be sourced next to lib.sh: both define check,
# finish, free_port and an EXIT trap).  A missing Azurite fails the test.
# Last line: "backup_azure: N passed, M failed".
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/integration/lib.sh
. "$here/lib.sh"
# shellcheck source=tests/integration/bt_common.sh
. "$here/bt_common.sh"

tr_init backup_azure
pg_bin >/dev/null || tr_die "PostgreSQL 15 not found"
: "${TR_CMD_TIMEOUT:=180}"
[ -f "$top_builddir/drivers/azure/.libs/azure.so" ] || tr_die "drivers/azure not built (run make first)"
# lib.sh copies the drivers it knows where the server user can read them.
if [ -n "$TR_DRIVER_DIR" ]; then
	cp "$top_builddir/drivers/azure/.libs/azure.so" "$TR_DRIVER_DIR/"
	chmod a+r "$TR_DRIVER_DIR/azure.so"
fi

# ------------------------------------------------------------------ azurite
section "azurite"
# shellcheck source=tests/integration/azure/azurite.sh
. "$here/azure/azurite.sh"
AZ_ACCOUNT=trbackup
AZ_KEY=$(python3 -c 'import base64, os; print(base64.b64encode(os.urandom(64)).decode())')
setup "azurite started" azurite_start "${TR_AZURITE_NODE_DIR:-$here/azure/node}" "$TR_TMP/root" "$AZ_ACCOUNT" "$AZ_KEY"
TR_BG_PIDS+=("$AZURITE_PID")
AZ_PORT=$AZURITE_PORT
AZ_URL=http://127.0.0.1:$AZ_PORT/$AZ_ACCOUNT
tr_note "azurite on $AZ_URL"
azh() { AZ_ENDPOINT=$AZ_URL AZ_ACCOUNT=$AZ_ACCOUNT AZ_KEY=$AZ_KEY python3 "$here/azure/azhelper.py" "$@"; }
CONTAINER=tr-bt
PREFIX=ci/bt
DBID=db-azure
setup "container $CONTAINER created" azh mkcontainer "$CONTAINER"
# az_keys PREFIX: blob names below <prefix>/<db>/PREFIX, relative to <prefix>/<db>/.
az_keys() { azh list "$CONTAINER" "$PREFIX/$DBID/$1" | cut -d/ -f4- | sort; }

tr_write_keyfile "the azure passphrase $RANDOM"
# The connection string is a secret: given as file:, as a DBA would.
CONNFILE=$TR_TMP/secret/azure-connection-string
printf 'BlobEndpoint=%s;AccountName=%s;AccountKey=%s\n' "$AZ_URL" "$AZ_ACCOUNT" "$AZ_KEY" | as_pg tee "$CONNFILE" >/dev/null
chmod 0600 "$CONNFILE"
tr_env_set TOTALRECALL_DRIVER=azure "TOTALRECALL_BUCKET=$CONTAINER" \
	"TOTALRECALL_STORAGE_PREFIX=$PREFIX" "TOTALRECALL_DATABASE_ID=$DBID" \
	"TOTALRECALL_ENCRYPTION_KEY=file:$KEYFILE" TOTALRECALL_KDF_ITERATIONS=1000 \
	"AZURE_STORAGE_CONNECTION_STRING=file:$CONNFILE" \
	"TOTALRECALL_STATE_DIR=$TR_TMP/state" TOTALRECALL_LOG_LEVEL=info TOTALRECALL_PARALLEL=2 \
	TOTALRECALL_RETRIES=2 TOTALRECALL_TIMEOUT=20
ARCHIVE_CONF=("wal_level = replica" "archive_mode = on"
	"archive_command = '$TR_BIN archive-put %p'" "checkpoint_timeout = '1h'"
	"max_wal_size = '4GB'" "autovacuum = off")

# traffic NAME: pgbench transactions, then the segment switched to and
# archived (TIMEOUT seconds at most).
traffic() {
	local name=$1 wait=$2 seg
	pg_cmd "$name" pgbench -n -c 2 -j 2 -t 200 >>"$TR_TMP/root/pgbench-$name.log" 2>&1 || tr_die "pgbench failed"
	seg=$(pg_switch "$name")
	if pg_wait_archived "$name" "$seg" "$wait"; then
		pass "$name archived up to $seg"
	else
		fail "$name archiving: $(psql_q "$name" 'SELECT last_archived_wal, failed_count, last_failed_wal FROM pg_stat_archiver')"
	fi
}

# cycle NAME WAIT: a cluster archiving through the current settings, a
# backup (LAST_LABEL), more traffic (FINAL_STATE), restored into rNAME and
# compared, then verify --full.
cycle() {
	local name=$1 wait=$2 label
	pg_start_cluster "$name" "${ARCHIVE_CONF[@]}" || tr_die "cannot start $name"
	pg_cmd "$name" pgbench -i -q -s 2 >"$TR_TMP/root/pgbench-$name.log" 2>&1 || tr_die "pgbench -i failed"
	traffic "$name" "$wait"
	do_backup "$name"
	label=$LAST_LABEL
	check "$name: the backup is listed ($label)" test -n "$label"
	traffic "$name" "$wait"
	FINAL_STATE=$(psql_state "$name")
	restore_to "r$name"
	assert_eq "$label" "$(restored_backup "r$name")" "r$name: restore chose $label"
	if start_restored "r$name"; then
		check "r$name left recovery (WAL through archive-get)" wait_until "$wait" pg_not_in_recovery "r$name"
		assert_eq "$FINAL_STATE" "$(psql_state "r$name" || true)" "r$name: pgbench_accounts = $name's final state"
		check "r$name read WAL through archive-get" grep -q 'restored log file' "${PG_LOG[r$name]}"
	fi
	drop_cluster "r$name"
	TR_DESC="verify --full after the cycle of $name" assert_rc 0 tr_run --full verify
}

section "archive, backup, restore through azure"
cycle p1 120
S1=$LAST_LABEL
TR_DESC="check" assert_rc 0 tr_on p1 check
tr_note "check said: $(cat "$TR_LAST_OUT" "$TR_LAST_ERR" | head -c 800 | tr '\n' '|')"

section "list --json against the container"
list_json >"$TR_TMP/root/list.json"
assert_eq "backups/$S1/info backups/$S1/keyring backups/$S1/manifest" "$(az_keys backups/ | tr '\n' ' ' | sed 's/ $//')" \
	"the container holds the backup's info, keyring copy and manifest under <prefix>/<db>/backups/"
nchunks=$(az_keys chunks/ | wc -l)
check "the container holds chunks under <prefix>/<db>/chunks/ ($nchunks)" test "$nchunks" -gt 10
mapfile -t SEGS < <(az_keys wal/ | sed 's,.*/,,' | grep -E '^[0-9A-F]{24}$' | sort)
assert_eq "${#SEGS[@]}" "$(jq_py 'j["wal"]["segments"]' <"$TR_TMP/root/list.json")" "list --json: wal.segments = segment blobs in the container"
assert_eq "${SEGS[-1]}" "$(jq_py 'j["wal"]["last"]' <"$TR_TMP/root/list.json")" "list --json: wal.last"
assert_not_contains "$(cat "${PG_LOG[p1]}")" "$AZ_KEY" "the server log does not contain the account key"

section "a second backup, expire --retention-count 1"
traffic p1 120
do_backup p1
S2=$LAST_LABEL
before=$( (az_keys backups/; az_keys wal/; az_keys chunks/) | md5sum)
TR_DESC="expire --dry-run --retention-count 1" assert_rc 0 tr_run --dry-run --retention-count 1 expire
assert_eq "$before" "$( (az_keys backups/; az_keys wal/; az_keys chunks/) | md5sum)" "--dry-run removed nothing from the container"
TR_DESC="expire --retention-count 1" assert_rc 0 tr_run --retention-count 1 expire
assert_eq "backups/$S2/info backups/$S2/keyring backups/$S2/manifest" "$(az_keys backups/ | tr '\n' ' ' | sed 's/ $//')" \
	"expire removed $S1's blobs and kept $S2's"
assert_eq "$S2" "$(list_labels | tr '\n' ' ' | sed 's/ $//')" "list shows $S2 only"
TR_DESC="verify --full after expire" assert_rc 0 tr_run --full verify

section "archive-get: absent segment, vanished container"
GETDIR=$(pg_scratch get)
TR_DESC="archive-get of a segment never archived" assert_rc 1 tr_run archive-get "$GETDIR/seg" 0000000100000000000000FE
drop_cluster p1
azh rmcontainer "$CONTAINER"
TR_DESC="archive-get with the container gone: 128, not 'absent'" \
	assert_rc 128 tr_run archive-get "$GETDIR/seg" "${SEGS[-1]}"
assert_contains "$(cat "$TR_LAST_ERR")" "container $CONTAINER not found" "archive-get names the missing container"
assert_not_contains "$(cat "$TR_LAST_ERR")" "$AZ_KEY" "no account key in the message"
azh mkcontainer "$CONTAINER"

# ------------------------------------------------------------------ faults
# Backup, restore, recovery through archive-get and verify through
# faultproxy.py at a 5% fault rate (500, 503, resets, 2 s stalls,
# truncated bodies; seed TR_FAULT_SEED): the retries carry every
# operation through and the restored cluster holds the same data.
section "a cycle through 5% injected faults"
FAULT_SEED=${TR_FAULT_SEED:-5}
faultproxy_start "$TR_TMP/root/proxy.log" --upstream "127.0.0.1:$AZ_PORT" --seed "$FAULT_SEED" \
	--rate 0.05 --faults 500,503,reset,stall,truncate --stall 2 -v ||
	tr_die "faultproxy did not come up: $(tail -n 5 "$TR_TMP/root/proxy.log")"
TR_BG_PIDS+=("$FAULTPROXY_PID")
PROXY_PORT=$FAULTPROXY_PORT
DBID=db-faults
# The endpoint setting wins over the connection string's BlobEndpoint.
# A stall (2 s without a byte) trips the 1 s timeout; 10 retries with backoff.
tr_env_set "TOTALRECALL_DATABASE_ID=$DBID" "TOTALRECALL_S3_ENDPOINT=http://127.0.0.1:$PROXY_PORT/$AZ_ACCOUNT" \
	TOTALRECALL_RETRIES=10 TOTALRECALL_TIMEOUT=1 TOTALRECALL_RETRY_MAX_TIME=120
cycle p2 300
injected=$(grep -c 'inject ' "$TR_TMP/root/proxy.log" || true)
tr_note "faultproxy injected $injected faults (seed $FAULT_SEED): $(sed -n 's/.*inject \([a-z0-9]*\) .*/\1/p' "$TR_TMP/root/proxy.log" | sort | uniq -c | tr '\n' ' ')"
check "faults: the proxy injected faults into the cycle ($injected)" test "$injected" -ge 5
drop_cluster p2
tr_note "total: ${SECONDS}s"
finish
