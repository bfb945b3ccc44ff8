/* The Apps service: apps, their immutable versions, deploy, rollback and diff (pushed to the
 * agents). */
#ifndef OVR_SVC_APPS_H
#define OVR_SVC_APPS_H

#include "rpc.h"

int svc_apps_create(struct rpc_call *call, const void *req, void *resp);
int svc_apps_get(struct rpc_call *call, const void *req, void *resp);
int svc_apps_list(struct rpc_call *call, const void *req, void *resp);
int svc_apps_delete(struct rpc_call *call, const void *req, void *resp);
int svc_apps_deploy(struct rpc_call *call, const void *req, void *resp);
int svc_apps_list_versions(struct rpc_call *call, const void *req, void *resp);
int svc_apps_get_version(struct rpc_call *call, const void *req, void *resp);
int svc_apps_diff(struct rpc_call *call, const void *req, void *resp);
int svc_apps_rollback(struct rpc_call *call, const void *req, void *resp);
int svc_apps_update(struct rpc_call *call, const void *req, void *resp);
int svc_apps_get_deployment(struct rpc_call *call, const void *req, void *resp);

/* GetEndpoints: the published endpoints of an app's healthy services (all apps if no name). */
int svc_apps_endpoints(struct rpc_call *call, const void *req, void *resp);

#endif
