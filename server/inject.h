/*
 * What the server adds to an app's environment on a node when it sends the desired state: the
 * values of the version's pinned secrets, the node variables (OVR_NODE_*, OVR_APP*) and service
 * discovery (OVR_DISCOVERY_<APP>_<SERVICE>).
 */
#ifndef OVR_INJECT_H
#define OVR_INJECT_H

#include "arena.h"
#include "db.h"
#include "overseer/v1/agent.pb-c.h"

/*
 * Discovery variables per app. With the most plain variables (256), secrets (256), node variables
 * (6) and node labels (64) the total stays under the agent's EXECUTOR_MAX_ENV (1024), which
 * refuses an app with more.
 */
#define INJECT_DISCOVERY_MAX 256

/*
 * Adds the variables to every app of sync for node_id (values in the arena) and names the secret
 * ones in each app's secret_keys. A secret that cannot be opened (wrong or missing master key,
 * tampered row) fails the whole call: the node keeps what it runs rather than getting an app
 * without its secret; the error names the app, secret and version, never a value. A secret
 * version removed with force is left out, with a warning. Callers send the message, then call
 * inject_wipe.
 */
int inject_sync(struct db *db, struct arena *a, const char *node_id, Overseer__V1__Sync *sync);

/* Overwrites every secret value inject_sync put into sync. */
void inject_wipe(Overseer__V1__Sync *sync);

#endif
