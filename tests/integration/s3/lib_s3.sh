# lib_s3.sh - helpers for the s3/minio driver integration tests: free
# ports, real S3 servers on 127.0.0.1 (moto_server, s3rver), buckets, and
# pass/fail counting.  Sourced by test_*.sh; needs top_srcdir/top_builddir
# (make check exports them; by hand they default to this checkout).
#
# Counting, as in ../lib.sh (the totals CI prints count assertions only):
#   ok STATUS DESC / check DESC CMD...: an assertion about the driver
#     (a pass or a failure is counted);
#   setup DESC CMD...: a set-up step (a server started, a bucket created):
#     "# setup: DESC" when it works, not counted; when it fails, one
#     failure and the end of the script;
#   skip DESC: what cannot run here, counted apart, never as a pass.

: "${top_srcdir:=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
S3DIR="$top_srcdir/tests/integration/s3"
DRVTOOL="$top_builddir/tests/tools/drvtool"
# shellcheck source=tests/integration/faultproxy.sh
. "$top_srcdir/tests/integration/faultproxy.sh"
# shellcheck source=tests/integration/servers.sh
. "$top_srcdir/tests/integration/servers.sh"
# distcheck builds from a tarball without the npm packages: run-all.sh points here.
NODE_DIR="${TR_S3RVER_NODE_DIR:-$S3DIR/node}"
AWS=/usr/bin/aws
[ -x "$AWS" ] || AWS=aws

# Commands run with `env -i` keep the sanitizers' settings (tests/sanitize.sh:
# LeakSanitizer must not scan TLS in a process that loaded libcurl).
SAN_ENV=()
for v in ASAN_OPTIONS UBSAN_OPTIONS LSAN_OPTIONS; do
	[ -n "${!v:-}" ] && SAN_ENV+=("$v=${!v}")
done

PASS=0
FAIL=0
SKIP=0
S3_PIDS=()
S3_TMP=$(mktemp -d "${TMPDIR:-/tmp}/tr-s3.XXXXXX")

# Counts one check: ok NAME (after a command that set $?).
ok() { if [ "$1" -eq 0 ]; then PASS=$((PASS + 1)); echo "ok   $2"; else FAIL=$((FAIL + 1)); echo "FAIL $2"; fi; }
check() { local name=$1; shift; if "$@"; then ok 0 "$name"; else ok 1 "$name"; fi; }
setup() {
	local name=$1
	shift
	if "$@"; then
		echo "# setup: $name"
	else
		FAIL=$((FAIL + 1))
		echo "FAIL setup: $name"
		finish
		exit 1
	fi
}
skip() { SKIP=$((SKIP + 1)); echo "SKIP $*"; }

# s3_summary NAME: the last line; true when nothing failed and something passed.
s3_summary() {
	echo "$1: $PASS passed, $FAIL failed$([ "$SKIP" -eq 0 ] || echo ", $SKIP skipped")"
	[ "$FAIL" -eq 0 ] && [ "$PASS" -gt 0 ]
}
finish() { s3_summary s3-driver; }

free_port() { pick_port; }

# Waits until the port accepts connections (no request: a fault proxy
# would count it in its schedule).
wait_port() {
	for _ in $(seq 1 100); do
		(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
		sleep 0.1
	done
	echo "server on port $1 did not come up" >&2
	return 1
}

stop_servers() {
	local pid
	for pid in "${S3_PIDS[@]}"; do
		kill "$pid" 2>/dev/null
	done
	for pid in "${S3_PIDS[@]}"; do
		wait "$pid" 2>/dev/null
	done
	S3_PIDS=()
	[ -n "${TR_KEEP:-}" ] || rm -rf "$S3_TMP"
}
trap stop_servers EXIT

# start_moto -> MOTO_PORT, MOTO_URL
start_moto() {
	moto_launch "$S3_TMP/moto.log" || return 1
	S3_PIDS+=("$MOTO_PID")
}

# start_s3rver -> S3RVER_PORT, S3RVER_URL (credentials S3RVER/S3RVER)
start_s3rver() {
	local bin="$NODE_DIR/node_modules/.bin/s3rver"
	if [ ! -x "$bin" ]; then
		echo "s3rver not installed: npm install --no-save --prefix tests/integration/s3/node s3rver" >&2
		return 1
	fi
	S3RVER_PORT=$(free_port)
	mkdir -p "$S3_TMP/s3rver"
	"$bin" --directory "$S3_TMP/s3rver" --address 127.0.0.1 --port "$S3RVER_PORT" --silent \
		>"$S3_TMP/s3rver.log" 2>&1 &
	S3_PIDS+=($!)
	S3RVER_URL="http://127.0.0.1:$S3RVER_PORT"
	wait_port "$S3RVER_PORT"
}

# aws_s3 ENDPOINT KEY_ID SECRET args...
aws_s3() {
	local ep=$1 id=$2 secret=$3
	shift 3
	AWS_ACCESS_KEY_ID=$id AWS_SECRET_ACCESS_KEY=$secret AWS_DEFAULT_REGION=us-east-1 \
		AWS_EC2_METADATA_DISABLED=true AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null \
		"$AWS" --endpoint-url "$ep" "$@"
}

make_bucket() { aws_s3 "$1" "$2" "$3" s3api create-bucket --bucket "$4" >/dev/null; }

# drv DRIVER ENDPOINT KEY_ID SECRET BUCKET [drvtool options and command...]
# The s3 driver gets endpoint + path style; minio needs only the endpoint.
drv() {
	local driver=$1 ep=$2 id=$3 secret=$4 bucket=$5
	shift 5
	local style=()
	[ "$driver" = s3 ] && style=(-o s3-uri-style=path)
	"$DRVTOOL" -D "$driver" -d "$top_builddir/drivers/$driver/.libs" \
		-o "bucket=$bucket" -o "access-key-id=$id" -o "secret-access-key=$secret" \
		-o "endpoint=$ep" "${style[@]}" "$@"
}

sha() { sha256sum | cut -c1-64; }

# --- fakeaws.py: signature-checking S3 stand-in, STS, ECS, IMDS ---

# start_fake [fakeaws options...] -> FAKE_URL (the S3 proxy in front of
# moto), STS_URL, ECS_URL, IMDS_URL, BLACKHOLE_URL; needs start_moto first.
start_fake() {
	local ready="$S3_TMP/fake.ready"
	rm -f "$ready"
	# Port 0: fakeaws binds and reports its ports, so nothing can take
	# one between choosing and binding it.
	python3 "$S3DIR/fakeaws.py" --upstream "127.0.0.1:$MOTO_PORT" --s3 127.0.0.1:0 --sts 127.0.0.1:0 \
		--ecs 127.0.0.1:0 --imds 127.0.0.1:0 --blackhole 127.0.0.1:0 --closed 127.0.0.1:0 --ready-file "$ready" "$@" \
		2>>"$S3_TMP/fake.log" &
	S3_PIDS+=($!)
	for _ in $(seq 1 100); do
		[ -e "$ready" ] && break
		sleep 0.1
	done
	if [ ! -e "$ready" ]; then
		echo "fakeaws did not come up: $(tail -3 "$S3_TMP/fake.log")" >&2
		return 1
	fi
	fake_port() { sed -n "s/^$1 //p" "$ready"; }
	FAKE_URL="http://127.0.0.1:$(fake_port s3)" STS_URL="http://127.0.0.1:$(fake_port sts)"
	ECS_URL="http://127.0.0.1:$(fake_port ecs)" IMDS_URL="http://127.0.0.1:$(fake_port imds)"
	BLACKHOLE_URL="http://127.0.0.1:$(fake_port blackhole)" CLOSED_PORT=$(fake_port closed)
}

# start_faultproxy [faultproxy options...] -> FAULT_URL (port chosen by the proxy).
start_faultproxy() {
	faultproxy_start /dev/stderr "$@" || { echo "faultproxy did not come up" >&2; return 1; }
	S3_PIDS+=("$FAULTPROXY_PID")
	FAULT_URL="http://127.0.0.1:$FAULTPROXY_PORT"
}

# fake_q EXPR: evaluates a Python expression over the fake's state d
# (d["issued"]["sts"], d["log"], ...) and prints it.
fake_q() {
	curl -sf "$FAKE_URL/_fake/state" | python3 -c 'import json, sys; d = json.load(sys.stdin); print(eval(sys.argv[1]))' "$1"
}

# fake_post OP [JSON]: config, expire, clear-log.
fake_post() { curl -sf -X POST --data-binary "${2:-}" "$FAKE_URL/_fake/$1" >/dev/null; }

# moto_head BUCKET KEY...: what moto stored for each key, one line each:
# "KEY class=.. sse=.. kms=.. type=.. sha256=.." (straight from moto, not
# through any proxy; the AWS CLI would take a second per call).
moto_head() {
	python3 - "$MOTO_URL" "$@" <<'PY'
import sys
import boto3
from botocore.config import Config
url, bucket, keys = sys.argv[1], sys.argv[2], sys.argv[3:]
s3 = boto3.client("s3", endpoint_url=url, region_name="us-east-1", aws_access_key_id="x",
                  aws_secret_access_key="y", config=Config(s3={"addressing_style": "path"}))
for k in keys:
    h = s3.head_object(Bucket=bucket, Key=k, ChecksumMode="ENABLED")
    print("%s class=%s sse=%s kms=%s type=%s sha256=%s" % (
        k, h.get("StorageClass", "STANDARD"), h.get("ServerSideEncryption", "-"), h.get("SSEKMSKeyId", "-"),
        h.get("ContentType", "-"), h.get("ChecksumSHA256", "-")))
PY
}
