/* backup_source.c - the server a backup runs on; a standby's stop (see backup_source.h). */
#include "config.h"
#include "cmd/backup_source.h"
#include "base/log.h"
#include "base/testhook.h"
#include "base/util.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --- the data directory belongs to the server --- */

/* pid, start time and port from dir/postmaster.pid (lines 1, 3, 4). */
static int read_postmaster_pid(const char *dir, long *pid, long long *start, long *port)
{
	char path[PATH_MAX], *text;
	size_t len;
	snprintf(path, sizeof path, "%s/postmaster.pid", dir);
	if (tr_read_small_file(path, 64 * 1024, &text, &len) != 0)
		return -1;
	char *line[4] = { text, NULL, NULL, NULL };
	for (int i = 1; i < 4 && line[i - 1]; i++) {
		char *nl = strchr(line[i - 1], '\n');
		line[i] = nl ? nl + 1 : NULL;
	}
	int ok = line[3] != NULL;
	if (ok) {
		*pid = strtol(line[0], NULL, 10);
		*start = strtoll(line[2], NULL, 10);
		*port = strtol(line[3], NULL, 10);
	}
	free(text);
	return ok ? 0 : -1;
}

/* The parent of process pid, from /proc (-1 if this host cannot see it). */
static long parent_of(long pid)
{
	char path[64], buf[1024];
	snprintf(path, sizeof path, "/proc/%ld/stat", pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = '\0';
	const char *p = strrchr(buf, ')');  /* after the command name, which may hold anything */
	long ppid;
	char state;
	return p && sscanf(p + 1, " %c %ld", &state, &ppid) == 2 ? ppid : -1;
}

/* Whether the server pg runs on pgdata: the port and start time its
 * postmaster.pid records are the server's, and where this host sees its
 * processes, this session's backend is a child of that postmaster. */
static int runs_on(tr_pg *pg, const char *what, const char *pgdata, char *err, size_t errlen)
{
	long pid, port, sport, backend;
	long long start, sstart;
	char *v = tr_pg_value(pg, "SELECT current_setting('port') || ' ' || floor(extract(epoch FROM "
			      "pg_postmaster_start_time()))::bigint || ' ' || pg_backend_pid()", err, errlen);
	int ok = v && sscanf(v, "%ld %lld %ld", &sport, &sstart, &backend) == 3;
	free(v);
	if (!ok)
		return -1;
	/* The postmaster writes its start time before the one SQL reports. */
	long ppid = parent_of(backend);
	if (read_postmaster_pid(pgdata, &pid, &start, &port) != 0 || port != sport || sstart < start ||
	    sstart - start > 60 || (ppid >= 0 && ppid != pid)) {
		snprintf(err, errlen, "the %s does not run on %s (its postmaster.pid names another server, or none): "
			 "backup reads the data directory of the server it backs up, on this host; run it there, or set "
			 "--pgdata to that server's directory", what, pgdata);
		return -1;
	}
	return 0;
}

/* --- choosing --- */

static int connect_server(const char *conninfo, tr_pg **pg, tr_pg_info *info, char *err, size_t errlen)
{
	*pg = tr_pg_connect_to(conninfo, err, errlen);
	if (*pg && tr_pg_info_get(*pg, info, err, errlen) == 0)
		return 0;
	tr_pg_close(*pg);
	*pg = NULL;
	return -1;
}

/* The primary of a standby, to finish the stop segment; NULL (with a
 * warning) when it does not answer or is not that standby's primary. */
static tr_pg *connect_primary(const tr_config *cfg, const tr_pg_info *standby)
{
	char err[1024];
	tr_pg_info info;
	tr_pg *pg;
	if (connect_server(tr_config_get(cfg, TR_S_PG_CONNINFO), &pg, &info, err, sizeof err) != 0) {
		tr_warn("backup: no primary to finish the last WAL segment (--pg-conninfo: %s): waiting for the "
			"primary's archive_timeout or traffic instead", err);
		return NULL;
	}
	if (!info.in_recovery && strcmp(info.system_id, standby->system_id) == 0)
		return pg;
	tr_warn("backup: the server at --pg-conninfo is %s: waiting for the primary's archive_timeout or traffic to "
		"finish the last WAL segment", info.in_recovery ? "a standby too" : "of another system");
	tr_pg_close(pg);
	return NULL;
}

/* y and prefer: the standby; 1 if it cannot be used (why says why). */
static int open_standby(const tr_config *cfg, tr_backup_source *src, char *why, size_t whylen)
{
	if (connect_server(tr_config_get(cfg, TR_S_STANDBY_CONNINFO), &src->pg, &src->info, why, whylen) != 0)
		return 1;
	if (!src->info.in_recovery) {
		snprintf(why, whylen, "the server at --standby-conninfo is not a standby (not in recovery)");
		tr_pg_close(src->pg);
		src->pg = NULL;
		return 1;
	}
	src->standby = 1;
	src->primary = connect_primary(cfg, &src->info);
	return 0;
}

int tr_backup_source_open(const tr_config *cfg, tr_backup_source *src, char *err, size_t errlen)
{
	const char *mode = tr_config_get(cfg, TR_S_BACKUP_STANDBY), *dir = tr_config_get(cfg, TR_S_PGDATA);
	char why[1024];
	memset(src, 0, sizeof *src);
	int standby_mode = strcmp(mode, "n") != 0;
	if (standby_mode && !tr_config_get(cfg, TR_S_STANDBY_CONNINFO)) {
		snprintf(err, errlen, "--backup-standby=%s needs TOTALRECALL_STANDBY_CONNINFO (--standby-conninfo), the "
			 "standby's connection string", mode);
		return -1;
	}
	if (standby_mode && open_standby(cfg, src, why, sizeof why) != 0) {
		if (strcmp(mode, "prefer") != 0) {
			snprintf(err, errlen, "--backup-standby=y: %s (--backup-standby=prefer would back up the primary "
				 "instead)", why);
			return -1;
		}
		tr_warn("backup: no standby to back up (%s): backing up the primary at --pg-conninfo", why);
	}
	if (!src->pg) {
		if (connect_server(tr_config_get(cfg, TR_S_PG_CONNINFO), &src->pg, &src->info, err, errlen) != 0)
			return -1;
		if (src->info.in_recovery) {
			snprintf(err, errlen, "the server at --pg-conninfo is a standby: back it up with --backup-standby=y "
				 "and --standby-conninfo, with --pg-conninfo reaching the primary");
			return -1;
		}
	}
	snprintf(src->pgdata, sizeof src->pgdata, "%s", dir ? dir : src->info.data_directory);
	if (standby_mode &&
	    runs_on(src->pg, src->standby ? "standby" : "primary", src->pgdata, err, errlen) != 0)
		return -1;
	if (src->standby)
		tr_info("backup: on the standby (data directory %s)%s", src->pgdata,
			src->primary ? "; its primary answers" : "");
	return 0;
}

void tr_backup_source_close(tr_backup_source *src)
{
	tr_pg_close(src->pg);      /* ends a running backup: the server aborts it */
	tr_pg_close(src->primary);
	src->pg = src->primary = NULL;
}

/* --- the stop on a standby --- */

/* Whether the standby is still one, and its timeline (0 if unknown). */
static int standby_state(tr_backup_source *src, int *in_recovery, uint32_t *tli, char *err, size_t errlen)
{
	char *v = tr_pg_value(src->pg, "SELECT pg_is_in_recovery()::text || ' ' || coalesce((SELECT "
			      "min_recovery_end_timeline FROM pg_control_recovery()), 0)", err, errlen);
	unsigned t = 0;
	int ok = v && sscanf(v, "%*s %u", &t) == 1;
	*in_recovery = v && strncmp(v, "true", 4) == 0;
	*tli = t;
	free(v);
	return ok ? 0 : -1;
}

static int check_standby(tr_backup_source *src, const tr_manifest_hdr *h, char *err, size_t errlen)
{
	int in_recovery;
	uint32_t tli;
	if (standby_state(src, &in_recovery, &tli, err, errlen) != 0)
		return -1;
	if (!in_recovery) {
		snprintf(err, errlen, "the standby was promoted during the backup: backup %s read its files across the "
			 "end of recovery and is not usable; it was not recorded (back up the new primary, or another "
			 "standby)", h->label);
		return -1;
	}
	if (tli && tli != h->timeline) {
		snprintf(err, errlen, "the standby's timeline changed from %u to %u during the backup (its upstream was "
			 "promoted): backup %s spans two timelines and was not recorded; take it again", h->timeline,
			 tli, h->label);
		return -1;
	}
	return 0;
}

int tr_backup_source_before_stop(tr_backup_source *src, const tr_manifest_hdr *h, char *err, size_t errlen)
{
	if (!src->standby)
		return 0;
	tr_testhook_pause("backup-before-stop");  /* tests: a promotion while the files are read */
	return check_standby(src, h, err, errlen);
}

void tr_backup_source_explain(tr_backup_source *src, const tr_manifest_hdr *h, char *err, size_t errlen)
{
	char e[256];
	int in_recovery;
	uint32_t tli;
	if (src->standby && standby_state(src, &in_recovery, &tli, e, sizeof e) == 0 && !in_recovery)
		check_standby(src, h, err, errlen);
}

/* The segment holding the stop position is finished by the primary:
 * asked for a switch when it is still writing it. */
static void finish_segment(tr_backup_source *src, const tr_manifest_hdr *h)
{
	char err[512], name[25], walfile[64];
	uint64_t cur;
	tr_wal_file_name(h->timeline, h->stop_lsn - 1, h->wal_segment_size, name);
	if (!src->primary) {
		tr_info("backup %s: waiting for the primary to archive %s (its archive_timeout or traffic finishes it)",
			h->label, name);
		return;
	}
	char *v = tr_pg_value(src->primary, "SELECT pg_current_wal_lsn()::text", err, sizeof err);
	int parsed = v && tr_lsn_parse(v, &cur) == 0;
	free(v);
	if (parsed && cur / h->wal_segment_size > (h->stop_lsn - 1) / h->wal_segment_size) {
		tr_info("backup %s: the primary has finished %s", h->label, name);
		return;
	}
	if (!parsed || tr_pg_switch_wal(src->primary, walfile, sizeof walfile, err, sizeof err) != 0)
		tr_warn("backup %s: cannot ask the primary to switch WAL (%s): waiting for it to archive %s", h->label,
			err, name);
	else
		tr_info("backup %s: asked the primary to switch WAL, finishing %s", h->label, name);
}

int tr_backup_source_after_stop(tr_backup_source *src, tr_manifest_hdr *h, char *err, size_t errlen)
{
	if (!src->standby)
		return 0;
	if (check_standby(src, h, err, errlen) != 0)
		return -1;
	const char *s = strstr(h->backup_label, "START TIMELINE: ");
	if (!s || strtoul(s + 16, NULL, 10) != h->timeline) {
		snprintf(err, errlen, "backup %s: the backup label's start timeline is not %u", h->label, h->timeline);
		return -1;
	}
	/* Every commit before the stop was replayed: none is later than the
	 * last one, by the primary's clock. */
	char *v = tr_pg_value(src->pg, "SELECT coalesce(floor(extract(epoch FROM pg_last_xact_replay_timestamp()) * "
			      "1000000)::bigint, 0)", err, errlen);
	int64_t replayed = v ? strtoll(v, NULL, 10) : 0;
	free(v);
	if (replayed > h->stop_time_us) {
		h->stop_time_us = replayed;
		if (replayed / 1000000 > h->stop_time)
			h->stop_time = replayed / 1000000;
	}
	h->from_standby = 1;
	finish_segment(src, h);
	return 0;
}
