/* String helpers: durations, host:port, name and label rules, hex, bounded copy, time format. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "err.h"
#include "strutil.h"

#define SEC  1000LL
#define MIN  (60 * SEC)
#define HOUR (60 * MIN)
#define DAY  (24 * HOUR)

static void check_duration(const char *text, int64_t want)
{
	int64_t ms = -12345;

	print_message("duration '%s'\n", text);
	assert_int_equal(ovr_parse_duration(&ms, text), 0);
	assert_int_equal(ms, want);
}

static void check_bad_duration(const char *text)
{
	int64_t ms = -12345;

	print_message("bad duration '%s'\n", text);
	ovr_err_clear();
	assert_int_equal(ovr_parse_duration(&ms, text), OVR_ERR_INVALID);
	assert_int_equal(ms, -12345);
	/* The message names what was given, so a config error can be fixed. */
	assert_non_null(strstr(ovr_err_msg(OVR_ERR_INVALID), text));
}

static void test_parse_duration(void **state)
{
	(void)state;
	check_duration("15m", 15 * MIN);
	check_duration("1h30m", HOUR + 30 * MIN);
	check_duration("500ms", 500);
	check_duration("15s", 15 * SEC);
	check_duration("30", 30 * SEC);
	check_duration("0", 0);
	check_duration("2h", 2 * HOUR);
	check_duration("7d", 7 * DAY);
	check_duration("1d2h3m4s5ms", DAY + 2 * HOUR + 3 * MIN + 4 * SEC + 5);
	check_duration("90s", 90 * SEC);
	/* Long durations do not overflow on the way. */
	check_duration("1000000d", 1000000 * DAY);
}

static void test_parse_duration_rejects(void **state)
{
	(void)state;
	check_bad_duration("");
	check_bad_duration("m");
	check_bad_duration("ms");
	check_bad_duration("15x");
	check_bad_duration("-1s");
	check_bad_duration("+1s");
	check_bad_duration("1.5s");
	check_bad_duration("15 m");
	check_bad_duration(" 15m");
	check_bad_duration("15m ");
	check_bad_duration("15mm");
	check_bad_duration("1h30x");
	check_bad_duration("15M");
}

static void test_parse_duration_overflow(void **state)
{
	(void)state;
	/* One term beyond int64 milliseconds, in digits and after the unit is applied. */
	check_bad_duration("99999999999999999999");
	check_bad_duration("9223372036854775807ms");
	check_bad_duration("9223372036854775807s");
	check_bad_duration("106751991168d");
	check_bad_duration("9999999999999999d");
}

/* Terms that each fit but whose sum does not must not wrap into a negative duration. */
static void test_parse_duration_sum_overflow(void **state)
{
	(void)state;
	check_bad_duration("25000000000d25000000000d25000000000d25000000000d25000000000d");
	check_bad_duration("2305843009213693951ms2305843009213693951ms2305843009213693951ms"
	                   "2305843009213693951ms2305843009213693951ms");
}

static void check_format(int64_t ms, const char *want)
{
	char buf[64];
	int64_t back = -1;

	ovr_format_duration(buf, sizeof(buf), ms);
	assert_string_equal(buf, want);
	/* What is printed can be given back as a flag or config value. */
	assert_int_equal(ovr_parse_duration(&back, buf), 0);
	assert_int_equal(back, ms);
}

static void test_format_duration(void **state)
{
	char small[4];

	(void)state;
	check_format(HOUR + 30 * MIN, "1h30m");
	check_format(15 * SEC, "15s");
	check_format(250, "250ms");
	check_format(0, "0ms");
	check_format(999, "999ms");
	check_format(SEC, "1s");
	check_format(59 * SEC, "59s");
	check_format(90 * SEC, "1m30s");
	check_format(2 * DAY + 3 * HOUR, "2d3h");

	/* Bounded by the buffer and always terminated. */
	memset(small, 'z', sizeof(small));
	ovr_format_duration(small, sizeof(small), 123456);
	assert_int_equal(strlen(small), sizeof(small) - 1);
}

static void check_hostport(const char *text, const char *want_host, int want_port)
{
	char host[256];
	int port = -1;

	print_message("hostport '%s'\n", text);
	assert_int_equal(ovr_parse_hostport(host, sizeof(host), &port, text), 0);
	assert_string_equal(host, want_host);
	assert_int_equal(port, want_port);
}

static void check_bad_hostport(const char *text)
{
	char host[256] = "untouched";
	int port = -1;

	print_message("bad hostport '%s'\n", text);
	ovr_err_clear();
	assert_int_equal(ovr_parse_hostport(host, sizeof(host), &port, text), OVR_ERR_INVALID);
	assert_int_equal(port, -1);
	assert_non_null(strstr(ovr_err_msg(OVR_ERR_INVALID), text));
}

static void test_parse_hostport(void **state)
{
	(void)state;
	check_hostport("127.0.0.1:7443", "127.0.0.1", 7443);
	check_hostport("[::1]:7443", "::1", 7443);
	check_hostport("[2001:db8::10]:443", "2001:db8::10", 443);
	check_hostport("ovr-server.example.com:8443", "ovr-server.example.com", 8443);
	check_hostport("localhost:1", "localhost", 1);
	check_hostport("localhost:65535", "localhost", 65535);
}

static void test_parse_hostport_rejects(void **state)
{
	(void)state;
	check_bad_hostport("localhost");
	check_bad_hostport("localhost:");
	check_bad_hostport("127.0.0.1");
	check_bad_hostport("localhost:70000");
	check_bad_hostport("localhost:65536");
	check_bad_hostport("localhost:-1");
	check_bad_hostport("localhost:http");
	check_bad_hostport("localhost:80x");
	check_bad_hostport("localhost:80 ");
	check_bad_hostport("::1");
	check_bad_hostport("::1:7443");
	check_bad_hostport("2001:db8::10:443");
	check_bad_hostport(":7443");
	check_bad_hostport("[]:7443");
	check_bad_hostport("[::1]");
	check_bad_hostport("[::1]:");
	check_bad_hostport("[::1]7443");
	check_bad_hostport("[::1:7443");
	check_bad_hostport("");
}

/* The header promises ports 1-65535: port 0 means "any port" to bind() and is no address. */
static void test_parse_hostport_rejects_port_zero(void **state)
{
	(void)state;
	check_bad_hostport("localhost:0");
	check_bad_hostport("[::1]:0");
}

/* A host that does not fit is refused, never silently cut to another host name. */
static void test_parse_hostport_host_too_long(void **state)
{
	char host[4] = "zzz";
	int port = -1;

	(void)state;
	assert_int_equal(ovr_parse_hostport(host, sizeof(host), &port, "abcd:80"), OVR_ERR_INVALID);
	assert_int_equal(port, -1);
	assert_int_equal(ovr_parse_hostport(host, sizeof(host), &port, "abc:80"), 0);
	assert_string_equal(host, "abc");
	assert_int_equal(port, 80);
}

static void fill(char *buf, char c, size_t n)
{
	memset(buf, c, n);
	buf[n] = '\0';
}

static void test_name_valid(void **state)
{
	char name[80];

	(void)state;
	assert_true(ovr_name_valid("a"));
	assert_true(ovr_name_valid("web"));
	assert_true(ovr_name_valid("web-1"));
	assert_true(ovr_name_valid("a0-9z"));
	fill(name, 'a', 63);
	assert_true(ovr_name_valid(name));
	fill(name, 'a', 64);
	assert_false(ovr_name_valid(name));
	fill(name, 'a', 79);
	assert_false(ovr_name_valid(name));

	assert_false(ovr_name_valid(NULL));
	assert_false(ovr_name_valid(""));
	assert_false(ovr_name_valid("Web"));
	assert_false(ovr_name_valid("weB"));
	assert_false(ovr_name_valid("1web"));
	assert_false(ovr_name_valid("-web"));
	assert_false(ovr_name_valid("web_1"));
	assert_false(ovr_name_valid("_web"));
	assert_false(ovr_name_valid("web.1"));
	assert_false(ovr_name_valid("web 1"));
	assert_false(ovr_name_valid("web/1"));
	assert_false(ovr_name_valid("w\xc3\xa9"));
}

static void test_label_valid(void **state)
{
	char key[80];
	char value[80];

	(void)state;
	assert_true(ovr_label_valid("role", "web"));
	assert_true(ovr_label_valid("a", "x"));
	assert_true(ovr_label_valid("0", "x"));
	assert_true(ovr_label_valid("topology.zone", "eu-west-1a"));
	assert_true(ovr_label_valid("app_tier-2.x", "v"));
	assert_true(ovr_label_valid("role", ""));
	assert_true(ovr_label_valid("path", "/srv/data:rw=1"));

	fill(key, 'k', 63);
	assert_true(ovr_label_valid(key, "v"));
	fill(key, 'k', 64);
	assert_false(ovr_label_valid(key, "v"));
	fill(value, 'v', 63);
	assert_true(ovr_label_valid("k", value));
	fill(value, 'v', 64);
	assert_false(ovr_label_valid("k", value));

	assert_false(ovr_label_valid("", "v"));
	assert_false(ovr_label_valid("Role", "v"));
	assert_false(ovr_label_valid(".role", "v"));
	assert_false(ovr_label_valid("-role", "v"));
	assert_false(ovr_label_valid("_role", "v"));
	assert_false(ovr_label_valid("role.", "v"));
	assert_false(ovr_label_valid("role-", "v"));
	assert_false(ovr_label_valid("role_", "v"));
	assert_false(ovr_label_valid(".", "v"));
	assert_false(ovr_label_valid("ro le", "v"));
	assert_false(ovr_label_valid("ro/le", "v"));
	assert_false(ovr_label_valid("ro=le", "v"));

	assert_false(ovr_label_valid("role", "web server"));
	assert_false(ovr_label_valid("role", "web\t"));
	assert_false(ovr_label_valid("role", "web\n"));
	assert_false(ovr_label_valid("role", "\x7f"));
}

static void test_hex(void **state)
{
	static const unsigned char bytes[] = {0x00, 0x01, 0x7f, 0x80, 0xab, 0xff};
	unsigned char all[256];
	unsigned char back[256];
	char hex[2 * sizeof(all) + 1];
	size_t i;

	(void)state;
	ovr_hex_encode(hex, bytes, sizeof(bytes));
	assert_string_equal(hex, "00017f80abff");

	ovr_hex_encode(hex, bytes, 0);
	assert_string_equal(hex, "");

	memset(back, 0xee, sizeof(back));
	assert_int_equal(ovr_hex_decode(back, 6, "00017f80abff"), 0);
	assert_memory_equal(back, bytes, sizeof(bytes));
	memset(back, 0xee, sizeof(back));
	assert_int_equal(ovr_hex_decode(back, 6, "00017F80ABFF"), 0);
	assert_memory_equal(back, bytes, sizeof(bytes));
	assert_int_equal(ovr_hex_decode(back, 6, "00017F80abFf"), 0);
	assert_memory_equal(back, bytes, sizeof(bytes));

	for (i = 0; i < sizeof(all); i++)
		all[i] = (unsigned char)i;
	ovr_hex_encode(hex, all, sizeof(all));
	assert_int_equal(strlen(hex), 2 * sizeof(all));
	memset(back, 0, sizeof(back));
	assert_int_equal(ovr_hex_decode(back, sizeof(back), hex), 0);
	assert_memory_equal(back, all, sizeof(all));

	assert_int_equal(ovr_hex_decode(back, 2, "abc"), OVR_ERR_INVALID);
	assert_int_equal(ovr_hex_decode(back, 2, "abcdef"), OVR_ERR_INVALID);
	assert_int_equal(ovr_hex_decode(back, 2, "ab"), OVR_ERR_INVALID);
	assert_int_equal(ovr_hex_decode(back, 2, ""), OVR_ERR_INVALID);
	assert_int_equal(ovr_hex_decode(back, 2, "abcg"), OVR_ERR_INVALID);
	assert_int_equal(ovr_hex_decode(back, 2, "zzzz"), OVR_ERR_INVALID);
	assert_int_equal(ovr_hex_decode(back, 2, "ab c"), OVR_ERR_INVALID);
	assert_int_equal(ovr_hex_decode(back, 2, "0x12"), OVR_ERR_INVALID);
	assert_int_equal(ovr_hex_decode(back, 0, ""), 0);
}

static void test_strlcpy(void **state)
{
	char buf[8];

	(void)state;
	memset(buf, 'z', sizeof(buf));
	assert_int_equal(ovr_strlcpy(buf, "hello", 4), 5);
	assert_string_equal(buf, "hel");
	assert_int_equal(buf[4], 'z');

	assert_int_equal(ovr_strlcpy(buf, "hello", 6), 5);
	assert_string_equal(buf, "hello");

	assert_int_equal(ovr_strlcpy(buf, "hello", sizeof(buf)), 5);
	assert_string_equal(buf, "hello");

	assert_int_equal(ovr_strlcpy(buf, "1234567", sizeof(buf)), 7);
	assert_string_equal(buf, "1234567");
	assert_int_equal(ovr_strlcpy(buf, "12345678", sizeof(buf)), 8);
	assert_string_equal(buf, "1234567");

	assert_int_equal(ovr_strlcpy(buf, "hello", 1), 5);
	assert_string_equal(buf, "");

	memset(buf, 'z', sizeof(buf));
	assert_int_equal(ovr_strlcpy(buf, "hello", 0), 5);
	assert_int_equal(buf[0], 'z');

	assert_int_equal(ovr_strlcpy(buf, "", sizeof(buf)), 0);
	assert_string_equal(buf, "");
}

static void test_format_time(void **state)
{
	char buf[32];

	(void)state;
	ovr_format_time(buf, sizeof(buf), 1795428000000LL);
	assert_string_equal(buf, "2026-11-23T10:00:00Z");
	/* Milliseconds are dropped, not rounded up into the next second. */
	ovr_format_time(buf, sizeof(buf), 951868799999LL);
	assert_string_equal(buf, "2000-02-29T23:59:59Z");
	ovr_format_time(buf, sizeof(buf), 1000);
	assert_string_equal(buf, "1970-01-01T00:00:01Z");
	ovr_format_time(buf, sizeof(buf), 0);
	assert_string_equal(buf, "-");
}

static void test_clocks(void **state)
{
	int64_t before = (int64_t)time(NULL) * 1000;
	int64_t now = ovr_now_ms();
	int64_t after = (int64_t)time(NULL) * 1000 + 1000;
	int64_t m1, m2;

	(void)state;
	assert_in_range(now, before, after);
	m1 = ovr_mono_ms();
	m2 = ovr_mono_ms();
	assert_true(m1 > 0);
	assert_true(m2 >= m1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_parse_duration),
	        cmocka_unit_test(test_parse_duration_rejects),
	        cmocka_unit_test(test_parse_duration_overflow),
	        cmocka_unit_test(test_format_duration),
	        cmocka_unit_test(test_parse_hostport),
	        cmocka_unit_test(test_parse_hostport_rejects),
	        cmocka_unit_test(test_parse_hostport_rejects_port_zero),
	        cmocka_unit_test(test_parse_hostport_host_too_long),
	        cmocka_unit_test(test_name_valid),
	        cmocka_unit_test(test_label_valid),
	        cmocka_unit_test(test_hex),
	        cmocka_unit_test(test_strlcpy),
	        cmocka_unit_test(test_format_time),
	        cmocka_unit_test(test_clocks),
	        /* Last: signed overflow stops a -fsanitize=undefined run. */
	        cmocka_unit_test(test_parse_duration_sum_overflow),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
