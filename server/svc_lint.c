/*
 * Apps/LintCompose and the lint a deploy runs: parse, gather the host ports other apps publish on
 * the target nodes, run compose_lint, answer with LintFinding messages.
 */
#include "svc_lint.h"

#include "compose_file.h"
#include "compose_lint.h"
#include "db_lint.h"
#include "err.h"
#include "server.h"
#include "strutil.h"
#include "targets.h"

#include <stdlib.h>
#include <string.h>

static Overseer__V1__LintFinding *finding_message(struct arena *a,
                                                  const struct compose_lint_finding *f)
{
	Overseer__V1__LintFinding *m = arena_alloc(a, sizeof(*m));

	overseer__v1__lint_finding__init(m);
	/* The strings outlive the response: the arena holds them, literals are static. */
	m->rule = (char *)f->rule;
	m->severity = (char *)f->severity;
	m->line = f->line;
	m->service = (char *)f->service;
	m->message = (char *)f->message;
	m->fix = (char *)f->fix;
	return m;
}

/* svc_lint_run; with app_targets, a NULL targets_json means the stored targets of app. */
static int lint_run(struct arena *a, const char *app, const char *yaml, const char *targets_json,
                    int app_targets, int strict, Overseer__V1__LintFinding ***out, size_t *n_out)
{
	struct compose_lint_options o = {0};
	struct compose_lint_port_use *uses = NULL;
	struct compose_lint_finding *f = NULL;
	struct compose_file *cf = NULL;
	char msg[1100];
	size_t i, n = 0, n_uses = 0;
	int err;

	*out = NULL;
	*n_out = 0;
	if (!yaml || !yaml[0])
		return ovr_err_set(OVR_ERR_INVALID, "compose_yaml: a compose file is required");
	err = compose_file_parse(&cf, yaml, strlen(yaml));
	if (err) {
		ovr_strlcpy(msg, ovr_err_msg(err), sizeof(msg));
		return ovr_err_set(err, "compose_yaml: %s", msg);
	}
	if (targets_json || (app_targets && app))
		err = db_lint_ports(server_db(), a, app, targets_json, &uses, &n_uses);
	o.ports_in_use = uses;
	o.n_ports_in_use = n_uses;
	o.strict = strict;
	if (!err)
		err = compose_lint(cf, &o, a, &f, &n);
	if (!err) {
		*out = arena_calloc(a, n + 1, sizeof(**out));
		for (i = 0; i < n; i++)
			(*out)[i] = finding_message(a, &f[i]);
		*n_out = n;
	}
	compose_file_free(cf);
	return err;
}

int svc_lint_run(struct arena *a, const char *app, const char *yaml, const char *targets_json,
                 int strict, Overseer__V1__LintFinding ***out, size_t *n_out)
{
	return lint_run(a, app, yaml, targets_json, 0, strict, out, n_out);
}

int svc_lint_compose(struct rpc_call *call, const void *req_, void *resp_)
{
	const Overseer__V1__LintComposeRequest *req = req_;
	Overseer__V1__LintComposeResponse *resp = resp_;
	struct arena *a = rpc_call_arena(call);
	const char *app = req->app[0] ? req->app : NULL;
	char *targets = NULL;
	int err = 0;

	if (app && !ovr_name_valid(app))
		return ovr_err_set(OVR_ERR_INVALID, "app: '%.80s' is not a valid app name", app);
	if (req->targets)
		err = targets_json(a, req->targets, &targets);
	if (err)
		return err;
	/* Without targets, an app's own targets say where it would go. */
	return lint_run(a, app, req->compose_yaml, targets, 1, req->strict, &resp->findings,
	                &resp->n_findings);
}
