/* Config table: precedence defaults < file < env < flags, file:line errors, bounds, printing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"
#include "err.h"

struct settings {
	char *grpc_listen;
	int64_t max_conns;
	int debug;
	int64_t heartbeat_ms;
	struct config_list peers;
	char *db_password;
};

static const struct config_option table[] = {
        {"grpc_listen", CONFIG_STRING, offsetof(struct settings, grpc_listen), "0.0.0.0:8443", 0, 0,
         0, "address the gRPC API listens on"},
        {"max_conns", CONFIG_INT, offsetof(struct settings, max_conns), "100", 1, 10000, 0,
         "most concurrent connections"},
        {"debug", CONFIG_BOOL, offsetof(struct settings, debug), "false", 0, 0, 0, "debug logging"},
        {"heartbeat", CONFIG_DURATION, offsetof(struct settings, heartbeat_ms), "15s", 1000,
         3600000, 0, "agent heartbeat interval"},
        {"peers", CONFIG_STRING_LIST, offsetof(struct settings, peers), "a.example:1, b.example:2",
         0, 0, 0, "peer servers"},
        {"db_password", CONFIG_STRING, offsetof(struct settings, db_password), NULL, 0, 0, 1,
         "database password"},
};
#define NOPT (sizeof(table) / sizeof(table[0]))

static char tmpdir[] = "/tmp/ovr-test-config-XXXXXX";
static char path[256];

static void clear_env(void)
{
	unsetenv("OVR_GRPC_LISTEN");
	unsetenv("OVR_MAX_CONNS");
	unsetenv("OVR_DEBUG");
	unsetenv("OVR_HEARTBEAT");
	unsetenv("OVR_PEERS");
	unsetenv("OVR_DB_PASSWORD");
}

static int setup(void **state)
{
	(void)state;
	if (!mkdtemp(tmpdir))
		return -1;
	snprintf(path, sizeof(path), "%s/server.yaml", tmpdir);
	clear_env();
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	unlink(path);
	rmdir(tmpdir);
	clear_env();
	return 0;
}

static int reset_env(void **state)
{
	(void)state;
	clear_env();
	return 0;
}

static void write_file(const char *text)
{
	FILE *fp = fopen(path, "w");

	assert_non_null(fp);
	assert_int_equal(fputs(text, fp) >= 0, 1);
	assert_int_equal(fclose(fp), 0);
}

static int init(struct config *conf, struct settings *s)
{
	memset(s, 0xa5, sizeof(*s)); /* config_init must not depend on a zeroed struct */
	return config_init(conf, table, NOPT, s);
}

/* Loads text as a file and returns the error; the message is in ovr_err_msg. */
static int load_text(const char *text)
{
	struct config conf;
	struct settings s;
	int err;

	assert_int_equal(init(&conf, &s), 0);
	write_file(text);
	ovr_err_clear();
	err = config_load_file(&conf, path);
	config_free(&conf);
	return err;
}

static void assert_file_error(const char *text, int line, const char *msg)
{
	char want[1024];

	snprintf(want, sizeof(want), "%s:%d: %s", path, line, msg);
	assert_int_equal(load_text(text), OVR_ERR_CONFIG);
	assert_string_equal(ovr_err_msg(OVR_ERR_CONFIG), want);
}

static char *print_conf(const struct config *conf)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *fp = open_memstream(&buf, &len);

	assert_non_null(fp);
	assert_int_equal(config_print(conf, fp), 0);
	fclose(fp);
	return buf;
}

/* argv as main() gets it: mutable strings. */
static char **make_argv(const char *const *args, int argc)
{
	char **argv = calloc((size_t)argc + 1, sizeof(*argv));
	int i;

	assert_non_null(argv);
	for (i = 0; i < argc; i++) {
		argv[i] = strdup(args[i]);
		assert_non_null(argv[i]);
	}
	return argv;
}

static void free_argv(char **argv, int argc)
{
	int i;

	for (i = 0; i < argc; i++)
		free(argv[i]);
	free(argv);
}

static void test_defaults(void **state)
{
	struct config conf;
	struct settings s;
	size_t i;

	(void)state;
	assert_int_equal(init(&conf, &s), 0);
	assert_string_equal(s.grpc_listen, "0.0.0.0:8443");
	assert_int_equal(s.max_conns, 100);
	assert_int_equal(s.debug, 0);
	assert_int_equal(s.heartbeat_ms, 15000);
	assert_int_equal(s.peers.n, 2);
	assert_string_equal(s.peers.items[0], "a.example:1");
	assert_string_equal(s.peers.items[1], "b.example:2");
	assert_null(s.db_password);
	for (i = 0; i < NOPT; i++)
		assert_int_equal(conf.sources[i].origin, CONFIG_ORIGIN_DEFAULT);
	config_free(&conf);
	config_free(&conf); /* a second free is a no-op */
}

static void test_file_overrides(void **state)
{
	struct config conf;
	struct settings s;

	(void)state;
	assert_int_equal(init(&conf, &s), 0);
	write_file("# server settings\n"
	           "grpc_listen: \"127.0.0.1:9443\"\n"
	           "max_conns: 42\n"
	           "debug: yes\n"
	           "heartbeat: 1h30m\n"
	           "peers:\n"
	           "  - x.example:1\n"
	           "  - \"y, z\"\n");
	assert_int_equal(config_load_file(&conf, path), OVR_ERR_CONFIG); /* 1h30m > 1h bound */
	config_free(&conf);

	assert_int_equal(init(&conf, &s), 0);
	write_file("# server settings\n"
	           "grpc_listen: \"127.0.0.1:9443\"\n"
	           "max_conns: 42\n"
	           "debug: yes\n"
	           "heartbeat: 1m30s500ms\n"
	           "peers:\n"
	           "  - x.example:1\n"
	           "  - \"y, z\"\n");
	assert_int_equal(config_load_file(&conf, path), 0);
	assert_string_equal(s.grpc_listen, "127.0.0.1:9443");
	assert_int_equal(s.max_conns, 42);
	assert_int_equal(s.debug, 1);
	assert_int_equal(s.heartbeat_ms, 90500);
	assert_int_equal(s.peers.n, 2);
	assert_string_equal(s.peers.items[0], "x.example:1");
	assert_string_equal(s.peers.items[1], "y, z"); /* no comma splitting in YAML */
	assert_null(s.db_password);
	assert_int_equal(conf.sources[0].origin, CONFIG_ORIGIN_FILE);
	assert_string_equal(conf.sources[0].file, path);
	assert_int_equal(conf.sources[0].line, 2);
	assert_int_equal(conf.sources[1].line, 3);
	assert_int_equal(conf.sources[4].line, 7); /* a block list's line is its first item's */
	assert_int_equal(conf.sources[5].origin, CONFIG_ORIGIN_DEFAULT);
	config_free(&conf);
}

static void test_env_overrides_file(void **state)
{
	struct config conf;
	struct settings s;

	(void)state;
	assert_int_equal(init(&conf, &s), 0);
	write_file("max_conns: 42\ndebug: true\n");
	setenv("OVR_MAX_CONNS", "200", 1);
	setenv("OVR_PEERS", " p1:1 , p2:2,,p3:3 ", 1);
	assert_int_equal(config_load_file(&conf, path), 0);
	assert_int_equal(config_load_env(&conf), 0);
	assert_int_equal(s.max_conns, 200);
	assert_int_equal(conf.sources[1].origin, CONFIG_ORIGIN_ENV);
	assert_int_equal(s.debug, 1); /* from the file, untouched by env */
	assert_int_equal(conf.sources[2].origin, CONFIG_ORIGIN_FILE);
	assert_int_equal(s.peers.n, 3);
	assert_string_equal(s.peers.items[0], "p1:1");
	assert_string_equal(s.peers.items[1], "p2:2");
	assert_string_equal(s.peers.items[2], "p3:3");

	setenv("OVR_MAX_CONNS", "0", 1);
	assert_int_equal(config_load_env(&conf), OVR_ERR_CONFIG);
	assert_string_equal(ovr_err_msg(OVR_ERR_CONFIG),
	                    "OVR_MAX_CONNS: expected an integer from 1 to 10000, got \"0\"");
	config_free(&conf);
}

static void test_flag_overrides_env(void **state)
{
	struct config conf;
	struct settings s;
	static const char *const args[] = {"ovr-server", "--max-conns",    "300",
	                                   "--debug",    "--heartbeat=2m", "-n",
	                                   "--peers",    "q1,q2",          "--unknown"};
	int argc = (int)(sizeof(args) / sizeof(args[0]));
	char **argv = make_argv(args, argc);
	int i;

	(void)state;
	assert_int_equal(init(&conf, &s), 0);
	setenv("OVR_MAX_CONNS", "200", 1);
	setenv("OVR_HEARTBEAT", "10s", 1);
	assert_int_equal(config_load_env(&conf), 0);
	assert_int_equal(s.heartbeat_ms, 10000);

	i = 1;
	assert_int_equal(config_set_arg(&conf, argc, argv, &i), 0);
	assert_int_equal(i, 2); /* consumed the value */
	i = 3;
	assert_int_equal(config_set_arg(&conf, argc, argv, &i), 0);
	assert_int_equal(i, 3); /* a bare bool flag consumes nothing */
	i = 4;
	assert_int_equal(config_set_arg(&conf, argc, argv, &i), 0);
	assert_int_equal(i, 4);
	i = 5;
	assert_int_equal(config_set_arg(&conf, argc, argv, &i), OVR_ERR_NOT_FOUND);
	i = 6;
	assert_int_equal(config_set_arg(&conf, argc, argv, &i), 0);
	i = 8;
	assert_int_equal(config_set_arg(&conf, argc, argv, &i), OVR_ERR_NOT_FOUND);
	assert_string_equal(ovr_err_msg(OVR_ERR_NOT_FOUND), "unknown flag --unknown");

	assert_int_equal(s.max_conns, 300);
	assert_int_equal(conf.sources[1].origin, CONFIG_ORIGIN_FLAG);
	assert_int_equal(s.debug, 1);
	assert_int_equal(s.heartbeat_ms, 120000);
	assert_int_equal(conf.sources[3].origin, CONFIG_ORIGIN_FLAG);
	assert_int_equal(s.peers.n, 2);
	assert_string_equal(s.peers.items[1], "q2");

	/* config_set accepts every spelling and names the flag in errors. */
	assert_int_equal(config_set(&conf, "--grpc-listen", "[::1]:1", CONFIG_ORIGIN_FLAG), 0);
	assert_string_equal(s.grpc_listen, "[::1]:1");
	assert_int_equal(config_set(&conf, "grpc_listen", "h:2", CONFIG_ORIGIN_FLAG), 0);
	assert_string_equal(s.grpc_listen, "h:2");
	assert_int_equal(config_set(&conf, "debug", "no", CONFIG_ORIGIN_FLAG), 0);
	assert_int_equal(s.debug, 0);
	assert_int_equal(config_set(&conf, "--listen", "x", CONFIG_ORIGIN_FLAG), OVR_ERR_NOT_FOUND);
	assert_int_equal(config_set(&conf, "max-conns", "10001", CONFIG_ORIGIN_FLAG),
	                 OVR_ERR_CONFIG);
	assert_string_equal(ovr_err_msg(OVR_ERR_CONFIG),
	                    "--max-conns: expected an integer from 1 to 10000, got \"10001\"");
	assert_int_equal(s.max_conns, 300); /* a rejected value changes nothing */
	assert_int_equal(config_set(&conf, "--max-conns", NULL, CONFIG_ORIGIN_FLAG),
	                 OVR_ERR_CONFIG);
	assert_string_equal(ovr_err_msg(OVR_ERR_CONFIG), "--max-conns: needs a value");
	assert_int_equal(config_set(&conf, "--debug", "maybe", CONFIG_ORIGIN_FLAG), OVR_ERR_CONFIG);
	assert_string_equal(ovr_err_msg(OVR_ERR_CONFIG),
	                    "--debug: expected true or false (yes/no, 1/0), got \"maybe\"");
	{
		static const char *const last_args[] = {"ovr-server", "--grpc-listen"};
		char **last = make_argv(last_args, 2);

		i = 1;
		assert_int_equal(config_set_arg(&conf, 2, last, &i), OVR_ERR_CONFIG);
		assert_string_equal(ovr_err_msg(OVR_ERR_CONFIG), "--grpc-listen: needs a value");
		free_argv(last, 2);
	}
	free_argv(argv, argc);
	config_free(&conf);
}

static void test_file_errors(void **state)
{
	char big[64];

	(void)state;
	assert_file_error("max_conns: 5\ngrpc_lisen: x\n", 2, "unknown key \"grpc_lisen\"");
	assert_file_error("debug: true\nmax_conns: 5\ndebug: false\n", 3,
	                  "duplicate key \"debug\" (first set at line 1)");
	assert_file_error("\nmax_conns: abc\n", 2,
	                  "max_conns: expected an integer from 1 to 10000, got \"abc\"");
	assert_file_error("max_conns: [1, 2]\n", 1,
	                  "max_conns: expected an integer from 1 to 10000, got a list");
	assert_file_error("grpc_listen:\n  host: x\n", 2,
	                  "grpc_listen: expected a string, got a mapping");
	assert_file_error("max_conns: 10001\n", 1,
	                  "max_conns: expected an integer from 1 to 10000, got \"10001\"");
	assert_file_error("max_conns: 99999999999999999999\n", 1,
	                  "max_conns: expected an integer from 1 to 10000, got "
	                  "\"99999999999999999999\"");
	assert_file_error("heartbeat: 500ms\n", 1,
	                  "heartbeat: expected a duration from 1s to 1h, got \"500ms\"");
	assert_file_error("heartbeat: soon\n", 1,
	                  "heartbeat: expected a duration from 1s to 1h, got \"soon\"");
	assert_file_error("debug: maybe\n", 1,
	                  "debug: expected true or false (yes/no, 1/0), got \"maybe\"");
	assert_file_error("peers: a,b\n", 1, "peers: expected a list of strings, got \"a,b\"");
	assert_file_error("peers:\n  - a\n  - [b]\n", 3,
	                  "peers: expected a list of strings, got a list in the list");
	assert_file_error("db_password: [hunter2]\n", 1,
	                  "db_password: expected a string, got a list");
	assert_file_error("max_conns: &n 5\ngrpc_listen: *n\n", 2, "aliases are not allowed");
	assert_file_error("- max_conns\n- debug\n", 1,
	                  "the top level must be a mapping of settings (key: value)");
	assert_file_error("max_conns: 5\n---\ndebug: true\n", 2,
	                  "only one YAML document is allowed");
	assert_file_error("max_conns: 5\ngrpc_listen: a: b\n", 2,
	                  "syntax error: mapping values are not allowed in this context");
	assert_file_error("max_conns: 5\npeers: [a, b\n", 3,
	                  "syntax error: did not find expected ',' or ']' while parsing a flow "
	                  "sequence");
	assert_file_error("? [a]\n: 1\n", 1, "expected a setting name, got a list");

	/* One byte over 1 MiB. */
	{
		FILE *fp = fopen(path, "w");
		size_t i;

		assert_non_null(fp);
		memset(big, '#', sizeof(big));
		for (i = 0; i < CONFIG_FILE_MAX / sizeof(big); i++)
			assert_int_equal(fwrite(big, 1, sizeof(big), fp), sizeof(big));
		fputc('\n', fp);
		fclose(fp);
	}
	{
		struct config conf;
		struct settings s;
		char want[512];

		assert_int_equal(init(&conf, &s), 0);
		assert_int_equal(config_load_file(&conf, path), OVR_ERR_CONFIG);
		snprintf(want, sizeof(want), "%s:1: file is larger than 1048576 bytes", path);
		assert_string_equal(ovr_err_msg(OVR_ERR_CONFIG), want);
		config_free(&conf);
	}
}

static void test_file_edge_cases(void **state)
{
	struct config conf;
	struct settings s;
	char missing[300];

	(void)state;
	assert_int_equal(load_text(""), 0);
	assert_int_equal(load_text("# only a comment\n"), 0);
	assert_int_equal(load_text("---\n...\n"), 0);

	snprintf(missing, sizeof(missing), "%s/nope.yaml", tmpdir);
	assert_int_equal(init(&conf, &s), 0);
	assert_int_equal(config_load_file(&conf, missing), OVR_ERR_NOT_FOUND);

	/* null resets to the default; [] is the empty list; quoted numbers are fine. */
	write_file("max_conns: \"7\"\npeers: []\n");
	assert_int_equal(config_load_file(&conf, path), 0);
	assert_int_equal(s.max_conns, 7);
	assert_int_equal(s.peers.n, 0);
	write_file("max_conns: ~\npeers:\ngrpc_listen: \"\"\n");
	assert_int_equal(config_load_file(&conf, path), 0);
	assert_int_equal(s.max_conns, 100);
	assert_int_equal(conf.sources[1].origin, CONFIG_ORIGIN_FILE);
	assert_int_equal(s.peers.n, 2);
	assert_string_equal(s.grpc_listen, "");
	config_free(&conf);
}

static void test_durations(void **state)
{
	struct config conf;
	struct settings s;
	static const struct {
		const char *text;
		int64_t ms;
	} ok[] = {{"1s", 1000},    {"1000ms", 1000}, {"90", 90000},
	          {"15m", 900000}, {"1h", 3600000},  {"59m59s999ms", 3599999}};
	size_t i;

	(void)state;
	assert_int_equal(init(&conf, &s), 0);
	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		assert_int_equal(config_set(&conf, "heartbeat", ok[i].text, CONFIG_ORIGIN_FLAG), 0);
		assert_int_equal(s.heartbeat_ms, ok[i].ms);
	}
	assert_int_equal(config_set(&conf, "heartbeat", "999ms", CONFIG_ORIGIN_FLAG),
	                 OVR_ERR_CONFIG);
	assert_int_equal(config_set(&conf, "heartbeat", "1h1ms", CONFIG_ORIGIN_FLAG),
	                 OVR_ERR_CONFIG);
	assert_string_equal(ovr_err_msg(OVR_ERR_CONFIG),
	                    "--heartbeat: expected a duration from 1s to 1h, got \"1h1ms\"");
	assert_int_equal(config_set(&conf, "heartbeat", "-5s", CONFIG_ORIGIN_ENV), OVR_ERR_CONFIG);
	assert_string_equal(ovr_err_msg(OVR_ERR_CONFIG),
	                    "OVR_HEARTBEAT: expected a duration from 1s to 1h, got \"-5s\"");
	assert_int_equal(s.heartbeat_ms, 3599999);
	config_free(&conf);
}

static void test_print(void **state)
{
	struct config conf;
	struct settings s;
	char *out;
	char want[2048];

	(void)state;
	assert_int_equal(init(&conf, &s), 0);
	write_file("max_conns: 42\n\nheartbeat: 90500ms\n");
	assert_int_equal(config_load_file(&conf, path), 0);
	setenv("OVR_DB_PASSWORD", "hunter2", 1);
	assert_int_equal(config_load_env(&conf), 0);
	assert_string_equal(s.db_password, "hunter2");
	assert_int_equal(config_set(&conf, "--grpc-listen", "say \"hi\"\n", CONFIG_ORIGIN_FLAG), 0);

	out = print_conf(&conf);
	snprintf(want, sizeof(want),
	         "# address the gRPC API listens on\n"
	         "grpc_listen: \"say \\\"hi\\\"\\n\"  # flag --grpc-listen\n"
	         "# most concurrent connections\n"
	         "max_conns: 42  # %s:1\n"
	         "# debug logging\n"
	         "debug: false  # default\n"
	         "# agent heartbeat interval\n"
	         "heartbeat: 1m30s500ms  # %s:3\n"
	         "# peer servers\n"
	         "peers: [\"a.example:1\", \"b.example:2\"]  # default\n"
	         "# database password\n"
	         "db_password: \"<redacted>\"  # env OVR_DB_PASSWORD\n",
	         path, path);
	assert_string_equal(out, want);
	assert_null(strstr(out, "hunter2"));
	free(out);
	config_free(&conf);

	/* An unset secret prints as null: nothing to hide, and the operator sees it is missing. */
	unsetenv("OVR_DB_PASSWORD");
	assert_int_equal(init(&conf, &s), 0);
	out = print_conf(&conf);
	assert_non_null(strstr(out, "\ndb_password: null  # default\n"));
	free(out);
	config_free(&conf);
}

/* What config_print writes, config_load_file reads back to the same values. */
static void test_print_round_trip(void **state)
{
	struct config a, b;
	struct settings sa, sb;
	char *out;

	(void)state;
	assert_int_equal(init(&a, &sa), 0);
	assert_int_equal(config_set(&a, "grpc_listen", "tab\there \\ \"q\" é", CONFIG_ORIGIN_FLAG),
	                 0);
	assert_int_equal(config_set(&a, "peers", "x:1,y:2", CONFIG_ORIGIN_FLAG), 0);
	assert_int_equal(config_set(&a, "heartbeat", "59m1s7ms", CONFIG_ORIGIN_FLAG), 0);
	assert_int_equal(config_set(&a, "debug", "1", CONFIG_ORIGIN_FLAG), 0);
	out = print_conf(&a);
	write_file(out);
	free(out);

	assert_int_equal(init(&b, &sb), 0);
	assert_int_equal(config_load_file(&b, path), 0);
	assert_string_equal(sb.grpc_listen, sa.grpc_listen);
	assert_int_equal(sb.max_conns, sa.max_conns);
	assert_int_equal(sb.debug, 1);
	assert_int_equal(sb.heartbeat_ms, sa.heartbeat_ms);
	assert_int_equal(sb.peers.n, 2);
	assert_string_equal(sb.peers.items[1], "y:2");
	assert_null(sb.db_password);
	config_free(&a);
	config_free(&b);
}

/* Programs adjust values after loading (computed defaults, paths made absolute). */
static void test_set_origins(void **state)
{
	struct config conf;
	struct settings s;
	char *out;
	char want[512];

	(void)state;
	assert_int_equal(init(&conf, &s), 0);
	assert_int_equal(config_set(&conf, "db_password", "pw", CONFIG_ORIGIN_DEFAULT), 0);
	assert_int_equal(conf.sources[5].origin, CONFIG_ORIGIN_DEFAULT);
	write_file("max_conns: 5\ngrpc_listen: rel\n");
	assert_int_equal(config_load_file(&conf, path), 0);
	assert_int_equal(config_set(&conf, "grpc_listen", "/abs/rel", conf.sources[0].origin), 0);
	assert_int_equal(conf.sources[0].origin, CONFIG_ORIGIN_FILE);
	assert_int_equal(conf.sources[0].line, 2);
	assert_string_equal(conf.sources[0].file, path);
	/* A value set as FILE that did not come from a file has no line to show. */
	assert_int_equal(config_set(&conf, "debug", "true", CONFIG_ORIGIN_FILE), 0);
	out = print_conf(&conf);
	snprintf(want, sizeof(want), "grpc_listen: \"/abs/rel\"  # %s:2\n", path);
	assert_non_null(strstr(out, want));
	assert_non_null(strstr(out, "\ndebug: true  # file\n"));
	assert_non_null(strstr(out, "\ndb_password: \"<redacted>\"  # default\n"));
	free(out);
	config_free(&conf);
}

static void test_usage(void **state)
{
	struct config conf;
	struct settings s;
	char *buf = NULL;
	size_t len = 0;
	FILE *fp;

	(void)state;
	assert_int_equal(init(&conf, &s), 0);
	fp = open_memstream(&buf, &len);
	assert_non_null(fp);
	config_usage(&conf, fp);
	fclose(fp);
	assert_non_null(strstr(buf, "  --max-conns <int>"));
	assert_non_null(strstr(buf, "most concurrent connections (default 100)\n"));
	assert_non_null(strstr(buf, "  --debug "));
	assert_non_null(strstr(buf, "  --heartbeat <duration>"));
	free(buf);
	config_free(&conf);
}

static void test_bad_default(void **state)
{
	static const struct config_option bad[] = {
	        {"port", CONFIG_INT, 0, "eighty", 1, 65535, 0, "port"},
	};
	struct config conf;
	int64_t port;

	(void)state;
	assert_int_equal(config_init(&conf, bad, 1, &port), OVR_ERR_INTERNAL);
	assert_string_equal(ovr_err_msg(OVR_ERR_INTERNAL),
	                    "default of port: expected an integer from 1 to 65535, got \"eighty\"");
	config_free(&conf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_teardown(test_defaults, reset_env),
	        cmocka_unit_test_teardown(test_file_overrides, reset_env),
	        cmocka_unit_test_teardown(test_env_overrides_file, reset_env),
	        cmocka_unit_test_teardown(test_flag_overrides_env, reset_env),
	        cmocka_unit_test_teardown(test_file_errors, reset_env),
	        cmocka_unit_test_teardown(test_file_edge_cases, reset_env),
	        cmocka_unit_test_teardown(test_durations, reset_env),
	        cmocka_unit_test_teardown(test_print, reset_env),
	        cmocka_unit_test_teardown(test_print_round_trip, reset_env),
	        cmocka_unit_test_teardown(test_set_origins, reset_env),
	        cmocka_unit_test_teardown(test_usage, reset_env),
	        cmocka_unit_test_teardown(test_bad_default, reset_env),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
