/* chunkset.c - the chunk ids a backup stored lately (see chunkset.h).
 *
 * A hash table with chained buckets over a fixed ring of entries: a new id
 * takes the oldest entry (first in, first out), so the ids kept are always
 * the TR_CHUNKSET_SLOTS most recently claimed.  That is what makes the
 * stored-byte counts exact: a batched put becomes visible within a few
 * hundred puts of its worker (at its driver's next flush), long before its
 * id leaves the ring, and once visible, put-if-absent reports it.
 */
#include "config.h"
#include "cmd/chunkset.h"
#include "base/assert.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define BUCKETS (TR_CHUNKSET_SLOTS * 2)
#define ID_MAX 72

enum { SLOT_FREE, SLOT_STORING, SLOT_STORED };

struct entry {
	char id[ID_MAX];
	int state;
	int next;  /* next entry of the bucket, -1 at the end */
	uint64_t stored;
};

struct tr_chunkset {
	pthread_mutex_t mu;
	pthread_cond_t changed;
	int ring;  /* the entry the next new id takes */
	int bucket[BUCKETS];
	struct entry e[TR_CHUNKSET_SLOTS];
};

tr_chunkset *tr_chunkset_new(void)
{
	tr_chunkset *s = calloc(1, sizeof *s);
	if (!s)
		return NULL;
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->changed, NULL);
	for (int i = 0; i < BUCKETS; i++)
		s->bucket[i] = -1;
	return s;
}

void tr_chunkset_free(tr_chunkset *s)
{
	if (!s)
		return;
	pthread_cond_destroy(&s->changed);
	pthread_mutex_destroy(&s->mu);
	free(s);
}

static int bucket_of(const char *id)
{
	uint32_t h = 2166136261u;
	for (const char *p = id; *p; p++)
		h = (h ^ (uint8_t)*p) * 16777619u;
	return (int)(h % BUCKETS);
}

static struct entry *find(tr_chunkset *s, const char *id)
{
	for (int i = s->bucket[bucket_of(id)]; i >= 0; i = s->e[i].next)
		if (strcmp(s->e[i].id, id) == 0)
			return &s->e[i];
	return NULL;
}

static void unlink_entry(tr_chunkset *s, int idx)
{
	int *p = &s->bucket[bucket_of(s->e[idx].id)];
	while (*p >= 0 && *p != idx)
		p = &s->e[*p].next;
	if (*p == idx)
		*p = s->e[idx].next;
}

/* The oldest entry not being stored, unlinked; NULL if every one is. */
static struct entry *take_oldest(tr_chunkset *s)
{
	for (int tries = 0; tries < TR_CHUNKSET_SLOTS; tries++) {
		int idx = s->ring;
		s->ring = (s->ring + 1) % TR_CHUNKSET_SLOTS;
		if (s->e[idx].state == SLOT_STORING)
			continue;
		if (s->e[idx].state != SLOT_FREE)
			unlink_entry(s, idx);
		return &s->e[idx];
	}
	return NULL;
}

int tr_chunkset_claim(tr_chunkset *s, const char *id, uint64_t *stored)
{
	if (!s || strlen(id) >= ID_MAX)
		return 0;
	pthread_mutex_lock(&s->mu);
	struct entry *e;
	while ((e = find(s, id)) && e->state == SLOT_STORING)
		pthread_cond_wait(&s->changed, &s->mu);
	if (e) {
		*stored = e->stored;
		pthread_mutex_unlock(&s->mu);
		return 1;
	}
	if ((e = take_oldest(s))) {
		int b = bucket_of(id);
		TR_ASSERT(e >= s->e && e < s->e + TR_CHUNKSET_SLOTS && e->state != SLOT_STORING);
		strcpy(e->id, id);
		e->state = SLOT_STORING;
		e->next = s->bucket[b];
		s->bucket[b] = (int)(e - s->e);
	}
	pthread_mutex_unlock(&s->mu);
	return 0;
}

void tr_chunkset_done(tr_chunkset *s, const char *id, int ok, uint64_t stored)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->mu);
	struct entry *e = find(s, id);
	if (e && e->state == SLOT_STORING) {
		if (ok) {
			e->state = SLOT_STORED;
			e->stored = stored;
		} else {  /* a later claim stores it again */
			unlink_entry(s, (int)(e - s->e));
			e->state = SLOT_FREE;
		}
		pthread_cond_broadcast(&s->changed);
	}
	pthread_mutex_unlock(&s->mu);
}
