/* The agent's reconciler hands a DesiredApp's routes to the executor as Traefik labels on their
 * services and its secret keys as they are; a bad route or too many fail the apply, clearly. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "applied.h"
#include "err.h"
#include "executor.h"
#include "log.h"
#include "reconcile.h"
#include "routes.h"

#define FAILED  OVERSEER__V1__NODE_DEPLOYMENT_STATE__NODE_DEPLOYMENT_STATE_FAILED
#define HEALTHY OVERSEER__V1__NODE_DEPLOYMENT_STATE__NODE_DEPLOYMENT_STATE_HEALTHY
#define MAXL    64

static const char two_services[] = "services:\n"
                                   "  web:\n"
                                   "    image: ovr-test/busybox:1\n"
                                   "  db:\n"
                                   "    image: ovr-test/busybox:2\n";

/* What the last apply got: labels and secret keys copied, since they are only borrowed. */
struct seen {
	size_t applies;
	char labels[MAXL][3][160]; /* service, key, value */
	size_t n_labels;
	char secret_keys[8][32];
	size_t n_secret_keys;
	size_t n_env;
};

struct fixture {
	char dir[64];
	struct executor sim;
	struct executor ex;
	struct seen seen;
	struct reconciler *r;
};

static int spy_apply(void *self, const struct executor_app *app, struct executor_result *res)
{
	struct fixture *f = self;
	size_t i;

	f->seen.applies++;
	f->seen.n_labels = app->n_service_labels;
	assert_true(app->n_service_labels <= MAXL);
	for (i = 0; i < app->n_service_labels; i++) {
		snprintf(f->seen.labels[i][0], 160, "%s", app->service_labels[i].service);
		snprintf(f->seen.labels[i][1], 160, "%s", app->service_labels[i].key);
		snprintf(f->seen.labels[i][2], 160, "%s", app->service_labels[i].value);
	}
	f->seen.n_secret_keys = app->n_secret_keys;
	assert_true(app->n_secret_keys <= 8);
	for (i = 0; i < app->n_secret_keys; i++)
		snprintf(f->seen.secret_keys[i], 32, "%s", app->secret_keys[i]);
	f->seen.n_env = app->n_env;
	return executor_apply(&f->sim, app, res);
}

static int spy_remove(void *self, const char *app, int purge, struct executor_result *res)
{
	struct fixture *f = self;

	return executor_remove(&f->sim, app, purge, res);
}

static int spy_status(void *self, const char *app, struct executor_status *out)
{
	struct fixture *f = self;

	return executor_status(&f->sim, app, out);
}

static void spy_free(void *self)
{
	(void)self;
}

static const struct executor_ops spy_ops = {
        .apply = spy_apply,
        .remove = spy_remove,
        .status = spy_status,
        .free = spy_free,
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct reconcile_opts o;

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/ovr-reconcile-routes-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	assert_int_equal(executor_sim_new(&f->sim), 0);
	f->ex.ops = &spy_ops;
	f->ex.self = f;
	memset(&o, 0, sizeof(o));
	o.state_dir = f->dir;
	o.ex = &f->ex;
	assert_int_equal(reconcile_new(&f->r, &o), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char p[128];

	reconcile_free(f->r);
	executor_free(&f->sim);
	snprintf(p, sizeof(p), "%s/%s", f->dir, APPLIED_FILE);
	unlink(p);
	rmdir(f->dir);
	free(f);
	return 0;
}

/* A route as the server writes it. */
struct rt {
	const char *service, *host;
	int port;
	const char *path;
	int tls;
};

/*
 * A Sync of app "shop" with env SECRET_PW and LOG_LEVEL, the routes and the secret keys; each a
 * new generation, version and deployment, so a failed one does not stop the next.
 */
static Overseer__V1__ServerMessage *make_sync(const struct rt *routes, size_t n_routes,
                                              const char *const *keys, size_t n_keys)
{
	Overseer__V1__ServerMessage msg = OVERSEER__V1__SERVER_MESSAGE__INIT, *out;
	Overseer__V1__Sync sync = OVERSEER__V1__SYNC__INIT;
	Overseer__V1__DesiredApp d = OVERSEER__V1__DESIRED_APP__INIT, *dp = &d;
	Overseer__V1__DesiredApp__EnvironmentEntry env[2], *envp[2];
	Overseer__V1__Route *r = calloc(n_routes + 1, sizeof(*r));
	Overseer__V1__Route **rp = calloc(n_routes + 1, sizeof(*rp));
	static int64_t generation;
	char id[32];
	size_t i, len;
	uint8_t *buf;

	assert_non_null(r);
	assert_non_null(rp);
	for (i = 0; i < 2; i++) {
		overseer__v1__desired_app__environment_entry__init(&env[i]);
		envp[i] = &env[i];
	}
	env[0].key = (char *)"SECRET_PW";
	env[0].value = (char *)"hunter2-hunter2";
	env[1].key = (char *)"LOG_LEVEL";
	env[1].value = (char *)"debug";
	for (i = 0; i < n_routes; i++) {
		overseer__v1__route__init(&r[i]);
		r[i].service = (char *)routes[i].service;
		r[i].host = (char *)routes[i].host;
		r[i].port = routes[i].port;
		r[i].path_prefix = (char *)routes[i].path;
		r[i].tls = routes[i].tls;
		rp[i] = &r[i];
	}
	generation++;
	snprintf(id, sizeof(id), "dep-%d", (int)generation);
	d.app = (char *)"shop";
	d.version = generation;
	d.content_hash = id;
	d.deployment_id = id;
	d.compose_yaml = (char *)two_services;
	d.environment = envp;
	d.n_environment = 2;
	d.routes = rp;
	d.n_routes = n_routes;
	d.secret_keys = (char **)keys;
	d.n_secret_keys = n_keys;
	sync.generation = generation;
	sync.apps = &dp;
	sync.n_apps = 1;
	msg.msg_case = OVERSEER__V1__SERVER_MESSAGE__MSG_SYNC;
	msg.sync = &sync;
	/* As the session gets it: unpacked from the wire, on the heap. */
	len = protobuf_c_message_get_packed_size(&msg.base);
	buf = malloc(len + 1);
	assert_non_null(buf);
	protobuf_c_message_pack(&msg.base, buf);
	out = overseer__v1__server_message__unpack(NULL, len, buf);
	assert_non_null(out);
	free(buf);
	free(r);
	free(rp);
	return out;
}

/* Runs the Sync; returns shop's app report from the last full report (copied fields). */
static void run(struct fixture *f, Overseer__V1__ServerMessage *msg, int *phase, char *message,
                size_t size)
{
	Overseer__V1__StatusReport *rep;
	size_t i;

	*phase = -1;
	message[0] = '\0';
	assert_int_equal(reconcile_submit(f->r, msg), 0);
	reconcile_run_pending(f->r);
	while ((rep = reconcile_take_report(f->r)) != NULL) {
		for (i = 0; rep->full && i < rep->n_apps; i++) {
			if (strcmp(rep->apps[i]->app, "shop") != 0)
				continue;
			*phase = (int)rep->apps[i]->phase;
			snprintf(message, size, "%s", rep->apps[i]->message);
		}
		reconcile_report_free(rep);
	}
}

static void test_routes_become_service_labels(void **state)
{
	static const struct rt routes[] = {
	        {"web", "shop.example.com", 8080, "/", 1},
	        {"db", "shop.example.com", 5000, "/api", 0},
	};
	static const char *const keys[] = {"SECRET_PW"};
	static const char *const want[][3] = {
	        {"web", "traefik.enable", "true"},
	        {"web", "traefik.http.routers.ovr-shop-web-0.rule", "Host(`shop.example.com`)"},
	        {"web", "traefik.http.routers.ovr-shop-web-0.service", "ovr-shop-web-0"},
	        {"web", "traefik.http.routers.ovr-shop-web-0.tls", "true"},
	        {"web", "traefik.http.services.ovr-shop-web-0.loadbalancer.server.port", "8080"},
	        {"db", "traefik.enable", "true"},
	        {"db", "traefik.http.routers.ovr-shop-db-1.rule",
	         "Host(`shop.example.com`) && PathPrefix(`/api`)"},
	        {"db", "traefik.http.routers.ovr-shop-db-1.service", "ovr-shop-db-1"},
	        {"db", "traefik.http.services.ovr-shop-db-1.loadbalancer.server.port", "5000"},
	};
	struct fixture *f = *state;
	char message[512];
	size_t i, k;
	int phase;

	run(f, make_sync(routes, 2, keys, 1), &phase, message, sizeof(message));
	assert_int_equal(f->seen.applies, 1);
	assert_int_equal(phase, HEALTHY);
	assert_int_equal(f->seen.n_labels, sizeof(want) / sizeof(want[0]));
	for (i = 0; i < f->seen.n_labels; i++)
		for (k = 0; k < 3; k++)
			assert_string_equal(f->seen.labels[i][k], want[i][k]);
	assert_int_equal(f->seen.n_env, 2);
	assert_int_equal(f->seen.n_secret_keys, 1);
	assert_string_equal(f->seen.secret_keys[0], "SECRET_PW");
}

static void test_no_routes_no_labels(void **state)
{
	struct fixture *f = *state;
	char message[512];
	int phase;

	run(f, make_sync(NULL, 0, NULL, 0), &phase, message, sizeof(message));
	assert_int_equal(f->seen.applies, 1);
	assert_int_equal(phase, HEALTHY);
	assert_int_equal(f->seen.n_labels, 0);
	assert_int_equal(f->seen.n_secret_keys, 0);
}

/* Runs msg and asserts it failed before the executor, with want in the node's message. */
static void expect_refused(struct fixture *f, Overseer__V1__ServerMessage *msg, const char *want)
{
	char message[512];
	int phase;

	run(f, msg, &phase, message, sizeof(message));
	assert_int_equal(f->seen.applies, 0);
	assert_int_equal(phase, FAILED);
	if (strstr(message, want) == NULL)
		fail_msg("message '%s' lacks '%s'", message, want);
	assert_null(strstr(message, "evil"));
}

/* A route the server should have refused: nothing runs, the node reports why. */
static void test_bad_route_fails_the_apply(void **state)
{
	static const struct rt inject[] = {
	        {"web", "shop.example.com`) || Host(`evil.example.com", 8080, "", 0},
	};
	static const struct rt no_port[] = {{"web", "shop.example.com", 0, "", 0}};
	struct fixture *f = *state;

	expect_refused(f, make_sync(inject, 1, NULL, 0),
	               "invalid route from the server: routes[0].host: ");
	expect_refused(f, make_sync(no_port, 1, NULL, 0),
	               "invalid route from the server: routes[0].port: required");
}

/* A route to a service the file lacks passes the agent's own check: the executor has the file. */
static void test_unknown_service_reaches_executor(void **state)
{
	static const struct rt routes[] = {{"cache", "shop.example.com", 80, "", 0}};
	struct fixture *f = *state;
	char message[512];
	int phase;

	run(f, make_sync(routes, 1, NULL, 0), &phase, message, sizeof(message));
	assert_int_equal(f->seen.applies, 1);
	assert_int_equal(f->seen.n_labels, 4);
	assert_string_equal(f->seen.labels[0][0], "cache");
}

static void test_too_many_routes(void **state)
{
	static struct rt routes[ROUTES_MAX + 1];
	static char hosts[ROUTES_MAX + 1][24];
	struct fixture *f = *state;
	size_t i;

	for (i = 0; i < ROUTES_MAX + 1; i++) {
		snprintf(hosts[i], sizeof(hosts[i]), "h%zu.example.com", i);
		routes[i].service = "web";
		routes[i].host = hosts[i];
		routes[i].port = 80;
		routes[i].path = "";
	}
	expect_refused(f, make_sync(routes, ROUTES_MAX + 1, NULL, 0), "more than 64 routes");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(test_routes_become_service_labels, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_no_routes_no_labels, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_bad_route_fails_the_apply, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_unknown_service_reaches_executor, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_too_many_routes, setup, teardown),
	};

	log_init("test_reconcile_routes", LOG_LEVEL_ERROR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
