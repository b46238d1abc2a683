#!/usr/bin/env bash
# Installs what TotalRecall needs to build and to run its tests, from
# Debian's packages and the npm registry.  Idempotent; quick when all is
# there.  Usage: tests/install-deps.sh [build|test|musl|bench|docker]
#   bench: what tests/bench/run.sh needs besides the tests' packages:
#   pgBackRest, stunnel4 and openssl (the S3 rows' TLS front-end).
#   musl: what tests/portable/build-musl.sh needs: musl-tools, dpkg-dev and
#   a deb-src entry so that it can `apt-get source` openssl, curl, zstd,
#   bearssl and postgresql-15.
#   docker: only what tests/docker/test_image.sh needs on the host: Debian's
#   docker.io (dockerd, containerd, runc) and debootstrap (the images build
#   TotalRecall themselves).
set -euo pipefail
what=${1:-test}
here=$(cd "$(dirname "$0")" && pwd)

build_pkgs=(build-essential autoconf automake libtool pkg-config
	libbearssl-dev libzstd-dev libcurl4-openssl-dev libpq-dev check
	postgresql-15 postgresql-server-dev-15)
test_pkgs=(awscli time valgrind clang libclang-rt-14-dev zstd strace openssl)

musl_pkgs=(musl-tools dpkg-dev patch xz-utils)
bench_pkgs=(pgbackrest stunnel4 openssl time)
docker_pkgs=(docker.io debootstrap)

if [ "$what" = musl ]; then
	src_list=/etc/apt/sources.list.d/totalrecall-deb-src.sources
	if ! apt-cache showsrc bearssl 2>/dev/null | grep '^Version' >/dev/null; then
		echo "install-deps: adding Debian source entries ($src_list)"
		codename=$(. /etc/os-release && echo "$VERSION_CODENAME")
		cat >"$src_list" <<-EOF
		Types: deb-src
		URIs: http://deb.debian.org/debian
		Suites: $codename $codename-updates
		Components: main
		Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

		Types: deb-src
		URIs: http://deb.debian.org/debian-security
		Suites: $codename-security
		Components: main
		Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
		EOF
		apt-get update -qq
	fi
fi

pkgs=("${build_pkgs[@]}")
[ "$what" = musl ] && pkgs+=("${musl_pkgs[@]}")
[ "$what" = test ] && pkgs+=("${test_pkgs[@]}")
[ "$what" = bench ] && pkgs+=("${bench_pkgs[@]}")
[ "$what" = docker ] && pkgs=("${docker_pkgs[@]}")
# Node.js may come from another packaging that bundles npm: ask for the command.
[ "$what" = test ] && ! command -v npm >/dev/null && pkgs+=(nodejs npm)

missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	echo "install-deps: installing ${missing[*]}"
	SUDO=""
	[ "$(id -u)" -ne 0 ] && SUDO=sudo
	$SUDO apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ "$what" = test ]; then
	# s3rver: an S3 server that ignores If-None-Match, for the fallback path.
	node_dir="$here/integration/s3/node"
	if [ ! -x "$node_dir/node_modules/.bin/s3rver" ]; then
		echo "install-deps: installing s3rver from npm into $node_dir"
		mkdir -p "$node_dir"
		npm install --silent --no-save --no-audit --no-fund --prefix "$node_dir" s3rver@3 >/dev/null
	fi
	# Azurite: Microsoft's Blob service emulator, for the azure driver's
	# tests (openssl above makes its TLS certificate).  A pinned version:
	# the tests rely on what it checks (Shared Key, SAS, bearer tokens).
	az_node_dir="$here/integration/azure/node"
	if [ ! -x "$az_node_dir/node_modules/.bin/azurite-blob" ]; then
		echo "install-deps: installing azurite from npm into $az_node_dir"
		mkdir -p "$az_node_dir"
		npm install --silent --no-save --no-audit --no-fund --prefix "$az_node_dir" azurite@3.35.0 >/dev/null
	fi
	python3 -c 'import moto.server' 2>/dev/null ||
		{ echo "install-deps: python3 lacks moto (moto_server); the S3 tests need it" >&2; exit 1; }
fi
echo "install-deps: ok"
