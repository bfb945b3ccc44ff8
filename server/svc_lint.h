/* LintCompose, and the lint that deploys run: compose_lint with the ports in use on the nodes. */
#ifndef OVR_SVC_LINT_H
#define OVR_SVC_LINT_H

#include <stddef.h>

#include "arena.h"
#include "overseer/v1/apps.pb-c.h"
#include "rpc.h"

/* Apps/LintCompose: INVALID for a compose file that does not parse, naming the line. */
int svc_lint_compose(struct rpc_call *call, const void *req, void *resp);

/*
 * Lints yaml for a deploy of app (NULL for LintCompose without app) to the nodes the targets
 * select (targets_json as stored in apps.targets, or NULL: no port check), with the default bind
 * allowlist; strict makes every finding an error. Uses the calling worker's database connection.
 * *out (*n_out findings, sorted by line then rule) and everything it points to are allocated in
 * a. OVR_ERR_INVALID ("compose_yaml: line N: ...") when yaml does not parse, or a database error.
 */
int svc_lint_run(struct arena *a, const char *app, const char *yaml, const char *targets_json,
                 int strict, Overseer__V1__LintFinding ***out, size_t *n_out);

#endif
