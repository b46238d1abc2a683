#!/usr/bin/env bash
# The settings documentation has one source, the settings table
# (src/conf/settings.c): the README's configuration reference, the SETTINGS
# section of the built man page and `totalrecall help` must say what
# settings-doc generates from it.  Fails on drift; `make update-docs`
# rewrites the README.
set -uo pipefail
src=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
build=${top_builddir:-$src}
gen=$build/src/settings-doc
page=$build/src/totalrecall.1
bin=$build/src/totalrecall
here=$(cd "$(dirname "$0")" && pwd)
passed=0 failed=0 skipped=0
check() { local what=$1; shift; if "$@"; then echo "ok - $what"; passed=$((passed + 1)); else echo "not ok - $what"; failed=$((failed + 1)); fi; }
summary() { echo "test_settings_doc: $passed passed, $failed failed$([ "$skipped" -eq 0 ] || echo ", $skipped skipped")"; }
# setup DESC CMD...: a step that makes the checks meaningful (as in
# tests/integration/lib.sh): not counted when it works; when it does not,
# one failure and the end.
setup() {
	local what=$1
	shift
	if "$@"; then echo "# setup: $what"; else echo "not ok - setup: $what"; failed=$((failed + 1)); summary; exit 1; fi
}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

[ -x "$gen" ] && [ -r "$page" ] && [ -x "$bin" ] || { echo "test_settings_doc: build first (no $gen, $page or $bin)"; exit 1; }

# every setting a user can give is under a heading
"$gen" --undocumented >"$work/undoc"
check "every setting has a group in src/conf/settings.c (none under Other: $(tr '\n' ' ' <"$work/undoc"))" test ! -s "$work/undoc"

check "README.md's configuration reference is settings-doc's" "$here/readme_settings.sh" check "$src/README.md" "$gen"

# the checker itself: a README whose text differs in one row is refused
cp "$src/README.md" "$work/README.md"
row=$(grep -n '^| `--encryption-key` |' "$work/README.md" | cut -d: -f1)
sed -i "${row}s/passphrase protecting/passphrase that protects/" "$work/README.md"
setup "the checker refuses a README with one row changed" \
	bash -c "! '$here/readme_settings.sh' check '$work/README.md' '$gen' 2>/dev/null"

# the man page's SETTINGS section, as built, is settings-doc's
sed -n '/^\.SH SETTINGS$/,/^\.SH /p' "$page" | sed '1d;$d' >"$work/man-settings"
"$gen" --man >"$work/man-want"
check "totalrecall.1's SETTINGS section is settings-doc --man" cmp -s "$work/man-settings" "$work/man-want"

# the same settings, no more, no fewer, in the man page and in `totalrecall help`
"$gen" --names | sort >"$work/names"
check "settings-doc names settings" test "$(wc -l <"$work/names")" -gt 50
sed -n '/^\.SS/,$p' "$work/man-settings" | sed -n 's/^\.BI\? \\-\\-\([a-z0-9\\-]*\).*/\1/p' | sed 's/\\-/-/g; s/^/--/' | sort >"$work/man-names"
check "the man page has every setting, and nothing else" cmp -s "$work/names" "$work/man-names"
"$bin" help | sed -n 's/^  \(--[a-z0-9-]*\) .*/\1/p' | sort >"$work/help-names"
check "totalrecall help has every setting, and nothing else (no derived one)" cmp -s "$work/names" "$work/help-names"
"$gen" --markdown >"$work/markdown"
check "the derived wal-key-prefix is in none of them" \
	bash -c "! grep -q wal-key-prefix '$work/names' '$work/man-settings' '$work/markdown' '$work/help-names'"

# the pages format without a warning (groff -ww), where groff is installed
if command -v groff >/dev/null; then
	for p in "$page" "$src"/src/totalrecall-*.[1-9]; do
		groff -man -t -ww -z "$p" >"$work/groff" 2>&1
		check "groff formats $(basename "$p") without a warning" test ! -s "$work/groff"
		[ -s "$work/groff" ] && head -5 "$work/groff"
	done
else
	echo "SKIP - groff is not installed: the pages' formatting is not checked"
	skipped=1
fi
summary
[ "$failed" -eq 0 ]
