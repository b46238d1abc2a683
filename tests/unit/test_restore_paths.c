/* test_restore_paths.c - what restore may write: the manifest path check
 * (.., absolute, empty components, NUL), link and tablespace maps, the
 * tablespace_map rewrite, escaping for postgresql.auto.conf and
 * restore_command, target times, the target's lock, and an undo that
 * removes only what the run created and never follows a link. */
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

#include "cmd/linkmap.h"
#include "repo/manifest.h"
#include "cmd/restore_conf.h"
#include "cmd/restore_plan.h"
#include "cmd/restore_tree.h"

START_TEST(test_rel_paths)
{
	static const char *const good[] = { "base/1/1259", "pg_wal", "pg_tblspc/16385/PG_15_202209061/5/1",
					    "a b/c%d", "..x/y..", ".hidden" };
	static const char *const bad[] = { "", "/etc/passwd", "..", "../x", "a/../b", "a/..", "a//b", "./a", "a/.",
					   "a/", "/", "base/./1" };
	for (size_t i = 0; i < sizeof good / sizeof *good; i++)
		ck_assert_msg(tr_rel_path_ok(good[i]), "refused %s", good[i]);
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
		ck_assert_msg(!tr_rel_path_ok(bad[i]), "accepted %s", bad[i]);
	char *longp = malloc(5000);
	memset(longp, 'a', 4999);
	longp[4999] = '\0';
	ck_assert(!tr_rel_path_ok(longp));
	free(longp);
}
END_TEST

/* A crafted manifest: %00 never decodes, "..%2F" decodes to a path the
 * check refuses. */
START_TEST(test_manifest_paths)
{
	char out[64];
	ck_assert_int_ne(tr_path_decode("base%00/x", out, sizeof out), 0);
	ck_assert_int_eq(tr_path_decode("..%2F..%2Fetc%2Fcron.d%2Fx", out, sizeof out), 0);
	ck_assert_str_eq(out, "../../etc/cron.d/x");
	ck_assert(!tr_rel_path_ok(out));
	ck_assert_int_eq(tr_path_decode("%2Fetc%2Fpasswd", out, sizeof out), 0);
	ck_assert(!tr_rel_path_ok(out));
	/* Read back from a manifest: the records parse, the paths are refused. */
	const char *text = "f 0600 1 0 0000 ..%2F..%2Fetc%2Fx\n";
	FILE *f = fmemopen((void *)text, strlen(text), "r");
	tr_mf_rec *rec = malloc(sizeof *rec);
	char err[128];
	ck_assert_int_eq(tr_manifest_read_rec(f, rec, err, sizeof err), 1);
	ck_assert(!tr_rel_path_ok(rec->path));
	fclose(f);
	text = "d 0700 base%00x\n";
	f = fmemopen((void *)text, strlen(text), "r");
	ck_assert_int_eq(tr_manifest_read_rec(f, rec, err, sizeof err), -1);
	fclose(f);
	free(rec);
}
END_TEST

START_TEST(test_abs_paths_and_overlap)
{
	ck_assert(tr_abs_path_ok("/srv/wal"));
	ck_assert(tr_abs_path_ok("/"));
	ck_assert(!tr_abs_path_ok("srv/wal"));
	ck_assert(!tr_abs_path_ok("/srv/../etc"));
	ck_assert(!tr_abs_path_ok("/srv//wal"));
	ck_assert(tr_paths_overlap("/srv/data", "/srv/data/pg_wal"));
	ck_assert(tr_paths_overlap("/srv/data/", "/srv/data"));
	ck_assert(tr_paths_overlap("/", "/srv"));
	ck_assert(!tr_paths_overlap("/srv/data", "/srv/data2"));
	ck_assert(!tr_paths_overlap("/srv/wal", "/srv/data"));
}
END_TEST

START_TEST(test_link_maps)
{
	tr_linkmap m;
	char err[256];
	ck_assert_int_eq(tr_linkmap_parse("pg_wal=/srv/wal\nlog/archive=/srv/logs/", 0, "--link-map", &m, err,
					  sizeof err), 0);
	ck_assert_int_eq(m.n, 2);
	ck_assert_str_eq(m.v[1].path, "/srv/logs");
	ck_assert_ptr_nonnull(tr_linkmap_find(&m, "log/archive"));
	ck_assert_int_eq(m.v[1].used, 1);
	ck_assert_ptr_null(tr_linkmap_find(&m, "pg_log"));
	tr_linkmap_free(&m);
	static const char *const bad[] = { "pg_wal", "pg_wal=", "=/x", "pg_wal=relative", "../x=/srv",
					   "pg_wal=/srv/../etc", "pg_wal=/a\npg_wal=/b" };
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		ck_assert_msg(tr_linkmap_parse(bad[i], 0, "--link-map", &m, err, sizeof err) != 0, "accepted %s", bad[i]);
		ck_assert_ptr_nonnull(strstr(err, "--link-map"));
		tr_linkmap_free(&m);
	}
	ck_assert_int_eq(tr_linkmap_parse("16385=/srv/ts\nfast disk=/srv/fast", 1, "--tablespace-map", &m, err,
					  sizeof err), 0);
	tr_linkmap_free(&m);
	ck_assert_int_ne(tr_linkmap_parse("a/b=/srv/ts", 1, "--tablespace-map", &m, err, sizeof err), 0);
	tr_linkmap_free(&m);
}
END_TEST

START_TEST(test_tablespace_names)
{
	char oid[16];
	/* "fast disk" and "n\xc3\xa4me" (UTF-8) in hex, as backup records them. */
	const char *names = "16385 66617374206469736b\n16386 6ec3a46d65";
	ck_assert_str_eq(tr_tablespace_oid(names, "fast disk", oid, sizeof oid), "16385");
	ck_assert_str_eq(tr_tablespace_oid(names, "n\xc3\xa4me", oid, sizeof oid), "16386");
	ck_assert_ptr_null(tr_tablespace_oid(names, "fast", oid, sizeof oid));
	ck_assert_ptr_null(tr_tablespace_oid(names, "fast disk2", oid, sizeof oid));
	ck_assert_ptr_null(tr_tablespace_oid("", "fast disk", oid, sizeof oid));
}
END_TEST

static const char *move_16385(void *ctx, const char *oid)
{
	(void)ctx;
	return strcmp(oid, "16385") == 0 ? "/srv/new ts\nwith\\odd" : NULL;
}

START_TEST(test_tablespace_map_rewrite)
{
	char *out = tr_tablespace_map_rewrite("16385 /srv/old\n16386 /srv/a\\\nb\n", move_16385, NULL);
	ck_assert_ptr_nonnull(out);
	ck_assert_str_eq(out, "16385 /srv/new ts\\\nwith\\\\odd\n16386 /srv/a\\\nb\n");
	free(out);
	ck_assert_ptr_null(tr_tablespace_map_rewrite("nospace\n", move_16385, NULL));
}
END_TEST

START_TEST(test_conf_quote)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	tr_pg_conf_quote(f, "it's a\\b\nline\r");
	fclose(f);
	ck_assert_str_eq(buf, "'it''s a\\\\b\\nline\\r'");
	free(buf);
}
END_TEST

START_TEST(test_restore_command)
{
	char *cmd = tr_restore_command("/opt/100%/totalrecall", "/srv/50%f \"$x`\\/totalrecall_restore.conf");
	ck_assert_ptr_nonnull(cmd);
	ck_assert_str_eq(cmd, "\"/opt/100%%/totalrecall\" --config=\"/srv/50%%f \\\"\\$x\\`\\\\/totalrecall_restore.conf\""
			      " --config-over-env archive-get \"%p\" \"%f\"");
	free(cmd);
}
END_TEST

START_TEST(test_target_times)
{
	int64_t us;
	char utc[64];
	ck_assert_int_eq(tr_parse_target_time("2026-01-02 03:04:05", &us, utc, sizeof utc), 0);
	ck_assert_int_eq(us, 1767323045000000LL);
	ck_assert_str_eq(utc, "2026-01-02 03:04:05+00");
	ck_assert_int_eq(tr_parse_target_time("2026-01-02 12:04:05.5+09", &us, utc, sizeof utc), 0);
	ck_assert_int_eq(us, 1767323045500000LL);
	ck_assert_str_eq(utc, "2026-01-02 03:04:05.500000+00");
	ck_assert_int_eq(tr_parse_target_time("2026-01-01T22:34:05.000001-04:30", &us, utc, sizeof utc), 0);
	ck_assert_str_eq(utc, "2026-01-02 03:04:05.000001+00");
	ck_assert_int_eq(tr_parse_target_time("2026-01-02 03:04:05Z", &us, utc, sizeof utc), 0);
	ck_assert_int_eq(tr_parse_target_time("2026-01-02 03:04:05 UTC", &us, utc, sizeof utc), 0);
	ck_assert_int_eq(tr_parse_target_time("2026-01-02 04:04:05 +0100", &us, utc, sizeof utc), 0);
	ck_assert_str_eq(utc, "2026-01-02 03:04:05+00");
	static const char *const bad[] = { "2026-02-31 00:00:00", "2026-01-02 03:04:05 Asia/Tokyo", "2026-01-02",
					   "2026-01-02 03:04:05.1234567", "2026-01-02 24:00:00", "2026-01-02 03:04:05+9",
					   "2026-01-02 03:04:05\n+00", "2026-1-2 3:4:5" };
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
		ck_assert_msg(tr_parse_target_time(bad[i], &us, utc, sizeof utc) != 0, "accepted %s", bad[i]);
}
END_TEST

/* ---- the target's lock and the undo ---- */

static char base_dir[256];

static void path_of(char *out, size_t len, const char *rel)
{
	snprintf(out, len, "%s/%s", base_dir, rel);
}

static void make_file_at(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
}

/* A fresh base directory; root is base/data (not created). */
static void new_base(const char *name, char *root, size_t len)
{
	snprintf(base_dir, sizeof base_dir, "/tmp/tr-%s-XXXXXX", name);
	ck_assert_ptr_nonnull(mkdtemp(base_dir));
	path_of(root, len, "data");
}

static void dir_in_base(const char *rel)
{
	char p[512];
	path_of(p, sizeof p, rel);
	ck_assert_int_eq(mkdir(p, 0700), 0);
}

static void file_in_base(const char *rel, const char *text)
{
	char p[512];
	path_of(p, sizeof p, rel);
	make_file_at(p, text);
}

static void drop_base(void)
{
	char cmd[600];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", base_dir);
	ck_assert_int_eq(system(cmd), 0);
}

static int exists(const char *rel)
{
	char p[512];
	struct stat st;
	path_of(p, sizeof p, rel);
	return lstat(p, &st) == 0;
}

static FILE *manifest(const char *const *records, int n)
{
	FILE *f = tmpfile();
	tr_manifest_hdr h;
	memset(&h, 0, sizeof h);
	snprintf(h.label, sizeof h.label, "20260101-000000F");
	h.stop_lsn = 1;
	h.backup_label = (char *)"x";
	h.tablespace_map = (char *)"";
	ck_assert_int_eq(tr_manifest_write_hdr(f, &h), 0);
	for (int i = 0; i < n; i++)
		fprintf(f, "%s\n", records[i]);
	tr_manifest_write_end(f, (uint64_t)n);
	return f;
}

START_TEST(test_lock_and_undo)
{
	char root[512], p[512], err[512];
	tr_rtree t, other;
	new_base("undo", root, sizeof root);
	/* Outside: a precious file, and an empty tablespace directory given. */
	dir_in_base("outside");
	file_in_base("outside/precious", "keep me");
	dir_in_base("ts");

	ck_assert_int_eq(tr_rtree_open(&t, root, (uid_t)-1, (gid_t)-1, err, sizeof err), 0);
	ck_assert(exists("data/" TR_RESTORE_LOCK));
	/* A second restore into the same directory is refused while we run. */
	ck_assert_int_ne(tr_rtree_open(&other, root, (uid_t)-1, (gid_t)-1, err, sizeof err), 0);
	ck_assert_ptr_nonnull(strstr(err, "another restore"));
	tr_rtree_close(&other);

	char walmap[512], ts[512];
	path_of(walmap, sizeof walmap, "walmap/deeper");
	path_of(ts, sizeof ts, "ts");
	ck_assert_int_eq(tr_rtree_mkdir(&t, "base", 0700, err, sizeof err), 0);
	ck_assert_int_eq(tr_rtree_link_dir(&t, "pg_wal", walmap, err, sizeof err), 0);
	ck_assert_int_eq(tr_rtree_mkdir(&t, "pg_tblspc", 0700, err, sizeof err), 0);
	ck_assert_int_eq(tr_rtree_link_dir(&t, "pg_tblspc/16385", ts, err, sizeof err), 0);
	ck_assert_int_eq(tr_rtree_mkdir(&t, "pg_tblspc/16385/PG_15", 0700, err, sizeof err), 0);
	/* The manifest's files, as restore creates them. */
	file_in_base("data/base/1", "a");
	file_in_base("data/pg_wal/000000010000000000000001", "b");
	file_in_base("data/pg_tblspc/16385/PG_15/x", "c");
	ck_assert_int_eq(tr_rtree_note_file(&t, "backup_label"), 0);
	file_in_base("data/backup_label", "d");
	/* Planted by someone else meanwhile: a link to the outside, a file. */
	path_of(p, sizeof p, "outside");
	char evil[512];
	path_of(evil, sizeof evil, "data/base/evil");
	ck_assert_int_eq(symlink(p, evil), 0);
	file_in_base("data/foreign", "not ours");

	static const char *const recs[] = {
		"d 0700 base", "f 0600 1 0 00 base/1", "f 0600 7 0 00 base/evil/precious", "l pg_wal /x",
		"f 0600 1 0 00 pg_wal/000000010000000000000001", "d 0700 pg_tblspc", "l pg_tblspc/16385 /y",
		"d 0700 pg_tblspc/16385/PG_15", "f 0600 1 0 00 pg_tblspc/16385/PG_15/x",
	};
	FILE *mf = manifest(recs, 9);
	t.entries = 9;
	tr_rtree_undo(&t, mf);
	fclose(mf);

	ck_assert(exists("outside/precious"));   /* never followed base/evil */
	ck_assert(exists("data/base/evil"));     /* not ours: left */
	ck_assert(exists("data/foreign"));
	ck_assert(!exists("data/base/1"));
	ck_assert(!exists("data/backup_label"));
	ck_assert(!exists("data/pg_wal"));
	ck_assert(!exists("walmap/deeper"));     /* created by the run */
	ck_assert(!exists("data/pg_tblspc"));
	ck_assert(exists("ts"));                 /* given, existing: kept, emptied */
	ck_assert(!exists("ts/PG_15"));
	ck_assert(!exists("data/" TR_RESTORE_LOCK));
	ck_assert(exists("data"));               /* holds what is not ours */
	tr_rtree_close(&t);

	/* With nothing foreign, a directory the run created goes entirely. */
	path_of(p, sizeof p, "data/base/evil");
	unlink(p);
	path_of(p, sizeof p, "data/base");
	rmdir(p);
	path_of(p, sizeof p, "data/foreign");
	unlink(p);
	path_of(root, sizeof root, "data2");
	ck_assert_int_eq(tr_rtree_open(&t, root, (uid_t)-1, (gid_t)-1, err, sizeof err), 0);
	ck_assert_int_eq(tr_rtree_mkdir(&t, "global", 0700, err, sizeof err), 0);
	tr_rtree_undo(&t, NULL);
	tr_rtree_close(&t);
	ck_assert(!exists("data2"));
	/* A lock file nobody holds: an interrupted restore, refused. */
	file_in_base("data/" TR_RESTORE_LOCK, "");
	path_of(root, sizeof root, "data");
	ck_assert_int_ne(tr_rtree_open(&t, root, (uid_t)-1, (gid_t)-1, err, sizeof err), 0);
	ck_assert_ptr_nonnull(strstr(err, "interrupted"));
	tr_rtree_undo(&t, NULL);
	tr_rtree_close(&t);
	ck_assert(exists("data/" TR_RESTORE_LOCK));  /* not ours to remove */
	drop_base();
}
END_TEST

START_TEST(test_link_targets_must_be_empty)
{
	char root[512], p[512], err[512];
	tr_rtree t;
	new_base("links", root, sizeof root);
	dir_in_base("busy");
	file_in_base("busy/live-wal", "the original's");
	ck_assert_int_eq(tr_rtree_open(&t, root, (uid_t)-1, (gid_t)-1, err, sizeof err), 0);
	path_of(p, sizeof p, "busy");
	ck_assert_int_ne(tr_rtree_link_dir(&t, "pg_wal", p, err, sizeof err), 0);
	ck_assert_ptr_nonnull(strstr(err, "not empty"));
	/* Inside the data directory itself: refused. */
	path_of(p, sizeof p, "data/sub");
	ck_assert_int_ne(tr_rtree_link_dir(&t, "pg_wal", p, err, sizeof err), 0);
	/* A file target must not exist. */
	path_of(p, sizeof p, "busy/live-wal");
	ck_assert_int_ne(tr_rtree_link_file(&t, "postgresql.conf", p, 0600, err, sizeof err), 0);
	ck_assert_ptr_nonnull(strstr(err, "never overwrites"));
	tr_rtree_undo(&t, NULL);
	tr_rtree_close(&t);
	ck_assert(exists("busy/live-wal"));
	ck_assert(!exists("data"));
	drop_base();
}
END_TEST

int main(void)
{
	Suite *s = suite_create("restore_paths");
	TCase *tc = tcase_create("paths");
	tcase_add_test(tc, test_rel_paths);
	tcase_add_test(tc, test_manifest_paths);
	tcase_add_test(tc, test_abs_paths_and_overlap);
	tcase_add_test(tc, test_link_maps);
	tcase_add_test(tc, test_tablespace_names);
	tcase_add_test(tc, test_tablespace_map_rewrite);
	tcase_add_test(tc, test_conf_quote);
	tcase_add_test(tc, test_restore_command);
	tcase_add_test(tc, test_target_times);
	tcase_add_test(tc, test_lock_and_undo);
	tcase_add_test(tc, test_link_targets_must_be_empty);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
