/* restore_reuse.c - copying chunks a restore already wrote (see
 * restore_reuse.h). */
#include "config.h"
#include "restore_reuse.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BUCKETS (2 * TR_REUSE_SLOTS)

enum { SRC_PENDING, SRC_OK, SRC_FAILED };

struct tr_reuse_src {
	char id[66];
	char *path;
	uint64_t off, len;
	int state;            /* under u->mu */
	int refs;             /* the window's, and each job's; under u->mu */
	int in_window;
	tr_reuse_src *next;   /* bucket chain */
};

struct tr_reuse {
	pthread_mutex_t mu;
	pthread_cond_t changed;
	tr_reuse_src *bucket[BUCKETS];
	tr_reuse_src *ring[TR_REUSE_SLOTS];  /* first in, first out */
	size_t head;
};

static size_t bucket_of(const char *id)
{
	/* Ids are keyed hashes in hex: any 8 digits spread well. */
	return (size_t)strtoull((char[9]){ id[1], id[2], id[3], id[4], id[5], id[6], id[7], id[8], 0 }, NULL, 16) % BUCKETS;
}

tr_reuse *tr_reuse_new(void)
{
	tr_reuse *u = calloc(1, sizeof *u);
	if (!u)
		return NULL;
	pthread_mutex_init(&u->mu, NULL);
	pthread_cond_init(&u->changed, NULL);
	return u;
}

static void unref(tr_reuse_src *s)
{
	if (--s->refs == 0) {
		free(s->path);
		free(s);
	}
}

static void unlink_bucket(tr_reuse *u, tr_reuse_src *s)
{
	for (tr_reuse_src **p = &u->bucket[bucket_of(s->id)]; *p; p = &(*p)->next)
		if (*p == s) {
			*p = s->next;
			return;
		}
}

/* The oldest entry leaves the window (its jobs may still hold it). */
static void evict(tr_reuse *u)
{
	tr_reuse_src *old = u->ring[u->head];
	if (!old)
		return;
	unlink_bucket(u, old);
	old->in_window = 0;
	u->ring[u->head] = NULL;
	unref(old);
}

tr_reuse_src *tr_reuse_note(tr_reuse *u, const char *id, const char *path, uint64_t off, uint64_t len,
			    tr_reuse_src **first)
{
	*first = NULL;
	pthread_mutex_lock(&u->mu);
	for (tr_reuse_src *s = u->bucket[bucket_of(id)]; s; s = s->next)
		if (s->state != SRC_FAILED && s->len == len && strcmp(s->id, id) == 0) {
			s->refs++;
			pthread_mutex_unlock(&u->mu);
			return s;
		}
	tr_reuse_src *s = calloc(1, sizeof *s);
	if (s && !(s->path = strdup(path))) {
		free(s);
		s = NULL;
	}
	if (s) {
		snprintf(s->id, sizeof s->id, "%s", id);
		s->off = off;
		s->len = len;
		s->refs = 2;  /* the window's and the first job's */
		s->in_window = 1;
		evict(u);
		u->ring[u->head] = s;
		u->head = (u->head + 1) % TR_REUSE_SLOTS;
		size_t b = bucket_of(id);
		s->next = u->bucket[b];
		u->bucket[b] = s;
		*first = s;
	}
	pthread_mutex_unlock(&u->mu);
	return NULL;
}

void tr_reuse_done(tr_reuse *u, tr_reuse_src *first, int ok)
{
	pthread_mutex_lock(&u->mu);
	first->state = ok ? SRC_OK : SRC_FAILED;
	if (!ok && first->in_window) {  /* later references fetch it themselves */
		unlink_bucket(u, first);
	}
	pthread_cond_broadcast(&u->changed);
	unref(first);
	pthread_mutex_unlock(&u->mu);
}

void tr_reuse_drop(tr_reuse *u, tr_reuse_src *s)
{
	pthread_mutex_lock(&u->mu);
	unref(s);
	pthread_mutex_unlock(&u->mu);
}

static int copy_range(const char *from, uint64_t from_off, const char *to, uint64_t to_off, uint64_t len,
		      char *err, size_t errlen)
{
	int in = open(from, O_RDONLY | O_NOFOLLOW | O_CLOEXEC), out = -1;
	char *buf = malloc(len ? (size_t)len : 1);
	ssize_t n = -1;
	if (in >= 0 && buf && (n = pread(in, buf, (size_t)len, (off_t)from_off)) == (ssize_t)len &&
	    (out = open(to, O_WRONLY | O_NOFOLLOW | O_CLOEXEC)) >= 0) {
		size_t done = 0;
		while (done < len && (n = pwrite(out, buf + done, (size_t)len - done, (off_t)(to_off + done))) > 0)
			done += (size_t)n;
		n = done == len ? 0 : -1;
	} else if (n >= 0) {
		n = -1;
		errno = errno ? errno : EIO;
	}
	int e = errno;
	if (out >= 0 && close(out) != 0 && n == 0) {
		n = -1;
		e = errno;
	}
	if (in >= 0)
		close(in);
	free(buf);
	if (n != 0)
		snprintf(err, errlen, "cannot copy a chunk from %s to %s: %s", from, to, strerror(e));
	return n == 0 ? 0 : -1;
}

int tr_reuse_copy(tr_reuse *u, tr_reuse_src *src, const char *path, uint64_t off, char *err, size_t errlen)
{
	pthread_mutex_lock(&u->mu);
	while (src->state == SRC_PENDING)
		pthread_cond_wait(&u->changed, &u->mu);
	int ok = src->state == SRC_OK;
	pthread_mutex_unlock(&u->mu);
	int rc = ok ? copy_range(src->path, src->off, path, off, src->len, err, errlen) : 1;
	tr_reuse_drop(u, src);
	return rc;
}

void tr_reuse_free(tr_reuse *u)
{
	if (!u)
		return;
	for (size_t i = 0; i < TR_REUSE_SLOTS; i++)
		if (u->ring[i])
			unref(u->ring[i]);
	pthread_cond_destroy(&u->changed);
	pthread_mutex_destroy(&u->mu);
	free(u);
}
