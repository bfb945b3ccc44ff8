/* The agent hub: the live Connect stream of each node, by node id. */
#ifndef OVR_HUB_H
#define OVR_HUB_H

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>

struct rpc_call;

/*
 * Registers call as node_id's stream (takes a ref). An older stream of the same node is closed:
 * the newest connection wins, so a restarted agent never waits for its dead stream to time out.
 */
void hub_register(const char *node_id, struct rpc_call *call);
/* Removes the entry if it is still call (drops the ref). */
void hub_unregister(const char *node_id, struct rpc_call *call);
/* Ends node_id's stream at once with err and message (revocation). 1 if it had one. */
int hub_disconnect(const char *node_id, int err, const char *message);
/* Queues a message to node_id's stream. OVR_ERR_UNAVAILABLE if not connected here. */
int hub_send(const char *node_id, const ProtobufCMessage *msg);
/* Whether node_id's stream is on this server. */
int hub_connected(const char *node_id);
size_t hub_count(void);
/* Ends every stream (server stopping) and forgets them. */
void hub_clear(void);

#endif
