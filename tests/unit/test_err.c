/* Error codes: gRPC and HTTP mapping at the edges, and the per-thread message. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "err.h"

#define ERR_FIRST OVR_OK
#define ERR_LAST  OVR_ERR_CONFIG /* the newest code: move when the enum grows */

/*
 * The contract from ARCHITECTURE.md section 2 (status mapping as grpc-gateway does it) and the
 * meaning each enum comment gives the error.
 */
static const struct {
	int err;
	int grpc;
	int http;
} documented[] = {
        {OVR_OK, OVR_GRPC_OK, 200},
        {OVR_ERR_NOT_FOUND, OVR_GRPC_NOT_FOUND, 404},
        {OVR_ERR_INVALID, OVR_GRPC_INVALID_ARGUMENT, 400},
        {OVR_ERR_EXISTS, OVR_GRPC_ALREADY_EXISTS, 409},
        {OVR_ERR_UNAUTHENTICATED, OVR_GRPC_UNAUTHENTICATED, 401},
        {OVR_ERR_PERMISSION, OVR_GRPC_PERMISSION_DENIED, 403},
        {OVR_ERR_PRECONDITION, OVR_GRPC_FAILED_PRECONDITION, 400},
        {OVR_ERR_CONFLICT, OVR_GRPC_ABORTED, 409},
        {OVR_ERR_TOO_LARGE, OVR_GRPC_RESOURCE_EXHAUSTED, 429},
        {OVR_ERR_UNAVAILABLE, OVR_GRPC_UNAVAILABLE, 503},
        {OVR_ERR_TIMEOUT, OVR_GRPC_DEADLINE_EXCEEDED, 504},
        {OVR_ERR_CANCELLED, OVR_GRPC_CANCELLED, 499},
        {OVR_ERR_UNIMPLEMENTED, OVR_GRPC_UNIMPLEMENTED, 501},
        {OVR_ERR_INTERNAL, OVR_GRPC_INTERNAL, 500},
        {OVR_ERR_CONFIG, OVR_GRPC_INVALID_ARGUMENT, 400},
};

/* grpc-gateway's HTTPStatusFromCode, which section 2 says the REST layer follows. */
static const int gateway_http[] = {
        [OVR_GRPC_OK] = 200,
        [OVR_GRPC_CANCELLED] = 499,
        [OVR_GRPC_UNKNOWN] = 500,
        [OVR_GRPC_INVALID_ARGUMENT] = 400,
        [OVR_GRPC_DEADLINE_EXCEEDED] = 504,
        [OVR_GRPC_NOT_FOUND] = 404,
        [OVR_GRPC_ALREADY_EXISTS] = 409,
        [OVR_GRPC_PERMISSION_DENIED] = 403,
        [OVR_GRPC_RESOURCE_EXHAUSTED] = 429,
        [OVR_GRPC_FAILED_PRECONDITION] = 400,
        [OVR_GRPC_ABORTED] = 409,
        [OVR_GRPC_OUT_OF_RANGE] = 400,
        [OVR_GRPC_UNIMPLEMENTED] = 501,
        [OVR_GRPC_INTERNAL] = 500,
        [OVR_GRPC_UNAVAILABLE] = 503,
        [OVR_GRPC_DATA_LOSS] = 500,
        [OVR_GRPC_UNAUTHENTICATED] = 401,
};

static int clear_msg(void **state)
{
	(void)state;
	ovr_err_clear();
	return 0;
}

static void test_documented_mapping(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(documented) / sizeof(documented[0]); i++) {
		int err = documented[i].err;

		print_message("err %d (%s)\n", err, ovr_strerror(err));
		assert_int_equal(ovr_err_to_grpc(err), documented[i].grpc);
		assert_int_equal(ovr_err_to_http(err), documented[i].http);
	}
}

static void test_grpc_to_http_matches_gateway(void **state)
{
	int code;

	(void)state;
	for (code = OVR_GRPC_OK; code <= OVR_GRPC_UNAUTHENTICATED; code++) {
		print_message("grpc %s\n", ovr_grpc_code_name(code));
		assert_int_equal(ovr_grpc_to_http(code), gateway_http[code]);
	}
	/* A code from a newer peer is still an error, never a success. */
	assert_int_equal(ovr_grpc_to_http(17), 500);
	assert_int_equal(ovr_grpc_to_http(-1), 500);
}

/* Every code of the enum has its own row: a missing row would fall back to "internal error". */
static void test_every_code_has_a_row(void **state)
{
	int a, b;

	(void)state;
	for (a = ERR_LAST; a <= ERR_FIRST; a++) {
		int grpc = ovr_err_to_grpc(a);

		assert_non_null(ovr_strerror(a));
		assert_true(strlen(ovr_strerror(a)) > 0);
		assert_in_range(grpc, OVR_GRPC_OK, OVR_GRPC_UNAUTHENTICATED);
		assert_int_equal(ovr_err_to_http(a), gateway_http[grpc]);
		/* Only success maps to OK / 200. */
		if (a != OVR_OK) {
			assert_int_not_equal(grpc, OVR_GRPC_OK);
			assert_true(ovr_err_to_http(a) >= 400);
		}
		for (b = ERR_LAST; b < a; b++)
			assert_string_not_equal(ovr_strerror(a), ovr_strerror(b));
	}
}

static void test_unknown_code(void **state)
{
	(void)state;
	assert_non_null(ovr_strerror(-1000));
	assert_non_null(ovr_strerror(42));
	assert_int_equal(ovr_err_to_grpc(-1000), OVR_GRPC_INTERNAL);
	assert_int_equal(ovr_err_to_http(-1000), 500);
	assert_int_equal(ovr_err_from_grpc(99), OVR_ERR_INTERNAL);
	assert_string_equal(ovr_grpc_code_name(99), "UNKNOWN");
	assert_string_equal(ovr_grpc_code_name(-1), "UNKNOWN");
}

static void test_code_names(void **state)
{
	(void)state;
	assert_string_equal(ovr_grpc_code_name(OVR_GRPC_OK), "OK");
	assert_string_equal(ovr_grpc_code_name(OVR_GRPC_INVALID_ARGUMENT), "INVALID_ARGUMENT");
	assert_string_equal(ovr_grpc_code_name(OVR_GRPC_NOT_FOUND), "NOT_FOUND");
	assert_string_equal(ovr_grpc_code_name(OVR_GRPC_FAILED_PRECONDITION),
	                    "FAILED_PRECONDITION");
	assert_string_equal(ovr_grpc_code_name(OVR_GRPC_UNAVAILABLE), "UNAVAILABLE");
	assert_string_equal(ovr_grpc_code_name(OVR_GRPC_UNAUTHENTICATED), "UNAUTHENTICATED");
}

/*
 * A status received from a peer and relayed on (agent -> server -> REST client) keeps its gRPC
 * code wherever the enum can express it, and always keeps its HTTP status.
 */
static void test_from_grpc_round_trip(void **state)
{
	int code;

	(void)state;
	for (code = OVR_GRPC_OK; code <= OVR_GRPC_UNAUTHENTICATED; code++) {
		int err = ovr_err_from_grpc(code);

		print_message("grpc %s -> %d\n", ovr_grpc_code_name(code), err);
		assert_true(err <= 0);
		assert_int_equal(ovr_grpc_to_http(ovr_err_to_grpc(err)), ovr_grpc_to_http(code));
		if (code != OVR_GRPC_UNKNOWN && code != OVR_GRPC_OUT_OF_RANGE &&
		    code != OVR_GRPC_DATA_LOSS)
			assert_int_equal(ovr_err_to_grpc(err), code);
	}
}

static void test_to_grpc_round_trip(void **state)
{
	int err;

	(void)state;
	for (err = ERR_LAST; err <= ERR_FIRST; err++) {
		int grpc = ovr_err_to_grpc(err);

		assert_int_equal(ovr_err_to_grpc(ovr_err_from_grpc(grpc)), grpc);
	}
	/* Codes that own their gRPC status come back as themselves. */
	assert_int_equal(ovr_err_from_grpc(ovr_err_to_grpc(OVR_ERR_NOT_FOUND)), OVR_ERR_NOT_FOUND);
	assert_int_equal(ovr_err_from_grpc(ovr_err_to_grpc(OVR_ERR_EXISTS)), OVR_ERR_EXISTS);
	assert_int_equal(ovr_err_from_grpc(ovr_err_to_grpc(OVR_ERR_UNAUTHENTICATED)),
	                 OVR_ERR_UNAUTHENTICATED);
	assert_int_equal(ovr_err_from_grpc(ovr_err_to_grpc(OVR_ERR_PERMISSION)),
	                 OVR_ERR_PERMISSION);
	assert_int_equal(ovr_err_from_grpc(ovr_err_to_grpc(OVR_ERR_PRECONDITION)),
	                 OVR_ERR_PRECONDITION);
	assert_int_equal(ovr_err_from_grpc(ovr_err_to_grpc(OVR_ERR_CONFLICT)), OVR_ERR_CONFLICT);
	assert_int_equal(ovr_err_from_grpc(ovr_err_to_grpc(OVR_ERR_TIMEOUT)), OVR_ERR_TIMEOUT);
	assert_int_equal(ovr_err_from_grpc(ovr_err_to_grpc(OVR_ERR_CANCELLED)), OVR_ERR_CANCELLED);
	assert_int_equal(ovr_err_from_grpc(ovr_err_to_grpc(OVR_ERR_UNIMPLEMENTED)),
	                 OVR_ERR_UNIMPLEMENTED);
	assert_int_equal(ovr_err_from_grpc(ovr_err_to_grpc(OVR_ERR_UNAVAILABLE)),
	                 OVR_ERR_UNAVAILABLE);
	assert_int_equal(ovr_err_from_grpc(ovr_err_to_grpc(OVR_ERR_INVALID)), OVR_ERR_INVALID);
	assert_int_equal(ovr_err_from_grpc(OVR_GRPC_OK), OVR_OK);
}

static void test_set_returns_code_and_formats(void **state)
{
	(void)state;
	assert_int_equal(ovr_err_set(OVR_ERR_NOT_FOUND, "app '%s' (%d) not found", "web", 7),
	                 OVR_ERR_NOT_FOUND);
	assert_string_equal(ovr_err_msg(OVR_ERR_NOT_FOUND), "app 'web' (7) not found");
	assert_int_equal(ovr_err_last(), OVR_ERR_NOT_FOUND);
	/* The message is the one set, whatever code the caller asks about. */
	assert_string_equal(ovr_err_msg(OVR_ERR_INTERNAL), "app 'web' (7) not found");

	assert_int_equal(ovr_err_set(OVR_ERR_CONFLICT, "second"), OVR_ERR_CONFLICT);
	assert_string_equal(ovr_err_msg(OVR_ERR_CONFLICT), "second");
	assert_int_equal(ovr_err_last(), OVR_ERR_CONFLICT);
}

static void test_msg_without_set(void **state)
{
	(void)state;
	ovr_err_clear();
	assert_int_equal(ovr_err_last(), OVR_ERR_INTERNAL);
	assert_string_equal(ovr_err_msg(OVR_ERR_NOT_FOUND), ovr_strerror(OVR_ERR_NOT_FOUND));
	assert_string_equal(ovr_err_msg(OVR_ERR_TIMEOUT), ovr_strerror(OVR_ERR_TIMEOUT));

	ovr_err_set(OVR_ERR_PERMISSION, "role viewer cannot deploy");
	ovr_err_clear();
	assert_int_equal(ovr_err_last(), OVR_ERR_INTERNAL);
	assert_string_equal(ovr_err_msg(OVR_ERR_PERMISSION), ovr_strerror(OVR_ERR_PERMISSION));
}

static void test_truncation(void **state)
{
	char big[3000];
	const char *msg;
	size_t len;

	(void)state;
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(ovr_err_set(OVR_ERR_TOO_LARGE, "head:%s:tail", big), OVR_ERR_TOO_LARGE);
	msg = ovr_err_msg(OVR_ERR_TOO_LARGE);
	len = strlen(msg);
	/* Truncated at 1 KiB (the terminator included or not), never lost altogether. */
	assert_in_range(len, 1023, 1024);
	assert_memory_equal(msg, "head:xxxx", 9);
	assert_null(strstr(msg, "tail"));
	assert_int_equal(ovr_err_last(), OVR_ERR_TOO_LARGE);
}

/*
 * Adding context to the message set below ("CA file: <reason>") is done by passing the current
 * message as an argument (ctl/ctl.c, server/svc_agent.c). The result must read as written.
 */
static void test_set_wraps_previous_message(void **state)
{
	char expect[256];

	(void)state;
	ovr_err_set(OVR_ERR_INVALID, "bad PEM at line %d", 3);
	snprintf(expect, sizeof(expect), "csr_pem: %s", "bad PEM at line 3");
	ovr_err_set(OVR_ERR_INVALID, "csr_pem: %s", ovr_err_msg(OVR_ERR_INVALID));
	assert_string_equal(ovr_err_msg(OVR_ERR_INVALID), expect);
}

struct thread_arg {
	pthread_barrier_t *barrier;
	int code;
	const char *text;
	char seen[64];
	int seen_code;
};

static void *set_in_thread(void *p)
{
	struct thread_arg *t = p;

	ovr_err_set(t->code, "%s", t->text);
	/* Both threads have set their message before either reads its own back. */
	pthread_barrier_wait(t->barrier);
	snprintf(t->seen, sizeof(t->seen), "%s", ovr_err_msg(t->code));
	t->seen_code = ovr_err_last();
	pthread_barrier_wait(t->barrier);
	return NULL;
}

static void test_message_per_thread(void **state)
{
	pthread_barrier_t barrier;
	struct thread_arg a = {&barrier, OVR_ERR_NOT_FOUND, "node alpha not found", "", 0};
	struct thread_arg b = {&barrier, OVR_ERR_EXISTS, "app beta exists", "", 0};
	pthread_t ta, tb;

	(void)state;
	ovr_err_set(OVR_ERR_CONFIG, "main thread message");
	assert_int_equal(pthread_barrier_init(&barrier, NULL, 2), 0);
	assert_int_equal(pthread_create(&ta, NULL, set_in_thread, &a), 0);
	assert_int_equal(pthread_create(&tb, NULL, set_in_thread, &b), 0);
	pthread_join(ta, NULL);
	pthread_join(tb, NULL);
	pthread_barrier_destroy(&barrier);

	assert_string_equal(a.seen, "node alpha not found");
	assert_int_equal(a.seen_code, OVR_ERR_NOT_FOUND);
	assert_string_equal(b.seen, "app beta exists");
	assert_int_equal(b.seen_code, OVR_ERR_EXISTS);
	assert_string_equal(ovr_err_msg(OVR_ERR_CONFIG), "main thread message");
	assert_int_equal(ovr_err_last(), OVR_ERR_CONFIG);
}

static void *read_fresh_thread(void *p)
{
	struct thread_arg *t = p;

	snprintf(t->seen, sizeof(t->seen), "%s", ovr_err_msg(OVR_ERR_NOT_FOUND));
	t->seen_code = ovr_err_last();
	return NULL;
}

static void test_new_thread_starts_clean(void **state)
{
	struct thread_arg t = {NULL, 0, NULL, "", 0};
	pthread_t th;

	(void)state;
	ovr_err_set(OVR_ERR_DB, "connection refused");
	assert_int_equal(pthread_create(&th, NULL, read_fresh_thread, &t), 0);
	pthread_join(th, NULL);
	assert_string_equal(t.seen, ovr_strerror(OVR_ERR_NOT_FOUND));
	assert_int_equal(t.seen_code, OVR_ERR_INTERNAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_documented_mapping),
	        cmocka_unit_test(test_grpc_to_http_matches_gateway),
	        cmocka_unit_test(test_every_code_has_a_row),
	        cmocka_unit_test(test_unknown_code),
	        cmocka_unit_test(test_code_names),
	        cmocka_unit_test(test_from_grpc_round_trip),
	        cmocka_unit_test(test_to_grpc_round_trip),
	        cmocka_unit_test_setup(test_set_returns_code_and_formats, clear_msg),
	        cmocka_unit_test_setup(test_msg_without_set, clear_msg),
	        cmocka_unit_test_setup(test_truncation, clear_msg),
	        cmocka_unit_test_setup(test_set_wraps_previous_message, clear_msg),
	        cmocka_unit_test_setup(test_message_per_thread, clear_msg),
	        cmocka_unit_test_setup(test_new_thread_starts_clean, clear_msg),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
