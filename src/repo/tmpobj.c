/* tmpobj.c - objects through anonymous temporary files (see tmpobj.h). */
#include "config.h"
#include "repo/tmpobj.h"
#include "base/util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

FILE *tr_tmpfile_in(const char *state_dir)
{
	char dir[4200], path[4300];
	snprintf(dir, sizeof dir, "%s/tmp", state_dir);
	if (tr_mkdirs(dir, 0700) != 0)
		return NULL;
	snprintf(path, sizeof path, "%s/tr-XXXXXX", dir);
	int fd = mkstemp(path);
	if (fd < 0)
		return NULL;
	unlink(path);  /* anonymous: nothing is left behind, even after kill -9 */
	FILE *f = fdopen(fd, "w+");
	if (!f)
		close(fd);
	return f;
}

FILE *tr_repo_tmpfile(const tr_repo *r)
{
	return tr_tmpfile_in(tr_repo_settings_of(r)->state_dir);
}

static int file_write(void *ctx, const void *buf, size_t len)
{
	return fwrite(buf, 1, len, ctx) == len ? 0 : -1;
}

static ssize_t file_read(void *ctx, void *buf, size_t len)
{
	size_t n = fread(buf, 1, len, ctx);
	return n == 0 && ferror((FILE *)ctx) ? -1 : (ssize_t)n;
}

FILE *tr_repo_get_tmpfile(tr_repo *r, const char *rel, int *status)
{
	FILE *f = tr_repo_tmpfile(r);
	if (!f) {
		tr_repo_set_error(r, "cannot create a temporary file in %s/tmp: %s", tr_repo_settings_of(r)->state_dir,
				  strerror(errno));
		*status = TR_EIO;
		return NULL;
	}
	*status = tr_repo_get(r, rel, file_write, f, NULL);
	if (*status == TR_OK && (fflush(f) != 0 || fseek(f, 0, SEEK_SET) != 0))
		*status = TR_EIO;
	if (*status != TR_OK) {
		fclose(f);
		return NULL;
	}
	return f;
}

int tr_repo_put_file(tr_repo *r, const char *rel, FILE *f, unsigned flags, tr_xfer *x)
{
	if (fflush(f) != 0 || fseek(f, 0, SEEK_SET) != 0) {
		tr_repo_set_error(r, "cannot read back a temporary file: %s", strerror(errno));
		return TR_EIO;
	}
	return tr_repo_put(r, rel, file_read, f, flags, NULL, x);
}
