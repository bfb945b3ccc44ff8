/*
 * WatchDeployment. Deployments change in PostgreSQL (agents' reports, the orchestrator, maybe on
 * another replica), so a watch reads the database rather than hooking into this process: open
 * sends the deployment as it is, then one watcher thread with its own connection reads every open
 * watch's deployment each tick and sends what changed, until the deployment is over.
 *
 * Ownership: an open watch holds one reference on its call (w->call); whoever detaches it first
 * (the transport's closed callback, or the watcher ending the watch) returns that reference. Only
 * the watcher thread frees watch records, so it can read them without holding the lock; it takes
 * a reference of its own on a call only while it sends, never while it waits for the database.
 */
#include "svc_watch.h"

#include "db.h"
#include "db_deploy.h"
#include "err.h"
#include "log.h"
#include "overseer/v1/apps.pb-c.h"
#include "server.h"
#include "strutil.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define WATCH_ID_MAX 64
/* How long svc_watch_stop waits for the thread (it may be inside a query). */
#define WATCH_STOP_WAIT_MS 3000

#define IN_PROGRESS OVERSEER__V1__DEPLOYMENT_STATE__DEPLOYMENT_STATE_IN_PROGRESS

struct watch {
	struct watch *next;    /* the list, under watcher.mu */
	struct rpc_call *call; /* under watcher.mu; NULL once detached */
	char id[WATCH_ID_MAX + 1];
	char who[128];            /* the caller's identity, for the log */
	int64_t opened_ms;        /* ovr_mono_ms() */
	int64_t failing_since_ms; /* first failed read of a run of them; 0: the last one worked */
	struct arena arena;       /* holds last */
	Overseer__V1__Deployment *last; /* what the client has seen */
};

static struct {
	pthread_once_t once;
	pthread_mutex_t mu;
	pthread_cond_t cond; /* CLOCK_MONOTONIC */
	pthread_t thread;
	int started; /* the thread was created (and not joined) */
	int exited;  /* the thread returned */
	int stopping;
	struct watch *head;
	size_t n_open; /* watches holding a call, and slots reserved by opens in progress */
	struct db *db; /* the thread's own */
	int db_down;   /* an outage was logged */
} watcher = {.once = PTHREAD_ONCE_INIT};

static void watcher_init(void)
{
	pthread_condattr_t ca;

	pthread_mutex_init(&watcher.mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&watcher.cond, &ca);
	pthread_condattr_destroy(&ca);
}

/* Waits on watcher.cond (under watcher.mu) for at most ms. */
static void cond_wait_ms(int64_t ms)
{
	struct timespec ts = ovr_timespec_in(CLOCK_MONOTONIC, ms);

	pthread_cond_timedwait(&watcher.cond, &watcher.mu, &ts);
}

/* Under watcher.mu: the watch lets go of its call. Returns the reference it held, or NULL. */
static struct rpc_call *detach_locked(struct watch *w)
{
	struct rpc_call *c = w->call;

	if (!c)
		return NULL;
	rpc_call_set_data(c, NULL);
	w->call = NULL;
	watcher.n_open--;
	return c;
}

static void watch_free(struct watch *w)
{
	if (!w)
		return;
	arena_free(&w->arena);
	free(w);
}

/* ------------------------------------------------------------------ reading and sending */

/* The deployment with its nodes as of one snapshot (db_deploy_get reads them in two queries). */
static int read_deployment(struct db *db, struct arena *a, const char *id,
                           Overseer__V1__Deployment **out)
{
	int err = db_exec(db, "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY", 0, NULL);

	if (err)
		return err;
	err = db_deploy_get(db, a, id, out);
	if (err) {
		db_rollback(db);
		return err;
	}
	return db_commit(db);
}

static int send_event(struct rpc_call *call, Overseer__V1__Deployment *d, const char *node,
                      int done)
{
	Overseer__V1__DeploymentEvent ev = OVERSEER__V1__DEPLOYMENT_EVENT__INIT;

	ev.deployment = d;
	ev.node = (char *)(uintptr_t)node;
	ev.done = done ? 1 : 0;
	return rpc_call_send(call, &ev.base);
}

static int node_cmp(const void *x, const void *y)
{
	const Overseer__V1__NodeDeployment *const *a = x;
	const Overseer__V1__NodeDeployment *const *b = y;

	return strcmp((*a)->node, (*b)->node);
}

/* d's nodes sorted by name, byte order (the database sorts by its collation). */
static Overseer__V1__NodeDeployment **sorted_nodes(struct arena *a,
                                                   const Overseer__V1__Deployment *d)
{
	Overseer__V1__NodeDeployment **s = arena_calloc(a, d->n_nodes + 1, sizeof(*s));

	if (d->n_nodes) {
		memcpy(s, d->nodes, d->n_nodes * sizeof(*s));
		qsort(s, d->n_nodes, sizeof(*s), node_cmp);
	}
	return s;
}

/*
 * The nodes whose state or message differ between prev and cur, those that appeared and those
 * that are gone, in name order, into *names (arena). Returns how many.
 */
static size_t changed_nodes(struct arena *a, const Overseer__V1__Deployment *prev,
                            const Overseer__V1__Deployment *cur, const char ***names)
{
	Overseer__V1__NodeDeployment **p = sorted_nodes(a, prev), **c = sorted_nodes(a, cur);
	const char **out = arena_calloc(a, prev->n_nodes + cur->n_nodes + 1, sizeof(*out));
	size_t i = 0, j = 0, n = 0;

	while (i < prev->n_nodes || j < cur->n_nodes) {
		int cmp = i >= prev->n_nodes  ? 1
		          : j >= cur->n_nodes ? -1
		                              : strcmp(p[i]->node, c[j]->node);

		if (cmp < 0) {
			out[n++] = p[i++]->node;
		} else if (cmp > 0) {
			out[n++] = c[j++]->node;
		} else {
			if (p[i]->state != c[j]->state || strcmp(p[i]->message, c[j]->message) != 0)
				out[n++] = c[j]->node;
			i++;
			j++;
		}
	}
	*names = out;
	return n;
}

/*
 * Sends what changed since w->last: an event per changed node, then one for the whole
 * deployment when its state or reason changed, which is the last (done) once it is over. Returns
 * 1 after the done event, 0, or the error of a send.
 */
static int send_changes(struct watch *w, struct rpc_call *call, struct arena *a,
                        Overseer__V1__Deployment *d)
{
	const char **names;
	size_t n = changed_nodes(a, w->last, d, &names), i;
	int done = d->state != IN_PROGRESS;
	int overall = d->state != w->last->state || strcmp(d->reason, w->last->reason) != 0;
	int err = 0;

	/* A tick that moved many nodes at once: one event carrying them all. */
	if (n > WATCH_NODE_EVENTS_MAX) {
		n = 0;
		overall = 1;
	}
	for (i = 0; i < n && !err; i++)
		err = send_event(call, d, names[i], 0);
	if (!err && (overall || done))
		err = send_event(call, d, "", done);
	if (err)
		return err;
	return done;
}

/* ------------------------------------------------------------------ the watcher thread */

/* Ends w's call with a status (after what is queued) and lets go of it. */
static void watch_end(struct watch *w, struct rpc_call *call, int err, const char *msg)
{
	struct rpc_call *held;

	rpc_call_finish(call, err, msg);
	pthread_mutex_lock(&watcher.mu);
	held = detach_locked(w);
	pthread_mutex_unlock(&watcher.mu);
	if (held)
		rpc_call_unref(held);
	if (err)
		log_debug("deployment watch ended deployment=%s by=%s: %s", w->id, w->who, msg);
	else
		log_debug("deployment watch ended deployment=%s by=%s", w->id, w->who);
}

/* A send failed: the client went away (nothing to say) or cannot keep up. */
static void watch_send_failed(struct watch *w, struct rpc_call *call, int err)
{
	char msg[512];

	if (err == OVR_ERR_CANCELLED) {
		watch_end(w, call, err, "stream is closed");
		return;
	}
	if (err == OVR_ERR_UNAVAILABLE)
		snprintf(msg, sizeof(msg),
		         "the client does not read the stream fast enough; watch again");
	else
		snprintf(msg, sizeof(msg), "%s", ovr_err_msg(err));
	watch_end(w, call, OVR_ERR_TOO_LARGE, msg);
}

/* The connection for this tick: 0, or the error (an outage is logged once). */
static int watcher_db(void)
{
	int err;

	if (!watcher.db)
		err = db_open(&watcher.db, server_get()->conninfo);
	else
		err = db_reconnect_if_broken(watcher.db);
	if (err && !watcher.db_down) {
		log_warnx("deployment watches: database unavailable: %s", ovr_err_msg(err));
		watcher.db_down = 1;
	} else if (!err && watcher.db_down) {
		log_info("deployment watches: database reachable again");
		watcher.db_down = 0;
	}
	return err;
}

/* One watch, one tick: read its deployment and send what changed. dberr: the tick's outage. */
static void watch_poll(struct watch *w, int dberr)
{
	struct arena a = {0};
	Overseer__V1__Deployment *d = NULL;
	struct rpc_call *call;
	char msg[512];
	int64_t now;
	int err;

	err = dberr ? dberr : read_deployment(watcher.db, &a, w->id, &d);
	if (err)
		snprintf(msg, sizeof(msg), "%s", ovr_err_msg(err));
	now = ovr_mono_ms();

	pthread_mutex_lock(&watcher.mu);
	call = w->call;
	if (call)
		rpc_call_ref(call);
	pthread_mutex_unlock(&watcher.mu);
	/* Detached, or the client left: its closed callback lets go of it. */
	if (!call || rpc_call_cancelled(call))
		goto out;

	if (err) {
		if (!w->failing_since_ms)
			w->failing_since_ms = now;
		if (err == OVR_ERR_NOT_FOUND) {
			watch_end(w, call, err, msg);
		} else if (now - w->failing_since_ms >= WATCH_DB_GRACE_MS) {
			log_warnx("deployment watch of %s ends: %s", w->id, msg);
			watch_end(w, call, OVR_ERR_UNAVAILABLE,
			          "database unavailable, retry later");
		}
		goto out;
	}
	w->failing_since_ms = 0;
	err = send_changes(w, call, &a, d);
	if (err < 0) {
		watch_send_failed(w, call, err);
	} else if (err == 1) {
		watch_end(w, call, 0, NULL);
	} else if (now - w->opened_ms >= WATCH_MAX_MS) {
		char limit[32];

		ovr_format_duration(limit, sizeof(limit), WATCH_MAX_MS);
		snprintf(msg, sizeof(msg),
		         "deployment '%s' is still in progress after watching it for %s; watch "
		         "again to follow it further",
		         w->id, limit);
		watch_end(w, call, OVR_ERR_TIMEOUT, msg);
	} else {
		/* What the client has seen now. */
		arena_free(&w->arena);
		w->arena = a;
		w->last = d;
		memset(&a, 0, sizeof(a)); /* w owns it now */
	}
out:
	if (call)
		rpc_call_unref(call);
	arena_free(&a);
}

static void *watcher_main(void *arg)
{
	struct watch *ws[WATCH_MAX];
	int64_t next = ovr_mono_ms() + WATCH_TICK_MS;

	(void)arg;
	pthread_mutex_lock(&watcher.mu);
	while (!watcher.stopping) {
		struct watch **pp;
		int64_t now = ovr_mono_ms();
		size_t n = 0, i;
		int dberr;

		if (!watcher.head) {
			/* Nothing to watch: sleep until a watch opens or the server stops. */
			pthread_cond_wait(&watcher.cond, &watcher.mu);
			next = ovr_mono_ms() + WATCH_TICK_MS;
			continue;
		}
		if (now < next) {
			cond_wait_ms(next - now);
			continue;
		}
		next = now + WATCH_TICK_MS;
		/* Free the detached; take the others for this tick. */
		for (pp = &watcher.head; *pp;) {
			struct watch *w = *pp;

			if (!w->call) {
				*pp = w->next;
				watch_free(w);
				continue;
			}
			if (n < WATCH_MAX)
				ws[n++] = w;
			pp = &w->next;
		}
		if (n == 0)
			continue;
		pthread_mutex_unlock(&watcher.mu);
		dberr = watcher_db();
		for (i = 0; i < n; i++)
			watch_poll(ws[i], dberr);
		pthread_mutex_lock(&watcher.mu);
	}
	watcher.exited = 1;
	pthread_cond_broadcast(&watcher.cond);
	pthread_mutex_unlock(&watcher.mu);
	return NULL;
}

/* Stops the thread; 1 when it is gone (then the list and connection are ours). Unlocked. */
static int watcher_join(void)
{
	int64_t deadline = ovr_mono_ms() + WATCH_STOP_WAIT_MS;
	int gone;

	pthread_mutex_lock(&watcher.mu);
	watcher.stopping = 1;
	pthread_cond_broadcast(&watcher.cond);
	if (!watcher.started) {
		pthread_mutex_unlock(&watcher.mu);
		return 1;
	}
	while (!watcher.exited && ovr_mono_ms() < deadline)
		cond_wait_ms(deadline - ovr_mono_ms());
	gone = watcher.exited;
	pthread_mutex_unlock(&watcher.mu);
	if (!gone) {
		log_warnx("deployment watches: the watcher thread is still busy; leaving it");
		return 0;
	}
	pthread_join(watcher.thread, NULL);
	watcher.started = 0;
	return 1;
}

/*
 * At exit the transports are gone: their closed callbacks have detached every watch, and a
 * watch still holding a call (a bug) is left alone rather than touched after its server.
 */
static void watcher_atexit(void)
{
	struct watch **pp;

	if (!watcher_join())
		return;
	pthread_mutex_lock(&watcher.mu);
	for (pp = &watcher.head; *pp;) {
		struct watch *w = *pp;

		if (w->call) {
			log_warnx("deployment watch of %s still open at exit", w->id);
			pp = &w->next;
			continue;
		}
		*pp = w->next;
		watch_free(w);
	}
	pthread_mutex_unlock(&watcher.mu);
	db_close(watcher.db);
	watcher.db = NULL;
}

void svc_watch_stop(void)
{
	struct watch *w, *list;

	pthread_once(&watcher.once, watcher_init);
	if (!watcher_join())
		return;
	pthread_mutex_lock(&watcher.mu);
	list = watcher.head;
	watcher.head = NULL;
	pthread_mutex_unlock(&watcher.mu);
	while ((w = list)) {
		struct rpc_call *call;

		list = w->next;
		pthread_mutex_lock(&watcher.mu);
		call = detach_locked(w);
		pthread_mutex_unlock(&watcher.mu);
		if (call) {
			rpc_call_finish(call, OVR_ERR_UNAVAILABLE, "server shutting down");
			rpc_call_unref(call);
		}
		watch_free(w);
	}
	db_close(watcher.db);
	watcher.db = NULL;
}

/* Under watcher.mu: a slot for one more watch, starting the thread on first use. */
static int reserve_locked(void)
{
	static int atexit_done;

	if (watcher.stopping)
		return ovr_err_set(OVR_ERR_UNAVAILABLE, "server shutting down");
	if (watcher.n_open >= WATCH_MAX)
		return ovr_err_set(OVR_ERR_TOO_LARGE,
		                   "too many deployment watches on this server (%d); retry later "
		                   "or poll GetDeployment",
		                   WATCH_MAX);
	if (!watcher.started) {
		watcher.exited = 0;
		if (pthread_create(&watcher.thread, NULL, watcher_main, NULL) != 0)
			return ovr_err_set(OVR_ERR_INTERNAL, "cannot start the watcher thread");
		watcher.started = 1;
		if (!atexit_done && atexit(watcher_atexit) == 0)
			atexit_done = 1;
	}
	watcher.n_open++;
	return 0;
}

/* ------------------------------------------------------------------ the stream */

static int watch_open(struct rpc_call *call, const void *req_)
{
	const Overseer__V1__WatchDeploymentRequest *req = req_;
	const struct rpc_identity *id = rpc_call_identity(call);
	Overseer__V1__Deployment *d = NULL;
	struct watch *w;
	int reserved = 0, err;

	if (!req->id[0])
		return ovr_err_set(OVR_ERR_INVALID, "id: a deployment id is required");
	if (strlen(req->id) > WATCH_ID_MAX)
		return ovr_err_set(OVR_ERR_INVALID, "id: at most %d bytes", WATCH_ID_MAX);
	pthread_once(&watcher.once, watcher_init);
	w = calloc(1, sizeof(*w));
	if (!w)
		return ovr_err_set(OVR_ERR_NOMEM, "out of memory");
	ovr_strlcpy(w->id, req->id, sizeof(w->id));
	ovr_strlcpy(w->who, id->name[0] ? id->name : rpc_call_peer(call), sizeof(w->who));
	w->opened_ms = ovr_mono_ms();
	err = read_deployment(server_db(), &w->arena, w->id, &d);
	if (err)
		goto fail;
	pthread_mutex_lock(&watcher.mu);
	err = reserve_locked();
	pthread_mutex_unlock(&watcher.mu);
	if (err)
		goto fail;
	reserved = 1;
	/* Sent before the watcher can see the watch, so it is always the first event. */
	err = send_event(call, d, "", 0);
	if (err)
		goto fail;
	if (d->state != IN_PROGRESS) {
		err = send_event(call, d, "", 1);
		if (err)
			goto fail;
		rpc_call_finish(call, 0, NULL);
		goto fail; /* nothing to watch: give the slot back, err is 0 */
	}
	w->last = d;
	pthread_mutex_lock(&watcher.mu);
	if (watcher.stopping) {
		err = ovr_err_set(OVR_ERR_UNAVAILABLE, "server shutting down");
	} else {
		rpc_call_ref(call);
		w->call = call;
		rpc_call_set_data(call, w);
		w->next = watcher.head;
		watcher.head = w;
		w = NULL;
		reserved = 0;
		pthread_cond_broadcast(&watcher.cond);
	}
	pthread_mutex_unlock(&watcher.mu);
	if (!err)
		log_debug("deployment watch opened deployment=%s by=%s", req->id, id->name);
fail:
	if (reserved) {
		pthread_mutex_lock(&watcher.mu);
		watcher.n_open--;
		pthread_mutex_unlock(&watcher.mu);
	}
	watch_free(w);
	return err;
}

static void watch_closed(struct rpc_call *call, int cancelled)
{
	struct rpc_call *held = NULL;
	struct watch *w;

	pthread_mutex_lock(&watcher.mu);
	w = rpc_call_data(call);
	if (w) {
		held = detach_locked(w);
		log_debug("deployment watch closed deployment=%s by=%s%s", w->id, w->who,
		          cancelled ? " (cancelled)" : "");
	}
	pthread_mutex_unlock(&watcher.mu);
	if (held)
		rpc_call_unref(held);
}

const struct rpc_stream_ops svc_watch_ops = {
        .open = watch_open,
        .message = NULL,
        .closed = watch_closed,
};
