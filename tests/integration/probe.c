/*
 * ovr-probe: a test-only client that sends what well-behaved clients never do (garbage bytes,
 * oversized messages, a hello claiming another node, Connect without a certificate, any method
 * with an empty request) and prints the status the server answered with, as
 * "STATUS <CODE> <message>".
 */
#include "err.h"
#include "fsutil.h"
#include "overseer/v1/agent.pb-c.h"
#include "overseer/v1/nodes.pb-c.h"
#include "pki.h"
#include "rpc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *read_or_die(const char *path)
{
	char *s = NULL;

	if (fs_read_file(&s, NULL, path, 1024 * 1024) != 0) {
		fprintf(stderr, "ovr-probe: %s\n", ovr_err_msg(OVR_ERR_IO));
		exit(2);
	}
	return s;
}

static int report(int err)
{
	printf("STATUS %s %s\n", ovr_grpc_code_name(err ? ovr_err_to_grpc(err) : 0),
	       err ? ovr_err_msg(err) : "");
	return 0;
}

static struct rpc_client *client(const char *server, const char *ca_file, const char *state_dir)
{
	struct rpc_client_opts o;
	struct rpc_client *c = NULL;
	char path[4096];

	memset(&o, 0, sizeof(o));
	o.target = server;
	o.ca_pem = read_or_die(ca_file);
	o.max_send_message = 64 * 1024 * 1024;
	if (state_dir) {
		snprintf(path, sizeof(path), "%s/node.crt", state_dir);
		o.cert_pem = read_or_die(path);
		snprintf(path, sizeof(path), "%s/node.key", state_dir);
		o.key_pem = read_or_die(path);
	}
	if (rpc_client_new(&c, &o) != 0) {
		fprintf(stderr, "ovr-probe: %s\n", ovr_err_msg(OVR_ERR_CONFIG));
		exit(2);
	}
	/* gRPC keeps its own copies of the credentials. */
	free((char *)(uintptr_t)o.ca_pem);
	free((char *)(uintptr_t)o.cert_pem);
	free((char *)(uintptr_t)o.key_pem);
	return c;
}

/* Opens Connect, sends a hello naming node_id, and reports what comes back. */
static int hello_as(struct rpc_client *c, const char *node_id)
{
	Overseer__V1__AgentMessage msg = OVERSEER__V1__AGENT_MESSAGE__INIT;
	Overseer__V1__Hello hello = OVERSEER__V1__HELLO__INIT;
	struct rpc_client_stream *s = NULL;
	ProtobufCMessage *reply = NULL;
	int err;

	err = rpc_client_stream_open(&s, c, "/overseer.v1.AgentService/Connect", NULL, NULL);
	if (!err) {
		hello.node_id = (char *)(uintptr_t)node_id;
		msg.msg_case = OVERSEER__V1__AGENT_MESSAGE__MSG_HELLO;
		msg.hello = &hello;
		err = rpc_client_stream_send(s, &msg.base, 10000);
	}
	if (!err)
		err = rpc_client_stream_recv(s, &overseer__v1__server_message__descriptor, &reply,
		                             10000);
	if (err == 1)
		err = 0;
	if (reply) {
		printf("REPLY %s\n", reply->descriptor->short_name);
		protobuf_c_message_free_unpacked(reply, NULL);
		/* A welcome: the stream is accepted; report what a second hello gets. */
		err = rpc_client_stream_send(s, &msg.base, 10000);
		while (!err) {
			err = rpc_client_stream_recv(s, &overseer__v1__server_message__descriptor,
			                             &reply, 10000);
			if (!err)
				protobuf_c_message_free_unpacked(reply, NULL);
		}
		if (err == 1)
			err = 0;
	}
	rpc_client_stream_free(s);
	return report(err);
}

int main(int argc, char **argv)
{
	struct rpc_client *c;
	int rc = 0;

	if (argc >= 6 && strcmp(argv[1], "raw") == 0) {
		/* raw SERVER CA METHOD NBYTES TOKEN: garbage that is not a protobuf message */
		size_t n;
		unsigned char *buf;

		n = strtoul(argv[5], NULL, 10);
		buf = malloc(n ? n : 1);
		memset(buf, 0xff, n);
		c = client(argv[2], argv[3], NULL);
		report(rpc_client_unary_raw(c, argv[4], argc > 6 ? argv[6] : NULL, buf, n, 10000));
		free(buf);
	} else if (argc == 6 && strcmp(argv[1], "big") == 0) {
		/* big SERVER CA TOKEN NBYTES: a valid ListNodesRequest of NBYTES */
		Overseer__V1__ListNodesRequest req = OVERSEER__V1__LIST_NODES_REQUEST__INIT;
		Overseer__V1__ListNodesResponse *resp = NULL;
		size_t n = strtoul(argv[5], NULL, 10);

		req.selector = malloc(n + 1);
		memset(req.selector, 'a', n);
		req.selector[n] = '\0';
		c = client(argv[2], argv[3], NULL);
		report(rpc_client_unary(c, "/overseer.v1.Nodes/ListNodes", argv[4], &req.base,
		                        &overseer__v1__list_nodes_response__descriptor,
		                        (ProtobufCMessage **)&resp, 10000));
		if (resp)
			protobuf_c_message_free_unpacked(&resp->base, NULL);
		free(req.selector);
	} else if (argc >= 6 && strcmp(argv[1], "empty") == 0) {
		/*
		 * empty SERVER CA TOKEN METHOD...: each method with an empty request message (every
		 * field at its default), one "METHOD STATUS <CODE> <message>" line each. TOKEN "-":
		 * none. For walking the method table under each role.
		 */
		const char *bearer = strcmp(argv[4], "-") != 0 ? argv[4] : NULL;
		int i;

		c = client(argv[2], argv[3], NULL);
		for (i = 5; i < argc; i++) {
			int err = rpc_client_unary_raw(c, argv[i], bearer, "", 0, 10000);

			printf("%s ", argv[i]);
			report(err);
		}
	} else if (argc == 5 && strcmp(argv[1], "hello-as") == 0) {
		/* hello-as SERVER STATE_DIR NODE_ID: the node's own cert, someone's id */
		char ca[4096];

		snprintf(ca, sizeof(ca), "%s/ca.crt", argv[3]);
		c = client(argv[2], ca, argv[3]);
		hello_as(c, argv[4]);
	} else if (argc == 5 && strcmp(argv[1], "connect-nocert") == 0) {
		/* connect-nocert SERVER CA NODE_ID */
		c = client(argv[2], argv[3], NULL);
		hello_as(c, argv[4]);
	} else {
		fprintf(stderr, "usage: ovr-probe raw SERVER CA METHOD NBYTES [TOKEN]\n"
		                "       ovr-probe big SERVER CA TOKEN NBYTES\n"
		                "       ovr-probe empty SERVER CA TOKEN|- METHOD...\n"
		                "       ovr-probe hello-as SERVER STATE_DIR NODE_ID\n"
		                "       ovr-probe connect-nocert SERVER CA NODE_ID\n");
		return 2;
	}
	rpc_client_free(c);
	return rc;
}
