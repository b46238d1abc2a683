# shellcheck shell=bash
# tests/integration/bt_common.sh - helpers shared by test_backup_restore.sh
# and test_retention.sh (sourced after lib.sh and tr_init).

# The state of pgbench_accounts: count, sum of balances, and a checksum of
# every (aid, abalance) pair.
STATE_SQL="SELECT count(*), sum(abalance), md5(string_agg(aid::text||':'||abalance::text, ',' ORDER BY aid)) FROM pgbench_accounts"

section() {
	tr_note "== $* (at ${SECONDS}s)"
}

# repo_setup DBID [PREFIX]: the fs repository settings in $TR_ENV; sets
# BUCKET, REPO (the repository directory), KEYFILE.
repo_setup() {
	local dbid=$1
	KEY="backup restore key $$-$RANDOM"
	BUCKET=$(pg_scratch bucket)
	REPO=$BUCKET/$dbid
	tr_write_keyfile "$KEY"
	tr_env_set TOTALRECALL_DRIVER=fs "TOTALRECALL_BUCKET=$BUCKET" \
		"TOTALRECALL_DATABASE_ID=$dbid" "TOTALRECALL_ENCRYPTION_KEY=file:$KEYFILE" \
		TOTALRECALL_KDF_ITERATIONS=1000 "TOTALRECALL_STATE_DIR=$TR_TMP/state" \
		TOTALRECALL_LOG_LEVEL=info TOTALRECALL_PARALLEL=2
	# shellcheck disable=SC2034  # used by the test scripts
	ARCHIVE_CONF=("wal_level = replica" "archive_mode = on"
		"archive_command = '$TR_BIN archive-put %p'" "checkpoint_timeout = '1h'"
		"max_wal_size = '4GB'" "autovacuum = off")
}


# pg_env NAME: the libpq variables that reach cluster NAME, as VAR=VALUE
# words for tr_run.
pg_env() {
	printf '%s\n' "PGHOST=${PG_SOCK[$1]}" "PGPORT=${PG_PORT[$1]}" "PGUSER=$TR_SRV_USER" PGDATABASE=postgres
}

# tr_on NAME ARGS...: totalrecall connected to cluster NAME.
tr_on() {
	local name=$1
	shift
	local -a e
	mapfile -t e < <(pg_env "$name")
	tr_run "${e[@]}" "$@"
}

# Backup labels have a resolution of one second: the next backup waits
# (bounded) until the second of the previous one has passed.
LAST_BACKUP_END=0
next_second() { [ "$(date +%s)" -gt "$LAST_BACKUP_END" ]; }

# do_backup NAME [ARGS...]: a backup of cluster NAME, asserted to succeed;
# prints nothing, sets LAST_LABEL (the newest label in list --json).
LAST_LABEL=""
do_backup() {
	local name=$1 t0=$SECONDS
	shift
	wait_until 5 next_second || true
	TR_DESC="backup of $name $*" assert_rc 0 tr_on "$name" "$@" backup
	LAST_BACKUP_END=$(date +%s)
	cp "$TR_LAST_ERR" "$TR_TMP/root/backup-$LAST_BACKUP_END.err"
	LAST_LABEL=$(list_labels | tail -n 1)
	tr_note "backup $LAST_LABEL of $name took $((SECONDS - t0)) s: $(grep -o 'complete.*' "$TR_TMP/root/backup-$LAST_BACKUP_END.err" | head -n 1)"
}

# list_json: list --json into $TR_TMP/root/list.json (fatal when it fails).
list_json() {
	tr_run list --json >"$TR_TMP/root/list-cmd.json" 2>"$TR_TMP/root/list.err" ||
		tr_die "list --json failed: $(cat "$TR_TMP/root/list.err")"
	cat "$TR_TMP/root/list-cmd.json"
}

# jq_py EXPR: evaluates a python expression over j = the list --json output
# (read from stdin); prints the result (lists one item a line).
jq_py() {
	python3 -c '
import json, sys
j = json.load(sys.stdin)
r = eval(sys.argv[1])
if isinstance(r, list):
    for x in r: print(x)
else:
    print(r)' "$1"
}

# list_labels: labels of the listed backups, in list order.
list_labels() { list_json | jq_py '[b["label"] for b in j["backups"]]'; }

# backup_field LABEL FIELD
backup_field() {
	list_json | jq_py "[b['$2'] for b in j['backups'] if b['label'] == '$1'][0]"
}

# psql_state NAME: the state of pgbench_accounts on cluster NAME.
psql_state() { psql_q "$1" "$STATE_SQL"; }

# sql_time NAME: the server's clock, microseconds, UTC, as restore and
# PostgreSQL both read it.
sql_time() {
	psql_q "$1" "SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') || '+00'"
}

# chunk_files: the chunk objects of the repository, one path a line, sorted.
chunk_files() {
	if [ -d "$REPO/chunks" ]; then find "$REPO/chunks" -type f -name 'c*' | sort; fi
}

# repo_listing: every object of the repository with its size.
repo_listing() {
	(cd "$REPO" && find . -type f -printf '%P %s\n' | sort)
}

# restore_to NAME [ARGS...]: registers cluster NAME and restores into its
# (new) data directory; the status is asserted to be 0.
restore_to() {
	local name=$1
	shift
	pg_register "$name" "$TR_TMP/pg-$name/data" || tr_die "cannot register $name"
	TR_DESC="restore into $name $*" assert_rc 0 tr_run "$@" restore "${PG_DATA[$name]}"
	cp "$TR_LAST_ERR" "$TR_TMP/root/restore-$name.err"
}

# restored_backup NAME: the label restore said it restored into NAME.
restored_backup() {
	sed -n 's/.*restore: backup \([^ ]*\) into.*/\1/p' "$TR_TMP/root/restore-$1.err" | head -n 1
}

# start_restored NAME [conf lines]: starts a restored cluster that does not
# archive (its postgresql.conf comes from the backup, whose archive_command
# would write into the same repository after promotion).
start_restored() {
	local name=$1
	shift
	pg_conf "$name" "# --- restored by the test" "archive_mode = off" "$@"
	if pg_start "$name"; then
		pass "$name started"
	else
		fail "$name did not start: $(tail -n 5 "${PG_LOG[$name]}" | tr '\n' '|')"
		return 1
	fi
}

# drop_cluster NAME: stops it and removes its data directory (disk space).
drop_cluster() {
	local name=$1
	if [ -f "${PG_DATA[$name]}/postmaster.pid" ]; then
		pg_stop_cluster "$name" immediate >/dev/null 2>&1 || true
	fi
	rm -rf "${PG_DATA[$name]}"
}

# kill_tagged TAG: pids of the totalrecall processes whose environment has
# TR_KILL_TAG=TAG (started by this test).
tagged_pids() {
	local f pid comm
	for f in /proc/[0-9]*/environ; do
		pid=${f#/proc/}
		pid=${pid%/environ}
		comm=$(cat "/proc/$pid/comm" 2>/dev/null) || continue
		case $comm in *totalrecall*) ;; *) continue ;; esac
		if { tr '\0' '\n' <"$f"; } 2>/dev/null | grep -qxF "TR_KILL_TAG=$1"; then
			printf '%s\n' "$pid"
		fi
	done
}
has_tagged() { [ -n "$(tagged_pids "$1")" ]; }

# sql_true NAME SQL: true when the query returns t.
sql_true() { [ "$(psql_q "$1" "$2" 2>/dev/null)" = t ]; }

# start_fails NAME: true when pg_ctl cannot start what is in NAME's data
# directory (stopped again if it did start).
start_fails() {
	local name=$1
	[ -d "${PG_DATA[$name]}" ] || return 0
	if as_pg "$(pg_bin)/pg_ctl" -D "${PG_DATA[$name]}" -l "${PG_LOG[$name]}" -w -t 20 start >/dev/null 2>&1; then
		pg_stop_cluster "$name" immediate >/dev/null 2>&1 || true
		return 1
	fi
	return 0
}

# file_bytes DIR: the sum of the sizes of the files below DIR.
file_bytes() {
	if [ -d "$1" ]; then find "$1" -type f -printf '%s\n' | awk '{s += $1} END {print s + 0}'; else echo 0; fi
}

# repotool ARGS...: decoded repository objects (tests/tools/repotool, built
# by make check), run as the server user with the base environment.
repotool() {
	local tool=$top_builddir/tests/tools/repotool
	[ -x "$tool" ] || tr_die "$tool not built (make check builds it)"
	if [ -n "$TR_DRIVER_DIR" ]; then
		[ -x "$TR_TMP/bin/repotool" ] || { cp "$tool" "$TR_TMP/bin/repotool" && chmod a+rx "$TR_TMP/bin/repotool"; }
		tool=$TR_TMP/bin/repotool
	fi
	as_pg env -i "${TR_ENV[@]}" "$tool" "$@"
}
