/* Routes of an app version: validation (every field ends up inside a Traefik rule or a label, so
 * only plain DNS and URL characters pass) and the Traefik labels generated from them. */
#include "routes.h"

#include "err.h"
#include "strutil.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#define ROUTES_LIST_MAX 8 /* service names listed in an "unknown service" message */

static int is_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* Compose's rule for service names, bounded. */
static int service_valid(const char *s)
{
	size_t i;

	for (i = 0; s[i] != '\0'; i++)
		if (!is_alnum(s[i]) && s[i] != '.' && s[i] != '_' && s[i] != '-')
			return 0;
	return i > 0 && i <= ROUTES_SERVICE_MAX;
}

/* A DNS name: labels of 1-63 letters, digits and '-', not starting or ending with '-'. */
static int host_valid(const char *h)
{
	size_t i, label = 0;

	for (i = 0; h[i] != '\0'; i++) {
		if (i >= ROUTES_HOST_MAX)
			return 0;
		if (h[i] == '.') {
			if (label == 0 || h[i - 1] == '-')
				return 0;
			label = 0;
		} else if (is_alnum(h[i]) || h[i] == '-') {
			if (h[i] == '-' && label == 0)
				return 0;
			if (++label > 63)
				return 0;
		} else {
			return 0;
		}
	}
	return label > 0 && h[i - 1] != '-';
}

static int is_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/*
 * '/' then RFC 3986 path characters, less those a Traefik rule or compose would read: unreserved
 * (letters, digits, "-._~"), '/', ':', '@', "!&*+;=" and %XX escapes. No quote, backtick,
 * parenthesis, comma, brace, '$' or space.
 */
static int path_valid(const char *p)
{
	size_t i;

	if (p[0] == '\0')
		return 1;
	if (p[0] != '/')
		return 0;
	for (i = 1; p[i] != '\0'; i++) {
		if (i >= ROUTES_PATH_MAX)
			return 0;
		if (p[i] == '%') {
			if (!is_hex(p[i + 1]) || !is_hex(p[i + 2]))
				return 0;
			i += 2;
		} else if (!is_alnum(p[i]) && strchr("-._~/:@!&*+;=", p[i]) == NULL) {
			return 0;
		}
	}
	return 1;
}

/* The path a rule matches: "" and "/" both mean every path. */
static const char *path_norm(const char *p)
{
	return p == NULL || strcmp(p, "/") == 0 ? "" : p;
}

/* "routes[i].service: 'x' is not a service of the compose file (services: a, b)" */
static int unknown_service(size_t i, const char *name, const struct compose_file *f)
{
	char list[ROUTES_LIST_MAX * (ROUTES_SERVICE_MAX + 2) + 8] = "";
	size_t k, len = 0;

	for (k = 0; k < f->n_services && k < ROUTES_LIST_MAX; k++) {
		int w = snprintf(list + len, sizeof(list) - len, "%s%.*s", k ? ", " : "",
		                 ROUTES_SERVICE_MAX, f->services[k].name);

		if (w < 0 || (size_t)w >= sizeof(list) - len)
			break;
		len += (size_t)w;
	}
	if (f->n_services > ROUTES_LIST_MAX)
		snprintf(list + len, sizeof(list) - len, ", ...");
	return ovr_err_set(OVR_ERR_INVALID,
	                   "routes[%zu].service: '%s' is not a service of the compose file "
	                   "(services: %s)",
	                   i, name, f->n_services > 0 ? list : "none");
}

static int route_check(const Overseer__V1__Route *r, size_t i, const struct compose_file *f)
{
	const char *service = r->service != NULL ? r->service : "";
	const char *host = r->host != NULL ? r->host : "";
	const char *path = r->path_prefix != NULL ? r->path_prefix : "";

	if (service[0] == '\0')
		return ovr_err_set(OVR_ERR_INVALID, "routes[%zu].service: required", i);
	if (!service_valid(service))
		return ovr_err_set(OVR_ERR_INVALID,
		                   "routes[%zu].service: a compose service name: 1 to %d letters, "
		                   "digits, '.', '_' and '-'",
		                   i, ROUTES_SERVICE_MAX);
	if (f != NULL && compose_file_service(f, service) == NULL)
		return unknown_service(i, service, f);
	if (host[0] == '\0')
		return ovr_err_set(OVR_ERR_INVALID, "routes[%zu].host: required", i);
	if (!host_valid(host))
		return ovr_err_set(OVR_ERR_INVALID,
		                   "routes[%zu].host: a DNS name (letters, digits, '-' and '.', at "
		                   "most %d bytes; no wildcard)",
		                   i, ROUTES_HOST_MAX);
	if (r->port == 0)
		return ovr_err_set(OVR_ERR_INVALID, "routes[%zu].port: required", i);
	if (r->port < 1 || r->port > 65535)
		return ovr_err_set(OVR_ERR_INVALID, "routes[%zu].port: must be 1 to 65535", i);
	if (!path_valid(path))
		return ovr_err_set(OVR_ERR_INVALID,
		                   "routes[%zu].path_prefix: empty, or '/' followed by URL path "
		                   "characters (letters, digits, \"-._~/:@!&*+;=\" and %%XX), at "
		                   "most %d bytes",
		                   i, ROUTES_PATH_MAX);
	return 0;
}

int routes_check(const Overseer__V1__Route *const *routes, size_t n, const struct compose_file *f)
{
	size_t i, k;
	int err;

	if (n > ROUTES_MAX)
		return ovr_err_set(OVR_ERR_TOO_LARGE, "routes: at most %d routes", ROUTES_MAX);
	for (i = 0; i < n; i++) {
		if (routes[i] == NULL)
			return ovr_err_set(OVR_ERR_INVALID, "routes[%zu]: missing", i);
		err = route_check(routes[i], i, f);
		if (err != 0)
			return err;
		for (k = 0; k < i; k++)
			if (strcasecmp(routes[k]->host, routes[i]->host) == 0 &&
			    strcmp(path_norm(routes[k]->path_prefix),
			           path_norm(routes[i]->path_prefix)) == 0)
				return ovr_err_set(OVR_ERR_INVALID,
				                   "routes[%zu]: the same host and path_prefix as "
				                   "routes[%zu]",
				                   i, k);
	}
	return 0;
}

/* "ovr-APP-SERVICE-i": lowercase, only [a-z0-9-], so it is one segment of a label key. */
static char *router_name(struct arena *a, const char *app, const char *service, size_t i)
{
	char *name = arena_printf(a, "ovr-%s-%s-%zu", app, service, i);
	char *p;

	for (p = name; *p != '\0'; p++) {
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
		else if (!is_alnum(*p))
			*p = '-';
	}
	return name;
}

static void label_add(struct route_label *l, size_t *n, const char *service, const char *key,
                      const char *value)
{
	l[*n].service = service;
	l[*n].key = key;
	l[*n].value = value;
	(*n)++;
}

int routes_labels(struct route_label **out, size_t *n_out, struct arena *a, const char *app,
                  const Overseer__V1__Route *const *routes, size_t n)
{
	struct route_label *l;
	size_t i, k, count = 0;
	int err;

	*out = NULL;
	*n_out = 0;
	if (app == NULL || !ovr_name_valid(app))
		return ovr_err_set(OVR_ERR_INVALID, "app name must match ^[a-z][a-z0-9-]{0,62}$");
	err = routes_check(routes, n, NULL);
	if (err != 0)
		return err;
	if (n == 0)
		return 0;
	l = arena_calloc(a, n * 5, sizeof(*l));
	for (i = 0; i < n; i++) {
		const Overseer__V1__Route *r = routes[i];
		const char *path = path_norm(r->path_prefix);
		char *name = router_name(a, app, r->service, i);
		char *rule;

		for (k = 0; k < i; k++)
			if (strcmp(routes[k]->service, r->service) == 0)
				break;
		if (k == i)
			label_add(l, &count, r->service, "traefik.enable", "true");
		if (path[0] != '\0')
			rule = arena_printf(a, "Host(`%s`) && PathPrefix(`%s`)", r->host, path);
		else
			rule = arena_printf(a, "Host(`%s`)", r->host);
		label_add(l, &count, r->service,
		          arena_printf(a, "traefik.http.routers.%s.rule", name), rule);
		label_add(l, &count, r->service,
		          arena_printf(a, "traefik.http.routers.%s.service", name), name);
		if (r->tls)
			label_add(l, &count, r->service,
			          arena_printf(a, "traefik.http.routers.%s.tls", name), "true");
		label_add(
		        l, &count, r->service,
		        arena_printf(a, "traefik.http.services.%s.loadbalancer.server.port", name),
		        arena_printf(a, "%d", (int)r->port));
	}
	*out = l;
	*n_out = count;
	return 0;
}
