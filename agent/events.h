/*
 * The agent's container events watcher: a thread that follows the Docker Engine's /events for
 * this agent's compose projects and says when what a status report shows may have changed.
 */
#ifndef OVR_EVENTS_H
#define OVR_EVENTS_H

#include <jansson.h>
#include <stdint.h>

#define EVENTS_RETRY_INITIAL_MS 500   /* first reconnect delay after the stream breaks */
#define EVENTS_RETRY_MAX_MS     30000 /* reconnect delays never grow past this */

struct events_watcher;

struct events_opts {
	const char *docker_socket;  /* NULL: the default socket */
	const char *project_prefix; /* NULL: "ovr"; projects are "<prefix>-<app>" */
	/*
	 * Required. Called on the watcher's thread for each event that changes a container's state
	 * or health, and once each time the stream (re)opens, since events may have been missed
	 * while it was down. Must be quick and must not call events_stop.
	 */
	void (*changed)(void *payload);
	void *payload;
};

/*
 * Starts the watcher's thread; it connects (and reconnects with backoff) on its own, so an
 * engine that is down is not an error here. Strings are copied. *out is the caller's:
 * events_stop. 0, OVR_ERR_INVALID, OVR_ERR_NOMEM or OVR_ERR_INTERNAL.
 */
int events_start(struct events_watcher **out, const struct events_opts *opts);

/* Stops the thread (within about a second), joins it and frees w. NULL is a no-op. */
void events_stop(struct events_watcher *w);

/*
 * 1 if ev, one object of the engine's /events stream, is a container event that changes what a
 * report says (start, die, health_status: unhealthy, ...) of a project named "<prefix>-...".
 */
int events_relevant(json_t *ev, const char *project_prefix);

#endif
