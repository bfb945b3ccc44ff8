/*
 * ovr-server's Prometheus metrics (GET /metrics) and readiness (GET /readyz). Counters are bumped
 * where things happen (any thread), gauges are read when scraped. Labels only ever hold bounded
 * values of the code's own: method names, gRPC code names, transports, deployment kinds and
 * outcomes; never an app, node, token or any other name a user chose.
 */
#ifndef OVR_METRICS_H
#define OVR_METRICS_H

#include <stddef.h>
#include <stdint.h>

struct db;
struct rpc_method;
struct rpc_server;

/* Calls to methods past this index of the table are not counted (logged once at start). */
#define METRICS_MAX_METHODS 128

enum metrics_transport {
	METRICS_GRPC = 0,
	METRICS_REST,
	METRICS_TRANSPORTS,
};

/*
 * Binds the counters to the method table (borrowed: static) and notes the process start time;
 * once, before serving. rpc, borrowed and possibly NULL, is read for stream gauges at scrape
 * time (metrics_set_rpc_server changes it; NULL once it stops).
 */
void metrics_init(const struct rpc_method *methods, size_t n_methods);
void metrics_set_rpc_server(struct rpc_server *rpc);

/*
 * A call of m ended with grpc_code after micros: counted by method, code and transport; unary
 * calls also go into the latency histogram (a stream's duration is its lifetime, not latency).
 * Ends the worker's busy time begun by metrics_call_begin on this thread.
 */
void metrics_rpc_done(const struct rpc_method *m, int grpc_code, int64_t micros,
                      enum metrics_transport t);

/* CLOCK_MONOTONIC in microseconds, for the micros of metrics_rpc_done. */
int64_t metrics_now_us(void);

/* rpc_server_hooks.call_done for the gRPC server (arg unused). */
void metrics_grpc_call_done(const struct rpc_method *m, int grpc_code, int64_t micros, void *arg);

/* A unary call starts running on this worker thread (busy until its metrics_rpc_done). */
void metrics_call_begin(const struct rpc_method *m);

/* A thread that owns a database connection (gRPC worker, REST thread) started or stopped. */
void metrics_worker_started(void);
void metrics_worker_stopped(void);

/* A deployment was created (kind: Overseer__V1__DeploymentKind). */
void metrics_deploy_started(int kind);

/* A deployment ended in state (Overseer__V1__DeploymentState) seconds after it started. */
void metrics_deploy_ended(int kind, int state, double seconds);

/*
 * The /metrics body in the text format 0.0.4 (prom.h), NUL-terminated: the caller frees it.
 * NULL with the error set.
 */
char *metrics_render(size_t *len);

/*
 * Readiness on db (the caller's connection): 0 when the database answers and its schema is at
 * the newest migration this binary knows; OVR_ERR_UNAVAILABLE with the reason otherwise.
 */
int metrics_ready(struct db *db);

#endif
