#!/usr/bin/env bash
# tests/bench/scale.sh - TotalRecall on a large synthetic cluster: backup,
# verify, restore and expire at growing sizes, on the fs driver and on S3
# (moto), to show cost growing linearly or better with size and memory
# staying flat.  Not part of `make check`; see tests/bench/README.md.
#
#   tests/bench/scale.sh                      # sizes 5 10 20 50 GiB (logical), fs and s3
#   SCALE_SIZES="2 4" tests/bench/scale.sh    # development
#
# The cluster is a real PostgreSQL 15 cluster (pgbench -i -s 10) grown
# with relation-like files under base/: copies (hard links) of the pgbench
# accounts table, about SCALE_REAL_MIB MiB (default 1024) of real data
# that deduplicates, and sparse 1 GiB files of zeros for the rest.  Reading
# sparse zeros costs no disk, restore writes them as holes, so the footprint
# stays at a few GiB: the data directory's real part, the copies restore
# writes, the repository.  `df` is checked first (SCALE_MIN_FREE_GB, 20).
#
# Per size and storage: backup, verify, restore (then removed), with wall
# time, time per GiB, peak RSS and CPU (/usr/bin/time -v), the manifest's
# size, and on S3 the requests (moto's log); then expire with
# retention-count 1 over the backups of every size.  Writes
# tests/bench/scale-results.md (+ .csv).  Runs as root (creates the
# unprivileged user trbench, PostgreSQL refuses root) or as any user.
# Environment: SCALE_SIZES, SCALE_REAL_MIB, SCALE_STORAGES ("fs s3"),
# SCALE_S3_DELAY (ms added to every S3 request, default 0),
# SCALE_DIR (/var/tmp/trscale), SCALE_KEEP=1.
set -Eeuo pipefail

SELF=$(readlink -f "$0")
SRC=$(cd "$(dirname "$SELF")/../.." && pwd)
OUT_DIR=$SRC/tests/bench
export SCALE_DIR=${SCALE_DIR:-/var/tmp/trscale}

if [ "${1:-}" != "--inner" ]; then
	[ -x "$SRC/src/totalrecall" ] || { echo "scale.sh: build first (autoreconf -fi && ./configure && make)" >&2; exit 2; }
	for t in /usr/lib/postgresql/15/bin/initdb /usr/bin/time moto_server python3; do
		command -v "$t" >/dev/null || { echo "scale.sh: $t is missing" >&2; exit 2; }
	done
	free_gb=$(df -BG --output=avail "$(dirname "$SCALE_DIR")" | tail -1 | tr -dc 0-9)
	if [ "$free_gb" -lt "${SCALE_MIN_FREE_GB:-20}" ]; then
		echo "scale.sh: only $free_gb GB free under $(dirname "$SCALE_DIR") (SCALE_MIN_FREE_GB=${SCALE_MIN_FREE_GB:-20})" >&2
		exit 2
	fi
	rm -rf "$SCALE_DIR"
	mkdir -p "$SCALE_DIR"
	MOTO_PID="" LAT_PID=""
	free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
	if [[ " ${SCALE_STORAGES:-fs s3} " == *" s3 "* ]]; then
		SCALE_MOTO_PORT=$(free_port)
		export SCALE_MOTO_PORT SCALE_MOTO_LOG=$SCALE_DIR/moto.log SCALE_S3_PORT=$SCALE_MOTO_PORT
		moto_server -H 127.0.0.1 -p "$SCALE_MOTO_PORT" >"$SCALE_MOTO_LOG" 2>&1 &
		MOTO_PID=$!
		if [ "${SCALE_S3_DELAY:-0}" != 0 ]; then
			/usr/bin/python3 "$SRC/tests/bench/latency_proxy.py" --upstream "127.0.0.1:$SCALE_MOTO_PORT" \
				--delay "$SCALE_S3_DELAY" --ready-file "$SCALE_DIR/lat.port" >"$SCALE_DIR/latency.log" 2>&1 &
			LAT_PID=$!
			for _ in $(seq 100); do [ -s "$SCALE_DIR/lat.port" ] && break; sleep 0.1; done
			SCALE_S3_PORT=$(cat "$SCALE_DIR/lat.port")
		fi
		trap 'for p in $MOTO_PID $LAT_PID; do kill "$p" 2>/dev/null; done' EXIT
	fi
	export SCALE_CMDLINE="tests/bench/scale.sh $*"
	rc=0
	if [ "$(id -u)" = 0 ]; then
		id trbench >/dev/null 2>&1 || useradd --system --home-dir "$SCALE_DIR" --shell /bin/bash trbench
		chown trbench: "$SCALE_DIR"
		envs=(PATH="$PATH" HOME="$SCALE_DIR" LANG=C.UTF-8)
		while IFS= read -r -d '' kv; do envs+=("$kv"); done < <(env -0 | grep -zE '^SCALE_')
		runuser -u trbench -- env -i "${envs[@]}" bash "$SELF" --inner || rc=$?
	else
		bash "$SELF" --inner || rc=$?
	fi
	for p in $MOTO_PID $LAT_PID; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
	if [ -f "$SCALE_DIR/out/scale-results.md" ]; then
		cp "$SCALE_DIR/out/scale-results.md" "$SCALE_DIR/out/scale-results.csv" "$OUT_DIR/"
		echo "wrote $OUT_DIR/scale-results.md and $OUT_DIR/scale-results.csv"
	fi
	[ "$rc" != 0 ] && echo "scale.sh: failed (status $rc); logs in $SCALE_DIR/log" >&2
	[ "${SCALE_KEEP:-0}" = 1 ] || rm -rf "$SCALE_DIR"
	exit "$rc"
fi

# ------------------------------------------------------------------ inner
export HOME=$SCALE_DIR
D=$SCALE_DIR
SIZES=${SCALE_SIZES:-5 10 20 50}
REAL_MIB=${SCALE_REAL_MIB:-1024}
PGBIN=/usr/lib/postgresql/15/bin
TR=$SRC/src/totalrecall
PGDATA=$D/pg/data
mkdir -p "$D"/{pg/sock,log,out,repo,state}
RAW=$D/out/scale-results.csv
echo "storage,logical_gib,command,seconds,rss_kb,cpu_s,manifest_bytes,req_put,req_get,req_del,rc" >"$RAW"
LOG=$D/log/scale.log
note() { printf '[%s] %s (load %s)\n' "$(date +%T)" "$*" "$(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$LOG" >&2; }
PGPORT=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
export PGHOST=$D/pg/sock PGPORT PGUSER=$(id -un) PGDATABASE=postgres
cleanup() { [ -f "$PGDATA/postmaster.pid" ] && "$PGBIN/pg_ctl" -D "$PGDATA" -m immediate stop >/dev/null 2>&1; true; }
trap cleanup EXIT

# The repository of a storage; the server's archive_command reads it from
# $D/current.env, so WAL goes where the backups go.
tr_env() { # STORAGE
	export TOTALRECALL_DATABASE_ID=scale-$1 TOTALRECALL_ENCRYPTION_KEY=scale-passphrase-0123456789
	export TOTALRECALL_STATE_DIR=$D/state TOTALRECALL_KDF_ITERATIONS=100000
	if [ "$1" = fs ]; then
		export TOTALRECALL_DRIVER=fs TOTALRECALL_BUCKET=$D/repo
		unset TOTALRECALL_S3_ENDPOINT TOTALRECALL_STORAGE_PREFIX
	else
		export TOTALRECALL_DRIVER=s3 TOTALRECALL_BUCKET=scale TOTALRECALL_STORAGE_PREFIX=tr
		export TOTALRECALL_S3_ENDPOINT=http://127.0.0.1:$SCALE_S3_PORT TOTALRECALL_S3_URI_STYLE=path
		export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=us-east-1
	fi
	env | grep -E '^(TOTALRECALL|AWS)_' | sed "s/^/export /; s/=\(.*\)/='\1'/" >"$D/current.env"
}
cat >"$D/archive-put.sh" <<EOF
#!/bin/bash
. "$D/current.env"
exec "$TR" archive-put "\$1"
EOF
chmod +x "$D/archive-put.sh"

log_lines() { if [ -n "${SCALE_MOTO_LOG:-}" ]; then wc -l <"$SCALE_MOTO_LOG"; else echo 0; fi; }
requests_since() { # LINE: "PUT,GET,DELETE" tiers (see run.sh)
	[ -n "${SCALE_MOTO_LOG:-}" ] || { echo ",,"; return; }
	tail -n +"$(($1 + 1))" "$SCALE_MOTO_LOG" | awk '
		/"(PUT|POST) \// { put++; next }
		/"GET \/[^\/ ?]+\/?\?/ { put++; next }
		/"(GET|HEAD) \// { get++; next }
		/"DELETE \// { del++ }
		END { printf "%d,%d,%d", put, get, del }'
}
# timed STORAGE GIB COMMAND MANIFEST-BYTES-FN totalrecall-args...
timed() {
	local s=$1 g=$2 c=$3 l0 t0 t1 rc=0
	shift 3
	l0=$(log_lines)
	t0=$EPOCHREALTIME
	/usr/bin/time -v -o "$D/time.txt" "$TR" "$@" >>"$D/log/cmd.out" 2>>"$D/log/cmd.err" || rc=$?
	t1=$EPOCHREALTIME
	local us=$((${t1/./} - ${t0/./})) rss cpu req
	rss=$(awk -F': ' '/Maximum resident set size/{print $2}' "$D/time.txt")
	cpu=$(awk -F': ' '/User time|System time/{t += $2} END{printf "%.2f", t}' "$D/time.txt")
	req=",,"
	[ "$s" = fs ] || req=$(requests_since "$l0")
	LAST_S=$((us / 1000000)).$(printf '%03d' $(((us / 1000) % 1000)))
	echo "$s,$g,$c,$LAST_S,$rss,$cpu,,$req,$rc" >>"$RAW"
	note "$s ${g} GiB: $c $LAST_S s, peak RSS $((rss / 1024)) MiB, CPU $cpu s, requests $req, rc $rc"
	[ "$rc" = 0 ] || tail -n 3 "$D/log/cmd.err" >&2
	return "$rc"
}
manifest_bytes() { # STORAGE LABEL
	if [ "$1" = fs ]; then
		stat -c %s "$D/repo/scale-fs/backups/$2/manifest"
	else
		/usr/bin/python3 - "$SCALE_MOTO_PORT" "tr/scale-s3/backups/$2/manifest" <<'PY'
import sys, urllib.request, xml.etree.ElementTree as ET
port, key = sys.argv[1], sys.argv[2]
x = urllib.request.urlopen(f"http://127.0.0.1:{port}/scale?list-type=2&prefix={key}").read()
ns = "{http://s3.amazonaws.com/doc/2006-03-01/}"
print(sum(int(c.find(ns + "Size").text) for c in ET.fromstring(x).iter(ns + "Contents")))
PY
	fi
}

# --- the cluster
note "initdb; sizes $SIZES GiB, $REAL_MIB MiB of real (repeated) data"
"$PGBIN/initdb" -D "$PGDATA" -A trust -E UTF8 --locale=C >"$D/log/initdb.log" 2>&1
cat >>"$PGDATA/postgresql.conf" <<EOF
port = $PGPORT
listen_addresses = ''
unix_socket_directories = '$D/pg/sock'
wal_level = replica
archive_mode = on
archive_command = '$D/archive-put.sh %p'
max_wal_size = 2GB
EOF
tr_env fs
"$PGBIN/pg_ctl" -D "$PGDATA" -l "$D/log/postgres.log" -w start >/dev/null
"$PGBIN/pgbench" -i -s 10 -q >"$D/log/pgbench.log" 2>&1
psql_q() { "$PGBIN/psql" -qAtX -v ON_ERROR_STOP=1 -c "$1"; }
psql_q CHECKPOINT
dbdir=$PGDATA/$(psql_q "SELECT pg_relation_filepath('pgbench_accounts')" | xargs dirname)
accounts=$PGDATA/$(psql_q "SELECT pg_relation_filepath('pgbench_accounts')")
acc_mib=$(($(stat -c %s "$accounts") / 1048576))
copies=$((REAL_MIB / (acc_mib > 0 ? acc_mib : 1)))
for i in $(seq "$copies"); do ln "$accounts" "$dbdir/$((990000 + i))"; done
note "real data: $copies hard links of pgbench_accounts ($acc_mib MiB each) in $dbdir"
zero_files=0
grow_to() { # GIB: adds sparse 1 GiB files of zeros until the data directory holds GIB GiB
	local want=$(($1 * 1073741824)) have
	have=$(find "$PGDATA" -path "$PGDATA/pg_wal" -prune -o -type f -printf '%s\n' | awk '{s += $1} END {printf "%.0f\n", s}')  # %.0f: awk prints large sums as 5.5e+09
	while [ "$have" -lt "$want" ]; do
		zero_files=$((zero_files + 1))
		truncate -s 1G "$dbdir/$((980000 + zero_files))"
		have=$((have + 1073741824))
	done
}

for s in ${SCALE_STORAGES:-fs s3}; do
	tr_env "$s"
	[ "$s" = fs ] || /usr/bin/python3 -c "import urllib.request; urllib.request.urlopen(urllib.request.Request('http://127.0.0.1:$SCALE_MOTO_PORT/scale', method='PUT'))"
	psql_q "SELECT pg_create_restore_point('scale')" >/dev/null
	"$TR" check >>"$D/log/cmd.out" 2>>"$D/log/cmd.err" || { note "check failed on $s"; tail -3 "$D/log/cmd.err"; exit 1; }
	for g in $SIZES; do
		grow_to "$g"
		psql_q CHECKPOINT
		timed "$s" "$g" backup backup || exit 1
		label=$("$TR" list --json 2>/dev/null | /usr/bin/python3 -c 'import json, sys; print(json.load(sys.stdin)["backups"][-1]["label"])')
		echo "$s,$g,manifest,0,0,0,$(manifest_bytes "$s" "$label"),,,,0" >>"$RAW"
		timed "$s" "$g" verify verify --full || true
		rm -rf "$D/restore"
		timed "$s" "$g" restore restore --backup "$label" --target immediate "$D/restore" || true
		note "restored: $(du -s --apparent-size -BG "$D/restore" | cut -f1) apparent, $(du -s -BM "$D/restore" | cut -f1) on disk"
		rm -rf "$D/restore"
	done
	timed "$s" "${SIZES##* }" expire expire --retention-count 1 || true
done

/usr/bin/python3 - "$RAW" "$D/out/scale-results.md" "$SCALE_CMDLINE" "$REAL_MIB" <<'PY'
import csv, os, platform, sys, time
raw, out, cmdline, real = sys.argv[1:5]
rows = list(csv.DictReader(open(raw)))
manifest = {(r["storage"], r["logical_gib"]): r["manifest_bytes"] for r in rows if r["command"] == "manifest"}
rows = [r for r in rows if r["command"] != "manifest"]
for r in rows:
    if r["command"] == "backup":
        r["manifest_bytes"] = manifest.get((r["storage"], r["logical_gib"]), "")
load = " ".join(open("/proc/loadavg").read().split()[:3])
L = ["### TotalRecall at scale", "",
     f"Generated {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} by `{cmdline.strip()}` on {os.cpu_count()} CPUs, "
     f"Linux {platform.release()}; load average at the end {load} (the host is shared). A pgbench scale-10 cluster "
     f"grown with {real} MiB of repeated real data (hard links of pgbench_accounts) and sparse 1 GiB files of zeros.", "",
     "| storage | logical GiB | command | seconds | s per GiB | peak RSS | CPU s | manifest | PUT/POST/LIST | GET/HEAD | DELETE |",
     "|---|---|---|---|---|---|---|---|---|---|---|"]
for r in rows:
    g = float(r["logical_gib"])
    per = f"{float(r['seconds']) / g:.2f}" if r["command"] != "expire" else "-"
    man = f"{int(r['manifest_bytes']) / 1024:.0f} KiB" if r["manifest_bytes"] else "-"
    L.append(f"| {r['storage']} | {r['logical_gib']} | {r['command']}{'' if r['rc'] == '0' else ' (failed)'} | "
             f"{float(r['seconds']):.1f} | {per} | {int(r['rss_kb']) / 1024:.0f} MiB | {r['cpu_s']} | {man} | "
             f"{r['req_put'] or '-'} | {r['req_get'] or '-'} | {r['req_del'] or '-'} |")
open(out, "w").write("\n".join(L) + "\n")
print("\n".join(L))
PY
note "done"
