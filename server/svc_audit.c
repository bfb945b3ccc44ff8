/* The Audit service. Page tokens are sequence numbers: events never move. */
#include "svc_audit.h"

#include "db_audit.h"
#include "err.h"
#include "log.h"
#include "overseer/v1/audit.pb-c.h"
#include "server.h"
#include "svc_page.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FILTER_MAX 256

int svc_audit_list(struct rpc_call *call, const void *req_, void *resp_)
{
	const Overseer__V1__ListEventsRequest *req = req_;
	Overseer__V1__ListEventsResponse *resp = resp_;
	struct arena *a = rpc_call_arena(call);
	struct db_audit_filter f = {req->actor, req->target, req->since_unix_ms, 0};
	int limit = SVC_PAGE_DEFAULT;
	char *end = NULL;
	int err;

	if ((err = svc_page_size(&limit, req->page_size)) != 0)
		return err;
	if (strlen(req->actor) > FILTER_MAX || strlen(req->target) > FILTER_MAX)
		return ovr_err_set(OVR_ERR_INVALID, "actor, target: at most %d bytes", FILTER_MAX);
	if (req->since_unix_ms < 0)
		return ovr_err_set(OVR_ERR_INVALID, "since_unix_ms: must not be negative");
	if (req->page_token[0]) {
		f.after_seq = strtoll(req->page_token, &end, 10);
		if (*end || f.after_seq < 0)
			return ovr_err_set(OVR_ERR_INVALID,
			                   "page_token: not a token from a previous page");
	}
	err = db_audit_list(server_db(), a, &f, limit + 1, &resp->events, &resp->n_events);
	if (err)
		return err;
	if (resp->n_events > (size_t)limit) {
		resp->n_events = (size_t)limit;
		resp->next_page_token =
		        arena_printf(a, "%lld", (long long)resp->events[limit - 1]->seq);
	}
	return 0;
}

int svc_audit_verify(struct rpc_call *call, const void *req_, void *resp_)
{
	Overseer__V1__VerifyChainResponse *resp = resp_;
	char msg[256];
	int64_t checked = 0, broken = 0;
	int err;

	(void)req_;
	err = db_audit_verify(server_db(), &checked, &broken, msg, sizeof(msg));
	if (err)
		return err;
	resp->ok = broken == 0;
	resp->events_checked = checked;
	resp->first_broken_seq = broken;
	resp->message =
	        arena_strdup(rpc_call_arena(call), broken ? msg : "the audit chain is intact");
	if (broken)
		log_warnx("audit chain broken at seq=%lld: %s", (long long)broken, msg);
	return 0;
}
