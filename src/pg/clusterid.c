/* clusterid.c - a cluster's identity (see clusterid.h). */
#include "config.h"
#include "pg/clusterid.h"
#include "base/util.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* pg_control_version of each major version this reads: 12 wrote 1201,
 * 13 to 16 wrote 1300, 17 writes 1700. */
static int control_version_of(int major)
{
	return major == 12 ? 1201 : major >= 13 && major <= 16 ? 1300 : major == 17 ? 1700 : 0;
}

static int read_head(const char *path, uint8_t *buf, size_t len, char *err, size_t errlen)
{
	int fd = tr_open_regular(path, 0);
	ssize_t n = fd >= 0 ? tr_read_full(fd, buf, len) : -1;
	int e = errno;
	if (fd >= 0)
		close(fd);
	if (n < 0) {
		snprintf(err, errlen, "cannot read %s: %s", path, tr_strerror(e));
		return -1;
	}
	if ((size_t)n < len) {
		snprintf(err, errlen, "%s is too short for a pg_control file (%zd bytes)", path, n);
		return -1;
	}
	return 0;
}

/* Reads the system identifier and pg_control_version. */
static int read_control(const char *path, uint64_t *sysid, uint32_t *version, char *err, size_t errlen)
{
	uint8_t head[16];
	if (read_head(path, head, sizeof head, err, errlen) != 0)
		return -1;
	memcpy(sysid, head, sizeof *sysid);
	memcpy(version, head + 8, sizeof *version);
	if (*sysid == 0 || *version < 1000 || *version > 9999) {
		snprintf(err, errlen, "%s is not a pg_control file this machine wrote (version field %" PRIu32 ")", path,
			 *version);
		return -1;
	}
	return 0;
}

int tr_pgcontrol_sysid(const char *path, uint64_t *sysid, char *err, size_t errlen)
{
	uint32_t version;
	return read_control(path, sysid, &version, err, errlen);
}

static int read_pg_version(const char *pgdata, int *major, char *err, size_t errlen)
{
	char path[PATH_MAX], *text, *end;
	size_t len;
	snprintf(path, sizeof path, "%s/PG_VERSION", pgdata);
	if (tr_read_small_file(path, 64, &text, &len) != 0) {
		snprintf(err, errlen, "cannot read %s: %s", path, tr_strerror(errno));
		return -1;
	}
	long v = strtol(text, &end, 10);
	int ok = end != text && (*end == '\n' || *end == '\0') && v >= 10 && v <= 99;
	free(text);
	if (!ok) {
		snprintf(err, errlen, "%s does not hold a PostgreSQL major version", path);
		return -1;
	}
	*major = (int)v;
	return 0;
}

int tr_cluster_id_from_pgdata(const char *pgdata, tr_cluster_id *id, char *err, size_t errlen)
{
	char path[PATH_MAX];
	uint32_t version;
	if (read_pg_version(pgdata, &id->pg_major, err, errlen) != 0)
		return -1;
	snprintf(path, sizeof path, "%s/global/pg_control", pgdata);
	if (read_control(path, &id->sysid, &version, err, errlen) != 0)
		return -1;
	if (control_version_of(id->pg_major) != (int)version) {
		snprintf(err, errlen, "%s has pg_control_version %" PRIu32 ", which PostgreSQL %d (its PG_VERSION) does not "
			 "write", path, version, id->pg_major);
		return -1;
	}
	return 0;
}

int tr_cluster_id_from_server(int version_num, const char *system_id, tr_cluster_id *id)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(system_id, &end, 10);
	if (errno || end == system_id || *end || v == 0 || version_num < 100000)
		return -1;
	id->sysid = v;
	id->pg_major = version_num / 10000;
	return 0;
}

int tr_cluster_id_equal(const tr_cluster_id *a, const tr_cluster_id *b)
{
	return a->sysid == b->sysid && a->pg_major == b->pg_major;
}

void tr_cluster_id_format(const tr_cluster_id *id, char *out, size_t outlen)
{
	snprintf(out, outlen, "system identifier %" PRIu64 " (PostgreSQL %d)", id->sysid, id->pg_major);
}
