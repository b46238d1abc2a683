#!/usr/bin/env bash
# tests/bench/run.sh - TotalRecall against pgBackRest, same machine, same run.
#
#   autoreconf -fi && ./configure && make      # once
#   tests/bench/run.sh                         # full: 200 segments, scale 100 (+300 for RSS), 3 runs
#   BENCH_QUICK=1 tests/bench/run.sh           # development: 20 segments, scale 10, 1 run
#
# Not part of `make check`.  Needs PostgreSQL 15, pgBackRest, /usr/bin/time,
# /usr/bin/python3, moto_server, and stunnel4 + openssl for the S3 rows (a
# TLS front-end: see below).  Run as root (a server user
# `trbench` is created and everything else runs as that user) or as an
# ordinary user.  Writes tests/bench/results.md and tests/bench/results.csv
# (raw: one row per command call) next to this script.
#
# What is measured, for a local-disk repository and then for the same moto S3
# server (https through stunnel, self-signed: pgBackRest 2.45 speaks only TLS
# to S3, and fails on moto's own --ssl server) behind a latency proxy that
# adds BENCH_S3_DELAYS milliseconds (default 25: real S3 answers in 15-40)
# to every request, one S3 profile per delay ("0 25 60" measures three):
#   * archive-put / archive-push of the same real WAL segments (generated once
#     with pgbench, hard-linked into a pg_wal-like directory), one call at a
#     time with a single .ready file, as PostgreSQL's archiver does when it
#     keeps up: median and p95 ms per call;
#   * a burst: all segments .ready at once, one call per file in order (as the
#     archiver does when behind), in a loop of its own timed as a whole (wall,
#     CPU and peak RSS of every call in it; nothing else runs between calls).
#     TotalRecall with its default look-ahead (8 on S3, 16 on fs) and with
#     archive-ahead=0; pgBackRest with archive-async=y, spool-path,
#     process-max=P (its documented async set-up).  On S3 also the CPU the
#     server side (moto, stunnel, the latency proxy) spent meanwhile: on a
#     small machine it shares the CPUs with the tools;
#   * full backup, a second backup after a contiguous 1% of aid changed
#     (pgBackRest: its default type, incr), restore of that second backup;
#     against S3 also pgBackRest with process-max=16;
#   * peak RSS and CPU time of every call (/usr/bin/time -v), the bytes
#     stored, and on S3 the requests each call made (moto's log) with their
#     cost at S3 Standard prices.
# Tool settings: TotalRecall defaults (parallel = nproc, zstd 3, AES-256-GCM;
# transfers 16 and archive-ahead 8 on S3, transfers = parallel and
# archive-ahead 16 on fs);
# pgBackRest compress-type=zst (default level), repo1-cipher-type=aes-256-cbc,
# process-max=nproc, start-fast=y (TotalRecall's backup also asks for a fast
# checkpoint).  Every measure starts from an empty repository.
#
# Environment: BENCH_QUICK=1, BENCH_RUNS, BENCH_S3_RUNS (1), BENCH_SEGMENTS, BENCH_SCALE,
# BENCH_RSS_SCALE (0 skips the large-database RSS check), BENCH_S3=0 (skip S3),
# BENCH_S3_DELAYS ("25"; "0 25 60" for three S3 profiles), BENCH_LOCAL=0 (skip
# the local-disk rows), BENCH_DIR (work directory, default /var/tmp/trbench),
# BENCH_KEEP=1.
set -Eeuo pipefail

SELF=$(readlink -f "$0")
SRC=$(cd "$(dirname "$SELF")/../.." && pwd)
OUT_DIR=$SRC/tests/bench

if [ "${1:-}" != "--inner" ]; then
	if [ ! -x "$SRC/src/totalrecall" ]; then
		echo "run.sh: $SRC/src/totalrecall is missing: build first (autoreconf -fi && ./configure && make)" >&2
		exit 2
	fi
	for t in /usr/lib/postgresql/15/bin/initdb pgbackrest /usr/bin/time moto_server python3; do
		command -v "$t" >/dev/null || { echo "run.sh: $t is missing" >&2; exit 2; }
	done
	export BENCH_DIR=${BENCH_DIR:-/var/tmp/trbench}
	export BENCH_CMDLINE="${BENCH_QUICK:+BENCH_QUICK=$BENCH_QUICK }tests/bench/run.sh $*"
	rm -rf "$BENCH_DIR"
	mkdir -p "$BENCH_DIR"
	# The S3 server runs as the invoking user (moto may live in a private
	# Python environment); the benchmark talks to it over https only.
	# pgBackRest 2.45 speaks only https to S3, and (OpenSSL 3) fails with
	# "unexpected eof while reading" on moto's own TLS (no close_notify): so
	# moto serves plain http behind stunnel (Debian's stunnel4) with a
	# self-signed certificate; without stunnel, moto's --ssl is tried.
	MOTO_PID="" TLS_PID=""
	free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
	# Real S3 answers in 15-40 ms, moto on loopback in about 1: a latency
	# proxy (latency_proxy.py) in front of the TLS front-end delays every
	# byte a client sends by the current delay (BENCH_S3_DELAYS, the file
	# $BENCH_DIR/s3-delay-ms), TLS handshakes included.  moto logs every
	# request it answers: the inner part counts them per command.
	LAT_PID=""
	if [ "${BENCH_S3:-1}" = 1 ]; then
		BENCH_MOTO_PORT=$(free_port) tls_port=$(free_port)
		export BENCH_MOTO_PORT BENCH_MOTO_LOG=$BENCH_DIR/moto.log
		moto_server -H 127.0.0.1 -p "$BENCH_MOTO_PORT" >"$BENCH_MOTO_LOG" 2>&1 &
		MOTO_PID=$!
		if command -v stunnel4 >/dev/null; then
			mkdir -p "$BENCH_DIR/tls"
			openssl req -x509 -newkey rsa:2048 -nodes -days 7 -subj /CN=127.0.0.1 \
				-keyout "$BENCH_DIR/tls/key.pem" -out "$BENCH_DIR/tls/cert.pem" >/dev/null 2>&1
			printf 'foreground = yes\npid =\n[s3]\naccept = 127.0.0.1:%s\nconnect = 127.0.0.1:%s\ncert = %s\nkey = %s\n' \
				"$tls_port" "$BENCH_MOTO_PORT" "$BENCH_DIR/tls/cert.pem" "$BENCH_DIR/tls/key.pem" >"$BENCH_DIR/tls/stunnel.conf"
			stunnel4 "$BENCH_DIR/tls/stunnel.conf" >"$BENCH_DIR/stunnel.log" 2>&1 &
			TLS_PID=$!
			export BENCH_S3_TLS="stunnel4 in front of moto_server (http)"
		else
			echo "run.sh: stunnel4 is missing (tests/install-deps.sh bench): pgBackRest speaks only https to S3" >&2
			exit 2
		fi
		echo "${BENCH_S3_DELAYS:-25}" | awk '{print $1}' >"$BENCH_DIR/s3-delay-ms"
		rm -f "$BENCH_DIR/lat.port"
		/usr/bin/python3 "$SRC/tests/bench/latency_proxy.py" --upstream "127.0.0.1:$tls_port" \
			--delay-file "$BENCH_DIR/s3-delay-ms" --ready-file "$BENCH_DIR/lat.port" >"$BENCH_DIR/latency.log" 2>&1 &
		LAT_PID=$!
		for _ in $(seq 100); do [ -s "$BENCH_DIR/lat.port" ] && break; sleep 0.1; done
		BENCH_S3PORT=$(cat "$BENCH_DIR/lat.port" 2>/dev/null || echo 0)
		export BENCH_S3PORT
		chmod 644 "$BENCH_MOTO_LOG"
		trap 'for p in $MOTO_PID $TLS_PID $LAT_PID; do kill "$p" 2>/dev/null; done' EXIT
		export BENCH_SERVER_PIDS="$MOTO_PID $TLS_PID $LAT_PID"
	fi
	rc=0
	if [ "$(id -u)" = 0 ]; then
		id trbench >/dev/null 2>&1 || useradd --system --home-dir "$BENCH_DIR" --shell /bin/bash trbench
		chown trbench: "$BENCH_DIR"
		[ -f "$BENCH_DIR/s3-delay-ms" ] && chown trbench: "$BENCH_DIR/s3-delay-ms"
		# PostgreSQL refuses root: everything else runs as trbench.
		envs=(PATH="$PATH" HOME="$BENCH_DIR" LANG=C.UTF-8)
		while IFS= read -r -d '' kv; do envs+=("$kv"); done < <(env -0 | grep -zE '^BENCH_')
		runuser -u trbench -- env -i "${envs[@]}" bash "$SELF" --inner || rc=$?
	else
		bash "$SELF" --inner || rc=$?
	fi
	for p in $MOTO_PID $TLS_PID $LAT_PID; do
		kill "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
	MOTO_PID="" TLS_PID="" LAT_PID=""
	if [ -f "$BENCH_DIR/out/results.md" ]; then
		cp "$BENCH_DIR/out/results.md" "$BENCH_DIR/out/results.csv" "$BENCH_DIR/out/results-summary.csv" "$OUT_DIR/"
		echo "wrote $OUT_DIR/results.md and $OUT_DIR/results.csv"
	fi
	[ "$rc" != 0 ] && echo "run.sh: the benchmark failed (status $rc); logs in $BENCH_DIR/log" >&2
	[ "${BENCH_KEEP:-0}" = 1 ] || [ "$rc" != 0 ] || rm -rf "$BENCH_DIR"
	exit "$rc"
fi

# ------------------------------------------------------------------ inner
export HOME=$BENCH_DIR
B=$BENCH_DIR
QUICK=${BENCH_QUICK:-0}
if [ "$QUICK" = 1 ]; then
	SEGS=${BENCH_SEGMENTS:-20} SCALE=${BENCH_SCALE:-10} RUNS=${BENCH_RUNS:-1} RSS_SCALE=${BENCH_RSS_SCALE:-0}
else
	SEGS=${BENCH_SEGMENTS:-200} SCALE=${BENCH_SCALE:-100} RUNS=${BENCH_RUNS:-3} RSS_SCALE=${BENCH_RSS_SCALE:-300}
fi
# moto keeps everything in one Python process: S3 measures are slow, so
# fewer runs there by default (BENCH_S3_RUNS).
S3_RUNS=${BENCH_S3_RUNS:-1}
DO_S3=${BENCH_S3:-1}
[ "${BENCH_S3PORT:-0}" = 0 ] && DO_S3=0
PAR=$(nproc)
PGBIN=/usr/lib/postgresql/15/bin
TRBIN=$SRC/src/totalrecall
PGDATA=$B/pg/data
mkdir -p "$B"/{pg,log,out,walsrc,walset/pg_wal/archive_status,repo-tr,repo-pgbr,pgbr-log,pgbr-lock,pgbr-spool,trstate}
RAW=$B/out/results.csv
echo "measure,tool,storage,run,item,ms,rss_kb,rc,bytes,req_put,req_get,req_del,cpu_s" >"$RAW"
LOG=$B/log/bench.log
note() { printf '[%s] %s\n' "$(date +%T)" "$*" | tee -a "$LOG" >&2; }

free_port() {
	/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
PGPORT=$(free_port)
S3PORT=${BENCH_S3PORT:-0}

cleanup() {
	set +e
	[ -f "$PGDATA/postmaster.pid" ] && "$PGBIN/pg_ctl" -D "$PGDATA" -m immediate stop >/dev/null 2>&1
}
trap cleanup EXIT

# --- shared definitions, also sourced by the archive_command wrapper
cat >"$B/common.sh" <<EOF
B=$B
TRBIN=$TRBIN
PAR=$PAR
S3PORT=$S3PORT
PGDATA=$PGDATA
tr_env() { # STORAGE TAG [ahead]
	export TOTALRECALL_DATABASE_ID=\$2 TOTALRECALL_ENCRYPTION_KEY=bench-passphrase-0123456789
	export TOTALRECALL_STATE_DIR=\$B/trstate
	export PGHOST=\$B/pg/sock PGPORT=$PGPORT PGUSER=\$(id -un) PGDATABASE=postgres
	if [ "\$1" = local ]; then
		export TOTALRECALL_DRIVER=fs TOTALRECALL_BUCKET=\$B/repo-tr
		unset TOTALRECALL_STORAGE_PREFIX TOTALRECALL_S3_ENDPOINT TOTALRECALL_S3_URI_STYLE TOTALRECALL_S3_INSECURE
	else
		export TOTALRECALL_DRIVER=s3 TOTALRECALL_BUCKET=bench TOTALRECALL_STORAGE_PREFIX=tr
		export TOTALRECALL_S3_ENDPOINT=https://127.0.0.1:\$S3PORT TOTALRECALL_S3_URI_STYLE=path
		export TOTALRECALL_S3_INSECURE=true AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=us-east-1
	fi
	if [ -n "\${3:-}" ]; then export TOTALRECALL_ARCHIVE_AHEAD=\$3; else unset TOTALRECALL_ARCHIVE_AHEAD; fi
}
pgbr_cmd() { # STORAGE TAG [PROCESS-MAX]: sets PGBR=(pgbackrest ...)
	if [ "\$1" = local ]; then
		PGBR=(pgbackrest --config=\$B/pgbr-local.conf --stanza=bench --repo1-path=\$B/repo-pgbr/\$2)
	else
		PGBR=(pgbackrest --config=\$B/pgbr-s3.conf --stanza=bench --repo1-path=/pgbr/\$2)
	fi
	[ -z "\${3:-}" ] || PGBR+=(--process-max=\$3)
}
EOF
# (Its name contains "archive-put" and "pgbackrest", which `totalrecall check`
# and `pgbackrest backup` look for in archive_command: it execs one of them.)
cat >"$B/archive-put-pgbackrest.sh" <<'EOF'
#!/bin/bash
# archive_command of the benchmark cluster; the mode is in current.sh.
. "$(dirname "$0")/common.sh"
. "$B/current.sh"
p=$1 f=${1##*/}
case $MODE in
none) exit 0 ;;
collect)
	if [[ $f =~ ^[0-9A-F]{24}$ ]] && [ "$(ls "$B/walsrc" | wc -l)" -lt "$SEGS" ]; then
		cp "$p" "$B/walsrc/.tmp" && mv "$B/walsrc/.tmp" "$B/walsrc/$f"
	fi
	exit 0 ;;
tr) tr_env "$STORAGE" "$TAG"; exec "$TRBIN" archive-put "$p" ;;
pgbr) pgbr_cmd "$STORAGE" "$TAG"; exec "${PGBR[@]}" archive-push "$PWD/$p" ;;
esac
exit 1
EOF
chmod +x "$B/archive-put-pgbackrest.sh"
. "$B/common.sh"
set_mode() { # MODE [STORAGE TAG]
	printf 'MODE=%s\nSTORAGE=%s\nTAG=%s\nSEGS=%s\n' "$1" "${2:-}" "${3:-}" "$SEGS" >"$B/current.sh.tmp"
	mv "$B/current.sh.tmp" "$B/current.sh"
}
set_mode none

for s in local s3; do
	{
		echo "[global]"
		if [ $s = local ]; then
			echo "repo1-type=posix"
		else
			cat <<EOF
repo1-type=s3
repo1-s3-bucket=bench
repo1-s3-endpoint=127.0.0.1
repo1-storage-port=$S3PORT
repo1-s3-region=us-east-1
repo1-s3-key=test
repo1-s3-key-secret=test
repo1-s3-uri-style=path
repo1-storage-verify-tls=n
EOF
		fi
		cat <<EOF
repo1-cipher-type=aes-256-cbc
repo1-cipher-pass=bench-passphrase-0123456789
repo1-retention-full=100
compress-type=zst
process-max=$PAR
start-fast=y
log-level-console=warn
log-level-file=off
log-path=$B/pgbr-log
lock-path=$B/pgbr-lock
spool-path=$B/pgbr-spool

[bench]
pg1-path=$PGDATA
pg1-port=$PGPORT
pg1-socket-path=$B/pg/sock
EOF
	} >"$B/pgbr-$s.conf"
done

# --- measurement helpers
TIME_OUT=$B/time.txt
LAST_MS=0
LAST_RSS=0
LAST_RC=0
# moto logs one line per request it answers ("GET /bench?list-type=2&...
# HTTP/1.1" 200 -); requests_since LINE prints the counts of the lines
# after LINE by S3's price tiers: "PUT,GET,DELETE" where PUT counts PUT,
# POST, COPY and LIST (ListObjectsV2: a GET of the bucket), GET counts GET
# and HEAD of objects, DELETE is free.
MOTO_LOG=${BENCH_MOTO_LOG:-/dev/null}
log_lines() { wc -l <"$MOTO_LOG" 2>/dev/null || echo 0; }
requests_since() {
	tail -n +"$(($1 + 1))" "$MOTO_LOG" 2>/dev/null | awk '
		/"(PUT|POST) \// { put++; next }
		/"GET \/[^\/ ?]+\/?\?/ { put++; next }
		/"(GET|HEAD) \// { get++; next }
		/"DELETE \// { del++ }
		END { printf "%d,%d,%d", put, get, del }'
}
# timed MEASURE TOOL STORAGE RUN ITEM CMD...: one row in the raw CSV.
timed() {
	local m=$1 t=$2 s=$3 r=$4 i=$5 l0=0 req=",,"
	shift 5
	local t0 t1
	LAST_RC=0
	[ "$s" = local ] || l0=$(log_lines)
	t0=$EPOCHREALTIME
	/usr/bin/time -v -o "$TIME_OUT" "$@" >>"$B/log/cmd.out" 2>>"$B/log/cmd.err" || LAST_RC=$?
	t1=$EPOCHREALTIME
	local us=$((${t1/./} - ${t0/./}))
	LAST_MS=$((us / 1000)).$(printf '%03d' $((us % 1000)))
	LAST_RSS=$(awk -F': ' '/Maximum resident set size/{print $2}' "$TIME_OUT")
	local cpu
	cpu=$(awk -F': ' '/User time|System time/{t += $2} END{printf "%.3f", t}' "$TIME_OUT")
	[ "$s" = local ] || req=$(requests_since "$l0")
	echo "$m,$t,$s,$r,$i,$LAST_MS,$LAST_RSS,$LAST_RC,,$req,$cpu" >>"$RAW"
	if [ "$LAST_RC" != 0 ]; then
		note "FAILED ($LAST_RC): $m $t $s run $r $i: $*"
		tail -n 5 "$B/log/cmd.err" | sed 's/^/    /' >&2
	fi
}
# ms difference without a python fork per call
ms_since() { # T0 -> prints ms since T0
	local now=$EPOCHREALTIME us
	us=$((${now/./} - ${1/./}))
	echo "$((us / 1000)).$(printf '%03d' $((us % 1000)))"
}
record_bytes() { # MEASURE TOOL STORAGE RUN BYTES
	echo "$1,$2,$3,$4,bytes,,,,$5,,,," >>"$RAW"
}
s3tool() { /usr/bin/python3 "$B/s3tool.py" "${BENCH_MOTO_PORT:-0}" "$@"; }
cat >"$B/s3tool.py" <<'EOF'
# Minimal S3 client for moto, straight to its http port (no latency, not
# counted with a command): stdlib only.  moto checks no signature but
# refuses a DELETE without one: deletes carry a dummy one.
import base64, hashlib, sys, urllib.parse, urllib.request, xml.etree.ElementTree as ET
port, cmd = sys.argv[1], sys.argv[2]
base = f"http://127.0.0.1:{port}/bench"
NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"
AUTH = {"Authorization": "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/s3/aws4_request, "
        "SignedHeaders=host, Signature=00", "x-amz-date": "20260101T000000Z"}
def req(method, url, body=None, headers=None):
    r = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    with urllib.request.urlopen(r, timeout=120) as resp:
        return resp.read()
def objects(prefix):
    token = None
    while True:
        q = {"list-type": "2", "prefix": prefix}
        if token: q["continuation-token"] = token
        root = ET.fromstring(req("GET", base + "?" + urllib.parse.urlencode(q)))
        for c in root.iter(NS + "Contents"):
            yield c.find(NS + "Key").text, int(c.find(NS + "Size").text)
        t = root.find(NS + "NextContinuationToken")
        if t is None or not t.text: return
        token = t.text
if cmd == "mkbucket":
    req("PUT", base)
elif cmd == "size":  # size PREFIX [INCLUDE] [EXCLUDE]
    inc = sys.argv[4] if len(sys.argv) > 4 and sys.argv[4] else None
    exc = sys.argv[5] if len(sys.argv) > 5 and sys.argv[5] else None
    print(sum(n for k, n in objects(sys.argv[3]) if (inc is None or inc in k) and (exc is None or exc not in k)))
elif cmd == "rm":  # rm PREFIX: DeleteObjects, 1,000 keys a request
    keys = [k for k, _ in objects(sys.argv[3])]
    for i in range(0, len(keys), 1000):
        body = ("<Delete><Quiet>true</Quiet>" + "".join(
            "<Object><Key>%s</Key></Object>" % k.replace("&", "&amp;").replace("<", "&lt;")
            for k in keys[i:i + 1000]) + "</Delete>").encode()
        md5 = base64.b64encode(hashlib.md5(body).digest()).decode()
        req("POST", base + "?delete", body, dict(AUTH, **{"Content-MD5": md5, "Content-Type": "application/xml"}))
EOF
# stored BYTES of a tool's repository: repo_bytes TOOL STORAGE TAG (archive|backup)
repo_bytes() {
	local t=$1 s=$2 tag=$3 what=$4
	if [ "$s" = local ]; then
		if [ "$t" = tr ]; then
			if [ "$what" = archive ]; then du -sb "$B/repo-tr/$tag" | cut -f1
			else du -sb --exclude=wal "$B/repo-tr/$tag" | cut -f1; fi
		else
			du -sb "$B/repo-pgbr/$tag/$what" | cut -f1
		fi
	else
		if [ "$t" = tr ]; then
			if [ "$what" = archive ]; then s3tool size "tr/$tag/"
			else s3tool size "tr/$tag/" "" "/wal/"; fi
		else
			s3tool size "pgbr/$tag/$what/"
		fi
	fi
}

s3_ready() {
	for _ in $(seq 150); do
		s3tool mkbucket >/dev/null 2>&1 && return 0
		sleep 0.2
	done
	note "the S3 server (moto_server) did not answer: see $B/moto.log"
	return 1
}

psql_q() { "$PGBIN/psql" -h "$B/pg/sock" -p "$PGPORT" -d postgres -qAtX -v ON_ERROR_STOP=1 -c "$1"; }
wait_archived() {
	for _ in $(seq 1200); do
		compgen -G "$PGDATA/pg_wal/archive_status/*.ready" >/dev/null || return 0
		sleep 0.25
	done
	note "archiver still behind after 300 s"
	return 1
}
db_bytes() { du -sb --exclude=pg_wal "$PGDATA" | cut -f1; }

# On this VM, memory the guest freed a few seconds ago has been handed back
# to the host (virtio-balloon free page reporting), and writing 1.5 GB into
# such pages costs about 3 s more than into pages freed just before (a
# sequential 1.5 GB write: 0.35 s right after a delete, 4.9 s ten seconds
# later).  Whichever restore ran right after the other's `rm -rf` got the
# fast pages.  So before each timed restore the page cache is warmed the
# same way for both tools: write as much as the restore will, delete it.
warm_page_cache() {
	local mib=$(( $(db_bytes) / 1048576 + 64 ))
	dd if=/dev/zero of="$B/warm" bs=1M count="$mib" status=none
	rm -f "$B/warm"
}

# prep_tr STORAGE TAG: an empty repository with its keyring (totalrecall check,
# which also archives one segment).  prep_pgbr: stanza-create + one segment.
prep_tr() {
	tr_env "$1" "$2"
	set_mode tr "$1" "$2"
	wait_archived
	# Some WAL first: on an idle server right after a switch, check waits for
	# the previous segment, which here went to another repository.
	psql_q "SELECT pg_create_restore_point('bench')" >/dev/null
	"$TRBIN" check >>"$B/log/cmd.out" 2>>"$B/log/cmd.err" || { note "totalrecall check failed"; tail -3 "$B/log/cmd.err"; return 1; }
}
prep_pgbr() { # STORAGE TAG [PROCESS-MAX]
	pgbr_cmd "$1" "$2"  # stanza-create takes no process-max
	set_mode none
	wait_archived
	"${PGBR[@]}" stanza-create >>"$B/log/cmd.out" 2>>"$B/log/cmd.err"
	pgbr_cmd "$1" "$2" "${3:-}"
	set_mode pgbr "$1" "$2"
	# As totalrecall check does: one segment through archive-push.  (pgbackrest
	# check itself refuses an archive_command without "pgbackrest" in it.)
	psql_q "SELECT pg_create_restore_point('bench')" >/dev/null
	psql_q "SELECT pg_switch_wal()" >/dev/null
	wait_archived
}
drop_repo() { # STORAGE TAG: frees the disk (or moto's memory: it slows as it grows) a measure used
	if [ "$1" = local ]; then
		rm -rf "${B:?}/repo-tr/$2" "${B:?}/repo-pgbr/$2"
	else
		s3tool rm "tr/$2/" || note "could not empty tr/$2/ in moto"
		s3tool rm "pgbr/$2/" || note "could not empty pgbr/$2/ in moto"
	fi
}

# --- the cluster
note "machine: $(nproc) CPUs, $(lscpu | sed -n 's/^Model name: *//p' | head -1), kernel $(uname -r)"
note "initdb, port $PGPORT; $SEGS segments, scale $SCALE, $RUNS run(s), RSS scale $RSS_SCALE, S3 $DO_S3"
"$PGBIN/initdb" -D "$PGDATA" -A trust -E UTF8 --locale=C >"$B/log/initdb.log" 2>&1
mkdir -p "$B/pg/sock"
cat >>"$PGDATA/postgresql.conf" <<EOF
port = $PGPORT
listen_addresses = ''
unix_socket_directories = '$B/pg/sock'
wal_level = replica
archive_mode = on
archive_command = '$B/archive-put-pgbackrest.sh %p'
archive_timeout = 0
max_wal_size = 4GB
checkpoint_timeout = 30min
shared_buffers = 256MB
synchronous_commit = off
EOF
"$PGBIN/pg_ctl" -D "$PGDATA" -l "$B/log/postgres.log" -w start >/dev/null

# --- WAL: SEGS real segments from pgbench (the load of the database, then a run)
note "generating WAL and the scale-$SCALE database"
set_mode collect
"$PGBIN/pgbench" -h "$B/pg/sock" -p "$PGPORT" -i -s "$SCALE" -q postgres >"$B/log/pgbench-init.log" 2>&1
# pgbench's TPC-B-like run, with a checkpoint every few seconds so that
# updates write full-page images, as they do after every checkpoint.
while [ "$(ls "$B/walsrc" | wc -l)" -lt "$SEGS" ]; do
	"$PGBIN/pgbench" -h "$B/pg/sock" -p "$PGPORT" -c 8 -j 2 -T 10 postgres >>"$B/log/pgbench-run.log" 2>&1 &
	pgbench_pid=$!
	while kill -0 "$pgbench_pid" 2>/dev/null; do
		psql_q CHECKPOINT >/dev/null 2>&1 || true
		sleep 2
	done
	wait "$pgbench_pid" || true
	psql_q "SELECT pg_switch_wal()" >/dev/null
	sleep 1
done
set_mode none
wait_archived
# pgBackRest's archive-push wants the WAL directory inside pg1-path, with the
# cluster's pg_control there: the copy is a data-directory-like tree.
# PG_VERSION too: archive-put then takes it for a data directory and appends
# its metrics record to totalrecall_spool there, as it does under PostgreSQL.
mkdir -p "$B/walset/global"
cp "$PGDATA/global/pg_control" "$B/walset/global/pg_control"
cp "$PGDATA/PG_VERSION" "$B/walset/PG_VERSION"
mapfile -t SEGLIST < <(ls "$B/walsrc" | sort | head -n "$SEGS")
for seg in "${SEGLIST[@]}"; do ln -f "$B/walsrc/$seg" "$B/walset/pg_wal/$seg"; done
note "WAL: ${#SEGLIST[@]} segments, ${SEGLIST[0]} .. ${SEGLIST[-1]}; database $(db_bytes) bytes"

# --- archive measures
STATUS=$B/walset/pg_wal/archive_status
# one_at_a_time TOOL STORAGE RUN TAG
one_at_a_time() {
	local t=$1 s=$2 r=$3 tag=$4 seg
	rm -f "$STATUS"/*
	cd "$B/walset"
	for seg in "${SEGLIST[@]}"; do
		touch "$STATUS/$seg.ready"
		if [ "$t" = tr ]; then
			timed seg tr "$s" "$r" "$seg" "$TRBIN" archive-put "pg_wal/$seg"
		else
			timed seg pgbr "$s" "$r" "$seg" "${PGBR[@]}" --pg1-path="$B/walset" archive-push "$B/walset/pg_wal/$seg"
		fi
		mv "$STATUS/$seg.ready" "$STATUS/$seg.done"
	done
	cd "$B"
}
# server_cpu: CPU ticks (1/100 s) the S3 server side has used so far
# (moto, stunnel, the latency proxy; /proc/PID/stat fields 14 and 15).
server_cpu() {
	local p t=0 v
	for p in ${BENCH_SERVER_PIDS:-}; do
		v=$(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null || echo 0)
		t=$((t + v))
	done
	echo "$t"
}
# burst MEASURE TOOL STORAGE RUN TAG: every segment .ready, then one call per
# file in order, in burst-loop.sh timed as a whole by `timed`.
burst() {
	local m=$1 t=$2 s=$3 r=$4 tag=$5 seg c0=0 dc
	rm -f "$STATUS"/*
	for seg in "${SEGLIST[@]}"; do touch "$STATUS/$seg.ready"; done
	printf '%s\n' "${SEGLIST[@]}" >"$B/burst.list"
	cd "$B/walset"
	[ "$s" = local ] || c0=$(server_cpu)
	timed "$m" "$t" "$s" "$r" total bash "$B/burst-loop.sh" "$t" "$s" "$tag" "$B/pgbr-spool/$s-$r"
	if [ "$s" != local ]; then
		dc=$(($(server_cpu) - c0))
		echo "$m-server,$t,$s,$r,total,,,,,,,,$((dc / 100)).$(printf '%02d' $((dc % 100)))" >>"$RAW"
	fi
	cd "$B"
	# pgBackRest's async process may still be exiting
	while pgrep -u "$(id -u)" -f 'archive-push:async' >/dev/null; do sleep 0.1; done
}
# The loop of one burst: the calls the archiver would make, and nothing else
# but the .ready -> .done rename; exits with the number of failed calls.
cat >"$B/burst-loop.sh" <<'EOF'
. "$(dirname "$0")/common.sh"
t=$1 s=$2 tag=$3 spool=$4 fails=0
[ "$t" = tr ] || pgbr_cmd "$s" "$tag"
while read -r seg; do
	if [ "$t" = tr ]; then
		"$TRBIN" archive-put "pg_wal/$seg" || fails=$((fails + 1))
	else
		"${PGBR[@]}" --pg1-path="$B/walset" --archive-async --spool-path="$spool" \
			archive-push "$B/walset/pg_wal/$seg" || fails=$((fails + 1))
	fi
	mv "pg_wal/archive_status/$seg.ready" "pg_wal/archive_status/$seg.done"
done <"$B/burst.list"
exit $((fails > 100 ? 100 : fails))
EOF

tr_ok() { [ "$1" = local ] || [ "$TR_S3" = 1 ]; }
archive_run() { # STORAGE RUN
	local s=$1 r=$2 tag
	if tr_ok "$s"; then
		note "$s run $r: archive-put one at a time"
		tag=$s-seg-tr-$r; prep_tr "$s" "$tag" || true; set_mode none
		one_at_a_time tr "$s" "$r" "$tag"; record_bytes seg tr "$s" "$r" "$(repo_bytes tr "$s" "$tag" archive)"; drop_repo "$s" "$tag"
	fi
	note "$s run $r: archive-push one at a time"
	tag=$s-seg-pgbr-$r; prep_pgbr "$s" "$tag" || true; set_mode none
	one_at_a_time pgbr "$s" "$r" "$tag"; record_bytes seg pgbr "$s" "$r" "$(repo_bytes pgbr "$s" "$tag" archive)"; drop_repo "$s" "$tag"

	note "$s run $r: burst of ${#SEGLIST[@]} ready segments"
	if tr_ok "$s"; then
		tag=$s-burst-tr-$r; prep_tr "$s" "$tag" || true; set_mode none
		burst burst tr "$s" "$r" "$tag"; record_bytes burst tr "$s" "$r" "$(repo_bytes tr "$s" "$tag" archive)"; drop_repo "$s" "$tag"
		tag=$s-burst0-tr-$r; prep_tr "$s" "$tag" || true; set_mode none; tr_env "$s" "$tag" 0
		burst burst0 tr "$s" "$r" "$tag"; record_bytes burst0 tr "$s" "$r" "$(repo_bytes tr "$s" "$tag" archive)"; drop_repo "$s" "$tag"
		tr_env "$s" "$tag"
	fi
	tag=$s-burst-pgbr-$r; prep_pgbr "$s" "$tag" || true; set_mode none
	burst burst pgbr "$s" "$r" "$tag"; record_bytes burst pgbr "$s" "$r" "$(repo_bytes pgbr "$s" "$tag" archive)"; drop_repo "$s" "$tag"
}

# pgbr_variants STORAGE: the pgBackRest set-ups measured for backup and
# restore: "pgbr" (process-max = nproc) everywhere, and against S3 also
# "pgbr16" (process-max=16: pgBackRest's answer to latency).
pgbr_variants() { if [ "$1" = local ]; then echo pgbr; else echo pgbr pgbr16; fi; }
pgbr_pm() { [ "$1" = pgbr16 ] && echo 16 || echo ""; }

RUN_CHANGE=0
backup_run() { # STORAGE RUN [SCALE-LABEL]
	local s=$1 r=$2 tr_tag=$1-bk-tr-$2 b0 lo n v
	echo "dbsize,-,$s,$r,full,,,,$(db_bytes),,,," >>"$RAW"
	note "$s run $r: full backups"
	psql_q CHECKPOINT; sync
	if tr_ok "$s"; then
		prep_tr "$s" "$tr_tag" || true
		timed full tr "$s" "$r" - "$TRBIN" backup
		record_bytes full tr "$s" "$r" "$(repo_bytes tr "$s" "$tr_tag" backup)"
		sync
	fi
	for v in $(pgbr_variants "$s"); do
		prep_pgbr "$s" "$s-bk-$v-$r" "$(pgbr_pm "$v")" || true
		timed full "$v" "$s" "$r" - "${PGBR[@]}" backup --type=full
		record_bytes full "$v" "$s" "$r" "$(repo_bytes pgbr "$s" "$s-bk-$v-$r" backup)"
	done

	# a contiguous 1% of aid changes
	set_mode none
	n=$((SCALE * 1000))
	RUN_CHANGE=$((RUN_CHANGE + 1))
	lo=$((1 + (RUN_CHANGE * 37 % 90) * n))
	psql_q "UPDATE pgbench_accounts SET abalance = abalance + 1 WHERE aid BETWEEN $lo AND $((lo + n - 1))"
	psql_q CHECKPOINT
	sync
	note "$s run $r: second backups after aid $lo..$((lo + n - 1)) changed"
	if tr_ok "$s"; then
		tr_env "$s" "$tr_tag"; set_mode tr "$s" "$tr_tag"; wait_archived
		b0=$(repo_bytes tr "$s" "$tr_tag" backup)
		timed incr tr "$s" "$r" - "$TRBIN" backup
		record_bytes incr tr "$s" "$r" "$(($(repo_bytes tr "$s" "$tr_tag" backup) - b0))"
		sync
	fi
	for v in $(pgbr_variants "$s"); do
		pgbr_cmd "$s" "$s-bk-$v-$r" "$(pgbr_pm "$v")"; set_mode pgbr "$s" "$s-bk-$v-$r"; wait_archived
		b0=$(repo_bytes pgbr "$s" "$s-bk-$v-$r" backup)
		timed incr "$v" "$s" "$r" - "${PGBR[@]}" backup
		record_bytes incr "$v" "$s" "$r" "$(($(repo_bytes pgbr "$s" "$s-bk-$v-$r" backup) - b0))"
	done
	set_mode none

	note "$s run $r: restores"
	rm -rf "$B/restore"; sync
	if tr_ok "$s"; then
		tr_env "$s" "$tr_tag"
		warm_page_cache
		timed restore tr "$s" "$r" - "$TRBIN" restore "$B/restore"
		rm -rf "$B/restore"; sync
	fi
	for v in $(pgbr_variants "$s"); do
		pgbr_cmd "$s" "$s-bk-$v-$r" "$(pgbr_pm "$v")"
		warm_page_cache
		timed restore "$v" "$s" "$r" - "${PGBR[@]}" restore --pg1-path="$B/restore"
		rm -rf "$B/restore"; sync
		drop_repo "$s" "$s-bk-$v-$r"
	done
	drop_repo "$s" "$tr_tag"
}

STORAGES=()
[ "${BENCH_LOCAL:-1}" = 1 ] && STORAGES+=(local)
TR_S3=1
if [ "$DO_S3" = 1 ]; then
	# One S3 profile per delay: the storage label says it (s3-25ms).
	if s3_ready; then
		for d in ${BENCH_S3_DELAYS:-25}; do STORAGES+=("s3-${d}ms"); done
	else
		echo "s3,unavailable,,,,,,,,,,," >>"$RAW"
	fi
	# Is there a working TotalRecall s3 driver in this build?
	tr_env s3 probe
	if ! "$TRBIN" list >"$B/log/tr-s3-probe.out" 2>&1 && grep -qi 'driver' "$B/log/tr-s3-probe.out"; then
		TR_S3=0
		note "TotalRecall's s3 driver is not usable in this build: $(head -1 "$B/log/tr-s3-probe.out")"
		echo "s3,tr-unavailable,,,$(head -1 "$B/log/tr-s3-probe.out" | tr ',' ';'),,,,,,,," >>"$RAW"
	fi
fi
# set_delay STORAGE: the latency proxy's delay for an S3 profile.
set_delay() {
	case $1 in s3-*ms) d=${1#s3-}; echo "${d%ms}" >"$B/s3-delay-ms"; sleep 1 ;; esac
}
summarize() { /usr/bin/python3 "$SRC/tests/bench/summarize.py" "$RAW" "$B/out/results.md" "$BENCH_CMDLINE" "$B"; }
for s in "${STORAGES[@]}"; do
	n=$RUNS
	[ "$s" = local ] || n=$S3_RUNS
	set_delay "$s"
	[ "$s" = local ] || note "$s: $(cat "$B/s3-delay-ms") ms added to every request"
	for r in $(seq "$n"); do
		archive_run "$s" "$r"
		backup_run "$s" "$r"
		summarize >/dev/null || true
	done
done

if [ "$RSS_SCALE" -gt 0 ]; then
	note "RSS check: TotalRecall backup and restore at scale $RSS_SCALE"
	set_mode none
	"$PGBIN/pgbench" -h "$B/pg/sock" -p "$PGPORT" -i -s "$RSS_SCALE" -q postgres >"$B/log/pgbench-init-big.log" 2>&1
	psql_q CHECKPOINT
	wait_archived
	echo "dbsize,-,local,$RSS_SCALE,big,,,,$(db_bytes),,,," >>"$RAW"
	tag=local-big-tr
	prep_tr local "$tag" || true
	sync
	timed "full-s$RSS_SCALE" tr local 1 - "$TRBIN" backup
	record_bytes "full-s$RSS_SCALE" tr local 1 "$(repo_bytes tr local "$tag" backup)"
	set_mode none
	rm -rf "$B/restore"; sync
	warm_page_cache
	timed "restore-s$RSS_SCALE" tr local 1 - "$TRBIN" restore "$B/restore"
	rm -rf "$B/restore"
	drop_repo local "$tag"
fi
summarize
note "done"
