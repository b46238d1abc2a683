#!/usr/bin/env bash
# The image's entrypoint wrapper (postgres/docker-entrypoint-totalrecall.sh)
# against Debian's PostgreSQL 15, without a Docker engine: the official
# docker-entrypoint.sh is replaced by a minimal stand-in
# (tests/integration/entrypoint/docker-entrypoint.sh) found first on PATH,
# the fs driver stands in for S3, and "a container" is the wrapper run in a
# clean environment as an unprivileged user (trtest) on a data directory.
#
# Cases: missing or unreadable settings stop before any server start; an
# empty repository means the initdb path (official variables, including
# POSTGRES_PASSWORD_FILE, still work; settings and -c arguments merge); a
# backup in the repository means a new container with an empty data directory
# comes back with the data, and with the archiving settings.
# Prints "N passed, N failed".  Set-up steps (stand-in binaries, the
# worker library) are not counted; when one fails the test ends, failed.
set -uo pipefail
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
top_builddir=${top_builddir:-$top_srcdir}
pgbin=${PG_BINDIR:-/usr/lib/postgresql/15/bin}
user=trtest
passed=0 failed=0
ok() { echo "ok - $*"; passed=$((passed + 1)); }
not_ok() { echo "not ok - $*"; failed=$((failed + 1)); }
check() { local what=$1; shift; if "$@"; then ok "$what"; else not_ok "$what"; fi; }
summary() { echo "test_entrypoint: $passed passed, $failed failed"; }
setup() {
	local what=$1
	shift
	if "$@"; then echo "# setup: $what"; else not_ok "setup: $what"; summary; exit 1; fi
}
# wait_until SECONDS CMD...: polls CMD every 0.2 s; 1 when the time is up.
wait_until() {
	local deadline=$((SECONDS + $1))
	shift
	until "$@"; do [ "$SECONDS" -lt "$deadline" ] || return 1; sleep 0.2; done
}
skip_all() { echo "SKIP - $*"; echo "test_entrypoint: 0 passed, 0 failed, 1 skipped"; exit 77; }

[ -x "$pgbin/postgres" ] || skip_all "no PostgreSQL 15 in $pgbin"
[ "$(id -u)" = 0 ] || skip_all "run as root (clusters run as $user)"
# polled: another test run beside this one may hold /etc/passwd's lock
add_user() { id "$user" >/dev/null 2>&1 || useradd --system --home-dir /nonexistent --shell /usr/sbin/nologin "$user"; }
for _ in $(seq 1 150); do add_user 2>/dev/null && break; sleep 0.2; done
setup "user $user exists" id "$user"

work=$(mktemp -d /tmp/tr-entrypoint.XXXXXX)
chmod 755 "$work"
server_pid=
cleanup() {
	[ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT

# PATH of a "container": the stand-in entrypoint, totalrecall, PostgreSQL.
mkdir -p "$work/bin" "$work/repo" "$work/secrets" "$work/sock" "$work/home" "$work/pg"
ln -s "$top_srcdir/tests/integration/entrypoint/docker-entrypoint.sh" "$work/bin/docker-entrypoint.sh"
ln -s "$(cd "$top_builddir/src" && pwd)/totalrecall" "$work/bin/totalrecall"
printf 'correct horse battery staple\n' >"$work/secrets/encryption_key"
printf 's3cr3t-pw\n' >"$work/secrets/pg_password"
chmod 640 "$work/secrets/"*
chown -R "$user:" "$work/repo" "$work/sock" "$work/home" "$work/secrets" "$work/pg"

# The worker library: the real one when built, else a stub module, so that
# shared_preload_libraries=...,totalrecall loads.
libdir=$work/lib
mkdir -p "$libdir"
printf '#include "postgres.h"\n#include "fmgr.h"\nPG_MODULE_MAGIC;\n' >"$work/stub.c"
setup "stub module built" cc -shared -fPIC -I"$("$pgbin/pg_config" --includedir-server)" -o "$work/stub.so" "$work/stub.c"
if [ -f "$top_builddir/postgres/totalrecall.so" ]; then
	cp "$top_builddir/postgres/totalrecall.so" "$libdir/"
	echo "# worker: $top_builddir/postgres/totalrecall.so"
else
	cp "$work/stub.so" "$libdir/totalrecall.so"
	echo "# worker: not built in this tree, using a stub module"
fi
# A second library the user preloads, to see the lists merged.
cp "$work/stub.so" "$libdir/userlib.so"

# shellcheck source=tests/integration/servers.sh
. "$top_srcdir/tests/integration/servers.sh"
port=$(pick_port)

# container PGDATA LOG [VAR=value...] -- [postgres args...]: runs the wrapper
# as $user in a clean environment; background with the pid in $server_pid.
container() {
	local pgdata=$1 log=$2; shift 2
	local envs=()
	while [ $# -gt 0 ] && [ "$1" != -- ]; do envs+=("$1"); shift; done
	[ "${1:-}" = -- ] && shift
	setpriv --reuid="$user" --regid="$user" --clear-groups \
		env -i PATH="$work/bin:$pgbin:/usr/bin:/bin" HOME="$work/home" LANG=C.UTF-8 PGDATA="$pgdata" \
		TOTALRECALL_STATE_DIR="$work/home/state" TOTALRECALL_DRIVER_DIR="$top_builddir/drivers/fs/.libs" \
		TOTALRECALL_KDF_ITERATIONS=1000 "${envs[@]}" \
		bash "$top_srcdir/postgres/docker-entrypoint-totalrecall.sh" "$@" >"$log" 2>&1 &
	server_pid=$!
}
base_env=(TOTALRECALL_DRIVER=fs TOTALRECALL_BUCKET="$work/repo" TOTALRECALL_DATABASE_ID=db-42
	TOTALRECALL_ENCRYPTION_KEY="file:$work/secrets/encryption_key" POSTGRES_USER=alice
	POSTGRES_PASSWORD_FILE="$work/secrets/pg_password" POSTGRES_DB=appdb)
pg_args=(-c "port=$port" -c listen_addresses=127.0.0.1 -c "unix_socket_directories=$work/sock"
	-c "dynamic_library_path=$libdir:\$libdir")

as_user() { setpriv --reuid="$user" --regid="$user" --clear-groups "$@"; }
psql_() {  # over TCP with the password: POSTGRES_PASSWORD_FILE worked
	PGPASSWORD=s3cr3t-pw "$pgbin/psql" -X -qAt -h 127.0.0.1 -p "$port" -U alice -d "${DB:-appdb}" -v ON_ERROR_STOP=1 "$@"
}
wait_ready() {  # until the server accepts queries and is out of recovery
	for _ in $(seq 1 120); do
		kill -0 "$server_pid" 2>/dev/null || return 1
		[ "$(psql_ -c 'select not pg_is_in_recovery()' 2>/dev/null)" = t ] && return 0
		sleep 0.5
	done
	return 1
}
stop_server() {
	kill -INT "$server_pid" 2>/dev/null
	wait "$server_pid" 2>/dev/null
	server_pid=
}
setting() { psql_ -c "show $1"; }

# --- 1. missing or unusable settings: clear message, no server -------------
expect_refusal() {  # NAME EXPECTED-TEXT VAR=value...
	local name=$1 text=$2; shift 2
	local d=$work/pg/refused-$name
	container "$d" "$work/refused-$name.log" "$@" -- "${pg_args[@]}"
	wait "$server_pid"; local rc=$?; server_pid=
	if [ $rc -ne 0 ] && grep -qF "$text" "$work/refused-$name.log" && grep -q "PostgreSQL was not started" "$work/refused-$name.log" &&
		[ ! -e "$d/PG_VERSION" ] && ! grep -q "init process\|database system is ready" "$work/refused-$name.log"; then
		ok "$name: refused before PostgreSQL starts ($(grep -m1 'error:' "$work/refused-$name.log" | cut -c1-110))"
	else
		not_ok "$name (exit $rc)"; sed 's/^/#   /' "$work/refused-$name.log"
	fi
}
no_key=(); for e in "${base_env[@]}"; do [[ $e == TOTALRECALL_ENCRYPTION_KEY=* ]] || no_key+=("$e"); done
expect_refusal missing-key "missing required setting(s) TOTALRECALL_ENCRYPTION_KEY" "${no_key[@]}"
no_drv=(); for e in "${base_env[@]}"; do [[ $e == TOTALRECALL_DRIVER=* ]] || no_drv+=("$e"); done
# s3 (the default driver): static keys come as a pair, or not at all (the
# AWS credential chain: IRSA, ECS, instance metadata); pinned to static
# keys, both are needed.
expect_refusal s3-half-a-key-pair "missing required setting(s) AWS_SECRET_ACCESS_KEY (driver s3)" "${no_drv[@]}" \
	AWS_ACCESS_KEY_ID=AKIDEXAMPLE
expect_refusal s3-static-needs-keys "AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY (driver s3)" "${no_drv[@]}" \
	TOTALRECALL_S3_CREDENTIALS=static
expect_refusal unreadable-secret "cannot read /nonexistent/key" "${base_env[@]}" \
	TOTALRECALL_ENCRYPTION_KEY=file:/nonexistent/key
expect_refusal both-key-forms "both TOTALRECALL_ENCRYPTION_KEY and TOTALRECALL_ENCRYPTION_KEY_FILE" "${base_env[@]}" \
	TOTALRECALL_ENCRYPTION_KEY_FILE="$work/secrets/encryption_key"

# --- 2. empty repository: the initdb path ------------------------------------
d1=$work/pg/data1
container "$d1" "$work/c1.log" "${base_env[@]}" -- "${pg_args[@]}" -c archive_timeout=123 \
	-c shared_preload_libraries=userlib -c work_mem=7MB
if wait_ready; then
	ok "empty repository: initdb, server up (password from POSTGRES_PASSWORD_FILE, user alice, database appdb)"
	check "no restore happened (log says so)" grep -q "no backup in the repository" "$work/c1.log"
	check "archive_mode = on" test "$(setting archive_mode)" = on
	check "archive_command runs totalrecall archive-put" \
		test "$(setting archive_command)" = "$work/bin/totalrecall archive-put %p"
	check "restore_command runs totalrecall archive-get" \
		test "$(setting restore_command)" = "$work/bin/totalrecall archive-get %p %f"
	check "user's -c archive_timeout=123 wins" test "$(setting archive_timeout)" = 123s
	check "user's -c work_mem kept" test "$(setting work_mem)" = 7MB
	check "shared_preload_libraries merged: userlib,totalrecall" \
		test "$(setting shared_preload_libraries)" = "userlib,totalrecall"
	psql_ -c "create table t(i int); insert into t select generate_series(1, 1000)"
	DB=postgres psql_ -c "select pg_switch_wal()" >/dev/null
	for _ in $(seq 1 60); do
		[ "$(psql_ -c 'select archived_count > 0 from pg_stat_archiver')" = t ] && break; sleep 0.5
	done
	check "WAL archived into the repository" test -n "$(find "$work/repo/db-42/wal" -type f 2>/dev/null | head -1)"
	# A base backup, then more rows only in the WAL after it.
	if as_user env -i PATH="$work/bin:$pgbin:/usr/bin:/bin" HOME="$work/home" TOTALRECALL_STATE_DIR="$work/home/state" \
		TOTALRECALL_DRIVER=fs TOTALRECALL_BUCKET="$work/repo" TOTALRECALL_DATABASE_ID=db-42 \
		TOTALRECALL_ENCRYPTION_KEY="file:$work/secrets/encryption_key" \
		TOTALRECALL_DRIVER_DIR="$top_builddir/drivers/fs/.libs" \
		TOTALRECALL_PG_CONNINFO="host=$work/sock port=$port user=alice dbname=postgres" \
		totalrecall backup >"$work/backup.log" 2>&1; then
		ok "totalrecall backup of the running server"
	else
		not_ok "totalrecall backup"; sed 's/^/#   /' "$work/backup.log"
	fi
	psql_ -c "insert into t select generate_series(1001, 1500)"
	DB=postgres psql_ -c "select pg_switch_wal()" >/dev/null
	n0=$(psql_ -c 'select archived_count from pg_stat_archiver')
	for _ in $(seq 1 60); do
		[ "$(psql_ -c "select archived_count > $n0 or last_archived_wal >= pg_walfile_name(pg_current_wal_lsn()) from pg_stat_archiver" 2>/dev/null)" = t ] && break
		sleep 0.5
	done
	stop_server
else
	not_ok "empty repository: server did not start"; sed 's/^/#   /' "$work/c1.log"
	stop_server
fi

# --- 3. a new container, same database id: restored --------------------------
d2=$work/pg/data2
container "$d2" "$work/c2.log" "${base_env[@]}" -- "${pg_args[@]}"
if wait_ready; then
	ok "new container with an empty data directory: restored and started"
	check "log says it restored" grep -q "restored: PostgreSQL will recover" "$work/c2.log"
	check "initdb did not run" bash -c "! grep -q 'init process complete' '$work/c2.log'"
	check "rows of the backup and of the WAL after it are back (1500)" test "$(psql_ -c 'select count(*) from t')" = 1500
	check "archive_mode = on after restore" test "$(setting archive_mode)" = on
	check "archive_command after restore" test "$(setting archive_command)" = "$work/bin/totalrecall archive-put %p"
	check "archive_timeout defaults to 600 s (10min)" test "$(setting archive_timeout)" = 10min
	check "shared_preload_libraries = totalrecall after restore" test "$(setting shared_preload_libraries)" = totalrecall
	check "restore_command is the one restore wrote (postgresql.auto.conf)" \
		bash -c "[[ \"\$(PGPASSWORD=s3cr3t-pw $pgbin/psql -X -qAt -h 127.0.0.1 -p $port -U alice -d appdb -c 'show restore_command')\" == *totalrecall_restore.conf* ]]"
	DB=postgres psql_ -c 'select pg_switch_wal()' >/dev/null
	new_timeline_archived() {
		ls "$work"/repo/db-42/wal/*.history >/dev/null 2>&1 || find "$work/repo/db-42/wal" -name '00000002*' | grep -q .
	}
	check "new timeline archives too" wait_until 60 new_timeline_archived
	stop_server
else
	not_ok "restore path: server did not start"; sed 's/^/#   /' "$work/c2.log"
	stop_server
fi

# --- 4. the same data directory again: no restore, settings recomputed -------
container "$d2" "$work/c3.log" "${base_env[@]}" -- "${pg_args[@]}" -c archive_mode=always
if wait_ready; then
	check "restart on an existing data directory: no restore attempted" bash -c "! grep -q 'empty data directory' '$work/c3.log'"
	check "user's -c archive_mode=always wins" test "$(setting archive_mode)" = always
	check "data still there" test "$(psql_ -c 'select count(*) from t')" = 1500
	stop_server
else
	not_ok "restart: server did not start"; sed 's/^/#   /' "$work/c3.log"
	stop_server
fi

summary
[ "$failed" -eq 0 ]
