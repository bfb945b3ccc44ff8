/* The Nodes service: list, inspect, label and revoke nodes; join tokens to enroll new ones. */
#include "svc_nodes.h"

#include "db_node.h"
#include "db_token.h"
#include "err.h"
#include "hub.h"
#include "labels.h"
#include "log.h"
#include "overseer/v1/nodes.pb-c.h"
#include "revoked.h"
#include "server.h"
#include "strutil.h"
#include "token.h"
#include "svc_page.h"

#include <string.h>

#define JOIN_TTL_MIN_MS (60LL * 1000)
#define JOIN_TTL_MAX_MS (7LL * 24 * 3600 * 1000)

int64_t svc_nodes_stale_ms(void)
{
	return 3 * server_get()->settings.heartbeat_interval_ms;
}

/* Page size from a request: default when 0, INVALID when negative or too large. */
static int node_ref_valid(const char *name)
{
	if (!name || !name[0])
		return ovr_err_set(OVR_ERR_INVALID, "name: a node name or id is required");
	if (strlen(name) > 63)
		return ovr_err_set(OVR_ERR_INVALID, "name: at most 63 characters");
	return 0;
}

int svc_nodes_list(struct rpc_call *call, const void *req_, void *resp_)
{
	const Overseer__V1__ListNodesRequest *req = req_;
	Overseer__V1__ListNodesResponse *resp = resp_;
	struct arena *a = rpc_call_arena(call);
	char *selector = NULL;
	const char *after = NULL;
	int limit = SVC_PAGE_DEFAULT;
	int err;

	err = svc_page_size(&limit, req->page_size);
	if (err)
		return err;
	err = svc_page_after_name(&after, req->page_token);
	if (err)
		return err;
	if (req->selector[0]) {
		err = labels_selector_to_json(a, req->selector, &selector);
		if (err)
			return err;
	}
	err = db_node_list(server_db(), a, svc_nodes_stale_ms(), selector, after, limit + 1,
	                   &resp->nodes, &resp->n_nodes);
	if (err)
		return err;
	if (resp->n_nodes > (size_t)limit) {
		resp->n_nodes = (size_t)limit;
		resp->next_page_token = resp->nodes[limit - 1]->name;
	}
	return 0;
}

int svc_nodes_get(struct rpc_call *call, const void *req_, void *resp_)
{
	const Overseer__V1__GetNodeRequest *req = req_;
	Overseer__V1__Node *node = NULL;
	int err;

	err = node_ref_valid(req->name);
	if (err)
		return err;
	err = db_node_get(server_db(), rpc_call_arena(call), svc_nodes_stale_ms(), req->name,
	                  &node);
	if (err)
		return err;
	*(Overseer__V1__Node *)resp_ = *node;
	return 0;
}

int svc_nodes_create_join_token(struct rpc_call *call, const void *req_, void *resp_)
{
	const Overseer__V1__CreateJoinTokenRequest *req = req_;
	Overseer__V1__CreateJoinTokenResponse *resp = resp_;
	struct server *srv = server_get();
	struct arena *a = rpc_call_arena(call);
	unsigned char hash[CRYPTO_SHA256_LEN];
	struct token_parts parts;
	char *text;
	int64_t ttl = req->ttl_ms ? req->ttl_ms : srv->settings.join_token_ttl_ms;
	int64_t expires;
	int err;

	if (!ovr_name_valid(req->name))
		return ovr_err_set(
		        OVR_ERR_INVALID,
		        "name: '%.80s' is not a valid node name (lowercase letters, digits "
		        "and '-', starting with a letter, at most 63)",
		        req->name);
	err = labels_validate(req->n_labels, (void *const *)req->labels);
	if (err)
		return err;
	if (ttl < JOIN_TTL_MIN_MS || ttl > JOIN_TTL_MAX_MS)
		return ovr_err_set(OVR_ERR_INVALID, "ttl: must be between 1m and 7d");
	text = arena_alloc(a, TOKEN_JOIN_LEN);
	err = token_join_new(text, &parts, hash, srv->ca_fingerprint);
	if (err)
		return err;
	expires = ovr_now_ms() + ttl;
	err = db_join_token_create(server_db(), parts.id, hash, req->name,
	                           labels_to_json(a, req->n_labels, (void *const *)req->labels),
	                           rpc_call_identity(call)->name, expires);
	if (!err) {
		resp->token = text;
		resp->token_id = arena_strdup(a, parts.id);
		resp->node_name = arena_strdup(a, req->name);
		resp->expires_unix_ms = expires;
		resp->ca_fingerprint = srv->ca_fingerprint;
		log_info("join token created id=%s node=%s by=%s", parts.id, req->name,
		         rpc_call_identity(call)->name);
	}
	token_parts_wipe(&parts);
	return err;
}

int svc_nodes_revoke(struct rpc_call *call, const void *req_, void *resp_)
{
	const Overseer__V1__RevokeNodeRequest *req = req_;
	Overseer__V1__Node *node = NULL;
	char id[64], serial[PKI_SERIAL_LEN];
	int err;

	err = node_ref_valid(req->name);
	if (err)
		return err;
	err = db_node_revoke(server_db(), req->name, id, sizeof(id), serial, sizeof(serial));
	if (err)
		return err;
	revoked_add(serial);
	if (hub_disconnect(id, OVR_ERR_PERMISSION, "node revoked"))
		log_info("closed the stream of revoked node id=%s", id);
	log_info("node revoked id=%s serial=%s by=%s", id, serial, rpc_call_identity(call)->name);
	err = db_node_get(server_db(), rpc_call_arena(call), svc_nodes_stale_ms(), id, &node);
	if (err)
		return err;
	*(Overseer__V1__Node *)resp_ = *node;
	return 0;
}

int svc_nodes_set_labels(struct rpc_call *call, const void *req_, void *resp_)
{
	const Overseer__V1__SetNodeLabelsRequest *req = req_;
	struct arena *a = rpc_call_arena(call);
	Overseer__V1__Node *node = NULL;
	int err;

	err = node_ref_valid(req->name);
	if (!err)
		err = labels_validate(req->n_labels, (void *const *)req->labels);
	if (!err)
		err = db_node_set_labels(
		        server_db(), req->name,
		        labels_to_json(a, req->n_labels, (void *const *)req->labels));
	if (!err)
		err = db_node_get(server_db(), a, svc_nodes_stale_ms(), req->name, &node);
	if (err)
		return err;
	*(Overseer__V1__Node *)resp_ = *node;
	return 0;
}
