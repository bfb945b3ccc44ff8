/*
 * ovrctl's --secret and --route flags (syntax, checks, the messages a typo gets) and how the
 * commands print what they carry: secret refs and routes of a version, lint findings.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "appout.h"
#include "closure_flags.h"
#include "ctl.h"
#include "err.h"

/* A string literal where protobuf-c and argv want char *. */
#define S(text) ((char *)(uintptr_t)(text))

/* The message of a parse that must fail with OVR_ERR_INVALID. */
static const char *secret_error(const char *text)
{
	Overseer__V1__SecretRef *s = (void *)1;

	assert_int_equal(closure_flags_parse_secret(&s, text), OVR_ERR_INVALID);
	assert_null(s);
	return ovr_err_msg(OVR_ERR_INVALID);
}

static const char *route_error(const char *text)
{
	Overseer__V1__Route *r = (void *)1;

	assert_int_equal(closure_flags_parse_route(&r, text), OVR_ERR_INVALID);
	assert_null(r);
	return ovr_err_msg(OVR_ERR_INVALID);
}

static void assert_contains(const char *text, const char *part)
{
	if (!strstr(text, part))
		fail_msg("'%s' does not contain '%s'", text, part);
}

static void test_secret_parse(void **state)
{
	Overseer__V1__SecretRef *s = NULL;
	char buf[128];

	(void)state;
	assert_int_equal(closure_flags_parse_secret(&s, "DB_PASSWORD=db-pass"), 0);
	assert_string_equal(s->env, "DB_PASSWORD");
	assert_string_equal(s->secret, "db-pass");
	assert_int_equal(s->version, 0);
	/* Requests ask for the current version; versions read back show their pin. */
	assert_string_equal(closure_flags_format_secret(buf, sizeof(buf), s),
	                    "DB_PASSWORD=db-pass");
	s->version = 3;
	assert_string_equal(closure_flags_format_secret(buf, sizeof(buf), s),
	                    "DB_PASSWORD=db-pass@v3");
	free(s);
}

static void test_secret_errors(void **state)
{
	const char *msg;

	(void)state;
	assert_contains(secret_error("DB_PASSWORD"), "'DB_PASSWORD' is not ENV=SECRET");
	assert_contains(secret_error("1DB=db-pass"), "'1DB' is not a valid variable name");
	assert_contains(secret_error("=db-pass"), "'' is not a valid variable name");
	assert_contains(secret_error("DB="), "DB=...: what follows '=' is not a secret name");
	/* A value typed where the name belongs is refused and never repeated. */
	msg = secret_error("DB_PASSWORD=Hunter2!");
	assert_contains(msg, "never on the command line");
	assert_null(strstr(msg, "Hunter2"));
	assert_null(strstr(secret_error("DB=db pass"), "db pass"));
}

static void test_route_parse(void **state)
{
	static const char *const canonical[] = {
	        "web:8080=shop.example.com/api,tls",
	        "web:80=shop.example.com",
	        "my_svc.1-a:65535=a.b/x/y%20z",
	        "api:1=localhost/",
	};
	Overseer__V1__Route *r = NULL;
	char buf[512];
	size_t i;

	(void)state;
	assert_int_equal(closure_flags_parse_route(&r, "web:8080=shop.example.com/api,tls"), 0);
	assert_string_equal(r->service, "web");
	assert_int_equal(r->port, 8080);
	assert_string_equal(r->host, "shop.example.com");
	assert_string_equal(r->path_prefix, "/api");
	assert_true(r->tls);
	free(r);
	assert_int_equal(closure_flags_parse_route(&r, "web:80=shop.example.com"), 0);
	assert_string_equal(r->path_prefix, "");
	assert_false(r->tls);
	free(r);
	/* What ovrctl prints is what the flag takes. */
	for (i = 0; i < sizeof(canonical) / sizeof(canonical[0]); i++) {
		assert_int_equal(closure_flags_parse_route(&r, canonical[i]), 0);
		assert_string_equal(closure_flags_format_route(buf, sizeof(buf), r), canonical[i]);
		free(r);
	}
}

static void test_route_errors(void **state)
{
	(void)state;
	assert_contains(route_error("web:8080"), "is not SERVICE:PORT=HOST[/PATH][,tls]");
	assert_contains(route_error("web=shop.example.com"), "'web' needs the container port");
	assert_contains(route_error("web:=shop.example.com"), "'web:' needs the container port");
	assert_contains(route_error("web:0=shop.example.com"), "'0' is not a port (1 to 65535)");
	assert_contains(route_error("web:65536=shop.example.com"), "'65536' is not a port");
	assert_contains(route_error("web:80x=shop.example.com"), "'80x' is not a port");
	assert_contains(route_error("web:123456789=shop.example.com"), "is not a port");
	assert_contains(route_error("web:8080=shop.example.com:443"), "takes no port");
	assert_contains(route_error("web:8080=shop.example.com,http2"),
	                "'http2' is not a route option (only tls)");
	assert_contains(route_error("web:8080=shop.example.com,tls,"), "'' is not a route option");
	/* Field checks are the server's (common/routes.c), named without "routes[0].". */
	assert_contains(route_error("web:8080="), "host:");
	assert_contains(route_error("web:8080=/api"), "host:");
	assert_contains(route_error("web:8080=shop_x.example.com"), "host:");
	assert_contains(route_error("web:8080=*.example.com"), "host:");
	assert_contains(route_error(":8080=shop.example.com"), "service:");
	assert_contains(route_error("we b:8080=shop.example.com"), "service:");
	assert_contains(route_error("web:8080=shop.example.com/a b"), "path_prefix:");
	assert_contains(route_error("web:8080=shop.example.com/`x`"), "path_prefix:");
	assert_contains(route_error("web:8080=shop.example.com/$HOME"), "path_prefix:");
	assert_null(strstr(route_error("web:8080=shop_x.example.com"), "routes[0]"));
	assert_contains(route_error("web:8080=shop_x.example.com"),
	                "'web:8080=shop_x.example.com'");
}

/* Runs closure_flags_arg over argv as a command would; returns its last result. */
static int parse_all(struct closure_flags *f, int on_deploy, int argc, char **argv)
{
	struct ctl ctl;
	int i, r = 0;

	memset(&ctl, 0, sizeof(ctl));
	for (i = 0; i < argc; i++) {
		r = closure_flags_arg(f, &ctl, argc, argv, &i, on_deploy);
		if (r <= 0)
			break;
	}
	return r;
}

static void test_args(void **state)
{
	char *ok[] = {S("--secret"),
	              S("DB=db-pass"),
	              S("--secret=API_KEY=api-key"),
	              S("--route"),
	              S("web:80=shop.example.com"),
	              S("--route=web:80=shop.example.com/api,tls"),
	              S("--strict")};
	char *not_ours[] = {S("--no-secrets")};
	struct closure_flags f;

	(void)state;
	memset(&f, 0, sizeof(f));
	assert_int_equal(parse_all(&f, 1, 7, ok), 1);
	assert_int_equal(f.n_secrets, 2);
	assert_string_equal(f.secrets[1]->env, "API_KEY");
	assert_string_equal(f.secrets[1]->secret, "api-key");
	assert_int_equal(f.n_routes, 2);
	assert_string_equal(f.routes[1]->path_prefix, "/api");
	assert_true(f.strict);
	closure_flags_free(&f);
	assert_int_equal(f.n_secrets, 0);
	closure_flags_free(&f); /* twice is fine */
	/* --no-secrets and --no-routes are deploy's alone. */
	memset(&f, 0, sizeof(f));
	assert_int_equal(parse_all(&f, 0, 1, not_ours), 0);
	assert_int_equal(parse_all(&f, 1, 1, not_ours), 1);
	assert_true(f.no_secrets);
}

static void test_args_refused(void **state)
{
	char *twice_env[] = {S("--secret"), S("DB=a"), S("--secret"), S("DB=b")};
	char *twice_route[] = {S("--route"), S("web:80=Shop.example.com"), S("--route"),
	                       S("api:81=shop.example.com/")};
	char *contradiction[] = {S("--secret"), S("DB=a"), S("--no-secrets")};
	char *contradiction2[] = {S("--no-routes"), S("--route"), S("web:80=a.b")};
	char *no_value[] = {S("--route")};
	char *bad_value[] = {S("--secret"), S("DB")};
	char *other_path[] = {S("--route"), S("web:80=shop.example.com/a"), S("--route"),
	                      S("web:80=shop.example.com/b")};
	struct closure_flags f;

	(void)state;
	memset(&f, 0, sizeof(f));
	assert_int_equal(parse_all(&f, 1, 4, twice_env), -1);
	closure_flags_free(&f);
	/* Hosts compare without case, and "/" is the same as no path, as on the server. */
	memset(&f, 0, sizeof(f));
	assert_int_equal(parse_all(&f, 1, 4, twice_route), -1);
	assert_int_equal(f.n_routes, 1);
	closure_flags_free(&f);
	memset(&f, 0, sizeof(f));
	assert_int_equal(parse_all(&f, 1, 4, other_path), 1);
	assert_int_equal(f.n_routes, 2);
	closure_flags_free(&f);
	memset(&f, 0, sizeof(f));
	assert_int_equal(parse_all(&f, 1, 3, contradiction), -1);
	closure_flags_free(&f);
	memset(&f, 0, sizeof(f));
	assert_int_equal(parse_all(&f, 1, 3, contradiction2), -1);
	closure_flags_free(&f);
	memset(&f, 0, sizeof(f));
	assert_int_equal(parse_all(&f, 1, 1, no_value), -1);
	assert_int_equal(parse_all(&f, 1, 2, bad_value), -1);
	assert_int_equal(f.n_secrets, 0);
	closure_flags_free(&f);
}

/* What fn printed for the findings, as one string the caller frees. */
static char *capture_findings(void (*fn)(FILE *, const char *, size_t,
                                         Overseer__V1__LintFinding *const *),
                              const char *file, size_t n, Overseer__V1__LintFinding *const *list)
{
	char *text = NULL;
	size_t len = 0;
	FILE *fp = open_memstream(&text, &len);

	assert_non_null(fp);
	fn(fp, file, n, list);
	assert_int_equal(fclose(fp), 0);
	return text;
}

static void test_findings(void **state)
{
	Overseer__V1__LintFinding a = OVERSEER__V1__LINT_FINDING__INIT;
	Overseer__V1__LintFinding b = OVERSEER__V1__LINT_FINDING__INIT;
	Overseer__V1__LintFinding *list[] = {&a, &b};
	char *text;

	(void)state;
	a.rule = S("image-latest");
	a.severity = S("warning");
	a.line = 3;
	a.service = S("web");
	a.message = S("service web: image nginx has no tag");
	a.fix = S("pin a version: nginx:1.27");
	b.rule = S("privileged");
	b.severity = S("error");
	b.message = S("runs \033[2Jprivileged");
	/* create and deploy, on stderr: the service named once, the fix under it. */
	text = capture_findings(appout_findings, NULL, 2, list);
	assert_string_equal(text, "warning: compose.yaml:3: service web: image nginx has no tag "
	                          "(image-latest)\n"
	                          "  fix: pin a version: nginx:1.27\n"
	                          "error: compose.yaml: runs ?[2Jprivileged (privileged)\n");
	free(text);
	/* ovrctl lint: compiler style, the file as given. */
	text = capture_findings(appout_lint_findings, "shop/compose.yaml", 2, list);
	assert_string_equal(text, "shop/compose.yaml:3: warning: [image-latest] web: image nginx "
	                          "has no tag\n"
	                          "  fix: pin a version: nginx:1.27\n"
	                          "shop/compose.yaml: error: [privileged] runs ?[2Jprivileged\n");
	free(text);
	/* A message that does not start with its service keeps all of it; "-" is stdin. */
	a.message = S("image nginx has no tag");
	a.fix = S("");
	text = capture_findings(appout_lint_findings, "-", 1, list);
	assert_string_equal(text,
	                    "<stdin>:3: warning: [image-latest] web: image nginx has no tag\n");
	free(text);
}

static void test_closure_output(void **state)
{
	Overseer__V1__AppVersion v = OVERSEER__V1__APP_VERSION__INIT;
	Overseer__V1__SecretRef s1 = OVERSEER__V1__SECRET_REF__INIT;
	Overseer__V1__SecretRef s2 = OVERSEER__V1__SECRET_REF__INIT;
	Overseer__V1__Route r = OVERSEER__V1__ROUTE__INIT;
	Overseer__V1__SecretRef *secrets[] = {&s1, &s2};
	Overseer__V1__Route *routes[] = {&r};
	char *text = NULL;
	size_t len = 0;
	FILE *fp;

	(void)state;
	s1.env = S("API_KEY");
	s1.secret = S("api-key");
	s1.version = 1;
	s2.env = S("DB_PASSWORD");
	s2.secret = S("db-pass");
	s2.version = 3;
	r.service = S("web");
	r.port = 8080;
	r.host = S("shop.example.com");
	r.path_prefix = S("/api");
	r.tls = 1;
	fp = open_memstream(&text, &len);
	assert_non_null(fp);
	appout_closure(fp, &v); /* none: nothing */
	v.secrets = secrets;
	v.n_secrets = 2;
	v.routes = routes;
	v.n_routes = 1;
	appout_closure(fp, &v);
	assert_int_equal(fclose(fp), 0);
	assert_string_equal(text, "Secrets:     API_KEY=api-key@v1\n"
	                          "             DB_PASSWORD=db-pass@v3\n"
	                          "Routes:      web:8080=shop.example.com/api,tls\n");
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_secret_parse), cmocka_unit_test(test_secret_errors),
	        cmocka_unit_test(test_route_parse),  cmocka_unit_test(test_route_errors),
	        cmocka_unit_test(test_args),         cmocka_unit_test(test_args_refused),
	        cmocka_unit_test(test_findings),     cmocka_unit_test(test_closure_output),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
