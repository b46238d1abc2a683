#!/usr/bin/env bash
# docker-entrypoint-totalrecall.sh - the image's entrypoint: prepares
# TotalRecall, then hands over to the official docker-entrypoint.sh.
#
#  1. Checks TotalRecall's settings (variables, with file:/path and env:NAME
#     values, or NAME_FILE for the secret ones) and stops with one clear
#     line, before PostgreSQL starts, when a required one is missing.
#  2. On an empty data directory runs `totalrecall restore --try`: a new
#     container with the same database id comes back with its data; with no
#     backup in the repository, nothing happens and the official entrypoint
#     runs initdb as usual.
#  3. Adds the server settings TotalRecall needs as -c options, each only
#     where neither the user's -c arguments nor the data directory's own
#     configuration (postgresql.conf, postgresql.auto.conf, as restored)
#     sets it: archive_mode=on, archive_command, restore_command,
#     archive_timeout (600 s), and totalrecall added to
#     shared_preload_libraries (merged with the user's list, never replacing
#     it).  They are recomputed at every start, so they survive a restore.
#  4. exec docker-entrypoint.sh with the arguments: every variable of the
#     official image (POSTGRES_PASSWORD_FILE included) works as before.
#
# TotalRecall itself reads its settings from the environment, which the
# server and so archive_command inherit.
set -Eeo pipefail

me=totalrecall-entrypoint
tr_log() { echo "$me: $*" >&2; }
tr_die() { echo "$me: error: $*" >&2; exit 1; }

pg_user=postgres
tr_bin=$(command -v totalrecall) || tr_die "the totalrecall binary is not on PATH"

# Runs a command as the server's user (the official image starts as root).
as_pg() {
	if [ "$(id -u)" = 0 ]; then
		if command -v su-exec >/dev/null; then su-exec "$pg_user" "$@"
		else gosu "$pg_user" "$@"; fi
	else
		"$@"
	fi
}

# NAME_FILE=/path becomes NAME=file:/path for the secret settings, as the
# official image does for POSTGRES_PASSWORD_FILE; the secret itself stays in
# its file and never enters the environment.
tr_file_env() {
	local var=$1 fvar=${1}_FILE
	if [ -n "${!var:-}" ] && [ -n "${!fvar:-}" ]; then
		tr_die "both $var and $fvar are set (but are exclusive); PostgreSQL was not started"
	fi
	if [ -n "${!fvar:-}" ]; then
		export "$var=file:${!fvar}"
		unset "$fvar"
	fi
}

# Prints why the value of $1 is unusable (empty when it is fine).
tr_value_problem() {
	local var=$1 v=${!1:-} level
	for level in 1 2; do
		case "$v" in
		file:*)
			if ! as_pg test -r "${v#file:}"; then
				echo "$var: cannot read ${v#file:} (as user $(as_pg id -un))"; return
			fi
			return ;;
		env:*)
			local ref=${v#env:}
			if [ -z "$ref" ] || [ -z "${!ref:-}" ]; then echo "$var: refers to $v, which is not set"; return; fi
			v=${!ref} ;;
		*) return ;;
		esac
	done
}

tr_setup_env() {
	local v
	for v in TOTALRECALL_ENCRYPTION_KEY TOTALRECALL_DATABASE_ID TOTALRECALL_BUCKET TOTALRECALL_PG_CONNINFO \
		AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN; do
		tr_file_env "$v"
	done
	export PGDATA=${PGDATA:-/var/lib/postgresql/data}
	export TOTALRECALL_DRIVER=${TOTALRECALL_DRIVER:-s3}
	export TOTALRECALL_PGDATA=${TOTALRECALL_PGDATA:-$PGDATA}
	export TOTALRECALL_STATE_DIR=${TOTALRECALL_STATE_DIR:-/var/lib/postgresql/.cache/totalrecall}
}

tr_check_env() {
	local missing=() v p
	for v in TOTALRECALL_DATABASE_ID TOTALRECALL_ENCRYPTION_KEY TOTALRECALL_BUCKET; do
		[ -n "${!v:-}" ] || missing+=("$v")
	done
	# s3 and minio: static keys come as a pair; without them the driver
	# walks the AWS credential chain (web identity on EKS, ECS and EKS Pod
	# Identity container credentials, a profile, EC2 instance metadata),
	# which cannot be judged from here: a missing source fails the first
	# archive-put, naming every source it tried.
	case "$TOTALRECALL_DRIVER" in
	s3 | minio)
		if [ -n "${AWS_ACCESS_KEY_ID:-}" ] && [ -z "${AWS_SECRET_ACCESS_KEY:-}" ]; then
			missing+=(AWS_SECRET_ACCESS_KEY)
		elif [ -z "${AWS_ACCESS_KEY_ID:-}" ] && [ -n "${AWS_SECRET_ACCESS_KEY:-}" ]; then
			missing+=(AWS_ACCESS_KEY_ID)
		elif [ "${TOTALRECALL_S3_CREDENTIALS:-auto}" = static ] && [ -z "${AWS_ACCESS_KEY_ID:-}" ]; then
			missing+=(AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY)
		fi ;;
	esac
	if [ "$TOTALRECALL_DRIVER" = minio ] && [ -z "${TOTALRECALL_S3_ENDPOINT:-}${AWS_ENDPOINT_URL:-}" ]; then
		missing+=(TOTALRECALL_S3_ENDPOINT)
	fi
	if [ ${#missing[@]} -gt 0 ]; then
		tr_die "missing required setting(s) ${missing[*]} (driver $TOTALRECALL_DRIVER): set them as variables" \
			"(a value may be file:/run/secrets/NAME, or use NAME_FILE); PostgreSQL was not started"
	fi
	for v in $(compgen -e | grep -E '^(TOTALRECALL_|AWS_)'); do
		p=$(tr_value_problem "$v")
		[ -z "$p" ] || tr_die "$p; PostgreSQL was not started"
	done
}

# --- server settings ---------------------------------------------------------
declare -A user_set=()      # settings given as -c/--name=value by the user
user_spl=                   # the user's shared_preload_libraries, if given

tr_scan_args() {
	local a kv name
	while [ $# -gt 0 ]; do
		a=$1; shift; kv=
		case "$a" in
		-c) kv=${1:-}; [ $# -gt 0 ] && shift ;;
		-c*) kv=${a#-c} ;;
		--*=*) kv=${a#--} ;;
		esac
		[ -n "$kv" ] || continue
		name=${kv%%=*}; name=${name//-/_}; name=${name,,}
		user_set[$name]=1
		[ "$name" = shared_preload_libraries ] && user_spl=${kv#*=}
	done
	return 0
}

# The value the data directory's configuration files give a setting (empty
# when there is no data directory yet: initdb's defaults apply then).
tr_file_value() {
	[ -s "$PGDATA/PG_VERSION" ] || return 0
	as_pg postgres -D "$PGDATA" -C "$1" 2>/dev/null || true
}

tr_server_args() {
	local -n out=$1
	shift
	tr_scan_args "$@"
	out=("$@")
	local v
	if [ -z "${user_set[archive_mode]:-}" ]; then
		v=$(tr_file_value archive_mode)
		[ "$v" = on ] || [ "$v" = always ] || out+=(-c archive_mode=on)
	fi
	if [ -z "${user_set[archive_command]:-}" ] && [ -z "$(tr_file_value archive_command)" ]; then
		out+=(-c "archive_command=$tr_bin archive-put %p")
	fi
	if [ -z "${user_set[restore_command]:-}" ] && [ -z "$(tr_file_value restore_command)" ]; then
		out+=(-c "restore_command=$tr_bin archive-get %p %f")
	fi
	if [ -z "${user_set[archive_timeout]:-}" ]; then
		v=$(tr_file_value archive_timeout)
		[ -n "$v" ] && [ "$v" != 0 ] || out+=(-c "archive_timeout=${TOTALRECALL_ARCHIVE_TIMEOUT:-600}")
	fi
	# shared_preload_libraries: the user's list (from -c, else from the
	# configuration files) with totalrecall added when absent.
	local spl=$user_spl
	[ -n "${user_set[shared_preload_libraries]:-}" ] || spl=$(tr_file_value shared_preload_libraries)
	spl=${spl//\'/}; spl=${spl//\"/}
	case ",${spl// /}," in
	*,totalrecall,*) ;;
	*) out+=(-c "shared_preload_libraries=${spl:+$spl,}totalrecall") ;;
	esac
}

# --- main ----------------------------------------------------------------------
tr_want_help() {
	local a
	for a; do case "$a" in -'?' | --help | --describe-config | -V | --version) return 0 ;; esac; done
	return 1
}

if [ "${1:0:1}" = - ]; then
	set -- postgres "$@"
fi

if [ "$1" = postgres ] && ! tr_want_help "$@"; then
	tr_setup_env
	tr_check_env
	if [ "$(id -u)" = 0 ]; then
		mkdir -p "$PGDATA" "$TOTALRECALL_STATE_DIR"
		chown "$pg_user" "$PGDATA" "$TOTALRECALL_STATE_DIR"
		chmod 700 "$PGDATA" "$TOTALRECALL_STATE_DIR"
	fi
	if [ ! -s "$PGDATA/PG_VERSION" ]; then
		tr_log "empty data directory: restoring database $TOTALRECALL_DATABASE_ID if the repository has a backup"
		# Every command appends a metrics record to the spool, by default in
		# the data directory: keep it outside while the directory may have to
		# stay empty for initdb (and for a retry after a failed restore), and
		# hand the record over only once there is a restored cluster.
		spool=
		if [ -z "${TOTALRECALL_SPOOL_DIR:-}" ]; then
			spool=$TOTALRECALL_STATE_DIR/restore-spool
			as_pg rm -rf "$spool"
		fi
		as_pg env ${spool:+TOTALRECALL_SPOOL_DIR="$spool"} "$tr_bin" restore --try "$PGDATA" ||
			tr_die "totalrecall restore failed (see above); PostgreSQL was not started"
		if [ -s "$PGDATA/PG_VERSION" ]; then
			tr_log "restored: PostgreSQL will recover from the archive, then start"
			if [ -n "$spool" ] && [ -s "$spool/metrics.spool" ]; then
				as_pg sh -c 'mkdir -p -m 700 "$1" && cat "$2" >>"$1/metrics.spool"' - \
					"$PGDATA/totalrecall_spool" "$spool/metrics.spool"
			fi
		else
			tr_log "no backup in the repository: a new cluster will be initialised"
		fi
		[ -z "$spool" ] || as_pg rm -rf "$spool"
	fi
	tr_server_args args "${@:2}"
	set -- postgres "${args[@]}"
fi

exec docker-entrypoint.sh "$@"
