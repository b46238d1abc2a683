#!/bin/bash
# test_driver.sh - the s3 and minio drivers against real S3 servers on
# 127.0.0.1: moto_server (honours If-None-Match) and s3rver (ignores it).
# Exit 0 when every check passes, 1 otherwise (a missing server fails).
. "$(dirname "$0")/lib_s3.sh"

ID=testing
SECRET=Sup3rS3cretValue
MiB=$((1024 * 1024))

start_moto || { echo "s3-driver: 0 passed, 1 failed"; exit 1; }
start_s3rver || { echo "s3-driver: 0 passed, 1 failed"; exit 1; }

# Every driver error goes through here: it must never show the secret.
no_secret() { ! grep -q "$SECRET" "$1"; }

round_trips() {
	local d=$1 b=$2 err="$S3_TMP/err"
	local m=(drv "$d" "$MOTO_URL" "$ID" "$SECRET" "$b")

	printf 'hello, %s\n' "$d" | "${m[@]}" put small/one --checksum sha256:aa 2>"$err"
	ok $? "$d: put small"
	check "$d: get small" test "$("${m[@]}" get small/one)" = "hello, $d"
	check "$d: head returns checksum" grep -q "size=$((8 + ${#d})) .*checksum=sha256:aa" <("${m[@]}" head small/one)

	: | "${m[@]}" put small/empty
	ok $? "$d: put empty body"
	check "$d: get empty body" test "$("${m[@]}" get small/empty | wc -c)" -eq 0

	# Exactly one part: still a single PUT (the lookahead sees the end).
	"${m[@]}" -o s3-part-size=$((5 * MiB)) put exact --gen $((5 * MiB))
	ok $? "$d: put exactly one part"
	check "$d: get exactly one part" test "$("${m[@]}" get exact | sha)" = "$("$DRVTOOL" gen $((5 * MiB)) | sha)"

	# Multipart: 16 MiB in 5 MiB parts = 4 parts.
	"${m[@]}" -o s3-part-size=$((5 * MiB)) put big/multi --gen $((16 * MiB)) --seed 7 --checksum sha256:bb
	ok $? "$d: multipart put (4 parts)"
	check "$d: multipart get matches" test "$("${m[@]}" get big/multi | sha)" = "$("$DRVTOOL" gen $((16 * MiB)) --seed 7 | sha)"
	check "$d: multipart head" grep -q "size=$((16 * MiB)) .*checksum=sha256:bb" <("${m[@]}" head big/multi)

	# A read failure in the middle of a multipart upload: aborted, nothing left.
	"${m[@]}" -o s3-part-size=$((5 * MiB)) put big/failed --gen $((16 * MiB)) --fail-after $((12 * MiB)) 2>"$err"
	check "$d: failing read callback fails the put" test $? -ne 0
	check "$d: failure names the callback" grep -q "read callback failed" "$err"
	check "$d: no multipart upload left" test -z "$(aws_s3 "$MOTO_URL" "$ID" "$SECRET" s3api list-multipart-uploads --bucket "$b" --query 'Uploads[].Key' --output text | grep -v None)"
	"${m[@]}" head big/failed 2>/dev/null
	check "$d: failed object absent" test $? -eq 2

	# Put-if-absent, single PUT and multipart.
	echo first | "${m[@]}" put cond/k --if-absent --checksum sha256:c1
	ok $? "$d: put-if-absent on a new key"
	echo first | "${m[@]}" put cond/k --if-absent --checksum sha256:c1 2>"$err"
	check "$d: same checksum again -> EEXIST" test $? -eq 3
	echo other | "${m[@]}" put cond/k --if-absent --checksum sha256:c2 2>"$err"
	check "$d: different checksum -> EEXIST" test $? -eq 3
	check "$d: head returns the stored checksum" grep -q "checksum=sha256:c1" <("${m[@]}" head cond/k)
	check "$d: content not overwritten" test "$("${m[@]}" get cond/k)" = first
	"${m[@]}" -o s3-part-size=$((5 * MiB)) put big/multi --if-absent --gen $((11 * MiB)) 2>"$err"
	check "$d: multipart put-if-absent on existing key -> EEXIST" test $? -eq 3
	check "$d: no upload left after EEXIST" test -z "$(aws_s3 "$MOTO_URL" "$ID" "$SECRET" s3api list-multipart-uploads --bucket "$b" --query 'Uploads[].Key' --output text | grep -v None)"
	"${m[@]}" -o s3-part-size=$((5 * MiB)) put big/new --if-absent --gen $((11 * MiB))
	ok $? "$d: multipart put-if-absent on a new key"

	# Keys that need encoding, in paths and in list prefixes.
	local keys=("sp ace/a b" "plus/a+b" "eq/a=b" "at/a@b" "utf8/caf$(printf '\xc3\xa9')/$(printf '\xe2\x98\x83')" "mix/~-_.!*'()&\$,;:")
	local k
	for k in "${keys[@]}"; do
		printf '%s' "$k" | "${m[@]}" put "$k"
		ok $? "$d: put key '$k'"
		check "$d: get key '$k'" test "$("${m[@]}" get "$k")" = "$k"
		check "$d: list prefix of '$k'" test "$("${m[@]}" list "${k%?}")" = "$k"
	done
	aws_s3 "$MOTO_URL" "$ID" "$SECRET" s3api list-objects-v2 --bucket "$b" --query 'Contents[].Key' --output json \
		| python3 -c 'import json,sys; print("\n".join(json.load(sys.stdin)))' >"$S3_TMP/aws-keys"
	for k in "${keys[@]}"; do
		check "$d: aws list-objects-v2 shows '$k'" grep -qxF -- "$k" "$S3_TMP/aws-keys"
	done

	# Absent things.
	"${m[@]}" get nope >/dev/null 2>"$err"
	check "$d: get absent -> ENOTFOUND" test $? -eq 2
	"${m[@]}" head nope 2>/dev/null
	check "$d: head absent -> ENOTFOUND" test $? -eq 2
	"${m[@]}" rm nope
	ok $? "$d: rm absent is ok"
	"${m[@]}" rm small/one && "${m[@]}" head small/one 2>/dev/null
	check "$d: rm removes" test $? -eq 2
	drv "$d" "$MOTO_URL" "$ID" "$SECRET" no-such-bucket-x get k 2>"$err"
	check "$d: missing bucket is an error" test $? -eq 1
	check "$d: missing bucket message" grep -q "bucket not found" "$err"
	drv "$d" "$MOTO_URL" "$ID" "$SECRET" no-such-bucket-x head k 2>"$err"
	check "$d: head in missing bucket is not 'absent'" test $? -eq 1
	check "$d: no secret in any message" no_secret "$err"
}

list_many() {
	local b=$1 n=1050
	local m=("$DRVTOOL" -D s3 -d "$top_builddir/drivers/s3/.libs" -o "bucket=$b" -o "access-key-id=$ID"
		 -o "secret-access-key=$SECRET" -o "endpoint=$MOTO_URL" -o s3-uri-style=path)
	seq -f "many/%05g" 1 $n | xargs -P 8 -I{} sh -c 'echo {} | "$0" "$@" put {}' "${m[@]}"
	echo x | "${m[@]}" put manz/outside
	for d in s3 minio; do
		drv "$d" "$MOTO_URL" "$ID" "$SECRET" "$b" list many/ >"$S3_TMP/list"
		ok $? "$d: list > 1000 keys"
		check "$d: list count $n" test "$(wc -l <"$S3_TMP/list")" -eq $n
		check "$d: list ascending" env LC_ALL=C sort -c "$S3_TMP/list"
		check "$d: list only the prefix" test "$(grep -c -v '^many/' "$S3_TMP/list")" -eq 0
	done
}

# remove_many(): DeleteObjects by the thousand; absent keys are fine; a
# server without DeleteObjects gets one DELETE per key; a failure names a
# key left behind.
remove_many() {
	local b=$1 err="$S3_TMP/err"
	local m=(drv s3 "$MOTO_URL" "$ID" "$SECRET" "$b")
	{ seq -f "many/%05g" 1 1050; echo many/absent; } >"$S3_TMP/rmkeys"
	"${m[@]}" rmmany --from "$S3_TMP/rmkeys" 2>"$err"
	ok $? "s3: remove_many of 1051 keys (two calls), one absent"
	check "s3: remove_many removed them all" test -z "$("${m[@]}" list many/)"
	check "s3: remove_many left other keys" test "$("${m[@]}" list manz/)" = manz/outside
	local odd="odd/a&b<c>'d\"e f+g"
	printf x | "${m[@]}" put "$odd" && printf x | "${m[@]}" put odd/plain
	"${m[@]}" rmmany "$odd" odd/plain
	ok $? "s3: remove_many of keys XML must escape"
	check "s3: remove_many removed the escaped key" test -z "$("${m[@]}" list odd/)"

	start_faultproxy --upstream "127.0.0.1:$MOTO_PORT" --rate 1 --faults 501 --fault-path 'delete' || return
	local p=(drv s3 "$FAULT_URL" "$ID" "$SECRET" "$b")
	printf x | "${m[@]}" put nodel/1 && printf x | "${m[@]}" put nodel/2
	"${p[@]}" rmmany nodel/1 nodel/2 nodel/absent 2>"$err"
	ok $? "s3: remove_many without DeleteObjects (501): one DELETE per key"
	check "s3: ... says so" grep -q "has no DeleteObjects" "$err"
	check "s3: ... and removed them" test -z "$("${m[@]}" list nodel/)"

	start_faultproxy --upstream "127.0.0.1:$MOTO_PORT" --rate 1 --faults 500 --fault-path 'delete' || return
	p=(drv s3 "$FAULT_URL" "$ID" "$SECRET" "$b" -o retries=1)
	printf x | "${m[@]}" put fail/1
	"${p[@]}" rmmany fail/1 >"$S3_TMP/out" 2>"$err"
	check "s3: remove_many failing with 500 fails" test $? -eq 1
	check "s3: ... names a key left behind" grep -qx "failed at fail/1" "$S3_TMP/out"
	check "s3: ... which is still there" test "$("${m[@]}" list fail/)" = fail/1
	check "s3: no secret in remove_many messages" no_secret "$err"
}

settings_errors() {
	local err="$S3_TMP/err"
	"$DRVTOOL" -D minio -d "$top_builddir/drivers/minio/.libs" -o bucket=b -o access-key-id=x \
		-o "secret-access-key=$SECRET" list "" 2>"$err"
	check "minio without endpoint fails" test $? -eq 5
	check "minio without endpoint: message names it" grep -q "setting endpoint is required" "$err"
	"$DRVTOOL" -D s3 -d "$top_builddir/drivers/s3/.libs" -o access-key-id=x -o "secret-access-key=$SECRET" list "" 2>"$err"
	check "s3 without bucket: message names it" grep -q "setting bucket is required" "$err"
	"$DRVTOOL" -D s3 -d "$top_builddir/drivers/s3/.libs" -o bucket=b -o access-key-id=x list "" 2>"$err"
	check "s3 without secret: message names it" grep -q "setting secret-access-key is required" "$err"
	check "no secret in settings errors" no_secret "$err"
}

# s3rver answers 200 to If-None-Match: * and overwrites; the driver must
# detect that with a probe key and fall back to HEAD-then-PUT.
s3rver_fallback() {
	local d=$1 b=$2 err="$S3_TMP/err" state="$S3_TMP/state-$1"
	mkdir -p "$state"
	local m=(drv "$d" "$S3RVER_URL" S3RVER S3RVER "$b" -o "state-dir=$state")
	echo hi | "${m[@]}" put r/small
	ok $? "$d/s3rver: put"
	check "$d/s3rver: get" test "$("${m[@]}" get r/small)" = hi
	"${m[@]}" -o s3-part-size=$((5 * MiB)) put r/multi --gen $((11 * MiB))
	ok $? "$d/s3rver: multipart put"
	check "$d/s3rver: multipart get" test "$("${m[@]}" get r/multi | sha)" = "$("$DRVTOOL" gen $((11 * MiB)) | sha)"
	echo one | "${m[@]}" put r/cond --if-absent --checksum sha256:s1 2>"$err"
	ok $? "$d/s3rver: put-if-absent new key"
	check "$d/s3rver: fallback warning" grep -q "does not honour If-None-Match" "$err"
	check "$d/s3rver: probe result cached, with its time" grep -qx 'ignored [0-9]*' "$state"/s3-conditional-put-*
	check "$d/s3rver: probe key deleted" test -z "$("${m[@]}" list .totalrecall-probe/)"
	echo two | "${m[@]}" put r/cond --if-absent --checksum sha256:s2 2>"$err"
	check "$d/s3rver: second put-if-absent -> EEXIST" test $? -eq 3
	check "$d/s3rver: not overwritten" test "$("${m[@]}" get r/cond)" = one
	check "$d/s3rver: checksum kept" grep -q "checksum=sha256:s1" <("${m[@]}" head r/cond)
	printf 'x' | "${m[@]}" put "r/sp ace+plus=eq@at/caf$(printf '\xc3\xa9')"
	ok $? "$d/s3rver: odd key put"
	check "$d/s3rver: odd key list" test "$("${m[@]}" list "r/sp ace")" = "r/sp ace+plus=eq@at/caf$(printf '\xc3\xa9')"
	# Forcing If-None-Match on a server that ignores it is the user's call,
	# but auto with a cached answer must not probe again.
	echo three | "${m[@]}" -v put r/cond2 --if-absent 2>"$err"
	check "$d/s3rver: cached answer, no second probe" test "$(grep -c totalrecall-probe "$err")" -eq 0
}

for d in s3 minio; do
	make_bucket "$MOTO_URL" "$ID" "$SECRET" "bkt-$d"
	round_trips "$d" "bkt-$d"
	make_bucket "$S3RVER_URL" S3RVER S3RVER "s3rver-$d"
	s3rver_fallback "$d" "s3rver-$d"
done
make_bucket "$MOTO_URL" "$ID" "$SECRET" bkt-list
list_many bkt-list
remove_many bkt-list
settings_errors

finish
