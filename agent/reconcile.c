/*
 * The agent's reconciler: a worker thread turns Sync and Remove messages into executor applies and
 * removes and keeps the applied-state record; a reporter thread builds the full status reports;
 * both leave reports in an outbox that the session drains.
 */
#include "reconcile.h"

#include "applied.h"
#include "arena.h"
#include "crypto.h"
#include "err.h"
#include "followup.h"
#include "log.h"
#include "metrics.h"
#include "report.h"
#include "routes.h"
#include "rpc.h"
#include "strutil.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A full report bigger than this goes without container details (the stream's limit is 4 MiB). */
#define REPORT_MAX_BYTES (RPC_MAX_MESSAGE - 64 * 1024)
/* Full reports rebuilt when the state changed while the containers were being read. */
#define REPORT_ATTEMPTS     3
#define REFUSED_MESSAGE_MAX 256
#define STR_(x)             #x
#define STR(x)              STR_(x)

#define PHASE_UNSPECIFIED OVERSEER__V1__NODE_DEPLOYMENT_STATE__NODE_DEPLOYMENT_STATE_UNSPECIFIED
#define PHASE_APPLYING    OVERSEER__V1__NODE_DEPLOYMENT_STATE__NODE_DEPLOYMENT_STATE_APPLYING
#define PHASE_RUNNING     OVERSEER__V1__NODE_DEPLOYMENT_STATE__NODE_DEPLOYMENT_STATE_RUNNING
#define PHASE_HEALTHY     OVERSEER__V1__NODE_DEPLOYMENT_STATE__NODE_DEPLOYMENT_STATE_HEALTHY
#define PHASE_FAILED      OVERSEER__V1__NODE_DEPLOYMENT_STATE__NODE_DEPLOYMENT_STATE_FAILED

/* A desired app refused before it could be recorded (a bad name or version): reported only. */
struct refused {
	char app[APPLIED_NAME_MAX];
	char deployment_id[APPLIED_ID_MAX];
	char message[REFUSED_MESSAGE_MAX];
};

/* The apply in progress, reported as APPLYING. */
struct inflight {
	char app[APPLIED_NAME_MAX]; /* "" if none */
	char deployment_id[APPLIED_ID_MAX];
	int64_t version;
};

struct reconciler {
	char *state_dir;
	struct executor *ex;

	/* Queue, outbox and thread control; never held while running the executor. */
	pthread_mutex_t lock;
	pthread_cond_t work_cond;
	pthread_cond_t report_cond;
	Overseer__V1__ServerMessage *queue[RECONCILE_MAX_QUEUE];
	size_t n_queue;
	Overseer__V1__StatusReport *outbox[RECONCILE_MAX_OUTBOX];
	size_t n_outbox;
	int report_wanted;
	int64_t report_at; /* monotonic ms of a follow-up report (0: none) */
	int stopping;
	int started;
	pthread_t worker;
	pthread_t reporter;

	/*
	 * The record and what reports are made of. Only the worker changes them, always under
	 * rec_lock, and saves the record before letting go, so no report acknowledges an unsaved
	 * change. Taken before lock when both are needed.
	 */
	pthread_mutex_t rec_lock;
	struct applied rec;
	struct inflight inflight;
	struct refused *refused;
	size_t n_refused;
	uint64_t seq; /* bumped on every change, so the reporter can tell its snapshot is stale */
	struct followups *followups; /* reports at the end of health windows */
};

/* ---- messages ---- */

/* Frees a server message, wiping environment values first: they may be secrets. */
static void msg_free(Overseer__V1__ServerMessage *msg)
{
	size_t i, k;

	if (msg == NULL)
		return;
	if (msg->msg_case == OVERSEER__V1__SERVER_MESSAGE__MSG_SYNC && msg->sync != NULL) {
		for (i = 0; i < msg->sync->n_apps; i++) {
			Overseer__V1__DesiredApp *d = msg->sync->apps[i];

			for (k = 0; d != NULL && k < d->n_environment; k++)
				if (d->environment[k]->value != NULL)
					crypto_wipe(d->environment[k]->value,
					            strlen(d->environment[k]->value));
		}
	}
	protobuf_c_message_free_unpacked(&msg->base, NULL);
}

static int is_sync(const Overseer__V1__ServerMessage *msg)
{
	return msg->msg_case == OVERSEER__V1__SERVER_MESSAGE__MSG_SYNC && msg->sync != NULL;
}

static int is_remove(const Overseer__V1__ServerMessage *msg)
{
	return msg->msg_case == OVERSEER__V1__SERVER_MESSAGE__MSG_REMOVE && msg->remove != NULL;
}

/* 1 if a Sync waits in the queue: the pass in progress is out of date. */
static int sync_queued(struct reconciler *r)
{
	size_t i;
	int found = 0;

	pthread_mutex_lock(&r->lock);
	for (i = 0; i < r->n_queue && !found; i++)
		found = is_sync(r->queue[i]);
	pthread_mutex_unlock(&r->lock);
	return found;
}

static int stopping(struct reconciler *r)
{
	int s;

	pthread_mutex_lock(&r->lock);
	s = r->stopping;
	pthread_mutex_unlock(&r->lock);
	return s;
}

/* The pass in progress should end before its next step. */
static int pass_interrupted(struct reconciler *r)
{
	if (stopping(r))
		return 1;
	if (sync_queued(r)) {
		log_info("a newer sync is queued: leaving the current pass");
		return 1;
	}
	return 0;
}

int reconcile_submit(struct reconciler *r, Overseer__V1__ServerMessage *msg)
{
	size_t i;
	int err = 0;

	if (msg == NULL)
		return 0;
	if (!is_sync(msg) && !is_remove(msg)) {
		log_debug("reconciler: ignoring server message %d", (int)msg->msg_case);
		msg_free(msg);
		return 0;
	}
	pthread_mutex_lock(&r->lock);
	/* The newest Sync is the complete desired set: an older one still queued is moot. */
	if (is_sync(msg)) {
		for (i = 0; i < r->n_queue; i++) {
			if (!is_sync(r->queue[i]))
				continue;
			msg_free(r->queue[i]);
			memmove(&r->queue[i], &r->queue[i + 1],
			        (r->n_queue - i - 1) * sizeof(r->queue[0]));
			r->n_queue--;
			i--;
		}
	}
	if (r->n_queue >= RECONCILE_MAX_QUEUE) {
		err = ovr_err_set(OVR_ERR_TOO_LARGE, "reconciler queue full (%d messages)",
		                  RECONCILE_MAX_QUEUE);
		msg_free(msg);
	} else {
		r->queue[r->n_queue++] = msg;
		pthread_cond_signal(&r->work_cond);
	}
	pthread_mutex_unlock(&r->lock);
	return err;
}

/* The oldest queued message, or NULL. Called with lock held. */
static Overseer__V1__ServerMessage *queue_pop(struct reconciler *r)
{
	Overseer__V1__ServerMessage *msg;

	if (r->n_queue == 0)
		return NULL;
	msg = r->queue[0];
	memmove(&r->queue[0], &r->queue[1], (r->n_queue - 1) * sizeof(r->queue[0]));
	r->n_queue--;
	return msg;
}

/* ---- reports ---- */

void reconcile_report_free(Overseer__V1__StatusReport *rep)
{
	report_free(rep);
}

/* Queues rep for the session, dropping the oldest when full. Called with lock held. */
static void outbox_push_locked(struct reconciler *r, Overseer__V1__StatusReport *rep)
{
	if (r->n_outbox == RECONCILE_MAX_OUTBOX) {
		/* The session is away or slow: the oldest is the least useful. */
		reconcile_report_free(r->outbox[0]);
		memmove(&r->outbox[0], &r->outbox[1], (r->n_outbox - 1) * sizeof(r->outbox[0]));
		r->n_outbox--;
	}
	r->outbox[r->n_outbox++] = rep;
}

static void outbox_push(struct reconciler *r, Overseer__V1__StatusReport *rep)
{
	pthread_mutex_lock(&r->lock);
	outbox_push_locked(r, rep);
	pthread_mutex_unlock(&r->lock);
}

Overseer__V1__StatusReport *reconcile_take_report(struct reconciler *r)
{
	Overseer__V1__StatusReport *rep = NULL;

	pthread_mutex_lock(&r->lock);
	if (r->n_outbox > 0) {
		rep = r->outbox[0];
		memmove(&r->outbox[0], &r->outbox[1], (r->n_outbox - 1) * sizeof(r->outbox[0]));
		r->n_outbox--;
	}
	pthread_mutex_unlock(&r->lock);
	return rep;
}

void reconcile_drop_reports(struct reconciler *r)
{
	size_t i;

	pthread_mutex_lock(&r->lock);
	for (i = 0; i < r->n_outbox; i++)
		reconcile_report_free(r->outbox[i]);
	r->n_outbox = 0;
	pthread_mutex_unlock(&r->lock);
}

void reconcile_request_report(struct reconciler *r)
{
	pthread_mutex_lock(&r->lock);
	r->report_wanted = 1;
	pthread_cond_signal(&r->report_cond);
	pthread_mutex_unlock(&r->lock);
}

/* ---- phase ---- */

static int container_failing(const struct executor_container *c)
{
	return strcmp(c->state, "restarting") == 0 || strcmp(c->state, "dead") == 0 ||
	       (strcmp(c->state, "exited") == 0 && c->exit_code != 0) ||
	       strcmp(c->health, "unhealthy") == 0;
}

/* "service web (container shop-web-1)" into buf. */
static void container_who(char *buf, size_t size, const struct executor_container *c)
{
	if (c->service[0] != '\0')
		snprintf(buf, size, "service %s (container %s)", c->service, c->name);
	else
		snprintf(buf, size, "container %s", c->name);
}

/*
 * Why c fails, in one line: exit code and restarts for a container that stopped, the last health
 * check's exit code and output for an unhealthy one. At most ~1 KiB: who (<= 512) and the
 * health output (< EXECUTOR_HEALTH_OUTPUT_MAX) are bounded.
 */
static void describe_failing(char *msg, size_t size, const struct executor_container *c,
                             size_t n_more)
{
	char who[512], more[64] = "", restarts[48] = "";
	char check[EXECUTOR_HEALTH_OUTPUT_MAX + 64] = "";

	container_who(who, sizeof(who), c);
	if (n_more > 0)
		snprintf(more, sizeof(more), " (and %zu more failing)", n_more);
	if (c->restart_count > 0)
		snprintf(restarts, sizeof(restarts), ", %d restarts", (int)c->restart_count);
	if (c->has_health_log)
		snprintf(check, sizeof(check), ": last health check (exit %d)%s%s",
		         (int)c->health_exit_code, c->health_output[0] != '\0' ? ": " : "",
		         c->health_output);
	if (strcmp(c->state, "restarting") == 0)
		snprintf(msg, size, "%s is restarting: exit code %d, %d restarts%s", who,
		         (int)c->exit_code, (int)c->restart_count, more);
	else if (strcmp(c->state, "dead") == 0)
		snprintf(msg, size, "%s is dead%s", who, more);
	else if (strcmp(c->state, "exited") == 0 && c->exit_code != 0)
		snprintf(msg, size, "%s exited with code %d%s%s", who, (int)c->exit_code, restarts,
		         more);
	else
		snprintf(msg, size, "%s is unhealthy%s%s", who, more, check); /* output last */
}

/* The phase and its text (into msg, which holds EXECUTOR_MESSAGE_MAX bytes). */
static Overseer__V1__NodeDeploymentState phase_of(char *msg, int apply_ok,
                                                  const char *apply_message,
                                                  const struct executor_container *c, size_t n)
{
	const struct executor_container *bad = NULL, *created = NULL, *starting = NULL;
	const struct executor_container *other = NULL;
	char who[512];
	size_t i, n_bad = 0;

	if (!apply_ok) {
		ovr_strlcpy(msg,
		            apply_message != NULL && apply_message[0] != '\0' ? apply_message
		                                                              : "apply failed",
		            EXECUTOR_MESSAGE_MAX);
		return PHASE_FAILED;
	}
	if (c == NULL || n == 0) {
		ovr_strlcpy(msg, "no containers", EXECUTOR_MESSAGE_MAX);
		return PHASE_FAILED;
	}
	for (i = 0; i < n; i++) {
		if (container_failing(&c[i])) {
			bad = bad != NULL ? bad : &c[i];
			n_bad++;
		} else if (strcmp(c[i].state, "created") == 0) {
			created = created != NULL ? created : &c[i];
		} else if (strcmp(c[i].state, "running") == 0) {
			if (strcmp(c[i].health, "starting") == 0 && starting == NULL)
				starting = &c[i];
		} else if (strcmp(c[i].state, "exited") != 0 && other == NULL) {
			other = &c[i]; /* paused, removing, ...: not failed, not healthy either */
		}
	}
	if (bad != NULL) {
		describe_failing(msg, EXECUTOR_MESSAGE_MAX, bad, n_bad - 1);
		return PHASE_FAILED;
	}
	if (created != NULL) {
		container_who(who, sizeof(who), created);
		snprintf(msg, EXECUTOR_MESSAGE_MAX, "%s is created but not started", who);
		return PHASE_APPLYING;
	}
	if (starting != NULL) {
		container_who(who, sizeof(who), starting);
		snprintf(msg, EXECUTOR_MESSAGE_MAX, "%s: health check starting", who);
		return PHASE_RUNNING;
	}
	if (other != NULL) {
		container_who(who, sizeof(who), other);
		snprintf(msg, EXECUTOR_MESSAGE_MAX, "%s is %s", who, other->state);
		return PHASE_RUNNING;
	}
	return PHASE_HEALTHY;
}

Overseer__V1__NodeDeploymentState reconcile_phase(char *msg, size_t msg_size, int apply_ok,
                                                  const char *apply_message,
                                                  const struct executor_container *c, size_t n)
{
	char text[EXECUTOR_MESSAGE_MAX] = "";
	Overseer__V1__NodeDeploymentState phase = phase_of(text, apply_ok, apply_message, c, n);

	if (msg_size > 0)
		ovr_strlcpy(msg, text, msg_size);
	return phase;
}

int reconcile_needs_start(const struct executor_container *c, size_t n)
{
	size_t i;

	if (c == NULL || n == 0)
		return 1;
	for (i = 0; i < n; i++)
		if (strcmp(c[i].state, "created") == 0 || strcmp(c[i].state, "dead") == 0 ||
		    (strcmp(c[i].state, "exited") == 0 && c[i].exit_code != 0))
			return 1;
	return 0;
}

/* ---- full reports ---- */

/* What a full report is made of, copied under rec_lock. */
struct snapshot {
	struct applied rec;
	struct inflight inflight;
	struct refused *refused;
	size_t n_refused;
	uint64_t seq;
};

static void snapshot_free(struct snapshot *s)
{
	applied_free(&s->rec);
	free(s->refused);
	memset(s, 0, sizeof(*s));
}

static int snapshot_take(struct snapshot *s, struct reconciler *r)
{
	int err;

	memset(s, 0, sizeof(*s));
	pthread_mutex_lock(&r->rec_lock);
	err = applied_copy(&s->rec, &r->rec);
	s->inflight = r->inflight;
	s->seq = r->seq;
	if (err == 0 && r->n_refused > 0) {
		s->refused = malloc(r->n_refused * sizeof(*s->refused));
		if (s->refused == NULL) {
			err = ovr_err_set(OVR_ERR_NOMEM, "out of memory");
		} else {
			memcpy(s->refused, r->refused, r->n_refused * sizeof(*s->refused));
			s->n_refused = r->n_refused;
		}
	}
	pthread_mutex_unlock(&r->rec_lock);
	if (err)
		snapshot_free(s);
	return err;
}

/* A report at due (monotonic ms; 0: none), unless an earlier one is planned. */
static void schedule_followup(struct reconciler *r, int64_t due)
{
	if (due == 0)
		return;
	pthread_mutex_lock(&r->lock);
	if (r->report_at == 0 || due < r->report_at) {
		r->report_at = due;
		pthread_cond_signal(&r->report_cond);
	}
	pthread_mutex_unlock(&r->lock);
}

/*
 * One app of a full report: the record's entry (NULL for an apply in flight of a new app) and
 * what the engine shows now.
 */
static Overseer__V1__AppReport *full_app_report(struct reconciler *r, const struct snapshot *s,
                                                const char *app, const struct applied_app *e)
{
	Overseer__V1__NodeDeploymentState phase;
	Overseer__V1__AppReport *ar;
	struct executor_status st;
	char msg[APPLIED_MESSAGE_MAX];
	const char *deployment_id = e != NULL ? e->deployment_id : "";
	int err;

	err = executor_status(r->ex, app, &st);
	if (strcmp(s->inflight.app, app) == 0) {
		phase = PHASE_APPLYING;
		snprintf(msg, sizeof(msg), "applying version %" PRId64, s->inflight.version);
		deployment_id = s->inflight.deployment_id;
	} else if (err != 0) {
		phase = PHASE_FAILED;
		snprintf(msg, sizeof(msg), "container status: %s", ovr_err_msg(err));
	} else if (e == NULL) {
		phase = PHASE_UNSPECIFIED;
		msg[0] = '\0';
	} else {
		phase = reconcile_phase(msg, sizeof(msg), e->ok, e->message, st.containers,
		                        st.n_containers);
	}
	schedule_followup(r, followups_note(r->followups, app, deployment_id,
	                                    phase == PHASE_HEALTHY, ovr_mono_ms()));
	ar = report_app_new(app, e != NULL ? e->running_version : 0,
	                    e != NULL ? e->running_hash : "", deployment_id, s->rec.generation,
	                    phase, msg);
	if (ar != NULL && err == 0 && report_app_set_containers(ar, &st) != 0) {
		protobuf_c_message_free_unpacked(&ar->base, NULL);
		ar = NULL;
	}
	executor_status_free(&st);
	return ar;
}

static Overseer__V1__StatusReport *full_report_build(struct reconciler *r, struct snapshot *s)
{
	Overseer__V1__StatusReport *rep = report_new(1);
	size_t i, max = s->rec.n_apps + s->n_refused + 1;
	int err = 0;

	if (rep == NULL)
		return NULL;
	for (i = 0; i < s->rec.n_apps && err == 0; i++)
		err = report_add(rep, full_app_report(r, s, s->rec.apps[i].name, &s->rec.apps[i]),
		                 max);
	if (err == 0 && s->inflight.app[0] != '\0' &&
	    applied_find(&s->rec, s->inflight.app) == NULL)
		err = report_add(rep, full_app_report(r, s, s->inflight.app, NULL), max);
	for (i = 0; i < s->n_refused && err == 0; i++)
		err = report_add(rep,
		                 report_app_new(s->refused[i].app, 0, "",
		                                s->refused[i].deployment_id, s->rec.generation,
		                                PHASE_FAILED, s->refused[i].message),
		                 max);
	if (err) {
		reconcile_report_free(rep);
		return NULL;
	}
	report_fit(rep, REPORT_MAX_BYTES);
	return rep;
}

/*
 * Builds a full report and queues it. The containers are read without the record's lock (the
 * engine may take seconds); if the worker changed the state meanwhile, the report could say less
 * than one already queued, so it is built again, a few times at most.
 */
static void report_full(struct reconciler *r)
{
	Overseer__V1__StatusReport *rep;
	struct snapshot s;
	int attempt, queued = 0;

	for (attempt = 1; attempt <= REPORT_ATTEMPTS && !queued; attempt++) {
		if (snapshot_take(&s, r) != 0) {
			log_warnx("status report: %s", ovr_err_msg(ovr_err_last()));
			return;
		}
		rep = full_report_build(r, &s);
		if (rep == NULL) {
			log_warnx("status report: out of memory");
			snapshot_free(&s);
			return;
		}
		pthread_mutex_lock(&r->rec_lock);
		if (r->seq == s.seq || attempt == REPORT_ATTEMPTS) {
			outbox_push(r, rep);
			queued = 1;
		}
		pthread_mutex_unlock(&r->rec_lock);
		if (!queued)
			reconcile_report_free(rep);
		snapshot_free(&s);
	}
}

/* ---- the record ---- */

/* Saves the record; called with rec_lock held, after a change and before anyone reports it. */
static void record_save_locked(struct reconciler *r)
{
	int err = applied_save(&r->rec, r->state_dir);

	/* Memory stays authoritative; the next change writes the file again. */
	if (err)
		log_error("applied state not saved: %s", ovr_err_msg(err));
	r->seq++;
	agent_metrics_apps_recorded(&r->rec); /* metrics */
}

/* Takes on a generation (never lower than the record's). */
static void record_generation(struct reconciler *r, int64_t generation)
{
	pthread_mutex_lock(&r->rec_lock);
	if (generation > r->rec.generation) {
		r->rec.generation = generation;
		record_save_locked(r);
	}
	pthread_mutex_unlock(&r->rec_lock);
}

/* Records an attempt's entry, ends the in-flight apply if any and saves. */
static void record_put(struct reconciler *r, const struct applied_app *e)
{
	int err;

	pthread_mutex_lock(&r->rec_lock);
	err = applied_put(&r->rec, e);
	if (err)
		log_error("app=%s not recorded: %s", e->name, ovr_err_msg(err));
	memset(&r->inflight, 0, sizeof(r->inflight));
	record_save_locked(r);
	pthread_mutex_unlock(&r->rec_lock);
}

static void record_drop(struct reconciler *r, const char *app)
{
	pthread_mutex_lock(&r->rec_lock);
	applied_drop(&r->rec, app);
	record_save_locked(r);
	pthread_mutex_unlock(&r->rec_lock);
	followups_forget(r->followups, app);
}

/* Reports a desired app that cannot even be recorded, until the next Sync. */
static void refuse_unrecorded(struct reconciler *r, const Overseer__V1__DesiredApp *d,
                              const char *why)
{
	struct refused *nr, *x;

	log_warnx("refusing desired app '%.64s': %s", d->app != NULL ? d->app : "", why);
	pthread_mutex_lock(&r->rec_lock);
	nr = realloc(r->refused, (r->n_refused + 1) * sizeof(*nr));
	if (nr != NULL) {
		r->refused = nr;
		x = &r->refused[r->n_refused++];
		memset(x, 0, sizeof(*x));
		/* Only the first bytes of what the server sent: it is not a valid name. */
		applied_utf8_copy(x->app, sizeof(x->app), d->app);
		applied_utf8_copy(x->deployment_id, sizeof(x->deployment_id), d->deployment_id);
		ovr_strlcpy(x->message, why, sizeof(x->message));
		r->seq++;
	}
	pthread_mutex_unlock(&r->rec_lock);
}

static void refused_clear(struct reconciler *r)
{
	pthread_mutex_lock(&r->rec_lock);
	free(r->refused);
	r->refused = NULL;
	r->n_refused = 0;
	r->seq++;
	pthread_mutex_unlock(&r->rec_lock);
}

/* The entry a new attempt at d starts from: the app's current one, or a fresh one. */
static void attempt_entry(struct applied_app *e, const struct applied_app *cur,
                          const Overseer__V1__DesiredApp *d)
{
	if (cur != NULL)
		*e = *cur;
	else
		memset(e, 0, sizeof(*e));
	ovr_strlcpy(e->name, d->app, sizeof(e->name));
	e->version = d->version;
	ovr_strlcpy(e->content_hash, d->content_hash, sizeof(e->content_hash));
	ovr_strlcpy(e->deployment_id, d->deployment_id, sizeof(e->deployment_id));
	e->message[0] = '\0';
}

/* ---- applying ---- */

/* Why d cannot be recorded at all, or NULL. */
static const char *unrecordable(const Overseer__V1__DesiredApp *d)
{
	if (d->app == NULL || !ovr_name_valid(d->app))
		return "app name must match ^[a-z][a-z0-9-]{0,62}$";
	if (d->version <= 0)
		return "version must be positive";
	if (d->content_hash == NULL || strlen(d->content_hash) >= APPLIED_HASH_MAX)
		return "content hash longer than 128 bytes";
	if (d->deployment_id == NULL || strlen(d->deployment_id) >= APPLIED_ID_MAX)
		return "deployment id longer than 128 bytes";
	return NULL;
}

/* Why d is refused (recorded as a failed attempt), or NULL. */
static const char *over_limits(const Overseer__V1__DesiredApp *d)
{
	if (d->compose_yaml == NULL || d->compose_yaml[0] == '\0')
		return "no compose file";
	if (strlen(d->compose_yaml) > RECONCILE_MAX_COMPOSE)
		return "compose file larger than 1 MiB";
	if (d->n_environment > EXECUTOR_MAX_ENV)
		return "more than " STR(EXECUTOR_MAX_ENV) " environment entries";
	if (d->n_secret_keys > EXECUTOR_MAX_ENV)
		return "more than " STR(EXECUTOR_MAX_ENV) " secret keys";
	if (d->n_routes > ROUTES_MAX)
		return "more than " STR(ROUTES_MAX) " routes";
	return NULL;
}

/* Tells the server at once that an apply starts, and marks it in flight for full reports. */
static void apply_begin(struct reconciler *r, const Overseer__V1__DesiredApp *d,
                        const struct applied_app *cur)
{
	Overseer__V1__StatusReport *rep = report_new(0);
	char msg[64];

	snprintf(msg, sizeof(msg), "applying version %" PRId64, d->version);
	pthread_mutex_lock(&r->rec_lock);
	ovr_strlcpy(r->inflight.app, d->app, sizeof(r->inflight.app));
	ovr_strlcpy(r->inflight.deployment_id, d->deployment_id, sizeof(r->inflight.deployment_id));
	r->inflight.version = d->version;
	r->seq++;
	if (rep != NULL &&
	    report_add(rep,
	               report_app_new(d->app, cur != NULL ? cur->running_version : 0,
	                              cur != NULL ? cur->running_hash : "", d->deployment_id,
	                              r->rec.generation, PHASE_APPLYING, msg),
	               1) == 0) {
		outbox_push(r, rep);
		rep = NULL;
	}
	pthread_mutex_unlock(&r->rec_lock);
	reconcile_report_free(rep);
}

/*
 * d's routes as per-service labels for the executor, allocated from a. 0, or the error with the
 * record's message in msg ("invalid route from the server: routes[0].host: ..."): the server
 * checks routes at deploy, so only a server that did not (or a bug) gets there.
 */
static int route_labels(struct executor_label **out, size_t *n_out, struct arena *a,
                        const Overseer__V1__DesiredApp *d, char *msg, size_t msg_size)
{
	struct route_label *rl;
	size_t i, n;
	int err;

	*out = NULL;
	*n_out = 0;
	err = routes_labels(&rl, &n, a, d->app, (const Overseer__V1__Route *const *)d->routes,
	                    d->n_routes);
	if (err != 0) {
		snprintf(msg, msg_size, "invalid route from the server: %s", ovr_err_msg(err));
		return err;
	}
	if (n > EXECUTOR_MAX_SVC_LABELS) {
		snprintf(msg, msg_size, "routes make more than %d labels", EXECUTOR_MAX_SVC_LABELS);
		return OVR_ERR_TOO_LARGE;
	}
	if (n > 0)
		*out = arena_calloc(a, n, sizeof(**out));
	for (i = 0; i < n; i++) {
		(*out)[i].service = rl[i].service;
		(*out)[i].key = rl[i].key;
		(*out)[i].value = rl[i].value;
	}
	*n_out = n;
	return 0;
}

static void apply_app(struct reconciler *r, const Overseer__V1__DesiredApp *d,
                      const struct applied_app *cur)
{
	struct executor_kv *env = NULL;
	struct executor_label *labels = NULL;
	struct executor_app app;
	struct executor_result res;
	struct applied_app e;
	struct arena a = {0};
	size_t i, n_labels = 0;
	int err;

	attempt_entry(&e, cur, d);
	if (route_labels(&labels, &n_labels, &a, d, e.message, sizeof(e.message)) != 0) {
		log_warnx("refusing app=%s version=%" PRId64 " deployment=%s: %s", d->app,
		          d->version, d->deployment_id, e.message);
		e.ok = 0;
		record_put(r, &e);
		arena_free(&a);
		return;
	}
	if (d->n_environment > 0) {
		env = calloc(d->n_environment, sizeof(*env));
		if (env == NULL) {
			e.ok = 0;
			ovr_strlcpy(e.message, "out of memory", sizeof(e.message));
			record_put(r, &e);
			arena_free(&a);
			return;
		}
	}
	/* Borrowed from the message, which is wiped when freed. */
	for (i = 0; i < d->n_environment; i++) {
		env[i].key = d->environment[i]->key;
		env[i].value = d->environment[i]->value;
	}
	memset(&app, 0, sizeof(app));
	app.name = d->app;
	app.version = d->version;
	app.content_hash = d->content_hash;
	app.compose_yaml = d->compose_yaml;
	app.compose_len = strlen(d->compose_yaml);
	app.env = env;
	app.n_env = d->n_environment;
	app.service_labels = labels;
	app.n_service_labels = n_labels;
	app.secret_keys = (const char *const *)d->secret_keys;
	app.n_secret_keys = d->n_secret_keys;

	apply_begin(r, d, cur);
	log_info("apply app=%s version=%" PRId64 " deployment=%s", d->app, d->version,
	         d->deployment_id);
	err = executor_apply(r->ex, &app, &res);
	e.ok = err == 0 && res.ok;
	agent_metrics_compose_apply(e.ok); /* metrics */
	if (e.ok) {
		e.running_version = d->version;
		ovr_strlcpy(e.running_hash, d->content_hash, sizeof(e.running_hash));
		e.purge_pending = 0;
		log_info("applied app=%s version=%" PRId64 " ms=%" PRId64, d->app, d->version,
		         res.elapsed_ms);
	} else {
		ovr_strlcpy(e.message, res.message[0] != '\0' ? res.message : ovr_err_msg(err),
		            sizeof(e.message));
		log_warnx("apply failed app=%s version=%" PRId64 " deployment=%s: %s", d->app,
		          d->version, d->deployment_id, e.message);
	}
	record_put(r, &e);
	free(env);
	arena_free(&a);
}

/* 1 if cur already runs d's content with every container up: nothing to apply. */
static int already_running(struct reconciler *r, const Overseer__V1__DesiredApp *d,
                           const struct applied_app *cur)
{
	struct executor_status st;
	int err, running;

	if (cur == NULL || !cur->ok || cur->version != d->version ||
	    strcmp(cur->content_hash, d->content_hash) != 0)
		return 0;
	err = executor_status(r->ex, d->app, &st);
	if (err) {
		/*
		 * The engine cannot say: an apply would fail the same way and be recorded as a
		 * failure that is never retried. The next Sync looks again.
		 */
		log_warnx("app=%s: container status unavailable, not re-applying: %s", d->app,
		          ovr_err_msg(err));
		return 1;
	}
	running = !reconcile_needs_start(st.containers, st.n_containers);
	executor_status_free(&st);
	return running;
}

/* One desired app: apply it unless it already runs or already failed for this deployment. */
static void reconcile_app(struct reconciler *r, const Overseer__V1__DesiredApp *d)
{
	struct applied_app cur_copy, e;
	const struct applied_app *cur = NULL;
	const char *why;

	why = unrecordable(d);
	if (why != NULL) {
		refuse_unrecorded(r, d, why);
		return;
	}
	/* Only this thread changes the record: a copy read without the lock stays true. */
	if (applied_find(&r->rec, d->app) != NULL) {
		cur_copy = *applied_find(&r->rec, d->app);
		cur = &cur_copy;
	}
	if (cur == NULL && r->rec.n_apps >= APPLIED_MAX_APPS) {
		/* Only when removals failed: the Sync itself holds at most this many. */
		refuse_unrecorded(r, d, "more than " STR(APPLIED_MAX_APPS) " apps on this node");
		return;
	}
	if (cur != NULL && !cur->ok && strcmp(cur->deployment_id, d->deployment_id) == 0 &&
	    strcmp(cur->content_hash, d->content_hash) == 0) {
		log_info("app=%s deployment=%s failed before: not retried", d->app,
		         d->deployment_id);
		return;
	}
	if (already_running(r, d, cur)) {
		/* A new deployment of what already runs is done: reports name it from now on. */
		if (strcmp(cur->deployment_id, d->deployment_id) != 0) {
			e = *cur;
			ovr_strlcpy(e.deployment_id, d->deployment_id, sizeof(e.deployment_id));
			record_put(r, &e);
		}
		log_info("app=%s version=%" PRId64 " already runs: nothing to apply", d->app,
		         d->version);
		return;
	}
	why = over_limits(d);
	if (why != NULL) {
		log_warnx("refusing app=%s version=%" PRId64 " deployment=%s: %s", d->app,
		          d->version, d->deployment_id, why);
		attempt_entry(&e, cur, d);
		e.ok = 0;
		ovr_strlcpy(e.message, why, sizeof(e.message));
		record_put(r, &e);
		return;
	}
	apply_app(r, d, cur);
}

/*
 * Stops and removes app; on success its entry goes, on failure the entry says so (with the
 * deployment that asked) and the next Sync that lacks the app tries again.
 */
static void remove_app(struct reconciler *r, const char *app, int purge, const char *deployment_id)
{
	struct executor_result res;
	struct applied_app e;
	const struct applied_app *cur = applied_find(&r->rec, app);
	size_t len;
	int err;

	log_info("remove app=%s purge_volumes=%d deployment=%s", app, purge, deployment_id);
	err = executor_remove(r->ex, app, purge, &res);
	if (err == 0 && res.ok) {
		record_drop(r, app);
		log_info("removed app=%s", app);
		return;
	}
	if (cur != NULL) {
		e = *cur;
	} else {
		memset(&e, 0, sizeof(e));
		ovr_strlcpy(e.name, app, sizeof(e.name));
	}
	ovr_strlcpy(e.deployment_id, deployment_id, sizeof(e.deployment_id));
	e.ok = 0;
	e.purge_pending = e.purge_pending || purge;
	/* Cut to fit: applied_put turns a character cut in two into '?'. */
	len = ovr_strlcpy(e.message, "remove failed: ", sizeof(e.message));
	ovr_strlcpy(e.message + len, res.message[0] != '\0' ? res.message : ovr_err_msg(err),
	            sizeof(e.message) - len);
	log_warnx("remove failed app=%s: %s", app, e.message);
	record_put(r, &e);
}

/* 1 if sync lists app. */
static int sync_has(const Overseer__V1__Sync *sync, const char *app)
{
	size_t i;

	for (i = 0; i < sync->n_apps; i++)
		if (sync->apps[i]->app != NULL && strcmp(sync->apps[i]->app, app) == 0)
			return 1;
	return 0;
}

/* Removes the recorded apps that sync no longer lists. */
static void remove_undesired(struct reconciler *r, const Overseer__V1__Sync *sync)
{
	char(*names)[APPLIED_NAME_MAX];
	size_t i, n = r->rec.n_apps;

	if (n == 0)
		return;
	/* Names first: each removal changes the record under the loop. */
	names = malloc(n * sizeof(*names));
	if (names == NULL) {
		log_warnx("sync: out of memory, undesired apps not removed");
		return;
	}
	for (i = 0; i < n; i++)
		memcpy(names[i], r->rec.apps[i].name, sizeof(names[i]));
	for (i = 0; i < n; i++) {
		const struct applied_app *cur;

		if (sync_has(sync, names[i]))
			continue;
		if (pass_interrupted(r))
			break;
		cur = applied_find(&r->rec, names[i]);
		if (cur != NULL)
			remove_app(r, names[i], cur->purge_pending, cur->deployment_id);
	}
	free(names);
}

/* 1 if an earlier entry of sync has the same app name. */
static int duplicate_before(const Overseer__V1__Sync *sync, size_t i)
{
	size_t k;

	for (k = 0; k < i; k++)
		if (sync->apps[k]->app != NULL && sync->apps[i]->app != NULL &&
		    strcmp(sync->apps[k]->app, sync->apps[i]->app) == 0)
			return 1;
	return 0;
}

static void handle_sync(struct reconciler *r, const Overseer__V1__Sync *sync)
{
	size_t i;

	if (sync->generation < r->rec.generation) {
		log_info("ignoring sync generation=%" PRId64 ": applied generation is %" PRId64,
		         sync->generation, r->rec.generation);
		return;
	}
	if (sync->n_apps > APPLIED_MAX_APPS) {
		log_warnx("ignoring sync generation=%" PRId64 ": %zu apps, at most %d on a node",
		          sync->generation, sync->n_apps, APPLIED_MAX_APPS);
		return;
	}
	log_info("sync generation=%" PRId64 " apps=%zu", sync->generation, sync->n_apps);
	for (i = 0; i < sync->n_apps; i++)
		followups_expect(r->followups, sync->apps[i]->app, sync->apps[i]->deployment_id,
		                 sync->apps[i]->health ? sync->apps[i]->health->min_healthy_time_ms
		                                       : 0);
	refused_clear(r);
	record_generation(r, sync->generation);
	/* Removals first: they free ports and names the new apps may want. */
	remove_undesired(r, sync);
	for (i = 0; i < sync->n_apps; i++) {
		if (pass_interrupted(r))
			return;
		if (duplicate_before(sync, i)) {
			log_warnx("sync lists app '%.64s' twice: the first is used",
			          sync->apps[i]->app);
			continue;
		}
		reconcile_app(r, sync->apps[i]);
	}
}

static void handle_remove(struct reconciler *r, const Overseer__V1__Remove *rm)
{
	char deployment_id[APPLIED_ID_MAX];

	if (rm->generation < r->rec.generation) {
		log_info("ignoring remove app=%.64s generation=%" PRId64
		         ": applied generation is %" PRId64,
		         rm->app != NULL ? rm->app : "", rm->generation, r->rec.generation);
		return;
	}
	if (rm->app == NULL || !ovr_name_valid(rm->app)) {
		log_warnx("ignoring remove of an invalid app name '%.64s'",
		          rm->app != NULL ? rm->app : "");
		return;
	}
	applied_utf8_copy(deployment_id, sizeof(deployment_id), rm->deployment_id);
	record_generation(r, rm->generation);
	remove_app(r, rm->app, rm->purge_volumes, deployment_id);
}

static void handle(struct reconciler *r, const Overseer__V1__ServerMessage *msg)
{
	if (is_sync(msg))
		handle_sync(r, msg->sync);
	else if (is_remove(msg))
		handle_remove(r, msg->remove);
}

/* ---- threads ---- */

static void *worker_main(void *arg)
{
	struct reconciler *r = arg;
	Overseer__V1__ServerMessage *msg;

	pthread_mutex_lock(&r->lock);
	for (;;) {
		while (!r->stopping && r->n_queue == 0)
			pthread_cond_wait(&r->work_cond, &r->lock);
		if (r->stopping)
			break;
		msg = queue_pop(r);
		pthread_mutex_unlock(&r->lock);
		handle(r, msg);
		msg_free(msg);
		/* Every pass ends with a full report, even one that changed nothing. */
		reconcile_request_report(r);
		pthread_mutex_lock(&r->lock);
	}
	pthread_mutex_unlock(&r->lock);
	return NULL;
}

static void *reporter_main(void *arg)
{
	struct reconciler *r = arg;

	pthread_mutex_lock(&r->lock);
	for (;;) {
		while (!r->stopping && !r->report_wanted) {
			int64_t now = ovr_mono_ms();
			struct timespec ts;

			if (r->report_at == 0) {
				pthread_cond_wait(&r->report_cond, &r->lock);
				continue;
			}
			if (now >= r->report_at) {
				r->report_at = 0; /* a follow-up is due */
				r->report_wanted = 1;
				break;
			}
			ts = ovr_timespec_in(CLOCK_REALTIME, r->report_at - now);
			pthread_cond_timedwait(&r->report_cond, &r->lock, &ts);
		}
		if (r->stopping)
			break;
		r->report_wanted = 0;
		pthread_mutex_unlock(&r->lock);
		report_full(r);
		pthread_mutex_lock(&r->lock);
	}
	pthread_mutex_unlock(&r->lock);
	return NULL;
}

void reconcile_run_pending(struct reconciler *r)
{
	Overseer__V1__ServerMessage *msg;
	int want;

	for (;;) {
		pthread_mutex_lock(&r->lock);
		msg = queue_pop(r);
		pthread_mutex_unlock(&r->lock);
		if (msg == NULL)
			break;
		handle(r, msg);
		msg_free(msg);
		reconcile_request_report(r);
	}
	pthread_mutex_lock(&r->lock);
	want = r->report_wanted;
	r->report_wanted = 0;
	pthread_mutex_unlock(&r->lock);
	if (want)
		report_full(r);
}

int reconcile_start(struct reconciler *r)
{
	int rc;

	if (r->started)
		return 0;
	rc = pthread_create(&r->worker, NULL, worker_main, r);
	if (rc != 0)
		return ovr_err_set(OVR_ERR_INTERNAL, "reconciler thread: %s", strerror(rc));
	rc = pthread_create(&r->reporter, NULL, reporter_main, r);
	if (rc != 0) {
		pthread_mutex_lock(&r->lock);
		r->stopping = 1;
		pthread_cond_broadcast(&r->work_cond);
		pthread_mutex_unlock(&r->lock);
		pthread_join(r->worker, NULL);
		return ovr_err_set(OVR_ERR_INTERNAL, "reporter thread: %s", strerror(rc));
	}
	r->started = 1;
	return 0;
}

void reconcile_stop(struct reconciler *r)
{
	if (r == NULL)
		return;
	pthread_mutex_lock(&r->lock);
	r->stopping = 1;
	pthread_cond_broadcast(&r->work_cond);
	pthread_cond_broadcast(&r->report_cond);
	pthread_mutex_unlock(&r->lock);
	if (!r->started)
		return;
	pthread_join(r->worker, NULL);
	pthread_join(r->reporter, NULL);
	r->started = 0;
}

int64_t reconcile_generation(struct reconciler *r)
{
	int64_t g;

	pthread_mutex_lock(&r->rec_lock);
	g = r->rec.generation;
	pthread_mutex_unlock(&r->rec_lock);
	return g;
}

int reconcile_new(struct reconciler **out, const struct reconcile_opts *opts)
{
	struct reconciler *r;
	int err;

	*out = NULL;
	if (opts->state_dir == NULL || opts->ex == NULL || opts->ex->ops == NULL)
		return ovr_err_set(OVR_ERR_INVALID,
		                   "reconciler: a state directory and an executor");
	r = calloc(1, sizeof(*r));
	if (r == NULL)
		return ovr_err_set(OVR_ERR_NOMEM, "out of memory");
	r->state_dir = strdup(opts->state_dir);
	if (r->state_dir == NULL) {
		free(r);
		return ovr_err_set(OVR_ERR_NOMEM, "out of memory");
	}
	r->ex = opts->ex;
	pthread_mutex_init(&r->lock, NULL);
	pthread_mutex_init(&r->rec_lock, NULL);
	pthread_cond_init(&r->work_cond, NULL);
	pthread_cond_init(&r->report_cond, NULL);
	r->followups = followups_new();
	err = r->followups ? applied_load(&r->rec, r->state_dir)
	                   : ovr_err_set(OVR_ERR_NOMEM, "out of memory");
	if (err) {
		reconcile_free(r);
		return err;
	}
	log_info("applied state: generation=%" PRId64 " apps=%zu", r->rec.generation,
	         r->rec.n_apps);
	agent_metrics_apps_recorded(&r->rec); /* metrics */
	*out = r;
	return 0;
}

void reconcile_free(struct reconciler *r)
{
	size_t i;

	if (r == NULL)
		return;
	reconcile_stop(r);
	for (i = 0; i < r->n_queue; i++)
		msg_free(r->queue[i]);
	for (i = 0; i < r->n_outbox; i++)
		reconcile_report_free(r->outbox[i]);
	applied_free(&r->rec);
	followups_free(r->followups);
	free(r->refused);
	free(r->state_dir);
	pthread_cond_destroy(&r->work_cond);
	pthread_cond_destroy(&r->report_cond);
	pthread_mutex_destroy(&r->rec_lock);
	pthread_mutex_destroy(&r->lock);
	free(r);
}
