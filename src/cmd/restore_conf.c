/* restore_conf.c - recovery settings of a restored cluster (see restore_conf.h). */
#include "config.h"
#include "cmd/restore_conf.h"
#include "base/atomicfile.h"
#include "base/util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The settings archive-get needs to reach and unlock the repository. */
/* The core's settings that name and open the repository; with every
 * setting handed to drivers (repo_setting), they are what archive-get in
 * the restored cluster needs: credentials of any source, SSE-C keys,
 * Azure accounts, a driver added later.  Derived settings are recomputed. */
static const int core_repo_settings[] = {
	TR_S_DRIVER, TR_S_DRIVER_DIR, TR_S_DATABASE_ID, TR_S_ENCRYPTION_KEY, TR_S_STORAGE_PREFIX, TR_S_STATE_DIR,
	TR_S_LOG_LEVEL,
};

static int repo_setting(int id)
{
	const tr_setting_def *d = tr_setting_defs();
	if (d[id].flags & TR_SF_DERIVED)
		return 0;
	if (d[id].flags & TR_SF_DRIVER)
		return 1;
	for (size_t i = 0; i < TR_ARRAY_LEN(core_repo_settings); i++)
		if (core_repo_settings[i] == id)
			return 1;
	return 0;
}

static const int target_settings[] = { TR_S_TARGET_TIME, TR_S_TARGET_LSN, TR_S_TARGET_XID, TR_S_TARGET_NAME,
				       TR_S_TARGET };

/* A standby follows its primary for ever: a stop point means nothing to
 * it, and --primary-conninfo means nothing to a server that is not one. */
static int check_standby(const tr_config *cfg, int ntargets, char *err, size_t errlen)
{
	int standby = tr_config_get(cfg, TR_S_STANDBY) != NULL;
	if (standby && (ntargets || tr_config_get(cfg, TR_S_TARGET_EXCLUSIVE) ||
			cfg->source[TR_S_TARGET_ACTION] > TR_SRC_DEFAULT)) {
		snprintf(err, errlen, "--standby: a standby replays everything and follows its primary; --target-time, "
			 "--target-lsn, --target-xid, --target-name, --target, --target-exclusive and --target-action "
			 "are for a recovery that stops (nothing was changed)");
		return -1;
	}
	if (!standby && tr_config_get(cfg, TR_S_PRIMARY_CONNINFO)) {
		snprintf(err, errlen, "TOTALRECALL_PRIMARY_CONNINFO (--primary-conninfo) is used only with --standby "
			 "(nothing was changed)");
		return -1;
	}
	return 0;
}

int tr_restore_conf_check(const tr_config *cfg, char *err, size_t errlen)
{
	int n = 0;
	for (size_t i = 0; i < TR_ARRAY_LEN(target_settings); i++)
		n += tr_config_get(cfg, target_settings[i]) != NULL;
	if (n > 1) {
		snprintf(err, errlen, "give at most one of --target-time, --target-lsn, --target-xid, --target-name "
			 "and --target");
		return -1;
	}
	if (check_standby(cfg, n, err, errlen) != 0)
		return -1;
	/* PostgreSQL applies recovery_target_inclusive to these three only. */
	if (tr_config_get(cfg, TR_S_TARGET_EXCLUSIVE) && !tr_config_get(cfg, TR_S_TARGET_TIME) &&
	    !tr_config_get(cfg, TR_S_TARGET_LSN) && !tr_config_get(cfg, TR_S_TARGET_XID)) {
		snprintf(err, errlen, "--target-exclusive needs --target-time, --target-lsn or --target-xid (it stops "
			 "just before that target)");
		return -1;
	}
	const char *name = tr_config_get(cfg, TR_S_TARGET_NAME), *tl = tr_config_get(cfg, TR_S_TARGET_TIMELINE);
	if (name && (!*name || strlen(name) > 63)) {
		snprintf(err, errlen, "TOTALRECALL_TARGET_NAME (--target-name): a restore point's name has 1 to 63 bytes");
		return -1;
	}
	if (tl && strcmp(tl, "latest") && strcmp(tl, "current") && (!*tl || strspn(tl, "0123456789") != strlen(tl))) {
		snprintf(err, errlen, "TOTALRECALL_TARGET_TIMELINE (--target-timeline): expected latest, current or a "
			 "timeline number");
		return -1;
	}
	const char *conf = tr_config_get(cfg, TR_S_COPY_PG_CONF);
	if (conf && access(conf, R_OK) != 0) {
		snprintf(err, errlen, "TOTALRECALL_COPY_PG_CONF (--copy-pg-conf): cannot read %s: %s", conf, strerror(errno));
		return -1;
	}
	return 0;
}

int tr_pg_conf_quote(FILE *f, const char *value)
{
	int rc = fputc('\'', f) == EOF;
	for (const char *p = value; *p && !rc; p++) {
		if (*p == '\'')
			rc = fputs("''", f) == EOF;
		else if (*p == '\\')
			rc = fputs("\\\\", f) == EOF;
		else if (*p == '\n')
			rc = fputs("\\n", f) == EOF;
		else if (*p == '\r')
			rc = fputs("\\r", f) == EOF;
		else
			rc = fputc(*p, f) == EOF;
	}
	return rc || fputc('\'', f) == EOF ? -1 : 0;
}

/* Appends in, quoted for sh ("..." with \ " $ ` escaped) and with every
 * '%' doubled (PostgreSQL replaces %p, %f, %r and %% in restore_command). */
static void sh_pct_quote(FILE *f, const char *in)
{
	fputc('"', f);
	for (; *in; in++) {
		if (strchr("\\\"$`", *in))
			fputc('\\', f);
		if (*in == '%')
			fputc('%', f);
		fputc(*in, f);
	}
	fputc('"', f);
}

char *tr_restore_command(const char *exe, const char *conf)
{
	char *cmd = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&cmd, &len);
	if (!f)
		return NULL;
	sh_pct_quote(f, exe);
	fputs(" --config=", f);
	sh_pct_quote(f, conf);
	fputs(" --config-over-env archive-get \"%p\" \"%f\"", f);
	if (fclose(f) != 0) {
		free(cmd);
		return NULL;
	}
	return cmd;
}

/* The lines of totalrecall_restore.conf, into f. */
static int repo_conf_lines(FILE *f, const tr_config *cfg, const char *path, uint32_t section, char *err,
			   size_t errlen)
{
	const tr_setting_def *d = tr_setting_defs();
	fprintf(f, "# Written by totalrecall restore: the repository this cluster recovers from.\n");
	for (int id = 0; id < TR_S_COUNT; id++) {
		if (!repo_setting(id))
			continue;
		/* The state directory only when given: its default depends on the
		 * environment, and the server's is not restore's (root's HOME). */
		const char *raw = cfg->raw[id], *v = id == TR_S_STATE_DIR ? cfg->value[id] : tr_config_get(cfg, id);
		if (!v) {
			/* Unset here: unset for archive-get too, whatever the server's
			 * environment says (restore_command passes --config-over-env). */
			fprintf(f, "%s =\n", d[id].name);
			continue;
		}
		/* Keep secrets in their files; write other values resolved, since the
		 * server may not have the variables env: refers to. */
		const char *out = raw && strncmp(raw, "file:", 5) == 0 ? raw : v;
		if (strchr(out, '\n')) {
			snprintf(err, errlen, "%s: a value with a newline cannot be written to %s", d[id].name, path);
			return -1;
		}
		fprintf(f, "%s = \"%s\"\n", d[id].name, out);
	}
	/* The backup's history section: its WAL, whatever is current later. */
	if (section)
		fprintf(f, "%s = \"%u\"\n", d[TR_S_SECTION].name, (unsigned)section);
	return 0;
}

/* Secrets are written (as file: references where given so): the file is
 * created 0600, complete or not at all (atomicfile.h). */
static int write_repo_conf(const tr_config *cfg, const char *path, uint32_t section, char *err, size_t errlen)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	if (!f) {
		snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
		return -1;
	}
	int rc = repo_conf_lines(f, cfg, path, section, err, errlen);  /* err says why on -1 */
	if ((fclose(f) != 0 && rc == 0) || (rc == 0 && tr_atomic_write_file(path, text, len, 0600, 0) != 0)) {
		snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
		rc = -1;
	}
	if (text)
		explicit_bzero(text, len);
	free(text);
	return rc;
}

static void append_setting(FILE *f, const char *name, const char *value)
{
	fprintf(f, "%s = ", name);
	tr_pg_conf_quote(f, value);
	fputc('\n', f);
}

static int write_recovery_settings(const tr_config *cfg, const char *pgdata, const char *conf,
				   const tr_recovery *rec, char *err, size_t errlen)
{
	static const char *const pg_names[] = { "recovery_target_time", "recovery_target_lsn", "recovery_target_xid",
						"recovery_target_name", "recovery_target" };
	char path[PATH_MAX], exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
	exe[n > 0 ? n : 0] = '\0';
	char *cmd = tr_restore_command(n > 0 ? exe : "totalrecall", conf);
	snprintf(path, sizeof path, "%s/postgresql.auto.conf", pgdata);
	FILE *f = cmd ? fopen(path, "a") : NULL;
	if (!f) {
		snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
		free(cmd);
		return -1;
	}
	fprintf(f, "\n# Added by totalrecall restore\n");
	append_setting(f, "restore_command", cmd);
	free(cmd);
	/* Every recovery setting is written, the unused ones empty or at their
	 * default: postgresql.auto.conf comes from the backup, and when the
	 * backed-up cluster was itself restored it still holds that restore's
	 * target, which the later lines must override. */
	/* PostgreSQL refuses to assign any of them, even an empty one, after
	 * another one was set: the empty ones come first, the target last. */
	int has_target = 0;
	for (size_t i = 0; i < TR_ARRAY_LEN(target_settings); i++)
		if (!tr_config_get(cfg, target_settings[i]))
			append_setting(f, pg_names[i], "");
	for (size_t i = 0; i < TR_ARRAY_LEN(target_settings); i++) {
		const char *v = tr_config_get(cfg, target_settings[i]);
		if (v) {
			/* The time as restore read it, with its zone: PostgreSQL would
			 * read a zone-less time in the cluster's timezone. */
			if (target_settings[i] == TR_S_TARGET_TIME && rec->target_time)
				v = rec->target_time;
			append_setting(f, pg_names[i], v);
			has_target = 1;
		}
	}
	append_setting(f, "recovery_target_action", has_target ? tr_config_get(cfg, TR_S_TARGET_ACTION) : "pause");
	/* Always written: a restored postgresql.auto.conf may say off. */
	append_setting(f, "recovery_target_inclusive", tr_config_get(cfg, TR_S_TARGET_EXCLUSIVE) ? "off" : "on");
	append_setting(f, "recovery_target_timeline", rec->timeline ? rec->timeline : "latest");
	/* --standby: where to stream from once the archive is replayed.
	 * Without it, the backup's own primary_conninfo (if any) stays. */
	const char *primary = tr_config_get(cfg, TR_S_PRIMARY_CONNINFO);
	if (primary && tr_config_get(cfg, TR_S_STANDBY))
		append_setting(f, "primary_conninfo", primary);
	/* --archive-mode=off: a restored copy (a restore test) must never
	 * archive into the repository it came from. */
	const char *mode = tr_config_get(cfg, TR_S_ARCHIVE_MODE);
	if (mode && strcmp(mode, "off") == 0)
		append_setting(f, "archive_mode", "off");
	int rc = fflush(f) == 0 && fsync(fileno(f)) == 0 && !ferror(f) ? 0 : -1;
	if (fclose(f) != 0 || rc != 0) {
		snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

static int copy_file(const char *from, const char *to, char *err, size_t errlen)
{
	char *buf;
	size_t len;
	if (tr_read_small_file(from, 16 * 1024 * 1024, &buf, &len) != 0) {
		snprintf(err, errlen, "cannot read %s: %s", from, strerror(errno));
		return -1;
	}
	int rc = tr_atomic_write_file(to, buf, len, 0600, 0);
	free(buf);
	if (rc != 0)
		snprintf(err, errlen, "cannot write %s: %s", to, strerror(errno));
	return rc;
}

int tr_restore_conf_write(const tr_config *cfg, const char *pgdata, const tr_recovery *rec, char *err,
			  size_t errlen)
{
	char conf[PATH_MAX], abs[PATH_MAX], path[PATH_MAX];
	if (!realpath(pgdata, abs)) {
		snprintf(err, errlen, "cannot resolve %s: %s", pgdata, strerror(errno));
		return -1;
	}
	snprintf(conf, sizeof conf, "%s/%s", abs, TR_RESTORE_CONF_NAME);
	const char *pgconf = tr_config_get(cfg, TR_S_COPY_PG_CONF);
	snprintf(path, sizeof path, "%s/postgresql.conf", abs);
	if (pgconf && copy_file(pgconf, path, err, errlen) != 0)
		return -1;
	if (write_repo_conf(cfg, conf, rec->section, err, errlen) != 0 ||
	    write_recovery_settings(cfg, abs, conf, rec, err, errlen) != 0)
		return -1;
	snprintf(path, sizeof path, "%s/%s", abs, tr_config_get(cfg, TR_S_STANDBY) ? "standby.signal" : "recovery.signal");
	if (tr_atomic_write_file(path, "", 0, 0600, 0) != 0) {
		snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}
