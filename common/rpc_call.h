/*
 * One call as handlers see it, whatever carried it: gRPC (rpc.c) or the REST gateway. A
 * transport embeds struct rpc_call first in its own call object and fills the vtable; the
 * handlers and the accessors below never know which transport they serve.
 */
#ifndef OVR_RPC_CALL_H
#define OVR_RPC_CALL_H

#include <protobuf-c/protobuf-c.h>
#include <stdatomic.h>
#include <stdint.h>

#include "arena.h"

struct rpc_call;
struct rpc_method;

enum rpc_identity_kind {
	RPC_IDENTITY_NONE = 0,
	RPC_IDENTITY_TOKEN,
	RPC_IDENTITY_NODE,
};

/* Who is calling, as established by the server's authenticate hook. */
struct rpc_identity {
	enum rpc_identity_kind kind;
	char name[128];       /* token name, or node id */
	int role;             /* enum rpc_auth: VIEWER..ADMIN for tokens, NODE for nodes */
	char cert_serial[64]; /* nodes: the serial of the certificate presented */
};

/* What a transport provides. */
struct rpc_call_transport {
	const char *name; /* "grpc", "rest" */
	/* Streams: queue a message (any thread); end after the queued ones; end at once. */
	int (*send)(struct rpc_call *call, const ProtobufCMessage *msg);
	void (*finish)(struct rpc_call *call, int err, const char *message);
	void (*cancel)(struct rpc_call *call, int err, const char *message);
	/* 1 once the client went away or the call ended. */
	int (*ended)(const struct rpc_call *call);
	/* A request header / metadata value (lowercase key), copied into the arena, or NULL. */
	const char *(*metadata)(struct rpc_call *call, const char *key);
	/* Frees the transport's call object when the last reference goes. */
	void (*destroy)(struct rpc_call *call);
};

struct rpc_call {
	const struct rpc_call_transport *transport;
	const struct rpc_method *method;
	atomic_int refs;
	struct rpc_identity identity;
	struct arena arena; /* request-scoped allocations, freed with the call */
	char *bearer;       /* malloc'd, or NULL */
	char *peer;         /* "ipv4:127.0.0.1:43210", malloc'd */
	char *peer_cert;    /* verified client certificate PEM, malloc'd, or NULL */
	char *peer_cn;
	int64_t deadline_ms; /* CLOCK_MONOTONIC ms (ovr_mono_ms), 0: none */
	void *data;          /* the handler's */
};

/* For transports: initialise the common part (one reference held by the caller). */
void rpc_call_init(struct rpc_call *call, const struct rpc_call_transport *t,
                   const struct rpc_method *m);
/* For transports: free what rpc_call_init and the arrival filled in (not the object). */
void rpc_call_release(struct rpc_call *call);

#endif
