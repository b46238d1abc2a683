#!/bin/bash
# test_faults.sh - the azure driver through ../s3/faultproxy.py (500, 503,
# connection resets, stalls, truncated bodies on a seeded schedule) in
# front of Azurite: every put and get either succeeds through retries with
# the right bytes, or fails with a clear error naming the Azure code, the
# container and the blob; nothing corrupt is ever accepted.  The proxy
# needs nothing Azure-specific: Shared Key does not sign the Host header,
# and its injected errors are plain 500/503 answers.
. "$(dirname "$0")/lib_azure.sh"
AZ_SUITE=azure-faults

MiB=$((1024 * 1024))
setup "azurite listens" start_azurite
C=trfaults
setup "container $C created" azh "$AZURITE_URL" mkcontainer "$C"

# start_proxy SEED RATE FAULTS -> PROXY_URL (stops the previous one)
start_proxy() {
	faultproxy_stop
	faultproxy_start "$S3_TMP/proxy.log" --upstream "127.0.0.1:$AZURITE_PORT" --seed "$1" \
		--rate "$2" --faults "$3" --stall 3 -v || return 1
	S3_PIDS+=("$FAULTPROXY_PID")
	PROXY_URL="http://127.0.0.1:$FAULTPROXY_PORT/$AZ_ACCOUNT"
}

# A 3 s stall trips the 1 s timeout; enough retries for a 30% fault rate.
FAST=(-o timeout=1 -o retries=10 -o retry-max-time=60 -o azure-block-size=$MiB)

survives() {
	local seed=$1 err="$S3_TMP/err"
	start_proxy "$seed" 0.3 500,503,reset,stall,truncate
	local m=(az_drv "$PROXY_URL" "$C" "${FAST[@]}")
	echo "small $seed" | "${m[@]}" put "f/$seed/small" --checksum sha256:s --if-absent 2>"$err"
	ok $? "seed $seed: small put through faults"
	check "seed $seed: small get" test "$("${m[@]}" get "f/$seed/small" 2>"$err")" = "small $seed"
	"${m[@]}" put "f/$seed/big" --gen $((5 * MiB + 7)) --seed "$seed" 2>"$err"
	ok $? "seed $seed: staged put (6 blocks) through faults"
	local want got
	want=$("$DRVTOOL" gen $((5 * MiB + 7)) --seed "$seed" | sha)
	got=$("${m[@]}" get "f/$seed/big" 2>"$err" | sha)
	check "seed $seed: staged get through faults (sha256)" test "$got" = "$want"
	check "seed $seed: the service holds the same bytes (read without the proxy)" \
		test "$(az_drv "$AZURITE_URL" "$C" get "f/$seed/big" | sha)" = "$want"
	check "seed $seed: head checksum" grep -q "checksum=sha256:s" <("${m[@]}" head "f/$seed/small" 2>"$err")
	"${m[@]}" list "f/$seed/" >"$S3_TMP/list" 2>"$err"
	check "seed $seed: list through faults" test "$(tr '\n' ' ' <"$S3_TMP/list")" = "f/$seed/big f/$seed/small "
}

# Truncated bodies: always (the get fails after its retries, having
# delivered only correct bytes) or half the time (the get resumes with
# Range and If-Match and delivers the whole blob).  Never short data with
# success.
truncation() {
	local err="$S3_TMP/err" out="$S3_TMP/out"
	az_drv "$AZURITE_URL" "$C" put t/obj --gen $((3 * MiB)) --seed 3
	start_proxy 11 1.0 truncate
	az_drv "$PROXY_URL" "$C" -o retries=3 -o timeout=2 get t/obj >"$out" 2>"$err"
	check "always-truncated get fails as temporary (exit 7)" test $? -eq 7
	check "... saying where the body ended" grep -q "body ended at byte\|Transferred a partial file" "$err"
	check "... output is a strict prefix, never wrong bytes" \
		cmp -s "$out" <("$DRVTOOL" gen $((3 * MiB)) --seed 3 | head -c "$(stat -c %s "$out")")
	start_proxy 12 0.5 truncate
	az_drv "$PROXY_URL" "$C" -o retries=10 -v get t/obj 2>"$err" | sha >"$S3_TMP/got"
	check "truncated get resumes to the full blob" test "$(cat "$S3_TMP/got")" = "$("$DRVTOOL" gen $((3 * MiB)) --seed 3 | sha)"
	check "... with ranged requests" test "$(grep -c "^\[3\] azure: GET $C/t/obj: 206" "$err")" -ge 1
}

# A blob replaced while a get resumes: the resumed request's If-Match
# fails and the get says the blob changed, instead of splicing two blobs.
changed_midway() {
	local err="$S3_TMP/err" out="$S3_TMP/out"
	az_drv "$AZURITE_URL" "$C" put t/moving --gen $((2 * MiB)) --seed 1
	start_proxy 13 1.0 stall
	# Every answer stalls after half its body: the get keeps resuming (10
	# retries, over 10 s at least) until the replacement below has landed.
	az_drv "$PROXY_URL" "$C" -o retries=10 -o timeout=1 get t/moving >"$out" 2>"$err" &
	local pid=$!
	# Replace the blob once the first half has arrived.
	local i
	for i in $(seq 1 100); do
		[ -s "$out" ] && break
		sleep 0.1
	done
	az_drv "$AZURITE_URL" "$C" put t/moving --gen $((2 * MiB)) --seed 2
	wait "$pid"
	check "blob replaced during a resumed get: fails as temporary (reading again may work; exit 7)" test $? -eq 7
	check "... saying it changed" grep -q "the blob changed while it was being read" "$err"
	check "... having delivered only the first blob's bytes" \
		cmp -s "$out" <("$DRVTOOL" gen $((2 * MiB)) --seed 1 | head -c "$(stat -c %s "$out")")
}

# A service that keeps failing: the put fails within the time budget,
# naming the code, the container and the blob.
persistent() {
	local err="$S3_TMP/err" t0=$SECONDS
	start_proxy 5 1.0 503
	echo x | az_drv "$PROXY_URL" "$C" -o retries=3 put p/k 2>"$err"
	check "persistent 503 fails as temporary (TR_ETRANSIENT, exit 7)" test $? -eq 7
	check "... message names code, container and blob" grep -q "PUT $C/p/k: 503 SlowDown: injected by faultproxy (after 4 attempts)" "$err"
	check "... in bounded time" test $((SECONDS - t0)) -lt 20
	start_proxy 6 1.0 reset
	echo x | az_drv "$PROXY_URL" "$C" -o retries=2 put p/k 2>"$err"
	check "persistent resets fail as temporary (exit 7)" test $? -eq 7
	check "persistent resets fail clearly" grep -q "PUT $C/p/k: .*(after 3 attempts)" "$err"
	start_proxy 7 1.0 500
	az_drv "$PROXY_URL" "$C" -o retries=1 -o azure-block-size=$MiB put p/big --gen $((2 * MiB + 1)) 2>"$err"
	check "persistent 500 on a staged put fails as temporary (exit 7)" test $? -eq 7
	az_drv "$AZURITE_URL" "$C" head p/big 2>/dev/null
	check "... and no blob appeared" test $? -eq 2
	check "no account key in any message" test "$(grep -cF -- "$AZ_KEY" "$S3_TMP/err")" -eq 0
}

for seed in 1 2 3; do
	survives "$seed"
done
truncation
changed_midway
persistent
injected=$(grep -c 'inject ' "$S3_TMP/proxy.log")
echo "# faultproxy injected $injected faults: $(sed -n 's/.*inject \([a-z0-9]*\) .*/\1/p' "$S3_TMP/proxy.log" | sort | uniq -c | tr '\n' ' ')"
check "faults were injected ($injected)" test "$injected" -ge 20

finish
