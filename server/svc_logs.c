/*
 * StreamLogs. open picks the app's nodes, sends each connected agent a LogRequest over its
 * Connect stream, and registers the stream; the agents' LogChunks (svc_agent.c) land in the
 * stream's bounded buffer, tagged with the node; one sender thread moves buffered lines to the
 * transports, ends streams whose parts are all over, notices REST clients that left (a suspended
 * REST stream only says so when asked) and agents that never answered.
 *
 * Nothing here waits on a caller: agent chunks only append to buffers (or count drops) under
 * logs.mu, and the sender never blocks either: a transport whose queue is full is tried again a
 * little later while the buffer fills and then drops.
 *
 * Ownership: an open stream holds one reference on its call (s->call); whoever detaches it first
 * (the transport's closed callback, the sender ending it, the server stopping) returns that
 * reference and tells the agents still reading to stop. Only the sender thread frees stream
 * records, so it can read a stream's fixed fields without the lock.
 */
#include "svc_logs.h"

#include "crypto.h"
#include "db_app.h"
#include "db_deploy.h"
#include "db_node.h"
#include "err.h"
#include "hub.h"
#include "log.h"
#include "overseer/v1/apps.pb-c.h"
#include "server.h"
#include "strutil.h"
#include "svc_nodes.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define LOGS_ID_BYTES     16   /* request ids: 32 hex digits */
#define LOGS_SEND_BATCH   64   /* lines one stream sends before the next one's turn */
#define LOGS_RETRY_MS     20   /* a transport whose queue was full is tried again after this */
#define LOGS_STOP_WAIT_MS 3000 /* for the sender thread at stop */
#define LOGS_NAME_MAX     255  /* bytes of a service or container name from an agent */
#define LOGS_SERVICE_MAX  127

/* One buffered line; its strings live in data. */
struct log_item {
	struct log_item *next;
	const char *node;   /* the part's name, which lives as long as the stream */
	const char *stream; /* static */
	char *service;
	char *container;
	char *line;
	int64_t unix_ms;
	int64_t dropped; /* lines dropped just before this one */
	size_t size;
	char data[];
};

/* One node's part of a stream. */
struct log_part {
	char id[64];
	char name[64];
	const struct rpc_call *agent; /* the agent stream that answered; compared, never used */
	int open;                     /* lines may still come */
	int asked;                    /* the request went out: the agent must answer in time */
};

struct log_stream {
	struct log_stream *next; /* the list, under logs.mu */
	struct rpc_call *call;   /* under logs.mu; NULL once detached */
	char id[2 * LOGS_ID_BYTES + 1];
	char app[64];
	char who[128];
	int follow;
	int opening;       /* open is still asking the agents: the sender leaves it alone */
	int64_t opened_ms; /* ovr_mono_ms() */
	struct log_part *parts;
	size_t n_parts, n_open;
	/* The buffer, under logs.mu. */
	struct log_item *head, *tail;
	size_t n_items, n_bytes;
	int64_t dropped; /* since the last line buffered */
	int64_t dropped_total, sent;
	int64_t retry_ms; /* the transport's queue was full: not before this (sender only) */
};

/* What ending a stream leaves to do outside the lock. */
struct closing {
	struct rpc_call *call; /* the stream's reference */
	char id[2 * LOGS_ID_BYTES + 1];
	char app[64];
	char who[128];
	char (*nodes)[64]; /* agents still reading, to be told to stop */
	size_t n_nodes;
	int64_t sent, dropped;
};

static struct {
	pthread_once_t once;
	pthread_mutex_t mu;
	pthread_cond_t cond; /* CLOCK_MONOTONIC */
	pthread_t thread;
	int started; /* the thread was created (and not joined) */
	int exited;  /* the thread returned */
	int stopping;
	int wake; /* something to send since the sender last looked */
	struct log_stream *head;
	size_t n_open; /* streams holding a call */
} logs = {.once = PTHREAD_ONCE_INIT};

static void logs_init(void)
{
	pthread_condattr_t ca;

	pthread_mutex_init(&logs.mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&logs.cond, &ca);
	pthread_condattr_destroy(&ca);
}

/* ------------------------------------------------------------------ the buffer */

static void items_free(struct log_item *it)
{
	while (it != NULL) {
		struct log_item *next = it->next;

		free(it);
		it = next;
	}
}

static void stream_free(struct log_stream *s)
{
	if (s == NULL)
		return;
	items_free(s->head);
	free(s->parts);
	free(s);
}

/* Copies src into *p and moves *p past it. */
static char *put(char **p, const char *src, size_t len)
{
	char *at = *p;

	memcpy(at, src, len);
	at[len] = '\0';
	*p += len + 1;
	return at;
}

/*
 * Under logs.mu: buffers a line, or counts it as dropped when the buffer is full (force: markers
 * always go in; there are a few per node at most). It carries the drops before it.
 */
static void buffer_add_locked(struct log_stream *s, const char *node, const char *stream,
                              const char *service, const char *container, const char *line,
                              int64_t unix_ms, int force)
{
	size_t ls = strlen(service), lc = strlen(container), ll = strlen(line);
	size_t size = sizeof(struct log_item) + ls + lc + ll + 3;
	struct log_item *it = NULL;
	char *p;

	if (force ||
	    (s->n_items < SVC_LOGS_BUFFER_LINES && s->n_bytes + size <= SVC_LOGS_BUFFER_BYTES))
		it = malloc(size);
	if (it == NULL) {
		s->dropped++;
		s->dropped_total++;
		return;
	}
	p = it->data;
	it->next = NULL;
	it->node = node;
	it->stream = stream;
	it->service = put(&p, service, ls);
	it->container = put(&p, container, lc);
	it->line = put(&p, line, ll);
	it->unix_ms = unix_ms;
	it->dropped = s->dropped;
	it->size = size;
	s->dropped = 0;
	if (s->tail != NULL)
		s->tail->next = it;
	else
		s->head = it;
	s->tail = it;
	s->n_items++;
	s->n_bytes += size;
	logs.wake = 1;
}

/* Under logs.mu: a "system" line of the server about node (or the whole stream, node ""). */
static void note_locked(struct log_stream *s, const char *node, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
static void note_locked(struct log_stream *s, const char *node, const char *fmt, ...)
{
	char text[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	buffer_add_locked(s, node, "system", "", "", text, ovr_now_ms(), 1);
}

/* Under logs.mu: p's part is over; why (if not NULL) is said in a marker line. */
static void part_end_locked(struct log_stream *s, struct log_part *p, const char *why)
{
	if (!p->open)
		return;
	p->open = 0;
	s->n_open--;
	if (why != NULL)
		note_locked(s, p->name, "node %s%s", p->name, why);
}

/* Under logs.mu: pops up to max items (the caller's now; n_items and n_bytes give them up). */
static struct log_item *buffer_take_locked(struct log_stream *s, size_t max)
{
	struct log_item *first = s->head, *last = NULL, *it = s->head;
	size_t n = 0;

	while (it != NULL && n < max) {
		s->n_items--;
		s->n_bytes -= it->size;
		last = it;
		it = it->next;
		n++;
	}
	if (last == NULL)
		return NULL;
	s->head = it;
	if (it == NULL)
		s->tail = NULL;
	last->next = NULL;
	return first;
}

/* Under logs.mu: items (taken with buffer_take_locked, not sent) go back in front. */
static void buffer_return_locked(struct log_stream *s, struct log_item *items)
{
	struct log_item *last = items;

	if (items == NULL)
		return;
	for (;;) {
		s->n_items++;
		s->n_bytes += last->size;
		if (last->next == NULL)
			break;
		last = last->next;
	}
	last->next = s->head;
	s->head = items;
	if (s->tail == NULL)
		s->tail = last;
}

/* ------------------------------------------------------------------ ending streams */

static void send_cancel(struct rpc_call *agent, const char *node_id, const char *request_id)
{
	Overseer__V1__ServerMessage msg = OVERSEER__V1__SERVER_MESSAGE__INIT;
	Overseer__V1__LogRequest lr = OVERSEER__V1__LOG_REQUEST__INIT;

	lr.request_id = (char *)(uintptr_t)request_id;
	lr.cancel = 1;
	msg.msg_case = OVERSEER__V1__SERVER_MESSAGE__MSG_LOGS;
	msg.logs = &lr;
	/* Best effort: an agent that misses it is told again when its next chunk comes. */
	if (agent != NULL)
		rpc_call_send(agent, &msg.base);
	else
		hub_send(node_id, &msg.base);
}

/*
 * Under logs.mu: detaches s, noting in cl what is left to do (close_finish). 0 if another path
 * detached it first.
 */
static int close_locked(struct log_stream *s, struct closing *cl)
{
	size_t i;

	memset(cl, 0, sizeof(*cl));
	if (s->call == NULL)
		return 0;
	cl->call = s->call;
	rpc_call_set_data(s->call, NULL);
	s->call = NULL;
	logs.n_open--;
	memcpy(cl->id, s->id, sizeof(cl->id));
	memcpy(cl->app, s->app, sizeof(cl->app));
	memcpy(cl->who, s->who, sizeof(cl->who));
	cl->sent = s->sent;
	cl->dropped = s->dropped_total;
	cl->nodes = calloc(s->n_parts ? s->n_parts : 1, sizeof(*cl->nodes));
	for (i = 0; i < s->n_parts; i++) {
		struct log_part *p = &s->parts[i];

		if (p->open && p->asked && cl->nodes != NULL)
			memcpy(cl->nodes[cl->n_nodes++], p->id, sizeof(p->id));
		p->open = 0;
	}
	s->n_open = 0;
	items_free(s->head);
	s->head = s->tail = NULL;
	s->n_items = s->n_bytes = 0;
	return 1;
}

/* Outside the lock: ends the call (finish: with err), tells the agents, lets go of the call. */
static void close_finish(struct closing *cl, int finish, int err, const char *msg)
{
	size_t i;

	if (cl->call == NULL)
		return;
	if (finish)
		rpc_call_finish(cl->call, err, msg);
	for (i = 0; i < cl->n_nodes; i++)
		send_cancel(NULL, cl->nodes[i], cl->id);
	log_debug("log stream ended app=%s by=%s lines=%lld dropped=%lld agents_stopped=%zu",
	          cl->app, cl->who, (long long)cl->sent, (long long)cl->dropped, cl->n_nodes);
	free(cl->nodes);
	rpc_call_unref(cl->call);
	memset(cl, 0, sizeof(*cl));
}

static void stream_close(struct log_stream *s, int finish, int err, const char *msg)
{
	struct closing cl;

	pthread_mutex_lock(&logs.mu);
	close_locked(s, &cl);
	pthread_mutex_unlock(&logs.mu);
	close_finish(&cl, finish, err, msg);
}

/* ------------------------------------------------------------------ the sender thread */

static int send_item(struct rpc_call *call, const struct log_item *it)
{
	Overseer__V1__LogLine l = OVERSEER__V1__LOG_LINE__INIT;

	l.node = (char *)(uintptr_t)it->node;
	l.service = it->service;
	l.container = it->container;
	l.stream = (char *)(uintptr_t)it->stream;
	l.line = it->line;
	l.unix_ms = it->unix_ms;
	l.dropped = it->dropped;
	return rpc_call_send(call, &l.base);
}

/* Under logs.mu: parts whose agent never answered end; a drop count with no line after it
 * gets one. */
static void check_parts_locked(struct log_stream *s, int64_t now)
{
	char why[128];
	size_t i;

	for (i = 0; i < s->n_parts; i++) {
		struct log_part *p = &s->parts[i];

		if (!p->open || !p->asked || p->agent != NULL ||
		    now - s->opened_ms < SVC_LOGS_ACK_MS)
			continue;
		snprintf(why, sizeof(why),
		         " did not answer the log request within %ds: no logs from it",
		         SVC_LOGS_ACK_MS / 1000);
		part_end_locked(s, p, why);
	}
	if (s->n_open == 0 && s->head == NULL && s->dropped > 0)
		note_locked(s, "", "lines were dropped: the client did not read fast enough");
}

/*
 * One turn of one stream: sends up to LOGS_SEND_BATCH lines and ends the stream once its parts
 * are over and everything is sent. 1 if it sent anything; *wait_ms shrinks to when it wants
 * its next turn.
 */
static int stream_pump(struct log_stream *s, int64_t *wait_ms)
{
	struct rpc_call *call;
	struct log_item *batch = NULL, *it;
	int64_t now = ovr_mono_ms();
	int done, sent = 0, err = 0;

	pthread_mutex_lock(&logs.mu);
	call = s->call;
	if (call == NULL || s->opening) {
		pthread_mutex_unlock(&logs.mu);
		return 0;
	}
	rpc_call_ref(call);
	check_parts_locked(s, now);
	if (now >= s->retry_ms)
		batch = buffer_take_locked(s, LOGS_SEND_BATCH);
	else if (s->retry_ms - now < *wait_ms)
		*wait_ms = s->retry_ms - now;
	done = s->n_open == 0 && s->head == NULL && s->retry_ms <= now;
	pthread_mutex_unlock(&logs.mu);

	if (rpc_call_cancelled(call)) {
		items_free(batch);
		stream_close(s, 0, 0, NULL);
		goto out;
	}
	while ((it = batch) != NULL) {
		err = send_item(call, it);
		if (err == OVR_ERR_UNAVAILABLE || err == OVR_ERR_CANCELLED)
			break;
		batch = it->next;
		if (err == 0) {
			sent++;
		} else {
			/* This one cannot be sent at all (not UTF-8 for JSON, ...): a drop. */
			int64_t lost = it->dropped + 1;

			pthread_mutex_lock(&logs.mu);
			if (batch != NULL)
				batch->dropped += lost;
			else if (s->head != NULL)
				s->head->dropped += lost;
			else
				s->dropped += lost;
			s->dropped_total++;
			pthread_mutex_unlock(&logs.mu);
		}
		free(it);
	}
	pthread_mutex_lock(&logs.mu);
	s->sent += sent;
	if (err == OVR_ERR_UNAVAILABLE) {
		/* The client reads slowly: the rest waits here, where it can be dropped. */
		buffer_return_locked(s, batch);
		batch = NULL;
		s->retry_ms = now + LOGS_RETRY_MS;
		if (LOGS_RETRY_MS < *wait_ms)
			*wait_ms = LOGS_RETRY_MS;
		done = 0;
	}
	pthread_mutex_unlock(&logs.mu);
	items_free(batch);
	if (err == OVR_ERR_CANCELLED)
		stream_close(s, 0, 0, NULL);
	else if (done)
		stream_close(s, 1, 0, NULL);
out:
	rpc_call_unref(call);
	return sent > 0;
}

static void *sender_main(void *arg)
{
	struct log_stream *ws[SVC_LOGS_MAX];

	(void)arg;
	pthread_mutex_lock(&logs.mu);
	while (!logs.stopping) {
		struct log_stream **pp;
		int64_t wait_ms = SVC_LOGS_TICK_MS;
		size_t n = 0, i;
		int progress = 0;

		/* Free the detached; take the others for this turn. */
		for (pp = &logs.head; *pp != NULL;) {
			struct log_stream *s = *pp;

			if (s->call == NULL && !s->opening) {
				*pp = s->next;
				stream_free(s);
				continue;
			}
			if (n < SVC_LOGS_MAX)
				ws[n++] = s;
			pp = &s->next;
		}
		logs.wake = 0;
		pthread_mutex_unlock(&logs.mu);
		for (i = 0; i < n; i++)
			progress |= stream_pump(ws[i], &wait_ms);
		pthread_mutex_lock(&logs.mu);
		if (!progress && !logs.wake && !logs.stopping) {
			struct timespec ts = ovr_timespec_in(CLOCK_MONOTONIC, wait_ms);

			pthread_cond_timedwait(&logs.cond, &logs.mu, &ts);
		}
	}
	logs.exited = 1;
	pthread_cond_broadcast(&logs.cond);
	pthread_mutex_unlock(&logs.mu);
	return NULL;
}

/* Stops the thread; 1 when it is gone (then the list is ours). Unlocked. */
static int sender_join(void)
{
	int64_t deadline = ovr_mono_ms() + LOGS_STOP_WAIT_MS;
	int gone;

	pthread_mutex_lock(&logs.mu);
	logs.stopping = 1;
	pthread_cond_broadcast(&logs.cond);
	if (!logs.started) {
		pthread_mutex_unlock(&logs.mu);
		return 1;
	}
	while (!logs.exited && ovr_mono_ms() < deadline) {
		struct timespec ts = ovr_timespec_in(CLOCK_MONOTONIC, deadline - ovr_mono_ms());

		pthread_cond_timedwait(&logs.cond, &logs.mu, &ts);
	}
	gone = logs.exited;
	pthread_mutex_unlock(&logs.mu);
	if (!gone) {
		log_warnx("log streams: the sender thread is still busy; leaving it");
		return 0;
	}
	pthread_join(logs.thread, NULL);
	logs.started = 0;
	return 1;
}

/* At exit the transports are gone and their closed callbacks have detached every stream. */
static void sender_atexit(void)
{
	struct log_stream **pp;

	if (!sender_join())
		return;
	pthread_mutex_lock(&logs.mu);
	for (pp = &logs.head; *pp != NULL;) {
		struct log_stream *s = *pp;

		if (s->call != NULL) {
			log_warnx("log stream of %s still open at exit", s->app);
			pp = &s->next;
			continue;
		}
		*pp = s->next;
		stream_free(s);
	}
	pthread_mutex_unlock(&logs.mu);
}

void svc_logs_stop(void)
{
	struct closing *cls = NULL;
	struct log_stream *s;
	size_t n = 0, cap, i;

	pthread_once(&logs.once, logs_init);
	pthread_mutex_lock(&logs.mu);
	logs.stopping = 1;
	pthread_cond_broadcast(&logs.cond);
	cap = logs.n_open;
	if (cap > 0)
		cls = calloc(cap, sizeof(*cls));
	for (s = logs.head; s != NULL && cls != NULL && n < cap; s = s->next)
		n += (size_t)close_locked(s, &cls[n]);
	pthread_mutex_unlock(&logs.mu);
	for (i = 0; i < n; i++)
		close_finish(&cls[i], 1, OVR_ERR_UNAVAILABLE, "server shutting down");
	free(cls);
	if (!sender_join())
		return;
	pthread_mutex_lock(&logs.mu);
	while ((s = logs.head) != NULL && s->call == NULL && !s->opening) {
		logs.head = s->next;
		stream_free(s);
	}
	pthread_mutex_unlock(&logs.mu);
}

/* Under logs.mu: a slot for one more stream, starting the thread on first use. */
static int reserve_locked(void)
{
	static int atexit_done;

	if (logs.stopping)
		return ovr_err_set(OVR_ERR_UNAVAILABLE, "server shutting down");
	if (logs.n_open >= SVC_LOGS_MAX)
		return ovr_err_set(OVR_ERR_TOO_LARGE,
		                   "too many log streams on this server (%d); retry later",
		                   SVC_LOGS_MAX);
	if (!logs.started) {
		logs.exited = 0;
		if (pthread_create(&logs.thread, NULL, sender_main, NULL) != 0)
			return ovr_err_set(OVR_ERR_INTERNAL, "cannot start the log sender thread");
		logs.started = 1;
		if (!atexit_done && atexit(sender_atexit) == 0)
			atexit_done = 1;
	}
	logs.n_open++;
	return 0;
}

/* ------------------------------------------------------------------ agents */

/* Under logs.mu: the open stream with this request id, or NULL. */
static struct log_stream *find_locked(const char *request_id)
{
	struct log_stream *s;

	for (s = logs.head; s != NULL; s = s->next)
		if (s->call != NULL && strcmp(s->id, request_id) == 0)
			return s;
	return NULL;
}

static struct log_part *part_find(struct log_stream *s, const char *node_id)
{
	size_t i;

	for (i = 0; i < s->n_parts; i++)
		if (strcmp(s->parts[i].id, node_id) == 0)
			return &s->parts[i];
	return NULL;
}

/* "stdout", "stderr", "system" as static strings; NULL for anything else. */
static const char *stream_name(const char *s)
{
	static const char *const names[] = {"stdout", "stderr", "system"};
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(s, names[i]) == 0)
			return names[i];
	return NULL;
}

/* Under logs.mu: the agent's lines, checked (a line that does not pass is a drop). */
static void chunk_lines_locked(struct log_stream *s, struct log_part *p,
                               const Overseer__V1__LogChunk *c)
{
	size_t i;

	if (c->n_lines > SVC_LOGS_CHUNK_LINES_MAX) {
		s->dropped += (int64_t)c->n_lines;
		s->dropped_total += (int64_t)c->n_lines;
		return;
	}
	for (i = 0; i < c->n_lines; i++) {
		const Overseer__V1__LogLine *l = c->lines[i];
		const char *stream = stream_name(l->stream);

		if (stream == NULL || strlen(l->line) > SVC_LOGS_LINE_MAX ||
		    strlen(l->service) > LOGS_NAME_MAX || strlen(l->container) > LOGS_NAME_MAX) {
			s->dropped++;
			s->dropped_total++;
			continue;
		}
		/* The node is who sent it, whatever the agent wrote. */
		buffer_add_locked(s, p->name, stream, l->service, l->container, l->line, l->unix_ms,
		                  0);
	}
}

void svc_logs_agent_chunk(struct rpc_call *agent, const char *node_id,
                          const Overseer__V1__LogChunk *c)
{
	struct log_stream *s;
	struct log_part *p;
	char why[400];
	int stop_it;

	if (strlen(c->request_id) != 2 * LOGS_ID_BYTES)
		return;
	pthread_once(&logs.once, logs_init);
	pthread_mutex_lock(&logs.mu);
	s = find_locked(c->request_id);
	p = s != NULL ? part_find(s, node_id) : NULL;
	stop_it = (p == NULL || !p->open) && !c->end;
	if (p != NULL && p->open) {
		p->agent = agent;
		chunk_lines_locked(s, p, c);
		if (c->end && c->error[0]) {
			snprintf(why, sizeof(why), ": %.300s", c->error);
			part_end_locked(s, p, why);
		} else if (c->end) {
			part_end_locked(s, p, s->follow ? ": its containers' logs ended" : NULL);
		}
		pthread_cond_broadcast(&logs.cond);
	}
	pthread_mutex_unlock(&logs.mu);
	/* Nobody reads this request any more (the caller left, or the node was given up on). */
	if (stop_it)
		send_cancel(agent, node_id, c->request_id);
}

void svc_logs_agent_gone(struct rpc_call *agent, const char *node_id)
{
	int connected = hub_connected(node_id);
	struct log_stream *s;

	pthread_once(&logs.once, logs_init);
	pthread_mutex_lock(&logs.mu);
	for (s = logs.head; s != NULL; s = s->next) {
		struct log_part *p = s->call != NULL ? part_find(s, node_id) : NULL;

		/*
		 * Its part was answered on this stream, or asked while it was the node's only one:
		 * a request on a newer stream of the node goes on (or times out).
		 */
		if (p != NULL && p->open && (p->agent == agent || (p->agent == NULL && !connected)))
			part_end_locked(s, p, " disconnected: its logs end here");
	}
	pthread_cond_broadcast(&logs.cond);
	pthread_mutex_unlock(&logs.mu);
}

/* ------------------------------------------------------------------ the stream */

static int service_valid(const char *s)
{
	size_t i;

	for (i = 0; s[i] != '\0'; i++)
		if (i >= LOGS_SERVICE_MAX ||
		    !((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'z') ||
		      (s[i] >= 'A' && s[i] <= 'Z') || s[i] == '-' || s[i] == '_' || s[i] == '.'))
			return 0;
	return 1;
}

static int check_request(const Overseer__V1__StreamLogsRequest *req)
{
	if (!req->app[0])
		return ovr_err_set(OVR_ERR_INVALID, "app: an app name is required");
	if (!ovr_name_valid(req->app))
		return ovr_err_set(OVR_ERR_INVALID, "app: '%.80s' is not a valid app name",
		                   req->app);
	if (req->node[0] && !ovr_name_valid(req->node))
		return ovr_err_set(OVR_ERR_INVALID, "node: '%.80s' is not a valid node name",
		                   req->node);
	if (!service_valid(req->service))
		return ovr_err_set(OVR_ERR_INVALID,
		                   "service: '%.80s' is not a compose service name (letters, "
		                   "digits, '.', '_' and '-', at most %d)",
		                   req->service, LOGS_SERVICE_MAX);
	if (req->tail < 0)
		return ovr_err_set(OVR_ERR_INVALID, "tail: must not be negative (0: all lines)");
	if (req->since_unix_ms < 0)
		return ovr_err_set(OVR_ERR_INVALID, "since_unix_ms: must not be negative");
	return 0;
}

/*
 * The stream's parts: the app's nodes (those it targets and those that report it), or only
 * req->node. A node that never enrolled gets a part that is over from the start.
 */
static int stream_parts(struct log_stream *s, struct arena *a, const Overseer__V1__App *app,
                        const char *only)
{
	size_t i, n = 0;

	for (i = 0; i < app->n_nodes; i++)
		if (!only[0] || strcmp(app->nodes[i]->node, only) == 0)
			n++;
	if (only[0] && n == 0)
		return ovr_err_set(OVR_ERR_NOT_FOUND,
		                   "node %s: app %s neither targets nor runs on it", only,
		                   app->name);
	if (n > SVC_LOGS_NODES_MAX)
		return ovr_err_set(
		        OVR_ERR_TOO_LARGE,
		        "app %s runs on %zu nodes; logs are read from at most %d at once: "
		        "pick one with node",
		        app->name, n, SVC_LOGS_NODES_MAX);
	s->parts = calloc(n ? n : 1, sizeof(*s->parts));
	if (s->parts == NULL)
		return ovr_err_set(OVR_ERR_NOMEM, "out of memory");
	for (i = 0; i < app->n_nodes; i++) {
		Overseer__V1__Node *node = NULL;
		struct log_part *p;
		int err;

		if (only[0] && strcmp(app->nodes[i]->node, only) != 0)
			continue;
		p = &s->parts[s->n_parts++];
		ovr_strlcpy(p->name, app->nodes[i]->node, sizeof(p->name));
		p->open = 1;
		s->n_open++;
		err = db_node_get(server_db(), a, svc_nodes_stale_ms(), p->name, &node);
		if (err == OVR_ERR_NOT_FOUND) {
			pthread_mutex_lock(&logs.mu);
			part_end_locked(s, p, " has not enrolled: no logs from it");
			pthread_mutex_unlock(&logs.mu);
			continue;
		}
		if (err)
			return err;
		ovr_strlcpy(p->id, node->id, sizeof(p->id));
	}
	return 0;
}

/* Sends each open part's agent the request; a node that cannot be asked ends its part. */
static void ask_agents(struct log_stream *s, const Overseer__V1__StreamLogsRequest *req)
{
	Overseer__V1__ServerMessage msg = OVERSEER__V1__SERVER_MESSAGE__INIT;
	Overseer__V1__LogRequest lr = OVERSEER__V1__LOG_REQUEST__INIT;
	char text[400];
	size_t i;

	lr.request_id = s->id;
	lr.request = (Overseer__V1__StreamLogsRequest *)(uintptr_t)req;
	msg.msg_case = OVERSEER__V1__SERVER_MESSAGE__MSG_LOGS;
	msg.logs = &lr;
	for (i = 0; i < s->n_parts; i++) {
		struct log_part *p = &s->parts[i];
		const char *why = NULL;
		int err;

		/* Parts are fixed now; only their state changes, under the lock. */
		if (!p->id[0])
			continue;
		if (!hub_connected(p->id)) {
			why = " is not connected: no logs from it";
		} else if ((err = hub_send(p->id, &msg.base)) != 0) {
			snprintf(text, sizeof(text), ": cannot ask for its logs: %.300s",
			         ovr_err_msg(err));
			why = hub_connected(p->id) ? text : " is not connected: no logs from it";
		}
		pthread_mutex_lock(&logs.mu);
		if (why == NULL)
			p->asked = 1;
		else
			part_end_locked(s, p, why);
		pthread_mutex_unlock(&logs.mu);
	}
}

static int logs_open(struct rpc_call *call, const void *req_)
{
	const Overseer__V1__StreamLogsRequest *req = req_;
	const struct rpc_identity *id = rpc_call_identity(call);
	struct arena *a = rpc_call_arena(call);
	Overseer__V1__App *app = NULL;
	struct log_stream *s;
	int err;

	err = check_request(req);
	if (!err)
		err = db_app_get(server_db(), a, req->app, &app);
	if (!err)
		err = db_deploy_app_state(server_db(), a, app);
	if (err)
		return err;
	pthread_once(&logs.once, logs_init);
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return ovr_err_set(OVR_ERR_NOMEM, "out of memory");
	ovr_strlcpy(s->app, req->app, sizeof(s->app));
	ovr_strlcpy(s->who, id->name[0] ? id->name : rpc_call_peer(call), sizeof(s->who));
	s->follow = req->follow ? 1 : 0;
	s->opened_ms = ovr_mono_ms();
	s->opening = 1;
	err = crypto_random_hex(s->id, LOGS_ID_BYTES);
	if (!err)
		err = stream_parts(s, a, app, req->node);
	if (!err) {
		pthread_mutex_lock(&logs.mu);
		err = reserve_locked();
		if (!err) {
			if (s->n_parts == 0)
				note_locked(s, "", "app %s runs on no node: no logs", req->app);
			rpc_call_ref(call);
			s->call = call;
			rpc_call_set_data(call, s);
			s->next = logs.head;
			logs.head = s;
		}
		pthread_mutex_unlock(&logs.mu);
	}
	if (err) {
		stream_free(s);
		return err;
	}
	log_debug("log stream opened app=%s nodes=%zu follow=%d by=%s", s->app, s->n_parts,
	          s->follow, s->who);
	/* Registered first: an agent's first chunk may come before hub_send returns. */
	ask_agents(s, req);
	pthread_mutex_lock(&logs.mu);
	s->opening = 0;
	logs.wake = 1;
	pthread_cond_broadcast(&logs.cond);
	pthread_mutex_unlock(&logs.mu);
	return 0;
}

static void logs_closed(struct rpc_call *call, int cancelled)
{
	struct log_stream *s;
	struct closing cl;

	(void)cancelled;
	pthread_once(&logs.once, logs_init);
	pthread_mutex_lock(&logs.mu);
	s = rpc_call_data(call);
	memset(&cl, 0, sizeof(cl));
	if (s != NULL)
		close_locked(s, &cl);
	pthread_mutex_unlock(&logs.mu);
	close_finish(&cl, 0, 0, NULL);
}

const struct rpc_stream_ops svc_logs_ops = {
        .open = logs_open,
        .message = NULL,
        .closed = logs_closed,
};
