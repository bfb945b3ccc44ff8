/*
 * WatchDeployment: a deployment's progress as a server stream, read from the database (agents'
 * reports and the orchestrator change it, possibly on another replica), by one watcher thread.
 */
#ifndef OVR_SVC_WATCH_H
#define OVR_SVC_WATCH_H

#include "rpc.h"

/* Open watches per server process; more are refused with RESOURCE_EXHAUSTED. */
#define WATCH_MAX 256
/* How often the watcher reads every open watch's deployment. */
#define WATCH_TICK_MS 500
/* How long one watch may stay open; then it ends with DEADLINE_EXCEEDED (watch again). */
#define WATCH_MAX_MS (60LL * 60 * 1000)
/* A database outage longer than this ends the watches it hides with UNAVAILABLE. */
#define WATCH_DB_GRACE_MS 30000
/* Nodes changed in one tick beyond which one overall event replaces the per-node events. */
#define WATCH_NODE_EVENTS_MAX 64

/* The stream handlers for /overseer.v1.Apps/WatchDeployment (method table). */
extern const struct rpc_stream_ops svc_watch_ops;

/*
 * Ends every open watch with UNAVAILABLE "server shutting down", stops the watcher thread and
 * closes its database connection. Call it before stopping the transports; it also runs at exit
 * (then only the thread and its connection are left to clean up). Idempotent.
 */
void svc_watch_stop(void);

#endif
