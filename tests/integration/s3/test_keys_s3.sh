#!/usr/bin/env bash
# tests/integration/s3/test_keys_s3.sh - the key and the repository's
# truth on S3 (moto_server on 127.0.0.1, and faultproxy.py in front of it):
#   a. creation; the conditional-put probe lives under the storage prefix,
#      its cached answer expires after a day, a 412 that contradicts a
#      cached "ignored" is believed
#   b. keyring deleted, damaged, replaced: warm and cold key cache
#   c. a 404 without S3's NoSuchKey (an HTML page from a proxy) is never
#      "absent": archive-get stops recovery (128); HEAD's 404 is confirmed
#   d. two racing first archive-puts with different passphrases: with
#      conditional writes off neither creates anything (init does); with
#      them on, exactly one wins and the other is refused
#   e. SIGTERM during archive-get leaves no temporary file
#   f. key rotation on S3
# Last line: "keys-s3: N passed, M failed".
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../lib.sh
. "$here/../lib.sh"
tr_init keys-s3

AWS=${AWS:-/usr/bin/aws}
DRVTOOL=$top_builddir/tests/tools/drvtool
KEY_ID=AKIDTOTALRECALLKEYS
SECRET=totalrecall-keys-secret
BUCKET=keys-bucket
FAULTPROXY_PID=
section() { tr_note "== $* (at ${SECONDS}s)"; }

stop_servers() {
	local p
	for p in $FAULTPROXY_PID; do
		kill "$p" 2>/dev/null && wait "$p" 2>/dev/null || true
	done
}
trap 'stop_servers; tr_cleanup' EXIT

aws_s3() {
	AWS_ACCESS_KEY_ID=$KEY_ID AWS_SECRET_ACCESS_KEY=$SECRET AWS_DEFAULT_REGION=us-east-1 \
		AWS_EC2_METADATA_DISABLED=true AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null \
		"$AWS" --endpoint-url "$MOTO_URL" "$@"
}
setup "moto_server listens" tr_moto_start
make_bucket() { aws_s3 s3api create-bucket --bucket "$BUCKET" >/dev/null; }
setup "bucket $BUCKET created" make_bucket

# start_proxy RATE FAULTS [faultproxy options]: PROXY_URL (the previous one stopped).
start_proxy() {
	faultproxy_stop
	faultproxy_start "$TR_TMP/root/proxy.log" --upstream "127.0.0.1:$MOTO_PORT" --seed 1 --rate "$1" \
		--faults "$2" -v "${@:3}" || return 1
	PROXY_URL=http://127.0.0.1:$FAULTPROXY_PORT
}

KEY="s3 keys passphrase $RANDOM"
DBID=db-keys
PFX=pfx/inner
OBJ=$PFX/$DBID
STATE=$TR_TMP/state
as_pg sh -c "printf '%s' '$KEY' > '$TR_TMP/home/key'; chmod 600 '$TR_TMP/home/key'"
tr_env_set TOTALRECALL_DRIVER=s3 TOTALRECALL_S3_URI_STYLE=path "TOTALRECALL_BUCKET=$BUCKET" \
	"TOTALRECALL_DATABASE_ID=$DBID" "TOTALRECALL_ENCRYPTION_KEY=file:$TR_TMP/home/key" \
	"TOTALRECALL_STORAGE_PREFIX=$PFX" "TOTALRECALL_S3_ENDPOINT=$MOTO_URL" "TOTALRECALL_STATE_DIR=$STATE" \
	TOTALRECALL_KDF_ITERATIONS=1000 TOTALRECALL_PREFETCH=0 TOTALRECALL_ARCHIVE_AHEAD=0 \
	"AWS_ACCESS_KEY_ID=$KEY_ID" "AWS_SECRET_ACCESS_KEY=$SECRET" AWS_REGION=us-east-1 TOTALRECALL_RETRIES=1

# shellcheck source=../lib_keys.sh
. "$here/../lib_keys.sh"
s3get() { aws_s3 s3 cp "s3://$BUCKET/$1" "$2" >/dev/null; }
s3put() { aws_s3 s3 cp "$1" "s3://$BUCKET/$2" >/dev/null; }
s3rm() { aws_s3 s3 rm "s3://$BUCKET/$1" >/dev/null; }
s3keys() { aws_s3 s3api list-objects-v2 --bucket "$BUCKET" --prefix "$1" --query 'Contents[].Key' --output text; }
# probes: how many probes moto saw (each is a PUT answered 200, then a
# conditional PUT of the same key answered 412).
probes() { grep -c "PUT /$BUCKET/$PFX/.totalrecall-probe/[^ ]* HTTP/1.1\" 200" "$TR_TMP/root/moto.log" || true; }
# cachefile [URL]: the driver's conditional-put answer for that endpoint (moto's by default).
cachefile() {
	local url=${1:-$MOTO_URL}
	printf '%s/s3-conditional-put-%s\n' "$STATE" \
		"$(printf 'http://%s\n%s' "${url#http://}" "$BUCKET" | sha256sum | cut -c1-32)"
}

# ------------------------------------------------------------------ a
section "a. creation and the conditional-put probe"
put 1
listing=$(s3keys "$OBJ/")
assert_contains "$listing" "$OBJ/keyring-copy" "keyring-copy stored beside the keyring"
assert_contains "$listing" "$OBJ/keyring" "the keyring at $OBJ/keyring"
check "the probe ran under the storage prefix" test "$(probes)" -ge 1
check "never at the bucket root" not_ok grep -q "PUT /$BUCKET/.totalrecall-probe" "$TR_TMP/root/moto.log"
check "no probe object left" test "$(s3keys "$PFX/.totalrecall-probe/")" = None
check "the answer is cached with its time" grep -qx "honoured [0-9]*" "$(cachefile)"
n=$(probes)
put 2
assert_eq "$n" "$(probes)" "a cached answer less than a day old: no new probe"
printf 'honoured %s\n' "$(($(date +%s) - 90000))" >"$(cachefile)"
put 3
assert_eq "$((n + 1))" "$(probes)" "an answer a day old: probed again"
check "and cached again, fresh" test "$(awk '{print $2}' "$(cachefile)")" -ge "$(($(date +%s) - 60))"
# A 412 against a cached "ignored": the proxy makes reads of the key look
# absent (S3's own NoSuchKey), so HEAD-then-PUT goes on to the PUT, which
# still carries If-None-Match and gets moto's 412.
start_proxy 1 nosuchkey --fault-path "/$OBJ/wal/"
DSTATE=$TR_TMP/root/drvtool-state  # drvtool runs as root: a state dir of root's
mkdir -p "$DSTATE"
printf 'ignored %s\n' "$(date +%s)" >"$(STATE=$DSTATE cachefile "$PROXY_URL")"
echo other | "$DRVTOOL" -D s3 -d "$top_builddir/drivers/s3/.libs" -o "bucket=$BUCKET" -o "access-key-id=$KEY_ID" \
	-o "secret-access-key=$SECRET" -o "endpoint=$PROXY_URL" -o s3-uri-style=path -o "state-dir=$DSTATE" \
	-o "storage-prefix=$PFX" -o retries=0 put "$OBJ/$(wal_object_key "$(seg 1)")" --if-absent \
	>"$TR_TMP/root/drv.out" 2>"$TR_TMP/root/drv.err" && rc=0 || rc=$?
assert_eq 3 "$rc" "the put-if-absent of an existing key fails with 'exists' (412)"
assert_contains "$(cat "$TR_TMP/root/drv.err")" "believed" "the 412 is believed over the cached answer"
check "the cached answer is now 'honoured'" grep -qx "honoured [0-9]*" "$(STATE=$DSTATE cachefile "$PROXY_URL")"
check "the object was not replaced" got 1

# ------------------------------------------------------------------ b
section "b. keyring deleted, damaged, replaced"
s3get "$OBJ/keyring" "$TR_TMP/root/keyring.good"
s3rm "$OBJ/keyring"
TR_WHY="keyring deleted, warm cache" put 4
s3get "$OBJ/keyring" "$TR_TMP/root/keyring.now"
assert_same_file "$TR_TMP/root/keyring.now" "$TR_TMP/root/keyring.good" "the keyring was rewritten from its copy"
sed 's/^mac \(.\)/mac 0\1/; s/^mac 00/mac 11/' "$TR_TMP/root/keyring.good" >"$TR_TMP/root/keyring.bad"
s3put "$TR_TMP/root/keyring.bad" "$OBJ/keyring-copy"
check "keyring-copy damaged, cold cache: archive-get reads" got 2 "$(cold 1)"
s3get "$OBJ/keyring-copy" "$TR_TMP/root/copy.now"
assert_same_file "$TR_TMP/root/copy.now" "$TR_TMP/root/keyring.good" "the damaged copy was rewritten"
tr_run TOTALRECALL_DATABASE_ID=elsewhere TOTALRECALL_ENCRYPTION_KEY=another "$(cold 2)" init >/dev/null 2>&1
s3get "$PFX/elsewhere/keyring" "$TR_TMP/root/keyring.other"
sed -i "s/^repository elsewhere$/repository $DBID/" "$TR_TMP/root/keyring.other"
s3put "$TR_TMP/root/keyring.other" "$OBJ/keyring"
s3put "$TR_TMP/root/keyring.other" "$OBJ/keyring-copy"
before=$(s3keys "$OBJ/wal/" | wc -w)
WANT=1 TR_WHY="keyring replaced, warm cache" put 5
WANT=1 TR_WHY="keyring replaced, cold cache" put 5 "$(cold 3)"
assert_eq "$before" "$(s3keys "$OBJ/wal/" | wc -w)" "nothing written under any key"
s3put "$TR_TMP/root/keyring.good" "$OBJ/keyring"
s3put "$TR_TMP/root/keyring.good" "$OBJ/keyring-copy"
put 5

# ------------------------------------------------------------------ c
section "c. a 404 that is not S3's NoSuchKey"
start_proxy 0 ""
TR_DESC="through the proxy, an absent segment: 1" assert_rc 1 tr_run "TOTALRECALL_S3_ENDPOINT=$PROXY_URL" \
	archive-get "$G/x" "$(seg 99)"
start_proxy 1 html404 --fault-path "/$OBJ/wal/"
TR_DESC="an HTML 404 for an absent segment: 128, never 'absent'" assert_rc 128 \
	tr_run "TOTALRECALL_S3_ENDPOINT=$PROXY_URL" archive-get "$G/x" "$(seg 99)"
assert_contains "$(cat "$TR_LAST_ERR")" "404 without an S3 NoSuchKey" "the error says what the 404 lacked"
rm -f "$G/x"
TR_DESC="an HTML 404 for a stored segment: 128" assert_rc 128 \
	tr_run "TOTALRECALL_S3_ENDPOINT=$PROXY_URL" archive-get "$G/x" "$(seg 1)"
assert_file_absent "$G/x"
start_proxy 1 html404
TR_DESC="an HTML 404 for everything, cold cache: 128" assert_rc 128 \
	tr_run "TOTALRECALL_S3_ENDPOINT=$PROXY_URL" "$(cold 4)" archive-get "$G/x" "$(seg 99)"
drv_head() {
	"$DRVTOOL" -D s3 -d "$top_builddir/drivers/s3/.libs" -o "bucket=$BUCKET" -o "access-key-id=$KEY_ID" \
		-o "secret-access-key=$SECRET" -o "endpoint=$1" -o s3-uri-style=path -o retries=0 head "$2"
}
drv_head "$PROXY_URL" "$OBJ/nothing-here" >/dev/null 2>"$TR_TMP/root/head.err" && rc=0 || rc=$?
assert_eq 1 "$rc" "HEAD answered 404 by a proxy: an error (1), not 'absent' (2)"
assert_contains "$(cat "$TR_TMP/root/head.err")" "without S3's NoSuchKey" "HEAD's 404 was checked with a GET"
drv_head "$MOTO_URL" "$OBJ/nothing-here" >/dev/null 2>&1 && rc=0 || rc=$?
assert_eq 2 "$rc" "HEAD of an absent key on S3 itself: 'absent' (2)"

# ------------------------------------------------------------------ d
section "d. two racing first archive-puts with different passphrases"
race() { # DBID EXTRA-ENV...: two archive-puts of segment 1, passphrases A and B, in parallel
	local db=$1
	shift
	in_dir "$W" tr_run "TOTALRECALL_DATABASE_ID=$db" TOTALRECALL_ENCRYPTION_KEY=pass-A "$(cold "$db-A")" "$@" \
		archive-put "pg_wal/$(seg 1)" >"$TR_TMP/root/$db-A.out" 2>"$TR_TMP/root/$db-A.err" &
	local a=$!
	in_dir "$W" tr_run "TOTALRECALL_DATABASE_ID=$db" TOTALRECALL_ENCRYPTION_KEY=pass-B "$(cold "$db-B")" "$@" \
		archive-put "pg_wal/$(seg 1)" >"$TR_TMP/root/$db-B.out" 2>"$TR_TMP/root/$db-B.err" &
	local b=$!
	RC_A=0 RC_B=0
	wait "$a" || RC_A=$?
	wait "$b" || RC_B=$?
}
off=(TOTALRECALL_S3_CONDITIONAL_PUT=off)
race race-off "${off[@]}"
assert_eq "1 1" "$RC_A $RC_B" "conditional writes off: neither creates the repository"
assert_contains "$(cat "$TR_TMP/root/race-off-A.err")" "totalrecall init" "the refusal names init"
assert_eq None "$(s3keys "$PFX/race-off/")" "nothing at all was written"
TR_DESC="init with passphrase A (conditional writes off)" assert_rc 0 \
	tr_run TOTALRECALL_DATABASE_ID=race-off TOTALRECALL_ENCRYPTION_KEY=pass-A "$(cold off-init)" "${off[@]}" init
TR_DESC="then archive-put with B is refused" assert_rc 1 in_dir "$W" tr_run TOTALRECALL_DATABASE_ID=race-off \
	TOTALRECALL_ENCRYPTION_KEY=pass-B "$(cold off-B2)" "${off[@]}" archive-put "pg_wal/$(seg 1)"
TR_DESC="and with A it works" assert_rc 0 in_dir "$W" tr_run TOTALRECALL_DATABASE_ID=race-off \
	TOTALRECALL_ENCRYPTION_KEY=pass-A "$(cold off-A2)" "${off[@]}" archive-put "pg_wal/$(seg 1)"
for round in 1 2 3; do
	race "race-on-$round"
	assert_eq 1 "$(((RC_A == 0) + (RC_B == 0)))" "round $round, conditional writes on: exactly one of the two wins ($RC_A, $RC_B)"
	winner=A loser=B
	[ "$RC_B" = 0 ] && winner=B loser=A
	assert_contains "$(cat "$TR_TMP/root/race-on-$round-$loser.err")" "does not match" "round $round: the other is refused"
	TR_DESC="round $round: the keyring opens with the winner's passphrase" assert_rc 0 \
		tr_run "TOTALRECALL_DATABASE_ID=race-on-$round" "TOTALRECALL_ENCRYPTION_KEY=pass-$winner" "$(cold "r$round")" list
done

# ------------------------------------------------------------------ e
section "e. SIGTERM during archive-get"
FAKE_RANDOM=6291456 fake_segment "$W/pg_wal" "$(seg 40)" 40
put 40
start_proxy 1 stall --fault-path "/$OBJ/wal/" --stall 60
marker=sigterm-$RANDOM
dst=$(newdir sig)/RECOVERYXLOG
tr_run "TR_SIGTEST=$marker" "TOTALRECALL_S3_ENDPOINT=$PROXY_URL" TOTALRECALL_TIMEOUT=120 archive-get "$dst" "$(seg 40)" \
	>/dev/null 2>"$TR_TMP/root/sig.err" &
job=$!
# The archive-get process itself: its environment carries the marker.
target_pid() {
	local f pid
	for f in /proc/[0-9]*/environ; do
		pid=${f#/proc/}
		pid=${pid%/environ}
		[ "$(readlink "/proc/$pid/exe" 2>/dev/null)" = "$(readlink -f "$TR_BIN")" ] || continue
		tr '\0' '\n' <"$f" 2>/dev/null | grep -qxF "TR_SIGTEST=$marker" && { echo "$pid"; return 0; }
	done
	return 1
}
temp_written() { compgen -G "$(dirname "$dst")/.RECOVERYXLOG.tr-*.tmp" >/dev/null && test -n "$(find "$(dirname "$dst")" -name '.RECOVERYXLOG.tr-*' -size +0)"; }
if wait_until 60 temp_written && pid=$(target_pid); then
	pass "archive-get is writing its temporary file (pid $pid)"
	kill -TERM "$pid"
	rc=0
	wait "$job" || rc=$?
	assert_eq 143 "$rc" "archive-get died of SIGTERM"
	assert_eq "" "$(ls -A "$(dirname "$dst")")" "no temporary file and no RECOVERYXLOG left"
else
	fail "archive-get never started writing (stderr: $(head -c 300 "$TR_TMP/root/sig.err"))"
	kill "$job" 2>/dev/null || true
fi
start_proxy 0 ""

# ------------------------------------------------------------------ f
section "f. key rotation on S3"
TR_DESC="key rotate --new-encryption-key --new-data-key" assert_rc 0 tr_run key rotate --new-encryption-key second-key --new-data-key
s3get "$OBJ/keyring" "$TR_TMP/root/k1"
s3get "$OBJ/keyring-copy" "$TR_TMP/root/k2"
assert_same_file "$TR_TMP/root/k1" "$TR_TMP/root/k2" "keyring and copy rotated together"
TR_DESC="the old passphrase is refused" assert_rc 1 tr_run list
bad=0
for n in 1 2 3 4 5 40; do got "$n" TOTALRECALL_ENCRYPTION_KEY=second-key "$(cold rot)" || bad=$((bad + 1)); done
assert_eq 0 "$bad" "the new passphrase opens every object"
TR_WHY="under the new data key" put 41 TOTALRECALL_ENCRYPTION_KEY=second-key

assert_not_contains "$(cat "$TR_TMP"/root/*.err 2>/dev/null)" "$SECRET" "no secret in any error output"
finish
