/*
 * Service discovery's source: node_apps holds each node's last report of each app's containers
 * (packed protobuf), so the endpoints are read from there and the nodes' addresses.
 */
#include "db_endpoints.h"

#include "db_row.h"
#include "err.h"
#include "strutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int container_serving(const Overseer__V1__ContainerState *c)
{
	return strcmp(c->state, "running") == 0 && (!c->health[0] || !strcmp(c->health, "healthy"));
}

/*
 * "host_ip:host_port->container_port/proto" (host_ip may be "::" or empty) into the address other
 * nodes reach: node_addr for a wildcard bind. 0 if the entry is malformed.
 */
static int endpoint_address(char *out, size_t size, const char *port, const char *node_addr)
{
	const char *arrow = strstr(port, "->"), *colon;
	char ip[128];
	size_t ip_len;
	long p;
	char *end;

	if (!arrow)
		return 0;
	for (colon = arrow; colon > port && *colon != ':'; colon--)
		;
	if (*colon != ':')
		return 0;
	p = strtol(colon + 1, &end, 10);
	if (end != arrow || p < 1 || p > 65535)
		return 0;
	ip_len = (size_t)(colon - port);
	if (ip_len >= sizeof(ip))
		return 0;
	memcpy(ip, port, ip_len);
	ip[ip_len] = '\0';
	if (!ip[0] || !strcmp(ip, "0.0.0.0") || !strcmp(ip, "::"))
		ovr_strlcpy(ip, node_addr, sizeof(ip));
	if (!ip[0])
		return 0;
	snprintf(out, size, strchr(ip, ':') ? "[%s]:%ld" : "%s:%ld", ip, p);
	return 1;
}

static int endpoint_cmp(const void *x, const void *y)
{
	const Overseer__V1__Endpoint *const *p = x, *const *q = y;
	int c;

	if ((c = strcmp((*p)->app, (*q)->app)) != 0)
		return c;
	if ((c = strcmp((*p)->service, (*q)->service)) != 0)
		return c;
	if ((c = strcmp((*p)->node, (*q)->node)) != 0)
		return c;
	return strcmp((*p)->address, (*q)->address);
}

int db_endpoints_list(struct db *db, struct arena *a, const char *app,
                      Overseer__V1__Endpoint ***out, size_t *n_out)
{
	const char *params[1] = {app ? app : ""};
	Overseer__V1__Endpoint **eps;
	size_t n = 0, i, j, k, kept;
	PGresult *res;
	int row, rows;

	res = db_query(db,
	               "SELECT na.app, n.name, coalesce(n.addresses[1], n.hostname), na.containers "
	               "FROM node_apps na JOIN nodes n ON n.id = na.node_id AND n.state = 'active' "
	               "JOIN apps a ON a.name = na.app AND a.deleted_at IS NULL WHERE $1 = '' OR "
	               "na.app = $1",
	               1, params);
	if (!res)
		return ovr_err_last();
	rows = PQntuples(res);
	eps = arena_calloc(a, DB_ENDPOINTS_MAX + 1, sizeof(*eps));
	for (row = 0; row < rows; row++) {
		Overseer__V1__NodeDeployment *nd = (Overseer__V1__NodeDeployment *)db_cell_message(
		        a, res, row, 3, &overseer__v1__node_deployment__descriptor);
		const char *node_addr = db_get_text(res, row, 2);

		for (i = 0; nd && i < nd->n_containers; i++) {
			const Overseer__V1__ContainerState *c = nd->containers[i];

			if (!container_serving(c))
				continue;
			for (j = 0; j < c->n_ports && n < DB_ENDPOINTS_MAX; j++) {
				char addr[300];
				Overseer__V1__Endpoint *e;

				if (!endpoint_address(addr, sizeof(addr), c->ports[j],
				                      node_addr ? node_addr : ""))
					continue;
				e = arena_alloc(a, sizeof(*e));
				overseer__v1__endpoint__init(e);
				e->app = db_cell(a, res, row, 0);
				e->service = arena_strdup(a, c->service);
				e->node = db_cell(a, res, row, 1);
				e->address = arena_strdup(a, addr);
				eps[n++] = e;
			}
		}
	}
	PQclear(res);
	qsort(eps, n, sizeof(*eps), endpoint_cmp);
	for (k = 0, kept = 0; k < n; k++)
		if (kept == 0 || endpoint_cmp(&eps[k], &eps[kept - 1]) != 0)
			eps[kept++] = eps[k];
	*out = eps;
	*n_out = kept;
	return 0;
}
