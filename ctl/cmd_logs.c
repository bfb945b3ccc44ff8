/*
 * ovrctl logs: an app's container logs from its nodes (StreamLogs), each line prefixed with
 * node/service, coloured per node/service on a terminal; -o json prints the LogLines as JSON
 * lines. Ctrl-C ends a followed stream cleanly.
 */
#include "args.h"
#include "cmd.h"
#include "ctl.h"
#include "err.h"
#include "overseer/v1/apps.pb-c.h"
#include "pbjson.h"
#include "rpc.h"
#include "strutil.h"

#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define STREAM_LOGS      "/overseer.v1.Apps/StreamLogs"
#define RECV_SLICE_MS    250 /* how often Ctrl-C is looked at */
#define PREFIX_MAX       80  /* bytes of "node/service" */
#define PREFIX_WIDTH_MAX 40  /* prefixes are padded to the longest so far, up to this */

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
	(void)sig;
	interrupted = 1;
}

/* How the lines are shown. */
struct view {
	struct ctl *ctl;
	int colour;
	int clean; /* a terminal: control characters in lines are shown as '?' */
	int width; /* of the longest prefix so far */
};

/* "2024-05-01T10:00:00Z", with optional fraction and a Z or +hh:mm offset, into unix ms. */
static int parse_rfc3339(int64_t *out, const char *v)
{
	int y, mo, d, h, mi, s, n = 0, off = 0;
	int64_t ms = 0, scale = 100;
	struct tm tm;
	const char *p;

	if (sscanf(v, "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &s, &n) != 6 || n != 19)
		return -1;
	p = v + n;
	if (*p == '.') {
		for (p++; *p >= '0' && *p <= '9'; p++, scale /= 10)
			ms += (*p - '0') * scale;
	}
	if (*p == 'Z' && p[1] == '\0') {
		off = 0;
	} else if ((*p == '+' || *p == '-') && strlen(p) == 6 && p[3] == ':') {
		int oh = 0, om = 0;

		if (sscanf(p + 1, "%2d:%2d", &oh, &om) != 2)
			return -1;
		off = (*p == '-' ? -1 : 1) * (oh * 3600 + om * 60);
	} else {
		return -1;
	}
	if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60)
		return -1;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = s;
	*out = ((int64_t)timegm(&tm) - off) * 1000 + ms;
	return 0;
}

/* --since: a duration back from now ("10m") or a time (RFC 3339). */
static int parse_since(int64_t *out, const char *v)
{
	int64_t d;

	if (ovr_parse_duration(&d, v) == 0 && d >= 0) {
		*out = ovr_now_ms() - d;
		return 0;
	}
	return parse_rfc3339(out, v);
}

static int parse(const struct ctl *ctl, int argc, char **argv, Overseer__V1__StreamLogsRequest *req)
{
	int i, r, positional = 0;

	for (i = 0; i < argc; i++) {
		const char *v;
		long long n;

		if (strcmp(argv[i], "-f") == 0 || strcmp(argv[i], "--follow") == 0) {
			req->follow = 1;
			continue;
		}
		if (strcmp(argv[i], "--timestamps") == 0 || strcmp(argv[i], "-t") == 0) {
			req->timestamps = 1;
			continue;
		}
		if ((r = args_value(argc, argv, &i, "--node", &v)) != 0) {
			if (r < 0)
				return ctl_usage_line(ctl);
			req->node = (char *)(uintptr_t)v;
			continue;
		}
		if ((r = args_value(argc, argv, &i, "--tail", &v)) != 0) {
			if (r < 0)
				return ctl_usage_line(ctl);
			if (args_int64(v, 0, &n) != 0 || n > INT32_MAX)
				return ctl_usage(ctl, "--tail: '%s' is not a number of lines", v);
			req->tail = (int32_t)n;
			continue;
		}
		if ((r = args_value(argc, argv, &i, "--since", &v)) != 0) {
			if (r < 0)
				return ctl_usage_line(ctl);
			if (parse_since(&req->since_unix_ms, v) != 0 || req->since_unix_ms < 0)
				return ctl_usage(
				        ctl,
				        "--since: '%s' is neither a duration (10m) nor a time "
				        "(2024-05-01T10:00:00Z)",
				        v);
			continue;
		}
		if (argv[i][0] == '-' && argv[i][1])
			return ctl_usage(ctl, "unknown flag '%s'", argv[i]);
		if (positional == 0)
			req->app = argv[i];
		else if (positional == 1)
			req->service = argv[i];
		else
			return ctl_usage(ctl, "unexpected argument '%s'", argv[i]);
		positional++;
	}
	if (!req->app[0])
		return ctl_usage(ctl, "an app NAME is required");
	return 0;
}

/* A colour per prefix, the same in every run (FNV-1a). */
static int colour_of(const char *prefix)
{
	static const int palette[] = {36, 33, 32, 35, 34, 96, 93, 92, 95, 94};
	uint32_t h = 2166136261u;

	for (; *prefix; prefix++)
		h = (h ^ (unsigned char)*prefix) * 16777619u;
	return palette[h % (sizeof(palette) / sizeof(palette[0]))];
}

/* Writes s; on a terminal, control characters (but tabs) as '?'. */
static void put_text(const struct view *v, const char *s)
{
	if (!v->clean) {
		fputs(s, stdout);
		return;
	}
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		putchar((c < 0x20 && c != '\t') || c == 0x7f ? '?' : c);
	}
}

static void print_line(struct view *v, const Overseer__V1__LogLine *l)
{
	char prefix[PREFIX_MAX + 1], clean[PREFIX_MAX + 1];
	int w, system = strcmp(l->stream, "system") == 0;

	if (l->dropped > 0) {
		if (v->colour)
			printf("\033[2m… %lld lines dropped\033[0m\n", (long long)l->dropped);
		else
			printf("… %lld lines dropped\n", (long long)l->dropped);
	}
	if (system && !l->line[0])
		return;
	snprintf(prefix, sizeof(prefix), "%s%s%s", l->node[0] ? l->node : "ovrctl",
	         l->service[0] ? "/" : "", l->service);
	ctl_clean(clean, sizeof(clean), prefix);
	w = (int)strlen(clean);
	if (w > v->width)
		v->width = w < PREFIX_WIDTH_MAX ? w : PREFIX_WIDTH_MAX;
	if (v->colour)
		printf("\033[%dm%-*s |\033[0m ", colour_of(clean), v->width, clean);
	else
		printf("%-*s | ", v->width, clean);
	if (system && v->colour)
		fputs("\033[1m", stdout);
	put_text(v, l->line);
	if (system && v->colour)
		fputs("\033[0m", stdout);
	putchar('\n');
}

static int print_structured(struct view *v, const Overseer__V1__LogLine *l)
{
	char *text;

	if (v->ctl->output == CTL_OUTPUT_YAML) {
		fputs("---\n", stdout);
		return ctl_print_structured(v->ctl, &l->base);
	}
	text = pbjson_dumps(&l->base, 0);
	if (!text)
		return ctl_fail("cannot encode a log line as JSON");
	puts(text);
	free(text);
	return 0;
}

/* Reads the stream to its end, Ctrl-C or an error. Returns an exit code. */
static int follow(struct view *v, struct rpc_client_stream *s, int follow_mode)
{
	for (;;) {
		Overseer__V1__LogLine *l = NULL;
		int64_t t0 = ovr_mono_ms();
		int err;

		if (interrupted)
			return CTL_EXIT_OK;
		err = rpc_client_stream_recv(s, &overseer__v1__log_line__descriptor,
		                             (ProtobufCMessage **)&l, RECV_SLICE_MS);
		/* Our own slice ran out (the server's DEADLINE_EXCEEDED comes at once). */
		if (err == OVR_ERR_TIMEOUT && ovr_mono_ms() - t0 >= RECV_SLICE_MS * 9 / 10)
			continue;
		if (err == 1)
			return CTL_EXIT_OK;
		if (err)
			return interrupted ? CTL_EXIT_OK : ctl_fail("%s", ovr_err_msg(err));
		if (v->ctl->output == CTL_OUTPUT_TABLE)
			print_line(v, l);
		else
			err = print_structured(v, l);
		protobuf_c_message_free_unpacked(&l->base, NULL);
		if (err)
			return CTL_EXIT_FAIL;
		/* A pipe reader following the logs sees each line as it comes. */
		if (follow_mode)
			fflush(stdout);
	}
}

int cmd_logs(struct ctl *ctl, int argc, char **argv)
{
	Overseer__V1__StreamLogsRequest req = OVERSEER__V1__STREAM_LOGS_REQUEST__INIT;
	struct rpc_client_stream *s = NULL;
	struct sigaction sa, old_int, old_term;
	const char *no_colour = getenv("NO_COLOR");
	struct view v;
	int rc, err;

	if ((rc = parse(ctl, argc, argv, &req)) != 0)
		return rc;
	memset(&v, 0, sizeof(v));
	v.ctl = ctl;
	v.clean = ctl_is_terminal(stdout);
	v.colour = v.clean && !(no_colour && no_colour[0]);
	err = ctl_connect(ctl);
	if (!err)
		err = rpc_client_stream_open(&s, ctl->client, STREAM_LOGS, ctl->token, &req.base);
	if (err)
		return ctl_fail("%s", ovr_err_msg(err));
	/* No SA_RESTART: Ctrl-C ends the wait, and the stream is cancelled on the way out. */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	interrupted = 0;
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);
	rc = follow(&v, s, req.follow);
	fflush(stdout);
	rpc_client_stream_free(s);
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);
	return rc;
}
