#!/bin/bash
# test_driver.sh - the s3 and minio drivers against real S3 servers on
# 127.0.0.1: moto_server (honours If-None-Match) and s3rver (ignores it).
# First the conformance suite every driver passes (tests/unit/drivers/
# conformance.c): s3 and minio on moto, s3 on s3rver (no atomic
# put-if-absent), and its error classes (credentials refused and a policy
# refusal through fakeaws.py, a dead endpoint); then what is S3's own:
# multipart boundaries and leftovers, key encoding as another client sees
# it, a missing bucket, listings past one page, settings, and the
# put-if-absent fallback where If-None-Match is ignored.
# Exit 0 when every check passes, 1 otherwise (a missing server fails).
. "$(dirname "$0")/lib_s3.sh"
# shellcheck source=../lib_conform.sh
. "$(dirname "$0")/../lib_conform.sh"

ID=testing
SECRET=Sup3rS3cretValue
MiB=$((1024 * 1024))

setup "moto_server listens" start_moto
setup "s3rver listens" start_s3rver

# Every driver error goes through here: it must never show the secret.
no_secret() { ! grep -q "$SECRET" "$1"; }

no_uploads_left() {
	test -z "$(aws_s3 "$MOTO_URL" "$ID" "$SECRET" s3api list-multipart-uploads --bucket "$1" --query 'Uploads[].Key' --output text | grep -v None)"
}

round_trips() {
	local d=$1 b=$2 err="$S3_TMP/err"
	local m=(drv "$d" "$MOTO_URL" "$ID" "$SECRET" "$b")

	# The suite's large bodies (11 MiB, 5 MiB parts) go up in 3 parts; it
	# fails one half-way through its body and refuses one put-if-absent.
	conform "$d" "${m[@]}" -o s3-part-size=$((5 * MiB)) conform --large $((11 * MiB)) --prefix "conform-$d/"
	check "$d: no multipart upload left by the suite (failed, refused, completed)" no_uploads_left "$b"

	# Exactly one part: still a single PUT (the lookahead sees the end).
	"${m[@]}" -o s3-part-size=$((5 * MiB)) -v put exact --gen $((5 * MiB)) 2>"$err"
	ok $? "$d: put exactly one part"
	check "$d: exactly one part: one PUT, no multipart upload" test "$(grep -c "PUT s3://$b/exact: 200\|POST" "$err")" -eq 1
	check "$d: get exactly one part" test "$("${m[@]}" get exact | sha)" = "$("$DRVTOOL" gen $((5 * MiB)) | sha)"

	# Keys that need encoding, as another client (the AWS CLI) sees them.
	local keys=("sp ace/a b" "plus/a+b" "eq/a=b" "at/a@b" "utf8/caf$(printf '\xc3\xa9')/$(printf '\xe2\x98\x83')" "mix/~-_.!*'()&\$,;:")
	local k
	for k in "${keys[@]}"; do
		printf '%s' "$k" | "${m[@]}" put "$k"
		ok $? "$d: put key '$k'"
	done
	aws_s3 "$MOTO_URL" "$ID" "$SECRET" s3api list-objects-v2 --bucket "$b" --query 'Contents[].Key' --output json \
		| python3 -c 'import json,sys; print("\n".join(json.load(sys.stdin)))' >"$S3_TMP/aws-keys"
	for k in "${keys[@]}"; do
		check "$d: aws list-objects-v2 shows '$k'" grep -qxF -- "$k" "$S3_TMP/aws-keys"
	done

	# A bucket that is not there is an error, never "absent".
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
	check "s3: remove_many failing with 500 fails, temporary (TR_ETRANSIENT)" test $? -eq 7
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
# detect that with a probe key and fall back to HEAD-then-PUT, and say so
# in caps() (no TR_CAP_PUT_IF_ABSENT).
s3rver_fallback() {
	local d=$1 b=$2 err="$S3_TMP/err" state="$S3_TMP/state-$1"
	mkdir -p "$state"
	local m=(drv "$d" "$S3RVER_URL" S3RVER S3RVER "$b" -o "state-dir=$state")
	echo one | "${m[@]}" put r/cond --if-absent --checksum sha256:s1 2>"$err"
	ok $? "$d/s3rver: put-if-absent new key"
	check "$d/s3rver: fallback warning" grep -q "does not honour If-None-Match" "$err"
	check "$d/s3rver: probe result cached, with its time" grep -qx 'ignored [0-9]*' "$state"/s3-conditional-put-*
	check "$d/s3rver: probe key deleted" test -z "$("${m[@]}" list .totalrecall-probe/)"
	check "$d/s3rver: caps() without atomic put-if-absent (checksum, range resume, remote)" grep -qx "caps=0x16" <("${m[@]}" describe)
	# s3rver lists "o/a/b" before "o/a-b", not in S3's byte order: the
	# driver refuses such a listing rather than hand it on.
	echo x | "${m[@]}" put o/a-b && echo x | "${m[@]}" put o/a/b
	"${m[@]}" list o/ >/dev/null 2>"$err"
	check "$d/s3rver: a listing out of byte order fails (TR_ECORRUPT, exit 1)" test $? -eq 1
	check "$d/s3rver: ... saying so" grep -q "LIST s3://$b/o/: the server lists keys out of ascending byte order" "$err"
	"${m[@]}" rm o/a-b && "${m[@]}" rm o/a/b
	conform "$d/s3rver" "${m[@]}" -o s3-part-size=$((5 * MiB)) conform --large $((6 * MiB)) --prefix "conform-$d/" \
		--plain-keys
	# Forcing If-None-Match on a server that ignores it is the user's call,
	# but auto with a cached answer must not probe again.
	echo three | "${m[@]}" -v put r/cond2 --if-absent 2>"$err"
	check "$d/s3rver: cached answer, no second probe" test "$(grep -c totalrecall-probe "$err")" -eq 0
}

# The error classes (driver.h): through fakeaws.py, which checks
# signatures, a wrong secret is TR_EAUTH and a bucket that wants the
# requester to pay (403 AccessDenied) TR_EPERM, for every operation
# (HEAD's bodiless 403 included); a dead endpoint is TR_ETRANSIENT once the
# retries are spent.
error_classes() {
	setup "fakeaws (signature-checking S3) listens" start_fake --static "$ID:$SECRET"
	setup "bucket cls-auth created" make_bucket "$MOTO_URL" "$ID" "$SECRET" cls-auth
	setup "bucket cls-pays created" make_bucket "$MOTO_URL" "$ID" "$SECRET" cls-pays
	fake_post config '{"requester_pays": ["cls-pays"]}'
	local st="$S3_TMP/state-classes"
	mkdir -p "$st"
	conform "s3/auth" drv s3 "$FAKE_URL" "$ID" "wrong-$SECRET" cls-auth -o "state-dir=$st" conform --expect auth
	conform "s3/perm" drv s3 "$FAKE_URL" "$ID" "$SECRET" cls-pays -o "state-dir=$st" conform --expect perm
	conform "s3/transient" drv s3 "http://127.0.0.1:$(free_port)" "$ID" "$SECRET" cls-auth -o "state-dir=$st" \
		-o retries=1 -o retry-max-time=5 -o timeout=2 conform --expect transient
}

for d in s3 minio; do
	setup "bucket bkt-$d created on moto" make_bucket "$MOTO_URL" "$ID" "$SECRET" "bkt-$d"
	round_trips "$d" "bkt-$d"
	setup "bucket s3rver-$d created on s3rver" make_bucket "$S3RVER_URL" S3RVER S3RVER "s3rver-$d"
	s3rver_fallback "$d" "s3rver-$d"
done
setup "bucket bkt-list created" make_bucket "$MOTO_URL" "$ID" "$SECRET" bkt-list
list_many bkt-list
remove_many bkt-list
settings_errors
error_classes

finish
