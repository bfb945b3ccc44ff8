/* Who is calling: bearer tokens for operators, verified certificates for nodes, and roles. */
#include "auth.h"

#include "db_node.h"
#include "db_token.h"
#include "err.h"
#include "log.h"
#include "pki.h"
#include "revoked.h"
#include "server.h"
#include "strutil.h"
#include "token.h"

#include <string.h>

/* How stale api_tokens.last_used_at may be: ListTokens shows it to the minute. */
#define LAST_USED_EVERY_MS (60 * 1000)

static const char *const role_names[] = {"public", "node", "viewer", "deployer", "admin"};

int auth_role_parse(const char *name)
{
	int i;

	for (i = RPC_AUTH_VIEWER; i <= RPC_AUTH_ADMIN; i++)
		if (strcmp(name, role_names[i]) == 0)
			return i;
	return -1;
}

const char *auth_role_name(enum rpc_auth role)
{
	return role_names[role];
}

/* A node: its identity is the verified certificate's CN; the database must agree it is current. */
static int auth_node(struct rpc_call *call, struct rpc_identity *id)
{
	const char *pem = rpc_call_peer_cert(call);
	struct pki_cert_info info;
	struct db_node_auth node;
	int err;

	if (!pem)
		return ovr_err_set(
		        OVR_ERR_UNAUTHENTICATED,
		        "a node certificate is required (enroll with 'ovr-agent enroll')");
	err = pki_cert_info(&info, pem);
	if (err)
		return ovr_err_set(OVR_ERR_UNAUTHENTICATED, "client certificate unreadable");
	if (revoked_contains(info.serial))
		return ovr_err_set(OVR_ERR_PERMISSION, "node %s: certificate %s has been revoked",
		                   info.common_name, info.serial);
	err = db_node_auth(server_db(), info.common_name, &node);
	if (err == OVR_ERR_NOT_FOUND)
		return ovr_err_set(OVR_ERR_PERMISSION,
		                   "certificate names node %s, which does not exist",
		                   info.common_name);
	if (err)
		return err;
	if (!node.active)
		return ovr_err_set(OVR_ERR_PERMISSION, "node %s has been revoked",
		                   info.common_name);
	if (strcmp(node.serial, info.serial) != 0 && strcmp(node.prev_serial, info.serial) != 0)
		return ovr_err_set(OVR_ERR_PERMISSION,
		                   "node %s: certificate %s has been replaced by a newer one",
		                   info.common_name, info.serial);
	/* The node uses its renewed certificate: the one before it is no longer needed. */
	if (node.prev_serial[0] && strcmp(node.serial, info.serial) == 0 &&
	    db_node_retire_prev_serial(server_db(), info.common_name, node.prev_serial) == 0) {
		revoked_add(node.prev_serial);
		log_info("node %s uses its renewed certificate; revoked %s", info.common_name,
		         node.prev_serial);
	}
	id->kind = RPC_IDENTITY_NODE;
	id->role = RPC_AUTH_NODE;
	ovr_strlcpy(id->name, info.common_name, sizeof(id->name));
	ovr_strlcpy(id->cert_serial, info.serial, sizeof(id->cert_serial));
	return 0;
}

static int auth_token(struct rpc_call *call, struct rpc_identity *id, enum rpc_auth required)
{
	const char *bearer = rpc_call_bearer(call);
	const struct rpc_method *m = rpc_call_method(call);
	unsigned char hash[CRYPTO_SHA256_LEN];
	struct token_parts parts;
	struct db_api_token tok;
	char token_id[TOKEN_ID_HEX + 1];
	int role;
	int err;

	if (!bearer)
		return ovr_err_set(
		        OVR_ERR_UNAUTHENTICATED,
		        "missing bearer token: pass --token or set OVR_TOKEN (gRPC metadata "
		        "'authorization: Bearer <token>')");
	err = token_api_parse(&parts, bearer);
	if (err)
		return err;
	token_secret_hash(hash, &parts);
	ovr_strlcpy(token_id, parts.id, sizeof(token_id));
	token_parts_wipe(&parts);
	err = db_api_token_get(server_db(), token_id, &tok);
	if (err == OVR_ERR_NOT_FOUND ||
	    (!err && !crypto_equal(hash, tok.secret_hash, sizeof(hash))))
		return ovr_err_set(OVR_ERR_UNAUTHENTICATED, "bearer token is not valid");
	if (err)
		return err;
	if (tok.revoked)
		return ovr_err_set(OVR_ERR_UNAUTHENTICATED, "bearer token '%s' has been revoked",
		                   tok.name);
	if (tok.expires_ms && tok.expires_ms <= ovr_now_ms())
		return ovr_err_set(OVR_ERR_UNAUTHENTICATED, "bearer token '%s' has expired",
		                   tok.name);
	/* A used token: cheap to note, at most one write per token and minute. */
	if (ovr_now_ms() - tok.last_used_ms >= LAST_USED_EVERY_MS &&
	    db_api_token_touch(server_db(), token_id) != 0) {
		log_warn("token %s: cannot record its use: %s", tok.name, ovr_err_msg(0));
		ovr_err_clear();
	}
	role = auth_role_parse(tok.role);
	if (role < 0)
		return ovr_err_set(OVR_ERR_INTERNAL, "token '%s' has unknown role", tok.name);
	id->kind = RPC_IDENTITY_TOKEN;
	id->role = (enum rpc_auth)role;
	ovr_strlcpy(id->name, tok.name, sizeof(id->name));
	if (role < (int)required)
		return ovr_err_set(OVR_ERR_PERMISSION, "token '%s' has role %s; %s requires %s",
		                   tok.name, role_names[role], m->path + 1, role_names[required]);
	return 0;
}

int auth_authenticate(struct rpc_call *call, struct rpc_identity *id)
{
	enum rpc_auth required = rpc_call_method(call)->auth;
	int err = server_db_ready();

	if (err)
		return err;
	switch (required) {
	case RPC_AUTH_PUBLIC:
		return 0;
	case RPC_AUTH_NODE:
		return auth_node(call, id);
	default:
		return auth_token(call, id, required);
	}
}
