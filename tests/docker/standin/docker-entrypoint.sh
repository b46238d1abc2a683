#!/usr/bin/env bash
# docker-entrypoint.sh of the stand-in for the official postgres image
# (Debian flavour), made by tests/docker/build-base.sh.  Written for
# TotalRecall's image tests; it behaves as the official entrypoint does in
# what the TotalRecall image relies on:
#
#  - "postgres ARGS" (or options only, which mean "postgres OPTIONS"): as
#    root, creates $PGDATA (0700) and /var/run/postgresql, hands them to the
#    postgres user and runs itself again as that user with gosu;
#  - a data directory without PG_VERSION is initialised: POSTGRES_PASSWORD
#    is required unless POSTGRES_HOST_AUTH_METHOD=trust; initdb with
#    --username=$POSTGRES_USER, the password from a pipe, POSTGRES_INITDB_ARGS
#    and POSTGRES_INITDB_WALDIR; "host all all all <method>" appended to
#    pg_hba.conf (method: POSTGRES_HOST_AUTH_METHOD, else the server's
#    password_encryption); then a temporary server started with the same
#    ARGS, on the Unix socket only, creates POSTGRES_DB and runs
#    /docker-entrypoint-initdb.d/* in name order (*.sh executed when
#    executable, else sourced; *.sql, *.sql.gz, *.sql.xz, *.sql.zst through
#    psql, stopping at the first error), and is stopped (fast);
#  - POSTGRES_PASSWORD, POSTGRES_USER, POSTGRES_DB and POSTGRES_INITDB_ARGS
#    may be given as NAME_FILE;
#  - finally exec "$@": postgres replaces this script and is the
#    container's PID 1, as in the official image.
# Any other command is executed as given.
set -Eeo pipefail

ep_err() { echo "error: $*" >&2; exit 1; }

# NAME_FILE=/path: NAME is the file's content (never both).
ep_file_env() {
	local var=$1 fvar=${1}_FILE default=${2:-} value
	if [ -n "${!var:-}" ] && [ -n "${!fvar:-}" ]; then
		ep_err "both $var and $fvar are set (but are exclusive)"
	fi
	value=$default
	if [ -n "${!var:-}" ]; then
		value=${!var}
	elif [ -n "${!fvar:-}" ]; then
		value=$(<"${!fvar}")
	fi
	export "$var=$value"
	unset "$fvar"
}

ep_setup_env() {
	ep_file_env POSTGRES_PASSWORD
	ep_file_env POSTGRES_USER postgres
	ep_file_env POSTGRES_DB "$POSTGRES_USER"
	ep_file_env POSTGRES_INITDB_ARGS
	: "${PGDATA:?PGDATA is not set}"
	: "${POSTGRES_HOST_AUTH_METHOD:=}"
	export PGDATA POSTGRES_HOST_AUTH_METHOD
}

# As root: the directories the server needs, owned by postgres.
ep_prepare_dirs() {
	mkdir -p "$PGDATA" /var/run/postgresql
	chmod 0700 "$PGDATA" 2>/dev/null || :
	chmod 3775 /var/run/postgresql 2>/dev/null || :
	if [ -n "${POSTGRES_INITDB_WALDIR:-}" ]; then
		mkdir -p "$POSTGRES_INITDB_WALDIR"
		find "$POSTGRES_INITDB_WALDIR" \! -user postgres -exec chown postgres: {} +
	fi
	find "$PGDATA" /var/run/postgresql \! -user postgres -exec chown postgres: {} +
}

ep_initdb() {
	if [ -z "$POSTGRES_PASSWORD" ] && [ "$POSTGRES_HOST_AUTH_METHOD" != trust ]; then
		ep_err "Database is uninitialized and superuser password is not specified." \
			"Set POSTGRES_PASSWORD (or POSTGRES_HOST_AUTH_METHOD=trust)."
	fi
	local waldir=()
	[ -z "${POSTGRES_INITDB_WALDIR:-}" ] || waldir=(--waldir "$POSTGRES_INITDB_WALDIR")
	# shellcheck disable=SC2086 # POSTGRES_INITDB_ARGS is a list of words
	initdb --username="$POSTGRES_USER" --pwfile=<(printf '%s\n' "$POSTGRES_PASSWORD") \
		"${waldir[@]}" $POSTGRES_INITDB_ARGS
}

ep_setup_hba() {
	local method=$POSTGRES_HOST_AUTH_METHOD
	[ -n "$method" ] || method=$(postgres -D "$PGDATA" -C password_encryption)
	printf '\n# from the entrypoint: POSTGRES_HOST_AUTH_METHOD\nhost all all all %s\n' "$method" >>"$PGDATA/pg_hba.conf"
}

# Runs psql as the superuser on the temporary server.
ep_psql() {
	PGPASSWORD=$POSTGRES_PASSWORD psql -X -q -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --no-password "$@"
}

# ARGS: the server's arguments (after "postgres"); the temporary server
# gets them too, then listens on no TCP address.
ep_temp_server() {
	local opts
	opts=$(printf '%q ' "$@" -c "listen_addresses=" -p "${PGPORT:-5432}")
	PGUSER=$POSTGRES_USER pg_ctl -D "$PGDATA" -o "$opts" -w start
}

ep_create_db() {
	[ "$POSTGRES_DB" != postgres ] || return 0
	local exists
	# psql interpolates :'db' in its input, not in -c commands.
	exists=$(ep_psql --dbname postgres -At -v db="$POSTGRES_DB" <<<"SELECT 1 FROM pg_database WHERE datname = :'db'")
	[ -n "$exists" ] || ep_psql --dbname postgres -v db="$POSTGRES_DB" <<<'CREATE DATABASE :"db"'
}

ep_run_init_files() {
	local f
	for f in /docker-entrypoint-initdb.d/*; do
		[ -e "$f" ] || continue
		case "$f" in
		*.sh)
			if [ -x "$f" ]; then
				echo "$0: running $f"
				"$f"
			else
				echo "$0: sourcing $f"
				# shellcheck disable=SC1090
				. "$f"
			fi ;;
		*.sql) echo "$0: running $f"; ep_psql --dbname "$POSTGRES_DB" -f "$f" ;;
		*.sql.gz) echo "$0: running $f"; gzip -dc "$f" | ep_psql --dbname "$POSTGRES_DB" ;;
		*.sql.xz) echo "$0: running $f"; xz -dc "$f" | ep_psql --dbname "$POSTGRES_DB" ;;
		*.sql.zst) echo "$0: running $f"; zstd -dc "$f" | ep_psql --dbname "$POSTGRES_DB" ;;
		*) echo "$0: ignoring $f" ;;
		esac
	done
}

ep_wants_help() {
	local a
	for a; do
		case "$a" in -'?' | --help | --describe-config | -V | --version) return 0 ;; esac
	done
	return 1
}

if [ "${1:0:1}" = - ]; then
	set -- postgres "$@"
fi

if [ "$1" = postgres ] && ! ep_wants_help "$@"; then
	ep_setup_env
	if [ "$(id -u)" = 0 ]; then
		ep_prepare_dirs
		exec gosu postgres "${BASH_SOURCE[0]}" "$@"
	fi
	if [ -s "$PGDATA/PG_VERSION" ]; then
		echo "PostgreSQL Database directory appears to contain a database; Skipping initialization"
	else
		ep_initdb
		ep_setup_hba
		ep_temp_server "${@:2}"
		ep_create_db
		ep_run_init_files
		pg_ctl -D "$PGDATA" -m fast -w stop
		echo "PostgreSQL init process complete; ready for start up."
	fi
fi

exec "$@"
