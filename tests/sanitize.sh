#!/usr/bin/env bash
# tests/sanitize.sh - the test suite under AddressSanitizer and
# UndefinedBehaviorSanitizer, and archive-put/archive-get/verify under
# valgrind.
#
#   tests/sanitize.sh              both parts
#   tests/sanitize.sh asan         only `make check` with sanitizers
#   tests/sanitize.sh valgrind     only the valgrind runs
#
# SANITIZE_TESTS: the tests `make check` runs under the sanitizers
# (default: every check program and the integration tests listed at
# SANITIZE_DEFAULT below; "all": the whole suite); SANITIZE_JOBS: how
# many at a time (default 2).
#
# Builds out of tree in $SANITIZE_BUILD (default build-sanitize/ at the
# top): a source tree configured in place cannot host a VPATH build, so
# the sources (as git sees them: tracked and untracked, not ignored) are
# copied to $SANITIZE_BUILD/src first.  Any sanitizer report fails the run
# (halt_on_error, no recovery, leaks included); LeakSanitizer suppressions
# in tests/lsan.supp are for third-party code only.
# The PostgreSQL background worker (postgres/) is built by PGXS with
# PostgreSQL's own compiler and flags, so the server never loads ASan code;
# the script checks that the worker has no sanitizer symbols.
# Builds are set-up steps: "# setup: ..." when they work (not counted), a
# failure when they do not.
# Last line: "sanitize: N passed, M failed".
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${SANITIZE_BUILD:-$top/build-sanitize}
parts=${1:-all}
passed=0 failed=0
result() { # STATUS DESC
	if [ "$1" = 0 ]; then passed=$((passed + 1)); echo "ok - $2"; else failed=$((failed + 1)); echo "FAIL - $2"; fi
}
finish() { echo "sanitize: $passed passed, $failed failed"; [ "$failed" -eq 0 ]; }

# The integration tests run under the sanitizers by default, with every
# unit test and fuzz replay, two at a time (they are independent: own temp
# dirs, own ports).  The whole suite already ran unsanitized in the tree;
# these scripts drive C code no other one does (error paths above all,
# where leaks hide).  Left out (times under ASan at -j2, README "CI"):
# test_backup_restore (178 s; its backup, restore, kill and target code
# runs in test_crash, test_retention, test_restore_targets, test_integrity
# and test_timelines), test_backup_azure, test_cloud_pg and s3/test_wal_s3
# (full cycles through the cloud drivers, whose code runs in their own
# driver tests and the core's in the fs-based ones), test_worker (the
# worker is built by PGXS without sanitizers), test_entrypoint and demo
# (shell around commands the others run).  The whole suite: "all", about
# 14 min against 10 for this list.
SANITIZE_DEFAULT="
	integration/test_archive.sh
	integration/test_fs_driver.sh
	integration/test_bad_input.sh
	integration/test_crash.sh
	integration/test_verify.sh
	integration/test_keys.sh
	integration/test_integrity.sh
	integration/test_retention.sh
	integration/test_identity.sh
	integration/test_restore_safety.sh
	integration/test_restore_targets.sh
	integration/test_timelines.sh
	integration/test_delta.sh
	integration/test_standby.sh
	integration/test_pagecheck.sh
	integration/s3/test_driver.sh
	integration/s3/test_faults.sh
	integration/s3/test_creds.sh
	integration/s3/test_bucket_features.sh
	integration/s3/test_keys_s3.sh
	integration/azure/test_driver.sh
	integration/azure/test_faults.sh
	integration/azure/test_identity.sh
	integration/test_backup_s3.sh
"

# Copies the sources to $1 (rsync-like, without build products).
copy_sources() {
	local dst=$1
	rm -rf "$dst" && mkdir -p "$dst"
	if git -C "$top" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
		(cd "$top" && git ls-files -co --exclude-standard -z | grep -zv '^build-' |
			xargs -0 cp --parents -t "$dst" 2>/dev/null) || true
	else
		(cd "$top" && tar --exclude='./build-*' --exclude='*.o' --exclude='*.lo' -cf - .) | (cd "$dst" && tar -xf -)
		(cd "$dst" && { [ ! -f Makefile ] || make distclean >/dev/null 2>&1 || true; })
	fi
	# Test dependencies install-deps.sh put into the source tree (ignored by git).
	if [ -d "$top/tests/integration/s3/node" ]; then
		ln -sfn "$top/tests/integration/s3/node" "$dst/tests/integration/s3/node"
	fi
	if [ -d "$top/tests/integration/azure/node" ]; then
		ln -sfn "$top/tests/integration/azure/node" "$dst/tests/integration/azure/node"
	fi
	(cd "$dst" && autoreconf -fi >/dev/null 2>&1)
}

# configure_build DIR CC CFLAGS LDFLAGS: a VPATH build of $build/src in DIR.
configure_build() {
	local dir=$1
	rm -rf "$dir" && mkdir -p "$dir"
	(cd "$dir" && "$build/src/configure" --enable-werror CC="$2" CFLAGS="$3" LDFLAGS="$4" \
		>configure.log 2>&1) || { tail -20 "$dir/configure.log"; return 1; }
	make -C "$dir" -j"$(nproc)" >"$dir/make.log" 2>&1 || { grep -E 'error|warning' "$dir/make.log" | head -30; return 1; }
}

run_asan() {
	local dir=$build/asan t0=$SECONDS rc=0
	local flags='-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer -g -O1'
	configure_build "$dir" clang "$flags" "-fsanitize=address,undefined" || { result 1 "setup: sanitized build"; return; }
	echo "# setup: sanitized build (clang, $flags), $((SECONDS - t0)) s"
	if [ -f "$dir/postgres/totalrecall.so" ] && nm -D "$dir/postgres/totalrecall.so" | grep -q '__asan\|__ubsan'; then
		result 1 "the PostgreSQL worker must not contain sanitizer code"
		return
	fi
	export ASAN_OPTIONS="detect_leaks=1:halt_on_error=1:abort_on_error=0:detect_stack_use_after_return=1:strict_string_checks=1"
	export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
	# use_tls=0: LeakSanitizer's tracer (clang 14 runtime, glibc 2.36)
	# crashes ("Tracer caught signal 11", a bogus DTLS range) when it walks
	# the dynamic TLS of a process that loaded the s3 driver (libcurl and
	# its TLS libraries), e.g. an archive-put that claims a look-ahead
	# upload.  Not scanning TLS can only add reports (memory referenced
	# only from TLS would look leaked), never hide one.
	export LSAN_OPTIONS="suppressions=$top/tests/lsan.supp:print_suppressions=0:use_tls=0"
	local tests=${SANITIZE_TESTS:-$SANITIZE_DEFAULT} jobs=${SANITIZE_JOBS:-2} programs
	if [ "$tests" = all ]; then
		tests=""
	else
		programs=$(printf 'print-check-programs:\n\t@echo $(check_PROGRAMS)\n' |
			make -s -C "$dir/tests" -f Makefile -f - print-check-programs)
		tests="$programs $(echo $tests)"
	fi
	echo "# make check -j$jobs${tests:+ TESTS=\"$tests\"}"
	make -C "$dir" -j"$jobs" check ${tests:+TESTS="$tests"} >"$dir/check.log" 2>&1 || rc=$?
	grep -E '^(PASS|FAIL|ERROR|XPASS|SKIP):' "$dir/check.log" || true
	local log
	while IFS= read -r log; do
		# a log without a summary (a test that crashed) must not end this script
		{ grep -hE 'Checks: [0-9]+, Failures|[0-9]+ passed, [0-9]+ failed' "$log" || echo "no summary line"; } |
			tail -1 | sed "s|^|${log#"$dir"/tests/}: |"
	done < <(find "$dir/tests" -name '*.log' ! -name test-suite.log | sort)
	local reports
	reports=$(grep -rlE 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$dir/tests" --include='*.log' 2>/dev/null || true)
	if [ -n "$reports" ]; then
		rc=1
		echo "sanitizer reports in: $reports"
		grep -rhE -A12 'ERROR: (Address|Leak)Sanitizer|runtime error:' $reports | head -60
	fi
	[ $rc = 0 ] || tail -60 "$dir/tests/test-suite.log" 2>/dev/null || true
	result $rc "make check under ASan+UBSan ($((SECONDS - t0)) s)"
}

# vg DESC EXPECTED-STATUS ARGS...: totalrecall under valgrind.
vg() {
	local desc=$1 want=$2 rc=0
	shift 2
	env "${VG_ENV[@]}" valgrind -q --leak-check=full --show-leak-kinds=definite,indirect,possible \
		--errors-for-leak-kinds=definite,indirect,possible --error-exitcode=99 --track-fds=no \
		--log-file="$VG_DIR/vg.%p.log" "$VG_BIN" "$@" >"$VG_DIR/out" 2>"$VG_DIR/err" || rc=$?
	if [ "$rc" = "$want" ]; then
		result 0 "valgrind: $desc (exit $rc, no errors or leaks)"
	else
		result 1 "valgrind: $desc (expected exit $want, got $rc)"
		cat "$VG_DIR"/vg.*.log "$VG_DIR/err" | head -60
	fi
	rm -f "$VG_DIR"/vg.*.log
}

run_valgrind() {
	local dir=$build/plain t0=$SECONDS
	command -v valgrind >/dev/null || { result 1 "valgrind is not installed (apt-get install valgrind)"; return; }
	configure_build "$dir" gcc "-g -O1" "" || { result 1 "setup: plain build for valgrind"; return; }
	echo "# setup: plain build for valgrind, $((SECONDS - t0)) s"
	VG_BIN=$dir/src/totalrecall
	VG_DIR=$(mktemp -d /tmp/tr-valgrind.XXXXXX)
	mkdir -p "$VG_DIR/repo" "$VG_DIR/pgdata/pg_wal" "$VG_DIR/state" "$VG_DIR/restore"
	VG_ENV=(TOTALRECALL_DRIVER=fs "TOTALRECALL_DRIVER_DIR=$dir/drivers/fs/.libs" "TOTALRECALL_BUCKET=$VG_DIR/repo"
		TOTALRECALL_DATABASE_ID=vg TOTALRECALL_ENCRYPTION_KEY=valgrind-passphrase "TOTALRECALL_STATE_DIR=$VG_DIR/state"
		TOTALRECALL_KDF_ITERATIONS=1000 TOTALRECALL_PARALLEL=2 "TOTALRECALL_SPOOL_DIR=$VG_DIR/spool")
	# segments archive-put takes for WAL (it checks the page header): one
	# mostly random, one of 4 MiB (another wal_segment_size), mostly zeros
	python3 "$top/tests/tools/mkwal.py" 000000010000000000000001 "$VG_DIR/pgdata/pg_wal/000000010000000000000001" \
		--random $((16 * 1024 * 1024 - 4096))
	python3 "$top/tests/tools/mkwal.py" 000000010000000000000002 "$VG_DIR/pgdata/pg_wal/000000010000000000000002" \
		--size $((4 * 1024 * 1024))
	printf '1\t0/3000000\tno recovery target specified\n' >"$VG_DIR/pgdata/pg_wal/00000002.history"
	cd "$VG_DIR/pgdata"
	vg "archive-put (creates the repository)" 0 archive-put pg_wal/000000010000000000000001
	vg "archive-put of a compressible segment" 0 archive-put pg_wal/000000010000000000000002
	vg "archive-put of a history file" 0 archive-put pg_wal/00000002.history
	vg "archive-put of the same content again" 0 archive-put pg_wal/000000010000000000000001
	vg "archive-get" 0 archive-get "$VG_DIR/restore/a" 000000010000000000000001
	if cmp -s "$VG_DIR/restore/a" pg_wal/000000010000000000000001; then
		result 0 "archive-get is byte-identical"
	else
		result 1 "archive-get is byte-identical"
	fi
	vg "archive-get of an absent file" 1 archive-get "$VG_DIR/restore/b" 000000010000000000000009
	vg "archive-get with a wrong key" 128 --encryption-key=wrong --state-dir="$VG_DIR/state2" \
		archive-get "$VG_DIR/restore/c" 000000010000000000000001
	vg "list" 0 list
	vg "verify (no backup yet)" 0 verify --full
	cd "$top"
	rm -rf "$VG_DIR"
	echo "# valgrind part took $((SECONDS - t0)) s"
}

t0=$SECONDS
copy_sources "$build/src"
case $parts in
asan) run_asan ;;
valgrind) run_valgrind ;;
*) run_asan; run_valgrind ;;
esac
echo "# sanitize.sh took $((SECONDS - t0)) s"
finish
