/*
 * Getting desired state to the agents. The whole set goes every time: it is small, it makes every
 * message idempotent, and with the node's generation the agent can drop one that arrives late.
 */
#include "desired.h"

#include "err.h"
#include "hub.h"
#include "inject.h"
#include "log.h"
#include "overseer/v1/agent.pb-c.h"

void desired_push(struct db *db, struct arena *a, const char *node_id)
{
	Overseer__V1__ServerMessage msg = OVERSEER__V1__SERVER_MESSAGE__INIT;
	Overseer__V1__Sync *sync = NULL;
	Overseer__V1__Remove **removes = NULL;
	size_t i, n_removes = 0, n_ids = 0;
	char **ids;
	int err;

	if (!hub_connected(node_id))
		return;
	err = db_desired_for_node(db, a, node_id, &sync, &removes, &n_removes);
	if (!err)
		err = inject_sync(db, a, node_id, sync);
	if (err) {
		log_warnx("desired state of node=%s not read (it gets it on its next connect): %s",
		          node_id, ovr_err_msg(err));
		return;
	}
	/* Removals first: a Sync without the app would remove it without purging its volumes. */
	for (i = 0; i < n_removes && !err; i++) {
		msg.msg_case = OVERSEER__V1__SERVER_MESSAGE__MSG_REMOVE;
		msg.remove = removes[i];
		err = hub_send(node_id, &msg.base);
	}
	if (!err) {
		msg.msg_case = OVERSEER__V1__SERVER_MESSAGE__MSG_SYNC;
		msg.sync = sync;
		err = hub_send(node_id, &msg.base);
	}
	/* The stream holds its own packed copy by now. */
	inject_wipe(sync);
	if (err) {
		log_warnx("desired state not sent to node=%s (it gets it on its next connect): %s",
		          node_id, ovr_err_msg(err));
		return;
	}
	log_debug("desired state sent node=%s generation=%lld apps=%zu removals=%zu", node_id,
	          (long long)sync->generation, sync->n_apps, n_removes);
	ids = arena_calloc(a, sync->n_apps + n_removes + 1, sizeof(char *));
	for (i = 0; i < sync->n_apps; i++)
		if (sync->apps[i]->deployment_id[0])
			ids[n_ids++] = sync->apps[i]->deployment_id;
	for (i = 0; i < n_removes; i++)
		ids[n_ids++] = removes[i]->deployment_id;
	err = db_deploy_mark_sent(db, a, node_id, ids, n_ids);
	if (err)
		log_warnx("deployments sent to node=%s not marked sent: %s", node_id,
		          ovr_err_msg(err));
}

void desired_push_nodes(struct db *db, struct arena *a, const struct db_node_ids *ids)
{
	size_t i;

	for (i = 0; i < ids->n; i++)
		desired_push(db, a, ids->ids[i]);
}
