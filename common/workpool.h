/* A fixed pool of worker threads with a bounded job queue; each worker owns per-thread state. */
#ifndef OVR_WORKPOOL_H
#define OVR_WORKPOOL_H

#include <stddef.h>

struct workpool;

typedef void (*workpool_fn)(void *arg);

/*
 * Starts n threads. Each calls init(init_arg) once and keeps the result as its worker state
 * (workpool_worker_state()); fini(state) runs when the pool stops. max_queued bounds the queue.
 */
int workpool_start(struct workpool **out, size_t n, size_t max_queued, void *(*init)(void *),
                   void (*fini)(void *), void *init_arg);

/* Queues fn(arg). OVR_ERR_TOO_LARGE when the queue is full, OVR_ERR_UNAVAILABLE after stop. */
int workpool_submit(struct workpool *p, workpool_fn fn, void *arg);

/* Runs every queued job, then joins the threads and frees the pool. NULL is fine. */
void workpool_stop(struct workpool *p);

/* The calling worker thread's state from init, or NULL outside a worker. */
void *workpool_worker_state(void);

/*
 * Sets the calling thread's worker state, for threads that are not pool workers but run the same
 * jobs (the REST gateway's libmicrohttpd threads). The caller owns state and frees it.
 */
void workpool_set_worker_state(void *state);

/* Jobs waiting (for metrics). */
size_t workpool_queued(struct workpool *p);

#endif
