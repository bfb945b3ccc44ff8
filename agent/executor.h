/* The agent's executor: makes one app version run on this node, behind a function table so tests
 * and the load generator can swap the real Docker Compose one for a simulated one. */
#ifndef OVR_EXECUTOR_H
#define OVR_EXECUTOR_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

struct compose_cli; /* compose.h */

#define EXECUTOR_OUTPUT_MAX        4096 /* bytes of compose's stderr kept: the tail */
#define EXECUTOR_MESSAGE_MAX       (EXECUTOR_OUTPUT_MAX + 512)
#define EXECUTOR_MAX_ENV           1024
#define EXECUTOR_MAX_LABELS        256
#define EXECUTOR_MAX_SVC_LABELS    512 /* per-service labels (64 routes make at most 320) */
#define EXECUTOR_MAX_PORTS         16  /* published port bindings reported per container */
#define EXECUTOR_MAX_CONTAINERS    4096
#define EXECUTOR_HEALTH_OUTPUT_MAX 256 /* bytes of a health check's output kept, NUL included */
#define EXECUTOR_APPLY_TIMEOUT_MS  (10 * 60 * 1000)

/* A name=value pair: an environment entry or a label. */
struct executor_kv {
	const char *key;
	const char *value;
};

/* A label for one service of the compose file (a route's Traefik labels). */
struct executor_label {
	const char *service;
	const char *key;
	const char *value;
};

/*
 * One app version to run. Everything is borrowed for the duration of the call. Environment values
 * may be secrets: executors never log them, write them to disk or put them in an argv; the real
 * one passes them only in the compose child's environment (and keeps a copy in memory, wiped on
 * replace and free, because compose v1 needs the same environment again for `down`). The values
 * of the entries named in secret_keys are also replaced with "***" in compose's output that goes
 * into results, by this apply and by later commands for the app (remove); other values are not.
 */
struct executor_app {
	const char *name; /* ^[a-z][a-z0-9-]{0,62}$ */
	int64_t version;  /* > 0 */
	const char *content_hash;
	const char *compose_yaml; /* the user's file, written byte for byte */
	size_t compose_len;
	const struct executor_kv *env; /* keys ^[A-Za-z_][A-Za-z0-9_]*$ */
	size_t n_env;
	const struct executor_kv *labels; /* added to every service, next to io.overseer.* */
	size_t n_labels;
	/*
	 * Added to the named service only, in this order (part of compose's config hash: the same
	 * list leaves the containers alone). Each service must be one of the compose file's.
	 */
	const struct executor_label *service_labels;
	size_t n_service_labels;
	const char *const *secret_keys; /* keys of env whose values are secrets (at most MAX_ENV) */
	size_t n_secret_keys;
};

/* What an apply or remove did. err is 0 or a negative enum ovr_err, also the call's return. */
struct executor_result {
	int ok;
	int err;
	/* Human-readable; on a compose failure it ends with compose's own message (stderr tail). */
	char message[EXECUTOR_MESSAGE_MAX];
	/* The last EXECUTOR_OUTPUT_MAX bytes of compose's stderr, success or not ("" if none ran).
	 */
	char output[EXECUTOR_OUTPUT_MAX + 1];
	int64_t elapsed_ms;
};

/* One container of the app's compose project, as the Engine API reports it. */
struct executor_container {
	char id[72];
	char name[256];
	char service[128]; /* label com.docker.compose.service */
	char state[32];    /* created, running, restarting, exited, ... */
	char health[32];   /* "", starting, healthy, unhealthy */
	/*
	 * The last health check (State.Health.Log): its output, UTF-8 with control characters as
	 * spaces and no trailing whitespace, cut to fit; and its exit code (-1: it timed out or
	 * could not run).
	 */
	int has_health_log;
	int32_t health_exit_code;
	char health_output[EXECUTOR_HEALTH_OUTPUT_MAX];
	int32_t restart_count;
	int32_t exit_code;
	char image[256];
	int64_t started_unix_ms; /* 0 if never started */
	/*
	 * Label io.overseer.version (0 if absent): the app version that last changed this service's
	 * definition (compose config hash), not necessarily the one applied last. Labels are part
	 * of compose's config hash, so stamping every service with each new version would recreate
	 * them all on every deploy; the applied version is what the caller applied.
	 */
	int64_t version;
	char ports[EXECUTOR_MAX_PORTS][80]; /* "127.0.0.1:8080->80/tcp" */
	size_t n_ports;
};

/* The containers of one app, sorted by service then name. Free with executor_status_free. */
struct executor_status {
	struct executor_container *containers;
	size_t n_containers;
};

/*
 * The function table. Each call returns 0 or a negative enum ovr_err with the message set
 * (ovr_err_set) and, for apply and remove, res filled in every case. App names are validated
 * before anything else. apply and remove of different apps may run concurrently; status may run
 * concurrently with either.
 */
struct executor_ops {
	int (*apply)(void *self, const struct executor_app *app, struct executor_result *res);
	/* Stops and removes the app's containers and networks; its named volumes only if purge. */
	int (*remove)(void *self, const char *app, int purge_volumes, struct executor_result *res);
	/* out is zeroed first and owned by the caller (executor_status_free) on success. */
	int (*status)(void *self, const char *app, struct executor_status *out);
	void (*free)(void *self);
};

struct executor {
	const struct executor_ops *ops;
	void *self;
};

static inline int executor_apply(struct executor *ex, const struct executor_app *app,
                                 struct executor_result *res)
{
	return ex->ops->apply(ex->self, app, res);
}

static inline int executor_remove(struct executor *ex, const char *app, int purge_volumes,
                                  struct executor_result *res)
{
	return ex->ops->remove(ex->self, app, purge_volumes, res);
}

static inline int executor_status(struct executor *ex, const char *app, struct executor_status *out)
{
	return ex->ops->status(ex->self, app, out);
}

/* Frees the executor's state and zeroes ex. A zeroed ex is a no-op. */
static inline void executor_free(struct executor *ex)
{
	if (ex != NULL && ex->ops != NULL)
		ex->ops->free(ex->self);
	if (ex != NULL) {
		ex->ops = NULL;
		ex->self = NULL;
	}
}

static inline void executor_status_free(struct executor_status *st)
{
	if (st == NULL)
		return;
	free(st->containers);
	st->containers = NULL;
	st->n_containers = 0;
}

/* The real executor: Docker Compose (v2 or v1) through proc_run, status through the Engine API. */
struct executor_compose_opts {
	const char *state_dir;      /* required: files go to STATE_DIR/apps/<app>/<version>/ */
	const char *project_prefix; /* NULL: "ovr"; project "<prefix>-<app>" */
	const char *node_name;      /* label io.overseer.node; NULL: "" */
	const char *docker_socket;  /* NULL: the default socket */
	/* The compose command line; NULL: compose_detect() on the first apply or remove. */
	const struct compose_cli *cli;
	int64_t timeout_ms; /* per compose command; 0: EXECUTOR_APPLY_TIMEOUT_MS */
};

/* Strings are copied. On success ex is set up; free with executor_free. */
int executor_compose_new(struct executor *ex, const struct executor_compose_opts *opts);

/* The compose project name for app with this executor's prefix into buf. */
int executor_compose_project(const struct executor *ex, const char *app, char *buf, size_t size);

/*
 * The simulated executor: records applies and removes in memory and reports one running, healthy
 * container per service of the applied compose file. Thread-safe.
 */
int executor_sim_new(struct executor *ex);

/* Makes the next apply fail with this message (copied); NULL cancels. ex must be a sim. */
void executor_sim_fail_next_apply(struct executor *ex, const char *message);

/* Each apply and remove first sleeps this long (load generation). */
void executor_sim_set_delay(struct executor *ex, int64_t delay_ms);

/* Counts of apply and remove calls (failed ones included). */
void executor_sim_counts(struct executor *ex, size_t *applies, size_t *removes);

/*
 * What the sim runs for app: version, content hash (copied into hash) and the number of
 * environment entries it was given. OVR_ERR_NOT_FOUND if nothing runs.
 */
int executor_sim_running(struct executor *ex, const char *app, int64_t *version, char *hash,
                         size_t hash_size, size_t *n_env);

#endif
