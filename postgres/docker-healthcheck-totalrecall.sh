#!/usr/bin/env bash
# docker-healthcheck-totalrecall.sh - the image's HEALTHCHECK.  Healthy
# (exit 0) only when PostgreSQL accepts connections, is not in recovery,
# archives (archive_mode is not off), its archiver's last attempt succeeded
# (pg_stat_archiver: no failure after the last archived file), and no WAL
# file has been waiting for the archive longer than
# TOTALRECALL_HEALTH_MAX_WAIT seconds (default 300; a hung archive_command
# reports no failure).  Otherwise exit 1 and one line saying why.
#
# Cheap on purpose: one local query, no storage request and no WAL switch
# (`totalrecall check` makes both, too much every 30 seconds).  An idle
# server makes no archive attempt, so its verdict is that of the last one.
# Connects as POSTGRES_USER to POSTGRES_DB on the local socket, as the
# postgres user (the health check runs as root).
set -uo pipefail

if [ "$(id -u)" = 0 ]; then
	if command -v gosu >/dev/null; then exec gosu postgres "$0" "$@"; fi
	if command -v su-exec >/dev/null; then exec su-exec postgres "$0" "$@"; fi
fi

unhealthy() { echo "unhealthy: $*"; exit 1; }

# POSTGRES_USER and the others may come as NAME_FILE, as for the entrypoint.
from_file() {
	local fvar=${1}_FILE
	if [ -z "${!1:-}" ] && [ -n "${!fvar:-}" ] && [ -r "${!fvar}" ]; then
		printf '%s' "$(<"${!fvar}")"
	else
		printf '%s' "${!1:-}"
	fi
}
user=$(from_file POSTGRES_USER)
user=${user:-postgres}
db=$(from_file POSTGRES_DB)
db=${db:-$user}
password=$(from_file POSTGRES_PASSWORD)
max_wait=${TOTALRECALL_HEALTH_MAX_WAIT:-300}
[[ $max_wait =~ ^[0-9]+$ ]] || unhealthy "TOTALRECALL_HEALTH_MAX_WAIT is not a number of seconds"

verdict=$(PGPASSWORD=$password PGCONNECT_TIMEOUT=5 psql -X -At -v ON_ERROR_STOP=1 \
	-h "${PGHOST:-/var/run/postgresql}" -p "${PGPORT:-5432}" -U "$user" -d "$db" -c "
SELECT CASE
  WHEN pg_is_in_recovery() THEN 'in recovery'
  WHEN current_setting('archive_mode') = 'off' THEN 'archive_mode is off'
  WHEN a.last_failed_time IS NOT NULL
       AND (a.last_archived_time IS NULL OR a.last_failed_time >= a.last_archived_time)
    THEN format('archiving fails: %s at %s (%s failures; see the server log)',
                a.last_failed_wal, a.last_failed_time, a.failed_count)
  WHEN r.oldest < now() - make_interval(secs => $max_wait)
    THEN format('WAL waiting for the archive since %s (%s files)', r.oldest, r.n)
  ELSE 'ok' END
FROM pg_stat_archiver a,
     (SELECT min(modification) AS oldest, count(*) AS n
        FROM pg_ls_archive_statusdir() WHERE name LIKE '%.ready') r" 2>&1) ||
	unhealthy "PostgreSQL does not answer: ${verdict//$'\n'/ }"
[ "$verdict" = ok ] || unhealthy "$verdict"
echo "healthy: archiving works"
