/* Worker pool: every job runs once, per-worker state, a bounded queue, stop drains the queue. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "err.h"
#include "workpool.h"

#define WAIT_MS 10000

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

/* A gate that jobs can block on until the test opens it, and a count of jobs that got there. */
struct gate {
	pthread_mutex_t mu;
	pthread_cond_t cond;
	int open;
	int arrived;
};

static void gate_init(struct gate *g)
{
	pthread_mutex_init(&g->mu, NULL);
	pthread_cond_init(&g->cond, NULL);
	g->open = 0;
	g->arrived = 0;
}

static void gate_destroy(struct gate *g)
{
	pthread_mutex_destroy(&g->mu);
	pthread_cond_destroy(&g->cond);
}

static void gate_open(struct gate *g)
{
	pthread_mutex_lock(&g->mu);
	g->open = 1;
	pthread_cond_broadcast(&g->cond);
	pthread_mutex_unlock(&g->mu);
}

/* Waits (bounded) until n jobs are blocked at the gate; returns 0 once they are. */
static int gate_wait_arrived(struct gate *g, int n)
{
	struct timespec deadline;
	int err = 0;

	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += WAIT_MS / 1000;
	pthread_mutex_lock(&g->mu);
	while (g->arrived < n && err == 0)
		err = pthread_cond_timedwait(&g->cond, &g->mu, &deadline);
	err = g->arrived >= n ? 0 : -1;
	pthread_mutex_unlock(&g->mu);
	return err;
}

static atomic_int ran;

static void count_job(void *arg)
{
	(void)arg;
	atomic_fetch_add(&ran, 1);
}

static void blocking_job(void *arg)
{
	struct gate *g = arg;

	pthread_mutex_lock(&g->mu);
	g->arrived++;
	pthread_cond_broadcast(&g->cond);
	while (!g->open)
		pthread_cond_wait(&g->cond, &g->mu);
	pthread_mutex_unlock(&g->mu);
	atomic_fetch_add(&ran, 1);
}

static int reset(void **state)
{
	(void)state;
	atomic_store(&ran, 0);
	return 0;
}

#define NJOBS 20000
static atomic_int runs[NJOBS];

static void slot_job(void *arg)
{
	atomic_fetch_add(&runs[(intptr_t)arg], 1);
}

static void test_every_job_runs_once(void **state)
{
	struct workpool *p;
	intptr_t i;

	(void)state;
	for (i = 0; i < NJOBS; i++)
		atomic_store(&runs[i], 0);
	assert_int_equal(workpool_start(&p, 4, NJOBS, NULL, NULL, NULL), 0);
	assert_non_null(p);
	for (i = 0; i < NJOBS; i++)
		assert_int_equal(workpool_submit(p, slot_job, (void *)i), 0);
	workpool_stop(p);
	for (i = 0; i < NJOBS; i++) {
		if (atomic_load(&runs[i]) != 1)
			print_message("job %ld ran %d times\n", (long)i, atomic_load(&runs[i]));
		assert_int_equal(atomic_load(&runs[i]), 1);
	}
}

/* What init makes for one worker thread. */
struct wstate {
	pthread_t thread;
	void *init_arg;
	int index;
	atomic_int jobs;
};

#define NWORKERS 3

static struct {
	pthread_mutex_t mu;
	struct wstate *made[NWORKERS + 1];
	int n_made;
	int n_fini;
	int fini_ok;
} book = {PTHREAD_MUTEX_INITIALIZER, {NULL}, 0, 0, 1};

static void *state_init(void *arg)
{
	struct wstate *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->thread = pthread_self();
	s->init_arg = arg;
	pthread_mutex_lock(&book.mu);
	s->index = book.n_made;
	if (book.n_made < NWORKERS + 1)
		book.made[book.n_made] = s;
	book.n_made++;
	pthread_mutex_unlock(&book.mu);
	return s;
}

static void state_fini(void *state)
{
	struct wstate *s = state;

	pthread_mutex_lock(&book.mu);
	/* fini runs on the worker that owns the state, and gets the state init made. */
	if (!s || !pthread_equal(s->thread, pthread_self()) || book.made[s->index] != s)
		book.fini_ok = 0;
	book.n_fini++;
	pthread_mutex_unlock(&book.mu);
}

static atomic_int state_bad;

static void state_job(void *arg)
{
	struct wstate *s = workpool_worker_state();

	/* The state belongs to the thread running the job and came from init(init_arg). */
	if (!s || !pthread_equal(s->thread, pthread_self()) || s->init_arg != arg)
		atomic_fetch_add(&state_bad, 1);
	else
		atomic_fetch_add(&s->jobs, 1);
	atomic_fetch_add(&ran, 1);
}

static void test_worker_state(void **state)
{
	static int init_arg_target;
	struct workpool *p;
	int i, total = 0;

	(void)state;
	atomic_store(&state_bad, 0);
	assert_null(workpool_worker_state());
	assert_int_equal(
	        workpool_start(&p, NWORKERS, 10000, state_init, state_fini, &init_arg_target), 0);
	for (i = 0; i < 3000; i++)
		assert_int_equal(workpool_submit(p, state_job, &init_arg_target), 0);
	workpool_stop(p);

	assert_int_equal(atomic_load(&ran), 3000);
	assert_int_equal(atomic_load(&state_bad), 0);
	/* init once per worker, fini once per worker, with that worker's own state. */
	assert_int_equal(book.n_made, NWORKERS);
	assert_int_equal(book.n_fini, NWORKERS);
	assert_true(book.fini_ok);
	for (i = 0; i < NWORKERS; i++) {
		total += atomic_load(&book.made[i]->jobs);
		free(book.made[i]);
	}
	assert_int_equal(total, 3000);
	/* The main thread is no worker. */
	assert_null(workpool_worker_state());
}

static void test_queue_full(void **state)
{
	struct workpool *p;
	static struct gate g; /* static: jobs of a failed test may still wait on it */
	int i;

	(void)state;
	gate_init(&g);
	assert_int_equal(workpool_start(&p, 2, 3, NULL, NULL, NULL), 0);
	/* Both workers are busy, so whatever is submitted next stays queued. */
	assert_int_equal(workpool_submit(p, blocking_job, &g), 0);
	assert_int_equal(workpool_submit(p, blocking_job, &g), 0);
	assert_int_equal(gate_wait_arrived(&g, 2), 0);
	assert_int_equal(workpool_queued(p), 0);
	for (i = 0; i < 3; i++)
		assert_int_equal(workpool_submit(p, count_job, NULL), 0);
	assert_int_equal(workpool_queued(p), 3);
	ovr_err_clear();
	assert_int_equal(workpool_submit(p, count_job, NULL), OVR_ERR_TOO_LARGE);
	assert_int_equal(ovr_err_last(), OVR_ERR_TOO_LARGE);
	assert_int_equal(workpool_submit(p, count_job, NULL), OVR_ERR_TOO_LARGE);
	assert_int_equal(workpool_queued(p), 3);
	gate_open(&g);
	workpool_stop(p);
	/* The two blocked jobs and the three queued ones; the refused ones never run. */
	assert_int_equal(atomic_load(&ran), 5);
	gate_destroy(&g);
}

static void test_queue_frees_up(void **state)
{
	struct workpool *p;
	static struct gate g; /* static: jobs of a failed test may still wait on it */
	int i;

	(void)state;
	gate_init(&g);
	assert_int_equal(workpool_start(&p, 1, 2, NULL, NULL, NULL), 0);
	assert_int_equal(workpool_submit(p, blocking_job, &g), 0);
	assert_int_equal(gate_wait_arrived(&g, 1), 0);
	assert_int_equal(workpool_submit(p, count_job, NULL), 0);
	assert_int_equal(workpool_submit(p, count_job, NULL), 0);
	assert_int_equal(workpool_submit(p, count_job, NULL), OVR_ERR_TOO_LARGE);
	gate_open(&g);
	/* Once the worker catches up, the queue takes jobs again. */
	for (i = 0; i < WAIT_MS && workpool_queued(p) > 0; i++)
		sleep_ms(1);
	assert_int_equal(workpool_queued(p), 0);
	assert_int_equal(workpool_submit(p, count_job, NULL), 0);
	workpool_stop(p);
	assert_int_equal(atomic_load(&ran), 4);
	gate_destroy(&g);
}

static void *stop_thread(void *arg)
{
	workpool_stop(arg);
	return NULL;
}

static void test_stop_drains(void **state)
{
	struct workpool *p;
	static struct gate g; /* static: jobs of a failed test may still wait on it */
	pthread_t stopper;
	int i, accepted = 0, err = 0;

	(void)state;
	gate_init(&g);
	assert_int_equal(workpool_start(&p, 1, 1000, NULL, NULL, NULL), 0);
	assert_int_equal(workpool_submit(p, blocking_job, &g), 0);
	assert_int_equal(gate_wait_arrived(&g, 1), 0);
	for (i = 0; i < 50; i++)
		assert_int_equal(workpool_submit(p, count_job, NULL), 0);
	assert_int_equal(workpool_queued(p), 50);

	/*
	 * Stop while the only worker is still blocked: it cannot finish (it joins the worker),
	 * but it must start refusing new work.
	 */
	assert_int_equal(pthread_create(&stopper, NULL, stop_thread, p), 0);
	for (i = 0; i < WAIT_MS; i++) {
		err = workpool_submit(p, count_job, NULL);
		if (err != 0)
			break;
		accepted++;
		sleep_ms(1);
	}
	assert_int_equal(err, OVR_ERR_UNAVAILABLE);
	assert_true(accepted < 900);

	gate_open(&g);
	pthread_join(stopper, NULL);
	/* Everything queued before stop ran, nothing was dropped. */
	assert_int_equal(atomic_load(&ran), 1 + 50 + accepted);
	gate_destroy(&g);
}

static void test_stop_idle_and_null(void **state)
{
	struct workpool *p;

	(void)state;
	workpool_stop(NULL);
	assert_int_equal(workpool_start(&p, 2, 10, NULL, NULL, NULL), 0);
	workpool_stop(p);
	assert_int_equal(atomic_load(&ran), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup(test_every_job_runs_once, reset),
	        cmocka_unit_test_setup(test_worker_state, reset),
	        cmocka_unit_test_setup(test_queue_full, reset),
	        cmocka_unit_test_setup(test_queue_frees_up, reset),
	        cmocka_unit_test_setup(test_stop_drains, reset),
	        cmocka_unit_test_setup(test_stop_idle_and_null, reset),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
