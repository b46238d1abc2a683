# faultproxy.sh - starts tests/integration/s3/faultproxy.py on a port the
# proxy picks itself (bind to port 0), so that no other test running at the
# same time can take the port between choosing it and binding it.
# Sourced by lib.sh and s3/lib_s3.sh.

# faultproxy_start LOG [faultproxy.py options...]: FAULTPROXY_PORT and
# FAULTPROXY_PID once the proxy listens; 1 if it did not come up in 30 s.
faultproxy_start() {
	local log=$1 ready deadline
	shift
	ready=$(mktemp -u "${TMPDIR:-/tmp}/faultproxy-ready.XXXXXX")
	python3 "$(dirname "${BASH_SOURCE[0]}")/s3/faultproxy.py" --port 0 --ready-file "$ready" "$@" 2>>"$log" &
	FAULTPROXY_PID=$!
	deadline=$((SECONDS + 30))
	until [ -s "$ready" ]; do
		if [ "$SECONDS" -ge "$deadline" ] || ! kill -0 "$FAULTPROXY_PID" 2>/dev/null; then
			kill "$FAULTPROXY_PID" 2>/dev/null || true
			return 1
		fi
		sleep 0.1
	done
	FAULTPROXY_PORT=$(cat "$ready")
	rm -f "$ready"
}

# faultproxy_stop: stops the proxy faultproxy_start started last, if any.
faultproxy_stop() {
	[ -n "${FAULTPROXY_PID:-}" ] || return 0
	kill "$FAULTPROXY_PID" 2>/dev/null || true
	wait "$FAULTPROXY_PID" 2>/dev/null || true
	FAULTPROXY_PID=
}
