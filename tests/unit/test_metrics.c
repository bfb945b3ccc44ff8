/*
 * The Prometheus text format (prom.c) and what the server and agent render with it: HELP/TYPE,
 * label escaping, value forms, cumulative histogram buckets ending in +Inf with _sum and _count,
 * the size limit, and every line of a real render parsing as exposition format 0.0.4.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "err.h"
#include "overseer/v1/apps.pb-c.h"
#include "prom.h"
#include "rpc.h"
/* server/ and agent/ both have a metrics.h: name each by its directory. */
#include "../../agent/metrics.h"
#include "../../server/metrics.h"

/* The text built so far, finished (the caller frees). */
static char *finish(struct prom_text *t)
{
	size_t len;
	char *s = prom_text_finish(t, &len);

	assert_non_null(s);
	assert_int_equal(strlen(s), len);
	return s;
}

static void test_family_and_samples(void **state)
{
	struct prom_label l[2] = {{"method", "a.v1.S/M"}, {"code", "OK"}};
	struct prom_text t;
	char *s;

	(void)state;
	memset(&t, 0, sizeof(t));
	prom_family(&t, "x_total", "counter", "Things done.");
	prom_sample_u64(&t, "x_total", l, 2, 18446744073709551615ULL);
	prom_sample_u64(&t, "x_total", NULL, 0, 0);
	prom_sample(&t, "x_total", l, 1, 0.25);
	s = finish(&t);
	assert_string_equal(s, "# HELP x_total Things done.\n"
	                       "# TYPE x_total counter\n"
	                       "x_total{method=\"a.v1.S/M\",code=\"OK\"} 18446744073709551615\n"
	                       "x_total 0\n"
	                       "x_total{method=\"a.v1.S/M\"} 0.25\n");
	free(s);
}

static void test_escaping(void **state)
{
	struct prom_label l = {"v", "back\\slash \"quoted\"\nnext"};
	struct prom_text t;
	char *s;

	(void)state;
	memset(&t, 0, sizeof(t));
	prom_family(&t, "g", "gauge", "a \\ and a \"quote\"\nover two lines");
	prom_sample_u64(&t, "g", &l, 1, 1);
	s = finish(&t);
	/* HELP escapes backslash and newline only; label values the double quote too. */
	assert_string_equal(s, "# HELP g a \\\\ and a \"quote\"\\nover two lines\n"
	                       "# TYPE g gauge\n"
	                       "g{v=\"back\\\\slash \\\"quoted\\\"\\nnext\"} 1\n");
	free(s);
}

static void test_values(void **state)
{
	static const struct {
		double v;
		const char *text;
	} cases[] = {
	        {0, "0"},          {1, "1"},
	        {-3, "-3"},        {0.25, "0.25"},
	        {0.1, "0.1"},      {1e-06, "1e-06"},
	        {2.5, "2.5"},      {1.0 / 3, NULL},
	        {1e300, "1e+300"}, {1732000000.5, "1732000000.5"},
	};
	char buf[64];
	double back;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		prom_format_value(buf, sizeof(buf), cases[i].v);
		if (cases[i].text)
			assert_string_equal(buf, cases[i].text);
		/* Whatever the form, it reads back as the very same number. */
		back = strtod(buf, NULL);
		assert_true(!(back < cases[i].v) && !(back > cases[i].v));
	}
	prom_format_value(buf, sizeof(buf), INFINITY);
	assert_string_equal(buf, "+Inf");
	prom_format_value(buf, sizeof(buf), -INFINITY);
	assert_string_equal(buf, "-Inf");
	prom_format_value(buf, sizeof(buf), NAN);
	assert_string_equal(buf, "NaN");
}

static void test_histogram(void **state)
{
	static const double bounds[] = {0.1, 1, 10};
	static const int64_t us[] = {50000, 100000, 500000, 2000000, 20000000, 20000000, -5};
	struct prom_label l = {"method", "m"};
	struct prom_histogram h;
	struct prom_text t;
	size_t i;
	char *s;

	(void)state;
	memset(&h, 0, sizeof(h));
	memset(&t, 0, sizeof(t));
	prom_histogram_init(&h, bounds, 3);
	for (i = 0; i < sizeof(us) / sizeof(us[0]); i++)
		prom_histogram_observe_us(&h, us[i]);
	prom_histogram_write(&t, "d_seconds", &l, 1, &h);
	s = finish(&t);
	/*
	 * Upper bounds are inclusive (100 ms is in le="0.1"), counts cumulative, a negative
	 * duration counts as 0 s, +Inf comes last and equals _count; _sum is in seconds.
	 */
	assert_string_equal(s, "d_seconds_bucket{method=\"m\",le=\"0.1\"} 3\n"
	                       "d_seconds_bucket{method=\"m\",le=\"1\"} 4\n"
	                       "d_seconds_bucket{method=\"m\",le=\"10\"} 5\n"
	                       "d_seconds_bucket{method=\"m\",le=\"+Inf\"} 7\n"
	                       "d_seconds_sum{method=\"m\"} 42.65\n"
	                       "d_seconds_count{method=\"m\"} 7\n");
	free(s);
}

static void test_histogram_without_labels_and_empty(void **state)
{
	static const double bounds[] = {0.005};
	struct prom_histogram h;
	struct prom_text t;
	char *s;

	(void)state;
	memset(&h, 0, sizeof(h));
	memset(&t, 0, sizeof(t));
	prom_histogram_init(&h, bounds, 1);
	prom_histogram_write(&t, "e", NULL, 0, &h);
	s = finish(&t);
	assert_string_equal(s, "e_bucket{le=\"0.005\"} 0\n"
	                       "e_bucket{le=\"+Inf\"} 0\n"
	                       "e_sum 0\n"
	                       "e_count 0\n");
	free(s);
}

static void test_empty_and_too_large(void **state)
{
	struct prom_text t;
	size_t len = 1, i;
	char *help, *s;

	(void)state;
	memset(&t, 0, sizeof(t));
	s = finish(&t);
	assert_string_equal(s, "");
	free(s);

	help = malloc(64 * 1024 + 1);
	assert_non_null(help);
	memset(help, 'h', 64 * 1024);
	help[64 * 1024] = '\0';
	for (i = 0; i < PROM_MAX_TEXT / (64 * 1024) + 1; i++)
		prom_family(&t, "big", "gauge", help);
	free(help);
	assert_null(prom_text_finish(&t, &len));
	assert_int_equal(len, 0);
	assert_int_equal(ovr_err_last(), OVR_ERR_TOO_LARGE);
	assert_null(t.buf);
}

/* ---- a strict reading of a whole render, as a scraper would */

static int name_char(char c, int first)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' ||
	       (!first && c >= '0' && c <= '9');
}

/* The family a sample belongs to: its name less _bucket/_sum/_count when that one is typed. */
static int typed(char types[][128], size_t n_types, const char *name, size_t len)
{
	static const char *const suffixes[] = {"", "_bucket", "_sum", "_count"};
	size_t i, j;

	for (i = 0; i < n_types; i++)
		for (j = 0; j < 4; j++) {
			size_t fl = strlen(types[i]), sl = strlen(suffixes[j]);

			if (fl + sl == len && strncmp(name, types[i], fl) == 0 &&
			    strncmp(name + fl, suffixes[j], sl) == 0)
				return 1;
		}
	return 0;
}

/* Fails the test unless every line is a HELP/TYPE comment or a well-formed, typed sample. */
static void assert_exposition(const char *text)
{
	char types[64][128];
	size_t n_types = 0;
	const char *p = text;

	while (*p) {
		const char *eol = strchr(p, '\n'), *q = p, *name;
		char value[64], *end;
		size_t len;

		assert_non_null(eol); /* the last line ends with a newline too */
		if (strncmp(p, "# TYPE ", 7) == 0) {
			assert_true(n_types < 64);
			assert_int_equal(sscanf(p + 7, "%127s", types[n_types]), 1);
			n_types++;
			p = eol + 1;
			continue;
		}
		if (strncmp(p, "# HELP ", 7) == 0) {
			p = eol + 1;
			continue;
		}
		name = q;
		assert_true(name_char(*q, 1));
		while (name_char(*q, 0))
			q++;
		assert_true(typed(types, n_types, name, (size_t)(q - name)));
		if (*q == '{') {
			q++;
			while (*q != '}') {
				assert_true(name_char(*q, 1));
				while (name_char(*q, 0))
					q++;
				assert_true(q[0] == '=' && q[1] == '"');
				for (q += 2; *q != '"'; q++) {
					assert_true(*q != '\n' && *q != '\0');
					if (*q == '\\') {
						q++;
						assert_true(*q == '\\' || *q == '"' || *q == 'n');
					}
				}
				q++;
				if (*q == ',')
					q++;
				else
					assert_int_equal(*q, '}');
			}
			q++;
		}
		assert_int_equal(*q, ' ');
		q++;
		len = (size_t)(eol - q);
		assert_true(len > 0 && len < sizeof(value));
		memcpy(value, q, len);
		value[len] = '\0';
		if (strcmp(value, "+Inf") != 0 && strcmp(value, "NaN") != 0) {
			strtod(value, &end);
			assert_int_equal(*end, '\0');
		}
		p = eol + 1;
	}
}

static int has_line(const char *text, const char *line)
{
	size_t n = strlen(line);
	const char *p = text;

	while ((p = strstr(p, line)) != NULL) {
		if ((p == text || p[-1] == '\n') && p[n] == '\n')
			return 1;
		p += n;
	}
	return 0;
}

static void test_server_render(void **state)
{
	static const struct rpc_method table[] = {
	        {"/t.v1.S/Get", RPC_UNARY, NULL, NULL, NULL, NULL, RPC_AUTH_VIEWER, NULL, NULL, 0},
	        {"/t.v1.S/Watch", RPC_SERVER_STREAM, NULL, NULL, NULL, NULL, RPC_AUTH_VIEWER, NULL,
	         NULL, 0},
	};
	static const struct rpc_method foreign = {
	        "/t.v1.S/Other", RPC_UNARY, NULL, NULL, NULL, NULL, RPC_AUTH_VIEWER, NULL, NULL, 0};
	size_t len;
	char *s;

	(void)state;
	metrics_init(table, 2);
	metrics_rpc_done(&table[0], OVR_GRPC_OK, 1500, METRICS_GRPC);
	metrics_rpc_done(&table[0], OVR_GRPC_OK, 1500, METRICS_GRPC);
	metrics_rpc_done(&table[0], OVR_GRPC_NOT_FOUND, 30000, METRICS_REST);
	metrics_rpc_done(&table[1], OVR_GRPC_CANCELLED, 90000000, METRICS_REST);
	metrics_rpc_done(&foreign, OVR_GRPC_OK, 1, METRICS_GRPC);
	metrics_rpc_done(&table[0], 99, 1, METRICS_GRPC); /* out of range: UNKNOWN */
	metrics_deploy_started(OVERSEER__V1__DEPLOYMENT_KIND__DEPLOYMENT_KIND_DEPLOY);
	metrics_deploy_started(42);
	metrics_deploy_ended(OVERSEER__V1__DEPLOYMENT_KIND__DEPLOYMENT_KIND_DEPLOY,
	                     OVERSEER__V1__DEPLOYMENT_STATE__DEPLOYMENT_STATE_ROLLED_BACK, 12.5);
	metrics_call_begin(&table[0]);
	metrics_worker_started();
	s = metrics_render(&len);
	assert_non_null(s);
	assert_exposition(s);
	assert_true(has_line(s, "ovr_rpc_requests_total{method=\"t.v1.S/Get\",code=\"OK\","
	                        "transport=\"grpc\"} 2"));
	assert_true(has_line(s, "ovr_rpc_requests_total{method=\"t.v1.S/Get\",code=\"NOT_FOUND\","
	                        "transport=\"rest\"} 1"));
	assert_true(has_line(s, "ovr_rpc_requests_total{method=\"t.v1.S/Get\",code=\"UNKNOWN\","
	                        "transport=\"grpc\"} 1"));
	assert_true(has_line(s, "ovr_rpc_requests_total{method=\"t.v1.S/Watch\",code=\"CANCELLED\","
	                        "transport=\"rest\"} 1"));
	assert_null(strstr(s, "Other"));
	/* 1 us in le=0.001, 1.5 ms twice on top in le=0.0025; streams stay out of the latency. */
	assert_true(has_line(s, "ovr_rpc_duration_seconds_bucket{method=\"t.v1.S/Get\","
	                        "transport=\"grpc\",le=\"0.001\"} 1"));
	assert_true(has_line(s, "ovr_rpc_duration_seconds_bucket{method=\"t.v1.S/Get\","
	                        "transport=\"grpc\",le=\"0.0025\"} 3"));
	assert_true(has_line(s, "ovr_rpc_duration_seconds_count{method=\"t.v1.S/Get\","
	                        "transport=\"grpc\"} 3"));
	assert_true(has_line(s, "ovr_rpc_duration_seconds_sum{method=\"t.v1.S/Get\","
	                        "transport=\"rest\"} 0.03"));
	assert_null(strstr(s, "ovr_rpc_duration_seconds_count{method=\"t.v1.S/Watch\""));
	assert_true(has_line(s, "ovr_deployments_started_total{kind=\"deploy\"} 1"));
	assert_true(has_line(s, "ovr_deployments_started_total{kind=\"rollback\"} 0"));
	assert_true(has_line(s, "ovr_deployments_started_total{kind=\"unknown\"} 1"));
	assert_true(has_line(s, "ovr_deployments_finished_total{kind=\"deploy\","
	                        "outcome=\"rolled_back\"} 1"));
	assert_true(has_line(s, "ovr_deployment_duration_seconds_bucket{outcome=\"rolled_back\","
	                        "le=\"10\"} 0"));
	assert_true(has_line(s, "ovr_deployment_duration_seconds_bucket{outcome=\"rolled_back\","
	                        "le=\"30\"} 1"));
	assert_true(has_line(s, "ovr_db_pool_workers 1"));
	assert_true(has_line(s, "ovr_db_pool_busy_workers 1"));
	assert_true(has_line(s, "ovr_agents_connected 0"));
	free(s);

	/* The call's end on the same thread ends its busy time. */
	metrics_rpc_done(&table[0], OVR_GRPC_OK, 1, METRICS_GRPC);
	metrics_worker_stopped();
	s = metrics_render(&len);
	assert_non_null(s);
	assert_true(has_line(s, "ovr_db_pool_busy_workers 0"));
	assert_true(has_line(s, "ovr_db_pool_workers 0"));
	free(s);
}

static void test_agent_render(void **state)
{
	size_t len;
	char *s;

	(void)state;
	agent_metrics_compose_apply(1);
	agent_metrics_compose_apply(0);
	agent_metrics_compose_apply(0);
	agent_metrics_reconnect();
	agent_metrics_docker_error();
	s = agent_metrics_render(&len);
	assert_non_null(s);
	assert_exposition(s);
	assert_true(has_line(s, "ovr_agent_compose_applies_total{result=\"ok\"} 1"));
	assert_true(has_line(s, "ovr_agent_compose_applies_total{result=\"failed\"} 2"));
	assert_true(has_line(s, "ovr_agent_reconnects_total 1"));
	assert_true(has_line(s, "ovr_agent_docker_api_errors_total 1"));
	assert_true(has_line(s, "ovr_agent_last_report_timestamp_seconds 0"));
	free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_family_and_samples),
	        cmocka_unit_test(test_escaping),
	        cmocka_unit_test(test_values),
	        cmocka_unit_test(test_histogram),
	        cmocka_unit_test(test_histogram_without_labels_and_empty),
	        cmocka_unit_test(test_empty_and_too_large),
	        cmocka_unit_test(test_server_render),
	        cmocka_unit_test(test_agent_render),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
