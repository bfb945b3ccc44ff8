/*
 * The method table: every RPC of the API with its kind, messages, handler, required role and
 * REST route. It drives the gRPC server, the REST gateway, authorization and the OpenAPI document.
 */
#ifndef OVR_METHODS_H
#define OVR_METHODS_H

#include <stddef.h>

#include "rpc.h"

extern const struct rpc_method server_methods[];
extern const size_t server_methods_count;

#endif
