# shellcheck shell=bash
# servers.sh - ports and moto_server for the test libraries (lib.sh and
# s3/lib_s3.sh source it).  Tests run two at a time (make -j2 check) and
# beside other people's: a port is chosen below the kernel's ephemeral
# range, where no outgoing connection can take it between the choice and
# the server's bind, and a server that still finds its port taken is
# started again on another one.

# pick_port: a TCP port on 127.0.0.1, below the ephemeral range, that
# nothing listens on.
pick_port() {
	local lo p
	lo=$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null) || lo=32768
	[ "${lo:-0}" -gt 12000 ] || lo=32768
	for _ in $(seq 1 200); do
		# SRANDOM: tests seed RANDOM, and two runs must not pick the same ports
		p=$((10000 + ${SRANDOM:-$((RANDOM * 32768 + RANDOM))} % (lo - 10000)))
		(exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null && continue
		printf '%s\n' "$p"
		return 0
	done
	echo "no free port found" >&2
	return 1
}

# moto_launch LOG [PORT-COMMAND]: moto_server on 127.0.0.1, its output
# appended to LOG; MOTO_PORT, MOTO_URL and MOTO_PID once it listens.
# PORT-COMMAND prints the port to try (default pick_port).  1 when it does
# not listen within 180 s (python starts slowly on a loaded machine: the
# sanitized run), or three ports in a row were taken.
moto_launch() {
	local log=$1 port_cmd=${2:-pick_port} try
	command -v moto_server >/dev/null || { echo "moto_server not found (pip install 'moto[server]')" >&2; return 1; }
	for try in 1 2 3; do
		MOTO_PORT=$($port_cmd) || return 1
		# shellcheck disable=SC2034 # for the caller
		MOTO_URL=http://127.0.0.1:$MOTO_PORT
		moto_server -H 127.0.0.1 -p "$MOTO_PORT" >>"$log" 2>&1 &
		MOTO_PID=$!
		moto_listens && return 0
		kill -0 "$MOTO_PID" 2>/dev/null && break # alive, but silent for 180 s
		wait "$MOTO_PID" 2>/dev/null
		echo "moto_server on port $MOTO_PORT exited (try $try): $(tail -n 1 "$log")" >&2
	done
	kill "$MOTO_PID" 2>/dev/null
	echo "moto_server did not come up: $(tail -n 3 "$log" | tr '\n' ' ')" >&2
	return 1
}

# moto_listens: polls MOTO_PORT for up to 180 s; 1 at once when the
# server has exited.
moto_listens() {
	local deadline=$((SECONDS + 180))
	until (exec 3<>"/dev/tcp/127.0.0.1/$MOTO_PORT") 2>/dev/null; do
		kill -0 "$MOTO_PID" 2>/dev/null || return 1
		[ "$SECONDS" -lt "$deadline" ] || return 1
		sleep 0.1
	done
}
