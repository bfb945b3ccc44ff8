/* ovrctl audit ls|verify: who changed what, and whether the log is still the one written. */
#include "args.h"
#include "cmd.h"
#include "ctl.h"
#include "err.h"
#include "overseer/v1/audit.pb-c.h"
#include "pager.h"
#include "strutil.h"
#include "table.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static const char *const audit_headers[] = {"SEQ",    "TIME",    "ACTOR", "ACTION",
                                            "TARGET", "OUTCOME", "SOURCE"};

static void print_events(Overseer__V1__AuditEvent *const *events, size_t n)
{
	char seq[24], at[64], actor[80], action[128], target[160], outcome[64], source[80];
	const char *row[7];
	struct table t;
	size_t i;

	table_init(&t, 7, audit_headers);
	for (i = 0; i < n; i++) {
		const Overseer__V1__AuditEvent *e = events[i];
		const char *act =
		        strncmp(e->action, "overseer.v1.", 12) == 0 ? e->action + 12 : e->action;

		snprintf(seq, sizeof(seq), "%lld", (long long)e->seq);
		ovr_format_time(at, sizeof(at), e->at_unix_ms);
		row[0] = seq;
		row[1] = at;
		row[2] = ctl_clean(actor, sizeof(actor), e->actor);
		row[3] = ctl_clean(action, sizeof(action), act);
		row[4] = e->target[0] ? ctl_clean(target, sizeof(target), e->target) : "-";
		row[5] = ctl_clean(outcome, sizeof(outcome), e->outcome);
		row[6] = e->source[0] ? ctl_clean(source, sizeof(source), e->source) : "-";
		table_add(&t, row);
	}
	table_print(&t, stdout);
	table_free(&t);
}

/* "10m" (that long ago) or RFC 3339 is not parsed here: a duration back from now. */
static int since_ms(struct ctl *ctl, const char *text, int64_t *out)
{
	int64_t ago;

	if (ovr_parse_duration(&ago, text) != 0 || ago <= 0)
		return ctl_usage(ctl, "--since: '%.40s' is not a duration such as 30m, 2h or 7d",
		                 text);
	*out = ovr_now_ms() - ago;
	return 0;
}

int cmd_audit_ls(struct ctl *ctl, int argc, char **argv)
{
	Overseer__V1__ListEventsRequest req = OVERSEER__V1__LIST_EVENTS_REQUEST__INIT;
	Overseer__V1__ListEventsResponse all = OVERSEER__V1__LIST_EVENTS_RESPONSE__INIT;
	const char *v;
	struct pager p;
	int i, r, rc;

	for (i = 0; i < argc; i++) {
		if ((r = args_value(argc, argv, &i, "--actor", &v)) != 0) {
			if (r < 0)
				return ctl_usage_line(ctl);
			req.actor = (char *)(uintptr_t)v;
		} else if ((r = args_value(argc, argv, &i, "--target", &v)) != 0) {
			if (r < 0)
				return ctl_usage_line(ctl);
			req.target = (char *)(uintptr_t)v;
		} else if ((r = args_value(argc, argv, &i, "--since", &v)) != 0) {
			if (r < 0)
				return ctl_usage_line(ctl);
			if ((rc = since_ms(ctl, v, &req.since_unix_ms)) != 0)
				return rc;
		} else {
			return ctl_usage(ctl, "audit ls: unexpected '%s'", argv[i]);
		}
	}
	rc = pager_list(&p, ctl, "/overseer.v1.Audit/ListEvents", &req.base,
	                &overseer__v1__list_events_response__descriptor, "audit events");
	if (!rc) {
		all.events = (Overseer__V1__AuditEvent **)p.items;
		all.n_events = p.n_items;
		if (ctl->output != CTL_OUTPUT_TABLE)
			rc = ctl_print_structured(ctl, &all.base) ? CTL_EXIT_FAIL : CTL_EXIT_OK;
		else
			print_events(all.events, all.n_events);
	}
	pager_free(&p);
	return rc;
}

int cmd_audit_verify(struct ctl *ctl, int argc, char **argv)
{
	Overseer__V1__VerifyChainRequest req = OVERSEER__V1__VERIFY_CHAIN_REQUEST__INIT;
	Overseer__V1__VerifyChainResponse *resp = NULL;
	int rc;

	if (argc > 0)
		return ctl_usage(ctl, "audit verify: unexpected '%s'", argv[0]);
	rc = ctl_call(ctl, "/overseer.v1.Audit/VerifyChain", &req.base,
	              &overseer__v1__verify_chain_response__descriptor, (ProtobufCMessage **)&resp);
	if (rc)
		return rc;
	if (ctl->output != CTL_OUTPUT_TABLE)
		rc = ctl_print_structured(ctl, &resp->base) ? CTL_EXIT_FAIL : CTL_EXIT_OK;
	else if (resp->ok)
		printf("audit chain intact: %lld events checked\n",
		       (long long)resp->events_checked);
	else
		printf("audit chain BROKEN at event %lld: %s (%lld events before it check out)\n",
		       (long long)resp->first_broken_seq, resp->message,
		       (long long)resp->events_checked);
	if (!rc && !resp->ok)
		rc = CTL_EXIT_FAIL;
	protobuf_c_message_free_unpacked(&resp->base, NULL);
	return rc;
}
