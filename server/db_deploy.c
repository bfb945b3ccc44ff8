/*
 * Deployments and desired state in PostgreSQL. Every statement is parameterised; every change that
 * touches several rows runs in one transaction, so a crash leaves either all of it or none.
 */
#include "db_deploy.h"

#include "closure.h"
#include "crypto.h"
#include "db_app.h"
#include "db_gate.h"
#include "db_row.h"
#include "err.h"
#include "labels.h"
#include "log.h"
#include "metrics.h"
#include "strutil.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

/* Enum values as they are stored (overseer.v1 enums). */
#define D_IN_PROGRESS "1"
#define N_PENDING     1
#define N_SENT        2
#define N_APPLYING    3
#define N_RUNNING     4
#define N_HEALTHY     5
#define N_FAILED      6
#define N_REMOVED     7
#define K_REMOVE      OVERSEER__V1__DEPLOYMENT_KIND__DEPLOYMENT_KIND_REMOVE

#define REPORT_APPS_MAX 1024

/* The nodes that targeted-or-running app `$1` selects, for an app row named a. */
#define NODES_OF_APP                                                                               \
	"n.state = 'active' AND (" DB_TARGETS("a",                                                 \
	                                      "n") " OR EXISTS (SELECT 1 FROM node_apps x "        \
	                                           "WHERE x.node_id = n.id AND x.app = a.name))"

static int collect_ids(struct arena *a, PGresult *res, struct db_node_ids *out)
{
	int i, rows = PQntuples(res);

	out->ids = arena_calloc(a, (size_t)rows + 1, sizeof(char *));
	for (i = 0; i < rows; i++)
		out->ids[i] = db_cell(a, res, i, 0);
	out->n = (size_t)rows;
	return 0;
}

void db_node_ids_merge(struct arena *a, struct db_node_ids *into, const struct db_node_ids *from)
{
	char **ids = arena_calloc(a, into->n + from->n + 1, sizeof(char *));
	size_t i, j, n = into->n;

	if (into->n)
		memcpy(ids, into->ids, into->n * sizeof(char *));
	for (i = 0; i < from->n; i++) {
		for (j = 0; j < n && strcmp(ids[j], from->ids[i]) != 0; j++)
			;
		if (j == n)
			ids[n++] = from->ids[i];
	}
	into->ids = ids;
	into->n = n;
}

int db_deploy_touch_app(struct db *db, struct arena *a, const char *app,
                        struct db_node_ids *touched)
{
	const char *params[1] = {app};
	PGresult *res;

	res = db_query(
	        db,
	        "UPDATE nodes n SET desired_generation = n.desired_generation + 1 FROM apps a "
	        "WHERE a.name = $1 AND " NODES_OF_APP " RETURNING n.id",
	        1, params);
	if (!res)
		return ovr_err_last();
	collect_ids(a, res, touched);
	PQclear(res);
	return 0;
}

/* With no_supersede: OVR_ERR_PRECONDITION naming the deployment of app that is in progress. */
static int refuse_if_in_progress(struct db *db, struct arena *a, const char *app)
{
	const char *params[1] = {app};
	PGresult *res;
	int err = 0;

	res = db_query(
	        db,
	        "SELECT id, version FROM deployments WHERE app = $1 AND state = " D_IN_PROGRESS
	        " ORDER BY started_at DESC LIMIT 1",
	        1, params);
	if (!res)
		return ovr_err_last();
	if (PQntuples(res) > 0)
		err = ovr_err_set(
		        OVR_ERR_PRECONDITION,
		        "deployment %s of app '%s' (version %lld) is in progress; wait for "
		        "it, or deploy without no_supersede to supersede it",
		        db_cell(a, res, 0, 0), app, (long long)db_cell_int64(res, 0, 1));
	PQclear(res);
	return err;
}

/*
 * Releases the next nodes of a rolling deployment in progress, in name order, so that at most
 * max_parallel of its released nodes are still on their way (neither healthy nor failed). Their
 * desired generation moves; they are added to push.
 */
static int release_next(struct db *db, struct arena *a, const char *id, struct db_node_ids *push)
{
	const char *params[2] = {id, NULL};
	struct db_node_ids released = {0};
	char slots[DB_INT64_SIZE];
	int64_t n;
	PGresult *res;

	res = db_query(
	        db,
	        "SELECT d.max_parallel - count(dn.node_id) FILTER (WHERE dn.released_at IS "
	        "NOT NULL AND dn.state NOT IN (5, 6, 7)), count(dn.node_id) FILTER (WHERE "
	        "dn.released_at IS NULL) FROM deployments d LEFT JOIN deployment_nodes dn ON "
	        "dn.deployment_id = d.id WHERE d.id = $1 AND d.state = " D_IN_PROGRESS
	        " AND d.max_parallel > 0 GROUP BY d.max_parallel",
	        1, params);
	if (!res)
		return ovr_err_last();
	n = PQntuples(res) && db_cell_int64(res, 0, 1) > 0 ? db_cell_int64(res, 0, 0) : 0;
	PQclear(res);
	if (n <= 0)
		return 0;
	params[1] = db_param_int64(slots, n);
	res = db_query(db,
	               "WITH next AS (SELECT dn.node_id FROM deployment_nodes dn JOIN nodes n ON "
	               "n.id = dn.node_id WHERE dn.deployment_id = $1 AND dn.released_at IS NULL "
	               "ORDER BY n.name LIMIT $2::bigint), rel AS (UPDATE deployment_nodes dn SET "
	               "released_at = now(), message = '', updated_at = now() FROM next WHERE "
	               "dn.deployment_id = $1 AND dn.node_id = next.node_id RETURNING dn.node_id) "
	               "UPDATE nodes n SET desired_generation = n.desired_generation + 1 FROM rel "
	               "WHERE n.id = rel.node_id RETURNING n.id, n.name",
	               2, params);
	if (!res)
		return ovr_err_last();
	collect_ids(a, res, &released);
	for (int i = 0; i < PQntuples(res); i++)
		log_info("deployment %s: node %s's turn", id, db_get_text(res, i, 1));
	PQclear(res);
	db_node_ids_merge(a, push, &released);
	return 0;
}

/* A deployment's kind, end state and seconds from start to end, for metrics_deploy_ended. */
#define ENDED_COLS "kind, state, extract(epoch from finished_at - started_at)"

/*
 * Metrics: counts the ended deployments in res (rows of ENDED_COLS). They are counted when the
 * end is recorded, inside the caller's transaction: one that then fails to commit (the database
 * failed) was counted all the same.
 */
static void count_ended(const PGresult *res)
{
	for (int i = 0; i < PQntuples(res); i++) {
		const char *secs = db_get_text(res, i, 2);

		metrics_deploy_ended(db_cell_int(res, i, 0), db_cell_int(res, i, 1),
		                     secs ? strtod(secs, NULL) : 0);
	}
}

/* Metrics: counts deployment id's end as its row now says (see count_ended). */
static void count_ended_id(struct db *db, const char *id)
{
	PGresult *res =
	        db_query(db, "SELECT " ENDED_COLS " FROM deployments WHERE id = $1", 1, &id);

	if (res)
		count_ended(res);
	PQclear(res);
}

int db_deploy_start(struct db *db, struct arena *a, const struct db_deploy_new *d, char **id_out,
                    struct db_node_ids *touched)
{
	char id[17], ver[DB_INT64_SIZE], kind[DB_INT64_SIZE];
	const char *params[6];
	PGresult *res;
	int err;

	if (d->no_supersede) {
		err = refuse_if_in_progress(db, a, d->app);
		if (err)
			return err;
	}
	crypto_random_hex(id, 8);
	params[0] = d->app;
	params[1] = id;
	res = db_query(
	        db,
	        "UPDATE deployments SET state = 5, finished_at = now(), reason = 'superseded "
	        "by deployment ' || $2 WHERE app = $1 AND state = " D_IN_PROGRESS
	        " RETURNING " ENDED_COLS,
	        2, params);
	if (!res)
		return ovr_err_last();
	count_ended(res); /* metrics: the superseded ones */
	PQclear(res);
	params[2] = db_param_int64(ver, d->version);
	params[3] = db_param_int64(kind, d->kind);
	params[4] = d->actor;
	params[5] = d->purge_volumes ? "true" : "false";
	/*
	 * The rollout is the app's (strategy 2: rolling), fixed for this deployment. Removals and
	 * automatic rollbacks go everywhere at once and tolerate no failure: they are how the app
	 * gets back to safety. Deploys (1) and rollbacks (2) follow the app.
	 */
	err = db_exec(
	        db,
	        "INSERT INTO deployments (id, app, version, kind, state, actor, purge_volumes, "
	        "max_parallel, max_failures) SELECT $2, $1, $3::bigint, $4::int, " D_IN_PROGRESS
	        ", $5, $6::boolean, CASE WHEN a.strategy = 2 AND $4::int IN (1, 2) "
	        "THEN a.max_parallel ELSE 0 END, CASE WHEN $4::int IN (1, 2) THEN a.max_failures "
	        "ELSE 0 END FROM apps a WHERE a.name = $1",
	        6, params);
	if (err)
		return err;
	/* A removal also reaches nodes that still run the app but are no longer targeted. */
	res = db_query(
	        db,
	        d->kind == K_REMOVE
	                ? "INSERT INTO deployment_nodes (deployment_id, node_id, released_at) "
	                  "SELECT $2, n.id, now() FROM apps a, nodes n WHERE a.name = $1 "
	                  "AND " NODES_OF_APP
	                : "INSERT INTO deployment_nodes (deployment_id, node_id, released_at, "
	                  "message) SELECT $2, n.id, CASE WHEN d.max_parallel = 0 THEN now() "
	                  "END, CASE WHEN d.max_parallel = 0 THEN '' ELSE 'waiting for its "
	                  "turn (rolling, ' || d.max_parallel || ' at a time)' END FROM apps "
	                  "a, nodes n, deployments d WHERE a.name = $1 AND d.id = $2 AND "
	                  "n.state = 'active' AND " DB_TARGETS("a", "n"),
	        2, params);
	if (!res)
		return ovr_err_last();
	if (strcmp(PQcmdTuples(res), "0") == 0) {
		err = db_exec(db,
		              "UPDATE deployments SET state = 2, finished_at = now(), reason = 'no "
		              "node is targeted' WHERE id = $1",
		              1, params + 1);
		if (!err)
			count_ended_id(db, id); /* metrics: succeeded at once */
	}
	PQclear(res);
	if (!err)
		err = db_exec(db, "UPDATE apps SET active_deployment_id = $2 WHERE name = $1", 2,
		              params);
	if (!err)
		err = db_deploy_touch_app(db, a, d->app, touched);
	if (!err)
		err = release_next(db, a, id, touched);
	if (!err)
		*id_out = arena_strdup(a, id);
	if (!err)
		metrics_deploy_started(d->kind); /* metrics */
	return err;
}

int db_deploy_of_version(struct db *db, struct arena *a, const char *app, int64_t version,
                         char **id_out)
{
	char ver[DB_INT64_SIZE];
	const char *params[2] = {app, db_param_int64(ver, version)};
	PGresult *res;

	res = db_query(
	        db,
	        "SELECT id FROM deployments WHERE app = $1 AND version = $2::bigint AND kind "
	        "<> 4 ORDER BY started_at LIMIT 1",
	        2, params);
	if (!res)
		return ovr_err_last();
	*id_out = PQntuples(res) ? db_cell(a, res, 0, 0) : arena_strdup(a, "");
	PQclear(res);
	return 0;
}

int db_deploy_latest_removal(struct db *db, struct arena *a, const char *app, char **id_out)
{
	const char *params[1] = {app};
	PGresult *res;

	res = db_query(db,
	               "SELECT id FROM deployments WHERE app = $1 AND kind = 4 ORDER BY started_at "
	               "DESC LIMIT 1",
	               1, params);
	if (!res)
		return ovr_err_last();
	*id_out = PQntuples(res) ? db_cell(a, res, 0, 0) : arena_strdup(a, "");
	PQclear(res);
	return 0;
}

int db_deploy_get(struct db *db, struct arena *a, const char *id, Overseer__V1__Deployment **out)
{
	const char *params[1] = {id};
	Overseer__V1__Deployment *d;
	PGresult *res;
	int i, rows;

	res = db_query(db,
	               "SELECT id, app, version, kind, state, actor, reason, " DB_MS(
	                       "started_at") ", " DB_MS("finished_at") ", rolled_back_by FROM "
	                                                               "deployments WHERE id = $1",
	               1, params);
	if (!res)
		return ovr_err_last();
	if (PQntuples(res) == 0) {
		PQclear(res);
		return ovr_err_set(OVR_ERR_NOT_FOUND, "deployment '%.40s' not found", id);
	}
	d = arena_alloc(a, sizeof(*d));
	overseer__v1__deployment__init(d);
	d->id = db_cell(a, res, 0, 0);
	d->app = db_cell(a, res, 0, 1);
	d->version = db_cell_int64(res, 0, 2);
	d->kind = db_cell_int(res, 0, 3);
	d->state = db_cell_int(res, 0, 4);
	d->actor = db_cell(a, res, 0, 5);
	d->reason = db_cell(a, res, 0, 6);
	d->started_unix_ms = db_cell_int64(res, 0, 7);
	d->finished_unix_ms = db_cell_int64(res, 0, 8);
	d->rolled_back_by = db_cell(a, res, 0, 9);
	PQclear(res);
	res = db_query(db,
	               "SELECT n.name, dn.state, dn.message, dn.containers, " DB_MS(
	                       "dn.updated_at") " FROM deployment_nodes dn JOIN nodes n ON n.id = "
	                                        "dn.node_id WHERE "
	                                        "dn.deployment_id = $1 ORDER BY n.name",
	               1, params);
	if (!res)
		return ovr_err_last();
	rows = PQntuples(res);
	d->nodes = arena_calloc(a, (size_t)rows + 1, sizeof(*d->nodes));
	for (i = 0; i < rows; i++) {
		Overseer__V1__NodeDeployment *nd = arena_alloc(a, sizeof(*nd));
		Overseer__V1__NodeDeployment *stored =
		        (Overseer__V1__NodeDeployment *)db_cell_message(
		                a, res, i, 3, &overseer__v1__node_deployment__descriptor);

		overseer__v1__node_deployment__init(nd);
		nd->node = db_cell(a, res, i, 0);
		nd->state = db_cell_int(res, i, 1);
		nd->message = db_cell(a, res, i, 2);
		if (stored) {
			nd->containers = stored->containers;
			nd->n_containers = stored->n_containers;
		}
		nd->updated_unix_ms = db_cell_int64(res, i, 4);
		d->nodes[i] = nd;
	}
	d->n_nodes = (size_t)rows;
	PQclear(res);
	*out = d;
	return 0;
}

/* ---- desired state ---- */

static Overseer__V1__DesiredApp *desired_from_row(struct arena *a, const PGresult *res, int row)
{
	Overseer__V1__DesiredApp *d = arena_alloc(a, sizeof(*d));
	Overseer__V1__HealthSettings *h = arena_alloc(a, sizeof(*h));

	overseer__v1__desired_app__init(d);
	overseer__v1__health_settings__init(h);
	d->app = db_cell(a, res, row, 0);
	d->version = db_cell_int64(res, row, 1);
	d->content_hash = db_cell(a, res, row, 2);
	d->compose_yaml = db_cell(a, res, row, 3);
	labels_from_json(a, db_get_text(res, row, 4),
	                 &overseer__v1__desired_app__environment_entry__descriptor,
	                 &d->n_environment, (void ***)&d->environment);
	d->deployment_id = db_cell(a, res, row, 5);
	h->min_healthy_time_ms = db_cell_int64(res, row, 6);
	h->healthy_deadline_ms = db_cell_int64(res, row, 7);
	h->auto_rollback_disabled = db_cell_bool(res, row, 8);
	d->health = h;
	closure_routes_from_json(a, db_get_text(res, row, 9), &d->routes, &d->n_routes);
	return d;
}

static int desired_read(struct db *db, struct arena *a, const char *node_id,
                        Overseer__V1__Sync *sync, Overseer__V1__Remove ***removes_out,
                        size_t *n_removes_out)
{
	const char *params[1] = {node_id};
	Overseer__V1__Remove **removes;
	PGresult *res;
	int i, rows;

	res = db_query(db, "SELECT desired_generation FROM nodes WHERE id = $1", 1, params);
	if (!res)
		return ovr_err_last();
	if (PQntuples(res) == 0) {
		PQclear(res);
		return ovr_err_set(OVR_ERR_NOT_FOUND, "node %.64s not found", node_id);
	}
	sync->generation = db_cell_int64(res, 0, 0);
	PQclear(res);
	/*
	 * Each targeted app at its current version, with its active deployment; but a node still
	 * waiting for its turn in that deployment (rolling) keeps what it was last given: the
	 * version of the newest deployment that released it, else what it reports running. A node
	 * with neither gets nothing yet.
	 */
	res = db_query(
	        db,
	        "SELECT a.name, v.version, v.content_hash, v.compose_yaml, v.environment::text, "
	        "CASE WHEN w.node_id IS NULL THEN coalesce(a.active_deployment_id, '') ELSE "
	        "coalesce(prev.id, na.deployment_id) END, a.min_healthy_time_ms, "
	        "a.healthy_deadline_ms, a.auto_rollback_disabled, v.routes::text FROM nodes n "
	        "JOIN apps a ON "
	        "a.deleted_at IS NULL AND a.current_version > 0 AND " DB_TARGETS(
	                "a", "n") " LEFT JOIN deployment_nodes w ON w.deployment_id = "
	                          "a.active_deployment_id AND "
	                          "w.node_id = n.id AND w.released_at IS NULL LEFT JOIN LATERAL "
	                          "(SELECT d.id, "
	                          "d.version FROM deployments d JOIN deployment_nodes dn ON "
	                          "dn.deployment_id = d.id "
	                          "WHERE w.node_id IS NOT NULL AND d.app = a.name AND dn.node_id = "
	                          "n.id AND d.kind "
	                          "<> 4 AND dn.released_at IS NOT NULL ORDER BY d.started_at DESC "
	                          "LIMIT 1) prev ON "
	                          "true LEFT JOIN node_apps na ON na.node_id = n.id AND na.app = "
	                          "a.name JOIN "
	                          "app_versions v ON v.app = a.name AND v.version = CASE WHEN "
	                          "w.node_id IS NULL THEN "
	                          "a.current_version ELSE coalesce(prev.version, na.version) END "
	                          "WHERE n.id = $1 AND "
	                          "n.state = 'active' ORDER BY a.name",
	        1, params);
	if (!res)
		return ovr_err_last();
	rows = PQntuples(res);
	sync->apps = arena_calloc(a, (size_t)rows + 1, sizeof(*sync->apps));
	for (i = 0; i < rows; i++)
		sync->apps[i] = desired_from_row(a, res, i);
	sync->n_apps = (size_t)rows;
	PQclear(res);
	res = db_query(db,
	               "SELECT d.app, d.purge_volumes, d.id FROM deployments d JOIN "
	               "deployment_nodes dn ON dn.deployment_id = d.id WHERE dn.node_id = $1 AND "
	               "d.kind = 4 AND d.state = " D_IN_PROGRESS " AND dn.state <> 7 ORDER BY "
	               "d.started_at",
	               1, params);
	if (!res)
		return ovr_err_last();
	rows = PQntuples(res);
	removes = arena_calloc(a, (size_t)rows + 1, sizeof(*removes));
	for (i = 0; i < rows; i++) {
		Overseer__V1__Remove *r = arena_alloc(a, sizeof(*r));

		overseer__v1__remove__init(r);
		r->generation = sync->generation;
		r->app = db_cell(a, res, i, 0);
		r->purge_volumes = db_cell_bool(res, i, 1);
		r->deployment_id = db_cell(a, res, i, 2);
		removes[i] = r;
	}
	PQclear(res);
	*removes_out = removes;
	*n_removes_out = (size_t)rows;
	return 0;
}

int db_desired_for_node(struct db *db, struct arena *a, const char *node_id,
                        Overseer__V1__Sync **sync_out, Overseer__V1__Remove ***removes_out,
                        size_t *n_removes_out)
{
	Overseer__V1__Sync *sync = arena_alloc(a, sizeof(*sync));
	int err;

	overseer__v1__sync__init(sync);
	err = db_begin(db);
	if (err)
		return err;
	/* One snapshot: the generation must describe exactly the set that goes with it. */
	err = db_exec(db, "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY", 0, NULL);
	if (!err)
		err = desired_read(db, a, node_id, sync, removes_out, n_removes_out);
	if (err) {
		db_rollback(db);
		return err;
	}
	err = db_commit(db);
	if (!err)
		*sync_out = sync;
	return err;
}

int db_deploy_mark_sent(struct db *db, struct arena *a, const char *node_id, char *const *ids,
                        size_t n)
{
	json_t *arr = json_array();
	const char *params[2];
	char *text;
	size_t i;
	int err;

	if (n == 0) {
		json_decref(arr);
		return 0;
	}
	for (i = 0; i < n; i++)
		json_array_append_new(arr, json_string(ids[i]));
	text = json_dumps(arr, JSON_COMPACT);
	json_decref(arr);
	params[0] = node_id;
	params[1] = arena_strdup(a, text ? text : "[]");
	free(text);
	err = db_exec(
	        db,
	        "UPDATE deployment_nodes SET state = 2, updated_at = now() WHERE node_id = $1 "
	        "AND state = 1 AND released_at IS NOT NULL AND deployment_id IN (SELECT "
	        "jsonb_array_elements_text($2::"
	        "jsonb))",
	        2, params);
	return err;
}

/* ---- reports ---- */

/* The outcome of a failed deployment: rolled back to last-known-good, or failed with why not. */
static int on_failure(struct db *db, struct arena *a, const char *id, struct db_node_ids *push)
{
	const char *params[3] = {id, NULL, NULL};
	struct db_app_change change;
	char *app, *reason, *msg;
	int64_t version, lkg, to;
	int kind, disabled, err;
	PGresult *res;

	res = db_query(db,
	               "SELECT d.app, d.kind, d.version, d.reason, a.last_known_good_version, "
	               "a.auto_rollback_disabled FROM deployments d JOIN apps a ON a.name = d.app "
	               "WHERE d.id = $1",
	               1, params);
	if (!res)
		return ovr_err_last();
	app = db_cell(a, res, 0, 0);
	kind = db_cell_int(res, 0, 1);
	version = db_cell_int64(res, 0, 2);
	reason = db_cell(a, res, 0, 3);
	lkg = db_cell_int64(res, 0, 4);
	disabled = db_cell_bool(res, 0, 5);
	PQclear(res);
	if (kind == OVERSEER__V1__DEPLOYMENT_KIND__DEPLOYMENT_KIND_AUTO_ROLLBACK)
		msg = arena_strdup(a, "; the automatic rollback failed too: an operator must act");
	else if (disabled)
		msg = arena_strdup(a, "; automatic rollback is off for this app");
	else if (lkg == 0 || lkg == version)
		msg = arena_strdup(a, "; there is no last-known-good version to roll back to");
	else {
		/* Stack-atomic: every targeted node goes back to last-known-good, healthy or not.
		 */
		err = db_app_auto_rollback(
		        db, a, app, lkg,
		        arena_printf(a, "automatic rollback: deployment %s of version %lld failed",
		                     id, (long long)version),
		        &to, &change);
		if (err)
			return err;
		db_node_ids_merge(a, push, &change.touched);
		log_info("deployment %s failed: app=%s rolls back to version %lld as version %lld "
		         "(deployment %s)",
		         id, app, (long long)lkg, (long long)to, change.deployment_id);
		params[1] =
		        arena_printf(a,
		                     "%s; rolled back automatically to version %lld (version "
		                     "%lld, deployment %s)",
		                     reason, (long long)lkg, (long long)to, change.deployment_id);
		params[2] = change.deployment_id;
		return db_exec(db,
		               "UPDATE deployments SET state = 4, reason = $2, rolled_back_by = $3 "
		               "WHERE id = $1",
		               3, params);
	}
	log_info("deployment %s failed: app=%s%s", id, app, msg);
	params[1] = arena_printf(a, "%s%s", reason, msg);
	return db_exec(db, "UPDATE deployments SET reason = $2 WHERE id = $1", 2, params);
}

int db_deploy_evaluate(struct db *db, struct arena *a, const char *id, struct db_node_ids *push)
{
	const char *params[2] = {id, NULL};
	PGresult *res;
	int64_t total, failed, done, max_failures;
	int kind, err = 0;

	/* The app row first, then the deployment: the order a deploy takes them in. */
	res = db_query(db,
	               "SELECT 1 FROM apps a JOIN deployments d ON d.app = a.name WHERE d.id = $1 "
	               "FOR UPDATE OF a",
	               1, params);
	if (!res)
		return ovr_err_last();
	PQclear(res);
	res = db_query(db,
	               "SELECT kind, max_failures FROM deployments WHERE id = $1 AND state "
	               "= " D_IN_PROGRESS " FOR UPDATE",
	               1, params);
	if (!res)
		return ovr_err_last();
	if (PQntuples(res) == 0) {
		PQclear(res);
		return 0;
	}
	kind = db_cell_int(res, 0, 0);
	max_failures = db_cell_int64(res, 0, 1);
	PQclear(res);
	res = db_query(db,
	               "SELECT count(*), count(*) FILTER (WHERE state = 6), count(*) FILTER (WHERE "
	               "state IN (5, 7)) FROM deployment_nodes WHERE deployment_id = $1",
	               1, params);
	if (!res)
		return ovr_err_last();
	total = db_cell_int64(res, 0, 0);
	failed = db_cell_int64(res, 0, 1);
	done = db_cell_int64(res, 0, 2);
	PQclear(res);
	if (failed > max_failures) {
		/*
		 * The reason names the first node that failed and what it said. Nodes a rolling
		 * deployment had not reached keep what they run.
		 */
		params[1] = max_failures > 0
		                    ? arena_printf(a,
		                                   " (%lld nodes failed; max_failures is "
		                                   "%lld)",
		                                   (long long)failed, (long long)max_failures)
		                    : "";
		err = db_exec(
		        db,
		        "UPDATE deployments d SET state = 3, finished_at = now(), reason = "
		        "(SELECT 'node ' || n.name || ': ' || dn.message FROM deployment_nodes "
		        "dn JOIN nodes n ON n.id = dn.node_id WHERE dn.deployment_id = d.id AND "
		        "dn.state = 6 ORDER BY dn.updated_at LIMIT 1) || $2 WHERE d.id = $1",
		        2, params);
		if (!err)
			err = db_exec(
			        db,
			        "UPDATE deployment_nodes SET message = 'not updated: the "
			        "deployment failed before this node''s turn', updated_at = now() "
			        "WHERE deployment_id = $1 AND released_at IS NULL",
			        1, params);
		if (!err && kind != K_REMOVE)
			err = on_failure(db, a, id, push);
		if (!err)
			count_ended_id(db, id); /* metrics: failed, or rolled back by on_failure */
	} else if (done + failed == total) {
		/* Every node is through the gate, or failed within max_failures. */
		params[1] = failed > 0 ? arena_printf(a,
		                                      "%lld of %lld nodes failed, within "
		                                      "max_failures %lld",
		                                      (long long)failed, (long long)total,
		                                      (long long)max_failures)
		                       : "";
		err = db_exec(db,
		              "UPDATE deployments SET state = 2, finished_at = now(), reason = $2 "
		              "WHERE id = $1",
		              2, params);
		if (!err && kind != K_REMOVE)
			err = db_exec(db,
			              "UPDATE apps a SET last_known_good_version = d.version FROM "
			              "deployments d WHERE d.id = $1 AND a.name = d.app",
			              1, params);
		if (!err)
			log_info("deployment %s succeeded", id);
		if (!err)
			count_ended_id(db, id); /* metrics */
	} else {
		err = release_next(db, a, id, push);
	}
	return err;
}

/* Evaluates each distinct deployment id in changed. */
static int evaluate_all(struct db *db, struct arena *a, json_t *changed, struct db_node_ids *push)
{
	size_t i, j;
	int err = 0;

	for (i = 0; i < json_array_size(changed) && !err; i++) {
		const char *id = json_string_value(json_array_get(changed, i));

		for (j = 0; j < i; j++)
			if (strcmp(id, json_string_value(json_array_get(changed, j))) == 0)
				break;
		if (j == i)
			err = db_deploy_evaluate(db, a, id, push);
	}
	return err;
}

int db_deploy_tick(struct db *db, struct arena *a, struct db_node_ids *push)
{
	json_t *changed = json_array();
	PGresult *res;
	int err, mine = 0;

	memset(push, 0, sizeof(*push));
	err = db_begin(db);
	if (err) {
		json_decref(changed);
		return err;
	}
	/* One replica decides at a time; the lock ends with the transaction. */
	res = db_query(db, "SELECT pg_try_advisory_xact_lock(" DB_LOCK_ORCHESTRATE_SQL ")", 0,
	               NULL);
	if (!res)
		err = ovr_err_last();
	else {
		mine = db_cell_bool(res, 0, 0);
		PQclear(res);
	}
	if (!err && mine)
		err = db_gate_tick(db, changed);
	if (!err && mine)
		err = evaluate_all(db, a, changed, push);
	json_decref(changed);
	if (err) {
		db_rollback(db);
		return err;
	}
	return db_commit(db);
}

/* The node states an agent may report for a deployment. */
static int phase_reportable(int phase)
{
	return phase == N_APPLYING || phase == N_RUNNING || phase == N_HEALTHY || phase == N_FAILED;
}

static int report_app(struct db *db, struct arena *a, const char *node_id,
                      const Overseer__V1__AppReport *r, json_t *touched)
{
	Overseer__V1__NodeDeployment holder = OVERSEER__V1__NODE_DEPLOYMENT__INIT;
	char ver[DB_INT64_SIZE], phase[DB_INT64_SIZE], gen[DB_INT64_SIZE];
	const char *params[9];

	holder.containers = r->containers;
	holder.n_containers = r->n_containers;
	params[0] = node_id;
	params[1] = r->app;
	params[2] = db_param_int64(ver, r->version);
	params[3] = r->content_hash;
	params[4] = db_param_int64(phase, r->phase);
	params[5] = r->message;
	params[6] = db_param_message(a, &holder.base);
	params[7] = r->deployment_id;
	params[8] = db_param_int64(gen, r->generation);
	if (db_exec(db,
	            "INSERT INTO node_apps (node_id, app, version, content_hash, phase, message, "
	            "containers, deployment_id, generation) VALUES ($1, $2, $3::bigint, $4, "
	            "$5::int, "
	            "$6, $7::bytea, $8, $9::bigint) ON CONFLICT (node_id, app) DO UPDATE SET "
	            "version = EXCLUDED.version, content_hash = EXCLUDED.content_hash, phase = "
	            "EXCLUDED.phase, message = EXCLUDED.message, containers = EXCLUDED.containers, "
	            "deployment_id = EXCLUDED.deployment_id, generation = EXCLUDED.generation, "
	            "updated_at = now()",
	            9, params) != 0)
		return ovr_err_last();
	if (!r->deployment_id[0] || !phase_reportable(r->phase))
		return 0;
	return db_gate_report(db, node_id, r, params[6], touched);
}

/* After a full report: what the node no longer runs is gone, and its removals are done. */
static int report_full(struct db *db, struct arena *a, const char *node_id,
                       const Overseer__V1__StatusReport *report, json_t *touched)
{
	json_t *names = json_array();
	const char *params[2];
	PGresult *res;
	char *text;
	size_t i;
	int rows, err;

	for (i = 0; i < report->n_apps; i++)
		json_array_append_new(names, json_string(report->apps[i]->app));
	text = json_dumps(names, JSON_COMPACT);
	json_decref(names);
	params[0] = node_id;
	params[1] = arena_strdup(a, text ? text : "[]");
	free(text);
	err = db_exec(db,
	              "DELETE FROM node_apps WHERE node_id = $1 AND app NOT IN (SELECT "
	              "jsonb_array_elements_text($2::jsonb))",
	              2, params);
	if (err)
		return err;
	res = db_query(
	        db,
	        "UPDATE deployment_nodes dn SET state = 7, message = 'removed', updated_at = "
	        "now() FROM deployments d WHERE d.id = dn.deployment_id AND d.kind = 4 AND "
	        "d.state = 1 AND dn.node_id = $1 AND dn.state <> 7 AND d.app NOT IN (SELECT "
	        "jsonb_array_elements_text($2::jsonb)) RETURNING d.id",
	        2, params);
	if (!res)
		return ovr_err_last();
	rows = PQntuples(res);
	for (int r = 0; r < rows; r++)
		json_array_append_new(touched, json_string(db_get_text(res, r, 0)));
	PQclear(res);
	return 0;
}

static int report_validate(const Overseer__V1__StatusReport *report)
{
	size_t i;

	if (report->n_apps > REPORT_APPS_MAX)
		return ovr_err_set(OVR_ERR_INVALID, "status: more than %d apps", REPORT_APPS_MAX);
	for (i = 0; i < report->n_apps; i++) {
		const Overseer__V1__AppReport *r = report->apps[i];

		if (!ovr_name_valid(r->app))
			return ovr_err_set(OVR_ERR_INVALID, "status: '%.80s' is not an app name",
			                   r->app);
		if (strlen(r->message) > 8192 || strlen(r->content_hash) > 128 ||
		    strlen(r->deployment_id) > 64)
			return ovr_err_set(OVR_ERR_INVALID, "status of app %s: a field is too long",
			                   r->app);
	}
	return 0;
}

int db_deploy_report(struct db *db, struct arena *a, const char *node_id,
                     const Overseer__V1__StatusReport *report, struct db_node_ids *push)
{
	json_t *touched;
	size_t i;
	int err;

	err = report_validate(report);
	if (err)
		return err;
	touched = json_array();
	err = db_begin(db);
	for (i = 0; i < report->n_apps && !err; i++)
		err = report_app(db, a, node_id, report->apps[i], touched);
	if (!err && report->full)
		err = report_full(db, a, node_id, report, touched);
	if (!err)
		err = evaluate_all(db, a, touched, push);
	json_decref(touched);
	if (err) {
		db_rollback(db);
		return err;
	}
	return db_commit(db);
}

/* ---- observed state ---- */

static const Overseer__V1__AppStatus status_of_deployment[] = {
        [OVERSEER__V1__DEPLOYMENT_STATE__DEPLOYMENT_STATE_IN_PROGRESS] =
                OVERSEER__V1__APP_STATUS__APP_STATUS_DEPLOYING,
        [OVERSEER__V1__DEPLOYMENT_STATE__DEPLOYMENT_STATE_SUCCEEDED] =
                OVERSEER__V1__APP_STATUS__APP_STATUS_HEALTHY,
        [OVERSEER__V1__DEPLOYMENT_STATE__DEPLOYMENT_STATE_FAILED] =
                OVERSEER__V1__APP_STATUS__APP_STATUS_FAILED,
        [OVERSEER__V1__DEPLOYMENT_STATE__DEPLOYMENT_STATE_ROLLED_BACK] =
                OVERSEER__V1__APP_STATUS__APP_STATUS_FAILED,
        [OVERSEER__V1__DEPLOYMENT_STATE__DEPLOYMENT_STATE_SUPERSEDED] =
                OVERSEER__V1__APP_STATUS__APP_STATUS_DEPLOYING,
};

/* For db_deploy_app_state: the active deployment's row dn speaks for the node, not its report na.
 */
#define ON_ITS_WAY                                                                                 \
	"dn.deployment_id IS NOT NULL AND (na.app IS NULL OR (dn.released_at IS NOT NULL AND "     \
	"na.deployment_id <> dn.deployment_id))"

static int app_status(struct db *db, struct arena *a, Overseer__V1__App *app)
{
	const char *params[1] = {app->name};
	PGresult *res;
	int state;

	res = db_query(db,
	               "SELECT d.id, d.state, d.reason, d.kind FROM apps a JOIN deployments d ON "
	               "d.id = a.active_deployment_id WHERE a.name = $1",
	               1, params);
	if (!res)
		return ovr_err_last();
	if (PQntuples(res)) {
		state = db_cell_int(res, 0, 1);
		if (state > 0 &&
		    (size_t)state < sizeof(status_of_deployment) / sizeof(status_of_deployment[0]))
			app->status = status_of_deployment[state];
		/* A failed automatic rollback leaves nothing known to work: an operator must act.
		 */
		if (state == OVERSEER__V1__DEPLOYMENT_STATE__DEPLOYMENT_STATE_FAILED &&
		    db_cell_int(res, 0, 3) ==
		            OVERSEER__V1__DEPLOYMENT_KIND__DEPLOYMENT_KIND_AUTO_ROLLBACK)
			app->status = OVERSEER__V1__APP_STATUS__APP_STATUS_DEGRADED;
		app->status_message = db_cell(a, res, 0, 2);
		if (state == OVERSEER__V1__DEPLOYMENT_STATE__DEPLOYMENT_STATE_IN_PROGRESS)
			app->active_deployment_id = db_cell(a, res, 0, 0);
	}
	PQclear(res);
	return 0;
}

int db_deploy_app_state(struct db *db, struct arena *a, Overseer__V1__App *app)
{
	const char *params[1] = {app->name};
	PGresult *res;
	int i, rows, err;

	err = app_status(db, a, app);
	if (err)
		return err;
	/*
	 * While a deployment is on its way to a node, the node shows the deployment's state for it;
	 * once the agent reports on that deployment, what the agent says. A node waiting for its
	 * turn shows what it runs, if anything. The version is always what the node runs.
	 */
	res = db_query(
	        db,
	        "SELECT n.name, coalesce(na.version, 0), CASE WHEN " ON_ITS_WAY " THEN dn.state "
	        "ELSE coalesce(na.phase, 1) END, CASE WHEN " ON_ITS_WAY " THEN dn.message ELSE "
	        "coalesce(na.message, '') END, na.containers, " DB_MS(
	                "coalesce(na.updated_at, dn.updated_at)") ", n.connected_server IS NOT "
	                                                          "NULL "
	                                                          "FROM apps a JOIN nodes n "
	                                                          "ON " NODES_OF_APP
	                                                          " LEFT JOIN node_apps na ON "
	                                                          "na.node_id = n.id AND na.app = "
	                                                          "a.name LEFT JOIN "
	                                                          "deployment_nodes dn ON "
	                                                          "dn.deployment_id = "
	                                                          "a.active_deployment_id AND "
	                                                          "dn.node_id = "
	                                                          "n.id WHERE a.name = $1 UNION "
	                                                          "ALL SELECT t.name, 0, 1, 'no "
	                                                          "node with this name has "
	                                                          "enrolled', NULL, 0, false FROM "
	                                                          "apps a, "
	                                                          "jsonb_array_elements_text(a."
	                                                          "targets->'nodes') "
	                                                          "AS t(name) WHERE a.name = $1 "
	                                                          "AND NOT EXISTS (SELECT 1 FROM "
	                                                          "nodes n WHERE n.name = "
	                                                          "t.name AND n.state = 'active') "
	                                                          "ORDER BY 1",
	        1, params);
	if (!res)
		return ovr_err_last();
	rows = PQntuples(res);
	app->nodes = arena_calloc(a, (size_t)rows + 1, sizeof(*app->nodes));
	for (i = 0; i < rows; i++) {
		Overseer__V1__NodeAppState *s = arena_alloc(a, sizeof(*s));
		Overseer__V1__NodeDeployment *stored =
		        (Overseer__V1__NodeDeployment *)db_cell_message(
		                a, res, i, 4, &overseer__v1__node_deployment__descriptor);

		overseer__v1__node_app_state__init(s);
		s->node = db_cell(a, res, i, 0);
		s->version = db_cell_int64(res, i, 1);
		s->phase = db_cell_int(res, i, 2);
		s->message = db_cell(a, res, i, 3);
		if (stored) {
			s->containers = stored->containers;
			s->n_containers = stored->n_containers;
		}
		s->updated_unix_ms = db_cell_int64(res, i, 5);
		if (!db_cell_bool(res, i, 6) && !s->message[0])
			s->message = arena_strdup(a, "node is offline");
		app->nodes[i] = s;
	}
	app->n_nodes = (size_t)rows;
	PQclear(res);
	return 0;
}
