/* Error codes shared by every module, and the thread-local message that goes with the last one. */
#ifndef OVR_ERR_H
#define OVR_ERR_H

/*
 * Functions return 0 or a negative enum ovr_err. The human-readable message is set once, where
 * the failure happens (ovr_err_set), and passed up unchanged. Append only: values are stable.
 */
enum ovr_err {
	OVR_OK = 0,
	OVR_ERR_INTERNAL = -1, /* a bug or an unexpected library failure */
	OVR_ERR_NOMEM = -2,
	OVR_ERR_INVALID = -3, /* the caller's input is wrong */
	OVR_ERR_NOT_FOUND = -4,
	OVR_ERR_EXISTS = -5,
	OVR_ERR_UNAUTHENTICATED = -6, /* no or bad credentials */
	OVR_ERR_PERMISSION = -7,      /* credentials fine, action not allowed */
	OVR_ERR_PRECONDITION = -8,    /* the system is not in a state that allows the action */
	OVR_ERR_CONFLICT = -9,        /* concurrent change; retry may succeed */
	OVR_ERR_TOO_LARGE = -10,      /* a size or count limit was exceeded */
	OVR_ERR_UNAVAILABLE = -11,    /* peer or dependency unreachable; retry later */
	OVR_ERR_TIMEOUT = -12,
	OVR_ERR_CANCELLED = -13,
	OVR_ERR_UNIMPLEMENTED = -14,
	OVR_ERR_IO = -15, /* local file or socket failure */
	OVR_ERR_DB = -16, /* database failure */
	OVR_ERR_CRYPTO = -17,
	OVR_ERR_CONFIG = -18, /* configuration file or flag is wrong */
};

/* gRPC status codes (a wire standard, so defined here without gRPC headers). */
enum ovr_grpc_code {
	OVR_GRPC_OK = 0,
	OVR_GRPC_CANCELLED = 1,
	OVR_GRPC_UNKNOWN = 2,
	OVR_GRPC_INVALID_ARGUMENT = 3,
	OVR_GRPC_DEADLINE_EXCEEDED = 4,
	OVR_GRPC_NOT_FOUND = 5,
	OVR_GRPC_ALREADY_EXISTS = 6,
	OVR_GRPC_PERMISSION_DENIED = 7,
	OVR_GRPC_RESOURCE_EXHAUSTED = 8,
	OVR_GRPC_FAILED_PRECONDITION = 9,
	OVR_GRPC_ABORTED = 10,
	OVR_GRPC_OUT_OF_RANGE = 11,
	OVR_GRPC_UNIMPLEMENTED = 12,
	OVR_GRPC_INTERNAL = 13,
	OVR_GRPC_UNAVAILABLE = 14,
	OVR_GRPC_DATA_LOSS = 15,
	OVR_GRPC_UNAUTHENTICATED = 16,
};

/* Short fixed description of an error code ("not found"). Never NULL. */
const char *ovr_strerror(int err);

/*
 * Records the message for the current thread and returns err, so a failure reads
 * `return ovr_err_set(OVR_ERR_INVALID, "name: must match %s", re);`. Messages are truncated at
 * 1 KiB. Never pass secret values.
 */
int ovr_err_set(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The current thread's last message, or the code's ovr_strerror() if none was set. */
const char *ovr_err_msg(int err);

/* The code passed to the current thread's last ovr_err_set (OVR_ERR_INTERNAL if none). */
int ovr_err_last(void);

/* Forgets the current thread's message. */
void ovr_err_clear(void);

/* The edges: map an error to a gRPC status code or HTTP status, and a gRPC code back. */
int ovr_err_to_grpc(int err);
int ovr_err_from_grpc(int code);
int ovr_err_to_http(int err);
int ovr_grpc_to_http(int code);
const char *ovr_grpc_code_name(int code);

#endif
