/* The deployment orchestrator's thread: one db_deploy_tick a second, then the pushes it asks for.
 */
#include "orchestrator.h"

#include "db.h"
#include "db_deploy.h"
#include "desired.h"
#include "err.h"
#include "log.h"
#include "strutil.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define TICK_MS 1000

struct orchestrator {
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int stopping;
	char conninfo[1024];
};

/* Sleeps until the next tick or a stop; 1 when stopping. */
static int wait_tick(struct orchestrator *o)
{
	struct timespec until;
	int stopping;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += TICK_MS / 1000;
	pthread_mutex_lock(&o->mu);
	while (!o->stopping && pthread_cond_timedwait(&o->cv, &o->mu, &until) != ETIMEDOUT)
		;
	stopping = o->stopping;
	pthread_mutex_unlock(&o->mu);
	return stopping;
}

static void *orchestrator_main(void *arg)
{
	struct orchestrator *o = arg;
	struct db *db = NULL;
	int last_err = 0;

	while (!wait_tick(o)) {
		struct db_node_ids push;
		struct arena a = {0};
		int err;

		if (!db && db_open(&db, o->conninfo) != 0)
			err = ovr_err_last();
		else
			err = db_reconnect_if_broken(db);
		if (!err)
			err = db_deploy_tick(db, &a, &push);
		if (!err)
			desired_push_nodes(db, &a, &push);
		/* Said once per kind of trouble, not once a second. */
		if (err && err != last_err)
			log_warnx("orchestrator: %s (retrying every second)", ovr_err_msg(err));
		else if (!err && last_err)
			log_info("orchestrator: working again");
		last_err = err;
		arena_free(&a);
	}
	db_close(db);
	return NULL;
}

int orchestrator_start(struct orchestrator **out, const char *conninfo)
{
	struct orchestrator *o = calloc(1, sizeof(*o));

	if (!o)
		return ovr_err_set(OVR_ERR_NOMEM, "out of memory");
	ovr_strlcpy(o->conninfo, conninfo, sizeof(o->conninfo));
	pthread_mutex_init(&o->mu, NULL);
	pthread_cond_init(&o->cv, NULL);
	if (pthread_create(&o->thread, NULL, orchestrator_main, o) != 0) {
		pthread_cond_destroy(&o->cv);
		pthread_mutex_destroy(&o->mu);
		free(o);
		return ovr_err_set(OVR_ERR_INTERNAL, "cannot start the orchestrator thread");
	}
	*out = o;
	return 0;
}

void orchestrator_stop(struct orchestrator *o)
{
	if (!o)
		return;
	pthread_mutex_lock(&o->mu);
	o->stopping = 1;
	pthread_cond_signal(&o->cv);
	pthread_mutex_unlock(&o->mu);
	pthread_join(o->thread, NULL);
	pthread_cond_destroy(&o->cv);
	pthread_mutex_destroy(&o->mu);
	free(o);
}
