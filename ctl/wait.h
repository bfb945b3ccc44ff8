/*
 * --wait for ovrctl: follows a deployment until it is over on the WatchDeployment stream (or by
 * polling GetDeployment on a server without it), showing per-node progress (rewritten in place
 * on a terminal, one line per change otherwise). Used by deploy, rollback, app create --deploy
 * and deployment watch.
 */
#ifndef OVR_WAIT_H
#define OVR_WAIT_H

#include "ctl.h"
#include "overseer/v1/apps.pb-c.h"

#include <stdint.h>
#include <stdio.h>

/* --timeout when none is given. */
#define WAIT_DEFAULT_TIMEOUT_MS (10LL * 60 * 1000)
/* Pause between two GetDeployment calls (servers without WatchDeployment). */
#define WAIT_POLL_MS 500

/* --wait and --timeout DUR, as deploy, rollback and app create take them. */
struct wait_args {
	int wait;
	int timeout_given;
	int64_t timeout_ms;
};

/* Zeroes w with the default timeout. */
void wait_args_init(struct wait_args *w);

/*
 * If argv[*i] is --wait or --timeout, records it, advances *i and returns 1; -1 after printing a
 * usage error; 0 if it is neither.
 */
int wait_args_parse(struct wait_args *w, const struct ctl *ctl, int argc, char **argv, int *i);

/* Usage error (returned, printed) for --timeout without --wait; else 0. */
int wait_args_check(const struct wait_args *w, const struct ctl *ctl);

/* The last state shown for one node. */
struct wait_node {
	char name[72];
	int state; /* Overseer__V1__NodeDeploymentState */
};

/* The progress display. */
struct wait_view {
	FILE *fp;
	int live;                /* a terminal: redraw the block of lines in place */
	int width;               /* terminal columns (live) */
	size_t drawn;            /* lines drawn by the last redraw (live) */
	int overall;             /* last overall state shown (plain) */
	int noted;               /* the passing problem was shown (plain) */
	struct wait_node *nodes; /* last state per node (plain) */
	size_t n, cap;
};

/* Starts a view that writes to fp; live redraws in place (width: columns, 0 for 80). */
void wait_view_init(struct wait_view *v, FILE *fp, int live, int width);

/*
 * Shows d after elapsed_ms. note, if not NULL, is a passing problem (the server did not
 * answer) shown with it. Plain views print a line for each node whose state changed.
 */
void wait_view_update(struct wait_view *v, const Overseer__V1__Deployment *d, int64_t elapsed_ms,
                      const char *note);

void wait_view_free(struct wait_view *v);

/*
 * Checks before a deploy that the server can report deployments (so --wait does not create a
 * version it cannot follow). CTL_EXIT_OK, or CTL_EXIT_FAIL after printing the server's message.
 */
int wait_preflight(struct ctl *ctl);

/*
 * Waits for the deployment d (from a DeployApp, RollbackApp or CreateApp response; NULL or
 * without an id when the server started none) for at most timeout_ms. It follows the
 * WatchDeployment stream, opened again after a break (the server restarting, or ending a long
 * watch); a server that answers UNIMPLEMENTED (or is at its limit of watches) is polled with
 * GetDeployment every WAIT_POLL_MS instead. Progress goes to stdout for table output, else to
 * stderr. Returns CTL_EXIT_OK when the deployment succeeded; otherwise prints the reason and
 * each failed node's message to stderr and returns CTL_EXIT_FAIL. When the server rolled it back
 * automatically, the automatic rollback is followed too, within the same timeout (the exit code
 * stays CTL_EXIT_FAIL). *final, if final is not NULL, gets d's last state read (NULL if none;
 * the caller frees it with protobuf_c_message_free_unpacked).
 */
int wait_deployment(struct ctl *ctl, const Overseer__V1__Deployment *d, int64_t timeout_ms,
                    Overseer__V1__Deployment **final);

#endif
