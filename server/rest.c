/*
 * The REST/JSON gateway: libmicrohttpd over TLS, one route table (the method table), and the very
 * handlers the gRPC server calls, reached through the transport-neutral struct rpc_call.
 *
 * Server streams answer 200 with newline-delimited JSON once their first message (or their end)
 * is there: a chunked response whose reader suspends the connection while nothing is queued, and
 * that rpc_call_send, rpc_call_finish and the server's stop resume from any thread. A stream that
 * ends with an error after the headers went out ends with a line {"error": {...}}.
 */
#include "rest.h"

#include "crypto.h"
#include "db.h"
#include "err.h"
#include "fsutil.h"
#include "log.h"
#include "metrics.h"
#include "pbjson.h"
#include "prom.h"
#include "rest_openapi.h"
#include "rest_route.h"
#include "server.h"
#include "strutil.h"
#include "workpool.h"

#include <arpa/inet.h>
#include <jansson.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#define REST_THREADS_DEFAULT    4
#define REST_CONN_LIMIT         256
#define REST_CONN_TIMEOUT_S     30
#define REST_CONN_MEMORY        (64 * 1024) /* request line and headers, per connection */
#define REST_PEM_MAX            (256 * 1024)
#define REST_MAX_DISCARD        (64 * 1024 * 1024) /* of an oversized chunked body */
#define REST_STREAM_QUEUE_MAX   1024               /* lines waiting to be written, per stream */
#define REST_STREAM_QUEUE_BYTES (16 * 1024 * 1024)
#define REST_STREAM_BLOCK       (16 * 1024) /* what the reader is asked for at a time */
#define REST_STOP_WAIT_MS       2000        /* for streams to write their last line */

/* Linux: the peer shut its side down (glibc shows it only with _GNU_SOURCE). */
#ifndef POLLRDHUP
#define POLLRDHUP 0x2000
#endif

/* Per-thread state (the database connection) of a libmicrohttpd thread, freed at stop. */
struct thread_state {
	struct thread_state *next;
	void *state;
};

struct rest {
	struct MHD_Daemon *daemon;
	struct rest_opts opts;
	atomic_int starting;
	char *cert_pem;
	char *key_pem;
	size_t key_len;
	char *openapi;
	size_t openapi_len;
	pthread_mutex_t mu;
	pthread_cond_t cond; /* a stream ended */
	struct thread_state *states;
	struct rcall *streams; /* server streams in progress, under mu */
	int stopping;          /* under mu */
};

/* One HTTP request while its body arrives. */
struct rreq {
	char *body;
	size_t len, cap;
	size_t discarded;
	int too_large;
	int answered;         /* a response was queued before the body was read */
	struct rcall *stream; /* a server stream: the connection's reference */
};

/* Frees the request body, wiped first: a PutSecret body holds a secret value. */
static void body_release(struct rreq *rq)
{
	if (rq->body)
		crypto_wipe(rq->body, rq->cap);
	free(rq->body);
}

/* One NDJSON line waiting to be written. */
struct rline {
	struct rline *next;
	char *text;
	size_t len;
};

/*
 * A REST call as handlers see it. Unary calls live inside one access-handler callback. A stream
 * is referenced by its connection (until the request completes), by its response (until
 * libmicrohttpd frees it) and by whoever the handler lets keep it (rpc_call_ref).
 */
struct rcall {
	struct rpc_call base;      /* first: handlers get &base */
	int stream;                /* a server stream */
	ProtobufCMessage *req;     /* streams: the request, alive as long as the call */
	struct rcall *prev, *next; /* in r->streams, under r->mu */

	pthread_mutex_t mu;
	/* Under mu for streams (the unary path only reads conn, on its own thread). */
	struct MHD_Connection *conn; /* NULL once the request is over */
	int fd;                      /* the connection's socket while suspended (peer checks) */
	struct rline *q_head, *q_tail;
	size_t q_len, q_bytes;
	char *cur; /* the line being written */
	size_t cur_len, cur_off;
	int finished;   /* the handler ended the stream */
	int finish_err; /* enum ovr_err, 0 for OK */
	char *finish_msg;
	int error_sent;     /* the error went out (last line, or the error response) */
	int suspended;      /* MHD_suspend_connection is in effect */
	int gone;           /* the client went away while the connection was suspended */
	int over;           /* the request completed (libmicrohttpd is done with it) */
	int opened;         /* open ran: closed must run */
	int responded;      /* the 200 response is queued */
	int64_t started_us; /* metrics: when the stream's request arrived */
};

/* ------------------------------------------------------------------ transport */

static void line_free_all(struct rcall *rc)
{
	struct rline *l;

	while ((l = rc->q_head)) {
		rc->q_head = l->next;
		free(l->text);
		free(l);
	}
	rc->q_tail = NULL;
	rc->q_len = rc->q_bytes = 0;
	free(rc->cur);
	rc->cur = NULL;
}

/* Under rc->mu: lets libmicrohttpd write again (any thread). */
static void wake_locked(struct rcall *rc)
{
	if (rc->suspended && rc->conn) {
		rc->suspended = 0;
		MHD_resume_connection(rc->conn);
	}
}

static int rt_send(struct rpc_call *call, const ProtobufCMessage *msg)
{
	struct rcall *rc = (struct rcall *)call;
	size_t size = protobuf_c_message_get_packed_size(msg);
	struct rline *l;
	char *text, *grown;
	int err = 0;

	if (!rc->stream)
		return ovr_err_set(OVR_ERR_INTERNAL, "rest: send on a unary call");
	if (size > RPC_MAX_MESSAGE)
		return ovr_err_set(OVR_ERR_TOO_LARGE,
		                   "%s message of %zu bytes exceeds the %d byte limit",
		                   msg->descriptor->name, size, RPC_MAX_MESSAGE);
	text = pbjson_dumps(msg, 0);
	if (!text)
		return ovr_err_last();
	l = malloc(sizeof(*l));
	grown = l ? realloc(text, strlen(text) + 2) : NULL;
	if (!grown) {
		free(l);
		free(text);
		return ovr_err_set(OVR_ERR_NOMEM, "out of memory");
	}
	l->next = NULL;
	l->text = grown;
	l->len = strlen(grown);
	l->text[l->len++] = '\n';
	l->text[l->len] = '\0';
	pthread_mutex_lock(&rc->mu);
	if (rc->over || rc->gone || rc->finished)
		err = ovr_err_set(OVR_ERR_CANCELLED, "stream is closed");
	else if (rc->q_len >= REST_STREAM_QUEUE_MAX ||
	         rc->q_bytes + l->len > REST_STREAM_QUEUE_BYTES)
		err = ovr_err_set(OVR_ERR_UNAVAILABLE, "stream send queue full (%d messages)",
		                  REST_STREAM_QUEUE_MAX);
	if (!err) {
		if (rc->q_tail)
			rc->q_tail->next = l;
		else
			rc->q_head = l;
		rc->q_tail = l;
		rc->q_len++;
		rc->q_bytes += l->len;
		wake_locked(rc);
		l = NULL;
	}
	pthread_mutex_unlock(&rc->mu);
	if (l) {
		free(l->text);
		free(l);
	}
	return err;
}

/* Ends a stream with a status once what is queued is written (drop: now, dropping it). */
static void stream_end(struct rcall *rc, int err, const char *message, int drop)
{
	if (!rc->stream)
		return;
	pthread_mutex_lock(&rc->mu);
	if (!rc->finished && !rc->over) {
		rc->finished = 1;
		rc->finish_err = err;
		rc->finish_msg = strdup(message ? message : (err ? ovr_strerror(err) : ""));
		if (drop)
			line_free_all(rc);
		wake_locked(rc);
	}
	pthread_mutex_unlock(&rc->mu);
}

static void rt_finish(struct rpc_call *call, int err, const char *message)
{
	stream_end((struct rcall *)call, err, message, 0);
}

static void rt_cancel(struct rpc_call *call, int err, const char *message)
{
	stream_end((struct rcall *)call, err, message, 1);
}

/* 1 when the peer shut its side of fd down (or the socket failed). */
static int peer_closed(int fd)
{
	struct pollfd p;

	memset(&p, 0, sizeof(p));
	p.fd = fd;
	p.events = POLLRDHUP;
	return poll(&p, 1, 0) > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL));
}

/*
 * libmicrohttpd does not watch a suspended connection, so a client that left while its stream
 * waited is noticed here, when the handler asks (watch handlers ask at every tick): the
 * connection is resumed and closed.
 */
static int rt_ended(const struct rpc_call *call)
{
	struct rcall *rc = (struct rcall *)(uintptr_t)call;
	int ended;

	if (!rc->stream)
		return 0;
	pthread_mutex_lock(&rc->mu);
	if (!rc->over && !rc->gone && rc->suspended && rc->fd >= 0 && peer_closed(rc->fd)) {
		rc->gone = 1;
		wake_locked(rc);
	}
	ended = rc->over || rc->gone;
	pthread_mutex_unlock(&rc->mu);
	return ended;
}

static const char *rt_metadata(struct rpc_call *call, const char *key)
{
	struct rcall *rc = (struct rcall *)call;
	const char *v = NULL;

	/* Streams: only meaningful while open runs (on the connection's thread). */
	if (rc->conn)
		v = MHD_lookup_connection_value(rc->conn, MHD_HEADER_KIND, key);
	return v ? arena_strdup(&call->arena, v) : NULL;
}

static void rt_destroy(struct rpc_call *call)
{
	struct rcall *rc = (struct rcall *)call;

	line_free_all(rc);
	free(rc->finish_msg);
	if (rc->req)
		protobuf_c_message_free_unpacked(rc->req, NULL);
	pthread_mutex_destroy(&rc->mu);
	rpc_call_release(call);
	free(rc);
}

static const struct rpc_call_transport rest_transport = {
        "rest", rt_send, rt_finish, rt_cancel, rt_ended, rt_metadata, rt_destroy,
};

/* ------------------------------------------------------------------ responses */

static enum MHD_Result respond(struct MHD_Connection *conn, unsigned status, char *body,
                               const char *allow)
{
	static const char oom[] = "{\"code\":13,\"message\":\"out of memory\",\"details\":[]}";
	struct MHD_Response *resp;
	enum MHD_Result ret;

	if (body)
		resp = MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_FREE);
	else
		resp = MHD_create_response_from_buffer(sizeof(oom) - 1, (void *)(uintptr_t)oom,
		                                       MHD_RESPMEM_PERSISTENT);
	if (!resp) {
		free(body);
		return MHD_NO;
	}
	if (!body)
		status = MHD_HTTP_INTERNAL_SERVER_ERROR;
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	if (allow)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, allow);
	if (status == MHD_HTTP_UNAUTHORIZED)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer");
	ret = MHD_queue_response(conn, status, resp);
	MHD_destroy_response(resp);
	return ret;
}

/* {"code": <gRPC code>, "message": "...", "details": []}, as text (free()), or NULL. */
static char *error_text(int code, const char *message)
{
	json_t *j = json_pack("{s:i,s:s,s:[]}", "code", code, "message", message, "details");
	char *text;

	if (!j) {
		/* The message quotes peer input that is not UTF-8: keep it printable ASCII. */
		char safe[1100];
		size_t i;

		ovr_strlcpy(safe, message, sizeof(safe));
		for (i = 0; safe[i]; i++)
			if ((unsigned char)safe[i] < 0x20 || (unsigned char)safe[i] >= 0x7f)
				safe[i] = '?';
		j = json_pack("{s:i,s:s,s:[]}", "code", code, "message", safe, "details");
	}
	text = j ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	return text;
}

/* The error body {"code": <gRPC code>, "message": "...", "details": []} with an explicit status. */
static enum MHD_Result respond_status(struct MHD_Connection *conn, unsigned status, int code,
                                      const char *message, const char *allow)
{
	return respond(conn, status, error_text(code, message), allow);
}

/* An ovr_err as gRPC code and the grpc-gateway HTTP status, with the thread's message. */
static enum MHD_Result respond_error(struct MHD_Connection *conn, int err)
{
	int code = ovr_err_to_grpc(err);

	return respond_status(conn, (unsigned)ovr_grpc_to_http(code), code, ovr_err_msg(err), NULL);
}

/* ------------------------------------------------------------------ per-thread state */

/* libmicrohttpd threads are not workpool workers: give each its own worker state on first use. */
static void ensure_worker(struct rest *r)
{
	struct thread_state *ts;
	void *state;

	if (workpool_worker_state() || !r->opts.worker_init)
		return;
	state = r->opts.worker_init(r->opts.worker_arg);
	if (!state)
		return;
	ts = malloc(sizeof(*ts));
	if (!ts) {
		if (r->opts.worker_fini)
			r->opts.worker_fini(state);
		return;
	}
	ts->state = state;
	pthread_mutex_lock(&r->mu);
	ts->next = r->states;
	r->states = ts;
	pthread_mutex_unlock(&r->mu);
	workpool_set_worker_state(state);
}

/* ------------------------------------------------------------------ calls */

static char *peer_string(struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *ci =
	        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	char addr[INET6_ADDRSTRLEN], out[INET6_ADDRSTRLEN + 32];
	const struct sockaddr *sa = ci ? ci->client_addr : NULL;

	if (sa && sa->sa_family == AF_INET) {
		struct sockaddr_in sin;

		memcpy(&sin, sa, sizeof(sin));
		inet_ntop(AF_INET, &sin.sin_addr, addr, sizeof(addr));
		snprintf(out, sizeof(out), "ipv4:%s:%u", addr, ntohs(sin.sin_port));
	} else if (sa && sa->sa_family == AF_INET6) {
		struct sockaddr_in6 sin6;

		memcpy(&sin6, sa, sizeof(sin6));
		inet_ntop(AF_INET6, &sin6.sin6_addr, addr, sizeof(addr));
		snprintf(out, sizeof(out), "ipv6:[%s]:%u", addr, ntohs(sin6.sin6_port));
	} else {
		ovr_strlcpy(out, "unknown", sizeof(out));
	}
	return strdup(out);
}

static char *bearer_token(struct MHD_Connection *conn)
{
	const char *h =
	        MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);

	if (!h || strncasecmp(h, "Bearer ", 7) != 0)
		return NULL;
	h += 7;
	while (*h == ' ')
		h++;
	return *h ? strdup(h) : NULL;
}

struct query_ctx {
	json_t *params;
	const ProtobufCMessageDescriptor *desc;
	int err;
};

static enum MHD_Result query_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                                 const char *value)
{
	struct query_ctx *q = cls;

	(void)kind;
	q->err = rest_route_bind_query(q->params, q->desc, key, value);
	return q->err ? MHD_NO : MHD_YES;
}

/* The request message from body (non-GET), query and path, in that order of precedence. */
static int build_request(ProtobufCMessage **out, struct MHD_Connection *conn, const char *verb,
                         const struct rreq *rq, const struct rest_match *match)
{
	const ProtobufCMessageDescriptor *desc = match->method->request;
	struct query_ctx q = {NULL, desc, 0};
	json_t *body = NULL;
	int err;

	*out = NULL;
	if (strcmp(verb, "GET") != 0 && rq->len > 0) {
		json_error_t jerr;
		char *near;

		body = json_loadb(rq->body, rq->len, JSON_REJECT_DUPLICATES, &jerr);
		if (!body) {
			if (json_error_code(&jerr) == json_error_out_of_memory)
				return ovr_err_set(OVR_ERR_NOMEM, "out of memory");
			/* jansson quotes the text near the error; it may be a secret. */
			near = strstr(jerr.text, " near '");
			if (near)
				*near = '\0';
			return ovr_err_set(OVR_ERR_INVALID, "invalid JSON at line %d column %d: %s",
			                   jerr.line, jerr.column, jerr.text);
		}
		if (!json_is_object(body)) {
			err = pbjson_decode(out, desc, body);
			goto out;
		}
	} else {
		body = json_object();
	}
	q.params = json_object();
	if (!body || !q.params) {
		err = ovr_err_set(OVR_ERR_NOMEM, "out of memory");
		goto out;
	}
	MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, query_arg, &q);
	err = q.err;
	if (!err)
		err = rest_route_bind_path(q.params, match);
	if (!err)
		err = rest_route_merge(body, q.params);
	if (!err)
		err = pbjson_decode(out, desc, body);
out:
	json_decref(q.params);
	json_decref(body);
	return err;
}

static struct rcall *rcall_new(const struct rpc_method *m, struct MHD_Connection *conn)
{
	struct rcall *rc = calloc(1, sizeof(*rc));

	if (!rc)
		return NULL;
	rpc_call_init(&rc->base, &rest_transport, m);
	pthread_mutex_init(&rc->mu, NULL);
	rc->stream = m->kind != RPC_UNARY;
	rc->conn = conn;
	rc->fd = -1;
	rc->base.bearer = bearer_token(conn);
	rc->base.peer = peer_string(conn);
	return rc;
}

/* ------------------------------------------------------------------ server streams */

/* The last line of a stream that failed after its first message: {"error": {...}}\n. */
static char *error_line(int err, const char *message)
{
	char *inner = error_text(ovr_err_to_grpc(err), message ? message : "");
	char *line = NULL;
	size_t size;

	if (!inner)
		return NULL;
	size = strlen(inner) + sizeof("{\"error\":}\n");
	line = malloc(size);
	if (line)
		snprintf(line, size, "{\"error\":%s}\n", inner);
	free(inner);
	return line;
}

/*
 * Under rc->mu: makes cur the next line to write: a queued message, then the error line of a
 * stream that failed after its first message. 0 when there is none.
 */
static int next_line_locked(struct rcall *rc)
{
	struct rline *l = rc->q_head;
	char *err;

	if (l) {
		rc->q_head = l->next;
		if (!rc->q_head)
			rc->q_tail = NULL;
		rc->q_len--;
		rc->q_bytes -= l->len;
		rc->cur = l->text;
		rc->cur_len = l->len;
		rc->cur_off = 0;
		free(l);
		return 1;
	}
	if (!rc->finished || !rc->finish_err || rc->error_sent)
		return 0;
	rc->error_sent = 1;
	err = error_line(rc->finish_err, rc->finish_msg);
	if (!err)
		return 0;
	rc->cur = err;
	rc->cur_len = strlen(err);
	rc->cur_off = 0;
	return 1;
}

/* libmicrohttpd asks for the next bytes of a stream's body (on the connection's thread). */
static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct rcall *rc = cls;
	size_t n = 0;
	ssize_t ret;

	(void)pos;
	pthread_mutex_lock(&rc->mu);
	if (rc->gone) {
		pthread_mutex_unlock(&rc->mu);
		return MHD_CONTENT_READER_END_WITH_ERROR;
	}
	while (n < max && (rc->cur || next_line_locked(rc))) {
		size_t k = rc->cur_len - rc->cur_off;

		if (k > max - n)
			k = max - n;
		memcpy(buf + n, rc->cur + rc->cur_off, k);
		n += k;
		rc->cur_off += k;
		if (rc->cur_off == rc->cur_len) {
			free(rc->cur);
			rc->cur = NULL;
		}
	}
	if (n > 0) {
		ret = (ssize_t)n;
	} else if (rc->finished) {
		ret = MHD_CONTENT_READER_END_OF_STREAM;
	} else {
		/* Nothing to write: wait off the event loop until a send or the end. */
		rc->suspended = 1;
		MHD_suspend_connection(rc->conn);
		ret = 0;
	}
	pthread_mutex_unlock(&rc->mu);
	return ret;
}

static void stream_response_free(void *cls)
{
	rpc_call_unref(cls);
}

/*
 * Answers a stream once there is something to say (on the connection's thread, from the access
 * handler, again after each resume until answered): 200 with the NDJSON body when a message is
 * queued or the stream ended OK; the ordinary error response when it ended with an error before
 * any message; otherwise the connection waits suspended.
 */
static enum MHD_Result stream_respond(struct MHD_Connection *conn, struct rcall *rc)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;
	char msg[1024];
	int code = 0;

	pthread_mutex_lock(&rc->mu);
	if (rc->gone) {
		pthread_mutex_unlock(&rc->mu);
		return MHD_NO;
	}
	if (!rc->q_head && !rc->finished) {
		rc->suspended = 1;
		MHD_suspend_connection(conn);
		pthread_mutex_unlock(&rc->mu);
		return MHD_YES;
	}
	if (!rc->q_head && rc->finish_err) {
		code = ovr_err_to_grpc(rc->finish_err);
		ovr_strlcpy(msg, rc->finish_msg ? rc->finish_msg : "", sizeof(msg));
		rc->error_sent = 1;
	}
	rc->responded = 1;
	pthread_mutex_unlock(&rc->mu);
	if (code)
		return respond_status(conn, (unsigned)ovr_grpc_to_http(code), code, msg, NULL);

	rpc_call_ref(&rc->base); /* the response's, returned by stream_response_free */
	resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, REST_STREAM_BLOCK, stream_read,
	                                         rc, stream_response_free);
	if (!resp) {
		rpc_call_unref(&rc->base);
		return MHD_NO;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/x-ndjson");
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	ret = MHD_queue_response(conn, MHD_HTTP_OK, resp);
	MHD_destroy_response(resp);
	return ret;
}

/* The request of a stream completed (any way): the handler's closed, and the end of our part. */
static void stream_over(struct rest *r, struct rcall *rc, enum MHD_RequestTerminationCode toe)
{
	const struct rpc_method *m = rc->base.method;
	int ok;

	pthread_mutex_lock(&r->mu);
	if (rc->prev)
		rc->prev->next = rc->next;
	else if (r->streams == rc)
		r->streams = rc->next;
	if (rc->next)
		rc->next->prev = rc->prev;
	rc->prev = rc->next = NULL;
	pthread_cond_broadcast(&r->cond);
	pthread_mutex_unlock(&r->mu);

	pthread_mutex_lock(&rc->mu);
	ok = toe == MHD_REQUEST_TERMINATED_COMPLETED_OK && rc->finished && !rc->gone;
	rc->over = 1;
	rc->conn = NULL;
	rc->fd = -1;
	rc->suspended = 0;
	line_free_all(rc);
	pthread_mutex_unlock(&rc->mu);
	if (rc->opened && m->stream && m->stream->closed)
		m->stream->closed(&rc->base, !ok);
	metrics_rpc_done(m, ok ? ovr_err_to_grpc(rc->finish_err) : OVR_GRPC_CANCELLED,
	                 metrics_now_us() - rc->started_us, METRICS_REST);
	rpc_call_unref(&rc->base);
}

static enum MHD_Result serve_stream(struct rest *r, struct MHD_Connection *conn, const char *verb,
                                    struct rreq *rq, const struct rest_match *match)
{
	const struct rpc_method *m = match->method;
	const union MHD_ConnectionInfo *ci;
	enum MHD_Result ret;
	struct rcall *rc;
	int err;

	if (m->kind != RPC_SERVER_STREAM || !m->stream) {
		ovr_err_set(OVR_ERR_UNIMPLEMENTED, "%s is not implemented yet%s", m->path + 1,
		            m->kind == RPC_SERVER_STREAM ? "" : " over REST");
		return respond_error(conn, OVR_ERR_UNIMPLEMENTED);
	}
	rc = rcall_new(m, conn);
	if (!rc)
		return respond(conn, 500, NULL, NULL);
	rc->started_us = metrics_now_us();
	ensure_worker(r);
	ovr_err_clear();
	err = r->opts.authenticate(&rc->base, &rc->base.identity);
	if (!err)
		err = build_request(&rc->req, conn, verb, rq, match);
	if (!err) {
		pthread_mutex_lock(&r->mu);
		if (r->stopping) {
			err = ovr_err_set(OVR_ERR_UNAVAILABLE, "server shutting down");
		} else {
			rc->next = r->streams;
			if (r->streams)
				r->streams->prev = rc;
			r->streams = rc;
		}
		pthread_mutex_unlock(&r->mu);
	}
	if (err) {
		ret = respond_error(conn, err);
		metrics_rpc_done(m, ovr_err_to_grpc(err), metrics_now_us() - rc->started_us,
		                 METRICS_REST);
		rpc_call_unref(&rc->base);
		return ret;
	}
	ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
	rc->fd = ci ? ci->connect_fd : -1;
	rq->stream = rc; /* the connection's reference: stream_over returns it */
	rc->opened = 1;
	ovr_err_clear();
	err = m->stream->open(&rc->base, rc->req);
	if (err) {
		if (ovr_err_to_grpc(err) == OVR_GRPC_INTERNAL)
			log_error("rest: %s failed: %s", m->path, ovr_err_msg(err));
		stream_end(rc, err, ovr_err_msg(err), 0);
	}
	return stream_respond(conn, rc);
}

/* ------------------------------------------------------------------ unary calls */

static enum MHD_Result serve_call(struct rest *r, struct MHD_Connection *conn, const char *verb,
                                  struct rreq *rq, const struct rest_match *match)
{
	const struct rpc_method *m = match->method;
	int64_t started_us = metrics_now_us();
	ProtobufCMessage *req = NULL;
	struct rcall *call;
	enum MHD_Result ret;
	void *resp;
	char *text;
	int err;

	if (m->kind != RPC_UNARY)
		return serve_stream(r, conn, verb, rq, match);
	if (!m->unary) {
		ovr_err_set(OVR_ERR_UNIMPLEMENTED, "%s is not implemented yet", m->path + 1);
		return respond_error(conn, OVR_ERR_UNIMPLEMENTED);
	}
	call = rcall_new(m, conn);
	if (!call)
		return respond(conn, 500, NULL, NULL);
	ensure_worker(r);

	ovr_err_clear();
	err = r->opts.authenticate(&call->base, &call->base.identity);
	if (!err) {
		err = build_request(&req, conn, verb, rq, match);
	} else if (err == OVR_ERR_PERMISSION && r->opts.invoke) {
		/* The refusal is recorded with what was asked, as on gRPC; it stays the answer. */
		char msg[1100];

		ovr_strlcpy(msg, ovr_err_msg(err), sizeof(msg));
		if (build_request(&req, conn, verb, rq, match) != 0)
			req = NULL;
		ovr_err_set(err, "%s", msg);
	}
	if (err && (err != OVR_ERR_PERMISSION || !r->opts.invoke)) {
		ret = respond_error(conn, err);
		goto out;
	}
	resp = arena_alloc(&call->base.arena, m->response->sizeof_message);
	m->response->message_init(resp);
	if (!err)
		ovr_err_clear();
	if (r->opts.invoke)
		err = r->opts.invoke(&call->base, m, err, req, resp);
	else
		err = m->unary(&call->base, req, resp);
	if (err) {
		if (ovr_err_to_grpc(err) == OVR_GRPC_INTERNAL)
			log_error("rest: %s failed: %s", m->path, ovr_err_msg(err));
		ret = respond_error(conn, err);
		goto out;
	}
	text = pbjson_dumps(resp, 0);
	if (!text) {
		log_error("rest: %s: cannot encode the response: %s", m->path, ovr_err_msg(0));
		err = OVR_ERR_INTERNAL;
		ret = respond_error(conn, err);
		goto out;
	}
	ret = respond(conn, MHD_HTTP_OK, text, NULL);
out:
	metrics_rpc_done(m, ovr_err_to_grpc(err), metrics_now_us() - started_us, METRICS_REST);
	if (req)
		protobuf_c_message_free_unpacked(req, NULL);
	rpc_call_unref(&call->base);
	return ret;
}

/* The /metrics body (no token: it names methods and counts, never apps, nodes or tokens). */
static enum MHD_Result respond_metrics(struct MHD_Connection *conn)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;
	size_t len;
	char *text = metrics_render(&len);

	if (!text)
		return respond_error(conn, ovr_err_last());
	resp = MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE);
	if (!resp) {
		free(text);
		return MHD_NO;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, PROM_CONTENT_TYPE);
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	ret = MHD_queue_response(conn, MHD_HTTP_OK, resp);
	MHD_destroy_response(resp);
	return ret;
}

/* /healthz, /readyz, /metrics, /api/openapi.json: GET only; 1 if path is one of them. */
static int serve_builtin(enum MHD_Result *ret, struct rest *r, struct MHD_Connection *conn,
                         const char *verb, const char *path)
{
	int get = strcmp(verb, "GET") == 0;

	if (strcmp(path, "/healthz") != 0 && strcmp(path, "/readyz") != 0 &&
	    strcmp(path, "/metrics") != 0 && strcmp(path, "/api/openapi.json") != 0)
		return 0;
	if (!get) {
		*ret = respond_status(conn, MHD_HTTP_METHOD_NOT_ALLOWED, OVR_GRPC_UNIMPLEMENTED,
		                      "method not allowed for this path", "GET");
	} else if (strcmp(path, "/healthz") == 0) {
		*ret = respond(conn, MHD_HTTP_OK, strdup("{\"status\":\"ok\"}"), NULL);
	} else if (strcmp(path, "/readyz") == 0) {
		int err;

		ensure_worker(r);
		ovr_err_clear();
		err = server_db_ready();
		if (!err)
			err = metrics_ready(server_db());
		*ret = err ? respond_error(conn, err)
		           : respond(conn, MHD_HTTP_OK, strdup("{\"status\":\"ready\"}"), NULL);
	} else if (strcmp(path, "/metrics") == 0) {
		*ret = respond_metrics(conn);
	} else {
		*ret = respond(conn, MHD_HTTP_OK, strndup(r->openapi, r->openapi_len), NULL);
	}
	return 1;
}

static enum MHD_Result dispatch(struct rest *r, struct MHD_Connection *conn, const char *path,
                                const char *verb, struct rreq *rq)
{
	struct rest_match match;
	enum MHD_Result ret;
	char allow[64];
	int rc;

	if (rq->too_large)
		return respond_status(conn, MHD_HTTP_CONTENT_TOO_LARGE, OVR_GRPC_RESOURCE_EXHAUSTED,
		                      "request body larger than 4 MiB", NULL);
	if (serve_builtin(&ret, r, conn, verb, path))
		return ret;
	rc = rest_route_find(&match, allow, sizeof(allow), r->opts.methods, r->opts.n_methods, verb,
	                     path);
	if (rc == 1)
		return respond_status(conn, MHD_HTTP_METHOD_NOT_ALLOWED, OVR_GRPC_UNIMPLEMENTED,
		                      "method not allowed for this path", allow);
	if (rc < 0) {
		char msg[300];

		snprintf(msg, sizeof(msg), "no route for %s %.200s", verb, path);
		return respond_status(conn, MHD_HTTP_NOT_FOUND, OVR_GRPC_NOT_FOUND, msg, NULL);
	}
	return serve_call(r, conn, verb, rq, &match);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
	struct rest *r = cls;
	struct rreq *rq = *con_cls;

	(void)version;
	if (!rq) {
		const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
		                                             MHD_HTTP_HEADER_CONTENT_LENGTH);

		rq = calloc(1, sizeof(*rq));
		if (!rq)
			return MHD_NO;
		*con_cls = rq;
		/* Refuse a declared oversized body unread (curl waits for 100-continue). */
		if (cl && strtoull(cl, NULL, 10) > REST_MAX_BODY) {
			rq->too_large = 1;
			rq->answered = 1;
			return dispatch(r, conn, url, method, rq);
		}
		return MHD_YES;
	}
	if (*upload_data_size) {
		size_t n = *upload_data_size;

		*upload_data_size = 0;
		/*
		 * An oversized chunked body is read to its end and discarded, so the client gets
		 * its 413 (libmicrohttpd cannot answer in the middle of a body); past
		 * REST_MAX_DISCARD the connection is closed instead.
		 */
		if (rq->too_large || rq->answered) {
			rq->discarded += n;
			return rq->discarded > REST_MAX_DISCARD ? MHD_NO : MHD_YES;
		}
		if (n > REST_MAX_BODY - rq->len) {
			rq->too_large = 1;
			body_release(rq);
			rq->body = NULL;
			rq->len = rq->cap = 0;
			return MHD_YES;
		}
		if (rq->len + n > rq->cap) {
			size_t cap = rq->cap ? rq->cap : 4096;
			char *nb;

			while (cap < rq->len + n)
				cap *= 2;
			cap = cap > REST_MAX_BODY ? REST_MAX_BODY : cap;
			/* Not realloc: the old block is wiped, a body may hold a secret value. */
			nb = malloc(cap);
			if (!nb)
				return MHD_NO;
			if (rq->len)
				memcpy(nb, rq->body, rq->len);
			body_release(rq);
			rq->body = nb;
			rq->cap = cap;
		}
		memcpy(rq->body + rq->len, upload_data, n);
		rq->len += n;
		return MHD_YES;
	}
	/* A stream that waited suspended for its first message or its end. */
	if (rq->stream && !rq->stream->responded)
		return stream_respond(conn, rq->stream);
	if (rq->answered)
		return MHD_YES;
	rq->answered = 1;
	return dispatch(r, conn, url, method, rq);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
	struct rreq *rq = *con_cls;

	(void)conn;
	if (!rq)
		return;
	if (rq->stream)
		stream_over(cls, rq->stream, toe);
	body_release(rq);
	free(rq);
	*con_cls = NULL;
}

/* libmicrohttpd's messages: failures while starting are warnings, later ones (TLS handshakes of
 * misbehaving clients, timeouts) debug noise. */
static void on_log(void *cls, const char *fmt, va_list ap)
{
	struct rest *r = cls;
	char buf[512];
	size_t n;

	vsnprintf(buf, sizeof(buf), fmt, ap);
	n = strlen(buf);
	while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		buf[--n] = '\0';
	if (atomic_load(&r->starting))
		log_warnx("rest: %s", buf);
	else
		log_debug("rest: %s", buf);
}

/* ------------------------------------------------------------------ start and stop */

static int resolve(struct sockaddr_storage *ss, const char *listen)
{
	struct addrinfo hints, *ai = NULL;
	char host[256];
	int port, rc;

	if (ovr_parse_listen(host, sizeof(host), &port, listen) != 0)
		return ovr_err_set(OVR_ERR_CONFIG, "rest_listen: '%s' is not ADDR:PORT", listen);
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE;
	rc = getaddrinfo(host, NULL, &hints, &ai);
	if (rc != 0 || !ai)
		return ovr_err_set(OVR_ERR_CONFIG, "rest_listen: cannot resolve '%s': %s", host,
		                   gai_strerror(rc));
	memset(ss, 0, sizeof(*ss));
	memcpy(ss, ai->ai_addr, ai->ai_addrlen);
	if (ss->ss_family == AF_INET6)
		((struct sockaddr_in6 *)ss)->sin6_port = htons((uint16_t)port);
	else
		((struct sockaddr_in *)ss)->sin_port = htons((uint16_t)port);
	freeaddrinfo(ai);
	return 0;
}

int rest_start(struct rest **out, int *port, const char *listen, const struct rest_opts *opts)
{
	struct sockaddr_storage ss;
	const union MHD_DaemonInfo *di;
	struct rest *r;
	size_t cert_len;
	unsigned flags;
	int err;

	*out = NULL;
	if (!opts->authenticate)
		return ovr_err_set(OVR_ERR_INTERNAL, "rest: authenticate hook missing");
	err = rest_route_check(opts->methods, opts->n_methods);
	if (err)
		return err;
	err = resolve(&ss, listen);
	if (err)
		return err;
	r = calloc(1, sizeof(*r));
	if (!r)
		return ovr_err_set(OVR_ERR_NOMEM, "out of memory");
	r->opts = *opts;
	pthread_mutex_init(&r->mu, NULL);
	pthread_cond_init(&r->cond, NULL);
	atomic_init(&r->starting, 1);
	err = fs_read_file(&r->cert_pem, &cert_len, opts->cert_file, REST_PEM_MAX);
	if (!err)
		err = fs_read_file(&r->key_pem, &r->key_len, opts->key_file, REST_PEM_MAX);
	if (err)
		goto fail;
	r->openapi = rest_openapi_build(opts->methods, opts->n_methods);
	if (!r->openapi) {
		err = ovr_err_last();
		goto fail;
	}
	r->openapi_len = strlen(r->openapi);
	flags = MHD_USE_TLS | MHD_USE_EPOLL | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG |
	        MHD_ALLOW_SUSPEND_RESUME;
	if (ss.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	r->daemon = MHD_start_daemon(
	        flags, 0, NULL, NULL, on_request, r, MHD_OPTION_EXTERNAL_LOGGER, on_log, r,
	        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss, MHD_OPTION_LISTENING_ADDRESS_REUSE,
	        (unsigned int)1, MHD_OPTION_THREAD_POOL_SIZE,
	        (unsigned int)(opts->threads ? opts->threads : REST_THREADS_DEFAULT),
	        MHD_OPTION_CONNECTION_LIMIT, (unsigned int)REST_CONN_LIMIT,
	        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)REST_CONN_TIMEOUT_S,
	        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)REST_CONN_MEMORY,
	        MHD_OPTION_HTTPS_MEM_KEY, r->key_pem, MHD_OPTION_HTTPS_MEM_CERT, r->cert_pem,
	        MHD_OPTION_NOTIFY_COMPLETED, on_completed, r, MHD_OPTION_END);
	if (!r->daemon) {
		err = ovr_err_set(OVR_ERR_IO, "rest: cannot serve HTTPS on %s (see the log above)",
		                  listen);
		goto fail;
	}
	atomic_store(&r->starting, 0);
	di = MHD_get_daemon_info(r->daemon, MHD_DAEMON_INFO_BIND_PORT);
	*port = di ? di->port : 0;
	*out = r;
	return 0;
fail:
	rest_stop(r);
	return err;
}

/*
 * Ends every stream with UNAVAILABLE "server shutting down" and gives them a moment to write it:
 * libmicrohttpd must not be stopped while a connection is suspended.
 */
static void stop_streams(struct rest *r)
{
	struct rcall **all = NULL, *rc;
	size_t n = 0, i;
	int64_t deadline = ovr_mono_ms() + REST_STOP_WAIT_MS;

	pthread_mutex_lock(&r->mu);
	r->stopping = 1;
	for (rc = r->streams; rc; rc = rc->next)
		n++;
	all = n ? calloc(n, sizeof(*all)) : NULL;
	n = 0;
	for (rc = r->streams; rc; rc = rc->next) {
		if (!all) {
			/* Out of memory: end them here rather than leave one suspended. */
			stream_end(rc, OVR_ERR_UNAVAILABLE, "server shutting down", 0);
			continue;
		}
		rpc_call_ref(&rc->base);
		all[n++] = rc;
	}
	pthread_mutex_unlock(&r->mu);
	for (i = 0; i < n; i++) {
		stream_end(all[i], OVR_ERR_UNAVAILABLE, "server shutting down", 0);
		rpc_call_unref(&all[i]->base);
	}
	free(all);

	pthread_mutex_lock(&r->mu);
	while (r->streams && ovr_mono_ms() < deadline) {
		struct timespec ts = ovr_timespec_in(CLOCK_REALTIME, deadline - ovr_mono_ms());

		pthread_cond_timedwait(&r->cond, &r->mu, &ts);
	}
	/* Any left (a slow reader) are not suspended: ended streams never are again. */
	pthread_mutex_unlock(&r->mu);
}

void rest_stop(struct rest *r)
{
	struct thread_state *ts, *next;

	if (!r)
		return;
	if (r->daemon) {
		stop_streams(r);
		MHD_stop_daemon(r->daemon);
	}
	for (ts = r->states; ts; ts = next) {
		next = ts->next;
		if (r->opts.worker_fini)
			r->opts.worker_fini(ts->state);
		free(ts);
	}
	if (r->key_pem) {
		crypto_wipe(r->key_pem, r->key_len);
		free(r->key_pem);
	}
	free(r->cert_pem);
	free(r->openapi);
	pthread_mutex_destroy(&r->mu);
	pthread_cond_destroy(&r->cond);
	free(r);
}
