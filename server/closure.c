/* Secret references and routes of an app version: validation and their JSON form. */
#include "closure.h"

#include "compose_file.h"
#include "err.h"
#include "routes.h"
#include "strutil.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

int closure_env_key_valid(const char *k)
{
	size_t i;

	if (!((k[0] >= 'A' && k[0] <= 'Z') || (k[0] >= 'a' && k[0] <= 'z') || k[0] == '_'))
		return 0;
	for (i = 1; k[i]; i++)
		if (!((k[i] >= 'A' && k[i] <= 'Z') || (k[i] >= 'a' && k[i] <= 'z') ||
		      (k[i] >= '0' && k[i] <= '9') || k[i] == '_'))
			return 0;
	return i <= 256;
}

static char *dump_arena(struct arena *a, json_t *j, const char *dflt)
{
	char *text = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
	char *out = arena_strdup(a, text ? text : dflt);

	free(text);
	return out;
}

static int ref_by_env(const void *x, const void *y)
{
	const Overseer__V1__SecretRef *const *p = x, *const *q = y;

	return strcmp((*p)->env, (*q)->env);
}

int closure_secrets_to_json(struct arena *a, Overseer__V1__SecretRef *const *refs, size_t n,
                            const char *env_json, char **out)
{
	Overseer__V1__SecretRef **sorted;
	json_t *env = env_json ? json_loads(env_json, 0, NULL) : NULL;
	json_t *arr;
	size_t i;
	int err = 0;

	if (n > CLOSURE_SECRETS_MAX) {
		json_decref(env);
		return ovr_err_set(OVR_ERR_INVALID, "secrets: at most %d references",
		                   CLOSURE_SECRETS_MAX);
	}
	for (i = 0; i < n && !err; i++) {
		const Overseer__V1__SecretRef *r = refs[i];

		if (!r->env[0] || !closure_env_key_valid(r->env))
			err = ovr_err_set(OVR_ERR_INVALID,
			                  "secrets[%zu].env: '%.80s' is not a valid variable name "
			                  "([A-Za-z_][A-Za-z0-9_]*)",
			                  i, r->env);
		else if (strncmp(r->env, "OVR_", 4) == 0)
			err = ovr_err_set(
			        OVR_ERR_INVALID,
			        "secrets[%zu].env: %s: names starting with OVR_ are set by "
			        "Overseer (node variables, discovery)",
			        i, r->env);
		else if (!ovr_name_valid(r->secret))
			err = ovr_err_set(
			        OVR_ERR_INVALID,
			        "secrets[%zu].secret: '%.80s' is not a valid secret name "
			        "(lowercase letters, digits and '-', starting with a letter)",
			        i, r->secret);
		else if (env && json_object_get(env, r->env))
			err = ovr_err_set(
			        OVR_ERR_INVALID,
			        "secrets[%zu].env: %s is also a plain environment variable; "
			        "keep one of the two",
			        i, r->env);
	}
	json_decref(env);
	if (err)
		return err;
	sorted = arena_calloc(a, n + 1, sizeof(*sorted));
	if (n)
		memcpy(sorted, refs, n * sizeof(*sorted));
	qsort(sorted, n, sizeof(*sorted), ref_by_env);
	for (i = 1; i < n; i++)
		if (strcmp(sorted[i]->env, sorted[i - 1]->env) == 0)
			return ovr_err_set(OVR_ERR_INVALID, "secrets: variable %s is given twice",
			                   sorted[i]->env);
	arr = json_array();
	for (i = 0; i < n; i++)
		json_array_append_new(arr, json_pack("{s:s, s:s, s:i}", "env", sorted[i]->env,
		                                     "secret", sorted[i]->secret, "version",
		                                     (int)sorted[i]->version));
	*out = dump_arena(a, arr, "[]");
	json_decref(arr);
	return 0;
}

static const char *str_or_empty(struct arena *a, json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return arena_strdup(a, s ? s : "");
}

void closure_secrets_from_json(struct arena *a, const char *json, Overseer__V1__SecretRef ***out,
                               size_t *n_out)
{
	json_t *arr = json ? json_loads(json, 0, NULL) : NULL;
	size_t i, n = json_is_array(arr) ? json_array_size(arr) : 0;

	*out = arena_calloc(a, n + 1, sizeof(**out));
	for (i = 0; i < n; i++) {
		json_t *o = json_array_get(arr, i);
		Overseer__V1__SecretRef *r = arena_alloc(a, sizeof(*r));

		overseer__v1__secret_ref__init(r);
		r->env = (char *)str_or_empty(a, o, "env");
		r->secret = (char *)str_or_empty(a, o, "secret");
		r->version = (int32_t)json_integer_value(json_object_get(o, "version"));
		(*out)[i] = r;
	}
	*n_out = n;
	json_decref(arr);
}

int closure_routes_to_json(struct arena *a, Overseer__V1__Route *const *routes, size_t n,
                           const char *compose_yaml, char **out)
{
	struct compose_file *f = NULL;
	json_t *arr;
	size_t i;
	int err;

	if (n == 0) {
		*out = arena_strdup(a, "[]");
		return 0;
	}
	err = compose_file_parse(&f, compose_yaml, strlen(compose_yaml));
	if (!err)
		err = routes_check((const Overseer__V1__Route *const *)routes, n, f);
	compose_file_free(f);
	if (err)
		return err;
	arr = json_array();
	for (i = 0; i < n; i++)
		json_array_append_new(arr, json_pack("{s:s, s:s, s:i, s:s, s:b}", "service",
		                                     routes[i]->service, "host", routes[i]->host,
		                                     "port", (int)routes[i]->port, "path_prefix",
		                                     routes[i]->path_prefix, "tls",
		                                     (int)routes[i]->tls));
	*out = dump_arena(a, arr, "[]");
	json_decref(arr);
	return 0;
}

void closure_routes_from_json(struct arena *a, const char *json, Overseer__V1__Route ***out,
                              size_t *n_out)
{
	json_t *arr = json ? json_loads(json, 0, NULL) : NULL;
	size_t i, n = json_is_array(arr) ? json_array_size(arr) : 0;

	*out = arena_calloc(a, n + 1, sizeof(**out));
	for (i = 0; i < n; i++) {
		json_t *o = json_array_get(arr, i);
		Overseer__V1__Route *r = arena_alloc(a, sizeof(*r));

		overseer__v1__route__init(r);
		r->service = (char *)str_or_empty(a, o, "service");
		r->host = (char *)str_or_empty(a, o, "host");
		r->port = (int32_t)json_integer_value(json_object_get(o, "port"));
		r->path_prefix = (char *)str_or_empty(a, o, "path_prefix");
		r->tls = json_is_true(json_object_get(o, "tls"));
		(*out)[i] = r;
	}
	*n_out = n;
	json_decref(arr);
}

char *closure_secrets_lines(struct arena *a, Overseer__V1__SecretRef *const *refs, size_t n)
{
	char *out = arena_strdup(a, "");
	size_t i;

	for (i = 0; i < n; i++)
		out = arena_printf(a, "%s%s=%s@v%d\n", out, refs[i]->env, refs[i]->secret,
		                   (int)refs[i]->version);
	return out;
}

char *closure_routes_lines(struct arena *a, Overseer__V1__Route *const *routes, size_t n)
{
	char *out = arena_strdup(a, "");
	size_t i;

	for (i = 0; i < n; i++) {
		const char *path = routes[i]->path_prefix;

		out = arena_printf(a, "%s%s:%d=%s%s%s\n", out, routes[i]->service,
		                   (int)routes[i]->port, routes[i]->host,
		                   strcmp(path, "/") == 0 ? "" : path,
		                   routes[i]->tls ? ",tls" : "");
	}
	return out;
}
