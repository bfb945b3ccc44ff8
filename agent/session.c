/*
 * `ovr-agent run`: holds the Connect stream to the server over mutual TLS, says hello, sends
 * heartbeats, hands desired state to the reconciler and sends its reports, and reconnects with
 * exponential backoff and jitter when the stream ends.
 */
#include "agent.h"

#include "backoff.h"
#include "crypto.h"
#include "err.h"
#include "events.h"
#include "executor.h"
#include "hostinfo.h"
#include "log.h"
#include "logs.h"
#include "metrics.h"
#include "overseer/v1/agent.pb-c.h"
#include "pki.h"
#include "reconcile.h"
#include "rpc.h"
#include "strutil.h"

#include <stdint.h>
#include <string.h>
#include <time.h>

#define BACKOFF_INITIAL_MS 1000
#define BACKOFF_MAX_MS     30000
#define WELCOME_TIMEOUT_MS 15000
#define SEND_TIMEOUT_MS    15000
/* How often the receive loop wakes to check for a stop request and send waiting reports. */
#define POLL_MS 500

struct session {
	const struct agent_settings *s;
	struct agent_identity id;
	struct hostinfo host;
	struct rpc_client *client;
	struct rpc_client_stream *stream;
	/* Applies run on its threads; its reports are sent from this one only. */
	struct reconciler *rec;
	/* Asks rec for a report when a container changes (NULL with a simulated executor). */
	struct events_watcher *events;
	/* Log requests of the server: their readers' chunks are sent from this thread. */
	struct logs *logs;
	int welcomed; /* reports go out only after the server's welcome */
	int64_t heartbeat_ms;
	volatile int *stop;
	/* Renewal happens at a random point between 50% and 80% of the certificate's life. */
	double renew_fraction;
	int64_t renew_at_ms;
};

/* When to renew the current certificate (unix ms). */
static void plan_renewal(struct session *ss)
{
	struct pki_cert_info info;

	ss->renew_at_ms = INT64_MAX;
	if (pki_cert_info(&info, ss->id.cert_pem) != 0)
		return;
	if (ss->s->renew_before_ms > 0)
		ss->renew_at_ms = info.not_after_ms - ss->s->renew_before_ms;
	else
		ss->renew_at_ms = info.not_before_ms +
		                  (int64_t)((double)(info.not_after_ms - info.not_before_ms) *
		                            ss->renew_fraction);
}

/* Renews when due; the stream goes on with the old certificate, reconnects use the new one. */
static void maybe_renew(struct session *ss)
{
	struct agent_identity fresh;
	int err;

	if (ovr_now_ms() < ss->renew_at_ms)
		return;
	err = agent_renew(ss->s, &ss->id);
	if (!err)
		err = agent_identity_load(&fresh, ss->s->state_dir);
	if (err) {
		log_warnx("certificate renewal failed, retrying in 1 minute: %s", ovr_err_msg(err));
		ss->renew_at_ms = ovr_now_ms() + 60000;
		return;
	}
	agent_identity_free(&ss->id);
	ss->id = fresh;
	plan_renewal(ss);
}

static int send_msg(struct session *ss, Overseer__V1__AgentMessage *msg)
{
	return rpc_client_stream_send(ss->stream, &msg->base, SEND_TIMEOUT_MS);
}

static int send_hello(struct session *ss)
{
	Overseer__V1__AgentMessage msg = OVERSEER__V1__AGENT_MESSAGE__INIT;
	Overseer__V1__Hello hello = OVERSEER__V1__HELLO__INIT;

	hello.node_id = ss->id.node_id;
	hello.hostname = ss->host.hostname;
	hello.n_addresses = ss->host.n_addresses;
	hello.addresses = ss->host.address_ptrs;
	hello.agent_version = (char *)(uintptr_t)OVR_VERSION;
	hello.docker_version = ss->host.docker_version;
	hello.compose_version = ss->host.compose_version;
	hello.os_arch = ss->host.os_arch;
	hello.applied_generation = reconcile_generation(ss->rec);
	msg.msg_case = OVERSEER__V1__AGENT_MESSAGE__MSG_HELLO;
	msg.hello = &hello;
	return send_msg(ss, &msg);
}

static int send_heartbeat(struct session *ss)
{
	Overseer__V1__AgentMessage msg = OVERSEER__V1__AGENT_MESSAGE__INIT;
	Overseer__V1__Heartbeat hb = OVERSEER__V1__HEARTBEAT__INIT;

	hb.sent_unix_ms = ovr_now_ms();
	msg.msg_case = OVERSEER__V1__AGENT_MESSAGE__MSG_HEARTBEAT;
	msg.heartbeat = &hb;
	return send_msg(ss, &msg);
}

/* Sends the reconciler's waiting reports, oldest first. */
static int flush_reports(struct session *ss)
{
	Overseer__V1__StatusReport *rep;
	int err = 0;

	while (err == 0 && (rep = reconcile_take_report(ss->rec)) != NULL) {
		Overseer__V1__AgentMessage msg = OVERSEER__V1__AGENT_MESSAGE__INIT;

		msg.msg_case = OVERSEER__V1__AGENT_MESSAGE__MSG_STATUS;
		msg.status = rep;
		err = send_msg(ss, &msg);
		if (!err)
			agent_metrics_report_sent(); /* metrics */
		reconcile_report_free(rep);
	}
	return err;
}

/* Sends waiting log chunks, LOGS_SEND_BURST at most a turn: reports and heartbeats go on. */
static int flush_logs(struct session *ss)
{
	Overseer__V1__LogChunk *chunk;
	int err = 0, n = 0;

	while (err == 0 && n++ < LOGS_SEND_BURST && (chunk = logs_take(ss->logs)) != NULL) {
		Overseer__V1__AgentMessage msg = OVERSEER__V1__AGENT_MESSAGE__INIT;

		msg.msg_case = OVERSEER__V1__AGENT_MESSAGE__MSG_LOGS;
		msg.logs = chunk;
		err = send_msg(ss, &msg);
		logs_chunk_free(chunk);
	}
	return err;
}

/*
 * Receives, checking for stop and sending waiting reports and log chunks every POLL_MS (or
 * sooner while log requests run); returns what rpc_client_stream_recv returns.
 */
static int recv_msg(struct session *ss, Overseer__V1__ServerMessage **out, int64_t timeout_ms)
{
	int64_t deadline = ovr_mono_ms() + timeout_ms;

	for (;;) {
		int64_t left = deadline - ovr_mono_ms(), poll;
		int err;

		if (*ss->stop)
			return ovr_err_set(OVR_ERR_CANCELLED, "stopping");
		if (ss->welcomed && ((err = flush_reports(ss)) != 0 || (err = flush_logs(ss)) != 0))
			return err;
		if (left <= 0)
			return ovr_err_set(OVR_ERR_TIMEOUT, "no message in time");
		/* Shorter while log chunks come, so they wait at most that long. */
		poll = logs_poll_ms(ss->logs, POLL_MS);
		err = rpc_client_stream_recv(ss->stream, &overseer__v1__server_message__descriptor,
		                             (ProtobufCMessage **)out, left < poll ? left : poll);
		if (err != OVR_ERR_TIMEOUT)
			return err;
	}
}

/* Handles one server message; desired state goes to the reconciler, which then owns *msg. */
static int handle_message(struct session *ss, Overseer__V1__ServerMessage **msg)
{
	int err;

	switch ((*msg)->msg_case) {
	case OVERSEER__V1__SERVER_MESSAGE__MSG_SYNC:
	case OVERSEER__V1__SERVER_MESSAGE__MSG_REMOVE:
		err = reconcile_submit(ss->rec, *msg);
		*msg = NULL;
		/* A flooded queue loses this message, not the stream: the next Sync covers it. */
		if (err)
			log_warnx("desired state dropped: %s", ovr_err_msg(err));
		return 0;
	case OVERSEER__V1__SERVER_MESSAGE__MSG_LOGS:
		logs_request(ss->logs, (*msg)->logs);
		return 0;
	default:
		log_debug("ignoring server message %d", (int)(*msg)->msg_case);
		return 0;
	}
}

static int open_client(struct session *ss)
{
	struct rpc_client_opts o;
	const char *server = ss->s->server ? ss->s->server : ss->id.server;

	memset(&o, 0, sizeof(o));
	o.target = server;
	o.ca_pem = ss->id.ca_pem;
	o.cert_pem = ss->id.cert_pem;
	o.key_pem = ss->id.key_pem;
	o.server_name = ss->s->server_name;
	o.keepalive_ms = (int)ss->s->keepalive_ms;
	return rpc_client_new(&ss->client, &o);
}

/* One connection: hello, welcome, then messages and heartbeats until the stream ends. */
static int session_once(struct session *ss, struct backoff *bo)
{
	Overseer__V1__ServerMessage *msg = NULL;
	int64_t next_heartbeat;
	int err;

	/* Reports made while disconnected are stale: the first full report covers them. */
	reconcile_drop_reports(ss->rec);
	err = rpc_client_stream_open(&ss->stream, ss->client, "/overseer.v1.AgentService/Connect",
	                             NULL, NULL);
	if (!err)
		err = send_hello(ss);
	if (!err)
		err = recv_msg(ss, &msg, WELCOME_TIMEOUT_MS);
	if (err == 1)
		err = ovr_err_set(OVR_ERR_UNAVAILABLE, "the server closed the stream");
	if (err)
		goto out;
	if (msg->msg_case != OVERSEER__V1__SERVER_MESSAGE__MSG_WELCOME) {
		err = ovr_err_set(OVR_ERR_INTERNAL, "expected a welcome from the server");
		goto out;
	}
	ss->heartbeat_ms = msg->welcome->heartbeat_interval_ms > 0
	                           ? msg->welcome->heartbeat_interval_ms
	                           : 5000;
	log_info("connected to %s as node %s (%s)", ss->s->server ? ss->s->server : ss->id.server,
	         msg->welcome->node_name, ss->id.node_id);
	backoff_reset(bo);
	protobuf_c_message_free_unpacked(&msg->base, NULL);
	msg = NULL;
	ss->welcomed = 1;
	next_heartbeat = ovr_mono_ms() + ss->heartbeat_ms;
	plan_renewal(ss);
	for (;;) {
		int64_t left = next_heartbeat - ovr_mono_ms();

		if (left <= 0) {
			maybe_renew(ss);
			err = send_heartbeat(ss);
			if (err)
				break;
			log_debug("heartbeat sent: report requested");
			/* Container state for the server, sent within POLL_MS when it is ready. */
			reconcile_request_report(ss->rec);
			next_heartbeat = ovr_mono_ms() + ss->heartbeat_ms;
			continue;
		}
		err = recv_msg(ss, &msg, left);
		if (err == OVR_ERR_TIMEOUT)
			continue;
		if (err == 1)
			err = ovr_err_set(OVR_ERR_UNAVAILABLE, "the server ended the stream");
		if (err)
			break;
		err = handle_message(ss, &msg);
		if (msg)
			protobuf_c_message_free_unpacked(&msg->base, NULL);
		msg = NULL;
		if (err)
			break;
	}
out:
	if (msg)
		protobuf_c_message_free_unpacked(&msg->base, NULL);
	ss->welcomed = 0;
	/* The server forgets this stream's log requests with it. */
	logs_cancel_all(ss->logs);
	rpc_client_stream_free(ss->stream);
	ss->stream = NULL;
	return err;
}

/* Sleeps ms, waking early on stop. */
static void nap(volatile int *stop, int64_t ms)
{
	int64_t end = ovr_mono_ms() + ms;

	while (!*stop && ovr_mono_ms() < end) {
		struct timespec ts = {0, 100 * 1000000L};

		nanosleep(&ts, NULL);
	}
}

static void containers_changed(void *payload)
{
	reconcile_request_report(payload);
}

/*
 * The reconciler over ex, its threads running, and with watch_events the engine's container
 * events asking it for reports as containers change (heartbeats still ask: a safety net).
 */
static int start_reconciler(struct session *ss, struct executor *ex, int watch_events)
{
	struct reconcile_opts ro;
	struct events_opts eo;
	struct logs_opts lo;
	int err;

	memset(&ro, 0, sizeof(ro));
	ro.state_dir = ss->s->state_dir;
	ro.ex = ex;
	err = reconcile_new(&ss->rec, &ro);
	if (!err)
		err = reconcile_start(ss->rec);
	if (!err && watch_events) {
		memset(&eo, 0, sizeof(eo));
		eo.docker_socket = ss->s->docker_socket;
		eo.project_prefix = ss->s->project_prefix;
		eo.changed = containers_changed;
		eo.payload = ss->rec;
		err = events_start(&ss->events, &eo);
	}
	if (!err) {
		memset(&lo, 0, sizeof(lo));
		lo.docker_socket = ss->s->docker_socket;
		lo.project_prefix = ss->s->project_prefix;
		err = logs_new(&ss->logs, &lo);
	}
	if (err) {
		events_stop(ss->events);
		ss->events = NULL;
		reconcile_free(ss->rec);
		ss->rec = NULL;
	}
	return err;
}

/* The session over ex until stop; watch_events for an executor that runs real containers. */
static int run_session(const struct agent_settings *s, struct executor *ex, int watch_events,
                       volatile int *stop)
{
	struct session ss;
	struct backoff bo;
	uint64_t seed = 0;
	int err;

	memset(&ss, 0, sizeof(ss));
	ss.s = s;
	ss.stop = stop;
	err = agent_identity_load(&ss.id, s->state_dir);
	if (!err)
		err = start_reconciler(&ss, ex, watch_events);
	if (err) {
		agent_identity_free(&ss.id);
		return err;
	}
	crypto_random(&seed, sizeof(seed));
	ss.renew_fraction = 0.5 + 0.3 * (double)(seed % 1000) / 999.0;
	hostinfo_collect(&ss.host, s->docker_socket);
	crypto_random(&seed, sizeof(seed));
	backoff_init(&bo, BACKOFF_INITIAL_MS, BACKOFF_MAX_MS, seed);
	log_info("ovr-agent %s node=%s server=%s docker=%s compose=%s", OVR_VERSION, ss.id.node_id,
	         s->server ? s->server : ss.id.server,
	         ss.host.docker_version[0] ? ss.host.docker_version : "none",
	         ss.host.compose_version[0] ? ss.host.compose_version : "none");
	while (!*stop) {
		int64_t delay;

		/* Credentials are read again each time: a renewal or re-enrollment takes effect. */
		agent_identity_free(&ss.id);
		err = agent_identity_load(&ss.id, s->state_dir);
		if (!err)
			err = open_client(&ss);
		if (!err)
			err = session_once(&ss, &bo);
		rpc_client_free(ss.client);
		ss.client = NULL;
		if (*stop)
			break;
		delay = backoff_next(&bo);
		if (err == OVR_ERR_UNAVAILABLE)
			log_warnx("server unreachable or this node's certificate was rejected "
			          "(revoked or from another CA): %s; retrying in %lld ms",
			          ovr_err_msg(err), (long long)delay);
		else
			log_warnx("disconnected: %s; retrying in %lld ms", ovr_err_msg(err),
			          (long long)delay);
		nap(stop, delay);
		if (!*stop)
			agent_metrics_reconnect(); /* metrics */
	}
	/* An apply in flight finishes first: compose is not interrupted half way. */
	log_info("stopping: waiting for the reconciler");
	logs_free(ss.logs);
	events_stop(ss.events); /* first: it calls into the reconciler */
	reconcile_free(ss.rec);
	log_info("stopped");
	agent_identity_free(&ss.id);
	return 0;
}

int agent_run_executor(const struct agent_settings *s, struct executor *ex, volatile int *stop)
{
	return run_session(s, ex, 0, stop);
}

int agent_run(const struct agent_settings *s, volatile int *stop)
{
	struct executor_compose_opts eo;
	struct agent_identity id;
	struct executor ex;
	int err;

	err = agent_identity_load(&id, s->state_dir);
	if (err)
		return err;
	memset(&eo, 0, sizeof(eo));
	eo.state_dir = s->state_dir;
	eo.project_prefix = s->project_prefix;
	eo.node_name = id.node_name;
	eo.docker_socket = s->docker_socket;
	err = executor_compose_new(&ex, &eo); /* copies the strings */
	agent_identity_free(&id);
	if (err)
		return err;
	err = run_session(s, &ex, 1, stop);
	executor_free(&ex);
	return err;
}
