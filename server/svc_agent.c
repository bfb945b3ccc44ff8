/* The AgentService: enrollment with a join token, and each node's Connect stream. */
#include "svc_agent.h"

#include "crypto.h"
#include "db_deploy.h"
#include "db_node.h"
#include "db_token.h"
#include "desired.h"
#include "err.h"
#include "hub.h"
#include "labels.h"
#include "log.h"
#include "overseer/v1/agent.pb-c.h"
#include "pki.h"
#include "revoked.h"
#include "server.h"
#include "strutil.h"
#include "svc_logs.h"
#include "svc_nodes.h"
#include "token.h"

#include <jansson.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A join token is refused for good after this many wrong secrets. */
#define JOIN_MAX_FAILED     5
#define CSR_MAX             (16 * 1024)
#define CERT_BACKDATE_MS    (5LL * 60 * 1000)
#define HELLO_FIELD_MAX     256
#define HELLO_ADDRESSES_MAX 64

/* ------------------------------------------------------------------ Enroll */

/* Checks the token in the enrolling transaction. A wrong secret is counted (and committed). */
static int enroll_claim_token(struct db *db, const struct token_parts *parts,
                              struct db_join_token *tok)
{
	unsigned char hash[CRYPTO_SHA256_LEN];
	int err;

	err = db_join_token_lock(db, parts->id, tok);
	if (err == OVR_ERR_NOT_FOUND)
		return ovr_err_set(OVR_ERR_UNAUTHENTICATED, "join token is not valid");
	if (err)
		return err;
	if (tok->failed_attempts >= JOIN_MAX_FAILED)
		return ovr_err_set(OVR_ERR_UNAUTHENTICATED,
		                   "join token %s is locked after too many failed attempts; create "
		                   "a new one",
		                   parts->id);
	token_secret_hash(hash, parts);
	if (!crypto_equal(hash, tok->secret_hash, sizeof(hash))) {
		if (db_join_token_failed(db, parts->id) == 0 && db_commit(db) == 0)
			db_begin(db);
		return ovr_err_set(OVR_ERR_UNAUTHENTICATED, "join token is not valid");
	}
	if (tok->used)
		return ovr_err_set(OVR_ERR_UNAUTHENTICATED, "join token %s has already been used",
		                   parts->id);
	if (tok->expires_ms <= ovr_now_ms())
		return ovr_err_set(OVR_ERR_UNAUTHENTICATED,
		                   "join token %s has expired; create a new one", parts->id);
	return 0;
}

int svc_agent_enroll(struct rpc_call *call, const void *req_, void *resp_)
{
	const Overseer__V1__EnrollRequest *req = req_;
	Overseer__V1__EnrollResponse *resp = resp_;
	struct server *srv = server_get();
	struct arena *a = rpc_call_arena(call);
	struct db *db = server_db();
	struct token_parts parts;
	struct db_join_token tok;
	struct pki_cert_info info;
	char node_id[64], old_serial[PKI_SERIAL_LEN] = "";
	char *cert = NULL;
	int err;

	memset(&tok, 0, sizeof(tok));
	if (token_join_parse(&parts, req->token) != 0)
		return ovr_err_set(OVR_ERR_UNAUTHENTICATED, "join token is malformed");
	if (strcmp(parts.fingerprint, srv->ca_fingerprint) != 0) {
		token_parts_wipe(&parts);
		return ovr_err_set(OVR_ERR_UNAUTHENTICATED,
		                   "join token was issued by another server's CA");
	}
	if (strlen(req->csr_pem) > CSR_MAX || strlen(req->hostname) > HELLO_FIELD_MAX) {
		token_parts_wipe(&parts);
		return ovr_err_set(OVR_ERR_INVALID, "csr_pem or hostname is too long");
	}
	err = db_begin(db);
	if (err)
		goto out;
	err = enroll_claim_token(db, &parts, &tok);
	if (err)
		goto fail;
	/* A node that enrolls again under its name keeps its id, and so its apps. */
	err = db_node_lock_by_name(db, tok.node_name, node_id, sizeof(node_id), old_serial,
	                           sizeof(old_serial));
	if (err == OVR_ERR_NOT_FOUND)
		err = crypto_random_hex(node_id, 8);
	if (err)
		goto fail;
	err = pki_csr_sign(&cert, &info, srv->ca_cert_pem, srv->ca_key_pem, req->csr_pem, node_id,
	                   srv->settings.node_cert_ttl_ms, CERT_BACKDATE_MS);
	if (err) {
		err = ovr_err_set(OVR_ERR_INVALID, "csr_pem: %s", ovr_err_msg(err));
		goto fail;
	}
	err = db_node_enrolled(db, node_id, tok.node_name, tok.labels_json, info.serial,
	                       info.not_after_ms, req->hostname);
	if (!err && old_serial[0])
		err = db_revoked_serial_add(db, old_serial, node_id);
	if (!err)
		err = db_join_token_used(db, parts.id, node_id);
	if (err)
		goto fail;
	err = db_commit(db);
	if (err)
		goto out;
	if (old_serial[0]) {
		revoked_add(old_serial);
		hub_disconnect(node_id, OVR_ERR_PERMISSION,
		               "node enrolled again with a new certificate");
	}
	resp->node_id = arena_strdup(a, node_id);
	resp->node_name = arena_strdup(a, tok.node_name);
	resp->certificate_pem = arena_strdup(a, cert);
	resp->ca_pem = srv->ca_cert_pem;
	resp->expires_unix_ms = info.not_after_ms;
	labels_from_json(a, tok.labels_json,
	                 &overseer__v1__enroll_response__labels_entry__descriptor, &resp->n_labels,
	                 (void ***)&resp->labels);
	log_info("node enrolled id=%s name=%s serial=%s token=%s peer=%s", node_id, tok.node_name,
	         info.serial, parts.id, rpc_call_peer(call));
	goto out;
fail:
	db_rollback(db);
	log_warnx("enrollment refused token=%s peer=%s: %s", parts.id, rpc_call_peer(call),
	          ovr_err_msg(err));
out:
	free(cert);
	db_join_token_clear(&tok);
	token_parts_wipe(&parts);
	return err;
}

/* ------------------------------------------------------------------ Connect */

struct agent_session {
	char node_id[64];
	char session[96];
	int hello_done;
};

static atomic_long session_counter;

static int connect_open(struct rpc_call *call, const void *req)
{
	struct agent_session *s = calloc(1, sizeof(*s));

	(void)req;
	if (!s)
		return ovr_err_set(OVR_ERR_NOMEM, "out of memory");
	ovr_strlcpy(s->node_id, rpc_call_identity(call)->name, sizeof(s->node_id));
	snprintf(s->session, sizeof(s->session), "%s/%ld", server_get()->instance_id,
	         atomic_fetch_add(&session_counter, 1) + 1);
	rpc_call_set_data(call, s);
	return 0;
}

static int hello_validate(const Overseer__V1__Hello *h)
{
	const char *fields[] = {h->hostname, h->agent_version, h->docker_version,
	                        h->compose_version, h->os_arch};
	size_t i;

	for (i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
		if (strlen(fields[i]) > HELLO_FIELD_MAX)
			return ovr_err_set(OVR_ERR_INVALID,
			                   "hello: a field is longer than %d bytes",
			                   HELLO_FIELD_MAX);
	if (h->n_addresses > HELLO_ADDRESSES_MAX)
		return ovr_err_set(OVR_ERR_INVALID, "hello: more than %d addresses",
		                   HELLO_ADDRESSES_MAX);
	for (i = 0; i < h->n_addresses; i++)
		if (strlen(h->addresses[i]) > 64)
			return ovr_err_set(OVR_ERR_INVALID, "hello: address too long");
	return 0;
}

static int send_welcome(struct rpc_call *call, struct agent_session *s)
{
	Overseer__V1__ServerMessage msg = OVERSEER__V1__SERVER_MESSAGE__INIT;
	Overseer__V1__Welcome welcome = OVERSEER__V1__WELCOME__INIT;
	Overseer__V1__Node *node = NULL;
	struct arena *a = rpc_call_arena(call);
	int err;

	err = db_node_get(server_db(), a, svc_nodes_stale_ms(), s->node_id, &node);
	if (err)
		return err;
	welcome.node_id = node->id;
	welcome.node_name = node->name;
	welcome.n_labels = node->n_labels;
	welcome.labels = (Overseer__V1__Welcome__LabelsEntry **)node->labels;
	welcome.heartbeat_interval_ms = server_get()->settings.heartbeat_interval_ms;
	msg.msg_case = OVERSEER__V1__SERVER_MESSAGE__MSG_WELCOME;
	msg.welcome = &welcome;
	return rpc_call_send(call, &msg.base);
}

static int connect_hello(struct rpc_call *call, struct agent_session *s,
                         const Overseer__V1__Hello *h)
{
	struct db_node_hello row;
	json_t *addrs;
	char *addrs_json;
	size_t i;
	int err;

	if (s->hello_done)
		return ovr_err_set(OVR_ERR_INVALID, "hello sent twice on one stream");
	if (strcmp(h->node_id, s->node_id) != 0)
		return ovr_err_set(OVR_ERR_PERMISSION,
		                   "hello claims node '%.64s' but the certificate is for node %s",
		                   h->node_id, s->node_id);
	err = hello_validate(h);
	if (err)
		return err;
	addrs = json_array();
	for (i = 0; i < h->n_addresses; i++)
		json_array_append_new(addrs, json_string(h->addresses[i]));
	addrs_json = json_dumps(addrs, JSON_COMPACT);
	json_decref(addrs);
	row.hostname = h->hostname;
	row.addresses_json = addrs_json ? addrs_json : "[]";
	row.agent_version = h->agent_version;
	row.docker_version = h->docker_version;
	row.compose_version = h->compose_version;
	row.os_arch = h->os_arch;
	err = db_node_session_start(server_db(), s->node_id, s->session, &row);
	free(addrs_json);
	if (err)
		return err;
	s->hello_done = 1;
	log_info("agent connected node=%s session=%s peer=%s agent=%s docker=%s compose=%s "
	         "applied_generation=%lld",
	         s->node_id, s->session, rpc_call_peer(call), h->agent_version, h->docker_version,
	         h->compose_version, (long long)h->applied_generation);
	err = send_welcome(call, s);
	if (err)
		return err;
	/*
	 * Registered after the welcome, so a deploy's push can never overtake it; the desired state
	 * is read after registering, so a deploy committed meanwhile is in it or pushes on its own.
	 */
	hub_register(s->node_id, call);
	{
		struct arena tmp = {0};

		desired_push(server_db(), &tmp, s->node_id);
		arena_free(&tmp);
	}
	return 0;
}

/* A status report: observed state and the deployments it moves (a short-lived arena each). */
static void connect_status(struct agent_session *s, const Overseer__V1__StatusReport *report)
{
	struct arena tmp = {0};
	int err;

	struct db_node_ids push = {0};

	err = db_deploy_report(server_db(), &tmp, s->node_id, report, &push);
	if (err)
		log_warnx("status report of node=%s not recorded: %s", s->node_id,
		          ovr_err_msg(err));
	else
		desired_push_nodes(server_db(), &tmp, &push); /* an automatic rollback */
	arena_free(&tmp);
}

static int connect_message(struct rpc_call *call, const void *msg_)
{
	const Overseer__V1__AgentMessage *msg = msg_;
	struct agent_session *s = rpc_call_data(call);
	int err;

	if (msg->msg_case == OVERSEER__V1__AGENT_MESSAGE__MSG_HELLO) {
		err = server_db_ready();
		return err ? err : connect_hello(call, s, msg->hello);
	}
	if (!s->hello_done)
		return ovr_err_set(OVR_ERR_PRECONDITION, "the first message must be a hello");
	switch (msg->msg_case) {
	case OVERSEER__V1__AGENT_MESSAGE__MSG_STATUS:
		if (server_db_ready() == 0)
			connect_status(s, msg->status);
		__attribute__((fallthrough)); /* a report is also a sign of life */
	case OVERSEER__V1__AGENT_MESSAGE__MSG_HEARTBEAT:
		/*
		 * A database hiccup must not cut the node off: the stream is what matters, and
		 * last_seen catches up with the next heartbeat.
		 */
		err = server_db_ready();
		if (!err)
			err = db_node_session_seen(server_db(), s->node_id, s->session);
		if (err)
			log_warnx("heartbeat of node=%s not recorded: %s", s->node_id,
			          ovr_err_msg(err));
		return 0;
	case OVERSEER__V1__AGENT_MESSAGE__MSG_LOGS:
		svc_logs_agent_chunk(call, s->node_id, msg->logs);
		return 0;
	default:
		return 0;
	}
}

static void connect_closed(struct rpc_call *call, int cancelled)
{
	struct agent_session *s = rpc_call_data(call);

	if (!s)
		return;
	if (s->hello_done) {
		hub_unregister(s->node_id, call);
		svc_logs_agent_gone(call, s->node_id);
		if (server_db_ready() == 0)
			db_node_session_end(server_db(), s->node_id, s->session);
		log_info("agent disconnected node=%s session=%s%s", s->node_id, s->session,
		         cancelled ? " (cancelled)" : "");
	}
	rpc_call_set_data(call, NULL);
	free(s);
}

const struct rpc_stream_ops svc_agent_connect_ops = {
        .open = connect_open,
        .message = connect_message,
        .closed = connect_closed,
};

/* ------------------------------------------------------------------ Renew */

int svc_agent_renew(struct rpc_call *call, const void *req_, void *resp_)
{
	const Overseer__V1__RenewRequest *req = req_;
	Overseer__V1__RenewResponse *resp = resp_;
	const struct rpc_identity *id = rpc_call_identity(call);
	struct server *srv = server_get();
	struct pki_cert_info info;
	char *cert = NULL;
	int err;

	if (strlen(req->csr_pem) > CSR_MAX)
		return ovr_err_set(OVR_ERR_INVALID, "csr_pem: longer than %d bytes", CSR_MAX);
	err = pki_csr_sign(&cert, &info, srv->ca_cert_pem, srv->ca_key_pem, req->csr_pem, id->name,
	                   srv->settings.node_cert_ttl_ms, CERT_BACKDATE_MS);
	if (err)
		return ovr_err_set(OVR_ERR_INVALID, "csr_pem: %s", ovr_err_msg(err));
	err = db_node_renewed(server_db(), id->name, id->cert_serial, info.serial,
	                      info.not_after_ms);
	if (!err) {
		resp->certificate_pem = arena_strdup(rpc_call_arena(call), cert);
		resp->expires_unix_ms = info.not_after_ms;
		log_info("node certificate renewed node=%s old=%s new=%s", id->name,
		         id->cert_serial, info.serial);
	}
	free(cert);
	return err;
}
