/*
 * The deployment orchestrator: a thread with its own database connection that, once a second,
 * applies the passing of time to deployments in progress (health gates that passed, deadlines
 * that expired, automatic rollbacks) and pushes the desired state that changes. Everything it
 * knows is in the database, so a restarted server carries on where it was; with several replicas
 * one of them decides at a time (an advisory lock per step).
 */
#ifndef OVR_ORCHESTRATOR_H
#define OVR_ORCHESTRATOR_H

struct orchestrator;

/* Starts the thread; conninfo is copied. */
int orchestrator_start(struct orchestrator **out, const char *conninfo);

/* Stops and joins the thread (a step in progress finishes first), and frees o. NULL is a no-op. */
void orchestrator_stop(struct orchestrator *o);

#endif
