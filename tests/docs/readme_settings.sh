#!/usr/bin/env bash
# The README's configuration reference is what `settings-doc --markdown`
# prints (from the settings table in src/conf/settings.c), between the lines
#   <!-- settings:begin ... -->
#   <!-- settings:end -->
# usage: readme_settings.sh check|update README SETTINGS_DOC
#   check   exit 0 if README holds exactly that text there, else 1 with a diff
#   update  rewrite that part of README (what `make update-docs` runs)
set -euo pipefail
mode=$1 readme=$2 gen=$3
begin='<!-- settings:begin'
end='<!-- settings:end -->'

die() { echo "readme_settings: $*" >&2; exit 2; }
[ -r "$readme" ] || die "cannot read $readme"
nb=$(grep -c "^$begin" "$readme" || true)
ne=$(grep -cx -- "$end" "$readme" || true)
[ "$nb" = 1 ] && [ "$ne" = 1 ] || die "$readme needs one '$begin ... -->' line and one '$end' line (has $nb and $ne)"
bl=$(grep -n "^$begin" "$readme" | cut -d: -f1)
el=$(grep -nx -- "$end" "$readme" | cut -d: -f1)
[ "$bl" -lt "$el" ] || die "$readme: the settings:end line comes before settings:begin"

want=$(mktemp)
trap 'rm -f "$want"' EXIT
{
	head -n "$bl" "$readme"
	echo
	"$gen" --markdown || die "$gen --markdown failed"
	echo
	tail -n "+$el" "$readme"
} >"$want"

case $mode in
check)
	if cmp -s "$want" "$readme"; then
		exit 0
	fi
	echo "readme_settings: $readme's configuration reference is not what src/conf/settings.c says" >&2
	echo "(run 'make update-docs' to rewrite it from the settings table; edit descriptions there):" >&2
	diff -u "$readme" "$want" | head -40 >&2 || true
	exit 1 ;;
update)
	if ! cmp -s "$want" "$readme"; then
		cat "$want" >"$readme"   # in place: keeps the file's owner and mode
		echo "readme_settings: rewrote the configuration reference in $readme"
	fi ;;
*) die "usage: readme_settings.sh check|update README SETTINGS_DOC" ;;
esac
