/* ovrctl lint: the server's compose checks on a file, before any app or version exists. */
#include "appout.h"
#include "appsettings.h"
#include "args.h"
#include "cmd.h"
#include "ctl.h"
#include "err.h"
#include "overseer/v1/apps.pb-c.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cmd_lint(struct ctl *ctl, int argc, char **argv)
{
	Overseer__V1__LintComposeRequest req = OVERSEER__V1__LINT_COMPOSE_REQUEST__INIT;
	Overseer__V1__LintComposeResponse *resp = NULL;
	Overseer__V1__Targets targets;
	struct settings_targets ta;
	const char *file = NULL, *v;
	char *compose = NULL;
	int i, r, rc, err;

	memset(&ta, 0, sizeof(ta));
	for (i = 0; i < argc; i++) {
		if ((r = settings_target_arg(&ta, ctl, argc, argv, &i)) != 0) {
			if (r < 0)
				return CTL_EXIT_USAGE;
		} else if ((r = args_value(argc, argv, &i, "-f", &v)) != 0 ||
		           (r = args_value(argc, argv, &i, "--file", &v)) != 0) {
			if (r < 0)
				return ctl_usage_line(ctl);
			file = v;
		} else if ((r = args_value(argc, argv, &i, "--app", &v)) != 0) {
			if (r < 0)
				return ctl_usage_line(ctl);
			req.app = (char *)(uintptr_t)v;
		} else if (strcmp(argv[i], "--strict") == 0) {
			req.strict = 1;
		} else if (argv[i][0] == '-' && argv[i][1]) {
			return ctl_usage(ctl, "unknown flag '%s'", argv[i]);
		} else {
			return ctl_usage(ctl, "unexpected argument '%s' (the file goes after -f)",
			                 argv[i]);
		}
	}
	if (!file)
		return ctl_usage(ctl, "lint: -f compose.yaml is required");
	if ((err = ctl_read_compose(&compose, file)) != 0)
		return ctl_fail("%s", ovr_err_msg(err));
	req.compose_yaml = compose;
	req.targets = settings_targets_fill(&targets, &ta);
	rc = ctl_call(ctl, "/overseer.v1.Apps/LintCompose", &req.base,
	              &overseer__v1__lint_compose_response__descriptor, (ProtobufCMessage **)&resp);
	if (rc)
		goto out;
	if (ctl->output != CTL_OUTPUT_TABLE) {
		if (ctl_print_structured(ctl, &resp->base) != 0)
			rc = CTL_EXIT_FAIL;
	} else {
		appout_lint_findings(stdout, file, resp->n_findings, resp->findings);
		printf("%zu finding%s\n", resp->n_findings, resp->n_findings == 1 ? "" : "s");
	}
	/* Like a compiler: anything found, warnings too, is a failure for scripts and CI. */
	if (resp->n_findings)
		rc = CTL_EXIT_FAIL;
out:
	if (resp)
		protobuf_c_message_free_unpacked(&resp->base, NULL);
	free(compose);
	return rc;
}
