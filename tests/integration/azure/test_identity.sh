#!/bin/bash
# test_identity.sh - the azure driver's managed identity credentials:
# tokens from fake_imds.py (an IMDS token endpoint on 127.0.0.1), used as
# bearer tokens against Azurite over HTTPS with --oauth basic.  Azurite
# checks a token's form, lifetime (nbf, exp), issuer and audience, not its
# signature, so what this proves is that the driver fetches, caches,
# refreshes and sends the token the endpoint handed out; not that a real
# Entra ID token would be accepted.  Exit 0 when every check passes.
. "$(dirname "$0")/lib_azure.sh"
AZ_SUITE=azure-identity

MiB=$((1024 * 1024))
setup "azurite listens (HTTPS, bearer tokens)" start_azurite tls
URL=$AZURITE_URL
setup "container trmi created" azh "$URL" mkcontainer trmi
STATE="$S3_TMP/state"
ERRS="$S3_TMP/all-errors"
: >"$ERRS"

# mi [drvtool options and command...]: the driver with nothing but the
# managed identity endpoint (IMDS_URL), the CA and state-dir.
mi() {
	az_bare trmi -o "endpoint=$URL" -o "azure-ca-file=$AZ_CA_FILE" -o "azure-imds-endpoint=$IMDS_URL" \
		-o "state-dir=$STATE" "$@"
}
tokens() { grep -c '^token' "$1"; }
cache_file() { ls "$STATE"/azure-token-* 2>/dev/null | head -1; }

basics() {
	local log="$S3_TMP/imds1.log" err="$S3_TMP/err"
	start_imds "$log"
	echo "by identity" | mi put mi/one 2>"$err"
	ok $? "managed identity: put"
	check "one token fetched" test "$(tokens "$log")" -eq 1
	check "a token of realistic size (over 2 KiB) went into the header" \
		test "$(sed -n 's/^token 1 (\([0-9]*\) bytes)/\1/p' "$log")" -gt 2048
	check "token cached in state-dir" test -f "$(cache_file)"
	check "cache file mode 0600" test "$(stat -c %a "$(cache_file)")" = 600
	check "get with the cached token" test "$(mi get mi/one)" = "by identity"
	check "the cached token was used (no second fetch)" test "$(tokens "$log")" -eq 1
	check "describe names the source and endpoint" grep -q "credentials: managed identity via $IMDS_URL" <(mi describe)
	mi -o azure-block-size=$MiB put mi/staged --gen $((3 * MiB + 1)) --if-absent 2>"$err"
	ok $? "managed identity: staged put-if-absent"
	check "staged get" test "$(mi get mi/staged | sha)" = "$("$DRVTOOL" gen $((3 * MiB + 1)) | sha)"
	check "list" test "$(mi list mi/ | tr '\n' ' ')" = "mi/one mi/staged "
	keep_err "$err"
	echo x | mi put mi/rm1 && echo x | mi put mi/rm2 && mi -v rmmany mi/rm1 mi/rm2 mi/absent 2>"$err"
	ok $? "managed identity: remove_many (Blob Batch, a bearer token in each subrequest)"
	check "... in one batch request" test "$(grep -c 'BATCH DELETE' "$err")" -eq 1
	check "... and no DELETE of its own" test "$(grep -c '\] azure: DELETE' "$err")" -eq 0
	check "... the blobs are gone" test -z "$(mi list mi/rm)"
	keep_err "$err"

	# A cached token the service refuses (revoked, say) is dropped and a
	# fresh one fetched, once; Azurite really checks bearer tokens.
	printf '%s\nnot.a.token\n' $(($(date +%s) + 3000)) >"$(cache_file)"
	mi -v get mi/one >"$S3_TMP/out" 2>"$err"
	ok $? "refused cached token: the get still succeeds"
	check "... the service refused it first" grep -q "refused the managed identity's token (AuthenticationFailed)" "$err"
	check "... and a new token was fetched" test "$(tokens "$log")" -eq 2
	check "... the right body" test "$(cat "$S3_TMP/out")" = "by identity"
	keep_err "$err"

	# A cache file others could read is not trusted.
	chmod 644 "$(cache_file)"
	mi get mi/one >/dev/null 2>"$err"
	ok $? "group-readable cache: get works"
	check "... the file was ignored, with a warning" grep -q "not a private file of this user" "$err"
	check "... and a token fetched instead" test "$(tokens "$log")" -eq 3
	check "... the rewritten cache is 0600 again" test "$(stat -c %a "$(cache_file)")" = 600
	rm -f "$STATE"/azure-token-*
}

# Tokens that live exactly as long as the refresh margin (300 s) are
# never good enough to keep: every request fetches a new one, so a long
# command (here a staged upload) refreshes its token midway.
refresh() {
	local log="$S3_TMP/imds2.log"
	start_imds "$log" --lifetime 300
	mi -o azure-block-size=$MiB put mi/refresh --gen $((3 * MiB + 5)) 2>"$S3_TMP/err"
	ok $? "short-lived tokens: staged put succeeds"
	check "a token per request: 4 blocks + commit = 5 tokens ($(tokens "$log"))" test "$(tokens "$log")" -eq 5
	check "short-lived tokens: get" test "$(mi get mi/refresh | sha)" = "$("$DRVTOOL" gen $((3 * MiB + 5)) | sha)"
	rm -f "$STATE"/azure-token-*
}

failures() {
	local log="$S3_TMP/imds3.log" err="$S3_TMP/err" t0
	start_imds "$log" --fail-first 2 --fail-status 500
	mi get mi/one >"$S3_TMP/out" 2>"$err"
	ok $? "IMDS answering 500 twice: retried, then the get works"
	check "... two refusals and one token" test "$(grep -c '^refused 500' "$log"),$(tokens "$log")" = "2,1"
	rm -f "$STATE"/azure-token-*

	# Nothing listens: a host that is not an Azure VM fails at once.
	local nobody="http://127.0.0.1:$(free_port)/metadata/identity/oauth2/token"
	t0=$SECONDS
	az_bare trmi -o "endpoint=$URL" -o "azure-ca-file=$AZ_CA_FILE" -o "azure-imds-endpoint=$nobody" \
		-o "state-dir=$STATE" get mi/one 2>"$err"
	check "no IMDS: EAUTH" test $? -eq 4
	check "no IMDS: the message says so" grep -q "managed identity: $nobody: .*no identity endpoint here" "$err"
	check "no IMDS: fails fast (< 10 s)" test $((SECONDS - t0)) -lt 10
	keep_err "$err"

	# A user-assigned identity: the client id goes to IMDS.
	start_imds "$S3_TMP/imds4.log" --client-id 11111111-2222-3333-4444-555555555555
	check "user-assigned identity (azure-client-id)" \
		test "$(mi -o azure-client-id=11111111-2222-3333-4444-555555555555 get mi/one)" = "by identity"
	rm -f "$STATE"/azure-token-*
	mi get mi/one 2>"$err"
	check "without its client id: EAUTH" test $? -eq 4
	check "... with IMDS's reason" grep -q "400 invalid_request: Identity not found" "$err"
	keep_err "$err"

	# TLS is verified: without the emulator's CA the request fails.
	az_bare trmi -o "endpoint=$URL" -o "azure-imds-endpoint=$IMDS_URL" -o "state-dir=$STATE" \
		-o azure-client-id=11111111-2222-3333-4444-555555555555 get mi/one 2>"$err"
	check "unknown CA: refused" test $? -eq 1
	check "... a certificate error" grep -qi "certificate" "$err"
}

keep_err() { cat "$1" >>"$ERRS"; }

basics
refresh
failures
check "no token in any message" test "$(grep -c 'eyJ' "$ERRS")" -eq 0

finish
