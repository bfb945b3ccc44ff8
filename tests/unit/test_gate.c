/* The health gate: healthy without a break or a restart for min_healthy_time, before the deadline. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "gate.h"
#include "overseer/v1/apps.pb-c.h"

#define PENDING  OVERSEER__V1__NODE_DEPLOYMENT_STATE__NODE_DEPLOYMENT_STATE_PENDING
#define SENT     OVERSEER__V1__NODE_DEPLOYMENT_STATE__NODE_DEPLOYMENT_STATE_SENT
#define APPLYING OVERSEER__V1__NODE_DEPLOYMENT_STATE__NODE_DEPLOYMENT_STATE_APPLYING
#define RUNNING  OVERSEER__V1__NODE_DEPLOYMENT_STATE__NODE_DEPLOYMENT_STATE_RUNNING
#define HEALTHY  OVERSEER__V1__NODE_DEPLOYMENT_STATE__NODE_DEPLOYMENT_STATE_HEALTHY
#define FAILED   OVERSEER__V1__NODE_DEPLOYMENT_STATE__NODE_DEPLOYMENT_STATE_FAILED

#define T0 1000000 /* a start time, unix ms */

static const struct gate_settings settings = {
        .version = 7, .min_healthy_ms = 10000, .deadline_ms = T0 + 300000,
        .healthy_deadline_ms = 300000};

static struct gate_node sent(void)
{
	struct gate_node n;

	memset(&n, 0, sizeof(n));
	n.state = SENT;
	return n;
}

static struct gate_report report(int phase, int64_t version, int64_t restarts, const char *msg)
{
	struct gate_report r = {phase, version, restarts, msg};

	return r;
}

static void test_healthy_must_last(void **state)
{
	struct gate_node n = sent();
	struct gate_report healthy = report(HEALTHY, 7, 2, "");

	(void)state;
	assert_int_equal(gate_on_report(&n, &settings, &healthy, T0), 1);
	assert_int_equal(n.state, RUNNING);
	assert_int_equal(n.healthy_since_ms, T0);
	assert_int_equal(n.restart_baseline, 2);
	assert_non_null(strstr(n.message, "health gate is watching"));
	/* Still inside the window: no verdict. */
	gate_on_report(&n, &settings, &healthy, T0 + 9999);
	assert_int_equal(n.state, RUNNING);
	assert_int_equal(gate_on_tick(&n, &settings, T0 + 9999), 0);
	/*
	 * The window has passed, but time alone proves nothing (the server may have been down
	 * with the container dead): the next report after it makes the node healthy.
	 */
	assert_int_equal(gate_on_tick(&n, &settings, T0 + 10000), 0);
	assert_int_equal(n.state, RUNNING);
	assert_int_equal(gate_on_report(&n, &settings, &healthy, T0 + 10000), 1);
	assert_int_equal(n.state, HEALTHY);
	assert_string_equal(n.message, "");
}

static void test_report_passes_gate(void **state)
{
	struct gate_node n = sent();
	struct gate_report healthy = report(HEALTHY, 7, 0, "");

	(void)state;
	gate_on_report(&n, &settings, &healthy, T0);
	gate_on_report(&n, &settings, &healthy, T0 + 12000);
	assert_int_equal(n.state, HEALTHY);
}

static void test_zero_window_is_healthy_at_once(void **state)
{
	struct gate_settings s = settings;
	struct gate_node n = sent();
	struct gate_report healthy = report(HEALTHY, 7, 0, "");

	(void)state;
	s.min_healthy_ms = 0;
	gate_on_report(&n, &s, &healthy, T0);
	assert_int_equal(n.state, HEALTHY);
}

static void test_restart_in_window_fails(void **state)
{
	struct gate_node n = sent();
	struct gate_report healthy = report(HEALTHY, 7, 2, "");
	struct gate_report restarted = report(HEALTHY, 7, 3, "");

	(void)state;
	gate_on_report(&n, &settings, &healthy, T0);
	assert_int_equal(gate_on_report(&n, &settings, &restarted, T0 + 4000), 1);
	assert_int_equal(n.state, FAILED);
	assert_non_null(strstr(n.message, "restarted 1 time(s) within the 10s health window"));
}

static void test_break_restarts_the_window(void **state)
{
	struct gate_node n = sent();
	struct gate_report healthy = report(HEALTHY, 7, 0, "");
	struct gate_report starting = report(RUNNING, 7, 0, "service web: health check starting");

	(void)state;
	gate_on_report(&n, &settings, &healthy, T0);
	gate_on_report(&n, &settings, &starting, T0 + 5000);
	assert_int_equal(n.state, RUNNING);
	assert_int_equal(n.healthy_since_ms, 0);
	gate_on_report(&n, &settings, &healthy, T0 + 6000);
	gate_on_report(&n, &settings, &healthy, T0 + 12000); /* 6 s, not 10 */
	assert_int_equal(n.state, RUNNING);
	gate_on_report(&n, &settings, &healthy, T0 + 16000);
	assert_int_equal(n.state, HEALTHY);
}

static void test_failed_report_fails(void **state)
{
	struct gate_node n = sent();
	struct gate_report failed = report(FAILED, 6, 0, "service web exited with code 3");

	(void)state;
	assert_int_equal(gate_on_report(&n, &settings, &failed, T0), 1);
	assert_int_equal(n.state, FAILED);
	assert_string_equal(n.message, "service web exited with code 3");
	/* A verdict stays. */
	struct gate_report healthy = report(HEALTHY, 7, 0, "");
	assert_int_equal(gate_on_report(&n, &settings, &healthy, T0 + 1000), 0);
	assert_int_equal(n.state, FAILED);
}

static void test_old_version_does_not_count(void **state)
{
	struct gate_node n = sent();
	struct gate_report old = report(HEALTHY, 6, 0, "");

	(void)state;
	assert_int_equal(gate_on_report(&n, &settings, &old, T0), 0);
	assert_int_equal(n.state, SENT);
	struct gate_report applying = report(APPLYING, 6, 0, "applying version 7");
	gate_on_report(&n, &settings, &applying, T0);
	assert_int_equal(n.state, APPLYING);
}

static void test_deadline(void **state)
{
	struct gate_node n = sent();

	(void)state;
	n.state = PENDING;
	assert_int_equal(gate_on_tick(&n, &settings, T0 + 299999), 0);
	assert_int_equal(gate_on_tick(&n, &settings, T0 + 300000), 1);
	assert_int_equal(n.state, FAILED);
	assert_non_null(strstr(n.message, "not healthy within the 5m deadline (pending"));
	/* A node in the window when time runs out fails too, saying where it was. */
	n = sent();
	struct gate_report healthy = report(HEALTHY, 7, 0, "");
	gate_on_report(&n, &settings, &healthy, T0 + 295000);
	gate_on_tick(&n, &settings, T0 + 300000);
	assert_int_equal(n.state, FAILED);
	assert_non_null(strstr(n.message, "(running: healthy; the health gate is watching)"));
}

static void test_durations(void **state)
{
	char buf[32];

	(void)state;
	gate_format_duration(buf, sizeof(buf), 10000);
	assert_string_equal(buf, "10s");
	gate_format_duration(buf, sizeof(buf), 300000);
	assert_string_equal(buf, "5m");
	gate_format_duration(buf, sizeof(buf), 90000);
	assert_string_equal(buf, "90s");
	gate_format_duration(buf, sizeof(buf), 1500);
	assert_string_equal(buf, "1.5s");
	gate_format_duration(buf, sizeof(buf), 7200000);
	assert_string_equal(buf, "2h");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_healthy_must_last),
	        cmocka_unit_test(test_report_passes_gate),
	        cmocka_unit_test(test_zero_window_is_healthy_at_once),
	        cmocka_unit_test(test_restart_in_window_fails),
	        cmocka_unit_test(test_break_restarts_the_window),
	        cmocka_unit_test(test_failed_report_fails),
	        cmocka_unit_test(test_old_version_does_not_count),
	        cmocka_unit_test(test_deadline),
	        cmocka_unit_test(test_durations),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
