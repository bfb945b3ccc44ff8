/*
 * The Tokens service. A token's value exists only in the CreateToken response: the database
 * keeps the SHA-256 of its secret, and no log line, list or error ever shows it.
 */
#include "svc_tokens.h"

#include "crypto.h"
#include "db_token.h"
#include "err.h"
#include "log.h"
#include "overseer/v1/tokens.pb-c.h"
#include "server.h"
#include "strutil.h"
#include "token.h"
#include "svc_page.h"

#include <string.h>

#define REQUEST_ID_MAX 128

int svc_tokens_expiry(int64_t *expires_ms, int64_t now_ms, int64_t ttl_ms)
{
	if (ttl_ms != 0 && (ttl_ms < SVC_TOKENS_TTL_MIN_MS || ttl_ms > SVC_TOKENS_TTL_MAX_MS))
		return ovr_err_set(OVR_ERR_INVALID,
		                   "ttl: must be 0 (no expiry) or between 1m and 3650d (10 years)");
	*expires_ms = ttl_ms ? now_ms + ttl_ms : 0;
	return 0;
}

static int token_name_check(const char *name)
{
	if (!name || !name[0])
		return ovr_err_set(OVR_ERR_INVALID, "name: a token name is required");
	if (!ovr_name_valid(name))
		return ovr_err_set(OVR_ERR_INVALID,
		                   "name: '%.80s' is not a valid token name (lowercase letters, "
		                   "digits and '-', starting with a letter, at most 63)",
		                   name);
	return 0;
}

static int request_id_check(const char *request_id)
{
	if (request_id && strlen(request_id) > REQUEST_ID_MAX)
		return ovr_err_set(OVR_ERR_INVALID, "request_id: at most %d bytes", REQUEST_ID_MAX);
	return 0;
}

int svc_tokens_create(struct rpc_call *call, const void *req_, void *resp_)
{
	const Overseer__V1__CreateTokenRequest *req = req_;
	Overseer__V1__CreateTokenResponse *resp = resp_;
	const char *actor = rpc_call_identity(call)->name;
	const char *role = db_api_token_role_text(req->role);
	struct arena *a = rpc_call_arena(call);
	unsigned char hash[CRYPTO_SHA256_LEN];
	struct token_parts parts;
	int64_t expires = 0;
	char *text;
	int err;

	err = token_name_check(req->name);
	if (!err && !role)
		err = ovr_err_set(OVR_ERR_INVALID,
		                  "role: ROLE_VIEWER, ROLE_DEPLOYER or ROLE_ADMIN is required");
	if (!err)
		err = svc_tokens_expiry(&expires, ovr_now_ms(), req->ttl_ms);
	if (!err)
		err = request_id_check(req->request_id);
	if (err)
		return err;
	text = arena_alloc(a, TOKEN_API_LEN);
	err = token_api_new(text, &parts, hash);
	if (!err)
		err = db_api_token_create(server_db(), parts.id, hash, req->name, role, actor,
		                          expires);
	token_parts_wipe(&parts);
	crypto_wipe(hash, sizeof(hash));
	if (!err)
		err = db_api_token_read(server_db(), a, req->name, &resp->token);
	if (err) {
		crypto_wipe(text, TOKEN_API_LEN);
		return err;
	}
	resp->secret = text;
	log_info("api token created name=%s id=%s role=%s expires_ms=%lld by=%s", req->name,
	         resp->token->id, role, (long long)expires, actor);
	return 0;
}

int svc_tokens_list(struct rpc_call *call, const void *req_, void *resp_)
{
	const Overseer__V1__ListTokensRequest *req = req_;
	Overseer__V1__ListTokensResponse *resp = resp_;
	const char *after = NULL;
	int limit = SVC_PAGE_DEFAULT;
	int err;

	err = svc_page_size(&limit, req->page_size);
	if (!err)
		err = svc_page_after_name(&after, req->page_token);
	if (err)
		return err;
	err = db_api_token_list(server_db(), rpc_call_arena(call), after, limit + 1, &resp->tokens,
	                        &resp->n_tokens);
	if (err)
		return err;
	if (resp->n_tokens > (size_t)limit) {
		resp->n_tokens = (size_t)limit;
		resp->next_page_token = resp->tokens[limit - 1]->name;
	}
	return 0;
}

int svc_tokens_revoke(struct rpc_call *call, const void *req_, void *resp_)
{
	const Overseer__V1__RevokeTokenRequest *req = req_;
	const char *actor = rpc_call_identity(call)->name;
	Overseer__V1__ApiToken *t = NULL;
	int err;

	err = token_name_check(req->name);
	if (!err)
		err = request_id_check(req->request_id);
	if (!err)
		err = db_api_token_revoke(server_db(), rpc_call_arena(call), req->name, &t);
	if (err)
		return err;
	/* Every call looks its token up again: the next one made with it is refused. */
	log_info("api token revoked name=%s id=%s by=%s", t->name, t->id, actor);
	*(Overseer__V1__ApiToken *)resp_ = *t;
	return 0;
}
