/* metric.c - the command's metrics record (see metric.h). */
#include "config.h"
#include "base/metric.h"
#include "base/assert.h"
#include "base/log.h"
#include "base/spool.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define MAX_EXTRA 4

static tr_metric current;
static tr_metric extra[MAX_EXTRA];
static int nextra;
static int active;
static int pgdata_overridden;
static const char *pgdata_override;
static const char *spool_setting, *pgdata_setting;

void tr_metric_begin(const char *operation, const char *spool, const char *pgdata)
{
	spool_setting = spool;
	pgdata_setting = pgdata;
	memset(&current, 0, sizeof current);
	current.operation = operation;
	current.start_us = tr_now_us();
	nextra = 0;
	active = 1;
}

void tr_metric_extra(const char *operation, uint64_t plain, uint64_t stored, const char *status, const char *text)
{
	if (nextra == MAX_EXTRA)
		return;
	TR_ASSERT(nextra < MAX_EXTRA);
	tr_metric *m = &extra[nextra++];
	memset(m, 0, sizeof *m);
	m->operation = operation;
	m->bytes_read = plain;
	m->bytes_stored = stored;
	m->status = status;
	snprintf(m->error, sizeof m->error, "%s", text);
}

void tr_metric_subject(const char *subject)
{
	snprintf(current.subject, sizeof current.subject, "%s", subject);
}

void tr_metric_bytes(uint64_t plain, uint64_t stored)
{
	current.bytes_read += plain;
	current.bytes_stored += stored;
}

void tr_metric_status(const char *status) { current.status = status; }

void tr_metric_pgdata(const char *pgdata)
{
	pgdata_overridden = 1;
	pgdata_override = pgdata;
}

static const char *spool_dir(char *buf, size_t len)
{
	const char *setting = spool_setting;
	if (!pgdata_overridden)
		return tr_spool_dir(setting, pgdata_setting, buf, len);
	if (pgdata_override)
		return tr_spool_dir(setting, pgdata_override, buf, len);
	if (!setting || !*setting || (size_t)snprintf(buf, len, "%s", setting) >= len)
		return NULL;
	return buf;
}

void tr_metric_end(int exit_status)
{
	char buf[4096];
	if (!active)
		return;
	active = 0;
	const char *dir = spool_dir(buf, sizeof buf);
	if (!dir)
		return;
	current.finish_us = tr_now_us();
	if (!current.status)
		current.status = exit_status == 0 ? "ok" : "failed";
	if (exit_status != 0)
		snprintf(current.error, sizeof current.error, "%s", tr_log_last_error());
	if (tr_spool_append(dir, &current) != 0)
		tr_warn("cannot record metrics in %s: %s", dir, strerror(errno));
	for (int i = 0; i < nextra; i++) {
		snprintf(extra[i].subject, sizeof extra[i].subject, "%s", current.subject);
		extra[i].start_us = current.start_us;
		extra[i].finish_us = current.finish_us;
		if (tr_spool_append(dir, &extra[i]) != 0)
			tr_warn("cannot record metrics in %s: %s", dir, strerror(errno));
	}
}

void tr_metric_now(const char *operation, const char *subject, const char *status, const char *text)
{
	char buf[4096];
	tr_metric m;
	const char *dir = tr_spool_dir(spool_setting, pgdata_setting, buf, sizeof buf);
	memset(&m, 0, sizeof m);
	m.operation = operation;
	snprintf(m.subject, sizeof m.subject, "%s", subject);
	m.start_us = m.finish_us = tr_now_us();
	m.status = status;
	snprintf(m.error, sizeof m.error, "%s", text);
	if (dir && tr_spool_append(dir, &m) != 0)
		tr_warn("cannot record metrics in %s: %s", dir, strerror(errno));
}
