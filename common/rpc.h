/*
 * The gRPC runtime: a TLS server driven by one method table, and the client side used by ovrctl
 * and the agent. Only rpc.c includes gRPC headers; everything else sees this interface.
 */
#ifndef OVR_RPC_H
#define OVR_RPC_H

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>
#include <stdint.h>

#include "arena.h"
#include "rpc_call.h"

#define RPC_MAX_MESSAGE (4 * 1024 * 1024)

enum rpc_kind {
	RPC_UNARY = 0,
	RPC_SERVER_STREAM,
	RPC_BIDI_STREAM,
};

/* What a method requires of its caller; roles are ordered, a higher one includes the lower. */
enum rpc_auth {
	RPC_AUTH_PUBLIC = 0, /* nothing (Enroll: the join token in the request is the credential) */
	RPC_AUTH_NODE,       /* a verified node certificate */
	RPC_AUTH_VIEWER,     /* bearer token with at least this role */
	RPC_AUTH_DEPLOYER,
	RPC_AUTH_ADMIN,
};

struct rpc_call;
struct rpc_server;

/*
 * A unary handler fills resp, which the runtime allocated and initialised for the method's
 * response type. Everything the handler hangs off resp (strings, sub-messages, arrays) must live
 * at least as long as the call: allocate it with rpc_call_arena() (freed after the reply is sent)
 * or point at static data. Returns 0 or a negative enum ovr_err with ovr_err_set() describing it;
 * the runtime maps that to the gRPC status.
 */
typedef int (*rpc_unary_fn)(struct rpc_call *call, const void *req, void *resp);

/*
 * Streaming handlers. The runtime calls them on a worker thread, one at a time per call and in
 * order: open, then (bidi) each message, then closed exactly once. Sends and finish may happen
 * from any thread at any time in between.
 */
struct rpc_stream_ops {
	/* req is the request for server-streaming calls, NULL for bidi. Non-zero ends the call. */
	int (*open)(struct rpc_call *call, const void *req);
	/* Bidi only: one client message. Non-zero ends the call with that error. */
	int (*message)(struct rpc_call *call, const void *msg);
	/* The call is over (finished, cancelled by either side, or the server stopping). */
	void (*closed)(struct rpc_call *call, int cancelled);
};

/* One row of the method table that drives the gRPC server, REST gateway, authz and OpenAPI. */
struct rpc_method {
	const char *path; /* "/overseer.v1.Nodes/ListNodes" */
	enum rpc_kind kind;
	const ProtobufCMessageDescriptor *request;
	const ProtobufCMessageDescriptor *response;
	rpc_unary_fn unary;                  /* unary calls; NULL: UNIMPLEMENTED */
	const struct rpc_stream_ops *stream; /* streaming calls; NULL: UNIMPLEMENTED */
	enum rpc_auth auth;
	const char *http_method; /* REST route, NULL if none */
	const char *http_path;   /* "/api/nodes/{name}": {field} binds a request field */
	int mutating;            /* changes state: audited, takes request_id */
};

/* Server hooks, all optional but authenticate. */
struct rpc_server_hooks {
	/*
	 * Establishes the caller's identity for a method (runs on a worker, may use the worker's
	 * database connection). Return 0 to proceed, or OVR_ERR_UNAUTHENTICATED /
	 * OVR_ERR_PERMISSION with the message set.
	 */
	int (*authenticate)(struct rpc_call *call, struct rpc_identity *id);
	/*
	 * TLS-level check of a presented client certificate (PEM), called during the handshake on a
	 * gRPC thread: must be fast and must not block. Return 0 to allow.
	 */
	int (*verify_peer_cert)(const char *cert_pem, void *arg);
	void *verify_arg;
	/* Per-worker state (the database connection). */
	void *(*worker_init)(void *arg);
	void (*worker_fini)(void *state);
	void *worker_arg;
	/*
	 * Runs a unary handler (NULL: m->unary directly). Called after authentication with its
	 * result: on a refusal it must return auth_err (req may then be NULL on REST). The REST
	 * gateway calls the same hook, so both transports behave alike (the audit log).
	 */
	int (*invoke)(struct rpc_call *call, const struct rpc_method *m, int auth_err,
	              const void *req, void *resp);
	/* Called after every unary call and stream end, for metrics and logs. */
	void (*call_done)(const struct rpc_method *m, int grpc_code, int64_t micros, void *arg);
	void *call_done_arg;
};

struct rpc_server_opts {
	const char *listen;    /* "ADDR:PORT"; port 0 picks a free one */
	const char *cert_file; /* PEM chain: leaf first */
	const char *key_file;
	const char *ca_file;      /* roots that client certificates must chain to */
	int reload_interval_s;    /* file watcher refresh; default 10 */
	size_t workers;           /* worker threads; default 4 */
	size_t max_queued;        /* queued unary calls before RESOURCE_EXHAUSTED; default 1024 */
	int keepalive_ms;         /* server pings; default 5000 */
	int keepalive_timeout_ms; /* default 5000 */
	const struct rpc_method *methods;
	size_t n_methods;
	struct rpc_server_hooks hooks;
};

/* Starts listening and serving. *port gets the bound port. */
int rpc_server_start(struct rpc_server **out, int *port, const struct rpc_server_opts *opts);

/*
 * Graceful stop: new calls are refused, streams end with UNAVAILABLE so agents reconnect
 * elsewhere, in-flight unary calls get grace_ms to finish, then everything is cancelled and freed.
 */
void rpc_server_stop(struct rpc_server *srv, int grace_ms);

/* Calls and streams in progress (metrics). */
size_t rpc_server_active_streams(struct rpc_server *srv);

/*
 * Messages not yet written on the open streams of method path (NULL: every stream), the one
 * being written included: their sum and the longest queue (metrics).
 */
void rpc_server_stream_queues(struct rpc_server *srv, const char *path, size_t *sum, size_t *max);

/* --- The call, as handlers see it --- */

const struct rpc_method *rpc_call_method(const struct rpc_call *call);
const struct rpc_identity *rpc_call_identity(const struct rpc_call *call);
/* The bearer token from "authorization: Bearer ...", or NULL. */
const char *rpc_call_bearer(const struct rpc_call *call);
/* The verified client certificate (PEM) and its CN, or NULL when none was presented. */
const char *rpc_call_peer_cert(const struct rpc_call *call);
const char *rpc_call_peer_cn(const struct rpc_call *call);
/* "ipv4:127.0.0.1:43210" */
const char *rpc_call_peer(const struct rpc_call *call);
/* A metadata value sent by the client (lowercase key), or NULL. Valid for the call's lifetime. */
const char *rpc_call_metadata(struct rpc_call *call, const char *key);
/* The client's deadline as CLOCK_MONOTONIC ms (ovr_mono_ms), 0 when none. */
int64_t rpc_call_deadline_ms(const struct rpc_call *call);
/* 1 once the client cancelled, the deadline passed or the call ended. */
int rpc_call_cancelled(const struct rpc_call *call);
/* The request-scoped arena (freed when the call is over). */
struct arena *rpc_call_arena(struct rpc_call *call);
/* The current worker's state from worker_init. */
void *rpc_call_worker(const struct rpc_call *call);

/* Handler data for streams. */
void rpc_call_set_data(struct rpc_call *call, void *data);
void *rpc_call_data(const struct rpc_call *call);

/* Streams are refcounted; whoever keeps one past a callback (the agent hub) takes a ref. */
void rpc_call_ref(struct rpc_call *call);
void rpc_call_unref(struct rpc_call *call);

/*
 * Queues a message on a stream; any thread. The message is packed at once, so the caller keeps
 * ownership of msg. OVR_ERR_CANCELLED once the call is over, OVR_ERR_TOO_LARGE if the message
 * exceeds the limit, OVR_ERR_UNAVAILABLE when max_queue messages are already waiting (the
 * caller decides whether to drop or end the stream).
 */
int rpc_call_send(struct rpc_call *call, const ProtobufCMessage *msg);

/* Ends a stream with a status after the queued messages; any thread; later calls are no-ops. */
void rpc_call_finish(struct rpc_call *call, int err, const char *message);

/* Ends a call at once with a status, dropping queued messages (revocation, shutdown). */
void rpc_call_cancel(struct rpc_call *call, int err, const char *message);

/* --- Client --- */

struct rpc_client;
struct rpc_client_stream;

struct rpc_client_opts {
	const char *target;   /* "host:port" */
	const char *ca_pem;   /* roots to verify the server with */
	const char *cert_pem; /* client certificate (agents), or NULL */
	const char *key_pem;
	const char *server_name; /* name checked against the server's SANs; NULL: host of target */
	int keepalive_ms;        /* 0: off */
	int max_send_message;    /* 0: RPC_MAX_MESSAGE (probes raise it to test the server) */
};

int rpc_client_new(struct rpc_client **out, const struct rpc_client_opts *opts);
void rpc_client_free(struct rpc_client *c);

/*
 * One unary call. On success *resp is a message the caller frees with
 * protobuf_c_message_free_unpacked(*resp, NULL). On failure returns the gRPC status mapped to
 * enum ovr_err, with the server's message (or a transport hint) set.
 */
int rpc_client_unary(struct rpc_client *c, const char *path, const char *bearer,
                     const ProtobufCMessage *req, const ProtobufCMessageDescriptor *resp_desc,
                     ProtobufCMessage **resp, int64_t timeout_ms);

/*
 * Sends arbitrary bytes as the request and discards the response: for probes and tests of how
 * the server treats malformed input. Returns 0 or the call's status as an error.
 */
int rpc_client_unary_raw(struct rpc_client *c, const char *path, const char *bearer,
                         const void *data, size_t len, int64_t timeout_ms);

/* Opens a stream; first_req is the request of a server-streaming call, NULL for bidi. */
int rpc_client_stream_open(struct rpc_client_stream **out, struct rpc_client *c, const char *path,
                           const char *bearer, const ProtobufCMessage *first_req);

/* Sends one message and waits until it is on its way (bidi). Thread-safe against recv. */
int rpc_client_stream_send(struct rpc_client_stream *s, const ProtobufCMessage *msg,
                           int64_t timeout_ms);

/*
 * Waits up to timeout_ms (-1: forever) for the next message. 0 with *out set (free with
 * protobuf_c_message_free_unpacked); OVR_ERR_TIMEOUT when none came in time (the read stays
 * pending for the next call); 1 when the server ended the stream with OK; a negative error with
 * the server's message otherwise.
 */
int rpc_client_stream_recv(struct rpc_client_stream *s, const ProtobufCMessageDescriptor *desc,
                           ProtobufCMessage **out, int64_t timeout_ms);

/* Cancels (if still open) and frees. */
void rpc_client_stream_free(struct rpc_client_stream *s);

/* Routes gRPC's own log lines into log.h (handshake failures only reach it). Once, at start. */
void rpc_init_logging(void);

#endif
