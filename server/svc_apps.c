/*
 * The Apps service: apps, their immutable versions, deploy, rollback and diff. Each change commits
 * its rows (version, deployment, node generations) in one transaction, then pushes the new desired
 * state to the touched nodes that are connected; the others get it when they connect.
 */
#include "svc_apps.h"

#include "closure.h"
#include "compose_file.h"
#include "db_app.h"
#include "db_endpoints.h"
#include "desired.h"
#include "diff.h"
#include "err.h"
#include "labels.h"
#include "log.h"
#include "server.h"
#include "strutil.h"
#include "svc_lint.h"
#include "targets.h"
#include "svc_page.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#define ENV_MAX               256
#define ENV_VALUE_MAX         (64 * 1024)
#define MESSAGE_MAX           4096
#define REQUEST_ID_MAX        128
#define DEFAULT_MIN_HEALTHY   (10LL * 1000)
#define DEFAULT_HEALTHY_LIMIT (5LL * 60 * 1000)
#define HEALTH_MS_MAX         (24LL * 3600 * 1000)

static int app_name_check(const char *name)
{
	if (!name || !name[0])
		return ovr_err_set(OVR_ERR_INVALID, "name: an app name is required");
	if (!ovr_name_valid(name))
		return ovr_err_set(
		        OVR_ERR_INVALID,
		        "name: '%.80s' is not a valid app name (lowercase letters, digits "
		        "and '-', starting with a letter, at most 63)",
		        name);
	return 0;
}

static int text_check(const char *field, const char *text, size_t max)
{
	if (text && strlen(text) > max)
		return ovr_err_set(OVR_ERR_INVALID, "%s: at most %zu bytes", field, max);
	return 0;
}

/* Parses the compose file as the nodes will; the parser's message names the line. */
static int compose_check(const char *yaml)
{
	struct compose_file *f = NULL;
	int err;

	if (!yaml || !yaml[0])
		return ovr_err_set(OVR_ERR_INVALID, "compose_yaml: a compose file is required");
	err = compose_file_parse(&f, yaml, strlen(yaml));
	compose_file_free(f);
	if (err) {
		char msg[1100];

		/* Copied first: ovr_err_set writes the buffer ovr_err_msg returns. */
		ovr_strlcpy(msg, ovr_err_msg(err), sizeof(msg));
		return ovr_err_set(err, "compose_yaml: %s", msg);
	}
	return 0;
}

/* Validates environment map entries and returns them as a JSON object text (arena). */
static int env_to_json(struct arena *a, size_t n, void *const *entries, char **out)
{
	json_t *obj;
	char *text;
	size_t i;
	int err = 0;

	if (n > ENV_MAX)
		return ovr_err_set(OVR_ERR_INVALID, "environment: at most %d variables", ENV_MAX);
	obj = json_object();
	for (i = 0; i < n && !err; i++) {
		const struct label_entry *e = entries[i];
		json_t *v;

		if (!closure_env_key_valid(e->key))
			err = ovr_err_set(OVR_ERR_INVALID,
			                  "environment: '%.80s' is not a valid variable name "
			                  "([A-Za-z_][A-Za-z0-9_]*)",
			                  e->key);
		else if (strncmp(e->key, "OVR_", 4) == 0)
			err = ovr_err_set(OVR_ERR_INVALID,
			                  "environment: %s: names starting with OVR_ are set by "
			                  "Overseer (node variables, discovery)",
			                  e->key);
		else if (strlen(e->value) > ENV_VALUE_MAX)
			err = ovr_err_set(OVR_ERR_INVALID, "environment: %s: at most %d bytes",
			                  e->key, ENV_VALUE_MAX);
		else if (!(v = json_string(e->value)))
			err = ovr_err_set(OVR_ERR_INVALID, "environment: %s: not valid UTF-8",
			                  e->key);
		else
			json_object_set_new(obj, e->key, v);
	}
	if (!err) {
		text = json_dumps(obj, JSON_COMPACT | JSON_SORT_KEYS);
		*out = arena_strdup(a, text ? text : "{}");
		free(text);
	}
	json_decref(obj);
	return err;
}

static int settings_from(struct db_app_settings *s, const Overseer__V1__HealthSettings *h,
                         const Overseer__V1__RolloutSettings *r)
{
	s->min_healthy_time_ms =
	        h && h->min_healthy_time_ms ? h->min_healthy_time_ms : DEFAULT_MIN_HEALTHY;
	s->healthy_deadline_ms =
	        h && h->healthy_deadline_ms ? h->healthy_deadline_ms : DEFAULT_HEALTHY_LIMIT;
	s->auto_rollback_disabled = h ? h->auto_rollback_disabled : 0;
	if (s->min_healthy_time_ms < 0 || s->min_healthy_time_ms > HEALTH_MS_MAX)
		return ovr_err_set(OVR_ERR_INVALID, "health.min_healthy_time_ms: 0 to 24h");
	if (s->healthy_deadline_ms < 0 || s->healthy_deadline_ms > HEALTH_MS_MAX)
		return ovr_err_set(OVR_ERR_INVALID, "health.healthy_deadline_ms: 0 to 24h");
	s->strategy = r && r->strategy ? r->strategy : OVERSEER__V1__STRATEGY__STRATEGY_ALL_AT_ONCE;
	if (s->strategy != OVERSEER__V1__STRATEGY__STRATEGY_ALL_AT_ONCE &&
	    s->strategy != OVERSEER__V1__STRATEGY__STRATEGY_ROLLING)
		return ovr_err_set(OVR_ERR_INVALID, "rollout.strategy: unknown value %d",
		                   s->strategy);
	s->max_parallel = r && r->max_parallel ? r->max_parallel : 1;
	s->max_failures = r ? r->max_failures : 0;
	if (s->max_parallel < 1 || s->max_parallel > 10000)
		return ovr_err_set(OVR_ERR_INVALID, "rollout.max_parallel: 1 to 10000");
	if (s->max_failures < 0 || s->max_failures > 10000)
		return ovr_err_set(OVR_ERR_INVALID, "rollout.max_failures: 0 to 10000");
	return 0;
}

/*
 * Lint of a compose file being deployed: findings come back as warnings; with strict (the app's
 * setting or the call's) any finding refuses the deploy, naming the first few.
 */
static int deploy_lint(struct arena *a, const char *app, const char *yaml, const char *targets_json,
                       int strict, Overseer__V1__LintFinding ***out, size_t *n_out)
{
	char list[1024] = "";
	size_t i, len = 0;
	int err;

	err = svc_lint_run(a, app, yaml, targets_json, strict, out, n_out);
	if (err || !strict || *n_out == 0)
		return err;
	for (i = 0; i < *n_out && i < 3 && len < sizeof(list); i++) {
		const Overseer__V1__LintFinding *f = (*out)[i];

		len += (size_t)snprintf(list + len, sizeof(list) - len, "%sline %d: %s (%s)",
		                        i ? "; " : "", (int)f->line, f->message, f->rule);
	}
	return ovr_err_set(OVR_ERR_INVALID,
	                   "compose_yaml: strict lint refuses this file, %zu finding%s: %s%s "
	                   "(`ovrctl lint -f FILE` lists them all)",
	                   *n_out, *n_out == 1 ? "" : "s", list, *n_out > 3 ? "; ..." : "");
}

/* After the commit: the nodes learn the new state; the response carries the deployment. */
static int change_finish(struct rpc_call *call, struct db_app_change *change,
                         Overseer__V1__Deployment **deployment_out)
{
	struct arena *a = rpc_call_arena(call);

	desired_push_nodes(server_db(), a, &change->touched);
	if (!deployment_out || !change->deployment_id || !change->deployment_id[0])
		return 0;
	return db_deploy_get(server_db(), a, change->deployment_id, deployment_out);
}

int svc_apps_create(struct rpc_call *call, const void *req_, void *resp_)
{
	const Overseer__V1__CreateAppRequest *req = req_;
	Overseer__V1__CreateAppResponse *resp = resp_;
	struct arena *a = rpc_call_arena(call);
	struct db_app_settings s = {0};
	struct db_app_version_new v = {0};
	struct db_app_change change;
	char *targets = NULL, *env = NULL;
	int err;

	err = app_name_check(req->name);
	if (!err)
		err = targets_json(a, req->targets, &targets);
	if (!err)
		err = settings_from(&s, req->health, req->rollout);
	if (!err)
		err = env_to_json(a, req->n_environment, (void *const *)req->environment, &env);
	if (!err)
		err = text_check("message", req->message, MESSAGE_MAX);
	if (!err)
		err = text_check("request_id", req->request_id, REQUEST_ID_MAX);
	if (!err)
		err = compose_check(req->compose_yaml);
	if (!err)
		err = deploy_lint(a, req->name, req->compose_yaml, targets, req->strict_lint,
		                  &resp->warnings, &resp->n_warnings);
	if (err)
		return err;
	s.targets_json = targets;
	s.strict_lint = req->strict_lint;
	v.compose_yaml = req->compose_yaml;
	v.environment_json = env;
	v.author = rpc_call_identity(call)->name;
	v.message = req->message;
	v.kind = OVERSEER__V1__DEPLOYMENT_KIND__DEPLOYMENT_KIND_DEPLOY;
	v.request_id = req->request_id;
	v.secrets = req->secrets;
	v.n_secrets = req->n_secrets;
	v.replace_secrets = 1;
	v.routes = req->routes;
	v.n_routes = req->n_routes;
	v.replace_routes = 1;
	err = db_app_create(server_db(), a, req->name, &s, req->deploy, &v, &resp->app,
	                    &resp->version, &change);
	if (err)
		return err;
	log_info("app created app=%s version=1 deploy=%d by=%s", req->name, req->deploy ? 1 : 0,
	         v.author);
	return change_finish(call, &change, &resp->deployment);
}

int svc_apps_get(struct rpc_call *call, const void *req_, void *resp_)
{
	const Overseer__V1__GetAppRequest *req = req_;
	Overseer__V1__App *app = NULL;
	int err;

	err = app_name_check(req->name);
	if (!err)
		err = db_app_get(server_db(), rpc_call_arena(call), req->name, &app);
	if (!err)
		err = db_deploy_app_state(server_db(), rpc_call_arena(call), app);
	if (err)
		return err;
	*(Overseer__V1__App *)resp_ = *app;
	return 0;
}

int svc_apps_list(struct rpc_call *call, const void *req_, void *resp_)
{
	const Overseer__V1__ListAppsRequest *req = req_;
	Overseer__V1__ListAppsResponse *resp = resp_;
	const char *after = NULL;
	int limit = SVC_PAGE_DEFAULT;
	int err;

	err = svc_page_size(&limit, req->page_size);
	if (err)
		return err;
	err = svc_page_after_name(&after, req->page_token);
	if (err)
		return err;
	err = db_app_list(server_db(), rpc_call_arena(call), after, limit + 1, &resp->apps,
	                  &resp->n_apps);
	if (err)
		return err;
	if (resp->n_apps > (size_t)limit) {
		resp->n_apps = (size_t)limit;
		resp->next_page_token = resp->apps[limit - 1]->name;
	}
	return 0;
}

int svc_apps_delete(struct rpc_call *call, const void *req_, void *resp_)
{
	const Overseer__V1__DeleteAppRequest *req = req_;
	Overseer__V1__DeleteAppResponse *resp = resp_;
	const char *actor = rpc_call_identity(call)->name;
	struct db_app_change change;
	int err;

	err = app_name_check(req->name);
	if (!err)
		err = text_check("request_id", req->request_id, REQUEST_ID_MAX);
	if (!err)
		err = db_app_delete(server_db(), rpc_call_arena(call), req->name, actor,
		                    req->purge_volumes, req->request_id, &change);
	if (err)
		return err;
	log_info("app deleted app=%s purge_volumes=%d by=%s", req->name, req->purge_volumes ? 1 : 0,
	         actor);
	return change_finish(call, &change, &resp->deployment);
}

int svc_apps_deploy(struct rpc_call *call, const void *req_, void *resp_)
{
	const Overseer__V1__DeployAppRequest *req = req_;
	Overseer__V1__DeployAppResponse *resp = resp_;
	struct arena *a = rpc_call_arena(call);
	struct db_app_version_new v = {0};
	struct db_app_change change;
	Overseer__V1__App *app = NULL;
	char *env = NULL, *targets = NULL;
	int err;

	err = app_name_check(req->name);
	if (!err && req->n_environment && !req->replace_environment)
		err = ovr_err_set(OVR_ERR_INVALID,
		                  "environment: set replace_environment to replace "
		                  "the app's environment with the one given");
	if (!err && req->replace_environment)
		err = env_to_json(a, req->n_environment, (void *const *)req->environment, &env);
	if (!err && req->n_secrets && !req->replace_secrets)
		err = ovr_err_set(OVR_ERR_INVALID,
		                  "secrets: set replace_secrets to replace the app's secret "
		                  "references with the ones given");
	if (!err && req->n_routes && !req->replace_routes)
		err = ovr_err_set(OVR_ERR_INVALID,
		                  "routes: set replace_routes to replace the app's routes with the "
		                  "ones given");
	if (!err && req->expected_version < 0)
		err = ovr_err_set(OVR_ERR_INVALID, "expected_version: must not be negative");
	if (!err)
		err = text_check("message", req->message, MESSAGE_MAX);
	if (!err)
		err = text_check("request_id", req->request_id, REQUEST_ID_MAX);
	if (!err && req->compose_yaml[0])
		err = compose_check(req->compose_yaml);
	if (!err && req->compose_yaml[0])
		err = db_app_get(server_db(), a, req->name, &app);
	if (!err && app)
		err = targets_json(a, app->targets, &targets);
	if (!err && app)
		err = deploy_lint(a, req->name, req->compose_yaml, targets,
		                  req->strict_lint || app->strict_lint, &resp->warnings,
		                  &resp->n_warnings);
	if (err)
		return err;
	v.compose_yaml = req->compose_yaml[0] ? req->compose_yaml : NULL;
	v.environment_json = env;
	v.author = rpc_call_identity(call)->name;
	v.message = req->message;
	v.kind = OVERSEER__V1__DEPLOYMENT_KIND__DEPLOYMENT_KIND_DEPLOY;
	v.expected_version = req->expected_version;
	v.request_id = req->request_id;
	v.no_supersede = req->no_supersede;
	v.secrets = req->secrets;
	v.n_secrets = req->n_secrets;
	v.replace_secrets = req->replace_secrets;
	v.routes = req->routes;
	v.n_routes = req->n_routes;
	v.replace_routes = req->replace_routes;
	err = db_app_version_create(server_db(), a, req->name, &v, &resp->version, &change);
	if (err)
		return err;
	log_info("app deployed app=%s version=%lld deployment=%s by=%s", req->name,
	         (long long)resp->version->version, change.deployment_id, v.author);
	return change_finish(call, &change, &resp->deployment);
}

int svc_apps_rollback(struct rpc_call *call, const void *req_, void *resp_)
{
	const Overseer__V1__RollbackAppRequest *req = req_;
	Overseer__V1__RollbackAppResponse *resp = resp_;
	struct db_app_version_new v = {0};
	struct db_app_change change;
	int err;

	err = app_name_check(req->name);
	if (!err && req->to_version < 0)
		err = ovr_err_set(OVR_ERR_INVALID, "to_version: must not be negative");
	if (!err && req->expected_version < 0)
		err = ovr_err_set(OVR_ERR_INVALID, "expected_version: must not be negative");
	if (!err)
		err = text_check("message", req->message, MESSAGE_MAX);
	if (!err)
		err = text_check("request_id", req->request_id, REQUEST_ID_MAX);
	if (err)
		return err;
	v.author = rpc_call_identity(call)->name;
	v.message = req->message;
	v.kind = OVERSEER__V1__DEPLOYMENT_KIND__DEPLOYMENT_KIND_ROLLBACK;
	v.from_version = req->to_version;
	v.expected_version = req->expected_version;
	v.request_id = req->request_id;
	v.no_supersede = req->no_supersede;
	err = db_app_version_create(server_db(), rpc_call_arena(call), req->name, &v,
	                            &resp->version, &change);
	if (err)
		return err;
	log_info("app rolled back app=%s version=%lld rollback_of=%lld deployment=%s by=%s",
	         req->name, (long long)resp->version->version,
	         (long long)resp->version->rollback_of, change.deployment_id, v.author);
	return change_finish(call, &change, &resp->deployment);
}

int svc_apps_list_versions(struct rpc_call *call, const void *req_, void *resp_)
{
	const Overseer__V1__ListVersionsRequest *req = req_;
	Overseer__V1__ListVersionsResponse *resp = resp_;
	struct arena *a = rpc_call_arena(call);
	long long before = 0;
	int limit = SVC_PAGE_DEFAULT;
	char *end = NULL;
	int err;

	err = app_name_check(req->name);
	if (!err)
		err = svc_page_size(&limit, req->page_size);
	if (err)
		return err;
	if (req->page_token[0]) {
		before = strtoll(req->page_token, &end, 10);
		if (*end || before < 1 || strlen(req->page_token) > 19)
			return ovr_err_set(OVR_ERR_INVALID,
			                   "page_token: not a token from a previous page");
	}
	err = db_app_versions(server_db(), a, req->name, before, limit + 1, &resp->versions,
	                      &resp->n_versions);
	if (err)
		return err;
	if (resp->n_versions > (size_t)limit) {
		resp->n_versions = (size_t)limit;
		resp->next_page_token =
		        arena_printf(a, "%lld", (long long)resp->versions[limit - 1]->version);
	}
	return 0;
}

int svc_apps_get_version(struct rpc_call *call, const void *req_, void *resp_)
{
	const Overseer__V1__GetVersionRequest *req = req_;
	Overseer__V1__AppVersion *v = NULL;
	int err;

	err = app_name_check(req->name);
	if (!err && req->version < 1)
		err = ovr_err_set(OVR_ERR_INVALID, "version: must be 1 or more");
	if (!err)
		err = db_app_version_get(server_db(), rpc_call_arena(call), req->name, req->version,
		                         &v);
	if (err)
		return err;
	*(Overseer__V1__AppVersion *)resp_ = *v;
	return 0;
}

static int entry_cmp(const void *x, const void *y)
{
	const struct label_entry *const *a = x;
	const struct label_entry *const *b = y;

	return strcmp((*a)->key, (*b)->key);
}

/* The environment as sorted "KEY=VALUE" lines (arena). */
static char *env_lines(struct arena *a, Overseer__V1__AppVersion *v)
{
	size_t i, len = 0;
	char *out, *p;

	qsort(v->environment, v->n_environment, sizeof(*v->environment), entry_cmp);
	for (i = 0; i < v->n_environment; i++)
		len += strlen(v->environment[i]->key) + strlen(v->environment[i]->value) + 2;
	out = arena_alloc(a, len + 1);
	p = out;
	for (i = 0; i < v->n_environment; i++) {
		size_t k = strlen(v->environment[i]->key), n = strlen(v->environment[i]->value);

		memcpy(p, v->environment[i]->key, k);
		p[k] = '=';
		memcpy(p + k + 1, v->environment[i]->value, n);
		p[k + 1 + n] = '\n';
		p += k + n + 2;
	}
	*p = '\0';
	return out;
}

/* One part of the closure as text lines, diffed under "a/PART (version N)" labels. */
static int diff_section(struct arena *a, char **out, const char *part, const char *from_text,
                        const char *to_text, long long fv, long long tv)
{
	return diff_unified(a, out, from_text, strlen(from_text), to_text, strlen(to_text),
	                    arena_printf(a, "a/%s (version %lld)", part, fv),
	                    arena_printf(a, "b/%s (version %lld)", part, tv));
}

int svc_apps_diff(struct rpc_call *call, const void *req_, void *resp_)
{
	const Overseer__V1__DiffVersionsRequest *req = req_;
	Overseer__V1__DiffVersionsResponse *resp = resp_;
	struct arena *a = rpc_call_arena(call);
	Overseer__V1__AppVersion *from = NULL, *to = NULL;
	char *compose_diff = NULL, *env_diff = NULL, *secrets_diff = NULL, *routes_diff = NULL;
	char *ea, *eb;
	long long fv = req->from_version, tv = req->to_version;
	int err;

	err = app_name_check(req->name);
	if (!err && fv < 1)
		err = ovr_err_set(OVR_ERR_INVALID, "from_version: must be 1 or more");
	if (!err && tv < 1)
		err = ovr_err_set(OVR_ERR_INVALID, "to_version: must be 1 or more");
	if (!err)
		err = db_app_version_get(server_db(), a, req->name, fv, &from);
	if (!err)
		err = db_app_version_get(server_db(), a, req->name, tv, &to);
	if (!err)
		err = diff_section(a, &compose_diff, "compose.yaml", from->compose_yaml,
		                   to->compose_yaml, fv, tv);
	if (!err) {
		ea = env_lines(a, from);
		eb = env_lines(a, to);
		err = diff_section(a, &env_diff, "environment", ea, eb, fv, tv);
	}
	if (!err)
		err = diff_section(a, &secrets_diff, "secrets",
		                   closure_secrets_lines(a, from->secrets, from->n_secrets),
		                   closure_secrets_lines(a, to->secrets, to->n_secrets), fv, tv);
	if (!err)
		err = diff_section(a, &routes_diff, "routes",
		                   closure_routes_lines(a, from->routes, from->n_routes),
		                   closure_routes_lines(a, to->routes, to->n_routes), fv, tv);
	if (err)
		return err;
	resp->diff = arena_printf(a, "%s%s%s%s", compose_diff, env_diff, secrets_diff, routes_diff);
	return 0;
}

int svc_apps_update(struct rpc_call *call, const void *req_, void *resp_)
{
	const Overseer__V1__UpdateAppRequest *req = req_;
	struct arena *a = rpc_call_arena(call);
	struct db_app_settings s = {0};
	struct db_app_update u = {0};
	struct db_app_change change;
	Overseer__V1__App *app = NULL;
	char *targets = NULL;
	int err;

	err = app_name_check(req->name);
	if (!err && req->targets)
		err = targets_json(a, req->targets, &targets);
	if (!err && (req->health || req->rollout)) {
		/* Health and rollout are replaced together: fill the one not given from the app. */
		err = db_app_get(server_db(), a, req->name, &app);
		if (!err)
			err = settings_from(&s, req->health ? req->health : app->health,
			                    req->rollout ? req->rollout : app->rollout);
		u.health_rollout = &s;
	}
	if (!err)
		err = text_check("request_id", req->request_id, REQUEST_ID_MAX);
	if (err)
		return err;
	u.targets_json = targets;
	u.set_strict_lint = req->set_strict_lint;
	u.strict_lint = req->strict_lint;
	err = db_app_update(server_db(), a, req->name, &u, &change);
	if (!err)
		err = change_finish(call, &change, NULL);
	if (!err)
		err = db_app_get(server_db(), a, req->name, &app);
	if (!err)
		err = db_deploy_app_state(server_db(), a, app);
	if (err)
		return err;
	log_info("app updated app=%s by=%s", req->name, rpc_call_identity(call)->name);
	*(Overseer__V1__App *)resp_ = *app;
	return 0;
}

int svc_apps_get_deployment(struct rpc_call *call, const void *req_, void *resp_)
{
	const Overseer__V1__GetDeploymentRequest *req = req_;
	Overseer__V1__Deployment *d = NULL;
	int err;

	if (!req->id[0] || strlen(req->id) > 64)
		return ovr_err_set(OVR_ERR_INVALID, "id: a deployment id is required");
	err = db_deploy_get(server_db(), rpc_call_arena(call), req->id, &d);
	if (err)
		return err;
	*(Overseer__V1__Deployment *)resp_ = *d;
	return 0;
}

int svc_apps_endpoints(struct rpc_call *call, const void *req_, void *resp_)
{
	const Overseer__V1__GetEndpointsRequest *req = req_;
	Overseer__V1__GetEndpointsResponse *resp = resp_;
	struct arena *a = rpc_call_arena(call);
	Overseer__V1__App *app = NULL;
	int err = 0;

	/* An empty name lists every app's endpoints: the whole discovery directory. */
	if (req->name[0]) {
		err = app_name_check(req->name);
		if (!err)
			err = db_app_get(server_db(), a, req->name, &app);
	}
	if (!err)
		err = db_endpoints_list(server_db(), a, req->name[0] ? req->name : NULL,
		                        &resp->endpoints, &resp->n_endpoints);
	return err;
}
