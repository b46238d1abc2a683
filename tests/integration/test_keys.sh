#!/usr/bin/env bash
# tests/integration/test_keys.sh - the key and the repository's truth, on
# the fs driver (tests/integration/s3/test_keys_s3.sh: the same on moto):
#   a. creation: keyring and keyring-copy; key list; no key material shown
#   b. keyring deleted, damaged, replaced: with a warm and a cold key cache
#   c. every copy lost: a host with the keys writes them back (init);
#      a host without refuses; nothing is ever written under a new key
#   d. the repository gone (emptied mount point): archive-put refuses,
#      archive-get never answers "absent"; init starts again there
#   e. a repository made by TotalRecall 0.1: read, then migrated on write
#   f. a changed passphrase on a host with the key cached
#   g. local state: a state directory created by another user, a /tmp
#      fallback created by another user, a symbolic link
#   h. archive-put of what is not WAL: a FIFO, a FIFO secret, random bytes,
#      a file that shrinks while it is read (test hook, both read paths)
#   i. the prefetch spool tampered with
#   j. key rotation; killed at every step of it
#   k. PostgreSQL 15: backups carry a keyring copy that repairs a lost
#      keyring; the repository moved away during a recovery stops it
#      (no promotion), and it continues once the repository is back
# Last line: "keys: N passed, M failed".  TR_KEEP=1 keeps the temp dir.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/integration/lib.sh
. "$here/lib.sh"

tr_init keys
PGBIN=$(pg_bin) || tr_die "PostgreSQL 15 not found"
section() { tr_note "== $* (at ${SECONDS}s)"; }

KEY="keys test passphrase $$-$RANDOM"
DBID=db-keys
BUCKET=$(pg_scratch bucket)
REPO=$BUCKET/$DBID
STATE=$TR_TMP/state
tr_write_keyfile "$KEY"
tr_env_set TOTALRECALL_DRIVER=fs "TOTALRECALL_BUCKET=$BUCKET" "TOTALRECALL_DATABASE_ID=$DBID" \
	"TOTALRECALL_ENCRYPTION_KEY=file:$KEYFILE" TOTALRECALL_KDF_ITERATIONS=1000 \
	"TOTALRECALL_STATE_DIR=$STATE" TOTALRECALL_PREFETCH=0 TOTALRECALL_ARCHIVE_AHEAD=0

# shellcheck source=tests/integration/lib_keys.sh
. "$here/lib_keys.sh"
wal_count() { find "$REPO/wal" -type f ! -name '.*' 2>/dev/null | wc -l; }
cold() { printf 'TOTALRECALL_STATE_DIR=%s\n' "$(newdir "state-cold-$1")"; }
keyring_line() { sed -n "s/^$1 //p" "$2" | head -1; }

# ------------------------------------------------------------------ a
section "a. creation"
put 1
check "keyring and keyring-copy exist" test -f "$REPO/keyring" -a -f "$REPO/keyring-copy"
assert_same_file "$REPO/keyring" "$REPO/keyring-copy" "the copy is the keyring"
assert_eq "totalrecall-keyring 2" "$(head -1 "$REPO/keyring")" "a version 2 keyring"
KEYID=$(keyring_line current "$REPO/keyring")
check "this host cached the key under its id" test -f "$STATE/keys/"*"/$KEYID.key"
TR_DESC="key list" assert_rc 0 tr_run key list
assert_contains "$(cat "$TR_LAST_OUT")" "$KEYID" "key list shows the key id"
assert_contains "$(cat "$TR_LAST_OUT")" "current" "and which one is current"
DATAHEX=$(sed -n 's/^data //p' "$STATE/keys/"*"/$KEYID.key")
assert_not_contains "$(cat "$TR_LAST_OUT" "$TR_LAST_ERR")" "$DATAHEX" "key list never shows key material"
check "the cache file is 0600 in a 0700 directory" test "$(stat -c %a "$STATE/keys/"*"/$KEYID.key")" = 600 \
	-a "$(stat -c %a "$(dirname "$(ls "$STATE/keys/"*"/$KEYID.key")")")" = 700
TR_DESC="init on an existing repository: nothing to do" assert_rc 0 tr_run init
assert_contains "$(cat "$TR_LAST_OUT")" "generation 1" "init names the generation"
for n in 2 3; do put "$n"; done
cp -p "$REPO/keyring" "$TR_TMP/root/keyring.good"

# ------------------------------------------------------------------ b
section "b. keyring deleted, damaged, replaced; warm and cold cache"
rm "$REPO/keyring"
TR_WHY="keyring deleted, warm cache" put 4
assert_same_file "$REPO/keyring" "$TR_TMP/root/keyring.good" "the keyring was rewritten from its copy"
assert_contains "$(cat "$TR_LAST_ERR")" "was missing: rewritten" "the repair is logged"
rm "$REPO/keyring"
check "keyring deleted, cold cache: archive-get reads" got 2 "$(cold 1)"
assert_same_file "$REPO/keyring" "$TR_TMP/root/keyring.good" "and rewrote the keyring"
rm "$REPO/keyring-copy"
TR_DESC="keyring-copy deleted: list" assert_rc 0 tr_run "$(cold 2)" list
assert_same_file "$REPO/keyring-copy" "$TR_TMP/root/keyring.good" "list rewrote the copy"
flip_byte "$REPO/keyring" 300
TR_WHY="keyring damaged, warm cache" put 5
assert_same_file "$REPO/keyring" "$TR_TMP/root/keyring.good" "the damaged keyring was rewritten"
flip_byte "$REPO/keyring" 120
TR_DESC="verify with the keyring damaged" assert_rc 0 tr_run verify
assert_contains "$(cat "$TR_LAST_OUT")" "was damaged: rewritten" "verify reports the repair"
assert_same_file "$REPO/keyring" "$TR_TMP/root/keyring.good" "verify's unlocking repaired it"
truncate -s 100 "$REPO/keyring-copy"
check "keyring-copy truncated, cold cache: archive-get reads" got 3 "$(cold 3)"
assert_same_file "$REPO/keyring-copy" "$TR_TMP/root/keyring.good" "the truncated copy was rewritten"

# Replaced: the keyring and its copy of another repository, made with
# another passphrase, then with the same one.
other=$(newdir other-bucket)
tr_run "TOTALRECALL_BUCKET=$other" TOTALRECALL_ENCRYPTION_KEY=another-passphrase "$(cold 4)" init >/dev/null 2>&1
n=$(wal_count)
for f in keyring keyring-copy; do as_pg cp "$other/$DBID/$f" "$REPO/$f"; done
WANT=1 TR_WHY="keyring replaced, another passphrase, warm cache" put 6
assert_contains "$(cat "$TR_LAST_ERR")" "does not match" "refused: the keyring does not open"
WANT=1 TR_WHY="keyring replaced, another passphrase, cold cache" put 6 "$(cold 5)"
assert_eq "$n" "$(wal_count)" "nothing was written under any key"
check "archive-get with the replaced keyring and a cold cache fails" not_ok got 1 "$(cold 6)"
tr_run "TOTALRECALL_BUCKET=$other" "$(cold 7)" init >/dev/null 2>&1 || true
as_pg rm -rf "$other/$DBID"
tr_run "TOTALRECALL_BUCKET=$other" "$(cold 8)" init >/dev/null 2>&1
for f in keyring keyring-copy; do as_pg cp "$other/$DBID/$f" "$REPO/$f"; done
WANT=1 TR_WHY="keyring replaced by one that opens with the same passphrase, warm cache" put 6
assert_contains "$(cat "$TR_LAST_ERR")" "replaced" "refused: it lacks the key this host has used"
assert_eq "$n" "$(wal_count)" "nothing was written under the replacement's key"
for f in keyring keyring-copy; do as_pg cp "$TR_TMP/root/keyring.good" "$REPO/$f"; done
put 6
check "with the keyring back, every segment reads back" got 6

# ------------------------------------------------------------------ c
section "c. every copy lost"
rm "$REPO/keyring" "$REPO/keyring-copy"
n=$(wal_count)
WANT=1 TR_WHY="no keyring at all, cold cache" put 7 "$(cold 9)"
assert_contains "$(cat "$TR_LAST_ERR")" "holds objects but no keyring" "refused, saying why"
assert_eq "$n" "$(wal_count)" "no object written, no new key"
check "no keyring was created" test ! -e "$REPO/keyring" -a ! -e "$REPO/keyring-copy"
TR_DESC="archive-get of an absent segment, no keyring, cold cache" \
	assert_rc 128 tr_run "$(cold 10)" archive-get "$G/x" "$(seg 99)"
TR_DESC="init on a host without the keys" assert_rc 1 tr_run "$(cold 11)" init
check "init created nothing" test ! -e "$REPO/keyring"
TR_DESC="init on the host that has the keys" assert_rc 0 tr_run init
assert_contains "$(cat "$TR_LAST_ERR")" "cached key" "init says it used the cached keys"
assert_eq "$KEYID" "$(keyring_line current "$REPO/keyring")" "the same key id"
check "the keyring written back opens on a cold host" got 1 "$(cold 12)"
rm "$REPO/keyring" "$REPO/keyring-copy"
TR_WHY="every copy lost, warm cache: the cached keyring snapshot repairs" put 7
check "keyring and copy are back" test -f "$REPO/keyring" -a -f "$REPO/keyring-copy"
assert_contains "$(cat "$TR_LAST_ERR")" "rewritten from this host's cached keyring" "the repair names its source"
cp -p "$REPO/keyring" "$TR_TMP/root/keyring.good"

# ------------------------------------------------------------------ d
section "d. the repository gone"
as_pg mv "$REPO" "$REPO.away"
TR_DESC="archive-get of an absent segment, repository gone, warm cache" \
	assert_rc 128 tr_run archive-get "$G/x" "$(seg 99)"
assert_contains "$(cat "$TR_LAST_ERR")" "not confirmed" "never 'absent' when the repository is not confirmed"
WANT=1 TR_WHY="repository gone, warm cache" put 8
assert_contains "$(cat "$TR_LAST_ERR")" "is gone" "archive-put says the repository is gone"
check "nothing was created in the empty place" test ! -e "$REPO"
TR_DESC="list with the repository gone, cold cache" assert_rc 1 tr_run "$(cold 13)" list
as_pg mv "$REPO.away" "$REPO"
check "the repository back: reads again" got 1
# An emptied place: init starts again there with this host's key.
as_pg mv "$REPO" "$REPO.saved"
as_pg mkdir "$REPO"
TR_DESC="init in the emptied place" assert_rc 0 tr_run init
assert_eq "$KEYID" "$(keyring_line current "$REPO/keyring")" "init reused this host's key"
as_pg rm -rf "$REPO"
as_pg mv "$REPO.saved" "$REPO"

# ------------------------------------------------------------------ e
section "e. a repository made by TotalRecall 0.1"
V01=$(newdir v01-bucket)
cp -r "$top_srcdir/tests/vectors/v01-repo/v01db" "$V01/" && chmod -R u+w "$V01" # the source tree is read-only under distcheck
chown -R "$TR_SRV_USER" "$V01"
v01=("TOTALRECALL_BUCKET=$V01" TOTALRECALL_DATABASE_ID=v01db "TOTALRECALL_ENCRYPTION_KEY=zero point one"
	"TOTALRECALL_STATE_DIR=$(newdir state-v01)")
V01ID=$(keyring_line key-id "$V01/v01db/keyring")
VW=$(newdir v01-work)
as_pg mkdir -p "$VW/pg_wal"
for n in 1 2; do
	python3 "$top_srcdir/tests/tools/mkwal.py" "$(seg "$n")" "$VW/pg_wal/$(seg "$n")" --size 1048576 --seed "$n" --random 4096
	tr_run "${v01[@]}" archive-get "$G/v$n" "$(seg "$n")" >/dev/null 2>&1 || true
	assert_same_file "$G/v$n" "$VW/pg_wal/$(seg "$n")" "0.1's $(seg "$n") reads back identical"
done
chown -R "$TR_SRV_USER" "$VW"
TR_DESC="list of the 0.1 repository" assert_rc 0 tr_run "${v01[@]}" list
assert_eq "totalrecall-keyring 1" "$(head -1 "$V01/v01db/keyring")" "reading does not migrate"
python3 "$top_srcdir/tests/tools/mkwal.py" "$(seg 3)" "$VW/pg_wal/$(seg 3)" --size 1048576 --seed 3 --random 4096
chown "$TR_SRV_USER" "$VW/pg_wal/$(seg 3)"
TR_DESC="archive-put into the 0.1 repository" assert_rc 0 in_dir "$VW" tr_run "${v01[@]}" archive-put "pg_wal/$(seg 3)"
assert_contains "$(cat "$TR_LAST_ERR")" "migrated the keyring" "the first write migrates the keyring"
assert_eq "totalrecall-keyring 2" "$(head -1 "$V01/v01db/keyring")" "now version 2"
assert_same_file "$V01/v01db/keyring" "$V01/v01db/keyring-copy" "with its copy"
assert_eq "$V01ID" "$(keyring_line current "$V01/v01db/keyring")" "the same key id as 0.1's"
for n in 1 2 3; do
	rm -f "$G/v$n"
	tr_run "${v01[@]/TOTALRECALL_STATE_DIR=*/$(cold 14)}" archive-get "$G/v$n" "$(seg "$n")" >/dev/null 2>&1 || true
	assert_same_file "$G/v$n" "$VW/pg_wal/$(seg "$n")" "after the migration, on a cold host: $(seg "$n") identical"
done
TR_DESC="the 0.1 passphrase still the only one" assert_rc 1 tr_run "${v01[@]}" "$(cold 15)" \
	TOTALRECALL_ENCRYPTION_KEY=not-it list

# ------------------------------------------------------------------ f
section "f. a changed passphrase on a host with the key cached"
TR_DESC="list with a wrong passphrase, warm cache: refused at once" \
	assert_rc 1 tr_run TOTALRECALL_ENCRYPTION_KEY=wrong list
assert_contains "$(cat "$TR_LAST_ERR")" "does not match" "list says so"
touch "$STATE"/keys/*/keyring  # the passphrase was checked just now
TR_DESC="archive-get within a minute of the last check: the cached keys serve" \
	assert_rc 0 tr_run TOTALRECALL_ENCRYPTION_KEY=wrong archive-get "$G/x" "$(seg 1)"
touch -d '-2 minutes' "$STATE"/keys/*/keyring
TR_DESC="archive-get a minute later: the passphrase is checked, refused" \
	assert_rc 128 tr_run TOTALRECALL_ENCRYPTION_KEY=wrong archive-get "$G/x2" "$(seg 1)"
WANT=1 TR_WHY="wrong passphrase, check due" put 9 TOTALRECALL_ENCRYPTION_KEY=wrong
TR_DESC="the right passphrase, check due" assert_rc 0 tr_run archive-get "$G/x3" "$(seg 1)"
rm -f "$G"/x*

# ------------------------------------------------------------------ g
section "g. local state that is not ours"
hostile=$TR_TMP/hostile-state
mkdir -p "$hostile" && chown nobody "$hostile" && chmod 0777 "$hostile"
TR_DESC="archive-put with a state directory of another user" assert_rc 1 in_dir "$W" \
	tr_run "TOTALRECALL_STATE_DIR=$hostile" archive-put "pg_wal/$(seg 1)"
assert_contains "$(cat "$TR_LAST_ERR")" "$hostile" "the error names the directory"
TR_DESC="archive-get with a state directory of another user" assert_rc 128 \
	tr_run "TOTALRECALL_STATE_DIR=$hostile" archive-get "$G/x" "$(seg 1)"
assert_eq "" "$(find "$hostile" -mindepth 1 | head -1)" "nothing was written into it"
as_pg mkdir -p "$TR_TMP/real-state"
as_pg ln -s "$TR_TMP/real-state" "$TR_TMP/link-state"
TR_DESC="a state directory that is a symbolic link" assert_rc 1 tr_run "TOTALRECALL_STATE_DIR=$TR_TMP/link-state" list
assert_contains "$(cat "$TR_LAST_ERR")" "symbolic link" "the error says why"
# The /tmp fallback (no HOME, no XDG_CACHE_HOME, no state dir): as a uid
# of its own, so that no other test's /tmp/totalrecall-<uid> is touched.
if [ "$(id -u)" -eq 0 ]; then
	uid=$((40000 + RANDOM % 20000))
	fb=/tmp/totalrecall-$uid
	rm -rf "$fb" && mkdir -m 0700 "$fb" && chown nobody "$fb"
	ub=$TR_TMP/uid-bucket
	mkdir -p "$ub" && chown "$uid" "$ub"
	as_uid() { timeout 60 setpriv --reuid="$uid" --regid="$uid" --clear-groups env -i PATH=/usr/bin:/bin \
		TOTALRECALL_DRIVER=fs "TOTALRECALL_BUCKET=$ub" TOTALRECALL_DATABASE_ID=u TOTALRECALL_ENCRYPTION_KEY=k \
		TOTALRECALL_KDF_ITERATIONS=1000 ${TR_DRIVER_DIR:+TOTALRECALL_DRIVER_DIR=$TR_DRIVER_DIR} "$TR_BIN" "$@"; }
	TR_DESC="init with /tmp/totalrecall-$uid created by another user" assert_rc 1 as_uid init
	assert_contains "$(cat "$TR_LAST_ERR")" "owned by uid" "refused: the directory is not ours"
	check "no keyring was written" test ! -e "$ub/u/keyring"
	rm -rf "$fb"
	TR_DESC="init with no /tmp/totalrecall-$uid: made by us" assert_rc 0 as_uid init
	check "/tmp/totalrecall-$uid: ours, mode 0700" test "$(stat -c '%u %a' "$fb")" = "$uid 700"
	rm -rf "$fb"
else
	skip "the /tmp fallback case needs another uid (run as root)"
fi

# ------------------------------------------------------------------ h
section "h. archive-put of what is not WAL"
as_pg mkfifo "$W/pg_wal/$(seg 20)"
TR_DESC="archive-put of a FIFO (never hangs)" TR_CMD_TIMEOUT=20 assert_rc 1 in_dir "$W" tr_run archive-put "pg_wal/$(seg 20)"
assert_contains "$(cat "$TR_LAST_ERR")" "not a regular file" "a FIFO is not a regular file"
as_pg mkfifo "$TR_TMP/secret/fifo-key"
TR_DESC="a FIFO as the passphrase file (never hangs)" TR_CMD_TIMEOUT=20 assert_rc 1 \
	tr_run "TOTALRECALL_ENCRYPTION_KEY=file:$TR_TMP/secret/fifo-key" list
assert_contains "$(cat "$TR_LAST_ERR")" "not a regular file" "the error says why"
head -c 16777216 /dev/urandom | as_pg tee "$W/pg_wal/$(seg 21)" >/dev/null
n=$(wal_count)
WANT=1 TR_WHY="random bytes under a segment name" put 21
assert_contains "$(cat "$TR_LAST_ERR")" "is not WAL segment" "refused as not WAL"
FAKE_RANDOM=16384 fake_segment "$W/pg_wal" "$(seg 22)" 40 8388608
as_pg truncate -s 8000000 "$W/pg_wal/$(seg 22)"
WANT=1 TR_WHY="a truncated segment" put 22
assert_eq "$n" "$(wal_count)" "nothing stored for either"
# Shrinking while read: the mapped path (16 MiB, two pieces) raises SIGBUS.
FAKE_RANDOM=8388608 fake_segment "$W/pg_wal" "$(seg 23)" 23
WANT=1 TR_WHY="truncated to 4 MiB while compressing from its mapping" put 23 TOTALRECALL_PARALLEL=2 \
	TOTALRECALL_TEST_TRUNCATE_AT=4194304
assert_contains "$(cat "$TR_LAST_ERR")" "test hook: truncated" "the hook truncated it"
assert_contains "$(cat "$TR_LAST_ERR")" "shrank while it was being read" "the SIGBUS became an error"
check "not stored" test ! -e "$REPO/$(wal_object_key "$(seg 23)")"
# The streamed path (a 4 MiB segment is less than a piece).
FAKE_RANDOM=2097152 fake_segment "$W/pg_wal" "$(seg 24)" 24 4194304
WANT=1 TR_WHY="truncated while streamed" put 24 TOTALRECALL_TEST_TRUNCATE_AT=1048576
assert_contains "$(cat "$TR_LAST_ERR")" "changed while it was being read" "refused: it changed"
check "not stored" test ! -e "$REPO/$(wal_object_key "$(seg 24)")"
check "no temporary file left in the repository" test -z "$(find "$BUCKET" -name '.tr-tmp-*' -print -quit)"
check "no core file" test -z "$(find "$W" "$TR_TMP/home" -name 'core*' -print -quit)"

# ------------------------------------------------------------------ i
section "i. the prefetch spool tampered with"
for n in 30 31 32 33 34; do put "$n"; done
pst=$(newdir state-prefetch)
pf=(TOTALRECALL_PREFETCH=4 "TOTALRECALL_STATE_DIR=$pst")
spooled() { compgen -G "$pst/prefetch/*/$(seg "$1")" >/dev/null; }
# Fetches segment 30 and waits for the prefetcher to spool 31..34.
prime() {
	rm -f "$G/p"
	tr_run "${pf[@]}" archive-get "$G/p" "$(seg 30)" >/dev/null 2>&1
	wait_until 60 spooled 34 && wait_until 60 tr_no_strays
}
check "the prefetcher spooled the next segments" prime
spool=$(dirname "$(compgen -G "$pst/prefetch/*/$(seg 31)")")
check "the spool holds objects as stored, not WAL" not_ok cmp -s -n 4096 "$spool/$(seg 31)" "$W/pg_wal/$(seg 31)"
flip_byte "$spool/$(seg 31)" 2000
cp "$spool/$(seg 34)" "$spool/$(seg 32)"
rm "$spool/$(seg 33)" && as_pg mkfifo "$spool/$(seg 33)"
for n in 31 32 33; do
	rm -f "$G/p"
	TR_DESC="archive-get $(seg "$n"), its spooled copy tampered" assert_rc 0 tr_run "${pf[@]}" archive-get "$G/p" "$(seg "$n")"
	assert_same_file "$G/p" "$W/pg_wal/$(seg "$n")" "the right bytes, from the archive"
	assert_contains "$(cat "$TR_LAST_ERR")" "prefetched copy is unusable" "the tampering is reported"
	wait_until 60 tr_no_strays || true
done
check "prefetch again" prime
TR_DESC="archive-get of an untouched prefetched segment" assert_rc 0 tr_run "${pf[@]}" archive-get "$G/p" "$(seg 31)"
assert_contains "$(cat "$TR_LAST_ERR")" "prefetched" "served from the spool"
assert_same_file "$G/p" "$W/pg_wal/$(seg 31)" "identical"
wait_until 60 tr_no_strays || true

# ------------------------------------------------------------------ j
section "j. key rotation"
NEWKEY="rotated passphrase $RANDOM"
printf '%s\n' "$NEWKEY" | as_pg tee "$TR_TMP/secret/newkey" >/dev/null
as_pg mkdir -p "$REPO/backups/20260101-000000F"
as_pg cp "$REPO/keyring" "$REPO/backups/20260101-000000F/keyring"
TR_DESC="key rotate --new-encryption-key file:" assert_rc 0 tr_run key rotate --new-encryption-key "file:$TR_TMP/secret/newkey"
assert_not_contains "$(cat "$TR_LAST_OUT" "$TR_LAST_ERR")" "$NEWKEY" "the new passphrase is never printed"
assert_eq 2 "$(keyring_line generation "$REPO/keyring")" "generation 2"
assert_same_file "$REPO/keyring" "$REPO/keyring-copy" "the copy rotated too"
assert_same_file "$REPO/keyring" "$REPO/backups/20260101-000000F/keyring" "and the copy beside the backup"
assert_eq "$KEYID" "$(keyring_line current "$REPO/keyring")" "the same data key"
new=(TOTALRECALL_ENCRYPTION_KEY=env:TR_NEW "TR_NEW=$NEWKEY")
TR_DESC="the old passphrase is refused by list on this host" assert_rc 1 tr_run list
WANT=1 TR_WHY="old passphrase, warm cache: the changed keyring is noticed before writing" put 35
TR_DESC="the old passphrase on a cold host" assert_rc 128 tr_run "$(cold 16)" archive-get "$G/x" "$(seg 1)"
bad=0
for n in 1 2 3 4 5 6 7 30 31; do got "$n" "${new[@]}" "$(cold 17)" || bad=$((bad + 1)); done
assert_eq 0 "$bad" "the new passphrase opens every object, on a cold host"
TR_WHY="new passphrase" put 35 "${new[@]}"
TR_DESC="key rotate --new-data-key" assert_rc 0 tr_run "${new[@]}" key rotate --new-data-key
NEWID=$(keyring_line current "$REPO/keyring")
assert_ne "$KEYID" "$NEWID" "a new current key"
check "both keys in the keyring" grep -q "^key $KEYID " "$REPO/keyring"
TR_WHY="under the new data key" put 36 "${new[@]}"
assert_eq "$NEWID" "$(od -An -tx1 -j12 -N8 "$REPO/$(wal_object_key "$(seg 36)")" | tr -d ' \n')" \
	"a new object carries the new key id"
assert_eq "$KEYID" "$(od -An -tx1 -j12 -N8 "$REPO/$(wal_object_key "$(seg 1)")" | tr -d ' \n')" \
	"an old object keeps the old one"
check "old and new objects read on a cold host" got 1 "${new[@]}" "$(cold 18)"
check "old and new objects read on a cold host (new)" got 36 "${new[@]}" "$(cold 18)"
check "this host cached both keys" test -f "$STATE/keys/"*"/$KEYID.key" -a -f "$STATE/keys/"*"/$NEWID.key"
TR_DESC="key list" assert_rc 0 tr_run "${new[@]}" key list
assert_eq 2 "$(grep -c '^[0-9a-f]\{16\} ' "$TR_LAST_OUT")" "two keys listed"
check "the new one current" grep -q "^$NEWID .*current" "$TR_LAST_OUT"
TR_DESC="TOTALRECALL_NEW_ENCRYPTION_KEY=env:" assert_rc 0 tr_run "${new[@]}" TR_NEXT=third \
	TOTALRECALL_NEW_ENCRYPTION_KEY=env:TR_NEXT key rotate
TR_DESC="rotating to the same passphrase is refused" assert_rc 1 tr_run TOTALRECALL_ENCRYPTION_KEY=third \
	--  --new-encryption-key third key rotate
TR_DESC="key rotate with nothing to do" assert_rc 1 tr_run TOTALRECALL_ENCRYPTION_KEY=third key rotate

# Killed at every step: the repository opens with the old or the new
# passphrase, never neither, and init then completes it.
as_pg cp -a "$REPO" "$TR_TMP/repo-before-rotation"
snap=$TR_TMP/repo-before-rotation
cur=(TOTALRECALL_ENCRYPTION_KEY=third)
nxt=(TOTALRECALL_ENCRYPTION_KEY=fourth)
TR_DESC="count the steps of a rotation" assert_rc 0 tr_run "${cur[@]}" "$(cold 19)" \
	TOTALRECALL_TEST_KILL_AFTER_OPS=100000000 --new-encryption-key fourth --new-data-key key rotate
steps=$(sed -n 's/^test hook: \([0-9]*\) storage operations$/\1/p' "$TR_LAST_ERR" | tail -1)
tr_note "a rotation takes $steps storage steps"
setup "a rotation has several steps ($steps)" test "${steps:-0}" -ge 5
never_neither=0 killed=0 completed=0
for ((p = 0; p < steps; p++)); do
	as_pg rm -rf "$REPO" && as_pg cp -a "$snap" "$REPO"
	rc=0
	tr_run "${cur[@]}" "$(cold 20)" TOTALRECALL_TEST_KILL_AFTER_OPS=$p --new-encryption-key fourth --new-data-key \
		key rotate >/dev/null 2>&1 || rc=$?
	[ "$rc" = 137 ] && killed=$((killed + 1))
	old_ok=0 new_ok=0
	tr_run "${cur[@]}" "$(cold 21)" list >/dev/null 2>&1 && old_ok=1
	tr_run "${nxt[@]}" "$(cold 22)" list >/dev/null 2>&1 && new_ok=1
	if [ $((old_ok + new_ok)) -ne 1 ]; then
		never_neither=$((never_neither + 1))
		tr_note "killed at step $p: old passphrase opens: $old_ok, new: $new_ok"
		continue
	fi
	which=("${cur[@]}")
	[ "$new_ok" = 1 ] && which=("${nxt[@]}")
	if tr_run "${which[@]}" "$(cold 23)" init >/dev/null 2>&1 && got 1 "${which[@]}" "$(cold 24)" &&
		cmp -s "$REPO/keyring" "$REPO/keyring-copy" && cmp -s "$REPO/keyring" "$REPO/backups/20260101-000000F/keyring"; then
		completed=$((completed + 1))
	else
		tr_note "killed at step $p: init with the passphrase that opens did not complete it"
	fi
done
setup "the rotation was killed at each of its $steps steps ($killed)" test "$steps" = "$killed"
assert_eq 0 "$never_neither" "after every kill exactly one of the old and new passphrases opens the repository"
assert_eq "$steps" "$completed" "after every kill, init completes the repository with that passphrase"
as_pg rm -rf "$REPO" && as_pg mv "$snap" "$REPO"
tr_env_set TOTALRECALL_ENCRYPTION_KEY=third

# ------------------------------------------------------------------ k
section "k. PostgreSQL 15: backups, and a repository moved away during recovery"
DBID=db-pg
REPO=$BUCKET/$DBID
tr_env_set TOTALRECALL_DATABASE_ID=$DBID "TOTALRECALL_ENCRYPTION_KEY=file:$KEYFILE"
pg_start_cluster p1 "wal_level = replica" "archive_mode = on" "archive_command = '$TR_BIN archive-put %p'" \
	"wal_keep_size = '1GB'" "checkpoint_timeout = '1h'" || tr_die "cannot start p1"
pg_cmd p1 pgbench -i -q -s 1 >/dev/null 2>&1 || tr_die "pgbench -i failed"
pg_register r1 "$TR_TMP/pg-r1/data"
pg_cmd p1 pg_basebackup -D "${PG_DATA[r1]}" -X none -c fast --no-sync >"$TR_TMP/root/bb.log" 2>&1 ||
	tr_die "pg_basebackup: $(tr '\n' '|' <"$TR_TMP/root/bb.log")"
TR_DESC="totalrecall backup" assert_rc 0 tr_run "TOTALRECALL_PG_CONNINFO=host=${PG_SOCK[p1]} port=${PG_PORT[p1]} dbname=postgres" backup
label=$(ls "$REPO/backups" | head -1)
assert_same_file "$REPO/keyring" "$REPO/backups/$label/keyring" "the backup carries a copy of the keyring"
last=""
for i in 1 2 3 4 5 6; do
	psql_q p1 "CREATE TABLE t$i AS SELECT g, md5(g::text) FROM generate_series(1, 20000) g" >/dev/null
	last=$(pg_switch p1)
done
check "p1 archived up to $last" pg_wait_archived p1 "$last" 120
expected=$(psql_q p1 "SELECT count(*) FROM t6")
# Keyring and copy lost, a cold host: the copy beside the backup repairs.
rm "$REPO/keyring" "$REPO/keyring-copy"
TR_DESC="list with keyring and copy lost, cold cache" assert_rc 0 tr_run "$(cold 25)" list
assert_contains "$(cat "$TR_LAST_ERR")" "rewritten from backups/$label/keyring" "repaired from the backup's copy"
assert_same_file "$REPO/keyring" "$REPO/backups/$label/keyring" "keyring back"
pg_stop_cluster p1

# The recovery: restore_command moves the repository away when asked for
# the fourth segment after the backup, before archive-get runs.
mapfile -t segs < <(ls "$REPO/wal/0000000100000000" | sort)
trigger=${segs[$((${#segs[@]} - 3))]}
cat >"$TR_TMP/root/restore.sh" <<EOF
#!/bin/sh
if [ "\$2" = "$trigger" ] && [ -d "$REPO" ]; then mv "$REPO" "$REPO.away"; fi
exec "$TR_BIN" archive-get "\$1" "\$2"
EOF
chmod 0755 "$TR_TMP/root/restore.sh"
chmod 0755 "$TR_TMP/root"
as_pg touch "${PG_DATA[r1]}/recovery.signal"
pg_conf r1 "archive_mode = off" "restore_command = '$TR_TMP/root/restore.sh %p %f'"
pg_start r1 >/dev/null 2>&1 || true
stopped() { ! pg_is_ready r1 && [ ! -f "${PG_DATA[r1]}/postmaster.pid" ]; }
check "recovery stopped: the server is down" wait_until 120 stopped
setup "the repository was moved away during the recovery" test -d "$REPO.away"
check "the server log: restore_command failed with exit code 128" grep -q "exit code 128" "${PG_LOG[r1]}"
check "no promotion: no 'archive recovery complete'" not_ok grep -q "archive recovery complete" "${PG_LOG[r1]}"
check "no promotion: no new timeline selected" not_ok grep -q "selected new timeline" "${PG_LOG[r1]}"
check "no timeline 2 history file" test ! -e "${PG_DATA[r1]}/pg_wal/00000002.history"
as_pg mv "$REPO.away" "$REPO"
sed -i "s|^restore_command = .*|restore_command = '$TR_BIN archive-get %p %f'|" "${PG_DATA[r1]}/postgresql.auto.conf" "${PG_DATA[r1]}/postgresql.conf"
if pg_start r1 && wait_until 180 pg_not_in_recovery r1; then
	pass "with the repository back, the recovery continued and ended"
	assert_eq "$expected" "$(psql_q r1 "SELECT count(*) FROM t6" || true)" "r1 has every table of p1"
	pg_stop_cluster r1 || true
else
	fail "r1 did not recover with the repository back: $(tail -n 5 "${PG_LOG[r1]}" | tr '\n' '|')"
fi

check "no process started by the test outlives it" wait_until 60 tr_no_strays
finish
