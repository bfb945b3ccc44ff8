/* ovrctl: the operator's command line. One command table drives dispatch and usage. */
#include "cmd.h"
#include "config.h"
#include "ctl.h"
#include "err.h"
#include "fsutil.h"
#include "log.h"
#include "rpc.h"
#include "strutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct ctl_settings {
	char *server;
	char *ca_file;
	char *token;
	char *output;
	int64_t timeout_ms;
};

#define OPT(field) offsetof(struct ctl_settings, field)

/* Flags, OVR_* variables and keys of ~/.config/ovrctl/config.yaml. */
static const struct config_option ctl_options[] = {
        {"server", CONFIG_STRING, OPT(server), "127.0.0.1:7443", 0, 0, 0,
         "server address HOST:PORT"},
        {"ca_file", CONFIG_STRING, OPT(ca_file), NULL, 0, 0, 0,
         "CA certificate that signed the server's certificate"},
        {"token", CONFIG_STRING, OPT(token), NULL, 0, 0, 1,
         "API token (prefer OVR_TOKEN or the config file: flags show in ps)"},
        {"output", CONFIG_STRING, OPT(output), "table", 0, 0, 0, "table, json or yaml (also -o)"},
        {"timeout", CONFIG_DURATION, OPT(timeout_ms), "30s", 100, 3600LL * 1000, 0,
         "deadline of each call"},
};

static const struct ctl_command commands[] = {
        {"node", "token", "create --name NAME [--label K=V]... [--ttl 15m]",
         "create a single-use join token for a new node", cmd_node_token, 0},
        {"node", "ls", "[--selector K=V[,K=V]]", "list nodes", cmd_node_ls, 0},
        {"node", "get", "NAME", "show one node", cmd_node_get, 0},
        {"node", "revoke", "NAME", "revoke a node: its certificate never connects again",
         cmd_node_revoke, 0},
        {"node", "label", "NAME [K=V]...", "replace a node's labels", cmd_node_label, 0},
        {"app", "create",
         "NAME -f FILE [--target NODE]... [--selector K=V[,K=V]] [--env K=V]... "
         "[--env-file FILE]... [--secret ENV=SECRET]... "
         "[--route SERVICE:PORT=HOST[/PATH][,tls]]... [--strict] [-m MSG] "
         "[--min-healthy-time 10s] [--healthy-deadline 5m] [--auto-rollback=false] "
         "[--strategy all-at-once|rolling] [--max-parallel N] [--max-failures N] "
         "[--request-id ID] [--deploy [--wait [--timeout 10m]]]",
         "create an app from a compose file (-f - reads standard input)", cmd_app_create,
         CTL_CMD_OWN_TIMEOUT},
        {"app", "ls", "", "list apps", cmd_app_ls, 0},
        {"app", "get", "NAME", "show an app and what runs on each of its nodes", cmd_app_get, 0},
        {"app", "endpoints", "[NAME]",
         "list the published addresses of an app's healthy services (no NAME: of every app)",
         cmd_app_endpoints, 0},
        {"app", "update",
         "NAME [--target NODE]... [--no-nodes] [--selector K=V[,K=V]] [--min-healthy-time D] "
         "[--healthy-deadline D] [--auto-rollback=true|false] [--strategy S] "
         "[--max-parallel N] [--max-failures N]",
         "change an app's nodes, health gate and rollout (what is not given is kept)",
         cmd_app_update, 0},
        {"app", "rm", "NAME [--purge-volumes] [--yes]",
         "delete an app and remove it from its nodes", cmd_app_rm, 0},
        {"deploy", NULL,
         "NAME [-f FILE] [--env K=V]... [--env-file FILE]... [--unset-env K]... "
         "[--secret ENV=SECRET]... [--no-secrets] [--route SERVICE:PORT=HOST[/PATH][,tls]]... "
         "[--no-routes] [--strict] [-m MSG] [--expected-version N] [--no-supersede] "
         "[--request-id ID] [--wait [--timeout 10m]]",
         "deploy a new version; --env merges into the current environment, --secret and "
         "--route replace the current ones",
         cmd_deploy, CTL_CMD_OWN_TIMEOUT},
        {"rollback", NULL,
         "NAME [--to N] [-m MSG] [--expected-version N] [--no-supersede] [--request-id ID] "
         "[--wait [--timeout 10m]]",
         "deploy a copy of an earlier version (default: the last known good)", cmd_rollback,
         CTL_CMD_OWN_TIMEOUT},
        {"versions", NULL, "NAME", "list an app's versions, newest first", cmd_versions, 0},
        {"version", "show", "NAME N [--compose-only]",
         "show a version, then its compose file byte for byte", cmd_version_show, 0},
        {"diff", NULL, "NAME FROM TO", "unified diff of two versions", cmd_diff, 0},
        {"deployment", "get", "ID", "show a deployment: its state and each node's",
         cmd_deployment_get, 0},
        {"deployment", "watch", "ID [--timeout 10m]",
         "follow a deployment until it is over (exit 0 if it succeeded)", cmd_deployment_watch,
         CTL_CMD_OWN_TIMEOUT},
        {"logs", NULL,
         "NAME [SERVICE] [--node N] [-f] [--tail N] [--since 10m|RFC3339] [--timestamps]",
         "print the app's container logs from its nodes, prefixed node/service (-f: follow)",
         cmd_logs, 0},
        {"secret", "set", "NAME [--from-file PATH] [--request-id ID]",
         "store a secret's next version, read from stdin or the file", cmd_secret_set, 0},
        {"secret", "ls", "", "list secrets and the apps using them (never values)", cmd_secret_ls,
         0},
        {"secret", "rm", "NAME [--force] [--request-id ID]",
         "delete a secret (--force: even while an app uses it)", cmd_secret_rm, 0},
        {"audit", "ls", "[--actor NAME] [--target KIND/NAME] [--since 1h]",
         "who changed what: the audit log, oldest first", cmd_audit_ls, 0},
        {"audit", "verify", "", "recompute the audit hash chain; exit 1 if it is broken",
         cmd_audit_verify, 0},
        {"token", "create", "NAME --role admin|deployer|viewer [--ttl 30d]",
         "create an API token; its value is printed once", cmd_token_create, 0},
        {"token", "ls", "", "list API tokens (never their values)", cmd_token_ls, 0},
        {"token", "revoke", "NAME", "revoke an API token: refused from its next call on",
         cmd_token_revoke, 0},
        {"lint", NULL, "-f FILE [--strict] [--app NAME] [--target NODE]... [--selector K=V[,K=V]]",
         "check a compose file; exits 1 if anything is found", cmd_lint, 0},
        {"version", NULL, "", "print ovrctl's version", cmd_version, 0},
};

static void usage(FILE *fp)
{
	size_t i;

	fprintf(fp, "usage: ovrctl [--server HOST:PORT] [--ca-file FILE] [--token TOKEN] "
	            "[-o table|json|yaml] COMMAND ...\n\ncommands:\n");
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		char head[512];

		snprintf(head, sizeof(head), "%s%s%s %s", commands[i].noun,
		         commands[i].verb ? " " : "", commands[i].verb ? commands[i].verb : "",
		         commands[i].args);
		/* A long synopsis gets its own line, the help under it. */
		if (strlen(head) > 58)
			fprintf(fp, "  %s\n      %s\n", head, commands[i].help);
		else
			fprintf(fp, "  %-58s %s\n", head, commands[i].help);
	}
	fprintf(fp, "\nSettings come from flags, then OVR_SERVER, OVR_CA_FILE, OVR_TOKEN, then "
	            "~/.config/ovrctl/config.yaml.\nExit codes: 0 ok, 1 failure, 2 usage.\n");
}

/* Global flags may come before the command. Returns the index of the command word. */
static int parse_globals(struct config *conf, int argc, char **argv, int *first)
{
	int i;

	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		int err;

		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			usage(stdout);
			exit(0);
		}
		if (strcmp(argv[i], "-o") == 0) {
			if (i + 1 >= argc)
				return ctl_usage_error("-o needs table, json or yaml");
			config_set(conf, "output", argv[++i], CONFIG_ORIGIN_FLAG);
			continue;
		}
		err = config_set_arg(conf, argc, argv, &i);
		if (err == OVR_ERR_NOT_FOUND)
			return ctl_usage_error("unknown option '%s'", argv[i]);
		if (err)
			return ctl_usage_error("%s", ovr_err_msg(err));
	}
	*first = i;
	return 0;
}

/*
 * 1 if arg names a global flag ("--server", "--server=x"). --timeout is the command's own when it
 * says so (how long --wait waits), and the call deadline otherwise.
 */
static int is_global_flag(const struct config *conf, const char *arg, unsigned cmd_flags)
{
	char name[64];
	size_t n = strcspn(arg, "=");

	if (strncmp(arg, "--", 2) != 0 || n >= sizeof(name))
		return 0;
	memcpy(name, arg, n);
	name[n] = '\0';
	if ((cmd_flags & CTL_CMD_OWN_TIMEOUT) && strcmp(name, "--timeout") == 0)
		return 0;
	return config_find(conf, name) >= 0;
}

/* Command flags may also carry -o and the global flags; strip them out of argv. */
static int strip_globals(struct config *conf, int *argc, char **argv, unsigned cmd_flags)
{
	int i, out = 0;

	for (i = 0; i < *argc; i++) {
		if (strcmp(argv[i], "-o") == 0 || strcmp(argv[i], "--output") == 0) {
			if (i + 1 >= *argc)
				return ctl_usage_error("%s needs table, json or yaml", argv[i]);
			config_set(conf, "output", argv[++i], CONFIG_ORIGIN_FLAG);
			continue;
		}
		if (is_global_flag(conf, argv[i], cmd_flags)) {
			int err = config_set_arg(conf, *argc, argv, &i);

			if (err)
				return ctl_usage_error("%s", ovr_err_msg(err));
			continue;
		}
		argv[out++] = argv[i];
	}
	*argc = out;
	return 0;
}

static int load_config_file(struct config *conf)
{
	const char *home = getenv("HOME");
	const char *xdg = getenv("XDG_CONFIG_HOME");
	char path[4096];
	int err;

	if (xdg && xdg[0])
		snprintf(path, sizeof(path), "%s/ovrctl/config.yaml", xdg);
	else if (home && home[0])
		snprintf(path, sizeof(path), "%s/.config/ovrctl/config.yaml", home);
	else
		return 0;
	err = config_load_file(conf, path);
	if (err == OVR_ERR_NOT_FOUND)
		return 0;
	if (err)
		return ctl_fail("%s", ovr_err_msg(err));
	return 0;
}

static const struct ctl_command *find_command(int argc, char **argv, int *consumed)
{
	size_t i;

	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		const struct ctl_command *c = &commands[i];

		if (strcmp(argv[0], c->noun) != 0)
			continue;
		if (!c->verb) {
			*consumed = 1;
			return c;
		}
		if (argc > 1 && strcmp(argv[1], c->verb) == 0) {
			*consumed = 2;
			return c;
		}
	}
	return NULL;
}

int main(int argc, char **argv)
{
	struct ctl_settings s;
	struct config conf;
	struct ctl ctl;
	const struct ctl_command *cmd;
	int first = 0, consumed = 0, rc;
	int cargc;
	char **cargv;

	log_init("ovrctl", LOG_LEVEL_WARN);
	rpc_init_logging();
	memset(&ctl, 0, sizeof(ctl));
	rc = config_init(&conf, ctl_options, sizeof(ctl_options) / sizeof(ctl_options[0]), &s);
	if (!rc)
		rc = load_config_file(&conf);
	if (!rc && config_load_env(&conf) != 0)
		rc = ctl_fail("%s", ovr_err_msg(OVR_ERR_CONFIG));
	if (!rc)
		rc = parse_globals(&conf, argc, argv, &first);
	if (rc)
		goto out;
	if (first >= argc) {
		usage(stderr);
		rc = CTL_EXIT_USAGE;
		goto out;
	}
	cmd = find_command(argc - first, argv + first, &consumed);
	if (!cmd) {
		rc = ctl_usage_error("unknown command '%s%s%s'", argv[first],
		                     first + 1 < argc ? " " : "",
		                     first + 1 < argc ? argv[first + 1] : "");
		goto out;
	}
	cargc = argc - first - consumed;
	cargv = argv + first + consumed;
	rc = strip_globals(&conf, &cargc, cargv, cmd->flags);
	if (rc)
		goto out;
	if (strcmp(s.output, "table") == 0)
		ctl.output = CTL_OUTPUT_TABLE;
	else if (strcmp(s.output, "json") == 0)
		ctl.output = CTL_OUTPUT_JSON;
	else if (strcmp(s.output, "yaml") == 0)
		ctl.output = CTL_OUTPUT_YAML;
	else {
		rc = ctl_usage_error("-o: '%s' is not table, json or yaml", s.output);
		goto out;
	}
	ctl.server = s.server;
	ctl.ca_file = s.ca_file;
	ctl.token = s.token && s.token[0] ? s.token : NULL;
	ctl.timeout_ms = s.timeout_ms;
	ctl.cmd = cmd;
	rc = cmd->run(&ctl, cargc, cargv);
out:
	rpc_client_free(ctl.client);
	config_free(&conf);
	return rc;
}
