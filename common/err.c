/* Error codes, their names, the thread-local message, and the mappings to gRPC and HTTP. */
#include "err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static _Thread_local char err_msg[1024];
static _Thread_local int err_code;

struct err_row {
	int err;
	const char *text;
	int grpc;
};

/* One table: the description of each error and the gRPC status it becomes at the edge. */
static const struct err_row err_table[] = {
        {OVR_OK, "ok", OVR_GRPC_OK},
        {OVR_ERR_INTERNAL, "internal error", OVR_GRPC_INTERNAL},
        {OVR_ERR_NOMEM, "out of memory", OVR_GRPC_RESOURCE_EXHAUSTED},
        {OVR_ERR_INVALID, "invalid argument", OVR_GRPC_INVALID_ARGUMENT},
        {OVR_ERR_NOT_FOUND, "not found", OVR_GRPC_NOT_FOUND},
        {OVR_ERR_EXISTS, "already exists", OVR_GRPC_ALREADY_EXISTS},
        {OVR_ERR_UNAUTHENTICATED, "unauthenticated", OVR_GRPC_UNAUTHENTICATED},
        {OVR_ERR_PERMISSION, "permission denied", OVR_GRPC_PERMISSION_DENIED},
        {OVR_ERR_PRECONDITION, "failed precondition", OVR_GRPC_FAILED_PRECONDITION},
        {OVR_ERR_CONFLICT, "conflict", OVR_GRPC_ABORTED},
        {OVR_ERR_TOO_LARGE, "too large", OVR_GRPC_RESOURCE_EXHAUSTED},
        {OVR_ERR_UNAVAILABLE, "unavailable", OVR_GRPC_UNAVAILABLE},
        {OVR_ERR_TIMEOUT, "deadline exceeded", OVR_GRPC_DEADLINE_EXCEEDED},
        {OVR_ERR_CANCELLED, "cancelled", OVR_GRPC_CANCELLED},
        {OVR_ERR_UNIMPLEMENTED, "not implemented", OVR_GRPC_UNIMPLEMENTED},
        {OVR_ERR_IO, "i/o error", OVR_GRPC_INTERNAL},
        {OVR_ERR_DB, "database error", OVR_GRPC_UNAVAILABLE},
        {OVR_ERR_CRYPTO, "cryptography error", OVR_GRPC_INTERNAL},
        {OVR_ERR_CONFIG, "configuration error", OVR_GRPC_INVALID_ARGUMENT},
};

static const struct err_row *err_row_find(int err)
{
	size_t i;

	for (i = 0; i < sizeof(err_table) / sizeof(err_table[0]); i++)
		if (err_table[i].err == err)
			return &err_table[i];
	return &err_table[1];
}

const char *ovr_strerror(int err)
{
	return err_row_find(err)->text;
}

int ovr_err_set(int err, const char *fmt, ...)
{
	char buf[sizeof(err_msg)];
	va_list ap;

	/* Formatted apart first: callers add context with ovr_err_msg() as an argument. */
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	memcpy(err_msg, buf, sizeof(err_msg));
	err_code = err;
	return err;
}

const char *ovr_err_msg(int err)
{
	if (err_msg[0] != '\0')
		return err_msg;
	return ovr_strerror(err);
}

int ovr_err_last(void)
{
	return err_code ? err_code : OVR_ERR_INTERNAL;
}

void ovr_err_clear(void)
{
	err_msg[0] = '\0';
	err_code = 0;
}

int ovr_err_to_grpc(int err)
{
	return err_row_find(err)->grpc;
}

int ovr_err_from_grpc(int code)
{
	switch (code) {
	case OVR_GRPC_OK:
		return OVR_OK;
	case OVR_GRPC_CANCELLED:
		return OVR_ERR_CANCELLED;
	case OVR_GRPC_INVALID_ARGUMENT:
	case OVR_GRPC_OUT_OF_RANGE:
		return OVR_ERR_INVALID;
	case OVR_GRPC_DEADLINE_EXCEEDED:
		return OVR_ERR_TIMEOUT;
	case OVR_GRPC_NOT_FOUND:
		return OVR_ERR_NOT_FOUND;
	case OVR_GRPC_ALREADY_EXISTS:
		return OVR_ERR_EXISTS;
	case OVR_GRPC_PERMISSION_DENIED:
		return OVR_ERR_PERMISSION;
	case OVR_GRPC_RESOURCE_EXHAUSTED:
		return OVR_ERR_TOO_LARGE;
	case OVR_GRPC_FAILED_PRECONDITION:
		return OVR_ERR_PRECONDITION;
	case OVR_GRPC_ABORTED:
		return OVR_ERR_CONFLICT;
	case OVR_GRPC_UNIMPLEMENTED:
		return OVR_ERR_UNIMPLEMENTED;
	case OVR_GRPC_UNAVAILABLE:
		return OVR_ERR_UNAVAILABLE;
	case OVR_GRPC_UNAUTHENTICATED:
		return OVR_ERR_UNAUTHENTICATED;
	default:
		return OVR_ERR_INTERNAL;
	}
}

/* As grpc-gateway maps them (ARCHITECTURE.md section 2). */
int ovr_grpc_to_http(int code)
{
	switch (code) {
	case OVR_GRPC_OK:
		return 200;
	case OVR_GRPC_CANCELLED:
		return 499;
	case OVR_GRPC_INVALID_ARGUMENT:
	case OVR_GRPC_FAILED_PRECONDITION:
	case OVR_GRPC_OUT_OF_RANGE:
		return 400;
	case OVR_GRPC_DEADLINE_EXCEEDED:
		return 504;
	case OVR_GRPC_NOT_FOUND:
		return 404;
	case OVR_GRPC_ALREADY_EXISTS:
	case OVR_GRPC_ABORTED:
		return 409;
	case OVR_GRPC_PERMISSION_DENIED:
		return 403;
	case OVR_GRPC_UNAUTHENTICATED:
		return 401;
	case OVR_GRPC_RESOURCE_EXHAUSTED:
		return 429;
	case OVR_GRPC_UNIMPLEMENTED:
		return 501;
	case OVR_GRPC_UNAVAILABLE:
		return 503;
	default:
		return 500;
	}
}

int ovr_err_to_http(int err)
{
	return ovr_grpc_to_http(ovr_err_to_grpc(err));
}

const char *ovr_grpc_code_name(int code)
{
	static const char *const names[] = {"OK",
	                                    "CANCELLED",
	                                    "UNKNOWN",
	                                    "INVALID_ARGUMENT",
	                                    "DEADLINE_EXCEEDED",
	                                    "NOT_FOUND",
	                                    "ALREADY_EXISTS",
	                                    "PERMISSION_DENIED",
	                                    "RESOURCE_EXHAUSTED",
	                                    "FAILED_PRECONDITION",
	                                    "ABORTED",
	                                    "OUT_OF_RANGE",
	                                    "UNIMPLEMENTED",
	                                    "INTERNAL",
	                                    "UNAVAILABLE",
	                                    "DATA_LOSS",
	                                    "UNAUTHENTICATED"};

	if (code < 0 || code > OVR_GRPC_UNAUTHENTICATED)
		return "UNKNOWN";
	return names[code];
}
