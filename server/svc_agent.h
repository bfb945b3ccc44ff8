/* The AgentService: enrollment with a join token, and each node's Connect stream. */
#ifndef OVR_SVC_AGENT_H
#define OVR_SVC_AGENT_H

#include "rpc.h"

int svc_agent_enroll(struct rpc_call *call, const void *req, void *resp);
/* A node's new certificate for a CSR, signed for the node the calling certificate names. */
int svc_agent_renew(struct rpc_call *call, const void *req, void *resp);
extern const struct rpc_stream_ops svc_agent_connect_ops;

#endif
