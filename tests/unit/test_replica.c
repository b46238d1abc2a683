/* test_replica.c - restore as a standby (standby.signal, primary_conninfo
 * escaped, targets refused), --target-exclusive, and the pieces of
 * restore --delta: the system identifier of pg_control, a live or stale
 * postmaster.pid, links in the way, and the walk that removes what the
 * backup does not hold without following a link. */
#include "config.h"
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmd/restore_conf.h"
#include "cmd/restore_delta.h"
#include "cmd/restore_tree.h"
#include "conf/settings.h"
#include "base/util.h"

static char base[512];
static char err[2048];

static const char *at(const char *rel)
{
	static char buf[8][1024];
	static int k;
	char *p = buf[k++ % 8];
	snprintf(p, 1024, "%s/%s", base, rel);
	return p;
}

static void put(const char *rel, const char *text)
{
	FILE *f = fopen(at(rel), "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
}

static void mk(const char *rel)
{
	ck_assert_int_eq(mkdir(at(rel), 0700), 0);
}

static int exists(const char *rel)
{
	struct stat st;
	return lstat(at(rel), &st) == 0;
}

static char *slurp(const char *rel)
{
	char *text;
	size_t len;
	ck_assert_int_eq(tr_read_small_file(at(rel), 1 << 20, &text, &len), 0);
	return text;
}

static void setup(void)
{
	const tr_setting_def *d = tr_setting_defs();
	for (int i = 0; i < TR_S_COUNT; i++) {
		if (d[i].env)
			unsetenv(d[i].env);
		if (d[i].env_alt)
			unsetenv(d[i].env_alt);
	}
	snprintf(base, sizeof base, "/tmp/tr-replica-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(base));
}

static void teardown(void)
{
	char cmd[600];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", base);
	ck_assert_int_eq(system(cmd), 0);
}

/* A configuration from NAME=VALUE options (a flag as NAME alone). */
static int config(tr_config *cfg, const char *const *opts)
{
	tr_config_init(cfg);
	for (; *opts; opts++) {
		char name[64];
		const char *eq = strchr(*opts, '=');
		snprintf(name, sizeof name, "%.*s", eq ? (int)(eq - *opts) : (int)strlen(*opts), *opts);
		ck_assert_int_eq(tr_config_set_cmdline(cfg, name, eq ? eq + 1 : "1", err, sizeof err), 0);
	}
	cfg->config_file = strdup(at("absent.conf"));
	put("absent.conf", "");
	return tr_config_load(cfg, err, sizeof err);
}

static int checked(const char *const *opts)
{
	tr_config cfg;
	ck_assert_int_eq(config(&cfg, opts), 0);
	int rc = tr_restore_conf_check(&cfg, err, sizeof err);
	tr_config_free(&cfg);
	return rc;
}

START_TEST(test_standby_refuses_targets)
{
	static const char *const ok1[] = { "standby", "primary-conninfo=host=h", NULL };
	static const char *const ok2[] = { "standby", "target-timeline=2", NULL };
	static const char *const bad1[] = { "standby", "target-time=2026-01-01 00:00:00", NULL };
	static const char *const bad2[] = { "standby", "target=immediate", NULL };
	static const char *const bad3[] = { "standby", "target-action=promote", NULL };
	static const char *const bad4[] = { "primary-conninfo=host=h", NULL };
	static const char *const bad5[] = { "target-exclusive", NULL };
	static const char *const bad6[] = { "target-exclusive", "target-name=x", NULL };
	static const char *const ok3[] = { "target-exclusive", "target-xid=1234", NULL };
	ck_assert_int_eq(checked(ok1), 0);
	ck_assert_int_eq(checked(ok2), 0);
	ck_assert_int_eq(checked(ok3), 0);
	ck_assert_int_ne(checked(bad1), 0);
	ck_assert_ptr_nonnull(strstr(err, "--standby"));
	ck_assert_int_ne(checked(bad2), 0);
	ck_assert_int_ne(checked(bad3), 0);
	ck_assert_int_ne(checked(bad4), 0);
	ck_assert_ptr_nonnull(strstr(err, "PRIMARY_CONNINFO"));
	ck_assert_int_ne(checked(bad5), 0);
	ck_assert_int_ne(checked(bad6), 0);
	ck_assert_ptr_nonnull(strstr(err, "--target-exclusive"));
}
END_TEST

static char *write_conf(const char *const *opts, const char *timeline)
{
	tr_config cfg;
	tr_recovery rec = { timeline, NULL, 0 };
	mk("pg");
	put("pg/postgresql.auto.conf", "recovery_target_inclusive = 'off'\n");
	ck_assert_int_eq(config(&cfg, opts), 0);
	ck_assert_int_eq(tr_restore_conf_write(&cfg, at("pg"), &rec, err, sizeof err), 0);
	tr_config_free(&cfg);
	return slurp("pg/postgresql.auto.conf");
}

START_TEST(test_standby_conf)
{
	static const char *const opts[] = { "standby",
		"primary-conninfo=host=10.0.0.1 user=rep application_name='it''s' password=a\\b", NULL };
	char *text = write_conf(opts, NULL);
	ck_assert(exists("pg/standby.signal"));
	ck_assert(!exists("pg/recovery.signal"));
	/* Quoted for postgresql.conf: ' doubled, \ escaped; libpq gets it back. */
	ck_assert_ptr_nonnull(strstr(text, "\nprimary_conninfo = 'host=10.0.0.1 user=rep application_name=''it''''s'' "
					   "password=a\\\\b'\n"));
	ck_assert_ptr_nonnull(strstr(text, "\nrecovery_target_timeline = 'latest'\n"));
	ck_assert_ptr_nonnull(strstr(text, "\nrecovery_target_inclusive = 'on'\n"));
	free(text);
}
END_TEST

START_TEST(test_exclusive_conf)
{
	static const char *const opts[] = { "target-xid=4321", "target-exclusive", NULL };
	char *text = write_conf(opts, "1");
	ck_assert(exists("pg/recovery.signal"));
	ck_assert(!exists("pg/standby.signal"));
	ck_assert_ptr_nonnull(strstr(text, "\nrecovery_target_xid = '4321'\n"));
	ck_assert_ptr_nonnull(strstr(text, "\nrecovery_target_inclusive = 'off'\n"));
	ck_assert_ptr_null(strstr(text, "primary_conninfo"));
	free(text);
}
END_TEST

START_TEST(test_sysid_and_postmaster)
{
	char id[32];
	uint64_t v = 7437418766012345678ULL;
	uint8_t page[8192] = { 0 };
	memcpy(page, &v, sizeof v);
	int fd = open(at("pg_control"), O_WRONLY | O_CREAT, 0600);
	ck_assert_int_eq(tr_write_full(fd, page, sizeof page), 0);
	close(fd);
	ck_assert_int_eq(tr_delta_read_sysid(at("pg_control"), id), 0);
	ck_assert_str_eq(id, "7437418766012345678");
	put("short", "1234");
	ck_assert_int_ne(tr_delta_read_sysid(at("short"), id), 0);
	ck_assert_int_eq(errno, EINVAL);

	long pid = 0;
	ck_assert_int_eq(tr_delta_postmaster_alive(base, &pid), 0);  /* none */
	char text[64];
	snprintf(text, sizeof text, "%ld\n%s\n", (long)getpid(), base);
	put("postmaster.pid", text);
	ck_assert_int_eq(tr_delta_postmaster_alive(base, &pid), 1);
	ck_assert_int_eq(pid, (long)getpid());
	snprintf(text, sizeof text, "-%ld\n", (long)getpid());  /* a standalone backend */
	put("postmaster.pid", text);
	ck_assert_int_eq(tr_delta_postmaster_alive(base, &pid), 1);
	put("postmaster.pid", "2147483000\n");  /* stale: no such process */
	ck_assert_int_eq(tr_delta_postmaster_alive(base, &pid), 0);
}
END_TEST

START_TEST(test_links_in_the_way)
{
	mk("data");
	mk("data/pg_tblspc");
	mk("ts");
	mk("elsewhere");
	ck_assert_int_eq(symlink(at("ts"), at("data/pg_tblspc/16385")), 0);
	ck_assert_int_eq(symlink(at("elsewhere"), at("data/pg_wal")), 0);
	const char *root = at("data");
	ck_assert_int_eq(tr_delta_check_entry(root, "pg_tblspc/16385", at("ts"), err, sizeof err), 0);
	ck_assert(tr_delta_link_is(root, "pg_tblspc/16385", at("ts")));
	/* Another place than the backup's: refused, naming the map to keep it. */
	ck_assert_int_ne(tr_delta_check_entry(root, "pg_tblspc/16385", at("other"), err, sizeof err), 0);
	ck_assert_ptr_nonnull(strstr(err, "--tablespace-map 16385="));
	/* A link where the restore makes a plain directory. */
	ck_assert_int_ne(tr_delta_check_entry(root, "pg_wal", NULL, err, sizeof err), 0);
	ck_assert_ptr_nonnull(strstr(err, "--link-map pg_wal="));
	/* Not a link where the backup has one. */
	mk("data/base");
	ck_assert_int_ne(tr_delta_check_entry(root, "base", at("x"), err, sizeof err), 0);
	ck_assert_int_eq(tr_delta_check_entry(root, "base", NULL, err, sizeof err), 0);
	ck_assert_int_eq(tr_delta_check_entry(root, "absent", NULL, err, sizeof err), 0);
}
END_TEST

/* A walk over a local tree: kept, replaced and removed entries. */
START_TEST(test_delta_walk)
{
	tr_rtree t;
	tr_delta *d;
	mk("data");
	mk("data/global");
	put("data/global/pg_control", "old control");
	put("data/global/1262", "kept");
	mk("data/base");
	put("data/base/extra", "dropped relation");
	mk("data/pg_wal");
	put("data/pg_wal/000000010000000000000009", "old wal");
	put("data/postmaster.pid", "2147483000\n");  /* stale */
	put("data/standby.signal", "");
	mk("data/totalrecall_spool");
	put("data/totalrecall_spool/metrics.spool", "x");
	mk("data/was_a_file");  /* a directory where the backup has a file */
	put("data/was_a_file/inner", "x");
	mk("outside");
	put("outside/precious", "keep");
	ck_assert_int_eq(symlink(at("outside"), at("data/base/evil")), 0);
	/* A tablespace's location, shared with another cluster's version. */
	mk("ts");
	mk("ts/PG_15_1");
	put("ts/PG_15_1/extra", "dropped");
	mk("ts/PG_16_2");
	put("ts/PG_16_2/theirs", "another cluster's");
	mk("data/pg_tblspc");
	ck_assert_int_eq(symlink(at("ts"), at("data/pg_tblspc/16385")), 0);

	ck_assert_int_eq(tr_rtree_open_existing(&t, at("data"), (uid_t)-1, (gid_t)-1, err, sizeof err), 0);
	ck_assert_ptr_nonnull(d = tr_delta_begin(&t, err, sizeof err));
	ck_assert(!exists("data/global/pg_control"));
	ck_assert(exists("data/" TR_DELTA_MARK));
	ck_assert(t.keep_lock);
	/* The manifest, in walk order. */
	ck_assert_int_eq(tr_delta_enter(d, "base", 'd', NULL, err, sizeof err), 0);
	ck_assert_int_eq(tr_delta_push(d, "base", err, sizeof err), 0);
	ck_assert_int_eq(tr_delta_enter(d, "global", 'd', NULL, err, sizeof err), 0);
	ck_assert(!exists("data/base/extra"));       /* base left: its extras removed */
	ck_assert(!exists("data/base/evil"));        /* the link, not what it points to */
	ck_assert(exists("outside/precious"));
	ck_assert_int_eq(tr_delta_push(d, "global", err, sizeof err), 0);
	ck_assert_int_eq(tr_delta_enter(d, "global/1262", 'f', NULL, err, sizeof err), 0);
	ck_assert_int_eq(tr_delta_prepare_file(&t, "global/1262", 2, 0600, err, sizeof err), 0);
	ck_assert_int_eq(tr_delta_enter(d, "pg_tblspc", 'd', NULL, err, sizeof err), 0);
	ck_assert_int_eq(tr_delta_push(d, "pg_tblspc", err, sizeof err), 0);
	ck_assert_int_eq(tr_delta_enter(d, "pg_tblspc/16385", 'l', at("ts"), err, sizeof err), 0);
	ck_assert_int_eq(tr_rtree_adopt_link(&t, "pg_tblspc/16385", at("ts"), 0, err, sizeof err), 0);
	ck_assert_int_eq(tr_delta_push(d, "pg_tblspc/16385", err, sizeof err), 0);
	ck_assert_int_eq(tr_delta_enter(d, "pg_tblspc/16385/PG_15_1", 'd', NULL, err, sizeof err), 0);
	ck_assert_int_eq(tr_delta_push(d, "pg_tblspc/16385/PG_15_1", err, sizeof err), 0);
	ck_assert_int_eq(tr_delta_enter(d, "pg_wal", 'd', NULL, err, sizeof err), 0);
	ck_assert(!exists("ts/PG_15_1/extra"));      /* inside this cluster's directory: removed */
	ck_assert(exists("ts/PG_16_2/theirs"));      /* beside it: another cluster's, kept */
	ck_assert(exists("data/pg_tblspc/16385"));
	ck_assert_int_eq(tr_delta_push(d, "pg_wal", err, sizeof err), 0);
	ck_assert_int_eq(tr_delta_enter(d, "was_a_file", 'f', NULL, err, sizeof err), 0);
	ck_assert(!exists("data/was_a_file"));       /* another type: removed first */
	ck_assert_int_eq(tr_delta_prepare_file(&t, "was_a_file", 3, 0600, err, sizeof err), 0);
	ck_assert_int_eq(tr_delta_leave_all(d, err, sizeof err), 0);

	ck_assert(exists("data/global/1262"));
	char *kept = slurp("data/global/1262");
	ck_assert_str_eq(kept, "ke");                /* truncated to the backup's size */
	free(kept);
	ck_assert(!exists("data/pg_wal/000000010000000000000009"));
	ck_assert(!exists("data/postmaster.pid"));
	ck_assert(!exists("data/standby.signal"));
	ck_assert(exists("data/totalrecall_spool/metrics.spool"));
	ck_assert(exists("data/" TR_DELTA_MARK));
	ck_assert(exists("data/" TR_RESTORE_LOCK));
	ck_assert_uint_eq(tr_delta_removed(d), 8);   /* extra, evil, ts extra, the WAL, pid, signal, was_a_file, inner */

	/* Failed here: the lock file stays as the mark of an unfinished run. */
	tr_delta_free(d);
	tr_rtree_close(&t);
	ck_assert(exists("data/" TR_RESTORE_LOCK));
	char sysid[32];
	put("data/" TR_DELTA_MARK, "12345678");  /* whatever pg_control holds, the mark says */
	ck_assert_int_eq(tr_delta_check_dir(at("data"), sysid, err, sizeof err), 0);

	/* The next run finishes: the mark and the lock file go. */
	ck_assert_int_eq(tr_rtree_open_existing(&t, at("data"), (uid_t)-1, (gid_t)-1, err, sizeof err), 0);
	ck_assert_ptr_nonnull(d = tr_delta_begin(&t, err, sizeof err));
	ck_assert_int_eq(tr_delta_finish(d, err, sizeof err), 0);
	tr_delta_free(d);
	tr_rtree_close(&t);
	ck_assert(!exists("data/" TR_DELTA_MARK));
	ck_assert(!exists("data/" TR_RESTORE_LOCK));
}
END_TEST

static Suite *replica_suite(void)
{
	Suite *s = suite_create("replica");
	TCase *tc = tcase_create("core");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_standby_refuses_targets);
	tcase_add_test(tc, test_standby_conf);
	tcase_add_test(tc, test_exclusive_conf);
	tcase_add_test(tc, test_sysid_and_postmaster);
	tcase_add_test(tc, test_links_in_the_way);
	tcase_add_test(tc, test_delta_walk);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(replica_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
