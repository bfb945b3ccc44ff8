/* ovrctl's shared state: connection settings, output format, and the helpers commands use. */
#ifndef OVR_CTL_H
#define OVR_CTL_H

#include <protobuf-c/protobuf-c.h>
#include <stdint.h>

struct rpc_client;

enum ctl_output { CTL_OUTPUT_TABLE = 0, CTL_OUTPUT_JSON, CTL_OUTPUT_YAML };

/* Exit codes scripts can trust. */
#define CTL_EXIT_OK    0
#define CTL_EXIT_FAIL  1
#define CTL_EXIT_USAGE 2

struct ctl {
	char *server;
	char *ca_file;
	char *token;
	enum ctl_output output;
	int64_t timeout_ms;
	struct rpc_client *client;
};

/* One command: "node ls". argv holds the arguments after the verb. Returns an exit code. */
struct ctl_command {
	const char *noun;
	const char *verb;
	const char *args; /* usage of the arguments */
	const char *help;
	int (*run)(struct ctl *ctl, int argc, char **argv);
};

/*
 * Makes a unary call with the configured server, CA and token. On failure prints
 * "ovrctl: <message>" to stderr and returns CTL_EXIT_FAIL; *resp is freed by the caller with
 * protobuf_c_message_free_unpacked.
 */
int ctl_call(struct ctl *ctl, const char *path, const ProtobufCMessage *req,
             const ProtobufCMessageDescriptor *resp_desc, ProtobufCMessage **resp);

/* Prints msg in the proto3 JSON mapping (or YAML) as -o asks; for table output returns 1. */
int ctl_print_structured(struct ctl *ctl, const ProtobufCMessage *msg);

/* Prints "ovrctl: " and the message to stderr and returns CTL_EXIT_USAGE. */
int ctl_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Prints "ovrctl: " and the message to stderr and returns CTL_EXIT_FAIL. */
int ctl_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
