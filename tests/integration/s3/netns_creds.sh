#!/bin/bash
# netns_creds.sh - run by test_creds.sh inside `unshare -rn` (a private
# network namespace where we may add addresses): the container source's
# default host 169.254.170.2 and the instance metadata defaults
# 169.254.169.254 and [fd00:ec2::254] are made local, fakeaws.py answers
# there on port 80, and the driver finds credentials with no endpoint
# variable at all.  Prints ok/FAIL/SKIP lines (test_creds.sh counts them),
# then "netns: done"; a set-up failure prints "FAIL setup: ..." and stops.
. "$(dirname "$0")/lib_s3.sh"

# The summary line is test_creds.sh's: a failed set-up step says so and ends.
setup() { "${@:2}" || { echo "FAIL setup: netns: $1"; exit 1; }; }
link_local_addresses() {
	ip link set lo up && ip addr add 169.254.170.2/32 dev lo && ip addr add 169.254.169.254/32 dev lo
}
setup "the link-local addresses added" link_local_addresses
v6=(--imds6 "[fd00:ec2::254]:80")
ip -6 addr add fd00:ec2::254/128 dev lo nodad 2>/dev/null || v6=()
setup "moto_server listens" start_moto
setup "fakeaws listens on the link-local addresses" \
	start_fake --ecs-listen 169.254.170.2:80 --imds-listen 169.254.169.254:80 "${v6[@]}"
setup "bucket netns-bucket created" curl -sf -o /dev/null -X PUT "$MOTO_URL/netns-bucket"

dn() {
	local envs=()
	while [ "$1" != -- ]; do envs+=("$1"); shift; done
	shift
	env -i "${SAN_ENV[@]}" PATH="$PATH" HOME="$S3_TMP" "${envs[@]}" "$DRVTOOL" -D s3 -d "$top_builddir/drivers/s3/.libs" \
		-o bucket=netns-bucket -o "endpoint=$FAKE_URL" -o s3-uri-style=path -o "state-dir=$S3_TMP/state-$RANDOM" "$@"
}

both() {
	local name=$1
	shift
	echo "$name" | dn "$@" -- put "k/$name" 2>"$S3_TMP/err"
	ok $? "link-local: $name: put"
	check "link-local: $name: get" test "$(dn "$@" -- get "k/$name" 2>>"$S3_TMP/err")" = "$name"
	[ -s "$S3_TMP/err" ] && sed 's/^/# /' "$S3_TMP/err"
}

both ecs-relative AWS_CONTAINER_CREDENTIALS_RELATIVE_URI=/v2/credentials/fake-task
check "link-local: the relative URI goes to 169.254.170.2" \
	grep -q "credentials: container (http://169.254.170.2/v2/credentials/fake-task)" \
	<(dn AWS_CONTAINER_CREDENTIALS_RELATIVE_URI=/v2/credentials/fake-task -- describe)
both imds-default
check "link-local: with nothing set, instance metadata at 169.254.169.254" \
	grep -q "credentials: imds (role fake-instance-role, IMDSv2 at http://169.254.169.254)" <(dn -- describe)
if [ ${#v6[@]} -gt 0 ]; then
	both imds-ipv6 AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE=IPv6
	check "link-local: AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE=IPv6 asks [fd00:ec2::254]" \
		grep -q "IMDSv2 at http://\[fd00:ec2::254\]" <(dn AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE=IPv6 -- describe)
else
	skip "link-local: no IPv6 in the namespace; IPv6 instance metadata not tested"
fi
check "link-local: never an IMDSv1 request" test "$(fake_q 'd["imds_v1"]')" = 0
echo "netns: done"
