#!/usr/bin/env bash
# The layers of src/ (src/README.md), checked: every quoted #include of a
# file in layer L names a layer L may use, so that data flows one way.
#
#   base     what knows nothing of TotalRecall's data: log, files, clocks
#   format   how an object is encoded: zstd, AEAD, keys, checksums (base)
#   pg       what PostgreSQL writes and says: libpq, WAL, data directories (base)
#   repo     the repository: layout, keys, backups, locks, sections (base format pg)
#   conf     the settings and their typed structs (base format pg repo)
#   cmd      the commands (every layer below)
#   cli      main: options and dispatch (every layer)
#
# Also refused: a source file directly in src/ or in a folder that is not a
# layer; an include without its layer folder ("repo.h" instead of
# "repo/repo.h"; only the generated "config.h" has none); a header named
# *_internal.h included from outside its own folder (what a layer keeps to
# itself, such as the repository's struct); the public driver ABI header
# (totalrecall/driver.h) below format, the first layer that moves bytes.
#
# usage: tests/lint/layers.sh [SRC_DIR]   (default: the src/ of this tree)
# Exit 0 when every file keeps the rules, 1 with one line per violation.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
src=${1:-${top_srcdir:-$here/../..}/src}
[ -d "$src" ] || { echo "layers: no source directory $src" >&2; exit 1; }

# The layer a layer may include, itself included.
allowed() {
	case $1 in
	base) echo "base" ;;
	format) echo "base format" ;;
	pg) echo "base pg" ;;
	repo) echo "base format pg repo" ;;
	conf) echo "base format pg repo conf" ;;
	cmd) echo "base format pg repo conf cmd" ;;
	cli) echo "base format pg repo conf cmd cli" ;;
	esac
}
layers="base format pg repo conf cmd cli"
is_layer() { case " $layers " in *" $1 "*) return 0 ;; esac; return 1; }

bad=0 files=0
declare -A bad_files=()  # each file is one check: passed when it breaks no rule
say() { echo "layers: $*"; bad=$((bad + 1)); bad_files[$rel]=1; }

while IFS= read -r -d '' file; do
	rel=${file#"$src"/}
	files=$((files + 1))
	case $rel in
	*/*/*) say "$rel: below a layer folder; every source file sits directly in its layer's folder"; continue ;;
	*/*) layer=${rel%%/*} ;;
	*) say "$rel: directly in src/; move it into the folder of its layer"; continue ;;
	esac
	if ! is_layer "$layer"; then
		say "$rel: $layer/ is not a layer ($layers)"
		continue
	fi
	ok=" $(allowed "$layer") "
	# line number and included name of every quoted include
	while IFS=: read -r line name; do
		case $name in
		config.h) continue ;;
		totalrecall/driver.h)
			[ "$layer" = base ] && say "$rel:$line: includes $name: base/ moves no bytes of storage (format/ and above may)"
			continue ;;
		*/*) ;;
		*) say "$rel:$line: includes \"$name\" without its layer folder (write \"<layer>/$name\")"; continue ;;
		esac
		to=${name%%/*}
		if ! is_layer "$to"; then
			say "$rel:$line: includes $name: $to/ is not a layer"
		elif [[ $ok != *" $to "* ]]; then
			say "$rel:$line: includes $name: $layer/ may include only$(printf ' %s/' $(allowed "$layer"))"
		elif [[ $name == *_internal.h && $to != "$layer" ]]; then
			say "$rel:$line: includes $name: a layer's *_internal.h is for its own folder"
		fi
	done < <(grep -n '^[[:space:]]*#[[:space:]]*include[[:space:]]*"' "$file" | sed 's/^\([0-9]*\):.*"\([^"]*\)".*/\1:\2/')
done < <(find "$src" \( -name '*.c' -o -name '*.h' \) -print0 | sort -z)

if [ "$bad" -gt 0 ]; then
	echo "layers: $bad violation(s) of the layer rules (src/README.md)"
else
	echo "layers: every include in $files files goes down or sideways within its layer"
fi
# The summary the test runners count: one check per file.
echo "layers: $((files - ${#bad_files[@]})) passed, ${#bad_files[@]} failed"
[ "$bad" -eq 0 ]
