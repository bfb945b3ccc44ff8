/*
 * The gRPC runtime end to end in one process, over real TLS on 127.0.0.1: unary calls on the
 * worker pool, server-streaming and bidi streams, deadlines and client cancellation reaching
 * handlers, UNIMPLEMENTED for unknown and handler-less methods, the authenticate hook, the
 * message size limit, and a graceful stop that ends streams with UNAVAILABLE.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "err.h"
#include "fsutil.h"
#include "log.h"
#include "overseer/v1/nodes.pb-c.h"
#include "pki.h"
#include "rpc.h"
#include "strutil.h"

#define REQ(name) &overseer__v1__list_nodes_request__descriptor
#define RESP      &overseer__v1__list_nodes_response__descriptor

static char tmpdir[] = "/tmp/ovr-test-rpc.XXXXXX";
static char cert_file[256], key_file[256], ca_file[256];
static char *ca_pem;
static struct rpc_server *srv;
static struct rpc_client *client;
static char target[64];

static atomic_int handler_saw_cancel;
static atomic_int stream_closed_calls;
static atomic_int stream_closed_cancelled;

/* Unary echo: the selector comes back as the next_page_token; "sleep" waits for cancellation. */
static int echo_unary(struct rpc_call *call, const void *req_, void *resp_)
{
	const Overseer__V1__ListNodesRequest *req = req_;
	Overseer__V1__ListNodesResponse *resp = resp_;
	int i;

	if (strcmp(req->selector, "sleep") == 0) {
		for (i = 0; i < 500 && !rpc_call_cancelled(call); i++)
			usleep(10000);
		if (rpc_call_cancelled(call))
			atomic_store(&handler_saw_cancel, 1);
		return ovr_err_set(OVR_ERR_TIMEOUT, "gave up");
	}
	if (strcmp(req->selector, "fail") == 0)
		return ovr_err_set(OVR_ERR_NOT_FOUND, "thing 'x' not found");
	if (strcmp(req->selector, "whoami") == 0) {
		resp->next_page_token =
		        arena_strdup(rpc_call_arena(call), rpc_call_identity(call)->name);
		return 0;
	}
	resp->next_page_token = arena_strdup(rpc_call_arena(call), req->selector);
	return 0;
}

/* Server streaming: page_size messages, then OK. */
static int count_open(struct rpc_call *call, const void *req_)
{
	const Overseer__V1__ListNodesRequest *req = req_;
	Overseer__V1__ListNodesResponse msg = OVERSEER__V1__LIST_NODES_RESPONSE__INIT;
	char buf[32];
	int i, err;

	for (i = 0; i < req->page_size; i++) {
		snprintf(buf, sizeof(buf), "%d", i);
		msg.next_page_token = buf;
		err = rpc_call_send(call, &msg.base);
		if (err)
			return err;
	}
	rpc_call_finish(call, 0, NULL);
	return 0;
}

static void count_closed(struct rpc_call *call, int cancelled)
{
	(void)call;
	atomic_fetch_add(&stream_closed_calls, 1);
	if (cancelled)
		atomic_fetch_add(&stream_closed_cancelled, 1);
}

static const struct rpc_stream_ops count_ops = {count_open, NULL, count_closed};

/* Bidi: echoes each message's selector; "bye" ends the call with OK. */
static int bidi_open(struct rpc_call *call, const void *req)
{
	(void)call;
	(void)req;
	return 0;
}

static int bidi_message(struct rpc_call *call, const void *msg_)
{
	const Overseer__V1__ListNodesRequest *msg = msg_;
	Overseer__V1__ListNodesResponse out = OVERSEER__V1__LIST_NODES_RESPONSE__INIT;

	if (strcmp(msg->selector, "bye") == 0) {
		rpc_call_finish(call, 0, NULL);
		return 0;
	}
	if (strcmp(msg->selector, "bad") == 0)
		return ovr_err_set(OVR_ERR_INVALID, "selector: bad");
	out.next_page_token = msg->selector;
	return rpc_call_send(call, &out.base);
}

static const struct rpc_stream_ops bidi_ops = {bidi_open, bidi_message, count_closed};

static const struct rpc_method methods[] = {
        {"/test.Echo/Unary", RPC_UNARY, REQ(), RESP, echo_unary, NULL, RPC_AUTH_VIEWER, NULL, NULL,
         0},
        {"/test.Echo/Public", RPC_UNARY, REQ(), RESP, echo_unary, NULL, RPC_AUTH_PUBLIC, NULL, NULL,
         0},
        {"/test.Echo/Later", RPC_UNARY, REQ(), RESP, NULL, NULL, RPC_AUTH_PUBLIC, NULL, NULL, 0},
        {"/test.Echo/Count", RPC_SERVER_STREAM, REQ(), RESP, NULL, &count_ops, RPC_AUTH_PUBLIC,
         NULL, NULL, 0},
        {"/test.Echo/Bidi", RPC_BIDI_STREAM, REQ(), RESP, NULL, &bidi_ops, RPC_AUTH_PUBLIC, NULL,
         NULL, 0},
};

/* Accepts the bearer "good" as viewer "tester"; public methods need nothing. */
static int authenticate(struct rpc_call *call, struct rpc_identity *id)
{
	const char *bearer = rpc_call_bearer(call);

	if (rpc_call_method(call)->auth == RPC_AUTH_PUBLIC)
		return 0;
	if (!bearer)
		return ovr_err_set(OVR_ERR_UNAUTHENTICATED, "missing bearer token");
	if (strcmp(bearer, "good") != 0)
		return ovr_err_set(OVR_ERR_UNAUTHENTICATED, "bearer token is not valid");
	id->kind = RPC_IDENTITY_TOKEN;
	id->role = RPC_AUTH_VIEWER;
	ovr_strlcpy(id->name, "tester", sizeof(id->name));
	return 0;
}

static int write_file(const char *path, const char *data, mode_t mode)
{
	return fs_write_file_atomic(path, data, strlen(data), mode);
}

static int setup(void **state)
{
	struct rpc_server_opts o;
	struct rpc_client_opts co;
	const char *sans[] = {"localhost", "127.0.0.1"};
	char *ca_key = NULL, *cert = NULL, *key = NULL;
	int port = 0;

	(void)state;
	log_init("test_rpc", LOG_LEVEL_ERROR);
	rpc_init_logging();
	assert_non_null(mkdtemp(tmpdir));
	snprintf(cert_file, sizeof(cert_file), "%s/server.crt", tmpdir);
	snprintf(key_file, sizeof(key_file), "%s/server.key", tmpdir);
	snprintf(ca_file, sizeof(ca_file), "%s/ca.crt", tmpdir);
	assert_int_equal(pki_ca_create(&ca_pem, &ca_key, "Test CA", 1), 0);
	assert_int_equal(
	        pki_server_cert_create(&cert, &key, ca_pem, ca_key, "localhost", sans, 2, 1), 0);
	assert_int_equal(write_file(cert_file, cert, 0644), 0);
	assert_int_equal(write_file(key_file, key, 0600), 0);
	assert_int_equal(write_file(ca_file, ca_pem, 0644), 0);
	free(cert);
	pki_pem_free(key);
	pki_pem_free(ca_key);

	memset(&o, 0, sizeof(o));
	o.listen = "127.0.0.1:0";
	o.cert_file = cert_file;
	o.key_file = key_file;
	o.ca_file = ca_file;
	o.workers = 2;
	o.methods = methods;
	o.n_methods = sizeof(methods) / sizeof(methods[0]);
	o.hooks.authenticate = authenticate;
	assert_int_equal(rpc_server_start(&srv, &port, &o), 0);
	assert_true(port > 0);
	snprintf(target, sizeof(target), "127.0.0.1:%d", port);

	memset(&co, 0, sizeof(co));
	co.target = target;
	co.ca_pem = ca_pem;
	co.max_send_message = 16 * 1024 * 1024;
	assert_int_equal(rpc_client_new(&client, &co), 0);
	return 0;
}

static int teardown(void **state)
{
	char cmd[300];

	(void)state;
	rpc_client_free(client);
	if (srv)
		rpc_server_stop(srv, 1000);
	free(ca_pem);
	unlink(cert_file);
	unlink(key_file);
	unlink(ca_file);
	snprintf(cmd, sizeof(cmd), "%s", tmpdir);
	rmdir(cmd);
	return 0;
}

static int unary(const char *method, const char *bearer, const char *selector, char **token_out,
                 int64_t timeout_ms)
{
	Overseer__V1__ListNodesRequest req = OVERSEER__V1__LIST_NODES_REQUEST__INIT;
	Overseer__V1__ListNodesResponse *resp = NULL;
	int err;

	req.selector = (char *)(uintptr_t)selector;
	err = rpc_client_unary(client, method, bearer, &req.base, RESP, (ProtobufCMessage **)&resp,
	                       timeout_ms);
	if (!err && token_out)
		*token_out = strdup(resp->next_page_token);
	if (resp)
		protobuf_c_message_free_unpacked(&resp->base, NULL);
	return err;
}

static void test_unary_roundtrip(void **state)
{
	char *out = NULL;

	(void)state;
	assert_int_equal(unary("/test.Echo/Unary", "good", "hello", &out, 5000), 0);
	assert_string_equal(out, "hello");
	free(out);
	assert_int_equal(unary("/test.Echo/Unary", "good", "whoami", &out, 5000), 0);
	assert_string_equal(out, "tester");
	free(out);
}

static void test_handler_error_maps_to_status(void **state)
{
	(void)state;
	assert_int_equal(unary("/test.Echo/Unary", "good", "fail", NULL, 5000), OVR_ERR_NOT_FOUND);
	assert_string_equal(ovr_err_msg(OVR_ERR_NOT_FOUND), "thing 'x' not found");
}

static void test_authenticate_hook(void **state)
{
	(void)state;
	assert_int_equal(unary("/test.Echo/Unary", NULL, "x", NULL, 5000), OVR_ERR_UNAUTHENTICATED);
	assert_string_equal(ovr_err_msg(OVR_ERR_UNAUTHENTICATED), "missing bearer token");
	assert_int_equal(unary("/test.Echo/Unary", "bad", "x", NULL, 5000),
	                 OVR_ERR_UNAUTHENTICATED);
	assert_int_equal(unary("/test.Echo/Public", NULL, "x", NULL, 5000), 0);
}

static void test_unimplemented(void **state)
{
	(void)state;
	assert_int_equal(unary("/test.Echo/Later", NULL, "x", NULL, 5000), OVR_ERR_UNIMPLEMENTED);
	assert_non_null(strstr(ovr_err_msg(OVR_ERR_UNIMPLEMENTED), "test.Echo/Later"));
	assert_int_equal(unary("/test.Nope/Nothing", NULL, "x", NULL, 5000), OVR_ERR_UNIMPLEMENTED);
	assert_non_null(strstr(ovr_err_msg(OVR_ERR_UNIMPLEMENTED), "unknown method"));
}

static void test_malformed_and_oversized(void **state)
{
	unsigned char junk[16];
	char *big;
	size_t n = 5 * 1024 * 1024;

	(void)state;
	memset(junk, 0xff, sizeof(junk));
	assert_int_equal(
	        rpc_client_unary_raw(client, "/test.Echo/Public", NULL, junk, sizeof(junk), 5000),
	        OVR_ERR_INVALID);
	big = malloc(n + 1);
	memset(big, 'a', n);
	big[n] = '\0';
	assert_int_equal(unary("/test.Echo/Public", NULL, big, NULL, 5000), OVR_ERR_TOO_LARGE);
	free(big);
	/* and the server goes on serving */
	assert_int_equal(unary("/test.Echo/Public", NULL, "still", NULL, 5000), 0);
}

static void test_deadline_reaches_handler(void **state)
{
	int64_t t0 = ovr_mono_ms();
	int err;

	(void)state;
	atomic_store(&handler_saw_cancel, 0);
	err = unary("/test.Echo/Unary", "good", "sleep", NULL, 300);
	assert_int_equal(err, OVR_ERR_TIMEOUT);
	assert_true(ovr_mono_ms() - t0 < 3000);
	/* The handler notices within its polling interval. */
	for (int i = 0; i < 200 && !atomic_load(&handler_saw_cancel); i++)
		usleep(10000);
	assert_int_equal(atomic_load(&handler_saw_cancel), 1);
}

/* Waits until the server has no live stream and the closed callbacks have run. */
static void wait_streams_closed(void)
{
	for (int i = 0; i < 300 && rpc_server_active_streams(srv) > 0; i++)
		usleep(10000);
	usleep(100000);
}

static void test_server_stream(void **state)
{
	Overseer__V1__ListNodesRequest req = OVERSEER__V1__LIST_NODES_REQUEST__INIT;
	struct rpc_client_stream *s = NULL;
	ProtobufCMessage *msg = NULL;
	int n = 0, err;
	char want[16];

	(void)state;
	wait_streams_closed();
	atomic_store(&stream_closed_calls, 0);
	req.page_size = 50;
	assert_int_equal(rpc_client_stream_open(&s, client, "/test.Echo/Count", NULL, &req.base),
	                 0);
	while ((err = rpc_client_stream_recv(s, RESP, &msg, 5000)) == 0) {
		snprintf(want, sizeof(want), "%d", n);
		assert_string_equal(((Overseer__V1__ListNodesResponse *)msg)->next_page_token,
		                    want);
		protobuf_c_message_free_unpacked(msg, NULL);
		n++;
	}
	assert_int_equal(err, 1); /* ended with OK */
	assert_int_equal(n, 50);
	rpc_client_stream_free(s);
	for (int i = 0; i < 200 && atomic_load(&stream_closed_calls) < 1; i++)
		usleep(10000);
	assert_int_equal(atomic_load(&stream_closed_calls), 1);
}

static int bidi_send(struct rpc_client_stream *s, const char *selector)
{
	Overseer__V1__ListNodesRequest req = OVERSEER__V1__LIST_NODES_REQUEST__INIT;

	req.selector = (char *)(uintptr_t)selector;
	return rpc_client_stream_send(s, &req.base, 5000);
}

static void test_bidi_stream(void **state)
{
	struct rpc_client_stream *s = NULL;
	ProtobufCMessage *msg = NULL;
	char word[16];
	int i;

	(void)state;
	assert_int_equal(rpc_client_stream_open(&s, client, "/test.Echo/Bidi", NULL, NULL), 0);
	for (i = 0; i < 20; i++) {
		snprintf(word, sizeof(word), "m%d", i);
		assert_int_equal(bidi_send(s, word), 0);
		assert_int_equal(rpc_client_stream_recv(s, RESP, &msg, 5000), 0);
		assert_string_equal(((Overseer__V1__ListNodesResponse *)msg)->next_page_token,
		                    word);
		protobuf_c_message_free_unpacked(msg, NULL);
	}
	/* Nothing pending: a short wait times out and the read stays usable. */
	assert_int_equal(rpc_client_stream_recv(s, RESP, &msg, 100), OVR_ERR_TIMEOUT);
	assert_int_equal(bidi_send(s, "bye"), 0);
	assert_int_equal(rpc_client_stream_recv(s, RESP, &msg, 5000), 1);
	rpc_client_stream_free(s);

	/* A handler error ends the stream with its status and message. */
	assert_int_equal(rpc_client_stream_open(&s, client, "/test.Echo/Bidi", NULL, NULL), 0);
	assert_int_equal(bidi_send(s, "bad"), 0);
	assert_int_equal(rpc_client_stream_recv(s, RESP, &msg, 5000), OVR_ERR_INVALID);
	assert_string_equal(ovr_err_msg(OVR_ERR_INVALID), "selector: bad");
	rpc_client_stream_free(s);
}

static void test_client_cancel_reaches_closed(void **state)
{
	struct rpc_client_stream *s = NULL;
	ProtobufCMessage *msg = NULL;

	(void)state;
	/* Earlier tests' streams finish closing first, so the counts below are this stream's. */
	wait_streams_closed();
	atomic_store(&stream_closed_calls, 0);
	atomic_store(&stream_closed_cancelled, 0);
	assert_int_equal(rpc_client_stream_open(&s, client, "/test.Echo/Bidi", NULL, NULL), 0);
	assert_int_equal(bidi_send(s, "x"), 0);
	assert_int_equal(rpc_client_stream_recv(s, RESP, &msg, 5000), 0);
	protobuf_c_message_free_unpacked(msg, NULL);
	rpc_client_stream_free(s); /* cancels */
	for (int i = 0; i < 300 && atomic_load(&stream_closed_calls) < 1; i++)
		usleep(10000);
	assert_int_equal(atomic_load(&stream_closed_calls), 1);
	assert_int_equal(atomic_load(&stream_closed_cancelled), 1);
	assert_int_equal(rpc_server_active_streams(srv), 0);
}

static void test_stop_ends_streams_with_unavailable(void **state)
{
	struct rpc_client_stream *s = NULL;
	ProtobufCMessage *msg = NULL;
	int64_t t0;

	(void)state;
	assert_int_equal(rpc_client_stream_open(&s, client, "/test.Echo/Bidi", NULL, NULL), 0);
	assert_int_equal(bidi_send(s, "x"), 0);
	assert_int_equal(rpc_client_stream_recv(s, RESP, &msg, 5000), 0);
	protobuf_c_message_free_unpacked(msg, NULL);
	t0 = ovr_mono_ms();
	rpc_server_stop(srv, 2000);
	srv = NULL;
	assert_true(ovr_mono_ms() - t0 < 3000);
	assert_int_equal(rpc_client_stream_recv(s, RESP, &msg, 5000), OVR_ERR_UNAVAILABLE);
	rpc_client_stream_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_unary_roundtrip),
	        cmocka_unit_test(test_handler_error_maps_to_status),
	        cmocka_unit_test(test_authenticate_hook),
	        cmocka_unit_test(test_unimplemented),
	        cmocka_unit_test(test_malformed_and_oversized),
	        cmocka_unit_test(test_deadline_reaches_handler),
	        cmocka_unit_test(test_server_stream),
	        cmocka_unit_test(test_bidi_stream),
	        cmocka_unit_test(test_client_cancel_reaches_closed),
	        /* last: it stops the server */
	        cmocka_unit_test(test_stop_ends_streams_with_unavailable),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
