#!/bin/bash
# test_creds.sh - the s3 driver's AWS credential chain against local fake
# endpoints (fakeaws.py: STS, ECS/EKS container endpoint, IMDSv2) and a
# signature-checking S3 stand-in in front of moto_server: a request
# succeeds only when it is signed with the credentials the chain produced
# (static keys, a profile, web identity, container, instance metadata),
# with their session token, before they expire.  Also the order of the
# chain, s3-credentials pinning, the cache in state-dir (mode, owner,
# links), refreshing in the middle of an upload, and error messages that
# name the source and never a secret.  The link-local default addresses
# (169.254.170.2 for ECS, 169.254.169.254 for IMDS) are tested in a
# private network namespace where they are local.
. "$(dirname "$0")/lib_s3.sh"

B=creds-bucket
ID=AKIDSTATICTEST
SECRET=static-Secret-Value-1
TID=AKIDWITHTOKEN
TSECRET=token-Secret-Value-2
TTOKEN=static-Session-Token-3
PID_=AKIDPROFILETEST
PSECRET=profile-Secret-Value-4
ROLE=arn:aws:iam::123456789012:role/totalrecall-test
WEBID_TOKEN="eyJhbGciOiJSUzI1NiJ9.web-identity-token-$RANDOM$RANDOM.signature"
ECS_TOKEN="ecs-Authorization-Token-$RANDOM"
MiB=$((1024 * 1024))

mkdir -p "$S3_TMP/home" "$S3_TMP/aws"
printf '%s\n' "$WEBID_TOKEN" >"$S3_TMP/webid-token"
printf '%s' "$ECS_TOKEN" >"$S3_TMP/ecs-token"
setup "moto_server listens" start_moto
setup "fakeaws (STS, ECS, IMDS, signature-checking S3) listens" start_fake --static "$ID:$SECRET" \
	--static "$TID:$TSECRET:$TTOKEN" --static "$PID_:$PSECRET" --role-arn "$ROLE" \
	--webid-token-file "$S3_TMP/webid-token" --ecs-token "$ECS_TOKEN"
setup "bucket $B created" curl -sf -o /dev/null -X PUT "$MOTO_URL/$B"
CLOSED=$CLOSED_PORT
ERR=$S3_TMP/err
STATE=$S3_TMP/state

# dt [VAR=VALUE...] -- [drvtool options and command...]: the s3 driver
# against the fake, in a clean environment (HOME without ~/.aws, and
# instance metadata pointed at a closed port unless the caller says).
dt() {
	local envs=()
	while [ "$1" != -- ]; do envs+=("$1"); shift; done
	shift
	env -i "${SAN_ENV[@]}" PATH="$PATH" HOME="$S3_TMP/home" AWS_EC2_METADATA_SERVICE_ENDPOINT="http://127.0.0.1:$CLOSED" \
		"${envs[@]}" "$DRVTOOL" -D s3 -d "$top_builddir/drivers/s3/.libs" -o "bucket=$B" \
		-o "endpoint=$FAKE_URL" -o s3-uri-style=path -o "state-dir=$STATE" "$@"
}

# round_trip NAME [VAR=VALUE...] -- [options]: put, get and list one object.
round_trip() {
	local name=$1 key="rt/$RANDOM$RANDOM"
	shift
	local envs=()
	while [ "$1" != -- ]; do envs+=("$1"); shift; done
	shift
	echo "body of $key" | dt "${envs[@]}" -- "$@" put "$key" 2>"$ERR"
	ok $? "$name: put signed with its credentials"
	check "$name: get" test "$(dt "${envs[@]}" -- "$@" get "$key" 2>>"$ERR")" = "body of $key"
	check "$name: list" test "$(dt "${envs[@]}" -- "$@" list "$key" 2>>"$ERR")" = "$key"
}

no_secrets() {
	! grep -qF -e "$SECRET" -e "$TSECRET" -e "$TTOKEN" -e "$PSECRET" -e "$WEBID_TOKEN" -e "$ECS_TOKEN" "$@"
}

not_in() { ! grep -qF -- "$1" "$2"; }
sts_count() { fake_q 'd["issued"]["sts"]'; }
issued() { fake_q "d[\"issued\"][\"$1\"]"; }
describe_has() { dt "${@:2}" describe 2>/dev/null | grep -qF -- "$1"; }

WEBID=(AWS_WEB_IDENTITY_TOKEN_FILE="$S3_TMP/webid-token" AWS_ROLE_ARN="$ROLE" AWS_ENDPOINT_URL_STS="$STS_URL")
ECS=(AWS_CONTAINER_CREDENTIALS_FULL_URI="$ECS_URL/v2/credentials/fake-task" AWS_CONTAINER_AUTHORIZATION_TOKEN="$ECS_TOKEN")
IMDS=(AWS_EC2_METADATA_SERVICE_ENDPOINT="$IMDS_URL")
STATIC=(-o "access-key-id=$ID" -o "secret-access-key=$SECRET")

# --- static keys ---
static_keys() {
	round_trip "static" -- "${STATIC[@]}"
	check "static: describe names the source" describe_has "credentials: static" -- "${STATIC[@]}"
	round_trip "static with session token" -- -o "access-key-id=$TID" -o "secret-access-key=$TSECRET" -o "session-token=$TTOKEN"
	echo x | dt -- -o "access-key-id=$TID" -o "secret-access-key=$TSECRET" put k 2>"$ERR"
	check "static: a missing session token is refused (exit 4)" test $? -eq 4
	check "static: ... as InvalidToken" grep -q "403 InvalidToken" "$ERR"
	echo x | dt -- -o "access-key-id=$ID" -o "secret-access-key=wrong-$SECRET" put k 2>"$ERR"
	check "static: a wrong secret is refused (exit 4)" test $? -eq 4
	check "static: ... as SignatureDoesNotMatch" grep -q "403 SignatureDoesNotMatch" "$ERR"
	dt -- -o "access-key-id=$ID" list "" 2>"$ERR"
	check "static: a key id without secret is a settings error (exit 5)" test $? -eq 5
	check "static: ... naming the setting" grep -q "setting secret-access-key is required" "$ERR"
	check "static: no secret in any message" no_secrets "$ERR"
}

# --- profiles of the shared files ---
profiles() {
	local creds="$S3_TMP/aws/credentials" conf="$S3_TMP/aws/config"
	# CRLF, comments, blanks, upper-case keys and a sub-setting: as people write them.
	printf '# team profiles\r\n[default]\r\naws_access_key_id = %s\r\naws_secret_access_key = %s\r\n\r\n' "$PID_" "$PSECRET" >"$creds"
	printf '[backup]\n  ; indented comment\nAWS_ACCESS_KEY_ID=%s\naws_secret_access_key   =   %s\n' "$PID_" "$PSECRET" >>"$creds"
	printf '[broken]\naws_access_key_id = %s\n' "$PID_" >>"$creds"
	printf '[profile backup]\nregion = eu-west-2\naws_secret_access_key = wrong-%s\ns3 =\n  addressing_style = path\n' "$PSECRET" >"$conf"
	printf '[profile cfgonly]\naws_access_key_id = %s\naws_secret_access_key = %s\n' "$PID_" "$PSECRET" >>"$conf"
	printf '[profile sso]\nsso_session = corp\nsso_account_id = 1\n' >>"$conf"
	printf '[profile assume]\nrole_arn = %s\nsource_profile = default\n' "$ROLE" >>"$conf"
	local files=(AWS_SHARED_CREDENTIALS_FILE="$creds" AWS_CONFIG_FILE="$conf")
	round_trip "profile default (AWS_SHARED_CREDENTIALS_FILE)" "${files[@]}" --
	round_trip "profile backup: the credentials file wins over the config file" "${files[@]}" -- -o s3-profile=backup
	check "profile backup: describe names it" describe_has "credentials: profile backup" "${files[@]}" -- -o s3-profile=backup
	check "profile backup: the region comes from the config file" describe_has "in eu-west-2 at" "${files[@]}" -- -o s3-profile=backup
	check "profile backup: the region setting wins" describe_has "in ap-south-1 at" "${files[@]}" -- -o s3-profile=backup -o region=ap-south-1
	round_trip "profile only in the config file" "${files[@]}" -- -o s3-profile=cfgonly
	dt "${files[@]}" -- -o s3-profile=nope list "" 2>"$ERR"
	check "profile: a named profile that does not exist is an error (exit 5)" test $? -eq 5
	check "profile: ... naming it and the files" grep -q "profile \"nope\" in $creds or $conf" "$ERR"
	dt "${files[@]}" -- -o s3-profile=broken list "" 2>"$ERR"
	check "profile: a key id without secret is an error" grep -q 'profile "broken" has aws_access_key_id but no aws_secret_access_key' "$ERR"
	dt "${files[@]}" -- -o s3-profile=sso list "" 2>"$ERR"
	check "profile: an SSO profile is refused by name" grep -q 'uses sso_session, which totalrecall does not run' "$ERR"
	dt "${files[@]}" -- -o s3-profile=assume list "" 2>"$ERR"
	check "profile: an assume-role profile is refused by name" grep -q 'uses role_arn' "$ERR"
	# The default files under $HOME.
	mkdir -p "$S3_TMP/home/.aws"
	cp "$creds" "$S3_TMP/home/.aws/credentials"
	round_trip "profile default from ~/.aws/credentials" --
	check "profile: describe names ~/.aws/credentials" describe_has "profile default ($S3_TMP/home/.aws/credentials" --
	round_trip "static keys come before the default profile" -- "${STATIC[@]}"
	check "... describe says static" describe_has "credentials: static" -- "${STATIC[@]}"
	round_trip "s3-credentials=profile with static keys set uses the profile" -- "${STATIC[@]}" -o s3-credentials=profile
	check "... describe says profile" describe_has "credentials: profile default" -- "${STATIC[@]}" -o s3-credentials=profile
	rm -rf "$S3_TMP/home/.aws"
	dt -- -o s3-credentials=profile list "" 2>"$ERR"
	check "s3-credentials=profile without any file: exit 5" test $? -eq 5
	check "... saying no profile default" grep -q 's3-credentials=profile: no profile "default"' "$ERR"
	check "profiles: no secret in any message" no_secrets "$ERR"
}

# --- web identity (EKS IRSA) ---
web_identity() {
	local st="$S3_TMP/st-webid" before
	before=$(sts_count)
	round_trip "web-identity" "${WEBID[@]}" -- -o "state-dir=$st"
	check "web-identity: one AssumeRoleWithWebIdentity for three commands (cached)" test "$(sts_count)" -eq $((before + 1))
	local cache
	cache=$(ls "$st"/s3-credentials-web-identity-* 2>/dev/null)
	check "web-identity: cached in state-dir" test -f "$cache"
	check "web-identity: the cache is mode 0600" test "$(stat -c %a "$cache")" = 600
	check "web-identity: the state-dir is mode 0700" test "$(stat -c %a "$st")" = 700
	check "web-identity: describe names the role and the expiry" \
		describe_has "credentials: web-identity (role $ROLE, token $S3_TMP/webid-token, STS $STS_URL/), temporary until 20" "${WEBID[@]}" -- -o "state-dir=$st"
	check "web-identity: the default session name is totalrecall-<time>" \
		test "$(fake_q '[s for s in d["sessions"] if s.startswith("totalrecall-")] != []')" = True
	chmod 644 "$cache"
	before=$(sts_count)
	echo x | dt "${WEBID[@]}" -- -o "state-dir=$st" put k 2>"$ERR"
	ok $? "web-identity: works with a cache file others can read"
	check "web-identity: ... which is ignored, saying why" grep -q "ignoring cached credentials $cache: mode 0644" "$ERR"
	check "web-identity: ... and fetched afresh" test "$(sts_count)" -eq $((before + 1))
	check "web-identity: ... and rewritten 0600" test "$(stat -c %a "$cache")" = 600
	chown nobody "$cache"
	echo x | dt "${WEBID[@]}" -- -o "state-dir=$st" put k 2>"$ERR"
	check "web-identity: a cache file owned by someone else is ignored" grep -q "owned by uid $(id -u nobody)" "$ERR"
	check "web-identity: ... and fetched afresh" test "$(sts_count)" -eq $((before + 2))
	rm -f "$cache"
	ln -s "$S3_TMP/webid-token" "$cache"
	echo x | dt "${WEBID[@]}" -- -o "state-dir=$st" put k 2>"$ERR"
	check "web-identity: a cache that is a symbolic link is ignored" grep -q "$cache: is a symbolic link" "$ERR"
	check "web-identity: ... the link is replaced, its target untouched" \
		test ! -L "$cache" -a "$(cat "$S3_TMP/webid-token")" = "$WEBID_TOKEN"
	# AWS_ENDPOINT_URL (every service) when there is no STS-specific one.
	round_trip "web-identity via AWS_ENDPOINT_URL" AWS_WEB_IDENTITY_TOKEN_FILE="$S3_TMP/webid-token" \
		AWS_ROLE_ARN="$ROLE" AWS_ENDPOINT_URL="$STS_URL" -- -o "state-dir=$S3_TMP/st-webid2"
	round_trip "web-identity with AWS_ROLE_SESSION_NAME" "${WEBID[@]}" AWS_ROLE_SESSION_NAME=pg-backup@db1 -- \
		-o "state-dir=$S3_TMP/st-webid3"
	check "web-identity: STS got the session name" test "$(fake_q '"pg-backup@db1" in d["sessions"]')" = True
	# Failures name the source and the cause, never the token.
	echo "not-the-token" >"$S3_TMP/bad-token"
	dt AWS_WEB_IDENTITY_TOKEN_FILE="$S3_TMP/bad-token" AWS_ROLE_ARN="$ROLE" AWS_ENDPOINT_URL_STS="$STS_URL" -- \
		-o "state-dir=$S3_TMP/st-bad" list "" 2>"$ERR"
	check "web-identity: a refused token fails (exit 4)" test $? -eq 4
	check "web-identity: ... saying source, STS and code" \
		grep -q "credentials from web-identity: STS $STS_URL/ refused AssumeRoleWithWebIdentity for role $ROLE: 400 InvalidIdentityToken" "$ERR"
	check "web-identity: ... without the token" not_in "not-the-token" "$ERR"
	dt AWS_WEB_IDENTITY_TOKEN_FILE="$S3_TMP/webid-token" AWS_ENDPOINT_URL_STS="$STS_URL" -- list "" 2>"$ERR"
	check "web-identity: AWS_ROLE_ARN missing is a settings error (exit 5)" test $? -eq 5
	check "web-identity: ... saying so" grep -q "AWS_WEB_IDENTITY_TOKEN_FILE is set but AWS_ROLE_ARN is not" "$ERR"
	dt AWS_WEB_IDENTITY_TOKEN_FILE="$S3_TMP/absent" AWS_ROLE_ARN="$ROLE" AWS_ENDPOINT_URL_STS="$STS_URL" -- \
		-o "state-dir=$S3_TMP/st-bad" list "" 2>"$ERR"
	check "web-identity: an unreadable token file is named" grep -q "cannot read $S3_TMP/absent" "$ERR"
	dt "${WEBID[@]}" AWS_ENDPOINT_URL_STS="http://127.0.0.1:$CLOSED" -- -o "state-dir=$S3_TMP/st-bad" list "" 2>"$ERR"
	check "web-identity: an unreachable STS does not fall through to other sources" \
		grep -q "credentials from web-identity: STS http://127.0.0.1:$CLOSED/: Couldn't connect" "$ERR"
	# This host's clock 2 h ahead of AWS's: fresh credentials look expired
	# (a warning, not a failure) until S3's Date corrects the clock.
	fake_post config '{"skew": -7200}'
	echo x | dt "${WEBID[@]}" -- -o "state-dir=$S3_TMP/st-skew" put skewed/k 2>"$ERR"
	ok $? "web-identity: works with this host's clock 2 h ahead"
	check "web-identity: ... warning that the credentials look expired" grep -q "already past by this host's clock" "$ERR"
	check "web-identity: ... and correcting the clock from S3's Date" grep -q "s ahead of the server's" "$ERR"
	fake_post config '{"skew": 0}'
	check "web-identity: no secret in any message" no_secrets "$ERR"
}

# Credentials that expire during an upload are replaced before they do:
# STS says they live 310 s (the driver refreshes 300 s before), the S3
# stand-in refuses them after 13 s (10 s for the first part to go out,
# on a loaded machine too); the body stalls until they are dead.
refresh_mid_upload() {
	local st="$S3_TMP/st-refresh" before want got
	fake_post expire # earlier credentials: the feeder waits for the death of this test's
	fake_post config '{"lifetime": 310, "valid_for": 13}'
	fake_post clear-log
	before=$(sts_count)
	# The second half is produced only once the first credentials are dead.
	{
		"$DRVTOOL" gen $((6 * MiB)) --seed 21
		for _ in $(seq 1 300); do
			[ "$(fake_q 'len([k for k, s in d["live"].items() if s == "sts"])')" = 0 ] && break
			sleep 0.1
		done
		"$DRVTOOL" gen $((6 * MiB)) --seed 22
	} | dt "${WEBID[@]}" -- -o "state-dir=$st" -o s3-part-size=$((5 * MiB)) -v put long/upload 2>"$ERR"
	ok $? "refresh: an upload that outlives its credentials succeeds"
	check "refresh: new credentials were fetched during the upload" test "$(sts_count)" -eq $((before + 2))
	check "refresh: ... before the old ones were refused (no ExpiredToken)" \
		test "$(fake_q 'sum(1 for e in d["log"] if e["refused"] == "ExpiredToken")')" = 0
	check "refresh: ... parts were signed by both" \
		test "$(fake_q 'len({e["key_id"] for e in d["log"] if "partNumber" in e["path"]})')" = 2
	want=$( { "$DRVTOOL" gen $((6 * MiB)) --seed 21; "$DRVTOOL" gen $((6 * MiB)) --seed 22; } | sha)
	got=$(dt "${WEBID[@]}" -- -o "state-dir=$st" get long/upload 2>>"$ERR" | sha)
	check "refresh: the object is whole" test "$got" = "$want"
	# Credentials revoked early: the server says ExpiredToken, the driver
	# fetches new ones (not the cached ones) and goes on.
	fake_post config '{"lifetime": 3600, "valid_for": null}'
	echo x | dt "${WEBID[@]}" -- -o "state-dir=$st" put revoked/a 2>"$ERR"
	fake_post expire
	fake_post clear-log
	before=$(sts_count)
	echo y | dt "${WEBID[@]}" -- -o "state-dir=$st" put revoked/b 2>"$ERR"
	ok $? "refresh: credentials revoked before their expiry are replaced"
	check "refresh: ... after one ExpiredToken" \
		test "$(fake_q 'sum(1 for e in d["log"] if e["refused"] == "ExpiredToken")')" = 1
	check "refresh: ... saying so" grep -q "refused the credentials from web-identity as expired; fetched new ones" "$ERR"
	check "refresh: ... one new AssumeRoleWithWebIdentity" test "$(sts_count)" -eq $((before + 1))
	# Static keys cannot be refreshed: a refusal is final, asked once.
	fake_post clear-log
	echo x | dt -- -o "access-key-id=$ID" -o "secret-access-key=$SECRET-x" put k 2>/dev/null
	check "refresh: static keys refused are not retried" test "$(fake_q 'len(d["log"])')" = 1
}

# --- container credentials (ECS task roles, EKS Pod Identity) ---
container() {
	local st="$S3_TMP/st-ecs" before
	before=$(issued ecs)
	round_trip "container (full URI, token)" "${ECS[@]}" -- -o "state-dir=$st"
	check "container: one endpoint call for three commands (cached)" test "$(issued ecs)" -eq $((before + 1))
	check "container: describe names it" describe_has "credentials: container ($ECS_URL/v2/credentials/fake-task, token)" "${ECS[@]}" -- -o "state-dir=$st"
	# The token file wins over the variable (EKS Pod Identity rotates the file).
	round_trip "container (token file)" AWS_CONTAINER_CREDENTIALS_FULL_URI="$ECS_URL/v2/credentials/fake-task" \
		AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE="$S3_TMP/ecs-token" AWS_CONTAINER_AUTHORIZATION_TOKEN=wrong -- \
		-o "state-dir=$S3_TMP/st-ecs2"
	dt AWS_CONTAINER_CREDENTIALS_FULL_URI="$ECS_URL/v2/credentials/fake-task" AWS_CONTAINER_AUTHORIZATION_TOKEN=wrong-token -- \
		-o "state-dir=$S3_TMP/st-ecs3" list "" 2>"$ERR"
	check "container: a wrong token fails (exit 4)" test $? -eq 4
	check "container: ... naming the endpoint and its answer" \
		grep -q "credentials from container: $ECS_URL/v2/credentials/fake-task answered 401 AccessDeniedException" "$ERR"
	dt AWS_CONTAINER_CREDENTIALS_FULL_URI="http://10.9.8.7/creds" AWS_CONTAINER_AUTHORIZATION_TOKEN="$ECS_TOKEN" -- list "" 2>"$ERR"
	check "container: a plain-http full URI to another host is refused (exit 5)" test $? -eq 5
	check "container: ... saying which hosts may have the token" grep -q "must be https, or http to a loopback address" "$ERR"
	check "container: no secret in any message" no_secrets "$ERR"
}

# --- EC2 instance metadata, IMDSv2 ---
imds() {
	local st="$S3_TMP/st-imds" before
	before=$(issued imds)
	round_trip "imds" "${IMDS[@]}" -- -o "state-dir=$st"
	check "imds: one credentials fetch for three commands (cached)" test "$(issued imds)" -eq $((before + 1))
	check "imds: never a GET without a session token (no IMDSv1)" test "$(fake_q 'd["imds_v1"]')" = 0
	check "imds: describe names it" describe_has "credentials: imds (IMDSv2 at $IMDS_URL)" "${IMDS[@]}" -- -o "state-dir=$st"
	dt AWS_EC2_METADATA_DISABLED=true -- list "" 2>"$ERR"
	check "imds: AWS_EC2_METADATA_DISABLED=true, nothing else: no credentials (exit 4)" test $? -eq 4
	check "imds: ... the message walks the chain" \
		grep -q "no credentials found (s3-credentials=auto): static: access-key-id and secret-access-key not set; web-identity: AWS_WEB_IDENTITY_TOKEN_FILE not set; profile: no profile \"default\" in .*; container: .* not set; imds: AWS_EC2_METADATA_DISABLED=true" "$ERR"
	local t0=$SECONDS
	dt AWS_EC2_METADATA_SERVICE_ENDPOINT="$BLACKHOLE_URL" -- -o "state-dir=$S3_TMP/st-bh" list "" 2>"$ERR"
	check "imds: a metadata service that never answers: no credentials (exit 4)" test $? -eq 4
	check "imds: ... within seconds, not the 30 s request timeout" test $((SECONDS - t0)) -lt 10
	check "imds: ... saying it timed out" grep -q "imds: no answer from instance metadata at $BLACKHOLE_URL (Timeout was reached)" "$ERR"
	round_trip "s3-credentials=imds with static keys set uses imds" "${IMDS[@]}" -- "${STATIC[@]}" -o s3-credentials=imds -o "state-dir=$st"
	check "... describe says imds" describe_has "credentials: imds" "${IMDS[@]}" -- "${STATIC[@]}" -o s3-credentials=imds -o "state-dir=$st"
	dt -- -o s3-credentials=static list "" 2>"$ERR"
	check "s3-credentials=static without keys: exit 5" test $? -eq 5
	check "... naming the pinned source" grep -q "s3-credentials=static: access-key-id and secret-access-key not set" "$ERR"
	dt AWS_EC2_METADATA_SERVICE_ENDPOINT="http://127.0.0.1:$CLOSED" -- -o s3-credentials=imds list "" 2>"$ERR"
	check "s3-credentials=imds and no metadata service: exit 4 naming imds" grep -q "credentials from imds: no answer" "$ERR"
}

# --- the order of the chain ---
order() {
	local s=(-o "state-dir=$S3_TMP/st-order")
	check "order: static keys before web identity" describe_has "credentials: static" "${WEBID[@]}" "${ECS[@]}" "${IMDS[@]}" -- "${STATIC[@]}" "${s[@]}"
	check "order: web identity before container and imds" describe_has "credentials: web-identity" "${WEBID[@]}" "${ECS[@]}" "${IMDS[@]}" -- "${s[@]}"
	check "order: container before imds" describe_has "credentials: container" "${ECS[@]}" "${IMDS[@]}" -- "${s[@]}"
	printf '[default]\naws_access_key_id = %s\naws_secret_access_key = %s\n[named]\naws_access_key_id = %s\naws_secret_access_key = %s\n' \
		"$PID_" "$PSECRET" "$PID_" "$PSECRET" >"$S3_TMP/aws/order-creds"
	local f=(AWS_SHARED_CREDENTIALS_FILE="$S3_TMP/aws/order-creds" AWS_CONFIG_FILE=/dev/null)
	check "order: web identity before the default profile" describe_has "credentials: web-identity" "${f[@]}" "${WEBID[@]}" -- "${s[@]}"
	check "order: a named profile (AWS_PROFILE) before web identity" describe_has "credentials: profile named" "${f[@]}" "${WEBID[@]}" -- -o s3-profile=named "${s[@]}"
	check "order: the default profile before container" describe_has "credentials: profile default" "${f[@]}" "${ECS[@]}" -- "${s[@]}"
	round_trip "s3-credentials=container with web identity set uses container" "${WEBID[@]}" "${ECS[@]}" -- -o s3-credentials=container "${s[@]}"
}

# --- the link-local default addresses, in a private network namespace ---
link_local() {
	if ! unshare -rn true 2>/dev/null; then
		skip "link-local defaults: no private network namespace here (unshare -rn)"
		return
	fi
	local out="$S3_TMP/netns.out"
	unshare -rn env top_srcdir="$top_srcdir" top_builddir="$top_builddir" S3_TMP="$S3_TMP" ECS_TOKEN="$ECS_TOKEN" \
		bash "$S3DIR/netns_creds.sh" >"$out" 2>&1
	local rc=$?
	cat "$out"
	# Its checks count here; its end, like a set-up step, only when missed.
	PASS=$((PASS + $(grep -c '^ok ' "$out")))
	FAIL=$((FAIL + $(grep -c '^FAIL ' "$out")))
	SKIP=$((SKIP + $(grep -c '^SKIP ' "$out")))
	setup "link-local: the namespace test ran to its end (exit $rc)" grep -q "^netns: done" "$out"
}

for part in static_keys profiles web_identity refresh_mid_upload container imds order link_local; do
	t0=$SECONDS
	$part
	echo "# $part: $((SECONDS - t0)) s"
done
finish
