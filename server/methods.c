/*
 * The method table. A NULL handler answers UNIMPLEMENTED until its issue lands; every method of
 * proto/overseer/v1 is listed so clients see the whole surface.
 */
#include "methods.h"

#include "overseer/v1/agent.pb-c.h"
#include "overseer/v1/apps.pb-c.h"
#include "overseer/v1/audit.pb-c.h"
#include "overseer/v1/nodes.pb-c.h"
#include "overseer/v1/secrets.pb-c.h"
#include "overseer/v1/tokens.pb-c.h"
#include "svc_agent.h"
#include "svc_apps.h"
#include "svc_audit.h"
#include "svc_lint.h"
#include "svc_logs.h"
#include "svc_nodes.h"
#include "svc_secrets.h"
#include "svc_tokens.h"
#include "svc_watch.h"

#define D(name) &overseer__v1__##name##__descriptor

#define UNARY(svc, rpc, req, resp, fn, auth, verb, path, mut)                                      \
	{                                                                                          \
		"/overseer.v1." svc "/" rpc, RPC_UNARY, D(req), D(resp), fn, NULL, auth, verb,     \
		        path, mut                                                                  \
	}
#define STREAM(kind, svc, rpc, req, resp, ops, auth, verb, path)                                   \
	{                                                                                          \
		"/overseer.v1." svc "/" rpc, kind, D(req), D(resp), NULL, ops, auth, verb, path, 0 \
	}

const struct rpc_method server_methods[] = {
        /* Apps */
        UNARY("Apps", "CreateApp", create_app_request, create_app_response, svc_apps_create,
              RPC_AUTH_DEPLOYER, "POST", "/api/apps", 1),
        UNARY("Apps", "GetApp", get_app_request, app, svc_apps_get, RPC_AUTH_VIEWER, "GET",
              "/api/apps/{name}", 0),
        UNARY("Apps", "ListApps", list_apps_request, list_apps_response, svc_apps_list,
              RPC_AUTH_VIEWER, "GET", "/api/apps", 0),
        UNARY("Apps", "UpdateApp", update_app_request, app, svc_apps_update, RPC_AUTH_DEPLOYER,
              "PATCH", "/api/apps/{name}", 1),
        UNARY("Apps", "DeleteApp", delete_app_request, delete_app_response, svc_apps_delete,
              RPC_AUTH_ADMIN, "DELETE", "/api/apps/{name}", 1),
        UNARY("Apps", "DeployApp", deploy_app_request, deploy_app_response, svc_apps_deploy,
              RPC_AUTH_DEPLOYER, "POST", "/api/apps/{name}/deploy", 1),
        UNARY("Apps", "ListVersions", list_versions_request, list_versions_response,
              svc_apps_list_versions, RPC_AUTH_VIEWER, "GET", "/api/apps/{name}/versions", 0),
        UNARY("Apps", "GetVersion", get_version_request, app_version, svc_apps_get_version,
              RPC_AUTH_VIEWER, "GET", "/api/apps/{name}/versions/{version}", 0),
        UNARY("Apps", "DiffVersions", diff_versions_request, diff_versions_response, svc_apps_diff,
              RPC_AUTH_VIEWER, "GET", "/api/apps/{name}/diff", 0),
        UNARY("Apps", "RollbackApp", rollback_app_request, rollback_app_response, svc_apps_rollback,
              RPC_AUTH_DEPLOYER, "POST", "/api/apps/{name}/rollback", 1),
        UNARY("Apps", "GetDeployment", get_deployment_request, deployment, svc_apps_get_deployment,
              RPC_AUTH_VIEWER, "GET", "/api/deployments/{id}", 0),
        STREAM(RPC_SERVER_STREAM, "Apps", "WatchDeployment", watch_deployment_request,
               deployment_event, &svc_watch_ops, RPC_AUTH_VIEWER, "GET",
               "/api/deployments/{id}/watch"),
        STREAM(RPC_SERVER_STREAM, "Apps", "StreamLogs", stream_logs_request, log_line,
               &svc_logs_ops, RPC_AUTH_DEPLOYER, "GET", "/api/apps/{app}/logs"),
        UNARY("Apps", "LintCompose", lint_compose_request, lint_compose_response, svc_lint_compose,
              RPC_AUTH_VIEWER, "POST", "/api/lint", 0),
        UNARY("Apps", "GetEndpoints", get_endpoints_request, get_endpoints_response,
              svc_apps_endpoints, RPC_AUTH_VIEWER, "GET", "/api/apps/{name}/endpoints", 0),

        /* Nodes */
        UNARY("Nodes", "ListNodes", list_nodes_request, list_nodes_response, svc_nodes_list,
              RPC_AUTH_VIEWER, "GET", "/api/nodes", 0),
        UNARY("Nodes", "GetNode", get_node_request, node, svc_nodes_get, RPC_AUTH_VIEWER, "GET",
              "/api/nodes/{name}", 0),
        UNARY("Nodes", "CreateJoinToken", create_join_token_request, create_join_token_response,
              svc_nodes_create_join_token, RPC_AUTH_ADMIN, "POST", "/api/nodes/tokens", 1),
        UNARY("Nodes", "RevokeNode", revoke_node_request, node, svc_nodes_revoke, RPC_AUTH_ADMIN,
              "POST", "/api/nodes/{name}/revoke", 1),
        UNARY("Nodes", "SetNodeLabels", set_node_labels_request, node, svc_nodes_set_labels,
              RPC_AUTH_ADMIN, "PUT", "/api/nodes/{name}/labels", 1),

        /* Secrets */
        UNARY("Secrets", "PutSecret", put_secret_request, secret, svc_secrets_put, RPC_AUTH_ADMIN,
              "PUT", "/api/secrets/{name}", 1),
        UNARY("Secrets", "ListSecrets", list_secrets_request, list_secrets_response,
              svc_secrets_list, RPC_AUTH_ADMIN, "GET", "/api/secrets", 0),
        UNARY("Secrets", "DeleteSecret", delete_secret_request, delete_secret_response,
              svc_secrets_delete, RPC_AUTH_ADMIN, "DELETE", "/api/secrets/{name}", 1),

        /* Audit */
        UNARY("Audit", "ListEvents", list_events_request, list_events_response, svc_audit_list,
              RPC_AUTH_ADMIN, "GET", "/api/audit", 0),
        UNARY("Audit", "VerifyChain", verify_chain_request, verify_chain_response, svc_audit_verify,
              RPC_AUTH_ADMIN, "POST", "/api/audit/verify", 0),

        /* Tokens */
        UNARY("Tokens", "CreateToken", create_token_request, create_token_response,
              svc_tokens_create, RPC_AUTH_ADMIN, "POST", "/api/tokens", 1),
        UNARY("Tokens", "ListTokens", list_tokens_request, list_tokens_response, svc_tokens_list,
              RPC_AUTH_ADMIN, "GET", "/api/tokens", 0),
        UNARY("Tokens", "RevokeToken", revoke_token_request, api_token, svc_tokens_revoke,
              RPC_AUTH_ADMIN, "POST", "/api/tokens/{name}/revoke", 1),

        /* AgentService: agents only, never over REST */
        UNARY("AgentService", "Enroll", enroll_request, enroll_response, svc_agent_enroll,
              RPC_AUTH_PUBLIC, NULL, NULL, 1),
        STREAM(RPC_BIDI_STREAM, "AgentService", "Connect", agent_message, server_message,
               &svc_agent_connect_ops, RPC_AUTH_NODE, NULL, NULL),
        UNARY("AgentService", "Renew", renew_request, renew_response, svc_agent_renew,
              RPC_AUTH_NODE, NULL, NULL, 1),
};

const size_t server_methods_count = sizeof(server_methods) / sizeof(server_methods[0]);
