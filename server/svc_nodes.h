/* The Nodes service: list, inspect, label and revoke nodes; join tokens to enroll new ones. */
#ifndef OVR_SVC_NODES_H
#define OVR_SVC_NODES_H

#include "rpc.h"

int svc_nodes_list(struct rpc_call *call, const void *req, void *resp);
int svc_nodes_get(struct rpc_call *call, const void *req, void *resp);
int svc_nodes_create_join_token(struct rpc_call *call, const void *req, void *resp);
int svc_nodes_revoke(struct rpc_call *call, const void *req, void *resp);
int svc_nodes_set_labels(struct rpc_call *call, const void *req, void *resp);

/* How long since its last heartbeat a node still counts as connected. */
int64_t svc_nodes_stale_ms(void);

#endif
