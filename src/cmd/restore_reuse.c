/* restore_reuse.c - copying chunks a restore already wrote (see
 * restore_reuse.h). */
#include "config.h"
#include "cmd/restore_reuse.h"

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

int tr_chunk_at(const tr_chunk_idf *idf, const char *path, uint64_t off, uint64_t len, const char *id, void *buf)
{
	char got[66];
	size_t done = 0;
	ssize_t n = 1;
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	while (fd >= 0 && done < len && (n = pread(fd, (char *)buf + done, len - done, (off_t)(off + done))) > 0)
		done += (size_t)n;
	if (fd >= 0)
		close(fd);
	if (done != len)
		return 0;
	idf->fn(idf->ctx, buf, len, got);
	return strcmp(got, id) == 0;
}

static int write_range(const char *to, uint64_t to_off, const char *buf, uint64_t len, char *err, size_t errlen)
{
	int out = open(to, O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
	size_t done = 0;
	ssize_t n = 0;
	while (out >= 0 && done < len && (n = pwrite(out, buf + done, (size_t)len - done, (off_t)(to_off + done))) > 0)
		done += (size_t)n;
	int e = out < 0 || n < 0 ? errno : EIO;
	if (out >= 0 && close(out) != 0 && done == len) {
		e = errno;
		done = 0;
	}
	if (done == len && out >= 0)
		return 0;
	snprintf(err, errlen, "cannot copy a chunk to %s: %s", to, strerror(e));
	return -1;
}

int tr_reuse_copy(tr_reuse *u, tr_reuse_src *src, const tr_chunk_idf *idf, const char *path, uint64_t off,
		  void *buf, char *err, size_t errlen)
{
	pthread_mutex_lock(&u->mu);
	while (src->state == SRC_PENDING)
		pthread_cond_wait(&u->changed, &u->mu);
	int ok = src->state == SRC_OK;
	pthread_mutex_unlock(&u->mu);
	/* Only bytes that still have the chunk's id are copied: anything may
	 * have changed the file since (a later write, another process). */
	int rc = ok && tr_chunk_at(idf, src->path, src->off, src->len, src->id, buf)
			 ? write_range(path, off, buf, src->len, err, errlen)
			 : 1;
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
