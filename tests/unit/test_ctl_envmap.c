/* ovrctl's environment maps: KEY=VALUE parsing, env files, merging and request map entries. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "envmap.h"
#include "err.h"
#include "overseer/v1/apps.pb-c.h"

static void test_key_valid(void **state)
{
	char long_key[ENVMAP_KEY_MAX + 2];

	(void)state;
	assert_true(envmap_key_valid("A"));
	assert_true(envmap_key_valid("_x"));
	assert_true(envmap_key_valid("DATABASE_URL_2"));
	assert_false(envmap_key_valid(""));
	assert_false(envmap_key_valid("1X"));
	assert_false(envmap_key_valid("A-B"));
	assert_false(envmap_key_valid("A B"));
	assert_false(envmap_key_valid("A=B"));
	assert_false(envmap_key_valid("Ä"));
	memset(long_key, 'A', sizeof(long_key) - 1);
	long_key[ENVMAP_KEY_MAX] = '\0';
	assert_true(envmap_key_valid(long_key));
	long_key[ENVMAP_KEY_MAX] = 'A';
	long_key[ENVMAP_KEY_MAX + 1] = '\0';
	assert_false(envmap_key_valid(long_key));
}

static void test_set_arg(void **state)
{
	struct envmap m;

	(void)state;
	memset(&m, 0, sizeof(m));
	assert_int_equal(envmap_set_arg(&m, "URL=a=b"), 0);
	assert_int_equal(envmap_set_arg(&m, "EMPTY="), 0);
	assert_string_equal(envmap_get(&m, "URL"), "a=b");
	assert_string_equal(envmap_get(&m, "EMPTY"), "");
	assert_int_equal(envmap_set_arg(&m, "=x"), OVR_ERR_INVALID);
	assert_int_equal(envmap_set_arg(&m, "1X=y"), OVR_ERR_INVALID);
	assert_non_null(strstr(ovr_err_msg(OVR_ERR_INVALID), "'1X'"));
	assert_int_equal(envmap_set_arg(&m, "NOEQUALS"), OVR_ERR_INVALID);
	assert_int_equal(m.n, 2);
	envmap_free(&m);
	assert_int_equal(m.n, 0);
	envmap_free(&m); /* twice is fine */
}

static void test_set_replaces_in_place_and_unset(void **state)
{
	struct envmap m;

	(void)state;
	memset(&m, 0, sizeof(m));
	assert_int_equal(envmap_set(&m, "B", "1"), 0);
	assert_int_equal(envmap_set(&m, "A", "2"), 0);
	assert_int_equal(envmap_set(&m, "B", "3"), 0);
	assert_int_equal(m.n, 2);
	assert_string_equal(m.entries[0].key, "B");
	assert_string_equal(m.entries[0].value, "3");
	assert_int_equal(envmap_unset(&m, "B"), 1);
	assert_int_equal(envmap_unset(&m, "B"), 0);
	assert_int_equal(m.n, 1);
	assert_string_equal(m.entries[0].key, "A");
	assert_null(envmap_get(&m, "B"));
	envmap_free(&m);
}

static void test_sort(void **state)
{
	struct envmap m;

	(void)state;
	memset(&m, 0, sizeof(m));
	assert_int_equal(envmap_set(&m, "ZED", "1"), 0);
	assert_int_equal(envmap_set(&m, "ALPHA", "2"), 0);
	assert_int_equal(envmap_set(&m, "MID", "3"), 0);
	envmap_sort(&m);
	assert_string_equal(m.entries[0].key, "ALPHA");
	assert_string_equal(m.entries[1].key, "MID");
	assert_string_equal(m.entries[2].key, "ZED");
	envmap_free(&m);
}

static void test_parse_file_text(void **state)
{
	static const char text[] = "# settings\n"
	                           "\n"
	                           "  TAG=1\n"
	                           "\tMODE=prod\r\n"
	                           "QUOTED=\"kept as is\"\n"
	                           "SPACES=a b  \n"
	                           "#NOT=this\n"
	                           "LAST=no newline";
	struct envmap m;

	(void)state;
	memset(&m, 0, sizeof(m));
	assert_int_equal(envmap_parse(&m, text, strlen(text), "app.env"), 0);
	assert_int_equal(m.n, 5);
	assert_string_equal(envmap_get(&m, "TAG"), "1");
	assert_string_equal(envmap_get(&m, "MODE"), "prod");
	assert_string_equal(envmap_get(&m, "QUOTED"), "\"kept as is\"");
	assert_string_equal(envmap_get(&m, "SPACES"), "a b  ");
	assert_string_equal(envmap_get(&m, "LAST"), "no newline");
	assert_null(envmap_get(&m, "NOT"));
	envmap_free(&m);
}

static void test_parse_errors_name_file_and_line(void **state)
{
	static const char bad_line[] = "A=1\n\n# c\nnot a variable\n";
	static const char bad_key[] = "A=1\n2B=x\n";
	static const char nul[] = "A=1\nB=x\0y\n";
	struct envmap m;

	(void)state;
	memset(&m, 0, sizeof(m));
	assert_int_equal(envmap_parse(&m, bad_line, strlen(bad_line), "x.env"), OVR_ERR_INVALID);
	assert_non_null(strstr(ovr_err_msg(OVR_ERR_INVALID), "x.env:4: "));
	envmap_free(&m);
	assert_int_equal(envmap_parse(&m, bad_key, strlen(bad_key), "y.env"), OVR_ERR_INVALID);
	assert_non_null(strstr(ovr_err_msg(OVR_ERR_INVALID), "y.env:2: '2B'"));
	envmap_free(&m);
	assert_int_equal(envmap_parse(&m, nul, sizeof(nul) - 1, "z.env"), OVR_ERR_INVALID);
	assert_non_null(strstr(ovr_err_msg(OVR_ERR_INVALID), "z.env:2: contains a NUL byte"));
	envmap_free(&m);
}

static void test_load_missing_file(void **state)
{
	struct envmap m;

	(void)state;
	memset(&m, 0, sizeof(m));
	assert_int_equal(envmap_load_file(&m, "/nonexistent/ovr.env"), OVR_ERR_NOT_FOUND);
	assert_non_null(strstr(ovr_err_msg(OVR_ERR_NOT_FOUND), "/nonexistent/ovr.env"));
	envmap_free(&m);
}

static void test_args_apply_order(void **state)
{
	struct envmap_args a;
	struct envmap m;
	size_t missing = 0;

	(void)state;
	memset(&a, 0, sizeof(a));
	memset(&m, 0, sizeof(m));
	assert_int_equal(envmap_set(&m, "KEEP", "k"), 0);
	assert_int_equal(envmap_set(&m, "OLD", "o"), 0);
	assert_int_equal(envmap_set(&m, "TAG", "1"), 0);
	a.sets[a.n_sets++] = "TAG=2";
	a.sets[a.n_sets++] = "NEW=n";
	a.unsets[a.n_unsets++] = "OLD";
	a.unsets[a.n_unsets++] = "NEVER";
	assert_true(envmap_args_given(&a));
	assert_int_equal(envmap_args_apply(&m, &a, &missing), 0);
	assert_int_equal(missing, 1);
	assert_int_equal(m.n, 3);
	assert_string_equal(envmap_get(&m, "KEEP"), "k");
	assert_string_equal(envmap_get(&m, "TAG"), "2");
	assert_string_equal(envmap_get(&m, "NEW"), "n");
	assert_null(envmap_get(&m, "OLD"));
	envmap_free(&m);
	memset(&a, 0, sizeof(a));
	assert_false(envmap_args_given(&a));
}

/* The entries make a real map field: pack a request and read it back. */
static void test_entries_round_trip(void **state)
{
	Overseer__V1__DeployAppRequest req = OVERSEER__V1__DEPLOY_APP_REQUEST__INIT;
	Overseer__V1__DeployAppRequest *back;
	ProtobufCMessage **entries = NULL;
	char name[] = "shop";
	struct envmap m;
	uint8_t *buf;
	size_t len;

	(void)state;
	memset(&m, 0, sizeof(m));
	assert_int_equal(envmap_set(&m, "A", "1"), 0);
	assert_int_equal(envmap_set(&m, "B", ""), 0);
	assert_int_equal(
	        envmap_entries(&entries, &m,
	                       &overseer__v1__deploy_app_request__environment_entry__descriptor),
	        0);
	req.name = name;
	req.replace_environment = 1;
	req.n_environment = m.n;
	req.environment = (Overseer__V1__DeployAppRequest__EnvironmentEntry **)entries;
	len = protobuf_c_message_get_packed_size(&req.base);
	buf = malloc(len);
	assert_non_null(buf);
	assert_int_equal(protobuf_c_message_pack(&req.base, buf), len);
	back = overseer__v1__deploy_app_request__unpack(NULL, len, buf);
	assert_non_null(back);
	assert_int_equal(back->n_environment, 2);
	assert_string_equal(back->environment[0]->key, "A");
	assert_string_equal(back->environment[0]->value, "1");
	assert_string_equal(back->environment[1]->key, "B");
	assert_string_equal(back->environment[1]->value, "");
	overseer__v1__deploy_app_request__free_unpacked(back, NULL);
	free(buf);
	envmap_entries_free(entries, m.n);
	envmap_free(&m);
}

static void test_entries_refuse_other_messages(void **state)
{
	ProtobufCMessage **entries = NULL;
	struct envmap m;

	(void)state;
	memset(&m, 0, sizeof(m));
	assert_int_equal(envmap_entries(&entries, &m, &overseer__v1__targets__descriptor),
	                 OVR_ERR_INTERNAL);
	assert_null(entries);
	envmap_entries_free(NULL, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_key_valid),
	        cmocka_unit_test(test_set_arg),
	        cmocka_unit_test(test_set_replaces_in_place_and_unset),
	        cmocka_unit_test(test_sort),
	        cmocka_unit_test(test_parse_file_text),
	        cmocka_unit_test(test_parse_errors_name_file_and_line),
	        cmocka_unit_test(test_load_missing_file),
	        cmocka_unit_test(test_args_apply_order),
	        cmocka_unit_test(test_entries_round_trip),
	        cmocka_unit_test(test_entries_refuse_other_messages),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
