/* The agent's reconciler over the simulated executor: Sync and Remove turned into applies and
 * removes, idempotence, generations, failed deployments, limits, the record across a restart,
 * the status reports, the threads, and the phase computed from containers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "applied.h"
#include "err.h"
#include "executor.h"
#include "fsutil.h"
#include "log.h"
#include "reconcile.h"

#define FAILED   OVERSEER__V1__NODE_DEPLOYMENT_STATE__NODE_DEPLOYMENT_STATE_FAILED
#define APPLYING OVERSEER__V1__NODE_DEPLOYMENT_STATE__NODE_DEPLOYMENT_STATE_APPLYING
#define RUNNING  OVERSEER__V1__NODE_DEPLOYMENT_STATE__NODE_DEPLOYMENT_STATE_RUNNING
#define HEALTHY  OVERSEER__V1__NODE_DEPLOYMENT_STATE__NODE_DEPLOYMENT_STATE_HEALTHY

#define SECRET "s3cr3t-value-never-on-disk"

static const char two_services[] = "services:\n"
                                   "  web:\n"
                                   "    image: ovr-test/busybox:1\n"
                                   "  db:\n"
                                   "    image: ovr-test/busybox:2\n";

/*
 * A spy around the simulated executor: counts what reached it, keeps the last purge flag and
 * can make status show a chosen container state.
 */
struct spy {
	struct executor sim;
	int last_purge;
	char last_removed[64];
	char forced_state[32]; /* "" : the sim's own containers */
	int forced_exit;
	int status_fails;
};

static int spy_apply(void *self, const struct executor_app *app, struct executor_result *res)
{
	struct spy *s = self;

	return executor_apply(&s->sim, app, res);
}

static int spy_remove(void *self, const char *app, int purge, struct executor_result *res)
{
	struct spy *s = self;

	s->last_purge = purge;
	snprintf(s->last_removed, sizeof(s->last_removed), "%s", app);
	return executor_remove(&s->sim, app, purge, res);
}

static int spy_status(void *self, const char *app, struct executor_status *out)
{
	struct spy *s = self;
	size_t i;
	int err;

	if (s->status_fails) {
		memset(out, 0, sizeof(*out));
		return ovr_err_set(OVR_ERR_UNAVAILABLE, "docker engine not reachable");
	}
	err = executor_status(&s->sim, app, out);
	for (i = 0; err == 0 && s->forced_state[0] != '\0' && i < out->n_containers; i++) {
		snprintf(out->containers[i].state, sizeof(out->containers[i].state), "%s",
		         s->forced_state);
		out->containers[i].exit_code = s->forced_exit;
		out->containers[i].health[0] = '\0';
	}
	return err;
}

static void spy_free(void *self)
{
	(void)self; /* the test owns the sim */
}

static const struct executor_ops spy_ops = {
        .apply = spy_apply,
        .remove = spy_remove,
        .status = spy_status,
        .free = spy_free,
};

struct fixture {
	char dir[64];
	struct spy spy;
	struct executor ex;
	struct reconciler *r;
	/* Reports taken by the last run(). */
	Overseer__V1__StatusReport *reports[RECONCILE_MAX_OUTBOX];
	size_t n_reports;
};

static void reports_clear(struct fixture *f)
{
	size_t i;

	for (i = 0; i < f->n_reports; i++)
		reconcile_report_free(f->reports[i]);
	f->n_reports = 0;
}

static void reconciler_open(struct fixture *f)
{
	struct reconcile_opts o;

	memset(&o, 0, sizeof(o));
	o.state_dir = f->dir;
	o.ex = &f->ex;
	assert_int_equal(reconcile_new(&f->r, &o), 0);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/ovr-reconcile-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	assert_int_equal(executor_sim_new(&f->spy.sim), 0);
	f->ex.ops = &spy_ops;
	f->ex.self = &f->spy;
	reconciler_open(f);
	*state = f;
	return 0;
}

static void rm_file(const char *dir, const char *name)
{
	char p[256];

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	unlink(p);
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	reports_clear(f);
	reconcile_free(f->r);
	executor_free(&f->spy.sim);
	rm_file(f->dir, APPLIED_FILE);
	rm_file(f->dir, APPLIED_FILE ".corrupt");
	rmdir(f->dir);
	free(f);
	return 0;
}

/* ---- building server messages as the session receives them (unpacked, heap) ---- */

struct desired {
	const char *app;
	int64_t version;
	const char *hash;
	const char *deployment_id;
	const char *yaml;
	size_t n_env;
};

static Overseer__V1__ServerMessage *unpack_copy(const Overseer__V1__ServerMessage *msg)
{
	size_t len = protobuf_c_message_get_packed_size(&msg->base);
	uint8_t *buf = malloc(len + 1);
	Overseer__V1__ServerMessage *out;

	assert_non_null(buf);
	protobuf_c_message_pack(&msg->base, buf);
	out = overseer__v1__server_message__unpack(NULL, len, buf);
	free(buf);
	assert_non_null(out);
	return out;
}

static Overseer__V1__ServerMessage *make_sync(int64_t generation, const struct desired *d, size_t n)
{
	Overseer__V1__ServerMessage msg = OVERSEER__V1__SERVER_MESSAGE__INIT;
	Overseer__V1__Sync sync = OVERSEER__V1__SYNC__INIT;
	Overseer__V1__DesiredApp apps[8], *ptrs[8];
	Overseer__V1__DesiredApp__EnvironmentEntry *env;
	Overseer__V1__DesiredApp__EnvironmentEntry **env_ptrs;
	Overseer__V1__ServerMessage *out;
	size_t i, k, total = 0;

	assert_true(n <= 8);
	for (i = 0; i < n; i++)
		total += d[i].n_env;
	env = calloc(total + 1, sizeof(*env));
	env_ptrs = calloc(total + 1, sizeof(*env_ptrs));
	assert_non_null(env);
	assert_non_null(env_ptrs);
	total = 0;
	for (i = 0; i < n; i++) {
		overseer__v1__desired_app__init(&apps[i]);
		apps[i].app = (char *)(uintptr_t)d[i].app;
		apps[i].version = d[i].version;
		apps[i].content_hash = (char *)(uintptr_t)d[i].hash;
		apps[i].deployment_id = (char *)(uintptr_t)d[i].deployment_id;
		apps[i].compose_yaml = (char *)(uintptr_t)(d[i].yaml ? d[i].yaml : two_services);
		apps[i].environment = &env_ptrs[total];
		apps[i].n_environment = d[i].n_env;
		for (k = 0; k < d[i].n_env; k++) {
			overseer__v1__desired_app__environment_entry__init(&env[total]);
			/* The first is a secret; the rest need unique names. */
			env[total].key = (char *)(uintptr_t)(k == 0 ? "SECRET" : "VAR");
			env[total].value = (char *)(uintptr_t)(k == 0 ? SECRET : "plain");
			env_ptrs[total] = &env[total];
			total++;
		}
		ptrs[i] = &apps[i];
	}
	sync.generation = generation;
	sync.apps = ptrs;
	sync.n_apps = n;
	msg.msg_case = OVERSEER__V1__SERVER_MESSAGE__MSG_SYNC;
	msg.sync = &sync;
	out = unpack_copy(&msg);
	free(env);
	free(env_ptrs);
	return out;
}

static Overseer__V1__ServerMessage *make_remove(int64_t generation, const char *app, int purge,
                                                const char *deployment_id)
{
	Overseer__V1__ServerMessage msg = OVERSEER__V1__SERVER_MESSAGE__INIT;
	Overseer__V1__Remove rm = OVERSEER__V1__REMOVE__INIT;

	rm.generation = generation;
	rm.app = (char *)(uintptr_t)app;
	rm.purge_volumes = purge;
	rm.deployment_id = (char *)(uintptr_t)deployment_id;
	msg.msg_case = OVERSEER__V1__SERVER_MESSAGE__MSG_REMOVE;
	msg.remove = &rm;
	return unpack_copy(&msg);
}

/* Submits msg, runs the reconciler on this thread and collects every report it made. */
static void run(struct fixture *f, Overseer__V1__ServerMessage *msg)
{
	Overseer__V1__StatusReport *rep;

	reports_clear(f);
	if (msg != NULL)
		assert_int_equal(reconcile_submit(f->r, msg), 0);
	reconcile_run_pending(f->r);
	while ((rep = reconcile_take_report(f->r)) != NULL) {
		assert_true(f->n_reports < RECONCILE_MAX_OUTBOX);
		f->reports[f->n_reports++] = rep;
	}
}

static void sync1(struct fixture *f, int64_t generation, const struct desired *d)
{
	run(f, make_sync(generation, d, 1));
}

/* The last full report: every run ends with one. */
static Overseer__V1__StatusReport *last_full(struct fixture *f)
{
	size_t i;

	for (i = f->n_reports; i > 0; i--)
		if (f->reports[i - 1]->full)
			return f->reports[i - 1];
	fail_msg("no full report");
	return NULL;
}

static Overseer__V1__AppReport *report_app(Overseer__V1__StatusReport *rep, const char *app)
{
	size_t i;

	for (i = 0; i < rep->n_apps; i++)
		if (strcmp(rep->apps[i]->app, app) == 0)
			return rep->apps[i];
	return NULL;
}

static Overseer__V1__AppReport *full_app(struct fixture *f, const char *app)
{
	Overseer__V1__AppReport *ar = report_app(last_full(f), app);

	if (ar == NULL)
		fail_msg("app %s not in the full report", app);
	return ar;
}

static size_t applies(struct fixture *f)
{
	size_t a, r;

	executor_sim_counts(&f->spy.sim, &a, &r);
	return a;
}

static size_t removes(struct fixture *f)
{
	size_t a, r;

	executor_sim_counts(&f->spy.sim, &a, &r);
	return r;
}

static const struct desired shop_v1 = {"shop", 1, "hash-1", "dep-1", NULL, 2};
static const struct desired shop_v2 = {"shop", 2, "hash-2", "dep-2", NULL, 2};

/* ---- tests ---- */

static void test_first_sync_applies(void **state)
{
	struct fixture *f = *state;
	Overseer__V1__AppReport *ar;
	int64_t version;
	char hash[64];
	size_t n_env;

	sync1(f, 1, &shop_v1);
	assert_int_equal(applies(f), 1);
	assert_int_equal(
	        executor_sim_running(&f->spy.sim, "shop", &version, hash, sizeof(hash), &n_env), 0);
	assert_int_equal(version, 1);
	assert_int_equal(n_env, 2);

	/* First the one-app APPLYING report, then the full one. */
	assert_true(f->n_reports >= 2);
	assert_false(f->reports[0]->full);
	assert_int_equal(f->reports[0]->n_apps, 1);
	assert_string_equal(f->reports[0]->apps[0]->app, "shop");
	assert_int_equal(f->reports[0]->apps[0]->phase, APPLYING);
	assert_string_equal(f->reports[0]->apps[0]->deployment_id, "dep-1");
	assert_int_equal(f->reports[0]->apps[0]->version, 0); /* nothing ran before */

	ar = full_app(f, "shop");
	assert_int_equal(ar->phase, HEALTHY);
	assert_int_equal(ar->version, 1);
	assert_string_equal(ar->content_hash, "hash-1");
	assert_string_equal(ar->deployment_id, "dep-1");
	assert_int_equal(ar->generation, 1);
	assert_int_equal(ar->n_containers, 2);
	assert_string_equal(ar->containers[0]->service, "web");
	assert_string_equal(ar->containers[0]->state, "running");
	assert_int_equal(reconcile_generation(f->r), 1);
}

static void test_same_sync_applies_nothing(void **state)
{
	struct fixture *f = *state;
	size_t i;

	sync1(f, 1, &shop_v1);
	sync1(f, 1, &shop_v1);
	assert_int_equal(applies(f), 1);
	for (i = 0; i < f->n_reports; i++)
		assert_true(f->reports[i]->full); /* no APPLYING this time */
	assert_int_equal(full_app(f, "shop")->phase, HEALTHY);

	/* A later generation with the same content: still nothing to do. */
	sync1(f, 2, &shop_v1);
	assert_int_equal(applies(f), 1);
	assert_int_equal(full_app(f, "shop")->generation, 2);
}

static void test_same_content_new_deployment_is_acknowledged(void **state)
{
	struct fixture *f = *state;
	struct desired again = shop_v1;

	sync1(f, 1, &shop_v1);
	again.deployment_id = "dep-1b";
	sync1(f, 2, &again);
	assert_int_equal(applies(f), 1);
	assert_string_equal(full_app(f, "shop")->deployment_id, "dep-1b");
	assert_int_equal(full_app(f, "shop")->phase, HEALTHY);
}

static void test_changed_hash_reapplies(void **state)
{
	struct fixture *f = *state;
	Overseer__V1__AppReport *ar;

	sync1(f, 1, &shop_v1);
	sync1(f, 2, &shop_v2);
	assert_int_equal(applies(f), 2);
	/* APPLYING names the new deployment and what still runs. */
	assert_false(f->reports[0]->full);
	assert_int_equal(f->reports[0]->apps[0]->phase, APPLYING);
	assert_string_equal(f->reports[0]->apps[0]->deployment_id, "dep-2");
	assert_int_equal(f->reports[0]->apps[0]->version, 1);
	ar = full_app(f, "shop");
	assert_int_equal(ar->version, 2);
	assert_string_equal(ar->content_hash, "hash-2");
	assert_string_equal(ar->deployment_id, "dep-2");
	assert_int_equal(ar->phase, HEALTHY);
}

static void test_stale_generation_ignored(void **state)
{
	struct fixture *f = *state;

	sync1(f, 5, &shop_v1);
	sync1(f, 4, &shop_v2);
	assert_int_equal(applies(f), 1);
	assert_int_equal(reconcile_generation(f->r), 5);
	assert_int_equal(full_app(f, "shop")->version, 1);
	/* A stale Remove neither. */
	run(f, make_remove(3, "shop", 1, "dep-rm"));
	assert_int_equal(removes(f), 0);
	assert_non_null(report_app(last_full(f), "shop"));
	/* An empty stale Sync removes nothing. */
	run(f, make_sync(4, NULL, 0));
	assert_int_equal(removes(f), 0);
}

static void test_failed_apply_not_retried_same_deployment(void **state)
{
	struct fixture *f = *state;
	struct desired v2_new = shop_v2;
	Overseer__V1__AppReport *ar;

	sync1(f, 1, &shop_v1);
	executor_sim_fail_next_apply(&f->spy.sim, "port is already allocated");
	sync1(f, 2, &shop_v2);
	assert_int_equal(applies(f), 2);
	ar = full_app(f, "shop");
	assert_int_equal(ar->phase, FAILED);
	assert_string_equal(ar->message, "port is already allocated");
	assert_string_equal(ar->deployment_id, "dep-2");
	assert_int_equal(ar->version, 1); /* what last applied and runs */
	assert_string_equal(ar->content_hash, "hash-1");
	assert_int_equal(ar->n_containers, 2);

	/* Reconnect: the same deployment is not tried again. */
	sync1(f, 2, &shop_v2);
	assert_int_equal(applies(f), 2);
	assert_int_equal(full_app(f, "shop")->phase, FAILED);
	assert_string_equal(full_app(f, "shop")->message, "port is already allocated");

	/* A new deployment of the same version is. */
	v2_new.deployment_id = "dep-3";
	sync1(f, 3, &v2_new);
	assert_int_equal(applies(f), 3);
	ar = full_app(f, "shop");
	assert_int_equal(ar->phase, HEALTHY);
	assert_int_equal(ar->version, 2);
	assert_string_equal(ar->deployment_id, "dep-3");
	assert_string_equal(ar->message, "");
}

static void test_dropped_app_removed(void **state)
{
	struct fixture *f = *state;
	const struct desired both[] = {shop_v1, {"blog", 1, "b-1", "dep-b", NULL, 0}};
	int64_t version;
	char hash[64];
	size_t n_env;

	run(f, make_sync(1, both, 2));
	assert_int_equal(applies(f), 2);
	assert_int_equal(last_full(f)->n_apps, 2);
	sync1(f, 2, &shop_v1);
	assert_int_equal(removes(f), 1);
	assert_string_equal(f->spy.last_removed, "blog");
	assert_int_equal(f->spy.last_purge, 0);
	assert_int_equal(
	        executor_sim_running(&f->spy.sim, "blog", &version, hash, sizeof(hash), &n_env),
	        OVR_ERR_NOT_FOUND);
	assert_int_equal(last_full(f)->n_apps, 1);
	assert_null(report_app(last_full(f), "blog"));
	assert_int_equal(applies(f), 2);

	/* Everything gone. */
	run(f, make_sync(3, NULL, 0));
	assert_int_equal(removes(f), 2);
	assert_int_equal(last_full(f)->n_apps, 0);
	assert_true(last_full(f)->full);
}

static void test_remove_with_purge(void **state)
{
	struct fixture *f = *state;

	sync1(f, 1, &shop_v1);
	/* Remove and the Sync without the app share a generation, queued together. */
	assert_int_equal(reconcile_submit(f->r, make_remove(2, "shop", 1, "dep-rm")), 0);
	run(f, make_sync(2, NULL, 0));
	assert_int_equal(removes(f), 1);
	assert_string_equal(f->spy.last_removed, "shop");
	assert_int_equal(f->spy.last_purge, 1);
	assert_int_equal(last_full(f)->n_apps, 0);
	assert_int_equal(reconcile_generation(f->r), 2);

	/* Removing what is not there is fine. */
	run(f, make_remove(3, "ghost", 0, "dep-x"));
	assert_int_equal(removes(f), 2);
	assert_int_equal(last_full(f)->n_apps, 0);
	/* Bad names never reach the executor. */
	run(f, make_remove(3, "../etc", 1, "dep-y"));
	assert_int_equal(removes(f), 2);
}

static void test_newer_sync_replaces_queued(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(reconcile_submit(f->r, make_sync(1, &shop_v1, 1)), 0);
	assert_int_equal(reconcile_submit(f->r, make_remove(2, "old", 1, "dep-rm")), 0);
	run(f, make_sync(2, &shop_v2, 1));
	/* v1 never applied; the Remove kept its place before the newest Sync. */
	assert_int_equal(applies(f), 1);
	assert_int_equal(removes(f), 1);
	assert_string_equal(f->spy.last_removed, "old");
	assert_int_equal(full_app(f, "shop")->version, 2);
}

static void test_record_survives_reload(void **state)
{
	struct fixture *f = *state;
	struct applied rec;
	char path[256], *text = NULL;

	sync1(f, 7, &shop_v1);
	executor_sim_fail_next_apply(&f->spy.sim, "boom");
	run(f, make_sync(8, (const struct desired[]){shop_v1, {"blog", 1, "b-1", "dep-b", NULL, 1}},
	                 2));
	assert_int_equal(applies(f), 2);

	/* No environment value is ever written down. */
	snprintf(path, sizeof(path), "%s/%s", f->dir, APPLIED_FILE);
	assert_int_equal(fs_read_file(&text, NULL, path, 1 << 20), 0);
	assert_null(strstr(text, SECRET));
	assert_non_null(strstr(text, "dep-b"));
	free(text);

	assert_int_equal(applied_load(&rec, f->dir), 0);
	assert_int_equal(rec.generation, 8);
	assert_int_equal(rec.n_apps, 2);
	assert_string_equal(rec.apps[0].name, "blog");
	assert_false(rec.apps[0].ok);
	assert_string_equal(rec.apps[0].message, "boom");
	assert_string_equal(rec.apps[1].name, "shop");
	assert_true(rec.apps[1].ok);
	assert_int_equal(rec.apps[1].running_version, 1);
	applied_free(&rec);

	/* An agent restart: same record, containers still running. */
	reconcile_free(f->r);
	reconciler_open(f);
	assert_int_equal(reconcile_generation(f->r), 8);
	run(f, make_sync(8, (const struct desired[]){shop_v1, {"blog", 1, "b-1", "dep-b", NULL, 1}},
	                 2));
	assert_int_equal(applies(f), 2); /* nothing restarted, the failure not retried */
	assert_int_equal(full_app(f, "shop")->phase, HEALTHY);
	assert_int_equal(full_app(f, "blog")->phase, FAILED);
	assert_string_equal(full_app(f, "blog")->message, "boom");
	/* Stale after a restart too. */
	sync1(f, 7, &shop_v2);
	assert_int_equal(applies(f), 2);
}

static void test_corrupt_record_is_empty(void **state)
{
	struct fixture *f = *state;
	static const char *const bad[] = {
	        "{not json",
	        "[]",
	        "{\"generation\": 1}",
	        "{\"generation\": -1, \"apps\": []}",
	        "{\"generation\": 1, \"apps\": [{\"app\": \"../x\", \"version\": 1}]}",
	        "{\"generation\": 1, \"apps\": [{\"app\": \"a\", \"version\": 1, \"content_hash\": "
	        "\"h\", \"deployment_id\": \"d\", \"outcome\": \"maybe\", \"message\": \"\", "
	        "\"running_version\": 0, \"running_hash\": \"\"}]}",
	};
	char path[256];
	size_t i;

	snprintf(path, sizeof(path), "%s/%s", f->dir, APPLIED_FILE);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(fs_write_file_atomic(path, bad[i], strlen(bad[i]), 0600), 0);
		reconcile_free(f->r);
		reconciler_open(f);
		assert_int_equal(reconcile_generation(f->r), 0);
		snprintf(path, sizeof(path), "%s/%s.corrupt", f->dir, APPLIED_FILE);
		assert_true(fs_exists(path)); /* kept aside */
		snprintf(path, sizeof(path), "%s/%s", f->dir, APPLIED_FILE);
	}
	sync1(f, 1, &shop_v1);
	assert_int_equal(applies(f), 1);
	assert_int_equal(full_app(f, "shop")->phase, HEALTHY);
}

static void test_limits_refused(void **state)
{
	struct fixture *f = *state;
	struct desired big = {"big", 1, "h", "dep-big", NULL, 0};
	struct desired many = {"many", 1, "h", "dep-many", NULL, EXECUTOR_MAX_ENV + 1};
	struct desired badname = {"Bad_Name", 1, "h", "dep-bad", NULL, 0};
	struct desired nover = {"nover", 0, "h", "dep-nover", NULL, 0};
	struct desired list[4];
	Overseer__V1__AppReport *ar;
	char *yaml = malloc(RECONCILE_MAX_COMPOSE + 2);

	assert_non_null(yaml);
	memset(yaml, '#', RECONCILE_MAX_COMPOSE + 1);
	yaml[RECONCILE_MAX_COMPOSE + 1] = '\0';
	big.yaml = yaml;
	list[0] = big;
	list[1] = many;
	list[2] = badname;
	list[3] = nover;
	run(f, make_sync(1, list, 4));
	free(yaml);
	assert_int_equal(applies(f), 0);

	ar = full_app(f, "big");
	assert_int_equal(ar->phase, FAILED);
	assert_string_equal(ar->message, "compose file larger than 1 MiB");
	assert_string_equal(ar->deployment_id, "dep-big");
	ar = full_app(f, "many");
	assert_int_equal(ar->phase, FAILED);
	assert_non_null(strstr(ar->message, "environment entries"));
	ar = full_app(f, "Bad_Name");
	assert_int_equal(ar->phase, FAILED);
	assert_non_null(strstr(ar->message, "app name"));
	assert_string_equal(ar->deployment_id, "dep-bad");
	ar = full_app(f, "nover");
	assert_int_equal(ar->phase, FAILED);
	assert_int_equal(last_full(f)->n_apps, 4);

	/* A bad compose file fails through the executor, with its message. */
	big.yaml = "services: [";
	big.deployment_id = "dep-big2";
	sync1(f, 2, &big);
	assert_int_equal(applies(f), 1);
	assert_int_equal(full_app(f, "big")->phase, FAILED);
	assert_string_equal(full_app(f, "big")->deployment_id, "dep-big2");
	assert_true(strlen(full_app(f, "big")->message) > 0);
	/* The refused ones of the previous Sync are gone with it, and removed. */
	assert_null(report_app(last_full(f), "Bad_Name"));
	assert_null(report_app(last_full(f), "many"));
}

static void test_duplicate_app_in_sync(void **state)
{
	struct fixture *f = *state;
	const struct desired twice[] = {shop_v1, shop_v2};

	run(f, make_sync(1, twice, 2));
	assert_int_equal(applies(f), 1);
	assert_int_equal(full_app(f, "shop")->version, 1);
	assert_int_equal(last_full(f)->n_apps, 1);
}

static void test_stopped_containers_restarted(void **state)
{
	struct fixture *f = *state;

	sync1(f, 1, &shop_v1);
	/* A crashed container: the next Sync applies again (compose up starts it). */
	snprintf(f->spy.forced_state, sizeof(f->spy.forced_state), "exited");
	f->spy.forced_exit = 137;
	sync1(f, 1, &shop_v1);
	assert_int_equal(applies(f), 2);
	assert_int_equal(full_app(f, "shop")->phase, FAILED);
	assert_non_null(strstr(full_app(f, "shop")->message, "exited with code 137"));

	/* A finished one-shot job (exit 0) is left alone. */
	f->spy.forced_exit = 0;
	sync1(f, 1, &shop_v1);
	assert_int_equal(applies(f), 2);
	assert_int_equal(full_app(f, "shop")->phase, HEALTHY);

	/* The engine unreachable: no apply (it would fail and stick), the report says why. */
	f->spy.status_fails = 1;
	sync1(f, 1, &shop_v1);
	assert_int_equal(applies(f), 2);
	assert_int_equal(full_app(f, "shop")->phase, FAILED);
	assert_non_null(strstr(full_app(f, "shop")->message, "container status"));
	assert_int_equal(full_app(f, "shop")->version, 1);
}

static void test_heartbeat_report(void **state)
{
	struct fixture *f = *state;

	sync1(f, 1, &shop_v1);
	reconcile_request_report(f->r);
	reconcile_request_report(f->r); /* asked twice before it is built: one report */
	run(f, NULL);
	assert_int_equal(f->n_reports, 1);
	assert_true(f->reports[0]->full);
	assert_int_equal(full_app(f, "shop")->phase, HEALTHY);
	run(f, NULL);
	assert_int_equal(f->n_reports, 0);
}

static void test_outbox_bounded(void **state)
{
	struct fixture *f = *state;
	Overseer__V1__StatusReport *rep;
	size_t i, n = 0;

	for (i = 0; i < RECONCILE_MAX_OUTBOX + 10; i++) {
		reconcile_request_report(f->r);
		reconcile_run_pending(f->r);
	}
	while ((rep = reconcile_take_report(f->r)) != NULL) {
		reconcile_report_free(rep);
		n++;
	}
	assert_int_equal(n, RECONCILE_MAX_OUTBOX);
	reconcile_request_report(f->r);
	reconcile_run_pending(f->r);
	reconcile_drop_reports(f->r);
	assert_null(reconcile_take_report(f->r));
}

/* Waits up to 10 s for a full report in which app has phase, asking for one every 10 ms as
 * heartbeats do; 1 if seen. */
static int wait_for_phase(struct fixture *f, const char *app, int phase)
{
	Overseer__V1__StatusReport *rep;
	int i, seen = 0;

	for (i = 0; i < 1000 && !seen; i++) {
		while (!seen && (rep = reconcile_take_report(f->r)) != NULL) {
			Overseer__V1__AppReport *ar = report_app(rep, app);

			seen = rep->full && ar != NULL && (int)ar->phase == phase;
			reconcile_report_free(rep);
		}
		if (!seen) {
			struct timespec ts = {0, 10 * 1000000L};

			reconcile_request_report(f->r);
			nanosleep(&ts, NULL);
		}
	}
	return seen;
}

static void test_threads(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(reconcile_start(f->r), 0);
	/* A slow apply: full reports keep coming and show it APPLYING meanwhile. */
	executor_sim_set_delay(&f->spy.sim, 300);
	assert_int_equal(reconcile_submit(f->r, make_sync(1, &shop_v1, 1)), 0);
	reconcile_request_report(f->r);
	assert_true(wait_for_phase(f, "shop", APPLYING));
	assert_true(wait_for_phase(f, "shop", HEALTHY));
	executor_sim_set_delay(&f->spy.sim, 0);
	assert_int_equal(reconcile_submit(f->r, make_remove(2, "shop", 0, "dep-rm")), 0);
	assert_int_equal(reconcile_submit(f->r, make_sync(2, NULL, 0)), 0);
	for (int i = 0; i < 1000 && removes(f) == 0; i++) {
		struct timespec ts = {0, 10 * 1000000L};

		nanosleep(&ts, NULL);
	}
	assert_int_equal(removes(f), 1);
	/* Stop joins; a second stop and free after it are fine. */
	reconcile_stop(f->r);
	reconcile_stop(f->r);
	assert_int_equal(applies(f), 1);
}

static void test_stop_with_queued_work(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(reconcile_start(f->r), 0);
	executor_sim_set_delay(&f->spy.sim, 200);
	assert_int_equal(reconcile_submit(f->r, make_sync(1, &shop_v1, 1)), 0);
	assert_int_equal(reconcile_submit(f->r, make_remove(2, "a", 0, "d")), 0);
	assert_int_equal(reconcile_submit(f->r, make_sync(2, &shop_v2, 1)), 0);
	/* Freed with the queue (and an apply maybe in flight): ASan checks nothing leaks. */
}

/* ---- the phase ---- */

static struct executor_container ctr(const char *service, const char *state, const char *health,
                                     int exit_code)
{
	struct executor_container c;

	memset(&c, 0, sizeof(c));
	snprintf(c.service, sizeof(c.service), "%s", service);
	snprintf(c.name, sizeof(c.name), "ovr-shop-%s-1", service);
	snprintf(c.state, sizeof(c.state), "%s", state);
	snprintf(c.health, sizeof(c.health), "%s", health);
	c.exit_code = exit_code;
	return c;
}

static void test_phase(void **state)
{
	struct executor_container c[3];
	char msg[512];

	(void)state;
	/* A failed apply wins, with the executor's message. */
	c[0] = ctr("web", "running", "healthy", 0);
	assert_int_equal(reconcile_phase(msg, sizeof(msg), 0, "compose: bad file", c, 1), FAILED);
	assert_string_equal(msg, "compose: bad file");
	assert_int_equal(reconcile_phase(msg, sizeof(msg), 0, "", c, 1), FAILED);
	assert_string_equal(msg, "apply failed");

	assert_int_equal(reconcile_phase(msg, sizeof(msg), 1, "", NULL, 0), FAILED);
	assert_string_equal(msg, "no containers");

	c[1] = ctr("db", "running", "", 0);
	assert_int_equal(reconcile_phase(msg, sizeof(msg), 1, "", c, 2), HEALTHY);
	assert_string_equal(msg, "");

	c[1] = ctr("job", "exited", "", 0); /* a finished one-shot job */
	assert_int_equal(reconcile_phase(msg, sizeof(msg), 1, "", c, 2), HEALTHY);

	c[1] = ctr("db", "exited", "", 3);
	assert_int_equal(reconcile_phase(msg, sizeof(msg), 1, "", c, 2), FAILED);
	assert_string_equal(msg, "service db (container ovr-shop-db-1) exited with code 3");

	c[1] = ctr("db", "restarting", "", 1);
	c[1].restart_count = 4;
	assert_int_equal(reconcile_phase(msg, sizeof(msg), 1, "", c, 2), FAILED);
	assert_string_equal(
	        msg, "service db (container ovr-shop-db-1) is restarting: exit code 1, 4 restarts");

	c[1] = ctr("db", "dead", "", 0);
	assert_int_equal(reconcile_phase(msg, sizeof(msg), 1, "", c, 2), FAILED);
	assert_non_null(strstr(msg, "is dead"));

	c[1] = ctr("db", "running", "unhealthy", 0);
	assert_int_equal(reconcile_phase(msg, sizeof(msg), 1, "", c, 2), FAILED);
	assert_string_equal(msg, "service db (container ovr-shop-db-1) is unhealthy");

	/* Failures win over created and starting; the count of others is given. */
	c[0] = ctr("web", "created", "", 0);
	c[2] = ctr("cache", "exited", "", 1);
	assert_int_equal(reconcile_phase(msg, sizeof(msg), 1, "", c, 3), FAILED);
	assert_non_null(strstr(msg, "(and 1 more failing)"));

	c[1] = ctr("db", "running", "starting", 0);
	assert_int_equal(reconcile_phase(msg, sizeof(msg), 1, "", c, 2), APPLYING);
	assert_string_equal(msg,
	                    "service web (container ovr-shop-web-1) is created but not started");

	c[0] = ctr("web", "running", "healthy", 0);
	assert_int_equal(reconcile_phase(msg, sizeof(msg), 1, "", c, 2), RUNNING);
	assert_string_equal(msg, "service db (container ovr-shop-db-1): health check starting");

	c[1] = ctr("db", "paused", "", 0);
	assert_int_equal(reconcile_phase(msg, sizeof(msg), 1, "", c, 2), RUNNING);

	/* A small buffer is cut, never overrun; none at all is fine. */
	c[1] = ctr("db", "exited", "", 3);
	assert_int_equal(reconcile_phase(msg, 8, 1, "", c, 2), FAILED);
	assert_int_equal(strlen(msg), 7);
	assert_int_equal(reconcile_phase(NULL, 0, 1, "", c, 2), FAILED);
}

/* The reason names the last health check, its exit code and output; restarts are counted. */
static void test_phase_reasons(void **state)
{
	struct executor_container c[2];
	char msg[EXECUTOR_MESSAGE_MAX];

	(void)state;
	c[0] = ctr("db", "running", "healthy", 0);
	c[1] = ctr("web", "running", "unhealthy", 0);
	c[1].has_health_log = 1;
	c[1].health_exit_code = 1;
	snprintf(c[1].health_output, sizeof(c[1].health_output), "wget: can't connect");
	assert_int_equal(reconcile_phase(msg, sizeof(msg), 1, "", c, 2), FAILED);
	assert_string_equal(msg, "service web (container ovr-shop-web-1) is unhealthy: last health "
	                         "check (exit 1): wget: can't connect");

	/* A check that timed out, with no output. */
	c[1].health_exit_code = -1;
	c[1].health_output[0] = '\0';
	assert_int_equal(reconcile_phase(msg, sizeof(msg), 1, "", c, 2), FAILED);
	assert_string_equal(
	        msg,
	        "service web (container ovr-shop-web-1) is unhealthy: last health check (exit -1)");

	/* The count of others comes before the output, which is free text. */
	c[0] = c[1];
	c[0].health_exit_code = 1;
	snprintf(c[0].health_output, sizeof(c[0].health_output), "no");
	c[1] = ctr("db", "exited", "", 2);
	assert_int_equal(reconcile_phase(msg, sizeof(msg), 1, "", c, 2), FAILED);
	assert_string_equal(msg, "service web (container ovr-shop-web-1) is unhealthy (and 1 more "
	                         "failing): last health check (exit 1): no");

	/* A longest output still leaves the message far below the limit. */
	memset(c[0].health_output, 'x', sizeof(c[0].health_output) - 1);
	c[0].health_output[sizeof(c[0].health_output) - 1] = '\0';
	memset(c[0].name, 'n', sizeof(c[0].name) - 1);
	c[0].name[sizeof(c[0].name) - 1] = '\0';
	assert_int_equal(reconcile_phase(msg, sizeof(msg), 1, "", c, 2), FAILED);
	assert_true(strlen(msg) < 1024);
	assert_non_null(strstr(msg, "xxx"));

	/* Exited after restarts: code and count; restarting: code and count as before. */
	c[0] = ctr("web", "exited", "", 137);
	c[0].restart_count = 2;
	assert_int_equal(reconcile_phase(msg, sizeof(msg), 1, "", c, 1), FAILED);
	assert_string_equal(
	        msg, "service web (container ovr-shop-web-1) exited with code 137, 2 restarts");
	c[0] = ctr("web", "restarting", "unhealthy", 3);
	c[0].restart_count = 5;
	c[0].has_health_log = 1;
	assert_int_equal(reconcile_phase(msg, sizeof(msg), 1, "", c, 1), FAILED);
	assert_string_equal(
	        msg,
	        "service web (container ovr-shop-web-1) is restarting: exit code 3, 5 restarts");
}

static void test_needs_start(void **state)
{
	struct executor_container c[2];

	(void)state;
	assert_true(reconcile_needs_start(NULL, 0));
	c[0] = ctr("web", "running", "healthy", 0);
	c[1] = ctr("job", "exited", "", 0);
	assert_false(reconcile_needs_start(c, 2));
	c[1] = ctr("db", "restarting", "", 1);
	assert_false(reconcile_needs_start(c, 2));
	c[1] = ctr("db", "created", "", 0);
	assert_true(reconcile_needs_start(c, 2));
	c[1] = ctr("db", "exited", "", 137);
	assert_true(reconcile_needs_start(c, 2));
	c[1] = ctr("db", "dead", "", 0);
	assert_true(reconcile_needs_start(c, 2));
}

static void test_applied_utf8(void **state)
{
	char out[16];

	(void)state;
	applied_utf8_copy(out, sizeof(out), "ok \xc3\xa9");
	assert_string_equal(out, "ok \xc3\xa9");
	applied_utf8_copy(out, sizeof(out),
	                  "a\xff"
	                  "b\xc3");
	assert_string_equal(out, "a?b?");
	applied_utf8_copy(out, sizeof(out), "\xed\xa0\x80"); /* a surrogate */
	assert_string_equal(out, "???");
	applied_utf8_copy(out, 5, "abc\xe2\x82\xac"); /* the euro sign does not fit */
	assert_string_equal(out, "abc");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(test_first_sync_applies, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_same_sync_applies_nothing, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_same_content_new_deployment_is_acknowledged,
	                                        setup, teardown),
	        cmocka_unit_test_setup_teardown(test_changed_hash_reapplies, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_stale_generation_ignored, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_failed_apply_not_retried_same_deployment,
	                                        setup, teardown),
	        cmocka_unit_test_setup_teardown(test_dropped_app_removed, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_remove_with_purge, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_newer_sync_replaces_queued, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_record_survives_reload, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_corrupt_record_is_empty, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_limits_refused, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_duplicate_app_in_sync, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_stopped_containers_restarted, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_heartbeat_report, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_outbox_bounded, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_threads, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_stop_with_queued_work, setup, teardown),
	        cmocka_unit_test(test_phase),
	        cmocka_unit_test(test_phase_reasons),
	        cmocka_unit_test(test_needs_start),
	        cmocka_unit_test(test_applied_utf8),
	};

	log_init("test_reconcile", LOG_LEVEL_ERROR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
