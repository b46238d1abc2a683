#!/bin/bash
# test_faults.sh - the s3 and minio drivers through faultproxy.py (500,
# 503, connection resets, stalls, truncated bodies on a seeded schedule)
# in front of moto_server: every operation either succeeds through
# retries with the right bytes, or fails with a clear error; nothing
# corrupt is ever accepted.  Also region redirects (301 PermanentRedirect,
# 400 AuthorizationHeaderMalformed naming the bucket's region).
. "$(dirname "$0")/lib_s3.sh"

ID=testing
SECRET=testing
MiB=$((1024 * 1024))

setup "moto_server listens" start_moto

# start_proxy SEED RATE FAULTS -> PROXY_URL (stops the previous one)
start_proxy() {
	faultproxy_stop
	faultproxy_start "$S3_TMP/proxy.log" --upstream "127.0.0.1:$MOTO_PORT" --seed "$1" \
		--rate "$2" --faults "$3" --stall 3 -v "${@:4}" || return 1
	S3_PIDS+=("$FAULTPROXY_PID")
	PROXY_URL="http://127.0.0.1:$FAULTPROXY_PORT"
}

# Lowered timeout so a 3 s stall trips it; enough retries for rate 0.3.
FAST=(-o timeout=1 -o retries=10 -o retry-max-time=60 -o s3-part-size=$((5 * MiB)))

survives() {
	local d=$1 seed=$2 b="bkt-$1" err="$S3_TMP/err"
	start_proxy "$seed" 0.3 500,503,reset,stall,truncate
	local m=(drv "$d" "$PROXY_URL" "$ID" "$SECRET" "$b" "${FAST[@]}")
	echo "small $seed" | "${m[@]}" put "f/$seed/small" --checksum sha256:s 2>"$err"
	ok $? "$d seed $seed: small put through faults"
	check "$d seed $seed: small get" test "$("${m[@]}" get "f/$seed/small" 2>"$err")" = "small $seed"
	"${m[@]}" put "f/$seed/big" --gen $((12 * MiB)) --seed "$seed" 2>"$err"
	ok $? "$d seed $seed: multipart put through faults"
	local want got
	want=$("$DRVTOOL" gen $((12 * MiB)) --seed "$seed" | sha)
	got=$("${m[@]}" get "f/$seed/big" 2>"$err" | sha)
	check "$d seed $seed: multipart get through faults (sha256)" test "$got" = "$want"
	check "$d seed $seed: head checksum" grep -q "checksum=sha256:s" <("${m[@]}" head "f/$seed/small" 2>"$err")
	"${m[@]}" list "f/$seed/" >"$S3_TMP/list" 2>"$err"
	check "$d seed $seed: list through faults" test "$(cat "$S3_TMP/list" | tr '\n' ' ')" = "f/$seed/big f/$seed/small "
}

# Truncated bodies: always (the get fails after its retries, having
# delivered only correct bytes) or half the time (the get resumes with
# Range and delivers the whole object).  Never short data with success.
truncation() {
	local d=$1 b="bkt-$1" err="$S3_TMP/err"
	drv "$d" "$MOTO_URL" "$ID" "$SECRET" "$b" put t/obj --gen $((3 * MiB)) --seed 3
	start_proxy 11 1.0 truncate
	local out="$S3_TMP/out"
	drv "$d" "$PROXY_URL" "$ID" "$SECRET" "$b" -o retries=3 -o timeout=2 get t/obj >"$out" 2>"$err"
	local rc=$?
	check "$d: always-truncated get fails as temporary (TR_ETRANSIENT, exit 7)" test $rc -eq 7
	check "$d: truncated get says where the body ended" grep -q "body ended at byte\|Transferred a partial file" "$err"
	check "$d: output is a strict prefix, never wrong bytes" \
		cmp -s "$out" <("$DRVTOOL" gen $((3 * MiB)) --seed 3 | head -c "$(stat -c %s "$out")")
	start_proxy 12 0.5 truncate
	drv "$d" "$PROXY_URL" "$ID" "$SECRET" "$b" -o retries=10 get t/obj 2>"$err" | sha >"$S3_TMP/got"
	check "$d: truncated get resumes to the full object" test "$(cat "$S3_TMP/got")" = "$("$DRVTOOL" gen $((3 * MiB)) --seed 3 | sha)"
}

# A server that keeps failing: the put fails within the time budget, with
# the S3 error code in the message.
persistent() {
	local d=$1 b="bkt-$1" err="$S3_TMP/err"
	start_proxy 5 1.0 503
	local t0=$SECONDS
	echo x | drv "$d" "$PROXY_URL" "$ID" "$SECRET" "$b" -o retries=3 put p/k 2>"$err"
	check "$d: persistent 503 fails as temporary (TR_ETRANSIENT, exit 7)" test $? -eq 7
	check "$d: message names code, bucket and key" grep -q "PUT s3://$b/p/k: 503 SlowDown: injected by faultproxy (after 4 attempts)" "$err"
	check "$d: bounded time" test $((SECONDS - t0)) -lt 20
	start_proxy 6 1.0 reset
	echo x | drv "$d" "$PROXY_URL" "$ID" "$SECRET" "$b" -o retries=2 put p/k 2>"$err"
	check "$d: persistent resets fail as temporary (exit 7)" test $? -eq 7
	check "$d: persistent resets fail clearly" grep -q "PUT s3://$b/p/k: .*(after 3 attempts)" "$err"
}

# region_redirect DRIVER STATUS: the proxy refuses requests signed for
# any region but eu-west-1 the way S3 does (STATUS 301 PermanentRedirect or
# 400 AuthorizationHeaderMalformed, naming the region): the driver follows
# once with the right region and says so; the object is stored and read.
region_redirect() {
	local d=$1 st=$2 b="bkt-$1" err="$S3_TMP/err"
	start_proxy 1 0 "" --bucket-region eu-west-1 --region-status "$st"
	echo "region $st" | drv "$d" "$PROXY_URL" "$ID" "$SECRET" "$b" -o region=us-east-1 put "r/$st" 2>"$err"
	ok $? "$d: $st naming region eu-west-1: put followed once"
	check "$d: $st: the warning names the bucket's region" grep -q "the bucket is in region eu-west-1, following" "$err"
	check "$d: $st: get after the redirect" test "$(drv "$d" "$PROXY_URL" "$ID" "$SECRET" "$b" -o region=us-east-1 get "r/$st" 2>"$err")" = "region $st"
	check "$d: $st: refused once per command, then signed for eu-west-1" \
		test "$(grep -c "region us-east-1 refused" "$S3_TMP/proxy.log")" -le 4
}

for d in s3 minio; do
	setup "bucket bkt-$d created" make_bucket "$MOTO_URL" "$ID" "$SECRET" "bkt-$d"
	: >"$S3_TMP/proxy.log"
	region_redirect "$d" 400
	: >"$S3_TMP/proxy.log"
	region_redirect "$d" 301
	for seed in 1 2 3; do
		survives "$d" "$seed"
	done
	truncation "$d"
	persistent "$d"
done
check "multipart uploads left: none" test -z "$(aws_s3 "$MOTO_URL" "$ID" "$SECRET" s3api list-multipart-uploads --bucket bkt-s3 --query 'Uploads[].Key' --output text | grep -v None)"

finish
