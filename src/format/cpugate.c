/* cpugate.c - at most N threads doing CPU work at a time (see cpugate.h). */
#include "config.h"
#include "format/cpugate.h"

#include <pthread.h>
#include <stdlib.h>

struct tr_cpuslot {
	tr_enc_scratch *scratch;
	tr_cpuslot *next_free;
};

struct tr_cpugate {
	pthread_mutex_t mu;
	pthread_cond_t freed;
	tr_cpuslot *free_list;
	int n, held, peak;
	tr_cpuslot slots[];
};

tr_cpugate *tr_cpugate_new(int n)
{
	if (n < 1)
		n = 1;
	tr_cpugate *g = calloc(1, sizeof *g + (size_t)n * sizeof g->slots[0]);
	if (!g)
		return NULL;
	pthread_mutex_init(&g->mu, NULL);
	pthread_cond_init(&g->freed, NULL);
	g->n = n;
	for (int i = n - 1; i >= 0; i--) {
		g->slots[i].next_free = g->free_list;
		g->free_list = &g->slots[i];
	}
	return g;
}

void tr_cpugate_free(tr_cpugate *g)
{
	if (!g)
		return;
	for (int i = 0; i < g->n; i++)
		tr_enc_scratch_free(g->slots[i].scratch);
	pthread_cond_destroy(&g->freed);
	pthread_mutex_destroy(&g->mu);
	free(g);
}

tr_cpuslot *tr_cpugate_enter(tr_cpugate *g)
{
	pthread_mutex_lock(&g->mu);
	while (!g->free_list)
		pthread_cond_wait(&g->freed, &g->mu);
	tr_cpuslot *s = g->free_list;
	g->free_list = s->next_free;
	if (++g->held > g->peak)
		g->peak = g->held;
	pthread_mutex_unlock(&g->mu);
	return s;
}

void tr_cpugate_leave(tr_cpugate *g, tr_cpuslot *s)
{
	pthread_mutex_lock(&g->mu);
	s->next_free = g->free_list;
	g->free_list = s;
	g->held--;
	pthread_cond_signal(&g->freed);
	pthread_mutex_unlock(&g->mu);
}

tr_enc_scratch *tr_cpuslot_scratch(tr_cpuslot *s)
{
	if (!s->scratch)  /* only its holder touches it */
		s->scratch = tr_enc_scratch_new();
	return s->scratch;
}

int tr_cpugate_slots(const tr_cpugate *g)
{
	return g->n;
}

int tr_cpugate_peak(tr_cpugate *g)
{
	pthread_mutex_lock(&g->mu);
	int p = g->peak;
	pthread_mutex_unlock(&g->mu);
	return p;
}
