/* repolock.c - the repository lock and lock holders (see repolock.h). */
#include "config.h"
#include "repo/repolock.h"
#include "base/log.h"
#include "base/util.h"
#include "repo/tmpobj.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define LOCK_BODY_MAX 1024

/* --- holders --- */

/* The first line of a small /proc or /sys file, trimmed; "" if unreadable. */
static void read_line_of(const char *path, char *out, size_t len)
{
	FILE *f = fopen(path, "r");
	out[0] = '\0';
	if (!f)
		return;
	if (!fgets(out, (int)len, f))
		out[0] = '\0';
	fclose(f);
	out[strcspn(out, "\n")] = '\0';
}

/* State and start time (clock ticks since boot) of a process, from
 * /proc/<pid>/stat; -1 if it does not exist. */
static int proc_stat(long pid, char *state, unsigned long long *start)
{
	char path[64], line[1024];
	snprintf(path, sizeof path, "/proc/%ld/stat", pid);
	read_line_of(path, line, sizeof line);
	const char *p = strrchr(line, ')');  /* the name may hold spaces and parentheses */
	if (!p)
		return -1;
	/* fields after the name: 3 state, then 4..21, 22 starttime */
	if (sscanf(p + 1, " %c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d %*d %*d %llu", state,
		   start) != 2)
		return -1;
	return 0;
}

/* Where this process runs: host name, boot id and PID namespace. */
static void whereabouts(char *host, size_t hl, char *boot, size_t bl, char *ns, size_t nl)
{
	char link[128];
	if (gethostname(host, hl) != 0)
		host[0] = '\0';
	host[hl - 1] = '\0';
	for (char *p = host; *p; p++)
		if (*p == ' ')
			*p = '_';
	read_line_of("/proc/sys/kernel/random/boot_id", boot, bl);
	ssize_t n = readlink("/proc/self/ns/pid", link, sizeof link - 1);
	link[n > 0 ? n : 0] = '\0';
	const char *open = strchr(link, '[');
	snprintf(ns, nl, "%.*s", open ? (int)strcspn(open + 1, "]") : 0, open ? open + 1 : "");
}

void tr_lock_holder_self(const char *command, char *out, size_t len)
{
	char host[256], boot[64], ns[32], state;
	unsigned long long start = 0;
	whereabouts(host, sizeof host, boot, sizeof boot, ns, sizeof ns);
	if (proc_stat((long)getpid(), &state, &start) != 0)
		start = 0;
	snprintf(out, len, "%s host %s boot %s pidns %s pid %ld start %llu", command, *host ? host : "-",
		 *boot ? boot : "-", *ns ? ns : "-", (long)getpid(), start);
}

int tr_lock_holder_gone(const char *holder)
{
	char host[256], boot[64], ns[32], h[256], b[64], n[32], state;
	long pid;
	unsigned long long start, now_start;
	const char *p = strstr(holder, " host ");
	if (!p || sscanf(p, " host %255s boot %63s pidns %31s pid %ld start %llu", h, b, n, &pid, &start) != 5 ||
	    pid <= 0)
		return 0;
	whereabouts(host, sizeof host, boot, sizeof boot, ns, sizeof ns);
	if (!*boot || !*ns || strcmp(h, host) != 0 || strcmp(b, boot) != 0 || strcmp(n, ns) != 0)
		return 0;  /* another machine, boot or container: cannot tell */
	if (proc_stat(pid, &state, &now_start) != 0)
		return 1;
	return state == 'Z' || state == 'X' || (start && now_start != start);
}

int tr_lock_is_ours(tr_repo *r, const char *rel, const char *body)
{
	char now[LOCK_BODY_MAX];
	tr_membuf m = { now, 0, sizeof now - 1, 0 };
	if (tr_repo_get(r, rel, tr_mem_write, &m, NULL) != TR_OK)
		return 0;
	now[m.len] = '\0';
	return strcmp(now, body) == 0;
}

/* --- the lock object --- */

static int put_lock(tr_repolock *l, unsigned flags)
{
	tr_membuf m = { l->body, strlen(l->body), strlen(l->body), 0 };
	return tr_repo_put(l->repo, TR_REPOLOCK_NAME, tr_mem_read, &m, flags, NULL, NULL);
}

/* The current lock: its body (a holder line) and storage time. */
static int read_lock(tr_repo *r, char *body, size_t len, int64_t *mtime)
{
	tr_object_info info;
	tr_membuf m = { body, 0, len - 1, 0 };
	int rc = tr_repo_head(r, TR_REPOLOCK_NAME, &info);
	if (rc == TR_OK)
		rc = tr_repo_get(r, TR_REPOLOCK_NAME, tr_mem_write, &m, NULL);
	body[rc == TR_OK ? m.len : 0] = '\0';
	body[strcspn(body, "\n")] = '\0';
	*mtime = rc == TR_OK ? info.mtime : 0;
	if (rc == TR_REPO_ECORRUPT || rc == TR_REPO_EKEY || rc == TR_ECALLBACK) {
		snprintf(body, len, "(unreadable lock: %s)", tr_repo_error(r));
		return TR_OK;  /* judged by its age alone */
	}
	return rc;
}

/* Removes a lock judged stale, unless it changed since it was read. */
static int take_over(tr_repo *r, const char *seen, const char *why)
{
	char now[LOCK_BODY_MAX];
	int64_t mtime;
	if (read_lock(r, now, sizeof now, &mtime) != TR_OK || strcmp(now, seen) != 0)
		return 0;  /* released or taken meanwhile: try again */
	tr_info("taking over the repository lock of %s: %s", seen, why);
	int rc = tr_repo_remove(r, TR_REPOLOCK_NAME);
	return rc == TR_OK || rc == TR_ENOENT ? 0 : -1;
}

static void pause_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

int tr_repolock_take(tr_repo *r, tr_repolock *l, const char *command, char *err, size_t errlen)
{
	char holder[400], other[LOCK_BODY_MAX];
	int64_t timeout = tr_repo_settings_of(r)->lock_timeout, mtime;
	double deadline = tr_now() + (double)timeout;
	unsigned wait_ms = 100;
	int told = 0;
	memset(l, 0, sizeof *l);
	l->repo = r;
	tr_lock_holder_self(command, holder, sizeof holder);
	snprintf(l->body, sizeof l->body, "%s since %lld\n", holder, (long long)time(NULL));
	for (;;) {
		int rc = put_lock(l, TR_PUT_IF_ABSENT);
		/* Read back: EEXIST may answer a retried put whose first attempt
		 * had stored it, and with a server that ignores If-None-Match a
		 * racing writer may have replaced it (README, S3). */
		if (rc == TR_OK || rc == TR_EEXIST)
			rc = tr_lock_is_ours(r, TR_REPOLOCK_NAME, l->body) ? TR_OK : TR_EEXIST;
		if (rc == TR_OK) {
			l->held = 1;
			l->refreshed = tr_now();
			return 0;
		}
		if (rc == TR_EEXIST)
			rc = read_lock(r, other, sizeof other, &mtime);
		if (rc == TR_ENOENT)
			continue;  /* released meanwhile */
		if (rc != TR_OK) {
			snprintf(err, errlen, "cannot take the repository lock: %s", tr_repo_error(r));
			return -1;
		}
		size_t n = strlen(other);
		if (strncmp(other, l->body, n) == 0 && l->body[n] == '\n') {
			l->held = 1;  /* ours after all (the read-back above failed) */
			l->refreshed = tr_now();
			return 0;
		}
		int gone = tr_lock_holder_gone(other);
		/* An age the storage does not tell (0, driver.h) is never stale. */
		if (gone || (mtime > 0 && mtime < (int64_t)time(NULL) - TR_REPOLOCK_STALE)) {
			if (take_over(r, other, gone ? "that process no longer runs" : "not renewed for an hour") != 0) {
				snprintf(err, errlen, "cannot remove a stale repository lock: %s", tr_repo_error(r));
				return -1;
			}
			continue;
		}
		if (!told++)
			tr_info("%s: waiting for the repository lock held by %s%s", command, other,
				mtime > 0 ? "" : " (the storage does not tell its age: it is never taken over as stale, "
				"only when its process on this host is gone)");
		if (tr_now() >= deadline) {
			snprintf(err, errlen, "the repository is locked by %s; gave up after %lld s (lock-timeout)", other,
				 (long long)timeout);
			return -1;
		}
		pause_ms(wait_ms);
		wait_ms = wait_ms < 1000 ? 2 * wait_ms : 2000;
	}
}

void tr_repolock_refresh(tr_repolock *l)
{
	if (!l->held || tr_now() - l->refreshed < TR_REPOLOCK_REFRESH)
		return;
	if (put_lock(l, 0) != TR_OK)
		tr_warn("cannot renew the repository lock: %s", tr_repo_error(l->repo));
	l->refreshed = tr_now();
}

void tr_repolock_release(tr_repolock *l)
{
	if (!l->held)
		return;
	l->held = 0;
	if (tr_repo_remove(l->repo, TR_REPOLOCK_NAME) != TR_OK)
		tr_warn("cannot remove the repository lock %s: %s (it is taken over once stale)", TR_REPOLOCK_NAME,
			tr_repo_error(l->repo));
}

/* --- a backup's lock: locks/<label> --- */

int tr_lock_take(tr_repo *r, const char *label)
{
	char rel[128], body[600], who[128], holder[500];
	snprintf(who, sizeof who, "backup %s", label);
	tr_lock_holder_self(who, holder, sizeof holder);  /* expire tells a killed backup's lock by it */
	int n = snprintf(body, sizeof body, "%s since %lld\n", holder, (long long)time(NULL));
	FILE *f = tr_repo_tmpfile(r);
	if (!f) {
		tr_repo_set_error(r, "cannot create a temporary file: %s", strerror(errno));
		return TR_EIO;
	}
	fwrite(body, 1, (size_t)n, f);
	snprintf(rel, sizeof rel, "locks/%s", label);
	int rc = tr_repo_put_file(r, rel, f, TR_PUT_IF_ABSENT, NULL);  /* TR_EEXIST: the label is taken */
	fclose(f);
	if (rc == TR_EEXIST && tr_lock_is_ours(r, rel, body))
		rc = TR_OK;  /* a retried request whose first attempt had stored it */
	return rc;
}

void tr_lock_release(tr_repo *r, const char *label)
{
	char rel[128];
	snprintf(rel, sizeof rel, "locks/%s", label);
	if (tr_repo_remove(r, rel) != TR_OK)
		tr_warn("cannot remove the lock %s: %s (expire removes it after a day)", rel, tr_repo_error(r));
}
