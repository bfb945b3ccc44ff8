/* The transport-neutral call: accessors handlers use, dispatching to the transport's vtable. */
#include "rpc.h"

#include "strutil.h"
#include "workpool.h"

#include <stdlib.h>
#include <string.h>

void rpc_call_init(struct rpc_call *call, const struct rpc_call_transport *t,
                   const struct rpc_method *m)
{
	call->transport = t;
	call->method = m;
	atomic_init(&call->refs, 1);
}

void rpc_call_release(struct rpc_call *call)
{
	free(call->bearer);
	free(call->peer);
	free(call->peer_cert);
	free(call->peer_cn);
	arena_free(&call->arena);
}

void rpc_call_ref(struct rpc_call *call)
{
	atomic_fetch_add(&call->refs, 1);
}

void rpc_call_unref(struct rpc_call *call)
{
	if (atomic_fetch_sub(&call->refs, 1) == 1)
		call->transport->destroy(call);
}

const struct rpc_method *rpc_call_method(const struct rpc_call *call)
{
	return call->method;
}

const struct rpc_identity *rpc_call_identity(const struct rpc_call *call)
{
	return &call->identity;
}

const char *rpc_call_bearer(const struct rpc_call *call)
{
	return call->bearer;
}

const char *rpc_call_peer_cert(const struct rpc_call *call)
{
	return call->peer_cert;
}

const char *rpc_call_peer_cn(const struct rpc_call *call)
{
	return call->peer_cn;
}

const char *rpc_call_peer(const struct rpc_call *call)
{
	return call->peer ? call->peer : "unknown";
}

const char *rpc_call_metadata(struct rpc_call *call, const char *key)
{
	return call->transport->metadata(call, key);
}

int64_t rpc_call_deadline_ms(const struct rpc_call *call)
{
	return call->deadline_ms;
}

int rpc_call_cancelled(const struct rpc_call *call)
{
	if (call->transport->ended(call))
		return 1;
	return call->deadline_ms && ovr_mono_ms() >= call->deadline_ms;
}

struct arena *rpc_call_arena(struct rpc_call *call)
{
	return &call->arena;
}

void *rpc_call_worker(const struct rpc_call *call)
{
	(void)call;
	return workpool_worker_state();
}

void rpc_call_set_data(struct rpc_call *call, void *data)
{
	call->data = data;
}

void *rpc_call_data(const struct rpc_call *call)
{
	return call->data;
}

int rpc_call_send(struct rpc_call *call, const ProtobufCMessage *msg)
{
	return call->transport->send(call, msg);
}

void rpc_call_finish(struct rpc_call *call, int err, const char *message)
{
	call->transport->finish(call, err, message);
}

void rpc_call_cancel(struct rpc_call *call, int err, const char *message)
{
	call->transport->cancel(call, err, message);
}
