/* An app's targets (node names and a label selector), validated, in their stored JSON form. */
#ifndef OVR_TARGETS_H
#define OVR_TARGETS_H

#include "arena.h"
#include "overseer/v1/apps.pb-c.h"

#define TARGETS_NODES_MAX 256

/*
 * Checks t (NULL: no targets) and returns it as apps.targets stores it (arena):
 * {"nodes": [...], "selector": "k=v,...", "match": {parsed selector}}, the form DB_TARGETS
 * matches nodes with. OVR_ERR_INVALID naming the bad node name or selector.
 */
int targets_json(struct arena *a, const Overseer__V1__Targets *t, char **out);

#endif
