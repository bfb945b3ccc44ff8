/*
 * The agent's reconciler: makes the node run the server's desired state (Sync, Remove) through an
 * executor, keeps the applied-state record, and produces the status reports the session sends.
 * Applies run on the reconciler's own threads so the session's heartbeats keep flowing during a
 * slow `docker compose up`; the session hands messages in and takes reports out.
 */
#ifndef OVR_RECONCILE_H
#define OVR_RECONCILE_H

#include <stddef.h>
#include <stdint.h>

#include "executor.h"
#include "overseer/v1/agent.pb-c.h"

#define RECONCILE_MAX_COMPOSE (1024 * 1024) /* bytes of compose YAML per app */
#define RECONCILE_MAX_QUEUE   256           /* queued messages (Syncs collapse into the newest) */
#define RECONCILE_MAX_OUTBOX  64 /* reports waiting for the session; the oldest are dropped */

struct reconciler;

struct reconcile_opts {
	const char *state_dir; /* required: the record is STATE_DIR/applied.json */
	struct executor *ex;   /* required, borrowed: must outlive the reconciler */
};

/*
 * Loads the record (a missing or corrupt one reads as empty) and sets up; no thread runs yet.
 * *out is the caller's: reconcile_free.
 */
int reconcile_new(struct reconciler **out, const struct reconcile_opts *opts);

/* Starts the worker (applies and removes) and reporter (full reports) threads. */
int reconcile_start(struct reconciler *r);

/*
 * Stops and joins the threads: no new apply or remove starts, one in flight finishes first.
 * Queued messages stay queued. Safe to call twice or without reconcile_start.
 */
void reconcile_stop(struct reconciler *r);

/* Stops if needed, then frees queued messages, reports and the reconciler. NULL is a no-op. */
void reconcile_free(struct reconciler *r);

/*
 * Hands a server message to the reconciler; ownership of msg passes in every case. Sync and
 * Remove are queued (a newer Sync replaces a queued older one, Removes keep their place before
 * it); anything else is freed. Environment values are wiped when the message is freed.
 * OVR_ERR_TOO_LARGE when the queue is full (the message is dropped; the next Sync covers it).
 */
int reconcile_submit(struct reconciler *r, Overseer__V1__ServerMessage *msg);

/* Asks for a full report (every heartbeat); requests made before it is built count once. */
void reconcile_request_report(struct reconciler *r);

/*
 * Without threads (tests, tools): processes every queued message, then builds the full report
 * if one was asked for (each message asks), all on the caller's thread. Not after start.
 */
void reconcile_run_pending(struct reconciler *r);

/* The oldest waiting report, or NULL. The caller owns it: reconcile_report_free. */
Overseer__V1__StatusReport *reconcile_take_report(struct reconciler *r);

/* Frees a report from reconcile_take_report. NULL is a no-op. */
void reconcile_report_free(Overseer__V1__StatusReport *rep);

/* Drops every waiting report (a new connection: the next full report covers them). */
void reconcile_drop_reports(struct reconciler *r);

/* The record's generation, for Hello.applied_generation. */
int64_t reconcile_generation(struct reconciler *r);

/*
 * The phase of an app from its last apply and its containers (pure): a failed apply is FAILED
 * with apply_message; no containers is FAILED; a container restarting, dead, exited non-zero or
 * unhealthy is FAILED naming it; one created but not started is APPLYING; a health check still
 * starting (or a state such as paused) is RUNNING; otherwise HEALTHY (exited 0 counts as done).
 * msg gets the human text ("" when healthy).
 */
Overseer__V1__NodeDeploymentState reconcile_phase(char *msg, size_t msg_size, int apply_ok,
                                                  const char *apply_message,
                                                  const struct executor_container *c, size_t n);

/*
 * 1 if the containers show that an app recorded as applied needs `compose up` again (pure): none
 * at all, or one created but never started, exited with a non-zero code, or dead. Running ones,
 * restarting ones (Docker is on it) and finished one-shot jobs (exit 0) need nothing.
 */
int reconcile_needs_start(const struct executor_container *c, size_t n);

#endif
