/* log.c - levelled one-line messages on stderr.
 *
 * The level is process state on purpose: it is set once from the
 * configuration before any work starts and read everywhere else. */
#include "config.h"
#include "base/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static int log_level = TR_LOG_INFO;
static char last_error[512];

void tr_log_set_level(int level) { log_level = level; }
int tr_log_get_level(void) { return log_level; }

int tr_log_parse_level(const char *s)
{
	static const char *const names[] = { "error", "warning", "info", "debug" };
	for (int i = 0; i < 4; i++)
		if (strcasecmp(s, names[i]) == 0)
			return i;
	return -1;
}

void tr_log(int level, const char *fmt, ...)
{
	static const char *const prefix[] = { "ERROR", "WARNING", "INFO", "DEBUG" };
	char line[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	if (level == TR_LOG_ERROR)
		snprintf(last_error, sizeof last_error, "%s", line);
	if (level > log_level)
		return;
	/* One write per line so concurrent processes do not interleave. */
	fprintf(stderr, "totalrecall: %s: %s\n", prefix[level], line);
}

const char *tr_log_last_error(void) { return last_error; }
