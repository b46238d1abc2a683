# shellcheck shell=bash
# tests/integration/lib_verify.sh - the few helpers test_verify.sh,
# test_crash.sh and test_bad_input.sh need, until the shared harness
# (lib.sh, branch pg) is on main.  Names follow lib.sh where they overlap.
#
#   . "$(dirname "$0")/lib_verify.sh"
#   lv_init verify                 # temp dir, server user, cleanup trap
#   lv_start_pg                    # PostgreSQL 15 archiving to the fs driver
#   tr_run verify                  # totalrecall as the server user; sets OUT, ERR, RC
#   finish                         # last line: "verify: N passed, M failed"
#
# Counting as in lib.sh: pass/fail/assert_* are assertions about
# TotalRecall; `setup DESC CMD...` is a set-up step ("# setup: DESC" when
# it works, not counted; one failure and the end when it does not);
# `skip DESC` is what cannot run here (counted apart, never a pass).
#
# PostgreSQL refuses root: when run as root, servers and totalrecall run as
# the system user trtest (created if missing).  Waits are bounded polls.

LV_NAME=test
LV_TMP=""
LV_PASS=0
LV_FAIL=0
LV_SKIP=0
LV_USER=""
LV_PGBIN=/usr/lib/postgresql/15/bin
LV_PGDATA=""
LV_PORT=""
OUT="" ERR="" RC=0

pass() { LV_PASS=$((LV_PASS + 1)); printf 'ok - %s\n' "$*" >&7; }
fail() { LV_FAIL=$((LV_FAIL + 1)); printf 'FAIL - %s\n' "$*" >&7; }
note() { printf '# %s\n' "$*"; }
setup() { if "${@:2}"; then note "setup: $1"; else die "setup: $1"; fi; }
skip() { LV_SKIP=$((LV_SKIP + 1)); printf 'SKIP - %s\n' "$*" >&7; }

finish() {
	trap - EXIT
	lv_cleanup
	# fd 7 is the script's stdout: finish may run from a trap inside a
	# redirected command.
	echo "$LV_NAME: $LV_PASS passed, $LV_FAIL failed$([ "$LV_SKIP" -eq 0 ] || echo ", $LV_SKIP skipped")" >&7
	[ "$LV_FAIL" -eq 0 ] && exit 0
	exit 1
}

die() { fail "$*"; finish; }

# as_user CMD...: runs CMD as the unprivileged user (or as is, when not root).
as_user() {
	if [ -n "$LV_USER" ]; then runuser -u "$LV_USER" -- "$@"; else "$@"; fi
}

lv_cleanup() {
	if [ -n "$LV_PGDATA" ] && [ -f "$LV_PGDATA/postmaster.pid" ]; then
		as_user "$LV_PGBIN/pg_ctl" -D "$LV_PGDATA" -m immediate -w stop >/dev/null 2>&1 || true
	fi
	if [ -n "$LV_TMP" ] && [ -z "${TR_KEEP:-}" ]; then rm -rf "$LV_TMP"; fi
}

# wait_until SECONDS CMD...: polls CMD every 0.1 s until it succeeds; 1 on timeout.
wait_until() {
	local deadline=$((SECONDS + $1))
	shift
	until "$@"; do
		[ "$SECONDS" -ge "$deadline" ] && return 1
		sleep 0.1
	done
}

lv_add_user() { id trtest >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin trtest; }

lv_init() {
	LV_NAME=$1
	exec 7>&1
	top_builddir=${top_builddir:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
	LV_BIN=$top_builddir/src/totalrecall
	LV_DRIVERS=$top_builddir/drivers/fs/.libs
	[ -x "$LV_BIN" ] || { echo "$LV_NAME: $LV_BIN not built"; echo "$LV_NAME: 0 passed, 1 failed"; exit 1; }
	[ -f "$LV_DRIVERS/fs.so" ] || { echo "$LV_NAME: fs driver not built"; echo "$LV_NAME: 0 passed, 1 failed"; exit 1; }
	if [ "$(id -u)" = 0 ]; then
		# polled: another test run beside this one may hold /etc/passwd's lock
		wait_until 30 lv_add_user || { echo "$LV_NAME: cannot create the user trtest"; echo "$LV_NAME: 0 passed, 1 failed"; exit 1; }
		LV_USER=trtest
	fi
	LV_TMP=$(mktemp -d "/tmp/tr-$LV_NAME.XXXXXX")
	chmod 0755 "$LV_TMP"
	[ -n "$LV_USER" ] && chown "$LV_USER" "$LV_TMP"
	trap finish EXIT
	trap 'fail "unexpected failure at line $LINENO: $BASH_COMMAND"' ERR
	trap 'fail "interrupted"; finish' INT TERM
	LV_REPO=$LV_TMP/repo
	as_user mkdir -p "$LV_REPO" "$LV_TMP/state"
	# The binary and drivers must be reachable by the server user.
	cp "$LV_BIN" "$LV_TMP/totalrecall"
	mkdir -p "$LV_TMP/drivers" && cp "$LV_DRIVERS/fs.so" "$LV_TMP/drivers/"
	chmod -R a+rX "$LV_TMP/totalrecall" "$LV_TMP/drivers"
	LV_BIN=$LV_TMP/totalrecall
	LV_ENV=(TOTALRECALL_DRIVER=fs "TOTALRECALL_DRIVER_DIR=$LV_TMP/drivers" "TOTALRECALL_BUCKET=$LV_REPO"
		TOTALRECALL_DATABASE_ID=db1 TOTALRECALL_ENCRYPTION_KEY=correct-horse-battery-staple
		"TOTALRECALL_STATE_DIR=$LV_TMP/state" TOTALRECALL_KDF_ITERATIONS=1000 TOTALRECALL_PARALLEL=2)
}

# tr_run ARGS...: totalrecall as the server user with LV_ENV (plus the
# space-separated VAR=value words of LV_EXTRA, which callers set as a
# prefix: LV_EXTRA="A=1" tr_run ...); OUT, ERR and RC hold the result.
tr_run() {
	set +e
	local -a extra=()
	[ -z "${LV_EXTRA:-}" ] || read -r -a extra <<<"$LV_EXTRA"
	as_user env "${LV_ENV[@]}" ${extra[@]+"${extra[@]}"} "$LV_BIN" "$@" >"$LV_TMP/out" 2>"$LV_TMP/err"
	RC=$?
	set -e
	OUT=$(cat "$LV_TMP/out")
	ERR=$(cat "$LV_TMP/err")
}

assert_rc() { # EXPECTED DESC
	if [ "$RC" = "$1" ]; then pass "$2 (exit $RC)"; else fail "$2 (expected exit $1, got $RC): ${OUT:0:300} ${ERR:0:500}"; fi
}

assert_contains() { # HAYSTACK NEEDLE DESC
	if grep -qiF -- "$2" <<<"$1"; then pass "$3"; else fail "$3: '$2' not in: ${1:0:800}"; fi
}

assert_not_contains() { # HAYSTACK NEEDLE DESC
	if grep -qiF -- "$2" <<<"$1"; then fail "$3: '$2' found"; else pass "$3"; fi
}

free_port() {
	local p
	for p in $(seq 55432 55532); do
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return 0; fi
	done
	return 1
}

psql_q() { as_user "$LV_PGBIN/psql" -U postgres -h "$LV_TMP/sock" -p "$LV_PORT" -d postgres -XAtq -c "$1"; }

# lv_start_pg: initdb and start a cluster whose archive_command is
# totalrecall archive-put on the fs repository.
lv_start_pg() {
	LV_PGDATA=$LV_TMP/pgdata
	LV_PORT=$(free_port)
	as_user mkdir -p "$LV_TMP/sock"
	as_user "$LV_PGBIN/initdb" -D "$LV_PGDATA" -A trust -U postgres --no-sync >"$LV_TMP/initdb.log" 2>&1 ||
		die "initdb failed: $(tail -5 "$LV_TMP/initdb.log")"
	# The settings go to a config file, not the command line: PostgreSQL
	# logs a failed archive_command, and it must not log a secret.
	local kv
	for kv in "${LV_ENV[@]}"; do printf '%s = %s\n' "${kv%%=*}" "${kv#*=}"; done >"$LV_TMP/archive.conf"
	chmod 0600 "$LV_TMP/archive.conf"
	[ -z "$LV_USER" ] || chown "$LV_USER" "$LV_TMP/archive.conf"
	cat >>"$LV_PGDATA/postgresql.conf" <<CONF
port = $LV_PORT
listen_addresses = ''
unix_socket_directories = '$LV_TMP/sock'
archive_mode = on
archive_command = '$LV_BIN -c $LV_TMP/archive.conf archive-put %p'
wal_level = replica
fsync = off
CONF
	as_user "$LV_PGBIN/pg_ctl" -D "$LV_PGDATA" -l "$LV_TMP/server.log" -w -t 60 start >/dev/null ||
		die "PostgreSQL did not start: $(tail -5 "$LV_TMP/server.log")"
	LV_ENV+=("TOTALRECALL_PG_CONNINFO=host=$LV_TMP/sock port=$LV_PORT user=postgres dbname=postgres")
}

# Name of the WAL file being written now, after a switch.
pg_switch() { psql_q "select pg_walfile_name(pg_switch_wal())"; }

archived() { [ -f "$LV_REPO/db1/wal/${1:0:16}/$1" ]; }

# pg_wait_archived NAME: bounded wait until NAME is in the repository.
pg_wait_archived() { wait_until 60 archived "$1"; }

# pg_new_segment: switches WAL (after some writes, so the switch happens)
# and waits until the finished segment is archived; its name is left in
# SEG (not printed: a failure inside $(...) would not reach the counters).
SEG=""
pg_new_segment() {
	psql_q "create table if not exists t(x int); insert into t select generate_series(1,1000)" >/dev/null 2>&1
	SEG=$(pg_switch)
	pg_wait_archived "$SEG" || die "WAL $SEG was not archived: $(tail -5 "$LV_TMP/server.log")"
}

# flip_byte FILE [OFFSET]: inverts one byte (default: the middle one).
flip_byte() {
	local f=$1 size off
	size=$(stat -c %s "$f")
	off=${2:-$((size / 2))}
	python3 - "$f" "$off" <<'PY'
import sys
p, off = sys.argv[1], int(sys.argv[2])
with open(p, 'r+b') as f:
    f.seek(off); b = f.read(1); f.seek(off); f.write(bytes([b[0] ^ 0xFF]))
PY
}

seg_path() { echo "$LV_REPO/db1/wal/${1:0:16}/$1"; }
