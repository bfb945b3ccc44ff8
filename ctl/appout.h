/* Text output shared by ovrctl's app, deploy, rollback and version commands. */
#ifndef OVR_APPOUT_H
#define OVR_APPOUT_H

#include "overseer/v1/apps.pb-c.h"

#include <stddef.h>
#include <stdio.h>

/* "web-1,web-2 selector role=web" (either part may be missing), "" for no targets. Into buf. */
const char *appout_targets(char *buf, size_t size, const Overseer__V1__Targets *t);

/* One stderr line per lint finding: "warning: line 12, service web: ... [rule] (fix: ...)". */
void appout_findings(size_t n, Overseer__V1__LintFinding *const *findings);

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
