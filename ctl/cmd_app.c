/* ovrctl app ...: create, show, list, update and delete apps (compose stacks). */
#include "appout.h"
#include "appsettings.h"
#include "args.h"
#include "closure_flags.h"
#include "cmd.h"
#include "ctl.h"
#include "envmap.h"
#include "err.h"
#include "overseer/v1/apps.pb-c.h"
#include "pager.h"
#include "strutil.h"
#include "table.h"
#include "wait.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

/* The one positional argument of a command: sets *name, or a usage error for a second one. */
static int positional(const struct ctl *ctl, const char *arg, const char **name)
{
	if (arg[0] == '-' && arg[1])
		return ctl_usage(ctl, "unknown flag '%s'", arg);
	if (*name)
		return ctl_usage(ctl, "unexpected argument '%s'", arg);
	*name = arg;
	return 0;
}

int cmd_app_create(struct ctl *ctl, int argc, char **argv)
{
	Overseer__V1__CreateAppRequest req = OVERSEER__V1__CREATE_APP_REQUEST__INIT;
	Overseer__V1__Targets targets = OVERSEER__V1__TARGETS__INIT;
	Overseer__V1__CreateAppResponse *resp = NULL;
	Overseer__V1__Deployment *final = NULL;
	ProtobufCMessage **entries = NULL;
	Overseer__V1__HealthSettings health;
	Overseer__V1__RolloutSettings rollout;
	struct settings_args sa;
	struct settings_targets ta;
	struct envmap_args ea;
	struct closure_flags ca;
	struct envmap env;
	struct wait_args wa;
	const char *name = NULL, *file = NULL, *v;
	char rid[CTL_REQUEST_ID_SIZE];
	char *compose = NULL;
	size_t missing = 0;
	int i, r, rc = CTL_EXIT_OK, err;

	memset(&ta, 0, sizeof(ta));
	memset(&ea, 0, sizeof(ea));
	memset(&ca, 0, sizeof(ca));
	memset(&env, 0, sizeof(env));
	wait_args_init(&wa);
	settings_args_init(&sa);
	for (i = 0; i < argc; i++) {
		if ((r = settings_target_arg(&ta, ctl, argc, argv, &i)) != 0 ||
		    (r = settings_arg(&sa, ctl, argc, argv, &i)) != 0 ||
		    (r = envmap_args_parse(&ea, ctl, argc, argv, &i, 0)) != 0 ||
		    (r = closure_flags_arg(&ca, ctl, argc, argv, &i, 0)) != 0 ||
		    (r = wait_args_parse(&wa, ctl, argc, argv, &i)) != 0) {
			if (r < 0) {
				rc = CTL_EXIT_USAGE;
				goto out;
			}
		} else if ((r = args_value(argc, argv, &i, "-f", &v)) != 0 ||
		           (r = args_value(argc, argv, &i, "--file", &v)) != 0) {
			if (r < 0) {
				rc = ctl_usage_line(ctl);
				goto out;
			}
			file = v;
		} else if ((r = args_value(argc, argv, &i, "-m", &v)) != 0 ||
		           (r = args_value(argc, argv, &i, "--message", &v)) != 0) {
			if (r < 0) {
				rc = ctl_usage_line(ctl);
				goto out;
			}
			req.message = (char *)(uintptr_t)v;
		} else if ((r = args_value(argc, argv, &i, "--request-id", &v)) != 0) {
			if (r < 0) {
				rc = ctl_usage_line(ctl);
				goto out;
			}
			req.request_id = (char *)(uintptr_t)v;
		} else if (strcmp(argv[i], "--deploy") == 0) {
			req.deploy = 1;
		} else if ((rc = positional(ctl, argv[i], &name)) != 0) {
			goto out;
		}
	}
	if (!name)
		rc = ctl_usage(ctl, "app create: NAME is required");
	else if (!file)
		rc = ctl_usage(ctl, "app create: -f compose.yaml is required");
	else if (wa.wait && !req.deploy)
		rc = ctl_usage(ctl, "--wait waits for the deployment: add --deploy");
	else
		rc = wait_args_check(&wa, ctl);
	if (rc)
		goto out;
	req.name = (char *)(uintptr_t)name;
	err = ctl_read_compose(&compose, file);
	if (!err)
		err = envmap_args_apply(&env, &ea, &missing);
	if (!err)
		err = envmap_entries(
		        &entries, &env,
		        &overseer__v1__create_app_request__environment_entry__descriptor);
	if (err) {
		rc = ctl_fail("%s", ovr_err_msg(err));
		goto out;
	}
	req.compose_yaml = compose;
	if (sa.given) {
		settings_fill(&health, &rollout, NULL, &sa);
		req.health = &health;
		req.rollout = &rollout;
	}
	req.n_environment = env.n;
	req.environment = (Overseer__V1__CreateAppRequest__EnvironmentEntry **)entries;
	req.n_secrets = ca.n_secrets;
	req.secrets = ca.secrets;
	req.n_routes = ca.n_routes;
	req.routes = ca.routes;
	req.strict_lint = ca.strict;
	req.targets = settings_targets_fill(&targets, &ta);
	if (!req.request_id[0]) {
		if ((err = ctl_request_id(rid, sizeof(rid))) != 0) {
			rc = ctl_fail("%s", ovr_err_msg(err));
			goto out;
		}
		req.request_id = rid;
	}
	if (wa.wait && (rc = wait_preflight(ctl)) != 0)
		goto out;
	rc = ctl_call_mutating(ctl, "/overseer.v1.Apps/CreateApp", &req.base,
	                       &overseer__v1__create_app_response__descriptor,
	                       (ProtobufCMessage **)&resp);
	if (rc)
		goto out;
	appout_findings(stderr, file, resp->n_warnings, resp->warnings);
	if (ctl->output == CTL_OUTPUT_TABLE) {
		if (req.deploy)
			appout_version_created(resp->version, resp->deployment, "created");
		else
			printf("app %s: version 1 created, not deployed (deploy it with: ovrctl "
			       "deploy "
			       "%s)\n",
			       name, name);
		if (resp->version)
			appout_closure(stdout, resp->version);
		fflush(stdout);
	}
	if (wa.wait) {
		rc = wait_deployment(ctl, resp->deployment, wa.timeout_ms, &final);
		if (final) {
			if (resp->deployment)
				protobuf_c_message_free_unpacked(&resp->deployment->base, NULL);
			resp->deployment = final;
		}
	}
	if (ctl->output != CTL_OUTPUT_TABLE && ctl_print_structured(ctl, &resp->base) != 0)
		rc = CTL_EXIT_FAIL;
out:
	if (resp)
		protobuf_c_message_free_unpacked(&resp->base, NULL);
	envmap_entries_free(entries, env.n);
	envmap_free(&env);
	closure_flags_free(&ca);
	free(compose);
	return rc;
}

static void print_app(const Overseer__V1__App *app)
{
	char msg[1024];

	appout_apps((Overseer__V1__App *const *)&app, 1);
	if (app->status_message[0])
		printf("status: %s\n", ctl_clean(msg, sizeof(msg), app->status_message));
	if (app->active_deployment_id[0])
		printf("deployment in progress: %s\n",
		       ctl_clean(msg, sizeof(msg), app->active_deployment_id));
	printf("settings: %s\n", settings_describe(msg, sizeof(msg), app));
}

int cmd_app_get(struct ctl *ctl, int argc, char **argv)
{
	Overseer__V1__GetAppRequest req = OVERSEER__V1__GET_APP_REQUEST__INIT;
	Overseer__V1__App *app = NULL;
	const char *name = NULL;
	int i, rc;

	for (i = 0; i < argc; i++)
		if ((rc = positional(ctl, argv[i], &name)) != 0)
			return rc;
	if (!name)
		return ctl_usage(ctl, "app get: NAME is required");
	req.name = (char *)(uintptr_t)name;
	rc = ctl_call(ctl, "/overseer.v1.Apps/GetApp", &req.base, &overseer__v1__app__descriptor,
	              (ProtobufCMessage **)&app);
	if (rc)
		return rc;
	if (ctl->output != CTL_OUTPUT_TABLE) {
		rc = ctl_print_structured(ctl, &app->base) ? CTL_EXIT_FAIL : CTL_EXIT_OK;
	} else {
		print_app(app);
		printf("\n");
		if (app->n_nodes)
			appout_nodes(app, stdout);
		else
			printf("no node reports this app\n");
	}
	protobuf_c_message_free_unpacked(&app->base, NULL);
	return rc;
}

static const char *const endpoint_headers[] = {"APP", "SERVICE", "NODE", "ADDRESS"};

int cmd_app_endpoints(struct ctl *ctl, int argc, char **argv)
{
	Overseer__V1__GetEndpointsRequest req = OVERSEER__V1__GET_ENDPOINTS_REQUEST__INIT;
	Overseer__V1__GetEndpointsResponse *resp = NULL;
	char app[80], service[80], node[80], address[320];
	const char *name = NULL, *row[4];
	struct table t;
	size_t k;
	int i, rc;

	for (i = 0; i < argc; i++)
		if ((rc = positional(ctl, argv[i], &name)) != 0)
			return rc;
	/* Without a name the server lists every app's endpoints. */
	req.name = (char *)(uintptr_t)(name ? name : "");
	rc = ctl_call(ctl, "/overseer.v1.Apps/GetEndpoints", &req.base,
	              &overseer__v1__get_endpoints_response__descriptor,
	              (ProtobufCMessage **)&resp);
	if (rc)
		return rc;
	if (ctl->output != CTL_OUTPUT_TABLE) {
		rc = ctl_print_structured(ctl, &resp->base) ? CTL_EXIT_FAIL : CTL_EXIT_OK;
	} else if (!resp->n_endpoints) {
		if (name)
			printf("app %s has no endpoints\n", name);
		else
			printf("no app has endpoints\n");
	} else {
		table_init(&t, 4, endpoint_headers);
		for (k = 0; k < resp->n_endpoints; k++) {
			const Overseer__V1__Endpoint *e = resp->endpoints[k];

			row[0] = ctl_clean(app, sizeof(app), e->app);
			row[1] = ctl_clean(service, sizeof(service), e->service);
			row[2] = ctl_clean(node, sizeof(node), e->node);
			row[3] = ctl_clean(address, sizeof(address), e->address);
			table_add(&t, row);
		}
		table_print(&t, stdout);
		table_free(&t);
	}
	protobuf_c_message_free_unpacked(&resp->base, NULL);
	return rc;
}

int cmd_app_ls(struct ctl *ctl, int argc, char **argv)
{
	Overseer__V1__ListAppsRequest req = OVERSEER__V1__LIST_APPS_REQUEST__INIT;
	Overseer__V1__ListAppsResponse all = OVERSEER__V1__LIST_APPS_RESPONSE__INIT;
	struct pager p;
	int rc;

	if (argc > 0)
		return ctl_usage(ctl, "app ls: unexpected '%s'", argv[0]);
	rc = pager_list(&p, ctl, "/overseer.v1.Apps/ListApps", &req.base,
	                &overseer__v1__list_apps_response__descriptor, "apps");
	if (!rc) {
		all.apps = (Overseer__V1__App **)p.items;
		all.n_apps = p.n_items;
		if (ctl->output != CTL_OUTPUT_TABLE)
			rc = ctl_print_structured(ctl, &all.base) ? CTL_EXIT_FAIL : CTL_EXIT_OK;
		else
			appout_apps(all.apps, all.n_apps);
	}
	pager_free(&p);
	return rc;
}

/* Asks on the terminal; 1 for yes. */
static int confirm(const char *question)
{
	char answer[16];
	size_t n;

	fprintf(stderr, "%s [y/N] ", question);
	fflush(stderr);
	if (!fgets(answer, sizeof(answer), stdin))
		return 0;
	n = strcspn(answer, "\r\n");
	answer[n] = '\0';
	return strcasecmp(answer, "y") == 0 || strcasecmp(answer, "yes") == 0;
}

int cmd_app_rm(struct ctl *ctl, int argc, char **argv)
{
	Overseer__V1__DeleteAppRequest req = OVERSEER__V1__DELETE_APP_REQUEST__INIT;
	Overseer__V1__DeleteAppResponse *resp = NULL;
	const char *name = NULL, *v;
	char rid[CTL_REQUEST_ID_SIZE], question[256];
	int i, r, rc, yes = 0, err;

	for (i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--yes") == 0 || strcmp(argv[i], "-y") == 0) {
			yes = 1;
		} else if (strcmp(argv[i], "--purge-volumes") == 0) {
			req.purge_volumes = 1;
		} else if ((r = args_value(argc, argv, &i, "--request-id", &v)) != 0) {
			if (r < 0)
				return ctl_usage_line(ctl);
			req.request_id = (char *)(uintptr_t)v;
		} else if ((rc = positional(ctl, argv[i], &name)) != 0) {
			return rc;
		}
	}
	if (!name)
		return ctl_usage(ctl, "app rm: NAME is required");
	if (!yes) {
		if (!isatty(STDIN_FILENO))
			return ctl_usage(ctl,
			                 "app rm: refusing to delete '%s' without --yes (standard "
			                 "input is not a terminal to ask on)",
			                 name);
		snprintf(question, sizeof(question),
		         "Delete app '%.80s' and remove its containers%s from every node?", name,
		         req.purge_volumes ? " and volumes" : "");
		if (!confirm(question)) {
			fprintf(stderr, "ovrctl: app '%s' was not deleted\n", name);
			return CTL_EXIT_FAIL;
		}
	}
	req.name = (char *)(uintptr_t)name;
	if (!req.request_id[0]) {
		if ((err = ctl_request_id(rid, sizeof(rid))) != 0)
			return ctl_fail("%s", ovr_err_msg(err));
		req.request_id = rid;
	}
	rc = ctl_call_mutating(ctl, "/overseer.v1.Apps/DeleteApp", &req.base,
	                       &overseer__v1__delete_app_response__descriptor,
	                       (ProtobufCMessage **)&resp);
	if (rc)
		return rc;
	if (ctl->output != CTL_OUTPUT_TABLE)
		rc = ctl_print_structured(ctl, &resp->base) ? CTL_EXIT_FAIL : CTL_EXIT_OK;
	else if (resp->deployment && resp->deployment->id[0])
		printf("app %s deleted (removal from its nodes: deployment %s)\n", name,
		       resp->deployment->id);
	else
		printf("app %s deleted\n", name);
	protobuf_c_message_free_unpacked(&resp->base, NULL);
	return rc;
}

int cmd_app_update(struct ctl *ctl, int argc, char **argv)
{
	Overseer__V1__UpdateAppRequest req = OVERSEER__V1__UPDATE_APP_REQUEST__INIT;
	Overseer__V1__GetAppRequest get = OVERSEER__V1__GET_APP_REQUEST__INIT;
	Overseer__V1__Targets targets = OVERSEER__V1__TARGETS__INIT;
	Overseer__V1__App *cur = NULL, *app = NULL;
	Overseer__V1__HealthSettings health;
	Overseer__V1__RolloutSettings rollout;
	struct settings_args sa;
	struct settings_targets ta;
	const char *name = NULL, *v;
	char rid[CTL_REQUEST_ID_SIZE];
	int i, r, rc, err, no_nodes = 0;

	memset(&ta, 0, sizeof(ta));
	settings_args_init(&sa);
	for (i = 0; i < argc; i++) {
		if ((r = settings_target_arg(&ta, ctl, argc, argv, &i)) != 0 ||
		    (r = settings_arg(&sa, ctl, argc, argv, &i)) != 0) {
			if (r < 0)
				return CTL_EXIT_USAGE;
		} else if (strcmp(argv[i], "--no-nodes") == 0) {
			no_nodes = 1;
		} else if ((r = args_value(argc, argv, &i, "--request-id", &v)) != 0) {
			if (r < 0)
				return ctl_usage_line(ctl);
			req.request_id = (char *)(uintptr_t)v;
		} else if ((rc = positional(ctl, argv[i], &name)) != 0) {
			return rc;
		}
	}
	if (!name)
		return ctl_usage(ctl, "app update: NAME is required");
	if (!ta.n_nodes && !ta.selector && !no_nodes && !sa.given)
		return ctl_usage(ctl, "app update: nothing to change (give --target, --selector, "
		                      "--no-nodes, or a health or rollout setting)");
	if (ta.n_nodes && no_nodes)
		return ctl_usage(ctl, "app update: --target and --no-nodes contradict each other");
	/* The request replaces the targets whole: keep the half that was not given. */
	get.name = (char *)(uintptr_t)name;
	rc = ctl_call(ctl, "/overseer.v1.Apps/GetApp", &get.base, &overseer__v1__app__descriptor,
	              (ProtobufCMessage **)&cur);
	if (rc)
		return rc;
	if (ta.n_nodes) {
		targets.n_nodes = ta.n_nodes;
		targets.nodes = ta.nodes;
	} else if (!no_nodes && cur->targets) {
		targets.n_nodes = cur->targets->n_nodes;
		targets.nodes = cur->targets->nodes;
	}
	if (ta.selector)
		targets.selector = (char *)(uintptr_t)ta.selector;
	else if (cur->targets)
		targets.selector = cur->targets->selector;
	req.name = get.name;
	if (ta.n_nodes || ta.selector || no_nodes)
		req.targets = &targets;
	if (sa.given) {
		settings_fill(&health, &rollout, cur, &sa);
		req.health = &health;
		req.rollout = &rollout;
	}
	if (!req.request_id[0]) {
		if ((err = ctl_request_id(rid, sizeof(rid))) != 0) {
			rc = ctl_fail("%s", ovr_err_msg(err));
			goto out;
		}
		req.request_id = rid;
	}
	rc = ctl_call_mutating(ctl, "/overseer.v1.Apps/UpdateApp", &req.base,
	                       &overseer__v1__app__descriptor, (ProtobufCMessage **)&app);
	if (rc)
		goto out;
	if (ctl->output != CTL_OUTPUT_TABLE)
		rc = ctl_print_structured(ctl, &app->base) ? CTL_EXIT_FAIL : CTL_EXIT_OK;
	else
		print_app(app);
out:
	if (app)
		protobuf_c_message_free_unpacked(&app->base, NULL);
	protobuf_c_message_free_unpacked(&cur->base, NULL);
	return rc;
}
