/* Text output shared by ovrctl's app commands. */
#include "appout.h"

#include "closure_flags.h"
#include "ctl.h"
#include "strutil.h"
#include "table.h"

#include <stdio.h>
#include <string.h>

const char *appout_targets(char *buf, size_t size, const Overseer__V1__Targets *t)
{
	size_t i, used = 0;
	int w;

	if (size == 0)
		return buf;
	buf[0] = '\0';
	if (!t)
		return buf;
	for (i = 0; i < t->n_nodes && used < size; i++) {
		w = snprintf(buf + used, size - used, "%s%s", i ? "," : "", t->nodes[i]);
		if (w < 0)
			break;
		used += (size_t)w;
	}
	if (t->selector[0] && used < size)
		snprintf(buf + used, size - used, "%sselector %s", used ? " " : "", t->selector);
	return buf;
}

/* A finding's parts, cleaned for a terminal: where is "FILE:LINE" (or "FILE" without a line). */
struct finding_text {
	char where[320], severity[32], service[80], message[1024], rule[80], fix[1024];
};

static void finding_text(struct finding_text *t, const char *file,
                         const Overseer__V1__LintFinding *f)
{
	const char *message = f->message;
	char name[256];
	size_t n;

	if (!file)
		file = "compose.yaml";
	else if (strcmp(file, "-") == 0)
		file = "<stdin>";
	ctl_clean(name, sizeof(name), file);
	if (f->line > 0)
		snprintf(t->where, sizeof(t->where), "%s:%d", name, f->line);
	else
		snprintf(t->where, sizeof(t->where), "%s", name);
	ctl_clean(t->severity, sizeof(t->severity), f->severity[0] ? f->severity : "warning");
	ctl_clean(t->service, sizeof(t->service), f->service);
	/* The server's messages start with "service web: ": the formats below name it once. */
	n = strlen(f->service);
	if (n && strncmp(f->message, "service ", 8) == 0 &&
	    strncmp(f->message + 8, f->service, n) == 0 &&
	    strncmp(f->message + 8 + n, ": ", 2) == 0)
		message += 8 + n + 2;
	ctl_clean(t->message, sizeof(t->message), message);
	ctl_clean(t->rule, sizeof(t->rule), f->rule);
	ctl_clean(t->fix, sizeof(t->fix), f->fix);
}

/* Both forms: deploy's "warning: FILE:LINE: service S: message (rule)", lint's compiler style. */
static void print_findings(FILE *fp, const char *file, size_t n,
                           Overseer__V1__LintFinding *const *findings, int lint)
{
	struct finding_text t;
	size_t i;

	for (i = 0; i < n; i++) {
		finding_text(&t, file, findings[i]);
		if (lint)
			fprintf(fp, "%s: %s: %s%s%s%s%s%s\n", t.where, t.severity,
			        t.rule[0] ? "[" : "", t.rule, t.rule[0] ? "] " : "", t.service,
			        t.service[0] ? ": " : "", t.message);
		else
			fprintf(fp, "%s: %s: %s%s%s%s%s%s%s\n", t.severity, t.where,
			        t.service[0] ? "service " : "", t.service, t.service[0] ? ": " : "",
			        t.message, t.rule[0] ? " (" : "", t.rule, t.rule[0] ? ")" : "");
		if (t.fix[0])
			fprintf(fp, "  fix: %s\n", t.fix);
	}
}

void appout_findings(FILE *fp, const char *file, size_t n,
                     Overseer__V1__LintFinding *const *findings)
{
	print_findings(fp, file, n, findings, 0);
}

void appout_lint_findings(FILE *fp, const char *file, size_t n,
                          Overseer__V1__LintFinding *const *findings)
{
	print_findings(fp, file, n, findings, 1);
}

void appout_closure(FILE *fp, const Overseer__V1__AppVersion *v)
{
	char text[1024], clean[1024];
	size_t i;

	for (i = 0; i < v->n_secrets; i++)
		fprintf(fp, "%-13s%s\n", i ? "" : "Secrets:",
		        ctl_clean(clean, sizeof(clean),
		                  closure_flags_format_secret(text, sizeof(text), v->secrets[i])));
	for (i = 0; i < v->n_routes; i++)
		fprintf(fp, "%-13s%s\n", i ? "" : "Routes:",
		        ctl_clean(clean, sizeof(clean),
		                  closure_flags_format_route(text, sizeof(text), v->routes[i])));
}

void appout_version_created(const Overseer__V1__AppVersion *v, const Overseer__V1__Deployment *d,
                            const char *what)
{
	if (d && d->id[0])
		printf("app %s: version %lld %s (deployment %s started)\n", v->app,
		       (long long)v->version, what, d->id);
	else
		printf("app %s: version %lld %s\n", v->app, (long long)v->version, what);
}

static const char *const app_headers[] = {"NAME",    "STATUS", "VERSION", "LAST-KNOWN-GOOD",
                                          "TARGETS", "UPDATED"};

void appout_apps(Overseer__V1__App *const *apps, size_t n)
{
	char status[64], current[24], lkg[24], targets[1024], updated[64];
	const char *row[6];
	struct table t;
	size_t i;

	table_init(&t, 6, app_headers);
	for (i = 0; i < n; i++) {
		const Overseer__V1__App *a = apps[i];

		snprintf(current, sizeof(current), "%lld", (long long)a->current_version);
		snprintf(lkg, sizeof(lkg), "%lld", (long long)a->last_known_good_version);
		ovr_format_time(updated, sizeof(updated), a->updated_unix_ms);
		row[0] = a->name;
		row[1] = ctl_enum_name(status, sizeof(status),
		                       &overseer__v1__app_status__descriptor, a->status);
		row[2] = a->current_version ? current : NULL;
		row[3] = a->last_known_good_version ? lkg : NULL;
		row[4] = appout_targets(targets, sizeof(targets), a->targets);
		row[5] = updated;
		table_add(&t, row);
	}
	table_print(&t, stdout);
	table_free(&t);
}

/* "running" or "exited (1)" into buf. */
static const char *container_state(char *buf, size_t size, const Overseer__V1__ContainerState *c)
{
	char state[64];

	ctl_clean(state, sizeof(state), c->state[0] ? c->state : "-");
	if (strcmp(c->state, "exited") == 0 && c->exit_code)
		snprintf(buf, size, "%s (%d)", state, c->exit_code);
	else
		snprintf(buf, size, "%s", state);
	return buf;
}

static const char *const node_headers[] = {"NODE",       "VERSION", "PHASE",
                                           "CONTAINERS", "MESSAGE", "UPDATED"};

/* ", "-joined published ports ("127.0.0.1:8080->8080/tcp") appended to line. */
static void append_ports(char *line, size_t size, const Overseer__V1__ContainerState *c)
{
	char port[96];
	size_t k, len = strlen(line);

	for (k = 0; k < c->n_ports && len + 4 < size; k++) {
		snprintf(line + len, size - len, "%s%s", k ? ", " : "  ",
		         ctl_clean(port, sizeof(port), c->ports[k]));
		len = strlen(line);
	}
}

/*
 * One row per node, its containers under it: service, state, health, restarts when any, and
 * published ports.
 */
void appout_nodes(const Overseer__V1__App *app, FILE *fp)
{
	char version[24], phase[64], counts[48], msg[512], updated[64], line[512];
	char service[80], state[80], health[80];
	int wservice = 7, wstate = 5;
	const char *row[6];
	struct table t;
	size_t i, j;

	for (i = 0; i < app->n_nodes; i++)
		for (j = 0; j < app->nodes[i]->n_containers; j++) {
			const Overseer__V1__ContainerState *c = app->nodes[i]->containers[j];
			int ws = (int)strlen(ctl_clean(service, sizeof(service), c->service));
			int wt = (int)strlen(container_state(state, sizeof(state), c));

			wservice = ws > wservice ? ws : wservice;
			wstate = wt > wstate ? wt : wstate;
		}
	table_init(&t, 6, node_headers);
	for (i = 0; i < app->n_nodes; i++) {
		const Overseer__V1__NodeAppState *n = app->nodes[i];
		size_t running = 0;

		for (j = 0; j < n->n_containers; j++)
			if (strcmp(n->containers[j]->state, "running") == 0)
				running++;
		snprintf(version, sizeof(version), "%lld", (long long)n->version);
		snprintf(counts, sizeof(counts), "%zu/%zu", running, n->n_containers);
		ovr_format_time(updated, sizeof(updated), n->updated_unix_ms);
		row[0] = n->node;
		row[1] = n->version ? version : NULL;
		row[2] = ctl_enum_name(phase, sizeof(phase),
		                       &overseer__v1__node_deployment_state__descriptor, n->phase);
		row[3] = counts;
		row[4] = ctl_clean(msg, sizeof(msg), n->message);
		row[5] = updated;
		table_add(&t, row);
		for (j = 0; j < n->n_containers; j++) {
			const Overseer__V1__ContainerState *c = n->containers[j];
			int w;

			w = snprintf(line, sizeof(line), "  %-*s  %-*s  %s", wservice,
			             ctl_clean(service, sizeof(service), c->service), wstate,
			             container_state(state, sizeof(state), c),
			             c->health[0] ? ctl_clean(health, sizeof(health), c->health)
			                          : "-");
			if (c->restart_count > 0 && w > 0 && (size_t)w < sizeof(line))
				snprintf(line + w, sizeof(line) - (size_t)w, "  (%d restarts)",
				         c->restart_count);
			append_ports(line, sizeof(line), c);
			table_add_detail(&t, line);
		}
	}
	table_print(&t, fp);
	table_free(&t);
}
