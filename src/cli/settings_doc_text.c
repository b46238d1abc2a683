/* settings_doc_text.c - what each setting's documentation adds to its
 * one-line help (conf/settings.c): the README's configuration reference and
 * the man page's SETTINGS are generated from both.  Only settings-doc
 * links it, so the texts take no room in the installed binary. */
#include "config.h"
#include "cli/settings_doc_text.h"

const char *const tr_setting_doc_text[TR_S_COUNT] = {
	[TR_S_DRIVER] = "`azure` (Azure Blob Storage) comes with them; see totalrecall-storage(7)",
	[TR_S_DRIVER_DIR] = "without it, drivers are looked for in the installed directory (`<libdir>/totalrecall/drivers`), "
		"then in the build tree beside the binary, then in `../lib/totalrecall/drivers` beside it",
	[TR_S_DATABASE_ID] = "the same id on a new server (or in a new container) finds the same repository",
	[TR_S_ENCRYPTION_KEY] = "it unlocks the data keys of the keyring (totalrecall-security(7)); give it as `file:` or "
		"`env:`, not on a command line other users can see",
	[TR_S_BUCKET] = "for `azure`, the container",
	[TR_S_STORAGE_PREFIX] = "`/`-separated, without `.` or `..` segments; the s3 driver's conditional-put probe lives there "
		"too",
	[TR_S_REGION] = "unset, the `region` of the profile in `~/.aws/config` comes first, as in the AWS SDKs",
	[TR_S_ACCESS_KEY_ID] = "without static keys the driver walks the AWS credential chain (`s3-credentials`); one of the "
		"two without the other is an error",
	[TR_S_ENDPOINT] = "for `azure`, the Blob service URL (default `https://<account>.blob.core.windows.net`)",
	[TR_S_S3_URI_STYLE] = "`auto`: virtual-hosted on AWS endpoints, path-style on any other and for bucket names with dots "
		"over TLS; `minio` always uses path-style",
	[TR_S_S3_PART_SIZE] = "at most 10,000 parts, the part size grown to fit when the size is known",
	[TR_S_S3_CONDITIONAL_PUT] = "the probe writes and deletes a key under `storage-prefix` and its answer is kept in the state "
		"directory; `on` makes no probe; without it, a HEAD-then-PUT fallback",
	[TR_S_STATE_DIR] = "every directory below it must give others no access; the key cache in it is as sensitive as the "
		"passphrase",
	[TR_S_KDF_ITERATIONS] = "also for a rotated keyring (`key rotate`), which never lowers them",
	[TR_S_CIPHER] = "objects already stored are read whatever cipher wrote them",
	[TR_S_PG_CONNINFO] = "also for `upgrade` while the new cluster runs",
	[TR_S_PGDATA] = "`upgrade` reads a stopped cluster's identity from it; `restore` also takes it as its argument",
	[TR_S_PARALLEL] = "the CPU work of `transfers` requests in flight runs this many at a time; also `verify`'s workers "
		"on a local disk, and the threads that compress the segment `archive-put` was called for",
	[TR_S_CHUNK_SIZE] = "cut at fixed offsets, so that unchanged data is found again in the next backup; each chunk is "
		"one object, so a restore makes one GET per distinct chunk: 4 MiB needed 734 GETs for a pgbench "
		"scale-100 cluster where 1 MiB needed 1,854, and restored it in 8.8 s instead of 14.5 s over S3 with "
		"25 ms per request (smaller chunks store less after small changes: a backup only finds a chunk "
		"again in backups of the same chunk size)",
	[TR_S_ARCHIVE_TIMEOUT] = "`check` waits as long for its segment when this is set, else 60 seconds",
	[TR_S_BACKUP_LABEL] = "`verify --backup`: only that backup, its chunks and the WAL from its start",
	[TR_S_TARGET_TIME] = "`YYYY-MM-DD HH:MM:SS[.ffffff][+HH[:MM]]`, UTC when no zone is given (`Z`, `UTC` or a numeric "
		"offset; named zones are refused), written to PostgreSQL as UTC with `+00`",
	[TR_S_TARGET_LSN] = "e.g. `0/3000028`",
	[TR_S_TARGET_NAME] = "1 to 63 bytes",
	[TR_S_TARGET_ACTION] = "`pause` is PostgreSQL's default too; refused with `--standby` (a standby never stops)",
	[TR_S_TARGET_TIMELINE] = "without it, restore follows the archive's only tip, and refuses when timelines diverged",
	[TR_S_SCHEDULE] = "cron: 5 fields or a macro such as `@daily`; interval: `<n>m`, `<n>h`, `<n>d` or `<n>w` since "
		"the last backup; one that can never fire is refused",
	[TR_S_RETENTION_COUNT] = "only restorable backups count, those of every history section together",
	[TR_S_RETENTION_DAYS] = "with neither retention setting, `expire` removes nothing",
	[TR_S_DRY_RUN] = "with sizes",
	[TR_S_SPOOL_DIR] = "see Metrics in totalrecall(1)",
	[TR_S_ARCHIVE_AHEAD] = "while PostgreSQL waits for one file, the others compress on the free CPUs and their uploads wait on "
		"the network together; in a burst of 200 ready files this measured 3.3 x the rate of one at a time on s3 "
		"with 25 ms latency and 1.2 x on a local disk. Each one stored leaves a marker (with a MAC) in "
		"`<state-dir>/ahead/`, so that PostgreSQL's own call for it returns at once",
	[TR_S_PREFETCH] = "into `<state-dir>/prefetch/`, still encrypted; one prefetcher runs at a time",
	[TR_S_AZURE_SAS_TOKEN] = "it needs read, write, delete and list on the container's blobs (`sp=rwdl`)",
	[TR_S_AZURE_CONNECTION_STRING] = "when set, it supplies the account, the credentials and the endpoint, and `azure-account`, "
		"`azure-key` and `azure-sas-token` are ignored with a warning; `UseDevelopmentStorage=true` is "
		"refused",
	[TR_S_AZURE_IMDS_ENDPOINT] = "`http://169.254.169.254/metadata/identity/oauth2/token`, never through a proxy; tokens are kept "
		"in the state directory until 5 minutes before they expire",
	[TR_S_AZURE_BLOCK_SIZE] = "at most 50,000 blocks, grown to fit when the size is known",
	[TR_S_AZURE_CA_FILE] = "and of an `https` token endpoint",
	[TR_S_ARCHIVE_MODE] = "`preserve` keeps the backup's setting (pgBackRest's option; the Docker image's entrypoint turns "
		"archiving on at every start)",
	[TR_S_LINK_MAP] = "`NAME` is its path in the data directory (`pg_wal`, `conf.d/extra.conf`), `PATH` an empty or "
		"new directory or a new file; without it, such a link comes back as a plain directory or file",
	[TR_S_TABLESPACE_MAP] = "`PATH` empty or new; without it, tablespaces go back to their original locations, which must be "
		"empty",
	[TR_S_NEW_ENCRYPTION_KEY] = "`file:` and `env:` accepted",
	[TR_S_NEW_DATA_KEY] = "older keys stay in the keyring, to read what they wrote",
	[TR_S_S3_CREDENTIALS] = "the chain is static keys, web identity, profile, container, instance metadata (IMDSv2): see "
		"totalrecall-storage(7)",
	[TR_S_S3_PROFILE] = "naming one makes a missing profile an error; the files are `AWS_SHARED_CREDENTIALS_FILE` and "
		"`AWS_CONFIG_FILE` when set",
	[TR_S_S3_SSE_KMS_KEY_ID] = "implies `aws:kms`",
	[TR_S_S3_SSE_CUSTOMER_KEY] = "make one with `openssl rand -base64 32` and keep it like the encryption key; https only (or a "
		"loopback endpoint); excludes `s3-sse`",
	[TR_S_S3_STORAGE_CLASS] = "`GLACIER` and `DEEP_ARCHIVE` are refused (their objects need a restore request before a read): "
		"use `GLACIER_IR`",
	[TR_S_S3_WAL_STORAGE_CLASS] = "and history files",
	[TR_S_S3_CHECKSUM] = "`sha256` sends `x-amz-checksum-sha256`, `md5` sends `Content-MD5` (older S3-compatible "
		"servers), `none` nothing",
	[TR_S_SECTION] = "`--backup` implies its own section",
	[TR_S_STANDBY] = "recovery targets are refused with it",
	[TR_S_PRIMARY_CONNINFO] = "written escaped into `postgresql.auto.conf`, where PostgreSQL keeps it (prefer `~/.pgpass` for "
		"a password); refused without `--standby`",
	[TR_S_TARGET_EXCLUSIVE] = "with `--target-time`, `--target-lsn` or `--target-xid` only",
	[TR_S_DELTA] = "refused while a server runs there, for another system identifier, and where a link the restore "
		"would not make is in the way; into an empty directory, an ordinary restore",
	[TR_S_BACKUP_STANDBY] = "`n`: the primary at `--pg-conninfo`, which must not be a standby (pgBackRest's values)",
	[TR_S_TRANSFERS] = "network storage answers each request after a round trip (15-40 ms on S3), so many wait together "
		"while `parallel` threads do the CPU work; memory grows with it by about one chunk per transfer",
};
