/* The health gate over the database: the rows are read, gate.c decides, changed rows are written.
 */
#include "db_gate.h"

#include "db_row.h"
#include "err.h"
#include "gate.h"
#include "strutil.h"

#include <stdio.h>
#include <string.h>

/* Columns in the order gate_row reads them. */
#define GATE_COLUMNS                                                                               \
	"dn.deployment_id, dn.node_id, dn.state, coalesce(" DB_MS(                                 \
	        "dn.healthy_since") ", 0), "                                                       \
	                            "dn.restart_baseline, dn.message, d.version, "                 \
	                            "a.min_healthy_time_ms, "                                      \
	                            "a.healthy_deadline_ms, " DB_MS(                               \
	                                    "dn.released_at") ", " DB_MS(                          \
	                                    "now()")

#define GATE_FROM                                                                                  \
	" FROM deployment_nodes dn JOIN deployments d ON d.id = dn.deployment_id JOIN apps a ON "  \
	"a.name = d.app WHERE d.state = 1 AND d.kind <> 4 AND dn.released_at IS NOT NULL "

static void gate_row(const PGresult *res, int row, struct gate_node *n, struct gate_settings *s,
                     int64_t *now_ms)
{
	const char *msg = db_get_text(res, row, 5);

	n->state = db_cell_int(res, row, 2);
	n->healthy_since_ms = db_cell_int64(res, row, 3);
	n->restart_baseline = db_cell_int64(res, row, 4);
	ovr_strlcpy(n->message, msg ? msg : "", sizeof(n->message));
	s->version = db_cell_int64(res, row, 6);
	s->min_healthy_ms = db_cell_int64(res, row, 7);
	s->healthy_deadline_ms = db_cell_int64(res, row, 8);
	s->deadline_ms = s->healthy_deadline_ms > 0
	                         ? db_cell_int64(res, row, 9) + s->healthy_deadline_ms
	                         : 0;
	*now_ms = db_cell_int64(res, row, 10);
}

static int gate_store(struct db *db, const char *deployment_id, const char *node_id,
                      const struct gate_node *n, const char *containers_param)
{
	char state[DB_INT64_SIZE], since[DB_INT64_SIZE], base[DB_INT64_SIZE];
	const char *params[7] = {deployment_id,
	                         node_id,
	                         db_param_int64(state, n->state),
	                         db_param_int64(since, n->healthy_since_ms),
	                         db_param_int64(base, n->restart_baseline),
	                         n->message,
	                         containers_param};

	return db_exec(db,
	               "UPDATE deployment_nodes SET state = $3::int, healthy_since = CASE WHEN "
	               "$4::bigint = 0 THEN NULL ELSE " DB_FROM_MS(
	                       "$4") " END, restart_baseline "
	                             "= $5::bigint, message = $6, containers = coalesce($7::bytea, "
	                             "containers), "
	                             "updated_at = now() WHERE deployment_id = $1 AND node_id = $2",
	               7, params);
}

int db_gate_report(struct db *db, const char *node_id, const Overseer__V1__AppReport *r,
                   const char *containers_param, json_t *changed)
{
	const char *params[3] = {r->deployment_id, node_id, r->app};
	struct gate_report rep = {r->phase, r->version, 0, r->message};
	struct gate_settings s;
	struct gate_node n;
	int64_t now_ms;
	PGresult *res;
	size_t i;
	int err;

	res = db_query(db,
	               "SELECT " GATE_COLUMNS GATE_FROM
	               "AND dn.deployment_id = $1 AND dn.node_id = $2 AND d.app = $3 FOR UPDATE OF "
	               "dn",
	               3, params);
	if (!res)
		return ovr_err_last();
	if (PQntuples(res) == 0) {
		PQclear(res);
		return 0;
	}
	gate_row(res, 0, &n, &s, &now_ms);
	PQclear(res);
	for (i = 0; i < r->n_containers; i++)
		rep.restarts += r->containers[i]->restart_count;
	/* The containers are stored with every report, so progress shows what runs. */
	gate_on_report(&n, &s, &rep, now_ms);
	err = gate_store(db, r->deployment_id, node_id, &n, containers_param);
	if (!err)
		json_array_append_new(changed, json_string(r->deployment_id));
	return err;
}

int db_gate_tick(struct db *db, json_t *changed)
{
	struct gate_settings s;
	struct gate_node n;
	int64_t now_ms;
	PGresult *res;
	int i, rows, err = 0;

	res = db_query(db,
	               "SELECT " GATE_COLUMNS GATE_FROM
	               "AND dn.state NOT IN (5, 6, 7) ORDER BY dn.deployment_id FOR UPDATE OF dn "
	               "SKIP LOCKED",
	               0, NULL);
	if (!res)
		return ovr_err_last();
	rows = PQntuples(res);
	for (i = 0; i < rows && !err; i++) {
		const char *dep = db_get_text(res, i, 0);

		gate_row(res, i, &n, &s, &now_ms);
		if (!gate_on_tick(&n, &s, now_ms))
			continue;
		err = gate_store(db, dep, db_get_text(res, i, 1), &n, NULL);
		if (!err)
			json_array_append_new(changed, json_string(dep));
	}
	PQclear(res);
	return err;
}
