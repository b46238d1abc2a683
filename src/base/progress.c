/* progress.c - progress lines (see progress.h). */
#include "config.h"
#include "base/progress.h"
#include "base/log.h"
#include "base/util.h"

#include <stdio.h>
#include <unistd.h>

#define LOG_EVERY 5.0
#define TTY_EVERY 0.25

void tr_progress_init(tr_progress *p, const char *what, uint64_t total)
{
	p->what = what;
	p->total = total;
	p->done = 0;
	p->start = p->last = tr_now();
	p->tty = isatty(2);
}

static void report(tr_progress *p, double now)
{
	double secs = now - p->start, rate = secs > 0 ? (double)p->done / secs : 0;
	double pct = p->total ? 100.0 * (double)p->done / (double)p->total : 100.0;
	double eta = rate > 0 && p->total > p->done ? (double)(p->total - p->done) / rate : 0;
	if (p->tty)
		fprintf(stderr, "\r%s: %.1f%% %.1f/%.1f MiB, %.1f MiB/s, ETA %.0fs   ", p->what, pct,
			(double)p->done / 1048576, (double)p->total / 1048576, rate / 1048576, eta);
	else
		tr_info("%s: %.1f%% %.1f/%.1f MiB, %.1f MiB/s, ETA %.0fs", p->what, pct, (double)p->done / 1048576,
			(double)p->total / 1048576, rate / 1048576, eta);
}

void tr_progress_add(tr_progress *p, uint64_t bytes)
{
	double now = tr_now();
	p->done += bytes;
	if (now - p->last >= (p->tty ? TTY_EVERY : LOG_EVERY)) {
		p->last = now;
		report(p, now);
	}
}

void tr_progress_end(tr_progress *p)
{
	if (p->tty) {
		report(p, tr_now());
		fputc('\n', stderr);
	}
}
