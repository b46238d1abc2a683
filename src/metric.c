/* metric.c - the command's metrics record (see metric.h). */
#include "config.h"
#include "metric.h"
#include "log.h"
#include "spool.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static tr_metric current;
static int active;

void tr_metric_begin(const char *operation)
{
	memset(&current, 0, sizeof current);
	current.operation = operation;
	current.start_us = tr_now_us();
	active = 1;
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

void tr_metric_end(const tr_config *cfg, int exit_status)
{
	char buf[4096];
	if (!active)
		return;
	active = 0;
	const char *dir = tr_spool_dir(tr_config_get(cfg, TR_S_SPOOL_DIR), tr_config_get(cfg, TR_S_PGDATA), buf,
				       sizeof buf);
	if (!dir)
		return;
	current.finish_us = tr_now_us();
	if (!current.status)
		current.status = exit_status == 0 ? "ok" : "failed";
	if (exit_status != 0)
		snprintf(current.error, sizeof current.error, "%s", tr_log_last_error());
	if (tr_spool_append(dir, &current) != 0)
		tr_warn("cannot record metrics in %s: %s", dir, strerror(errno));
}
