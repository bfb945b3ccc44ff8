/*
 * The REST/JSON gateway: HTTPS (libmicrohttpd) in front of the same handlers the gRPC server
 * calls, routed by the method table's http_method/http_path, with the proto3 JSON mapping.
 *
 * Server-streaming methods answer 200 application/x-ndjson, a line per message sent, once the
 * first message (or the end) is there; an error before it is an ordinary error response, one
 * after it a last line {"error": {"code", "message", "details"}}. Their open and closed run on
 * the connection's libmicrohttpd thread; rpc_call_send and rpc_call_finish work from any
 * thread. A client that leaves while its stream is quiet is noticed when the handler asks
 * rpc_call_cancelled.
 */
#ifndef OVR_REST_H
#define OVR_REST_H

#include <stddef.h>

#include "rpc.h"

/* Request bodies larger than this are refused with 413 (gRPC code RESOURCE_EXHAUSTED). */
#define REST_MAX_BODY (4 * 1024 * 1024)

struct rest;

struct rest_opts {
	const char *cert_file; /* PEM chain: leaf first, then the CA */
	const char *key_file;
	unsigned threads; /* libmicrohttpd thread pool; default 4 */
	const struct rpc_method *methods;
	size_t n_methods;
	/* The gRPC server's hooks: identity for a call, and per-thread state (the database). */
	int (*authenticate)(struct rpc_call *call, struct rpc_identity *id);
	/* As rpc_server_hooks.invoke: runs unary handlers (NULL: directly). */
	int (*invoke)(struct rpc_call *call, const struct rpc_method *m, int auth_err,
	              const void *req, void *resp);
	void *(*worker_init)(void *arg);
	void (*worker_fini)(void *state);
	void *worker_arg;
};

/*
 * Starts serving on listen ("ADDR:PORT"; port 0 picks a free one); *port gets the bound port.
 * The caller frees *out with rest_stop.
 */
int rest_start(struct rest **out, int *port, const char *listen, const struct rest_opts *opts);

/*
 * Stops accepting, ends the streams in progress with UNAVAILABLE "server shutting down" (a last
 * line), waits for the requests in progress and frees everything. NULL is fine.
 */
void rest_stop(struct rest *r);

#endif
