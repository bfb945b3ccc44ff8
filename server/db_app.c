/* Queries on apps, their immutable versions and the request ids that make retries idempotent. */
#include "db_app.h"

#include "closure.h"
#include "crypto.h"
#include "db_row.h"
#include "db_secret.h"
#include "err.h"
#include "labels.h"
#include "strutil.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Columns in the order app_from_row reads them. */
#define APP_COLUMNS                                                                                \
	"name, targets::text, current_version, last_known_good_version, min_healthy_time_ms, "     \
	"healthy_deadline_ms, auto_rollback_disabled, strategy, max_parallel, max_failures, "      \
	"strict_lint, " DB_MS("created_at") ", " DB_MS("updated_at")

/* Columns in the order version_from_row reads them; $3 true: include the compose file. */
#define VERSION_COLUMNS                                                                            \
	"app, version, CASE WHEN $3::boolean THEN compose_yaml ELSE '' END, environment::text, "   \
	"content_hash, author, message, " DB_MS("created_at") ", rollback_of, kind, "              \
	                                                      "secrets::text, routes::text"

static Overseer__V1__Targets *targets_from_json(struct arena *a, const char *text)
{
	Overseer__V1__Targets *t = arena_alloc(a, sizeof(*t));
	json_t *obj = json_loads(text ? text : "{}", 0, NULL);
	json_t *nodes = json_object_get(obj, "nodes");
	const char *selector = json_string_value(json_object_get(obj, "selector"));
	size_t i, n = json_is_array(nodes) ? json_array_size(nodes) : 0;

	overseer__v1__targets__init(t);
	t->nodes = arena_calloc(a, n + 1, sizeof(char *));
	for (i = 0; i < n; i++) {
		const char *s = json_string_value(json_array_get(nodes, i));

		t->nodes[i] = arena_strdup(a, s ? s : "");
	}
	t->n_nodes = n;
	t->selector = arena_strdup(a, selector ? selector : "");
	json_decref(obj);
	return t;
}

static Overseer__V1__App *app_from_row(struct arena *a, const PGresult *res, int row)
{
	Overseer__V1__App *app = arena_alloc(a, sizeof(*app));
	Overseer__V1__HealthSettings *h = arena_alloc(a, sizeof(*h));
	Overseer__V1__RolloutSettings *r = arena_alloc(a, sizeof(*r));
	int b = 0;

	overseer__v1__app__init(app);
	overseer__v1__health_settings__init(h);
	overseer__v1__rollout_settings__init(r);
	app->name = db_cell(a, res, row, 0);
	app->targets = targets_from_json(a, db_get_text(res, row, 1));
	app->current_version = db_cell_int64(res, row, 2);
	app->last_known_good_version = db_cell_int64(res, row, 3);
	h->min_healthy_time_ms = db_cell_int64(res, row, 4);
	h->healthy_deadline_ms = db_cell_int64(res, row, 5);
	db_get_bool(&b, res, row, 6);
	h->auto_rollback_disabled = b;
	b = db_cell_int(res, row, 7);
	r->strategy = (Overseer__V1__Strategy)b;
	r->max_parallel = db_cell_int(res, row, 8);
	r->max_failures = db_cell_int(res, row, 9);
	db_get_bool(&b, res, row, 10);
	app->strict_lint = b;
	app->created_unix_ms = db_cell_int64(res, row, 11);
	app->updated_unix_ms = db_cell_int64(res, row, 12);
	app->health = h;
	app->rollout = r;
	return app;
}

static Overseer__V1__AppVersion *version_from_row(struct arena *a, const PGresult *res, int row)
{
	Overseer__V1__AppVersion *v = arena_alloc(a, sizeof(*v));
	int kind;

	overseer__v1__app_version__init(v);
	v->app = db_cell(a, res, row, 0);
	v->version = db_cell_int64(res, row, 1);
	v->compose_yaml = db_cell(a, res, row, 2);
	labels_from_json(a, db_get_text(res, row, 3),
	                 &overseer__v1__app_version__environment_entry__descriptor,
	                 &v->n_environment, (void ***)&v->environment);
	v->content_hash = db_cell(a, res, row, 4);
	v->author = db_cell(a, res, row, 5);
	v->message = db_cell(a, res, row, 6);
	v->created_unix_ms = db_cell_int64(res, row, 7);
	v->rollback_of = db_cell_int64(res, row, 8);
	kind = db_cell_int(res, row, 9);
	v->kind = (Overseer__V1__DeploymentKind)kind;
	closure_secrets_from_json(a, db_get_text(res, row, 10), &v->secrets, &v->n_secrets);
	closure_routes_from_json(a, db_get_text(res, row, 11), &v->routes, &v->n_routes);
	return v;
}

/* JSON text re-serialised compactly with sorted keys, so equal values hash equally (arena). */
static char *canonical_json(struct arena *a, const char *text, const char *dflt)
{
	json_t *j = json_loads(text ? text : dflt, 0, NULL);
	char *dumped = j ? json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	char *out = arena_strdup(a, dumped ? dumped : dflt);

	free(dumped);
	json_decref(j);
	return out;
}

/*
 * The content hash: SHA-256 (lowercase hex) over
 *   "overseer-closure-v1\ncompose <len>\n" <compose bytes> "\nenvironment " <json>
 *   "\nsecrets " <json> "\nroutes " <json> "\n"
 * with each JSON value compact and its keys sorted. The compose length prefix keeps the
 * serialisation unambiguous whatever bytes the file holds.
 */
static void content_hash(struct arena *a, char out[2 * CRYPTO_SHA256_LEN + 1], const char *compose,
                         const char *env_json, const char *secrets_json, const char *routes_json)
{
	char *env = canonical_json(a, env_json, "{}");
	char *secrets = canonical_json(a, secrets_json, "[]");
	char *routes = canonical_json(a, routes_json, "[]");
	char *buf = arena_printf(a,
	                         "overseer-closure-v1\ncompose %zu\n%s\nenvironment %s\nsecrets "
	                         "%s\nroutes %s\n",
	                         strlen(compose), compose, env, secrets, routes);
	unsigned char digest[CRYPTO_SHA256_LEN];

	crypto_sha256(digest, buf, strlen(buf));
	ovr_hex_encode(out, digest, sizeof(digest));
}

static int insert_version(struct db *db, struct arena *a, const char *name, int64_t version,
                          const char *compose, const char *env_json, const char *secrets_json,
                          const char *routes_json, const struct db_app_version_new *v,
                          int64_t rollback_of)
{
	char ver[DB_INT64_SIZE], rb[DB_INT64_SIZE], kind[DB_INT64_SIZE];
	char hash[2 * CRYPTO_SHA256_LEN + 1];
	const char *params[11];

	content_hash(a, hash, compose, env_json, secrets_json, routes_json);
	params[0] = name;
	params[1] = db_param_int64(ver, version);
	params[2] = compose;
	params[3] = env_json;
	params[4] = secrets_json;
	params[5] = routes_json;
	params[6] = hash;
	params[7] = v->author;
	params[8] = v->message ? v->message : "";
	params[9] = db_param_int64(rb, rollback_of);
	params[10] = db_param_int64(kind, v->kind);
	return db_exec(
	        db,
	        "INSERT INTO app_versions (app, version, compose_yaml, environment, secrets, "
	        "routes, content_hash, author, message, rollback_of, kind) VALUES ($1, "
	        "$2::bigint, $3, $4::jsonb, $5::jsonb, $6::jsonb, $7, $8, $9, $10::bigint, "
	        "$11::int)",
	        11, params);
}

/*
 * The first route of routes_json that another app already serves, with the same host and path,
 * on a node this app runs on: OVR_ERR_PRECONDITION naming both, else 0.
 */
static int routes_conflict(struct db *db, const char *name, const char *routes_json)
{
	const char *params[2] = {name, routes_json};
	PGresult *res;
	int err = 0;

	if (!routes_json || strcmp(routes_json, "[]") == 0)
		return 0;
	res = db_query(
	        db,
	        "SELECT o.name, r->>'host', coalesce(nullif(r->>'path_prefix', ''), '/'), n.name "
	        "FROM apps me JOIN nodes n ON n.state = 'active' AND " DB_TARGETS(
	                "me",
	                "n") " JOIN apps o ON o.deleted_at IS NULL AND o.name <> me.name AND "
	                     "o.current_version "
	                     "> 0 AND " DB_TARGETS(
	                             "o",
	                             "n") " JOIN app_versions ov ON ov.app = o.name AND ov.version "
	                                  "= o.current_version "
	                                  "CROSS JOIN LATERAL jsonb_array_elements(ov.routes) r "
	                                  "JOIN "
	                                  "jsonb_array_elements($2::jsonb) mine ON "
	                                  "lower(mine->>'host') = lower(r->>'host') "
	                                  "AND coalesce(nullif(mine->>'path_prefix', ''), '/') = "
	                                  "coalesce(nullif(r->>'path_prefix', ''), '/') WHERE "
	                                  "me.name = $1 ORDER BY 1, 4 "
	                                  "LIMIT 1",
	        2, params);
	if (!res)
		return ovr_err_last();
	if (PQntuples(res) > 0)
		err = ovr_err_set(
		        OVR_ERR_PRECONDITION,
		        "routes: host %s path %s is already routed to app '%s' on node %s; "
		        "two apps cannot claim the same host and path on one node",
		        db_get_text(res, 0, 1), db_get_text(res, 0, 2), db_get_text(res, 0, 0),
		        db_get_text(res, 0, 3));
	PQclear(res);
	return err;
}

/*
 * The secrets and routes of a new version. A deploy takes those given (or the source's), checks
 * them against the final compose file and environment, and pins each reference to its secret's
 * current version: so `deploy` without changes picks up rotated secrets. A rollback keeps the
 * source's pins, so it restores the old secret values too; they must still exist.
 */
static int closure_resolve(struct db *db, struct arena *a, const char *name,
                           const struct db_app_version_new *v, const char *compose, const char *env,
                           const char *src_secrets, const char *src_routes,
                           const char **secrets_out, const char **routes_out)
{
	Overseer__V1__SecretRef **refs = (Overseer__V1__SecretRef **)v->secrets;
	Overseer__V1__Route **routes = (Overseer__V1__Route **)v->routes;
	size_t n_refs = v->n_secrets, n_routes = v->n_routes;
	char *secrets = NULL, *pinned = NULL, *routes_json = NULL;
	int err;

	if (v->kind != OVERSEER__V1__DEPLOYMENT_KIND__DEPLOYMENT_KIND_DEPLOY) {
		*secrets_out = src_secrets;
		*routes_out = src_routes;
		err = db_secret_check_pinned(db, a, src_secrets);
		return err ? err : routes_conflict(db, name, src_routes);
	}
	if (!v->replace_secrets)
		closure_secrets_from_json(a, src_secrets, &refs, &n_refs);
	if (!v->replace_routes)
		closure_routes_from_json(a, src_routes, &routes, &n_routes);
	err = closure_secrets_to_json(a, refs, n_refs, env, &secrets);
	if (!err)
		err = db_secret_pin(db, a, secrets, &pinned);
	if (!err)
		err = closure_routes_to_json(a, routes, n_routes, compose, &routes_json);
	if (!err)
		err = routes_conflict(db, name, routes_json);
	*secrets_out = pinned;
	*routes_out = routes_json;
	return err;
}

static int remember_request(struct db *db, const char *name, const char *request_id,
                            int64_t version)
{
	char ver[DB_INT64_SIZE];
	const char *params[3] = {name, request_id, db_param_int64(ver, version)};

	if (!request_id || !request_id[0])
		return 0;
	return db_exec(db,
	               "INSERT INTO request_ids (app, request_id, version) VALUES ($1, $2, "
	               "$3::bigint)",
	               3, params);
}

/* The version a request id created for this app: *version 0 if it was never used. */
static int lookup_request(struct db *db, const char *name, const char *request_id, int64_t *version)
{
	const char *params[2] = {name, request_id};
	PGresult *res;

	*version = 0;
	if (!request_id || !request_id[0])
		return 0;
	res = db_query(db, "SELECT version FROM request_ids WHERE app = $1 AND request_id = $2", 2,
	               params);
	if (!res)
		return ovr_err_last();
	if (PQntuples(res) > 0)
		*version = db_cell_int64(res, 0, 0);
	PQclear(res);
	return 0;
}

static int start_deployment(struct db *db, struct arena *a, const char *name, int64_t version,
                            const struct db_app_version_new *v, struct db_app_change *change)
{
	struct db_deploy_new d = {name, version, v->kind, v->author, 0, v->no_supersede};

	return db_deploy_start(db, a, &d, &change->deployment_id, &change->touched);
}

int db_app_create(struct db *db, struct arena *a, const char *name, const struct db_app_settings *s,
                  int deploy, const struct db_app_version_new *v, Overseer__V1__App **app_out,
                  Overseer__V1__AppVersion **version_out, struct db_app_change *change)
{
	char mh[DB_INT64_SIZE], hd[DB_INT64_SIZE], st[DB_INT64_SIZE], mp[DB_INT64_SIZE],
	        mf[DB_INT64_SIZE];
	const char *params[11];
	const char *env = v->environment_json ? v->environment_json : "{}";
	const char *secrets = NULL, *routes = NULL;
	int64_t earlier = 0;
	int err;

	err = db_begin(db);
	if (err)
		return err;
	err = lookup_request(db, name, v->request_id, &earlier);
	if (err)
		goto fail;
	memset(change, 0, sizeof(*change));
	if (earlier > 0) {
		db_rollback(db);
		goto read;
	}
	params[0] = name;
	params[1] = s->targets_json;
	params[2] = deploy ? "1" : "0";
	params[3] = db_param_int64(mh, s->min_healthy_time_ms);
	params[4] = db_param_int64(hd, s->healthy_deadline_ms);
	params[5] = s->auto_rollback_disabled ? "true" : "false";
	params[6] = db_param_int64(st, s->strategy);
	params[7] = db_param_int64(mp, s->max_parallel);
	params[8] = db_param_int64(mf, s->max_failures);
	params[9] = s->strict_lint ? "true" : "false";
	err = db_exec(db,
	              "INSERT INTO apps (name, targets, current_version, min_healthy_time_ms, "
	              "healthy_deadline_ms, auto_rollback_disabled, strategy, max_parallel, "
	              "max_failures, strict_lint) VALUES ($1, $2::jsonb, $3::bigint, $4::bigint, "
	              "$5::bigint, $6::boolean, $7::int, $8::int, $9::int, $10::boolean)",
	              10, params);
	if (err == OVR_ERR_EXISTS)
		err = ovr_err_set(OVR_ERR_EXISTS,
		                  "app '%s' already exists (the name of a deleted app stays taken, "
		                  "so its history is kept)",
		                  name);
	if (!err)
		err = closure_resolve(db, a, name, v, v->compose_yaml, env, "[]", "[]", &secrets,
		                      &routes);
	if (!err)
		err = insert_version(db, a, name, 1, v->compose_yaml, env, secrets, routes, v, 0);
	if (!err)
		err = remember_request(db, name, v->request_id, 1);
	if (!err && deploy)
		err = start_deployment(db, a, name, 1, v, change);
	if (err)
		goto fail;
	err = db_commit(db);
	if (err)
		return err;
read:
	if (!change->deployment_id)
		err = db_deploy_of_version(db, a, name, 1, &change->deployment_id);
	if (!err)
		err = db_app_get(db, a, name, app_out);
	if (!err)
		err = db_app_version_get(db, a, name, 1, version_out);
	return err;
fail:
	db_rollback(db);
	return err;
}

int db_app_get(struct db *db, struct arena *a, const char *name, Overseer__V1__App **out)
{
	const char *params[1] = {name};
	PGresult *res;
	int err = 0;

	res = db_query(db,
	               "SELECT " APP_COLUMNS " FROM apps WHERE name = $1 AND deleted_at IS NULL", 1,
	               params);
	if (!res)
		return ovr_err_last();
	if (PQntuples(res) == 0)
		err = ovr_err_set(OVR_ERR_NOT_FOUND, "app '%.80s' not found", name);
	else
		*out = app_from_row(a, res, 0);
	PQclear(res);
	return err;
}

int db_app_list(struct db *db, struct arena *a, const char *after_name, int limit,
                Overseer__V1__App ***out, size_t *n_out)
{
	char lim[DB_INT64_SIZE];
	const char *params[2] = {after_name ? after_name : "", db_param_int64(lim, limit)};
	PGresult *res;
	int i, rows;

	res = db_query(db,
	               "SELECT " APP_COLUMNS " FROM apps WHERE deleted_at IS NULL AND name > $1 "
	               "ORDER BY name LIMIT $2::int",
	               2, params);
	if (!res)
		return ovr_err_last();
	rows = PQntuples(res);
	*out = arena_calloc(a, (size_t)rows + 1, sizeof(**out));
	for (i = 0; i < rows; i++)
		(*out)[i] = app_from_row(a, res, i);
	*n_out = (size_t)rows;
	PQclear(res);
	return 0;
}

/* A removal's request id is remembered with this version, which no real version has. */
#define REQUEST_DELETED (-1)

int db_app_delete(struct db *db, struct arena *a, const char *name, const char *actor,
                  int purge_volumes, const char *request_id, struct db_app_change *change)
{
	const char *params[1] = {name};
	struct db_deploy_new d = {
	        name,          0, OVERSEER__V1__DEPLOYMENT_KIND__DEPLOYMENT_KIND_REMOVE, actor,
	        purge_volumes, 0};
	int64_t earlier = 0;
	PGresult *res;
	int err;

	memset(change, 0, sizeof(*change));
	err = db_begin(db);
	if (err)
		return err;
	err = lookup_request(db, name, request_id, &earlier);
	if (!err && earlier == REQUEST_DELETED) {
		/* A retry of this very removal: answer with it rather than "not found". */
		db_rollback(db);
		return db_deploy_latest_removal(db, a, name, &change->deployment_id);
	}
	if (err)
		goto fail;
	res = db_query(db,
	               "UPDATE apps SET deleted_at = now(), updated_at = now() WHERE name = $1 AND "
	               "deleted_at IS NULL RETURNING current_version",
	               1, params);
	if (!res) {
		err = ovr_err_last();
		goto fail;
	}
	if (PQntuples(res) == 0)
		err = ovr_err_set(OVR_ERR_NOT_FOUND, "app '%.80s' not found", name);
	else
		d.version = db_cell_int64(res, 0, 0);
	PQclear(res);
	if (!err)
		err = remember_request(db, name, request_id, REQUEST_DELETED);
	if (!err)
		err = db_deploy_start(db, a, &d, &change->deployment_id, &change->touched);
	if (err)
		goto fail;
	return db_commit(db);
fail:
	db_rollback(db);
	return err;
}

int db_app_update(struct db *db, struct arena *a, const char *name, const struct db_app_update *u,
                  struct db_app_change *change)
{
	const struct db_app_settings *s = u->health_rollout;
	char mh[DB_INT64_SIZE], hd[DB_INT64_SIZE], st[DB_INT64_SIZE], mp[DB_INT64_SIZE],
	        mf[DB_INT64_SIZE];
	const char *params[11];
	struct db_node_ids before = {0};
	PGresult *res;
	int err;

	memset(change, 0, sizeof(*change));
	params[0] = name;
	params[1] = u->targets_json;
	params[2] = s ? "true" : "false";
	params[3] = db_param_int64(mh, s ? s->min_healthy_time_ms : 0);
	params[4] = db_param_int64(hd, s ? s->healthy_deadline_ms : 0);
	params[5] = s && s->auto_rollback_disabled ? "true" : "false";
	params[6] = db_param_int64(st, s ? s->strategy : 0);
	params[7] = db_param_int64(mp, s ? s->max_parallel : 0);
	params[8] = db_param_int64(mf, s ? s->max_failures : 0);
	params[9] = u->set_strict_lint ? "true" : "false";
	params[10] = u->strict_lint ? "true" : "false";
	err = db_begin(db);
	if (err)
		return err;
	/* Nodes the old targets reach lose the app, those the new ones reach gain it. */
	err = db_deploy_touch_app(db, a, name, &before);
	if (err)
		goto fail;
	res = db_query(
	        db,
	        "UPDATE apps SET targets = coalesce($2::jsonb, targets), "
	        "min_healthy_time_ms = CASE WHEN $3::boolean THEN $4::bigint ELSE "
	        "min_healthy_time_ms END, healthy_deadline_ms = CASE WHEN $3::boolean THEN "
	        "$5::bigint ELSE healthy_deadline_ms END, auto_rollback_disabled = CASE WHEN "
	        "$3::boolean THEN $6::boolean ELSE auto_rollback_disabled END, strategy = "
	        "CASE WHEN $3::boolean THEN $7::int ELSE strategy END, max_parallel = CASE "
	        "WHEN $3::boolean THEN $8::int ELSE max_parallel END, max_failures = CASE "
	        "WHEN $3::boolean THEN $9::int ELSE max_failures END, strict_lint = CASE WHEN "
	        "$10::boolean THEN $11::boolean ELSE strict_lint END, updated_at = now() "
	        "WHERE name = $1 AND deleted_at IS NULL",
	        11, params);
	if (!res) {
		err = ovr_err_last();
		goto fail;
	}
	if (strcmp(PQcmdTuples(res), "0") == 0)
		err = ovr_err_set(OVR_ERR_NOT_FOUND, "app '%.80s' not found", name);
	PQclear(res);
	if (!err)
		err = db_deploy_touch_app(db, a, name, &change->touched);
	if (err)
		goto fail;
	err = db_commit(db);
	if (!err)
		db_node_ids_merge(a, &change->touched, &before);
	return err;
fail:
	db_rollback(db);
	return err;
}

/* The rollback target: the chosen version, or the default; INVALID when there is none. */
static int rollback_target(int64_t *out, const char *name, int64_t requested, int64_t current,
                           int64_t lkg)
{
	if (current < 2)
		return ovr_err_set(
		        OVR_ERR_INVALID,
		        "app '%s' is at version %lld: there is no earlier version to roll "
		        "back to",
		        name, (long long)current);
	if (!requested)
		requested = lkg > 0 && lkg < current ? lkg : current - 1;
	if (requested < 1 || requested >= current)
		return ovr_err_set(
		        OVR_ERR_INVALID,
		        "to_version: %lld is not an earlier version of app '%s' (1 to %lld)",
		        (long long)requested, name, (long long)(current - 1));
	*out = requested;
	return 0;
}

/*
 * With the app's row locked (in the caller's transaction): version N+1 copied from version source
 * (0: the newest) with the fields v gives replaced, made current, with its deployment started.
 * A source given is recorded as rollback_of. *version_out is N+1.
 */
static int version_add_locked(struct db *db, struct arena *a, const char *name,
                              const struct db_app_version_new *v, int64_t source,
                              int64_t *version_out, struct db_app_change *change)
{
	char src_buf[DB_INT64_SIZE], new_buf[DB_INT64_SIZE];
	const char *params[2] = {name, NULL};
	const char *compose, *env, *secrets, *routes;
	int64_t newest;
	PGresult *res;
	int err;

	res = db_query(db, "SELECT coalesce(max(version), 0) FROM app_versions WHERE app = $1", 1,
	               params);
	if (!res)
		return ovr_err_last();
	newest = db_cell_int64(res, 0, 0);
	PQclear(res);
	params[1] = db_param_int64(src_buf, source ? source : newest);
	res = db_query(db,
	               "SELECT compose_yaml, environment::text, secrets::text, routes::text FROM "
	               "app_versions WHERE app = $1 AND version = $2::bigint",
	               2, params);
	if (!res)
		return ovr_err_last();
	if (PQntuples(res) == 0) {
		PQclear(res);
		return ovr_err_set(OVR_ERR_NOT_FOUND, "app '%.80s' has no version %lld", name,
		                   (long long)(source ? source : newest));
	}
	compose = v->compose_yaml ? arena_strdup(a, v->compose_yaml) : db_cell(a, res, 0, 0);
	env = v->environment_json ? arena_strdup(a, v->environment_json) : db_cell(a, res, 0, 1);
	secrets = db_cell(a, res, 0, 2);
	routes = db_cell(a, res, 0, 3);
	PQclear(res);
	err = closure_resolve(db, a, name, v, compose, env, secrets, routes, &secrets, &routes);
	if (!err)
		err = insert_version(db, a, name, newest + 1, compose, env, secrets, routes, v,
		                     source);
	if (!err) {
		params[1] = db_param_int64(new_buf, newest + 1);
		err = db_exec(
		        db,
		        "UPDATE apps SET current_version = $2::bigint, updated_at = now() WHERE "
		        "name = $1",
		        2, params);
	}
	if (!err)
		err = remember_request(db, name, v->request_id, newest + 1);
	if (!err)
		err = start_deployment(db, a, name, newest + 1, v, change);
	if (!err)
		*version_out = newest + 1;
	return err;
}

int db_app_auto_rollback(struct db *db, struct arena *a, const char *name, int64_t to_version,
                         const char *message, int64_t *version_out, struct db_app_change *change)
{
	struct db_app_version_new v = {0};

	v.author = "overseer";
	v.message = message;
	v.kind = OVERSEER__V1__DEPLOYMENT_KIND__DEPLOYMENT_KIND_AUTO_ROLLBACK;
	memset(change, 0, sizeof(*change));
	return version_add_locked(db, a, name, &v, to_version, version_out, change);
}

int db_app_version_create(struct db *db, struct arena *a, const char *name,
                          const struct db_app_version_new *v, Overseer__V1__AppVersion **out,
                          struct db_app_change *change)
{
	const char *params[1];
	PGresult *res = NULL;
	int64_t current, lkg, newest = 0, source, earlier = 0;
	int err;

	memset(change, 0, sizeof(*change));
	err = db_begin(db);
	if (err)
		return err;
	/* The row lock serialises deploys of one app: each gets its own N+1. */
	params[0] = name;
	res = db_query(db,
	               "SELECT current_version, last_known_good_version FROM apps WHERE name = $1 "
	               "AND deleted_at IS NULL FOR UPDATE",
	               1, params);
	if (!res) {
		err = ovr_err_last();
		goto fail;
	}
	if (PQntuples(res) == 0) {
		err = ovr_err_set(OVR_ERR_NOT_FOUND, "app '%.80s' not found", name);
		goto fail;
	}
	current = db_cell_int64(res, 0, 0);
	lkg = db_cell_int64(res, 0, 1);
	PQclear(res);
	res = NULL;
	/* Statements after the lock see what the previous holder committed. */
	err = lookup_request(db, name, v->request_id, &earlier);
	if (err)
		goto fail;
	if (earlier > 0) {
		db_rollback(db);
		err = db_deploy_of_version(db, a, name, earlier, &change->deployment_id);
		return err ? err : db_app_version_get(db, a, name, earlier, out);
	}
	if (v->expected_version && v->expected_version != current) {
		err = ovr_err_set(OVR_ERR_CONFLICT, "expected version %lld but the app is at %lld",
		                  (long long)v->expected_version, (long long)current);
		goto fail;
	}
	source = 0;
	if (v->kind == OVERSEER__V1__DEPLOYMENT_KIND__DEPLOYMENT_KIND_ROLLBACK) {
		err = rollback_target(&source, name, v->from_version, current, lkg);
		if (err)
			goto fail;
	}
	err = version_add_locked(db, a, name, v, source, &newest, change);
	if (err)
		goto fail;
	err = db_commit(db);
	if (err)
		return err;
	return db_app_version_get(db, a, name, newest, out);
fail:
	PQclear(res);
	db_rollback(db);
	return err;
}

/* OVR_ERR_NOT_FOUND unless the app exists and is not deleted. */
static int app_exists(struct db *db, const char *name)
{
	const char *params[1] = {name};
	PGresult *res;
	int err = 0;

	res = db_query(db, "SELECT 1 FROM apps WHERE name = $1 AND deleted_at IS NULL", 1, params);
	if (!res)
		return ovr_err_last();
	if (PQntuples(res) == 0)
		err = ovr_err_set(OVR_ERR_NOT_FOUND, "app '%.80s' not found", name);
	PQclear(res);
	return err;
}

int db_app_versions(struct db *db, struct arena *a, const char *name, int64_t before, int limit,
                    Overseer__V1__AppVersion ***out, size_t *n_out)
{
	char bef[DB_INT64_SIZE], lim[DB_INT64_SIZE];
	const char *params[4] = {name, db_param_int64(bef, before), "false",
	                         db_param_int64(lim, limit)};
	PGresult *res;
	int i, rows, err;

	err = app_exists(db, name);
	if (err)
		return err;
	res = db_query(db,
	               "SELECT " VERSION_COLUMNS
	               " FROM app_versions WHERE app = $1 AND ($2::bigint "
	               "= 0 OR version < $2::bigint) ORDER BY version DESC LIMIT $4::int",
	               4, params);
	if (!res)
		return ovr_err_last();
	rows = PQntuples(res);
	*out = arena_calloc(a, (size_t)rows + 1, sizeof(**out));
	for (i = 0; i < rows; i++)
		(*out)[i] = version_from_row(a, res, i);
	*n_out = (size_t)rows;
	PQclear(res);
	return 0;
}

int db_app_version_get(struct db *db, struct arena *a, const char *name, int64_t version,
                       Overseer__V1__AppVersion **out)
{
	char ver[DB_INT64_SIZE];
	const char *params[3] = {name, db_param_int64(ver, version), "true"};
	PGresult *res;
	int err;

	err = app_exists(db, name);
	if (err)
		return err;
	res = db_query(db,
	               "SELECT " VERSION_COLUMNS
	               " FROM app_versions WHERE app = $1 AND version = $2::bigint",
	               3, params);
	if (!res)
		return ovr_err_last();
	if (PQntuples(res) == 0)
		err = ovr_err_set(OVR_ERR_NOT_FOUND, "app '%.80s' has no version %lld", name,
		                  (long long)version);
	else
		*out = version_from_row(a, res, 0);
	PQclear(res);
	return err;
}
