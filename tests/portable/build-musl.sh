#!/usr/bin/env bash
# Portable (musl-linked) builds of TotalRecall.  libc stays dynamic, so
# dlopen of the drivers works; the rest depends on the variant:
#
#   image       BearSSL and libcurl static; libpq, zstd and OpenSSL dynamic
#               (libpq.so.5, libzstd.so.1, libssl.so.3, libcrypto.so.3, all
#               already in the postgres:alpine image).  Target < 2 MB.
#   standalone  everything but musl libc static: a tarball that runs on any
#               musl system (Alpine, Void musl, ...).  Target < 9 MB.
#
# libcurl's TLS is OpenSSL (never BearSSL), and libpq is always built with
# OpenSSL: a libpq without it silently talks plaintext under sslmode=prefer,
# so the script refuses to go on with one.
#
# Dependencies come from Debian source packages (apt-get source, after
# `tests/install-deps.sh musl` added a deb-src entry), are built with
# musl-gcc into a private prefix under the cache directory and reused by
# later runs (a stamp per package records version and flags).  On Alpine
# (the image's builder stage) musl is the system libc: --system-libs takes
# OpenSSL, zstd and libpq from the system packages and builds only BearSSL
# and libcurl, from Debian source packages placed in the cache's src/.
#
# usage: tests/portable/build-musl.sh image|standalone [options]
#   --cache DIR     dependency sources, prefix and build trees
#                   (default $TR_MUSL_CACHE or /var/cache/totalrecall-musl)
#   --out DIR       install root (default CACHE/out-VARIANT)
#   --src DIR       TotalRecall source tree (default: this repository)
#   --prefix DIR    installation prefix inside the root (default /usr/local)
#   --system-libs   OpenSSL, zstd and libpq from the system (musl) packages
#   --pg-config P   pg_config to build the worker with (default: none)
#   -j N            parallel jobs (default: nproc)
# Prints each dependency's build time, the installed files with their
# stripped sizes and dynamic dependencies, and the total.
set -Eeuo pipefail

variant=${1:-}
case "$variant" in
image|standalone) shift ;;
*) echo "usage: $0 image|standalone [--cache DIR] [--out DIR] [--src DIR] [--prefix DIR] [--system-libs] [--pg-config PATH] [-j N]" >&2
   exit 2 ;;
esac
here=$(cd "$(dirname "$0")" && pwd)
cache=${TR_MUSL_CACHE:-/var/cache/totalrecall-musl}
src_tree=$(cd "$here/../.." && pwd)
out= prefix=/usr/local system_libs=no pg_config= jobs=$(nproc)
while [ $# -gt 0 ]; do
	case "$1" in
	--cache) cache=$2; shift 2 ;;
	--out) out=$2; shift 2 ;;
	--src) src_tree=$(cd "$2" && pwd); shift 2 ;;
	--prefix) prefix=$2; shift 2 ;;
	--system-libs) system_libs=yes; shift ;;
	--pg-config) pg_config=$2; shift 2 ;;
	-j) jobs=$2; shift 2 ;;
	*) echo "build-musl: unknown option $1" >&2; exit 2 ;;
	esac
done
mkdir -p "$cache"
cache=$(cd "$cache" && pwd)
out=${out:-$cache/out-$variant}
srcdir=$cache/src dep=$cache/prefix logs=$cache/logs
mkdir -p "$srcdir" "$dep/lib" "$dep/include" "$logs" "$cache/build"

die() { echo "build-musl: $*" >&2; exit 1; }
# A failing build step (set -e) names its log.
step=
trap '[ -n "$step" ] && [ "$BASHPID" = $$ ] && echo "build-musl: $step failed (see $logs/$step.log)" >&2' ERR
now() { date +%s; }

# --- toolchain -------------------------------------------------------------
if [ -e /etc/alpine-release ] || ldd --version 2>&1 | grep -qi musl; then
	CC=${CC:-cc}        # musl is the system libc
	musl_native=yes
else
	command -v musl-gcc >/dev/null || die "musl-gcc not found: run tests/install-deps.sh musl (Debian package musl-tools)"
	CC=musl-gcc
	musl_native=no
	# musl-gcc sees no kernel headers; OpenSSL needs a few (linux/mman.h).
	kinc=$cache/kernel-include
	mkdir -p "$kinc"
	for h in linux asm-generic; do ln -sfn "/usr/include/$h" "$kinc/$h"; done
	ln -sfn "/usr/include/$(uname -m)-linux-gnu/asm" "$kinc/asm"
	CC="musl-gcc -idirafter $kinc"
fi
[ "$system_libs" = yes ] && [ "$musl_native" = no ] && die "--system-libs needs a musl system (Alpine)"
export CC
# Size-oriented, position-independent (static archives end up in shared drivers).
DEP_CFLAGS="-Os -fPIC -ffunction-sections -fdata-sections -fstack-protector-strong -D_FORTIFY_SOURCE=0"
stripcmd=${STRIP:-strip}

# --- sources ---------------------------------------------------------------
# Debian source package names, and the directory apt-get source makes.
declare -A debpkg=([openssl]=openssl [zstd]=libzstd [bearssl]=bearssl [curl]=curl [libpq]=postgresql-15)
declare -A aptname=([openssl]=openssl [zstd]=zstd [bearssl]=bearssl [curl]=curl [libpq]=postgresql-15)

# Prints the extracted source directory of $1, extracting or fetching it first.
source_dir() {
	local name=$1 pkg=${debpkg[$1]} d
	d=$(find "$srcdir" -maxdepth 1 -type d -name "$pkg-[0-9]*" | sort -V | tail -1)
	[ -n "$d" ] && { echo "$d"; return; }
	local dsc
	dsc=$(find "$srcdir" -maxdepth 1 -name "${pkg}_*.dsc" | sort -V | tail -1)
	if [ -n "$dsc" ] && command -v dpkg-source >/dev/null; then
		(cd "$srcdir" && dpkg-source -x "$dsc" >/dev/null)
	elif [ -n "$(find "$srcdir" -maxdepth 1 -name "${pkg}_*.debian.tar.xz")" ]; then
		extract_by_hand "$pkg"
	elif command -v apt-get >/dev/null; then
		echo "build-musl: apt-get source ${aptname[$name]}" >&2
		fetch_with_apt "${aptname[$name]}"
	else
		die "no source for $name in $srcdir (expected a Debian source package ${pkg}_*)"
	fi
	d=$(find "$srcdir" -maxdepth 1 -type d -name "$pkg-[0-9]*" | sort -V | tail -1)
	[ -n "$d" ] || die "extracting the source of $name failed"
	echo "$d"
}

# The security archive's index sometimes names a version its pool no longer
# has: try each version apt knows, newest first.
fetch_with_apt() {
	local p=$1 v versions
	versions=$(apt-cache showsrc "$p" 2>/dev/null | sed -n 's/^Version: //p' | sort -Vru)
	[ -n "$versions" ] || die "apt has no source for $p: run tests/install-deps.sh musl (it adds a deb-src entry)"
	for v in $versions; do
		(cd "$srcdir" && apt-get source -qq "$p=$v" >"$logs/fetch-$p.log" 2>&1) && return 0
		rm -rf "$srcdir/${debpkg[$p]:-$p}"-[0-9]*/
	done
	die "apt-get source $p failed (see $logs/fetch-$p.log)"
}

# Without dpkg-source (Alpine): orig tarball, debian/ tarball, then the
# quilt series in order.
extract_by_hand() {
	local pkg=$1 orig deb dir
	orig=$(find "$srcdir" -maxdepth 1 -name "${pkg}_*.orig.tar.*" ! -name '*.asc' | sort -V | tail -1)
	deb=$(find "$srcdir" -maxdepth 1 -name "${pkg}_*.debian.tar.xz" | sort -V | tail -1)
	[ -n "$orig" ] || die "no ${pkg}_*.orig.tar.* in $srcdir"
	local v=${orig##*/${pkg}_}; v=${v%.orig.tar.*}
	dir=$srcdir/$pkg-$v
	mkdir -p "$dir"
	tar -xf "$orig" -C "$dir" --strip-components=1
	tar -xf "$deb" -C "$dir"
	if [ -f "$dir/debian/patches/series" ]; then
		local p
		grep -v '^#' "$dir/debian/patches/series" | awk 'NF {print $1}' | while read -r p; do
			patch -d "$dir" -p1 -s <"$dir/debian/patches/$p" || die "$pkg: patch $p failed"
		done
	fi
}

# --- dependency builds -----------------------------------------------------
# stamp NAME SRCDIR FLAGS...: 0 (skip) when this exact build is in the prefix.
stamp_file() { echo "$dep/.stamp-$1"; }
stamp_key() { echo "$(basename "$2") ${*:3} $CC $DEP_CFLAGS" | sha256sum | cut -c1-16; }
up_to_date() { [ -f "$(stamp_file "$1")" ] && [ "$(cat "$(stamp_file "$1")")" = "$(stamp_key "$@")" ]; }
declare -A dep_time

OPENSSL_OPTS="no-tests no-engine no-afalgeng no-async no-comp no-dso no-legacy no-module no-ssl3 no-dtls
no-srp no-idea no-camellia no-seed no-bf no-cast no-rc2 no-rc4 no-rc5 no-md4 no-mdc2 no-whirlpool no-gost no-sm2 no-sm3
no-sm4 no-aria no-siv no-ts no-srtp no-cmp no-rfc3779 no-ec2m no-ui-console no-psk no-nextprotoneg no-cms no-ct
no-dgram no-sctp no-uplink no-ssl-trace no-weak-ssl-ciphers no-scrypt no-blake2 no-ocb no-des no-dsa no-ocsp"

build_openssl() {
	local s; s=$(source_dir openssl)
	up_to_date openssl "$s" "$OPENSSL_OPTS" && return
	local t=$(now) b=$cache/build/openssl
	rm -rf "$b"; cp -a "$s" "$b"
	echo "build-musl: building OpenSSL ($(basename "$s"))"
	step=openssl
	( cd "$b"
	  # shellcheck disable=SC2086
	  ./Configure linux-x86_64 --prefix="$dep" --libdir=lib --openssldir=/etc/ssl $OPENSSL_OPTS \
		$DEP_CFLAGS -Wl,--gc-sections
	  make -j"$jobs" build_libs
	  make install_dev ) >"$logs/openssl.log" 2>&1
	stamp_key openssl "$s" "$OPENSSL_OPTS" >"$(stamp_file openssl)"
	dep_time[openssl]=$(($(now) - t))
}

build_zstd() {
	local s; s=$(source_dir zstd)
	up_to_date zstd "$s" && return
	local t=$(now)
	echo "build-musl: building zstd ($(basename "$s"))"
	step=zstd
	( cd "$s/lib"
	  make clean
	  make -j"$jobs" CC="$CC" CFLAGS="$DEP_CFLAGS" ZSTD_LEGACY_SUPPORT=0 ZSTD_LIB_DEPRECATED=0 ZSTD_LIB_DICTBUILDER=0 \
		PREFIX="$dep" LIBDIR="$dep/lib" libzstd.a libzstd
	  make CC="$CC" PREFIX="$dep" LIBDIR="$dep/lib" ZSTD_LEGACY_SUPPORT=0 ZSTD_LIB_DEPRECATED=0 ZSTD_LIB_DICTBUILDER=0 \
		install-static install-shared install-includes install-pc ) >"$logs/zstd.log" 2>&1
	stamp_key zstd "$s" >"$(stamp_file zstd)"
	dep_time[zstd]=$(($(now) - t))
}

build_bearssl() {
	local s; s=$(source_dir bearssl)
	up_to_date bearssl "$s" && return
	local t=$(now)
	echo "build-musl: building BearSSL ($(basename "$s"))"
	step=bearssl
	( cd "$s"
	  rm -rf build
	  make -j"$jobs" CONF=Unix CC="$CC" CFLAGS="-W -Wall $DEP_CFLAGS" lib
	  cp build/libbearssl.a "$dep/lib/"
	  cp inc/*.h "$dep/include/" ) >"$logs/bearssl.log" 2>&1
	stamp_key bearssl "$s" >"$(stamp_file bearssl)"
	dep_time[bearssl]=$(($(now) - t))
}

CURL_OPTS="--disable-shared --enable-static --with-openssl=SSLPREFIX --without-libpsl --without-brotli
--without-zstd --without-zlib --without-libidn2 --without-nghttp2 --without-nghttp3 --without-ngtcp2 --without-librtmp
--without-libssh2 --without-libgsasl --disable-ldap --disable-ldaps --disable-rtsp --disable-dict --disable-telnet
--disable-tftp --disable-pop3 --disable-imap --disable-smb --disable-smtp --disable-gopher --disable-mqtt --disable-ftp
--disable-file --disable-manual --disable-ntlm --disable-ntlm-wb --disable-cookies --disable-alt-svc --disable-doh
--disable-mime --disable-netrc --disable-progress-meter --disable-dateparse --disable-websockets --disable-unix-sockets
--with-ca-bundle=/etc/ssl/certs/ca-certificates.crt --with-ca-path=/etc/ssl/certs --enable-ipv6 --enable-threaded-resolver
--disable-symbol-hiding"

build_curl() {
	local s; s=$(source_dir curl)
	local sslp=$sslrun; [ "$system_libs" = yes ] && sslp=/usr
	local opts=${CURL_OPTS/SSLPREFIX/$sslp}
	up_to_date curl "$s" "$opts" && return
	local t=$(now) b=$cache/build/curl
	rm -rf "$b"; cp -a "$s" "$b"
	echo "build-musl: building libcurl ($(basename "$s"), TLS: OpenSSL)"
	step=curl
	( cd "$b"
	  # Debian's last two patches rename the library for its GnuTLS and NSS
	  # flavours: take them back out and regenerate the build files.
	  for p in 99_nss.patch 90_gnutls.patch; do
		[ -f debian/patches/$p ] && patch -R -p1 -s --dry-run <debian/patches/$p >/dev/null 2>&1 &&
			patch -R -p1 -s <debian/patches/$p
	  done
	  autoreconf -fi
	  # shellcheck disable=SC2086
	  LD_LIBRARY_PATH=$sslrun/lib ./configure CC="$CC" CFLAGS="$DEP_CFLAGS" \
		--prefix="$dep" --libdir="$dep/lib" $opts
	  make -j"$jobs" -C lib
	  make -C lib install
	  make -C include install
	  make install-pkgconfigDATA install-binSCRIPTS ) >"$logs/curl.log" 2>&1
	grep -q '^#define USE_OPENSSL 1' "$b/lib/curl_config.h" || die "libcurl was configured without OpenSSL"
	stamp_key curl "$s" "$opts" >"$(stamp_file curl)"
	dep_time[curl]=$(($(now) - t))
}

build_libpq() {
	local s; s=$(source_dir libpq)
	up_to_date libpq "$s" && return
	local t=$(now) b=$cache/build/libpq
	rm -rf "$b"; mkdir -p "$b"
	echo "build-musl: building libpq ($(basename "$s"), with OpenSSL)"
	step=libpq
	( cd "$b"
	  # configure runs test programs linked with the prefix's libssl.so.3.
	  LD_LIBRARY_PATH=$sslrun/lib "$s/configure" CC="$CC" CFLAGS="$DEP_CFLAGS" CPPFLAGS="-I$dep/include" LDFLAGS="-L$dep/lib" \
		--prefix="$dep" --libdir="$dep/lib" --includedir="$dep/include" --with-ssl=openssl \
		--without-readline --without-zlib --without-icu --without-gssapi --without-ldap --without-llvm \
		--without-lz4 --without-zstd --without-libxml --without-pam
	  make -j"$jobs" -C src/interfaces/libpq
	  make -C src/interfaces/libpq install
	  make -C src/include install
	  # libpq.a needs these two for a static link (they are not installed).
	  cp src/common/libpgcommon_shlib.a src/port/libpgport_shlib.a "$dep/lib/" ) >"$logs/libpq.log" 2>&1
	grep -q '^#define USE_OPENSSL 1' "$b/src/include/pg_config.h" || die "libpq was configured without OpenSSL"
	stamp_key libpq "$s" >"$(stamp_file libpq)"
	dep_time[libpq]=$(($(now) - t))
}

# configure scripts run test programs linked with the prefix's libssl.so.3:
# a directory with only OpenSSL in it (cc1 itself would load the prefix's
# musl libzstd from LD_LIBRARY_PATH=$dep/lib and fail).
sslrun=$cache/ssl-prefix
t0=$(now)
if [ "$system_libs" = no ]; then
	build_openssl
	# OpenSSL alone, as a prefix for curl's --with-openssl (its configure
	# puts that lib directory in LD_LIBRARY_PATH while it runs the compiler).
	mkdir -p "$sslrun/lib"
	ln -sfn "$dep/include" "$sslrun/include"
	ln -sf "$dep"/lib/libssl.* "$dep"/lib/libcrypto.* "$sslrun/lib/"
	build_zstd
	build_libpq
fi
[ "$system_libs" = no ] || sslrun=
build_bearssl
build_curl
for d in "${!dep_time[@]}"; do echo "build-musl: $d built in ${dep_time[$d]} s"; done
echo "build-musl: dependencies ready in $(($(now) - t0)) s (prefix $dep)"

# The one check that matters most: libpq must speak TLS.
if [ "$system_libs" = no ]; then
	nm "$dep/lib/libpq.a" 2>/dev/null | grep -q ' T pgtls_init$' || die "libpq.a has no OpenSSL support: refusing to ship it"
	L=$dep/lib
else
	# The postgres:alpine image has libpq in pg_config's libdir (/usr/local/lib).
	pqlib=$(pg_config --libdir) pqinc=$(pg_config --includedir)
	pq=$(find "$pqlib" -name 'libpq.so.5*' | head -1)
	[ -n "$pq" ] && nm -D "$pq" | grep -q 'SSL_connect' || die "system libpq not found in $pqlib, or built without OpenSSL"
fi

# --- TotalRecall -----------------------------------------------------------
b=$cache/build/totalrecall-$variant
rm -rf "$b"; mkdir -p "$b"
if git -C "$src_tree" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
	# The working tree's files (committed or not), without build products.
	(cd "$src_tree" && git ls-files -z --cached --others --exclude-standard | xargs -0 cp --parents -t "$b" 2>/dev/null || true)
else
	cp -a "$src_tree/." "$b/"
	[ -f "$b/Makefile" ] && make -C "$b" distclean >/dev/null 2>&1 || true
fi

make_vars=()
if [ "$system_libs" = yes ]; then
	[ "$variant" = image ] || die "--system-libs builds the image variant only"
	ZSTD_LIBS="-lzstd"
	LIBPQ_LIBS="-L$pqlib -lpq"
	CURL_LIBS="-Wl,--exclude-libs,libcurl.a -L$dep/lib -lcurl -lssl -lcrypto"
elif [ "$variant" = image ]; then
	ZSTD_LIBS="-L$L -lzstd"
	LIBPQ_LIBS="-L$L -lpq"
	# libcurl exists only as libcurl.a; its symbols stay local to each driver.
	CURL_LIBS="-Wl,--exclude-libs,libcurl.a -L$L -lcurl -lssl -lcrypto"
else
	# A directory of static archives only, so that -lNAME cannot pick a .so
	# (libtool drops archive paths given to a convenience library).
	st=$cache/static-lib
	rm -rf "$st"; mkdir -p "$st"
	ln -s "$L"/*.a "$st/"
	ZSTD_LIBS="-L$st -lzstd"
	LIBPQ_LIBS="-L$st -lpq -lpgcommon_shlib -lpgport_shlib -lssl -lcrypto"
	# One copy of libcurl and OpenSSL, in the binary: statically linked into
	# each of s3.so and minio.so they would weigh 3.7 MB apiece.  The binary
	# keeps every libcurl function (-u) and exports its symbols (it is linked
	# with -export-dynamic already); the drivers, linked without libcurl,
	# resolve curl_* from it when dlopen'ed (libcurl is built with
	# --disable-symbol-hiding: a static libcurl hides its API otherwise).
	# CURL_LIBS must not be empty
	# (configure would ask pkg-config), hence a harmless flag.
	CURL_LIBS="-Wl,--as-needed"
	keep=$(nm "$st/libcurl.a" 2>/dev/null | awk '$2 == "T" && $3 ~ /^curl_/ { printf " -Wl,-u,%s", $3 }')
	[ -n "$keep" ] || die "no curl_* functions in $st/libcurl.a"
	make_vars=("totalrecall_LDADD=libtotalrecall.la -L$st -lcurl -lssl -lcrypto"
		"totalrecall_LDFLAGS=-export-dynamic$keep -Wl,--export-dynamic-symbol=curl_*")
fi
# The standalone variant links its static libpq; the image variant loads
# the image's libpq.so.5 when a command first needs it (the default).
pq_opt=--enable-libpq-dlopen
[ "$variant" = standalone ] && pq_opt=--disable-libpq-dlopen
incs="-I$dep/include"
[ "$system_libs" = yes ] && incs="-I$dep/include -I$pqinc"
worker_opt=--without-pg-config
# PGXS would compile the worker with the compiler PostgreSQL was built with:
# CC on the make command line reaches it too.
# So do LDFLAGS (Debian's carry -L/usr/lib/x86_64-linux-gnu, where glibc is).
tr_ldflags="-Wl,--gc-sections -Wl,-O1 -Wl,--as-needed"
[ -n "$pg_config" ] && { worker_opt=--with-pg-config=$pg_config; make_vars+=("CC=$CC" "LDFLAGS=$tr_ldflags"); }
t=$(now)
step=totalrecall-$variant
( cd "$b"
  autoreconf -fi
  ./configure CC="$CC" --prefix="$prefix" --without-check "$worker_opt" "$pq_opt" \
	CFLAGS="-Os -ffunction-sections -fdata-sections" LDFLAGS="$tr_ldflags" \
	ZSTD_CFLAGS="$incs" ZSTD_LIBS="$ZSTD_LIBS" LIBPQ_CFLAGS="$incs" LIBPQ_LIBS="$LIBPQ_LIBS" \
	CURL_CFLAGS="$incs" CURL_LIBS="$CURL_LIBS" BEARSSL_CFLAGS="-I$dep/include" BEARSSL_LIBS="-L$dep/lib -lbearssl"
  # with_llvm=no reaches PGXS (the worker): no clang bitcode needed.
  make -j"$jobs" with_llvm=no "${make_vars[@]}"
  rm -rf "$out"
  make install DESTDIR="$out" with_llvm=no "${make_vars[@]}" ) >"$logs/totalrecall-$variant.log" 2>&1
echo "build-musl: TotalRecall ($variant) built in $(($(now) - t)) s"

# --- strip, list, check ------------------------------------------------------
root=$out$prefix
# The binary, the drivers, and the worker (in PostgreSQL's pkglibdir).
files=$(find "$out" -type f \( -path '*/bin/totalrecall' -o -name '*.so' \) 2>/dev/null | sort)
for f in $files; do
	case "$f" in */bin/*) "$stripcmd" "$f" ;; *) "$stripcmd" --strip-unneeded "$f" ;; esac
done
ldlist() {  # the NEEDED entries of an ELF file
	readelf -d "$1" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | tr '\n' ' '
}
total=0
echo "build-musl: $variant variant, stripped sizes (bytes) and dynamic dependencies:"
for f in $files; do
	sz=$(stat -c %s "$f"); total=$((total + sz))
	printf '  %9d  %-44s needs: %s\n' "$sz" "${f#"$out"}" "$(ldlist "$f")"
	needs=$(ldlist "$f")
	for n in $needs; do
		case "$variant:$n" in
		*:libc.so|*:libc.musl-*) ;;
		image:libpq.so.5|image:libzstd.so.1|image:libssl.so.3|image:libcrypto.so.3) ;;
		*) die "$f needs $n, which the $variant variant must not" ;;
		esac
	done
	interp=$(readelf -l "$f" | sed -n 's/.*Requesting program interpreter: \(.*\)]/\1/p')
	[ -z "$interp" ] || [ "$interp" = /lib/ld-musl-x86_64.so.1 ] || die "$f uses interpreter $interp, not musl's"
done
limit=$((2 * 1024 * 1024)); [ "$variant" = standalone ] && limit=$((9 * 1024 * 1024))
printf '  %9d  total (%s MiB; target < %d MiB)\n' "$total" "$(awk "BEGIN{printf \"%.2f\", $total/1048576}")" $((limit / 1048576))
[ -n "$(find "$out" -name 'totalrecall.so' 2>/dev/null)" ] ||
	echo "build-musl: note: no worker (totalrecall.so): give --pg-config to build it"
if [ "$variant" = standalone ]; then
	tarball=$cache/totalrecall-$(sed -n 's/^PACKAGE_VERSION=.\(.*\).$/\1/p' "$b/configure")-musl-$(uname -m).tar.gz
	tar -C "$out" -czf "$tarball" .
	echo "build-musl: tarball $tarball ($(stat -c %s "$tarball") bytes)"
fi
echo "build-musl: done in $(($(now) - t0)) s total; installed under $out"
[ "$total" -lt "$limit" ] || { echo "build-musl: over the size target" >&2; exit 1; }
