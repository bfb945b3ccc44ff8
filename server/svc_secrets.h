/* The Secrets service: values go in sealed, never come out; names, versions and users do. */
#ifndef OVR_SVC_SECRETS_H
#define OVR_SVC_SECRETS_H

#include "rpc.h"

int svc_secrets_put(struct rpc_call *call, const void *req, void *resp);
int svc_secrets_list(struct rpc_call *call, const void *req, void *resp);
int svc_secrets_delete(struct rpc_call *call, const void *req, void *resp);

#endif
