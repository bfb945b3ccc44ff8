/* Runs a child program with an argv array (never a shell), capturing its output under a deadline.
 */
#ifndef OVR_PROC_H
#define OVR_PROC_H

#include <stddef.h>
#include <stdint.h>

#define PROC_DEFAULT_MAX_OUTPUT    (1024 * 1024) /* per stream */
#define PROC_DEFAULT_TIMEOUT_MS    (10 * 60 * 1000)
#define PROC_DEFAULT_KILL_GRACE_MS 5000 /* SIGTERM, then SIGKILL this much later */

/* Every field is optional: a zeroed struct (or a NULL pointer) gives the defaults. */
struct proc_opts {
	/*
	 * Extra "NAME=value" entries, NULL-terminated. The child gets the parent's environment with
	 * these added (replacing a parent variable of the same name). Values may be secrets: they
	 * are never logged nor put in error messages.
	 */
	const char *const *env;
	const char *cwd;       /* working directory of the child; NULL: the parent's */
	int64_t timeout_ms;    /* 0: PROC_DEFAULT_TIMEOUT_MS */
	int64_t kill_grace_ms; /* 0: PROC_DEFAULT_KILL_GRACE_MS */
	size_t max_stdout;     /* 0: PROC_DEFAULT_MAX_OUTPUT; bytes beyond are dropped */
	size_t max_stderr;     /* 0: PROC_DEFAULT_MAX_OUTPUT */
};

/* What happened to the child. out and err are owned by the result: free with proc_result_free. */
struct proc_result {
	int exited; /* 1: exited normally, exit_code is valid; 0: killed by signo */
	int exit_code;
	int signo;
	int timed_out; /* 1: the deadline passed and the child was killed */
	char *out;     /* captured stdout, always NUL-terminated once the child ran ("" if none) */
	size_t out_len;
	int out_truncated; /* 1: output beyond max_stdout was dropped */
	char *err;         /* captured stderr, as out */
	size_t err_len;
	int err_truncated;
	int64_t elapsed_ms;
};

/*
 * Runs argv[0] (searched in PATH unless it contains a '/', PATH taken from opts->env if set there;
 * a relative path is relative to the caller's directory, not opts->cwd) with argv, stdin from
 * /dev/null, stdout and stderr captured, every other descriptor closed, in its own process group
 * (a timeout signals the whole group, and after a timeout whatever the child left in its group is
 * killed with it). Thread-safe, provided nobody changes the environment (setenv) while threads
 * run and SIGCHLD is not set to SIG_IGN (the child could then not be reaped).
 *
 * Returns 0 once the child ran and was reaped, whatever its exit status (see res);
 * OVR_ERR_TIMEOUT if it was killed at the deadline (res is filled too); OVR_ERR_NOT_FOUND if the
 * program does not exist, OVR_ERR_PERMISSION if it is not executable, OVR_ERR_INVALID for a bad
 * argument, OVR_ERR_IO if the child could not be set up (cwd, pipes, fork), OVR_ERR_NOMEM.
 * res is zeroed first and must be passed to proc_result_free in every case.
 */
int proc_run(struct proc_result *res, const char *const *argv, const struct proc_opts *opts);

/* Frees the captured output and zeroes res. NULL is a no-op. */
void proc_result_free(struct proc_result *res);

/* "exit 0", "exit 3", "signal 9", "timed out, signal 15" into buf. */
void proc_format_status(char *buf, size_t size, const struct proc_result *res);

#endif
