/* OpenAPI 3.0 for the REST gateway, walked from the method table and the protobuf-c descriptors. */
#include "rest_openapi.h"

#include "pbjson.h"

#include "err.h"
#include "rest_route.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NAME_LEN 128

static json_t *schema_ref(const char *full_name)
{
	return json_pack("{s:s+}", "$ref", "#/components/schemas/", full_name);
}

static void add_message(json_t *schemas, const ProtobufCMessageDescriptor *d);

static void add_enum(json_t *schemas, const ProtobufCEnumDescriptor *e)
{
	json_t *names;
	unsigned i;

	if (json_object_get(schemas, e->name))
		return;
	names = json_array();
	for (i = 0; i < e->n_values; i++)
		json_array_append_new(names, json_string(e->values[i].name));
	json_object_set_new(schemas, e->name,
	                    json_pack("{s:s,s:o}", "type", "string", "enum", names));
}

/* The schema of one value of f (an element, for repeated fields). */
static json_t *value_schema(json_t *schemas, const ProtobufCFieldDescriptor *f)
{
	switch (f->type) {
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32:
		return json_pack("{s:s,s:s}", "type", "integer", "format", "int32");
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32:
		return json_pack("{s:s,s:s,s:i}", "type", "integer", "format", "int64", "minimum",
		                 0);
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
		return json_pack("{s:s,s:s}", "type", "string", "format", "int64");
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
		return json_pack("{s:s,s:s}", "type", "string", "format", "uint64");
	case PROTOBUF_C_TYPE_FLOAT:
		return json_pack("{s:s,s:s}", "type", "number", "format", "float");
	case PROTOBUF_C_TYPE_DOUBLE:
		return json_pack("{s:s,s:s}", "type", "number", "format", "double");
	case PROTOBUF_C_TYPE_BOOL:
		return json_pack("{s:s}", "type", "boolean");
	case PROTOBUF_C_TYPE_STRING:
		return json_pack("{s:s}", "type", "string");
	case PROTOBUF_C_TYPE_BYTES:
		return json_pack("{s:s,s:s}", "type", "string", "format", "byte");
	case PROTOBUF_C_TYPE_ENUM: {
		const ProtobufCEnumDescriptor *e = f->descriptor;

		add_enum(schemas, e);
		return schema_ref(e->name);
	}
	case PROTOBUF_C_TYPE_MESSAGE: {
		const ProtobufCMessageDescriptor *d = f->descriptor;

		add_message(schemas, d);
		return schema_ref(d->name);
	}
	}
	return json_object();
}

static json_t *field_schema(json_t *schemas, const ProtobufCFieldDescriptor *f)
{
	if (rest_field_is_map(f)) {
		const ProtobufCMessageDescriptor *entry = f->descriptor;

		return json_pack("{s:s,s:o}", "type", "object", "additionalProperties",
		                 value_schema(schemas, &entry->fields[1]));
	}
	if (f->label == PROTOBUF_C_LABEL_REPEATED)
		return json_pack("{s:s,s:o}", "type", "array", "items", value_schema(schemas, f));
	return value_schema(schemas, f);
}

/* Adds d (and everything it reaches) to schemas, once; cycles end at the placeholder. */
static void add_message(json_t *schemas, const ProtobufCMessageDescriptor *d)
{
	json_t *schema, *props;
	unsigned i;

	if (json_object_get(schemas, d->name))
		return;
	props = json_object();
	schema = json_pack("{s:s,s:o}", "type", "object", "properties", props);
	json_object_set_new(schemas, d->name, schema);
	for (i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];
		char camel[NAME_LEN];

		if (pbjson_field_name(camel, sizeof(camel), f->name) != 0)
			continue;
		json_object_set_new(props, camel, field_schema(schemas, f));
	}
}

static json_t *parameter(json_t *schemas, const ProtobufCFieldDescriptor *f, const char *name,
                         const char *in)
{
	json_t *p = json_pack("{s:s,s:s,s:o}", "name", name, "in", in, "schema",
	                      field_schema(schemas, f));

	if (strcmp(in, "path") == 0)
		json_object_set_new(p, "required", json_true());
	return p;
}

static int is_path_param(const struct rpc_method *m, const char *field)
{
	char want[NAME_LEN + 2];

	snprintf(want, sizeof(want), "{%s}", field);
	return strstr(m->http_path, want) != NULL;
}

static json_t *operation(json_t *schemas, const struct rpc_method *m)
{
	const ProtobufCMessageDescriptor *req = m->request;
	const char *rpc = strrchr(m->path, '/') + 1;
	const char *svc = m->path + strlen("/overseer.v1.");
	int with_body = strcmp(m->http_method, "GET") != 0 && strcmp(m->http_method, "DELETE") != 0;
	json_t *op, *params = json_array(), *ok;
	char tag[NAME_LEN];
	unsigned i;

	snprintf(tag, sizeof(tag), "%.*s", (int)(rpc - 1 - svc), svc);

	for (i = 0; i < req->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &req->fields[i];
		char camel[NAME_LEN];

		if (is_path_param(m, f->name)) {
			json_array_append_new(params, parameter(schemas, f, f->name, "path"));
			continue;
		}
		if (with_body || f->type == PROTOBUF_C_TYPE_MESSAGE ||
		    pbjson_field_name(camel, sizeof(camel), f->name) != 0)
			continue;
		json_array_append_new(params, parameter(schemas, f, camel, "query"));
	}
	add_message(schemas, m->response);
	/* A server stream: one response message per line, flushed as it comes. */
	ok = json_pack("{s:s,s:{s:{s:o}}}", "description",
	               m->kind == RPC_UNARY
	                       ? "OK"
	                       : "a stream: one JSON object (the response message) per line; a "
	                         "stream that fails after its first line ends with a line "
	                         "{\"error\": Error}",
	               "content",
	               m->kind == RPC_UNARY ? "application/json" : "application/x-ndjson", "schema",
	               schema_ref(m->response->name));
	op = json_pack("{s:s,s:s+,s:[s],s:o,s:{s:o,s:{s:s,s:{s:{s:o}}}}}", "operationId", rpc,
	               "summary", "gRPC ", m->path + 1, "tags", tag, "parameters", params,
	               "responses", "200", ok, "default", "description", "error (see Error)",
	               "content", "application/json", "schema", schema_ref("Error"));
	if (with_body) {
		add_message(schemas, req);
		json_object_set_new(op, "requestBody",
		                    json_pack("{s:b,s:{s:{s:o}}}", "required", 0, "content",
		                              "application/json", "schema", schema_ref(req->name)));
	}
	return op;
}

static json_t *plain_get(const char *summary, const char *id)
{
	return json_pack("{s:{s:s,s:s,s:[],s:{s:{s:s}}}}", "get", "operationId", id, "summary",
	                 summary, "security", "responses", "200", "description", "OK");
}

char *rest_openapi_build(const struct rpc_method *methods, size_t n)
{
	json_t *doc, *paths, *schemas;
	char *text;
	size_t i;

	schemas = json_object();
	paths = json_object();
	json_object_set_new(schemas, "Error",
	                    json_pack("{s:s,s:{s:{s:s,s:s},s:{s:s},s:{s:s,s:{}}}}", "type",
	                              "object", "properties", "code", "type", "integer", "format",
	                              "int32", "message", "type", "string", "details", "type",
	                              "array", "items"));
	for (i = 0; i < n; i++) {
		const struct rpc_method *m = &methods[i];
		json_t *item;
		char verb[16];
		size_t k;

		if (!m->http_method || !m->http_path)
			continue;
		item = json_object_get(paths, m->http_path);
		if (!item) {
			item = json_object();
			json_object_set_new(paths, m->http_path, item);
		}
		for (k = 0; m->http_method[k] && k + 1 < sizeof(verb); k++)
			verb[k] = (char)(m->http_method[k] | 0x20);
		verb[k] = '\0';
		json_object_set_new(item, verb, operation(schemas, m));
	}
	json_object_set_new(paths, "/healthz", plain_get("the process is up", "Healthz"));
	json_object_set_new(paths, "/readyz",
	                    plain_get("the database answers (503 otherwise)", "Readyz"));
	json_object_set_new(paths, "/api/openapi.json", plain_get("this document", "OpenAPI"));
	doc = json_pack("{s:s,s:{s:s,s:s,s:s},s:o,s:{s:o,s:{s:{s:s,s:s}}},s:[{s:[]}]}", "openapi",
	                "3.0.3", "info", "title", "Overseer REST API", "version", "v1",
	                "description",
	                "The gRPC API (proto/overseer/v1) in the proto3 JSON mapping; the same "
	                "handlers serve both.",
	                "paths", paths, "components", "schemas", schemas, "securitySchemes",
	                "bearerAuth", "type", "http", "scheme", "bearer", "security", "bearerAuth");
	if (!doc) {
		ovr_err_set(OVR_ERR_NOMEM, "openapi: cannot build the document");
		return NULL;
	}
	text = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(doc);
	if (!text)
		ovr_err_set(OVR_ERR_NOMEM, "out of memory");
	return text;
}
