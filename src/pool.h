/*
 * pool.h - a fixed set of worker threads, each with its own repository
 * connection, working through a bounded queue of jobs.  The producer
 * blocks when the queue is full, so memory stays bounded by the number of
 * workers and the queue length, never by the amount of work.
 */
#ifndef TR_POOL_H
#define TR_POOL_H

#include "repo.h"

typedef struct tr_pool tr_pool;

/* Runs one job on a worker's repository connection; returns 0 or -1. */
typedef int (*tr_job_fn)(tr_repo *repo, void *job, void *arg);

/* Starts n workers, each connected like `like` and sharing its keys.
 * NULL with err on failure. */
tr_pool *tr_pool_start(const tr_repo *like, int n, int queue_len, tr_job_fn fn, void *arg,
		       char *err, size_t errlen);
/* Queues a job (blocks while the queue is full).  -1 once a job failed. */
int tr_pool_submit(tr_pool *p, void *job);
/* Waits for every queued job; returns 0 if all succeeded. */
int tr_pool_wait(tr_pool *p);
/* After tr_pool_wait: makes every worker's batched puts durable
 * (tr_repo_sync); 0 if all succeeded. */
int tr_pool_sync(tr_pool *p);
/* Waits until fewer than `below` jobs are queued or running. */
void tr_pool_wait_below(tr_pool *p, int below);
/* True once a job failed (the producer should stop submitting). */
int tr_pool_failed(tr_pool *p);
/* The first failure's message. */
const char *tr_pool_error(tr_pool *p);
void tr_pool_set_error(tr_pool *p, const char *msg);
/* Stops the workers (after tr_pool_wait) and frees the pool. */
void tr_pool_stop(tr_pool *p);
int tr_pool_default_workers(void);

#endif
