/*
 * config.h - TotalRecall's settings: one table, four sources.
 *
 * Every setting has a canonical name that is also its long option
 * (--database-id) and its config-file key (database-id = ...), and an
 * environment variable (TOTALRECALL_DATABASE_ID).  Precedence: command
 * line, then environment, then config file, then default.  Any value may be
 * "file:/path" (the file's contents, surrounding whitespace trimmed) or
 * "env:NAME" (another variable's value), resolved up to two levels.
 * Errors name the setting, never its value.
 */
#ifndef TR_SETTINGS_H
#define TR_SETTINGS_H

#include <stddef.h>
#include <stdint.h>

#define TR_CONFIG_DEFAULT_FILE "/etc/totalrecall/totalrecall.conf"

enum tr_setting_id {
	TR_S_DRIVER,
	TR_S_DRIVER_DIR,
	TR_S_DATABASE_ID,
	TR_S_ENCRYPTION_KEY,
	TR_S_BUCKET,
	TR_S_STORAGE_PREFIX,
	TR_S_REGION,
	TR_S_ACCESS_KEY_ID,
	TR_S_SECRET_ACCESS_KEY,
	TR_S_SESSION_TOKEN,
	TR_S_ENDPOINT,
	TR_S_S3_URI_STYLE,
	TR_S_S3_CA_FILE,
	TR_S_S3_INSECURE,
	TR_S_S3_PART_SIZE,
	TR_S_S3_CONDITIONAL_PUT,
	TR_S_RETRIES,
	TR_S_RETRY_MAX_TIME,
	TR_S_TIMEOUT,
	TR_S_STATE_DIR,
	TR_S_LOG_LEVEL,
	TR_S_KDF_ITERATIONS,
	TR_S_COMPRESS_LEVEL,
	TR_S_CIPHER,
	TR_S_PG_CONNINFO,
	TR_S_PGDATA,
	TR_S_PARALLEL,
	TR_S_CHUNK_SIZE,
	TR_S_ARCHIVE_TIMEOUT,
	TR_S_BACKUP_LABEL,
	TR_S_TARGET_TIME,
	TR_S_TARGET_LSN,
	TR_S_TARGET_XID,
	TR_S_TARGET_NAME,
	TR_S_TARGET,
	TR_S_TARGET_ACTION,
	TR_S_TARGET_TIMELINE,
	TR_S_COPY_PG_CONF,
	TR_S_TRY,
	TR_S_JSON,
	TR_S_SCHEDULE,
	TR_S_SCHEDULED,
	TR_S_RETENTION_COUNT,
	TR_S_RETENTION_DAYS,
	TR_S_DRY_RUN,
	TR_S_SPOOL_DIR,
	TR_S_FULL,
	TR_S_ARCHIVE_AHEAD,
	TR_S_PREFETCH,
	/* azure driver */
	TR_S_AZURE_ACCOUNT,
	TR_S_AZURE_KEY,
	TR_S_AZURE_SAS_TOKEN,
	TR_S_AZURE_CONNECTION_STRING,
	TR_S_AZURE_CREDENTIALS,
	TR_S_AZURE_CLIENT_ID,
	TR_S_AZURE_IMDS_ENDPOINT,
	TR_S_AZURE_BLOCK_SIZE,
	TR_S_AZURE_CA_FILE,
	TR_S_ARCHIVE_MODE,
	TR_S_LINK_MAP,
	TR_S_TABLESPACE_MAP,
	TR_S_NEW_ENCRYPTION_KEY,
	TR_S_NEW_DATA_KEY,
	TR_S_S3_CREDENTIALS,
	TR_S_S3_PROFILE,
	TR_S_S3_SSE,
	TR_S_S3_SSE_KMS_KEY_ID,
	TR_S_S3_SSE_CUSTOMER_KEY,
	TR_S_S3_STORAGE_CLASS,
	TR_S_S3_WAL_STORAGE_CLASS,
	TR_S_S3_CHECKSUM,
	TR_S_S3_REQUESTER_PAYS,
	TR_S_WAL_KEY_PREFIX,
	TR_S_LOCK_TIMEOUT,
	TR_S_SECTION,
	/* replicas (README: Replicas) */
	TR_S_STANDBY,
	TR_S_PRIMARY_CONNINFO,
	TR_S_TARGET_EXCLUSIVE,
	TR_S_DELTA,
	TR_S_BACKUP_STANDBY,
	TR_S_STANDBY_CONNINFO,
	TR_S_TRANSFERS,
	TR_S_COUNT
};

/* TR_T_FLAG: a command-line switch without value (--json), "1" when given. */
enum tr_setting_type { TR_T_STRING, TR_T_INT, TR_T_SIZE, TR_T_BOOL, TR_T_ENUM, TR_T_FLAG };

#define TR_SF_SECRET   0x1u  /* never printed, not even its length */
#define TR_SF_DRIVER   0x2u  /* handed to storage drivers by name */
#define TR_SF_REQUIRED 0x4u  /* commands that touch storage need it */
#define TR_SF_REPEAT   0x8u  /* may be given more than once (command line, config file):
			      * the values are kept one a line, in order */
#define TR_SF_DERIVED  0x10u /* computed from other settings; not settable */

typedef struct tr_setting_def {
	const char *name;     /* long option and config-file key */
	const char *env;      /* environment variable, or NULL for switches */
	const char *env_alt;  /* fallback variable, or NULL */
	const char *defval;   /* default, or NULL */
	int type;
	const char *choices;  /* TR_T_ENUM: "a|b|c" */
	int64_t min, max;     /* TR_T_INT / TR_T_SIZE bounds */
	unsigned flags;
	const char *help;     /* one line, for `totalrecall help` */
	/* The rest is for the documentation that settings-doc generates (the
	 * README's configuration reference, the man page's SETTINGS), with
	 * what it adds to help (cli/settings_doc_text.c, not in the binary): */
	int group;            /* enum tr_setting_group: the heading it is listed under */
	const char *metavar;  /* the value's placeholder (--target-time TIME); NULL: by type */
	const char *doc_default; /* the default in words where neither defval nor help says it */
} tr_setting_def;

/* The headings of the settings documentation, in their order there. */
enum tr_setting_group {
	TR_G_NONE,         /* not documented yet: settings-doc lists it under "Other" and its test fails */
	TR_G_REPOSITORY,
	TR_G_HOST,
	TR_G_ARCHIVING,
	TR_G_BACKUP,
	TR_G_RESTORE,
	TR_G_COMMANDS,
	TR_G_S3,
	TR_G_AZURE,
	TR_G_COUNT
};

enum tr_source { TR_SRC_UNSET, TR_SRC_DEFAULT, TR_SRC_FILE, TR_SRC_ENV, TR_SRC_CMDLINE };

typedef struct tr_config {
	char *raw[TR_S_COUNT];     /* as given, before file:/env: resolution */
	char *value[TR_S_COUNT];   /* resolved and validated; NULL if unset */
	int source[TR_S_COUNT];
	char *config_file;         /* -c FILE, or NULL for the default */
	int config_over_env;       /* --config-over-env: the file wins over the environment */
	char *state_dir;           /* resolved state directory */
} tr_config;

const tr_setting_def *tr_setting_defs(void);
/* Looks a setting up by canonical name or variable name; -1 if unknown. */
int tr_setting_find(const char *name);

void tr_config_init(tr_config *cfg);
void tr_config_free(tr_config *cfg);

/* Records a value from the command line (option name without "--"). */
int tr_config_set_cmdline(tr_config *cfg, const char *name, const char *value,
			  char *err, size_t errlen);
/* Reads the environment, the config file, applies defaults, resolves
 * indirections and validates every value that is set.  0 or -1 with one
 * line in err naming the setting. */
int tr_config_load(tr_config *cfg, char *err, size_t errlen);
/* Checks that the settings needed to reach the repository are set. */
int tr_config_require_storage(const tr_config *cfg, char *err, size_t errlen);

const char *tr_config_get(const tr_config *cfg, int id);
int64_t tr_config_int(const tr_config *cfg, int id);
/* "TOTALRECALL_DATABASE_ID (--database-id)" for messages. */
const char *tr_setting_label(int id, char *buf, size_t buflen);

/* Exposed for tests: resolves file:/env: indirection of one value. */
int tr_config_resolve(const char *label, const char *raw, char **out, char *err, size_t errlen);

#endif
