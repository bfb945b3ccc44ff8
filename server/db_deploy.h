/*
 * Deployments and desired state in PostgreSQL: a deployment per deploy, rollback or removal with
 * a row per targeted node, each node's desired set and generation, and what the agents report.
 * The rows drive everything, so a restarted server carries on where it was.
 */
#ifndef OVR_DB_DEPLOY_H
#define OVR_DB_DEPLOY_H

#include <stddef.h>
#include <stdint.h>

#include "arena.h"
#include "db.h"
#include "overseer/v1/agent.pb-c.h"
#include "overseer/v1/apps.pb-c.h"

/*
 * Whether app row `a` targets node row `n`: by name, or by a selector whose parsed form
 * (targets.match) the node's labels contain. One definition, used by every query.
 */
#define DB_TARGETS(a, n)                                                                           \
	"((" a ".targets->'nodes') ? " n ".name OR (" a ".targets->>'selector' <> '' AND " n       \
	".labels @> (" a ".targets->'match')))"

struct db_deploy_new {
	const char *app;
	int64_t version;
	int kind; /* Overseer__V1__DeploymentKind */
	const char *actor;
	int purge_volumes; /* removals */
	int no_supersede;  /* refuse (OVR_ERR_PRECONDITION) while one is in progress */
};

/* The nodes whose desired set a change touched: push each its new state after the commit. */
struct db_node_ids {
	char **ids;
	size_t n;
};

/*
 * Inside the caller's transaction, holding the app's row lock: marks the app's deployments in
 * progress superseded (or refuses, with no_supersede), creates the deployment with the app's
 * rollout (a pending row per targeted active node; all released at once, or the first
 * max_parallel of a rolling deploy or rollback in node name order), makes it the app's active
 * one, and bumps the desired generation of every node the change touches (the targeted ones and
 * those still running the app). A deployment with no target node succeeds at once. id_out and
 * touched live in the arena.
 */
int db_deploy_start(struct db *db, struct arena *a, const struct db_deploy_new *d, char **id_out,
                    struct db_node_ids *touched);

/* Adds to into the ids of from it lacks (arena). */
void db_node_ids_merge(struct arena *a, struct db_node_ids *into, const struct db_node_ids *from);

/* Bumps the desired generation of every node app targets or runs (targets changed). */
int db_deploy_touch_app(struct db *db, struct arena *a, const char *app,
                        struct db_node_ids *touched);

/* One deployment with its per-node state; OVR_ERR_NOT_FOUND naming it. */
int db_deploy_get(struct db *db, struct arena *a, const char *id, Overseer__V1__Deployment **out);

/* The id of the deploy or rollback that made app's version (retried requests); "" if none. */
int db_deploy_of_version(struct db *db, struct arena *a, const char *app, int64_t version,
                         char **id_out);

/* The id of app's newest removal (a retried DeleteApp). */
int db_deploy_latest_removal(struct db *db, struct arena *a, const char *app, char **id_out);

/*
 * Everything node_id should run, read from one snapshot: the Sync (generation and every targeted
 * app at its current version) and the removals in progress for it (Remove messages, sent first).
 */
int db_desired_for_node(struct db *db, struct arena *a, const char *node_id,
                        Overseer__V1__Sync **sync_out, Overseer__V1__Remove ***removes_out,
                        size_t *n_removes_out);

/* The node was sent these deployments: their pending rows for it become sent. */
int db_deploy_mark_sent(struct db *db, struct arena *a, const char *node_id, char *const *ids,
                        size_t n);

/*
 * Records a node's status report in one transaction: the observed state per app, the node's rows
 * of the deployments in progress the report speaks for (through the health gate), and each such
 * deployment's outcome (db_deploy_evaluate). A full report also ends the node's removals of apps
 * it no longer runs and forgets their observed state. Nodes to push desired state to are in push.
 */
int db_deploy_report(struct db *db, struct arena *a, const char *node_id,
                     const Overseer__V1__StatusReport *report, struct db_node_ids *push);

/*
 * Decides a deployment in progress from its node rows (in the caller's transaction): failed as
 * soon as more nodes failed than its max_failures, then rolled back automatically to
 * last-known-good when the app allows it (a new auto_rollback version and deployment; its nodes
 * are added to push); succeeded when every node passed the health gate or failed within
 * max_failures, which makes its version last-known-good. Otherwise a rolling deployment releases
 * its next nodes as others finish (added to push).
 */
int db_deploy_evaluate(struct db *db, struct arena *a, const char *id, struct db_node_ids *push);

/*
 * One orchestrator step, in its own transaction, on one server replica at a time: health gates
 * that passed and deadlines that expired, and the deployments that decides. Nodes whose desired
 * state changed (an automatic rollback) are in push.
 */
int db_deploy_tick(struct db *db, struct arena *a, struct db_node_ids *push);

/*
 * The observed state of app on every node that it targets or that runs it, by node name (a
 * targeted name with no such node shows as pending), and the app's status from its active
 * deployment.
 */
int db_deploy_app_state(struct db *db, struct arena *a, Overseer__V1__App *app);

#endif
