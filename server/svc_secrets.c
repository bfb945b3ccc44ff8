/*
 * The Secrets service. A value is sealed as soon as it arrives and wiped from the request; no
 * log line, error message or response ever carries it.
 */
#include "svc_secrets.h"

#include "crypto.h"
#include "db_secret.h"
#include "err.h"
#include "log.h"
#include "overseer/v1/secrets.pb-c.h"
#include "secret_box.h"
#include "server.h"
#include "strutil.h"
#include "svc_page.h"

#include <string.h>

static int secret_name_check(const char *name)
{
	if (!name || !name[0])
		return ovr_err_set(OVR_ERR_INVALID, "name: a secret name is required");
	if (!ovr_name_valid(name))
		return ovr_err_set(OVR_ERR_INVALID,
		                   "name: '%.80s' is not a valid secret name (lowercase letters, "
		                   "digits and '-', starting with a letter, at most 63)",
		                   name);
	return 0;
}

int svc_secrets_put(struct rpc_call *call, const void *req_, void *resp_)
{
	const Overseer__V1__PutSecretRequest *req = req_;
	const char *actor = rpc_call_identity(call)->name;
	struct secret_keyring *kr = NULL;
	Overseer__V1__Secret *s = NULL;
	int err;

	err = secret_name_check(req->name);
	if (!err && req->value.len == 0)
		err = ovr_err_set(OVR_ERR_INVALID, "value: a secret value is required");
	if (!err && req->value.len > SECRET_VALUE_MAX)
		err = ovr_err_set(OVR_ERR_TOO_LARGE, "value: at most %d bytes", SECRET_VALUE_MAX);
	if (!err)
		err = server_keyring(&kr);
	if (!err)
		err = db_secret_put(server_db(), rpc_call_arena(call), kr, req->name,
		                    req->value.data, req->value.len, actor, &s);
	/* The request dies with the call, but not necessarily before its memory is reused. */
	if (req->value.data)
		crypto_wipe(req->value.data, req->value.len);
	if (err)
		return err;
	log_info("secret stored name=%s version=%d by=%s", s->name, (int)s->version, actor);
	*(Overseer__V1__Secret *)resp_ = *s;
	return 0;
}

int svc_secrets_list(struct rpc_call *call, const void *req_, void *resp_)
{
	const Overseer__V1__ListSecretsRequest *req = req_;
	Overseer__V1__ListSecretsResponse *resp = resp_;
	const char *after = NULL;
	int limit = SVC_PAGE_DEFAULT;
	int err;

	err = svc_page_size(&limit, req->page_size);
	if (!err)
		err = svc_page_after_name(&after, req->page_token);
	if (err)
		return err;
	err = db_secret_list(server_db(), rpc_call_arena(call), after, limit + 1, &resp->secrets,
	                     &resp->n_secrets);
	if (err)
		return err;
	if (resp->n_secrets > (size_t)limit) {
		resp->n_secrets = (size_t)limit;
		resp->next_page_token = resp->secrets[limit - 1]->name;
	}
	return 0;
}

int svc_secrets_delete(struct rpc_call *call, const void *req_, void *resp_)
{
	const Overseer__V1__DeleteSecretRequest *req = req_;
	const char *actor = rpc_call_identity(call)->name;
	int err;

	(void)resp_;
	err = secret_name_check(req->name);
	if (!err)
		err = db_secret_delete(server_db(), rpc_call_arena(call), req->name, req->force);
	if (err)
		return err;
	log_info("secret removed name=%s force=%d by=%s", req->name, req->force ? 1 : 0, actor);
	return 0;
}
