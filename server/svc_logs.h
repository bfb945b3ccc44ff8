/*
 * StreamLogs: the server asks each node of an app for its containers' logs over the node's agent
 * stream (LogRequest) and merges the LogChunks the agents send back onto the caller's stream,
 * through a bounded buffer per caller that drops lines (and says how many) rather than wait.
 */
#ifndef OVR_SVC_LOGS_H
#define OVR_SVC_LOGS_H

#include "overseer/v1/agent.pb-c.h"
#include "rpc.h"

/* Open log streams per server process; more are refused with RESOURCE_EXHAUSTED. */
#define SVC_LOGS_MAX 256
/* Nodes one stream reads from. */
#define SVC_LOGS_NODES_MAX 256
/*
 * Per caller: lines waiting for the transport (whose own queue holds up to 1024 more). Past
 * either limit lines are dropped, and the next line delivered carries how many.
 */
#define SVC_LOGS_BUFFER_LINES 1000
#define SVC_LOGS_BUFFER_BYTES (1024 * 1024)
/* An agent that has not acknowledged a request by then is taken for gone. */
#define SVC_LOGS_ACK_MS 10000
/* The sender's sleep when nothing wakes it: how soon a REST client that left is noticed. */
#define SVC_LOGS_TICK_MS 250
/* An agent's line longer than this is dropped (agents cut lines at 16 KiB plus a marker). */
#define SVC_LOGS_LINE_MAX (17 * 1024)
/* Lines in one LogChunk; a chunk with more is refused whole. */
#define SVC_LOGS_CHUNK_LINES_MAX 1024

/* The stream handlers for /overseer.v1.Apps/StreamLogs (method table). */
extern const struct rpc_stream_ops svc_logs_ops;

/*
 * A LogChunk from node_id's agent on its stream agent (svc_agent.c's message handler). Never
 * waits on a caller: lines go to the callers' buffers or are counted as dropped. A chunk for a
 * request no longer open makes the agent stop it.
 */
void svc_logs_agent_chunk(struct rpc_call *agent, const char *node_id,
                          const Overseer__V1__LogChunk *chunk);

/* node_id's agent stream agent ended: its parts of open log streams end with a marker line. */
void svc_logs_agent_gone(struct rpc_call *agent, const char *node_id);

/*
 * Ends every open log stream with UNAVAILABLE "server shutting down" (the agents are told to
 * stop) and stops the sender thread. Call it before stopping the transports; it also runs at
 * exit. Idempotent.
 */
void svc_logs_stop(void);

#endif
