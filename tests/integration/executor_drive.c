/* ovr-executor-drive: runs the real compose executor standalone for tests/integration. Prints one
 * JSON object per command; exit 0 on success, 1 on failure, 2 on usage errors. */
#include "executor.h"

#include "arena.h"
#include "err.h"
#include "fsutil.h"
#include "log.h"
#include "routes.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DRIVE_MAX_COMPOSE (1024 * 1024)

static void usage(void)
{
	fprintf(stderr, "usage: ovr-executor-drive --state-dir DIR [--prefix P] [--node NAME]\n"
	                "         apply APP VERSION COMPOSE_FILE [K=V | --secret K |\n"
	                "               --route SERVICE,HOST,PORT[,PATH[,tls]] ...]\n"
	                "       | remove APP [--purge]\n"
	                "       | status APP\n");
}

static int print_json(json_t *obj)
{
	char *s = json_dumps(obj, JSON_INDENT(2) | JSON_SORT_KEYS);

	json_decref(obj);
	if (s == NULL)
		return 1;
	printf("%s\n", s);
	free(s);
	return 0;
}

static int print_result(const struct executor_result *res)
{
	print_json(json_pack("{s:b, s:s, s:s, s:I}", "ok", res->ok, "message", res->message,
	                     "output", res->output, "elapsed_ms", (json_int_t)res->elapsed_ms));
	return res->ok ? 0 : 1;
}

/* "SERVICE,HOST,PORT[,PATH[,tls]]" into r (pointing into spec, which is cut up); 0 or -1. */
static int parse_route(Overseer__V1__Route *r, char *spec)
{
	char *f[5] = {NULL}, *save = NULL, *end;
	int n = 0;

	overseer__v1__route__init(r);
	for (f[0] = strtok_r(spec, ",", &save); f[n] != NULL && n < 4;)
		f[++n] = strtok_r(NULL, ",", &save);
	if (n < 3)
		return -1;
	r->service = f[0];
	r->host = f[1];
	r->port = (int32_t)strtol(f[2], &end, 10);
	r->path_prefix = f[3] != NULL ? f[3] : (char *)"";
	r->tls = f[4] != NULL && strcmp(f[4], "tls") == 0;
	return *end == '\0' ? 0 : -1;
}

/* The routes' labels, as the agent's reconciler makes them, into labels (from a). */
static int route_labels(struct executor_label **labels, size_t *n, struct arena *a, const char *app,
                        const Overseer__V1__Route *const *routes, size_t n_routes)
{
	struct route_label *rl;
	size_t i;
	int err = routes_labels(&rl, n, a, app, routes, n_routes);

	if (err != 0) {
		fprintf(stderr, "ovr-executor-drive: %s\n", ovr_err_msg(err));
		return err;
	}
	*labels = *n > 0 ? arena_calloc(a, *n, sizeof(**labels)) : NULL;
	for (i = 0; i < *n; i++) {
		(*labels)[i].service = rl[i].service;
		(*labels)[i].key = rl[i].key;
		(*labels)[i].value = rl[i].value;
	}
	return 0;
}

static int do_apply(struct executor *ex, int argc, char **argv)
{
	static struct executor_kv env[EXECUTOR_MAX_ENV];
	static const char *secrets[EXECUTOR_MAX_ENV];
	static Overseer__V1__Route routes[ROUTES_MAX];
	const Overseer__V1__Route *rp[ROUTES_MAX];
	struct executor_label *labels = NULL;
	struct executor_app app;
	struct executor_result res;
	struct arena a = {0};
	char *yaml = NULL, *end;
	size_t len = 0, n_labels = 0, n_secrets = 0, n_routes = 0;
	int i, n = 0, err;

	if (argc < 3) {
		usage();
		return 2;
	}
	memset(&app, 0, sizeof(app));
	app.name = argv[0];
	app.version = strtoll(argv[1], &end, 10);
	if (*end != '\0') {
		usage();
		return 2;
	}
	err = fs_read_file(&yaml, &len, argv[2], DRIVE_MAX_COMPOSE);
	if (err != 0) {
		fprintf(stderr, "ovr-executor-drive: %s\n", ovr_err_msg(err));
		return 1;
	}
	for (i = 3; i < argc; i++) {
		char *eq = strchr(argv[i], '=');

		if (strcmp(argv[i], "--secret") == 0 && i + 1 < argc &&
		    n_secrets < EXECUTOR_MAX_ENV) {
			secrets[n_secrets++] = argv[++i];
		} else if (strcmp(argv[i], "--route") == 0 && i + 1 < argc &&
		           n_routes < ROUTES_MAX &&
		           parse_route(&routes[n_routes], argv[i + 1]) == 0) {
			rp[n_routes] = &routes[n_routes];
			n_routes++;
			i++;
		} else if (argv[i][0] != '-' && eq != NULL && n < EXECUTOR_MAX_ENV) {
			*eq = '\0';
			env[n].key = argv[i];
			env[n].value = eq + 1;
			n++;
		} else {
			free(yaml);
			usage();
			return 2;
		}
	}
	if (n_routes > 0 && route_labels(&labels, &n_labels, &a, app.name, rp, n_routes) != 0) {
		free(yaml);
		arena_free(&a);
		return 1;
	}
	app.content_hash = "drive";
	app.compose_yaml = yaml;
	app.compose_len = len;
	app.env = env;
	app.n_env = (size_t)n;
	app.service_labels = labels;
	app.n_service_labels = n_labels;
	app.secret_keys = secrets;
	app.n_secret_keys = n_secrets;
	executor_apply(ex, &app, &res);
	free(yaml);
	arena_free(&a);
	return print_result(&res);
}

static int do_status(struct executor *ex, const char *app)
{
	struct executor_status st;
	json_t *arr;
	size_t i, k;
	int err = executor_status(ex, app, &st);

	if (err != 0) {
		print_json(json_pack("{s:b, s:s}", "ok", 0, "message", ovr_err_msg(err)));
		return 1;
	}
	arr = json_array();
	for (i = 0; i < st.n_containers; i++) {
		const struct executor_container *c = &st.containers[i];
		json_t *ports = json_array();

		for (k = 0; k < c->n_ports; k++)
			json_array_append_new(ports, json_string(c->ports[k]));
		json_array_append_new(
		        arr,
		        json_pack("{s:s, s:s, s:s, s:s, s:s, s:i, s:i, s:s, s:I, s:I, s:o}", "id",
		                  c->id, "name", c->name, "service", c->service, "state", c->state,
		                  "health", c->health, "restart_count", (int)c->restart_count,
		                  "exit_code", (int)c->exit_code, "image", c->image,
		                  "started_unix_ms", (json_int_t)c->started_unix_ms, "version",
		                  (json_int_t)c->version, "ports", ports));
	}
	executor_status_free(&st);
	return print_json(json_pack("{s:b, s:o}", "ok", 1, "containers", arr));
}

int main(int argc, char **argv)
{
	struct executor_compose_opts opts;
	struct executor ex;
	struct executor_result res;
	int i = 1, rc = 2, err;

	memset(&opts, 0, sizeof(opts));
	log_init("ovr-executor-drive", LOG_LEVEL_WARN);
	for (; i + 1 < argc && argv[i][0] == '-'; i += 2) {
		if (strcmp(argv[i], "--state-dir") == 0)
			opts.state_dir = argv[i + 1];
		else if (strcmp(argv[i], "--prefix") == 0)
			opts.project_prefix = argv[i + 1];
		else if (strcmp(argv[i], "--node") == 0)
			opts.node_name = argv[i + 1];
		else
			break;
	}
	if (i + 1 >= argc || opts.state_dir == NULL) {
		usage();
		return 2;
	}
	err = executor_compose_new(&ex, &opts);
	if (err != 0) {
		fprintf(stderr, "ovr-executor-drive: %s\n", ovr_err_msg(err));
		return 1;
	}
	if (strcmp(argv[i], "apply") == 0) {
		rc = do_apply(&ex, argc - i - 1, argv + i + 1);
	} else if (strcmp(argv[i], "remove") == 0 && (argc - i == 2 || argc - i == 3)) {
		int purge = argc - i == 3 && strcmp(argv[i + 2], "--purge") == 0;

		if (argc - i == 3 && !purge)
			usage();
		else {
			executor_remove(&ex, argv[i + 1], purge, &res);
			rc = print_result(&res);
		}
	} else if (strcmp(argv[i], "status") == 0 && argc - i == 2) {
		rc = do_status(&ex, argv[i + 1]);
	} else {
		usage();
	}
	executor_free(&ex);
	return rc;
}
