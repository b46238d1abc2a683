#!/usr/bin/env bash
# tests/bench/section_check.sh - what the history-section check costs
# archive-put on the fs driver (src/repo/section_admit.c).
#
#   tests/bench/section_check.sh [N] [BASELINE_BINARY]
#
# Archives N (default 40) fresh 16 MiB segments one at a time, as
# PostgreSQL would, three ways, each segment in turn so that load on the
# machine and the page cache treat them alike:
#   copy     the normal case: this host's copy of the sections answers
#   storage  the copy removed before each call: the sections are read from
#            storage (what happens once a minute, or on a mismatch)
#   baseline BASELINE_BINARY (a build without sections, e.g. main before
#            them, with its drivers in ../drivers), if given
# and reports the median and p95 wall time, and the median time of the
# section decision itself (logged at debug level by archive_put.c).
# Not part of make check.
set -euo pipefail
N=${1:-40}
BASE=${2:-}
top=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=tests/bench/put_lib.sh
. "$top/tests/bench/put_lib.sh"
BIN=$top/src/totalrecall
tmp=$(mktemp -d "${TMPDIR:-/tmp}/tr-secbench.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

mkdir -p "$tmp/pg_wal" "$tmp/bucket" "$tmp/state-copy" "$tmp/state-storage" "$tmp/state-baseline"
chmod 0700 "$tmp"/state-*
make_segments "$tmp/pg_wal" "$N"

# put MODE BINARY DRIVER_DIR FILE: one archive-put into repository MODE.
put() {
	local mode=$1 bin=$2 drivers=$3 f=$4 t0 t1
	[ "$mode" != storage ] || rm -rf "$tmp/state-storage/sections"
	t0=$(date +%s%N)
	(cd "$tmp" && env TOTALRECALL_DRIVER=fs "TOTALRECALL_BUCKET=$tmp/bucket" "TOTALRECALL_DRIVER_DIR=$drivers" \
		TOTALRECALL_DATABASE_ID="$mode" TOTALRECALL_ENCRYPTION_KEY=bench TOTALRECALL_KDF_ITERATIONS=1000 \
		"TOTALRECALL_STATE_DIR=$tmp/state-$mode" TOTALRECALL_ARCHIVE_AHEAD=0 TOTALRECALL_LOG_LEVEL=debug \
		"$bin" archive-put "pg_wal/$(basename "$f")" 2>"$tmp/err") || { cat "$tmp/err" >&2; exit 1; }
	t1=$(date +%s%N)
	echo "scale=2; ($t1 - $t0) / 1000000" | bc >>"$tmp/wall.$mode"
	sed -n 's/.*history section [0-9]*, decided in \([0-9.]*\) ms$/\1/p' "$tmp/err" >>"$tmp/check.$mode"
}

report() { # MODE
	local w=$tmp/wall.$1 c=$tmp/check.$1
	printf '%-9s archive-put median %7.1f ms  p95 %7.1f ms  section decision median %s ms\n' "$1" \
		"$(median <"$w")" "$(p95 <"$w")" "$( [ -s "$c" ] && median <"$c" || echo -)"
}

modes=(copy storage)
[ -z "$BASE" ] || modes+=(baseline)
echo "$N segments of 16 MiB (4 MiB of it random), archive-put one at a time, $(nproc) CPUs"
i=0
for f in "$tmp"/pg_wal/*; do
	i=$((i + 1))
	for ((k = 0; k < ${#modes[@]}; k++)); do   # rotate the order per segment
		m=${modes[$(((i + k) % ${#modes[@]}))]}
		if [ "$m" = baseline ]; then
			put baseline "$BASE" "$(dirname "$BASE")/drivers" "$f"
		else
			put "$m" "$BIN" "$top/drivers/fs/.libs" "$f"
		fi
	done
done
for m in "${modes[@]}"; do report "$m"; done
