/* ovrctl deploy and rollback: each creates a new app version and (with --wait) follows it out. */
#include "appout.h"
#include "args.h"
#include "closure_flags.h"
#include "cmd.h"
#include "ctl.h"
#include "envmap.h"
#include "err.h"
#include "overseer/v1/apps.pb-c.h"
#include "wait.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Flags deploy and rollback share. */
struct change_args {
	const char *name;
	const char *message;
	const char *request_id;
	long long expected_version;
	int no_supersede;
	struct wait_args wait;
};

/* 1 if argv[*i] is a shared flag or the NAME (recorded), -1 on a usage error, 0 otherwise. */
static int change_arg(struct change_args *c, const struct ctl *ctl, int argc, char **argv, int *i)
{
	const char *v;
	int r;

	if ((r = wait_args_parse(&c->wait, ctl, argc, argv, i)) != 0)
		return r;
	if (strcmp(argv[*i], "--no-supersede") == 0) {
		c->no_supersede = 1;
		return 1;
	}
	if ((r = args_value(argc, argv, i, "-m", &v)) != 0 ||
	    (r = args_value(argc, argv, i, "--message", &v)) != 0) {
		if (r < 0) {
			ctl_usage_line(ctl);
			return -1;
		}
		c->message = v;
		return 1;
	}
	if ((r = args_value(argc, argv, i, "--request-id", &v)) != 0) {
		if (r < 0) {
			ctl_usage_line(ctl);
			return -1;
		}
		c->request_id = v;
		return 1;
	}
	if ((r = args_value(argc, argv, i, "--expected-version", &v)) != 0) {
		if (r < 0) {
			ctl_usage_line(ctl);
			return -1;
		}
		if (args_int64(v, 1, &c->expected_version) != 0) {
			ctl_usage(ctl, "--expected-version: '%s' is not a version number", v);
			return -1;
		}
		return 1;
	}
	return 0;
}

/* The NAME, or a usage error for an unknown flag or a second argument. */
static int change_positional(struct change_args *c, const struct ctl *ctl, const char *arg)
{
	if (arg[0] == '-' && arg[1])
		return ctl_usage(ctl, "unknown flag '%s'", arg);
	if (c->name)
		return ctl_usage(ctl, "unexpected argument '%s'", arg);
	c->name = arg;
	return 0;
}

/* Checks after parsing and fills in a fresh request id when none was given. */
static int change_finish(struct change_args *c, const struct ctl *ctl, char *rid, size_t size)
{
	int err;

	if (!c->name)
		return ctl_usage(ctl, "NAME is required");
	if ((err = wait_args_check(&c->wait, ctl)) != 0)
		return err;
	if (!c->request_id) {
		/* One per invocation: ovrctl's own retries of this call are then safe. */
		if ((err = ctl_request_id(rid, size)) != 0)
			return ctl_fail("%s", ovr_err_msg(err));
		c->request_id = rid;
	}
	return 0;
}

/*
 * The environment the new version gets: the app's current one (its current version, or version
 * 1 for an app never deployed) with the flags applied. *current gets the app's current version.
 */
static int merged_env(struct ctl *ctl, const char *name, const struct envmap_args *ea,
                      struct envmap *env, long long *current)
{
	Overseer__V1__GetAppRequest ga = OVERSEER__V1__GET_APP_REQUEST__INIT;
	Overseer__V1__GetVersionRequest gv = OVERSEER__V1__GET_VERSION_REQUEST__INIT;
	Overseer__V1__App *app = NULL;
	Overseer__V1__AppVersion *ver = NULL;
	size_t i, missing = 0;
	int rc, err = 0;

	ga.name = (char *)(uintptr_t)name;
	rc = ctl_call(ctl, "/overseer.v1.Apps/GetApp", &ga.base, &overseer__v1__app__descriptor,
	              (ProtobufCMessage **)&app);
	if (rc)
		return rc;
	*current = app->current_version;
	gv.name = ga.name;
	gv.version = app->current_version > 0 ? app->current_version : 1;
	rc = ctl_call(ctl, "/overseer.v1.Apps/GetVersion", &gv.base,
	              &overseer__v1__app_version__descriptor, (ProtobufCMessage **)&ver);
	if (rc)
		goto out;
	for (i = 0; i < ver->n_environment && !err; i++)
		err = envmap_set(env, ver->environment[i]->key, ver->environment[i]->value);
	for (i = 0; i < ea->n_unsets && !err; i++)
		if (!envmap_get(env, ea->unsets[i]))
			fprintf(stderr, "ovrctl: note: %s is not set in version %lld\n",
			        ea->unsets[i], (long long)gv.version);
	if (!err)
		err = envmap_args_apply(env, ea, &missing);
	if (err) {
		rc = ctl_fail("%s", ovr_err_msg(err));
		goto out;
	}
out:
	if (ver)
		protobuf_c_message_free_unpacked(&ver->base, NULL);
	protobuf_c_message_free_unpacked(&app->base, NULL);
	return rc;
}

/* Prints the outcome, waits when asked, prints the structured response last. */
static int after_change(struct ctl *ctl, ProtobufCMessage *resp, Overseer__V1__AppVersion *ver,
                        Overseer__V1__Deployment **dep, const struct wait_args *w, const char *what)
{
	Overseer__V1__Deployment *final = NULL;
	int rc = CTL_EXIT_OK;

	if (!ver)
		return ctl_fail("the server answered without the new version");
	if (ctl->output == CTL_OUTPUT_TABLE) {
		appout_version_created(ver, *dep, what);
		appout_closure(stdout, ver);
		fflush(stdout);
	}
	if (w->wait) {
		rc = wait_deployment(ctl, *dep, w->timeout_ms, &final);
		if (final) {
			if (*dep)
				protobuf_c_message_free_unpacked(&(*dep)->base, NULL);
			*dep = final;
		}
	}
	if (ctl->output != CTL_OUTPUT_TABLE && ctl_print_structured(ctl, resp) != 0)
		rc = CTL_EXIT_FAIL;
	return rc;
}

int cmd_deploy(struct ctl *ctl, int argc, char **argv)
{
	Overseer__V1__DeployAppRequest req = OVERSEER__V1__DEPLOY_APP_REQUEST__INIT;
	Overseer__V1__DeployAppResponse *resp = NULL;
	ProtobufCMessage **entries = NULL;
	struct change_args c;
	struct envmap_args ea;
	struct closure_flags ca;
	struct envmap env;
	const char *file = NULL, *v;
	char rid[CTL_REQUEST_ID_SIZE];
	char *compose = NULL;
	long long current = 0;
	int i, r, rc, err, implied_expected = 0;

	memset(&c, 0, sizeof(c));
	memset(&ea, 0, sizeof(ea));
	memset(&ca, 0, sizeof(ca));
	memset(&env, 0, sizeof(env));
	wait_args_init(&c.wait);
	for (i = 0; i < argc; i++) {
		if ((r = change_arg(&c, ctl, argc, argv, &i)) != 0 ||
		    (r = envmap_args_parse(&ea, ctl, argc, argv, &i, 1)) != 0 ||
		    (r = closure_flags_arg(&ca, ctl, argc, argv, &i, 1)) != 0) {
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
		} else if ((rc = change_positional(&c, ctl, argv[i])) != 0) {
			goto out;
		}
	}
	if ((rc = change_finish(&c, ctl, rid, sizeof(rid))) != 0 ||
	    (rc = envmap_args_check(&ea, ctl)) != 0)
		goto out;
	req.name = (char *)(uintptr_t)c.name;
	req.message = (char *)(uintptr_t)(c.message ? c.message : "");
	req.request_id = (char *)(uintptr_t)c.request_id;
	req.expected_version = c.expected_version;
	req.no_supersede = c.no_supersede;
	req.strict_lint = ca.strict;
	/* Given, secrets and routes replace the current sets whole; not given, they are kept. */
	req.replace_secrets = ca.n_secrets || ca.no_secrets;
	req.n_secrets = ca.n_secrets;
	req.secrets = ca.secrets;
	req.replace_routes = ca.n_routes || ca.no_routes;
	req.n_routes = ca.n_routes;
	req.routes = ca.routes;
	if (file) {
		if ((err = ctl_read_compose(&compose, file)) != 0) {
			rc = ctl_fail("%s", ovr_err_msg(err));
			goto out;
		}
		req.compose_yaml = compose;
	}
	/* Without environment flags no environment is sent: the server keeps the current one. */
	if (envmap_args_given(&ea)) {
		rc = merged_env(ctl, c.name, &ea, &env, &current);
		if (rc)
			goto out;
		err = envmap_entries(
		        &entries, &env,
		        &overseer__v1__deploy_app_request__environment_entry__descriptor);
		if (err) {
			rc = ctl_fail("%s", ovr_err_msg(err));
			goto out;
		}
		req.replace_environment = 1;
		req.n_environment = env.n;
		req.environment = (Overseer__V1__DeployAppRequest__EnvironmentEntry **)entries;
		/* The merge read version `current`: refuse if someone deployed since. */
		if (!req.expected_version && current > 0) {
			req.expected_version = current;
			implied_expected = 1;
		}
	}
	if (c.wait.wait && (rc = wait_preflight(ctl)) != 0)
		goto out;
	err = ctl_call_mutating_err(ctl, "/overseer.v1.Apps/DeployApp", &req.base,
	                            &overseer__v1__deploy_app_response__descriptor,
	                            (ProtobufCMessage **)&resp);
	if (err) {
		if (err == OVR_ERR_CONFLICT && implied_expected)
			rc = ctl_fail("app '%s' changed while the environment of its version %lld "
			              "was being merged (%s); run the command again",
			              c.name, current, ovr_err_msg(err));
		else
			rc = ctl_fail("%s", ovr_err_msg(err));
		goto out;
	}
	appout_findings(stderr, file, resp->n_warnings, resp->warnings);
	rc = after_change(ctl, &resp->base, resp->version, &resp->deployment, &c.wait, "created");
out:
	if (resp)
		protobuf_c_message_free_unpacked(&resp->base, NULL);
	envmap_entries_free(entries, env.n);
	envmap_free(&env);
	closure_flags_free(&ca);
	free(compose);
	return rc;
}

int cmd_rollback(struct ctl *ctl, int argc, char **argv)
{
	Overseer__V1__RollbackAppRequest req = OVERSEER__V1__ROLLBACK_APP_REQUEST__INIT;
	Overseer__V1__RollbackAppResponse *resp = NULL;
	struct change_args c;
	char rid[CTL_REQUEST_ID_SIZE], what[96];
	const char *v;
	long long to = 0;
	int i, r, rc;

	memset(&c, 0, sizeof(c));
	wait_args_init(&c.wait);
	for (i = 0; i < argc; i++) {
		if ((r = change_arg(&c, ctl, argc, argv, &i)) != 0) {
			if (r < 0)
				return CTL_EXIT_USAGE;
		} else if ((r = args_value(argc, argv, &i, "--to", &v)) != 0) {
			if (r < 0)
				return ctl_usage_line(ctl);
			if (args_int64(v, 1, &to) != 0)
				return ctl_usage(ctl, "--to: '%s' is not a version number", v);
		} else if ((rc = change_positional(&c, ctl, argv[i])) != 0) {
			return rc;
		}
	}
	if ((rc = change_finish(&c, ctl, rid, sizeof(rid))) != 0)
		return rc;
	req.name = (char *)(uintptr_t)c.name;
	req.to_version = to;
	req.message = (char *)(uintptr_t)(c.message ? c.message : "");
	req.request_id = (char *)(uintptr_t)c.request_id;
	req.expected_version = c.expected_version;
	req.no_supersede = c.no_supersede;
	if (c.wait.wait && (rc = wait_preflight(ctl)) != 0)
		return rc;
	rc = ctl_call_mutating(ctl, "/overseer.v1.Apps/RollbackApp", &req.base,
	                       &overseer__v1__rollback_app_response__descriptor,
	                       (ProtobufCMessage **)&resp);
	if (rc)
		return rc;
	snprintf(what, sizeof(what), "created as a copy of version %lld",
	         resp->version ? (long long)resp->version->rollback_of : 0LL);
	rc = after_change(ctl, &resp->base, resp->version, &resp->deployment, &c.wait, what);
	protobuf_c_message_free_unpacked(&resp->base, NULL);
	return rc;
}
