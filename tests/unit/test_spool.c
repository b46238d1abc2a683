/* Unit tests: the metrics spool (escaping, record format, concurrent
 * appends from two processes, where the spool lives). */
#include "config.h"
#include "base/spool.h"

#include <check.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define PER_WRITER 1000

static char tmpdir[] = "/tmp/tr-test-spool-XXXXXX";
static char spooldir[PATH_MAX];

static void setup(void)
{
	strcpy(tmpdir, "/tmp/tr-test-spool-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
	snprintf(spooldir, sizeof spooldir, "%s/sub/spool", tmpdir);
}

static void teardown(void)
{
	char cmd[PATH_MAX + 16];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
	ck_assert_int_eq(system(cmd), 0);
}

static tr_metric sample(const char *subject, const char *error)
{
	tr_metric m = { .operation = "archive-put", .status = "ok",
	                .start_us = 1700000000000000LL, .finish_us = 1700000000123456LL,
	                .bytes_read = 16777216, .bytes_stored = UINT64_C(5000000000) };
	snprintf(m.subject, sizeof m.subject, "%s", subject);
	snprintf(m.error, sizeof m.error, "%s", error);
	return m;
}

/* Splits a line (without its newline) at tabs; returns the field count. */
static int split(char *line, char **fields, int max)
{
	int n = 0;
	char *save = NULL;
	for (char *f = strtok_r(line, "\t", &save); f && n < max; f = strtok_r(NULL, "\t", &save))
		fields[n++] = f;
	return n;
}

static char *read_spool(size_t *len)
{
	char path[PATH_MAX];
	snprintf(path, sizeof path, "%s/%s", spooldir, TR_SPOOL_FILE);
	FILE *f = fopen(path, "r");
	ck_assert_ptr_nonnull(f);
	static char buf[PER_WRITER * 2 * 256 + 1];
	*len = fread(buf, 1, sizeof buf - 1, f);
	buf[*len] = '\0';
	fclose(f);
	return buf;
}

START_TEST(escape_round_trip)
{
	const char *cases[] = { "", "plain", "tab\there", "nl\nhere", "cr\rhere",
	                        "back\\slash", "\\t literal", "\t\n\r\\", "end\\" };
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char out[64];
		ck_assert_int_eq(tr_spool_escape(cases[i], out, sizeof out), 0);
		ck_assert_ptr_null(strpbrk(out, "\t\n\r"));
		ck_assert_int_eq(tr_spool_unescape(out), 0);
		ck_assert_str_eq(out, cases[i]);
	}
	char small[4];
	ck_assert_int_eq(tr_spool_escape("\t\t", small, sizeof small), -1);
	char bad[] = "x\\q";
	ck_assert_int_eq(tr_spool_unescape(bad), -1);
	char lone[] = "x\\";
	ck_assert_int_eq(tr_spool_unescape(lone), -1);
}
END_TEST

START_TEST(record_format)
{
	tr_metric m = sample("00000001000000000000000A", "disk\tfull\nsee log");
	size_t len;

	ck_assert_int_eq(tr_spool_append(spooldir, &m), 0);
	char *line = read_spool(&len);
	ck_assert_int_gt((int)len, 0);
	ck_assert_int_eq(line[len - 1], '\n');
	line[len - 1] = '\0';
	ck_assert_ptr_null(strchr(line, '\n'));

	char *f[TR_SPOOL_FIELDS + 1];
	ck_assert_int_eq(split(line, f, TR_SPOOL_FIELDS + 1), TR_SPOOL_FIELDS);
	ck_assert_str_eq(f[0], "1");
	ck_assert_int_eq((int)strlen(f[1]), 32);
	ck_assert_int_eq((int)strspn(f[1], "0123456789abcdef"), 32);
	ck_assert_str_eq(f[2], "archive-put");
	ck_assert_str_eq(f[3], "00000001000000000000000A");
	ck_assert_str_eq(f[4], "1700000000000000");
	ck_assert_str_eq(f[5], "1700000000123456");
	ck_assert_str_eq(f[6], "16777216");
	ck_assert_str_eq(f[7], "5000000000");
	ck_assert_str_eq(f[8], "ok");
	ck_assert_str_eq(f[9], "disk\\tfull\\nsee log");
	ck_assert_int_eq(tr_spool_unescape(f[9]), 0);
	ck_assert_str_eq(f[9], "disk\tfull\nsee log");

	struct stat st;
	ck_assert_int_eq(stat(spooldir, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0700);
	char path[PATH_MAX];
	snprintf(path, sizeof path, "%s/%s", spooldir, TR_SPOOL_FILE);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0600);
}
END_TEST

/* An interrupted append left a fragment: the next record starts on its own
 * line instead of being glued to it. */
START_TEST(fragment_is_isolated)
{
	tr_metric m = sample("A", "");
	char path[PATH_MAX];
	size_t len;

	ck_assert_int_eq(tr_spool_append(spooldir, &m), 0);
	snprintf(path, sizeof path, "%s/%s", spooldir, TR_SPOOL_FILE);
	FILE *f = fopen(path, "a");
	fputs("1\tdeadbeef\tarchive-p", f);
	fclose(f);
	ck_assert_int_eq(tr_spool_append(spooldir, &m), 0);
	char *buf = read_spool(&len);
	char *last = strrchr(buf, '\n');
	*last = '\0';
	last = strrchr(buf, '\n');
	ck_assert_ptr_nonnull(last);
	ck_assert(strncmp(last + 1, "1\t", 2) == 0);
	ck_assert_ptr_nonnull(strstr(buf, "archive-p\n1\t"));
}
END_TEST

static void append_many(const char *who)
{
	for (int i = 0; i < PER_WRITER; i++) {
		tr_metric m = sample(who, "");
		m.bytes_read = (uint64_t)i;
		if (tr_spool_append(spooldir, &m) != 0)
			_exit(1);
	}
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

START_TEST(concurrent_appends)
{
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		append_many("child");
		_exit(0);
	}
	append_many("parent");
	int status;
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);

	size_t len;
	char *buf = read_spool(&len);
	static char *ids[2 * PER_WRITER];
	int lines = 0, child = 0;
	char *save = NULL;
	ck_assert_int_eq(buf[len - 1], '\n');
	for (char *l = strtok_r(buf, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		char *f[TR_SPOOL_FIELDS + 1];
		ck_assert_int_lt(lines, 2 * PER_WRITER);
		ck_assert_int_eq(split(l, f, TR_SPOOL_FIELDS + 1), TR_SPOOL_FIELDS - 1); /* error "" */
		ids[lines++] = f[1];
		child += strcmp(f[3], "child") == 0;
	}
	ck_assert_int_eq(lines, 2 * PER_WRITER);
	ck_assert_int_eq(child, PER_WRITER);
	qsort(ids, (size_t)lines, sizeof ids[0], cmp_str);
	for (int i = 1; i < lines; i++)
		ck_assert_str_ne(ids[i - 1], ids[i]);
}
END_TEST

START_TEST(dir_resolution)
{
	char buf[PATH_MAX], cwd[PATH_MAX], expect[PATH_MAX];

	ck_assert_str_eq(tr_spool_dir("/x/spool", "/pg", buf, sizeof buf), "/x/spool");
	ck_assert_str_eq(tr_spool_dir(NULL, "/pg", buf, sizeof buf), "/pg/totalrecall_spool");
	ck_assert_str_eq(tr_spool_dir("", "/pg", buf, sizeof buf), "/pg/totalrecall_spool");
	ck_assert_ptr_null(tr_spool_dir(NULL, "/pg/very/long", buf, 8));

	ck_assert_ptr_nonnull(getcwd(cwd, sizeof cwd));
	ck_assert_int_eq(chdir(tmpdir), 0);
	ck_assert_ptr_null(tr_spool_dir(NULL, NULL, buf, sizeof buf));
	ck_assert_ptr_null(tr_spool_dir("", "", buf, sizeof buf));
	/* A relative pgdata from a directory that is no data directory: made
	 * absolute against the working directory. */
	snprintf(expect, sizeof expect, "%s/rel/totalrecall_spool", tmpdir);
	ck_assert_str_eq(tr_spool_dir(NULL, "rel", buf, sizeof buf), expect);
	/* A data directory: archive_command's working directory. */
	ck_assert_int_eq(mkdir("global", 0700), 0);
	FILE *f = fopen("PG_VERSION", "w");
	fclose(f);
	ck_assert_ptr_null(tr_spool_dir(NULL, NULL, buf, sizeof buf));
	f = fopen("global/pg_control", "w");
	fclose(f);
	snprintf(expect, sizeof expect, "%s/totalrecall_spool", tmpdir);
	ck_assert_str_eq(tr_spool_dir(NULL, NULL, buf, sizeof buf), expect);
	ck_assert_str_eq(tr_spool_dir("/x", NULL, buf, sizeof buf), "/x");
	/* pg_ctl -D data: the server (and archive_command, run in the data
	 * directory) has PGDATA=data, which names nothing from here. */
	ck_assert_str_eq(tr_spool_dir(NULL, "data", buf, sizeof buf), expect);
	/* A relative pgdata that does name a data directory from here. */
	ck_assert_int_eq(mkdir("sub", 0700), 0);
	ck_assert_int_eq(mkdir("sub/global", 0700), 0);
	fclose(fopen("sub/PG_VERSION", "w"));
	fclose(fopen("sub/global/pg_control", "w"));
	snprintf(expect, sizeof expect, "%s/sub/totalrecall_spool", tmpdir);
	ck_assert_str_eq(tr_spool_dir(NULL, "sub", buf, sizeof buf), expect);
	ck_assert_int_eq(chdir(cwd), 0);
}
END_TEST

/* A command run as root (docker exec without -u) keeps the spool the
 * server's: the directory and file it creates take the owner of the
 * directory they are made in.  Run as anyone else, the files are the
 * caller's, which is what the server's own commands need anyway. */
START_TEST(root_keeps_the_servers_owner)
{
	const uid_t owner = geteuid() == 0 ? 65534 : geteuid();  /* nobody */
	char parent[PATH_MAX], path[PATH_MAX];
	struct stat st;
	snprintf(parent, sizeof parent, "%s/sub", tmpdir);
	ck_assert_int_eq(mkdir(parent, 0700), 0);
	if (geteuid() == 0)
		ck_assert_int_eq(chown(parent, owner, owner), 0);
	tr_metric m = sample("000000010000000000000001", "");
	ck_assert_int_eq(tr_spool_append(spooldir, &m), 0);
	ck_assert_int_eq(stat(spooldir, &st), 0);
	ck_assert_uint_eq(st.st_uid, owner);
	snprintf(path, sizeof path, "%s/%s", spooldir, TR_SPOOL_FILE);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_uint_eq(st.st_uid, owner);
	if (geteuid() == 0) {  /* a spool root made before this fix is given back */
		ck_assert_int_eq(chown(path, 0, 0), 0);
		ck_assert_int_eq(tr_spool_append(spooldir, &m), 0);
		ck_assert_int_eq(stat(path, &st), 0);
		ck_assert_uint_eq(st.st_uid, owner);
	}
}
END_TEST

START_TEST(no_dir)
{
	tr_metric m = sample("x", "");
	errno = 0;
	ck_assert_int_eq(tr_spool_append(NULL, &m), -1);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_int_eq(tr_spool_append("/proc/forbidden/spool", &m), -1);
}
END_TEST

START_TEST(now_is_epoch_us)
{
	int64_t a = tr_now_us();
	ck_assert(a > INT64_C(1600000000000000));
	ck_assert(tr_now_us() >= a);
}
END_TEST

static Suite *spool_suite(void)
{
	Suite *s = suite_create("spool");
	TCase *tc = tcase_create("spool");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, escape_round_trip);
	tcase_add_test(tc, record_format);
	tcase_add_test(tc, fragment_is_isolated);
	tcase_add_test(tc, concurrent_appends);
	tcase_add_test(tc, dir_resolution);
	tcase_add_test(tc, no_dir);
	tcase_add_test(tc, root_keeps_the_servers_owner);
	tcase_add_test(tc, now_is_epoch_us);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(spool_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
