/* test_clusterid.c - who a cluster is (clusterid.h) and where a history
 * section's WAL lives (section.h): pg_control and PG_VERSION of a stopped
 * data directory, a server's facts, and the section of a repository key. */
#include "config.h"
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pg/clusterid.h"
#include "repo/repo.h"
#include "repo/section.h"
#include "pg/walname.h"

static char dir[64];

/* A data directory with PG_VERSION (NULL: none) and a pg_control of len
 * bytes starting with sysid and version. */
static void datadir(const char *pg_version, uint64_t sysid, uint32_t version, size_t len)
{
	char path[128];
	uint8_t control[8192] = { 0 };
	snprintf(dir, sizeof dir, "/tmp/tr-clusterid-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof path, "%s/global", dir);
	ck_assert_int_eq(mkdir(path, 0700), 0);
	if (pg_version) {
		snprintf(path, sizeof path, "%s/PG_VERSION", dir);
		FILE *f = fopen(path, "w");
		ck_assert_ptr_nonnull(f);
		fputs(pg_version, f);
		fclose(f);
	}
	memcpy(control, &sysid, 8);
	memcpy(control + 8, &version, 4);
	snprintf(path, sizeof path, "%s/global/pg_control", dir);
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(control, 1, len, f), len);
	fclose(f);
}

static void cleanup(void)
{
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	ck_assert_int_eq(system(cmd), 0);
}

START_TEST(test_pgdata)
{
	tr_cluster_id id;
	char err[512];
	datadir("15\n", 7312345678901234567ull, 1300, 8192);
	ck_assert_int_eq(tr_cluster_id_from_pgdata(dir, &id, err, sizeof err), 0);
	ck_assert_uint_eq(id.sysid, 7312345678901234567ull);
	ck_assert_int_eq(id.pg_major, 15);
	cleanup();
	datadir("17\n", 42, 1700, 8192);
	ck_assert_int_eq(tr_cluster_id_from_pgdata(dir, &id, err, sizeof err), 0);
	ck_assert_int_eq(id.pg_major, 17);
	cleanup();
}
END_TEST

START_TEST(test_pgdata_refused)
{
	tr_cluster_id id;
	char err[512];
	/* PG_VERSION and pg_control disagree. */
	datadir("17\n", 42, 1300, 8192);
	ck_assert_int_eq(tr_cluster_id_from_pgdata(dir, &id, err, sizeof err), -1);
	ck_assert_ptr_nonnull(strstr(err, "pg_control_version 1300"));
	cleanup();
	/* Written by a machine of the other byte order (1300 swapped). */
	datadir("15\n", 42, 0x14050000u, 8192);
	ck_assert_int_eq(tr_cluster_id_from_pgdata(dir, &id, err, sizeof err), -1);
	ck_assert_ptr_nonnull(strstr(err, "not a pg_control file"));
	cleanup();
	/* Truncated, a zero system identifier, no PG_VERSION, a bad one. */
	datadir("15\n", 42, 1300, 10);
	ck_assert_int_eq(tr_cluster_id_from_pgdata(dir, &id, err, sizeof err), -1);
	ck_assert_ptr_nonnull(strstr(err, "too short"));
	cleanup();
	datadir("15\n", 0, 1300, 8192);
	ck_assert_int_eq(tr_cluster_id_from_pgdata(dir, &id, err, sizeof err), -1);
	cleanup();
	datadir(NULL, 42, 1300, 8192);
	ck_assert_int_eq(tr_cluster_id_from_pgdata(dir, &id, err, sizeof err), -1);
	ck_assert_ptr_nonnull(strstr(err, "PG_VERSION"));
	cleanup();
	datadir("fifteen\n", 42, 1300, 8192);
	ck_assert_int_eq(tr_cluster_id_from_pgdata(dir, &id, err, sizeof err), -1);
	ck_assert_ptr_nonnull(strstr(err, "major version"));
	cleanup();
}
END_TEST

START_TEST(test_server)
{
	tr_cluster_id a, b;
	ck_assert_int_eq(tr_cluster_id_from_server(150005, "7312345678901234567", &a), 0);
	ck_assert_uint_eq(a.sysid, 7312345678901234567ull);
	ck_assert_int_eq(a.pg_major, 15);
	ck_assert_int_eq(tr_cluster_id_from_server(170002, "7312345678901234567", &b), 0);
	ck_assert(!tr_cluster_id_equal(&a, &b));   /* same system, another version */
	ck_assert_int_eq(tr_cluster_id_from_server(150005, "", &b), -1);
	ck_assert_int_eq(tr_cluster_id_from_server(150005, "12ab", &b), -1);
	ck_assert_int_eq(tr_cluster_id_from_server(150005, "0", &b), -1);
	ck_assert_int_eq(tr_cluster_id_from_server(0, "42", &b), -1);
}
END_TEST

START_TEST(test_key_sections)
{
	ck_assert_uint_eq(tr_section_of_key("wal/0000000100000000/000000010000000000000001"), 1);
	ck_assert_uint_eq(tr_section_of_key("wal/00000002.history"), 1);
	ck_assert_uint_eq(tr_section_of_key("wal-2/0000000100000000/000000010000000000000001"), 2);
	ck_assert_uint_eq(tr_section_of_key("wal-10/00000002.history"), 10);
	ck_assert_uint_eq(tr_section_of_key("wal-1/x"), 0);    /* section 1 is wal/ */
	ck_assert_uint_eq(tr_section_of_key("wal-02/x"), 0);   /* no leading zero */
	ck_assert_uint_eq(tr_section_of_key("wal-2x/x"), 0);
	ck_assert_uint_eq(tr_section_of_key("wal-2"), 0);
	ck_assert_uint_eq(tr_section_of_key("walrus/x"), 0);
	ck_assert_uint_eq(tr_section_of_key("sections/2"), 0);
	ck_assert_uint_eq(tr_section_of_key("chunks/ab/cab"), 0);
}
END_TEST

START_TEST(test_wal_prefix)
{
	char rel[128], wal[24];
	tr_section_wal_prefix(1, wal);
	ck_assert_int_eq(tr_wal_rel_in(wal, "000000010000000000000003", rel, sizeof rel), 0);
	ck_assert_str_eq(rel, "wal/0000000100000000/000000010000000000000003");
	tr_section_wal_prefix(2, wal);
	ck_assert_int_eq(tr_wal_rel_in(wal, "000000010000000000000003", rel, sizeof rel), 0);
	ck_assert_str_eq(rel, "wal-2/0000000100000000/000000010000000000000003");
	ck_assert_uint_eq(tr_section_of_key(rel), 2);
	ck_assert_int_eq(tr_wal_rel_in(wal, "00000003.history", rel, sizeof rel), 0);
	ck_assert_str_eq(rel, "wal-2/00000003.history");
	ck_assert_int_eq(tr_wal_rel_in(wal, "notwal", rel, sizeof rel), -1);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("clusterid");
	TCase *tc = tcase_create("clusterid");
	tcase_add_test(tc, test_pgdata);
	tcase_add_test(tc, test_pgdata_refused);
	tcase_add_test(tc, test_server);
	tcase_add_test(tc, test_key_sections);
	tcase_add_test(tc, test_wal_prefix);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
