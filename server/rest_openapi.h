/* The OpenAPI 3.0 document of the REST gateway, generated from the method table and descriptors. */
#ifndef OVR_REST_OPENAPI_H
#define OVR_REST_OPENAPI_H

#include <stddef.h>

#include "rpc.h"

/*
 * Builds the document (JSON text) for every method with a REST route: operations named by RPC,
 * path and query parameters, request bodies, and the messages and enums they reach as
 * components. The caller free()s the result; NULL with the error set.
 */
char *rest_openapi_build(const struct rpc_method *methods, size_t n);

#endif
