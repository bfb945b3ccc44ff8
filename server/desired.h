/*
 * Getting desired state to the agents: after every change, each touched node connected to this
 * server gets its complete desired set (Remove messages first, then Sync) read from the database.
 */
#ifndef OVR_DESIRED_H
#define OVR_DESIRED_H

#include "arena.h"
#include "db.h"
#include "db_deploy.h"

/*
 * Sends node_id its desired state if its stream is on this server, and marks the deployments
 * that state carries as sent to it. A node that is not connected gets it when it connects, so
 * that is not an error; a failure to send is logged and left to the next connect.
 */
void desired_push(struct db *db, struct arena *a, const char *node_id);

/* desired_push for each node. */
void desired_push_nodes(struct db *db, struct arena *a, const struct db_node_ids *ids);

#endif
