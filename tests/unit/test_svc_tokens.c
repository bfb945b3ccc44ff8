/* Operator API tokens: lifetime bounds and expiry, and the role names the services share. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "auth.h"
#include "db_token.h"
#include "err.h"
#include "overseer/v1/tokens.pb-c.h"
#include "strutil.h"
#include "svc_tokens.h"

#define NOW ((int64_t)1795439346141)

static void test_no_ttl_never_expires(void **state)
{
	int64_t exp = -1;

	(void)state;
	assert_int_equal(svc_tokens_expiry(&exp, NOW, 0), 0);
	assert_int_equal(exp, 0);
}

/* What an operator types with --ttl, at the bounds the docs give (1m, 10 years = 3650d). */
static void test_ttl_bounds_as_typed(void **state)
{
	static const struct {
		const char *text;
		int ok;
	} cases[] = {
	        {"59s", 0},   {"1m", 1},       {"30d", 1}, {"3650d", 1},
	        {"3651d", 0}, {"3649d23h", 1}, {"1ms", 0}, {"3650d1s", 0},
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int64_t ttl = 0, exp = -1;
		int err;

		assert_int_equal(ovr_parse_duration(&ttl, cases[i].text), 0);
		err = svc_tokens_expiry(&exp, NOW, ttl);
		if (cases[i].ok) {
			assert_int_equal(err, 0);
			assert_int_equal(exp, NOW + ttl);
		} else {
			assert_int_equal(err, OVR_ERR_INVALID);
			assert_int_equal(exp, -1);
			assert_non_null(strstr(ovr_err_msg(err), "ttl: "));
		}
	}
}

static void test_negative_ttl_is_refused(void **state)
{
	int64_t exp = -1;

	(void)state;
	assert_int_equal(svc_tokens_expiry(&exp, NOW, -60000), OVR_ERR_INVALID);
	assert_int_equal(svc_tokens_expiry(&exp, NOW, INT64_MIN), OVR_ERR_INVALID);
	assert_int_equal(exp, -1);
}

/*
 * The API's Role values, the names stored in api_tokens.role, and the roles authorization
 * compares must agree, in the same order: a token created as viewer must authenticate as a
 * viewer, never as something above it.
 */
static void test_roles_agree_across_layers(void **state)
{
	static const struct {
		int api;
		enum rpc_auth auth;
	} roles[] = {
	        {OVERSEER__V1__ROLE__ROLE_VIEWER, RPC_AUTH_VIEWER},
	        {OVERSEER__V1__ROLE__ROLE_DEPLOYER, RPC_AUTH_DEPLOYER},
	        {OVERSEER__V1__ROLE__ROLE_ADMIN, RPC_AUTH_ADMIN},
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(roles) / sizeof(roles[0]); i++) {
		const char *text = db_api_token_role_text(roles[i].api);

		assert_non_null(text);
		assert_int_equal(auth_role_parse(text), roles[i].auth);
		assert_string_equal(auth_role_name(roles[i].auth), text);
	}
	assert_null(db_api_token_role_text(OVERSEER__V1__ROLE__ROLE_UNSPECIFIED));
	assert_null(db_api_token_role_text(42));
	assert_int_equal(auth_role_parse("public"), -1);
	assert_int_equal(auth_role_parse("node"), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_no_ttl_never_expires),
	        cmocka_unit_test(test_ttl_bounds_as_typed),
	        cmocka_unit_test(test_negative_ttl_is_refused),
	        cmocka_unit_test(test_roles_agree_across_layers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
