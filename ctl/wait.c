/*
 * --wait: follows the deployment on the WatchDeployment stream (polling GetDeployment on servers
 * without it) until it is over, and shows per-node progress. The one place deploy, rollback, app
 * create --deploy and deployment watch wait in.
 */
#include "wait.h"

#include "args.h"
#include "err.h"
#include "rpc.h"
#include "strutil.h"

#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#define GET_DEPLOYMENT   "/overseer.v1.Apps/GetDeployment"
#define WATCH_DEPLOYMENT "/overseer.v1.Apps/WatchDeployment"
/* Pause before opening the watch again after the stream broke. */
#define WAIT_REOPEN_MS 1000
/* How often a terminal's progress is redrawn while the stream is quiet. */
#define WAIT_REDRAW_MS      1000
#define LINE_MAX_BYTES      1024
#define NODE_NAME_WIDTH_MAX 40

void wait_args_init(struct wait_args *w)
{
	memset(w, 0, sizeof(*w));
	w->timeout_ms = WAIT_DEFAULT_TIMEOUT_MS;
}

int wait_args_parse(struct wait_args *w, const struct ctl *ctl, int argc, char **argv, int *i)
{
	const char *v;
	int r;

	if (strcmp(argv[*i], "--wait") == 0) {
		w->wait = 1;
		return 1;
	}
	r = args_value(argc, argv, i, "--timeout", &v);
	if (r < 0)
		ctl_usage_line(ctl);
	if (r <= 0)
		return r;
	if (ovr_parse_duration(&w->timeout_ms, v) != 0 || w->timeout_ms <= 0) {
		ctl_usage(ctl, "--timeout: '%s' is not a duration such as 90s or 10m", v);
		return -1;
	}
	w->timeout_given = 1;
	return 1;
}

int wait_args_check(const struct wait_args *w, const struct ctl *ctl)
{
	if (w->timeout_given && !w->wait)
		return ctl_usage(ctl, "--timeout is how long --wait waits: add --wait");
	return 0;
}

void wait_view_init(struct wait_view *v, FILE *fp, int live, int width)
{
	memset(v, 0, sizeof(*v));
	v->fp = fp;
	v->live = live;
	v->width = width > 0 ? width : 80;
	v->overall = -1;
}

void wait_view_free(struct wait_view *v)
{
	free(v->nodes);
	memset(v, 0, sizeof(*v));
}

static const char *node_state(char *buf, size_t size, int state)
{
	return ctl_enum_name(buf, size, &overseer__v1__node_deployment_state__descriptor, state);
}

/* "rolled_back" -> "rolled back". */
static const char *deployment_state(char *buf, size_t size, int state)
{
	char *p;

	ctl_enum_name(buf, size, &overseer__v1__deployment_state__descriptor, state);
	for (p = buf; *p; p++)
		if (*p == '_')
			*p = ' ';
	return buf;
}

/* Whole seconds: "0s", "12s", "1m30s". */
static const char *elapsed_text(char *buf, size_t size, int64_t ms)
{
	if (ms < 1000)
		snprintf(buf, size, "0s");
	else
		ovr_format_duration(buf, size, ms / 1000 * 1000);
	return buf;
}

/* Cuts line to at most max bytes without splitting a UTF-8 sequence. */
static void cut(char *line, size_t max)
{
	size_t n = strlen(line);

	if (n <= max)
		return;
	n = max;
	while (n > 0 && ((unsigned char)line[n] & 0xc0) == 0x80)
		n--;
	line[n] = '\0';
}

/* One line of the live block: back to column 0, clear, text cut to the width, newline. */
static void live_line(struct wait_view *v, char *line, size_t *lines)
{
	size_t n;

	cut(line, (size_t)(v->width > 1 ? v->width - 1 : 1));
	n = strlen(line);
	while (n > 0 && line[n - 1] == ' ')
		line[--n] = '\0';
	fprintf(v->fp, "\r\033[K%s\n", line);
	(*lines)++;
}

static int name_width(const Overseer__V1__Deployment *d)
{
	size_t i, w = 4;

	for (i = 0; i < d->n_nodes; i++) {
		size_t n = strlen(d->nodes[i]->node);

		if (n > w)
			w = n;
	}
	return (int)(w < NODE_NAME_WIDTH_MAX ? w : NODE_NAME_WIDTH_MAX);
}

static void live_draw(struct wait_view *v, const Overseer__V1__Deployment *d, int64_t elapsed_ms,
                      const char *note)
{
	char line[LINE_MAX_BYTES], state[64], app[80], msg[LINE_MAX_BYTES], name[80], when[32];
	char id[80];
	int w = name_width(d);
	size_t i, lines = 0;

	if (v->drawn)
		fprintf(v->fp, "\033[%zuA", v->drawn);
	elapsed_text(when, sizeof(when), elapsed_ms);
	snprintf(line, sizeof(line), "deployment %s (app %s, version %lld): %s, %s",
	         ctl_clean(id, sizeof(id), d->id), ctl_clean(app, sizeof(app), d->app),
	         (long long)d->version, deployment_state(state, sizeof(state), d->state), when);
	live_line(v, line, &lines);
	for (i = 0; i < d->n_nodes; i++) {
		const Overseer__V1__NodeDeployment *n = d->nodes[i];

		snprintf(line, sizeof(line), "  %-*s  %-9s  %s", w,
		         ctl_clean(name, sizeof(name), n->node),
		         node_state(state, sizeof(state), n->state),
		         ctl_clean(msg, sizeof(msg), n->message));
		live_line(v, line, &lines);
	}
	if (note) {
		snprintf(line, sizeof(line), "  (%s)", ctl_clean(msg, sizeof(msg), note));
		live_line(v, line, &lines);
	}
	/* Fewer lines than last time: clear what is left below. */
	if (lines < v->drawn)
		fputs("\033[J", v->fp);
	v->drawn = lines;
	fflush(v->fp);
}

static struct wait_node *plain_node(struct wait_view *v, const char *name)
{
	char key[sizeof(v->nodes[0].name)];
	size_t i;

	ovr_strlcpy(key, name, sizeof(key));
	for (i = 0; i < v->n; i++)
		if (strcmp(v->nodes[i].name, key) == 0)
			return &v->nodes[i];
	if (v->n == v->cap) {
		size_t cap = v->cap ? v->cap * 2 : 16;
		struct wait_node *grown = realloc(v->nodes, cap * sizeof(*grown));

		if (!grown)
			return NULL;
		v->nodes = grown;
		v->cap = cap;
	}
	memset(&v->nodes[v->n], 0, sizeof(v->nodes[v->n]));
	memcpy(v->nodes[v->n].name, key, sizeof(key));
	v->nodes[v->n].state = -1;
	return &v->nodes[v->n++];
}

static void plain_draw(struct wait_view *v, const Overseer__V1__Deployment *d, int64_t elapsed_ms,
                       const char *note)
{
	char state[64], msg[LINE_MAX_BYTES], name[80], app[80], id[80], when[32];
	size_t i;

	elapsed_text(when, sizeof(when), elapsed_ms);
	if (v->overall < 0)
		fprintf(v->fp, "[%s] deployment %s (app %s, version %lld): %s\n", when,
		        ctl_clean(id, sizeof(id), d->id), ctl_clean(app, sizeof(app), d->app),
		        (long long)d->version, deployment_state(state, sizeof(state), d->state));
	v->overall = (int)d->state;
	for (i = 0; i < d->n_nodes; i++) {
		const Overseer__V1__NodeDeployment *n = d->nodes[i];
		struct wait_node *seen = plain_node(v, n->node);

		if (seen && seen->state == (int)n->state)
			continue;
		if (seen)
			seen->state = (int)n->state;
		fprintf(v->fp, "[%s] %s %s%s%s%s\n", when, ctl_clean(name, sizeof(name), n->node),
		        node_state(state, sizeof(state), n->state), n->message[0] ? " (" : "",
		        ctl_clean(msg, sizeof(msg), n->message), n->message[0] ? ")" : "");
	}
	/* A problem once, not at every poll. */
	if (note && !v->noted)
		fprintf(v->fp, "[%s] %s\n", when, ctl_clean(msg, sizeof(msg), note));
	v->noted = note != NULL;
	fflush(v->fp);
}

void wait_view_update(struct wait_view *v, const Overseer__V1__Deployment *d, int64_t elapsed_ms,
                      const char *note)
{
	if (v->live)
		live_draw(v, d, elapsed_ms, note);
	else
		plain_draw(v, d, elapsed_ms, note);
}

int wait_preflight(struct ctl *ctl)
{
	Overseer__V1__GetDeploymentRequest req = OVERSEER__V1__GET_DEPLOYMENT_REQUEST__INIT;
	ProtobufCMessage *resp = NULL;
	int err;

	/*
	 * An empty id asks for nothing: a server that has GetDeployment refuses it as invalid or
	 * not found; only UNIMPLEMENTED (or credentials that cannot read deployments) stop us.
	 */
	err = ctl_call_err(ctl, GET_DEPLOYMENT, &req.base, &overseer__v1__deployment__descriptor,
	                   &resp);
	if (resp)
		protobuf_c_message_free_unpacked(resp, NULL);
	if (err == OVR_ERR_UNIMPLEMENTED || err == OVR_ERR_UNAUTHENTICATED ||
	    err == OVR_ERR_PERMISSION)
		return ctl_fail("--wait: %s (nothing was changed)", ovr_err_msg(err));
	return CTL_EXIT_OK;
}

static int term_width(FILE *fp)
{
	struct winsize ws;

	if (ioctl(fileno(fp), TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
		return ws.ws_col;
	return 80;
}

static void sleep_ms(int64_t ms)
{
	struct timespec ts;

	if (ms <= 0)
		return;
	ts.tv_sec = (time_t)(ms / 1000);
	ts.tv_nsec = (long)(ms % 1000) * 1000000L;
	while (nanosleep(&ts, &ts) != 0)
		;
}

/* The end: success on the progress stream, anything else on stderr. */
static int summary(FILE *fp, const Overseer__V1__Deployment *d, int timed_out, int64_t timeout_ms)
{
	char state[64], msg[LINE_MAX_BYTES], name[80], when[32], id[80];
	size_t i;

	ctl_clean(id, sizeof(id), d->id);
	if (!timed_out && d->state == OVERSEER__V1__DEPLOYMENT_STATE__DEPLOYMENT_STATE_SUCCEEDED) {
		fprintf(fp, "deployment %s succeeded: app %s version %lld on %zu node%s\n", id,
		        ctl_clean(name, sizeof(name), d->app), (long long)d->version, d->n_nodes,
		        d->n_nodes == 1 ? "" : "s");
		return CTL_EXIT_OK;
	}
	fflush(fp);
	if (timed_out) {
		ovr_format_duration(when, sizeof(when), timeout_ms);
		fprintf(stderr,
		        "ovrctl: deployment %s is still %s after %s (--timeout); it goes on on the "
		        "server\n",
		        id, deployment_state(state, sizeof(state), d->state), when);
	} else {
		fprintf(stderr, "ovrctl: deployment %s %s: %s\n", id,
		        deployment_state(state, sizeof(state), d->state),
		        d->reason[0] ? ctl_clean(msg, sizeof(msg), d->reason) : "no reason given");
	}
	for (i = 0; i < d->n_nodes; i++) {
		const Overseer__V1__NodeDeployment *n = d->nodes[i];

		if (n->state ==
		            OVERSEER__V1__NODE_DEPLOYMENT_STATE__NODE_DEPLOYMENT_STATE_HEALTHY ||
		    n->state == OVERSEER__V1__NODE_DEPLOYMENT_STATE__NODE_DEPLOYMENT_STATE_REMOVED)
			continue;
		if (!timed_out &&
		    n->state != OVERSEER__V1__NODE_DEPLOYMENT_STATE__NODE_DEPLOYMENT_STATE_FAILED)
			continue;
		fprintf(stderr, "  %s: %s%s%s\n", ctl_clean(name, sizeof(name), n->node),
		        node_state(state, sizeof(state), n->state), n->message[0] ? ": " : "",
		        ctl_clean(msg, sizeof(msg), n->message));
	}
	return CTL_EXIT_FAIL;
}

/* What one wait shares between following the stream and polling. */
struct waiter {
	struct ctl *ctl;
	const Overseer__V1__Deployment *initial; /* shown until the server says more */
	int64_t start, deadline;
	struct wait_view view;
	Overseer__V1__Deployment *cur; /* the last state read, owned */
	int timed_out;
};

/* Shows d (taking it; NULL: the last state again) with a passing problem, if any. */
static void waiter_show(struct waiter *w, Overseer__V1__Deployment *d, const char *note)
{
	if (d) {
		if (w->cur)
			protobuf_c_message_free_unpacked(&w->cur->base, NULL);
		w->cur = d;
	}
	wait_view_update(&w->view, w->cur ? w->cur : w->initial, ovr_mono_ms() - w->start, note);
}

static int over(const Overseer__V1__Deployment *d)
{
	return d && d->state != OVERSEER__V1__DEPLOYMENT_STATE__DEPLOYMENT_STATE_IN_PROGRESS;
}

/* Worth trying again: the server may be restarting, or ended a long watch. */
static int transient(int err)
{
	return err == OVR_ERR_UNAVAILABLE || err == OVR_ERR_TIMEOUT || err == OVR_ERR_CANCELLED;
}

static void waiter_pause(struct waiter *w, int64_t ms)
{
	int64_t left = w->deadline - ovr_mono_ms();

	sleep_ms(left < ms ? left : ms);
}

/*
 * Follows the deployment on the WatchDeployment stream, opening it again after a break. 0 when
 * it is over or the time is up (w->timed_out), 1 when the server cannot watch (no such method,
 * or too many watches: poll instead), -1 after printing an error.
 */
static int follow_stream(struct waiter *w)
{
	Overseer__V1__WatchDeploymentRequest req = OVERSEER__V1__WATCH_DEPLOYMENT_REQUEST__INIT;
	char note[LINE_MAX_BYTES];
	size_t seen = 0; /* events, over every stream opened */

	req.id = w->initial->id;
	for (;;) {
		struct rpc_client_stream *s = NULL;
		int err, end = 0;

		if (ovr_mono_ms() >= w->deadline) {
			w->timed_out = 1;
			return 0;
		}
		err = ctl_connect(w->ctl);
		if (err) {
			ctl_fail("%s", ovr_err_msg(err));
			return -1;
		}
		err = rpc_client_stream_open(&s, w->ctl->client, WATCH_DEPLOYMENT, w->ctl->token,
		                             &req.base);
		while (!err) {
			Overseer__V1__DeploymentEvent *ev = NULL;
			int64_t left = w->deadline - ovr_mono_ms(), slice, t0;
			int done;

			if (left <= 0) {
				w->timed_out = end = 1;
				break;
			}
			/* A terminal's clock moves every second even when nothing happens. */
			slice = w->view.live && left > WAIT_REDRAW_MS ? WAIT_REDRAW_MS : left;
			t0 = ovr_mono_ms();
			err = rpc_client_stream_recv(s, &overseer__v1__deployment_event__descriptor,
			                             (ProtobufCMessage **)&ev, slice);
			/*
			 * Our own wait ran out (it took the whole slice) rather than the server
			 * ending the watch with DEADLINE_EXCEEDED (at once): the read stays
			 * pending.
			 */
			if (err == OVR_ERR_TIMEOUT && ovr_mono_ms() - t0 >= slice * 9 / 10) {
				err = 0;
				if (slice == left) {
					w->timed_out = end = 1;
					break;
				}
				waiter_show(w, NULL, NULL);
				continue;
			}
			if (err == 1)
				err = ovr_err_set(OVR_ERR_UNAVAILABLE,
				                  "the server ended the watch early");
			if (err)
				break;
			seen++;
			if (ev->deployment) {
				Overseer__V1__Deployment *d = ev->deployment;

				/* Ours now: the event is freed without it. */
				ev->deployment = NULL;
				waiter_show(w, d, NULL);
			}
			done = ev->done;
			protobuf_c_message_free_unpacked(&ev->base, NULL);
			if (done || over(w->cur)) {
				end = 1;
				break;
			}
		}
		rpc_client_stream_free(s);
		if (end)
			return 0;
		if (!seen && (err == OVR_ERR_UNIMPLEMENTED || err == OVR_ERR_TOO_LARGE))
			return 1;
		if (!transient(err) && err != OVR_ERR_TOO_LARGE) {
			ctl_fail("%s", ovr_err_msg(err));
			return -1;
		}
		/* A watch the server ended after its longest time is simply opened again. */
		if (err != OVR_ERR_TIMEOUT || !seen) {
			snprintf(note, sizeof(note), "the server did not answer, still trying: %s",
			         ovr_err_msg(err));
			waiter_show(w, NULL, note);
		}
		waiter_pause(w, WAIT_REOPEN_MS);
	}
}

/* Polls GetDeployment every WAIT_POLL_MS: servers without WatchDeployment. 0, or -1 (printed). */
static int poll_deployment(struct waiter *w)
{
	Overseer__V1__GetDeploymentRequest req = OVERSEER__V1__GET_DEPLOYMENT_REQUEST__INIT;
	struct ctl *ctl = w->ctl;
	int64_t call_timeout = ctl->timeout_ms;
	char note[LINE_MAX_BYTES];

	req.id = w->initial->id;
	for (;;) {
		Overseer__V1__Deployment *next = NULL;
		int64_t left = w->deadline - ovr_mono_ms();
		int err;

		if (left <= 0) {
			w->timed_out = 1;
			return 0;
		}
		/* No single call may outlast --timeout by much. */
		ctl->timeout_ms = left < call_timeout ? (left > 1000 ? left : 1000) : call_timeout;
		err = ctl_call_err(ctl, GET_DEPLOYMENT, &req.base,
		                   &overseer__v1__deployment__descriptor,
		                   (ProtobufCMessage **)&next);
		ctl->timeout_ms = call_timeout;
		if (transient(err)) {
			/* The server may be restarting: the deployment goes on without us. */
			snprintf(note, sizeof(note), "the server did not answer, still trying: %s",
			         ovr_err_msg(err));
			waiter_show(w, NULL, note);
		} else if (err) {
			ctl_fail("%s", ovr_err_msg(err));
			return -1;
		} else {
			waiter_show(w, next, NULL);
			if (over(w->cur))
				return 0;
		}
		waiter_pause(w, WAIT_POLL_MS);
	}
}

/*
 * Follows d until it is over or deadline (monotonic ms) and prints its summary. *cur gets the
 * last state read (the caller's), *timed_out whether the time ran out. Returns an exit code.
 */
static int wait_one(struct ctl *ctl, FILE *fp, const Overseer__V1__Deployment *d, int64_t deadline,
                    int64_t timeout_ms, Overseer__V1__Deployment **cur, int *timed_out)
{
	struct waiter w;
	int rc;

	memset(&w, 0, sizeof(w));
	w.ctl = ctl;
	w.initial = d;
	w.start = ovr_mono_ms();
	w.deadline = deadline;
	wait_view_init(&w.view, fp, ctl_is_terminal(fp), term_width(fp));
	rc = follow_stream(&w);
	if (rc == 1)
		rc = poll_deployment(&w);
	if (rc == 0)
		rc = summary(fp, w.cur ? w.cur : d, w.timed_out, timeout_ms);
	else
		rc = CTL_EXIT_FAIL;
	wait_view_free(&w.view);
	*cur = w.cur;
	*timed_out = w.timed_out;
	return rc;
}

int wait_deployment(struct ctl *ctl, const Overseer__V1__Deployment *d, int64_t timeout_ms,
                    Overseer__V1__Deployment **final)
{
	FILE *fp = ctl->output == CTL_OUTPUT_TABLE ? stdout : stderr;
	Overseer__V1__Deployment *cur = NULL, *rb = NULL;
	Overseer__V1__Deployment next = OVERSEER__V1__DEPLOYMENT__INIT;
	int64_t deadline = ovr_mono_ms() + timeout_ms;
	int rc, timed_out = 0;
	char id[80];

	if (final)
		*final = NULL;
	if (!d || !d->id[0])
		return ctl_fail("--wait: the server started no deployment to wait for");
	rc = wait_one(ctl, fp, d, deadline, timeout_ms, &cur, &timed_out);
	/*
	 * The server rolled back on its own: show that too, so the operator sees the app back on
	 * its last-known-good version (or not) without another command. The exit code stays the
	 * failed deployment's.
	 */
	if (cur && !timed_out && cur->rolled_back_by[0] &&
	    cur->state == OVERSEER__V1__DEPLOYMENT_STATE__DEPLOYMENT_STATE_ROLLED_BACK) {
		fprintf(fp, "following the automatic rollback: deployment %s\n",
		        ctl_clean(id, sizeof(id), cur->rolled_back_by));
		next.id = cur->rolled_back_by;
		next.app = cur->app;
		wait_one(ctl, fp, &next, deadline, timeout_ms, &rb, &timed_out);
		if (rb)
			protobuf_c_message_free_unpacked(&rb->base, NULL);
	}
	if (final)
		*final = cur;
	else if (cur)
		protobuf_c_message_free_unpacked(&cur->base, NULL);
	return rc;
}
