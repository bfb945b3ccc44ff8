/* ovrctl node ...: join tokens, listing, labels and revocation. */
#include "args.h"
#include "cmd.h"
#include "ctl.h"
#include "err.h"
#include "overseer/v1/nodes.pb-c.h"
#include "strutil.h"
#include "table.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LABELS_MAX 64

static const char *state_name(Overseer__V1__NodeState s)
{
	switch (s) {
	case OVERSEER__V1__NODE_STATE__NODE_STATE_CONNECTED:
		return "connected";
	case OVERSEER__V1__NODE_STATE__NODE_STATE_DISCONNECTED:
		return "disconnected";
	case OVERSEER__V1__NODE_STATE__NODE_STATE_REVOKED:
		return "revoked";
	default:
		return "unknown";
	}
}

/* Map entries from repeated --label K=V arguments; storage in the caller's arrays. */
struct label_args {
	Overseer__V1__CreateJoinTokenRequest__LabelsEntry entries[LABELS_MAX];
	Overseer__V1__CreateJoinTokenRequest__LabelsEntry *ptrs[LABELS_MAX];
	char keys[LABELS_MAX][64];
	size_t n;
};

static int label_add(struct label_args *l, const char *text)
{
	const char *value;

	if (l->n >= LABELS_MAX)
		return ctl_usage_error("at most %d labels", LABELS_MAX);
	if (args_key_value(text, l->keys[l->n], sizeof(l->keys[0]), &value) != 0)
		return ctl_usage_error("label '%s' is not KEY=VALUE", text);
	overseer__v1__create_join_token_request__labels_entry__init(&l->entries[l->n]);
	l->entries[l->n].key = l->keys[l->n];
	l->entries[l->n].value = (char *)(uintptr_t)value;
	l->ptrs[l->n] = &l->entries[l->n];
	l->n++;
	return 0;
}

static void labels_text(char *buf, size_t size, size_t n, void *const *entries)
{
	size_t i, used = 0;

	buf[0] = '\0';
	for (i = 0; i < n && used < size; i++) {
		const Overseer__V1__Node__LabelsEntry *e = entries[i];
		int w = snprintf(buf + used, size - used, "%s%s=%s", i ? "," : "", e->key,
		                 e->value);

		if (w < 0)
			break;
		used += (size_t)w;
	}
}

int cmd_node_token(struct ctl *ctl, int argc, char **argv)
{
	Overseer__V1__CreateJoinTokenRequest req = OVERSEER__V1__CREATE_JOIN_TOKEN_REQUEST__INIT;
	Overseer__V1__CreateJoinTokenResponse *resp = NULL;
	struct label_args labels;
	const char *v;
	char when[64];
	int i, r, rc;

	memset(&labels, 0, sizeof(labels));
	if (argc < 1 || strcmp(argv[0], "create") != 0)
		return ctl_usage_error(
		        "usage: ovrctl node token create --name NAME [--label K=V]... "
		        "[--ttl 15m]");
	for (i = 1; i < argc; i++) {
		if ((r = args_value(argc, argv, &i, "--name", &v)) != 0) {
			if (r < 0)
				return CTL_EXIT_USAGE;
			req.name = (char *)(uintptr_t)v;
		} else if ((r = args_value(argc, argv, &i, "--label", &v)) != 0) {
			if (r < 0 || label_add(&labels, v) != 0)
				return CTL_EXIT_USAGE;
		} else if ((r = args_value(argc, argv, &i, "--ttl", &v)) != 0) {
			if (r < 0)
				return CTL_EXIT_USAGE;
			if (ovr_parse_duration(&req.ttl_ms, v) != 0)
				return ctl_usage_error("--ttl: %s", ovr_err_msg(OVR_ERR_INVALID));
		} else {
			return ctl_usage_error("node token create: unexpected '%s'", argv[i]);
		}
	}
	if (!req.name[0])
		return ctl_usage_error("node token create: --name NAME is required");
	req.n_labels = labels.n;
	req.labels = labels.ptrs;
	rc = ctl_call(ctl, "/overseer.v1.Nodes/CreateJoinToken", &req.base,
	              &overseer__v1__create_join_token_response__descriptor,
	              (ProtobufCMessage **)&resp);
	if (rc)
		return rc;
	if (ctl_print_structured(ctl, &resp->base) == 1) {
		ovr_format_time(when, sizeof(when), resp->expires_unix_ms);
		printf("%s\n", resp->token);
		fprintf(stderr,
		        "Join token for node '%s' (single use, expires %s). On the node run:\n"
		        "  ovr-agent enroll --server %s --token <the token above>\n",
		        resp->node_name, when, ctl->server);
	}
	protobuf_c_message_free_unpacked(&resp->base, NULL);
	return CTL_EXIT_OK;
}

static void node_row(struct table *t, const Overseer__V1__Node *n)
{
	char seen[64], labels[512], addrs[512] = "";
	const char *row[9];
	size_t i, used = 0;

	ovr_format_time(seen, sizeof(seen), n->last_seen_unix_ms);
	labels_text(labels, sizeof(labels), n->n_labels, (void *const *)n->labels);
	for (i = 0; i < n->n_addresses && used < sizeof(addrs); i++) {
		int w = snprintf(addrs + used, sizeof(addrs) - used, "%s%s", i ? "," : "",
		                 n->addresses[i]);

		if (w < 0)
			break;
		used += (size_t)w;
	}
	row[0] = n->name;
	row[1] = n->id;
	row[2] = state_name(n->state);
	row[3] = seen;
	row[4] = labels;
	row[5] = addrs;
	row[6] = n->agent_version;
	row[7] = n->docker_version;
	row[8] = n->compose_version;
	table_add(t, row);
}

static const char *const node_headers[] = {"NAME",      "ID",    "STATE",  "LAST SEEN", "LABELS",
                                           "ADDRESSES", "AGENT", "DOCKER", "COMPOSE"};

int cmd_node_ls(struct ctl *ctl, int argc, char **argv)
{
	Overseer__V1__ListNodesRequest req = OVERSEER__V1__LIST_NODES_REQUEST__INIT;
	Overseer__V1__ListNodesResponse *resp = NULL;
	struct table t;
	const char *v;
	size_t i;
	int a, r, rc;

	for (a = 0; a < argc; a++) {
		if ((r = args_value(argc, argv, &a, "--selector", &v)) != 0) {
			if (r < 0)
				return CTL_EXIT_USAGE;
			req.selector = (char *)(uintptr_t)v;
		} else {
			return ctl_usage_error("node ls: unexpected '%s'", argv[a]);
		}
	}
	req.page_size = 1000;
	rc = ctl_call(ctl, "/overseer.v1.Nodes/ListNodes", &req.base,
	              &overseer__v1__list_nodes_response__descriptor, (ProtobufCMessage **)&resp);
	if (rc)
		return rc;
	if (ctl_print_structured(ctl, &resp->base) == 1) {
		table_init(&t, 9, node_headers);
		for (i = 0; i < resp->n_nodes; i++)
			node_row(&t, resp->nodes[i]);
		table_print(&t, stdout);
		table_free(&t);
		if (resp->next_page_token[0])
			fprintf(stderr, "(more nodes not shown: narrow with --selector)\n");
	}
	protobuf_c_message_free_unpacked(&resp->base, NULL);
	return CTL_EXIT_OK;
}

/* Shared by get, revoke and label: prints one node. */
static int print_node(struct ctl *ctl, Overseer__V1__Node *n)
{
	struct table t;

	if (ctl_print_structured(ctl, &n->base) == 1) {
		table_init(&t, 9, node_headers);
		node_row(&t, n);
		table_print(&t, stdout);
		table_free(&t);
	}
	protobuf_c_message_free_unpacked(&n->base, NULL);
	return CTL_EXIT_OK;
}

int cmd_node_get(struct ctl *ctl, int argc, char **argv)
{
	Overseer__V1__GetNodeRequest req = OVERSEER__V1__GET_NODE_REQUEST__INIT;
	Overseer__V1__Node *n = NULL;
	int rc;

	if (argc != 1)
		return ctl_usage_error("usage: ovrctl node get NAME");
	req.name = argv[0];
	rc = ctl_call(ctl, "/overseer.v1.Nodes/GetNode", &req.base, &overseer__v1__node__descriptor,
	              (ProtobufCMessage **)&n);
	return rc ? rc : print_node(ctl, n);
}

int cmd_node_revoke(struct ctl *ctl, int argc, char **argv)
{
	Overseer__V1__RevokeNodeRequest req = OVERSEER__V1__REVOKE_NODE_REQUEST__INIT;
	Overseer__V1__Node *n = NULL;
	int rc;

	if (argc != 1)
		return ctl_usage_error("usage: ovrctl node revoke NAME");
	req.name = argv[0];
	rc = ctl_call(ctl, "/overseer.v1.Nodes/RevokeNode", &req.base,
	              &overseer__v1__node__descriptor, (ProtobufCMessage **)&n);
	return rc ? rc : print_node(ctl, n);
}

int cmd_node_label(struct ctl *ctl, int argc, char **argv)
{
	Overseer__V1__SetNodeLabelsRequest req = OVERSEER__V1__SET_NODE_LABELS_REQUEST__INIT;
	Overseer__V1__Node *n = NULL;
	struct label_args labels;
	int i, rc;

	memset(&labels, 0, sizeof(labels));
	if (argc < 1)
		return ctl_usage_error("usage: ovrctl node label NAME [K=V]...");
	req.name = argv[0];
	for (i = 1; i < argc; i++)
		if (label_add(&labels, argv[i]) != 0)
			return CTL_EXIT_USAGE;
	req.n_labels = labels.n;
	req.labels = (Overseer__V1__SetNodeLabelsRequest__LabelsEntry **)labels.ptrs;
	rc = ctl_call(ctl, "/overseer.v1.Nodes/SetNodeLabels", &req.base,
	              &overseer__v1__node__descriptor, (ProtobufCMessage **)&n);
	return rc ? rc : print_node(ctl, n);
}

int cmd_version(struct ctl *ctl, int argc, char **argv)
{
	/* "version show NAME N" is another command: anything else after "version" is a typo. */
	if (argc > 0)
		return ctl_usage(ctl, "unknown command 'version %s'", argv[0]);
	printf("ovrctl %s\n", OVR_VERSION);
	return CTL_EXIT_OK;
}
