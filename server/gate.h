/*
 * The health gate for one node of a deployment, as pure functions of its stored state, the app's
 * settings, the node's report and the clock: healthy means every container running and every
 * healthcheck passing, without a break and without a restart, for min_healthy_time, before the
 * deployment's healthy_deadline.
 */
#ifndef OVR_GATE_H
#define OVR_GATE_H

#include <stddef.h>
#include <stdint.h>

#define GATE_MESSAGE_MAX 1024

/* A node's row in a deployment, as the gate reads and changes it. */
struct gate_node {
	int state;                /* Overseer__V1__NodeDeploymentState */
	int64_t healthy_since_ms; /* 0: not healthy without a break yet */
	int64_t restart_baseline; /* the containers' restarts when that began */
	char message[GATE_MESSAGE_MAX];
};

/* What the node's agent says about the app (its AppReport). */
struct gate_report {
	int phase;        /* the agent's phase of its last attempt */
	int64_t version;  /* the version that runs */
	int64_t restarts; /* restart count summed over the app's containers */
	const char *message;
};

struct gate_settings {
	int64_t version;             /* the deployment's version */
	int64_t min_healthy_ms;      /* healthy this long without a break */
	int64_t deadline_ms;         /* unix ms by which the node must be healthy (counted from its
	                                release: its turn in a rolling deployment); 0: none */
	int64_t healthy_deadline_ms; /* the app's setting, for messages */
};

/* Applies a report. Returns 1 if the row changed (state, message or the gate's clock). */
int gate_on_report(struct gate_node *n, const struct gate_settings *s, const struct gate_report *r,
                   int64_t now_ms);

/*
 * Applies the passing of time: the deadline fails the node. 1 if changed. (Passing takes a
 * report after the window: gate_on_report.)
 */
int gate_on_tick(struct gate_node *n, const struct gate_settings *s, int64_t now_ms);

/* "1m30s"-style text of a duration, for messages. */
void gate_format_duration(char *buf, size_t size, int64_t ms);

#endif
