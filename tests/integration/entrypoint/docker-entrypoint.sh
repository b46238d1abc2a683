#!/usr/bin/env bash
# Minimal stand-in for the official postgres image's docker-entrypoint.sh,
# for tests/integration/test_entrypoint.sh (no Docker engine there).  It does
# what the official one does in the cases tested, and nothing else:
#  - "-x ..." means "postgres -x ...";
#  - POSTGRES_PASSWORD, POSTGRES_USER, POSTGRES_DB, POSTGRES_INITDB_ARGS,
#    each also as NAME_FILE (the official file_env);
#  - as root: creates PGDATA, hands it to postgres, re-executes as postgres
#    (su-exec, as in the alpine image);
#  - empty PGDATA: requires a password (or POSTGRES_HOST_AUTH_METHOD=trust),
#    initdb --username --pwfile, a "host all all all scram-sha-256" line,
#    creates POSTGRES_DB (the official one does that through a temporary
#    server, and runs /docker-entrypoint-initdb.d, which this one does not);
#  - exec "$@".
set -Eeo pipefail

file_env() {
	local var=$1 fvar=${1}_FILE def=${2:-}
	if [ -n "${!var:-}" ] && [ -n "${!fvar:-}" ]; then
		echo >&2 "error: both $var and $fvar are set (but are exclusive)"; exit 1
	fi
	local val=$def
	if [ -n "${!var:-}" ]; then val=${!var}; elif [ -n "${!fvar:-}" ]; then val=$(<"${!fvar}"); fi
	export "$var=$val"
	unset "$fvar"
}

if [ "${1:0:1}" = - ]; then set -- postgres "$@"; fi

if [ "$1" = postgres ]; then
	file_env POSTGRES_PASSWORD
	file_env POSTGRES_USER postgres
	file_env POSTGRES_DB "$POSTGRES_USER"
	file_env POSTGRES_INITDB_ARGS
	: "${PGDATA:?PGDATA is not set}"
	mkdir -p "$PGDATA"
	chmod 700 "$PGDATA" 2>/dev/null || :
	if [ "$(id -u)" = 0 ]; then
		chown -R postgres "$PGDATA"
		exec su-exec postgres "$BASH_SOURCE" "$@"
	fi
	if [ ! -s "$PGDATA/PG_VERSION" ]; then
		if [ -z "$POSTGRES_PASSWORD" ] && [ "${POSTGRES_HOST_AUTH_METHOD:-}" != trust ]; then
			echo >&2 "Error: Database is uninitialized and superuser password is not specified."; exit 1
		fi
		# shellcheck disable=SC2086
		initdb --username="$POSTGRES_USER" --pwfile=<(printf '%s\n' "$POSTGRES_PASSWORD") $POSTGRES_INITDB_ARGS
		printf '\nhost all all all %s\n' "${POSTGRES_HOST_AUTH_METHOD:-scram-sha-256}" >>"$PGDATA/pg_hba.conf"
		if [ "$POSTGRES_DB" != postgres ]; then
			echo "CREATE DATABASE \"$POSTGRES_DB\"" | postgres --single -D "$PGDATA" postgres >/dev/null
		fi
		echo "PostgreSQL init process complete; ready for start up."
	else
		echo "PostgreSQL Database directory appears to contain a database; Skipping initialization"
	fi
fi
exec "$@"
