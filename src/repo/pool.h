/*
 * pool.h - a fixed set of worker threads, each with its own repository
 * connection, working through a bounded queue of jobs.  The producer
 * blocks when the queue is full, so memory stays bounded by the number of
 * workers and the queue length, never by the amount of work.
 *
 * Transfers and CPUs: the number of workers is the number of storage
 * requests in flight (tr_pool_transfers()).  With more workers than
 * `parallel`, their CPU work (encoding and decoding in repo.c, hashing
 * bracketed by tr_repo_cpu_enter/leave) goes through a gate of `parallel`
 * slots (format/cpugate.h), so many requests wait on the network while no more
 * than `parallel` threads compress, encrypt or hash.  A worker's
 * connection stays open from start to stop, so a driver that keeps its
 * connection alive (s3, azure) reuses it for every request.
 *
 * Ownership of jobs, the one rule every user follows:
 *  - a job given to tr_pool_submit() that returns 0 belongs to the pool
 *    until the pool hands it back, exactly once: to fn (the job runs) or,
 *    once a job has failed, to the release function (the job is skipped,
 *    not run).  Whatever the job holds, or whoever waits for it, is freed
 *    or told by whichever of the two gets it;
 *  - every accepted job has been handed back when tr_pool_wait() or
 *    tr_pool_stop() returns;
 *  - tr_pool_submit() returning -1 did not take the job: the caller still
 *    owns it and frees it;
 *  - a pool without a release function may only be given jobs that need
 *    no release (slots of an array that outlives the pool).
 */
#ifndef TR_POOL_H
#define TR_POOL_H

#include "repo/repo.h"

typedef struct tr_pool tr_pool;

/* Runs one job on a worker's repository connection; returns 0 or -1. */
typedef int (*tr_job_fn)(tr_repo *repo, void *job, void *arg);
/* Takes back a job that is skipped after a failure (see above). */
typedef void (*tr_release_fn)(void *job, void *arg);

/* Starts n workers, each connected like `like` and sharing its keys.
 * NULL with err on failure. */
tr_pool *tr_pool_start(const tr_repo *like, int n, int queue_len, tr_job_fn fn, void *arg,
		       char *err, size_t errlen);
/* The same, the workers' CPU work going through the caller's gate (which
 * outlives the pool) whatever n is. */
struct tr_cpugate;
tr_pool *tr_pool_start_gated(const tr_repo *like, int n, int queue_len, tr_job_fn fn, void *arg,
			     struct tr_cpugate *gate, char *err, size_t errlen);
/* Sets the release function; before the first tr_pool_submit(). */
void tr_pool_on_skip(tr_pool *p, tr_release_fn release);
/* Queues a job (blocks while the queue is full).  -1 once a job failed:
 * the job was not taken. */
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

#define TR_POOL_REMOTE_TRANSFERS 16        /* default transfers on network storage */
#define TR_POOL_CHUNK_BUDGET (64ll << 20)  /* ... as long as that many chunks fit in this */
/* The workers (transfers in flight) for r's commands: the transfers
 * setting, else TR_POOL_REMOTE_TRANSFERS on a driver with TR_CAP_REMOTE
 * (fewer if chunk-size is large), else parallel. */
int tr_pool_transfers(tr_repo *r);

#endif
