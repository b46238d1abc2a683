/* Unit tests: settings (precedence, file:/env: indirection, validation,
 * config file) and the driver loader's errors. */
#include "config.h"
#include "repo/loader.h"
#include "repo/repo.h"
#include "conf/resolve.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static char tmpdir[] = "/tmp/tr-test-config-XXXXXX";
static char err[2048];

static void clear_env(void)
{
	const tr_setting_def *d = tr_setting_defs();
	char name[160];
	for (int i = 0; i < TR_S_COUNT; i++) {
		if (d[i].env) {
			unsetenv(d[i].env);
			snprintf(name, sizeof name, "%s_FILE", d[i].env);
			unsetenv(name);
		}
		if (d[i].env_alt)
			unsetenv(d[i].env_alt);
	}
}

static void write_file(const char *path, const char *content)
{
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(content, f);
	fclose(f);
}

static char *path_in_tmp(const char *name)
{
	static char buf[4][512];
	static int k;
	char *p = buf[k++ % 4];
	snprintf(p, 512, "%s/%s", tmpdir, name);
	return p;
}

/* Loads with a config file that does not exist unless given. */
static int load(tr_config *cfg, const char *file)
{
	cfg->config_file = strdup(file ? file : path_in_tmp("absent.conf"));
	if (!file)
		write_file(cfg->config_file, "");
	return tr_config_load(cfg, err, sizeof err);
}

static void setup(void)
{
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
	clear_env();
}

static void teardown(void)
{
	char cmd[600];
	snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
	ck_assert_int_eq(system(cmd), 0);
	strcpy(tmpdir, "/tmp/tr-test-config-XXXXXX");
}

START_TEST(defaults_apply)
{
	tr_config cfg;
	tr_config_init(&cfg);
	ck_assert_int_eq(load(&cfg, NULL), 0);
	ck_assert_str_eq(tr_config_get(&cfg, TR_S_DRIVER), "s3");
	ck_assert_str_eq(tr_config_get(&cfg, TR_S_S3_PART_SIZE), "16777216");
	ck_assert_int_eq(tr_config_int(&cfg, TR_S_KDF_ITERATIONS), 600000);
	ck_assert_ptr_null(tr_config_get(&cfg, TR_S_DATABASE_ID));
	ck_assert_ptr_nonnull(tr_config_get(&cfg, TR_S_STATE_DIR));
	tr_config_free(&cfg);
}
END_TEST

START_TEST(precedence_cmdline_env_file)
{
	tr_config cfg;
	tr_config_init(&cfg);
	char *conf = path_in_tmp("a.conf");
	write_file(conf, "# comment\ndatabase-id = fromfile\nbucket = fromfile\nstorage_prefix = \"pre/fix\"\n"
			 "TOTALRECALL_DRIVER = fs\n");
	setenv("TOTALRECALL_DATABASE_ID", "fromenv", 1);
	setenv("TOTALRECALL_BUCKET", "fromenv", 1);
	ck_assert_int_eq(tr_config_set_cmdline(&cfg, "bucket", "fromcli", err, sizeof err), 0);
	ck_assert_int_eq(load(&cfg, conf), 0);
	ck_assert_str_eq(tr_config_get(&cfg, TR_S_BUCKET), "fromcli");
	ck_assert_str_eq(tr_config_get(&cfg, TR_S_DATABASE_ID), "fromenv");
	ck_assert_str_eq(tr_config_get(&cfg, TR_S_STORAGE_PREFIX), "pre/fix");
	ck_assert_str_eq(tr_config_get(&cfg, TR_S_DRIVER), "fs");
	tr_config_free(&cfg);
}
END_TEST

START_TEST(alternate_variable)
{
	tr_config cfg;
	tr_config_init(&cfg);
	setenv("AWS_DEFAULT_REGION", "eu-west-3", 1);
	setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9", 1);
	ck_assert_int_eq(load(&cfg, NULL), 0);
	ck_assert_str_eq(tr_config_get(&cfg, TR_S_REGION), "eu-west-3");
	ck_assert_str_eq(tr_config_get(&cfg, TR_S_ENDPOINT), "http://127.0.0.1:9");
	tr_config_free(&cfg);
	tr_config_init(&cfg);
	setenv("AWS_REGION", "us-west-2", 1);
	ck_assert_int_eq(load(&cfg, NULL), 0);
	ck_assert_str_eq(tr_config_get(&cfg, TR_S_REGION), "us-west-2");
	tr_config_free(&cfg);
}
END_TEST

START_TEST(file_and_env_indirection)
{
	tr_config cfg;
	tr_config_init(&cfg);
	char *secret = path_in_tmp("secret");
	char ref[600];
	write_file(secret, "  s3cr3t passphrase \n\n");
	snprintf(ref, sizeof ref, "file:%s", secret);
	setenv("TOTALRECALL_ENCRYPTION_KEY", ref, 1);
	setenv("MY_BUCKET", "bucket-from-env", 1);
	setenv("TOTALRECALL_BUCKET", "env:MY_BUCKET", 1);
	/* Two levels: env:INDIRECT where INDIRECT=file:... */
	setenv("INDIRECT", ref, 1);
	setenv("TOTALRECALL_DATABASE_ID", "env:INDIRECT2", 1);
	setenv("INDIRECT2", "db-2", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "env:INDIRECT", 1);
	ck_assert_int_eq(load(&cfg, NULL), 0);
	ck_assert_str_eq(tr_config_get(&cfg, TR_S_ENCRYPTION_KEY), "s3cr3t passphrase");
	ck_assert_str_eq(tr_config_get(&cfg, TR_S_BUCKET), "bucket-from-env");
	ck_assert_str_eq(tr_config_get(&cfg, TR_S_DATABASE_ID), "db-2");
	ck_assert_str_eq(tr_config_get(&cfg, TR_S_SECRET_ACCESS_KEY), "s3cr3t passphrase");
	tr_config_free(&cfg);
}
END_TEST

START_TEST(indirection_stops_after_two_levels)
{
	char *out = NULL;
	setenv("L1", "env:L2", 1);
	setenv("L2", "env:L3", 1);
	setenv("L3", "deep", 1);
	/* A third level would be used literally as the value: refused. */
	ck_assert_int_eq(tr_config_resolve("X", "env:L1", &out, err, sizeof err), -1);
	ck_assert_ptr_nonnull(strstr(err, "more than two levels"));
	setenv("L1", "env:L3", 1);
	ck_assert_int_eq(tr_config_resolve("X", "env:L1", &out, err, sizeof err), 0);
	ck_assert_str_eq(out, "deep");
	free(out);
}
END_TEST

START_TEST(unreadable_secret_names_setting_not_value)
{
	tr_config cfg;
	tr_config_init(&cfg);
	setenv("TOTALRECALL_ENCRYPTION_KEY", "file:/nonexistent/tr-key", 1);
	ck_assert_int_eq(load(&cfg, NULL), -1);
	ck_assert_ptr_nonnull(strstr(err, "TOTALRECALL_ENCRYPTION_KEY"));
	ck_assert_ptr_nonnull(strstr(err, "/nonexistent/tr-key"));
	ck_assert_ptr_nonnull(strstr(err, "No such file"));
	tr_config_free(&cfg);
}
END_TEST

START_TEST(missing_env_reference)
{
	tr_config cfg;
	tr_config_init(&cfg);
	setenv("AWS_SECRET_ACCESS_KEY", "env:TR_TEST_UNSET_VARIABLE", 1);
	ck_assert_int_eq(load(&cfg, NULL), -1);
	ck_assert_ptr_nonnull(strstr(err, "AWS_SECRET_ACCESS_KEY"));
	ck_assert_ptr_nonnull(strstr(err, "TR_TEST_UNSET_VARIABLE"));
	tr_config_free(&cfg);
}
END_TEST

/* Each bad value is refused with the setting's name and without the value. */
static const struct { const char *var, *value, *expect; } bad_values[] = {
	{ "TOTALRECALL_DATABASE_ID", "has/slash", "TOTALRECALL_DATABASE_ID" },
	{ "TOTALRECALL_DATABASE_ID", "..", "TOTALRECALL_DATABASE_ID" },
	{ "TOTALRECALL_STORAGE_PREFIX", "a/../b", "TOTALRECALL_STORAGE_PREFIX" },
	{ "TOTALRECALL_S3_PART_SIZE", "1MiB", "between" },
	{ "TOTALRECALL_S3_PART_SIZE", "lots", "size" },
	{ "TOTALRECALL_RETRIES", "5x", "whole number" },
	{ "TOTALRECALL_S3_INSECURE", "maybe", "true or false" },
	{ "TOTALRECALL_LOG_LEVEL", "loud", "error|warning|info|debug" },
	{ "TOTALRECALL_KDF_ITERATIONS", "10", "between" },
	{ "TOTALRECALL_CIPHER", "rot13", "aes-256-gcm" },
};

START_TEST(bad_values_are_refused)
{
	tr_config cfg;
	tr_config_init(&cfg);
	setenv(bad_values[_i].var, bad_values[_i].value, 1);
	ck_assert_int_eq(load(&cfg, NULL), -1);
	ck_assert_msg(strstr(err, bad_values[_i].var) != NULL, "'%s' lacks the setting name", err);
	ck_assert_msg(strstr(err, bad_values[_i].expect) != NULL, "'%s' lacks '%s'", err, bad_values[_i].expect);
	tr_config_free(&cfg);
}
END_TEST

START_TEST(sizes_and_bools_normalise)
{
	tr_config cfg;
	tr_config_init(&cfg);
	setenv("TOTALRECALL_S3_PART_SIZE", "64M", 1);
	setenv("TOTALRECALL_S3_INSECURE", "yes", 1);
	ck_assert_int_eq(load(&cfg, NULL), 0);
	ck_assert_str_eq(tr_config_get(&cfg, TR_S_S3_PART_SIZE), "67108864");
	ck_assert_str_eq(tr_config_get(&cfg, TR_S_S3_INSECURE), "1");
	tr_config_free(&cfg);
}
END_TEST

START_TEST(config_file_errors)
{
	tr_config cfg;
	char *conf = path_in_tmp("bad.conf");
	tr_config_init(&cfg);
	write_file(conf, "bucket = ok\nno equals sign here\n");
	ck_assert_int_eq(load(&cfg, conf), -1);
	ck_assert_ptr_nonnull(strstr(err, ":2:"));
	tr_config_free(&cfg);

	tr_config_init(&cfg);
	write_file(conf, "colour = blue\n");
	ck_assert_int_eq(load(&cfg, conf), -1);
	ck_assert_ptr_nonnull(strstr(err, "unknown setting \"colour\""));
	tr_config_free(&cfg);

	tr_config_init(&cfg);
	ck_assert_int_eq(load(&cfg, path_in_tmp("missing.conf")), -1);
	ck_assert_ptr_nonnull(strstr(err, "missing.conf"));
	tr_config_free(&cfg);
}
END_TEST

/* A NUL byte used to end the file there: the settings after it were
 * dropped without a word. */
START_TEST(config_file_nul_refused)
{
	tr_config cfg;
	char *conf = path_in_tmp("nul.conf");
	static const char body[] = "bucket = ok\n\nregion = eu\0west-1\nretries = 3\n";
	FILE *f = fopen(conf, "w");
	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(fwrite(body, 1, sizeof body - 1, f), sizeof body - 1);
	fclose(f);
	tr_config_init(&cfg);
	ck_assert_int_eq(load(&cfg, conf), -1);
	ck_assert_msg(strstr(err, conf) && strstr(err, ":3: contains a NUL byte"), "got '%s'", err);
	tr_config_free(&cfg);
}
END_TEST

/* Messages count empty lines too. */
START_TEST(config_file_line_numbers_count_blank_lines)
{
	tr_config cfg;
	char *conf = path_in_tmp("blank.conf");
	write_file(conf, "bucket = ok\n\n# comment\n\nno equals sign here\n");
	tr_config_init(&cfg);
	ck_assert_int_eq(load(&cfg, conf), -1);
	ck_assert_msg(strstr(err, ":5: expected") != NULL, "got '%s'", err);
	tr_config_free(&cfg);
}
END_TEST

/* Opening a FIFO waits for a writer: a file: secret or a config file that
 * is one is refused at once.  An alarm fails the test instead of hanging. */
START_TEST(fifo_secret_refused_without_blocking)
{
	tr_config cfg;
	char *fifo = path_in_tmp("key.fifo"), ref[600];
	ck_assert_int_eq(mkfifo(fifo, 0600), 0);
	snprintf(ref, sizeof ref, "file:%s", fifo);
	setenv("TOTALRECALL_ENCRYPTION_KEY", ref, 1);
	alarm(10);
	tr_config_init(&cfg);
	ck_assert_int_eq(load(&cfg, NULL), -1);
	ck_assert_msg(strstr(err, "TOTALRECALL_ENCRYPTION_KEY") && strstr(err, "not a regular file"), "got '%s'", err);
	tr_config_free(&cfg);
	unsetenv("TOTALRECALL_ENCRYPTION_KEY");
	tr_config_init(&cfg);
	ck_assert_int_eq(load(&cfg, fifo), -1);
	ck_assert_msg(strstr(err, "config file") && strstr(err, "not a regular file"), "got '%s'", err);
	tr_config_free(&cfg);
	alarm(0);
}
END_TEST

/* A schedule that never fires is refused, naming the setting. */
START_TEST(schedule_that_never_fires_refused)
{
	tr_config cfg;
	setenv("TOTALRECALL_SCHEDULE", "0 0 31 2 *", 1);
	tr_config_init(&cfg);
	ck_assert_int_eq(load(&cfg, NULL), -1);
	ck_assert_msg(strstr(err, "TOTALRECALL_SCHEDULE") && strstr(err, "never"), "got '%s'", err);
	tr_config_free(&cfg);
	setenv("TOTALRECALL_SCHEDULE", "0 0 29 2 *", 1);  /* every four years: fine */
	tr_config_init(&cfg);
	ck_assert_msg(load(&cfg, NULL) == 0, "29 February refused: %s", err);
	tr_config_free(&cfg);
}
END_TEST

START_TEST(required_settings_named)
{
	tr_config cfg;
	tr_config_init(&cfg);
	setenv("TOTALRECALL_BUCKET", "b", 1);
	setenv("TOTALRECALL_ENCRYPTION_KEY", "k", 1);
	ck_assert_int_eq(load(&cfg, NULL), 0);
	ck_assert_int_eq(tr_config_require_storage(&cfg, err, sizeof err), -1);
	ck_assert_ptr_nonnull(strstr(err, "TOTALRECALL_DATABASE_ID"));
	tr_config_free(&cfg);
}
END_TEST

START_TEST(unknown_cmdline_option)
{
	tr_config cfg;
	tr_config_init(&cfg);
	ck_assert_int_eq(tr_config_set_cmdline(&cfg, "colour", "x", err, sizeof err), -1);
	ck_assert_ptr_nonnull(strstr(err, "--colour"));
	tr_config_free(&cfg);
}
END_TEST

/* --- loader --- */

static const char *test_driver_dir(void)
{
	static char dir[1024];
	const char *b = getenv("top_builddir");
	snprintf(dir, sizeof dir, "%s/tests/unit/drivers/.libs", b ? b : "..");
	return dir;
}

START_TEST(loader_unknown_driver_names_dirs)
{
	tr_loaded_driver ld;
	ck_assert_int_eq(tr_driver_load("nosuchdriver", "/nonexistent-dir", &ld, err, sizeof err), -1);
	ck_assert_ptr_nonnull(strstr(err, "\"nosuchdriver\" not found"));
	ck_assert_ptr_nonnull(strstr(err, "/nonexistent-dir"));
	ck_assert_int_eq(tr_driver_load("../etc", NULL, &ld, err, sizeof err), -1);
	ck_assert_ptr_nonnull(strstr(err, "not valid"));
}
END_TEST

START_TEST(loader_bad_abi)
{
	tr_loaded_driver ld;
	ck_assert_int_eq(tr_driver_load("badabi", test_driver_dir(), &ld, err, sizeof err), -1);
	ck_assert_msg(strstr(err, "\"badabi\"") && strstr(err, "ABI version 99") && strstr(err, "versions 1 and 2"), "%s",
		      err);
}
END_TEST

static const char *v1_setting(void *ctx, const char *name)
{
	return strcmp(name, "bucket") == 0 ? ctx : NULL;
}

static int v1_sink(void *ctx, const void *buf, size_t len)
{
	char *out = ctx;
	size_t have = strlen(out);
	if (have + len >= 64)
		return -1;
	memcpy(out + have, buf, len);
	out[have + len] = '\0';
	return 0;
}

static ssize_t v1_source(void *ctx, void *buf, size_t len)
{
	const char **p = ctx;
	size_t n = strlen(*p) < len ? strlen(*p) : len;
	memcpy(buf, *p, n);
	*p += n;
	return (ssize_t)n;
}

/* A driver built against version 1's header (tests/unit/drivers/v1fs.c)
 * loads through the adapter and works: its table, environment, missing
 * appended members and statuses are translated. */
START_TEST(loader_adapts_v1_driver)
{
	tr_loaded_driver ld;
	tr_conn *c = NULL;
	char got[64] = "";
	const char *body = "from a version-1 driver";
	ck_assert_msg(tr_driver_load("v1fs", test_driver_dir(), &ld, err, sizeof err) == 0, "%s", err);
	ck_assert_int_eq(ld.abi_version, 1);
	ck_assert_int_eq(ld.drv->abi_version, TR_DRIVER_ABI_VERSION);
	ck_assert_str_eq(ld.drv->name, "v1fs");
	tr_driver_env env = tr_driver_env_make(v1_setting, NULL, "/nonexistent-bucket");
	ck_assert_int_eq(tr_driver_open(&ld, &env, &c), TR_EINVAL);
	ck_assert_ptr_nonnull(strstr(ld.drv->errmsg(c), "existing directory"));
	ld.drv->close(c);
	env = tr_driver_env_make(v1_setting, NULL, tmpdir);
	ck_assert_int_eq(tr_driver_open(&ld, &env, &c), TR_OK);
	ck_assert_uint_eq(ld.drv->caps(c), TR_CAP_PUT_IF_ABSENT);
	ck_assert_ptr_null(ld.drv->describe(c));
	tr_put_args a = { v1_source, &body, -1, TR_PUT_IF_ABSENT, NULL };
	ck_assert_int_eq(ld.drv->put(c, "v1/obj", &a), TR_OK);
	ck_assert_int_eq(ld.drv->get(c, "v1/obj", v1_sink, got), TR_OK);
	ck_assert_str_eq(got, "from a version-1 driver");
	body = "again";
	ck_assert_int_eq(ld.drv->put(c, "v1/obj", &a), TR_EEXIST);
	a.flags = TR_PUT_BATCH;
	ck_assert_int_eq(ld.drv->put(c, "v1/batched", &a), TR_ENOTSUP);
	ck_assert_ptr_nonnull(strstr(ld.drv->errmsg(c), "not supported"));
	ck_assert_int_eq(ld.drv->sync(c), TR_ENOTSUP);
	tr_object_info info;
	ck_assert_int_eq(ld.drv->head(c, "v1/none", &info), TR_ENOENT);
	/* Version 1's TR_EIO ("failed after the driver's retries") is
	 * TR_ETRANSIENT; its message passes through. */
	ck_assert_int_eq(ld.drv->get(c, "v1", v1_sink, got), TR_ETRANSIENT);
	ck_assert_msg(strstr(ld.drv->errmsg(c), "Is a directory") != NULL, "%s", ld.drv->errmsg(c));
	ld.drv->close(c);
	tr_driver_unload(&ld);
}
END_TEST

START_TEST(loader_no_entry)
{
	tr_loaded_driver ld;
	ck_assert_int_eq(tr_driver_load("noentry", test_driver_dir(), &ld, err, sizeof err), -1);
	ck_assert_msg(strstr(err, "has no symbol totalrecall_driver") != NULL, "%s", err);
}
END_TEST

START_TEST(loader_wrong_name)
{
	tr_loaded_driver ld;
	ck_assert_int_eq(tr_driver_load("wrongname", test_driver_dir(), &ld, err, sizeof err), -1);
	ck_assert_msg(strstr(err, "declares itself as \"other\"") != NULL, "%s", err);
}
END_TEST

START_TEST(loader_finds_fs_in_build_tree)
{
	tr_loaded_driver ld;
	char dir[1024];
	const char *b = getenv("top_builddir");
	snprintf(dir, sizeof dir, "%s/drivers/fs/.libs", b ? b : "..");
	ck_assert_msg(tr_driver_load("fs", dir, &ld, err, sizeof err) == 0, "%s", err);
	ck_assert_str_eq(ld.drv->name, "fs");
	ck_assert_int_eq(ld.drv->abi_version, TR_DRIVER_ABI_VERSION);
	ck_assert_int_eq(ld.abi_version, 2);
	tr_driver_unload(&ld);
}
END_TEST

/* The hash naming a repository's local state (key cache, verify state)
 * tells Azure accounts apart, never depends on a secret, and is unchanged
 * for drivers that have no account. */
static void hash_with(const char *var, const char *value, char out[33])
{
	tr_config cfg;
	tr_config_init(&cfg);
	clear_env();
	setenv("TOTALRECALL_DRIVER", "azure", 1);
	setenv("TOTALRECALL_BUCKET", "backups", 1);
	setenv("TOTALRECALL_DATABASE_ID", "db", 1);
	if (var)
		setenv(var, value, 1);
	ck_assert_int_eq(load(&cfg, NULL), 0);
	tr_repo_settings rs;
	tr_conf_repo(&cfg, &rs);
	tr_repo_id_hash(&rs, out);
	tr_config_free(&cfg);
}

START_TEST(repo_hash_tells_storage_accounts_apart)
{
	char none[33], a[33], b[33], cs1[33], cs2[33], cs3[33];
	hash_with(NULL, NULL, none);
	hash_with("AZURE_STORAGE_ACCOUNT", "accounta", a);
	hash_with("AZURE_STORAGE_ACCOUNT", "accountb", b);
	ck_assert_str_ne(a, b);
	ck_assert_str_ne(none, a);
	hash_with("AZURE_STORAGE_CONNECTION_STRING", "AccountName=accounta;AccountKey=a2V5MQ==", cs1);
	hash_with("AZURE_STORAGE_CONNECTION_STRING", "AccountName=accounta;AccountKey=a2V5Mg==", cs2);
	hash_with("AZURE_STORAGE_CONNECTION_STRING", "AccountName=accountb;AccountKey=a2V5MQ==", cs3);
	ck_assert_str_eq(cs1, cs2);  /* a rotated key keeps the local state */
	ck_assert_str_ne(cs1, cs3);
}
END_TEST

/* NAME_FILE=/path is NAME=file:/path (the official postgres image's
 * convention); both forms at once are refused, naming both variables. */
START_TEST(name_file_variables)
{
	tr_config cfg;
	char *key = path_in_tmp("key"), *bucket = path_in_tmp("bucket");
	write_file(key, "from-a-file\n");
	write_file(bucket, "bucket-from-file");
	setenv("TOTALRECALL_ENCRYPTION_KEY_FILE", key, 1);
	setenv("TOTALRECALL_BUCKET_FILE", bucket, 1);
	tr_config_init(&cfg);
	ck_assert_int_eq(load(&cfg, NULL), 0);
	ck_assert_str_eq(tr_config_get(&cfg, TR_S_ENCRYPTION_KEY), "from-a-file");
	ck_assert_str_eq(tr_config_get(&cfg, TR_S_BUCKET), "bucket-from-file");
	tr_config_free(&cfg);
	setenv("TOTALRECALL_ENCRYPTION_KEY", "direct", 1);
	tr_config_init(&cfg);
	ck_assert_int_eq(load(&cfg, NULL), -1);
	ck_assert_msg(strstr(err, "TOTALRECALL_ENCRYPTION_KEY and TOTALRECALL_ENCRYPTION_KEY_FILE"), "got '%s'", err);
	ck_assert_ptr_null(strstr(err, "from-a-file"));
	tr_config_free(&cfg);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("config");
	TCase *t = tcase_create("settings");
	tcase_add_checked_fixture(t, setup, teardown);
	tcase_add_test(t, defaults_apply);
	tcase_add_test(t, precedence_cmdline_env_file);
	tcase_add_test(t, alternate_variable);
	tcase_add_test(t, file_and_env_indirection);
	tcase_add_test(t, indirection_stops_after_two_levels);
	tcase_add_test(t, unreadable_secret_names_setting_not_value);
	tcase_add_test(t, missing_env_reference);
	tcase_add_loop_test(t, bad_values_are_refused, 0, sizeof bad_values / sizeof bad_values[0]);
	tcase_add_test(t, sizes_and_bools_normalise);
	tcase_add_test(t, config_file_errors);
	tcase_add_test(t, config_file_nul_refused);
	tcase_add_test(t, config_file_line_numbers_count_blank_lines);
	tcase_add_test(t, fifo_secret_refused_without_blocking);
	tcase_add_test(t, schedule_that_never_fires_refused);
	tcase_add_test(t, required_settings_named);
	tcase_add_test(t, unknown_cmdline_option);
	tcase_add_test(t, repo_hash_tells_storage_accounts_apart);
	tcase_add_test(t, name_file_variables);
	suite_add_tcase(s, t);
	TCase *l = tcase_create("loader");
	tcase_add_checked_fixture(l, setup, teardown);
	tcase_add_test(l, loader_unknown_driver_names_dirs);
	tcase_add_test(l, loader_bad_abi);
	tcase_add_test(l, loader_adapts_v1_driver);
	tcase_add_test(l, loader_no_entry);
	tcase_add_test(l, loader_wrong_name);
	tcase_add_test(l, loader_finds_fs_in_build_tree);
	suite_add_tcase(s, l);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
