/* REST routing: match (method, path template) from the method table and bind path/query fields. */
#include "rest_route.h"

#include "pbjson.h"

#include "err.h"
#include "strutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NAME_MAX_LEN 128

int rest_field_is_map(const ProtobufCFieldDescriptor *f)
{
	const ProtobufCMessageDescriptor *d = f->descriptor;
	char want[NAME_MAX_LEN + 8];
	char camel[NAME_MAX_LEN];

	if (f->label != PROTOBUF_C_LABEL_REPEATED || f->type != PROTOBUF_C_TYPE_MESSAGE)
		return 0;
	if (d->n_fields != 2 || d->fields[0].id != 1 || d->fields[1].id != 2 ||
	    strcmp(d->fields[0].name, "key") != 0 || strcmp(d->fields[1].name, "value") != 0)
		return 0;
	if (pbjson_field_name(camel, sizeof(camel), f->name) != 0)
		return 0;
	camel[0] = camel[0] >= 'a' && camel[0] <= 'z' ? (char)(camel[0] - 'a' + 'A') : camel[0];
	snprintf(want, sizeof(want), "%sEntry", camel);
	return strcmp(d->short_name, want) == 0;
}

/* Field of desc by proto name or lowerCamel name. */
static const ProtobufCFieldDescriptor *find_field(const ProtobufCMessageDescriptor *desc,
                                                  const char *key)
{
	const ProtobufCFieldDescriptor *f =
	        protobuf_c_message_descriptor_get_field_by_name(desc, key);
	char name[NAME_MAX_LEN];
	unsigned i;

	if (f)
		return f;
	for (i = 0; i < desc->n_fields; i++)
		if (pbjson_field_name(name, sizeof(name), desc->fields[i].name) == 0 &&
		    strcmp(name, key) == 0)
			return &desc->fields[i];
	return NULL;
}

static int path_field_type_ok(ProtobufCType t)
{
	switch (t) {
	case PROTOBUF_C_TYPE_STRING:
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32:
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32:
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
		return 1;
	default:
		return 0;
	}
}

int rest_route_check(const struct rpc_method *methods, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		const struct rpc_method *m = &methods[i];
		const char *p;
		size_t n_params = 0;

		if (!m->http_method)
			continue;
		if (!m->http_path || m->http_path[0] != '/')
			return ovr_err_set(OVR_ERR_CONFIG, "rest: %s: path must start with /",
			                   m->path);
		for (p = m->http_path; (p = strchr(p, '{')) != NULL; p++) {
			const char *end = strchr(p, '}');
			char name[NAME_MAX_LEN];
			const ProtobufCFieldDescriptor *f;
			size_t len;

			if (!end || end == p + 1 || p[-1] != '/' || (end[1] && end[1] != '/'))
				return ovr_err_set(OVR_ERR_CONFIG, "rest: %s: bad template %s",
				                   m->path, m->http_path);
			len = (size_t)(end - p - 1);
			if (len >= sizeof(name) || ++n_params > REST_ROUTE_MAX_PARAMS)
				return ovr_err_set(OVR_ERR_CONFIG, "rest: %s: bad template %s",
				                   m->path, m->http_path);
			memcpy(name, p + 1, len);
			name[len] = '\0';
			f = protobuf_c_message_descriptor_get_field_by_name(m->request, name);
			if (!f || f->label == PROTOBUF_C_LABEL_REPEATED ||
			    !path_field_type_ok(f->type))
				return ovr_err_set(
				        OVR_ERR_CONFIG,
				        "rest: %s: {%s} is not a string or integer field "
				        "of %s",
				        m->path, name, m->request->name);
		}
	}
	return 0;
}

/*
 * Matches path against template. Returns -1 for no match, else the number of literal segments
 * (more is a better match), with the {field} segments in out.
 */
static int template_match(struct rest_match *out, const char *tmpl, const char *path)
{
	int literals = 0;

	out->n_params = 0;
	while (*tmpl == '/' && *path == '/') {
		const char *te = strchr(tmpl + 1, '/');
		const char *pe = strchr(path + 1, '/');
		size_t tl, pl;

		tmpl++;
		path++;
		te = te ? te : tmpl + strlen(tmpl);
		pe = pe ? pe : path + strlen(path);
		tl = (size_t)(te - tmpl);
		pl = (size_t)(pe - path);
		if (tl >= 2 && tmpl[0] == '{' && tmpl[tl - 1] == '}') {
			struct rest_param *prm;

			if (pl == 0 || out->n_params >= REST_ROUTE_MAX_PARAMS)
				return -1;
			prm = &out->params[out->n_params++];
			prm->name = tmpl + 1;
			prm->name_len = tl - 2;
			prm->value = path;
			prm->value_len = pl;
		} else {
			if (tl != pl || memcmp(tmpl, path, tl) != 0)
				return -1;
			literals++;
		}
		tmpl = te;
		path = pe;
	}
	return *tmpl == '\0' && *path == '\0' ? literals : -1;
}

static void allow_add(char *allow, size_t size, const char *verb)
{
	size_t vl = strlen(verb);
	const char *p = allow;

	/* Already listed? */
	while ((p = strstr(p, verb)) != NULL) {
		if ((p == allow || p[-1] == ' ') && (p[vl] == ',' || p[vl] == '\0'))
			return;
		p += vl;
	}
	if (allow[0])
		ovr_strlcpy(allow + strlen(allow), ", ", size - strlen(allow));
	ovr_strlcpy(allow + strlen(allow), verb, size - strlen(allow));
}

int rest_route_find(struct rest_match *out, char *allow, size_t allow_size,
                    const struct rpc_method *methods, size_t n, const char *verb, const char *path)
{
	struct rest_match cand;
	int best = -1, other = 0;
	size_t i;

	if (allow_size)
		allow[0] = '\0';
	memset(out, 0, sizeof(*out));
	for (i = 0; i < n; i++) {
		const struct rpc_method *m = &methods[i];
		int score;

		if (!m->http_method || !m->http_path)
			continue;
		score = template_match(&cand, m->http_path, path);
		if (score < 0)
			continue;
		if (strcmp(m->http_method, verb) != 0) {
			other = 1;
			allow_add(allow, allow_size, m->http_method);
			continue;
		}
		if (score > best) {
			best = score;
			*out = cand;
			out->method = m;
		}
	}
	if (best >= 0)
		return 0;
	return other ? 1 : OVR_ERR_NOT_FOUND;
}

static int all_digits(const char *s)
{
	if (*s == '-')
		s++;
	if (!*s)
		return 0;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return 0;
	return 1;
}

/*
 * A text value as the JSON pbjson expects for f: integers stay strings (the mapping accepts
 * them), booleans and floating point become JSON values when they parse, enums by name or number.
 * Anything that does not parse is passed on as a string so pbjson names the field in its error.
 */
static json_t *scalar_json(const ProtobufCFieldDescriptor *f, const char *v)
{
	char *end;
	double d;

	switch (f->type) {
	case PROTOBUF_C_TYPE_BOOL:
		if (strcmp(v, "true") == 0 || strcmp(v, "1") == 0)
			return json_true();
		if (strcmp(v, "false") == 0 || strcmp(v, "0") == 0)
			return json_false();
		break;
	case PROTOBUF_C_TYPE_FLOAT:
	case PROTOBUF_C_TYPE_DOUBLE:
		d = strtod(v, &end);
		if (*v && !*end && all_digits(v))
			return json_integer((json_int_t)d);
		if (*v && !*end)
			return json_real(d);
		break;
	case PROTOBUF_C_TYPE_ENUM:
		if (all_digits(v))
			return json_integer((json_int_t)strtoll(v, NULL, 10));
		break;
	default:
		break;
	}
	return json_string(v);
}

/* Sets params[f->name] = value (appending for repeated fields). */
static int bind_value(json_t *params, const ProtobufCFieldDescriptor *f, const char *value,
                      const char *what, const char *key)
{
	json_t *v, *arr;

	if (f->type == PROTOBUF_C_TYPE_MESSAGE)
		return ovr_err_set(OVR_ERR_INVALID,
		                   "%s \"%s\": field of message type %s cannot be bound from the "
		                   "URL; send it in the body",
		                   what, key,
		                   ((const ProtobufCMessageDescriptor *)f->descriptor)->name);
	v = scalar_json(f, value);
	if (!v)
		return ovr_err_set(OVR_ERR_INVALID, "%s \"%s\": value is not valid UTF-8", what,
		                   key);
	if (f->label != PROTOBUF_C_LABEL_REPEATED) {
		json_object_set_new(params, f->name, v);
		return 0;
	}
	arr = json_object_get(params, f->name);
	if (!json_is_array(arr)) {
		arr = json_array();
		if (!arr || json_object_set_new(params, f->name, arr) != 0) {
			json_decref(v);
			return ovr_err_set(OVR_ERR_NOMEM, "out of memory");
		}
	}
	if (json_array_append_new(arr, v) != 0)
		return ovr_err_set(OVR_ERR_NOMEM, "out of memory");
	return 0;
}

int rest_route_bind_query(json_t *params, const ProtobufCMessageDescriptor *desc, const char *key,
                          const char *value)
{
	const ProtobufCFieldDescriptor *f = find_field(desc, key);

	if (!f)
		return ovr_err_set(OVR_ERR_INVALID, "query parameter \"%s\": unknown field of %s",
		                   key, desc->name);
	return bind_value(params, f, value ? value : "", "query parameter", key);
}

int rest_route_bind_path(json_t *params, const struct rest_match *match)
{
	const ProtobufCMessageDescriptor *desc = match->method->request;
	size_t i;

	for (i = 0; i < match->n_params; i++) {
		const struct rest_param *p = &match->params[i];
		char name[NAME_MAX_LEN], *value;
		const ProtobufCFieldDescriptor *f;
		int err;

		if (p->name_len >= sizeof(name))
			return ovr_err_set(OVR_ERR_INTERNAL, "rest: path parameter name too long");
		memcpy(name, p->name, p->name_len);
		name[p->name_len] = '\0';
		f = protobuf_c_message_descriptor_get_field_by_name(desc, name);
		if (!f)
			return ovr_err_set(OVR_ERR_INTERNAL, "rest: {%s} is not a field of %s",
			                   name, desc->name);
		value = strndup(p->value, p->value_len);
		if (!value)
			return ovr_err_set(OVR_ERR_NOMEM, "out of memory");
		err = bind_value(params, f, value, "path segment", name);
		free(value);
		if (err)
			return err;
	}
	return 0;
}

int rest_route_merge(json_t *body, json_t *params)
{
	const char *key;
	json_t *val;

	json_object_foreach(params, key, val)
	{
		char camel[NAME_MAX_LEN];

		if (pbjson_field_name(camel, sizeof(camel), key) == 0)
			json_object_del(body, camel);
		json_object_del(body, key);
		if (json_object_set(body, key, val) != 0)
			return ovr_err_set(OVR_ERR_NOMEM, "out of memory");
	}
	return 0;
}
