/* schedule.c - cron expressions and intervals (see schedule.h). */
#include "config.h"
#include "base/schedule.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define SCHEDULE_CHECK_FROM 946684800  /* 2000-01-01 00:00 UTC */

struct field {
	const char *name;
	int lo, hi;
	const char *const *names;  /* names for lo, lo+1, ... or NULL */
};

static const char *const month_names[] = { "jan", "feb", "mar", "apr", "may", "jun",
					   "jul", "aug", "sep", "oct", "nov", "dec", NULL };
static const char *const day_names[] = { "sun", "mon", "tue", "wed", "thu", "fri", "sat", NULL };

static const struct field fields[5] = {
	{ "minute", 0, 59, NULL },
	{ "hour", 0, 23, NULL },
	{ "day of month", 1, 31, NULL },
	{ "month", 1, 12, month_names },
	{ "day of week", 0, 7, day_names },
};

static const struct { const char *macro, *expr; } macros[] = {
	{ "@yearly", "0 0 1 1 *" }, { "@annually", "0 0 1 1 *" }, { "@monthly", "0 0 1 * *" },
	{ "@weekly", "0 0 * * 0" }, { "@daily", "0 0 * * *" },    { "@midnight", "0 0 * * *" },
	{ "@hourly", "0 * * * *" },
};

/* A number or a name; advances *p.  -1 if neither. */
static int parse_value(const struct field *f, const char **p)
{
	if (isdigit((unsigned char)**p)) {
		char *end;
		long v = strtol(*p, &end, 10);
		*p = end;
		return v > 1000 ? 1000 : (int)v;
	}
	for (int i = 0; f->names && f->names[i]; i++)
		if (strncasecmp(*p, f->names[i], 3) == 0 && !isalpha((unsigned char)(*p)[3])) {
			*p += 3;
			return f->lo + i;
		}
	return -1;
}

/* One list element: "*", "a", "a-b", with an optional "/step". */
static int parse_element(const struct field *f, const char *el, uint64_t *bits, int *any,
			 char *err, size_t errlen)
{
	const char *p = el;
	int lo, hi, step = 1, range = 0;
	if (*p == '*') {
		lo = f->lo;
		hi = f->hi;
		p++;
		*any = 1;
	} else {
		if ((lo = parse_value(f, &p)) < 0)
			goto bad;
		hi = lo;
		if (*p == '-') {
			p++;
			range = 1;
			if ((hi = parse_value(f, &p)) < 0)
				goto bad;
		}
	}
	if (*p == '/') {
		p++;
		const char *q = p;
		if (!isdigit((unsigned char)*q) || (step = (int)strtol(q, (char **)&p, 10)) <= 0)
			goto bad;
		if (!range && el[0] != '*')  /* "a/n" means from a to the end */
			hi = f->hi;
	}
	if (*p)
		goto bad;
	if (lo < f->lo || hi > f->hi || lo > hi) {
		snprintf(err, errlen, "%s \"%s\" is out of range %d-%d", f->name, el, f->lo, f->hi);
		return -1;
	}
	for (int v = lo; v <= hi; v += step)
		*bits |= 1ULL << v;
	return 0;
bad:
	snprintf(err, errlen, "%s \"%s\" is not valid", f->name, el);
	return -1;
}

static int parse_field(const struct field *f, char *text, uint64_t *bits, int *any, char *err, size_t errlen)
{
	char *save = NULL;
	int stepped = strchr(text, '/') != NULL;
	*bits = 0;
	*any = 0;
	if (!*text || text[strlen(text) - 1] == ',' || text[0] == ',' || strstr(text, ",,")) {
		snprintf(err, errlen, "%s \"%s\" is not valid", f->name, text);
		return -1;
	}
	for (char *el = strtok_r(text, ",", &save); el; el = strtok_r(NULL, ",", &save))
		if (parse_element(f, el, bits, any, err, errlen) != 0)
			return -1;
	/* "*" only counts as "any day" when it is the whole field. */
	if (stepped)
		*any = 0;
	return 0;
}

static int parse_interval(const char *text, tr_schedule *s)
{
	char *end;
	long long n = strtoll(text, &end, 10);
	static const struct { const char *unit; int64_t secs; } units[] = {
		{ "m", 60 }, { "h", 3600 }, { "d", 86400 }, { "w", 7 * 86400 },
	};
	if (end == text || n <= 0 || n > 100000)
		return -1;
	for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
		if (strcmp(end, units[i].unit) == 0) {
			s->is_interval = 1;
			s->interval = n * units[i].secs;
			return 0;
		}
	return -1;
}

int tr_schedule_parse(const char *text, tr_schedule *s, char *err, size_t errlen)
{
	char buf[256], *parts[6], *save = NULL;
	int n = 0;
	memset(s, 0, sizeof *s);
	while (isspace((unsigned char)*text))
		text++;
	if (isdigit((unsigned char)*text) && parse_interval(text, s) == 0)
		return 0;
	for (size_t i = 0; i < sizeof macros / sizeof macros[0]; i++)
		if (strcasecmp(text, macros[i].macro) == 0)
			text = macros[i].expr;
	if (strlen(text) >= sizeof buf) {
		snprintf(err, errlen, "schedule is too long");
		return -1;
	}
	strcpy(buf, text);
	for (char *tok = strtok_r(buf, " \t", &save); tok && n < 6; tok = strtok_r(NULL, " \t", &save))
		parts[n++] = tok;
	if (n != 5) {
		snprintf(err, errlen, "schedule \"%s\": expected 5 cron fields (minute hour day month weekday), "
			 "a macro such as @daily, or an interval such as 7d or 12h", text);
		return -1;
	}
	uint64_t bits[5];
	int any[5];
	for (int i = 0; i < 5; i++)
		if (parse_field(&fields[i], parts[i], &bits[i], &any[i], err, errlen) != 0)
			return -1;
	s->minute = bits[0];
	s->hour = (uint32_t)bits[1];
	s->dom = (uint32_t)bits[2];
	s->month = (uint16_t)bits[3];
	s->dow = (uint8_t)((bits[4] | (bits[4] >> 7)) & 0x7f);  /* 7 is Sunday too */
	s->dom_any = any[2];
	s->dow_any = any[4];
	/* "0 0 31 2 *" parses but never fires: refuse it rather than never
	 * take a backup.  Eight years from any date see every calendar day,
	 * 29 February included; a fixed start keeps parsing reproducible. */
	if (tr_schedule_next(s, SCHEDULE_CHECK_FROM) < 0) {
		snprintf(err, errlen, "schedule \"%s\" never fires: none of its months has that day", text);
		return -1;
	}
	return 0;
}

static int day_matches(const tr_schedule *s, const struct tm *tm)
{
	int dom = (s->dom >> tm->tm_mday) & 1, dow = (s->dow >> tm->tm_wday) & 1;
	if (s->dom_any || s->dow_any)
		return dom && dow;
	return dom || dow;
}

int64_t tr_schedule_next(const tr_schedule *s, int64_t t)
{
	if (s->is_interval)
		return t + s->interval;
	time_t cur = (time_t)(t - t % 60 + 60);  /* the next whole minute */
	time_t limit = cur + (time_t)8 * 366 * 86400;
	struct tm tm;
	while (cur < limit) {
		gmtime_r(&cur, &tm);
		if (!((s->month >> (tm.tm_mon + 1)) & 1) || !day_matches(s, &tm)) {
			/* Skip to the next day's midnight. */
			cur += (time_t)(86400 - tm.tm_hour * 3600 - tm.tm_min * 60 - tm.tm_sec);
			continue;
		}
		if (!((s->hour >> tm.tm_hour) & 1)) {
			cur += (time_t)(3600 - tm.tm_min * 60 - tm.tm_sec);
			continue;
		}
		if (!((s->minute >> tm.tm_min) & 1)) {
			cur += 60;
			continue;
		}
		return (int64_t)cur;
	}
	return -1;
}

static void fmt_time(int64_t t, char out[32])
{
	struct tm tm;
	time_t tt = (time_t)t;
	gmtime_r(&tt, &tm);
	strftime(out, 32, "%Y-%m-%d %H:%M UTC", &tm);
}

int tr_schedule_due(const tr_schedule *s, int64_t last, int64_t now, char *why, size_t len)
{
	char a[32], b[32];
	if (last <= 0) {
		snprintf(why, len, "no backup in the repository yet");
		return 1;
	}
	int64_t next = tr_schedule_next(s, last);
	fmt_time(last, a);
	if (next < 0) {
		snprintf(why, len, "the schedule never fires; last backup %s", a);
		return 0;
	}
	fmt_time(next, b);
	if (next <= now)
		snprintf(why, len, "due since %s (last backup %s)", b, a);
	else
		snprintf(why, len, "not due until %s (last backup %s)", b, a);
	return next <= now;
}
