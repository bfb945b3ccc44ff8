/* Text output shared by ovrctl's app, deploy, rollback and version commands. */
#ifndef OVR_APPOUT_H
#define OVR_APPOUT_H

#include "overseer/v1/apps.pb-c.h"

#include <stddef.h>
#include <stdio.h>

/* "web-1,web-2 selector role=web" (either part may be missing), "" for no targets. Into buf. */
const char *appout_targets(char *buf, size_t size, const Overseer__V1__Targets *t);

/*
 * The lint warnings of a create or deploy, as "warning: FILE:12: service web: message (rule)",
 * then "  fix: ..." when the finding has one. file is the compose file's path as given: NULL
 * prints as "compose.yaml" (the stored file), "-" as "<stdin>".
 */
void appout_findings(FILE *fp, const char *file, size_t n,
                     Overseer__V1__LintFinding *const *findings);

/*
 * The findings of ovrctl lint: "FILE:12: warning: [rule] web: message", then "  fix: ...";
 * file as for appout_findings.
 */
void appout_lint_findings(FILE *fp, const char *file, size_t n,
                          Overseer__V1__LintFinding *const *findings);

/*
 * A version's secret references and routes, one per line under "Secrets:" and "Routes:", in the
 * flags' syntax: "DB_PASSWORD=db-pass@v3", "web:8080=shop.example.com/api,tls". Nothing when the
 * version has neither.
 */
void appout_closure(FILE *fp, const Overseer__V1__AppVersion *v);

/*
 * The outcome of a call that created a version: "app shop: version 4 created (deployment d1
 * started)", with what ("created", "created by rolling back to version 1", ...) as given.
 */
void appout_version_created(const Overseer__V1__AppVersion *v, const Overseer__V1__Deployment *d,
                            const char *what);

/* The app summary table (NAME, STATUS, VERSION, LAST-KNOWN-GOOD, TARGETS, UPDATED) to stdout. */
void appout_apps(Overseer__V1__App *const *apps, size_t n);

/*
 * The observed state per node (NODE, VERSION, PHASE, CONTAINERS running/total, MESSAGE, UPDATED),
 * each node's containers under it: service, state, health, restarts when any.
 */
void appout_nodes(const Overseer__V1__App *app, FILE *fp);

#endif
