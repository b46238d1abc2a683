/* pool.c - worker threads over a bounded job queue (see pool.h). */
#include "config.h"
#include "repo/pool.h"
#include "format/cpugate.h"
#include "base/log.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct worker {
	tr_pool *pool;
	pthread_t thread;
	tr_repo *repo;         /* this worker's own connection */
	int started;
};

struct tr_pool {
	pthread_mutex_t mu;
	pthread_cond_t not_empty, not_full, idle;
	void **queue;
	int cap, head, count;
	int busy;             /* jobs taken by workers and not finished */
	int stopping, failed;
	char error[2048];
	tr_job_fn fn;
	tr_release_fn release;  /* skipped jobs, or NULL */
	void *arg;
	int nworkers;
	struct worker *workers;
	tr_cpugate *cpu;        /* more workers than `parallel`: their CPU work waits here */
	int own_cpu;            /* the pool made it (else the caller's) */
};

int tr_pool_default_workers(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	return n < 1 ? 1 : n > 32 ? 32 : (int)n;
}

int tr_pool_transfers(tr_repo *r)
{
	const tr_repo_settings *s = tr_repo_settings_of(r);
	int parallel = s->parallel > 0 ? s->parallel : 1;
	if (s->transfers > 0)
		return s->transfers;
	if (!(tr_repo_caps(r) & TR_CAP_REMOTE))
		return parallel;
	/* Each transfer holds about a chunk (pool.h): the default keeps that
	 * within TR_POOL_CHUNK_BUDGET, never below parallel. */
	int64_t chunk = s->chunk_size;
	int64_t fit = chunk > 0 ? TR_POOL_CHUNK_BUDGET / chunk : TR_POOL_REMOTE_TRANSFERS;
	int n = fit < TR_POOL_REMOTE_TRANSFERS ? (int)fit : TR_POOL_REMOTE_TRANSFERS;
	return n > parallel ? n : parallel;
}

void tr_pool_set_error(tr_pool *p, const char *msg)
{
	pthread_mutex_lock(&p->mu);
	if (!p->failed)
		snprintf(p->error, sizeof p->error, "%s", msg);
	p->failed = 1;
	pthread_cond_broadcast(&p->not_full);
	pthread_mutex_unlock(&p->mu);
}

static void *worker_main(void *ctx)
{
	struct worker *w = ctx;
	tr_pool *p = w->pool;
	pthread_mutex_lock(&p->mu);
	for (;;) {
		while (p->count == 0 && !p->stopping)
			pthread_cond_wait(&p->not_empty, &p->mu);
		if (p->count == 0 && p->stopping)
			break;
		void *job = p->queue[p->head];
		p->head = (p->head + 1) % p->cap;
		p->count--;
		p->busy++;
		pthread_cond_signal(&p->not_full);
		int skip = p->failed;
		pthread_mutex_unlock(&p->mu);
		/* After a failure the remaining jobs are drained, not run, and
		 * handed back (pool.h). */
		if (skip) {
			if (p->release)
				p->release(job, p->arg);
		} else if (p->fn(w->repo, job, p->arg) != 0) {
			tr_pool_set_error(p, tr_repo_error(w->repo));
		}
		pthread_mutex_lock(&p->mu);
		p->busy--;
		pthread_cond_broadcast(&p->idle);
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

static int start_worker(tr_pool *p, struct worker *w, const tr_repo *like, char *err, size_t errlen)
{
	w->pool = p;
	int rc = tr_repo_connect_like(&w->repo, like);
	if (rc != TR_OK) {
		snprintf(err, errlen, "%s", tr_repo_error(w->repo));
		tr_repo_close(w->repo);
		w->repo = NULL;
		return -1;
	}
	tr_repo_use_cpugate(w->repo, p->cpu);
	if (pthread_create(&w->thread, NULL, worker_main, w) != 0) {
		snprintf(err, errlen, "cannot start a worker thread");
		tr_repo_close(w->repo);
		w->repo = NULL;
		return -1;
	}
	w->started = 1;
	return 0;
}

static tr_pool *start(const tr_repo *like, int n, int queue_len, tr_job_fn fn, void *arg, tr_cpugate *gate,
		      char *err, size_t errlen);

tr_pool *tr_pool_start(const tr_repo *like, int n, int queue_len, tr_job_fn fn, void *arg,
		       char *err, size_t errlen)
{
	return start(like, n, queue_len, fn, arg, NULL, err, errlen);
}

tr_pool *tr_pool_start_gated(const tr_repo *like, int n, int queue_len, tr_job_fn fn, void *arg, tr_cpugate *gate,
			     char *err, size_t errlen)
{
	return start(like, n, queue_len, fn, arg, gate, err, errlen);
}

static tr_pool *start(const tr_repo *like, int n, int queue_len, tr_job_fn fn, void *arg, tr_cpugate *gate,
		      char *err, size_t errlen)
{
	tr_pool *p = calloc(1, sizeof *p);
	if (!p || !(p->queue = calloc((size_t)queue_len, sizeof *p->queue)) ||
	    !(p->workers = calloc((size_t)n, sizeof *p->workers))) {
		snprintf(err, errlen, "out of memory");
		if (p)
			free(p->queue);
		free(p);
		return NULL;
	}
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->not_empty, NULL);
	pthread_cond_init(&p->not_full, NULL);
	pthread_cond_init(&p->idle, NULL);
	p->cap = queue_len;
	p->fn = fn;
	p->arg = arg;
	p->nworkers = n;
	int parallel = tr_repo_settings_of(like)->parallel;
	p->cpu = gate;
	p->own_cpu = !gate && parallel > 0 && n > parallel;
	if (p->own_cpu && !(p->cpu = tr_cpugate_new(parallel))) {
		snprintf(err, errlen, "out of memory");
		tr_pool_stop(p);
		return NULL;
	}
	tr_debug("pool: %d worker%s, each with a connection of its own, %d at a time on the CPUs", n,
		 n == 1 ? "" : "s", p->cpu ? tr_cpugate_slots(p->cpu) : n);
	for (int i = 0; i < n; i++)
		if (start_worker(p, &p->workers[i], like, err, errlen) != 0) {
			tr_pool_stop(p);
			return NULL;
		}
	return p;
}

void tr_pool_on_skip(tr_pool *p, tr_release_fn release) { p->release = release; }

int tr_pool_submit(tr_pool *p, void *job)
{
	pthread_mutex_lock(&p->mu);
	while (p->count == p->cap && !p->failed)
		pthread_cond_wait(&p->not_full, &p->mu);
	int failed = p->failed;
	if (!failed) {
		p->queue[(p->head + p->count) % p->cap] = job;
		p->count++;
		pthread_cond_signal(&p->not_empty);
	}
	pthread_mutex_unlock(&p->mu);
	return failed ? -1 : 0;
}

void tr_pool_wait_below(tr_pool *p, int below)
{
	pthread_mutex_lock(&p->mu);
	while (p->count + p->busy >= below)
		pthread_cond_wait(&p->idle, &p->mu);
	pthread_mutex_unlock(&p->mu);
}

int tr_pool_wait(tr_pool *p)
{
	tr_pool_wait_below(p, 1);
	return tr_pool_failed(p) ? -1 : 0;
}

int tr_pool_sync(tr_pool *p)
{
	for (int i = 0; i < p->nworkers; i++) {
		if (p->workers[i].started && tr_repo_sync(p->workers[i].repo) != TR_OK) {
			tr_pool_set_error(p, tr_repo_error(p->workers[i].repo));
			return -1;
		}
	}
	return 0;
}

int tr_pool_failed(tr_pool *p)
{
	pthread_mutex_lock(&p->mu);
	int f = p->failed;
	pthread_mutex_unlock(&p->mu);
	return f;
}

const char *tr_pool_error(tr_pool *p) { return p->error; }

void tr_pool_stop(tr_pool *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->mu);
	p->stopping = 1;
	pthread_cond_broadcast(&p->not_empty);
	pthread_mutex_unlock(&p->mu);
	for (int i = 0; i < p->nworkers; i++)
		if (p->workers[i].started) {
			pthread_join(p->workers[i].thread, NULL);
			tr_repo_close(p->workers[i].repo);
		}
	if (p->own_cpu) {
		tr_debug("pool: at most %d of %d workers were on the CPUs at a time", tr_cpugate_peak(p->cpu),
			 p->nworkers);
		tr_cpugate_free(p->cpu);
	}
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->not_empty);
	pthread_cond_destroy(&p->not_full);
	pthread_cond_destroy(&p->idle);
	free(p->workers);
	free(p->queue);
	free(p);
}
