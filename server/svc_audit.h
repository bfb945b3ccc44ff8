/* The Audit service: paging through the audit log and verifying its hash chain. */
#ifndef OVR_SVC_AUDIT_H
#define OVR_SVC_AUDIT_H

#include "rpc.h"

int svc_audit_list(struct rpc_call *call, const void *req, void *resp);
int svc_audit_verify(struct rpc_call *call, const void *req, void *resp);

#endif
