/*
 * ovrctl's output pieces: enum names, cleaning peer text for a terminal, table detail lines,
 * target summaries and the --wait progress views (plain and live).
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
#include "ctl.h"
#include "table.h"
#include "wait.h"

static void test_enum_name(void **state)
{
	char buf[64];

	(void)state;
	assert_string_equal(ctl_enum_name(buf, sizeof(buf), &overseer__v1__app_status__descriptor,
	                                  OVERSEER__V1__APP_STATUS__APP_STATUS_HEALTHY),
	                    "healthy");
	assert_string_equal(
	        ctl_enum_name(buf, sizeof(buf), &overseer__v1__deployment_kind__descriptor,
	                      OVERSEER__V1__DEPLOYMENT_KIND__DEPLOYMENT_KIND_AUTO_ROLLBACK),
	        "auto_rollback");
	assert_string_equal(
	        ctl_enum_name(buf, sizeof(buf), &overseer__v1__node_deployment_state__descriptor,
	                      OVERSEER__V1__NODE_DEPLOYMENT_STATE__NODE_DEPLOYMENT_STATE_APPLYING),
	        "applying");
	assert_string_equal(
	        ctl_enum_name(buf, sizeof(buf), &overseer__v1__app_status__descriptor, 0), "-");
	assert_string_equal(
	        ctl_enum_name(buf, sizeof(buf), &overseer__v1__app_status__descriptor, 99), "99");
	/* A small buffer truncates. */
	assert_string_equal(ctl_enum_name(buf, 4, &overseer__v1__app_status__descriptor,
	                                  OVERSEER__V1__APP_STATUS__APP_STATUS_DEGRADED),
	                    "deg");
}

static void test_clean(void **state)
{
	char buf[64];

	(void)state;
	assert_string_equal(ctl_clean(buf, sizeof(buf), "plain text"), "plain text");
	assert_string_equal(ctl_clean(buf, sizeof(buf), NULL), "");
	/* Escape sequences cannot reach the terminal; newlines and tabs become spaces. */
	assert_string_equal(ctl_clean(buf, sizeof(buf), "a\033[2Jb\nc\td\x7f"), "a?[2Jb c d?");
	/* C1 controls in their UTF-8 form too, other UTF-8 stays. */
	assert_string_equal(ctl_clean(buf, sizeof(buf),
	                              "x\xc2\x9b"
	                              "1my \xc3\xa9t\xc3\xa9"),
	                    "x?1my \xc3\xa9t\xc3\xa9");
	/* Truncation never splits a UTF-8 sequence. */
	assert_string_equal(ctl_clean(buf, 5, "ab\xc3\xa9\xc3\xa9"), "ab\xc3\xa9");
	assert_string_equal(ctl_clean(buf, 4, "ab\xc3\xa9\xc3\xa9"), "ab");
}

static char *capture_table(const struct table *t)
{
	char *text = NULL;
	size_t len = 0;
	FILE *fp = open_memstream(&text, &len);

	assert_non_null(fp);
	table_print(t, fp);
	assert_int_equal(fclose(fp), 0);
	return text;
}

static void test_table_details_follow_their_row(void **state)
{
	static const char *const headers[] = {"NODE", "PHASE"};
	static const char *const r1[] = {"web-1", "healthy"};
	static const char *const r2[] = {"web-22", "failed"};
	struct table t;
	char *got;

	(void)state;
	table_init(&t, 2, headers);
	table_add_detail(&t, "ignored: no row yet");
	table_add(&t, r1);
	table_add_detail(&t, "  db   running");
	table_add_detail(&t, "  web  running");
	table_add(&t, r2);
	got = capture_table(&t);
	/* Details do not widen the columns. */
	assert_string_equal(got, "NODE    PHASE\n"
	                         "web-1   healthy\n"
	                         "  db   running\n"
	                         "  web  running\n"
	                         "web-22  failed\n");
	free(got);
	table_free(&t);
}

static void test_targets_text(void **state)
{
	Overseer__V1__Targets t = OVERSEER__V1__TARGETS__INIT;
	char web1[] = "web-1", web2[] = "web-2", selector[] = "role=web";
	char *nodes[] = {web1, web2};
	char buf[128];

	(void)state;
	assert_string_equal(appout_targets(buf, sizeof(buf), NULL), "");
	assert_string_equal(appout_targets(buf, sizeof(buf), &t), "");
	t.n_nodes = 2;
	t.nodes = nodes;
	assert_string_equal(appout_targets(buf, sizeof(buf), &t), "web-1,web-2");
	t.selector = selector;
	assert_string_equal(appout_targets(buf, sizeof(buf), &t), "web-1,web-2 selector role=web");
	t.n_nodes = 0;
	assert_string_equal(appout_targets(buf, sizeof(buf), &t), "selector role=web");
}

static char fake_id[] = "d1", fake_app[] = "shop", fake_web1[] = "web-1", fake_web2[] = "web-2";

#define IN_PROGRESS OVERSEER__V1__DEPLOYMENT_STATE__DEPLOYMENT_STATE_IN_PROGRESS
#define FAILED      OVERSEER__V1__DEPLOYMENT_STATE__DEPLOYMENT_STATE_FAILED
#define N_PENDING   OVERSEER__V1__NODE_DEPLOYMENT_STATE__NODE_DEPLOYMENT_STATE_PENDING
#define N_APPLYING  OVERSEER__V1__NODE_DEPLOYMENT_STATE__NODE_DEPLOYMENT_STATE_APPLYING
#define N_HEALTHY   OVERSEER__V1__NODE_DEPLOYMENT_STATE__NODE_DEPLOYMENT_STATE_HEALTHY
#define N_FAILED    OVERSEER__V1__NODE_DEPLOYMENT_STATE__NODE_DEPLOYMENT_STATE_FAILED

static char s_db[] = "db", s_backend[] = "backend", s_running[] = "running", s_exited[] = "exited";
static char s_healthy[] = "healthy", s_empty[] = "", s_msg[] = "backend: exited (1)";

static void test_nodes_with_their_containers(void **state)
{
	Overseer__V1__App app = OVERSEER__V1__APP__INIT;
	Overseer__V1__NodeAppState n[2], *np[2];
	Overseer__V1__ContainerState c[3], *cp1[2], *cp2[1];
	char *text = NULL;
	size_t len = 0, i;
	FILE *fp = open_memstream(&text, &len);

	(void)state;
	assert_non_null(fp);
	for (i = 0; i < 3; i++)
		overseer__v1__container_state__init(&c[i]);
	c[0].service = s_db;
	c[0].state = s_running;
	c[0].health = s_healthy;
	c[1].service = s_backend;
	c[1].state = s_exited;
	c[1].exit_code = 1;
	c[1].restart_count = 3;
	c[2].service = s_db;
	c[2].state = s_running;
	c[2].health = s_empty;
	cp1[0] = &c[0];
	cp1[1] = &c[1];
	cp2[0] = &c[2];
	for (i = 0; i < 2; i++) {
		overseer__v1__node_app_state__init(&n[i]);
		np[i] = &n[i];
	}
	n[0].node = fake_web1;
	n[0].version = 4;
	n[0].phase = N_FAILED;
	n[0].message = s_msg;
	n[0].n_containers = 2;
	n[0].containers = cp1;
	n[1].node = fake_web2;
	n[1].version = 4;
	n[1].phase = N_HEALTHY;
	n[1].n_containers = 1;
	n[1].containers = cp2;
	app.n_nodes = 2;
	app.nodes = np;
	appout_nodes(&app, fp);
	assert_int_equal(fclose(fp), 0);
	assert_string_equal(text,
	                    "NODE   VERSION  PHASE    CONTAINERS  MESSAGE              UPDATED\n"
	                    "web-1  4        failed   1/2         backend: exited (1)  -\n"
	                    "  db       running     healthy\n"
	                    "  backend  exited (1)  -  (3 restarts)\n"
	                    "web-2  4        healthy  1/1         -                    -\n"
	                    "  db       running     -\n");
	free(text);
}

/* A deployment of two nodes in the given states. */
struct fake {
	Overseer__V1__Deployment d;
	Overseer__V1__NodeDeployment n[2];
	Overseer__V1__NodeDeployment *p[2];
};

static void fake_init(struct fake *f, int overall, int s1, const char *m1, int s2, const char *m2)
{
	size_t i;

	overseer__v1__deployment__init(&f->d);
	for (i = 0; i < 2; i++) {
		overseer__v1__node_deployment__init(&f->n[i]);
		f->p[i] = &f->n[i];
	}
	f->d.id = fake_id;
	f->d.app = fake_app;
	f->d.version = 4;
	f->d.state = overall;
	f->n[0].node = fake_web1;
	f->n[0].state = s1;
	f->n[0].message = (char *)(uintptr_t)m1;
	f->n[1].node = fake_web2;
	f->n[1].state = s2;
	f->n[1].message = (char *)(uintptr_t)m2;
	f->d.n_nodes = 2;
	f->d.nodes = f->p;
}

static void test_plain_view_prints_changes_only(void **state)
{
	struct wait_view v;
	struct fake f;
	char *text = NULL;
	size_t len = 0;
	FILE *fp = open_memstream(&text, &len);

	(void)state;
	assert_non_null(fp);
	wait_view_init(&v, fp, 0, 0);
	fake_init(&f, IN_PROGRESS, N_PENDING, "", N_PENDING, "");
	wait_view_update(&v, &f.d, 200, NULL);
	wait_view_update(&v, &f.d, 700, NULL); /* nothing changed */
	fake_init(&f, IN_PROGRESS, N_APPLYING, "pulling images", N_PENDING, "still nothing");
	wait_view_update(&v, &f.d, 1500, NULL);
	wait_view_update(&v, &f.d, 2000, "no answer");
	wait_view_update(&v, &f.d, 2500, "no answer"); /* a problem is shown once */
	fake_init(&f, FAILED, N_HEALTHY, "", N_FAILED, "backend: exited (1)\033[2J");
	wait_view_update(&v, &f.d, 61000, NULL);
	wait_view_free(&v);
	assert_int_equal(fclose(fp), 0);
	assert_string_equal(text, "[0s] deployment d1 (app shop, version 4): in progress\n"
	                          "[0s] web-1 pending\n"
	                          "[0s] web-2 pending\n"
	                          "[1s] web-1 applying (pulling images)\n"
	                          "[2s] no answer\n"
	                          "[1m1s] web-1 healthy\n"
	                          "[1m1s] web-2 failed (backend: exited (1)?[2J)\n");
	free(text);
}

static void test_live_view_redraws_in_place(void **state)
{
	struct wait_view v;
	struct fake f;
	char *text = NULL;
	size_t len = 0;
	FILE *fp = open_memstream(&text, &len);

	(void)state;
	assert_non_null(fp);
	wait_view_init(&v, fp, 1, 40);
	fake_init(&f, IN_PROGRESS, N_PENDING, "", N_APPLYING,
	          "a long message that does not fit into forty columns");
	wait_view_update(&v, &f.d, 0, NULL);
	wait_view_update(&v, &f.d, 3000, NULL);
	wait_view_free(&v);
	assert_int_equal(fclose(fp), 0);
	/* Three lines, each cleared and cut to 39 columns; then up three lines and again. */
	assert_string_equal(text, "\r\033[Kdeployment d1 (app shop, version 4): in\n"
	                          "\r\033[K  web-1  pending\n"
	                          "\r\033[K  web-2  applying   a long message that\n"
	                          "\033[3A"
	                          "\r\033[Kdeployment d1 (app shop, version 4): in\n"
	                          "\r\033[K  web-1  pending\n"
	                          "\r\033[K  web-2  applying   a long message that\n");
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_enum_name),
	        cmocka_unit_test(test_clean),
	        cmocka_unit_test(test_table_details_follow_their_row),
	        cmocka_unit_test(test_targets_text),
	        cmocka_unit_test(test_nodes_with_their_containers),
	        cmocka_unit_test(test_plain_view_prints_changes_only),
	        cmocka_unit_test(test_live_view_redraws_in_place),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
