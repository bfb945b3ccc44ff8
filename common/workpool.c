/* A fixed pool of worker threads with a bounded FIFO job queue. */
#include "workpool.h"

#include "err.h"

#include <pthread.h>
#include <stdlib.h>

struct job {
	struct job *next;
	workpool_fn fn;
	void *arg;
};

struct workpool {
	pthread_mutex_t mu;
	pthread_cond_t cond;
	struct job *head, *tail;
	size_t queued, max_queued;
	int stopping;
	size_t n_threads;
	pthread_t *threads;
	void *(*init)(void *);
	void (*fini)(void *);
	void *init_arg;
};

static _Thread_local void *worker_state;

void *workpool_worker_state(void)
{
	return worker_state;
}

void workpool_set_worker_state(void *state)
{
	worker_state = state;
}

static void *worker_main(void *arg)
{
	struct workpool *p = arg;

	worker_state = p->init ? p->init(p->init_arg) : NULL;
	pthread_mutex_lock(&p->mu);
	for (;;) {
		struct job *j;

		while (!p->head && !p->stopping)
			pthread_cond_wait(&p->cond, &p->mu);
		j = p->head;
		if (!j)
			break;
		p->head = j->next;
		if (!p->head)
			p->tail = NULL;
		p->queued--;
		pthread_mutex_unlock(&p->mu);
		j->fn(j->arg);
		free(j);
		pthread_mutex_lock(&p->mu);
	}
	pthread_mutex_unlock(&p->mu);
	if (p->fini)
		p->fini(worker_state);
	worker_state = NULL;
	return NULL;
}

int workpool_start(struct workpool **out, size_t n, size_t max_queued, void *(*init)(void *),
                   void (*fini)(void *), void *init_arg)
{
	struct workpool *p = calloc(1, sizeof(*p));
	size_t i;

	*out = NULL;
	if (!p)
		return ovr_err_set(OVR_ERR_NOMEM, "workpool: out of memory");
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cond, NULL);
	p->max_queued = max_queued;
	p->init = init;
	p->fini = fini;
	p->init_arg = init_arg;
	p->threads = calloc(n, sizeof(*p->threads));
	if (!p->threads) {
		free(p);
		return ovr_err_set(OVR_ERR_NOMEM, "workpool: out of memory");
	}
	for (i = 0; i < n; i++) {
		if (pthread_create(&p->threads[i], NULL, worker_main, p) != 0)
			break;
		p->n_threads++;
	}
	if (p->n_threads != n) {
		workpool_stop(p);
		return ovr_err_set(OVR_ERR_INTERNAL, "workpool: cannot start %zu threads", n);
	}
	*out = p;
	return 0;
}

int workpool_submit(struct workpool *p, workpool_fn fn, void *arg)
{
	struct job *j;
	int err = 0;

	j = malloc(sizeof(*j));
	if (!j)
		return ovr_err_set(OVR_ERR_NOMEM, "workpool: out of memory");
	j->next = NULL;
	j->fn = fn;
	j->arg = arg;
	pthread_mutex_lock(&p->mu);
	if (p->stopping)
		err = ovr_err_set(OVR_ERR_UNAVAILABLE, "server is shutting down");
	else if (p->queued >= p->max_queued)
		err = ovr_err_set(OVR_ERR_TOO_LARGE, "server busy: %zu requests queued", p->queued);
	if (!err) {
		if (p->tail)
			p->tail->next = j;
		else
			p->head = j;
		p->tail = j;
		p->queued++;
		pthread_cond_signal(&p->cond);
	}
	pthread_mutex_unlock(&p->mu);
	if (err)
		free(j);
	return err;
}

size_t workpool_queued(struct workpool *p)
{
	size_t n;

	pthread_mutex_lock(&p->mu);
	n = p->queued;
	pthread_mutex_unlock(&p->mu);
	return n;
}

void workpool_stop(struct workpool *p)
{
	size_t i;

	if (!p)
		return;
	pthread_mutex_lock(&p->mu);
	p->stopping = 1;
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->mu);
	for (i = 0; i < p->n_threads; i++)
		pthread_join(p->threads[i], NULL);
	free(p->threads);
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->cond);
	free(p);
}
