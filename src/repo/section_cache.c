/*
 * section_cache.c - this host's copy of the repository's history sections
 * (see section.h), so that archive-put and archive-get, run once per WAL
 * file, need no request to know them: sections change only when
 * `totalrecall upgrade` adds one.
 *
 *   <state-dir>/sections/<repository hash>-<key id>/sections
 *     totalrecall-sections 1
 *     read <unix time>              when storage was last read
 *     s <n> <system identifier> <major> <created>     one per section
 *     mac <keyed checksum of every line above>
 *
 * Written through atomicfile.h in a directory statedir.h checked to be
 * ours; the MAC (the repository's MAC key) means a file planted or edited
 * by someone without the keys is ignored, never believed.
 */
#include "config.h"
#include "repo/section.h"
#include "base/atomicfile.h"
#include "format/checksum.h"
#include "base/log.h"
#include "base/util.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define CACHE_FILE "sections"
#define CACHE_MAX (64 * 1024)
#define CACHE_FORMAT "totalrecall-sections 1"

static int cache_dir(const tr_repo *r, char *path, size_t pathlen)
{
	return tr_repo_local_dirfd(r, "sections", path, pathlen);
}

static void cache_mac(const tr_repo *r, const char *text, size_t len, char out[TR_CHECKSUM_STR_LEN])
{
	tr_repo_local_mac(r, "totalrecall sections cache", text, len, NULL, 0, out);
}

/* The file's text, if it is a regular file of ours. */
static char *read_cache(int dirfd, size_t *len)
{
	struct stat st;
	int fd = openat(dirfd, CACHE_FILE, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	char *buf = NULL;
	ssize_t n = -1;
	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == geteuid() && st.st_size < CACHE_MAX &&
	    (buf = malloc(CACHE_MAX + 1)))
		n = tr_read_full(fd, buf, CACHE_MAX);
	close(fd);
	if (n < 0) {
		free(buf);
		return NULL;
	}
	buf[n] = '\0';
	*len = (size_t)n;
	return buf;
}

/* Checks the MAC line and cuts it off: the covered text stays in text. */
static int authentic(const tr_repo *r, char *text, size_t len)
{
	char want[TR_CHECKSUM_STR_LEN];
	char *mac = strstr(text, "\nmac ");
	if (!mac || text[len - 1] != '\n')
		return 0;
	mac++;
	size_t covered = (size_t)(mac - text);
	if (len - covered < 6)
		return 0;
	size_t maclen = len - covered - 5;   /* "mac " and the newline around it */
	cache_mac(r, text, covered, want);
	if (!want[0] || maclen != strlen(want) || !tr_ct_memeq(mac + 4, want, maclen))
		return 0;
	*mac = '\0';
	return 1;
}

static int add_line(tr_sections *s, const char *line)
{
	unsigned n;
	unsigned long long sysid, created;
	int major;
	if (sscanf(line, "s %u %llu %d %llu", &n, &sysid, &major, &created) != 4 || n != (unsigned)s->n + 1 ||
	    n > TR_SECTION_MAX)
		return -1;
	tr_section *grown = realloc(s->v, (size_t)(s->n + 1) * sizeof *grown);
	if (!grown)
		return -1;
	s->v = grown;
	memset(&s->v[s->n], 0, sizeof s->v[0]);
	s->v[s->n].n = n;
	s->v[s->n].id.sysid = sysid;
	s->v[s->n].id.pg_major = major;
	s->v[s->n].created = (int64_t)created;
	s->n++;
	return 0;
}

static int parse_cache(char *text, tr_sections *s, int64_t *read_at)
{
	char *save = NULL;
	long long t = -1;
	int first = 1;
	memset(s, 0, sizeof *s);
	for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save), first = 0) {
		if (first ? strcmp(line, CACHE_FORMAT) != 0
			  : (strncmp(line, "read ", 5) == 0 ? sscanf(line, "read %lld", &t) != 1 : add_line(s, line) != 0)) {
			tr_sections_free(s);
			return -1;
		}
	}
	*read_at = (int64_t)t;
	return s->n && t >= 0 ? 0 : -1;
}

int tr_sections_cache_load(const tr_repo *r, tr_sections *s, int64_t *age)
{
	size_t len = 0;
	int64_t read_at = 0;
	char path[PATH_MAX];
	int dirfd = cache_dir(r, path, sizeof path);
	char *text = dirfd >= 0 ? read_cache(dirfd, &len) : NULL;
	int rc = -1;
	if (dirfd >= 0)
		close(dirfd);
	if (text && len && authentic(r, text, len))
		rc = parse_cache(text, s, &read_at);
	else if (text)
		tr_warn("%s/" CACHE_FILE ": does not authenticate: ignored, the history sections are read from storage",
			path);
	free(text);
	if (rc == 0) {
		int64_t now = (int64_t)time(NULL);
		/* A clock set back makes the copy look new: take it as stale. */
		*age = now >= read_at ? now - read_at : INT64_MAX;
	}
	return rc;
}

void tr_sections_cache_save(const tr_repo *r, const tr_sections *s)
{
	char *text = NULL, mac[TR_CHECKSUM_STR_LEN];
	size_t len = 0;
	char path[PATH_MAX];
	int dirfd = cache_dir(r, path, sizeof path);
	FILE *f = dirfd >= 0 ? open_memstream(&text, &len) : NULL;
	if (f) {
		fprintf(f, CACHE_FORMAT "\nread %lld\n", (long long)time(NULL));
		for (int i = 0; i < s->n; i++)
			fprintf(f, "s %" PRIu32 " %" PRIu64 " %d %" PRId64 "\n", s->v[i].n, s->v[i].id.sysid,
				s->v[i].id.pg_major, s->v[i].created);
	}
	if (f && fclose(f) == 0 && !tr_sections_damaged(s) && s->n) {
		cache_mac(r, text, len, mac);
		char *full = malloc(len + strlen(mac) + 8);
		if (full && mac[0]) {
			int n = snprintf(full, len + strlen(mac) + 8, "%smac %s\n", text, mac);
			if (tr_atomic_write_file_at(dirfd, CACHE_FILE, full, (size_t)n, 0600, 0) != 0)
				tr_debug("cannot keep the history sections in the state directory: %s", strerror(errno));
		}
		free(full);
	} else if (dirfd >= 0) {
		unlinkat(dirfd, CACHE_FILE, 0);  /* nothing usable to keep: storage is read next time */
	}
	free(text);
	if (dirfd >= 0)
		close(dirfd);
}
