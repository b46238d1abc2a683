# shellcheck shell=bash
# azurite.sh - starts Azurite's Blob service on a free port of 127.0.0.1.
# Only defines a function (no globals, no traps), so both lib_azure.sh
# and test_backup_azure.sh (which uses lib.sh) can source it; both have
# pick_port (../servers.sh) by then.
#
#   azurite_start NODE_DIR LOGDIR ACCOUNT KEY [azurite options...]
#     -> AZURITE_PID, AZURITE_PORT; returns 1 when it never listens.
#
# In memory, 1 GiB at most, no telemetry.  Waits (bounded) until the port
# accepts connections.  A start that hangs (seen once on a loaded
# machine: no output past the first line for two minutes) is killed and
# tried once more on another port.

azurite_start() {
	local node_dir=$1 logdir=$2 account=$3 key=$4 bin try i
	shift 4
	bin="$node_dir/node_modules/.bin/azurite-blob"
	if [ ! -x "$bin" ]; then
		echo "azurite not installed in $node_dir: bash tests/install-deps.sh test" >&2
		return 1
	fi
	for try in 1 2; do
		AZURITE_PORT=$(pick_port) || return 1
		AZURITE_ACCOUNTS="$account:$key" "$bin" --blobHost 127.0.0.1 --blobPort "$AZURITE_PORT" \
			--inMemoryPersistence --extentMemoryLimit 1024 --disableTelemetry "$@" \
			>"$logdir/azurite-$AZURITE_PORT.log" 2>&1 &
		AZURITE_PID=$!
		for i in $(seq 1 300); do
			(exec 3<>"/dev/tcp/127.0.0.1/$AZURITE_PORT") 2>/dev/null && return 0
			kill -0 "$AZURITE_PID" 2>/dev/null || break
			sleep 0.2
		done
		echo "azurite (try $try) did not listen on port $AZURITE_PORT; its log:" >&2
		tail -n 5 "$logdir/azurite-$AZURITE_PORT.log" >&2
		kill "$AZURITE_PID" 2>/dev/null || true
		wait "$AZURITE_PID" 2>/dev/null || true
	done
	return 1
}
