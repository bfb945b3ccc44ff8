/*
 * The REST/JSON gateway: libmicrohttpd over TLS, one route table (the method table), and the very
 * handlers the gRPC server calls, reached through the transport-neutral struct rpc_call.
 */
#include "rest.h"

#include "crypto.h"
#include "db.h"
#include "err.h"
#include "fsutil.h"
#include "log.h"
#include "pbjson.h"
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
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#define REST_THREADS_DEFAULT 4
#define REST_CONN_LIMIT      256
#define REST_CONN_TIMEOUT_S  30
#define REST_CONN_MEMORY     (64 * 1024) /* request line and headers, per connection */
#define REST_PEM_MAX         (256 * 1024)
#define REST_MAX_DISCARD     (64 * 1024 * 1024) /* of an oversized chunked body */

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
	struct thread_state *states;
};

/* One HTTP request while its body arrives. */
struct rreq {
	char *body;
	size_t len, cap;
	size_t discarded;
	int too_large;
	int answered; /* a response was queued before the body was read */
};

/* A REST call as handlers see it. */
struct rcall {
	struct rpc_call base; /* first: handlers get &base */
	struct MHD_Connection *conn;
};

/* ------------------------------------------------------------------ transport */

static int rt_send(struct rpc_call *call, const ProtobufCMessage *msg)
{
	(void)call;
	(void)msg;
	return ovr_err_set(OVR_ERR_UNIMPLEMENTED, "streaming is not served over REST yet");
}

static void rt_end(struct rpc_call *call, int err, const char *message)
{
	(void)call;
	(void)err;
	(void)message;
}

static int rt_ended(const struct rpc_call *call)
{
	(void)call;
	return 0;
}

static const char *rt_metadata(struct rpc_call *call, const char *key)
{
	struct rcall *rc = (struct rcall *)call;
	const char *v = MHD_lookup_connection_value(rc->conn, MHD_HEADER_KIND, key);

	return v ? arena_strdup(&call->arena, v) : NULL;
}

static void rt_destroy(struct rpc_call *call)
{
	rpc_call_release(call);
	free(call);
}

static const struct rpc_call_transport rest_transport = {
        "rest", rt_send, rt_end, rt_end, rt_ended, rt_metadata, rt_destroy,
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

/* The error body {"code": <gRPC code>, "message": "...", "details": []} with an explicit status. */
static enum MHD_Result respond_status(struct MHD_Connection *conn, unsigned status, int code,
                                      const char *message, const char *allow)
{
	json_t *j = json_pack("{s:i,s:s,s:[]}", "code", code, "message", message, "details");
	char *body;

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
	body = j ? json_dumps(j, JSON_COMPACT) : NULL;

	json_decref(j);
	return respond(conn, status, body, allow);
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

static enum MHD_Result serve_call(struct rest *r, struct MHD_Connection *conn, const char *verb,
                                  const struct rreq *rq, const struct rest_match *match)
{
	const struct rpc_method *m = match->method;
	ProtobufCMessage *req = NULL;
	struct rcall *call;
	enum MHD_Result ret;
	void *resp;
	char *text;
	int err;

	if (m->kind != RPC_UNARY) {
		ovr_err_set(OVR_ERR_UNIMPLEMENTED, "%s: streaming over REST is not implemented yet",
		            m->path + 1);
		return respond_error(conn, OVR_ERR_UNIMPLEMENTED);
	}
	if (!m->unary) {
		ovr_err_set(OVR_ERR_UNIMPLEMENTED, "%s is not implemented yet", m->path + 1);
		return respond_error(conn, OVR_ERR_UNIMPLEMENTED);
	}
	call = calloc(1, sizeof(*call));
	if (!call)
		return respond(conn, 500, NULL, NULL);
	rpc_call_init(&call->base, &rest_transport, m);
	call->conn = conn;
	call->base.bearer = bearer_token(conn);
	call->base.peer = peer_string(conn);
	ensure_worker(r);

	ovr_err_clear();
	err = r->opts.authenticate(&call->base, &call->base.identity);
	if (!err)
		err = build_request(&req, conn, verb, rq, match);
	if (err) {
		ret = respond_error(conn, err);
		goto out;
	}
	resp = arena_alloc(&call->base.arena, m->response->sizeof_message);
	m->response->message_init(resp);
	ovr_err_clear();
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
		ret = respond_error(conn, OVR_ERR_INTERNAL);
		goto out;
	}
	ret = respond(conn, MHD_HTTP_OK, text, NULL);
out:
	if (req)
		protobuf_c_message_free_unpacked(req, NULL);
	rpc_call_unref(&call->base);
	return ret;
}

/* /healthz, /readyz, /api/openapi.json: GET only; 1 if path is one of them. */
static int serve_builtin(enum MHD_Result *ret, struct rest *r, struct MHD_Connection *conn,
                         const char *verb, const char *path)
{
	int get = strcmp(verb, "GET") == 0;

	if (strcmp(path, "/healthz") != 0 && strcmp(path, "/readyz") != 0 &&
	    strcmp(path, "/api/openapi.json") != 0)
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
		if (!err && db_exec(server_db(), "SELECT 1", 0, NULL) != 0)
			err = ovr_err_set(OVR_ERR_UNAVAILABLE, "database unavailable");
		*ret = err ? respond_error(conn, err)
		           : respond(conn, MHD_HTTP_OK, strdup("{\"status\":\"ready\"}"), NULL);
	} else {
		*ret = respond(conn, MHD_HTTP_OK, strndup(r->openapi, r->openapi_len), NULL);
	}
	return 1;
}

static enum MHD_Result dispatch(struct rest *r, struct MHD_Connection *conn, const char *path,
                                const char *verb, const struct rreq *rq)
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
			free(rq->body);
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
			nb = realloc(rq->body, cap);
			if (!nb)
				return MHD_NO;
			rq->body = nb;
			rq->cap = cap;
		}
		memcpy(rq->body + rq->len, upload_data, n);
		rq->len += n;
		return MHD_YES;
	}
	if (rq->answered)
		return MHD_YES;
	rq->answered = 1;
	return dispatch(r, conn, url, method, rq);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
	struct rreq *rq = *con_cls;

	(void)cls;
	(void)conn;
	(void)toe;
	if (!rq)
		return;
	free(rq->body);
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
	flags = MHD_USE_TLS | MHD_USE_EPOLL | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;
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

void rest_stop(struct rest *r)
{
	struct thread_state *ts, *next;

	if (!r)
		return;
	if (r->daemon)
		MHD_stop_daemon(r->daemon);
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
	free(r);
}
