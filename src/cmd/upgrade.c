/*
 * upgrade.c - `totalrecall upgrade` (pgBackRest: stanza-upgrade).
 *
 * pg_upgrade makes a new cluster with a new system identifier, whose WAL
 * file names start again at timeline 1.  Run after it, with the new
 * cluster, this records that cluster as the repository's next history
 * section (section.h): from then on archive-put and backup accept the new
 * cluster (its WAL goes under the new section's prefix) and refuse the
 * old one, whose backups stay listed and restorable.  Running it again is
 * harmless; an older section's cluster and a lower major version are
 * refused.
 *
 * The new cluster's identity comes from the data directory (--pgdata)
 * while it is stopped (global/pg_control and PG_VERSION), else from the
 * running server (--pg-conninfo, PG* variables); when both can be read
 * they must agree, so that an old server still answering on the default
 * port is never taken for the new cluster.
 */
#include "config.h"
#include "pg/clusterid.h"
#include "cmd/commands.h"
#include "conf/resolve.h"
#include "base/log.h"
#include "pg/pgconn.h"
#include "repo/repo.h"
#include "repo/section.h"
#include "base/util.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int server_id(const tr_config *cfg, tr_cluster_id *id, char *err, size_t errlen)
{
	tr_pg_info info;
	tr_pg *pg = tr_pg_connect_to(tr_config_get(cfg, TR_S_PG_CONNINFO), err, errlen);
	int rc = pg ? tr_pg_info_get(pg, &info, err, errlen) : -1;
	tr_pg_close(pg);
	if (rc == 0 && tr_cluster_id_from_server(info.version, info.system_id, id) != 0) {
		snprintf(err, errlen, "the server reports an unreadable system identifier or version");
		rc = -1;
	}
	return rc;
}

/* The new cluster's identity; *from says where it was read. */
static int new_cluster_id(const tr_config *cfg, tr_cluster_id *id, char *from, size_t fromlen, char *err,
			  size_t errlen)
{
	const char *pgdata = tr_config_get(cfg, TR_S_PGDATA);
	char pid[PATH_MAX], a[96], b[96], why[1024];
	tr_cluster_id served;
	if (pgdata) {
		if (tr_cluster_id_from_pgdata(pgdata, id, err, errlen) != 0)
			return -1;
		snprintf(from, fromlen, "the data directory %s", pgdata);
		snprintf(pid, sizeof pid, "%s/postmaster.pid", pgdata);
		if (access(pid, F_OK) != 0)
			return 0;   /* stopped: nothing else to ask */
		if (server_id(cfg, &served, why, sizeof why) != 0) {
			snprintf(err, errlen, "%s is running, but its server does not answer (%s): set --pg-conninfo, or stop "
				 "it and run upgrade again", pgdata, why);
			return -1;
		}
		if (!tr_cluster_id_equal(&served, id)) {
			tr_cluster_id_format(id, a, sizeof a);
			tr_cluster_id_format(&served, b, sizeof b);
			snprintf(err, errlen, "%s holds %s, but the server that answers holds %s: point --pg-conninfo at the "
				 "new cluster (or stop the old one); nothing was changed", pgdata, a, b);
			return -1;
		}
		return 0;
	}
	if (server_id(cfg, id, why, sizeof why) != 0) {
		snprintf(err, errlen, "cannot tell which cluster is the new one: %s; give its data directory with --pgdata "
			 "(read while it is stopped) or a connection with --pg-conninfo", why);
		return -1;
	}
	snprintf(from, fromlen, "the running server");
	return 0;
}

static void report(const tr_repo *r, const tr_section *sec, int added, const char *from)
{
	char id[160];
	tr_section_describe(sec, id, sizeof id);
	if (!added) {
		tr_info("upgrade: %s, read from %s, is the current one already: nothing to do", id, from);
		return;
	}
	tr_info("upgrade: recorded %s, read from %s; its WAL goes to %s%s. Take a backup of it now (totalrecall "
		"backup): until then only the older sections' backups can be restored, with their own major version's "
		"binaries", id, from, tr_repo_base(r), tr_repo_wal_prefix(r));
}

int tr_cmd_upgrade(tr_config *cfg, int argc, char **argv)
{
	char err[2048], from[PATH_MAX + 64];
	tr_cluster_id id;
	tr_section sec;
	tr_repo *r = NULL;
	tr_repo_settings rs;
	int added = 0, rc;
	(void)argv;
	if (tr_cmd_enter("upgrade", " (--pgdata, --pg-conninfo)", cfg, argc, &rs) != 0)
		return 1;
	if (new_cluster_id(cfg, &id, from, sizeof from, err, sizeof err) != 0) {
		tr_error("upgrade: %s", err);
		return 1;
	}
	rc = tr_repo_connect(&r, &rs);
	if (rc == TR_OK)
		rc = tr_repo_unlock_flags(r, TR_UNLOCK_WRITER);
	if (rc == TR_ENOENT)
		snprintf(err, sizeof err, "there is no repository %s: nothing to upgrade (archive-put or init creates one)",
			 tr_repo_base(r));
	else if (rc != TR_OK)
		snprintf(err, sizeof err, "%s", tr_repo_error(r));
	else if (tr_section_upgrade(r, &id, "upgrade", &sec, &added, err, sizeof err) != 0)
		rc = -1;
	if (rc == TR_OK)
		report(r, &sec, added, from);
	else
		tr_error("upgrade: %s", err);
	tr_repo_close(r);
	return rc == TR_OK ? 0 : 1;
}
