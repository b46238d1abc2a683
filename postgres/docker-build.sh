#!/bin/sh
# postgres/docker-build.sh - the builder stage of postgres/Dockerfile, on
# either flavour of the official postgres image (the builder is the very
# image the result is based on).
#
#   docker-build.sh deps              toolchain and dependencies (before the
#                                     sources are copied: a cached layer)
#   docker-build.sh build SRC STAGE   builds TotalRecall from SRC and puts
#                                     exactly what the image adds under STAGE
#
# Debian flavour (postgres:<major>): libpq, zstd and OpenSSL are the image's
# own shared libraries; BearSSL is Debian's libbearssl.a, linked statically;
# libcurl is the image's libcurl.so.4 when it has one, else libcurl built
# from Debian's source package (apt-get source, with Debian's patches) as a
# static library for HTTP(S) only, TLS through the image's OpenSSL, linked
# into the s3 and minio drivers.  The worker is built with the image's PGXS.
# Alpine flavour (postgres:<major>-alpine): tests/portable/build-musl.sh
# image --system-libs, as before (BearSSL and libcurl static, from Debian
# source packages fetched by hash from DEBIAN_POOLS).
#
# POSIX sh until `deps` has installed bash (Alpine has none).
set -eu

deps_dir=/usr/local/src/totalrecall-deps
: "${DEBIAN_POOLS:=https://deb.debian.org/debian-security/pool/updates/main https://deb.debian.org/debian/pool/main}"
die() { echo "docker-build: $*" >&2; exit 1; }
t0=$(date +%s)
took() { echo "docker-build: $1 in $(($(date +%s) - t0)) s"; t0=$(date +%s); }

flavour() {
	if [ -e /etc/alpine-release ]; then echo alpine; else echo debian; fi
}

# The image's PostgreSQL major version (both official flavours set PG_MAJOR).
pg_major() {
	if [ -n "${PG_MAJOR:-}" ]; then echo "$PG_MAJOR"; return; fi
	ls /usr/lib/postgresql 2>/dev/null | sort -n | tail -1
}

# --- Alpine ------------------------------------------------------------------
deps_alpine() {
	apk add --no-cache build-base autoconf automake libtool pkgconf linux-headers perl bash patch xz coreutils \
		findutils openssl-dev zstd-dev
	# libcurl and BearSSL from Debian's source packages (with Debian's
	# security patches), the same sources as the Debian-hosted musl build.
	mkdir -p /var/cache/totalrecall-musl/src
	cd /var/cache/totalrecall-musl/src
	printf '%s\n' \
		"c/curl curl_7.88.1.orig.tar.gz cdb38b72e36bc5d33d5b8810f8018ece1baa29a8f215b4495e495ded82bbf3c7" \
		"c/curl curl_7.88.1-10+deb12u15.debian.tar.xz 961b78bc48492c5693e4decb352ddd176f343260a8956f48b2887874048ef23b" \
		"b/bearssl bearssl_0.6+dfsg.1.orig.tar.xz 102a625bd8f6155260867a50c508df8d8c3f796985dd744df1a68e5cd1a79004" \
		"b/bearssl bearssl_0.6+dfsg.1-3.debian.tar.xz 051264300dffd810e7ea08f8210d3f9f61773dcd322086c0cbd02bee8d1f73df" |
	while read -r dir file sum; do
		for pool in $DEBIAN_POOLS; do
			wget -q -O "$file" "$pool/$dir/$(echo "$file" | sed 's/+/%2b/g')" && break || rm -f "$file"
		done
		echo "$sum  $file" | sha256sum -c -
	done
}

build_alpine() {
	bash "$1/tests/portable/build-musl.sh" image --system-libs --src "$1" --out /out --prefix /usr/local \
		--pg-config /usr/local/bin/pg_config
}

# --- Debian ------------------------------------------------------------------
# A deb-src entry for each Debian source the image uses (apt-get source):
# Debian 12 and later list them in deb822 form, older ones in sources.list.
debian_add_deb_src() {
	if [ -f /etc/apt/sources.list.d/debian.sources ]; then
		sed 's/^Types:.*/Types: deb-src/' /etc/apt/sources.list.d/debian.sources \
			>/etc/apt/sources.list.d/totalrecall-deb-src.sources
	else
		sed -n 's/^deb /deb-src /p' /etc/apt/sources.list >/etc/apt/sources.list.d/totalrecall-deb-src.list
	fi
}

# libcurl for the s3 drivers only: HTTP and HTTPS (OpenSSL), no other
# protocol, no compression or IDN/PSL libraries the image lacks.
CURL_CONFIGURE="--disable-shared --enable-static --with-pic --with-openssl --without-libpsl --without-brotli
--without-zstd --without-zlib --without-libidn2 --without-nghttp2 --without-nghttp3 --without-ngtcp2 --without-librtmp
--without-libssh2 --without-libgsasl --disable-ldap --disable-ldaps --disable-rtsp --disable-dict --disable-telnet
--disable-tftp --disable-pop3 --disable-imap --disable-smb --disable-smtp --disable-gopher --disable-mqtt --disable-ftp
--disable-file --disable-manual --disable-docs --disable-ntlm --disable-cookies --disable-alt-svc --disable-doh
--disable-mime --disable-netrc --disable-progress-meter --disable-dateparse --disable-websockets --disable-unix-sockets
--with-ca-bundle=/etc/ssl/certs/ca-certificates.crt --with-ca-path=/etc/ssl/certs --enable-ipv6 --enable-threaded-resolver"

debian_static_curl() {
	debian_add_deb_src
	apt-get update -qq
	mkdir -p "$deps_dir/src"
	cd "$deps_dir/src"
	# An index sometimes names a version its pool no longer has: each
	# version apt knows, newest first.
	for v in $(apt-cache showsrc curl | sed -n 's/^Version: //p' | sort -Vru); do
		apt-get -o APT::Sandbox::User=root source -qq "curl=$v" >/dev/null 2>&1 && break
		rm -rf curl-[0-9]*/ curl_*
	done
	s=$(find . -maxdepth 1 -type d -name 'curl-[0-9]*' | head -1)
	[ -n "$s" ] || die "apt-get source curl made no curl-* directory"
	cd "$s"
	# Debian's patches are applied (its security fixes are in lib/); the
	# build files are upstream's, not regenerated: the patches that change
	# them make Debian's other library flavours (libcurl-gnutls, -nss).
	# Newer than every patched .am/.ac, make leaves them as they are.
	now=$(date +%s)
	find . \( -name Makefile.in -o -name configure -o -name aclocal.m4 -o -name '*.h.in' \) -exec touch -d "@$now" {} +
	# --enable-unity (curl 8): the library as one compilation unit, built
	# in seconds; older configures ignore it with a warning.
	# shellcheck disable=SC2086 # a list of options
	./configure -q --prefix="$deps_dir/curl" --enable-unity CFLAGS="-O2 -ffunction-sections -fdata-sections" \
		$CURL_CONFIGURE >/dev/null
	grep -q '^#define USE_OPENSSL 1' lib/curl_config.h || die "libcurl was configured without OpenSSL"
	# The library alone (lib's default target also builds a copy for curl's unit tests).
	make -s -j"$(nproc)" -C lib libcurl.la >/dev/null
	mkdir -p "$deps_dir/curl/lib"
	cp lib/.libs/libcurl.a "$deps_dir/curl/lib/"
	make -s -C include install >/dev/null
	cd /
	rm -rf "$deps_dir/src"
	ln -s "$deps_dir/curl/lib/libcurl.a" "$deps_dir/static/"
}

deps_debian() {
	major=$(pg_major)
	[ -n "$major" ] || die "no PostgreSQL in /usr/lib/postgresql (is this a postgres image?)"
	mkdir -p "$deps_dir/static"
	# Decided before anything is installed: what the final image has.
	curl=static
	for f in /usr/lib/*/libcurl.so.4 /usr/lib/libcurl.so.4 /usr/local/lib/libcurl.so.4; do
		[ -e "$f" ] && curl=system
	done
	echo "$curl" >"$deps_dir/curl-mode"
	pkgs="gcc libc6-dev make autoconf automake libtool pkg-config libzstd-dev libpq-dev libbearssl-dev"
	if [ "$curl" = system ]; then
		pkgs="$pkgs libcurl4-openssl-dev"
	else
		pkgs="$pkgs libssl-dev dpkg-dev"
	fi
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	# shellcheck disable=SC2086 # a list of packages
	apt-get install -y -qq --no-install-recommends $pkgs >/dev/null
	# PGXS (headers, pg_config, makefiles) from postgresql-server-dev-MAJOR,
	# unpacked without its dependencies: they are clang and LLVM (160 MB to
	# fetch), for JIT bitcode the worker is built without (with_llvm=no).
	mkdir -p "$deps_dir/deb"
	(cd "$deps_dir/deb" && apt-get -o APT::Sandbox::User=root download -qq "postgresql-server-dev-$major")
	dpkg-deb -x "$deps_dir"/deb/postgresql-server-dev-*.deb /
	rm -rf "$deps_dir/deb"
	took "toolchain and libraries installed"
	# BearSSL statically: the only copy a symlink in a directory of archives,
	# so that -lbearssl cannot pick the shared library.
	ln -s "$(find /usr/lib -name libbearssl.a | head -1)" "$deps_dir/static/"
	[ "$curl" = system ] || { debian_static_curl; took "libcurl (static) built"; }
	echo "docker-build: PostgreSQL $major, libcurl: $curl"
}

build_debian() {
	src=$1
	major=$(pg_major)
	pgc=/usr/lib/postgresql/$major/bin/pg_config
	[ -x "$pgc" ] || die "$pgc not found (postgresql-server-dev-$major)"
	b=/tmp/totalrecall-build
	rm -rf "$b"
	cp -a "$src" "$b"
	cd "$b"
	if [ "$(cat "$deps_dir/curl-mode")" = static ]; then
		curl_cflags="-I$deps_dir/curl/include"
		# libcurl's symbols stay local to each driver.
		curl_libs="-Wl,--exclude-libs,libcurl.a -L$deps_dir/static -lcurl -lssl -lcrypto"
	else
		curl_cflags=$(pkg-config --cflags libcurl)
		curl_libs=$(pkg-config --libs libcurl)
	fi
	autoreconf -fi >/dev/null 2>&1
	./configure -q --prefix=/usr/local --without-check --with-pg-config="$pgc" \
		CFLAGS="-O2 -ffunction-sections -fdata-sections" LDFLAGS="-Wl,--gc-sections -Wl,-O1 -Wl,--as-needed" \
		CURL_CFLAGS="$curl_cflags" CURL_LIBS="$curl_libs" \
		BEARSSL_LIBS="-Wl,--exclude-libs,libbearssl.a -L$deps_dir/static -lbearssl"
	# with_llvm=no reaches PGXS: no clang bitcode for the worker.
	make -s -j"$(nproc)" with_llvm=no >/dev/null
	rm -rf /out
	make -s install DESTDIR=/out with_llvm=no >/dev/null
	took "TotalRecall built"
	cd /
	rm -rf "$b"
	strip /out/usr/local/bin/totalrecall
	find /out -name '*.so' -exec strip --strip-unneeded {} +
}

# --- common ------------------------------------------------------------------
# Exactly what the final stage adds: the binary, the drivers, the worker,
# the entrypoint wrapper and the health check.
stage() {
	src=$1 st=$2
	pkglib=$(pg_config_cmd --pkglibdir)
	test -f "/out$pkglib/totalrecall.so" || die "the worker (postgres/, totalrecall.so) was not built"
	mkdir -p "$st/usr/local/bin" "$st/usr/local/lib/totalrecall" "$st$pkglib"
	cp /out/usr/local/bin/totalrecall "$st/usr/local/bin/"
	cp -r /out/usr/local/lib/totalrecall/drivers "$st/usr/local/lib/totalrecall/"
	cp "/out$pkglib/totalrecall.so" "$st$pkglib/"
	ext=/out$(pg_config_cmd --sharedir)/extension
	if ls "$ext"/totalrecall* >/dev/null 2>&1; then
		mkdir -p "$st${ext#/out}"
		cp "$ext"/totalrecall* "$st${ext#/out}/"
	fi
	cp "$src/postgres/docker-entrypoint-totalrecall.sh" "$src/postgres/docker-healthcheck-totalrecall.sh" \
		"$st/usr/local/bin/"
	chmod 755 "$st"/usr/local/bin/*
	find "$st" -type f -exec ls -l {} +
	# shellcheck disable=SC2046 # file names without blanks
	du -cb $(find "$st" -type f) | tail -1
	# The shared libraries the added files need, which the image must have.
	echo "docker-build: needed: $(find "$st" -type f \( -name '*.so' -o -name totalrecall \) -exec readelf -d {} + |
		sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | sort -u | tr '\n' ' ')"
}

pg_config_cmd() {
	if [ "$(flavour)" = alpine ]; then
		/usr/local/bin/pg_config "$@"
	else
		"/usr/lib/postgresql/$(pg_major)/bin/pg_config" "$@"
	fi
}

case "${1:-}" in
deps)
	"deps_$(flavour)" ;;
build)
	[ $# -eq 3 ] || die "usage: $0 build SRC STAGE"
	"build_$(flavour)" "$2"
	stage "$2" "$3" ;;
*)
	die "usage: $0 deps | build SRC STAGE" ;;
esac
