/*
 * ovr-agent's own Prometheus metrics: counters the session, the reconciler and the Docker API
 * client bump, served as GET /metrics over plain HTTP on metrics_listen (libmicrohttpd, one
 * thread). Labels hold only the code's own words, never an app or container name.
 */
#ifndef OVR_AGENT_METRICS_H
#define OVR_AGENT_METRICS_H

#include <stddef.h>

struct applied;

/* The record changed: how many of its apps run a successfully applied version (a gauge). */
void agent_metrics_apps_recorded(const struct applied *rec);
/* A compose apply ended, ok or failed. */
void agent_metrics_compose_apply(int ok);
/* The session connects again after its stream ended or a connection attempt failed. */
void agent_metrics_reconnect(void);
/* A status report went out to the server. */
void agent_metrics_report_sent(void);
/* A Docker Engine API request failed (transport or HTTP error; 404 and cancels excluded). */
void agent_metrics_docker_error(void);

/* The /metrics body (text format 0.0.4), NUL-terminated: the caller frees it. NULL: error set. */
char *agent_metrics_render(size_t *len);

struct agent_metrics_server;

/*
 * Serves /metrics on listen: "PORT" (bound to 127.0.0.1), "IPV4:PORT" or "[IPV6]:PORT" (numeric
 * addresses only; port 0 picks a free one, put in *port), and logs "serving metrics on URL
 * (port N)". The caller stops it with agent_metrics_stop. OVR_ERR_CONFIG for an address that
 * does not parse, OVR_ERR_IO when it cannot be bound.
 */
int agent_metrics_serve(struct agent_metrics_server **out, int *port, const char *listen);

/* Stops serving and frees. NULL is a no-op. */
void agent_metrics_stop(struct agent_metrics_server *s);

#endif
