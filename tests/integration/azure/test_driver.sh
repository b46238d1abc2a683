#!/bin/bash
# test_driver.sh - the azure driver against Azurite on 127.0.0.1 (Shared
# Key and SAS signatures checked by the emulator; bearer tokens checked
# over HTTPS): the conformance suite every driver passes (tests/unit/
# drivers/conformance.c) and its error classes (a wrong key, a read-only
# SAS, a dead endpoint), then what is Azure's own: block boundaries,
# uncommitted blocks, staged races, names as another client sees them, a
# missing container, listings past one page, settings, and every
# credential source: Shared Key, SAS token, connection string (a managed
# identity through fake_imds.py is test_identity.sh).  A second client
# (azhelper.py, Python's own HMAC) creates containers and checks what the
# service holds.
# Exit 0 when every check passes, 1 otherwise (a missing server fails).
. "$(dirname "$0")/lib_azure.sh"
# shellcheck source=../lib_conform.sh
. "$(dirname "$0")/../lib_conform.sh"

MiB=$((1024 * 1024))
setup "azurite listens" start_azurite
URL=$AZURITE_URL
ERRS="$S3_TMP/all-errors"
: >"$ERRS"

# Every driver message goes through here too: none may show the key, a
# SAS signature or a token.
keep_err() { cat "$1" >>"$ERRS"; }
# count_requests METHOD LOG: requests made, from the driver's debug lines (-v).
count_requests() { grep -c "^\[3\] azure: $1 " "$2"; }

round_trips() {
	local c=trtest err="$S3_TMP/err" log="$S3_TMP/log"
	setup "container $c created" azh "$URL" mkcontainer "$c"
	local m=(az_drv "$URL" "$c")

	# The suite's large bodies (3 MiB + 1 in 1 MiB blocks) are staged.
	conform azure "${m[@]}" -o azure-block-size=$MiB conform --large $((3 * MiB + 1)) --prefix conform/
	"${m[@]}" describe >"$S3_TMP/describe"
	check "describe: container, endpoint, credentials" grep -q "^azure: container $c at $URL (from the endpoint setting), credentials: shared key from azure-key (AZURE_STORAGE_KEY); put-if-absent: If-None-Match (atomic); blocks of 16 MiB" "$S3_TMP/describe"
	check "caps(): put-if-absent, checksum, range resume, remote" grep -qx "caps=0x17" "$S3_TMP/describe"

	# Exactly one block: still one Put Blob (the lookahead sees the end).
	"${m[@]}" -v -o azure-block-size=$MiB put exact --gen $MiB 2>"$log"
	ok $? "put exactly one block"
	check "exactly one block: a single request" test "$(count_requests PUT "$log")" -eq 1
	check "get exactly one block" test "$("${m[@]}" get exact | sha)" = "$("$DRVTOOL" gen $MiB | sha)"

	# Staged: 5 MiB + 3 bytes in 1 MiB blocks = 6 Put Block + 1 Put Block List.
	"${m[@]}" -v -o azure-block-size=$MiB put big/staged --gen $((5 * MiB + 3)) --seed 7 --checksum sha256:bb 2>"$log"
	ok $? "staged put (6 blocks)"
	check "staged put: 6 blocks and one commit" test "$(count_requests PUT "$log")" -eq 7
	check "no uncommitted blocks left after the commit" test "$(azh "$URL" uncommitted "$c" big/staged)" -eq 0

	# A read failure in the middle of a staged upload: no blob appears.
	"${m[@]}" -o azure-block-size=$MiB put big/failed --gen $((5 * MiB)) --fail-after $((3 * MiB + 5)) 2>"$err"
	check "failing read callback fails the put" test $? -ne 0
	check "failed blob not listed by another client" test -z "$(azh "$URL" list "$c" big/failed)"

	echo first | "${m[@]}" put cond/k --if-absent --checksum sha256:c1
	echo first | "${m[@]}" put cond/k --if-absent --checksum sha256:c1 2>"$err"
	check "put-if-absent of an existing blob -> EEXIST" test $? -eq 3
	check "EEXIST message" grep -q "PUT trtest/cond/k: the blob already exists" "$err"
	echo plain | "${m[@]}" put cond/k  # what the credential cases below read

	# Keys that need encoding, as another client sees them.
	local keys=("sp ace/a b" "plus/a+b" "eq/a=b" "at/a@b" "pct/a%2Fb" "utf8/caf$(printf '\xc3\xa9')/$(printf '\xe2\x98\x83')" "mix/~-_.!*'()&\$,;:")
	local k
	for k in "${keys[@]}"; do
		printf '%s' "$k" | "${m[@]}" put "$k"
		ok $? "put key '$k'"
	done
	azh "$URL" list "$c" >"$S3_TMP/names"
	for k in "${keys[@]}"; do
		check "azhelper lists '$k'" grep -qxF -- "$k" "$S3_TMP/names"
	done

	# Absent on the service's word, and a container that is not there.
	"${m[@]}" get nope >/dev/null 2>"$err"
	check "get absent names BlobNotFound" grep -q "GET trtest/nope: 404 BlobNotFound" "$err"
	local nc=(az_drv "$URL" no-such-container)
	"${nc[@]}" get k 2>"$err"
	check "get in a missing container is an error, not 'absent'" test $? -eq 1
	check "missing container message" grep -q "GET no-such-container/k: container no-such-container not found (404 ContainerNotFound)" "$err"
	"${nc[@]}" head k 2>"$err"
	check "head in a missing container is not 'absent'" test $? -eq 1
	"${nc[@]}" list "" 2>"$err"
	check "list of a missing container fails" test $? -eq 1
	check "list names the container" grep -q "LIST no-such-container/: container no-such-container not found" "$err"
	echo x | "${nc[@]}" put k 2>"$err"
	check "put into a missing container fails" test $? -eq 1
	"${nc[@]}" rm k 2>"$err"
	check "rm in a missing container is not 'already gone'" test $? -eq 1
	keep_err "$err"
}

# Writers racing put-if-absent on one name with staged uploads (whose
# uncommitted blocks share the blob name; single puts race in the
# conformance suite): exactly one wins, the others get EEXIST, and the
# blob holds the winner's bytes.
races() {
	local c=trrace i rc
	setup "container $c created" azh "$URL" mkcontainer "$c"
	for round in staged; do
		local pids=() size=200 winners=0 want=""
		[ "$round" = staged ] && size=$((2 * MiB + 17))
		for i in 1 2 3 4 5 6; do
			az_drv "$URL" "$c" -o azure-block-size=$MiB put "race/$round" --if-absent --gen "$size" --seed "$i" \
				2>"$S3_TMP/race-$i.err" &
			pids+=($!)
		done
		for i in 1 2 3 4 5 6; do
			wait "${pids[$((i - 1))]}"
			rc=$?
			[ $rc -eq 0 ] && { winners=$((winners + 1)); want=$("$DRVTOOL" gen "$size" --seed "$i" | sha); }
			[ $rc -eq 0 ] || [ $rc -eq 3 ]
			ok $? "$round race: writer $i exits 0 or 3 (got $rc)"
		done
		check "$round race: exactly one winner ($winners)" test "$winners" -eq 1
		check "$round race: the blob holds the winner's bytes" test "$(az_drv "$URL" "$c" get "race/$round" | sha)" = "$want"
	done
}

list_many() {
	local c=trmany n=5003
	setup "container $c created" azh "$URL" mkcontainer "$c"
	setup "$n blobs put by azhelper" azh "$URL" fill "$c" many/ $n
	echo x | az_drv "$URL" "$c" put manz/outside
	az_drv "$URL" "$c" -v list many/ >"$S3_TMP/list" 2>"$S3_TMP/log"
	ok $? "list > 5000 blobs"
	check "list count $n" test "$(wc -l <"$S3_TMP/list")" -eq $n
	check "list took two pages (NextMarker followed)" test "$(count_requests LIST "$S3_TMP/log")" -eq 2
	check "list ascending (byte order)" env LC_ALL=C sort -c "$S3_TMP/list"
	check "list only the prefix" test "$(grep -c -v '^many/' "$S3_TMP/list")" -eq 0
	# Azure lists in lexicographic order; check the emulator's order is
	# byte order for the kinds of names the core writes and beyond.
	local k
	for k in A Z a z 0 9 - . _ /y "~" "caf$(printf '\xc3\xa9')" cafz; do
		echo "$k" | az_drv "$URL" "$c" put "order/x$k"
	done
	az_drv "$URL" "$c" list order/ >"$S3_TMP/order"
	check "mixed names listed in byte order" env LC_ALL=C sort -c "$S3_TMP/order"
	check "mixed names: all 13" test "$(wc -l <"$S3_TMP/order")" -eq 13

	# remove_many: Blob Batch, 256 DELETEs per request; absent blobs are fine.
	{ cat "$S3_TMP/list"; echo many/absent; cat "$S3_TMP/order"; } >"$S3_TMP/rmkeys"
	az_drv "$URL" "$c" -v rmmany --from "$S3_TMP/rmkeys" >"$S3_TMP/out" 2>"$S3_TMP/log"
	ok $? "remove_many of $((n + 14)) blobs, one absent"
	check "remove_many: 21 batches of at most 256 (6 calls of at most 1,000)" \
		test "$(count_requests "BATCH DELETE" "$S3_TMP/log")" -eq 21
	check "remove_many: no blob needed a DELETE of its own" test "$(count_requests DELETE "$S3_TMP/log")" -eq 0
	check "remove_many removed them all" test -z "$(az_drv "$URL" "$c" list many/)$(az_drv "$URL" "$c" list order/)"
	check "remove_many left the others" test "$(az_drv "$URL" "$c" list manz/)" = manz/outside
	keep_err "$S3_TMP/log"
}

settings_errors() {
	local err="$S3_TMP/err"
	az_bare trtest -o "endpoint=$URL" -o "azure-key=$AZ_KEY" list "" 2>"$err"
	check "shared key without account: EINVAL" test $? -eq 5
	check "... names azure-account" grep -q "setting azure-account (AZURE_STORAGE_ACCOUNT) is required" "$err"
	keep_err "$err"
	"$DRVTOOL" -D azure -d "$AZ_DRIVER_DIR" -o "azure-account=$AZ_ACCOUNT" -o "azure-key=$AZ_KEY" list "" 2>"$err"
	check "without bucket: names it" grep -q "setting bucket (the container) is required" "$err"
	az_drv "$URL" Bad_Name list "" 2>"$err"
	check "bad container name: EINVAL" test $? -eq 5
	check "... says what a container name is" grep -q "is not a container name" "$err"
	az_bare trtest -o "endpoint=$URL" -o "azure-account=$AZ_ACCOUNT" -o "azure-key=not*base64" list "" 2>"$err"
	check "key not base64: names the setting" grep -q "azure-key (AZURE_STORAGE_KEY): not a base64 account key" "$err"
	check "... and not the value" test "$(grep -c 'not\*base64' "$err")" -eq 0
	az_bare trtest -o "azure-connection-string=AccountName=$AZ_ACCOUNT;junk;AccountKey=$AZ_KEY" list "" 2>"$err"
	check "malformed connection string: EINVAL" test $? -eq 5
	check "... named, without its value" grep -q "azure-connection-string (AZURE_STORAGE_CONNECTION_STRING): a part is not Key=Value" "$err"
	keep_err "$err"
	az_bare trtest -o "endpoint=$URL" -o azure-credentials=sas list "" 2>"$err"
	check "azure-credentials=sas without a SAS: says which setting" grep -q "sas credentials need azure-sas-token" "$err"
	az_bare trtest -o "endpoint=ftp://x" -o azure-credentials=sas -o azure-sas-token=sv=1 list "" 2>"$err"
	check "endpoint not http(s): EINVAL" test $? -eq 5
	az_drv "$URL" trtest -o azure-block-size=1000 list "" 2>"$err"
	check "block size out of range: EINVAL" test $? -eq 5
}

wrong_key() {
	local err="$S3_TMP/err" bad
	bad=$(python3 -c 'import base64, os; print(base64.b64encode(os.urandom(64)).decode())')
	"$DRVTOOL" -D azure -d "$AZ_DRIVER_DIR" -v -o bucket=trtest -o "endpoint=$URL" -o "azure-account=$AZ_ACCOUNT" \
		-o "azure-key=$bad" get cond/k >/dev/null 2>"$err"
	check "wrong key: EAUTH" test $? -eq 4
	check "wrong key: 403 and the Azure code" grep -q "GET trtest/cond/k: 403 Authorization" "$err"
	check "wrong key: never retried" test "$(count_requests GET "$err")" -eq 1
	check "wrong key: not in the message" test "$(grep -cF -- "$bad" "$err")" -eq 0
	echo x | "$DRVTOOL" -D azure -d "$AZ_DRIVER_DIR" -o bucket=trtest -o "endpoint=$URL" -o azure-account=otheracct \
		-o "azure-key=$AZ_KEY" put k 2>"$err"
	check "unknown account: refused" test $? -ne 0
	keep_err "$err"
}

sas_tokens() {
	local err="$S3_TMP/err" sas ro old
	sas=$(azh "$URL" sas rwdlc 2099-01-01T00:00:00Z)
	local s=(az_bare trtest -o "endpoint=$URL" -o "azure-sas-token=$sas")
	echo "by sas" | "${s[@]}" put sas/one
	ok $? "SAS: put"
	check "SAS: get" test "$("${s[@]}" get sas/one)" = "by sas"
	check "SAS: list" test "$("${s[@]}" list sas/)" = sas/one
	check "SAS: head" grep -q size=7 <("${s[@]}" head sas/one)
	"${s[@]}" -o azure-block-size=$MiB put sas/staged --gen $((2 * MiB + 1)) --if-absent
	ok $? "SAS: staged put"
	check "SAS: staged get" test "$("${s[@]}" get sas/staged | sha)" = "$("$DRVTOOL" gen $((2 * MiB + 1)) | sha)"
	check "SAS: describe" grep -q "credentials: SAS token from azure-sas-token (AZURE_STORAGE_SAS_TOKEN)" <("${s[@]}" describe)
	ro=$(azh "$URL" sas rl 2099-01-01T00:00:00Z)
	echo no | az_bare trtest -o "endpoint=$URL" -o "azure-sas-token=?$ro" put sas/two 2>"$err"
	check "read-only SAS: put refused as not permitted (TR_EPERM, exit 6)" test $? -eq 6
	check "read-only SAS: the Azure code" grep -q "403 AuthorizationPermissionMismatch" "$err"
	check "read-only SAS ('?' prefix): get works" test "$(az_bare trtest -o "endpoint=$URL" -o "azure-sas-token=?$ro" get sas/one)" = "by sas"
	# The least a repository needs: read, write, delete, list on containers and objects.
	local least
	least=$(AZ_SAS_SRT=co azh "$URL" sas rwdl 2099-01-01T00:00:00Z)
	local l=(az_bare trtest -o "endpoint=$URL" -o "azure-sas-token=$least")
	echo least | "${l[@]}" put sas/least && "${l[@]}" -o azure-block-size=$MiB put sas/least2 --gen $((MiB + 1)) --if-absent &&
		test "$("${l[@]}" list sas/least | tr '\n' ' ')" = "sas/least sas/least2 " && "${l[@]}" rm sas/least2
	ok $? "SAS with sp=rwdl srt=co: put, staged put-if-absent, list, rm"
	echo b | "${l[@]}" put sas/batch1 && echo b | "${l[@]}" put sas/batch2 && "${l[@]}" rmmany sas/batch1 sas/batch2 sas/nope
	ok $? "SAS: remove_many (one DELETE per blob with a SAS)"
	check "SAS: remove_many removed them" test -z "$("${l[@]}" list sas/batch)"
	old=$(azh "$URL" sas rwdlc 2001-01-01T00:00:00Z)
	az_bare trtest -o "endpoint=$URL" -o "azure-sas-token=$old" get sas/one 2>"$err"
	check "expired SAS: EAUTH" test $? -eq 4
	check "no SAS signature in messages" test "$(grep -c 'sig=' "$err")" -eq 0
	keep_err "$err"
	az_bare trtest -o "azure-connection-string=BlobEndpoint=$URL;SharedAccessSignature=$sas" get sas/one >"$S3_TMP/out"
	check "SAS from a connection string" test "$(cat "$S3_TMP/out")" = "by sas"
}

connection_strings() {
	local err="$S3_TMP/err" cs dead
	cs="BlobEndpoint=$URL;AccountName=$AZ_ACCOUNT;AccountKey=$AZ_KEY"
	check "connection string with BlobEndpoint" test "$(az_bare trtest -o "azure-connection-string=$cs" get cond/k)" = plain
	check "connection string: describe" grep -q "shared key from azure-connection-string (AZURE_STORAGE_CONNECTION_STRING)" <(az_bare trtest -o "azure-connection-string=$cs" describe)
	# DefaultEndpointsProtocol and EndpointSuffix build
	# http://ACCOUNT.blob.localhost:PORT, the production-style address
	# (curl resolves *.localhost to 127.0.0.1; Azurite takes the account
	# from the host name).
	cs="DefaultEndpointsProtocol=http;AccountName=$AZ_ACCOUNT;AccountKey=$AZ_KEY;EndpointSuffix=localhost:$AZURITE_PORT"
	check "connection string: account and suffix (production-style host)" \
		test "$(az_bare trtest -o "azure-connection-string=$cs" get cond/k)" = plain
	check "production-style URL in describe" grep -q "at http://$AZ_ACCOUNT.blob.localhost:$AZURITE_PORT " <(az_bare trtest -o "azure-connection-string=$cs" describe)
	dead="http://127.0.0.1:$(free_port)/$AZ_ACCOUNT"
	cs="BlobEndpoint=$dead;AccountName=$AZ_ACCOUNT;AccountKey=$AZ_KEY"
	check "the endpoint setting wins over BlobEndpoint" \
		test "$(az_bare trtest -o "azure-connection-string=$cs" -o "endpoint=$URL" get cond/k)" = plain
	cs="BlobEndpoint=$URL;AccountName=$AZ_ACCOUNT;AccountKey=$AZ_KEY"
	az_bare trtest -o "azure-connection-string=$cs" -o azure-key=d3Jvbmc= get cond/k >"$S3_TMP/out" 2>"$err"
	check "the connection string wins over azure-key" test "$(cat "$S3_TMP/out")" = plain
	check "... with a warning naming the ignored setting" grep -q "azure-key is ignored" "$err"
	keep_err "$err"
}

# The error classes (driver.h): a wrong account key is TR_EAUTH for every
# operation, a read-only SAS TR_EPERM for writes, a dead endpoint
# TR_ETRANSIENT once the retries are spent.
error_classes() {
	local bad ro
	bad=$(python3 -c 'import base64, os; print(base64.b64encode(os.urandom(64)).decode())')
	conform "azure/auth" "$DRVTOOL" -D azure -d "$AZ_DRIVER_DIR" -o bucket=trtest -o "endpoint=$URL" \
		-o "azure-account=$AZ_ACCOUNT" -o "azure-key=$bad" conform --expect auth
	ro=$(azh "$URL" sas rl 2099-01-01T00:00:00Z)
	conform "azure/perm" az_bare trtest -o "endpoint=$URL" -o "azure-sas-token=$ro" conform --expect perm --ops put,remove
	conform "azure/transient" az_drv "http://127.0.0.1:$(free_port)/$AZ_ACCOUNT" trtest -o retries=1 \
		-o retry-max-time=5 -o timeout=2 conform --expect transient
}

round_trips
races
list_many
settings_errors
wrong_key
sas_tokens
connection_strings
error_classes
check "no account key in any message" test "$(grep -cF -- "$AZ_KEY" "$ERRS")" -eq 0

finish
