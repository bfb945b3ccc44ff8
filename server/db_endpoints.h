/* Published endpoints of apps' healthy services, as the agents last reported their containers. */
#ifndef OVR_DB_ENDPOINTS_H
#define OVR_DB_ENDPOINTS_H

#include <stddef.h>

#include "arena.h"
#include "db.h"
#include "overseer/v1/apps.pb-c.h"

#define DB_ENDPOINTS_MAX 4096

/*
 * Every published port of a running (and, where it has a healthcheck, healthy) container of app
 * (NULL: of every app that is not deleted) on an active node, as "host:port" where host is the
 * address the port is bound to, or the node's first address (else its hostname) for a wildcard
 * bind. Sorted by app, service, node, address; no duplicates; at most DB_ENDPOINTS_MAX.
 */
int db_endpoints_list(struct db *db, struct arena *a, const char *app,
                      Overseer__V1__Endpoint ***out, size_t *n_out);

#endif
