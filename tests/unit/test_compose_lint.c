/* Compose lint: each rule with its line, no false alarms, strict, ports in use, the fixtures. */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "compose_file.h"
#include "compose_lint.h"
#include "err.h"

#define FIXTURES OVR_SOURCE_DIR "/../shared/fixtures/compose"

/* ---- helpers ---- */

/* One lint: the parsed file and the findings, freed by done(). */
struct run {
	struct compose_file *f;
	struct arena a;
	struct compose_lint_finding *v;
	size_t n;
};

static void lint_opts(struct run *r, const char *yaml, const struct compose_lint_options *o)
{
	int err;

	memset(r, 0, sizeof(*r));
	err = compose_file_parse(&r->f, yaml, strlen(yaml));
	if (err)
		fail_msg("parse: %s\n%s", ovr_err_msg(err), yaml);
	err = compose_lint(r->f, o, &r->a, &r->v, &r->n);
	if (err)
		fail_msg("lint: %s", ovr_err_msg(err));
}

static void lint(struct run *r, const char *yaml)
{
	lint_opts(r, yaml, NULL);
}

static void done(struct run *r)
{
	compose_file_free(r->f);
	arena_free(&r->a);
}

static void dump(const struct run *r)
{
	size_t i;

	for (i = 0; i < r->n; i++)
		print_message("  %d %s [%s] %s | %s\n", r->v[i].line, r->v[i].rule, r->v[i].service,
		              r->v[i].message, r->v[i].fix);
}

/* Expected findings in order: "rule", line, "service", ... then NULL. */
static void expect(const struct run *r, ...)
{
	const char *rule;
	size_t i = 0;
	va_list ap;

	va_start(ap, r);
	while ((rule = va_arg(ap, const char *)) != NULL) {
		int line = va_arg(ap, int);
		const char *svc = va_arg(ap, const char *);

		if (i >= r->n || strcmp(r->v[i].rule, rule) != 0 || r->v[i].line != line ||
		    strcmp(r->v[i].service, svc) != 0) {
			dump(r);
			fail_msg("finding %zu: expected %s at line %d (%s)", i, rule, line, svc);
		}
		i++;
	}
	va_end(ap);
	if (i != r->n) {
		dump(r);
		fail_msg("expected %zu findings, got %zu", i, r->n);
	}
}

/* The finding with this rule on this line, or a failure. */
static const struct compose_lint_finding *find(const struct run *r, const char *rule, int line)
{
	size_t i;

	for (i = 0; i < r->n; i++)
		if (strcmp(r->v[i].rule, rule) == 0 && r->v[i].line == line)
			return &r->v[i];
	dump(r);
	fail_msg("no %s finding at line %d", rule, line);
	return NULL;
}

static size_t count(const struct run *r, const char *rule)
{
	size_t i, n = 0;

	for (i = 0; i < r->n; i++)
		n += strcmp(r->v[i].rule, rule) == 0;
	return n;
}

/* Services that pass every rule but the one under test. */
#define CLEAN "    restart: always\n    mem_limit: 256m\n"

/* ---- each rule, with its line ---- */

static void test_rules_and_lines(void **state)
{
	struct run r;

	(void)state;
	lint(&r, "services:\n"                                        /* 1 */
	         "  db:\n"                                            /* 2 */
	         "    image: postgres:latest\n"                       /* 3 */
	         "    environment:\n"                                 /* 4 */
	         "      DB_PASSWORD: hunter2\n"                       /* 5 */
	         "      DB_USER: shop\n"                              /* 6 */
	         "  web:\n"                                           /* 7 */
	         "    image: registry.local:5000/web\n"               /* 8 */
	         "    privileged: true\n"                             /* 9 */
	         "    volumes:\n"                                     /* 10 */
	         "      - /run/docker.sock:/var/run/docker.sock:ro\n" /* 11 */
	         "      - /etc/nginx:/etc/nginx\n"                    /* 12 */
	         "      - ./data:/data\n"                             /* 13 */
	         "      - ~/cache:/cache\n"                           /* 14 */
	         "    depends_on:\n"                                  /* 15 */
	         "      - db\n"                                       /* 16 */
	         "      - api\n"                                      /* 17 */
	         "  api:\n"                                           /* 18 */
	         "    image: api:1.0\n"                               /* 19 */
	         "    restart: always\n"                              /* 20 */
	         "    deploy:\n"                                      /* 21 */
	         "      resources:\n"                                 /* 22 */
	         "        limits:\n"                                  /* 23 */
	         "          memory: 64M\n"                            /* 24 */
	         "    healthcheck:\n"                                 /* 25 */
	         "      test: [\"CMD\", \"true\"]\n");                /* 26 */
	expect(&r, "no-resource-limits", 2, "db", "no-restart", 2, "db", "image-latest", 3, "db",
	       "hardcoded-secret", 5, "db", "no-resource-limits", 7, "web", "no-restart", 7, "web",
	       "image-latest", 8, "web", "privileged", 9, "web", "docker-socket", 11, "web",
	       "bind-outside-allowlist", 12, "web", "bind-outside-allowlist", 13, "web",
	       "bind-outside-allowlist", 14, "web", "depends-on-no-healthcheck", 16, "web",
	       "depends-on-not-healthy", 17, "web", NULL);
	assert_string_equal(r.v[2].message,
	                    "service db: image postgres:latest uses the tag latest, which points "
	                    "at a different image over time");
	assert_string_equal(
	        r.v[6].message,
	        "service web: image registry.local:5000/web has no tag, so it means :latest, "
	        "which points at a different image over time");
	assert_non_null(strstr(r.v[6].fix, "registry.local:5000/web:<version>"));
	assert_non_null(strstr(r.v[3].message, "DB_PASSWORD"));
	assert_string_equal(r.v[3].fix, "store the value with `ovrctl secret set db-password`, "
	                                "reference it with `--secret DB_PASSWORD=db-password` and "
	                                "write `DB_PASSWORD=${DB_PASSWORD}` in the file");
	assert_non_null(strstr(r.v[9].message, "/etc/nginx"));
	assert_non_null(strstr(r.v[9].message, "/srv/, /opt/, /mnt/"));
	assert_non_null(strstr(r.v[10].message, "relative"));
	assert_non_null(strstr(r.v[10].message, "does not survive a redeploy"));
	assert_non_null(strstr(r.v[11].message, "home directory"));
	assert_non_null(strstr(r.v[12].message, "db has no healthcheck"));
	assert_non_null(strstr(r.v[13].fix, "condition: service_healthy"));
	done(&r);
}

static void test_severity_and_fields(void **state)
{
	struct compose_lint_options o = {0};
	const char *yaml = "services:\n  web:\n    image: nginx\n";
	struct run r;
	size_t i;

	(void)state;
	lint(&r, yaml);
	assert_int_equal(r.n, 3);
	for (i = 0; i < r.n; i++) {
		assert_string_equal(r.v[i].severity, "warning");
		assert_string_equal(r.v[i].service, "web");
		assert_true(strncmp(r.v[i].message, "service web: ", 13) == 0);
		assert_true(r.v[i].fix[0] != '\0');
	}
	done(&r);
	o.strict = 1;
	lint_opts(&r, yaml, &o);
	assert_int_equal(r.n, 3);
	for (i = 0; i < r.n; i++)
		assert_string_equal(r.v[i].severity, "error");
	done(&r);
}

/* ---- no false alarms ---- */

static void test_clean_file(void **state)
{
	struct run r;

	(void)state;
	lint(&r, "services:\n"
	         "  db:\n"
	         "    image: postgres@sha256:0123456789abcdef\n" CLEAN "    environment:\n"
	         "      - DB_PASSWORD=${DB_PASSWORD}\n"
	         "      - API_KEY=$API_KEY\n"
	         "      - SECRET_TOKEN=\n"
	         "      - PRIVATE_KEY\n"
	         "      - KEYCLOAK_URL=https://id.example.com\n"
	         "      - MONKEY=banana\n"
	         "      - POSTGRES_PASSWORD_FILE=/run/secrets/pg\n"
	         "      - AWS_ACCESS_KEY_ID=AKIAEXAMPLE\n"
	         "      - TOKEN_TTL=3600\n"
	         "      - USE_TOKEN=true\n"
	         "      - DATABASE_URL=postgres://${U}:${P}@db/x\n"
	         "      - CALLBACK=https://example.com/a:b@c\n"
	         "      - SITE=https://user@example.com/\n"
	         "    healthcheck:\n"
	         "      test: [\"CMD\", \"pg_isready\"]\n"
	         "    volumes:\n"
	         "      - db-data:/var/lib/postgresql/data\n"
	         "      - /srv/db/conf:/conf:ro\n"
	         "      - /opt:/opt\n"
	         "      - ${CONF_DIR}:/etc/conf\n"
	         "      - /data\n"
	         "  web:\n"
	         "    image: ghcr.io/acme/web:1.2.3\n" CLEAN "    depends_on:\n"
	         "      db:\n"
	         "        condition: service_healthy\n"
	         "      migrate:\n"
	         "        condition: service_completed_successfully\n"
	         "  migrate:\n"
	         "    image: registry.local:5000/acme/migrate:7\n" CLEAN "  other:\n"
	         "    image: ${IMAGE}\n" CLEAN "    depends_on: [missing]\n"
	         "volumes:\n"
	         "  db-data:\n");
	expect(&r, NULL);
	done(&r);
}

static void test_secret_names(void **state)
{
	static const struct {
		const char *name;
		int flagged;
	} cases[] = {
	        {"PASSWORD", 1},
	        {"db_password", 1},
	        {"MYSQL_ROOT_PASSWORD", 1},
	        {"SMTP_PASS", 1},
	        {"LDAP_PASSWD", 1},
	        {"API_KEY", 1},
	        {"PRIVATE_KEY", 1},
	        {"SECRET_KEY_BASE", 1},
	        {"GITHUB_TOKEN", 1},
	        {"client-secret", 1},
	        {"KEY", 1},
	        {"APIKEY", 1},
	        {"KEYCLOAK_URL", 0},
	        {"MONKEY", 0},
	        {"TOKENIZER", 0},
	        {"PASSWORDLESS", 0},
	        {"SECRET_FILE", 0},
	        {"API_KEY_ID", 0},
	        {"TOKEN_URL", 0},
	        {"PASSWORD_LENGTH", 0},
	        {"SECRETARY", 0},
	};
	char yaml[512];
	struct run r;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(yaml, sizeof(yaml),
		         "services:\n  a:\n    image: a:1\n" CLEAN "    environment:\n"
		         "      %s: s3cr3t-value\n",
		         cases[i].name);
		lint(&r, yaml);
		if (r.n != (size_t)cases[i].flagged)
			fail_msg("%s: expected %d findings, got %zu", cases[i].name,
			         cases[i].flagged, r.n);
		if (r.n) {
			assert_string_equal(r.v[0].rule, "hardcoded-secret");
			assert_int_equal(r.v[0].line, 7);
			assert_null(strstr(r.v[0].message, "s3cr3t"));
			assert_null(strstr(r.v[0].fix, "s3cr3t"));
		}
		done(&r);
	}
}

static void test_url_password(void **state)
{
	struct run r;

	(void)state;
	lint(&r, "services:\n  a:\n    image: a:1\n" CLEAN "    environment:\n"
	         "      - DATABASE_URL=postgresql://shop:hunter2@db:5432/shop\n"
	         "      - DB_PASSWORD=plain\n");
	expect(&r, "hardcoded-secret", 7, "a", "hardcoded-secret", 8, "a", NULL);
	assert_null(strstr(r.v[0].message, "hunter2"));
	assert_non_null(strstr(r.v[0].message, "DATABASE_URL"));
	assert_non_null(strstr(r.v[0].fix, "--secret DATABASE_URL_PASSWORD=database-url-password"));
	done(&r);
}

static void test_images(void **state)
{
	static const struct {
		const char *image;
		int flagged;
	} cases[] = {
	        {"nginx", 1},
	        {"nginx:latest", 1},
	        {"library/nginx", 1},
	        {"host:5000/team/app", 1},
	        {"host:5000/team/app:latest", 1},
	        {"nginx:1.27", 0},
	        {"host:5000/team/app:2", 0},
	        {"nginx@sha256:abc", 0},
	        {"nginx:latest@sha256:abc", 0},
	        {"${REGISTRY}/app", 0},
	        {"app:${TAG:-1}", 0},
	};
	char yaml[256];
	struct run r;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(yaml, sizeof(yaml), "services:\n  a:\n    image: \"%s\"\n" CLEAN,
		         cases[i].image);
		lint(&r, yaml);
		if (r.n != (size_t)cases[i].flagged)
			fail_msg("%s: expected %d findings, got %zu", cases[i].image,
			         cases[i].flagged, r.n);
		if (r.n)
			assert_string_equal(r.v[0].rule, "image-latest");
		done(&r);
	}
}

static void test_depends_on(void **state)
{
	struct run r;

	(void)state;
	lint(&r, "services:\n"                          /* 1 */
	         "  a:\n"                               /* 2 */
	         "    image: a:1\n" CLEAN               /* 3-5 */
	         "    depends_on:\n"                    /* 6 */
	         "      b:\n"                           /* 7 */
	         "        condition: service_healthy\n" /* 8 */
	         "      c:\n"                           /* 9 */
	         "        condition: service_started\n" /* 10 */
	         "  b:\n"                               /* 11 */
	         "    image: b:1\n" CLEAN               /* 12-14 */
	         "    healthcheck:\n"                   /* 15 */
	         "      disable: true\n"                /* 16 */
	         "  c:\n"                               /* 17 */
	         "    image: c:1\n" CLEAN               /* 18-20 */
	         "    healthcheck:\n"                   /* 21 */
	         "      test: [\"CMD\", \"true\"]\n");  /* 22 */
	expect(&r, "depends-on-no-healthcheck", 7, "a", "depends-on-not-healthy", 9, "a", NULL);
	assert_non_null(strstr(r.v[0].message, "waits for b to be healthy"));
	assert_non_null(strstr(r.v[0].message, "disabled"));
	done(&r);
}

static void test_binds(void **state)
{
	static const char *const allow[] = {"/data", "/var/lib/app/"};
	struct compose_lint_options o = {0};
	const char *yaml = "services:\n  a:\n    image: a:1\n" CLEAN "    volumes:\n"
	                   "      - /data/x:/x\n"      /* 7 */
	                   "      - /database:/y\n"    /* 8 */
	                   "      - /var/lib/app:/z\n" /* 9 */
	                   "      - /srv/x:/w\n"       /* 10 */
	                   "      - /data/../etc:/e\n" /* 11 */
	                   "      - type: bind\n"      /* 12 */
	                   "        source: rel\n"
	                   "        target: /r\n"
	                   "      - //var//run/:/s\n" /* 15 */
	                   "      - /:/host\n";       /* 16 */
	struct run r;

	(void)state;
	o.bind_allowlist = allow;
	o.n_bind_allowlist = 2;
	lint_opts(&r, yaml, &o);
	expect(&r, "bind-outside-allowlist", 8, "a", "bind-outside-allowlist", 10, "a",
	       "bind-outside-allowlist", 11, "a", "bind-outside-allowlist", 12, "a",
	       "docker-socket", 15, "a", "docker-socket", 16, "a", NULL);
	assert_non_null(strstr(r.v[0].message, "(/data/, /var/lib/app/)"));
	assert_non_null(strstr(r.v[3].message, "relative"));
	done(&r);

	/* The default list, and an empty one that allows no host path. */
	lint(&r, yaml);
	assert_int_equal(count(&r, "bind-outside-allowlist"), 5);
	done(&r);
	o.n_bind_allowlist = 0;
	lint_opts(&r, yaml, &o);
	assert_int_equal(count(&r, "bind-outside-allowlist"), 6);
	assert_string_equal(find(&r, "bind-outside-allowlist", 7)->fix,
	                    "use a named volume for data");
	done(&r);
}

/* ---- ports in use ---- */

static void test_port_conflicts(void **state)
{
	static const struct compose_lint_port_use uses[] = {
	        {"n1", "shop", 8080, "tcp", "0.0.0.0"},
	        {"n2", "blog", 8080, NULL, NULL},
	        {"n1", "dns", 53, "udp", ""},
	        {"n1", "metrics", 9100, "tcp", "127.0.0.1"},
	        {"n3", "range", 8001, "tcp", "::"},
	        {"n3", "range", 8002, "tcp", "::"},
	        {"n1", "mail", 2525, "tcp", "10.0.0.5"},
	};
	struct compose_lint_options o = {0};
	const struct compose_lint_finding *f;
	struct run r;

	(void)state;
	o.ports_in_use = uses;
	o.n_ports_in_use = sizeof(uses) / sizeof(uses[0]);
	lint_opts(&r,
	          "services:\n  a:\n    image: a:1\n" CLEAN "    ports:\n"
	          "      - \"8080:80\"\n"             /* 7: shop and blog */
	          "      - \"53:53\"\n"               /* 8: tcp, dns is udp */
	          "      - \"53:53/udp\"\n"           /* 9 */
	          "      - \"10.0.0.7:9100:9100\"\n"  /* 10: other address */
	          "      - \"127.0.0.1:9100:9100\"\n" /* 11 */
	          "      - \"8000-8002:8000-8002\"\n" /* 12: range, one app twice */
	          "      - \"80\"\n"                  /* 13: no host port */
	          "      - \"127.0.0.1::8080\"\n"     /* 14: a random host port */
	          "      - \"${PORT}:8080\"\n"        /* 15 */
	          "      - \"[::1]:2525:25\"\n"       /* 16: other address */
	          "      - target: 25\n"              /* 17: long form */
	          "        published: 2525\n"
	          "        protocol: tcp\n",
	          &o);
	expect(&r, "port-conflict", 7, "a", "port-conflict", 9, "a", "port-conflict", 11, "a",
	       "port-conflict", 12, "a", "port-conflict", 17, "a", NULL);
	assert_string_equal(r.v[0].message,
	                    "service a: host port 8080/tcp is already published by app shop on "
	                    "node n1, app blog on node n2, so the container cannot start there");
	assert_non_null(strstr(r.v[1].message, "53/udp"));
	f = find(&r, "port-conflict", 12);
	assert_non_null(strstr(f->message, "port 8001/tcp"));
	assert_non_null(strstr(f->message, "range on node n3,"));
	assert_null(strstr(strstr(f->message, "range on node n3") + 1, "range on node n3"));
	done(&r);
}

/* Many users of one port: three are named, the rest counted. */
static void test_port_many_users(void **state)
{
	static const struct compose_lint_port_use uses[] = {
	        {"n1", "a1", 7000, "tcp", ""}, {"n1", "a2", 7000, "tcp", ""},
	        {"n2", "a1", 7000, "tcp", ""}, {"n2", "a2", 7000, "tcp", ""},
	        {"n3", "a1", 7000, "tcp", ""},
	};
	struct compose_lint_options o = {0};
	struct run r;

	(void)state;
	o.ports_in_use = uses;
	o.n_ports_in_use = 5;
	lint_opts(&r, "services:\n  a:\n    image: a:1\n" CLEAN "    ports: [\"7000:7000\"]\n", &o);
	expect(&r, "port-conflict", 6, "a", NULL);
	assert_non_null(strstr(r.v[0].message, "by app a1 on node n1, app a2 on node n1, app a1 on "
	                                       "node n2 and 2 more, so"));
	done(&r);
}

/* ---- bounds ---- */

static void test_too_many_findings(void **state)
{
	struct compose_lint_finding *v = NULL;
	struct compose_file *f = NULL;
	struct arena a = {NULL};
	size_t i, len = 0, n = 0;
	char *yaml = malloc(1024 * 1024);
	int err;

	(void)state;
	assert_non_null(yaml);
	len += (size_t)sprintf(yaml + len, "services:\n");
	/* 4 findings each (image, restart, limits, privileged): 2000 in all. */
	for (i = 0; i < 500; i++)
		len += (size_t)sprintf(yaml + len, "  s%zu:\n    image: x\n    privileged: true\n",
		                       i);
	err = compose_file_parse(&f, yaml, len);
	assert_int_equal(err, 0);
	err = compose_lint(f, NULL, &a, &v, &n);
	assert_int_equal(err, 0);
	assert_int_equal(n, COMPOSE_LINT_MAX_FINDINGS);
	for (i = 1; i < n; i++)
		assert_true(v[i - 1].line < v[i].line ||
		            (v[i - 1].line == v[i].line && strcmp(v[i - 1].rule, v[i].rule) <= 0));
	assert_int_equal(count(&(struct run){.v = v, .n = n}, "too-many-findings"), 1);
	/* Services are linted in file order, so the cut falls in service 249 (4 findings each). */
	assert_non_null(strstr(
	        find(&(struct run){.v = v, .n = n}, "too-many-findings", 3 * 249 + 2)->message,
	        "service s249: lint stopped here after 999 findings"));
	compose_file_free(f);
	arena_free(&a);
	free(yaml);
}

static void test_bad_options(void **state)
{
	struct compose_lint_options o = {0};
	struct compose_lint_finding *v = NULL;
	struct arena a = {NULL};
	struct run r;
	size_t n = 0;

	(void)state;
	lint(&r, "services:\n  a:\n    image: a:1\n");
	o.n_ports_in_use = 3;
	assert_int_equal(compose_lint(r.f, &o, &a, &v, &n), OVR_ERR_INVALID);
	assert_int_equal(compose_lint(NULL, NULL, &a, &v, &n), OVR_ERR_INVALID);
	assert_null(v);
	assert_int_equal(n, 0);
	done(&r);
	arena_free(&a);
}

/* Text from the file is bounded and printable in messages. */
static void test_messages_bounded(void **state)
{
	char yaml[1024], name[300];
	struct run r;

	(void)state;
	memset(name, 'a', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	snprintf(yaml, sizeof(yaml),
	         "services:\n  a:\n    image: \"x\\x01y%s\"\n" CLEAN "    volumes:\n"
	         "      - \"/etc/%s:/x\"\n",
	         name, name);
	lint(&r, yaml);
	assert_int_equal(r.n, 2);
	assert_true(strlen(r.v[0].message) < 300);
	assert_non_null(strstr(r.v[0].message, "x?y"));
	assert_true(strlen(r.v[1].message) < 300);
	done(&r);
}

/* ---- the shared fixtures ---- */

/* Lints a shared fixture; skips the test (with a message) when the fixtures are not there. */
static void lint_fixture(struct run *r, const char *name, const struct compose_lint_options *o)
{
	char path[512], *yaml = calloc(1, COMPOSE_FILE_MAX_BYTES + 1);
	FILE *fp;

	assert_non_null(yaml);
	snprintf(path, sizeof(path), "%s/%s", FIXTURES, name);
	if (!(fp = fopen(path, "rb"))) {
		free(yaml);
		print_message("skipped: fixture %s not found\n", path);
		skip();
	}
	assert_true(fread(yaml, 1, COMPOSE_FILE_MAX_BYTES, fp) > 0);
	fclose(fp);
	lint_opts(r, yaml, o);
	free(yaml);
}

static int is_yaml(const struct dirent *de)
{
	const char *dot = strrchr(de->d_name, '.');

	return dot && (strcmp(dot, ".yaml") == 0 || strcmp(dot, ".yml") == 0);
}

/* Every fixture lints without trouble, each finding complete and in order. */
static void test_fixtures_all(void **state)
{
	static const char *const rules[] = {
	        "hardcoded-secret",       "image-latest",       "depends-on-no-healthcheck",
	        "depends-on-not-healthy", "no-restart",         "privileged",
	        "docker-socket",          "no-resource-limits", "bind-outside-allowlist",
	        "port-conflict",          "too-many-findings"};
	struct dirent **list = NULL;
	int j, n = scandir(FIXTURES, &list, is_yaml, alphasort);

	(void)state;
	if (n < 0) {
		print_message("skipped: %s not found\n", FIXTURES);
		skip();
	}
	for (j = 0; j < n; j++) {
		struct run r;
		size_t i, k;

		lint_fixture(&r, list[j]->d_name, NULL);
		for (i = 0; i < r.n; i++) {
			const struct compose_lint_finding *f = &r.v[i];

			assert_true(f->line > 0);
			assert_true(f->message[0] && f->fix[0] && f->service[0]);
			assert_non_null(compose_file_service(r.f, f->service));
			assert_string_equal(f->severity, "warning");
			for (k = 0; k < sizeof(rules) / sizeof(rules[0]); k++)
				if (strcmp(f->rule, rules[k]) == 0)
					break;
			if (k == sizeof(rules) / sizeof(rules[0]))
				fail_msg("%s: unknown rule %s", list[j]->d_name, f->rule);
			if (i > 0)
				assert_true(r.v[i - 1].line <= f->line);
		}
		done(&r);
		free(list[j]);
	}
	free(list);
	assert_true(n >= 3);
}

/* What a reviewer says about each fixture. */
static void test_fixture_anti_patterns(void **state)
{
	struct run r;

	(void)state;
	lint_fixture(&r, "anti-patterns.yaml", NULL);
	expect(&r, "no-resource-limits", 2, "db", "no-restart", 2, "db", "image-latest", 3, "db",
	       "hardcoded-secret", 5, "db", "no-resource-limits", 7, "cache", "no-restart", 7,
	       "cache", "privileged", 9, "cache", "docker-socket", 11, "cache",
	       "no-resource-limits", 12, "web", "no-restart", 12, "web", "image-latest", 13, "web",
	       "depends-on-no-healthcheck", 15, "web", NULL);
	assert_null(strstr(r.v[3].message, "supersecret"));
	assert_non_null(strstr(r.v[3].message, "DATABASE_PASSWORD"));
	done(&r);
}

static void test_fixture_three_tier(void **state)
{
	static const struct compose_lint_port_use uses[] = {
	        {"n1", "legacy-db", 5432, "tcp", "0.0.0.0"},
	        {"n1", "game", 3000, "udp", "0.0.0.0"},
	};
	struct compose_lint_options o = {0};
	struct run r;

	(void)state;
	lint_fixture(&r, "three-tier.yaml", NULL);
	expect(&r, "no-resource-limits", 4, "db", "no-resource-limits", 21, "backend",
	       "bind-outside-allowlist", 32, "backend", "no-resource-limits", 35, "frontend",
	       "image-latest", 36, "frontend", "depends-on-no-healthcheck", 39, "frontend", NULL);
	assert_non_null(strstr(r.v[2].message, "./apps/backend is relative"));
	done(&r);
	o.ports_in_use = uses;
	o.n_ports_in_use = 2;
	lint_fixture(&r, "three-tier.yaml", &o);
	assert_int_equal(count(&r, "port-conflict"), 1);
	assert_non_null(strstr(find(&r, "port-conflict", 14)->message, "legacy-db on node n1"));
	done(&r);
}

static void test_fixture_single_app(void **state)
{
	struct run r;

	(void)state;
	lint_fixture(&r, "single-app.yaml", NULL);
	expect(&r, "no-resource-limits", 3, "app", "no-restart", 3, "app", NULL);
	done(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_rules_and_lines),
	        cmocka_unit_test(test_severity_and_fields),
	        cmocka_unit_test(test_clean_file),
	        cmocka_unit_test(test_secret_names),
	        cmocka_unit_test(test_url_password),
	        cmocka_unit_test(test_images),
	        cmocka_unit_test(test_depends_on),
	        cmocka_unit_test(test_binds),
	        cmocka_unit_test(test_port_conflicts),
	        cmocka_unit_test(test_port_many_users),
	        cmocka_unit_test(test_too_many_findings),
	        cmocka_unit_test(test_bad_options),
	        cmocka_unit_test(test_messages_bounded),
	        cmocka_unit_test(test_fixtures_all),
	        cmocka_unit_test(test_fixture_anti_patterns),
	        cmocka_unit_test(test_fixture_three_tier),
	        cmocka_unit_test(test_fixture_single_app),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
