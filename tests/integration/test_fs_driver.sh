#!/usr/bin/env bash
# tests/integration/test_fs_driver.sh - the fs driver, through
# tests/tools/drvtool; no server.
#
#   conformance: the suite every driver passes (tests/unit/drivers/
#      conformance.c), for fs, for a driver built against version 1 of the
#      ABI (tests/unit/drivers/v1fs.c, through the core's adapter) and for
#      fs reporting no mtimes (nomtime); then what only fs does:
#   a. batched puts are not visible before sync(), and leave no temporary
#      file
#   c. a batch is flushed at once: 200 batched puts into 4 directories
#      cost one syncfs and 4 directory fsyncs, 300 puts two syncfs (a
#      flush every 256), where plain puts cost two fsyncs each (strace)
#   e. puts never synced leave no temporary file
#   d. listing removes a day-old temporary file left by a killed writer,
#      and leaves a fresh one
#   f. removing the last key of a directory removes the directories it
#      left empty, up to the bucket; puts racing with removals in the same
#      directory all succeed
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"
tr_init fsdriver
DRVTOOL=$top_builddir/tests/tools/drvtool
[ -x "$DRVTOOL" ] || tr_die "$DRVTOOL not built (make check builds it)"
B=$TR_TMP/bucket
mkdir -p "$B"
DRV=("$DRVTOOL" -D fs -d "$top_builddir/drivers/fs/.libs" -o "bucket=$B")
drv() { "${DRV[@]}" "$@"; }
# shellcheck source=lib_conform.sh
. "$here/lib_conform.sh"

# ------------------------------------------------------------ conformance
conform fs "${DRV[@]}" conform --large $((3 * 1024 * 1024 + 5)) --prefix conform-fs/
for d in v1fs nomtime; do
	mkdir -p "$TR_TMP/bucket-$d"
	conform "$d" "$DRVTOOL" -D "$d" -d "$top_builddir/tests/unit/drivers/.libs" -o "bucket=$TR_TMP/bucket-$d" \
		conform --large $((1024 * 1024)) --prefix "conform-$d/"
done
check "conformance: the suites leave the bucket empty" test -z "$(ls -A "$B")"

# ------------------------------------------------------- not an object
# A FIFO or a directory under an object's name is refused at once (a FIFO
# opened for reading would block until a writer comes), naming the path.
mkdir -p "$B/odd"
mkfifo "$B/odd/fifo"
mkdir "$B/odd/dir"
for k in fifo dir; do
	TR_DESC="get of a $k under an object's name fails, without hanging" \
		assert_rc 1 timeout 30 "${DRV[@]}" get "odd/$k"
	assert_contains "$(cat "$TR_LAST_ERR")" "odd/$k is not a regular file" "the error names the $k"
done
rm -rf "$B/odd"

# ------------------------------------------------------------------ a
out=$(drv batch chunks/aa/c1 chunks/ab/c2 chunks/aa/c3)
assert_eq 3 "$(grep -c ' before sync: absent$' <<<"$out")" "a. none visible before sync()"
assert_eq 0 "$(find "$B" -name '.tr-tmp-*' | wc -l | tr -d ' ')" "a. no temporary file left"

# ------------------------------------------------------------------ c
if command -v strace >/dev/null; then
	keys=()
	for i in $(seq 1 200); do keys+=("chunks/$(printf 'e%d' $((i % 4)))/k$i"); done
	# LeakSanitizer cannot run under ptrace (tests/sanitize.sh builds).
	fsyncs() {  # CALL COMMAND...: how many times COMMAND called CALL
		local call=$1
		shift
		ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
			strace -f -e trace=fsync,syncfs -o "$TR_TMP/root/strace.out" "$@" >/dev/null &&
			{ grep -c "^[0-9]* *$call(" "$TR_TMP/root/strace.out" || true; }
	}
	n=$(fsyncs fsync "${DRV[@]}" batch "${keys[@]}")
	s=$(grep -c "^[0-9]* *syncfs(" "$TR_TMP/root/strace.out" || true)
	# 4 directory fsyncs at sync(), + 4: creating each new directory fsyncs its parent
	assert_eq 8 "$n" "c. 200 batched puts into 4 new directories: no file fsync, 4 directory fsyncs at sync() (+4 creating them)"
	assert_eq 1 "$s" "c. 200 batched puts: one syncfs"
	for k in "${keys[@]}"; do [ "$(cat "$B/$k")" = "$k" ] || fail "c. $k missing or wrong after sync()"; done
	keys=()
	for i in $(seq 1 300); do keys+=("chunks/f$((i % 2))/k$i"); done
	s=$(fsyncs syncfs "${DRV[@]}" batch "${keys[@]}")
	assert_eq 2 "$s" "c. 300 batched puts: a flush at 256 and one at sync()"
	assert_eq 300 "$(find "$B/chunks/f0" "$B/chunks/f1" -name 'k*' | wc -l | tr -d ' ')" "c. all 300 named after sync()"
	plain=0
	for i in $(seq 1 20); do
		c=$(fsyncs fsync "${DRV[@]}" put "plain/p$i" --gen 10) || c=-1
		plain=$((plain + c))
	done
	# the first put creates plain/ and fsyncs its parent once more
	assert_eq 41 "$plain" "c. 20 plain puts: a file and a directory fsync each (+1 for the new directory)"
else
	fail "c. strace is not installed (tests/install-deps.sh test installs it)"
fi

# ------------------------------------------------------------------ e
out=$(drv batch --no-sync chunks/ns/n1 chunks/ns/n2)
assert_eq 2 "$(grep -c ' put: ok$' <<<"$out")" "e. two batched puts accepted"
assert_eq 0 "$(find "$B/chunks/ns" -name '.tr-tmp-*' 2>/dev/null | wc -l | tr -d ' ')" "e. no temporary file left"

# ------------------------------------------------------------------ d
printf 'left by a killed writer\n' >"$B/chunks/aa/.tr-tmp-1-old"
printf 'being written\n' >"$B/chunks/aa/.tr-tmp-2-new"
touch -d '2 days ago' "$B/chunks/aa/.tr-tmp-1-old"
listed=$(drv list chunks/aa/)
assert_not_contains "$listed" ".tr-tmp" "d. temporary files are never listed"
check "d. the day-old temporary file was removed" test ! -e "$B/chunks/aa/.tr-tmp-1-old"
check "d. the fresh temporary file stays" test -e "$B/chunks/aa/.tr-tmp-2-new"

# ------------------------------------------------------------------ f
drv put db/backups/L1/info --gen 10 >/dev/null && drv put db/backups/L1/manifest --gen 10 >/dev/null &&
	drv put db/backups/L2/info --gen 10 >/dev/null
drv rm db/backups/L1/manifest && drv rm db/backups/L1/info
check "f. the emptied directory of a removed backup is gone" test ! -e "$B/db/backups/L1"
check "f. its parent, still holding another backup, stays" test -d "$B/db/backups/L2"
drv rm db/backups/L2/info
check "f. the last removal empties backups/ and removes it" test ! -e "$B/db/backups"
check "f. the bucket itself stays" test -d "$B"
# Two writers putting and removing keys of one directory: a put may find
# its directory removed between creating it and its temporary file.
race() { # TAG
	local i rc=0
	for i in $(seq 1 200); do
		drv put "race/x/y/$1$i" --gen 100 >/dev/null || { echo "put $1$i failed"; rc=1; }
		drv rm "race/x/y/$1$i" || { echo "rm $1$i failed"; rc=1; }
	done
	return $rc
}
race a >"$TR_TMP/race-a.out" 2>&1 &
pa=$!
race b >"$TR_TMP/race-b.out" 2>&1 || rb=$?
wait "$pa" || ra=$?
assert_eq "0 0" "${ra:-0} ${rb:-0}" "f. 400 puts racing with removals in one directory all succeeded $(cat "$TR_TMP"/race-*.out | head -3 | tr '\n' ' ')"
check "f. nothing is left of the race's directories" test ! -e "$B/race"

finish
