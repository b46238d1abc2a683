#!/usr/bin/env bash
# tests/integration/test_identity.sh - another cluster's WAL or backups
# never mix in; a major upgrade opens a new history section (fs driver,
# PostgreSQL 15):
#   a. p1 archives and backs up: the repository records history section 1
#      with p1's system identifier
#   b. a second cluster (fresh initdb) with the same settings: its
#      archive-put is refused (exit 1, one line naming both identifiers and
#      `totalrecall upgrade`, nothing stored), also through its own
#      archive_command and for a history file (told by its data directory);
#      backup and check refuse it; check on p1 passes
#   c. a damaged section object: list, a cold archive-put, verify and
#      restore report it, never "no history"
#   d. migration: a repository without sections (made before them) with a
#      backup: the first archive-put, from a foreign cluster, records p1
#      (learned from the backup) and is refused; TotalRecall 0.1's
#      repository (WAL only) learns section 1 from its newest segment
#   e. pg_upgrade (15 to a new 15 cluster: a new system identifier) and
#      totalrecall upgrade (from the stopped data directory, again, and
#      from the running server), refusals (the old cluster, a downgrade),
#      the new cluster's WAL under wal-2/, restore refused until it has a
#      backup, then a backup; list shows both sections
#   f. WAL names never collide: one name in both sections, each read back
#      from its own; archive-get picks the section of the data directory
#   g. restores from both sides: the old backup with section 1's WAL, the
#      new one with section 2's, rows compared; verify passes
#   h. expire across sections: retention-count counts both; then section 1
#      keeps no backup and loses its WAL, its section object stays
# Last line: "identity: N passed, M failed".  TR_KEEP=1 keeps the temp dir.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/integration/lib.sh
. "$here/lib.sh"
# shellcheck source=tests/integration/bt_common.sh
. "$here/bt_common.sh"

tr_init identity
PGBIN=$(pg_bin) || tr_die "PostgreSQL 15 not found"
command -v python3 >/dev/null || tr_die "python3 is needed to read list --json"
: "${TR_CMD_TIMEOUT:=180}"
tr_note "server user $TR_SRV_USER, binary $TR_BIN, PostgreSQL $PGBIN, temp $TR_TMP"
repo_setup db-id

traffic() { pg_cmd "$1" pgbench -n -c 2 -j 2 -t 200 >>"$TR_TMP/root/pgbench.log" 2>&1 || tr_die "pgbench on $1 failed"; }
archived() { # NAME: switches WAL and waits until it is archived (LAST_SEG)
	LAST_SEG=$(pg_switch "$1")
	pg_wait_archived "$1" "$LAST_SEG" 120 || fail "$1: $LAST_SEG not archived"
}
cold_state() { pg_scratch "state-$1"; }   # a host that never saw the repository
one_line() { # FILE DESC: the file holds exactly one line
	assert_eq 1 "$(grep -c . "$1")" "$2: one line"
}
# header_sysid FILE: the system identifier in a WAL segment's page header.
header_sysid() { od -An -tu8 -j24 -N8 "$1" | tr -d ' '; }
json() { list_json | jq_py "$1"; }

# ------------------------------------------------------------------ a
section "a. p1: section 1"
pg_start_cluster p1 "${ARCHIVE_CONF[@]}" || tr_die "cannot start p1"
P1_ID=$(pg_sysid p1)
pg_cmd p1 pgbench -i -q -s 1 >"$TR_TMP/root/pgbench-i.log" 2>&1 || tr_die "pgbench -i failed"
archived p1
check "sections/1 was written by the first archive-put" test -f "$REPO/sections/1"
do_backup p1
B1=$LAST_LABEL
assert_contains "$(cat "$TR_LAST_ERR")" "the server is the repository's cluster: system identifier $P1_ID" \
	"backup says the server is section 1's cluster"
assert_eq "1 $P1_ID 15 True" "$(json '" ".join(str(x) for x in [j["sections"][0]["section"], j["sections"][0]["system_id"], j["sections"][0]["pg_version"], j["sections"][0]["current"]])')" \
	"list --json: section 1 is p1, PostgreSQL 15, current"
assert_eq 1 "$(backup_field "$B1" section)" "list --json: $B1 is in section 1"
traffic p1
archived p1

# ------------------------------------------------------------------ b
section "b. a second cluster with the same settings"
pg_start_cluster x "${ARCHIVE_CONF[@]}" || tr_die "cannot start x"
X_ID=$(pg_sysid x)
setup "x has its own system identifier" test "$P1_ID" != "$X_ID"
before=$(repo_listing)
as_pg cp "${PG_DATA[x]}/pg_wal/000000010000000000000001" "$(pg_scratch xwal)/"
TR_DESC="archive-put of x's first segment (p1 archived one of that name)" \
	assert_rc 1 in_dir "$TR_TMP/xwal" tr_run archive-put 000000010000000000000001
one_line "$TR_LAST_ERR" "the refusal"
err=$(cat "$TR_LAST_ERR")
assert_contains "$err" "system identifier $X_ID" "it names x's system identifier"
assert_contains "$err" "system identifier $P1_ID" "and the repository's"
assert_contains "$err" "totalrecall upgrade" "and totalrecall upgrade"
assert_contains "$err" "nothing stored" "and says nothing was stored"
# Through x's own archive_command (PostgreSQL retries; it must keep failing).
xseg=$(pg_switch x)
check "x's archiver fails on $xseg" wait_until 60 pg_archive_failed x
check "x's server log names the refusal" grep -q "is not the one this repository serves" "${PG_LOG[x]}"
assert_eq "$before" "$(repo_listing)" "nothing of x was stored"
# A history file carries no identifier: the data directory archive-put
# runs in (PostgreSQL's working directory) says whose it is.
printf '1\t0/3000000\tno recovery target specified\n' | as_pg tee "${PG_DATA[x]}/pg_wal/00000002.history" >/dev/null
TR_DESC="archive-put of a history file in x's data directory" \
	assert_rc 1 in_dir "${PG_DATA[x]}" tr_run archive-put pg_wal/00000002.history
assert_contains "$(cat "$TR_LAST_ERR")" "system identifier $X_ID" "x's history file is refused as x's"
assert_file_absent "$REPO/wal/00000002.history" "and not stored"
TR_DESC="backup of x" assert_rc 1 tr_on x backup
assert_contains "$(cat "$TR_LAST_ERR")" "totalrecall upgrade" "backup of x is refused naming totalrecall upgrade"
assert_eq "$before" "$(repo_listing)" "the refused backup stored nothing"
TR_DESC="check on x" assert_rc 1 tr_on x check
assert_contains "$(cat "$TR_LAST_ERR")" "system identifier $X_ID" "check on x reports the identity"
TR_DESC="check on p1" assert_rc 0 tr_on p1 check
assert_contains "$(cat "$TR_LAST_ERR")" "check: the server is the repository's cluster" "check on p1 reports the identity check"
drop_cluster x

# ------------------------------------------------------------------ c
section "c. a damaged section object"
saved=$(pg_scratch saved)/section1
as_pg cp "$REPO/sections/1" "$saved"
flip_byte "$REPO/sections/1" 40
TR_DESC="list with sections/1 damaged" assert_rc 0 tr_run list
assert_contains "$(cat "$TR_LAST_OUT")" "history section 1 (current): DAMAGED" "list names the damaged section"
FAKE_SYSID=$P1_ID fake_segment "$(pg_scratch cwal)" 0000000100000000000000C1 1 1048576
TR_DESC="archive-put on a cold host while sections/1 is damaged" \
	assert_rc 1 in_dir "$TR_TMP/cwal" tr_run "TOTALRECALL_STATE_DIR=$(cold_state c)" archive-put 0000000100000000000000C1
assert_contains "$(cat "$TR_LAST_ERR")" "sections/1" "archive-put names the damaged object"
assert_file_absent "$REPO/wal/0000000100000000/0000000100000000000000C1" "and stores nothing"
TR_DESC="verify with sections/1 damaged" assert_rc 1 tr_run verify
assert_contains "$(cat "$TR_LAST_OUT")" "damaged history section 1" "verify reports the damaged section"
assert_contains "$(cat "$TR_LAST_OUT")" "backup $B1 is not restorable" "and that $B1's section is unknown"
TR_DESC="restore --backup $B1 with sections/1 damaged" assert_rc 1 tr_run --backup "$B1" restore "$(pg_scratch rc)/data"
assert_contains "$(cat "$TR_LAST_ERR")" "no readable history section" "restore names the damage"
as_pg cp "$saved" "$REPO/sections/1"
TR_DESC="list after the repair" assert_rc 0 tr_run list
assert_not_contains "$(cat "$TR_LAST_OUT")" "DAMAGED" "the section reads again"

# ------------------------------------------------------------------ d
section "d. migration of repositories without sections"
# The repository as main wrote it before sections existed: p1's backup and
# WAL, no sections/.  This host saw section 1: a foreign cluster's WAL
# makes it read storage, which must not be taken for "no history yet".
as_pg rm -rf "$REPO/sections"
FAKE_SYSID=7000000000000000099 fake_segment "$(pg_scratch dwal)" 0000000100000000000000D1 1 1048576
TR_DESC="archive-put on a host that saw the sections, now gone" \
	assert_rc 1 in_dir "$TR_TMP/dwal" tr_run archive-put 0000000100000000000000D1
assert_contains "$(cat "$TR_LAST_ERR")" "are gone from storage" "sections that vanished are an error, not a migration"
assert_file_absent "$REPO/sections" "and nothing was recorded"
mig=("TOTALRECALL_STATE_DIR=$(cold_state d)")
TR_DESC="list of the repository without sections" assert_rc 0 tr_run "${mig[@]}" list --json
assert_eq "None" "$(jq_py 'j["sections"][0]["system_id"]' <"$TR_LAST_OUT")" "no section recorded yet"
assert_file_absent "$REPO/sections" "reading records nothing"
TR_DESC="archive-put of a foreign cluster first, on a host that never saw the repository" \
	assert_rc 1 in_dir "$TR_TMP/dwal" tr_run "${mig[@]}" archive-put 0000000100000000000000D1
assert_contains "$(cat "$TR_LAST_ERR")" "history section 1 recorded: system identifier $P1_ID (PostgreSQL 15), from backup $B1" \
	"section 1 is learned from the repository's backup, not from the caller"
assert_contains "$(cat "$TR_LAST_ERR")" "system identifier 7000000000000000099" "the foreign WAL is refused"
assert_file_absent "$REPO/wal/0000000100000000/0000000100000000000000D1" "and not stored"
# TotalRecall 0.1's repository: WAL only, mkwal.py's default identifier.
V01=$(pg_scratch v01)
cp -r "$top_srcdir/tests/vectors/v01-repo/v01db" "$V01/" && chmod -R u+w "$V01" # the source tree is read-only under distcheck
chown -R "$TR_SRV_USER" "$V01"
v01=("TOTALRECALL_BUCKET=$V01" TOTALRECALL_DATABASE_ID=v01db "TOTALRECALL_ENCRYPTION_KEY=zero point one"
	"TOTALRECALL_STATE_DIR=$(cold_state v01)")
FAKE_SYSID=7000000000000000098 fake_segment "$(pg_scratch vwal)" 000000010000000000000003 3 1048576
TR_DESC="archive-put of a foreign cluster into 0.1's repository" \
	assert_rc 1 in_dir "$TR_TMP/vwal" tr_run "${v01[@]}" archive-put 000000010000000000000003
assert_contains "$(cat "$TR_LAST_ERR")" "system identifier 7000000000000000001 (PostgreSQL 15), from WAL 000000010000000000000002" \
	"0.1's section 1 is learned from its newest archived segment"
check "0.1's repository now records section 1" test -f "$V01/v01db/sections/1"
python3 "$top_srcdir/tests/tools/mkwal.py" 000000010000000000000003 "$TR_TMP/vwal/000000010000000000000003" \
	--size 1048576 --seed 3 --random 4096
chown "$TR_SRV_USER" "$TR_TMP/vwal/000000010000000000000003"
TR_DESC="archive-put of 0.1's own cluster" assert_rc 0 in_dir "$TR_TMP/vwal" tr_run "${v01[@]}" archive-put 000000010000000000000003

# ------------------------------------------------------------------ e
section "e. pg_upgrade and totalrecall upgrade"
traffic p1
archived p1
S1=$(psql_state p1)
pg_stop_cluster p1
check "p1 archived everything before it stopped" test -z "$(ls "${PG_DATA[p1]}/pg_wal/archive_status" | grep '\.ready$' || true)"
pg_init_cluster n1 || tr_die "initdb of the new cluster failed"
up=$(pg_scratch upgrade)
upgrade_p1() {
	in_dir "$up" as_pg "$PGBIN/pg_upgrade" -b "$PGBIN" -B "$PGBIN" -d "${PG_DATA[p1]}" -D "${PG_DATA[n1]}" \
		-U "$TR_SRV_USER" -p "$(free_port)" -P "$(free_port)" -s "$up" >"$TR_TMP/root/pg_upgrade.log" 2>&1 ||
		{ tail -n 20 "$TR_TMP/root/pg_upgrade.log"; return 1; }
}
setup "pg_upgrade from p1 to the new cluster n1" upgrade_p1
N1_ID=$(od -An -tu8 -N8 "${PG_DATA[n1]}/global/pg_control" | tr -d ' ')
setup "the upgraded cluster has a new system identifier" test "$P1_ID" != "$N1_ID"
TR_DESC="upgrade with the new cluster stopped" assert_rc 0 tr_run "TOTALRECALL_PGDATA=${PG_DATA[n1]}" upgrade
assert_contains "$(cat "$TR_LAST_ERR")" "recorded system identifier $N1_ID (PostgreSQL 15, history section 2)" \
	"upgrade records section 2"
check "sections/2 exists" test -f "$REPO/sections/2"
TR_DESC="upgrade again" assert_rc 0 tr_run "TOTALRECALL_PGDATA=${PG_DATA[n1]}" upgrade
assert_contains "$(cat "$TR_LAST_ERR")" "nothing to do" "upgrade is idempotent"
TR_DESC="upgrade with the old cluster" assert_rc 1 tr_run "TOTALRECALL_PGDATA=${PG_DATA[p1]}" upgrade
assert_contains "$(cat "$TR_LAST_ERR")" "already history section 1" "an older section's cluster is refused"
down=$(pg_scratch down)
as_pg mkdir -p "$down/global"
printf '14\n' | as_pg tee "$down/PG_VERSION" >/dev/null
python3 -c 'import struct, sys; sys.stdout.buffer.write(struct.pack("<QII", 7000000000000000777, 1300, 202107181) + bytes(8176))' |
	as_pg tee "$down/global/pg_control" >/dev/null
TR_DESC="upgrade to PostgreSQL 14" assert_rc 1 tr_run "TOTALRECALL_PGDATA=$down" upgrade
assert_contains "$(cat "$TR_LAST_ERR")" "downgrade" "a downgrade is refused"
assert_file_absent "$REPO/sections/3" "no section was added by the refusals"
# The old cluster's WAL is refused now (the segment of its last checkpoint).
old_seg=$(as_pg "$PGBIN/pg_controldata" -D "${PG_DATA[p1]}" | sed -n "s/^Latest checkpoint's REDO WAL file: *//p")
setup "p1's last checkpoint is in $old_seg" test -f "${PG_DATA[p1]}/pg_wal/$old_seg"
TR_DESC="archive-put of the old cluster's $old_seg" assert_rc 1 in_dir "${PG_DATA[p1]}" tr_run archive-put "pg_wal/$old_seg"
assert_contains "$(cat "$TR_LAST_ERR")" "history section 1's, and the repository has moved on" "the old cluster is refused as such"
TR_DESC="restore of the latest state before section 2 has a backup" \
	assert_rc 1 tr_run --try restore "$(pg_scratch rnone)/data"
assert_contains "$(cat "$TR_LAST_ERR")" "has no backup: take one" "refused: section 2 has no backup yet"
assert_contains "$(cat "$TR_LAST_ERR")" "$B1" "naming the old section's newest backup"
pg_conf n1 "${ARCHIVE_CONF[@]}"
pg_start n1 || tr_die "cannot start n1"
TR_DESC="upgrade through the running server" assert_rc 0 tr_on n1 upgrade
assert_contains "$(cat "$TR_LAST_ERR")" "nothing to do" "the running server is section 2 already"
assert_eq "$S1" "$(psql_state n1)" "n1 holds p1's rows"
traffic n1
archived n1
check "n1's WAL goes to wal-2/" test -n "$(find "$REPO/wal-2" -type f -name '00000001*' | head -n 1)"
do_backup n1
B2=$LAST_LABEL
traffic n1
archived n1
last2=$LAST_SEG
S2=$(psql_state n1)
assert_eq "1 2" "$(json '" ".join(str(b["section"]) for b in j["backups"])')" "list --json: $B1 in section 1, $B2 in section 2"
assert_eq "2 $N1_ID True" "$(json '" ".join(str(x) for x in [j["sections"][1]["section"], j["sections"][1]["system_id"], j["sections"][1]["current"]])')" \
	"list --json: section 2 is n1 and current"
assert_eq "$last2" "$(json 'j["wal"]["last"]')" "list --json: the top-level WAL is the current section's"
TR_DESC="list" assert_rc 0 tr_run list
assert_contains "$(cat "$TR_LAST_OUT")" "PostgreSQL 15, history section 1)" "list shows section 1"
assert_contains "$(cat "$TR_LAST_OUT")" "history section 2), current" "and section 2, current"

# ------------------------------------------------------------------ f
section "f. one WAL name in two sections"
# p1 archived 000000010000000000000001; the same name of n1's cluster goes
# to section 2 (a hand-made segment, below n1's backups).
FAKE_SYSID=$N1_ID fake_segment "$(pg_scratch fwal)" 000000010000000000000001 5
TR_DESC="archive-put of a section 2 segment whose name section 1 has" \
	assert_rc 0 in_dir "$TR_TMP/fwal" tr_run archive-put 000000010000000000000001
g=$(pg_scratch fget)
TR_DESC="archive-get --section 1" assert_rc 0 tr_run --section 1 archive-get "$g/s1" 000000010000000000000001
TR_DESC="archive-get --section 2" assert_rc 0 tr_run --section 2 archive-get "$g/s2" 000000010000000000000001
assert_eq "$P1_ID" "$(header_sysid "$g/s1")" "section 1's copy is p1's WAL"
assert_same_file "$TR_TMP/fwal/000000010000000000000001" "$g/s2" "section 2's copy is the one archived there"
TR_DESC="archive-get in n1's data directory" assert_rc 0 in_dir "${PG_DATA[n1]}" tr_run archive-get "$g/n" 000000010000000000000001
assert_same_file "$g/s2" "$g/n" "without --section: the section of the cluster in the working directory (2)"
TR_DESC="archive-get in p1's data directory" assert_rc 0 in_dir "${PG_DATA[p1]}" tr_run archive-get "$g/p" 000000010000000000000001
assert_same_file "$g/s1" "$g/p" "and in the old cluster's: section 1"
TR_DESC="archive-get --section 3" assert_rc 128 tr_run --section 3 archive-get "$g/x" 000000010000000000000001

# ------------------------------------------------------------------ g
section "g. restores from both sides"
restore_to r1 --backup "$B1"
check "the old backup's restore reads section 1" grep -qx 'section = "1"' "${PG_DATA[r1]}/totalrecall_restore.conf"
start_restored r1 && wait_until 180 pg_not_in_recovery r1 || fail "r1 did not finish recovery"
assert_eq "$S1" "$(psql_state r1)" "r1 (the old backup and section 1's WAL) holds p1's last rows"
drop_cluster r1
restore_to r2
assert_eq "$B2" "$(restored_backup r2)" "restore of the latest takes the newest section's backup"
check "it reads section 2" grep -qx 'section = "2"' "${PG_DATA[r2]}/totalrecall_restore.conf"
start_restored r2 && wait_until 180 pg_not_in_recovery r2 || fail "r2 did not finish recovery"
assert_eq "$S2" "$(psql_state r2)" "r2 (the new backup and section 2's WAL) holds n1's last rows"
drop_cluster r2
TR_DESC="verify with two sections" assert_rc 0 tr_run verify --full

# ------------------------------------------------------------------ h
section "h. expire across sections"
TR_DESC="expire --retention-count 2" assert_rc 0 tr_run --retention-count 2 expire
assert_eq "$B1 $B2" "$(list_labels | tr '\n' ' ' | sed 's/ $//')" "both backups are kept: the count spans sections"
TR_DESC="expire --retention-count 1" assert_rc 0 tr_run --retention-count 1 expire
assert_eq "$B2" "$(list_labels | tr '\n' ' ' | sed 's/ $//')" "$B1 expired"
assert_eq 0 "$(find "$REPO/wal" -type f | wc -l)" "section 1, with no backup left, lost its WAL"
check "its section object stays" test -f "$REPO/sections/1"
assert_file_absent "$REPO/wal-2/0000000100000000/000000010000000000000001" "section 2's WAL below $B2 went"
check "section 2's WAL from $B2 on stays" test -n "$(find "$REPO/wal-2" -type f -name "$last2")"
TR_DESC="verify after expire" assert_rc 0 tr_run verify --full
TR_DESC="archive-put of the old cluster after expire" assert_rc 1 in_dir "${PG_DATA[p1]}" tr_run archive-put "pg_wal/$old_seg"
assert_contains "$(cat "$TR_LAST_ERR")" "history section 1's" "the old cluster stays refused"

finish
