#!/usr/bin/env bash
# tests/fuzz/run.sh - builds every libFuzzer target with clang
# (-fsanitize=fuzzer,address,undefined) and runs each.
#
#   tests/fuzz/run.sh                 fuzz each target FUZZ_SECONDS (default 60) seconds,
#                                     FUZZ_JOBS (default: the CPUs) at a time
#   tests/fuzz/run.sh --replay        run each target once over its seed corpus only
#   tests/fuzz/run.sh [--replay] manifest schedule     only these targets
#
# Environment: FUZZ_SECONDS, FUZZ_BUILD (build directory, default
# tests/fuzz/build), CLANG (default clang-14).  The seed corpus in
# tests/fuzz/corpus/<target>/ is never modified: new inputs go to
# $FUZZ_BUILD/corpus-<target>/, crashes to $FUZZ_BUILD/crash-<target>-*.
# A crash, a sanitizer report or a timeout fails the run.  Last line:
# "fuzz: N passed, M failed".
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
build=${FUZZ_BUILD:-$here/build}
seconds=${FUZZ_SECONDS:-60}
cc=${CLANG:-clang-14}
replay=0
targets=()
for a in "$@"; do
	case $a in
	--replay) replay=1 ;;
	-h | --help) sed -n '2,16p' "$0"; exit 0 ;;
	*) targets+=("$a") ;;
	esac
done
[ ${#targets[@]} -gt 0 ] || targets=(decoder manifest config schedule s3xml)
passed=0 failed=0
result() { # OK DESC
	if [ "$1" = 0 ]; then passed=$((passed + 1)); echo "ok - $2"; else failed=$((failed + 1)); echo "FAIL - $2"; fi
}
done_() { echo "fuzz: $passed passed, $failed failed"; [ "$failed" -eq 0 ]; }

command -v "$cc" >/dev/null || { echo "FAIL - $cc not found (apt-get install clang-14)"; failed=1; done_; exit 1; }
mkdir -p "$build"

# config.h: the tree's own if configured in place, else a configure run
# in the build directory (VPATH).
if [ -f "$top/config.h" ]; then
	confdir=$top
else
	confdir=$build/conf
	if [ ! -f "$confdir/config.h" ]; then
		mkdir -p "$confdir"
		[ -x "$top/configure" ] || (cd "$top" && autoreconf -fi >/dev/null 2>&1)
		(cd "$confdir" && "$top/configure" --without-check >/dev/null) || { result 1 "configure"; done_; exit 1; }
	fi
fi

san=(-g -O1 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all)
inc=(-I"$confdir" -I"$top/include" -I"$top/src" $(pkg-config --cflags libpq 2>/dev/null || echo -I/usr/include/postgresql))
libs=(-lbearssl -lzstd -lpq -lpthread -ldl)

# The core, once, instrumented for coverage (fuzzer-no-link).
core=$build/libcore.a
if [ ! -f "$core" ] || [ -n "$(find "$top/src" -name '*.[ch]' -newer "$core" -print -quit)" ]; then
	echo "# building the core with $cc"
	rm -rf "$build/obj" && mkdir -p "$build/obj"
	pids=()
	for src in "$top"/src/*/*.c; do
		[ "$src" = "$top/src/cli/main.c" ] && continue
		"$cc" "${san[@]}" -fsanitize=fuzzer-no-link "${inc[@]}" -DTR_PKGLIBDIR='"/nonexistent"' \
			-c "$src" -o "$build/obj/$(basename "$src" .c).o" &
		pids+=($!)
		if [ ${#pids[@]} -ge "$(nproc)" ]; then wait "${pids[0]}"; pids=("${pids[@]:1}"); fi
	done
	for p in ${pids[@]+"${pids[@]}"}; do wait "$p"; done
	ar rcs "$core" "$build"/obj/*.o
fi

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

# fuzz_target T: fuzzes one built target for $seconds; its status in
# $build/rc-T (libFuzzer runs one process: targets run side by side).
fuzz_target() {
	local t=$1 rc=0
	mkdir -p "$build/corpus-$t"
	"$build/fuzz_$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
		-artifact_prefix="$build/crash-$t-" "$build/corpus-$t" "$here/corpus/$t" >"$build/fuzz-$t.log" 2>&1 || rc=$?
	echo "$rc" >"$build/rc-$t"
}

built=()
for t in "${targets[@]}"; do
	bin=$build/fuzz_$t
	extra=()  # the s3 driver's parser is not in the core
	[ "$t" = s3xml ] && extra=(-I"$top/drivers/s3" "$top/drivers/s3/s3_xml.c")
	if ! "$cc" "${san[@]}" -fsanitize=fuzzer "${inc[@]}" "$here/fuzz_$t.c" ${extra[@]+"${extra[@]}"} "$core" "${libs[@]}" -o "$bin" \
		2>"$build/build-$t.log"; then
		cat "$build/build-$t.log"
		result 1 "build fuzz_$t"
		continue
	fi
	seeds=$here/corpus/$t
	if [ "$replay" = 1 ]; then
		set +e
		"$bin" -runs=1 "$seeds"/* >"$build/replay-$t.log" 2>&1
		rc=$?
		set -e
		[ $rc = 0 ] || tail -40 "$build/replay-$t.log"
		result $rc "fuzz_$t replays $(ls "$seeds" | wc -l) seeds"
		continue
	fi
	built+=("$t")
done

# FUZZ_JOBS targets at a time (default: the number of CPUs).
pids=()
for t in ${built[@]+"${built[@]}"}; do
	rm -f "$build/rc-$t"
	fuzz_target "$t" &
	pids+=($!)
	if [ ${#pids[@]} -ge "${FUZZ_JOBS:-$(nproc)}" ]; then wait "${pids[0]}"; pids=("${pids[@]:1}"); fi
done
for p in ${pids[@]+"${pids[@]}"}; do wait "$p"; done
for t in ${built[@]+"${built[@]}"}; do
	rc=$(cat "$build/rc-$t" 2>/dev/null || echo 1)
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$build/fuzz-$t.log" | tail -1)
	[ "$rc" = 0 ] || { grep -E 'ERROR|SUMMARY|==[0-9]+==|runtime error' "$build/fuzz-$t.log" | head -20; ls "$build"/crash-"$t"-* 2>/dev/null; }
	result "$rc" "fuzz_$t: ${execs:-?} executions in ${seconds}s, corpus $(ls "$build/corpus-$t" | wc -l) inputs"
done
done_
