#!/usr/bin/env bash
# The whole test suite, what .ci/run calls: installs what the tests need,
# builds with warnings as errors, then runs each part, timed:
#   make check        unit tests (Check) and every integration test against
#                     real PostgreSQL 15 and S3/Azure servers, two at a time
#                     (TR_CHECK_JOBS, default 2: each script has its own
#                     temp dir and free ports)
#   make distcheck    the tarball builds, installs and uninstalls, and its
#                     build passes the unit tests and the quick-start demo
#                     (the whole suite already ran in the tree)
#   sanitizers        tests/sanitize.sh (its header says which tests)
#   fuzzing           every libFuzzer target for FUZZ_SECONDS (45), two at a time
#   musl              tests/portable/test_musl.sh
#   Docker            tests/docker/test_image.sh
# Then every runner's summary line and a total that counts assertions
# only: set-up steps are not counted (tests/integration/lib.sh), a skip
# is printed and counted as skipped, never as a pass, and a test that
# ended without its summary line (a crash) or with a non-zero status its
# summary does not explain counts as failed.  Last line:
# "total: N passed, M failed, K skipped"; the exit status is 0 only when
# nothing failed.  The time of each part, with the load average before
# and after it, is printed at the end.
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 1
status=0

# ------------------------------------------------------------------ timing
t_total=$SECONDS
timings=()
part_title="" part_t0=0 part_load0=""
loadavg() { cut -d' ' -f1 /proc/loadavg; }
begin() { # TITLE
	part_title=$1 part_t0=$SECONDS part_load0=$(loadavg)
	echo "== $1"
}
end() {
	timings+=("$(printf '%-34s %5d s   load %s -> %s' "$part_title" $((SECONDS - part_t0)) "$part_load0" "$(loadavg)")")
}

begin "dependencies"
bash tests/install-deps.sh test || exit 1
end

begin "build"
{ [ -x configure ] || autoreconf -fi; } >/dev/null 2>&1 || { echo "autoreconf failed"; exit 1; }
[ -f Makefile ] || ./configure --enable-werror >/dev/null || { echo "configure failed"; exit 1; }
make -j"$(nproc)" >/dev/null 2>build.log || { cat build.log; echo "build failed"; exit 1; }
end

# The server user of the integration tests, made once before they run
# side by side (lib.sh also creates it, with a retry, when run alone).
if [ "$(id -u)" = 0 ] && ! id trtest >/dev/null 2>&1; then
	useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin trtest
fi

begin "make check (-j${TR_CHECK_JOBS:=2})"
make -j"$TR_CHECK_JOBS" check >check.log 2>&1 || status=1
grep -E '^(PASS|FAIL|ERROR|XPASS|SKIP):' check.log
[ $status -eq 0 ] || { tail -200 tests/test-suite.log 2>/dev/null; }
end

begin "make distcheck"
# Every check program (unit tests, fuzz replays) and the quick-start demo,
# which archives, backs up and restores a real PostgreSQL with the
# programs built from the tarball; installcheck runs the installed binary.
# The tarball leaves out the npm packages of the S3 tests: use this tree's.
export TR_S3RVER_NODE_DIR=$top/tests/integration/s3/node
export TR_AZURITE_NODE_DIR=$top/tests/integration/azure/node
check_programs=$(printf 'print-check-programs:\n\t@echo $(check_PROGRAMS)\n' |
	make -s -C tests -f Makefile -f - print-check-programs)
if make -j"$(nproc)" distcheck TESTS="$check_programs integration/demo.sh" >distcheck.log 2>&1; then
	grep -E '^(PASS|FAIL|ERROR|SKIP):|^(ok|not ok) |archives ready' distcheck.log
else
	tail -60 distcheck.log; echo "make distcheck failed"; status=1
fi
# installcheck's summary (test_installed.sh) is counted with the others.
grep -E '^test_installed: [0-9]+ passed' distcheck.log >distcheck-installed.log
end

# The parts below are scripts with a last line "NAME: N passed, M failed";
# each writes its whole output to a log at the top and shows its checks.
extra_logs=(distcheck-installed.log)
declare -A part_rc=([distcheck-installed.log]=0)
run_part() { # TITLE LOG COMMAND...
	local title=$1 log=$2 rc
	shift 2
	begin "$title"
	"$@" >"$log" 2>&1
	rc=$?
	grep -E '^(ok|not ok|FAIL|FATAL|SKIP)' "$log" | grep -vE '^ok ' | head -40
	tail -n 1 "$log"
	if [ $rc -ne 0 ] && [ $rc -ne 77 ]; then
		tail -40 "$log"; echo "$title failed (exit $rc)"; status=1
	fi
	extra_logs+=("$log")
	part_rc[$log]=$rc
	end
}

# tests/sanitize.sh: a build with -fsanitize=address,undefined and the
# tests its header lists, then valgrind of the archive path.
run_part "sanitizers (ASan + UBSan, valgrind)" sanitize.log bash tests/sanitize.sh
# Every libFuzzer target for a bounded time (crashes fail).
run_part "fuzzing (${FUZZ_SECONDS:=45} s per target, 2 at a time)" fuzz.log env FUZZ_SECONDS="$FUZZ_SECONDS" bash tests/fuzz/run.sh
# The portable musl builds (both variants) and their round trip with PostgreSQL.
run_part "portable musl builds" musl.log bash tests/portable/test_musl.sh
# The Docker image (Debian flavour) built on local stand-ins of the official
# postgres:17 and postgres:15 images, run as real containers; installs
# docker.io and starts dockerd when absent (skipped only where it cannot).
run_part "Docker image" docker.log bash tests/docker/test_image.sh

# ------------------------------------------------------------------ totals
# summary_of LOG RESULT: "P F S" from LOG's last summary line, corrected by
# the runner's RESULT (PASS, FAIL, ERROR, SKIP): no summary counts as one
# failure (or one skip), a failing status its summary does not explain as
# one failure.
summary_of() {
	local log=$1 result=$2 line p=0 f=0 s=0
	line=$(grep -hE 'Checks: [0-9]+, Failures|[0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1)
	if [[ $line =~ Checks:\ ([0-9]+),\ Failures:\ ([0-9]+),\ Errors:\ ([0-9]+) ]]; then
		f=$((BASH_REMATCH[2] + BASH_REMATCH[3]))
		p=$((BASH_REMATCH[1] - f))
	elif [[ $line =~ ([0-9]+)\ passed,\ ([0-9]+)\ failed(,\ ([0-9]+)\ skipped)? ]]; then
		p=${BASH_REMATCH[1]} f=${BASH_REMATCH[2]} s=${BASH_REMATCH[4]:-0}
	fi
	case $result in
	SKIP) [ "$((p + f + s))" -gt 0 ] || s=1 ;;
	FAIL | ERROR) [ "$f" -gt 0 ] || f=1 ;;
	esac
	[ -n "$line" ] || [ "$result" = SKIP ] || f=1
	echo "$p $f $s ${line:-no summary line ($result)}"
}

echo "== summaries"
passed=0 failed=0 skipped=0
count() { # NAME P F S LINE...
	local name=$1 p=$2 f=$3 s=$4
	shift 4
	echo "$name: $*"
	passed=$((passed + p)) failed=$((failed + f)) skipped=$((skipped + s))
}
# make check: one log per test, its result in the .trs beside it.
while IFS= read -r trs; do
	log=${trs%.trs}.log
	result=$(sed -n 's/^:test-result: //p' "$trs" | head -n 1)
	# shellcheck disable=SC2046
	count "${log#tests/}" $(summary_of "$log" "${result:-ERROR}")
done < <(find tests -name '*.trs' ! -path 'tests/fuzz/build/*' | sort)
for log in "${extra_logs[@]}"; do
	rc=${part_rc[$log]}
	result=PASS
	[ "$rc" = 0 ] || result=FAIL
	[ "$rc" != 77 ] || result=SKIP
	# shellcheck disable=SC2046
	count "$log" $(summary_of "$log" "$result")
done
[ "$status" -ne 0 ] && [ "$failed" -eq 0 ] && failed=1

echo "== skipped"
find tests -name '*.log' ! -name test-suite.log ! -path 'tests/fuzz/build/*' -print0 |
	xargs -0r grep -hE '^SKIP' -- check.log "${extra_logs[@]}" 2>/dev/null | sort -u
echo "== times"
printf '%s\n' "${timings[@]}"
printf '%-34s %5d s\n' "all" $((SECONDS - t_total))
echo "total: $passed passed, $failed failed, $skipped skipped"
[ "$status" -eq 0 ] && [ "$failed" -eq 0 ]
