/* What lint needs from the database: the host ports other apps publish on a deploy's nodes. */
#ifndef OVR_DB_LINT_H
#define OVR_DB_LINT_H

#include <stddef.h>

#include "arena.h"
#include "compose_lint.h"
#include "db.h"

/* Bounds on what one lint reads: node_apps rows, and port entries across them. */
#define DB_LINT_ROWS_MAX  4096
#define DB_LINT_PORTS_MAX 16384

/*
 * The published host ports that the agents report for apps other than app (NULL: every app) on
 * the active nodes that targets_json selects ({"nodes": [...], "selector": "...", "match": {...}}
 * as stored in apps.targets; NULL: the stored targets of app, or no node when there is no such
 * app). *out holds *n_out entries (at most DB_LINT_PORTS_MAX), allocated in a with their strings;
 * port texts that do not parse are skipped. 0 or the db_query error.
 */
int db_lint_ports(struct db *db, struct arena *a, const char *app, const char *targets_json,
                  struct compose_lint_port_use **out, size_t *n_out);

#endif
