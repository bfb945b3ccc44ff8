/* Routes: the exact Traefik labels generated (with and without path and TLS, several routes on
 * one service, deterministic), and every validation error (injection attempts included). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "arena.h"
#include "compose_file.h"
#include "err.h"
#include "routes.h"

static const char shop_yaml[] = "services:\n"
                                "  web:\n"
                                "    image: ovr-test/busybox:1\n"
                                "  api.v2:\n"
                                "    image: ovr-test/busybox:1\n"
                                "  store:\n"
                                "    image: ovr-test/busybox:2\n";

/* Each test's allocations; freed after it even when an assertion fails. */
static struct arena scratch;
static struct compose_file *shop;

static int setup(void **state)
{
	(void)state;
	return compose_file_parse(&shop, shop_yaml, strlen(shop_yaml));
}

static int teardown(void **state)
{
	(void)state;
	arena_free(&scratch);
	compose_file_free(shop);
	shop = NULL;
	return 0;
}

#define MAXR (ROUTES_MAX + 2)

/* Routes as an unpacked request carries them. */
struct rlist {
	Overseer__V1__Route r[MAXR];
	const Overseer__V1__Route *p[MAXR];
	size_t n;
};

static void add(struct rlist *l, const char *service, const char *host, int port, const char *path,
                int tls)
{
	Overseer__V1__Route init = OVERSEER__V1__ROUTE__INIT;

	l->r[l->n] = init;
	l->r[l->n].service = (char *)service;
	l->r[l->n].host = (char *)host;
	l->r[l->n].port = port;
	l->r[l->n].path_prefix = (char *)path;
	l->r[l->n].tls = tls;
	l->p[l->n] = &l->r[l->n];
	l->n++;
}

/* Asserts the labels are exactly the expected ones, in order. */
static void expect_labels(const struct route_label *l, size_t n, const struct route_label *want,
                          size_t n_want)
{
	size_t i;

	assert_int_equal(n, n_want);
	for (i = 0; i < n; i++) {
		assert_string_equal(l[i].service, want[i].service);
		assert_string_equal(l[i].key, want[i].key);
		assert_string_equal(l[i].value, want[i].value);
	}
}

static void test_labels_host_only(void **state)
{
	static const struct route_label want[] = {
	        {"web", "traefik.enable", "true"},
	        {"web", "traefik.http.routers.ovr-shop-web-0.rule", "Host(`shop.example.com`)"},
	        {"web", "traefik.http.routers.ovr-shop-web-0.service", "ovr-shop-web-0"},
	        {"web", "traefik.http.services.ovr-shop-web-0.loadbalancer.server.port", "8080"},
	};
	struct rlist l = {0};
	struct route_label *out;
	size_t n;

	(void)state;
	add(&l, "web", "shop.example.com", 8080, "", 0);
	assert_int_equal(routes_check(l.p, l.n, shop), 0);
	assert_int_equal(routes_labels(&out, &n, &scratch, "shop", l.p, l.n), 0);
	expect_labels(out, n, want, sizeof(want) / sizeof(want[0]));

	/* "/" matches every path too: no PathPrefix. */
	l.r[0].path_prefix = (char *)"/";
	assert_int_equal(routes_labels(&out, &n, &scratch, "shop", l.p, l.n), 0);
	expect_labels(out, n, want, sizeof(want) / sizeof(want[0]));
}

static void test_labels_path_and_tls(void **state)
{
	static const struct route_label want[] = {
	        {"store", "traefik.enable", "true"},
	        {"store", "traefik.http.routers.ovr-shop-store-0.rule",
	         "Host(`api.example.com`) && PathPrefix(`/v1/items`)"},
	        {"store", "traefik.http.routers.ovr-shop-store-0.service", "ovr-shop-store-0"},
	        {"store", "traefik.http.routers.ovr-shop-store-0.tls", "true"},
	        {"store", "traefik.http.services.ovr-shop-store-0.loadbalancer.server.port",
	         "9000"},
	};
	struct rlist l = {0};
	struct route_label *out;
	size_t n;

	(void)state;
	add(&l, "store", "api.example.com", 9000, "/v1/items", 1);
	assert_int_equal(routes_check(l.p, l.n, shop), 0);
	assert_int_equal(routes_labels(&out, &n, &scratch, "shop", l.p, l.n), 0);
	expect_labels(out, n, want, sizeof(want) / sizeof(want[0]));
}

/* Two routes on web, one on api.v2 (a dot in the name: one segment of the key all the same). */
static void test_labels_two_routes_one_service(void **state)
{
	static const struct route_label want[] = {
	        {"web", "traefik.enable", "true"},
	        {"web", "traefik.http.routers.ovr-shop-web-0.rule", "Host(`shop.example.com`)"},
	        {"web", "traefik.http.routers.ovr-shop-web-0.service", "ovr-shop-web-0"},
	        {"web", "traefik.http.routers.ovr-shop-web-0.tls", "true"},
	        {"web", "traefik.http.services.ovr-shop-web-0.loadbalancer.server.port", "8080"},
	        {"api.v2", "traefik.enable", "true"},
	        {"api.v2", "traefik.http.routers.ovr-shop-api-v2-1.rule",
	         "Host(`shop.example.com`) && PathPrefix(`/api`)"},
	        {"api.v2", "traefik.http.routers.ovr-shop-api-v2-1.service", "ovr-shop-api-v2-1"},
	        {"api.v2", "traefik.http.services.ovr-shop-api-v2-1.loadbalancer.server.port",
	         "80"},
	        {"web", "traefik.http.routers.ovr-shop-web-2.rule", "Host(`www.example.com`)"},
	        {"web", "traefik.http.routers.ovr-shop-web-2.service", "ovr-shop-web-2"},
	        {"web", "traefik.http.services.ovr-shop-web-2.loadbalancer.server.port", "8081"},
	};
	struct rlist l = {0};
	struct route_label *out, *again;
	size_t n, n_again, i;

	(void)state;
	add(&l, "web", "shop.example.com", 8080, "/", 1);
	add(&l, "api.v2", "shop.example.com", 80, "/api", 0);
	add(&l, "web", "www.example.com", 8081, NULL, 0);
	assert_int_equal(routes_check(l.p, l.n, shop), 0);
	assert_int_equal(routes_labels(&out, &n, &scratch, "shop", l.p, l.n), 0);
	expect_labels(out, n, want, sizeof(want) / sizeof(want[0]));

	/* The same routes give the same labels: compose's config hash stays the same. */
	assert_int_equal(routes_labels(&again, &n_again, &scratch, "shop", l.p, l.n), 0);
	assert_int_equal(n_again, n);
	for (i = 0; i < n; i++) {
		assert_string_equal(again[i].key, out[i].key);
		assert_string_equal(again[i].value, out[i].value);
	}
}

static void test_labels_none(void **state)
{
	struct route_label *out = (struct route_label *)&scratch;
	size_t n = 7;

	(void)state;
	assert_int_equal(routes_labels(&out, &n, &scratch, "shop", NULL, 0), 0);
	assert_null(out);
	assert_int_equal(n, 0);
	assert_int_equal(routes_check(NULL, 0, shop), 0);
}

/* Checks one route alone: the error code and the start of its message. */
static void expect_bad(const char *service, const char *host, int port, const char *path, int err,
                       const char *msg)
{
	struct rlist l = {0};
	struct route_label *out = NULL;
	size_t n = 0;

	add(&l, service, host, port, path, 0);
	assert_int_equal(routes_check(l.p, l.n, shop), err);
	if (strncmp(ovr_err_msg(err), msg, strlen(msg)) != 0)
		fail_msg("message '%s' does not start with '%s'", ovr_err_msg(err), msg);
	/* The agent's side refuses it too (it has no compose file: services are not checked). */
	if (strncmp(msg, "routes[0].service: 'nope'", 25) != 0) {
		assert_int_equal(routes_labels(&out, &n, &scratch, "shop", l.p, l.n), err);
		assert_null(out);
		assert_int_equal(n, 0);
	}
}

static void test_check_service(void **state)
{
	(void)state;
	expect_bad("", "a.example.com", 80, "", OVR_ERR_INVALID, "routes[0].service: required");
	expect_bad(NULL, "a.example.com", 80, "", OVR_ERR_INVALID, "routes[0].service: required");
	expect_bad("nope", "a.example.com", 80, "", OVR_ERR_INVALID,
	           "routes[0].service: 'nope' is not a service of the compose file (services: "
	           "web, api.v2, store)");
	expect_bad("we`b", "a.example.com", 80, "", OVR_ERR_INVALID,
	           "routes[0].service: a compose service name");
	expect_bad("web b", "a.example.com", 80, "", OVR_ERR_INVALID,
	           "routes[0].service: a compose service name");
}

static void test_check_host(void **state)
{
	static const char *const bad[] = {
	        "a.example.com`) || Host(`evil.com",
	        "a.example.com`)",
	        "a\"b.com",
	        "a'b.com",
	        "a,b.com",
	        "a b.com",
	        "a(b).com",
	        "a${X}.com",
	        "*.example.com",
	        "-a.example.com",
	        "a-.example.com",
	        "a..example.com",
	        ".example.com",
	        "example.com.",
	        "exa_mple.com",
	        "ex\xc3\xa9mple.com",
	        "a.example.com\n",
	};
	char label64[80], longhost[300];
	size_t i;

	(void)state;
	expect_bad("web", "", 80, "", OVR_ERR_INVALID, "routes[0].host: required");
	expect_bad("web", NULL, 80, "", OVR_ERR_INVALID, "routes[0].host: required");
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		expect_bad("web", bad[i], 80, "", OVR_ERR_INVALID, "routes[0].host: a DNS name");

	/* A label of 63 passes, 64 does not; 253 bytes in all pass, 254 do not. */
	memset(label64, 'a', 64);
	label64[64] = '\0';
	expect_bad("web", label64, 80, "", OVR_ERR_INVALID, "routes[0].host: a DNS name");
	label64[63] = '\0';
	{
		struct rlist l = {0};

		add(&l, "web", label64, 80, "", 0);
		assert_int_equal(routes_check(l.p, l.n, shop), 0);
	}
	for (i = 0; i < 253; i++)
		longhost[i] = i % 2 ? '.' : 'a';
	longhost[253] = '\0'; /* "a.a. ... .a": 127 labels, 253 bytes */
	{
		struct rlist l = {0};

		add(&l, "web", longhost, 80, "", 0);
		assert_int_equal(routes_check(l.p, l.n, shop), 0);
	}
	longhost[253] = '.';
	longhost[254] = 'a';
	longhost[255] = '\0';
	expect_bad("web", longhost, 80, "", OVR_ERR_INVALID, "routes[0].host: a DNS name");
}

static void test_check_port(void **state)
{
	(void)state;
	expect_bad("web", "a.example.com", 0, "", OVR_ERR_INVALID, "routes[0].port: required");
	expect_bad("web", "a.example.com", -1, "", OVR_ERR_INVALID,
	           "routes[0].port: must be 1 to 65535");
	expect_bad("web", "a.example.com", 65536, "", OVR_ERR_INVALID,
	           "routes[0].port: must be 1 to 65535");
	{
		struct rlist l = {0};

		add(&l, "web", "a.example.com", 1, "", 0);
		add(&l, "web", "b.example.com", 65535, "", 0);
		assert_int_equal(routes_check(l.p, l.n, shop), 0);
	}
}

static void test_check_path(void **state)
{
	static const char *const bad[] = {
	        "api",       "/api`) || Host(`evil.com",
	        "/a`",       "/a\"b",
	        "/a'b",      "/a b",
	        "/a(b)",     "/a,b",
	        "/{id}",     "/a$b",
	        "/a%zz",     "/a%4",
	        "/a\\b",     "/a?b",
	        "/a#b",      "/a\tb",
	        "/\xc3\xa9",
	};
	static const char *const good[] = {"/", "/api/", "/a-b_c.d~e", "/a:b@c!d&e*f+g;h=i",
	                                   "/caf%C3%A9"};
	char longpath[ROUTES_PATH_MAX + 2];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		expect_bad("web", "a.example.com", 80, bad[i], OVR_ERR_INVALID,
		           "routes[0].path_prefix: empty, or '/'");
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		struct rlist l = {0};

		add(&l, "web", "a.example.com", 80, good[i], 0);
		assert_int_equal(routes_check(l.p, l.n, shop), 0);
	}
	memset(longpath, 'a', sizeof(longpath));
	longpath[0] = '/';
	longpath[ROUTES_PATH_MAX + 1] = '\0';
	expect_bad("web", "a.example.com", 80, longpath, OVR_ERR_INVALID,
	           "routes[0].path_prefix: empty, or '/'");
	longpath[ROUTES_PATH_MAX] = '\0';
	{
		struct rlist l = {0};

		add(&l, "web", "a.example.com", 80, longpath, 0);
		assert_int_equal(routes_check(l.p, l.n, shop), 0);
	}
}

/* Checks the list: err, and then exactly msg. */
static void expect_list(const struct rlist *l, int err, const char *msg)
{
	assert_int_equal(routes_check(l->p, l->n, shop), err);
	if (err != 0)
		assert_string_equal(ovr_err_msg(err), msg);
}

static void test_check_duplicates(void **state)
{
	struct rlist l = {0};

	(void)state;
	add(&l, "web", "shop.example.com", 80, "/api", 0);
	add(&l, "store", "shop.example.com", 81, "/", 0);
	add(&l, "store", "Shop.Example.com", 82, "/api", 1);
	expect_list(&l, OVR_ERR_INVALID, "routes[2]: the same host and path_prefix as routes[0]");

	/* "" and "/" are the same path. */
	l.n = 2;
	l.r[0].path_prefix = (char *)"";
	expect_list(&l, OVR_ERR_INVALID, "routes[1]: the same host and path_prefix as routes[0]");

	/* Another path on the same host, or the same path on another host, is fine. */
	l.n = 0;
	add(&l, "web", "shop.example.com", 80, "", 0);
	add(&l, "store", "shop.example.com", 81, "/api", 0);
	add(&l, "store", "api.example.com", 81, "", 0);
	expect_list(&l, 0, NULL);
}

static void test_check_count_and_index(void **state)
{
	static char hosts[ROUTES_MAX + 1][16];
	struct rlist l = {0};
	size_t i;

	(void)state;
	for (i = 0; i < ROUTES_MAX + 1; i++) {
		snprintf(hosts[i], sizeof(hosts[i]), "h%zu.example", i);
		add(&l, "web", hosts[i], 80, "", 0);
	}
	expect_list(&l, OVR_ERR_TOO_LARGE, "routes: at most 64 routes");
	l.n = ROUTES_MAX;
	expect_list(&l, 0, NULL);

	/* The error names the route's index. */
	l.r[5].port = 0;
	expect_list(&l, OVR_ERR_INVALID, "routes[5].port: required");
}

static void test_labels_bad_app(void **state)
{
	struct rlist l = {0};
	struct route_label *out;
	size_t n;

	(void)state;
	add(&l, "web", "a.example.com", 80, "", 0);
	assert_int_equal(routes_labels(&out, &n, &scratch, "Shop.x", l.p, l.n), OVR_ERR_INVALID);
	assert_int_equal(routes_labels(&out, &n, &scratch, NULL, l.p, l.n), OVR_ERR_INVALID);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(test_labels_host_only, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_labels_path_and_tls, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_labels_two_routes_one_service, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_labels_none, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_check_service, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_check_host, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_check_port, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_check_path, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_check_duplicates, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_check_count_and_index, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_labels_bad_app, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
