# shellcheck shell=bash
# tests/integration/lib_keys.sh - helpers shared by test_keys.sh and
# s3/test_keys_s3.sh, sourced after lib.sh's tr_init: a work directory of
# fake WAL segments (W, with pg_wal/), a destination directory (G), and
# archive-put/-get of segment N by number.

# newdir NAME: a fresh, empty directory below $TR_TMP owned by the server user.
newdir() {
	local d=$TR_TMP/$1
	rm -rf "$d"
	as_pg mkdir -p "$d"
	printf '%s\n' "$d"
}
# not_ok CMD...: true when CMD fails (its output discarded).
not_ok() { ! "$@" >/dev/null 2>&1; }
W=$(newdir work)
as_pg mkdir -p "$W/pg_wal"
G=$(newdir get)

# seg N: the name of segment N (1..255) of timeline 1.
seg() { printf '0000000100000000000000%02X' "$1"; }
# put N [VAR=VALUE...]: makes segment N (seed N) unless it exists and
# archive-puts it, expecting exit $WANT (default 0); TR_WHY says why.
put() {
	local n=$1
	shift
	[ -f "$W/pg_wal/$(seg "$n")" ] || FAKE_RANDOM=16384 fake_segment "$W/pg_wal" "$(seg "$n")" "$n"
	TR_DESC="archive-put $(seg "$n")${TR_WHY:+ ($TR_WHY)}" assert_rc "${WANT:-0}" in_dir "$W" tr_run "$@" archive-put "pg_wal/$(seg "$n")"
}
# got N [VAR=VALUE...]: archive-get of segment N returns it byte-identical.
got() {
	local n=$1
	shift
	rm -f "$G/x"
	tr_run "$@" archive-get "$G/x" "$(seg "$n")" >/dev/null 2>&1 && cmp -s "$G/x" "$W/pg_wal/$(seg "$n")"
}
# cold NAME: the setting for a host without the key cached (a fresh state dir).
cold() { printf 'TOTALRECALL_STATE_DIR=%s\n' "$(newdir "state-cold-$1")"; }
