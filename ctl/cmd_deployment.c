/* ovrctl deployment get and watch: one deployment, its nodes, and its progress live. */
#include "args.h"
#include "cmd.h"
#include "ctl.h"
#include "overseer/v1/apps.pb-c.h"
#include "strutil.h"
#include "table.h"
#include "wait.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MESSAGE_WIDTH 100

static const char *const deployment_headers[] = {"ID",    "APP",     "VERSION",  "KIND",  "STATE",
                                                 "ACTOR", "STARTED", "FINISHED", "REASON"};
static const char *const node_headers[] = {"NODE", "STATE", "MESSAGE", "UPDATED"};

/* The deployment's own row, then one row per node. */
static void print_deployment(const Overseer__V1__Deployment *d)
{
	char id[80], app[80], version[24], kind[48], state[48], actor[136], started[64];
	char finished[64], reason[512], node[80], message[MESSAGE_WIDTH + 1], updated[64];
	const char *row[9];
	struct table t;
	size_t i;

	table_init(&t, 9, deployment_headers);
	snprintf(version, sizeof(version), "%lld", (long long)d->version);
	ovr_format_time(started, sizeof(started), d->started_unix_ms);
	ovr_format_time(finished, sizeof(finished), d->finished_unix_ms);
	row[0] = ctl_clean(id, sizeof(id), d->id);
	row[1] = ctl_clean(app, sizeof(app), d->app);
	row[2] = version;
	row[3] = ctl_enum_name(kind, sizeof(kind), &overseer__v1__deployment_kind__descriptor,
	                       d->kind);
	row[4] = ctl_enum_name(state, sizeof(state), &overseer__v1__deployment_state__descriptor,
	                       d->state);
	row[5] = ctl_clean(actor, sizeof(actor), d->actor);
	row[6] = started;
	row[7] = d->finished_unix_ms ? finished : NULL;
	row[8] = ctl_clean(reason, sizeof(reason), d->reason);
	table_add(&t, row);
	table_print(&t, stdout);
	table_free(&t);

	printf("\n");
	if (!d->n_nodes) {
		printf("no node takes part in this deployment\n");
		return;
	}
	table_init(&t, 4, node_headers);
	for (i = 0; i < d->n_nodes; i++) {
		const Overseer__V1__NodeDeployment *n = d->nodes[i];

		ovr_format_time(updated, sizeof(updated), n->updated_unix_ms);
		row[0] = ctl_clean(node, sizeof(node), n->node);
		row[1] = ctl_enum_name(state, sizeof(state),
		                       &overseer__v1__node_deployment_state__descriptor, n->state);
		row[2] = ctl_clean(message, sizeof(message), n->message);
		row[3] = n->updated_unix_ms ? updated : NULL;
		table_add(&t, row);
	}
	table_print(&t, stdout);
	table_free(&t);
}

/* ID (required, once) and, if timeout_ms is not NULL, --timeout DUR. */
static int parse(const struct ctl *ctl, int argc, char **argv, const char **id, int64_t *timeout_ms)
{
	int i, r;

	*id = NULL;
	for (i = 0; i < argc; i++) {
		const char *v;

		if (timeout_ms && (r = args_value(argc, argv, &i, "--timeout", &v)) != 0) {
			if (r < 0)
				return ctl_usage_line(ctl);
			if (ovr_parse_duration(timeout_ms, v) != 0 || *timeout_ms <= 0)
				return ctl_usage(
				        ctl, "--timeout: '%s' is not a duration such as 90s or 10m",
				        v);
			continue;
		}
		if (argv[i][0] == '-' && argv[i][1])
			return ctl_usage(ctl, "unknown flag '%s'", argv[i]);
		if (*id)
			return ctl_usage(ctl, "unexpected argument '%s'", argv[i]);
		*id = argv[i];
	}
	if (!*id || !(*id)[0])
		return ctl_usage(ctl, "a deployment ID is required");
	return 0;
}

int cmd_deployment_get(struct ctl *ctl, int argc, char **argv)
{
	Overseer__V1__GetDeploymentRequest req = OVERSEER__V1__GET_DEPLOYMENT_REQUEST__INIT;
	Overseer__V1__Deployment *d = NULL;
	const char *id;
	int rc;

	if ((rc = parse(ctl, argc, argv, &id, NULL)) != 0)
		return rc;
	req.id = (char *)(uintptr_t)id;
	rc = ctl_call(ctl, "/overseer.v1.Apps/GetDeployment", &req.base,
	              &overseer__v1__deployment__descriptor, (ProtobufCMessage **)&d);
	if (rc)
		return rc;
	if (ctl->output != CTL_OUTPUT_TABLE)
		rc = ctl_print_structured(ctl, &d->base) ? CTL_EXIT_FAIL : CTL_EXIT_OK;
	else
		print_deployment(d);
	protobuf_c_message_free_unpacked(&d->base, NULL);
	return rc;
}

int cmd_deployment_watch(struct ctl *ctl, int argc, char **argv)
{
	Overseer__V1__Deployment start = OVERSEER__V1__DEPLOYMENT__INIT;
	Overseer__V1__Deployment *final = NULL;
	int64_t timeout_ms = WAIT_DEFAULT_TIMEOUT_MS;
	const char *id;
	int rc;

	if ((rc = parse(ctl, argc, argv, &id, &timeout_ms)) != 0)
		return rc;
	start.id = (char *)(uintptr_t)id;
	rc = wait_deployment(ctl, &start, timeout_ms, &final);
	/* -o json|yaml: progress went to stderr; the last state read is the output. */
	if (final && ctl->output != CTL_OUTPUT_TABLE &&
	    ctl_print_structured(ctl, &final->base) != 0)
		rc = CTL_EXIT_FAIL;
	if (final)
		protobuf_c_message_free_unpacked(&final->base, NULL);
	return rc;
}
