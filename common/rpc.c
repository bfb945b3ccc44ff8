/*
 * The gRPC runtime over the gRPC C core 1.51 (see GRPC_CORE.md): the server (one completion-queue
 * thread for network I/O and decoding, handlers on a worker pool) and the blocking client used by
 * ovrctl and the agent. The only file that includes gRPC headers.
 */
#include "rpc.h"

#include "err.h"
#include "log.h"
#include "strutil.h"
#include "workpool.h"

#include <grpc/byte_buffer.h>
#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/support/alloc.h>
#include <grpc/support/log.h>
#include <grpc/support/string_util.h>
#include <grpc/support/time.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define CONTAINER_OF(ptr, type, member) ((type *)(void *)((char *)(ptr)-offsetof(type, member)))

/* Requests kept posted per method, so a burst of calls does not wait for re-posting. */
#define POSTED_PER_METHOD 2
/* Messages waiting behind the one in flight on a stream. */
#define STREAM_SEND_QUEUE_MAX 1024

/* A completion-queue tag: objects embed one per pending operation. */
struct rpc_tag {
	void (*done)(struct rpc_tag *tag, int ok);
};

/* ------------------------------------------------------------------ messages */

static grpc_byte_buffer *message_pack(const ProtobufCMessage *msg)
{
	size_t size = protobuf_c_message_get_packed_size(msg);
	grpc_slice slice = grpc_slice_malloc(size);
	grpc_byte_buffer *bb;

	protobuf_c_message_pack(msg, GRPC_SLICE_START_PTR(slice));
	bb = grpc_raw_byte_buffer_create(&slice, 1);
	grpc_slice_unref(slice);
	return bb;
}

/* NULL when the bytes are not a valid message of that type. */
static ProtobufCMessage *message_unpack(grpc_byte_buffer *bb,
                                        const ProtobufCMessageDescriptor *desc)
{
	grpc_byte_buffer_reader reader;
	ProtobufCMessage *msg;
	grpc_slice slice;

	if (!grpc_byte_buffer_reader_init(&reader, bb))
		return NULL;
	slice = grpc_byte_buffer_reader_readall(&reader);
	grpc_byte_buffer_reader_destroy(&reader);
	msg = protobuf_c_message_unpack(desc, NULL, GRPC_SLICE_LENGTH(slice),
	                                GRPC_SLICE_START_PTR(slice));
	grpc_slice_unref(slice);
	return msg;
}

static char *slice_strdup(grpc_slice s)
{
	size_t n = GRPC_SLICE_LENGTH(s);
	char *p = malloc(n + 1);

	if (!p)
		return NULL;
	memcpy(p, GRPC_SLICE_START_PTR(s), n);
	p[n] = '\0';
	return p;
}

/* Appends an integer channel argument. */
static void arg_int(grpc_arg *args, size_t *n, const char *key, int value)
{
	args[*n].type = GRPC_ARG_INTEGER;
	args[*n].key = (char *)(uintptr_t)key;
	args[*n].value.integer = value;
	(*n)++;
}

/* ------------------------------------------------------------------ server types */

enum inbox_type { INBOX_OPEN, INBOX_MESSAGE, INBOX_CLOSED };

struct inbox_event {
	struct inbox_event *next;
	enum inbox_type type;
	ProtobufCMessage *msg;
};

struct send_item {
	struct send_item *next;
	grpc_byte_buffer *bb;
};

struct method_slot {
	struct rpc_server *srv;
	const struct rpc_method *m;
	void *handle;
};

/* A gRPC call: the transport-neutral part first, so &call->base is what handlers get. */
struct gcall {
	struct rpc_call base;
	struct rpc_server *srv;
	const struct method_slot *slot;
	grpc_call *call;
	pthread_mutex_t mu;

	/* filled when the call arrives */
	gpr_timespec deadline;
	grpc_metadata_array md;
	grpc_byte_buffer *payload;
	int64_t started_us;
	ProtobufCMessage *request;

	struct rpc_tag tag_new, tag_close, tag_reply, tag_meta, tag_recv, tag_send, tag_status;
	int close_cancelled;
	atomic_int ended; /* RECV_CLOSE_ON_SERVER completed */
	grpc_byte_buffer *recv_buf;

	/* stream state, under mu */
	struct send_item *sendq_head, *sendq_tail;
	size_t sendq_len;
	grpc_byte_buffer *send_inflight;
	int finish_requested;
	int status_started;
	int finish_code;
	char *finish_msg;
	struct inbox_event *inbox_head, *inbox_tail;
	int inbox_scheduled;
	int opened;
	int reported;

	/* live-stream list, under srv->mu */
	struct gcall *live_prev, *live_next;
	int live;
};

static struct gcall *gcall_of(struct rpc_call *c)
{
	return (struct gcall *)(void *)c;
}

static void gref(struct gcall *call)
{
	rpc_call_ref(&call->base);
}

static void gunref(struct gcall *call)
{
	rpc_call_unref(&call->base);
}

struct unknown_call {
	struct rpc_server *srv;
	grpc_call *call;
	grpc_call_details details;
	grpc_metadata_array md;
	struct rpc_tag tag_new, tag_done;
	int close_cancelled;
};

struct rpc_server {
	grpc_server *server;
	grpc_completion_queue *cq;
	pthread_t cq_thread;
	int cq_thread_started;
	struct workpool *pool;
	struct rpc_server_hooks hooks;
	struct method_slot *slots;
	size_t n_slots;
	grpc_tls_certificate_verifier *verifier;
	/* gRPC keeps a pointer to this, not a copy: it lives as long as the server. */
	grpc_tls_certificate_verifier_external verifier_ext;

	pthread_mutex_t mu;
	pthread_cond_t cond;
	struct gcall *live_head;
	size_t n_live;
	size_t n_calls;
	int stopping;
	int shutdown_done;
	struct rpc_tag tag_shutdown;
};

static _Thread_local int on_cq_thread;

/* ------------------------------------------------------------------ call lifetime */

static void call_destroy(struct rpc_call *base)
{
	struct gcall *call = gcall_of(base);
	struct rpc_server *srv = call->srv;
	struct send_item *si;
	struct inbox_event *ev;

	if (call->call)
		grpc_call_unref(call->call);
	grpc_metadata_array_destroy(&call->md);
	if (call->payload)
		grpc_byte_buffer_destroy(call->payload);
	if (call->recv_buf)
		grpc_byte_buffer_destroy(call->recv_buf);
	if (call->send_inflight)
		grpc_byte_buffer_destroy(call->send_inflight);
	while ((si = call->sendq_head)) {
		call->sendq_head = si->next;
		grpc_byte_buffer_destroy(si->bb);
		free(si);
	}
	while ((ev = call->inbox_head)) {
		call->inbox_head = ev->next;
		if (ev->msg)
			protobuf_c_message_free_unpacked(ev->msg, NULL);
		free(ev);
	}
	if (call->request)
		protobuf_c_message_free_unpacked(call->request, NULL);
	free(call->finish_msg);
	rpc_call_release(&call->base);
	pthread_mutex_destroy(&call->mu);
	free(call);

	pthread_mutex_lock(&srv->mu);
	srv->n_calls--;
	pthread_cond_broadcast(&srv->cond);
	pthread_mutex_unlock(&srv->mu);
}

static int64_t now_us(void)
{
	gpr_timespec t = gpr_now(GPR_CLOCK_MONOTONIC);

	return (int64_t)t.tv_sec * 1000000 + t.tv_nsec / 1000;
}

static void call_report_done(struct gcall *call, int code)
{
	struct rpc_server *srv = call->srv;

	if (call->reported || !srv->hooks.call_done)
		return;
	call->reported = 1;
	srv->hooks.call_done(call->slot->m, code, now_us() - call->started_us,
	                     srv->hooks.call_done_arg);
}

/* ------------------------------------------------------------------ sending */

static void start_batch(struct gcall *call, const grpc_op *ops, size_t n, struct rpc_tag *tag)
{
	grpc_call_error e;

	gref(call);
	e = grpc_call_start_batch(call->call, ops, n, tag, NULL);
	if (e != GRPC_CALL_OK) {
		log_error("rpc: start_batch failed method=%s error=%d", call->slot->m->path,
		          (int)e);
		gunref(call);
	}
}

/* Under call->mu: sends the status once nothing is in flight. */
static void maybe_send_status_locked(struct gcall *call)
{
	grpc_op op;
	grpc_slice details;

	if (!call->finish_requested || call->status_started || call->send_inflight)
		return;
	call->status_started = 1;
	memset(&op, 0, sizeof(op));
	op.op = GRPC_OP_SEND_STATUS_FROM_SERVER;
	op.data.send_status_from_server.status = (grpc_status_code)call->finish_code;
	details = grpc_slice_from_copied_string(call->finish_msg ? call->finish_msg : "");
	op.data.send_status_from_server.status_details = &details;
	start_batch(call, &op, 1, &call->tag_status);
	grpc_slice_unref(details);
}

static void send_next_locked(struct gcall *call)
{
	struct send_item *si = call->sendq_head;
	grpc_op op;

	if (call->send_inflight)
		return;
	if (!si) {
		maybe_send_status_locked(call);
		return;
	}
	call->sendq_head = si->next;
	if (!call->sendq_head)
		call->sendq_tail = NULL;
	call->sendq_len--;
	call->send_inflight = si->bb;
	free(si);
	memset(&op, 0, sizeof(op));
	op.op = GRPC_OP_SEND_MESSAGE;
	op.data.send_message.send_message = call->send_inflight;
	start_batch(call, &op, 1, &call->tag_send);
}

static void on_send_done(struct rpc_tag *tag, int ok)
{
	struct gcall *call = CONTAINER_OF(tag, struct gcall, tag_send);
	struct send_item *si;

	pthread_mutex_lock(&call->mu);
	grpc_byte_buffer_destroy(call->send_inflight);
	call->send_inflight = NULL;
	if (!ok) {
		/* The call is broken: nothing queued can be delivered. */
		while ((si = call->sendq_head)) {
			call->sendq_head = si->next;
			grpc_byte_buffer_destroy(si->bb);
			free(si);
		}
		call->sendq_tail = NULL;
		call->sendq_len = 0;
	}
	send_next_locked(call);
	pthread_mutex_unlock(&call->mu);
	gunref(call);
}

static void on_status_done(struct rpc_tag *tag, int ok)
{
	struct gcall *call = CONTAINER_OF(tag, struct gcall, tag_status);

	(void)ok;
	gunref(call);
}

static int gcall_send(struct rpc_call *base, const ProtobufCMessage *msg)
{
	struct gcall *call = gcall_of(base);
	struct send_item *si;
	size_t size = protobuf_c_message_get_packed_size(msg);
	int err = 0;

	if (size > RPC_MAX_MESSAGE)
		return ovr_err_set(OVR_ERR_TOO_LARGE,
		                   "%s message of %zu bytes exceeds the %d byte limit",
		                   msg->descriptor->name, size, RPC_MAX_MESSAGE);
	si = malloc(sizeof(*si));
	if (!si)
		return ovr_err_set(OVR_ERR_NOMEM, "out of memory");
	si->next = NULL;
	si->bb = message_pack(msg);
	pthread_mutex_lock(&call->mu);
	if (atomic_load(&call->ended) || call->finish_requested)
		err = ovr_err_set(OVR_ERR_CANCELLED, "stream is closed");
	else if (call->sendq_len >= STREAM_SEND_QUEUE_MAX)
		err = ovr_err_set(OVR_ERR_UNAVAILABLE, "stream send queue full (%d messages)",
		                  STREAM_SEND_QUEUE_MAX);
	if (!err) {
		if (call->sendq_tail)
			call->sendq_tail->next = si;
		else
			call->sendq_head = si;
		call->sendq_tail = si;
		call->sendq_len++;
		send_next_locked(call);
		si = NULL;
	}
	pthread_mutex_unlock(&call->mu);
	if (si) {
		grpc_byte_buffer_destroy(si->bb);
		free(si);
	}
	return err;
}

static void gcall_finish(struct rpc_call *base, int err, const char *message)
{
	struct gcall *call = gcall_of(base);
	pthread_mutex_lock(&call->mu);
	if (!call->finish_requested && !atomic_load(&call->ended)) {
		call->finish_requested = 1;
		call->finish_code = ovr_err_to_grpc(err);
		call->finish_msg = strdup(message ? message : (err ? ovr_strerror(err) : ""));
		maybe_send_status_locked(call);
	}
	pthread_mutex_unlock(&call->mu);
}

static void gcall_cancel(struct rpc_call *base, int err, const char *message)
{
	struct gcall *call = gcall_of(base);
	int code = ovr_err_to_grpc(err);

	grpc_call_cancel_with_status(call->call, (grpc_status_code)code,
	                             message ? message : ovr_strerror(err), NULL);
}

/* ------------------------------------------------------------------ unary calls */

static void unary_reply(struct gcall *call, int err, ProtobufCMessage *resp)
{
	grpc_op ops[3];
	grpc_byte_buffer *bb = NULL;
	grpc_slice details;
	size_t n = 0;
	int code = err ? ovr_err_to_grpc(err) : OVR_GRPC_OK;

	if (!err && resp && protobuf_c_message_get_packed_size(resp) > RPC_MAX_MESSAGE) {
		code = OVR_GRPC_RESOURCE_EXHAUSTED;
		err = ovr_err_set(OVR_ERR_TOO_LARGE,
		                  "response exceeds %d bytes; ask for a smaller page",
		                  RPC_MAX_MESSAGE);
	}
	details = grpc_slice_from_copied_string(err ? ovr_err_msg(err) : "");
	memset(ops, 0, sizeof(ops));
	ops[n++].op = GRPC_OP_SEND_INITIAL_METADATA;
	if (!err && resp) {
		bb = message_pack(resp);
		ops[n].op = GRPC_OP_SEND_MESSAGE;
		ops[n++].data.send_message.send_message = bb;
	}
	ops[n].op = GRPC_OP_SEND_STATUS_FROM_SERVER;
	ops[n].data.send_status_from_server.status = (grpc_status_code)code;
	ops[n++].data.send_status_from_server.status_details = &details;
	call->send_inflight = bb;
	start_batch(call, ops, n, &call->tag_reply);
	grpc_slice_unref(details);
	call_report_done(call, code);
}

static void on_reply_done(struct rpc_tag *tag, int ok)
{
	struct gcall *call = CONTAINER_OF(tag, struct gcall, tag_reply);

	(void)ok;
	gunref(call);
}

/* Runs the authenticate hook (for public methods too: it also readies the worker). */
static int call_authenticate(struct gcall *call)
{
	struct rpc_server *srv = call->srv;

	ovr_err_clear();
	return srv->hooks.authenticate(&call->base, &call->base.identity);
}

static void unary_job(void *arg)
{
	struct gcall *call = arg;
	const struct rpc_method *m = call->slot->m;
	ProtobufCMessage *resp = NULL;
	int err;

	if (rpc_call_cancelled(&call->base)) {
		err = ovr_err_set(OVR_ERR_TIMEOUT, "deadline passed before the call was handled");
		goto out;
	}
	err = call_authenticate(call);
	if (err && !call->srv->hooks.invoke)
		goto out;
	resp = arena_alloc(&call->base.arena, m->response->sizeof_message);
	m->response->message_init(resp);
	if (!err)
		ovr_err_clear();
	if (call->srv->hooks.invoke)
		err = call->srv->hooks.invoke(&call->base, m, err, call->request, resp);
	else
		err = m->unary(&call->base, call->request, resp);
	if (err && ovr_err_to_grpc(err) == OVR_GRPC_INTERNAL)
		log_error("rpc: %s failed: %s", m->path, ovr_err_msg(err));
out:
	unary_reply(call, err, resp);
	gunref(call);
}

/* ------------------------------------------------------------------ streams */

static void inbox_job(void *arg);

static void inbox_push(struct gcall *call, enum inbox_type type, ProtobufCMessage *msg)
{
	struct inbox_event *ev = calloc(1, sizeof(*ev));
	int schedule = 0;

	if (!ev)
		fatalx("rpc: out of memory");
	ev->type = type;
	ev->msg = msg;
	pthread_mutex_lock(&call->mu);
	if (call->inbox_tail)
		call->inbox_tail->next = ev;
	else
		call->inbox_head = ev;
	call->inbox_tail = ev;
	if (!call->inbox_scheduled) {
		call->inbox_scheduled = 1;
		schedule = 1;
	}
	pthread_mutex_unlock(&call->mu);
	if (!schedule)
		return;
	gref(call);
	if (workpool_submit(call->srv->pool, inbox_job, call) != 0) {
		/* The pool is full or stopping: run the events here rather than lose a close. */
		log_warnx("rpc: worker queue refused stream events method=%s: %s",
		          call->slot->m->path, ovr_err_msg(0));
		inbox_job(call);
	}
}

static void post_recv(struct gcall *call)
{
	grpc_op op;

	if (atomic_load(&call->ended))
		return;
	memset(&op, 0, sizeof(op));
	op.op = GRPC_OP_RECV_MESSAGE;
	op.data.recv_message.recv_message = &call->recv_buf;
	start_batch(call, &op, 1, &call->tag_recv);
}

static void on_recv_done(struct rpc_tag *tag, int ok)
{
	struct gcall *call = CONTAINER_OF(tag, struct gcall, tag_recv);
	grpc_byte_buffer *bb = call->recv_buf;
	ProtobufCMessage *msg;

	call->recv_buf = NULL;
	if (!ok || !bb) {
		/* Half-close or failure: the client is done talking, so the call is done. */
		if (ok)
			gcall_finish(&call->base, 0, NULL);
		goto out;
	}
	msg = message_unpack(bb, call->slot->m->request);
	grpc_byte_buffer_destroy(bb);
	if (!msg) {
		gcall_finish(&call->base, OVR_ERR_INVALID,
		             "malformed message: not a valid request");
		goto out;
	}
	inbox_push(call, INBOX_MESSAGE, msg);
out:
	gunref(call);
}

static void stream_handle_event(struct gcall *call, struct inbox_event *ev)
{
	const struct rpc_method *m = call->slot->m;
	int err;

	switch (ev->type) {
	case INBOX_OPEN:
		err = call_authenticate(call);
		if (!err) {
			call->opened = 1;
			ovr_err_clear();
			err = m->stream->open(&call->base, call->request);
		}
		if (err) {
			gcall_finish(&call->base, err, ovr_err_msg(err));
			break;
		}
		if (m->kind == RPC_BIDI_STREAM)
			post_recv(call);
		break;
	case INBOX_MESSAGE:
		if (!call->opened || call->finish_requested || atomic_load(&call->ended))
			break;
		ovr_err_clear();
		err = m->stream->message ? m->stream->message(&call->base, ev->msg) : 0;
		if (err)
			gcall_finish(&call->base, err, ovr_err_msg(err));
		else
			post_recv(call);
		break;
	case INBOX_CLOSED:
		if (call->opened && m->stream->closed)
			m->stream->closed(&call->base, call->close_cancelled);
		call_report_done(call,
		                 call->close_cancelled ? OVR_GRPC_CANCELLED : call->finish_code);
		break;
	}
}

static void inbox_job(void *arg)
{
	struct gcall *call = arg;

	for (;;) {
		struct inbox_event *ev;

		pthread_mutex_lock(&call->mu);
		ev = call->inbox_head;
		if (ev) {
			call->inbox_head = ev->next;
			if (!call->inbox_head)
				call->inbox_tail = NULL;
		} else {
			call->inbox_scheduled = 0;
		}
		pthread_mutex_unlock(&call->mu);
		if (!ev)
			break;
		stream_handle_event(call, ev);
		if (ev->msg)
			protobuf_c_message_free_unpacked(ev->msg, NULL);
		free(ev);
	}
	gunref(call);
}

static void live_add(struct gcall *call)
{
	struct rpc_server *srv = call->srv;

	pthread_mutex_lock(&srv->mu);
	call->live = 1;
	call->live_prev = NULL;
	call->live_next = srv->live_head;
	if (srv->live_head)
		srv->live_head->live_prev = call;
	srv->live_head = call;
	srv->n_live++;
	pthread_mutex_unlock(&srv->mu);
}

static void live_remove(struct gcall *call)
{
	struct rpc_server *srv = call->srv;

	pthread_mutex_lock(&srv->mu);
	if (call->live) {
		if (call->live_prev)
			call->live_prev->live_next = call->live_next;
		else
			srv->live_head = call->live_next;
		if (call->live_next)
			call->live_next->live_prev = call->live_prev;
		call->live = 0;
		srv->n_live--;
	}
	pthread_mutex_unlock(&srv->mu);
}

size_t rpc_server_active_streams(struct rpc_server *srv)
{
	size_t n;

	pthread_mutex_lock(&srv->mu);
	n = srv->n_live;
	pthread_mutex_unlock(&srv->mu);
	return n;
}

void rpc_server_stream_queues(struct rpc_server *srv, const char *path, size_t *sum, size_t *max)
{
	struct gcall *c;

	*sum = *max = 0;
	/* Lock order: srv->mu, then a call's mu (nothing takes them the other way round). */
	pthread_mutex_lock(&srv->mu);
	for (c = srv->live_head; c; c = c->live_next) {
		size_t n;

		if (path && strcmp(c->slot->m->path, path) != 0)
			continue;
		pthread_mutex_lock(&c->mu);
		n = c->sendq_len + (c->send_inflight ? 1 : 0);
		pthread_mutex_unlock(&c->mu);
		*sum += n;
		if (n > *max)
			*max = n;
	}
	pthread_mutex_unlock(&srv->mu);
}

static void on_meta_done(struct rpc_tag *tag, int ok)
{
	struct gcall *call = CONTAINER_OF(tag, struct gcall, tag_meta);

	(void)ok;
	gunref(call);
}

static void on_close_done(struct rpc_tag *tag, int ok)
{
	struct gcall *call = CONTAINER_OF(tag, struct gcall, tag_close);
	struct send_item *si;

	(void)ok;
	pthread_mutex_lock(&call->mu);
	atomic_store(&call->ended, 1);
	while ((si = call->sendq_head)) {
		call->sendq_head = si->next;
		grpc_byte_buffer_destroy(si->bb);
		free(si);
	}
	call->sendq_tail = NULL;
	call->sendq_len = 0;
	pthread_mutex_unlock(&call->mu);
	if (call->slot->m->kind != RPC_UNARY) {
		live_remove(call);
		inbox_push(call, INBOX_CLOSED, NULL);
	}
	gunref(call);
}

/* ------------------------------------------------------------------ the transport */

static int gcall_ended(const struct rpc_call *base)
{
	const struct gcall *call = (const struct gcall *)(const void *)base;

	return atomic_load(&call->ended);
}

static const char *gcall_metadata(struct rpc_call *base, const char *key)
{
	struct gcall *call = gcall_of(base);
	size_t i;

	for (i = 0; i < call->md.count; i++) {
		const grpc_metadata *m = &call->md.metadata[i];

		/* Metadata values are not NUL-terminated: copy into the arena. */
		if (grpc_slice_str_cmp(m->key, key) == 0)
			return arena_strndup(&call->base.arena,
			                     (const char *)GRPC_SLICE_START_PTR(m->value),
			                     GRPC_SLICE_LENGTH(m->value));
	}
	return NULL;
}

static const struct rpc_call_transport grpc_transport = {
        .name = "grpc",
        .send = gcall_send,
        .finish = gcall_finish,
        .cancel = gcall_cancel,
        .ended = gcall_ended,
        .metadata = gcall_metadata,
        .destroy = call_destroy,
};

/* ------------------------------------------------------------------ call arrival */

static void post_request(struct method_slot *slot);

static char *auth_property(grpc_auth_context *ctx, const char *name)
{
	grpc_auth_property_iterator it = grpc_auth_context_find_properties_by_name(ctx, name);
	const grpc_auth_property *p = grpc_auth_property_iterator_next(&it);
	char *s;

	if (!p || !p->value)
		return NULL;
	s = malloc(p->value_length + 1);
	if (!s)
		return NULL;
	memcpy(s, p->value, p->value_length);
	s[p->value_length] = '\0';
	return s;
}

static void call_read_arrival(struct gcall *call)
{
	grpc_auth_context *ctx;
	char *peer;
	size_t i;

	peer = grpc_call_get_peer(call->call);
	if (peer) {
		call->base.peer = strdup(peer);
		gpr_free(peer);
	}
	ctx = grpc_call_auth_context(call->call);
	if (ctx) {
		call->base.peer_cert = auth_property(ctx, GRPC_X509_PEM_CERT_PROPERTY_NAME);
		call->base.peer_cn = auth_property(ctx, GRPC_X509_CN_PROPERTY_NAME);
		grpc_auth_context_release(ctx);
	}
	for (i = 0; i < call->md.count; i++) {
		const grpc_metadata *m = &call->md.metadata[i];
		size_t len = GRPC_SLICE_LENGTH(m->value);
		const char *v = (const char *)GRPC_SLICE_START_PTR(m->value);

		if (grpc_slice_str_cmp(m->key, "authorization") != 0 || len < 7 || len > 512)
			continue;
		if (strncasecmp(v, "Bearer ", 7) == 0) {
			call->base.bearer = malloc(len - 6);
			if (call->base.bearer) {
				memcpy(call->base.bearer, v + 7, len - 7);
				call->base.bearer[len - 7] = '\0';
			}
		}
	}
	if (gpr_time_cmp(call->deadline, gpr_inf_future(call->deadline.clock_type)) != 0) {
		gpr_timespec left =
		        gpr_time_sub(gpr_convert_clock_type(call->deadline, GPR_CLOCK_MONOTONIC),
		                     gpr_now(GPR_CLOCK_MONOTONIC));
		int64_t ms = (int64_t)left.tv_sec * 1000 + left.tv_nsec / 1000000;

		call->base.deadline_ms = ovr_mono_ms() + (ms > 0 ? ms : 0);
		if (call->base.deadline_ms == 0)
			call->base.deadline_ms = 1;
	}
}

/* Replies at once from the completion-queue thread (no handler, bad request, overload). */
static void reply_early(struct gcall *call, int err, const char *msg)
{
	ovr_err_set(err, "%s", msg);
	unary_reply(call, err, NULL);
}

static void on_new_call(struct rpc_tag *tag, int ok)
{
	struct gcall *call = CONTAINER_OF(tag, struct gcall, tag_new);
	struct rpc_server *srv = call->srv;
	const struct rpc_method *m = call->slot->m;
	grpc_op op;

	if (!ok) {
		/* The server is shutting down: the posted request never got a call. */
		gunref(call);
		return;
	}
	pthread_mutex_lock(&srv->mu);
	if (!srv->stopping)
		post_request((struct method_slot *)(uintptr_t)call->slot);
	pthread_mutex_unlock(&srv->mu);

	call->started_us = now_us();
	call_read_arrival(call);

	memset(&op, 0, sizeof(op));
	op.op = GRPC_OP_RECV_CLOSE_ON_SERVER;
	op.data.recv_close_on_server.cancelled = &call->close_cancelled;
	start_batch(call, &op, 1, &call->tag_close);

	if (m->kind != RPC_BIDI_STREAM) {
		if (!call->payload) {
			reply_early(call, OVR_ERR_INVALID, "request message missing");
			goto out;
		}
		call->request = message_unpack(call->payload, m->request);
		grpc_byte_buffer_destroy(call->payload);
		call->payload = NULL;
		if (!call->request) {
			reply_early(call, OVR_ERR_INVALID,
			            "malformed request: not a valid message");
			goto out;
		}
	}
	if (m->kind == RPC_UNARY) {
		char msg[256];

		if (!m->unary) {
			snprintf(msg, sizeof(msg), "%s is not implemented yet", m->path + 1);
			reply_early(call, OVR_ERR_UNIMPLEMENTED, msg);
			goto out;
		}
		gref(call);
		if (workpool_submit(srv->pool, unary_job, call) != 0) {
			gunref(call);
			reply_early(call, OVR_ERR_TOO_LARGE,
			            "server busy: too many requests queued, retry");
		}
		goto out;
	}
	if (!m->stream) {
		char msg[256];

		snprintf(msg, sizeof(msg), "%s is not implemented yet", m->path + 1);
		reply_early(call, OVR_ERR_UNIMPLEMENTED, msg);
		goto out;
	}
	live_add(call);
	memset(&op, 0, sizeof(op));
	op.op = GRPC_OP_SEND_INITIAL_METADATA;
	start_batch(call, &op, 1, &call->tag_meta);
	inbox_push(call, INBOX_OPEN, NULL);
out:
	gunref(call);
}

static void post_request(struct method_slot *slot)
{
	struct rpc_server *srv = slot->srv;
	struct gcall *call = calloc(1, sizeof(*call));
	grpc_call_error e;

	if (!call)
		fatalx("rpc: out of memory");
	rpc_call_init(&call->base, &grpc_transport, slot->m);
	call->srv = srv;
	call->slot = slot;
	atomic_init(&call->ended, 0);
	pthread_mutex_init(&call->mu, NULL);
	grpc_metadata_array_init(&call->md);
	call->tag_new.done = on_new_call;
	call->tag_close.done = on_close_done;
	call->tag_reply.done = on_reply_done;
	call->tag_meta.done = on_meta_done;
	call->tag_recv.done = on_recv_done;
	call->tag_send.done = on_send_done;
	call->tag_status.done = on_status_done;
	srv->n_calls++;
	e = grpc_server_request_registered_call(
	        srv->server, slot->handle, &call->call, &call->deadline, &call->md,
	        slot->m->kind == RPC_BIDI_STREAM ? NULL : &call->payload, srv->cq, srv->cq,
	        &call->tag_new);
	if (e != GRPC_CALL_OK) {
		log_error("rpc: cannot post request for %s: %d", slot->m->path, (int)e);
		srv->n_calls--;
		pthread_mutex_destroy(&call->mu);
		grpc_metadata_array_destroy(&call->md);
		free(call);
	}
}

/* Calls to methods nobody registered: answer UNIMPLEMENTED and keep one request posted. */
static void post_unknown(struct rpc_server *srv);

static void on_unknown_done(struct rpc_tag *tag, int ok)
{
	struct unknown_call *u = CONTAINER_OF(tag, struct unknown_call, tag_done);

	(void)ok;
	grpc_call_unref(u->call);
	grpc_call_details_destroy(&u->details);
	grpc_metadata_array_destroy(&u->md);
	free(u);
}

static void on_unknown_call(struct rpc_tag *tag, int ok)
{
	struct unknown_call *u = CONTAINER_OF(tag, struct unknown_call, tag_new);
	struct rpc_server *srv = u->srv;
	grpc_op ops[3];
	grpc_slice details;
	char msg[300];
	char *method;

	if (!ok) {
		grpc_call_details_destroy(&u->details);
		grpc_metadata_array_destroy(&u->md);
		free(u);
		return;
	}
	pthread_mutex_lock(&srv->mu);
	if (!srv->stopping)
		post_unknown(srv);
	pthread_mutex_unlock(&srv->mu);
	method = slice_strdup(u->details.method);
	snprintf(msg, sizeof(msg), "unknown method %.200s", method ? method : "?");
	free(method);
	details = grpc_slice_from_copied_string(msg);
	memset(ops, 0, sizeof(ops));
	ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
	ops[1].op = GRPC_OP_SEND_STATUS_FROM_SERVER;
	ops[1].data.send_status_from_server.status = GRPC_STATUS_UNIMPLEMENTED;
	ops[1].data.send_status_from_server.status_details = &details;
	ops[2].op = GRPC_OP_RECV_CLOSE_ON_SERVER;
	ops[2].data.recv_close_on_server.cancelled = &u->close_cancelled;
	if (grpc_call_start_batch(u->call, ops, 3, &u->tag_done, NULL) != GRPC_CALL_OK)
		on_unknown_done(&u->tag_done, 0);
	grpc_slice_unref(details);
}

static void post_unknown(struct rpc_server *srv)
{
	struct unknown_call *u = calloc(1, sizeof(*u));

	if (!u)
		fatalx("rpc: out of memory");
	u->srv = srv;
	u->tag_new.done = on_unknown_call;
	u->tag_done.done = on_unknown_done;
	grpc_call_details_init(&u->details);
	grpc_metadata_array_init(&u->md);
	if (grpc_server_request_call(srv->server, &u->call, &u->details, &u->md, srv->cq, srv->cq,
	                             &u->tag_new) != GRPC_CALL_OK) {
		grpc_call_details_destroy(&u->details);
		grpc_metadata_array_destroy(&u->md);
		free(u);
	}
}

/* ------------------------------------------------------------------ server lifecycle */

static void *cq_thread_main(void *arg)
{
	struct rpc_server *srv = arg;

	on_cq_thread = 1;
	for (;;) {
		grpc_event ev = grpc_completion_queue_next(
		        srv->cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);

		if (ev.type == GRPC_QUEUE_SHUTDOWN)
			break;
		if (ev.type == GRPC_OP_COMPLETE) {
			struct rpc_tag *tag = ev.tag;

			tag->done(tag, ev.success);
		}
	}
	return NULL;
}

static void on_shutdown_done(struct rpc_tag *tag, int ok)
{
	struct rpc_server *srv = CONTAINER_OF(tag, struct rpc_server, tag_shutdown);

	(void)ok;
	pthread_mutex_lock(&srv->mu);
	srv->shutdown_done = 1;
	pthread_cond_broadcast(&srv->cond);
	pthread_mutex_unlock(&srv->mu);
}

static int verifier_verify(void *user_data, grpc_tls_custom_verification_check_request *request,
                           grpc_tls_on_custom_verification_check_done_cb callback,
                           void *callback_arg, grpc_status_code *sync_status,
                           char **sync_error_details)
{
	struct rpc_server *srv = user_data;
	const char *pem = request->peer_info.peer_cert;

	(void)callback;
	(void)callback_arg;
	*sync_status = GRPC_STATUS_OK;
	if (pem && pem[0] && srv->hooks.verify_peer_cert &&
	    srv->hooks.verify_peer_cert(pem, srv->hooks.verify_arg) != 0) {
		*sync_status = GRPC_STATUS_UNAUTHENTICATED;
		*sync_error_details = gpr_strdup("client certificate refused (revoked)");
	}
	return 1;
}

static void verifier_cancel(void *user_data, grpc_tls_custom_verification_check_request *request)
{
	(void)user_data;
	(void)request;
}

static void verifier_destruct(void *user_data)
{
	(void)user_data;
}

static grpc_server_credentials *server_credentials(struct rpc_server *srv,
                                                   const struct rpc_server_opts *o)
{
	grpc_tls_certificate_provider *provider;
	grpc_tls_credentials_options *opts;
	grpc_tls_certificate_verifier_external *ext = &srv->verifier_ext;

	provider = grpc_tls_certificate_provider_file_watcher_create(
	        o->key_file, o->cert_file, o->ca_file,
	        (unsigned)(o->reload_interval_s > 0 ? o->reload_interval_s : 10));
	if (!provider)
		return NULL;
	opts = grpc_tls_credentials_options_create();
	grpc_tls_credentials_options_set_certificate_provider(opts, provider);
	grpc_tls_credentials_options_watch_root_certs(opts);
	grpc_tls_credentials_options_watch_identity_key_cert_pairs(opts);
	/* One port for agents (must present a verifying cert), enrolling agents and operators. */
	grpc_tls_credentials_options_set_cert_request_type(
	        opts, GRPC_SSL_REQUEST_CLIENT_CERTIFICATE_AND_VERIFY);
	if (srv->hooks.verify_peer_cert) {
		memset(ext, 0, sizeof(*ext));
		ext->user_data = srv;
		ext->verify = verifier_verify;
		ext->cancel = verifier_cancel;
		ext->destruct = verifier_destruct;
		srv->verifier = grpc_tls_certificate_verifier_external_create(ext);
		grpc_tls_credentials_options_set_certificate_verifier(opts, srv->verifier);
	}
	grpc_tls_certificate_provider_release(provider);
	return grpc_tls_server_credentials_create(opts);
}

int rpc_server_start(struct rpc_server **out, int *port, const struct rpc_server_opts *o)
{
	struct rpc_server *srv;
	grpc_server_credentials *creds;
	grpc_arg args[8];
	grpc_channel_args chargs;
	size_t i;
	int bound;

	*out = NULL;
	if (!o->hooks.authenticate)
		return ovr_err_set(OVR_ERR_INTERNAL, "rpc: authenticate hook missing");
	srv = calloc(1, sizeof(*srv));
	if (!srv)
		return ovr_err_set(OVR_ERR_NOMEM, "out of memory");
	srv->hooks = o->hooks;
	pthread_mutex_init(&srv->mu, NULL);
	pthread_cond_init(&srv->cond, NULL);
	srv->tag_shutdown.done = on_shutdown_done;
	grpc_init();

	memset(args, 0, sizeof(args));
	i = 0;
	arg_int(args, &i, GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH, RPC_MAX_MESSAGE);
	arg_int(args, &i, GRPC_ARG_MAX_SEND_MESSAGE_LENGTH, RPC_MAX_MESSAGE);
	arg_int(args, &i, GRPC_ARG_KEEPALIVE_TIME_MS, o->keepalive_ms > 0 ? o->keepalive_ms : 5000);
	arg_int(args, &i, GRPC_ARG_KEEPALIVE_TIMEOUT_MS,
	        o->keepalive_timeout_ms > 0 ? o->keepalive_timeout_ms : 5000);
	arg_int(args, &i, GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
	/* Keep pinging idle agents: without this the server stops after two pings with no data. */
	arg_int(args, &i, GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
	/* Agents ping every 10 s to notice a dead server; accept that instead of GOAWAY. */
	arg_int(args, &i, GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 5000);
	chargs.num_args = i;
	chargs.args = args;

	srv->server = grpc_server_create(&chargs, NULL);
	srv->cq = grpc_completion_queue_create_for_next(NULL);
	grpc_server_register_completion_queue(srv->server, srv->cq, NULL);

	srv->n_slots = o->n_methods;
	srv->slots = calloc(o->n_methods, sizeof(*srv->slots));
	if (!srv->slots)
		fatalx("rpc: out of memory");
	for (i = 0; i < o->n_methods; i++) {
		const struct rpc_method *m = &o->methods[i];

		srv->slots[i].srv = srv;
		srv->slots[i].m = m;
		srv->slots[i].handle = grpc_server_register_method(
		        srv->server, m->path, NULL,
		        m->kind == RPC_BIDI_STREAM ? GRPC_SRM_PAYLOAD_NONE
		                                   : GRPC_SRM_PAYLOAD_READ_INITIAL_BYTE_BUFFER,
		        0);
	}

	creds = server_credentials(srv, o);
	if (!creds) {
		rpc_server_stop(srv, 0);
		return ovr_err_set(OVR_ERR_CONFIG, "cannot load TLS files %s, %s, %s", o->cert_file,
		                   o->key_file, o->ca_file);
	}
	bound = grpc_server_add_http2_port(srv->server, o->listen, creds);
	grpc_server_credentials_release(creds);
	if (bound == 0) {
		rpc_server_stop(srv, 0);
		return ovr_err_set(OVR_ERR_UNAVAILABLE,
		                   "cannot listen on %s (address in use or not local?)", o->listen);
	}
	grpc_server_start(srv->server);

	if (workpool_start(&srv->pool, o->workers ? o->workers : 4,
	                   o->max_queued ? o->max_queued : 1024, o->hooks.worker_init,
	                   o->hooks.worker_fini, o->hooks.worker_arg) != 0) {
		int err = ovr_err_set(OVR_ERR_INTERNAL, "cannot start worker threads");

		rpc_server_stop(srv, 0);
		return err;
	}

	pthread_mutex_lock(&srv->mu);
	for (i = 0; i < srv->n_slots; i++) {
		int k;

		for (k = 0; k < POSTED_PER_METHOD; k++)
			post_request(&srv->slots[i]);
	}
	post_unknown(srv);
	pthread_mutex_unlock(&srv->mu);

	if (pthread_create(&srv->cq_thread, NULL, cq_thread_main, srv) != 0) {
		rpc_server_stop(srv, 0);
		return ovr_err_set(OVR_ERR_INTERNAL, "cannot start the completion-queue thread");
	}
	srv->cq_thread_started = 1;
	if (port)
		*port = bound;
	*out = srv;
	return 0;
}

/* Waits on srv->cond until pred holds or deadline (monotonic ms) passes. Under srv->mu. */
static int wait_until(struct rpc_server *srv, int (*pred)(struct rpc_server *), int64_t deadline)
{
	while (!pred(srv)) {
		struct timespec ts;
		int64_t left = deadline - ovr_mono_ms();

		if (left <= 0)
			return 0;
		ts = ovr_timespec_in(CLOCK_REALTIME, left);
		pthread_cond_timedwait(&srv->cond, &srv->mu, &ts);
	}
	return 1;
}

static int pred_shutdown(struct rpc_server *srv)
{
	return srv->shutdown_done;
}

/* Posted requests count as calls until shutdown fails them; only handled calls remain after. */
static int pred_no_calls(struct rpc_server *srv)
{
	return srv->n_calls == 0;
}

void rpc_server_stop(struct rpc_server *srv, int grace_ms)
{
	struct gcall *c;
	int64_t deadline = ovr_mono_ms() + (grace_ms > 0 ? grace_ms : 0);

	if (!srv)
		return;
	pthread_mutex_lock(&srv->mu);
	srv->stopping = 1;
	/* Streams end now with UNAVAILABLE, so agents reconnect (elsewhere) right away. */
	for (c = srv->live_head; c; c = c->live_next)
		grpc_call_cancel_with_status(c->call, GRPC_STATUS_UNAVAILABLE,
		                             "server shutting down", NULL);
	pthread_mutex_unlock(&srv->mu);

	if (srv->server) {
		grpc_server_shutdown_and_notify(srv->server, srv->cq, &srv->tag_shutdown);
		if (!srv->cq_thread_started) {
			grpc_server_cancel_all_calls(srv->server);
			if (pthread_create(&srv->cq_thread, NULL, cq_thread_main, srv) == 0)
				srv->cq_thread_started = 1;
		}
		pthread_mutex_lock(&srv->mu);
		if (!wait_until(srv, pred_shutdown, deadline)) {
			pthread_mutex_unlock(&srv->mu);
			log_warnx("rpc: calls still running after %d ms; cancelling them",
			          grace_ms);
			grpc_server_cancel_all_calls(srv->server);
			pthread_mutex_lock(&srv->mu);
			wait_until(srv, pred_shutdown, ovr_mono_ms() + 5000);
		}
		/* Handlers finish their callbacks (closed events run on the workers). */
		if (!wait_until(srv, pred_no_calls, ovr_mono_ms() + 5000))
			log_warnx("rpc: %zu calls still referenced at shutdown", srv->n_calls);
		pthread_mutex_unlock(&srv->mu);
	}
	workpool_stop(srv->pool);
	srv->pool = NULL;
	if (srv->server)
		grpc_server_destroy(srv->server);
	if (srv->cq) {
		grpc_completion_queue_shutdown(srv->cq);
		if (srv->cq_thread_started)
			pthread_join(srv->cq_thread, NULL);
		grpc_completion_queue_destroy(srv->cq);
	}
	if (srv->verifier)
		grpc_tls_certificate_verifier_release(srv->verifier);
	free(srv->slots);
	pthread_mutex_destroy(&srv->mu);
	pthread_cond_destroy(&srv->cond);
	free(srv);
	grpc_shutdown();
}

/* ------------------------------------------------------------------ client */

struct rpc_client {
	grpc_channel *channel;
	grpc_channel_credentials *creds;
	char target[300];
};

struct rpc_client_stream {
	grpc_call *call;
	grpc_completion_queue *cq;
	pthread_mutex_t send_mu;
	grpc_metadata_array md_initial;
	grpc_metadata_array md_trailing;
	grpc_status_code status;
	grpc_slice details;
	grpc_byte_buffer *recv_buf;
	int got_initial;
	int recv_pending;
	int send_pending;
	int status_plucked;
	char target[300]; /* the server's address, for messages (as the client's) */
	/* tags: their addresses are the identities plucked */
	char tag_start, tag_send, tag_recv, tag_status;
};

static grpc_channel_credentials *client_credentials(const struct rpc_client_opts *o)
{
	grpc_ssl_pem_key_cert_pair pair;

	if (o->cert_pem && o->key_pem) {
		pair.private_key = o->key_pem;
		pair.cert_chain = o->cert_pem;
		return grpc_ssl_credentials_create(o->ca_pem, &pair, NULL, NULL);
	}
	return grpc_ssl_credentials_create(o->ca_pem, NULL, NULL, NULL);
}

int rpc_client_new(struct rpc_client **out, const struct rpc_client_opts *o)
{
	struct rpc_client *c;
	grpc_arg args[8];
	grpc_channel_args chargs;
	size_t n = 0;

	*out = NULL;
	if (!o->ca_pem)
		return ovr_err_set(OVR_ERR_CONFIG, "no CA certificate to verify the server with");
	c = calloc(1, sizeof(*c));
	if (!c)
		return ovr_err_set(OVR_ERR_NOMEM, "out of memory");
	grpc_init();
	ovr_strlcpy(c->target, o->target, sizeof(c->target));
	c->creds = client_credentials(o);
	memset(args, 0, sizeof(args));
	arg_int(args, &n, GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH, RPC_MAX_MESSAGE);
	arg_int(args, &n, GRPC_ARG_MAX_SEND_MESSAGE_LENGTH,
	        o->max_send_message > 0 ? o->max_send_message : RPC_MAX_MESSAGE);
	arg_int(args, &n, GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 30000);
	arg_int(args, &n, GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 1000);
	if (o->server_name) {
		args[n].type = GRPC_ARG_STRING;
		args[n].key = (char *)GRPC_SSL_TARGET_NAME_OVERRIDE_ARG;
		args[n++].value.string = (char *)(uintptr_t)o->server_name;
	}
	if (o->keepalive_ms > 0) {
		arg_int(args, &n, GRPC_ARG_KEEPALIVE_TIME_MS, o->keepalive_ms);
		arg_int(args, &n, GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 5000);
		arg_int(args, &n, GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
	}
	chargs.num_args = n;
	chargs.args = args;
	c->channel = grpc_channel_create(o->target, c->creds, &chargs);
	if (!c->channel) {
		rpc_client_free(c);
		return ovr_err_set(OVR_ERR_CONFIG, "cannot create a channel to %s", o->target);
	}
	*out = c;
	return 0;
}

void rpc_client_free(struct rpc_client *c)
{
	if (!c)
		return;
	if (c->channel)
		grpc_channel_destroy(c->channel);
	if (c->creds)
		grpc_channel_credentials_release(c->creds);
	free(c);
	grpc_shutdown();
}

static gpr_timespec deadline_after(int64_t ms)
{
	if (ms < 0)
		return gpr_inf_future(GPR_CLOCK_REALTIME);
	return gpr_time_add(gpr_now(GPR_CLOCK_REALTIME), gpr_time_from_millis(ms, GPR_TIMESPAN));
}

/* Sets the error for a failed call: the server's message, with a hint for transport failures. */
static int client_status_error(const char *target, grpc_status_code status, grpc_slice details)
{
	char *msg = slice_strdup(details);
	int err = ovr_err_from_grpc((int)status);

	if (status == GRPC_STATUS_UNAVAILABLE && msg &&
	    (strstr(msg, "Socket closed") || strstr(msg, "failed to connect") ||
	     strstr(msg, "Connection refused") || strstr(msg, "handshake") || msg[0] == '\0' ||
	     strstr(msg, "Ssl") || strstr(msg, "SSL")))
		ovr_err_set(
		        err,
		        "cannot reach the server at %s, or it rejected this TLS certificate (%s)",
		        target, msg);
	else if (status == GRPC_STATUS_DEADLINE_EXCEEDED)
		ovr_err_set(err, "no answer from %s in time (%s)", target,
		            msg && msg[0] ? msg : "deadline exceeded");
	else
		ovr_err_set(err, "%s", msg && msg[0] ? msg : ovr_grpc_code_name((int)status));
	free(msg);
	return err;
}

static void bearer_metadata(grpc_metadata *md, char *buf, size_t size, const char *bearer)
{
	snprintf(buf, size, "Bearer %s", bearer);
	memset(md, 0, sizeof(*md));
	md->key = grpc_slice_from_static_string("authorization");
	md->value = grpc_slice_from_copied_string(buf);
}

/* One unary exchange of byte buffers; *recv_bb is the response (caller destroys) on success. */
static int client_unary_bb(struct rpc_client *c, const char *path, const char *bearer,
                           grpc_byte_buffer *send_bb, grpc_byte_buffer **recv_bb,
                           int64_t timeout_ms)
{
	grpc_completion_queue *cq;
	grpc_call *call;
	grpc_op ops[6];
	grpc_metadata md;
	grpc_metadata_array md_initial, md_trailing;
	grpc_status_code status = GRPC_STATUS_UNKNOWN;
	grpc_slice details = grpc_empty_slice();
	char auth[600];
	int tag;
	int err = 0;

	*recv_bb = NULL;
	if (bearer && strlen(bearer) > 512)
		return ovr_err_set(OVR_ERR_INVALID, "token is too long");
	cq = grpc_completion_queue_create_for_pluck(NULL);
	call = grpc_channel_create_call(c->channel, NULL, GRPC_PROPAGATE_DEFAULTS, cq,
	                                grpc_slice_from_static_string(path), NULL,
	                                deadline_after(timeout_ms), NULL);
	grpc_metadata_array_init(&md_initial);
	grpc_metadata_array_init(&md_trailing);
	memset(ops, 0, sizeof(ops));
	ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
	if (bearer) {
		bearer_metadata(&md, auth, sizeof(auth), bearer);
		ops[0].data.send_initial_metadata.count = 1;
		ops[0].data.send_initial_metadata.metadata = &md;
	}
	ops[1].op = GRPC_OP_SEND_MESSAGE;
	ops[1].data.send_message.send_message = send_bb;
	ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
	ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
	ops[3].data.recv_initial_metadata.recv_initial_metadata = &md_initial;
	ops[4].op = GRPC_OP_RECV_MESSAGE;
	ops[4].data.recv_message.recv_message = recv_bb;
	ops[5].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
	ops[5].data.recv_status_on_client.trailing_metadata = &md_trailing;
	ops[5].data.recv_status_on_client.status = &status;
	ops[5].data.recv_status_on_client.status_details = &details;
	if (grpc_call_start_batch(call, ops, 6, &tag, NULL) != GRPC_CALL_OK) {
		err = ovr_err_set(OVR_ERR_INTERNAL, "cannot start call %s", path);
	} else {
		grpc_completion_queue_pluck(cq, &tag, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
		if (status != GRPC_STATUS_OK)
			err = client_status_error(c->target, status, details);
		else if (!*recv_bb)
			err = ovr_err_set(OVR_ERR_INTERNAL, "%s: the server sent no response",
			                  path);
	}
	if (err && *recv_bb) {
		grpc_byte_buffer_destroy(*recv_bb);
		*recv_bb = NULL;
	}
	if (bearer)
		grpc_slice_unref(md.value);
	memset(auth, 0, sizeof(auth));
	grpc_slice_unref(details);
	grpc_metadata_array_destroy(&md_initial);
	grpc_metadata_array_destroy(&md_trailing);
	grpc_call_unref(call);
	grpc_completion_queue_shutdown(cq);
	grpc_completion_queue_destroy(cq);
	return err;
}

int rpc_client_unary(struct rpc_client *c, const char *path, const char *bearer,
                     const ProtobufCMessage *req, const ProtobufCMessageDescriptor *resp_desc,
                     ProtobufCMessage **resp, int64_t timeout_ms)
{
	grpc_byte_buffer *send_bb = message_pack(req);
	grpc_byte_buffer *recv_bb = NULL;
	int err;

	*resp = NULL;
	err = client_unary_bb(c, path, bearer, send_bb, &recv_bb, timeout_ms);
	grpc_byte_buffer_destroy(send_bb);
	if (err)
		return err;
	*resp = message_unpack(recv_bb, resp_desc);
	grpc_byte_buffer_destroy(recv_bb);
	if (!*resp)
		return ovr_err_set(OVR_ERR_INTERNAL, "%s: malformed response from server", path);
	return 0;
}

int rpc_client_unary_raw(struct rpc_client *c, const char *path, const char *bearer,
                         const void *data, size_t len, int64_t timeout_ms)
{
	grpc_slice slice = grpc_slice_from_copied_buffer(data, len);
	grpc_byte_buffer *send_bb = grpc_raw_byte_buffer_create(&slice, 1);
	grpc_byte_buffer *recv_bb = NULL;
	int err;

	grpc_slice_unref(slice);
	err = client_unary_bb(c, path, bearer, send_bb, &recv_bb, timeout_ms);
	grpc_byte_buffer_destroy(send_bb);
	if (recv_bb)
		grpc_byte_buffer_destroy(recv_bb);
	return err;
}

int rpc_client_stream_open(struct rpc_client_stream **out, struct rpc_client *c, const char *path,
                           const char *bearer, const ProtobufCMessage *first_req)
{
	struct rpc_client_stream *s;
	grpc_op ops[3];
	grpc_metadata md;
	grpc_byte_buffer *bb = NULL;
	char auth[600];
	size_t n = 0;
	grpc_event ev;

	*out = NULL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return ovr_err_set(OVR_ERR_NOMEM, "out of memory");
	pthread_mutex_init(&s->send_mu, NULL);
	ovr_strlcpy(s->target, c->target, sizeof(s->target));
	grpc_metadata_array_init(&s->md_initial);
	grpc_metadata_array_init(&s->md_trailing);
	s->details = grpc_empty_slice();
	s->cq = grpc_completion_queue_create_for_pluck(NULL);
	s->call = grpc_channel_create_call(c->channel, NULL, GRPC_PROPAGATE_DEFAULTS, s->cq,
	                                   grpc_slice_from_static_string(path), NULL,
	                                   gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
	memset(ops, 0, sizeof(ops));
	ops[n].op = GRPC_OP_SEND_INITIAL_METADATA;
	if (bearer) {
		bearer_metadata(&md, auth, sizeof(auth), bearer);
		ops[n].data.send_initial_metadata.count = 1;
		ops[n].data.send_initial_metadata.metadata = &md;
	}
	n++;
	if (first_req) {
		bb = message_pack(first_req);
		ops[n].op = GRPC_OP_SEND_MESSAGE;
		ops[n++].data.send_message.send_message = bb;
		ops[n++].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
	}
	grpc_call_start_batch(s->call, ops, n, &s->tag_start, NULL);
	ev = grpc_completion_queue_pluck(s->cq, &s->tag_start, gpr_inf_future(GPR_CLOCK_REALTIME),
	                                 NULL);
	if (bearer)
		grpc_slice_unref(md.value);
	memset(auth, 0, sizeof(auth));
	if (bb)
		grpc_byte_buffer_destroy(bb);

	/* The status arrives whenever the call ends; keep it posted from the start. */
	memset(ops, 0, sizeof(ops));
	ops[0].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
	ops[0].data.recv_status_on_client.trailing_metadata = &s->md_trailing;
	ops[0].data.recv_status_on_client.status = &s->status;
	ops[0].data.recv_status_on_client.status_details = &s->details;
	grpc_call_start_batch(s->call, ops, 1, &s->tag_status, NULL);
	*out = s;
	if (!ev.success) {
		/* Sending failed: the call is already over; its status says why. */
		grpc_completion_queue_pluck(s->cq, &s->tag_status,
		                            gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
		s->status_plucked = 1;
		return client_status_error(c->target, s->status, s->details);
	}
	return 0;
}

static int stream_status_error(struct rpc_client_stream *s)
{
	if (!s->status_plucked) {
		grpc_completion_queue_pluck(s->cq, &s->tag_status, deadline_after(10000), NULL);
		s->status_plucked = 1;
	}
	if (s->status == GRPC_STATUS_OK)
		return 1;
	return client_status_error(s->target, s->status, s->details);
}

int rpc_client_stream_send(struct rpc_client_stream *s, const ProtobufCMessage *msg,
                           int64_t timeout_ms)
{
	grpc_op op;
	grpc_event ev;
	int err = 0;

	pthread_mutex_lock(&s->send_mu);
	memset(&op, 0, sizeof(op));
	op.op = GRPC_OP_SEND_MESSAGE;
	op.data.send_message.send_message = message_pack(msg);
	if (grpc_call_start_batch(s->call, &op, 1, &s->tag_send, NULL) != GRPC_CALL_OK) {
		err = ovr_err_set(OVR_ERR_UNAVAILABLE, "stream is closed");
		goto out;
	}
	ev = grpc_completion_queue_pluck(s->cq, &s->tag_send, deadline_after(timeout_ms), NULL);
	if (ev.type == GRPC_QUEUE_TIMEOUT) {
		/* A send stuck this long means a dead peer: end the call, then collect the op. */
		grpc_call_cancel(s->call, NULL);
		grpc_completion_queue_pluck(s->cq, &s->tag_send, gpr_inf_future(GPR_CLOCK_REALTIME),
		                            NULL);
		err = ovr_err_set(OVR_ERR_TIMEOUT, "sending to the server timed out");
	} else if (!ev.success) {
		err = ovr_err_set(OVR_ERR_UNAVAILABLE, "stream to the server is broken");
	}
out:
	grpc_byte_buffer_destroy(op.data.send_message.send_message);
	pthread_mutex_unlock(&s->send_mu);
	return err;
}

int rpc_client_stream_recv(struct rpc_client_stream *s, const ProtobufCMessageDescriptor *desc,
                           ProtobufCMessage **out, int64_t timeout_ms)
{
	grpc_op ops[2];
	grpc_event ev;
	grpc_byte_buffer *bb;
	size_t n = 0;

	*out = NULL;
	if (!s->recv_pending) {
		memset(ops, 0, sizeof(ops));
		if (!s->got_initial) {
			ops[n].op = GRPC_OP_RECV_INITIAL_METADATA;
			ops[n++].data.recv_initial_metadata.recv_initial_metadata = &s->md_initial;
			s->got_initial = 1;
		}
		ops[n].op = GRPC_OP_RECV_MESSAGE;
		ops[n++].data.recv_message.recv_message = &s->recv_buf;
		if (grpc_call_start_batch(s->call, ops, n, &s->tag_recv, NULL) != GRPC_CALL_OK)
			return stream_status_error(s);
		s->recv_pending = 1;
	}
	ev = grpc_completion_queue_pluck(s->cq, &s->tag_recv, deadline_after(timeout_ms), NULL);
	if (ev.type == GRPC_QUEUE_TIMEOUT)
		return ovr_err_set(OVR_ERR_TIMEOUT, "no message within %lld ms",
		                   (long long)timeout_ms);
	s->recv_pending = 0;
	bb = s->recv_buf;
	s->recv_buf = NULL;
	if (!ev.success || !bb) {
		if (bb)
			grpc_byte_buffer_destroy(bb);
		return stream_status_error(s);
	}
	*out = message_unpack(bb, desc);
	grpc_byte_buffer_destroy(bb);
	if (!*out)
		return ovr_err_set(OVR_ERR_INTERNAL, "malformed %s from the server", desc->name);
	return 0;
}

void rpc_client_stream_free(struct rpc_client_stream *s)
{
	if (!s)
		return;
	grpc_call_cancel(s->call, NULL);
	if (s->recv_pending) {
		grpc_completion_queue_pluck(s->cq, &s->tag_recv, gpr_inf_future(GPR_CLOCK_REALTIME),
		                            NULL);
		if (s->recv_buf)
			grpc_byte_buffer_destroy(s->recv_buf);
	}
	if (!s->status_plucked)
		grpc_completion_queue_pluck(s->cq, &s->tag_status,
		                            gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
	grpc_call_unref(s->call);
	grpc_completion_queue_shutdown(s->cq);
	grpc_completion_queue_destroy(s->cq);
	grpc_slice_unref(s->details);
	grpc_metadata_array_destroy(&s->md_initial);
	grpc_metadata_array_destroy(&s->md_trailing);
	pthread_mutex_destroy(&s->send_mu);
	free(s);
}

/* ------------------------------------------------------------------ logging */

static void grpc_log_to_ours(gpr_log_func_args *args)
{
	if (args->severity == GPR_LOG_SEVERITY_ERROR)
		log_warnx("grpc: %s", args->message);
	else
		log_debug("grpc: %s", args->message);
}

void rpc_init_logging(void)
{
	gpr_set_log_function(grpc_log_to_ours);
	gpr_set_log_verbosity(GPR_LOG_SEVERITY_ERROR);
}
