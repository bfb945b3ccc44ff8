/* The health gate over the database: agents' reports and the passing of time move node rows. */
#ifndef OVR_DB_GATE_H
#define OVR_DB_GATE_H

#include <jansson.h>

#include "arena.h"
#include "db.h"
#include "overseer/v1/agent.pb-c.h"

/*
 * Applies node_id's report on one app to its row in the deployment the report names, if that
 * deployment is in progress (in the caller's transaction; the row is locked). containers_param is
 * the report's containers as a bytea parameter. A changed row's deployment id is appended to
 * changed (a JSON array), to be evaluated.
 */
int db_gate_report(struct db *db, const char *node_id, const Overseer__V1__AppReport *r,
                   const char *containers_param, json_t *changed);

/*
 * Applies the passing of time to every node of every deployment in progress (in the caller's
 * transaction): gates that passed, deadlines that expired. Changed deployment ids go to changed.
 */
int db_gate_tick(struct db *db, json_t *changed);

#endif
