/* ovrctl's shared state: connection settings, output format, and the helpers commands use. */
#ifndef OVR_CTL_H
#define OVR_CTL_H

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct rpc_client;
struct ctl_command;

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
	const struct ctl_command *cmd; /* the command running, for its usage line */
};

/* The command reads --timeout itself (how long --wait waits), not as the call deadline. */
#define CTL_CMD_OWN_TIMEOUT 0x1u

/* One command: "node ls". argv holds the arguments after the verb. Returns an exit code. */
struct ctl_command {
	const char *noun;
	const char *verb;
	const char *args; /* usage of the arguments */
	const char *help;
	int (*run)(struct ctl *ctl, int argc, char **argv);
	unsigned flags; /* CTL_CMD_* */
};

/*
 * Connects ctl->client (once) with the configured server and CA: 0, or a negative enum ovr_err
 * with the message set. Calls connect by themselves; streams call this first.
 */
int ctl_connect(struct ctl *ctl);

/*
 * Makes a unary call with the configured server, CA and token. On failure prints
 * "ovrctl: <message>" to stderr and returns CTL_EXIT_FAIL; *resp is freed by the caller with
 * protobuf_c_message_free_unpacked.
 */
int ctl_call(struct ctl *ctl, const char *path, const ProtobufCMessage *req,
             const ProtobufCMessageDescriptor *resp_desc, ProtobufCMessage **resp);

/*
 * As ctl_call, but prints nothing: returns 0 or the negative enum ovr_err with the message set
 * (ovr_err_msg), for callers that decide themselves (polling, retries).
 */
int ctl_call_err(struct ctl *ctl, const char *path, const ProtobufCMessage *req,
                 const ProtobufCMessageDescriptor *resp_desc, ProtobufCMessage **resp);

/*
 * ctl_call for a mutating call that carries a request_id: a call that failed with UNAVAILABLE,
 * CANCELLED (a server stopping) or a deadline (it may or may not have reached the server) is sent
 * again, the same request, up to twice, after 1 s and 2 s. The server answers a repeated request_id
 * with the first result.
 */
int ctl_call_mutating(struct ctl *ctl, const char *path, const ProtobufCMessage *req,
                      const ProtobufCMessageDescriptor *resp_desc, ProtobufCMessage **resp);
/* As ctl_call_mutating, but returns the enum ovr_err of the last attempt without printing it. */
int ctl_call_mutating_err(struct ctl *ctl, const char *path, const ProtobufCMessage *req,
                          const ProtobufCMessageDescriptor *resp_desc, ProtobufCMessage **resp);

/* "ovrctl-" and 32 random hex digits into buf (CTL_REQUEST_ID_SIZE): a fresh request_id. */
#define CTL_REQUEST_ID_SIZE 40
int ctl_request_id(char *buf, size_t size);

/* Most a compose file (or env file) may weigh. */
#define CTL_FILE_MAX (1024 * 1024)

/*
 * Reads the compose file at path ("-": standard input) into *out (NUL-terminated, caller
 * frees). Refuses missing, empty and binary (NUL byte) files and files over CTL_FILE_MAX with a
 * message naming the file. 0 or a negative enum ovr_err with the message set.
 */
int ctl_read_compose(char **out, const char *path);

/*
 * The lowercase short name of an enum value: APP_STATUS_HEALTHY -> "healthy", using the prefix
 * of the enum's UNSPECIFIED value. "-" for 0, the number for unknown values. Into buf.
 */
const char *ctl_enum_name(char *buf, size_t size, const ProtobufCEnumDescriptor *desc, int value);

/*
 * Copies text into buf for a terminal or table cell: control characters (escape sequences a
 * peer might send) become '?', newlines a space; truncated to size-1 bytes. Returns buf.
 */
char *ctl_clean(char *buf, size_t size, const char *text);

/* 1 if fp is a terminal (and TERM is not "dumb"). */
int ctl_is_terminal(FILE *fp);

/* Prints msg in the proto3 JSON mapping (or YAML) as -o asks; for table output returns 1. */
int ctl_print_structured(struct ctl *ctl, const ProtobufCMessage *msg);

/* Prints "ovrctl: " and the message to stderr and returns CTL_EXIT_USAGE. */
int ctl_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/*
 * Prints "ovrctl: " and the message, then "usage: ovrctl NOUN VERB ARGS" of the running command,
 * to stderr and returns CTL_EXIT_USAGE.
 */
int ctl_usage(const struct ctl *ctl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prints only the running command's usage line to stderr; returns CTL_EXIT_USAGE. */
int ctl_usage_line(const struct ctl *ctl);
/* Prints "ovrctl: " and the message to stderr and returns CTL_EXIT_FAIL. */
int ctl_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
