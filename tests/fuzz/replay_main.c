/* replay_main.c - runs a fuzz target over its seed corpus without
 * libFuzzer, so `make check` replays every seed (and every crash input
 * added to the corpus) with the ordinary compiler, and under the
 * sanitizers in tests/sanitize.sh.
 *
 *   replay_<target> [FILE|DIR]...
 * Without arguments: $top_srcdir/tests/fuzz/corpus/<target>.  A crash or
 * abort fails the test; the last line is "fuzz replay <target>: N passed,
 * 0 failed". */
#include "config.h"
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));

static int replay_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	struct stat st;
	if (!f || fstat(fileno(f), &st) != 0) {
		fprintf(stderr, "cannot read %s\n", path);
		if (f)
			fclose(f);
		return -1;
	}
	size_t n = (size_t)st.st_size;
	uint8_t *buf = malloc(n ? n : 1);
	int rc = buf && fread(buf, 1, n, f) == n ? 0 : -1;
	fclose(f);
	if (rc == 0)
		LLVMFuzzerTestOneInput(buf, n);
	free(buf);
	return rc;
}

/* Replays a file, or every regular file of a directory; returns the count or -1. */
static int replay(const char *path)
{
	struct stat st;
	if (stat(path, &st) != 0) {
		fprintf(stderr, "cannot read %s\n", path);
		return -1;
	}
	if (!S_ISDIR(st.st_mode))
		return replay_file(path) == 0 ? 1 : -1;
	DIR *d = opendir(path);
	struct dirent *e;
	char child[4096];
	int n = 0;
	while (d && (e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(child, sizeof child, "%s/%s", path, e->d_name);
		if (replay_file(child) != 0) {
			closedir(d);
			return -1;
		}
		n++;
	}
	if (d)
		closedir(d);
	return d ? n : -1;
}

int main(int argc, char **argv)
{
	const char *base = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0];
	const char *target = strncmp(base, "replay_", 7) == 0 ? base + 7 : base;
	char dir[4096];
	int total = 0, failed = 0;
	if (LLVMFuzzerInitialize)
		LLVMFuzzerInitialize(&argc, &argv);
	if (argc < 2) {
		const char *top = getenv("top_srcdir");
		snprintf(dir, sizeof dir, "%s/tests/fuzz/corpus/%s", top ? top : ".", target);
		int n = replay(dir);
		failed = n < 0;
		total = n < 0 ? 0 : n;
	}
	for (int i = 1; i < argc; i++) {
		int n = replay(argv[i]);
		failed += n < 0;
		total += n < 0 ? 0 : n;
	}
	printf("fuzz replay %s: %d passed, %d failed\n", target, total, failed);
	return failed ? 1 : 0;
}
