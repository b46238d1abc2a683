/* walname.c - WAL file names (see walname.h). */
#include "config.h"
#include "pg/walname.h"

#include <stdio.h>
#include <string.h>

static int hex_run(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= '0' && c <= '9') || (c >= 'A' && c <= 'F')))
			return 0;
	}
	return 1;
}

int tr_wal_kind(const char *name)
{
	size_t n = strlen(name);
	if (n == 24 && hex_run(name, 24))
		return TR_WAL_SEGMENT;
	if (n == 16 && hex_run(name, 8) && strcmp(name + 8, ".history") == 0)
		return TR_WAL_HISTORY;
	if (n == 40 && hex_run(name, 24) && name[24] == '.' && hex_run(name + 25, 8) &&
	    strcmp(name + 33, ".backup") == 0)
		return TR_WAL_BACKUP;
	if (n == 32 && hex_run(name, 24) && strcmp(name + 24, ".partial") == 0)
		return TR_WAL_PARTIAL;
	return TR_WAL_NONE;
}

int tr_wal_rel_in(const char *prefix, const char *name, char *out, size_t outlen)
{
	int kind = tr_wal_kind(name);
	int n;
	if (kind == TR_WAL_NONE)
		return -1;
	if (kind == TR_WAL_HISTORY)
		n = snprintf(out, outlen, "%s%s", prefix, name);
	else
		n = snprintf(out, outlen, "%s%.16s/%s", prefix, name, name);
	return n > 0 && (size_t)n < outlen ? 0 : -1;
}

int tr_wal_rel(const char *name, char *out, size_t outlen)
{
	return tr_wal_rel_in("wal/", name, out, outlen);
}
