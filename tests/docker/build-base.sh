#!/usr/bin/env bash
# Makes local stand-ins for the official postgres image, Debian flavour,
# where no registry can be reached:
#
#   17  Debian 13 (trixie) with Debian's postgresql-17  -> totalrecall-standin/postgres:17
#   15  Debian 12 (bookworm) with postgresql-15         -> totalrecall-standin/postgres:15
#
# Two steps per major: debootstrap makes a minimal Debian root filesystem
# (what debian:<suite>-slim is), imported with `docker import` as
# totalrecall-debian:<suite>; then tests/docker/standin/Dockerfile adds
# PostgreSQL and the entrypoint the way the official image does (see there
# and tests/docker/README.md for what differs from the real one).
#
# Cached: an imported root filesystem is reused while it was made by the
# same recipe (a label holds this script's hash), debootstrap keeps its
# packages in CACHE/debs-<suite>, and the second step is an ordinary
# `docker build`, whose layers are reused.  Both majors are made in
# parallel (the steps mostly wait on downloads).
#
# usage: tests/docker/build-base.sh [MAJOR...]        (default: 17 15)
#   TR_DOCKER_CACHE   cache directory (default /var/cache/totalrecall-docker)
#   TR_DEBIAN_MIRROR  Debian mirror (default http://deb.debian.org/debian)
#   DOCKER            docker client (default: /usr/bin/docker, else docker)
set -Eeuo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cache=${TR_DOCKER_CACHE:-/var/cache/totalrecall-docker}
mirror=${TR_DEBIAN_MIRROR:-http://deb.debian.org/debian}
# shellcheck source=tests/docker/lib_docker.sh
. "$here/lib_docker.sh"

majors=("$@")
[ ${#majors[@]} -gt 0 ] || majors=(17 15)

die() { echo "build-base: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "run as root (debootstrap)"
command -v debootstrap >/dev/null || die "debootstrap not found: run tests/install-deps.sh docker"
"${DOCKER[@]}" info >/dev/null 2>&1 || die "no Docker engine answers (start dockerd)"
mkdir -p "$cache/logs"

suite_of() {
	case $1 in
	17) echo trixie ;;
	15) echo bookworm ;;
	*) die "no stand-in for PostgreSQL $1 (17: Debian 13, 15: Debian 12)" ;;
	esac
}

recipe=$(sha256sum "$0" | cut -c1-16)

# debian_image SUITE: totalrecall-debian:SUITE, made by this recipe.
debian_image() {
	local suite=$1 image=totalrecall-debian:$1 root label
	label=$("${DOCKER[@]}" image inspect -f '{{index .Config.Labels "org.totalrecall.recipe"}}' "$image" 2>/dev/null || true)
	if [ "$label" = "$recipe" ]; then
		echo "build-base: $image is up to date"
		return 0
	fi
	root=$cache/rootfs-$suite
	rm -rf "$root"
	mkdir -p "$cache/debs-$suite"
	echo "build-base: debootstrap $suite (log: $cache/logs/debootstrap-$suite.log)"
	debootstrap --variant=minbase --cache-dir="$cache/debs-$suite" "$suite" "$root" "$mirror" \
		>"$cache/logs/debootstrap-$suite.log" 2>&1 ||
		{ tail -20 "$cache/logs/debootstrap-$suite.log" >&2; die "debootstrap $suite failed"; }
	# The sources of the Debian images: the release, its updates, security.
	rm -f "$root/etc/apt/sources.list"
	cat >"$root/etc/apt/sources.list.d/debian.sources" <<-EOF
	Types: deb
	URIs: $mirror
	Suites: $suite $suite-updates
	Components: main
	Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

	Types: deb
	URIs: http://deb.debian.org/debian-security
	Suites: $suite-security
	Components: main
	Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
	EOF
	rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/* "$root"/var/log/* "$root/debootstrap"
	tar -C "$root" --numeric-owner -c . |
		"${DOCKER[@]}" import \
			--change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
			--change 'CMD ["bash"]' \
			--change "LABEL org.totalrecall.recipe=$recipe" - "$image" >/dev/null
	rm -rf "$root"
	echo "build-base: imported $image"
}

# standin MAJOR: totalrecall-standin/postgres:MAJOR on its Debian image.
standin() {
	local major=$1 suite
	suite=$(suite_of "$major")
	debian_image "$suite"
	echo "build-base: building totalrecall-standin/postgres:$major (log: $cache/logs/standin-$major.log)"
	"${DOCKER[@]}" build --network host --force-rm -t "totalrecall-standin/postgres:$major" \
		--build-arg "DEBIAN=totalrecall-debian:$suite" --build-arg "PG_MAJOR=$major" \
		"$here/standin" >"$cache/logs/standin-$major.log" 2>&1 ||
		{ tail -30 "$cache/logs/standin-$major.log" >&2; die "building the stand-in for $major failed"; }
}

start=$SECONDS
pids=()
for major in "${majors[@]}"; do
	suite_of "$major" >/dev/null
	standin "$major" &
	pids+=($!)
done
rc=0
for pid in "${pids[@]}"; do
	wait "$pid" || rc=1
done
[ $rc -eq 0 ] || die "failed"
for major in "${majors[@]}"; do
	"${DOCKER[@]}" image inspect -f "build-base: totalrecall-standin/postgres:$major {{.Size}} bytes" \
		"totalrecall-standin/postgres:$major"
done
echo "build-base: ready in $((SECONDS - start)) s"
