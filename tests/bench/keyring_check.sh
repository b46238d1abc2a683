#!/usr/bin/env bash
# tests/bench/keyring_check.sh - what the per-write keyring check costs
# archive-put, on the fs driver and on S3 (moto_server on 127.0.0.1).
#
#   tests/bench/keyring_check.sh [N] [BASELINE_BINARY]
#
# Archives N (default 40) fresh 16 MiB segments one at a time, as
# PostgreSQL would, and reports per repository type: the median and p95
# wall time of archive-put, and the median duration of the keyring check
# itself (logged at debug level by repo_unlock.c).  The check runs while
# the compression threads work, so the wall time shows what it adds.
# With BASELINE_BINARY (a build without the check, e.g. 0.1), the same
# segments are archived by it into another repository, for comparison.
# Not part of make check.
set -euo pipefail
N=${1:-40}
BASE=${2:-}
top=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=tests/bench/put_lib.sh
. "$top/tests/bench/put_lib.sh"
BIN=$top/src/totalrecall
tmp=$(mktemp -d "${TMPDIR:-/tmp}/tr-keybench.XXXXXX")
moto_pid=
cleanup() { [ -z "$moto_pid" ] || kill "$moto_pid" 2>/dev/null || true; rm -rf "$tmp"; }
trap cleanup EXIT

mkdir -p "$tmp/pg_wal" "$tmp/bucket"
make_segments "$tmp/pg_wal" "$N"

# put BINARY DBID FILE VAR=VALUE...: one archive-put; appends its wall time
# (ms) to $tmp/wall.<DBID> and its keyring check time to $tmp/check.<DBID>.
put() {
	local bin=$1 db=$2 f=$3 t0 t1
	shift 3
	t0=$(date +%s%N)
	(cd "$tmp" && env "$@" TOTALRECALL_DATABASE_ID="$db" TOTALRECALL_LOG_LEVEL=debug \
		"$bin" archive-put "pg_wal/$(basename "$f")" 2>"$tmp/err")
	t1=$(date +%s%N)
	echo "scale=2; ($t1 - $t0) / 1000000" | bc >>"$tmp/wall.$db"
	sed -n 's/.*keyring check of .*: \([0-9.]*\) ms$/\1/p' "$tmp/err" >>"$tmp/check.$db"
}

report() { # LABEL DBID
	local w=$tmp/wall.$2 c=$tmp/check.$2
	printf '%-28s archive-put median %7.1f ms  p95 %7.1f ms  keyring check median %s ms (%s checks)\n' "$1" \
		"$(median <"$w")" "$(p95 <"$w")" "$( [ -s "$c" ] && median <"$c" || echo -)" "$(wc -l <"$c")"
}

# run LABEL DBID VAR=VALUE...: every segment, one at a time; with a
# baseline, each segment goes to both, in alternating order, so that load
# on the machine and the page cache treat them alike.
run() {
	local label=$1 db=$2 i=0
	shift 2
	for f in "$tmp"/pg_wal/*; do
		i=$((i + 1))
		if [ -n "$BASE" ] && [ $((i % 2)) = 0 ]; then
			put "$BASE" "$db-base" "$f" "$@" "TOTALRECALL_DRIVER_DIR=$(dirname "$BASE")/drivers"
		fi
		put "$BIN" "$db" "$f" "$@"
		if [ -n "$BASE" ] && [ $((i % 2)) = 1 ]; then
			put "$BASE" "$db-base" "$f" "$@" "TOTALRECALL_DRIVER_DIR=$(dirname "$BASE")/drivers"
		fi
	done
	report "$label" "$db"
	[ -z "$BASE" ] || report "$label, baseline binary" "$db-base"
}

common=(TOTALRECALL_ENCRYPTION_KEY=bench TOTALRECALL_KDF_ITERATIONS=1000 "TOTALRECALL_STATE_DIR=$tmp/state"
	TOTALRECALL_ARCHIVE_AHEAD=0)
fs=(TOTALRECALL_DRIVER=fs "TOTALRECALL_BUCKET=$tmp/bucket" "TOTALRECALL_DRIVER_DIR=$top/drivers/fs/.libs")
echo "$N segments of 16 MiB (4 MiB of it random), archive-put one at a time, $(nproc) CPUs"
run "fs" fs "${common[@]}" "${fs[@]}"

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
moto_server -H 127.0.0.1 -p "$port" >"$tmp/moto.log" 2>&1 &
moto_pid=$!
for _ in $(seq 1 600); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.2; done
AWS_ACCESS_KEY_ID=k AWS_SECRET_ACCESS_KEY=s AWS_DEFAULT_REGION=us-east-1 AWS_CONFIG_FILE=/dev/null \
	aws --endpoint-url "http://127.0.0.1:$port" s3api create-bucket --bucket bench >/dev/null
s3=(TOTALRECALL_DRIVER=s3 TOTALRECALL_BUCKET=bench "TOTALRECALL_S3_ENDPOINT=http://127.0.0.1:$port"
	TOTALRECALL_S3_URI_STYLE=path AWS_ACCESS_KEY_ID=k AWS_SECRET_ACCESS_KEY=s AWS_REGION=us-east-1
	"TOTALRECALL_DRIVER_DIR=$top/drivers/s3/.libs")
run "s3 (moto)" s3 "${common[@]}" "${s3[@]}"
