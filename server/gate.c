/* The health gate for one node of a deployment (pure: the callers read and store the rows). */
#include "gate.h"

#include "overseer/v1/apps.pb-c.h"
#include "strutil.h"

#include <stdio.h>
#include <string.h>

#define S_PENDING  OVERSEER__V1__NODE_DEPLOYMENT_STATE__NODE_DEPLOYMENT_STATE_PENDING
#define S_SENT     OVERSEER__V1__NODE_DEPLOYMENT_STATE__NODE_DEPLOYMENT_STATE_SENT
#define S_APPLYING OVERSEER__V1__NODE_DEPLOYMENT_STATE__NODE_DEPLOYMENT_STATE_APPLYING
#define S_RUNNING  OVERSEER__V1__NODE_DEPLOYMENT_STATE__NODE_DEPLOYMENT_STATE_RUNNING
#define S_HEALTHY  OVERSEER__V1__NODE_DEPLOYMENT_STATE__NODE_DEPLOYMENT_STATE_HEALTHY
#define S_FAILED   OVERSEER__V1__NODE_DEPLOYMENT_STATE__NODE_DEPLOYMENT_STATE_FAILED
#define S_REMOVED  OVERSEER__V1__NODE_DEPLOYMENT_STATE__NODE_DEPLOYMENT_STATE_REMOVED

static int finished(int state)
{
	return state == S_HEALTHY || state == S_FAILED || state == S_REMOVED;
}

void gate_format_duration(char *buf, size_t size, int64_t ms)
{
	int64_t s = ms / 1000;

	if (ms % 1000 || s == 0)
		snprintf(buf, size, "%.1fs", (double)ms / 1000.0);
	else if (s % 60 || s < 60)
		snprintf(buf, size, "%llds", (long long)s);
	else if (s % 3600 || s < 3600)
		snprintf(buf, size, "%lldm", (long long)(s / 60));
	else
		snprintf(buf, size, "%lldh", (long long)(s / 3600));
}

/* Sets the fields and says whether anything differs. */
static int set(struct gate_node *n, int state, int64_t since, int64_t baseline, const char *msg)
{
	int changed = n->state != state || n->healthy_since_ms != since ||
	              n->restart_baseline != baseline || strcmp(n->message, msg) != 0;
	char copy[GATE_MESSAGE_MAX];

	ovr_strlcpy(copy, msg, sizeof(copy)); /* msg may be n->message */
	n->state = state;
	n->healthy_since_ms = since;
	n->restart_baseline = baseline;
	ovr_strlcpy(n->message, copy, sizeof(n->message));
	return changed;
}

static int passed(const struct gate_node *n, const struct gate_settings *s, int64_t now_ms)
{
	return n->healthy_since_ms > 0 && now_ms - n->healthy_since_ms >= s->min_healthy_ms;
}

int gate_on_report(struct gate_node *n, const struct gate_settings *s, const struct gate_report *r,
                   int64_t now_ms)
{
	char msg[GATE_MESSAGE_MAX], window[32];

	/* A node that passed or failed keeps its verdict for this deployment. */
	if (finished(n->state))
		return 0;
	if (r->phase == S_FAILED)
		return set(n, S_FAILED, 0, 0, r->message);
	if (r->phase == S_HEALTHY && r->version == s->version) {
		if (n->healthy_since_ms == 0)
			return set(
			        n,
			        passed(&(struct gate_node){.healthy_since_ms = now_ms}, s, now_ms)
			                ? S_HEALTHY
			                : S_RUNNING,
			        now_ms, r->restarts,
			        s->min_healthy_ms > 0 ? "healthy; the health gate is watching"
			                              : "");
		if (r->restarts > n->restart_baseline) {
			gate_format_duration(window, sizeof(window), s->min_healthy_ms);
			snprintf(msg, sizeof(msg),
			         "a container restarted %lld time(s) within the %s health "
			         "window%s%s",
			         (long long)(r->restarts - n->restart_baseline), window,
			         r->message[0] ? ": " : "", r->message);
			return set(n, S_FAILED, 0, 0, msg);
		}
		return set(n, passed(n, s, now_ms) ? S_HEALTHY : S_RUNNING, n->healthy_since_ms,
		           n->restart_baseline,
		           passed(n, s, now_ms) ? "" : "healthy; the health gate is watching");
	}
	/* Applying, or running with a healthcheck not passing yet: healthy must start over. */
	if (r->phase == S_APPLYING || (r->phase == S_RUNNING && r->version == s->version))
		return set(n, r->phase, 0, 0, r->message);
	return 0;
}

int gate_on_tick(struct gate_node *n, const struct gate_settings *s, int64_t now_ms)
{
	char msg[GATE_MESSAGE_MAX], limit[32];

	/*
	 * Time alone never passes a node: only a report after the window proves the containers
	 * stayed up through it. The server may have been down, or the node gone quiet, with a
	 * container dead since; agents report on every container event and every heartbeat.
	 */
	if (finished(n->state))
		return 0;
	if (s->deadline_ms > 0 && now_ms >= s->deadline_ms) {
		gate_format_duration(limit, sizeof(limit), s->healthy_deadline_ms);
		snprintf(msg, sizeof(msg), "not healthy within the %s deadline (%s%s%.900s)", limit,
		         n->state == S_PENDING || n->state == S_SENT
		                 ? "pending: the node has not applied it"
		         : n->state == S_APPLYING ? "applying"
		                                  : "running",
		         n->message[0] ? ": " : "", n->message);
		return set(n, S_FAILED, 0, 0, msg);
	}
	return 0;
}
