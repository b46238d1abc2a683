/* main.c - the totalrecall command line: options, settings, dispatch. */
#include "config.h"
#include "cmd/commands.h"
#include "base/log.h"
#include "base/metric.h"
#include "conf/settings.h"
#include "totalrecall/driver.h"

#include <bearssl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

typedef struct command {
	const char *name;
	int (*run)(tr_config *cfg, int argc, char **argv);
	int error_exit;        /* status for usage and configuration errors */
	const char *usage;
	const char *summary;
	const char *help;
} command;

static int cmd_version(tr_config *cfg, int argc, char **argv);
static int cmd_help(tr_config *cfg, int argc, char **argv);

static const command commands[] = {
	{ "archive-put", tr_cmd_archive_put, 1, "archive-put <path>",
	  "store one WAL file (archive_command = 'totalrecall archive-put %p')",
	  "Compresses, encrypts and stores the WAL file at <path> (relative to the\n"
	  "data directory, PostgreSQL's working directory).  Exits 0 when the file is\n"
	  "durably stored or the same content already is; 1 on any failure, and when a\n"
	  "different content is stored under that name (which is never replaced).\n" },
	{ "archive-get", tr_cmd_archive_get, TR_EXIT_FATAL, "archive-get <dst-path> <filename>",
	  "fetch one WAL file (restore_command = 'totalrecall archive-get %p %f')",
	  "Writes the original bytes of <filename> to <dst-path>, through a temporary\n"
	  "file renamed once complete and authenticated.  Exits 0 when found, 1 only\n"
	  "when the file is confirmed absent from the archive, and 128 on any other\n"
	  "failure, which makes PostgreSQL stop recovery instead of ending it early.\n" },
	{ "backup", tr_cmd_backup, 1, "backup [--scheduled]",
	  "take a base backup of the running cluster",
	  "Takes a consistent online backup over libpq (pg_backup_start/pg_backup_stop),\n"
	  "reading the data directory in parallel; stores deduplicated, compressed,\n"
	  "encrypted chunks and a manifest.  Fails unless the WAL from its start to its\n"
	  "stop is in the archive.  Connection: --pg-conninfo and the PG* variables.\n"
	  "--scheduled: only when the schedule (--schedule) says a backup is due.\n"
	  "--backup-standby y|prefer: back up the standby at --standby-conninfo (prefer:\n"
	  "the primary at --pg-conninfo when no standby answers); the primary is asked\n"
	  "to finish the last WAL segment.  With data checksums, every page is verified;\n"
	  "damaged pages are reported by file and block (list --json), not fatal.\n" },
	{ "restore", tr_cmd_restore, 1, "restore [DATADIR]",
	  "rebuild an empty data directory from a backup",
	  "Restores the newest backup (or --backup LABEL, or the newest one before\n"
	  "--target-time/--target-lsn/--target-xid) into an empty or new DATADIR, and\n"
	  "writes recovery.signal and the recovery settings (restore_command calling\n"
	  "totalrecall archive-get).  --target-name, --target immediate, --target-action\n"
	  "pause|promote|shutdown and --target-timeline are passed to PostgreSQL.\n"
	  "--try: exit 0 doing nothing when the repository has no backup.\n"
	  "--copy-pg-conf FILE: install FILE as the restored postgresql.conf.\n"
	  "Links outside pg_tblspc become plain directories or files unless --link-map\n"
	  "NAME=PATH moves them; --tablespace-map OID_OR_NAME=PATH moves a tablespace.\n"
	  "--archive-mode=off: the restored copy never archives.  Diverged timelines\n"
	  "are refused unless --target-timeline chooses one.  --target-exclusive: stop\n"
	  "just before the target.  --standby: a standby (standby.signal), streaming from\n"
	  "--primary-conninfo once the archive is replayed.  --delta: into a stopped\n"
	  "cluster of the same system, fetching only the chunks that differ.\n" },
	{ "list", tr_cmd_list, 1, "list [--json]", "list backups and the archived WAL range",
	  "Lists backups: label, start and stop times and LSNs, timeline, PostgreSQL\n"
	  "version, size, stored size, newly stored bytes, duration; and the WAL range.\n" },
	{ "info", tr_cmd_list, 1, "info [--json]", "the same as list", "The same as list.\n" },
	{ "check", tr_cmd_check, 1, "check", "check that a backup taken now would be restorable",
	  "Checks configuration, storage access, the key, archive_mode and archive_command,\n"
	  "then switches WAL and waits until that file is archived.  Exit 0 only if all hold.\n" },
	{ "expire", tr_cmd_expire, 1, "expire [--dry-run]", "remove backups, WAL and chunks retention no longer needs",
	  "Keeps the --retention-count newest backups and every backup newer than\n"
	  "--retention-days days (either rule keeps a backup; with neither, all are kept;\n"
	  "the newest always is).  Removes the others, the WAL no kept backup needs and\n"
	  "the chunks no kept backup references.  --dry-run lists what would go.\n" },
	{ "verify", tr_cmd_verify, 1, "verify [--backup LABEL] [--full]",
	  "check that every stored object is intact and every backup restorable",
	  "Decodes and authenticates stored objects (keyring, WAL, backup info and\n"
	  "manifests, chunks, each chunk against its keyed content id), checks that\n"
	  "every chunk a manifest references exists and is intact, and that the WAL\n"
	  "from each backup's start to the newest archived file is continuous along\n"
	  "its timelines.  Prints each problem on its own line.  Exits 1 if a backup\n"
	  "is not restorable (damaged or missing manifest, info or chunk, or WAL\n"
	  "missing between its start and stop); WAL gaps after a backup's stop and\n"
	  "unreferenced chunks are reported only.  Objects verified by an earlier run\n"
	  "(state in <state-dir>/verify/) are not decoded again unless --full.\n"
	  "--backup LABEL: only that backup, its chunks and the WAL from its start.\n" },
	{ "init", tr_cmd_init, 1, "init", "create the repository, or check and repair its keyring",
	  "Creates the repository (its keyring and keyring copy) where there is none; archive-put\n"
	  "creates it by itself only where the storage has an atomic put-if-absent.  On an\n"
	  "existing repository: checks that the passphrase opens it and rewrites every\n"
	  "missing, damaged or stale keyring copy (also those beside backups).  Where objects\n"
	  "remain but every keyring copy is lost, writes the keyring back from this host's key\n"
	  "cache.  Never creates a new key where objects exist.  Safe to run again.\n" },
	{ "key", tr_cmd_key, 1, "key rotate|list", "rotate the passphrase or the data key; list keys",
	  "key rotate --new-encryption-key VALUE: re-wraps every data key under a new passphrase\n"
	  "  (also TOTALRECALL_NEW_ENCRYPTION_KEY; file: and env: accepted); afterwards the new\n"
	  "  passphrase opens every object and the old one is refused.\n"
	  "key rotate --new-data-key: also starts a new data key for objects written from then\n"
	  "  on (older keys stay in the keyring, to read what they wrote).\n"
	  "key list: key ids, creation times and which one is current; never key material.\n" },
	{ "upgrade", tr_cmd_upgrade, 1, "upgrade", "after pg_upgrade: record the new cluster as the next history section",
	  "Run after pg_upgrade, with the new cluster: records its system identifier and\n"
	  "major version as the repository's next history section.  From then on\n"
	  "archive-put and backup accept the new cluster (its WAL goes under the new\n"
	  "section's prefix) and refuse the old one; the old backups stay listed and\n"
	  "restorable with the old major version.  Reads the identity from --pgdata's\n"
	  "global/pg_control while the cluster is stopped, else from the running\n"
	  "server (--pg-conninfo).  Safe to run again; refuses an older section's\n"
	  "cluster and a lower major version.  Take a new backup right after.\n" },
	{ "version", cmd_version, 1, "version", "print the version", "Prints versions of totalrecall, its driver ABI and libraries.\n" },
	{ "help", cmd_help, 1, "help [command]", "show help", "Shows the commands, or one command's help.\n" },
};

static const command *find_command(const char *name)
{
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	return NULL;
}

static void print_settings(FILE *out)
{
	const tr_setting_def *d = tr_setting_defs();
	fprintf(out, "\nSettings (option, variable, default):\n");
	for (int i = 0; i < TR_S_COUNT; i++)
		if (!(d[i].flags & TR_SF_DERIVED))  /* computed, not given: nothing to tell a user */
			fprintf(out, "  --%-20s %-32s %s\n      %s\n", d[i].name, d[i].env ? d[i].env : "-",
				d[i].defval ? (*d[i].defval ? d[i].defval : "\"\"") : "-", d[i].help);
	fprintf(out, "\nAny value may be file:/path (the file's contents) or env:NAME (another\n"
		     "variable).  Precedence: command line, environment, config file (-c FILE,\n"
		     "default " TR_CONFIG_DEFAULT_FILE "); --config-over-env puts the file before\n"
		     "the environment.  In the file, \"name =\" unsets a setting.\n");
}

static void print_usage(FILE *out)
{
	fprintf(out, "usage: totalrecall [options] <command> [arguments]\n\nCommands:\n");
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
		fprintf(out, "  %-36s %s\n", commands[i].usage, commands[i].summary);
	fprintf(out, "\nRun 'totalrecall help <command>' for one command.\n");
}

static void print_command_help(const command *c)
{
	printf("usage: totalrecall [options] %s\n\n%s", c->usage, c->help);
	print_settings(stdout);
}

static int cmd_help(tr_config *cfg, int argc, char **argv)
{
	(void)cfg;
	if (argc == 0) {
		print_usage(stdout);
		print_settings(stdout);
		return 0;
	}
	const command *c = find_command(argv[0]);
	if (!c) {
		tr_error("help: unknown command \"%s\"", argv[0]);
		return 1;
	}
	print_command_help(c);
	return 0;
}

static int cmd_version(tr_config *cfg, int argc, char **argv)
{
	(void)cfg; (void)argc; (void)argv;
	printf("totalrecall %s (driver ABI %d, zstd %s, BearSSL)\n", PACKAGE_VERSION, TR_DRIVER_ABI_VERSION,
	       ZSTD_versionString());
	return 0;
}

/* getopt_long table: every setting, plus -c/--config and -h/--help. */
static struct option *build_options(void)
{
	struct option *o = calloc(TR_S_COUNT + 4, sizeof *o);
	if (!o)
		return NULL;
	const tr_setting_def *d = tr_setting_defs();
	for (int i = 0; i < TR_S_COUNT; i++)
		o[i] = (struct option){ d[i].name, d[i].type == TR_T_FLAG ? no_argument : required_argument, NULL,
					1000 + i };
	o[TR_S_COUNT] = (struct option){ "config", required_argument, NULL, 'c' };
	o[TR_S_COUNT + 1] = (struct option){ "help", no_argument, NULL, 'h' };
	o[TR_S_COUNT + 2] = (struct option){ "config-over-env", no_argument, NULL, 'E' };
	return o;
}

/* Parses options anywhere on the line; leaves positional arguments in
 * argv[optind..].  Returns 0, 1 for --help, -1 on error. */
static int parse_options(tr_config *cfg, int argc, char **argv)
{
	struct option *opts = build_options();
	char err[256];
	int rc = 0, ch;
	if (!opts)
		return -1;
	opterr = 0;
	while (rc == 0 && (ch = getopt_long(argc, argv, ":c:h", opts, NULL)) != -1) {
		if (ch == 'h') {
			rc = 1;
		} else if (ch == 'E') {
			cfg->config_over_env = 1;
		} else if (ch == 'c') {
			free(cfg->config_file);
			cfg->config_file = strdup(optarg);
		} else if (ch >= 1000) {
			if (tr_config_set_cmdline(cfg, opts[ch - 1000].name, optarg ? optarg : "1", err, sizeof err) != 0) {
				tr_error("%s", err);
				rc = -1;
			}
		} else if (ch == ':') {
			tr_error("option %s needs a value", argv[optind - 1]);
			rc = -1;
		} else {
			tr_error("unknown option %s (see 'totalrecall help')", argv[optind - 1]);
			rc = -1;
		}
	}
	free(opts);
	return rc;
}

int main(int argc, char **argv)
{
	tr_config cfg;
	char err[2048];

	tr_config_init(&cfg);
	int prc = parse_options(&cfg, argc, argv);
	const char *name = optind < argc ? argv[optind] : NULL;
	const command *c = name ? find_command(name) : NULL;
	int status;

	if (name && !c) {
		tr_error("unknown command \"%s\" (see 'totalrecall help')", name);
		status = 1;
	} else if (!c) {
		print_usage(prc == 1 ? stdout : stderr);
		status = prc == 1 ? 0 : 1;
	} else if (prc == 1) {
		print_command_help(c);
		status = 0;
	} else if (prc < 0) {
		status = c->error_exit;
	} else if (c->run != cmd_help && c->run != cmd_version && tr_config_load(&cfg, err, sizeof err) != 0) {
		tr_error("%s: %s", c->name, err);
		status = c->error_exit;
	} else {
		const char *lvl = tr_config_get(&cfg, TR_S_LOG_LEVEL);
		if (lvl)
			tr_log_set_level(tr_log_parse_level(lvl));
		int records = c->run != cmd_help && c->run != cmd_version;
		if (records)
			tr_metric_begin(c->name, tr_config_get(&cfg, TR_S_SPOOL_DIR), tr_config_get(&cfg, TR_S_PGDATA));
		status = c->run(&cfg, argc - optind - 1, argv + optind + 1);
		if (records)
			tr_metric_end(status);
	}
	tr_config_free(&cfg);
	return status;
}
