#!/usr/bin/env bash
# Builds the portable (musl) variants with tests/portable/build-musl.sh and
# runs the archive-put/archive-get round trip with each musl binary against
# a real PostgreSQL 15 (fs driver): the server archives its WAL through the
# musl binary, which then reads segments back, byte for byte.
#
# The dependency prefix is cached (TR_MUSL_CACHE, default
# /var/cache/totalrecall-musl): the first run builds OpenSSL, libpq, zstd,
# BearSSL and libcurl from Debian source packages, later runs reuse them.
# usage: tests/portable/test_musl.sh [standalone] [image]   (default: both)
# Exit 77 (skip) when the musl toolchain or the sources cannot be had.
# Building a variant and starting its server are set-up steps: noted, not
# counted as checks; a failure is counted and ends that variant.
# Last line: "test_musl: N passed, M failed".
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
cache=${TR_MUSL_CACHE:-/var/cache/totalrecall-musl}
pgbin=${PG_BINDIR:-/usr/lib/postgresql/15/bin}
user=trtest
variants=("$@"); [ ${#variants[@]} -gt 0 ] || variants=(standalone image)
passed=0 failed=0 skipped=0
ok() { echo "ok - $*"; passed=$((passed + 1)); }
not_ok() { echo "not ok - $*"; failed=$((failed + 1)); }
skip_all() { echo "SKIP - $*"; echo "test_musl: 0 passed, 0 failed, 1 skipped"; exit 77; }

[ "$(id -u)" = 0 ] || skip_all "run as root (clusters run as $user)"
[ -x "$pgbin/postgres" ] || skip_all "no PostgreSQL 15 in $pgbin"
if ! command -v musl-gcc >/dev/null; then
	bash "$top/tests/install-deps.sh" musl >/dev/null || skip_all "cannot install musl-tools"
fi
id "$user" >/dev/null 2>&1 || useradd --system --home-dir /nonexistent --shell /usr/sbin/nologin "$user"

work=$(mktemp -d /tmp/tr-musl.XXXXXX)
chmod 755 "$work"
pg_pid=
cleanup() {
	[ -n "$pg_pid" ] && setpriv --reuid="$user" --regid="$user" --clear-groups \
		"$pgbin/pg_ctl" -D "$work/pg/data" -m immediate stop >/dev/null 2>&1
	rm -rf "$work"
}
trap cleanup EXIT
as_user() { setpriv --reuid="$user" --regid="$user" --clear-groups "$@"; }

for variant in "${variants[@]}"; do
	start=$(date +%s)
	if bash "$here/build-musl.sh" "$variant" --cache "$cache" --src "$top" >"$work/build-$variant.log" 2>&1; then
		echo "# setup: $variant: built in $(($(date +%s) - start)) s"
	else
		not_ok "setup: $variant: build failed"; sed 's/^/#   /' "$work/build-$variant.log" | tail -30
		continue
	fi
	grep -E '^  +[0-9]+  |tarball|built in|ready in' "$work/build-$variant.log" | sed 's/^/# /'
	root=$cache/out-$variant/usr/local
	bin=$root/bin/totalrecall

	# Relocatable: copy the tree where the server's user can run it, the
	# drivers found next to the binary (../lib/totalrecall/drivers).
	rm -rf "$work/inst" "$work/pg" "$work/repo" "$work/state"
	cp -a "$root" "$work/inst"
	bin=$work/inst/bin/totalrecall
	libpath=
	if [ "$variant" = image ]; then
		# The libraries the image provides, from the musl builds in the prefix.
		mkdir -p "$work/inst/imagelibs"
		cp -L "$cache"/prefix/lib/{libpq.so.5,libzstd.so.1,libssl.so.3,libcrypto.so.3} "$work/inst/imagelibs/"
		libpath=$work/inst/imagelibs
	fi
	needs=$(readelf -d "$bin" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | tr '\n' ' ')
	interp=$(readelf -l "$bin" | sed -n 's/.*interpreter: \(.*\)]/\1/p')
	if [ "$interp" = /lib/ld-musl-x86_64.so.1 ]; then ok "$variant: musl-linked ($needs)"; else not_ok "$variant: interpreter $interp"; fi
	if [ "$variant" = standalone ] && [ "$needs" != "libc.so " ]; then not_ok "standalone needs $needs"; fi

	mkdir -p "$work/repo" "$work/state" "$work/pg"
	chown -R "$user:" "$work/repo" "$work/state" "$work/pg"
	# The image's libraries reach the musl binary only (a glibc program
	# given musl libraries through LD_LIBRARY_PATH would not start).
	ldp=(); [ -n "$libpath" ] && ldp=(LD_LIBRARY_PATH="$libpath")
	envs=(HOME="$work/state" TOTALRECALL_DRIVER=fs TOTALRECALL_BUCKET="$work/repo"
		TOTALRECALL_DATABASE_ID=musl-"$variant" TOTALRECALL_ENCRYPTION_KEY=musl-test-passphrase
		TOTALRECALL_KDF_ITERATIONS=1000 TOTALRECALL_STATE_DIR="$work/state/cache")
	if v=$(as_user env "${envs[@]}" "${ldp[@]}" "$bin" version 2>&1); then ok "$variant: $v"; else not_ok "$variant: version: $v"; continue; fi

	as_user "$pgbin/initdb" -D "$work/pg/data" -A trust -U postgres >"$work/initdb.log" 2>&1 ||
		{ not_ok "setup: $variant: initdb"; cat "$work/initdb.log"; continue; }
	port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	cat >>"$work/pg/data/postgresql.conf" <<-EOF
	port = $port
	listen_addresses = ''
	unix_socket_directories = '$work/pg/data'
	archive_mode = on
	archive_command = '${ldp[*]} $bin archive-put %p'
	wal_level = replica
	EOF
	as_user env "${envs[@]}" "$pgbin/pg_ctl" -D "$work/pg/data" -l "$work/pg/pg.log" -w start >/dev/null && pg_pid=1 ||
		{ not_ok "setup: $variant: server start"; cat "$work/pg/pg.log"; continue; }
	psql_() { as_user "$pgbin/psql" -X -qAt -h "$work/pg/data" -p "$port" -U postgres -d postgres "$@"; }
	psql_ -c "create table t as select g, md5(g::text) from generate_series(1, 20000) g" >/dev/null
	seg=$(psql_ -c "select pg_walfile_name(pg_current_wal_lsn())")
	psql_ -c "select pg_switch_wal()" >/dev/null
	for _ in $(seq 1 60); do
		[ "$(psql_ -c "select coalesce(last_archived_wal >= '$seg', false) from pg_stat_archiver")" = t ] && break
		sleep 0.5
	done
	archived=$(psql_ -c "select archived_count || ' archived, ' || failed_count || ' failed' from pg_stat_archiver")
	if [ "$(psql_ -c "select coalesce(last_archived_wal >= '$seg', false) from pg_stat_archiver")" = t ]; then
		ok "$variant: PostgreSQL archived $seg through the musl binary ($archived)"
	else
		not_ok "$variant: $seg not archived ($archived)"; tail -20 "$work/pg/pg.log"
	fi
	if as_user env "${envs[@]}" "${ldp[@]}" "$bin" archive-get "$work/state/$seg.back" "$seg" 2>"$work/get.log" &&
		cmp -s "$work/state/$seg.back" "$work/pg/data/pg_wal/$seg"; then
		ok "$variant: archive-get $seg gives back the same 16 MiB"
	else
		not_ok "$variant: archive-get $seg"; cat "$work/get.log"
	fi
	as_user env "${envs[@]}" "${ldp[@]}" "$bin" archive-get "$work/state/none" 0000000100000099000000FF 2>/dev/null
	rc=$?
	if [ $rc -eq 1 ]; then ok "$variant: archive-get of an absent segment exits 1"; else not_ok "$variant: absent segment exit $rc"; fi
	as_user "$pgbin/pg_ctl" -D "$work/pg/data" -m fast stop >/dev/null; pg_pid=

	# The minio driver (libcurl: in the driver for image, resolved from the
	# binary for standalone) against moto_server, when the S3 tests' tools
	# are installed.
	if command -v moto_server >/dev/null && command -v aws >/dev/null; then
		mport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
		moto_server -H 127.0.0.1 -p "$mport" >"$work/moto.log" 2>&1 &
		moto_pid=$!
		for _ in $(seq 1 50); do
			AWS_ACCESS_KEY_ID=a AWS_SECRET_ACCESS_KEY=s aws --endpoint-url "http://127.0.0.1:$mport" --region us-east-1 \
				s3 mb s3://musl >/dev/null 2>&1 && break
			sleep 0.2
		done
		s3envs=(HOME="$work/state" TOTALRECALL_DRIVER=minio TOTALRECALL_S3_ENDPOINT="http://127.0.0.1:$mport"
			TOTALRECALL_BUCKET=musl TOTALRECALL_DATABASE_ID=musl-"$variant" AWS_ACCESS_KEY_ID=a AWS_SECRET_ACCESS_KEY=s
			TOTALRECALL_ENCRYPTION_KEY=musl-test-passphrase TOTALRECALL_KDF_ITERATIONS=1000
			TOTALRECALL_STATE_DIR="$work/state/cache")
		# The segment as archive-get gave it back (the server has recycled its own).
		mkdir -p "$work/state/s3/pg_wal" && cp "$work/state/$seg.back" "$work/state/s3/pg_wal/$seg"
		chown -R "$user:" "$work/state/s3"
		if (cd "$work/state/s3" && as_user env "${s3envs[@]}" "${ldp[@]}" "$bin" archive-put "pg_wal/$seg" 2>"$work/s3.log") &&
			as_user env "${s3envs[@]}" "${ldp[@]}" "$bin" archive-get "$work/state/$seg.s3" "$seg" 2>>"$work/s3.log" &&
			cmp -s "$work/state/$seg.s3" "$work/state/s3/pg_wal/$seg"; then
			ok "$variant: minio driver round trip of $seg against moto_server"
		else
			not_ok "$variant: minio driver round trip"; cat "$work/s3.log"
		fi
		kill "$moto_pid"; wait "$moto_pid" 2>/dev/null
	else
		echo "SKIP - $variant: no moto_server/aws: S3 round trip not run"; skipped=$((skipped + 1))
	fi
done

echo "test_musl: $passed passed, $failed failed$([ "$skipped" -eq 0 ] || echo ", $skipped skipped")"
[ "$failed" -eq 0 ]
