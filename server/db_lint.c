/* Lint's queries: the ports other apps' containers publish, read from the agents' reports. */
#include "db_lint.h"

#include "db_deploy.h"
#include "db_row.h"
#include "err.h"
#include "overseer/v1/apps.pb-c.h"

#include <string.h>

/*
 * One ContainerState.ports entry, "host_ip:host_port->container_port/proto"
 * ("0.0.0.0:8080->80/tcp",
 * ":::8080->80/tcp"), into u; 0 if it is not that.
 */
static int port_from_report(struct arena *a, const char *text, struct compose_lint_port_use *u)
{
	const char *arrow = strstr(text, "->"), *colon, *slash, *p;
	int port = 0;

	if (!arrow)
		return 0;
	for (colon = arrow; colon > text && colon[-1] != ':'; colon--)
		;
	if (colon == text || colon == arrow || arrow - colon > 5)
		return 0;
	for (p = colon; p < arrow; p++) {
		if (*p < '0' || *p > '9')
			return 0;
		port = port * 10 + (*p - '0');
	}
	if (port < 1 || port > 65535)
		return 0;
	slash = strchr(arrow, '/');
	u->host_port = port;
	u->host_ip = arena_strndup(a, text, (size_t)(colon - 1 - text));
	u->proto = arena_strdup(a, slash ? slash + 1 : "tcp");
	return 1;
}

static int any_address(const char *ip)
{
	return !ip[0] || strcmp(ip, "0.0.0.0") == 0 || strcmp(ip, "::") == 0;
}

/* Docker lists a port once for 0.0.0.0 and once for ::; one entry is enough. */
static int same_as_last(const struct compose_lint_port_use *uses, size_t n, const char *node,
                        const char *app)
{
	const struct compose_lint_port_use *last = n ? &uses[n - 1] : NULL;

	return last && last->host_port == uses[n].host_port &&
	       strcmp(last->proto, uses[n].proto) == 0 &&
	       (strcmp(last->host_ip, uses[n].host_ip) == 0 ||
	        (any_address(last->host_ip) && any_address(uses[n].host_ip))) &&
	       strcmp(last->node, node) == 0 && strcmp(last->app, app) == 0;
}

/* Appends the ports of one app on one node to uses[n...]; the new count. */
static size_t add_ports(struct arena *a, struct compose_lint_port_use *uses, size_t n,
                        const Overseer__V1__NodeDeployment *nd, const char *node, const char *app)
{
	size_t c, k;

	for (c = 0; c < nd->n_containers; c++)
		for (k = 0; k < nd->containers[c]->n_ports && n < DB_LINT_PORTS_MAX; k++)
			if (port_from_report(a, nd->containers[c]->ports[k], &uses[n]) &&
			    !same_as_last(uses, n, node, app)) {
				uses[n].node = node;
				uses[n].app = app;
				n++;
			}
	return n;
}

int db_lint_ports(struct db *db, struct arena *a, const char *app, const char *targets_json,
                  struct compose_lint_port_use **out, size_t *n_out)
{
	char limit[DB_INT64_SIZE];
	const char *params[3] = {targets_json, app ? app : "",
	                         db_param_int64(limit, DB_LINT_ROWS_MAX)};
	const Overseer__V1__NodeDeployment **nds;
	struct compose_lint_port_use *uses;
	size_t n = 0, total = 0, c;
	PGresult *res;
	int i, rows;

	*out = NULL;
	*n_out = 0;
	res = db_query(db,
	               "SELECT n.name, na.app, na.containers FROM (SELECT coalesce($1::jsonb, "
	               "(SELECT targets FROM apps WHERE name = $2 AND deleted_at IS NULL)) AS "
	               "targets) t JOIN nodes n ON n.state = 'active' AND " DB_TARGETS(
	                       "t", "n") " JOIN node_apps na ON na.node_id = n.id AND na.app <> "
	                                 "$2 ORDER BY n.name, na.app LIMIT $3::int",
	               3, params);
	if (!res)
		return ovr_err_last();
	rows = PQntuples(res);
	nds = arena_calloc(a, (size_t)rows + 1, sizeof(*nds));
	for (i = 0; i < rows; i++) {
		nds[i] = (const Overseer__V1__NodeDeployment *)db_cell_message(
		        a, res, i, 2, &overseer__v1__node_deployment__descriptor);
		for (c = 0; nds[i] && c < nds[i]->n_containers; c++)
			total += nds[i]->containers[c]->n_ports;
	}
	uses = arena_calloc(a, total < DB_LINT_PORTS_MAX ? total + 1 : DB_LINT_PORTS_MAX,
	                    sizeof(*uses));
	for (i = 0; i < rows; i++)
		if (nds[i])
			n = add_ports(a, uses, n, nds[i], db_cell(a, res, i, 0),
			              db_cell(a, res, i, 1));
	PQclear(res);
	*out = uses;
	*n_out = n;
	return 0;
}
