# shellcheck shell=bash
# tests/integration/lib.sh - harness for the PostgreSQL integration tests.
#
# Sourced by tests/integration/test_*.sh (after `set -euo pipefail`):
#
#   . "$(dirname "$0")/lib.sh"
#   tr_init archive              # temp dir, server user, cleanup trap
#   setup "p1 started" pg_start_cluster p1 "archive_mode = on" ...
#   assert_rc 0 tr_run archive-put pg_wal/000000010000000000000001
#   finish                       # last line: "archive: N passed, M failed"
#
# Checks and set-up steps (the totals CI prints count assertions only):
#   check DESC CMD..., assert_eq, assert_rc, assert_contains, ... assert
#     something about TotalRecall's behaviour (its exit status, output,
#     what it stored or restored, what a server it drives does): a pass or
#     a failure is counted.
#   setup DESC CMD... prepares the ground: starting a fresh cluster or a
#     stand-in server, creating a bucket, loading data, undoing the test's
#     own damage (a byte flipped back), and preconditions that make later
#     checks meaningful ("set-up: the two timelines differ").  Success
#     prints "# setup: DESC" and counts nothing; failure prints
#     "FAIL - setup: DESC", counts one failure and ends the script
#     (finish), since the checks after it would be meaningless.
#     `CMD || tr_die "why"` is the same for a step that needs no note.
#   skip DESC: something that cannot run here (no network namespaces...);
#     printed "SKIP - DESC" and counted apart, never as a pass.
# A failing check always fails: there is no "known issue" escape.
#
# PostgreSQL refuses to run as root: when the tests run as root the servers,
# the client programs and the totalrecall binary all run as the unprivileged
# system user `trtest` (created if missing); otherwise as the current user.
# Every temp file lives below $TR_TMP, which that user owns; the EXIT trap
# stops every server started here (immediate mode) and removes $TR_TMP, also
# when the test fails or is interrupted.  TR_KEEP=1 keeps $TR_TMP.
#
# Waiting is always a bounded poll on the condition itself (wait_until),
# never a fixed sleep used as synchronisation.

# ---------------------------------------------------------------- globals
TR_NAME=${TR_NAME:-test}
TR_TMP=""
TR_PASS=0
TR_FAIL=0
TR_SKIP=0
TR_SRV_USER=""
TR_BIN=""
TR_LAST_RC=0
TR_LAST_OUT=""
TR_LAST_ERR=""
TR_ENV=()
TR_ENV_BUILT=()
TR_ENV_SHIFT=0
TR_DRIVER_DIR=""
TR_BG_PIDS=()
TR_CLUSTERS=()
TR_PORTS_USED=()
# PG_DIR[NAME] is the cluster's own directory (data/, sock/, server.log).
declare -gA PG_DATA=() PG_PORT=() PG_SOCK=() PG_LOG=() PG_DIR=()

# ---------------------------------------------------------------- output
tr_log() { printf '%s\n' "$*"; }
tr_note() { printf '# %s\n' "$*"; }
tr_die() {
	printf 'FATAL - %s\n' "$*"
	TR_FAIL=$((TR_FAIL + 1))
	finish
}

pass() {
	TR_PASS=$((TR_PASS + 1))
	printf 'ok - %s\n' "$*"
}

fail() {
	TR_FAIL=$((TR_FAIL + 1))
	printf 'FAIL - %s\n' "$*"
}

# setup DESC CMD...: a set-up step (see the top of this file): runs CMD;
# "# setup: DESC" when it succeeds (not counted), else one failure and
# the end of the script.
setup() {
	local desc=$1
	shift
	if "$@"; then
		tr_note "setup: $desc"
	else
		fail "setup: $desc"
		finish
	fi
}

# skip DESC: a part that cannot run here, counted apart (never a pass).
skip() {
	TR_SKIP=$((TR_SKIP + 1))
	printf 'SKIP - %s\n' "$*"
}

# check DESC CMD...: passes when CMD succeeds.
check() {
	local desc=$1
	shift
	if "$@"; then pass "$desc"; else fail "$desc"; fi
}

assert_eq() { # EXPECTED ACTUAL [DESC]
	local desc=${3:-"'$2' = '$1'"}
	if [ "$1" = "$2" ]; then
		pass "$desc"
	else
		fail "$desc (expected '$1', got '$2')"
	fi
}

assert_ne() { # UNEXPECTED ACTUAL [DESC]
	local desc=${3:-"'$2' != '$1'"}
	if [ "$1" != "$2" ]; then
		pass "$desc"
	else
		fail "$desc (got '$2')"
	fi
}

# assert_rc EXPECTED CMD...: runs CMD, stdout to $TR_LAST_OUT and stderr to
# $TR_LAST_ERR (files), its status in $TR_LAST_RC.  TR_DESC, when set,
# describes the check instead of the command line.
assert_rc() {
	local expected=$1
	shift
	local desc=${TR_DESC:-"$*"}
	TR_LAST_RC=0
	"$@" >"$TR_LAST_OUT" 2>"$TR_LAST_ERR" || TR_LAST_RC=$?
	if [ "$TR_LAST_RC" = "$expected" ]; then
		pass "exit $expected: $desc"
	else
		fail "exit $expected: $desc (got $TR_LAST_RC; stderr: $(head -c 600 "$TR_LAST_ERR" | tr '\n' '|'))"
	fi
}

assert_contains() { # HAYSTACK NEEDLE [DESC] (case-insensitive)
	local desc=${3:-"contains '$2'"}
	if grep -qiF -- "$2" <<<"$1"; then
		pass "$desc"
	else
		fail "$desc (in: $(head -c 600 <<<"$1" | tr '\n' '|'))"
	fi
}

assert_not_contains() { # HAYSTACK NEEDLE [DESC]
	local desc=${3:-"does not contain '$2'"}
	if grep -qF -- "$2" <<<"$1"; then
		fail "$desc"
	else
		pass "$desc"
	fi
}

assert_file_absent() { # PATH [DESC]
	local desc=${2:-"no file $1"}
	if [ -e "$1" ] || [ -L "$1" ]; then fail "$desc"; else pass "$desc"; fi
}

assert_file_exists() { # PATH [DESC]
	local desc=${2:-"file $1 exists"}
	if [ -f "$1" ]; then pass "$desc"; else fail "$desc"; fi
}

assert_same_file() { # A B [DESC]
	local desc=${3:-"$1 and $2 are identical"}
	if [ -f "$1" ] && [ -f "$2" ] && cmp -s "$1" "$2"; then
		pass "$desc"
	else
		fail "$desc"
	fi
}

# Number of lines in a file (0 for an empty one).
line_count() { wc -l <"$1" | tr -d ' '; }

# finish: prints the summary as the very last line, exits 0 only when no
# check failed.  The EXIT trap cleans up afterwards without printing.
finish() {
	local name
	if [ "$TR_FAIL" -ne 0 ] && [ -n "$TR_TMP" ]; then
		for name in "${TR_CLUSTERS[@]}"; do
			if [ -f "${PG_LOG[$name]}" ]; then
				tr_note "--- last lines of the server log of $name"
				tail -n 25 "${PG_LOG[$name]}" | sed 's/^/# /'
			fi
		done
	fi
	printf '%s: %d passed, %d failed%s\n' "$TR_NAME" "$TR_PASS" "$TR_FAIL" \
		"$([ "$TR_SKIP" -eq 0 ] || printf ', %d skipped' "$TR_SKIP")"
	[ "$TR_FAIL" -eq 0 ] && exit 0
	exit 1
}

# ---------------------------------------------------------------- users
# as_pg CMD...: runs CMD as the server user, with the caller's environment.
as_pg() {
	if [ "$(id -u)" -eq 0 ]; then
		runuser -u "$TR_SRV_USER" -- "$@"
	else
		"$@"
	fi
}

tr_setup_user() {
	if [ "$(id -u)" -ne 0 ]; then
		TR_SRV_USER=$(id -un)
		return 0
	fi
	TR_SRV_USER=${TR_SERVER_USER:-trtest}
	# Polled: tests run two at a time (make -j2 check) may both create it,
	# and useradd fails while the other one holds /etc/passwd's lock.
	wait_until 30 tr_add_user || tr_die "cannot create the system user $TR_SRV_USER"
}

tr_add_user() {
	getent passwd "$TR_SRV_USER" >/dev/null ||
		useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$TR_SRV_USER"
}

# ---------------------------------------------------------------- setup
tr_cleanup() {
	local name pid
	set +e
	for pid in "${TR_BG_PIDS[@]}"; do
		kill "$pid" 2>/dev/null
	done
	for name in "${TR_CLUSTERS[@]}"; do
		if [ -f "${PG_DATA[$name]}/postmaster.pid" ]; then
			as_pg "$(pg_bin)/pg_ctl" -D "${PG_DATA[$name]}" -m immediate -w -t 30 stop >/dev/null 2>&1
		fi
	done
	# Detached children (archive-get's prefetcher) get a few seconds to
	# finish, then are ended by pid.
	if [ -n "$TR_TMP" ] && ! wait_until 10 tr_no_strays; then
		for pid in $(tr_strays); do
			kill -KILL "$pid" 2>/dev/null
		done
	fi
	if [ -n "$TR_TMP" ] && [ -d "$TR_TMP" ]; then
		if [ "${TR_KEEP:-0}" = 1 ]; then
			printf '# kept %s\n' "$TR_TMP" >&2
		else
			rm -rf "$TR_TMP"
		fi
	fi
}

# tr_strays: pids of the processes started by this test that are still
# running: every program it starts has HOME=$TR_TMP/home.
tr_strays() {
	local f pid
	for f in /proc/[0-9]*/environ; do
		pid=${f#/proc/}
		pid=${pid%/environ}
		[ "$pid" = "$$" ] && continue
		if tr '\0' '\n' <"$f" 2>/dev/null | grep -qxF "HOME=$TR_TMP/home"; then
			printf '%s\n' "$pid"
		fi
	done
}

tr_no_strays() { [ -z "$(tr_strays)" ]; }

# tr_init NAME: the summary name, the temp dir, the server user, the trap,
# the totalrecall binary ($TR_BIN) and its base environment ($TR_ENV).
tr_init() {
	TR_NAME=$1
	local here
	here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
	: "${top_srcdir:=$(cd "$here/../.." && pwd)}"
	: "${top_builddir:=$top_srcdir}"
	export top_srcdir top_builddir LC_ALL=C
	tr_setup_user
	trap tr_cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	TR_TMP=$(mktemp -d "${TMPDIR:-/tmp}/totalrecall-$TR_NAME.XXXXXX")
	chmod 0755 "$TR_TMP"
	if [ "$(id -u)" -eq 0 ]; then
		chown "$TR_SRV_USER" "$TR_TMP"
	fi
	as_pg test -w "$TR_TMP" ||
		tr_die "$TR_TMP is not writable by $TR_SRV_USER (set TMPDIR to a directory it can reach)"
	mkdir -p "$TR_TMP/root"
	TR_LAST_OUT=$TR_TMP/root/last.out
	TR_LAST_ERR=$TR_TMP/root/last.err
	as_pg mkdir -p "$TR_TMP/home" "$TR_TMP/state"
	tr_find_binary
	# The server user's programs start in a directory they can enter.
	cd "$TR_TMP" || tr_die "cannot cd to $TR_TMP"
}

# The binary and the fs driver must be reachable by the server user; when
# the build tree is not (e.g. below /root), they are copied below $TR_TMP.
tr_find_binary() {
	local bin=$top_builddir/src/totalrecall d
	[ -x "$bin" ] || tr_die "$bin not built (run make first)"
	for d in fs s3 minio; do
		[ -f "$top_builddir/drivers/$d/.libs/$d.so" ] || tr_die "drivers/$d not built (run make first)"
	done
	TR_ENV=("PATH=/usr/local/bin:/usr/bin:/bin" "HOME=$TR_TMP/home" "LC_ALL=C")
	# Under tests/sanitize.sh: LeakSanitizer's settings reach the commands
	# run with a clean environment too (see use_tls there).
	[ -n "${LSAN_OPTIONS:-}" ] && TR_ENV+=("LSAN_OPTIONS=$LSAN_OPTIONS")
	if as_pg test -x "$bin" && as_pg test -r "$top_builddir/drivers/fs/.libs/fs.so"; then
		# In place: the binary finds the build tree's drivers by itself.
		TR_BIN=$bin
		TR_DRIVER_DIR=
		return 0
	fi
	mkdir -p "$TR_TMP/bin" "$TR_TMP/drivers"
	if [ -x "$top_builddir/src/.libs/totalrecall" ]; then
		cp "$top_builddir/src/.libs/totalrecall" "$TR_TMP/bin/"
	else
		cp "$bin" "$TR_TMP/bin/"
	fi
	for d in fs s3 minio; do
		cp "$top_builddir/drivers/$d/.libs/$d.so" "$TR_TMP/drivers/"
	done
	chmod -R a+rX "$TR_TMP/bin" "$TR_TMP/drivers"
	TR_BIN=$TR_TMP/bin/totalrecall
	TR_DRIVER_DIR=$TR_TMP/drivers
	TR_ENV+=("TOTALRECALL_DRIVER_DIR=$TR_DRIVER_DIR")
}

# tr_write_keyfile KEY: the passphrase in $TR_TMP/secret/key (0600, in a
# 0700 directory, readable by the server user); sets KEYFILE to its path.
tr_write_keyfile() {
	KEYFILE=$TR_TMP/secret/key
	as_pg mkdir -p "$TR_TMP/secret"
	chmod 0700 "$TR_TMP/secret"
	printf '%s\n' "$1" | as_pg tee "$KEYFILE" >/dev/null
	chmod 0600 "$KEYFILE"
}

# tr_env_set VAR=VALUE...: adds to (or replaces in) the base environment.
tr_env_set() {
	local kv name i
	for kv in "$@"; do
		name=${kv%%=*}
		for i in "${!TR_ENV[@]}"; do
			[ "${TR_ENV[$i]%%=*}" = "$name" ] && unset 'TR_ENV[i]'
		done
		TR_ENV+=("$kv")
	done
	TR_ENV=("${TR_ENV[@]}")
}

# tr_build_env [-u VAR]... [VAR=VALUE]... [--] ...: sets TR_ENV_BUILT to
# the base environment ($TR_ENV) without the -u variables and with the
# VAR=VALUE overrides, and TR_ENV_SHIFT to the number of words consumed.
tr_build_env() {
	local -a unset_vars=() sets=()
	local kv u skip n=$#
	while [ $# -gt 0 ]; do
		case $1 in
		-u) unset_vars+=("$2"); shift 2 ;;
		--) shift; break ;;
		*=*) sets+=("$1"); shift ;;
		*) break ;;
		esac
	done
	TR_ENV_SHIFT=$((n - $#))
	TR_ENV_BUILT=()
	for kv in "${TR_ENV[@]}"; do
		skip=0
		for u in "${unset_vars[@]}"; do
			[ "${kv%%=*}" = "$u" ] && skip=1
		done
		[ $skip = 1 ] || TR_ENV_BUILT+=("$kv")
	done
	TR_ENV_BUILT+=("${sets[@]}")
}

# tr_run [-u VAR]... [VAR=VALUE]... [--] ARGS...: runs totalrecall as the
# server user in a clean environment: the base one ($TR_ENV) without the
# -u variables and with the VAR=VALUE overrides; killed after
# TR_CMD_TIMEOUT seconds (300), which shows as exit status 124.
tr_run() {
	tr_build_env "$@"
	shift "$TR_ENV_SHIFT"
	as_pg timeout -k 5 "${TR_CMD_TIMEOUT:-300}" env -i "${TR_ENV_BUILT[@]}" "$TR_BIN" "$@"
}

# in_dir DIR CMD...: runs CMD with DIR as the working directory.
in_dir() {
	local d=$1
	shift
	(cd "$d" && "$@")
}

# ---------------------------------------------------------------- waiting
# wait_until TIMEOUT_SECONDS CMD...: polls CMD (quietly) until it succeeds;
# returns 1 when the deadline passes first.
wait_until() {
	local timeout=$1
	shift
	local deadline=$((SECONDS + timeout))
	while ! "$@" >/dev/null 2>&1; do
		[ "$SECONDS" -lt "$deadline" ] || return 1
		sleep 0.1
	done
}

# ---------------------------------------------------------------- PostgreSQL
pg_bin() {
	local d
	if [ -n "${TR_PG_BIN:-}" ]; then
		printf '%s\n' "$TR_PG_BIN"
		return 0
	fi
	d=/usr/lib/postgresql/15/bin
	if [ -x "$d/postgres" ]; then
		TR_PG_BIN=$d
		printf '%s\n' "$d"
		return 0
	fi
	if command -v pg_config >/dev/null && d=$(pg_config --bindir) && [ -x "$d/postgres" ]; then
		TR_PG_BIN=$d
		printf '%s\n' "$d"
		return 0
	fi
	echo "PostgreSQL server binaries not found" >&2
	return 1
}

# free_port: a free port (pick_port, servers.sh) this test has not handed
# out yet.
free_port() {
	local p u tries
	for tries in 1 2 3 4 5 6 7 8 9 10; do
		p=$(pick_port) || return 1
		for u in "${TR_PORTS_USED[@]}"; do
			[ "$u" = "$p" ] && continue 2
		done
		TR_PORTS_USED+=("$p")
		printf '%s\n' "$p"
		return 0
	done
	echo "no free port found" >&2
	return 1
}

# tr_moto_start: moto_server for this test (moto_launch, servers.sh):
# MOTO_PORT, MOTO_URL; its log in $TR_TMP/root/moto.log; the cleanup trap
# stops it.
tr_moto_start() {
	moto_launch "$TR_TMP/root/moto.log" free_port || return 1
	TR_BG_PIDS+=("$MOTO_PID")
}

# pg_register NAME DATADIR: makes a cluster known to the harness (the
# cleanup trap stops it); its socket dir and log live next to DATADIR.
pg_register() {
	local name=$1 dir
	dir=$TR_TMP/pg-$name
	as_pg mkdir -p "$dir/sock" || return 1
	PG_DIR[$name]=$dir
	PG_DATA[$name]=$2
	PG_SOCK[$name]=${PG_DIR[$name]}/sock
	PG_LOG[$name]=${PG_DIR[$name]}/server.log
	TR_CLUSTERS+=("$name")
	PG_PORT[$name]=$(free_port) || return 1
}

# pg_conf NAME LINE...: appends lines to postgresql.conf (later lines win).
pg_conf() {
	local name=$1
	shift
	printf '%s\n' "$@" | as_pg tee -a "${PG_DATA[$name]}/postgresql.conf" >/dev/null
}

# pg_init_cluster NAME [initdb options...]: a new cluster, not started, with
# data checksums and trust auth, listening on 127.0.0.1:<free port> and on a
# socket in its own dir.
pg_init_cluster() {
	local name=$1
	shift
	pg_register "$name" "$TR_TMP/pg-$name/data" || return 1
	as_pg "$(pg_bin)/initdb" -D "${PG_DATA[$name]}" -A trust -E UTF8 --no-locale --data-checksums \
		--no-sync "$@" >"$TR_TMP/root/initdb-$name.log" 2>&1 ||
		{ cat "$TR_TMP/root/initdb-$name.log"; return 1; }
	pg_conf "$name" "# --- totalrecall test harness" \
		"fsync = off" "synchronous_commit = off" "full_page_writes = on" \
		"shared_buffers = 32MB" "max_connections = 20" \
		"logging_collector = off" "log_min_messages = info"
}

# pg_start NAME [-u VAR]... [VAR=VALUE]...: starts a cluster with pg_ctl -w
# (which waits until the server accepts connections, or fails).  The
# server's environment is the totalrecall base environment ($TR_ENV) with
# the given changes, so archive_command and restore_command need no secret
# in postgresql.conf.  A port taken in the meantime by somebody else gets
# another port.
pg_start() {
	local name=$1 attempt
	shift
	tr_build_env "$@"
	for attempt in 1 2 3; do
		pg_conf "$name" "listen_addresses = '127.0.0.1'" "port = ${PG_PORT[$name]}" \
			"unix_socket_directories = '${PG_SOCK[$name]}'"
		if as_pg env -i "${TR_ENV_BUILT[@]}" "$(pg_bin)/pg_ctl" -D "${PG_DATA[$name]}" \
			-l "${PG_LOG[$name]}" -w -t 120 start >/dev/null 2>&1; then
			# pg_ctl -w returned once the server accepts connections;
			# pg_isready confirms it on the socket the tests use.
			wait_until 30 pg_is_ready "$name" && return 0
			break
		fi
		if [ "$attempt" -lt 3 ] && [ ! -f "${PG_DATA[$name]}/postmaster.pid" ] && grep -q 'could not bind\|could not create listen socket' "${PG_LOG[$name]}" 2>/dev/null; then
			PG_PORT[$name]=$(free_port)
			continue
		fi
		break
	done
	echo "cannot start cluster $name; log:" >&2
	tail -n 30 "${PG_LOG[$name]}" >&2 2>/dev/null || true
	return 1
}

# pg_start_cluster NAME [postgresql.conf lines...]
pg_start_cluster() {
	local name=$1
	shift
	pg_init_cluster "$name" || return 1
	if [ $# -gt 0 ]; then pg_conf "$name" "$@" || return 1; fi
	pg_start "$name"
}

pg_stop_cluster() { # NAME [MODE]
	local name=$1 mode=${2:-fast}
	as_pg "$(pg_bin)/pg_ctl" -D "${PG_DATA[$name]}" -m "$mode" -w -t 120 stop >/dev/null
}

pg_is_ready() { # NAME
	as_pg "$(pg_bin)/pg_isready" -q -h "${PG_SOCK[$1]}" -p "${PG_PORT[$1]}" -d postgres
}

# pg_cmd NAME PROGRAM ARGS...: runs a client program of the server's
# bindir as the server user, connected to cluster NAME.  Like tr_run, it is
# killed after TR_CMD_TIMEOUT seconds (300): a hung archiver must fail the
# test, not hang it (pg_basebackup -X none waits for archiving forever).
pg_cmd() {
	local name=$1 prog=$2
	shift 2
	as_pg timeout -k 5 "${TR_CMD_TIMEOUT:-300}" env PGHOST="${PG_SOCK[$name]}" \
		PGPORT="${PG_PORT[$name]}" PGUSER="$TR_SRV_USER" PGDATABASE=postgres "$(pg_bin)/$prog" "$@"
}

# psql_q NAME SQL: one query, unaligned tuples only, errors are fatal.
psql_q() {
	pg_cmd "$1" psql -X -q -At -v ON_ERROR_STOP=1 -c "$2"
}

# pg_switch NAME: switches to a new WAL segment, prints the name of the
# segment just completed (it becomes ready for archiving).
pg_switch() {
	psql_q "$1" "SELECT pg_walfile_name(pg_switch_wal())"
}

# pg_archived_upto NAME SEGMENT: true once the archiver has archived
# SEGMENT (or a later one) and nothing failed.
pg_archived_upto() {
	local r
	r=$(psql_q "$1" "SELECT coalesce(last_archived_wal >= '$2', false) AND failed_count = 0
		FROM pg_stat_archiver") || return 1
	[ "$r" = t ]
}

# pg_sysid NAME: the system identifier of cluster NAME.
pg_sysid() {
	psql_q "$1" "SELECT system_identifier FROM pg_control_system()"
}

# pg_archive_failed NAME: true when the archiver reported a failure.
pg_archive_failed() {
	local r
	r=$(psql_q "$1" "SELECT failed_count > 0 FROM pg_stat_archiver") || return 1
	[ "$r" = t ]
}

# pg_wait_archived NAME SEGMENT [TIMEOUT]: polls pg_stat_archiver; returns
# early (1) when a failure is reported.
pg_wait_archived() {
	local name=$1 seg=$2 timeout=${3:-120}
	local deadline=$((SECONDS + timeout))
	while ! pg_archived_upto "$name" "$seg"; do
		if pg_archive_failed "$name" || [ "$SECONDS" -ge "$deadline" ]; then
			return 1
		fi
		sleep 0.1
	done
}

# pg_not_in_recovery NAME: true once the server has left recovery.
pg_not_in_recovery() {
	local r
	r=$(psql_q "$1" "SELECT pg_is_in_recovery()" 2>/dev/null) || return 1
	[ "$r" = f ]
}

# ---------------------------------------------------------------- files
sha256_of() { sha256sum "$1" | cut -d' ' -f1; }

# flip_byte FILE OFFSET: inverts the byte at OFFSET in place.
flip_byte() {
	local f=$1 off=$2 b
	b=$(od -An -tu1 -j "$off" -N1 "$f" | tr -d ' ')
	printf '%b' "\\0$(printf '%03o' $((255 - b)))" |
		dd of="$f" bs=1 seek="$off" count=1 conv=notrunc status=none
}

# wal_object_key NAME: where the repository keeps WAL file NAME, relative
# to <prefix>/<database-id>/.
wal_object_key() {
	case $1 in
	*.history) printf 'wal/%s\n' "$1" ;;
	*) printf 'wal/%s/%s\n' "${1:0:16}" "$1" ;;
	esac
}

# Makes a scratch directory owned by the server user, prints its path.
pg_scratch() {
	local d=$TR_TMP/$1
	as_pg mkdir -p "$d"
	printf '%s\n' "$d"
}

# ---------------------------------------------------------------- WAL files
# fake_segment DIR NAME [SEED] [SIZE]: a file that passes archive-put's
# WAL segment check (the long page header of the segment NAME denotes,
# see tests/tools/mkwal.py), SEED-determined, owned by the server user.
# FAKE_RANDOM: seeded bytes after the header (default 64 KiB);
# FAKE_SYSID: the system identifier in the header (mkwal.py's default):
# archive-put accepts only WAL of the cluster a repository serves.
fake_segment() {
	local dir=$1 name=$2 seed=${3:-1} size=${4:-16777216}
	python3 "$top_srcdir/tests/tools/mkwal.py" "$name" "$dir/$name" --size "$size" --seed "$seed" \
		--random "${FAKE_RANDOM:-65536}" ${FAKE_SYSID:+--sysid "$FAKE_SYSID"} || return 1
	if [ "$(id -u)" -eq 0 ]; then chown "$TR_SRV_USER" "$dir/$name"; fi
}

# shellcheck source=tests/integration/faultproxy.sh
. "$(dirname "${BASH_SOURCE[0]}")/faultproxy.sh"
# shellcheck source=tests/integration/servers.sh
. "$(dirname "${BASH_SOURCE[0]}")/servers.sh"
