/*
 * The REST gateway's routing: (HTTP method, path) to a row of the method table, and the request
 * message built as proto3 JSON from the body, the query string and the {field} path segments.
 */
#ifndef OVR_REST_ROUTE_H
#define OVR_REST_ROUTE_H

#include <stddef.h>

#include <jansson.h>

#include "rpc.h"

#define REST_ROUTE_MAX_PARAMS 8

/* One {field} of a matched template: pointers into the template and the request path. */
struct rest_param {
	const char *name;
	size_t name_len;
	const char *value;
	size_t value_len;
};

struct rest_match {
	const struct rpc_method *method;
	size_t n_params;
	struct rest_param params[REST_ROUTE_MAX_PARAMS];
};

/*
 * Checks every REST route of the table once at start: templates well formed, each {field} a
 * string or integer field of the request. OVR_ERR_CONFIG naming the route otherwise.
 */
int rest_route_check(const struct rpc_method *methods, size_t n);

/*
 * Finds the route for verb and path. Literal segments win over {field} segments. Returns 0 with
 * *out filled; 1 when the path exists only for other methods (allow gets "GET, POST");
 * OVR_ERR_NOT_FOUND when no route has this path. Methods without http_method never match.
 */
int rest_route_find(struct rest_match *out, char *allow, size_t allow_size,
                    const struct rpc_method *methods, size_t n, const char *verb, const char *path);

/*
 * Binds one query parameter (key by proto or lowerCamel name) into the JSON object params as the
 * field's value; a repeated scalar field collects every occurrence. OVR_ERR_INVALID naming the
 * parameter for an unknown or message-typed field, or a value that is not UTF-8.
 */
int rest_route_bind_query(json_t *params, const ProtobufCMessageDescriptor *desc, const char *key,
                          const char *value);

/* Binds the matched path segments into params (they override query parameters). */
int rest_route_bind_path(json_t *params, const struct rest_match *match);

/*
 * Merges params into the request object body (both spellings of a field in body are replaced by
 * the bound value). body keeps its own references.
 */
int rest_route_merge(json_t *body, json_t *params);

/* 1 when f is a map<K, V> field (see pbjson.c: protobuf-c does not mark them). */
int rest_field_is_map(const ProtobufCFieldDescriptor *f);

#endif
