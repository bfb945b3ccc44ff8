/* ovrctl token ...: operator API tokens (create, list, revoke). */
#include "args.h"
#include "cmd.h"
#include "ctl.h"
#include "err.h"
#include "overseer/v1/tokens.pb-c.h"
#include "strutil.h"
#include "table.h"

#include <stdio.h>
#include <string.h>

#define TOKEN_COLS 7

static const char *const token_headers[TOKEN_COLS] = {
        "NAME", "ROLE", "CREATED BY", "CREATED", "EXPIRES", "LAST USED", "STATE"};

static const char *token_state(const Overseer__V1__ApiToken *t)
{
	if (t->revoked_unix_ms)
		return "revoked";
	if (t->expires_unix_ms && t->expires_unix_ms <= ovr_now_ms())
		return "expired";
	return "active";
}

static void token_row(struct table *t, const Overseer__V1__ApiToken *tok)
{
	char role[32], created[64], expires[64], used[64], name[128], by[128];
	const char *row[TOKEN_COLS];

	ovr_format_time(created, sizeof(created), tok->created_unix_ms);
	ovr_format_time(expires, sizeof(expires), tok->expires_unix_ms);
	ovr_format_time(used, sizeof(used), tok->last_used_unix_ms);
	row[0] = ctl_clean(name, sizeof(name), tok->name);
	row[1] = ctl_enum_name(role, sizeof(role), &overseer__v1__role__descriptor, tok->role);
	row[2] = ctl_clean(by, sizeof(by), tok->created_by);
	row[3] = created;
	row[4] = tok->expires_unix_ms ? expires : "never";
	row[5] = used;
	row[6] = token_state(tok);
	table_add(t, row);
}

/*
 * Prints msg as -o asks, or for table output the tokens it carries (with the hint more, if any,
 * on stderr); frees msg. Shared by ls and revoke.
 */
static int print_tokens(struct ctl *ctl, ProtobufCMessage *msg,
                        Overseer__V1__ApiToken *const *tokens, size_t n, const char *more)
{
	struct table t;
	size_t i;

	if (ctl_print_structured(ctl, msg) == 1) {
		table_init(&t, TOKEN_COLS, token_headers);
		for (i = 0; i < n; i++)
			token_row(&t, tokens[i]);
		table_print(&t, stdout);
		table_free(&t);
		if (more)
			fprintf(stderr, "%s\n", more);
	}
	protobuf_c_message_free_unpacked(msg, NULL);
	return CTL_EXIT_OK;
}

/* "viewer" -> ROLE_VIEWER ...; 0 (unspecified) for anything else. */
static int role_parse(const char *text)
{
	static const char *const names[] = {"viewer", "deployer", "admin"};
	static const int values[] = {OVERSEER__V1__ROLE__ROLE_VIEWER,
	                             OVERSEER__V1__ROLE__ROLE_DEPLOYER,
	                             OVERSEER__V1__ROLE__ROLE_ADMIN};
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(text, names[i]) == 0)
			return values[i];
	return OVERSEER__V1__ROLE__ROLE_UNSPECIFIED;
}

int cmd_token_create(struct ctl *ctl, int argc, char **argv)
{
	Overseer__V1__CreateTokenRequest req = OVERSEER__V1__CREATE_TOKEN_REQUEST__INIT;
	Overseer__V1__CreateTokenResponse *resp = NULL;
	char when[64], role[32];
	const char *v;
	int i, r, rc;

	for (i = 0; i < argc; i++) {
		if ((r = args_value(argc, argv, &i, "--role", &v)) != 0) {
			if (r < 0)
				return CTL_EXIT_USAGE;
			req.role = role_parse(v);
			if (!req.role)
				return ctl_usage(
				        ctl, "--role: '%s' is not admin, deployer or viewer", v);
		} else if ((r = args_value(argc, argv, &i, "--ttl", &v)) != 0) {
			if (r < 0)
				return CTL_EXIT_USAGE;
			if (ovr_parse_duration(&req.ttl_ms, v) != 0)
				return ctl_usage(ctl, "--ttl: %s", ovr_err_msg(OVR_ERR_INVALID));
		} else if (argv[i][0] != '-' && !req.name[0]) {
			req.name = argv[i];
		} else {
			return ctl_usage(ctl, "unexpected '%s'", argv[i]);
		}
	}
	if (!req.name[0])
		return ctl_usage(ctl, "a token NAME is required");
	if (!req.role)
		return ctl_usage(ctl, "--role admin|deployer|viewer is required");
	rc = ctl_call(ctl, "/overseer.v1.Tokens/CreateToken", &req.base,
	              &overseer__v1__create_token_response__descriptor, (ProtobufCMessage **)&resp);
	if (rc)
		return rc;
	if (ctl_print_structured(ctl, &resp->base) == 1) {
		/* The value alone on stdout, so TOKEN=$(ovrctl token create ...) works. */
		printf("%s\n", resp->secret);
		fflush(stdout);
		if (resp->token && resp->token->expires_unix_ms)
			ovr_format_time(when, sizeof(when), resp->token->expires_unix_ms);
		else
			snprintf(when, sizeof(when), "never");
		fprintf(stderr,
		        "API token '%s' (role %s, expires %s) is shown this once: store it now.\n"
		        "Use it as OVR_TOKEN=<the token above>, or send 'Authorization: Bearer "
		        "<token>'.\n",
		        req.name,
		        ctl_enum_name(role, sizeof(role), &overseer__v1__role__descriptor,
		                      req.role),
		        when);
	}
	if (resp->secret)
		memset(resp->secret, 0, strlen(resp->secret));
	protobuf_c_message_free_unpacked(&resp->base, NULL);
	return CTL_EXIT_OK;
}

int cmd_token_ls(struct ctl *ctl, int argc, char **argv)
{
	Overseer__V1__ListTokensRequest req = OVERSEER__V1__LIST_TOKENS_REQUEST__INIT;
	Overseer__V1__ListTokensResponse *resp = NULL;
	int rc;

	if (argc > 0)
		return ctl_usage(ctl, "unexpected '%s'", argv[0]);
	req.page_size = 1000;
	rc = ctl_call(ctl, "/overseer.v1.Tokens/ListTokens", &req.base,
	              &overseer__v1__list_tokens_response__descriptor, (ProtobufCMessage **)&resp);
	if (rc)
		return rc;
	return print_tokens(ctl, &resp->base, resp->tokens, resp->n_tokens,
	                    resp->next_page_token[0]
	                            ? "(more tokens not shown: the first 1000 by name)"
	                            : NULL);
}

int cmd_token_revoke(struct ctl *ctl, int argc, char **argv)
{
	Overseer__V1__RevokeTokenRequest req = OVERSEER__V1__REVOKE_TOKEN_REQUEST__INIT;
	Overseer__V1__ApiToken *t = NULL;
	int rc;

	if (argc != 1 || argv[0][0] == '-')
		return ctl_usage(ctl, "a token NAME is required");
	req.name = argv[0];
	rc = ctl_call(ctl, "/overseer.v1.Tokens/RevokeToken", &req.base,
	              &overseer__v1__api_token__descriptor, (ProtobufCMessage **)&t);
	return rc ? rc : print_tokens(ctl, &t->base, &t, 1, NULL);
}
