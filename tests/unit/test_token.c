/* Join and API token text forms: round trips, strict parsing, randomness, wiping. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "crypto.h"
#include "err.h"
#include "token.h"

#define FP     "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define ID     "00112233aabbccdd"
#define SECRET "0123456789abcdef0123456789abcdef01234567"
/* One character short, uppercase, and not hex. */
#define FP_SHORT       "123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define FP_UPPER       "0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef"
#define ID_SHORT       "0112233aabbccdd"
#define ID_UPPER       "00112233AABBCCDD"
#define ID_NOT_HEX     "00112233aabbccdg"
#define SECRET_SHORT   "123456789abcdef0123456789abcdef01234567"
#define SECRET_UPPER   "0123456789ABCDEF0123456789abcdef01234567"
#define SECRET_NOT_HEX "0123456789abcdef0123456789abcdef0123456z"

static int is_lower_hex(const char *s, size_t n)
{
	size_t i;

	if (strlen(s) != n)
		return 0;
	for (i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return 1;
}

static int all_zero(const void *p, size_t n)
{
	const unsigned char *b = p;
	size_t i;

	for (i = 0; i < n; i++)
		if (b[i])
			return 0;
	return 1;
}

/* 1 if the n bytes at p contain needle (memmem is a GNU extension). */
static int contains(const void *p, size_t n, const char *needle)
{
	const char *b = p;
	size_t len = strlen(needle);
	size_t i;

	for (i = 0; i + len <= n; i++)
		if (memcmp(b + i, needle, len) == 0)
			return 1;
	return 0;
}

static void test_join_round_trip(void **state)
{
	char buf[TOKEN_JOIN_LEN];
	struct token_parts made, parsed;
	unsigned char hash[CRYPTO_SHA256_LEN], want[CRYPTO_SHA256_LEN], again[CRYPTO_SHA256_LEN];

	(void)state;
	assert_int_equal(token_join_new(buf, &made, hash, FP), 0);
	assert_int_equal(strlen(buf), TOKEN_JOIN_LEN - 1);
	assert_memory_equal(buf, "OVRJT-1-" FP "-", 8 + TOKEN_FP_HEX + 1);
	assert_true(is_lower_hex(made.id, TOKEN_ID_HEX));
	assert_true(is_lower_hex(made.secret, TOKEN_SECRET_HEX));
	assert_string_equal(made.fingerprint, FP);

	assert_int_equal(token_join_parse(&parsed, buf), 0);
	assert_string_equal(parsed.fingerprint, FP);
	assert_string_equal(parsed.id, made.id);
	assert_string_equal(parsed.secret, made.secret);

	/* Only this hash is stored: it must be the SHA-256 of the secret text. */
	crypto_sha256(want, made.secret, strlen(made.secret));
	assert_memory_equal(hash, want, sizeof(want));
	assert_false(all_zero(hash, sizeof(hash)));
	token_secret_hash(again, &parsed);
	assert_memory_equal(again, want, sizeof(want));
}

static void test_api_round_trip(void **state)
{
	char buf[TOKEN_API_LEN];
	char expect[TOKEN_API_LEN];
	struct token_parts made, parsed;
	unsigned char hash[CRYPTO_SHA256_LEN], want[CRYPTO_SHA256_LEN], again[CRYPTO_SHA256_LEN];

	(void)state;
	assert_int_equal(token_api_new(buf, &made, hash), 0);
	assert_int_equal(strlen(buf), TOKEN_API_LEN - 1);
	assert_true(is_lower_hex(made.id, TOKEN_ID_HEX));
	assert_true(is_lower_hex(made.secret, TOKEN_SECRET_HEX));
	snprintf(expect, sizeof(expect), "ovrt_%s_%s", made.id, made.secret);
	assert_string_equal(buf, expect);

	assert_int_equal(token_api_parse(&parsed, buf), 0);
	assert_string_equal(parsed.id, made.id);
	assert_string_equal(parsed.secret, made.secret);

	crypto_sha256(want, made.secret, strlen(made.secret));
	assert_memory_equal(hash, want, sizeof(want));
	token_secret_hash(again, &parsed);
	assert_memory_equal(again, want, sizeof(want));
}

static void test_parse_known_text(void **state)
{
	struct token_parts p;

	(void)state;
	assert_int_equal(token_join_parse(&p, "OVRJT-1-" FP "-" ID "-" SECRET), 0);
	assert_string_equal(p.fingerprint, FP);
	assert_string_equal(p.id, ID);
	assert_string_equal(p.secret, SECRET);

	assert_int_equal(token_api_parse(&p, "ovrt_" ID "_" SECRET), 0);
	assert_string_equal(p.id, ID);
	assert_string_equal(p.secret, SECRET);
}

static void check_bad_join(const char *text)
{
	struct token_parts p;

	print_message("bad join token '%s'\n", text);
	assert_int_equal(token_join_parse(&p, text), OVR_ERR_INVALID);
	assert_non_null(strstr(ovr_err_msg(OVR_ERR_INVALID), "not a join token"));
}

static void test_join_rejects(void **state)
{
	(void)state;
	/* Wrong prefix or version. */
	check_bad_join("OVRJT-2-" FP "-" ID "-" SECRET);
	check_bad_join("ovrjt-1-" FP "-" ID "-" SECRET);
	check_bad_join("OVRJT1-" FP "-" ID "-" SECRET);
	check_bad_join("ovrt_" ID "_" SECRET);
	check_bad_join(" OVRJT-1-" FP "-" ID "-" SECRET);
	/* Short or long fingerprint, id or secret. */
	check_bad_join("OVRJT-1-" FP_SHORT "-" ID "-" SECRET);
	check_bad_join("OVRJT-1-" FP "0-" ID "-" SECRET);
	check_bad_join("OVRJT-1-" FP "-" ID_SHORT "-" SECRET);
	check_bad_join("OVRJT-1-" FP "-" ID "0-" SECRET);
	check_bad_join("OVRJT-1-" FP "-" ID "-" SECRET_SHORT);
	/* Uppercase hex, anywhere. */
	check_bad_join("OVRJT-1-" FP_UPPER "-" ID "-" SECRET);
	check_bad_join("OVRJT-1-" FP "-" ID_UPPER "-" SECRET);
	check_bad_join("OVRJT-1-" FP "-" ID "-" SECRET_UPPER);
	/* Non-hex and extra characters. */
	check_bad_join("OVRJT-1-" FP "-" ID_NOT_HEX "-" SECRET);
	check_bad_join("OVRJT-1-" FP "-" ID "-" SECRET_NOT_HEX);
	check_bad_join("OVRJT-1-" FP "-" ID "-" SECRET "0");
	check_bad_join("OVRJT-1-" FP "-" ID "-" SECRET "\n");
	check_bad_join("OVRJT-1-" FP "-" ID "-" SECRET " ");
	check_bad_join("OVRJT-1-" FP "-" ID "-" SECRET "-");
	check_bad_join("OVRJT-1-" FP "_" ID "-" SECRET);
	check_bad_join("OVRJT-1-" FP "-" ID "_" SECRET);
	/* Missing parts. */
	check_bad_join("");
	check_bad_join("OVRJT-1-");
	check_bad_join("OVRJT-1-" FP);
	check_bad_join("OVRJT-1-" FP "-");
	check_bad_join("OVRJT-1-" FP "-" ID);
	check_bad_join("OVRJT-1-" FP "-" ID "-");
	check_bad_join("OVRJT-1-" FP "--" SECRET);
	check_bad_join("OVRJT-1--" ID "-" SECRET);
}

static void check_bad_api(const char *text)
{
	struct token_parts p;

	print_message("bad api token '%s'\n", text);
	/* A malformed bearer token is a credentials problem: 401, not 400. */
	assert_int_equal(token_api_parse(&p, text), OVR_ERR_UNAUTHENTICATED);
}

static void test_api_rejects(void **state)
{
	(void)state;
	check_bad_api("ovrt-" ID "_" SECRET);
	check_bad_api("OVRT_" ID "_" SECRET);
	check_bad_api("Bearer ovrt_" ID "_" SECRET);
	check_bad_api("OVRJT-1-" FP "-" ID "-" SECRET);
	check_bad_api("ovrt_" ID_SHORT "_" SECRET);
	check_bad_api("ovrt_" ID "0_" SECRET);
	check_bad_api("ovrt_" ID "_" SECRET_SHORT);
	check_bad_api("ovrt_" ID_UPPER "_" SECRET);
	check_bad_api("ovrt_" ID "_" SECRET_UPPER);
	check_bad_api("ovrt_" ID "_" SECRET "0");
	check_bad_api("ovrt_" ID "_" SECRET "\r\n");
	check_bad_api("ovrt_" ID "-" SECRET);
	check_bad_api("ovrt_" ID "_" SECRET_NOT_HEX);
	check_bad_api("ovrt_" ID_NOT_HEX "_" SECRET);
	check_bad_api("");
	check_bad_api("ovrt_");
	check_bad_api("ovrt_" ID);
	check_bad_api("ovrt_" ID "_");
	check_bad_api("ovrt__" SECRET);
}

/* A failed parse leaves nothing of the secret behind in the output. */
static void test_failed_parse_leaves_no_secret(void **state)
{
	struct token_parts p;

	(void)state;
	memset(&p, 0x5a, sizeof(p));
	assert_int_not_equal(token_api_parse(&p, "ovrt_" ID "_" SECRET "x"), 0);
	assert_false(contains(&p, sizeof(p), "0123456789abcdef"));
	memset(&p, 0x5a, sizeof(p));
	assert_int_not_equal(token_join_parse(&p, "OVRJT-1-" FP "-" ID "-" SECRET "x"), 0);
	assert_false(contains(&p, sizeof(p), "0123456789abcdef"));
}

static void test_tokens_are_random(void **state)
{
	char a[TOKEN_API_LEN], b[TOKEN_API_LEN];
	char ja[TOKEN_JOIN_LEN], jb[TOKEN_JOIN_LEN];
	struct token_parts pa, pb;
	unsigned char ha[CRYPTO_SHA256_LEN], hb[CRYPTO_SHA256_LEN];

	(void)state;
	assert_int_equal(token_api_new(a, &pa, ha), 0);
	assert_int_equal(token_api_new(b, &pb, hb), 0);
	assert_string_not_equal(a, b);
	assert_string_not_equal(pa.id, pb.id);
	assert_string_not_equal(pa.secret, pb.secret);
	assert_memory_not_equal(ha, hb, sizeof(ha));
	/* The id is not derived from the secret (nor the other way round). */
	assert_null(strstr(pa.secret, pa.id));

	assert_int_equal(token_join_new(ja, &pa, ha, FP), 0);
	assert_int_equal(token_join_new(jb, &pb, hb, FP), 0);
	assert_string_not_equal(ja, jb);
	assert_string_not_equal(pa.id, pb.id);
	assert_string_not_equal(pa.secret, pb.secret);
	assert_memory_not_equal(ha, hb, sizeof(ha));
}

static void test_wipe(void **state)
{
	char buf[TOKEN_JOIN_LEN];
	struct token_parts p;
	unsigned char hash[CRYPTO_SHA256_LEN];

	(void)state;
	assert_int_equal(token_join_new(buf, &p, hash, FP), 0);
	assert_false(all_zero(p.secret, sizeof(p.secret)));
	token_parts_wipe(&p);
	assert_true(all_zero(&p, sizeof(p)));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_join_round_trip),
	        cmocka_unit_test(test_api_round_trip),
	        cmocka_unit_test(test_parse_known_text),
	        cmocka_unit_test(test_join_rejects),
	        cmocka_unit_test(test_api_rejects),
	        cmocka_unit_test(test_failed_parse_leaves_no_secret),
	        cmocka_unit_test(test_tokens_are_random),
	        cmocka_unit_test(test_wipe),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
