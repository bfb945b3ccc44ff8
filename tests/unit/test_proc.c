/* proc_run: separate capture, exit status, truncation, deadline, environment, argv, errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "err.h"
#include "proc.h"

static char tmpdir[] = "/tmp/ovr-test-proc-XXXXXX";

static size_t count_substr(const char *hay, const char *needle)
{
	size_t n = 0;
	const char *p = hay;

	while ((p = strstr(p, needle)) != NULL) {
		n++;
		p += strlen(needle);
	}
	return n;
}

static void test_stdout_stderr_exit_code(void **state)
{
	const char *argv[] = {"sh", "-c", "echo out; echo err >&2; echo more; exit 3", NULL};
	struct proc_result res;
	char status[64];

	(void)state;
	assert_int_equal(proc_run(&res, argv, NULL), 0);
	assert_int_equal(res.exited, 1);
	assert_int_equal(res.exit_code, 3);
	assert_int_equal(res.timed_out, 0);
	assert_string_equal(res.out, "out\nmore\n");
	assert_int_equal(res.out_len, 9);
	assert_string_equal(res.err, "err\n");
	assert_int_equal(res.out_truncated, 0);
	assert_int_equal(res.err_truncated, 0);
	proc_format_status(status, sizeof(status), &res);
	assert_string_equal(status, "exit 3");
	proc_result_free(&res);
	assert_null(res.out);
}

static void test_killed_by_signal(void **state)
{
	const char *argv[] = {"sh", "-c", "kill -KILL $$", NULL};
	struct proc_result res;
	char status[64];

	(void)state;
	assert_int_equal(proc_run(&res, argv, NULL), 0);
	assert_int_equal(res.exited, 0);
	assert_int_equal(res.signo, SIGKILL);
	proc_format_status(status, sizeof(status), &res);
	assert_string_equal(status, "signal 9");
	proc_result_free(&res);
}

/* No shell in between: spaces, quotes, $ and ; arrive as they are. */
static void test_argv_verbatim(void **state)
{
	const char *argv[] = {"printf", "[%s]\\n",         "a b", "it's", "\"quoted\"", "$HOME",
	                      "*",      "; echo injected", "",    "`id`", "tab\there",  NULL};
	struct proc_result res;

	(void)state;
	assert_int_equal(proc_run(&res, argv, NULL), 0);
	assert_int_equal(res.exit_code, 0);
	assert_string_equal(res.out,
	                    "[a b]\n[it's]\n[\"quoted\"]\n[$HOME]\n[*]\n[; echo injected]\n"
	                    "[]\n[`id`]\n[tab\there]\n");
	proc_result_free(&res);
}

static void test_stdin_is_devnull(void **state)
{
	const char *argv[] = {"cat", NULL};
	struct proc_opts opts = {.timeout_ms = 5000};
	struct proc_result res;

	(void)state;
	assert_int_equal(proc_run(&res, argv, &opts), 0);
	assert_int_equal(res.exit_code, 0);
	assert_int_equal(res.out_len, 0);
	assert_string_equal(res.out, "");
	proc_result_free(&res);
}

/* The default limit is 1 MiB; the rest is read and dropped so the child finishes. */
static void test_truncation_default_limit(void **state)
{
	const char *argv[] = {"sh", "-c", "head -c 3000000 /dev/zero; echo finished >&2", NULL};
	struct proc_result res;
	size_t i;

	(void)state;
	assert_int_equal(proc_run(&res, argv, NULL), 0);
	assert_int_equal(res.exit_code, 0);
	assert_int_equal(res.out_len, PROC_DEFAULT_MAX_OUTPUT);
	assert_int_equal(res.out_truncated, 1);
	for (i = 0; i < res.out_len; i++)
		if (res.out[i] != '\0')
			fail_msg("byte %zu is not what the child wrote", i);
	assert_string_equal(res.err, "finished\n");
	assert_int_equal(res.err_truncated, 0);
	proc_result_free(&res);
}

static void test_truncation_custom_limit(void **state)
{
	const char *over[] = {"printf", "abcdefghijklmnop", NULL};
	const char *exact[] = {"printf", "abcdefghij", NULL};
	const char *err_over[] = {"sh", "-c", "printf 123456 >&2", NULL};
	struct proc_opts opts = {.max_stdout = 10, .max_stderr = 4};
	struct proc_result res;

	(void)state;
	assert_int_equal(proc_run(&res, over, &opts), 0);
	assert_string_equal(res.out, "abcdefghij");
	assert_int_equal(res.out_truncated, 1);
	proc_result_free(&res);

	assert_int_equal(proc_run(&res, exact, &opts), 0);
	assert_string_equal(res.out, "abcdefghij");
	assert_int_equal(res.out_truncated, 0);
	proc_result_free(&res);

	assert_int_equal(proc_run(&res, err_over, &opts), 0);
	assert_string_equal(res.err, "1234");
	assert_int_equal(res.err_truncated, 1);
	assert_int_equal(res.out_truncated, 0);
	proc_result_free(&res);
}

/* Both pipes full at once must not deadlock. */
static void test_both_streams_large(void **state)
{
	const char *argv[] = {
	        "sh", "-c", "head -c 300000 /dev/zero >&2; head -c 300000 /dev/zero; exit 0", NULL};
	struct proc_opts opts = {.timeout_ms = 10000};
	struct proc_result res;

	(void)state;
	assert_int_equal(proc_run(&res, argv, &opts), 0);
	assert_int_equal(res.out_len, 300000);
	assert_int_equal(res.err_len, 300000);
	assert_int_equal(res.timed_out, 0);
	proc_result_free(&res);
}

static void test_timeout_terminates(void **state)
{
	const char *argv[] = {"sleep", "30", NULL};
	struct proc_opts opts = {.timeout_ms = 300};
	struct proc_result res;
	char status[64];
	int err;

	(void)state;
	err = proc_run(&res, argv, &opts);
	assert_int_equal(err, OVR_ERR_TIMEOUT);
	assert_non_null(strstr(ovr_err_msg(err), "timed out"));
	assert_int_equal(res.timed_out, 1);
	assert_int_equal(res.exited, 0);
	assert_int_equal(res.signo, SIGTERM);
	assert_true(res.elapsed_ms >= 300);
	assert_true(res.elapsed_ms < 2000);
	proc_format_status(status, sizeof(status), &res);
	assert_string_equal(status, "timed out, signal 15");
	proc_result_free(&res);
}

/* A child (and its own child) that ignore SIGTERM get SIGKILL after the grace period. */
static void test_timeout_escalates_to_kill(void **state)
{
	const char *argv[] = {"sh", "-c", "trap '' TERM; echo ready; sleep 30; echo survived",
	                      NULL};
	struct proc_opts opts = {.timeout_ms = 300, .kill_grace_ms = 300};
	struct proc_result res;

	(void)state;
	assert_int_equal(proc_run(&res, argv, &opts), OVR_ERR_TIMEOUT);
	assert_int_equal(res.signo, SIGKILL);
	assert_string_equal(res.out, "ready\n");
	assert_true(res.elapsed_ms >= 600);
	assert_true(res.elapsed_ms < 3000);
	proc_result_free(&res);
}

/* The child died at SIGTERM but left a TERM-proof grandchild holding stdout: it is killed too. */
static void test_timeout_kills_leftover_group(void **state)
{
	const char *argv[] = {"sh", "-c", "(trap '' TERM; exec sleep 30) & echo started; wait",
	                      NULL};
	struct proc_opts opts = {.timeout_ms = 300, .kill_grace_ms = 5000};
	struct proc_result res;

	(void)state;
	assert_int_equal(proc_run(&res, argv, &opts), OVR_ERR_TIMEOUT);
	assert_int_equal(res.signo, SIGTERM);
	assert_string_equal(res.out, "started\n");
	/* Neither the 5 s grace nor the 1 s drain for a pipe held open was needed. */
	assert_true(res.elapsed_ms < 900);
	proc_result_free(&res);
}

/* A background process that keeps stdout open does not hold proc_run much past the exit. */
static void test_exit_with_pipe_held_open(void **state)
{
	const char *argv[] = {"sh", "-c", "sleep 3 & echo started; exit 4", NULL};
	struct proc_opts opts = {.timeout_ms = 20000};
	struct proc_result res;

	(void)state;
	assert_int_equal(proc_run(&res, argv, &opts), 0);
	assert_int_equal(res.exited, 1);
	assert_int_equal(res.exit_code, 4);
	assert_string_equal(res.out, "started\n");
	assert_true(res.elapsed_ms < 2500);
	proc_result_free(&res);
}

static void test_extra_env_reaches_child(void **state)
{
	const char *argv[] = {"/usr/bin/env", NULL};
	const char *env[] = {"OVR_TEST_SECRET=s3cr3t value with spaces", "OVR_TEST_OVERRIDE=child",
	                     "OVR_TEST_EMPTY=", NULL};
	struct proc_opts opts = {.env = env};
	struct proc_result res;

	(void)state;
	assert_int_equal(setenv("OVR_TEST_PARENT", "from-parent", 1), 0);
	assert_int_equal(setenv("OVR_TEST_OVERRIDE", "parent", 1), 0);
	assert_int_equal(proc_run(&res, argv, &opts), 0);
	assert_int_equal(res.exit_code, 0);
	assert_non_null(strstr(res.out, "\nOVR_TEST_SECRET=s3cr3t value with spaces\n"));
	assert_non_null(strstr(res.out, "\nOVR_TEST_PARENT=from-parent\n"));
	assert_non_null(strstr(res.out, "\nOVR_TEST_OVERRIDE=child\n"));
	assert_non_null(strstr(res.out, "\nOVR_TEST_EMPTY=\n"));
	assert_int_equal(count_substr(res.out, "OVR_TEST_OVERRIDE="), 1);
	proc_result_free(&res);

	/* Without extras the parent's environment alone. */
	assert_int_equal(proc_run(&res, argv, NULL), 0);
	assert_non_null(strstr(res.out, "OVR_TEST_OVERRIDE=parent\n"));
	assert_null(strstr(res.out, "OVR_TEST_SECRET"));
	proc_result_free(&res);
	unsetenv("OVR_TEST_PARENT");
	unsetenv("OVR_TEST_OVERRIDE");
}

/* A malformed entry is refused without echoing it (it may be a secret). */
static void test_bad_env_entry_not_echoed(void **state)
{
	const char *argv[] = {"true", NULL};
	const char *env[] = {"GOOD=1", "hunter2", NULL};
	const char *env2[] = {"=hunter3", NULL};
	struct proc_opts opts = {.env = env};
	struct proc_result res;
	int err;

	(void)state;
	err = proc_run(&res, argv, &opts);
	assert_int_equal(err, OVR_ERR_INVALID);
	assert_null(strstr(ovr_err_msg(err), "hunter2"));
	assert_non_null(strstr(ovr_err_msg(err), "entry 1"));
	proc_result_free(&res);

	opts.env = env2;
	err = proc_run(&res, argv, &opts);
	assert_int_equal(err, OVR_ERR_INVALID);
	assert_null(strstr(ovr_err_msg(err), "hunter3"));
	proc_result_free(&res);
}

/* PATH given in the extra environment is the one searched, as the child would. */
static void test_path_from_extra_env(void **state)
{
	const char *argv[] = {"env", NULL};
	const char *env[] = {"PATH=/nonexistent-ovr-dir", NULL};
	struct proc_opts opts = {.env = env};
	struct proc_result res;

	(void)state;
	assert_int_equal(proc_run(&res, argv, &opts), OVR_ERR_NOT_FOUND);
	proc_result_free(&res);
}

static void test_missing_program(void **state)
{
	const char *argv[] = {"ovr-no-such-program-x7", "arg", NULL};
	const char *abs[] = {"/nonexistent/ovr-prog", NULL};
	const char *empty[] = {NULL};
	struct proc_result res;
	int err;

	(void)state;
	err = proc_run(&res, argv, NULL);
	assert_int_equal(err, OVR_ERR_NOT_FOUND);
	assert_non_null(strstr(ovr_err_msg(err), "program not found: ovr-no-such-program-x7"));
	assert_null(res.out);
	proc_result_free(&res);

	err = proc_run(&res, abs, NULL);
	assert_int_equal(err, OVR_ERR_NOT_FOUND);
	assert_non_null(strstr(ovr_err_msg(err), "/nonexistent/ovr-prog"));
	proc_result_free(&res);

	assert_int_equal(proc_run(&res, empty, NULL), OVR_ERR_INVALID);
	assert_int_equal(proc_run(&res, NULL, NULL), OVR_ERR_INVALID);
	proc_result_free(&res);
}

static void test_not_executable(void **state)
{
	char path[256];
	const char *argv[] = {path, NULL};
	struct proc_result res;
	int fd, err;

	(void)state;
	snprintf(path, sizeof(path), "%s/not-exec", tmpdir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "#!/bin/sh\necho hi\n", 18), 18);
	close(fd);
	err = proc_run(&res, argv, NULL);
	assert_int_equal(err, OVR_ERR_PERMISSION);
	assert_non_null(strstr(ovr_err_msg(err), path));
	proc_result_free(&res);
	unlink(path);
}

static void test_cwd(void **state)
{
	const char *argv[] = {"pwd", NULL};
	char want[300], missing[300];
	struct proc_opts opts = {.cwd = tmpdir};
	struct proc_result res;
	int err;

	(void)state;
	assert_int_equal(proc_run(&res, argv, &opts), 0);
	snprintf(want, sizeof(want), "%s\n", tmpdir);
	assert_string_equal(res.out, want);
	proc_result_free(&res);

	snprintf(missing, sizeof(missing), "%s/missing", tmpdir);
	opts.cwd = missing;
	err = proc_run(&res, argv, &opts);
	assert_int_equal(err, OVR_ERR_NOT_FOUND);
	assert_non_null(strstr(ovr_err_msg(err), "working directory"));
	assert_non_null(strstr(ovr_err_msg(err), missing));
	proc_result_free(&res);
}

/* "./prog" names the caller's file even when the child runs elsewhere. */
static void test_relative_program_with_cwd(void **state)
{
	const char *argv[] = {"./run-me", NULL};
	struct proc_opts opts = {.cwd = "/"};
	struct proc_result res;
	char old[512], path[300];
	int fd;

	(void)state;
	assert_non_null(getcwd(old, sizeof(old)));
	snprintf(path, sizeof(path), "%s/run-me", tmpdir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0755);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "#!/bin/sh\npwd\n", 14), 14);
	close(fd);
	assert_int_equal(chdir(tmpdir), 0);
	assert_int_equal(proc_run(&res, argv, &opts), 0);
	assert_int_equal(chdir(old), 0);
	assert_int_equal(res.exit_code, 0);
	assert_string_equal(res.out, "/\n");
	proc_result_free(&res);
	unlink(path);
}

/* A descriptor the parent left open (no close-on-exec) must not reach the child. */
static void test_other_fds_closed(void **state)
{
	const char *argv[] = {"ls", "/proc/self/fd", NULL};
	struct proc_result res;
	int fd;

	(void)state;
	fd = open("/dev/null", O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(dup2(fd, 100), 100);
	close(fd);
	assert_int_equal(proc_run(&res, argv, NULL), 0);
	assert_int_equal(res.exit_code, 0);
	/* ls itself holds one descriptor for the directory it lists (3). */
	assert_string_equal(res.out, "0\n1\n2\n3\n");
	proc_result_free(&res);
	close(100);
}

#define N_THREADS 4
#define N_RUNS    8

struct thread_arg {
	int id;
	int failures;
};

static void *thread_main(void *p)
{
	struct thread_arg *a = p;
	int i;

	for (i = 0; i < N_RUNS; i++) {
		const char *argv[] = {"sh", "-c", "echo \"$OVR_T\"; echo \"$OVR_T\" >&2", NULL};
		char entry[64], want[64];
		const char *env[] = {entry, NULL};
		struct proc_opts opts = {.env = env, .timeout_ms = 20000};
		struct proc_result res;

		snprintf(entry, sizeof(entry), "OVR_T=thread-%d-run-%d", a->id, i);
		snprintf(want, sizeof(want), "thread-%d-run-%d\n", a->id, i);
		if (proc_run(&res, argv, &opts) != 0 || res.exit_code != 0 ||
		    strcmp(res.out, want) != 0 || strcmp(res.err, want) != 0)
			a->failures++;
		proc_result_free(&res);
	}
	return NULL;
}

static void test_concurrent_threads(void **state)
{
	pthread_t t[N_THREADS];
	struct thread_arg args[N_THREADS];
	int i;

	(void)state;
	for (i = 0; i < N_THREADS; i++) {
		args[i].id = i;
		args[i].failures = 0;
		assert_int_equal(pthread_create(&t[i], NULL, thread_main, &args[i]), 0);
	}
	for (i = 0; i < N_THREADS; i++) {
		pthread_join(t[i], NULL);
		assert_int_equal(args[i].failures, 0);
	}
}

static int setup(void **state)
{
	(void)state;
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	return rmdir(tmpdir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_stdout_stderr_exit_code),
	        cmocka_unit_test(test_killed_by_signal),
	        cmocka_unit_test(test_argv_verbatim),
	        cmocka_unit_test(test_stdin_is_devnull),
	        cmocka_unit_test(test_truncation_default_limit),
	        cmocka_unit_test(test_truncation_custom_limit),
	        cmocka_unit_test(test_both_streams_large),
	        cmocka_unit_test(test_timeout_terminates),
	        cmocka_unit_test(test_timeout_escalates_to_kill),
	        cmocka_unit_test(test_timeout_kills_leftover_group),
	        cmocka_unit_test(test_exit_with_pipe_held_open),
	        cmocka_unit_test(test_extra_env_reaches_child),
	        cmocka_unit_test(test_bad_env_entry_not_echoed),
	        cmocka_unit_test(test_path_from_extra_env),
	        cmocka_unit_test(test_missing_program),
	        cmocka_unit_test(test_not_executable),
	        cmocka_unit_test(test_cwd),
	        cmocka_unit_test(test_relative_program_with_cwd),
	        cmocka_unit_test(test_other_fds_closed),
	        cmocka_unit_test(test_concurrent_threads),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
