#!/usr/bin/env bash
# tests/docker/test_image.sh - the Docker image (postgres/Dockerfile, Debian
# flavour) built and run for real, on the two local stand-ins of the
# official image (tests/docker/build-base.sh): PostgreSQL 17 on Debian 13
# and PostgreSQL 15 on Debian 12.  Every container uses the host's network
# (servers on 127.0.0.1, free ports) or none.
#
# For each major, one image is built, then with real containers:
#   fs repository on a second volume:
#     a  empty volume, empty repository: initdb, archiving, the worker, its
#        metrics table, a backup by the worker's schedule, one by
#        `docker exec ... totalrecall backup`, rows in three batches, then
#        `docker stop`: exit code 0 within the timeout, no WAL left behind;
#     b  new container, new empty volume: restores itself (rows compared),
#        archives on the new timeline; the health check follows archiving
#        (healthy, unhealthy while the repository refuses writes, healthy
#        again); `docker run ... totalrecall --help` and `verify`; a SIGTERM
#        (smart shutdown) ends it cleanly too;
#     c  new container, new empty volume, TOTALRECALL_TARGET_TIME: point in
#        time recovery to between two batches;
#     d  new container on volume a's data directory: no restore, its data;
#   s3 repository on moto_server (on the host's 127.0.0.1):
#     e  empty volume, empty bucket: initdb; scheduled backup; rows; stop;
#     f  new container, new empty volume: restores from S3, archives on the
#        new timeline, `verify` through docker exec.
# The added size of the image is checked against 2 MiB.
#
# Needs root: installs docker.io and debootstrap (tests/install-deps.sh
# docker) and starts dockerd when none runs, and stops it at the end.
# Where dockerd cannot start, prints a SKIP line and the last line
# "test_image: 0 passed, 0 failed, 1 skipped": a skip, never a pass.
# Building the stand-in bases and the images are set-up steps ("# setup:"
# notes, not counted; a failure is counted).
# TR_KEEP=1 keeps the containers, volumes and images of the run.
# Last line: "test_image: N passed, M failed".
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
# shellcheck source=tests/integration/lib.sh
. "$top/tests/integration/lib.sh"
# shellcheck source=tests/docker/lib_docker.sh
. "$here/lib_docker.sh"
TR_NAME=test_image
export LC_ALL=C

read -r -a majors <<<"${TR_DOCKER_MAJORS:-17 15}"
run=trimg$$
label=org.totalrecall.test=$run
work=$(mktemp -d "${TMPDIR:-/tmp}/totalrecall-docker.XXXXXX")
TR_LAST_OUT=$work/last.out
# shellcheck disable=SC2034 # read by assert_rc (lib.sh)
TR_LAST_ERR=$work/last.err
moto_pid=
t_start=$SECONDS

D() { "${DOCKER[@]}" "$@"; }
note_time() { tr_note "$1: $((SECONDS - $2)) s"; }

cleanup() {
	set +e
	if [ "${TR_KEEP:-0}" != 1 ] && docker_answers; then
		D ps -aq --filter "label=$label" | xargs -r "${DOCKER[@]}" rm -f >/dev/null 2>&1
		D volume ls -q --filter "label=$label" | xargs -r "${DOCKER[@]}" volume rm >/dev/null 2>&1
	fi
	[ -z "$moto_pid" ] || { kill "$moto_pid" 2>/dev/null; wait "$moto_pid" 2>/dev/null; }
	docker_down
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

skip_all() {
	skip "$*"
	finish
}

# ------------------------------------------------------------------ engine
[ "$(id -u)" = 0 ] || skip_all "run as root (debootstrap, dockerd)"
if ! command -v dockerd >/dev/null || ! command -v debootstrap >/dev/null; then
	bash "$top/tests/install-deps.sh" docker >"$work/install.log" 2>&1 ||
		skip_all "cannot install docker.io: $(tail -n 2 "$work/install.log" | tr '\n' ' ')"
fi
docker_up "$work/dockerd.log" || skip_all "$DOCKER_WHY"
tr_note "Docker engine $(D version -f '{{.Server.Version}}' 2>/dev/null), storage $(D info -f '{{.Driver}}' 2>/dev/null)"

# ------------------------------------------------------------------ images
t=$SECONDS
build_bases() { bash "$here/build-base.sh" "${majors[@]}" >"$work/base.log" 2>&1 || { tail -n 5 "$work/base.log"; return 1; }; }
setup "stand-in bases built: ${majors[*]}" build_bases
tr_note "stand-in bases reused: $(grep -c 'up to date' "$work/base.log")"
note_time "stand-in bases" "$t"

# Both images at once: their builds wait on downloads at different times.
t=$SECONDS
declare -A build_pid=()
for m in "${majors[@]}"; do
	D build --network host --force-rm --build-arg "BASE=totalrecall-standin/postgres:$m" -t "totalrecall-test:$m" \
		-f "$top/postgres/Dockerfile" "$top" >"$work/build-$m.log" 2>&1 &
	build_pid[$m]=$!
done
built=()
for m in "${majors[@]}"; do
	if wait "${build_pid[$m]}"; then
		tr_note "setup: image built on postgres:$m (stand-in)"
		built+=("$m")
		sed 's/\x1b\[[0-9;]*m//g' "$work/build-$m.log" | grep -E '^(-rwx|[0-9]+[[:space:]]+total|docker-build:)' |
			sed 's/^/# /'
	else
		fail "setup: image on postgres:$m: build failed: $(tail -n 15 "$work/build-$m.log" | tr '\n' '|')"
	fi
done
note_time "images" "$t"

# ------------------------------------------------------------------ helpers
PGPASS=pw-$RANDOM$RANDOM
KEY="image test passphrase $RANDOM"
TR_ENV_COMMON=(-e "POSTGRES_PASSWORD=$PGPASS" -e TOTALRECALL_KDF_ITERATIONS=1000)

# A free port on 127.0.0.1 below the kernel's ephemeral range: a port in
# that range can be taken by an outgoing connection (the drivers', moto's)
# between this check and the server's bind.
ephemeral_lo=$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)
port() {
	local p tries=0
	while [ $tries -lt 200 ]; do
		tries=$((tries + 1))
		p=$((10000 + SRANDOM % (ephemeral_lo - 10000)))
		(exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return 0; }
	done
	return 1
}
quiet() { "$@" >/dev/null 2>&1; }
# essential DESC CMD...: check, and return 1 when it fails (the scenario
# cannot go on).
essential() { if "${@:2}"; then pass "$1"; else fail "$1"; return 1; fi; }

volume() { D volume create --label "$label" "$run-$1" >/dev/null && echo "$run-$1"; }

# start NAME IMAGE VOLUME PORT [docker run options...]: a detached server,
# health checked every second, on 127.0.0.1:PORT.
start() {
	local name=$1 image=$2 vol=$3 port=$4
	shift 4
	D run -d --name "$name" --label "$label" --network host \
		--health-interval=1s --health-timeout=10s --health-retries=1 --health-start-period=0s \
		-v "$vol:/var/lib/postgresql/data" -e "PGPORT=$port" "${TR_ENV_COMMON[@]}" "$@" \
		"$image" -c listen_addresses=127.0.0.1 -c totalrecall.naptime=1 >/dev/null
}

running() { [ "$(D inspect -f '{{.State.Running}}' "$1" 2>/dev/null)" = true ]; }
stopped() { ! running "$1"; }

# psql inside container NAME on the local socket, as the postgres user
# (trust), connected as PG_USER_OF[NAME] to PG_DB_OF[NAME] (postgres).
declare -A PG_USER_OF=() PG_DB_OF=()
dsql() {
	D exec -u postgres "$1" psql -X -At -v ON_ERROR_STOP=1 -U "${PG_USER_OF[$1]:-postgres}" \
		-d "${PG_DB_OF[$1]:-postgres}" -c "$2"
}

# The final server (the temporary one of the entrypoint listens on no TCP
# address) accepts connections on 127.0.0.1 and has left recovery.
serving() {
	D exec -u postgres "$1" pg_isready -q -h 127.0.0.1 -p "$2" -U "${PG_USER_OF[$1]:-postgres}" \
		-d "${PG_DB_OF[$1]:-postgres}" && [ "$(dsql "$1" 'SELECT pg_is_in_recovery()')" = f ]
}

# wait_serving NAME PORT: polls; gives up at once when the container ended.
wait_serving() {
	local deadline=$((SECONDS + 180))
	while [ $SECONDS -lt $deadline ]; do
		serving "$1" "$2" 2>/dev/null && return 0
		running "$1" || { tr_note "$1 ended: $(D logs --tail 5 "$1" 2>&1 | tr '\n' '|')"; return 1; }
		sleep 0.2
	done
	return 1
}

logs() { D logs "$1" 2>&1; }
health() { D inspect -f '{{.State.Health.Status}}' "$1"; }
health_is() { [ "$(health "$1")" = "$2" ]; }
last_health_output() { D inspect -f '{{with .State.Health}}{{range .Log}}{{.Output}}{{end}}{{end}}' "$1" | tail -n 2; }

# totalrecall as the postgres user in container NAME, with the container's
# environment and the variables in the array EXEC_ENV (-e NAME=VALUE...).
EXEC_ENV=()
tr_exec() { local n=$1; shift; D exec -u postgres "${EXEC_ENV[@]}" "$n" totalrecall "$@"; }
backup_count() { tr_exec "$1" list 2>/dev/null | grep -cE '^[0-9]{8}-[0-9]{6}F'; }
backups_at_least() { [ "$(backup_count "$1")" -ge "$2" ]; }
# took_backup NAME: a backup completed in this container (its own log).
took_backup() { logs "$1" | grep -qE 'backup [0-9]{8}-[0-9]{6}F: complete'; }

metric_count() { # NAME OPERATION
	dsql "$1" "SELECT count(*) FROM totalrecall.metrics WHERE operation = '$2' AND status = 'ok'" 2>/dev/null
}
metric_at_least() { [ "$(metric_count "$1" "$2")" -ge "$3" ]; }

rows_state() {
	dsql "$1" "SELECT count(*) || ':' || md5(string_agg(id || ',' || batch || ',' || v, ';' ORDER BY id)) FROM t"
}
add_batch() { # NAME BATCH FROM TO
	dsql "$1" "INSERT INTO t SELECT g, $2, md5(g::text) FROM generate_series($3, $4) g" >/dev/null
}
switch_wal() { dsql "$1" "SELECT pg_walfile_name(pg_switch_wal())"; }

# archived NAME SEGMENT: the archiver has stored SEGMENT (or a later one) and
# its last attempt did not fail.
archived() {
	[ "$(dsql "$1" "SELECT coalesce(last_archived_wal >= '$2', false)
		AND (last_failed_time IS NULL OR last_failed_time < last_archived_time) FROM pg_stat_archiver")" = t ]
}
archive_failing() {
	[ "$(dsql "$1" "SELECT last_failed_time IS NOT NULL
		AND (last_archived_time IS NULL OR last_failed_time >= last_archived_time) FROM pg_stat_archiver")" = t ]
}
timeline() { dsql "$1" "SELECT timeline_id FROM pg_control_checkpoint()"; }
worker_running() {
	[ "$(dsql "$1" "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'totalrecall worker'")" = 1 ]
}
metrics_table() { [ "$(dsql "$1" "SELECT to_regclass('totalrecall.metrics') IS NOT NULL")" = t ]; }

# stop_clean NAME TIMEOUT [SIGNAL]: docker stop (the image's stop signal)
# or docker kill -s SIGNAL; passes when the container ends within TIMEOUT
# with exit code 0 after PostgreSQL's "database system is shut down".
stop_clean() {
	local name=$1 timeout=$2 sig=${3:-} t0=$SECONDS code
	if [ -z "$sig" ]; then
		D stop -t "$timeout" "$name" >/dev/null
	else
		D kill -s "$sig" "$name" >/dev/null
		wait_until "$timeout" stopped "$name" || D kill "$name" >/dev/null 2>&1
	fi
	code=$(D inspect -f '{{.State.ExitCode}}' "$name")
	assert_eq 0 "$code" "$name: ${sig:-docker stop} ends with exit code 0 ($((SECONDS - t0)) s, timeout $timeout s)"
	check "$name: PostgreSQL shut down cleanly" grep -q 'database system is shut down' <(logs "$name")
}

# ready_files VOLUME IMAGE: WAL files left waiting for the archive.
ready_files() {
	D run --rm --network none -v "$1:/d" --entrypoint sh "$2" -c 'ls /d/pg_wal/archive_status | grep -c "\.ready$"'
}

# ------------------------------------------------------------------ moto
moto_up() {
	command -v moto_server >/dev/null || { fail "moto_server not found (python3 moto[server])"; return 1; }
	MOTO_PORT=$(port)
	moto_server -H 127.0.0.1 -p "$MOTO_PORT" >"$work/moto.log" 2>&1 &
	moto_pid=$!
	MOTO_URL=http://127.0.0.1:$MOTO_PORT
	port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$MOTO_PORT") 2>/dev/null; }
	wait_until 180 port_open || { fail "moto_server did not come up: $(tail -n 5 "$work/moto.log")"; return 1; }
}
# moto accepts unsigned requests: a PUT makes a bucket.
make_bucket() {
	python3 -c 'import sys, urllib.request as u; u.urlopen(u.Request(sys.argv[1], method="PUT"), timeout=30)' \
		"$MOTO_URL/$1"
}

# ------------------------------------------------------------------ scenarios
image_checks() { # MAJOR
	local m=$1 img=totalrecall-test:$1 base=totalrecall-standin/postgres:$1 added out
	added=$(($(D image inspect -f '{{.Size}}' "$img") - $(D image inspect -f '{{.Size}}' "$base")))
	tr_note "postgres:$m: TotalRecall adds $added bytes ($(awk "BEGIN{printf \"%.2f\", $added/1048576}") MiB)"
	check "postgres:$m: the image adds less than 2 MiB ($added bytes)" test "$added" -lt $((2 * 1024 * 1024))
	out=$(D run --rm --network none --entrypoint sh "$img" -c \
		'ldd /usr/local/bin/totalrecall /usr/local/lib/totalrecall/drivers/*.so /usr/lib/postgresql/*/lib/totalrecall.so' 2>&1)
	assert_not_contains "$out" "not found" "postgres:$m: every library the added files need is in the image"
	assert_eq "SIGINT CMD docker-healthcheck-totalrecall.sh" \
		"$(D image inspect -f '{{.Config.StopSignal}} {{join .Config.Healthcheck.Test " "}}' "$img")" \
		"postgres:$m: stop signal SIGINT (fast shutdown) and the health check"
	TR_DESC="postgres:$m: docker run ... totalrecall --help" assert_rc 0 \
		D run --rm --network none "$img" totalrecall --help
	assert_contains "$(cat "$TR_LAST_OUT")" "archive-put" "postgres:$m: --help lists the commands"
}

# restored_checks WHAT NAME PORT STATE FIRST_ID: container NAME, started on
# an empty volume with a repository holding a backup, restored itself: it
# serves, has the rows STATE of the container it replaces, is on timeline 2
# and archives there (rows from FIRST_ID on are added, then a WAL switch).
# Returns 1 when it does not serve.
restored_checks() {
	local what=$1 name=$2 port=$3 state=$4 id=$5 seg
	essential "$what: new container on an empty volume serves" wait_serving "$name" "$port" || return 1
	assert_contains "$(logs "$name")" "restored: PostgreSQL will recover from the archive" "$what: it restored itself"
	assert_eq "$state" "$(rows_state "$name")" "$what: rows equal the stopped container's (backup + WAL after it)"
	assert_eq 2 "$(timeline "$name")" "$what: on timeline 2"
	add_batch "$name" 100 "$id" $((id + 99))
	seg=$(switch_wal "$name")
	check "$what: archives on the new timeline ($seg)" wait_until 60 archived "$name" "$seg"
	assert_eq 00000002 "${seg:0:8}" "$what: the archived segment is on timeline 2"
}

scenario_fs() { # MAJOR
	local m=$1 img=totalrecall-test:$1 repo id=fs-$1-$RANDOM pa pb pc pd a b c d
	local fs_env s1 s2 s3 target seg
	repo=$(volume "repo-$m")
	D run --rm --network none -v "$repo:/repo" --entrypoint chown "$img" postgres: /repo
	fs_env=(-v "$repo:/repo" -e TOTALRECALL_DRIVER=fs -e TOTALRECALL_BUCKET=/repo
		-e "TOTALRECALL_DATABASE_ID=$id" -e "TOTALRECALL_ENCRYPTION_KEY=$KEY")

	# --- a: first start, empty volume and repository
	a=$run-a$m; pa=$(port)
	start "$a" "$img" "$(volume "a$m")" "$pa" "${fs_env[@]}"
	essential "$m/a: first start serves on 127.0.0.1:$pa" wait_serving "$a" "$pa" || return 1
	assert_contains "$(logs "$a")" "no backup in the repository: a new cluster will be initialised" \
		"$m/a: empty repository: a new cluster is initialised"
	assert_contains "$(logs "$a")" "PostgreSQL init process complete" "$m/a: initdb ran (entrypoint of the base)"
	assert_eq "on" "$(dsql "$a" 'SHOW archive_mode')" "$m/a: archive_mode = on"
	assert_contains "$(dsql "$a" 'SHOW archive_command')" "totalrecall archive-put" "$m/a: archive_command"
	assert_contains "$(dsql "$a" 'SHOW shared_preload_libraries')" "totalrecall" "$m/a: the worker is preloaded"
	assert_eq "$m" "$(dsql "$a" 'SHOW server_version_num' | cut -c1-2)" "$m/a: PostgreSQL $m"
	check "$m/a: the worker runs" wait_until 30 worker_running "$a"
	check "$m/a: the metrics table exists" wait_until 30 metrics_table "$a"
	check "$m/a: the worker's schedule took a backup" wait_until 120 backups_at_least "$a" 1
	assert_contains "$(logs "$a")" "backup: due: no backup in the repository yet" "$m/a: ... because one was due"
	check "$m/a: the backup is in totalrecall.metrics" wait_until 30 metric_at_least "$a" backup 1
	check "$m/a: archive-put is in totalrecall.metrics" wait_until 30 metric_at_least "$a" archive-put 1

	dsql "$a" "CREATE TABLE t (id int PRIMARY KEY, batch int NOT NULL, v text NOT NULL)" >/dev/null
	add_batch "$a" 1 1 5000
	s1=$(rows_state "$a")
	assert_rc 0 D exec -u postgres "$a" totalrecall backup
	assert_eq 2 "$(backup_count "$a")" "$m/a: docker exec ... totalrecall backup added a backup"
	add_batch "$a" 2 5001 8000
	s2=$(rows_state "$a")
	# The recovery target: after batch 2 committed, before batch 3 starts.
	target=$(dsql "$a" "SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') || '+00'")
	add_batch "$a" 3 8001 9000
	dsql "$a" "UPDATE t SET v = 'changed' WHERE id % 7 = 0" >/dev/null
	s3=$(rows_state "$a")
	seg=$(switch_wal "$a")
	# Stopped at once: the segment just completed must still reach the
	# archive (the archiver's last cycle at shutdown).
	stop_clean "$a" 10
	assert_eq 0 "$(ready_files "$run-a$m" "$img")" "$m/a: no WAL file left unarchived after docker stop"
	assert_contains "$(logs "$a")" "archive-put $seg" "$m/a: the segment switched just before the stop ($seg) was archived"

	# --- b: new container, new empty volume: restore of the latest state
	b=$run-b$m; pb=$(port)
	start "$b" "$img" "$(volume "b$m")" "$pb" "${fs_env[@]}"
	restored_checks "$m/b" "$b" "$pb" "$s3" 9001 || return 1
	check "$m/b: the restore is in totalrecall.metrics" wait_until 30 metric_at_least "$b" restore 1

	# The health check follows archiving.
	check "$m/b: healthy while archiving works" wait_until 60 health_is "$b" healthy
	seg=$(dsql "$b" "SELECT last_archived_wal FROM pg_stat_archiver")
	local waldir=/repo/$id/wal/${seg:0:16}
	D exec "$b" chmod 0555 "$waldir"
	add_batch "$b" 5 9101 9200
	switch_wal "$b" >/dev/null
	check "$m/b: archiving fails while the repository refuses writes" wait_until 60 archive_failing "$b"
	check "$m/b: ... and the container turns unhealthy" wait_until 60 health_is "$b" unhealthy
	assert_contains "$(last_health_output "$b")" "archiving fails" "$m/b: the health log says why"
	D exec "$b" chmod 0700 "$waldir"
	add_batch "$b" 6 9201 9300
	seg=$(switch_wal "$b")
	check "$m/b: archiving resumes" wait_until 120 archived "$b" "$seg"
	check "$m/b: ... and the container is healthy again" wait_until 60 health_is "$b" healthy

	# docker exec without -u runs as root: a command that creates the
	# metrics spool must leave it to the server's user, or every later
	# record of the server's commands would be lost.  Shown on a spool
	# directory of its own, where the worker cannot ingest in between.
	D exec "$b" install -d -o postgres -m 0700 /tmp/spool-check
	D exec -e TOTALRECALL_SPOOL_DIR=/tmp/spool-check "$b" totalrecall list >/dev/null 2>&1
	assert_eq postgres "$(D exec "$b" stat -c %U /tmp/spool-check/metrics.spool 2>&1)" \
		"$m/b: docker exec as root leaves the metrics spool to the server's user"

	TR_DESC="$m: docker run ... totalrecall verify (fs repository)" assert_rc 0 \
		D run --rm --network none -u postgres "${fs_env[@]}" "$img" totalrecall verify
	stop_clean "$b" 60 TERM

	# --- c: point in time recovery into a new container
	c=$run-c$m; pc=$(port)
	start "$c" "$img" "$(volume "c$m")" "$pc" "${fs_env[@]}" \
		-e "TOTALRECALL_TARGET_TIME=$target" -e TOTALRECALL_TARGET_ACTION=promote
	essential "$m/c: point in time recovery serves" wait_serving "$c" "$pc" || return 1
	assert_eq "$s2" "$(rows_state "$c")" "$m/c: rows as they were at $target (batches 1 and 2, not 3)"
	assert_ne "$s1" "$s2" "$m/c: (batch 2 changed the rows)"
	stop_clean "$c" 60

	# --- d: a data directory already there is not restored
	d=$run-d$m; pd=$(port)
	start "$d" "$img" "$run-a$m" "$pd" "${fs_env[@]}"
	essential "$m/d: a container on the first volume serves" wait_serving "$d" "$pd" || return 1
	assert_not_contains "$(logs "$d")" "empty data directory" "$m/d: no restore attempted"
	assert_contains "$(logs "$d")" "Skipping initialization" "$m/d: the existing cluster is used"
	assert_eq 1 "$(timeline "$d")" "$m/d: still timeline 1"
	assert_eq "$s3" "$(rows_state "$d")" "$m/d: its own rows"
	stop_clean "$d" 60
}

scenario_s3() { # MAJOR
	local m=$1 img=totalrecall-test:$1 bucket=tr-image-$1 id=s3-$1 e f pe pf s3_env state seg
	make_bucket "$bucket" || { fail "$m/s3: cannot create bucket $bucket"; return 1; }
	mkdir -p "$work/secrets-$m"
	printf '%s\n' "$KEY" >"$work/secrets-$m/key"
	printf 'moto-secret-%s\n' "$RANDOM" >"$work/secrets-$m/aws_secret"
	chown -R 999:999 "$work/secrets-$m"
	chmod 0400 "$work/secrets-$m"/*
	s3_env=(-v "$work/secrets-$m:/run/secrets:ro" -e TOTALRECALL_DRIVER=s3 -e "TOTALRECALL_BUCKET=$bucket"
		-e "TOTALRECALL_S3_ENDPOINT=$MOTO_URL" -e TOTALRECALL_S3_URI_STYLE=path -e AWS_REGION=us-east-1
		-e AWS_ACCESS_KEY_ID=testing -e AWS_SECRET_ACCESS_KEY_FILE=/run/secrets/aws_secret
		-e "TOTALRECALL_DATABASE_ID=$id" -e TOTALRECALL_ENCRYPTION_KEY_FILE=/run/secrets/key
		-e "TOTALRECALL_SCHEDULE=* * * * *")
	# The official image's other variables, and an init script, which the
	# entrypoint of the base runs on a temporary server that already
	# archives and loads the worker.
	mkdir -p "$work/initdb-$m"
	cat >"$work/initdb-$m/01-schema.sql" <<-'EOF'
	CREATE TABLE t (id int PRIMARY KEY, batch int NOT NULL, v text NOT NULL);
	INSERT INTO t SELECT g, 0, md5(g::text) FROM generate_series(100001, 100500) g;
	EOF
	chmod -R a+rX "$work/initdb-$m"
	local initdb_env=(-e POSTGRES_USER=app -e POSTGRES_DB=appdb -e POSTGRES_INITDB_ARGS=--data-checksums
		-v "$work/initdb-$m:/docker-entrypoint-initdb.d:ro")
	e=$run-e$m; pe=$(port); f=$run-f$m; pf=$(port)
	PG_USER_OF[$e]=app PG_DB_OF[$e]=appdb PG_USER_OF[$f]=app PG_DB_OF[$f]=appdb
	start "$e" "$img" "$(volume "e$m")" "$pe" "${s3_env[@]}" "${initdb_env[@]}"
	essential "$m/e: first start with an empty bucket serves" wait_serving "$e" "$pe" || return 1
	assert_contains "$(logs "$e")" "running /docker-entrypoint-initdb.d/01-schema.sql" "$m/e: the init script ran"
	assert_eq 500 "$(dsql "$e" 'SELECT count(*) FROM t WHERE batch = 0')" "$m/e: ... and made its rows (in appdb, as app)"
	assert_eq on "$(dsql "$e" 'SHOW data_checksums')" "$m/e: POSTGRES_INITDB_ARGS reached initdb"
	check "$m/e: the worker keeps its metrics in POSTGRES_DB (appdb)" wait_until 30 metrics_table "$e"
	check "$m/e: healthy (the health check connects as POSTGRES_USER)" wait_until 60 health_is "$e" healthy
	# The entrypoint turns NAME_FILE into NAME=file:... for the server;
	# commands run with docker exec see the container's NAME_FILE
	# variables, which totalrecall reads the same way.
	check "$m/e: docker exec ... totalrecall list with the _FILE secrets" quiet tr_exec "$e" list
	assert_contains "$(logs "$e")" "no backup in the repository: a new cluster will be initialised" \
		"$m/e: empty bucket: a new cluster is initialised"
	check "$m/e: the worker's schedule took a backup to S3" wait_until 120 backups_at_least "$e" 1
	add_batch "$e" 1 1 3000
	state=$(rows_state "$e")
	seg=$(switch_wal "$e")
	check "$m/e: archived to S3 ($seg)" wait_until 60 archived "$e" "$seg"
	stop_clean "$e" 60
	assert_eq 0 "$(ready_files "$run-e$m" "$img")" "$m/e: no WAL file left unarchived after docker stop"

	start "$f" "$img" "$(volume "f$m")" "$pf" "${s3_env[@]}" "${initdb_env[@]}"
	restored_checks "$m/f" "$f" "$pf" "$state" 3001 || return 1
	TR_DESC="$m/f: docker exec ... totalrecall verify (s3 repository)" assert_rc 0 tr_exec "$f" verify
}

# s3_finish MAJOR: container f (left running while the fs scenario ran)
# takes a backup on its own schedule, every minute, judged from the
# repository; then stops.
s3_finish() {
	local f=$run-f$1
	running "$f" || return 0
	check "$1/f: the worker's schedule (* * * * *) took a backup in the restored container" \
		wait_until 90 took_backup "$f"
	assert_contains "$(logs "$f")" "backup: due: " "$1/f: ... when due"
	stop_clean "$f" 60
}

dump_logs() { # on failure: the end of every container's log
	local n
	for n in $(D ps -a --filter "label=$label" --format '{{.Names}}'); do
		tr_note "--- last lines of container $n"
		D logs --tail 20 "$n" 2>&1 | sed 's/^/# /'
	done
}

moto_up
for m in "${built[@]}"; do
	t=$SECONDS
	image_checks "$m"
	[ -z "$moto_pid" ] || scenario_s3 "$m" || fail "$m: s3 scenario stopped early"
	scenario_fs "$m" || fail "$m: fs scenario stopped early"
	s3_finish "$m"
	note_time "postgres:$m scenarios" "$t"
done
note_time "test_image in all" "$t_start"
[ "$TR_FAIL" -eq 0 ] || dump_logs
finish
