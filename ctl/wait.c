/*
 * --wait: polls GetDeployment until the deployment is over and shows per-node progress. The one
 * place deploy, rollback and app create --deploy wait in.
 */
#include "wait.h"

#include "args.h"
#include "err.h"
#include "strutil.h"

#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#define GET_DEPLOYMENT      "/overseer.v1.Apps/GetDeployment"
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

int wait_deployment(struct ctl *ctl, const Overseer__V1__Deployment *d, int64_t timeout_ms,
                    Overseer__V1__Deployment **final)
{
	Overseer__V1__GetDeploymentRequest req = OVERSEER__V1__GET_DEPLOYMENT_REQUEST__INIT;
	Overseer__V1__Deployment *cur = NULL, *next = NULL;
	FILE *fp = ctl->output == CTL_OUTPUT_TABLE ? stdout : stderr;
	int64_t start = ovr_mono_ms(), deadline = start + timeout_ms;
	int64_t call_timeout = ctl->timeout_ms;
	char note[LINE_MAX_BYTES];
	struct wait_view v;
	int timed_out = 0, rc, err;

	if (final)
		*final = NULL;
	if (!d || !d->id[0])
		return ctl_fail("--wait: the server started no deployment to wait for");
	req.id = d->id;
	wait_view_init(&v, fp, ctl_is_terminal(fp), term_width(fp));
	for (;;) {
		int64_t now = ovr_mono_ms(), left = deadline - now;

		if (left <= 0) {
			timed_out = 1;
			break;
		}
		/* No single call may outlast --timeout by much. */
		ctl->timeout_ms = left < call_timeout ? (left > 1000 ? left : 1000) : call_timeout;
		err = ctl_call_err(ctl, GET_DEPLOYMENT, &req.base,
		                   &overseer__v1__deployment__descriptor,
		                   (ProtobufCMessage **)&next);
		ctl->timeout_ms = call_timeout;
		if (err == OVR_ERR_UNAVAILABLE || err == OVR_ERR_TIMEOUT ||
		    err == OVR_ERR_CANCELLED) {
			/* The server may be restarting: the deployment goes on without us. */
			snprintf(note, sizeof(note), "the server did not answer, still trying: %s",
			         ovr_err_msg(err));
			wait_view_update(&v, cur ? cur : d, ovr_mono_ms() - start, note);
		} else if (err) {
			rc = ctl_fail("%s", ovr_err_msg(err));
			goto out;
		} else {
			if (cur)
				protobuf_c_message_free_unpacked(&cur->base, NULL);
			cur = next;
			next = NULL;
			wait_view_update(&v, cur, ovr_mono_ms() - start, NULL);
			if (cur->state !=
			    OVERSEER__V1__DEPLOYMENT_STATE__DEPLOYMENT_STATE_IN_PROGRESS)
				break;
		}
		left = deadline - ovr_mono_ms();
		sleep_ms(left < WAIT_POLL_MS ? left : WAIT_POLL_MS);
	}
	rc = summary(fp, cur ? cur : d, timed_out, timeout_ms);
out:
	wait_view_free(&v);
	if (final)
		*final = cur;
	else if (cur)
		protobuf_c_message_free_unpacked(&cur->base, NULL);
	return rc;
}
