#!/usr/bin/env bash
# The whole test suite: installs what the tests need, builds with warnings
# as errors, runs `make check` (unit tests with Check, integration tests
# against real PostgreSQL 15 and real S3 servers), and prints every test
# runner's summary line and a total.  This is what .ci/run calls.
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

bash tests/install-deps.sh test || exit 1

echo "== build"
{ [ -x configure ] || autoreconf -fi; } >/dev/null 2>&1 || { echo "autoreconf failed"; exit 1; }
[ -f Makefile ] || ./configure --enable-werror >/dev/null || { echo "configure failed"; exit 1; }
make -j"$(nproc)" >/dev/null 2>build.log || { cat build.log; echo "build failed"; exit 1; }

echo "== make check"
make -j1 check >check.log 2>&1
status=$?
grep -E '^(PASS|FAIL|ERROR|XPASS|SKIP):' check.log
[ $status -eq 0 ] || { cat tests/test-suite.log 2>/dev/null | tail -200; }

echo "== make distcheck"
# The distribution builds, passes make check and installcheck out of tree,
# installs and uninstalls cleanly (DESTDIR too).
# The tarball leaves out the npm packages of the S3 tests: use this tree's.
export TR_S3RVER_NODE_DIR=$top/tests/integration/s3/node
export TR_AZURITE_NODE_DIR=$top/tests/integration/azure/node
if make distcheck >distcheck.log 2>&1; then
	grep -E '^(ok|not ok) |archives ready' distcheck.log
else
	tail -60 distcheck.log; echo "make distcheck failed"; status=1
fi

# The parts below are scripts with a last line "NAME: N passed, M failed";
# each writes its whole output to a log at the top and shows its checks.
extra_logs=()
run_part() { # TITLE LOG COMMAND...
	local title=$1 log=$2 rc
	shift 2
	echo "== $title"
	"$@" >"$log" 2>&1
	rc=$?
	grep -E '^(ok|not ok|FAIL|KNOWN|SKIP)' "$log" | grep -vE '^ok ' | head -40
	tail -n 1 "$log"
	if [ $rc -ne 0 ]; then
		tail -40 "$log"; echo "$title failed (exit $rc)"; status=1
		# no summary line at all (a skip, a crash): count the part as failed
		grep -qE '[0-9]+ passed, [0-9]+ failed' "$log" || echo "$title: 0 passed, 1 failed" >>"$log"
	fi
	extra_logs+=("$log")
}

# The whole suite again, built with -fsanitize=address,undefined, then
# valgrind of the archive path.
run_part "sanitizers (ASan + UBSan make check, valgrind)" sanitize.log bash tests/sanitize.sh
# Every libFuzzer target for a bounded time (crashes fail).
run_part "fuzzing (${FUZZ_SECONDS:=45} s per target)" fuzz.log env FUZZ_SECONDS="$FUZZ_SECONDS" bash tests/fuzz/run.sh
# The portable musl builds (both variants) and their round trip with PostgreSQL.
run_part "portable musl builds" musl.log bash tests/portable/test_musl.sh
# The Docker image (Debian flavour) built on local stand-ins of the official
# postgres:17 and postgres:15 images, run as real containers; installs
# docker.io and starts dockerd when absent ("skipped" only where it cannot).
run_part "Docker image" docker.log bash tests/docker/test_image.sh

echo "== summaries"
passed=0 failed=0
while IFS= read -r log; do
	while IFS= read -r line; do
		echo "${log#tests/}: $line"
		if [[ $line =~ Checks:\ ([0-9]+),\ Failures:\ ([0-9]+),\ Errors:\ ([0-9]+) ]]; then
			f=$((BASH_REMATCH[2] + BASH_REMATCH[3]))
			passed=$((passed + BASH_REMATCH[1] - f)); failed=$((failed + f))
		elif [[ $line =~ ([0-9]+)\ passed,\ ([0-9]+)\ failed ]]; then
			passed=$((passed + BASH_REMATCH[1])); failed=$((failed + BASH_REMATCH[2]))
		fi
	done < <(grep -hE 'Checks: [0-9]+, Failures|[0-9]+ passed, [0-9]+ failed' "$log" | tail -1)
done < <(find tests -name '*.log' ! -name test-suite.log ! -path 'tests/fuzz/build/*' | sort; printf '%s\n' "${extra_logs[@]}")
# A test program that crashed before its summary counts as failed.
crashed=$(grep -cE '^(FAIL|ERROR):' check.log)
[ "$crashed" -gt "$failed" ] && failed=$crashed
[ "$status" -ne 0 ] && [ "$failed" -eq 0 ] && failed=1
echo "total: $passed passed, $failed failed"
[ "$status" -eq 0 ] && [ "$failed" -eq 0 ]
