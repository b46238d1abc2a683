/* repotool - read and write repository objects through the object format
 * (tests only: a test crafts a hostile manifest with it).
 *
 *   repotool get REL     the decoded object to stdout
 *   repotool put REL     stdin stored as the object (replacing it)
 *
 * Settings come from the environment (TOTALRECALL_*), as for totalrecall.
 * Exit status: 0 ok, 2 not found, 1 other. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/resolve.h"
#include "repo/repo.h"
#include "repo/tmpobj.h"

static int to_stdout(void *ctx, const void *buf, size_t len)
{
	(void)ctx;
	return fwrite(buf, 1, len, stdout) == len ? 0 : -1;
}

int main(int argc, char **argv)
{
	tr_config cfg;
	tr_repo_settings rs;
	tr_repo *r = NULL;
	char err[2048];
	if (argc != 3 || (strcmp(argv[1], "get") && strcmp(argv[1], "put"))) {
		fprintf(stderr, "usage: repotool get|put REL\n");
		return 1;
	}
	tr_config_init(&cfg);
	if (tr_config_load(&cfg, err, sizeof err) != 0) {
		fprintf(stderr, "repotool: %s\n", err);
		return 1;
	}
	tr_conf_repo(&cfg, &rs);
	int rc = tr_repo_connect(&r, &rs);
	if (rc == TR_OK)
		rc = tr_repo_unlock(r, 0);
	if (rc == TR_OK && strcmp(argv[1], "get") == 0) {
		rc = tr_repo_get(r, argv[2], to_stdout, NULL, NULL);
	} else if (rc == TR_OK) {
		FILE *f = tr_repo_tmpfile(r);
		char buf[65536];
		size_t n;
		while (f && (n = fread(buf, 1, sizeof buf, stdin)) > 0)
			fwrite(buf, 1, n, f);
		tr_repo_remove(r, argv[2]);
		rc = f ? tr_repo_put_file(r, argv[2], f, 0, NULL) : TR_EIO;
		if (f)
			fclose(f);
	}
	if (rc != TR_OK)
		fprintf(stderr, "repotool: %s\n", tr_repo_error(r));
	tr_repo_close(r);
	tr_config_free(&cfg);
	return rc == TR_OK ? 0 : rc == TR_ENOENT ? 2 : 1;
}
