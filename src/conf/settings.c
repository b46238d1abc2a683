/* settings.c - the settings table, its four sources and its validation. */
#include "config.h"
#include "conf/settings.h"
#include "base/schedule.h"
#include "base/util.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define MiB (1024LL * 1024)

static const tr_setting_def defs[TR_S_COUNT] = {
	[TR_S_DRIVER] = { "driver", "TOTALRECALL_DRIVER", NULL, "s3", TR_T_STRING, NULL, 0, 0, 0,
		"storage driver: fs, s3, minio, or any driver installed in the driver directory",
		.group = TR_G_REPOSITORY, .metavar = "NAME" },
	[TR_S_DRIVER_DIR] = { "driver-dir", "TOTALRECALL_DRIVER_DIR", NULL, NULL, TR_T_STRING, NULL, 0, 0, 0,
		"directory to load drivers from, instead of the installed one",
		.group = TR_G_REPOSITORY, .metavar = "DIR" },
	[TR_S_DATABASE_ID] = { "database-id", "TOTALRECALL_DATABASE_ID", NULL, NULL, TR_T_STRING, NULL, 0, 0,
		TR_SF_REQUIRED, "name of this database's repository inside the bucket ([A-Za-z0-9._-], 1-128)",
		.group = TR_G_REPOSITORY, .metavar = "ID" },
	[TR_S_ENCRYPTION_KEY] = { "encryption-key", "TOTALRECALL_ENCRYPTION_KEY", NULL, NULL, TR_T_STRING, NULL, 0, 0,
		TR_SF_SECRET | TR_SF_REQUIRED, "passphrase protecting the repository (any string)",
		.group = TR_G_REPOSITORY, .metavar = "PASSPHRASE" },
	[TR_S_BUCKET] = { "bucket", "TOTALRECALL_BUCKET", NULL, NULL, TR_T_STRING, NULL, 0, 0,
		TR_SF_DRIVER | TR_SF_REQUIRED, "S3 bucket; for the fs driver, the absolute path of the directory",
		.group = TR_G_REPOSITORY, .metavar = "NAME" },
	[TR_S_STORAGE_PREFIX] = { "storage-prefix", "TOTALRECALL_STORAGE_PREFIX", NULL, "", TR_T_STRING, NULL, 0, 0,
		TR_SF_DRIVER,
		"key prefix inside the bucket, before the database id",
		.group = TR_G_REPOSITORY, .metavar = "PREFIX" },
	[TR_S_REGION] = { "region", "AWS_REGION", "AWS_DEFAULT_REGION", NULL, TR_T_STRING, NULL, 0, 0, TR_SF_DRIVER,
		"S3 region (us-east-1 when unset)",
		.group = TR_G_S3, .metavar = "REGION" },
	[TR_S_ACCESS_KEY_ID] = { "access-key-id", "AWS_ACCESS_KEY_ID", NULL, NULL, TR_T_STRING, NULL, 0, 0,
		TR_SF_DRIVER | TR_SF_SECRET, "S3 access key id",
		.group = TR_G_S3, .metavar = "KEY" },
	[TR_S_SECRET_ACCESS_KEY] = { "secret-access-key", "AWS_SECRET_ACCESS_KEY", NULL, NULL, TR_T_STRING, NULL, 0, 0,
		TR_SF_DRIVER | TR_SF_SECRET, "S3 secret access key",
		.group = TR_G_S3, .metavar = "KEY" },
	[TR_S_SESSION_TOKEN] = { "session-token", "AWS_SESSION_TOKEN", NULL, NULL, TR_T_STRING, NULL, 0, 0,
		TR_SF_DRIVER | TR_SF_SECRET, "S3 session token for temporary credentials",
		.group = TR_G_S3, .metavar = "TOKEN" },
	[TR_S_ENDPOINT] = { "endpoint", "TOTALRECALL_S3_ENDPOINT", "AWS_ENDPOINT_URL", NULL, TR_T_STRING, NULL, 0, 0,
		TR_SF_DRIVER, "S3 endpoint URL (default: the AWS regional endpoint; required for minio)",
		.group = TR_G_REPOSITORY, .metavar = "URL" },
	[TR_S_S3_URI_STYLE] = { "s3-uri-style", "TOTALRECALL_S3_URI_STYLE", NULL, "auto", TR_T_ENUM, "auto|path|virtual",
		0, 0, TR_SF_DRIVER, "S3 addressing: virtual-hosted, path-style, or auto",
		.group = TR_G_S3, .metavar = "STYLE" },
	[TR_S_S3_CA_FILE] = { "s3-ca-file", "TOTALRECALL_S3_CA_FILE", NULL, NULL, TR_T_STRING, NULL, 0, 0, TR_SF_DRIVER,
		"CA bundle to verify the S3 endpoint's certificate",
		.group = TR_G_S3, .metavar = "FILE",
		.doc_default = "the system's CAs" },
	[TR_S_S3_INSECURE] = { "s3-insecure", "TOTALRECALL_S3_INSECURE", NULL, "false", TR_T_BOOL, NULL, 0, 0,
		TR_SF_DRIVER, "skip TLS certificate verification (tests only)",
		.group = TR_G_S3, .metavar = "BOOL" },
	[TR_S_S3_PART_SIZE] = { "s3-part-size", "TOTALRECALL_S3_PART_SIZE", NULL, "16MiB", TR_T_SIZE, NULL,
		5 * MiB, 5120 * MiB, TR_SF_DRIVER, "multipart part size; bodies up to it go in one PUT",
		.group = TR_G_S3, .metavar = "SIZE" },
	[TR_S_S3_CONDITIONAL_PUT] = { "s3-conditional-put", "TOTALRECALL_S3_CONDITIONAL_PUT", NULL, "auto", TR_T_ENUM,
		"auto|on|off", 0, 0, TR_SF_DRIVER, "use If-None-Match: * (auto probes the server, and again after a day)",
		.group = TR_G_S3, .metavar = "WHEN" },
	[TR_S_RETRIES] = { "retries", "TOTALRECALL_RETRIES", NULL, "5", TR_T_INT, NULL, 0, 100, TR_SF_DRIVER,
		"retries of a failed storage request",
		.group = TR_G_REPOSITORY, .metavar = "N" },
	[TR_S_RETRY_MAX_TIME] = { "retry-max-time", "TOTALRECALL_RETRY_MAX_TIME", NULL, "60", TR_T_INT, NULL, 1, 86400,
		TR_SF_DRIVER, "seconds after which a request is no longer retried",
		.group = TR_G_REPOSITORY, .metavar = "SECONDS" },
	[TR_S_TIMEOUT] = { "timeout", "TOTALRECALL_TIMEOUT", NULL, "30", TR_T_INT, NULL, 1, 3600, TR_SF_DRIVER,
		"seconds to connect, and without progress, before a request fails",
		.group = TR_G_REPOSITORY, .metavar = "SECONDS" },
	[TR_S_STATE_DIR] = { "state-dir", "TOTALRECALL_STATE_DIR", NULL, NULL, TR_T_STRING, NULL, 0, 0, TR_SF_DRIVER,
		"local directory of this user for the key cache, look-ahead, prefetch and storage facts "
		"(default $XDG_CACHE_HOME/totalrecall, else $HOME/.cache/totalrecall, else /tmp/totalrecall-UID; "
		"refused if another user owns it or can write it)",
		.group = TR_G_HOST, .metavar = "DIR" },
	[TR_S_LOG_LEVEL] = { "log-level", "TOTALRECALL_LOG_LEVEL", NULL, "info", TR_T_ENUM,
		"error|warning|info|debug", 0, 0, 0, "messages printed on stderr",
		.group = TR_G_HOST, .metavar = "LEVEL" },
	[TR_S_KDF_ITERATIONS] = { "kdf-iterations", "TOTALRECALL_KDF_ITERATIONS", NULL, "600000", TR_T_INT, NULL,
		1000, 100000000, 0, "PBKDF2 iterations for a new repository's keyring",
		.group = TR_G_REPOSITORY, .metavar = "N" },
	[TR_S_COMPRESS_LEVEL] = { "compress-level", "TOTALRECALL_COMPRESS_LEVEL", NULL, "3", TR_T_INT, NULL, -5, 19, 0,
		"zstd level (1 is about 20% faster and stores about 25% more on WAL)",
		.group = TR_G_REPOSITORY, .metavar = "LEVEL" },
	[TR_S_CIPHER] = { "cipher", "TOTALRECALL_CIPHER", NULL, "auto", TR_T_ENUM,
		"auto|aes-256-gcm|chacha20-poly1305", 0, 0, 0,
		"cipher for new objects (auto: AES-256-GCM with AES-NI, else ChaCha20-Poly1305)",
		.group = TR_G_REPOSITORY, .metavar = "NAME" },
	[TR_S_PG_CONNINFO] = { "pg-conninfo", "TOTALRECALL_PG_CONNINFO", NULL, NULL, TR_T_STRING, NULL, 0, 0, TR_SF_SECRET,
		"libpq connection string for backup and check (PG* variables apply too)",
		.group = TR_G_HOST, .metavar = "CONNINFO",
		.doc_default = "libpq's" },
	[TR_S_PGDATA] = { "pgdata", "TOTALRECALL_PGDATA", "PGDATA", NULL, TR_T_STRING, NULL, 0, 0, 0,
		"data directory: read by backup (default: the server's data_directory), written by restore",
		.group = TR_G_HOST, .metavar = "DIR" },
	[TR_S_PARALLEL] = { "parallel", "TOTALRECALL_PARALLEL", NULL, NULL, TR_T_INT, NULL, 1, 64, 0,
		"threads compressing, encrypting and hashing at a time (default: the number of CPUs)",
		.group = TR_G_HOST, .metavar = "N" },
	[TR_S_CHUNK_SIZE] = { "chunk-size", "TOTALRECALL_CHUNK_SIZE", NULL, "4MiB", TR_T_SIZE, NULL, 64 * 1024,
		64 * MiB, 0, "size of the deduplicated pieces of data files",
		.group = TR_G_BACKUP, .metavar = "SIZE" },
	[TR_S_ARCHIVE_TIMEOUT] = { "archive-timeout", "TOTALRECALL_ARCHIVE_TIMEOUT", NULL, "300", TR_T_INT, NULL, 1,
		86400, 0, "seconds a backup waits for its last WAL segment to reach the archive",
		.group = TR_G_BACKUP, .metavar = "SECONDS" },
	[TR_S_BACKUP_LABEL] = { "backup", "TOTALRECALL_RESTORE_BACKUP", NULL, NULL, TR_T_STRING, NULL, 0, 0, 0,
		"restore: the backup to restore (default: the newest that suits the target)",
		.group = TR_G_RESTORE, .metavar = "LABEL" },
	[TR_S_TARGET_TIME] = { "target-time", "TOTALRECALL_TARGET_TIME", NULL, NULL, TR_T_STRING, NULL, 0, 0, 0,
		"restore: recover to this time (recovery_target_time)",
		.group = TR_G_RESTORE, .metavar = "TIME" },
	[TR_S_TARGET_LSN] = { "target-lsn", "TOTALRECALL_TARGET_LSN", NULL, NULL, TR_T_STRING, NULL, 0, 0, 0,
		"restore: recover to this LSN (recovery_target_lsn)",
		.group = TR_G_RESTORE, .metavar = "LSN" },
	[TR_S_TARGET_XID] = { "target-xid", "TOTALRECALL_TARGET_XID", NULL, NULL, TR_T_INT, NULL, 3, INT64_MAX, 0,
		"restore: recover to this transaction (recovery_target_xid)",
		.group = TR_G_RESTORE, .metavar = "XID" },
	[TR_S_TARGET_NAME] = { "target-name", "TOTALRECALL_TARGET_NAME", NULL, NULL, TR_T_STRING, NULL, 0, 0, 0,
		"restore: recover to this restore point (recovery_target_name)",
		.group = TR_G_RESTORE, .metavar = "NAME" },
	[TR_S_TARGET] = { "target", "TOTALRECALL_TARGET", NULL, NULL, TR_T_ENUM, "immediate", 0, 0, 0,
		"restore: 'immediate' ends recovery as soon as the backup is consistent",
		.group = TR_G_RESTORE, .metavar = "immediate" },
	[TR_S_TARGET_ACTION] = { "target-action", "TOTALRECALL_TARGET_ACTION", NULL, "pause", TR_T_ENUM,
		"pause|promote|shutdown", 0, 0, 0, "restore: what the server does at the target",
		.group = TR_G_RESTORE, .metavar = "ACTION" },
	[TR_S_TARGET_TIMELINE] = { "target-timeline", "TOTALRECALL_TARGET_TIMELINE", NULL, NULL, TR_T_STRING, NULL, 0,
		0, 0, "restore: recovery_target_timeline (latest, current or a number)",
		.group = TR_G_RESTORE, .metavar = "TIMELINE" },
	[TR_S_COPY_PG_CONF] = { "copy-pg-conf", "TOTALRECALL_COPY_PG_CONF", NULL, NULL, TR_T_STRING, NULL, 0, 0, 0,
		"restore: copy this file over the restored postgresql.conf",
		.group = TR_G_RESTORE, .metavar = "FILE" },
	[TR_S_TRY] = { "try", NULL, NULL, NULL, TR_T_FLAG, NULL, 0, 0, 0,
		"restore: succeed doing nothing when the repository has no backup",
		.group = TR_G_RESTORE },
	[TR_S_JSON] = { "json", NULL, NULL, NULL, TR_T_FLAG, NULL, 0, 0, 0, "list: print JSON",
		.group = TR_G_COMMANDS },
	[TR_S_SCHEDULE] = { "schedule", "TOTALRECALL_SCHEDULE", NULL, TR_SCHEDULE_DEFAULT, TR_T_STRING, NULL, 0, 0, 0,
		"when backup --scheduled takes a backup: a cron expression (UTC) or an interval (7d, 12h)",
		.group = TR_G_BACKUP, .metavar = "SCHEDULE" },
	[TR_S_SCHEDULED] = { "scheduled", NULL, NULL, NULL, TR_T_FLAG, NULL, 0, 0, 0,
		"backup: only if the schedule says one is due",
		.group = TR_G_BACKUP },
	[TR_S_RETENTION_COUNT] = { "retention-count", "TOTALRECALL_RETENTION_COUNT", NULL, NULL, TR_T_INT, NULL, 1,
		1000000, 0, "expire: keep at least the N newest backups",
		.group = TR_G_COMMANDS, .metavar = "N" },
	[TR_S_RETENTION_DAYS] = { "retention-days", "TOTALRECALL_RETENTION_DAYS", NULL, NULL, TR_T_INT, NULL, 1,
		100000, 0, "expire: keep every backup newer than D days",
		.group = TR_G_COMMANDS, .metavar = "DAYS" },
	[TR_S_DRY_RUN] = { "dry-run", NULL, NULL, NULL, TR_T_FLAG, NULL, 0, 0, 0,
		"expire: list what would be removed, remove nothing",
		.group = TR_G_COMMANDS },
	[TR_S_SPOOL_DIR] = { "spool-dir", "TOTALRECALL_SPOOL_DIR", NULL, NULL, TR_T_STRING, NULL, 0, 0, 0,
		"metrics spool (default: totalrecall_spool in the data directory)",
		.group = TR_G_HOST, .metavar = "DIR" },
	[TR_S_FULL] = { "full", NULL, NULL, NULL, TR_T_FLAG, NULL, 0, 0, 0,
		"verify: check every object, not only those new since the last run",
		.group = TR_G_COMMANDS },
	[TR_S_ARCHIVE_AHEAD] = { "archive-ahead", "TOTALRECALL_ARCHIVE_AHEAD", NULL, NULL, TR_T_INT, NULL, 0, 64, 0,
		"archive-put: also upload up to N other ready WAL files in parallel (0: off; default 8 on network "
		"storage such as s3, minio and azure, 16 on fs)",
		.group = TR_G_ARCHIVING, .metavar = "N" },
	[TR_S_PREFETCH] = { "prefetch", "TOTALRECALL_PREFETCH", NULL, "4", TR_T_INT, NULL, 0, 64, 0,
		"archive-get: fetch up to N following segments ahead in the background (0: off)",
		.group = TR_G_ARCHIVING, .metavar = "N" },
	/* azure driver (README, Drivers: azure) */
	[TR_S_AZURE_ACCOUNT] = { "azure-account", "AZURE_STORAGE_ACCOUNT", NULL, NULL, TR_T_STRING, NULL, 0, 0,
		TR_SF_DRIVER, "Azure storage account name",
		.group = TR_G_AZURE, .metavar = "NAME" },
	[TR_S_AZURE_KEY] = { "azure-key", "AZURE_STORAGE_KEY", NULL, NULL, TR_T_STRING, NULL, 0, 0,
		TR_SF_DRIVER | TR_SF_SECRET, "Azure storage account key (base64), for Shared Key",
		.group = TR_G_AZURE, .metavar = "KEY" },
	[TR_S_AZURE_SAS_TOKEN] = { "azure-sas-token", "AZURE_STORAGE_SAS_TOKEN", NULL, NULL, TR_T_STRING, NULL, 0, 0,
		TR_SF_DRIVER | TR_SF_SECRET, "Azure shared access signature (the query string, '?' optional)",
		.group = TR_G_AZURE, .metavar = "TOKEN" },
	[TR_S_AZURE_CONNECTION_STRING] = { "azure-connection-string", "AZURE_STORAGE_CONNECTION_STRING", NULL, NULL,
		TR_T_STRING, NULL, 0, 0, TR_SF_DRIVER | TR_SF_SECRET,
		"Azure connection string (AccountName, AccountKey or SharedAccessSignature, BlobEndpoint, ...)",
		.group = TR_G_AZURE, .metavar = "STRING" },
	[TR_S_AZURE_CREDENTIALS] = { "azure-credentials", "TOTALRECALL_AZURE_CREDENTIALS", NULL, "auto", TR_T_ENUM,
		"auto|shared-key|sas|managed-identity", 0, 0, TR_SF_DRIVER,
		"Azure credentials to use (auto: a key, else a SAS, else the managed identity)",
		.group = TR_G_AZURE, .metavar = "SOURCE" },
	[TR_S_AZURE_CLIENT_ID] = { "azure-client-id", "AZURE_CLIENT_ID", NULL, NULL, TR_T_STRING, NULL, 0, 0,
		TR_SF_DRIVER, "client id of a user-assigned managed identity",
		.group = TR_G_AZURE, .metavar = "ID",
		.doc_default = "the system-assigned identity" },
	[TR_S_AZURE_IMDS_ENDPOINT] = { "azure-imds-endpoint", "TOTALRECALL_AZURE_IMDS_ENDPOINT", NULL, NULL,
		TR_T_STRING, NULL, 0, 0, TR_SF_DRIVER,
		"managed identity token endpoint (default: the Azure instance metadata service)",
		.group = TR_G_AZURE, .metavar = "URL" },
	[TR_S_AZURE_BLOCK_SIZE] = { "azure-block-size", "TOTALRECALL_AZURE_BLOCK_SIZE", NULL, "16MiB", TR_T_SIZE, NULL,
		MiB, 4000 * MiB, TR_SF_DRIVER, "Azure block size; bodies up to it go in one Put Blob",
		.group = TR_G_AZURE, .metavar = "SIZE" },
	[TR_S_AZURE_CA_FILE] = { "azure-ca-file", "TOTALRECALL_AZURE_CA_FILE", NULL, NULL, TR_T_STRING, NULL, 0, 0,
		TR_SF_DRIVER, "CA bundle to verify the Azure endpoint's certificate",
		.group = TR_G_AZURE, .metavar = "FILE",
		.doc_default = "the system's CAs" },
	[TR_S_ARCHIVE_MODE] = { "archive-mode", "TOTALRECALL_ARCHIVE_MODE", NULL, "preserve", TR_T_ENUM, "preserve|off",
		0, 0, 0, "restore: off makes the restored cluster never archive (archive_mode = off)",
		.group = TR_G_RESTORE, .metavar = "MODE" },
	[TR_S_LINK_MAP] = { "link-map", NULL, NULL, NULL, TR_T_STRING, NULL, 0, 0, TR_SF_REPEAT,
		"restore: NAME=PATH restores the data directory's link NAME as a link to PATH (repeatable)",
		.group = TR_G_RESTORE, .metavar = "NAME=PATH" },
	[TR_S_TABLESPACE_MAP] = { "tablespace-map", NULL, NULL, NULL, TR_T_STRING, NULL, 0, 0, TR_SF_REPEAT,
		"restore: OID_OR_NAME=PATH restores that tablespace into PATH (repeatable)",
		.group = TR_G_RESTORE, .metavar = "OID_OR_NAME=PATH" },
	[TR_S_NEW_ENCRYPTION_KEY] = { "new-encryption-key", "TOTALRECALL_NEW_ENCRYPTION_KEY", NULL, NULL, TR_T_STRING,
		NULL, 0, 0, TR_SF_SECRET, "key rotate: the passphrase that replaces the current one",
		.group = TR_G_COMMANDS, .metavar = "PASSPHRASE" },
	[TR_S_NEW_DATA_KEY] = { "new-data-key", NULL, NULL, NULL, TR_T_FLAG, NULL, 0, 0, 0,
		"key rotate: also start a new data key for objects written from then on",
		.group = TR_G_COMMANDS },
	[TR_S_S3_CREDENTIALS] = { "s3-credentials", "TOTALRECALL_S3_CREDENTIALS", NULL, "auto", TR_T_ENUM,
		"auto|static|web-identity|container|imds|profile", 0, 0, TR_SF_DRIVER,
		"where S3 credentials come from: auto walks the AWS chain, or one source",
		.group = TR_G_S3, .metavar = "SOURCE" },
	[TR_S_S3_PROFILE] = { "s3-profile", "AWS_PROFILE", "AWS_DEFAULT_PROFILE", NULL, TR_T_STRING, NULL, 0, 0,
		TR_SF_DRIVER, "profile of ~/.aws/credentials and ~/.aws/config (default: default)",
		.group = TR_G_S3, .metavar = "PROFILE" },
	[TR_S_S3_SSE] = { "s3-sse", "TOTALRECALL_S3_SSE", NULL, NULL, TR_T_ENUM, "AES256|aws:kms", 0, 0, TR_SF_DRIVER,
		"server-side encryption asked for each object (default: the bucket's)",
		.group = TR_G_S3, .metavar = "SSE" },
	[TR_S_S3_SSE_KMS_KEY_ID] = { "s3-sse-kms-key-id", "TOTALRECALL_S3_SSE_KMS_KEY_ID", NULL, NULL, TR_T_STRING,
		NULL, 0, 0, TR_SF_DRIVER, "KMS key (id, ARN or alias) for s3-sse=aws:kms",
		.group = TR_G_S3, .metavar = "KEY",
		.doc_default = "the account's AWS-managed KMS key" },
	[TR_S_S3_SSE_CUSTOMER_KEY] = { "s3-sse-customer-key", "TOTALRECALL_S3_SSE_CUSTOMER_KEY", NULL, NULL,
		TR_T_STRING, NULL, 0, 0, TR_SF_DRIVER | TR_SF_SECRET,
		"SSE-C: base64 of a 32-byte key S3 encrypts each object with (needed to read it back)",
		.group = TR_G_S3, .metavar = "KEY" },
	[TR_S_S3_STORAGE_CLASS] = { "s3-storage-class", "TOTALRECALL_S3_STORAGE_CLASS", NULL, NULL, TR_T_STRING, NULL,
		0, 0, TR_SF_DRIVER, "storage class of backups and every other object (default: the bucket's)",
		.group = TR_G_S3, .metavar = "CLASS" },
	[TR_S_S3_WAL_STORAGE_CLASS] = { "s3-wal-storage-class", "TOTALRECALL_S3_WAL_STORAGE_CLASS", NULL, NULL,
		TR_T_STRING, NULL, 0, 0, TR_SF_DRIVER, "storage class of archived WAL (default: s3-storage-class)",
		.group = TR_G_S3, .metavar = "CLASS" },
	[TR_S_S3_CHECKSUM] = { "s3-checksum", "TOTALRECALL_S3_CHECKSUM", NULL, "sha256", TR_T_ENUM, "sha256|md5|none",
		0, 0, TR_SF_DRIVER, "integrity checksum sent with every upload (Object Lock buckets need one)",
		.group = TR_G_S3, .metavar = "NAME" },
	[TR_S_S3_REQUESTER_PAYS] = { "s3-requester-pays", "TOTALRECALL_S3_REQUESTER_PAYS", NULL, "false", TR_T_BOOL,
		NULL, 0, 0, TR_SF_DRIVER, "send x-amz-request-payer: requester (Requester Pays buckets)",
		.group = TR_G_S3, .metavar = "BOOL" },
	[TR_S_WAL_KEY_PREFIX] = { "wal-key-prefix", NULL, NULL, NULL, TR_T_STRING, NULL, 0, 0,
		TR_SF_DRIVER | TR_SF_DERIVED,
		"set by totalrecall, not settable: the key prefix of WAL objects, for drivers",
		.group = TR_G_NONE },
	[TR_S_LOCK_TIMEOUT] = { "lock-timeout", "TOTALRECALL_LOCK_TIMEOUT", NULL, "3600", TR_T_INT, NULL, 0, 86400, 0,
		"seconds backup and expire wait for the repository lock the other holds",
		.group = TR_G_BACKUP, .metavar = "SECONDS" },
	[TR_S_SECTION] = { "section", "TOTALRECALL_SECTION", NULL, NULL, TR_T_INT, NULL, 1, 9999, 0,
		"the repository's history section whose WAL archive-get reads, or whose latest state restore brings "
		"back (restore writes it into totalrecall_restore.conf); default: the cluster's own, else the current one",
		.group = TR_G_ARCHIVING, .metavar = "N" },
	/* replicas (README: Replicas) */
	[TR_S_STANDBY] = { "standby", NULL, NULL, NULL, TR_T_FLAG, NULL, 0, 0, 0,
		"restore: a standby (standby.signal): replays the archive, then streams if --primary-conninfo says from where",
		.group = TR_G_RESTORE },
	[TR_S_PRIMARY_CONNINFO] = { "primary-conninfo", "TOTALRECALL_PRIMARY_CONNINFO", NULL, NULL, TR_T_STRING, NULL, 0,
		0, TR_SF_SECRET, "restore --standby: written as primary_conninfo (the connection string the standby streams over)",
		.group = TR_G_RESTORE, .metavar = "CONNINFO" },
	[TR_S_TARGET_EXCLUSIVE] = { "target-exclusive", NULL, NULL, NULL, TR_T_FLAG, NULL, 0, 0, 0,
		"restore: stop just before the target (recovery_target_inclusive = off)",
		.group = TR_G_RESTORE },
	[TR_S_DELTA] = { "delta", NULL, NULL, NULL, TR_T_FLAG, NULL, 0, 0, 0,
		"restore: into a stopped data directory of the same cluster, fetching only the chunks that differ",
		.group = TR_G_RESTORE },
	[TR_S_BACKUP_STANDBY] = { "backup-standby", "TOTALRECALL_BACKUP_STANDBY", NULL, "n", TR_T_ENUM, "n|y|prefer", 0, 0,
		0, "backup: from the standby at --standby-conninfo (y), from it when it answers else the primary (prefer)",
		.group = TR_G_BACKUP, .metavar = "WHICH" },
	[TR_S_STANDBY_CONNINFO] = { "standby-conninfo", "TOTALRECALL_STANDBY_CONNINFO", NULL, NULL, TR_T_STRING, NULL, 0,
		0, TR_SF_SECRET, "backup --backup-standby: libpq connection string of the standby",
		.group = TR_G_BACKUP, .metavar = "CONNINFO" },
	/* transfers in flight (README: Performance) */
	[TR_S_TRANSFERS] = { "transfers", "TOTALRECALL_TRANSFERS", NULL, NULL, TR_T_INT, NULL, 1, 256, 0,
		"storage requests in flight for backup, restore, verify, expire and prefetch, each on a connection "
		"of its own (default: 16 for network storage such as s3, minio and azure, at most 64 MiB of "
		"chunks; parallel for fs)",
		.group = TR_G_HOST, .metavar = "N" },
};

/* Each flag its own bit: two branches once gave REPEAT and DERIVED the same. */
_Static_assert((TR_SF_SECRET + TR_SF_DRIVER + TR_SF_REQUIRED + TR_SF_REPEAT + TR_SF_DERIVED) ==
		       (TR_SF_SECRET | TR_SF_DRIVER | TR_SF_REQUIRED | TR_SF_REPEAT | TR_SF_DERIVED),
	       "setting flags must not share bits");

const tr_setting_def *tr_setting_defs(void) { return defs; }

int tr_setting_find(const char *name)
{
	for (int i = 0; i < TR_S_COUNT; i++)
		if (strcmp(defs[i].name, name) == 0 || (defs[i].env && strcmp(defs[i].env, name) == 0) ||
		    (defs[i].env_alt && strcmp(defs[i].env_alt, name) == 0))
			return i;
	return -1;
}

const char *tr_setting_label(int id, char *buf, size_t buflen)
{
	if (defs[id].env)
		snprintf(buf, buflen, "%s (--%s)", defs[id].env, defs[id].name);
	else
		snprintf(buf, buflen, "--%s", defs[id].name);
	return buf;
}

void tr_config_init(tr_config *cfg) { memset(cfg, 0, sizeof *cfg); }

/* Overwrites a string that may hold a secret before freeing it. */
static void free_secret(char *s)
{
	if (!s)
		return;
	explicit_bzero(s, strlen(s));
	free(s);
}

void tr_config_free(tr_config *cfg)
{
	for (int i = 0; i < TR_S_COUNT; i++) {
		free_secret(cfg->raw[i]);
		free_secret(cfg->value[i]);
	}
	free(cfg->config_file);
	free(cfg->state_dir);
	memset(cfg, 0, sizeof *cfg);
}

static int set_raw(tr_config *cfg, int id, const char *value, int source)
{
	char *copy = strdup(value);
	if (!copy)
		return -1;
	free_secret(cfg->raw[id]);
	cfg->raw[id] = copy;
	cfg->source[id] = source;
	return 0;
}

/* A repeatable setting given again from the same source gets one more line. */
static int set_raw_repeat(tr_config *cfg, int id, const char *value, int source)
{
	if (!(defs[id].flags & TR_SF_REPEAT) || !cfg->raw[id] || cfg->source[id] != source)
		return set_raw(cfg, id, value, source);
	size_t n = strlen(cfg->raw[id]) + strlen(value) + 2;
	char *joined = malloc(n);
	if (!joined)
		return -1;
	snprintf(joined, n, "%s\n%s", cfg->raw[id], value);
	free_secret(cfg->raw[id]);
	cfg->raw[id] = joined;
	return 0;
}

int tr_config_set_cmdline(tr_config *cfg, const char *name, const char *value,
			  char *err, size_t errlen)
{
	int id = tr_setting_find(name);
	if (id < 0 || strcmp(defs[id].name, name) != 0 || (defs[id].flags & TR_SF_DERIVED)) {
		snprintf(err, errlen, "unknown option --%s", name);
		return -1;
	}
	if (set_raw_repeat(cfg, id, value, TR_SRC_CMDLINE) != 0) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	return 0;
}

static char *trim(char *s)
{
	while (*s && isspace((unsigned char)*s))
		s++;
	size_t n = strlen(s);
	while (n && isspace((unsigned char)s[n - 1]))
		s[--n] = '\0';
	return s;
}

/* Why tr_read_small_file failed, for a message. */
static const char *read_error(int e, const char *max)
{
	static char msg[64];
	if (e != E2BIG)
		return tr_strerror(e);  /* says "not a regular file" for a FIFO */
	snprintf(msg, sizeof msg, "larger than %s", max);
	return msg;
}

/* One level of indirection; *out is malloc'ed.  Returns 1 if raw was an
 * indirection, 0 if it is a plain value, -1 on error. */
static int resolve_once(const char *label, const char *raw, char **out, char *err, size_t errlen)
{
	if (strncmp(raw, "env:", 4) == 0) {
		const char *v = getenv(raw + 4);
		if (!raw[4] || !v) {
			snprintf(err, errlen, "%s: refers to %s, which is not set", label, raw);
			return -1;
		}
		*out = strdup(v);
		return *out ? 1 : -1;
	}
	if (strncmp(raw, "file:", 5) == 0) {
		char *buf;
		size_t len;
		if (tr_read_small_file(raw + 5, 64 * 1024, &buf, &len) != 0) {
			snprintf(err, errlen, "%s: cannot read %s: %s", label, raw + 5, read_error(errno, "64 KiB"));
			return -1;
		}
		if (memchr(buf, '\0', len)) {
			snprintf(err, errlen, "%s: %s contains a NUL byte", label, raw + 5);
			free_secret(buf);
			return -1;
		}
		*out = strdup(trim(buf));
		free_secret(buf);
		return *out ? 1 : -1;
	}
	*out = strdup(raw);
	return *out ? 0 : -1;
}

int tr_config_resolve(const char *label, const char *raw, char **out, char *err, size_t errlen)
{
	char *cur = strdup(raw);
	if (!cur)
		return -1;
	/* Two levels, as the original: env:A where A=file:/x is followed.  A
	 * third would be taken literally, so it is refused instead. */
	for (int level = 0; level < 2; level++) {
		char *next;
		int rc = resolve_once(label, cur, &next, err, errlen);
		free_secret(cur);
		if (rc < 0)
			return -1;
		cur = next;
		if (rc == 0)
			break;
	}
	if (strncmp(cur, "env:", 4) == 0 || strncmp(cur, "file:", 5) == 0) {
		snprintf(err, errlen, "%s: more than two levels of file:/env: indirection", label);
		free_secret(cur);
		return -1;
	}
	*out = cur;
	return 0;
}

/* NAME_FILE (the official postgres image's convention, also for
 * POSTGRES_PASSWORD_FILE): the file holding NAME's value, taken as
 * "file:<path>".  The container's entrypoint turns them into file: values
 * for the server; reading them here makes `docker exec ... totalrecall`
 * see the same settings.  Both NAME and NAME_FILE set is an error. */
static int read_env_file(int i, const char **v, char *buf, size_t buflen, char *err, size_t errlen)
{
	char name[160];
	snprintf(name, sizeof name, "%s_FILE", defs[i].env);
	const char *path = getenv(name);
	if (!path || !*path)
		return 0;
	if (*v) {
		snprintf(err, errlen, "both %s and %s are set: give one of them", defs[i].env, name);
		return -1;
	}
	snprintf(buf, buflen, "file:%s", path);
	*v = buf;
	return 0;
}

static int read_env(tr_config *cfg, char *err, size_t errlen)
{
	char buf[4200];
	for (int i = 0; i < TR_S_COUNT; i++) {
		if (cfg->source[i] == TR_SRC_CMDLINE || !defs[i].env)
			continue;
		const char *v = getenv(defs[i].env);
		if (v && !*v)
			v = NULL;
		if (read_env_file(i, &v, buf, sizeof buf, err, errlen) != 0)
			return -1;
		if (!v && defs[i].env_alt)
			v = getenv(defs[i].env_alt);
		if (v && *v)
			set_raw(cfg, i, v, TR_SRC_ENV);
	}
	return 0;
}

/* Parses one "key = value" line of the config file. */
static int parse_file_line(tr_config *cfg, char *line, const char *path, int lineno,
			   char *err, size_t errlen)
{
	char *s = trim(line);
	if (!*s || *s == '#' || *s == ';')
		return 0;
	char *eq = strchr(s, '=');
	if (!eq) {
		snprintf(err, errlen, "%s:%d: expected \"name = value\"", path, lineno);
		return -1;
	}
	*eq = '\0';
	char *key = trim(s), *value = trim(eq + 1);
	size_t vl = strlen(value);
	if (vl >= 2 && (value[0] == '"' || value[0] == '\'') && value[vl - 1] == value[0]) {
		value[vl - 1] = '\0';
		value++;
	}
	for (char *p = key; *p; p++)
		if (*p == '_')
			*p = '-';
	int id = tr_setting_find(key);
	if (id < 0) {
		/* Accept variable names too (TOTALRECALL_BUCKET = ...). */
		for (char *p = key; *p; p++)
			if (*p == '-')
				*p = '_';
		id = tr_setting_find(key);
	}
	if (id < 0 || (defs[id].flags & TR_SF_DERIVED)) {
		snprintf(err, errlen, "%s:%d: unknown setting \"%s\"", path, lineno, key);
		return -1;
	}
	if (cfg->source[id] == TR_SRC_CMDLINE || (cfg->source[id] == TR_SRC_ENV && !cfg->config_over_env))
		return 0;
	if (!*value) {
		/* "name =" unsets (back to the default): a file that wins over
		 * the environment (restore's) can say a setting is not used. */
		free_secret(cfg->raw[id]);
		cfg->raw[id] = NULL;
		cfg->source[id] = TR_SRC_FILE;
		return 0;
	}
	return set_raw_repeat(cfg, id, value, TR_SRC_FILE);
}

static int read_file(tr_config *cfg, char *err, size_t errlen)
{
	const char *path = cfg->config_file ? cfg->config_file : TR_CONFIG_DEFAULT_FILE;
	char *buf;
	size_t len;

	if (tr_read_small_file(path, 1024 * 1024, &buf, &len) != 0) {
		if (!cfg->config_file && errno == ENOENT)
			return 0;  /* the default file is optional */
		snprintf(err, errlen, "config file %s: %s", path, read_error(errno, "1 MiB"));
		return -1;
	}
	const char *nul = memchr(buf, '\0', len);
	if (nul) {  /* the lines after it would be dropped silently */
		int line = 1;
		for (const char *p = buf; p < nul; p++)
			line += *p == '\n';
		snprintf(err, errlen, "%s:%d: contains a NUL byte", path, line);
		free_secret(buf);
		return -1;
	}
	int rc = 0, lineno = 0;
	/* Line by line, empty ones included, so that messages name the right line. */
	for (char *line = buf, *next; line && rc == 0; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		rc = parse_file_line(cfg, line, path, ++lineno, err, errlen);
	}
	free_secret(buf);
	return rc;
}

/* Parses "16MiB", "5M", "1048576", "1GiB"; -1 on error. */
static int64_t parse_size(const char *s)
{
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (errno || end == s || v < 0)
		return -1;
	end = trim(end);
	static const struct { const char *suffix; int64_t mult; } units[] = {
		{ "", 1 }, { "B", 1 }, { "k", 1024 }, { "K", 1024 }, { "KiB", 1024 }, { "KB", 1024 },
		{ "M", MiB }, { "MiB", MiB }, { "MB", MiB }, { "G", 1024 * MiB }, { "GiB", 1024 * MiB },
		{ "GB", 1024 * MiB },
	};
	for (size_t i = 0; i < TR_ARRAY_LEN(units); i++)
		if (strcmp(end, units[i].suffix) == 0) {
			if (v > INT64_MAX / units[i].mult)
				return -1;
			return v * units[i].mult;
		}
	return -1;
}

static int parse_bool(const char *s)
{
	static const char *const yes[] = { "1", "true", "yes", "on" }, *const no[] = { "0", "false", "no", "off" };
	for (int i = 0; i < 4; i++) {
		if (strcasecmp(s, yes[i]) == 0)
			return 1;
		if (strcasecmp(s, no[i]) == 0)
			return 0;
	}
	return -1;
}

static int enum_ok(const char *choices, const char *v)
{
	size_t n = strlen(v);
	for (const char *p = choices; *p;) {
		const char *bar = strchr(p, '|');
		size_t len = bar ? (size_t)(bar - p) : strlen(p);
		if (len == n && strncmp(p, v, n) == 0)
			return 1;
		p += len + (bar ? 1 : 0);
	}
	return 0;
}

static int id_chars_ok(const char *s, size_t max)
{
	size_t n = strlen(s);
	if (n == 0 || n > max || strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
		return 0;
	for (const char *p = s; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '.' && *p != '_' && *p != '-')
			return 0;
	return 1;
}

/* A prefix is '/'-separated segments without "." or "..". */
static int prefix_ok(const char *s)
{
	char buf[1024];
	if (tr_strlcpy(buf, s, sizeof buf) != 0)
		return 0;
	char *save = NULL;
	for (char *seg = strtok_r(buf, "/", &save); seg; seg = strtok_r(NULL, "/", &save))
		if (strcmp(seg, ".") == 0 || strcmp(seg, "..") == 0)
			return 0;
	return 1;
}

/* Checks and normalises one resolved value in place (sizes become bytes). */
static int validate(tr_config *cfg, int id, char *err, size_t errlen)
{
	const tr_setting_def *d = &defs[id];
	char label[128], num[32];
	char *v = cfg->value[id];
	tr_setting_label(id, label, sizeof label);

	if (d->type == TR_T_INT || d->type == TR_T_SIZE) {
		int64_t n = parse_size(v);
		if (d->type == TR_T_INT) {
			char *end;
			errno = 0;
			long long x = strtoll(v, &end, 10);
			n = (errno || end == v || *trim(end)) ? INT64_MIN : x;
		}
		if (n == INT64_MIN || (d->type == TR_T_SIZE && n < 0)) {
			snprintf(err, errlen, "%s: not a %s", label, d->type == TR_T_SIZE ? "size (e.g. 16MiB)" : "whole number");
			return -1;
		}
		if (n < d->min || n > d->max) {
			snprintf(err, errlen, "%s: must be between %lld and %lld", label, (long long)d->min, (long long)d->max);
			return -1;
		}
		snprintf(num, sizeof num, "%lld", (long long)n);
		free(cfg->value[id]);
		cfg->value[id] = strdup(num);
	} else if (d->type == TR_T_BOOL) {
		int b = parse_bool(v);
		if (b < 0) {
			snprintf(err, errlen, "%s: expected true or false", label);
			return -1;
		}
		free(cfg->value[id]);
		cfg->value[id] = strdup(b ? "1" : "0");
	} else if (d->type == TR_T_ENUM && !enum_ok(d->choices, v)) {
		snprintf(err, errlen, "%s: expected one of %s", label, d->choices);
		return -1;
	}
	if (!cfg->value[id]) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (id == TR_S_DATABASE_ID && !id_chars_ok(v, 128)) {
		snprintf(err, errlen, "%s: use 1 to 128 letters, digits, '.', '_' or '-'", label);
		return -1;
	}
	if (id == TR_S_STORAGE_PREFIX && !prefix_ok(v)) {
		snprintf(err, errlen, "%s: must not contain \".\" or \"..\" segments", label);
		return -1;
	}
	if (id == TR_S_SCHEDULE) {
		tr_schedule sched;
		char why[200];
		if (tr_schedule_parse(v, &sched, why, sizeof why) != 0) {
			snprintf(err, errlen, "%s: %s", label, why);
			return -1;
		}
	}
	if ((id == TR_S_ENCRYPTION_KEY || id == TR_S_NEW_ENCRYPTION_KEY) && !*v) {
		snprintf(err, errlen, "%s: is empty", label);
		return -1;
	}
	return 0;
}

/* "[prefix/]dbid/wal": where the repository keeps WAL (the layout of
 * repo.c: wal/ for history section 1, wal-<N>/ for section N, section.h;
 * nothing else in a repository starts with "wal"), handed to drivers that
 * can store WAL differently from backups (s3-wal-storage-class) without
 * knowing what WAL is. */
static int derive_wal_prefix(tr_config *cfg)
{
	const char *prefix = cfg->value[TR_S_STORAGE_PREFIX], *dbid = cfg->value[TR_S_DATABASE_ID];
	free(cfg->value[TR_S_WAL_KEY_PREFIX]);
	cfg->value[TR_S_WAL_KEY_PREFIX] = NULL;
	if (!dbid)
		return 0;
	while (prefix && *prefix == '/')
		prefix++;
	size_t pl = prefix ? strlen(prefix) : 0;
	while (pl && prefix[pl - 1] == '/')
		pl--;
	char buf[1400];
	snprintf(buf, sizeof buf, "%.*s%s%s/wal", (int)pl, pl ? prefix : "", pl ? "/" : "", dbid);
	cfg->value[TR_S_WAL_KEY_PREFIX] = strdup(buf);
	cfg->source[TR_S_WAL_KEY_PREFIX] = TR_SRC_DEFAULT;
	return cfg->value[TR_S_WAL_KEY_PREFIX] ? 0 : -1;
}

/* $TOTALRECALL_STATE_DIR, else $XDG_CACHE_HOME/totalrecall, else
 * $HOME/.cache/totalrecall, else /tmp/totalrecall-UID. */
static char *default_state_dir(void)
{
	char buf[4096];
	const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
	if (xdg && *xdg == '/')
		snprintf(buf, sizeof buf, "%s/totalrecall", xdg);
	else if (home && *home == '/' && access(home, W_OK) == 0)
		snprintf(buf, sizeof buf, "%s/.cache/totalrecall", home);
	else
		snprintf(buf, sizeof buf, "/tmp/totalrecall-%u", (unsigned)getuid());
	return strdup(buf);
}

int tr_config_load(tr_config *cfg, char *err, size_t errlen)
{
	if (read_env(cfg, err, errlen) != 0)
		return -1;
	if (read_file(cfg, err, errlen) != 0)
		return -1;
	for (int i = 0; i < TR_S_COUNT; i++) {
		char label[128];
		if (!cfg->raw[i] && defs[i].defval)
			set_raw(cfg, i, defs[i].defval, TR_SRC_DEFAULT);
		if (!cfg->raw[i])
			continue;
		free_secret(cfg->value[i]);
		cfg->value[i] = NULL;
		if (tr_config_resolve(tr_setting_label(i, label, sizeof label), cfg->raw[i],
				      &cfg->value[i], err, errlen) != 0)
			return -1;
		if (validate(cfg, i, err, errlen) != 0)
			return -1;
	}
	if (!cfg->value[TR_S_PARALLEL]) {
		char n[16];
		long cpus = sysconf(_SC_NPROCESSORS_ONLN);
		snprintf(n, sizeof n, "%ld", cpus < 1 ? 1 : cpus > 64 ? 64 : cpus);
		cfg->value[TR_S_PARALLEL] = strdup(n);
	}
	free(cfg->state_dir);
	cfg->state_dir = cfg->value[TR_S_STATE_DIR] ? strdup(cfg->value[TR_S_STATE_DIR]) : default_state_dir();
	if (!cfg->state_dir || derive_wal_prefix(cfg) != 0) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	return 0;
}

int tr_config_require_storage(const tr_config *cfg, char *err, size_t errlen)
{
	for (int i = 0; i < TR_S_COUNT; i++) {
		char label[128];
		if ((defs[i].flags & TR_SF_REQUIRED) && !cfg->value[i]) {
			snprintf(err, errlen, "%s is not set", tr_setting_label(i, label, sizeof label));
			return -1;
		}
	}
	return 0;
}

const char *tr_config_get(const tr_config *cfg, int id)
{
	if (id == TR_S_STATE_DIR)
		return cfg->state_dir;
	return cfg->value[id];
}

int64_t tr_config_int(const tr_config *cfg, int id)
{
	const char *v = cfg->value[id];
	return v ? strtoll(v, NULL, 10) : 0;
}
