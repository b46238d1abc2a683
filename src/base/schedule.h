/*
 * schedule.h - when backups are due.
 *
 * Either a 5-field cron expression evaluated in UTC
 *   minute hour day-of-month month day-of-week
 * with "*", numbers, ranges a-b, steps ("*" or a range or a number,
 * followed by "/n"), lists a,b,c,
 * month names JAN-DEC and day names SUN-SAT (Sunday is 0 and 7), and the
 * macros @yearly @annually @monthly @weekly @daily @midnight @hourly;
 * as in Vixie cron, when both day fields are restricted a day matches if
 * either does.  A backup is due when a firing time has passed since the
 * last successful backup.
 * Or an interval, a number and a unit (m, h, d, w: "12h", "7d"), measured
 * from the last successful backup.
 */
#ifndef TR_SCHEDULE_H
#define TR_SCHEDULE_H

#include <stddef.h>
#include <stdint.h>

#define TR_SCHEDULE_DEFAULT "7d"

typedef struct tr_schedule {
	int is_interval;
	int64_t interval;      /* seconds */
	uint64_t minute;       /* bit i: minute i */
	uint32_t hour, dom;    /* dom: bit d for day d (1..31) */
	uint16_t month;        /* bit m for month m (1..12) */
	uint8_t dow;           /* bit d for weekday d (0 = Sunday) */
	int dom_any, dow_any;  /* the field was "*" */
} tr_schedule;

/* 0, or -1 with err, also for an expression that can never fire. */
int tr_schedule_parse(const char *text, tr_schedule *s, char *err, size_t errlen);
/* First firing time strictly after t (seconds since the epoch, UTC); -1 if
 * none within eight years (e.g. "0 0 30 2 *"). */
int64_t tr_schedule_next(const tr_schedule *s, int64_t t);
/* Is a backup due at now, given the stop time of the last successful
 * backup (0 if none)?  why gets one line for the log. */
int tr_schedule_due(const tr_schedule *s, int64_t last, int64_t now, char *why, size_t len);

#endif
