/* ovr-agent's metrics: atomic counters, their text (prom.h), and a tiny HTTP listener for them. */
#include "metrics.h"

#include "applied.h"
#include "err.h"
#include "log.h"
#include "prom.h"
#include "strutil.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define METRICS_CONN_LIMIT   16
#define METRICS_CONN_TIMEOUT 10          /* seconds */
#define METRICS_CONN_MEMORY  (32 * 1024) /* request line and headers */

static atomic_size_t apps_applied;
static atomic_uint_fast64_t applies_ok, applies_failed, reconnects, docker_errors;
static atomic_int_fast64_t last_report_ms, start_ms;

void agent_metrics_apps_recorded(const struct applied *rec)
{
	size_t i, n = 0;

	for (i = 0; i < rec->n_apps; i++)
		if (rec->apps[i].running_version > 0)
			n++;
	atomic_store(&apps_applied, n);
}

void agent_metrics_compose_apply(int ok)
{
	atomic_fetch_add(ok ? &applies_ok : &applies_failed, 1);
}

void agent_metrics_reconnect(void)
{
	atomic_fetch_add(&reconnects, 1);
}

void agent_metrics_report_sent(void)
{
	atomic_store(&last_report_ms, ovr_now_ms());
}

void agent_metrics_docker_error(void)
{
	atomic_fetch_add(&docker_errors, 1);
}

char *agent_metrics_render(size_t *len)
{
	int64_t report_ms = atomic_load(&last_report_ms), started_ms = atomic_load(&start_ms);
	struct prom_label result;
	struct prom_text t;

	memset(&t, 0, sizeof(t));
	prom_family(&t, "ovr_agent_apps_applied", "gauge",
	            "Apps recorded on this node whose last successful apply is what runs.");
	prom_sample_u64(&t, "ovr_agent_apps_applied", NULL, 0, atomic_load(&apps_applied));
	prom_family(&t, "ovr_agent_compose_applies_total", "counter",
	            "Compose applies (docker compose up) by result.");
	result = (struct prom_label){"result", "ok"};
	prom_sample_u64(&t, "ovr_agent_compose_applies_total", &result, 1,
	                atomic_load(&applies_ok));
	result.value = "failed";
	prom_sample_u64(&t, "ovr_agent_compose_applies_total", &result, 1,
	                atomic_load(&applies_failed));
	prom_family(&t, "ovr_agent_reconnects_total", "counter",
	            "Connection attempts after the stream to the server ended or could not open.");
	prom_sample_u64(&t, "ovr_agent_reconnects_total", NULL, 0, atomic_load(&reconnects));
	prom_family(&t, "ovr_agent_last_report_timestamp_seconds", "gauge",
	            "When the last status report went to the server (Unix seconds; 0: none yet).");
	prom_sample(&t, "ovr_agent_last_report_timestamp_seconds", NULL, 0,
	            (double)report_ms / 1000.0);
	prom_family(&t, "ovr_agent_docker_api_errors_total", "counter",
	            "Docker Engine API requests that failed (unreachable, timeout, HTTP error).");
	prom_sample_u64(&t, "ovr_agent_docker_api_errors_total", NULL, 0,
	                atomic_load(&docker_errors));
	prom_family(&t, "process_start_time_seconds", "gauge",
	            "Start time of the process since the Unix epoch in seconds.");
	prom_sample(&t, "process_start_time_seconds", NULL, 0, (double)started_ms / 1000.0);
	return prom_text_finish(&t, len);
}

/* ------------------------------------------------------------------ the listener */

struct agent_metrics_server {
	struct MHD_Daemon *daemon;
	atomic_int starting; /* libmicrohttpd's messages matter until it serves */
};

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned status, char *body,
                             const char *type)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;

	resp = MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_FREE);
	if (!resp) {
		free(body);
		return MHD_NO;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, "GET");
	ret = MHD_queue_response(conn, status, resp);
	MHD_destroy_response(resp);
	return ret;
}

/* Answers at once, on the request's first call: nothing here reads a body. */
static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
	size_t len;
	char *text;

	(void)cls;
	(void)version;
	(void)upload_data;
	(void)upload_data_size;
	(void)con_cls;
	if (strcmp(url, "/metrics") != 0)
		return reply(conn, MHD_HTTP_NOT_FOUND, strdup("not found: try /metrics\n"),
		             "text/plain");
	if (strcmp(method, "GET") != 0)
		return reply(conn, MHD_HTTP_METHOD_NOT_ALLOWED, strdup("method not allowed\n"),
		             "text/plain");
	text = agent_metrics_render(&len);
	if (!text)
		return MHD_NO;
	return reply(conn, MHD_HTTP_OK, text, PROM_CONTENT_TYPE);
}

/* Why it could not start; later messages are about misbehaving clients and are dropped. */
static void on_log(void *cls, const char *fmt, va_list ap)
{
	struct agent_metrics_server *s = cls;
	char buf[512];

	if (!atomic_load(&s->starting))
		return;
	vsnprintf(buf, sizeof(buf), fmt, ap);
	buf[strcspn(buf, "\r\n")] = '\0';
	log_warnx("metrics_listen: %s", buf);
}

/* listen as a numeric socket address and its host (host_size >= 64); "PORT" alone is loopback. */
static int parse_listen(struct sockaddr_storage *ss, char *host, size_t host_size,
                        const char *listen)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
	char text[80];
	int port;

	memset(ss, 0, sizeof(*ss));
	if (listen[0] && strspn(listen, "0123456789") == strlen(listen) && strlen(listen) <= 5)
		snprintf(text, sizeof(text), "127.0.0.1:%s", listen);
	else
		ovr_strlcpy(text, listen, sizeof(text));
	if (ovr_parse_listen(host, host_size, &port, text) != 0)
		goto bad;
	if (inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
		return 0;
	}
	if (inet_pton(AF_INET6, host, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
		return 0;
	}
bad:
	return ovr_err_set(OVR_ERR_CONFIG,
	                   "metrics_listen: '%s' is not PORT, IPV4:PORT or [IPV6]:PORT", listen);
}

int agent_metrics_serve(struct agent_metrics_server **out, int *port, const char *listen)
{
	struct agent_metrics_server *s;
	const union MHD_DaemonInfo *di;
	struct sockaddr_storage ss;
	unsigned flags = MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ERROR_LOG;
	char host[64];
	int err;

	*out = NULL;
	atomic_store(&start_ms, ovr_now_ms());
	err = parse_listen(&ss, host, sizeof(host), listen);
	if (err)
		return err;
	if (ss.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	s = calloc(1, sizeof(*s));
	if (!s)
		return ovr_err_set(OVR_ERR_NOMEM, "out of memory");
	atomic_init(&s->starting, 1);
	s->daemon = MHD_start_daemon(
	        flags, 0, NULL, NULL, on_request, NULL, MHD_OPTION_EXTERNAL_LOGGER, on_log, s,
	        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss, MHD_OPTION_CONNECTION_LIMIT,
	        (unsigned int)METRICS_CONN_LIMIT, MHD_OPTION_CONNECTION_TIMEOUT,
	        (unsigned int)METRICS_CONN_TIMEOUT, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
	        (size_t)METRICS_CONN_MEMORY, MHD_OPTION_END);
	if (!s->daemon) {
		free(s);
		return ovr_err_set(OVR_ERR_IO,
		                   "metrics_listen: cannot listen on %s (see the log above)",
		                   listen);
	}
	atomic_store(&s->starting, 0);
	di = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
	*port = di ? di->port : 0;
	log_info("serving metrics on http://%s%s%s:%d/metrics (port %d)",
	         ss.ss_family == AF_INET6 ? "[" : "", host, ss.ss_family == AF_INET6 ? "]" : "",
	         *port, *port);
	*out = s;
	return 0;
}

void agent_metrics_stop(struct agent_metrics_server *s)
{
	if (!s)
		return;
	MHD_stop_daemon(s->daemon);
	free(s);
}
