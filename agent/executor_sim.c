/* A simulated executor for tests and load generation: applies and removes are recorded in memory,
 * and every service of an applied compose file reports one running, healthy container. */
#include "executor.h"

#include "compose_file.h"
#include "err.h"
#include "strutil.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct sim_service {
	char name[128];
};

struct sim_app {
	char name[64];
	int64_t version;
	char hash[128];
	size_t n_env; /* values are not kept */
	struct sim_service *services;
	size_t n_services;
	int64_t started_unix_ms;
};

struct exec_sim {
	pthread_mutex_t lock;
	struct sim_app *apps;
	size_t n_apps;
	size_t applies;
	size_t removes;
	char *fail_next; /* message for the next apply, or NULL */
	int64_t delay_ms;
};

static void sim_sleep(int64_t ms)
{
	struct timespec ts;

	if (ms <= 0)
		return;
	ts.tv_sec = (time_t)(ms / 1000);
	ts.tv_nsec = (long)(ms % 1000) * 1000000L;
	while (nanosleep(&ts, &ts) != 0)
		;
}

static int sim_fail(struct executor_result *res, int err, const char *msg, int64_t start)
{
	ovr_strlcpy(res->message, msg, sizeof(res->message));
	res->err = err;
	res->ok = 0;
	res->elapsed_ms = ovr_mono_ms() - start;
	return ovr_err_set(err, "%s", msg);
}

/* The app's slot; NULL if absent. Called with the lock held. */
static struct sim_app *sim_find(struct exec_sim *s, const char *name)
{
	size_t i;

	for (i = 0; i < s->n_apps; i++)
		if (strcmp(s->apps[i].name, name) == 0)
			return &s->apps[i];
	return NULL;
}

static int sim_apply(void *self, const struct executor_app *app, struct executor_result *res)
{
	struct exec_sim *s = self;
	struct compose_file *cf = NULL;
	struct sim_app *a;
	struct sim_service *services = NULL;
	char msg[EXECUTOR_MESSAGE_MAX];
	int64_t start = ovr_mono_ms(), delay;
	size_t i;
	int err;

	memset(res, 0, sizeof(*res));
	pthread_mutex_lock(&s->lock);
	s->applies++;
	delay = s->delay_ms;
	pthread_mutex_unlock(&s->lock);
	sim_sleep(delay);

	if (app->name == NULL || !ovr_name_valid(app->name))
		return sim_fail(res, OVR_ERR_INVALID, "app name must match ^[a-z][a-z0-9-]{0,62}$",
		                start);
	if (app->version <= 0 || app->compose_yaml == NULL)
		return sim_fail(res, OVR_ERR_INVALID,
		                "version must be positive, with a compose file", start);
	pthread_mutex_lock(&s->lock);
	if (s->fail_next != NULL) {
		ovr_strlcpy(msg, s->fail_next, sizeof(msg));
		free(s->fail_next);
		s->fail_next = NULL;
		pthread_mutex_unlock(&s->lock);
		return sim_fail(res, OVR_ERR_UNAVAILABLE, msg, start);
	}
	pthread_mutex_unlock(&s->lock);

	err = compose_file_parse(&cf, app->compose_yaml, app->compose_len);
	if (err != 0) {
		snprintf(msg, sizeof(msg), "app %s version %" PRId64 ": %s", app->name,
		         app->version, ovr_err_msg(err));
		return sim_fail(res, err, msg, start);
	}
	if (cf->n_services > 0) {
		services = calloc(cf->n_services, sizeof(*services));
		if (services == NULL) {
			compose_file_free(cf);
			return sim_fail(res, OVR_ERR_NOMEM, "out of memory", start);
		}
	}
	for (i = 0; i < cf->n_services; i++)
		ovr_strlcpy(services[i].name, cf->services[i].name, sizeof(services[i].name));

	pthread_mutex_lock(&s->lock);
	a = sim_find(s, app->name);
	if (a == NULL) {
		struct sim_app *na = realloc(s->apps, (s->n_apps + 1) * sizeof(*na));

		if (na == NULL) {
			pthread_mutex_unlock(&s->lock);
			free(services);
			compose_file_free(cf);
			return sim_fail(res, OVR_ERR_NOMEM, "out of memory", start);
		}
		s->apps = na;
		a = &s->apps[s->n_apps++];
		memset(a, 0, sizeof(*a));
		ovr_strlcpy(a->name, app->name, sizeof(a->name));
	}
	/* Like compose: an unchanged version keeps its containers (and their start time). */
	if (a->version != app->version || a->started_unix_ms == 0)
		a->started_unix_ms = ovr_now_ms();
	a->version = app->version;
	ovr_strlcpy(a->hash, app->content_hash != NULL ? app->content_hash : "", sizeof(a->hash));
	a->n_env = app->n_env;
	free(a->services);
	a->services = services;
	a->n_services = cf->n_services;
	pthread_mutex_unlock(&s->lock);
	compose_file_free(cf);

	res->ok = 1;
	res->elapsed_ms = ovr_mono_ms() - start;
	return 0;
}

static int sim_remove(void *self, const char *app, int purge_volumes, struct executor_result *res)
{
	struct exec_sim *s = self;
	struct sim_app *a;
	int64_t start = ovr_mono_ms(), delay;

	(void)purge_volumes;
	memset(res, 0, sizeof(*res));
	pthread_mutex_lock(&s->lock);
	s->removes++;
	delay = s->delay_ms;
	pthread_mutex_unlock(&s->lock);
	sim_sleep(delay);
	if (app == NULL || !ovr_name_valid(app))
		return sim_fail(res, OVR_ERR_INVALID, "app name must match ^[a-z][a-z0-9-]{0,62}$",
		                start);
	pthread_mutex_lock(&s->lock);
	a = sim_find(s, app);
	if (a != NULL) { /* removing what is not there succeeds, like compose down */
		free(a->services);
		*a = s->apps[s->n_apps - 1];
		s->n_apps--;
	}
	pthread_mutex_unlock(&s->lock);
	res->ok = 1;
	res->elapsed_ms = ovr_mono_ms() - start;
	return 0;
}

static int sim_status(void *self, const char *app, struct executor_status *out)
{
	struct exec_sim *s = self;
	struct sim_app *a;
	size_t i;
	int err = 0;

	memset(out, 0, sizeof(*out));
	if (app == NULL || !ovr_name_valid(app))
		return ovr_err_set(OVR_ERR_INVALID, "app name must match ^[a-z][a-z0-9-]{0,62}$");
	pthread_mutex_lock(&s->lock);
	a = sim_find(s, app);
	if (a == NULL || a->n_services == 0)
		goto out;
	out->containers = calloc(a->n_services, sizeof(*out->containers));
	if (out->containers == NULL) {
		err = ovr_err_set(OVR_ERR_NOMEM, "out of memory");
		goto out;
	}
	for (i = 0; i < a->n_services; i++) {
		struct executor_container *c = &out->containers[i];

		snprintf(c->id, sizeof(c->id), "sim%016zx%08" PRIx64, i, (uint64_t)a->version);
		snprintf(c->name, sizeof(c->name), "sim-%s-%s-1", a->name, a->services[i].name);
		ovr_strlcpy(c->service, a->services[i].name, sizeof(c->service));
		ovr_strlcpy(c->state, "running", sizeof(c->state));
		ovr_strlcpy(c->health, "healthy", sizeof(c->health));
		ovr_strlcpy(c->image, "sim", sizeof(c->image));
		c->started_unix_ms = a->started_unix_ms;
		c->version = a->version;
	}
	out->n_containers = a->n_services;
out:
	pthread_mutex_unlock(&s->lock);
	return err;
}

static void sim_free(void *self)
{
	struct exec_sim *s = self;
	size_t i;

	if (s == NULL)
		return;
	for (i = 0; i < s->n_apps; i++)
		free(s->apps[i].services);
	free(s->apps);
	free(s->fail_next);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

static const struct executor_ops exec_sim_ops = {
        .apply = sim_apply,
        .remove = sim_remove,
        .status = sim_status,
        .free = sim_free,
};

int executor_sim_new(struct executor *ex)
{
	struct exec_sim *s = calloc(1, sizeof(*s));

	memset(ex, 0, sizeof(*ex));
	if (s == NULL)
		return ovr_err_set(OVR_ERR_NOMEM, "out of memory");
	pthread_mutex_init(&s->lock, NULL);
	ex->ops = &exec_sim_ops;
	ex->self = s;
	return 0;
}

/* The sim behind ex, or NULL if ex is another executor. */
static struct exec_sim *sim_of(struct executor *ex)
{
	return ex != NULL && ex->ops == &exec_sim_ops ? ex->self : NULL;
}

void executor_sim_fail_next_apply(struct executor *ex, const char *message)
{
	struct exec_sim *s = sim_of(ex);

	if (s == NULL)
		return;
	pthread_mutex_lock(&s->lock);
	free(s->fail_next);
	s->fail_next = message != NULL ? strdup(message) : NULL;
	pthread_mutex_unlock(&s->lock);
}

void executor_sim_set_delay(struct executor *ex, int64_t delay_ms)
{
	struct exec_sim *s = sim_of(ex);

	if (s == NULL)
		return;
	pthread_mutex_lock(&s->lock);
	s->delay_ms = delay_ms;
	pthread_mutex_unlock(&s->lock);
}

void executor_sim_counts(struct executor *ex, size_t *applies, size_t *removes)
{
	struct exec_sim *s = sim_of(ex);

	*applies = 0;
	*removes = 0;
	if (s == NULL)
		return;
	pthread_mutex_lock(&s->lock);
	*applies = s->applies;
	*removes = s->removes;
	pthread_mutex_unlock(&s->lock);
}

int executor_sim_running(struct executor *ex, const char *app, int64_t *version, char *hash,
                         size_t hash_size, size_t *n_env)
{
	struct exec_sim *s = sim_of(ex);
	struct sim_app *a;
	int err = 0;

	if (s == NULL || app == NULL)
		return ovr_err_set(OVR_ERR_INVALID, "not a simulated executor");
	pthread_mutex_lock(&s->lock);
	a = sim_find(s, app);
	if (a == NULL) {
		err = ovr_err_set(OVR_ERR_NOT_FOUND, "app %s is not running", app);
	} else {
		*version = a->version;
		ovr_strlcpy(hash, a->hash, hash_size);
		*n_env = a->n_env;
	}
	pthread_mutex_unlock(&s->lock);
	return err;
}
