# shellcheck shell=bash
# lib_docker.sh - the Docker client the image scripts use.  Debian's
# docker.io puts a client of the daemon's own version in /usr/bin; another
# client earlier on PATH (a newer one, without buildx) would build with a
# deprecated fallback, so /usr/bin/docker is preferred.  DOCKER overrides.
if [ -n "${DOCKER:-}" ]; then
	read -r -a DOCKER <<<"$DOCKER"
elif [ -x /usr/bin/docker ]; then
	DOCKER=(/usr/bin/docker)
else
	DOCKER=(docker)
fi
