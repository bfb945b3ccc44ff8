/* Compose parser: the shared fixtures' model, every validation error with its line, and limits. */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "compose_file.h"
#include "err.h"

#define FIXTURES OVR_SOURCE_DIR "/../shared/fixtures/compose"

/* ---- helpers ---- */

static struct compose_file *parse_ok(const char *yaml)
{
	struct compose_file *f = NULL;
	int err = compose_file_parse(&f, yaml, strlen(yaml));

	if (err != 0)
		fail_msg("unexpected error %d: %s", err, ovr_err_msg(err));
	assert_non_null(f);
	return f;
}

static void expect_err_len(const char *yaml, size_t len, int code, const char *msg)
{
	struct compose_file *f = (struct compose_file *)(uintptr_t)1;
	int err = compose_file_parse(&f, yaml, len);

	if (err != code)
		fail_msg("expected %d, got %d (%s) for:\n%.200s", code, err,
		         err ? ovr_err_msg(err) : "success", yaml);
	assert_null(f);
	assert_string_equal(ovr_err_msg(err), msg);
}

static void expect_err(const char *yaml, int code, const char *msg)
{
	expect_err_len(yaml, strlen(yaml), code, msg);
}

static void expect_invalid(const char *yaml, const char *msg)
{
	expect_err(yaml, OVR_ERR_INVALID, msg);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A growing text buffer for generated documents. */
struct text {
	char *s;
	size_t len;
	size_t cap;
};

static void text_add(struct text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void text_add(struct text *t, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	assert_true(n >= 0);
	if (t->len + (size_t)n + 1 > t->cap) {
		t->cap = (t->len + (size_t)n + 1) * 2;
		t->s = realloc(t->s, t->cap);
		assert_non_null(t->s);
	}
	va_start(ap, fmt);
	vsnprintf(t->s + t->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	t->len += (size_t)n;
}

static char *read_file(const char *path, size_t *len)
{
	FILE *fp = fopen(path, "rb");
	char *buf;
	long n;

	if (!fp)
		return NULL;
	assert_int_equal(fseek(fp, 0, SEEK_END), 0);
	n = ftell(fp);
	assert_true(n >= 0);
	rewind(fp);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, fp), (size_t)n);
	buf[n] = '\0';
	fclose(fp);
	*len = (size_t)n;
	return buf;
}

/* Parses a shared fixture; skips the test (with a message) when the fixtures are not there. */
static struct compose_file *fixture(const char *name)
{
	struct compose_file *f = NULL;
	char path[512];
	size_t len = 0;
	char *buf;
	int err;

	snprintf(path, sizeof(path), "%s/%s", FIXTURES, name);
	buf = read_file(path, &len);
	if (!buf) {
		print_message("skipped: fixture %s not found\n", path);
		skip();
	}
	err = compose_file_parse(&f, buf, len);
	free(buf);
	if (err != 0)
		fail_msg("%s: %s", name, ovr_err_msg(err));
	return f;
}

static const struct compose_service *service(const struct compose_file *f, const char *name)
{
	const struct compose_service *s = compose_file_service(f, name);

	if (!s)
		fail_msg("no service '%s'", name);
	return s;
}

static void assert_kv(const struct compose_kv *kv, const char *name, const char *value, int line)
{
	assert_string_equal(kv->name, name);
	if (value)
		assert_string_equal(kv->value, value);
	else
		assert_null(kv->value);
	assert_int_equal(kv->line, line);
}

/* ---- the shared fixtures ---- */

static void test_fixtures_all_parse(void **state)
{
	DIR *dir = opendir(FIXTURES);
	struct dirent *de;
	int seen = 0;

	(void)state;
	if (!dir) {
		print_message("skipped: %s not found\n", FIXTURES);
		skip();
	}
	while ((de = readdir(dir)) != NULL) {
		const char *dot = strrchr(de->d_name, '.');
		struct compose_file *f;
		size_t i;

		if (!dot || (strcmp(dot, ".yaml") != 0 && strcmp(dot, ".yml") != 0))
			continue;
		f = fixture(de->d_name);
		assert_true(f->n_services > 0);
		for (i = 0; i < f->n_services; i++) {
			assert_non_null(f->services[i].image);
			assert_true(f->services[i].line > 0);
			assert_true(f->services[i].image_line >= f->services[i].line);
		}
		compose_file_free(f);
		seen++;
	}
	closedir(dir);
	assert_true(seen >= 3);
}

static void test_fixture_three_tier(void **state)
{
	struct compose_file *f = fixture("three-tier.yaml");
	const struct compose_service *s;

	(void)state;
	assert_int_equal(f->n_services, 3);
	assert_string_equal(f->services[0].name, "db");
	assert_string_equal(f->services[1].name, "backend");
	assert_string_equal(f->services[2].name, "frontend");

	s = service(f, "db");
	assert_int_equal(s->line, 4);
	assert_string_equal(s->image, "postgres:16");
	assert_int_equal(s->image_line, 5);
	assert_string_equal(s->restart, "always");
	assert_int_equal(s->restart_line, 6);
	assert_int_equal(s->healthcheck, COMPOSE_HEALTH_DEFINED);
	assert_int_equal(s->healthcheck_line, 15);
	assert_int_equal(s->n_environment, 3);
	assert_kv(&s->environment[0], "POSTGRES_PASSWORD", "${POSTGRES_PASSWORD}", 10);
	assert_kv(&s->environment[2], "POSTGRES_DB", "${POSTGRES_DB}", 12);
	assert_int_equal(s->n_ports, 1);
	assert_string_equal(s->ports[0].text, "5432:5432");
	assert_int_equal(s->ports[0].line, 14);
	assert_int_equal(s->n_volumes, 1);
	assert_string_equal(s->volumes[0].source, "db-data");
	assert_string_equal(s->volumes[0].target, "/var/lib/postgresql/data");
	assert_int_equal(s->volumes[0].kind, COMPOSE_VOLUME_NAMED);
	assert_int_equal(s->volumes[0].line, 8);
	assert_int_equal(s->n_depends_on, 0);
	assert_false(s->privileged);
	assert_false(s->has_limits);

	s = service(f, "backend");
	assert_int_equal(s->line, 21);
	assert_string_equal(s->image, "shop/backend:1.4.2");
	assert_int_equal(s->image_line, 22);
	assert_int_equal(s->n_depends_on, 1);
	assert_string_equal(s->depends_on[0].service, "db");
	assert_string_equal(s->depends_on[0].condition, "service_healthy");
	assert_int_equal(s->depends_on[0].line, 25);
	assert_int_equal(s->healthcheck, COMPOSE_HEALTH_NONE);
	assert_int_equal(s->n_volumes, 1);
	assert_string_equal(s->volumes[0].text, "./apps/backend:/app");
	assert_int_equal(s->volumes[0].kind, COMPOSE_VOLUME_BIND);
	assert_kv(&s->environment[0], "DATABASE_URL",
	          "postgresql://${POSTGRES_USER}:${POSTGRES_PASSWORD}@db:5432/${POSTGRES_DB}", 28);

	s = service(f, "frontend");
	assert_int_equal(s->line, 35);
	assert_string_equal(s->image, "shop/frontend");
	assert_int_equal(s->n_depends_on, 1);
	assert_string_equal(s->depends_on[0].service, "backend");
	assert_null(s->depends_on[0].condition);
	assert_int_equal(s->depends_on[0].line, 39);
	assert_string_equal(s->ports[0].text, "3000:3000");
	assert_int_equal(s->ports[0].line, 43);

	assert_int_equal(f->n_volumes, 1);
	assert_string_equal(f->volumes[0].name, "db-data");
	assert_int_equal(f->volumes[0].line, 46);
	assert_int_equal(f->n_networks, 0);
	compose_file_free(f);
}

static void test_fixture_single_app(void **state)
{
	struct compose_file *f = fixture("single-app.yaml");
	const struct compose_service *s;

	(void)state;
	assert_int_equal(f->n_services, 1);
	s = service(f, "app");
	assert_int_equal(s->line, 3);
	/* No interpolation: the node's compose CLI does it. */
	assert_string_equal(s->image, "${IMAGE_TAG}");
	assert_int_equal(s->image_line, 4);
	assert_int_equal(s->n_environment, 2);
	assert_kv(&s->environment[0], "DATABASE_URL", "${DATABASE_URL}", 6);
	assert_kv(&s->environment[1], "API_KEY", "${API_KEY}", 7);
	assert_int_equal(s->healthcheck, COMPOSE_HEALTH_DEFINED);
	assert_int_equal(s->healthcheck_line, 10);
	assert_null(s->restart);
	assert_int_equal(s->n_volumes, 1);
	assert_int_equal(s->volumes[0].kind, COMPOSE_VOLUME_NAMED);
	assert_int_equal(f->n_volumes, 1);
	assert_string_equal(f->volumes[0].name, "app-data");
	assert_int_equal(f->volumes[0].line, 16);
	compose_file_free(f);
}

static void test_fixture_anti_patterns(void **state)
{
	struct compose_file *f = fixture("anti-patterns.yaml");
	const struct compose_service *s;

	(void)state;
	assert_int_equal(f->n_services, 3);
	s = service(f, "db");
	assert_string_equal(s->image, "postgres:latest");
	assert_int_equal(s->image_line, 3);
	assert_kv(&s->environment[0], "DATABASE_PASSWORD", "supersecret", 5);
	assert_kv(&s->environment[1], "POSTGRES_USER", "shop", 6);
	assert_int_equal(s->healthcheck, COMPOSE_HEALTH_NONE);
	assert_null(s->restart);

	s = service(f, "cache");
	assert_int_equal(s->line, 7);
	assert_true(s->privileged);
	assert_int_equal(s->privileged_line, 9);
	assert_int_equal(s->n_volumes, 1);
	assert_string_equal(s->volumes[0].source, "/var/run/docker.sock");
	assert_string_equal(s->volumes[0].target, "/var/run/docker.sock");
	assert_int_equal(s->volumes[0].kind, COMPOSE_VOLUME_BIND);
	assert_int_equal(s->volumes[0].line, 11);

	s = service(f, "web");
	assert_string_equal(s->image, "nginx");
	assert_int_equal(s->image_line, 13);
	assert_int_equal(s->n_depends_on, 1);
	assert_string_equal(s->depends_on[0].service, "db");
	assert_null(s->depends_on[0].condition);
	assert_int_equal(s->depends_on[0].line, 15);
	assert_string_equal(s->ports[0].text, "80:80");
	assert_int_equal(s->ports[0].line, 17);
	assert_false(s->privileged);
	assert_false(s->has_limits);
	assert_null(compose_file_service(f, "nope"));
	compose_file_free(f);
}

/* ---- the model's other forms ---- */

static void test_long_forms(void **state)
{
	struct compose_file *f = parse_ok("services:\n"                            /* 1 */
	                                  "  api:\n"                               /* 2 */
	                                  "    image: shop/api:2\n"                /* 3 */
	                                  "    environment:\n"                     /* 4 */
	                                  "      MODE: prod\n"                     /* 5 */
	                                  "      PORT: 8080\n"                     /* 6 */
	                                  "      FROM_NODE:\n"                     /* 7 */
	                                  "    labels:\n"                          /* 8 */
	                                  "      - team=shop\n"                    /* 9 */
	                                  "      - audited\n"                      /* 10 */
	                                  "    ports:\n"                           /* 11 */
	                                  "      - 9000\n"                         /* 12 */
	                                  "      - target: 80\n"                   /* 13 */
	                                  "        published: 8080\n"              /* 14 */
	                                  "        protocol: udp\n"                /* 15 */
	                                  "    volumes:\n"                         /* 16 */
	                                  "      - type: bind\n"                   /* 17 */
	                                  "        source: /var/run/docker.sock\n" /* 18 */
	                                  "        target: /sock\n"                /* 19 */
	                                  "        read_only: true\n"              /* 20 */
	                                  "      - /scratch\n"                     /* 21 */
	                                  "      - ${DATA}:/data:rw\n"             /* 22 */
	                                  "    depends_on:\n"                      /* 23 */
	                                  "      db:\n"                            /* 24 */
	                                  "        condition: service_healthy\n"   /* 25 */
	                                  "      cache:\n"                         /* 26 */
	                                  "    healthcheck:\n"                     /* 27 */
	                                  "      disable: true\n"                  /* 28 */
	                                  "    deploy:\n"                          /* 29 */
	                                  "      resources:\n"                     /* 30 */
	                                  "        limits: {memory: 256M}\n"       /* 31 */
	                                  "    restart: unless-stopped\n"          /* 32 */
	                                  "    privileged: false\n"                /* 33 */
	                                  "  db:\n"                                /* 34 */
	                                  "    image: postgres:16\n"               /* 35 */
	                                  "    mem_limit: 1g\n"                    /* 36 */
	                                  "    healthcheck:\n"                     /* 37 */
	                                  "      test: [\"NONE\"]\n"               /* 38 */
	                                  "  cache:\n"                             /* 39 */
	                                  "    image: redis:7\n"                   /* 40 */
	                                  "    privileged: yes\n"                  /* 41 */
	                                  "    healthcheck:\n"                     /* 42 */
	                                  "      test: NONE\n"                     /* 43 */
	                                  "networks:\n"                            /* 44 */
	                                  "  front:\n"                             /* 45 */
	                                  "  back: {internal: true}\n");           /* 46 */
	const struct compose_service *s = service(f, "api");

	(void)state;
	assert_int_equal(s->n_environment, 3);
	assert_kv(&s->environment[0], "MODE", "prod", 5);
	assert_kv(&s->environment[1], "PORT", "8080", 6);
	assert_kv(&s->environment[2], "FROM_NODE", NULL, 7);
	assert_int_equal(s->n_labels, 2);
	assert_kv(&s->labels[0], "team", "shop", 9);
	assert_kv(&s->labels[1], "audited", NULL, 10);
	assert_int_equal(s->n_ports, 2);
	assert_string_equal(s->ports[0].text, "9000");
	assert_int_equal(s->ports[0].line, 12);
	assert_string_equal(s->ports[1].text, "8080:80/udp");
	assert_int_equal(s->ports[1].line, 13);
	assert_int_equal(s->n_volumes, 3);
	assert_string_equal(s->volumes[0].text, "/var/run/docker.sock:/sock:ro");
	assert_string_equal(s->volumes[0].source, "/var/run/docker.sock");
	assert_int_equal(s->volumes[0].kind, COMPOSE_VOLUME_BIND);
	assert_int_equal(s->volumes[0].line, 17);
	assert_null(s->volumes[1].source);
	assert_string_equal(s->volumes[1].target, "/scratch");
	assert_int_equal(s->volumes[1].kind, COMPOSE_VOLUME_ANONYMOUS);
	assert_string_equal(s->volumes[2].target, "/data");
	assert_int_equal(s->volumes[2].kind, COMPOSE_VOLUME_OTHER);
	assert_int_equal(s->n_depends_on, 2);
	assert_string_equal(s->depends_on[0].service, "db");
	assert_string_equal(s->depends_on[0].condition, "service_healthy");
	assert_int_equal(s->depends_on[0].line, 24);
	assert_string_equal(s->depends_on[1].service, "cache");
	assert_null(s->depends_on[1].condition);
	assert_int_equal(s->healthcheck, COMPOSE_HEALTH_DISABLED);
	assert_int_equal(s->healthcheck_line, 27);
	assert_true(s->has_limits);
	assert_int_equal(s->limits_line, 31);
	assert_string_equal(s->restart, "unless-stopped");
	assert_false(s->privileged);

	s = service(f, "db");
	assert_int_equal(s->healthcheck, COMPOSE_HEALTH_DISABLED);
	assert_true(s->has_limits);
	assert_int_equal(s->limits_line, 36);
	s = service(f, "cache");
	assert_int_equal(s->healthcheck, COMPOSE_HEALTH_DISABLED);
	assert_true(s->privileged);
	assert_int_equal(s->privileged_line, 41);

	assert_int_equal(f->n_volumes, 0);
	assert_int_equal(f->n_networks, 2);
	assert_string_equal(f->networks[0].name, "front");
	assert_int_equal(f->networks[0].line, 45);
	assert_string_equal(f->networks[1].name, "back");
	compose_file_free(f);
}

static void test_merge_keys(void **state)
{
	struct compose_file *f = parse_ok("x-base: &base\n"                                /* 1 */
	                                  "  restart: always\n"                            /* 2 */
	                                  "  image: base:1\n"                              /* 3 */
	                                  "  environment: &env\n"                          /* 4 */
	                                  "    LOG: info\n"                                /* 5 */
	                                  "    TZ: UTC\n"                                  /* 6 */
	                                  "x-limits: &limits\n"                            /* 7 */
	                                  "  deploy: {resources: {limits: {cpus: '1'}}}\n" /* 8 */
	                                  "  restart: on-failure\n"                        /* 9 */
	                                  "services:\n"                                    /* 10 */
	                                  "  web:\n"                                       /* 11 */
	                                  "    <<: *base\n"                                /* 12 */
	                                  "    image: web:2\n"                             /* 13 */
	                                  "  worker:\n"                                    /* 14 */
	                                  "    <<: [*limits, *base]\n"                     /* 15 */
	                                  "    environment:\n"                             /* 16 */
	                                  "      <<: *env\n"                               /* 17 */
	                                  "      LOG: debug\n"                             /* 18 */
	                                  "  plain: *base\n");                             /* 19 */
	const struct compose_service *s;

	(void)state;
	assert_int_equal(f->n_services, 3);
	/* The service's own key beats the merged one. */
	s = service(f, "web");
	assert_string_equal(s->image, "web:2");
	assert_int_equal(s->image_line, 13);
	assert_string_equal(s->restart, "always");
	assert_int_equal(s->restart_line, 2);
	assert_int_equal(s->n_environment, 2);
	assert_kv(&s->environment[0], "LOG", "info", 5);
	/* Earlier merge sources beat later ones; merged keys come after the mapping's own. */
	s = service(f, "worker");
	assert_string_equal(s->image, "base:1");
	assert_string_equal(s->restart, "on-failure");
	assert_int_equal(s->restart_line, 9);
	assert_true(s->has_limits);
	assert_int_equal(s->limits_line, 8);
	assert_int_equal(s->n_environment, 2);
	assert_kv(&s->environment[0], "LOG", "debug", 18);
	assert_kv(&s->environment[1], "TZ", "UTC", 6);
	s = service(f, "plain");
	assert_string_equal(s->image, "base:1");
	assert_int_equal(s->line, 19);
	compose_file_free(f);

	/* A merged key is not a duplicate; a repeated own key is. */
	expect_invalid("x: &x {image: a}\n"
	               "services:\n"
	               "  web: {<<: *x, image: b, image: c}\n",
	               "line 3: service 'web': duplicate key 'image' (first at line 3)");
	expect_invalid("services:\n"
	               "  web:\n"
	               "    image: a\n"
	               "    <<: [a, b]\n",
	               "line 4: service 'web': '<<' needs a mapping or a list of mappings");
	expect_invalid("x: &x hello\n"
	               "<<: *x\n",
	               "line 2: '<<' needs a mapping or a list of mappings");
	/* A quoted "<<" is an ordinary key. */
	f = parse_ok("services:\n  web:\n    image: a\n    labels: {\"<<\": x}\n");
	assert_kv(&service(f, "web")->labels[0], "<<", "x", 4);
	compose_file_free(f);
}

static void test_aliases(void **state)
{
	struct compose_file *f = parse_ok("x-img: &img registry.local/app:1.2\n"
	                                  "services:\n"
	                                  "  a: {image: *img}\n"
	                                  "  b: {image: *img, ports: &p [\"80\"]}\n"
	                                  "  c: {image: *img, ports: *p}\n");

	(void)state;
	assert_string_equal(service(f, "a")->image, "registry.local/app:1.2");
	assert_string_equal(service(f, "c")->image, "registry.local/app:1.2");
	assert_string_equal(service(f, "c")->ports[0].text, "80");
	compose_file_free(f);

	expect_invalid("services:\n  web: {image: *nope}\n", "line 2: unknown alias '*nope'");
	expect_invalid("services:\n  web: &w {image: x, labels: *w}\n",
	               "line 2: alias '*w' refers to a node that contains it");
	/* A redefined anchor: the alias takes the latest one. */
	f = parse_ok("a: &x one\nb: &x two\nservices: {web: {image: *x}}\n");
	assert_string_equal(service(f, "web")->image, "two");
	compose_file_free(f);
}

/* ---- validation errors ---- */

static void test_syntax_errors(void **state)
{
	(void)state;
	expect_invalid("services:\n"
	               "  web:\n"
	               "    image: nginx\n"
	               "   ports: []\n",
	               "line 4: did not find expected key at column 4 (while parsing a block "
	               "mapping at line 2)");
	expect_invalid("services:\n"
	               "  web:\n"
	               "    image: [nginx\n",
	               "line 4: did not find expected ',' or ']' at column 1 (while parsing a flow "
	               "sequence at line 3)");
	expect_invalid("services:\n"
	               "\tweb: {image: x}\n",
	               "line 2: found character that cannot start any token at column 1 (while "
	               "scanning for the next token at line 2)");
	expect_invalid("services:\n  web: {image: x}\n  bad\n",
	               "line 4: could not find expected ':' at column 1 (while scanning a simple "
	               "key at line 3)");
}

static void test_top_level(void **state)
{
	(void)state;
	expect_invalid("", "line 1: the file is empty");
	expect_invalid("# nothing here\n", "line 1: the file is empty");
	expect_invalid("\n\n---\n", "line 1: the file is empty");
	expect_invalid("~\n", "line 1: the file is empty");
	expect_invalid("- web\n- db\n", "line 1: the top level must be a mapping (with services:)");
	/* Empty collections with nothing read before them (a fuzzer find: memcpy from NULL). */
	expect_invalid("[]", "line 1: the top level must be a mapping (with services:)");
	expect_invalid("{}",
	               "line 1: no services (a compose file needs a top-level services: mapping)");
	expect_invalid("\nhello\n", "line 2: the top level must be a mapping (with services:)");
	expect_invalid("version: '3.8'\n"
	               "volumes: {data: {}}\n",
	               "line 1: no services (a compose file needs a top-level services: mapping)");
	expect_invalid("version: '3'\nservices:\n  - web\n",
	               "line 2: services must be a mapping of service names");
	expect_invalid("version: '3'\nservices: web\n",
	               "line 2: services must be a mapping of service names");
	expect_invalid("services: {}\n", "line 1: services is empty");
	expect_invalid("\nservices:\n", "line 2: services is empty");
	expect_invalid("x: &none {}\nservices: {<<: *none}\n", "line 2: services is empty");
	expect_invalid("services:\n  web: {image: x}\nvolumes: [data]\n",
	               "line 3: 'volumes' must be a mapping");
	expect_invalid("services:\n  web: {image: x}\nnetworks: front\n",
	               "line 3: 'networks' must be a mapping");
}

static void test_service_errors(void **state)
{
	(void)state;
	expect_invalid("services:\n  web: nginx\n", "line 2: service 'web' must be a mapping");
	expect_invalid("services:\n  web:\n", "line 2: service 'web' must be a mapping");
	expect_invalid("services:\n  web:\n    - image: x\n",
	               "line 2: service 'web' must be a mapping");
	expect_invalid("services:\n  'my web': {image: x}\n",
	               "line 2: service name 'my web' is invalid (use letters, digits, '.', '_' "
	               "and '-')");
	/* The example from the issue: a build-only service. */
	expect_invalid("version: '3.8'\n"                 /* 1 */
	               "services:\n"                      /* 2 */
	               "  db:\n"                          /* 3 */
	               "    image: postgres:16\n"         /* 4 */
	               "    environment:\n"               /* 5 */
	               "      - POSTGRES_DB=shop\n"       /* 6 */
	               "    volumes:\n"                   /* 7 */
	               "      - db:/var/lib/postgresql\n" /* 8 */
	               "    ports:\n"                     /* 9 */
	               "      - \"5432:5432\"\n"          /* 10 */
	               "\n"                               /* 11 */
	               "  web:\n"                         /* 12 */
	               "    build: ./web\n"               /* 13 */
	               "    ports: [\"80:80\"]\n",        /* 14 */
	               "line 12: service 'web' has no image (build: is not supported; push an "
	               "image the nodes can run)");
	expect_invalid("services:\n  web: {restart: always}\n",
	               "line 2: service 'web' has no image (build: is not supported; push an "
	               "image the nodes can run)");
	expect_invalid("services:\n  web:\n    image: [nginx]\n",
	               "line 3: service 'web': image must be a string");
	expect_invalid("services:\n  web:\n    image:\n      name: nginx\n",
	               "line 3: service 'web': image must be a string");
	expect_invalid("services:\n  web:\n    image:\n", "line 3: service 'web': image is empty");
	expect_invalid("services:\n  web:\n    image: ~\n",
	               "line 3: service 'web': image is empty");
	/* Errors stop at the first broken service, in file order. */
	expect_invalid("services:\n  a: {image: x}\n  b: {}\n  c: 1\n",
	               "line 3: service 'b' has no image (build: is not supported; push an image "
	               "the nodes can run)");
}

static void test_field_errors(void **state)
{
	(void)state;
	expect_invalid("services:\n  web:\n    image: x\n    ports: \"80:80\"\n",
	               "line 4: service 'web': ports must be a list");
	expect_invalid("services:\n  web:\n    image: x\n    ports:\n      - [80]\n",
	               "line 5: service 'web': ports entries must be strings or mappings");
	expect_invalid("services:\n  web:\n    image: x\n    ports:\n      - published: 80\n",
	               "line 5: service 'web': a port mapping needs 'target'");
	expect_invalid("services:\n  web:\n    image: x\n    environment: A=1\n",
	               "line 4: service 'web': environment must be a list or a mapping");
	expect_invalid("services:\n  web:\n    image: x\n    environment:\n      - {A: 1}\n",
	               "line 5: service 'web': environment entries must be strings (NAME=value)");
	expect_invalid("services:\n  web:\n    image: x\n    environment:\n      - =1\n",
	               "line 5: service 'web': environment entry has no name");
	expect_invalid("services:\n  web:\n    image: x\n    environment:\n      A: [1]\n",
	               "line 5: service 'web': environment value of 'A' must be a string or a "
	               "number");
	expect_invalid("services:\n  web:\n    image: x\n    labels: [{a: b}]\n",
	               "line 4: service 'web': labels entries must be strings (NAME=value)");
	expect_invalid("services:\n  web:\n    image: x\n    volumes: /data\n",
	               "line 4: service 'web': volumes must be a list");
	expect_invalid("services:\n  web:\n    image: x\n    volumes:\n      - source: a\n",
	               "line 5: service 'web': a volume mapping needs 'target'");
	expect_invalid("services:\n  web:\n    image: x\n    depends_on: db\n",
	               "line 4: service 'web': depends_on must be a list or a mapping");
	expect_invalid("services:\n  web:\n    image: x\n    depends_on:\n      - {db: 1}\n",
	               "line 5: service 'web': depends_on entries must be service names");
	expect_invalid("services:\n  web:\n    image: x\n    depends_on:\n      db: healthy\n",
	               "line 5: service 'web': depends_on 'db' must be a mapping");
	expect_invalid("services:\n  web:\n    image: x\n    depends_on:\n      db:\n"
	               "        condition: [a]\n",
	               "line 6: service 'web': depends_on condition must be a string");
	expect_invalid("services:\n  web:\n    image: x\n    healthcheck: none\n",
	               "line 4: service 'web': healthcheck must be a mapping");
	expect_invalid("services:\n  web:\n    image: x\n    restart: [always]\n",
	               "line 4: service 'web': restart must be a string");
	expect_invalid("services:\n  web:\n    image: x\n    privileged: maybe\n",
	               "line 4: service 'web': privileged must be true or false");
	expect_invalid("services:\n  web:\n    image: x\n    deploy: 1\n",
	               "line 4: service 'web': deploy must be a mapping");
	expect_invalid("services:\n  web:\n    image: x\n    deploy: {resources: {limits: 1}}\n",
	               "line 4: service 'web': deploy.resources.limits must be a mapping");
}

static void test_duplicate_keys(void **state)
{
	(void)state;
	expect_invalid("services:\n  web: {image: x}\nservices:\n  db: {image: y}\n",
	               "line 3: duplicate key 'services' (first at line 1)");
	expect_invalid("services:\n"
	               "  web:\n"
	               "    image: a\n"
	               "  db:\n"
	               "    image: b\n"
	               "  web:\n"
	               "    image: c\n",
	               "line 6: service 'web' is defined twice (first at line 2)");
	expect_invalid("services:\n"
	               "  web:\n"
	               "    image: a\n"
	               "    restart: always\n"
	               "    image: b\n",
	               "line 5: service 'web': duplicate key 'image' (first at line 3)");
	expect_invalid("services:\n"
	               "  web:\n"
	               "    image: a\n"
	               "    environment:\n"
	               "      A: 1\n"
	               "      B: 2\n"
	               "      A: 3\n",
	               "line 7: service 'web': duplicate key 'A' (first at line 5)");
	/* Any level, including extension fields; the first repeat in the file is reported. */
	expect_invalid("x-common:\n"
	               "  a: 1\n"
	               "  b: 2\n"
	               "  b: 3\n"
	               "  a: 4\n"
	               "services: {web: {image: x}}\n",
	               "line 4: duplicate key 'b' (first at line 3)");
	expect_invalid("services: {web: {image: x, labels: {k: 1, k: 2}}}\n",
	               "line 1: service 'web': duplicate key 'k' (first at line 1)");
	/* Through an alias used as a key. */
	expect_invalid("x: &k image\nservices:\n  web:\n    *k : a\n    image: b\n",
	               "line 5: service 'web': duplicate key 'image' (first at line 1)");
	/* Flow mappings in sequences too. */
	expect_invalid("services:\n  web: {image: x}\nx-list:\n  - {a: 1, a: 2}\n",
	               "line 4: duplicate key 'a' (first at line 4)");
}

static void test_keys_and_values(void **state)
{
	struct compose_file *f;

	(void)state;
	expect_invalid("services:\n  web:\n    image: x\n    [a, b]: 1\n",
	               "line 4: service 'web': mapping keys must be strings");
	expect_invalid("? {a: 1}\n: b\n", "line 1: mapping keys must be strings");
	expect_invalid("x: &m {a: 1}\nservices:\n  web: {image: x}\n  *m : 1\n",
	               "line 4: mapping keys must be strings");
	expect_invalid("services:\n  web:\n    image: \"nginx\\0evil\"\n",
	               "line 3: NUL character in a value");
	expect_invalid("services: {web: {image: x}}\n---\nservices: {db: {image: y}}\n",
	               "line 2: only one YAML document is allowed");
	/* Explicit document markers around one document are fine. */
	f = parse_ok("%YAML 1.1\n---\nservices: {web: {image: x}}\n...\n");
	assert_int_equal(service(f, "web")->line, 3);
	compose_file_free(f);
	/* Tags are ignored: the text is kept as written. */
	f = parse_ok("services: {web: {image: !!str nginx:1, privileged: !!bool true}}\n");
	assert_string_equal(service(f, "web")->image, "nginx:1");
	assert_true(service(f, "web")->privileged);
	compose_file_free(f);
}

static void test_messages_quote_user_text(void **state)
{
	struct text t = {0};
	const char *msg;
	struct compose_file *f = NULL;
	int err;

	(void)state;
	/* A long key with multi-byte characters is cut at 64 bytes, on a character boundary. */
	text_add(&t, "services: {web: {image: x}}\nx:\n  ");
	text_add(&t, "a");
	for (int i = 0; i < 40; i++)
		text_add(&t, "\xc3\xa9"); /* é */
	text_add(&t, ": 1\n  a");
	for (int i = 0; i < 40; i++)
		text_add(&t, "\xc3\xa9");
	text_add(&t, ": 2\n");
	err = compose_file_parse(&f, t.s, t.len);
	assert_int_equal(err, OVR_ERR_INVALID);
	msg = ovr_err_msg(err);
	assert_non_null(strstr(msg, "line 4: duplicate key 'a\xc3\xa9"));
	/* 'a' + 31 whole characters = 63 bytes, then the closing quote. */
	assert_non_null(strstr(msg, "\xc3\xa9' (first at line 3)"));
	assert_int_equal(strlen(msg), strlen("line 4: duplicate key '' (first at line 3)") + 63);
	free(t.s);
}

/* ---- limits ---- */

/* The classic billion laughs: 9 levels of 9 aliases, 10^9 strings if expanded. */
static char *billion_laughs(void)
{
	struct text t = {0};
	int level, i;

	text_add(&t, "x-a: &a "
	             "[\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n");
	for (level = 1; level < 9; level++) {
		text_add(&t, "x-%c: &%c [", 'a' + level, 'a' + level);
		for (i = 0; i < 9; i++)
			text_add(&t, "%s*%c", i ? "," : "", 'a' + level - 1);
		text_add(&t, "]\n");
	}
	text_add(&t, "services: {web: {image: nginx, labels: {x: *i}}}\n");
	return t.s;
}

static void test_billion_laughs(void **state)
{
	char *doc = billion_laughs();
	struct compose_file *f = NULL;
	double t0, dt;
	int err;

	(void)state;
	t0 = now_s();
	err = compose_file_parse(&f, doc, strlen(doc));
	dt = now_s() - t0;
	print_message("billion laughs refused in %.3f ms\n", dt * 1e3);
	assert_int_equal(err, OVR_ERR_INVALID);
	/* Level e (line 5) is the first to pass 10,000 expanded nodes: 9 x 7381 of *d. */
	assert_string_equal(ovr_err_msg(err), "line 5: too many alias expansions");
	assert_null(f);
	assert_true(dt < 0.1);
	free(doc);
}

/*
 * Peak memory of parsing a billion-laughs document, measured in a child with a fresh peak: well
 * under 16 MiB (expanded, the document would take tens of gigabytes).
 */
static void test_billion_laughs_memory(void **state)
{
	pid_t pid;
	int status;

	(void)state;
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		char *doc = billion_laughs();
		struct compose_file *f = NULL;
		struct rusage before, after;
		long grown_kb;

		getrusage(RUSAGE_SELF, &before);
		for (int i = 0; i < 10; i++)
			if (compose_file_parse(&f, doc, strlen(doc)) != OVR_ERR_INVALID)
				_exit(2);
		getrusage(RUSAGE_SELF, &after);
		grown_kb = after.ru_maxrss - before.ru_maxrss;
		fprintf(stderr, "billion laughs: peak memory grew %ld KiB\n", grown_kb);
		_exit(grown_kb < 16384 ? 0 : 1);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

static void test_alias_limits(void **state)
{
	struct text t = {0};
	struct compose_file *f = NULL;
	double t0, dt;
	int err;
	int i;

	(void)state;
	/* Many aliases of one scalar: each counts. 10,000 are fine, 10,001 are not. */
	text_add(&t, "x-a: &a lol\nx-list: [");
	for (i = 0; i < COMPOSE_FILE_MAX_EXPANSIONS; i++)
		text_add(&t, "*a, ");
	text_add(&t, "]\nservices: {web: {image: *a}}\n");
	expect_invalid(t.s, "line 3: too many alias expansions");
	t.len = 0;
	text_add(&t, "x-a: &a lol\nx-list: [");
	for (i = 0; i < COMPOSE_FILE_MAX_EXPANSIONS - 1; i++)
		text_add(&t, "*a, ");
	text_add(&t, "]\nservices: {web: {image: *a}}\n");
	f = parse_ok(t.s);
	assert_string_equal(service(f, "web")->image, "lol");
	compose_file_free(f);

	/* An alias flood that fills the 1 MiB limit is refused quickly. */
	t.len = 0;
	text_add(&t, "x-a: &a [lol, lol]\nx-list: [");
	while (t.len < COMPOSE_FILE_MAX_BYTES - 100)
		text_add(&t, "*a,");
	text_add(&t, "]\nservices: {web: {image: x}}\n");
	t0 = now_s();
	err = compose_file_parse(&f, t.s, t.len);
	dt = now_s() - t0;
	assert_int_equal(err, OVR_ERR_INVALID);
	assert_string_equal(ovr_err_msg(err), "line 2: too many alias expansions");
	assert_true(dt < 0.5);

	/* Merge keys are bounded like aliases: a billion laughs built from <<. */
	t.len = 0;
	text_add(&t, "x-a: &a {k0: 1, k1: 1, k2: 1, k3: 1, k4: 1, k5: 1, k6: 1, k7: 1}\n");
	for (i = 1; i < 9; i++)
		text_add(&t, "x-%c: &%c {<<: [*%c, *%c, *%c, *%c, *%c, *%c, *%c, *%c]}\n", 'a' + i,
		         'a' + i, 'a' + i - 1, 'a' + i - 1, 'a' + i - 1, 'a' + i - 1, 'a' + i - 1,
		         'a' + i - 1, 'a' + i - 1, 'a' + i - 1);
	text_add(&t, "services:\n  web:\n    <<: *i\n    image: x\n");
	t0 = now_s();
	expect_invalid(t.s, "line 4: too many alias expansions");
	assert_true(now_s() - t0 < 0.1);

	/* A chain of merges, each one level deeper once expanded, stops at 64 levels. */
	t.len = 0;
	text_add(&t, "x-0: &m0 {k0: v}\n");
	for (i = 1; i < 100; i++)
		text_add(&t, "x-%d: &m%d {<<: *m%d, k%d: v}\n", i, i, i - 1, i);
	text_add(&t, "services: {web: {image: x}}\n");
	/* x-63 (line 64) sits at level 2 and would add 63 levels. */
	expect_invalid(t.s, "line 64: too many alias expansions");

	/* An alias that would nest past 64 levels where it is used. */
	t.len = 0;
	text_add(&t, "x-deep: &d ");
	for (i = 0; i < 62; i++)
		text_add(&t, "[");
	for (i = 0; i < 62; i++)
		text_add(&t, "]");
	text_add(&t, "\nservices:\n  web:\n    image: x\n    labels: {a: *d}\n");
	expect_invalid(t.s, "line 5: too many alias expansions");
	/* Two levels higher it fits. */
	t.len = 0;
	text_add(&t, "x-deep: &d ");
	for (i = 0; i < 62; i++)
		text_add(&t, "[");
	for (i = 0; i < 62; i++)
		text_add(&t, "]");
	text_add(&t, "\nx-use: {a: *d}\nservices: {web: {image: x}}\n");
	f = parse_ok(t.s);
	compose_file_free(f);
	free(t.s);
}

static void test_size_limit(void **state)
{
	const char *head = "services:\n  web:\n    image: nginx\n";
	size_t max = COMPOSE_FILE_MAX_BYTES;
	struct compose_file *f = NULL;
	char *buf = malloc(max + 1);

	(void)state;
	assert_non_null(buf);
	/* Exactly 1 MiB: the services, then one long comment line. */
	memcpy(buf, head, strlen(head));
	buf[strlen(head)] = '#';
	memset(buf + strlen(head) + 1, 'x', max - strlen(head) - 2);
	buf[max - 1] = '\n';
	assert_int_equal(compose_file_parse(&f, buf, max), 0);
	assert_string_equal(service(f, "web")->image, "nginx");
	compose_file_free(f);
	buf[max - 1] = 'x';
	buf[max] = '\n';
	expect_err_len(buf, max + 1, OVR_ERR_TOO_LARGE,
	               "the compose file is 1048577 bytes; the limit is 1 MiB (1048576 bytes)");
	free(buf);
}

static void test_nesting_limit(void **state)
{
	struct text t = {0};
	struct compose_file *f = NULL;
	double t0;
	int err;
	int i;

	(void)state;
	/* The top-level mapping plus 63 lists is 64 levels: fine. */
	text_add(&t, "services: {web: {image: x}}\nx: ");
	for (i = 0; i < 63; i++)
		text_add(&t, "[");
	for (i = 0; i < 63; i++)
		text_add(&t, "]");
	text_add(&t, "\n");
	f = parse_ok(t.s);
	compose_file_free(f);
	/* 65 is not. */
	t.len = 0;
	text_add(&t, "services: {web: {image: x}}\nx:\n");
	for (i = 0; i < 64; i++)
		text_add(&t, "%*s- \n", 2 * i, "");
	expect_invalid(t.s, "line 66: nesting deeper than 64 levels");
	/* Half a million brackets are refused at the 65th, without reading the rest. */
	t.len = 0;
	text_add(&t, "x: ");
	while (t.len < COMPOSE_FILE_MAX_BYTES)
		text_add(&t, "[");
	t0 = now_s();
	err = compose_file_parse(&f, t.s, COMPOSE_FILE_MAX_BYTES);
	assert_int_equal(err, OVR_ERR_INVALID);
	assert_string_equal(ovr_err_msg(err), "line 1: nesting deeper than 64 levels");
	assert_true(now_s() - t0 < 0.5);
	free(t.s);
}

static void test_utf8(void **state)
{
	struct compose_file *f;

	(void)state;
	expect_invalid("services:\n  web:\n    image: caf\xe9\n",
	               "line 3: invalid UTF-8 (byte 0xe9)");
	expect_invalid("services:\n  web: {image: \xc0\xaf}\n",
	               "line 2: invalid UTF-8 (byte 0xc0)"); /* overlong '/' */
	expect_invalid("services:\n  web: {image: \xed\xa0\x80}\n",
	               "line 2: invalid UTF-8 (byte 0xed)"); /* a UTF-16 surrogate */
	expect_invalid("services:\n  web: {image: \xf4\x90\x80\x80}\n",
	               "line 2: invalid UTF-8 (byte 0xf4)"); /* past U+10FFFF */
	expect_invalid("services:\n  web: {image: x}\n#\xe2\x82",
	               "line 3: invalid UTF-8 (byte 0xe2)"); /* cut short */
	/* UTF-16 with a byte order mark is not UTF-8. */
	expect_err_len("\xff\xfes\x00:\x00", 6, OVR_ERR_INVALID,
	               "line 1: invalid UTF-8 (byte 0xff)");
	/* A UTF-8 byte order mark and non-ASCII text are fine. */
	f = parse_ok("\xef\xbb\xbfservices:\n  web:\n    image: x\n    labels: [\"note=caf\xc3\xa9 "
	             "\xf0\x9f\x90\xb3\"]\n");
	assert_string_equal(service(f, "web")->labels[0].value, "caf\xc3\xa9 \xf0\x9f\x90\xb3");
	compose_file_free(f);
	/* A control character is libyaml's to refuse. */
	expect_invalid("services:\n  web: {image: x}\n\x01\n",
	               "line 3: control characters are not allowed");
}

static void test_service_limit(void **state)
{
	struct text t = {0};
	struct compose_file *f = NULL;
	int i;

	(void)state;
	text_add(&t, "services:\n");
	for (i = 0; i < COMPOSE_FILE_MAX_SERVICES; i++)
		text_add(&t, "  s%d: {image: x}\n", i);
	f = parse_ok(t.s);
	assert_int_equal(f->n_services, COMPOSE_FILE_MAX_SERVICES);
	assert_string_equal(f->services[999].name, "s999");
	assert_int_equal(f->services[999].line, 1001);
	compose_file_free(f);
	text_add(&t, "  s1000: {image: x}\n");
	expect_err(t.s, OVR_ERR_TOO_LARGE, "line 1002: more than 1000 services");
	free(t.s);
}

static void test_node_limit(void **state)
{
	struct text t = {0};

	(void)state;
	/* 200,000 tiny scalars would cost ~20 MB of tree; more are refused. */
	text_add(&t, "services: {web: {image: x}}\nx: [");
	for (int i = 0; i < COMPOSE_FILE_MAX_NODES; i++)
		text_add(&t, "a,");
	text_add(&t, "]\n");
	expect_err(t.s, OVR_ERR_TOO_LARGE, "line 2: more than 200000 YAML nodes");
	free(t.s);
}

static void test_free_null(void **state)
{
	(void)state;
	compose_file_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_billion_laughs_memory),
	        cmocka_unit_test(test_fixtures_all_parse),
	        cmocka_unit_test(test_fixture_three_tier),
	        cmocka_unit_test(test_fixture_single_app),
	        cmocka_unit_test(test_fixture_anti_patterns),
	        cmocka_unit_test(test_long_forms),
	        cmocka_unit_test(test_merge_keys),
	        cmocka_unit_test(test_aliases),
	        cmocka_unit_test(test_syntax_errors),
	        cmocka_unit_test(test_top_level),
	        cmocka_unit_test(test_service_errors),
	        cmocka_unit_test(test_field_errors),
	        cmocka_unit_test(test_duplicate_keys),
	        cmocka_unit_test(test_keys_and_values),
	        cmocka_unit_test(test_messages_quote_user_text),
	        cmocka_unit_test(test_billion_laughs),
	        cmocka_unit_test(test_alias_limits),
	        cmocka_unit_test(test_size_limit),
	        cmocka_unit_test(test_nesting_limit),
	        cmocka_unit_test(test_utf8),
	        cmocka_unit_test(test_service_limit),
	        cmocka_unit_test(test_node_limit),
	        cmocka_unit_test(test_free_null),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
