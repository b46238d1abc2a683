# lib_azure.sh - helpers for the azure driver's integration tests: Azurite
# (Microsoft's Blob service emulator, which checks Shared Key signatures,
# SAS signatures and, over HTTPS with --oauth basic, bearer tokens) on free
# ports of 127.0.0.1, a fake managed identity endpoint, and an independent
# Python client (azhelper.py) to set up and inspect containers.  Builds on
# ../s3/lib_s3.sh (pass/fail counting, free ports, server cleanup).
# Sourced by test_*.sh; needs top_srcdir/top_builddir (make check exports
# them; by hand they default to this checkout).

# shellcheck source=tests/integration/s3/lib_s3.sh
. "$(dirname "${BASH_SOURCE[0]}")/../s3/lib_s3.sh"
AZDIR="$top_srcdir/tests/integration/azure"
# distcheck builds from a tarball without the npm packages: run-all.sh points here.
AZ_NODE_DIR="${TR_AZURITE_NODE_DIR:-$AZDIR/node}"
AZ_DRIVER_DIR="$top_builddir/drivers/azure/.libs"

# The emulator's only account: a fresh name and key per run, so that a
# message holding the key would be caught by a grep.
AZ_ACCOUNT="tr$(printf '%05d' $((RANDOM % 100000)))acct"
AZ_KEY=$(python3 -c 'import base64, os; print(base64.b64encode(os.urandom(64)).decode())')

finish() { s3_summary "${AZ_SUITE:-azure-driver}"; }

# shellcheck source=tests/integration/azure/azurite.sh
. "$AZDIR/azurite.sh"

# Waits (bounded) until something listens on the port.
wait_listen() {
	local port=$1 log=$2 i
	for i in $(seq 1 300); do
		(exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 0
		sleep 0.2
	done
	echo "nothing listens on port $port; last lines of $log:" >&2
	tail -n 5 "$log" >&2
	return 1
}

# start_azurite [tls] -> AZURITE_PORT, AZURITE_URL (path style:
# http(s)://127.0.0.1:PORT/ACCOUNT).  tls: HTTPS with a fresh self-signed
# certificate ($AZ_CA_FILE) and bearer tokens checked (--oauth basic).
start_azurite() {
	local scheme=http args=()
	if [ "${1:-}" = tls ]; then
		AZ_CA_FILE="$S3_TMP/azurite-tls.crt"
		openssl req -x509 -newkey rsa:2048 -nodes -keyout "$S3_TMP/azurite-tls.key" -out "$AZ_CA_FILE" \
			-days 2 -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 2>/dev/null ||
			{ echo "openssl cannot make a certificate" >&2; return 1; }
		args=(--cert "$AZ_CA_FILE" --key "$S3_TMP/azurite-tls.key" --oauth basic)
		scheme=https
	fi
	azurite_start "$AZ_NODE_DIR" "$S3_TMP" "$AZ_ACCOUNT" "$AZ_KEY" "${args[@]}" || return 1
	S3_PIDS+=("$AZURITE_PID")
	AZURITE_URL="$scheme://127.0.0.1:$AZURITE_PORT/$AZ_ACCOUNT"
}

# start_imds LOG [fake_imds.py options] -> IMDS_URL (the token endpoint)
start_imds() {
	local log=$1 port
	shift
	port=$(free_port)
	: >"$log"
	python3 "$AZDIR/fake_imds.py" --port "$port" --log "$log" "$@" 2>>"$S3_TMP/imds.err" &
	S3_PIDS+=($!)
	IMDS_URL="http://127.0.0.1:$port/metadata/identity/oauth2/token"
	wait_listen "$port" "$S3_TMP/imds.err"
}

# azh URL COMMAND...: azhelper.py against the emulator at URL.
azh() {
	local url=$1
	shift
	AZ_ENDPOINT=$url AZ_ACCOUNT=$AZ_ACCOUNT AZ_KEY=$AZ_KEY AZ_CA_FILE=${AZ_CA_FILE:-} python3 "$AZDIR/azhelper.py" "$@"
}

# az_drv URL CONTAINER [drvtool options and command...]: the driver with
# the account's Shared Key.
az_drv() {
	local url=$1 container=$2
	shift 2
	"$DRVTOOL" -D azure -d "$AZ_DRIVER_DIR" -o "bucket=$container" -o "endpoint=$url" \
		-o "azure-account=$AZ_ACCOUNT" -o "azure-key=$AZ_KEY" "$@"
}

# az_bare CONTAINER [drvtool options and command...]: the driver with
# only what the caller gives.
az_bare() {
	local container=$1
	shift
	"$DRVTOOL" -D azure -d "$AZ_DRIVER_DIR" -o "bucket=$container" "$@"
}
