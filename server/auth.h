/* Who is calling: bearer tokens for operators, verified certificates for nodes, and roles. */
#ifndef OVR_AUTH_H
#define OVR_AUTH_H

#include "rpc.h"

/* The rpc authenticate hook: establishes id for the call's method, or refuses it. */
int auth_authenticate(struct rpc_call *call, struct rpc_identity *id);

/* "admin" -> RPC_AUTH_ADMIN ...; -1 if unknown. */
int auth_role_parse(const char *name);
const char *auth_role_name(enum rpc_auth role);

#endif
