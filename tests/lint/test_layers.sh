#!/usr/bin/env bash
# tests/lint/layers.sh must refuse every kind of violation of the layer
# rules (src/README.md), and accept the tree as it is.  Each case copies
# the sources of src/ to a scratch directory, breaks one rule there and
# checks that the lint fails naming it.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
src=${top_srcdir:-$here/../..}/src
lint=$here/layers.sh
work=$(mktemp -d /tmp/tr-layers.XXXXXX)
trap 'rm -rf "$work"' EXIT
passed=0 failed=0
ok() { echo "ok - $*"; passed=$((passed + 1)); }
not_ok() { echo "not ok - $*"; failed=$((failed + 1)); }

fresh() {
	rm -rf "$work/src" && mkdir -p "$work/src"
	(cd "$src" && find . \( -name '*.c' -o -name '*.h' \) -print0 | xargs -0 cp --parents -t "$work/src")
}

# expect_refused NAME TEXT: the lint fails on the scratch tree, saying TEXT.
expect_refused() {
	local out rc
	out=$(bash "$lint" "$work/src" 2>&1); rc=$?
	if [ "$rc" -ne 1 ]; then
		not_ok "$1: the lint exited $rc, not 1"
	elif ! grep -qF -- "$2" <<<"$out"; then
		not_ok "$1: the lint failed without saying \"$2\": $out"
	else
		ok "$1: refused ($(grep -F -- "$2" <<<"$out" | head -1))"
	fi
}

# append FILE LINE: adds an include after the file's first include.
add_include() { sed -i "0,/^#include/s||$2\n#include|" "$work/src/$1"; }

fresh
if bash "$lint" "$work/src" >"$work/out" 2>&1; then
	ok "the tree as it is keeps the rules"
else
	not_ok "the tree as it is: $(cat "$work/out")"
fi

fresh; add_include base/util.c '#include "repo/repo.h"'
expect_refused "base including repo" "base/util.c:"

fresh; add_include pg/walname.c '#include "format/format.h"'
expect_refused "pg including format (siblings)" "pg/ may include only base/ pg/"

fresh; add_include repo/repo.h '#include "conf/settings.h"'
expect_refused "repo including the settings" "repo/ may include only base/ format/ pg/ repo/"

fresh; add_include cmd/list.c '#include "cli/nothing.h"'
expect_refused "cmd including cli" "cmd/list.c:"

fresh; add_include cmd/check.c '#include "repo/repo_internal.h"'
expect_refused "a command including the repository's internals" "a layer's *_internal.h is for its own folder"

fresh; add_include format/format.c '#include "util.h"'
expect_refused "an include without its layer folder" 'without its layer folder'

fresh; add_include base/log.c '#include "totalrecall/driver.h"'
expect_refused "the driver ABI below format" "base/ moves no bytes of storage"

fresh; echo 'int x;' >"$work/src/stray.c"
expect_refused "a file directly in src/" "stray.c: directly in src/"

fresh; mkdir -p "$work/src/misc" && echo 'int x;' >"$work/src/misc/x.c"
expect_refused "a folder that is not a layer" "misc/ is not a layer"

fresh; mkdir -p "$work/src/repo/deep" && echo 'int x;' >"$work/src/repo/deep/x.c"
expect_refused "a file below a layer's folder" "below a layer folder"

echo "test_layers: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
