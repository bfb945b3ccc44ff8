/*
 * The container events watcher: one thread holds GET /events open (container events of compose
 * projects, filtered by the engine to the actions that matter) and calls back on those of this
 * agent's projects; when the stream breaks it reconnects with backoff and calls back once more.
 */
#include "events.h"

#include "backoff.h"
#include "crypto.h"
#include "docker_api.h"
#include "err.h"
#include "log.h"
#include "strutil.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define EVENTS_PROJECT_LABEL "com.docker.compose.project"
#define EVENTS_PATH_MAX      1024

/*
 * The actions that change a container's state or health as a report shows it. Healthchecks
 * also make exec_create/exec_start events every interval: those are never asked for.
 */
static const char *const watched_actions[] = {"create",  "start",   "restart",      "die",
                                              "kill",    "oom",     "stop",         "pause",
                                              "unpause", "destroy", "health_status"};
#define N_WATCHED (sizeof(watched_actions) / sizeof(watched_actions[0]))

struct events_watcher {
	struct docker_api *api; /* used by the thread only */
	char *prefix;           /* projects are "<prefix>-<app>" */
	char path[EVENTS_PATH_MAX];
	void (*changed)(void *payload);
	void *payload;
	atomic_int stop; /* also the API client's cancel flag */
	pthread_mutex_t lock;
	pthread_cond_t cond; /* wakes a reconnect delay on stop */
	pthread_t thread;
	int failures; /* consecutive failed connections, for quieter logs */
};

int events_relevant(json_t *ev, const char *project_prefix)
{
	json_t *attrs = json_object_get(json_object_get(ev, "Actor"), "Attributes");
	const char *type = json_string_value(json_object_get(ev, "Type"));
	const char *action = json_string_value(json_object_get(ev, "Action"));
	const char *project = json_string_value(json_object_get(attrs, EVENTS_PROJECT_LABEL));
	size_t i, plen = strlen(project_prefix);

	if (type == NULL || strcmp(type, "container") != 0 || action == NULL || project == NULL)
		return 0;
	if (strncmp(project, project_prefix, plen) != 0 || project[plen] != '-' ||
	    project[plen + 1] == '\0')
		return 0;
	for (i = 0; i < N_WATCHED; i++) {
		size_t n = strlen(watched_actions[i]);

		/* "health_status: unhealthy" (engine 20.10) as well as a bare "health_status". */
		if (strncmp(action, watched_actions[i], n) == 0 &&
		    (action[n] == '\0' || action[n] == ':'))
			return 1;
	}
	return 0;
}

/*
 * GET /events?filters={"type":["container"],"label":["com.docker.compose.project"],
 * "event":[...]} URL-encoded. The engine matches labels by exact value only, so it filters on
 * the label's presence and events_relevant checks the prefix.
 */
static void events_path(char *buf, size_t size)
{
	size_t i, len;

	len = (size_t)snprintf(buf, size,
	                       "/events?filters=%%7B%%22type%%22%%3A%%5B%%22container%%22%%5D%%2C"
	                       "%%22label%%22%%3A%%5B%%22" EVENTS_PROJECT_LABEL "%%22%%5D%%2C"
	                       "%%22event%%22%%3A%%5B");
	for (i = 0; i < N_WATCHED && len < size; i++)
		len += (size_t)snprintf(buf + len, size - len, "%s%%22%s%%22", i > 0 ? "%2C" : "",
		                        watched_actions[i]);
	if (len < size)
		snprintf(buf + len, size - len, "%%5D%%7D");
}

static int on_opened(void *payload)
{
	struct events_watcher *w = payload;

	if (w->failures > 0)
		log_info("container events: reconnected to the docker engine");
	else
		log_info("container events: watching projects %s-*", w->prefix);
	w->failures = 0;
	/* Whatever happened while the stream was down is in the next report. */
	w->changed(w->payload);
	return 0;
}

static int on_event(json_t *ev, void *payload)
{
	struct events_watcher *w = payload;
	const char *action, *name;

	if (!events_relevant(ev, w->prefix))
		return 0;
	action = json_string_value(json_object_get(ev, "Action"));
	name = json_string_value(json_object_get(
	        json_object_get(json_object_get(ev, "Actor"), "Attributes"), "name"));
	log_debug("container event action=%.64s container=%.128s: report requested", action,
	          name != NULL ? name : "?");
	w->changed(w->payload);
	return 0;
}

/* Waits ms unless stopped first. */
static void events_nap(struct events_watcher *w, int64_t ms)
{
	struct timespec ts = ovr_timespec_in(CLOCK_MONOTONIC, ms);

	pthread_mutex_lock(&w->lock);
	while (!atomic_load(&w->stop) && pthread_cond_timedwait(&w->cond, &w->lock, &ts) == 0)
		;
	pthread_mutex_unlock(&w->lock);
}

static void *events_main(void *arg)
{
	struct events_watcher *w = arg;
	struct docker_api_stream_cb cb = {.opened = on_opened, .object = on_event, .payload = w};
	struct backoff bo;
	uint64_t seed = 0;

	crypto_random(&seed, sizeof(seed));
	backoff_init(&bo, EVENTS_RETRY_INITIAL_MS, EVENTS_RETRY_MAX_MS, seed);
	while (!atomic_load(&w->stop)) {
		int err = docker_api_stream_json(w->api, w->path, 0, &cb);
		int64_t delay;

		if (atomic_load(&w->stop))
			break;
		if (err == 0)
			err = ovr_err_set(OVR_ERR_UNAVAILABLE, "the engine ended the event stream");
		if (w->failures == 0)
			backoff_reset(&bo); /* it was up: start again from the shortest delay */
		delay = backoff_next(&bo);
		/* One warning per outage: an engine that stays down is not worth a line a try. */
		if (w->failures++ == 0)
			log_warnx("container events: %s; retrying in %" PRId64
			          " ms (status is still reported every heartbeat)",
			          ovr_err_msg(err), delay);
		else
			log_debug("container events: %s; retrying in %" PRId64 " ms",
			          ovr_err_msg(err), delay);
		events_nap(w, delay);
	}
	return NULL;
}

static void events_free(struct events_watcher *w)
{
	docker_api_free(w->api);
	pthread_cond_destroy(&w->cond);
	pthread_mutex_destroy(&w->lock);
	free(w->prefix);
	free(w);
}

int events_start(struct events_watcher **out, const struct events_opts *opts)
{
	struct docker_api_opts ao;
	struct events_watcher *w;
	pthread_condattr_t ca;
	const char *prefix = opts->project_prefix != NULL ? opts->project_prefix : "ovr";
	int err, rc;

	*out = NULL;
	if (opts->changed == NULL || prefix[0] == '\0')
		return ovr_err_set(OVR_ERR_INVALID,
		                   "events watcher: a callback and a project prefix");
	w = calloc(1, sizeof(*w));
	if (w == NULL)
		return ovr_err_set(OVR_ERR_NOMEM, "out of memory");
	atomic_init(&w->stop, 0);
	pthread_mutex_init(&w->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&w->cond, &ca);
	pthread_condattr_destroy(&ca);
	w->changed = opts->changed;
	w->payload = opts->payload;
	events_path(w->path, sizeof(w->path));
	w->prefix = strdup(prefix);
	if (w->prefix == NULL) {
		events_free(w);
		return ovr_err_set(OVR_ERR_NOMEM, "out of memory");
	}
	memset(&ao, 0, sizeof(ao));
	ao.socket_path = opts->docker_socket;
	ao.cancel = &w->stop;
	err = docker_api_new(&w->api, &ao);
	if (err) {
		events_free(w);
		return err;
	}
	rc = pthread_create(&w->thread, NULL, events_main, w);
	if (rc != 0) {
		events_free(w);
		return ovr_err_set(OVR_ERR_INTERNAL, "events watcher thread: %s", strerror(rc));
	}
	*out = w;
	return 0;
}

void events_stop(struct events_watcher *w)
{
	if (w == NULL)
		return;
	pthread_mutex_lock(&w->lock);
	atomic_store(&w->stop, 1);
	pthread_cond_broadcast(&w->cond);
	pthread_mutex_unlock(&w->lock);
	pthread_join(w->thread, NULL);
	events_free(w);
}
