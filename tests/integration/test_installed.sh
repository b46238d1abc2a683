#!/usr/bin/env bash
# installcheck: the installed binary works from the installed paths alone
# (drivers from $(pkglibdir)/drivers, no TOTALRECALL_DRIVER_DIR), and the
# man pages and example configuration are installed.
# usage: test_installed.sh BINDIR MANDIR SYSCONFDIR
set -uo pipefail
bin=$1/totalrecall mandir=$2 sysconfdir=$3
passed=0 failed=0
check() { local what=$1; shift; if "$@"; then echo "ok - $what"; passed=$((passed + 1)); else echo "not ok - $what"; failed=$((failed + 1)); fi; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
unset TOTALRECALL_DRIVER_DIR
export TOTALRECALL_DRIVER=fs TOTALRECALL_BUCKET=$work/repo TOTALRECALL_DATABASE_ID=installcheck \
	TOTALRECALL_ENCRYPTION_KEY=installcheck TOTALRECALL_KDF_ITERATIONS=1000 TOTALRECALL_STATE_DIR=$work/state
mkdir -p "$work/repo" "$work/data/pg_wal"
check "version" "$bin" version
check "man page totalrecall(1)" test -s "$mandir/man1/totalrecall.1"
# the page's SETTINGS section was generated into it (not left as a template)
check "totalrecall(1) has its settings" bash -c "grep -q TOTALRECALL_ARCHIVE_AHEAD '$mandir/man1/totalrecall.1' && ! grep -qx '@SETTINGS@' '$mandir/man1/totalrecall.1'"
for page in man7/totalrecall-restore.7 man7/totalrecall-storage.7 man7/totalrecall-troubleshooting.7 \
	man7/totalrecall-security.7 man5/totalrecall-format.5; do
	check "man page $(basename "$page")" test -s "$mandir/$page"
done
check "example configuration" test -s "$sysconfdir/totalrecall/totalrecall.conf.example"
# a file archive-put takes for a WAL segment (it checks the page header)
python3 "$(dirname "$0")/../tools/mkwal.py" 000000010000000000000001 "$work/data/pg_wal/000000010000000000000001" \
	--random 4194304 || { echo "not ok - setup: a WAL segment made"; echo "test_installed: $passed passed, 1 failed"; exit 1; }
check "archive-put with the installed fs driver" \
	bash -c "cd '$work/data' && '$bin' archive-put pg_wal/000000010000000000000001 2>/dev/null"
check "archive-get gives the same bytes" \
	bash -c "'$bin' archive-get '$work/back' 000000010000000000000001 2>/dev/null && cmp -s '$work/back' '$work/data/pg_wal/000000010000000000000001'"
echo "test_installed: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
