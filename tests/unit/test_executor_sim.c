/* The simulated executor: applies and removes recorded, one running healthy container per service,
 * an injected failure reaching the result once, bad names refused, idempotent re-apply. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "err.h"
#include "executor.h"

static const char two_services[] = "services:\n"
                                   "  web:\n"
                                   "    image: ovr-test/busybox:1\n"
                                   "  db:\n"
                                   "    image: ovr-test/busybox:2\n";

static void app_init(struct executor_app *app, const char *name, int64_t version, const char *yaml)
{
	static const struct executor_kv env[] = {{"A", "1"}, {"SECRET", "s3cr3t"}};

	memset(app, 0, sizeof(*app));
	app->name = name;
	app->version = version;
	app->content_hash = version == 1 ? "hash-1" : "hash-2";
	app->compose_yaml = yaml;
	app->compose_len = strlen(yaml);
	app->env = env;
	app->n_env = 2;
}

static void test_apply_status_remove(void **state)
{
	struct executor ex;
	struct executor_app app;
	struct executor_result res;
	struct executor_status st;
	int64_t version = 0;
	char hash[64];
	size_t applies, removes, n_env = 0;

	(void)state;
	assert_int_equal(executor_sim_new(&ex), 0);
	app_init(&app, "shop", 1, two_services);
	assert_int_equal(executor_apply(&ex, &app, &res), 0);
	assert_true(res.ok);
	assert_int_equal(res.err, 0);

	assert_int_equal(executor_sim_running(&ex, "shop", &version, hash, sizeof(hash), &n_env),
	                 0);
	assert_int_equal(version, 1);
	assert_string_equal(hash, "hash-1");
	assert_int_equal(n_env, 2);

	assert_int_equal(executor_status(&ex, "shop", &st), 0);
	assert_int_equal(st.n_containers, 2);
	/* in file order: web then db */
	assert_string_equal(st.containers[0].service, "web");
	assert_string_equal(st.containers[1].service, "db");
	assert_string_equal(st.containers[0].state, "running");
	assert_string_equal(st.containers[1].health, "healthy");
	assert_int_equal(st.containers[0].version, 1);
	assert_true(st.containers[0].started_unix_ms > 0);
	executor_status_free(&st);
	assert_null(st.containers);

	assert_int_equal(executor_remove(&ex, "shop", 0, &res), 0);
	assert_true(res.ok);
	assert_int_equal(executor_sim_running(&ex, "shop", &version, hash, sizeof(hash), &n_env),
	                 OVR_ERR_NOT_FOUND);
	assert_int_equal(executor_status(&ex, "shop", &st), 0);
	assert_int_equal(st.n_containers, 0);
	executor_status_free(&st);

	executor_sim_counts(&ex, &applies, &removes);
	assert_int_equal(applies, 1);
	assert_int_equal(removes, 1);
	executor_free(&ex);
	assert_null(ex.ops);
	executor_free(&ex); /* a freed (zeroed) executor is a no-op */
}

static void test_fail_next_apply_once(void **state)
{
	struct executor ex;
	struct executor_app app;
	struct executor_result res;
	int64_t version = 0;
	char hash[64];
	size_t n_env;

	(void)state;
	assert_int_equal(executor_sim_new(&ex), 0);
	app_init(&app, "shop", 1, two_services);
	assert_int_equal(executor_apply(&ex, &app, &res), 0);

	executor_sim_fail_next_apply(&ex,
	                             "Bind for 127.0.0.1:8080 failed: port is already allocated");
	app_init(&app, "shop", 2, two_services);
	assert_int_equal(executor_apply(&ex, &app, &res), OVR_ERR_UNAVAILABLE);
	assert_false(res.ok);
	assert_int_equal(res.err, OVR_ERR_UNAVAILABLE);
	assert_non_null(strstr(res.message, "port is already allocated"));
	assert_non_null(strstr(ovr_err_msg(OVR_ERR_UNAVAILABLE), "port is already allocated"));
	/* the failed apply left the previous version running */
	assert_int_equal(executor_sim_running(&ex, "shop", &version, hash, sizeof(hash), &n_env),
	                 0);
	assert_int_equal(version, 1);

	/* only the next one fails */
	assert_int_equal(executor_apply(&ex, &app, &res), 0);
	assert_int_equal(executor_sim_running(&ex, "shop", &version, hash, sizeof(hash), &n_env),
	                 0);
	assert_int_equal(version, 2);
	assert_string_equal(hash, "hash-2");

	/* cancelled before use */
	executor_sim_fail_next_apply(&ex, "never seen");
	executor_sim_fail_next_apply(&ex, NULL);
	assert_int_equal(executor_apply(&ex, &app, &res), 0);
	executor_free(&ex);
}

static void test_reapply_keeps_start_time(void **state)
{
	struct executor ex;
	struct executor_app app;
	struct executor_result res;
	struct executor_status st;
	int64_t started;

	(void)state;
	assert_int_equal(executor_sim_new(&ex), 0);
	app_init(&app, "shop", 3, two_services);
	assert_int_equal(executor_apply(&ex, &app, &res), 0);
	assert_int_equal(executor_status(&ex, "shop", &st), 0);
	started = st.containers[0].started_unix_ms;
	executor_status_free(&st);
	executor_sim_set_delay(&ex, 20); /* also proves the delay applies */
	assert_int_equal(executor_apply(&ex, &app, &res), 0);
	assert_true(res.elapsed_ms >= 20);
	assert_int_equal(executor_status(&ex, "shop", &st), 0);
	assert_int_equal(st.containers[0].started_unix_ms, started);
	executor_status_free(&st);
	executor_free(&ex);
}

static void test_bad_input_refused(void **state)
{
	static const char *const bad_names[] = {"../x", "a;rm -rf", "",   "Shop",
	                                        "1abc", "a/b",      "a b"};
	struct executor ex;
	struct executor_app app;
	struct executor_result res;
	struct executor_status st;
	size_t i, applies, removes;

	(void)state;
	assert_int_equal(executor_sim_new(&ex), 0);
	for (i = 0; i < sizeof(bad_names) / sizeof(bad_names[0]); i++) {
		app_init(&app, bad_names[i], 1, two_services);
		assert_int_equal(executor_apply(&ex, &app, &res), OVR_ERR_INVALID);
		assert_false(res.ok);
		assert_int_equal(executor_remove(&ex, bad_names[i], 1, &res), OVR_ERR_INVALID);
		assert_int_equal(executor_status(&ex, bad_names[i], &st), OVR_ERR_INVALID);
	}
	app_init(&app, "shop", 1, "services: [\n");
	assert_int_equal(executor_apply(&ex, &app, &res), OVR_ERR_INVALID);
	assert_non_null(strstr(res.message, "line"));
	app_init(&app, "shop", 0, two_services);
	assert_int_equal(executor_apply(&ex, &app, &res), OVR_ERR_INVALID);
	/* nothing runs after refused applies */
	assert_int_equal(executor_status(&ex, "shop", &st), 0);
	assert_int_equal(st.n_containers, 0);
	executor_sim_counts(&ex, &applies, &removes);
	assert_int_equal(applies, 9);
	assert_int_equal(removes, 7);
	executor_free(&ex);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_apply_status_remove),
	        cmocka_unit_test(test_fail_next_apply_once),
	        cmocka_unit_test(test_reapply_keeps_start_time),
	        cmocka_unit_test(test_bad_input_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
