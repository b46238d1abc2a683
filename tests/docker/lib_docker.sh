# shellcheck shell=bash
# lib_docker.sh - the Docker client and engine for the image scripts.
#
# DOCKER: the client.  Debian's docker.io puts a client of the daemon's own
# version in /usr/bin; another client earlier on PATH (a newer one, without
# buildx) would build with a deprecated fallback, so /usr/bin/docker is
# preferred.  The variable DOCKER overrides.
if [ -n "${DOCKER:-}" ]; then
	read -r -a DOCKER <<<"$DOCKER"
elif [ -x /usr/bin/docker ]; then
	DOCKER=(/usr/bin/docker)
else
	DOCKER=(docker)
fi

DOCKERD_PID=
DOCKER_WHY=

docker_answers() { "${DOCKER[@]}" info >/dev/null 2>&1; }

# docker_up LOG: 0 when a Docker engine answers, after starting dockerd
# (as root, logging to LOG) when none runs; 1 with the reason in
# DOCKER_WHY when it cannot start.  The containers of these tests use the
# host's network or none, so the daemon makes no bridge and leaves the
# host's firewall and forwarding alone.  overlay2 first; where the kernel
# refuses it, the daemon's own choice.
docker_up() {
	local log=$1 driver
	docker_answers && return 0
	if [ "$(id -u)" != 0 ]; then
		DOCKER_WHY="no Docker engine answers, and only root can start dockerd"
		return 1
	fi
	command -v dockerd >/dev/null || { DOCKER_WHY="dockerd is not installed"; return 1; }
	for driver in overlay2 ""; do
		dockerd ${driver:+--storage-driver "$driver"} --bridge=none --iptables=false --ip-forward=false \
			--ip-masq=false >>"$log" 2>&1 &
		DOCKERD_PID=$!
		docker_wait_start && return 0
		docker_down
	done
	# shellcheck disable=SC2034 # read by the scripts that source this file
	DOCKER_WHY="dockerd did not start: $(tail -n 3 "$log" | tr '\n' ' ')"
	return 1
}

# docker_wait_start: up to 60 s for the dockerd just started to answer;
# 1 at once when it has exited.
docker_wait_start() {
	local deadline=$((SECONDS + 60))
	while ! docker_answers; do
		kill -0 "$DOCKERD_PID" 2>/dev/null || return 1
		[ $SECONDS -lt $deadline ] || return 1
		sleep 0.2
	done
}

# docker_down: stops the dockerd this script started (none otherwise).
docker_down() {
	[ -n "$DOCKERD_PID" ] || return 0
	kill "$DOCKERD_PID" 2>/dev/null
	wait "$DOCKERD_PID" 2>/dev/null
	DOCKERD_PID=
}
