/* Child processes: fork + exec with an argv array, bounded stdout/stderr capture, hard deadline. */
#define _GNU_SOURCE  /* pipe2 and close_range: no descriptor may leak into another thread's child  \
                      */
#include "proc.h"

#include "err.h"
#include "log.h"
#include "strutil.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

#define PROC_READ_CHUNK    65536
#define PROC_TICK_MS       100 /* how often a running child is checked while its pipes stay open */
#define PROC_REAP_TICK_MS  20
#define PROC_DRAIN_MS      1000 /* after the child exits, how long to wait for its pipes to close */
#define PROC_FALLBACK_PATH "/usr/local/bin:/usr/bin:/bin"
#define PROC_MAX_FD_SCAN   (1 << 20)

enum { PROC_STAGE_CHDIR = 1, PROC_STAGE_EXEC = 2, PROC_STAGE_SETUP = 3 };

/* What a child that failed before exec tells the parent through the close-on-exec status pipe. */
struct proc_fail {
	int stage;
	int err;
};

struct proc_stream {
	int fd;
	char *buf;
	size_t len;
	size_t cap;
	size_t max;
	int truncated;
	int nomem;
};

/* Everything the child needs, prepared by the parent: after fork only async-signal-safe calls. */
struct proc_child_ctx {
	const char *path;
	const char *const *argv;
	char **envp;
	const char *cwd;
	int in_fd;
	int out_fd;
	int err_fd;
	int status_fd;
	int max_fd;
};

static int proc_env_name_len(const char *entry)
{
	const char *eq = strchr(entry, '=');

	return eq ? (int)(eq - entry) : -1;
}

/* 1 if entry ("NAME=...") sets a name one of the extra entries also sets. */
static int proc_env_overridden(const char *entry, const char *const *extra)
{
	int n = proc_env_name_len(entry);
	size_t i;

	if (n <= 0 || extra == NULL)
		return 0;
	for (i = 0; extra[i] != NULL; i++)
		if (proc_env_name_len(extra[i]) == n && strncmp(entry, extra[i], (size_t)n) == 0)
			return 1;
	return 0;
}

/*
 * The child's environment: the parent's entries not overridden, then the extra ones. The array
 * is ours, the strings are borrowed. Sets *path_env to the PATH the child will see (or NULL).
 */
static int proc_build_env(char ***out, const char **path_env, const char *const *extra)
{
	size_t n_parent = 0, n_extra = 0, i, k = 0;
	char **envp;

	*out = NULL;
	*path_env = NULL;
	for (i = 0; extra != NULL && extra[i] != NULL; i++) {
		/* Never echo the entry: its value may be a secret. */
		if (proc_env_name_len(extra[i]) <= 0)
			return ovr_err_set(OVR_ERR_INVALID,
			                   "environment entry %zu is not of the form NAME=value",
			                   i);
		n_extra++;
	}
	for (i = 0; environ != NULL && environ[i] != NULL; i++)
		n_parent++;

	envp = calloc(n_parent + n_extra + 1, sizeof(*envp));
	if (envp == NULL)
		return ovr_err_set(OVR_ERR_NOMEM, "out of memory building a child's environment");
	for (i = 0; i < n_parent; i++) {
		if (proc_env_overridden(environ[i], extra))
			continue;
		if (strncmp(environ[i], "PATH=", 5) == 0)
			*path_env = environ[i] + 5;
		envp[k++] = environ[i];
	}
	for (i = 0; i < n_extra; i++) {
		if (strncmp(extra[i], "PATH=", 5) == 0)
			*path_env = extra[i] + 5;
		envp[k++] = (char *)(uintptr_t)extra[i];
	}
	envp[k] = NULL;
	*out = envp;
	return 0;
}

/* 0 if path is an executable regular file; else the errno that explains why not. */
static int proc_check_exec(const char *path)
{
	struct stat st;

	if (stat(path, &st) != 0)
		return errno;
	if (S_ISDIR(st.st_mode))
		return EISDIR;
	if (!S_ISREG(st.st_mode) || access(path, X_OK) != 0)
		return EACCES;
	return 0;
}

/*
 * Resolves name like execvp does, but in the parent, so a missing program is a clear error
 * without a fork and the child only needs execve. *out is allocated.
 */
static int proc_find_program(char **out, const char *name, const char *path_env)
{
	char cand[PATH_MAX];
	const char *p, *end;
	int saw_eacces = 0, e;

	*out = NULL;
	if (strchr(name, '/') != NULL) {
		e = proc_check_exec(name);
		if (e == ENOENT || e == ENOTDIR)
			return ovr_err_set(OVR_ERR_NOT_FOUND, "program not found: %s", name);
		if (e != 0)
			return ovr_err_set(OVR_ERR_PERMISSION, "%s: not executable: %s", name,
			                   strerror(e));
		goto found_name;
	}
	if (path_env == NULL || path_env[0] == '\0')
		path_env = PROC_FALLBACK_PATH;
	for (p = path_env;; p = end + 1) {
		const char *dir;
		size_t dlen;
		int n;

		end = strchr(p, ':');
		if (end == NULL)
			end = p + strlen(p);
		dir = p;
		dlen = (size_t)(end - p);
		if (dlen == 0) { /* an empty PATH element means the current directory */
			dir = ".";
			dlen = 1;
		}
		n = snprintf(cand, sizeof(cand), "%.*s/%s", (int)dlen, dir, name);
		if (n > 0 && (size_t)n < sizeof(cand)) {
			e = proc_check_exec(cand);
			if (e == 0) {
				name = cand;
				goto found_name;
			}
			if (e == EACCES)
				saw_eacces = 1;
		}
		if (*end == '\0')
			break;
	}
	if (saw_eacces)
		return ovr_err_set(OVR_ERR_PERMISSION,
		                   "program %s found in PATH but not executable", name);
	return ovr_err_set(OVR_ERR_NOT_FOUND, "program not found: %s (not in PATH)", name);

found_name:
	/* Absolute, as the child changes directory before exec. */
	if (name[0] != '/') {
		char cwd[PATH_MAX];
		size_t n;

		if (getcwd(cwd, sizeof(cwd)) == NULL)
			return ovr_err_set(OVR_ERR_IO, "cannot run %s: getcwd: %s", name,
			                   strerror(errno));
		n = strlen(cwd) + 1 + strlen(name) + 1;
		*out = malloc(n);
		if (*out != NULL)
			snprintf(*out, n, "%s/%s", cwd, name);
	} else {
		*out = strdup(name);
	}
	if (*out == NULL)
		return ovr_err_set(OVR_ERR_NOMEM, "out of memory");
	return 0;
}

/* Moves fd above the standard descriptors (a parent may have closed 0-2), close-on-exec. */
static int proc_fd_high(int *fd)
{
	int nfd;

	if (*fd > STDERR_FILENO)
		return 0;
	nfd = fcntl(*fd, F_DUPFD_CLOEXEC, STDERR_FILENO + 1);
	if (nfd < 0)
		return -1;
	close(*fd);
	*fd = nfd;
	return 0;
}

static void proc_child_fail(int status_fd, int stage, int err)
{
	struct proc_fail f;
	ssize_t r;

	f.stage = stage;
	f.err = err;
	do
		r = write(status_fd, &f, sizeof(f));
	while (r < 0 && errno == EINTR);
	_exit(127);
}

static void proc_close_from(int lo, int hi_excl)
{
	int fd;

	for (fd = lo; fd < hi_excl; fd++)
		close(fd);
}

/* In the child: only async-signal-safe calls (the parent may have other threads). */
static void proc_child(const struct proc_child_ctx *c) __attribute__((noreturn));
static void proc_child(const struct proc_child_ctx *c)
{
	struct sigaction sa;
	sigset_t all;
	int sig, rc, st = c->status_fd;

	/* Own process group: a timeout then reaches grandchildren too (compose runs helpers). */
	setpgid(0, 0);

	/* Ignored signals and the blocked mask survive exec: give the program a clean slate. */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	sigemptyset(&sa.sa_mask);
	for (sig = 1; sig < NSIG; sig++)
		sigaction(sig, &sa, NULL);
	sigemptyset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);

	if (dup2(c->in_fd, STDIN_FILENO) < 0 || dup2(c->out_fd, STDOUT_FILENO) < 0 ||
	    dup2(c->err_fd, STDERR_FILENO) < 0)
		proc_child_fail(st, PROC_STAGE_SETUP, errno);

	if (c->cwd != NULL && chdir(c->cwd) != 0)
		proc_child_fail(st, PROC_STAGE_CHDIR, errno);

	/* Close all but 0-2 and the status pipe (close-on-exec: it goes at exec). */
	rc = st > 3 ? close_range(3, (unsigned)st - 1, 0) : 0;
	if (rc == 0)
		rc = close_range((unsigned)st + 1, ~0U, 0);
	if (rc != 0) { /* kernel without close_range */
		proc_close_from(3, st);
		proc_close_from(st + 1, c->max_fd);
	}

	execve(c->path, (char *const *)(uintptr_t)c->argv, c->envp);
	proc_child_fail(st, PROC_STAGE_EXEC, errno);
	_exit(127); /* not reached */
}

static void proc_stream_append(struct proc_stream *s, const char *data, size_t n)
{
	size_t room, want;

	if (s->len >= s->max || s->nomem) {
		s->truncated = s->truncated || n > 0;
		return;
	}
	room = s->max - s->len;
	if (n > room) {
		s->truncated = 1;
		n = room;
	}
	want = s->len + n + 1;
	if (want > s->cap) {
		size_t cap = s->cap ? s->cap : 4096;
		char *nb;

		while (cap < want)
			cap = cap > s->max / 2 ? s->max + 1 : cap * 2;
		nb = realloc(s->buf, cap);
		if (nb == NULL) {
			s->nomem = 1;
			s->truncated = 1;
			return;
		}
		s->buf = nb;
		s->cap = cap;
	}
	memcpy(s->buf + s->len, data, n);
	s->len += n;
	s->buf[s->len] = '\0';
}

/* Reads what is there; closes the stream at end of file or on error. */
static void proc_stream_read(struct proc_stream *s)
{
	char chunk[PROC_READ_CHUNK];
	ssize_t r;

	r = read(s->fd, chunk, sizeof(chunk));
	if (r < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (r <= 0) {
		close(s->fd);
		s->fd = -1;
		return;
	}
	proc_stream_append(s, chunk, (size_t)r);
}

/* Hands the buffer to the result, always NUL-terminated. 0 or OVR_ERR_NOMEM. */
static int proc_stream_take(char **buf, size_t *len, int *truncated, struct proc_stream *s)
{
	int nomem = s->nomem;

	if (s->buf == NULL) {
		s->buf = calloc(1, 1);
		if (s->buf == NULL)
			nomem = 1;
	}
	*buf = s->buf;
	*len = s->len;
	*truncated = s->truncated;
	s->buf = NULL;
	return nomem ? OVR_ERR_NOMEM : 0;
}

static void proc_signal_group(pid_t pid, int sig)
{
	if (kill(-pid, sig) != 0)
		kill(pid, sig);
}

/*
 * 1 once the child has exited, left a zombie (WNOWAIT) so its pid and group stay reserved.
 * Sets *lost if it was reaped elsewhere (SIGCHLD ignored): its status is then unknown.
 */
static int proc_child_exited(pid_t pid, int *lost)
{
	siginfo_t si;

	memset(&si, 0, sizeof(si));
	if (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0)
		return si.si_pid == pid;
	if (errno == ECHILD) {
		log_warnx("proc child reaped elsewhere pid=%d (SIGCHLD ignored?)", (int)pid);
		*lost = 1;
		return 1;
	}
	return 0;
}

static int64_t proc_min64(int64_t a, int64_t b)
{
	return a < b ? a : b;
}

/* Reads both pipes until they close and the child is reaped, enforcing the deadline. */
static void proc_supervise(struct proc_result *res, pid_t pid, struct proc_stream *streams,
                           const char *prog, int64_t start, int64_t timeout_ms, int64_t grace_ms)
{
	int64_t deadline = start + timeout_ms, kill_at = 0, reaped_at = 0, reap_tick = 1;
	int reaped = 0, killed = 0, lost = 0, status = 0;

	for (;;) {
		struct pollfd pfd[2];
		nfds_t nfds = 0;
		int64_t now = ovr_mono_ms(), wait_ms;
		int i, open_streams = 0;

		if (!reaped && proc_child_exited(pid, &lost)) {
			/* Still a zombie, so the group id cannot have been reused: after a timeout,
			 * whatever the child left behind in its group goes too. */
			if (res->timed_out && !lost)
				proc_signal_group(pid, SIGKILL);
			while (!lost && waitpid(pid, &status, 0) < 0 && errno == EINTR)
				;
			reaped = 1;
			reaped_at = now;
			reap_tick = PROC_REAP_TICK_MS;
		}
		if (!reaped && !res->timed_out && now >= deadline) {
			log_warnx("proc timeout prog=%s pid=%d timeout_ms=%lld, sending SIGTERM",
			          prog, (int)pid, (long long)timeout_ms);
			res->timed_out = 1;
			proc_signal_group(pid, SIGTERM);
			kill_at = now + grace_ms;
		}
		if (!reaped && res->timed_out && !killed && now >= kill_at) {
			log_warnx("proc still running prog=%s pid=%d, sending SIGKILL", prog,
			          (int)pid);
			proc_signal_group(pid, SIGKILL);
			killed = 1;
		}

		for (i = 0; i < 2; i++) {
			if (streams[i].fd < 0)
				continue;
			open_streams++;
			pfd[nfds].fd = streams[i].fd;
			pfd[nfds].events = POLLIN;
			pfd[nfds].revents = 0;
			nfds++;
		}
		/* Done when reaped and the pipes closed, or a grandchild still holds them. */
		if (reaped && (open_streams == 0 || now - reaped_at >= PROC_DRAIN_MS))
			break;

		if (open_streams) {
			wait_ms = PROC_TICK_MS;
		} else {
			/* Pipes closed: the child is exiting, check often at first. */
			wait_ms = reap_tick;
			reap_tick = proc_min64(reap_tick * 2, PROC_REAP_TICK_MS);
		}
		if (reaped)
			wait_ms = proc_min64(wait_ms, reaped_at + PROC_DRAIN_MS - now);
		else if (!res->timed_out)
			wait_ms = proc_min64(wait_ms, deadline - now);
		else if (!killed)
			wait_ms = proc_min64(wait_ms, kill_at - now);
		if (wait_ms < 0)
			wait_ms = 0;

		if (poll(nfds ? pfd : NULL, nfds, (int)wait_ms) <= 0)
			continue;
		for (i = 0; i < (int)nfds; i++) {
			struct proc_stream *s;

			if (pfd[i].revents == 0)
				continue;
			s = pfd[i].fd == streams[0].fd ? &streams[0] : &streams[1];
			proc_stream_read(s);
		}
	}

	if (lost) {
		/* unknown: neither exited nor signalled */
	} else if (WIFEXITED(status)) {
		res->exited = 1;
		res->exit_code = WEXITSTATUS(status);
	} else if (WIFSIGNALED(status)) {
		res->signo = WTERMSIG(status);
	}
}

static int proc_fail_to_err(const struct proc_fail *f, const char *path, const char *cwd)
{
	int code;

	switch (f->stage) {
	case PROC_STAGE_CHDIR:
		return ovr_err_set(f->err == ENOENT ? OVR_ERR_NOT_FOUND : OVR_ERR_IO,
		                   "cannot run %s: working directory %s: %s", path, cwd,
		                   strerror(f->err));
	case PROC_STAGE_EXEC:
		code = f->err == ENOENT ? OVR_ERR_NOT_FOUND : OVR_ERR_IO;
		if (f->err == EACCES)
			code = OVR_ERR_PERMISSION;
		return ovr_err_set(code, "cannot run %s: %s", path, strerror(f->err));
	default:
		return ovr_err_set(OVR_ERR_IO, "cannot run %s: setting up the child: %s", path,
		                   strerror(f->err));
	}
}

int proc_run(struct proc_result *res, const char *const *argv, const struct proc_opts *opts)
{
	static const struct proc_opts no_opts;
	struct proc_stream streams[2];
	struct proc_child_ctx c;
	struct proc_fail fail;
	struct rlimit rl;
	const char *path_env = NULL;
	char *path = NULL;
	char **envp = NULL;
	int out_pipe[2] = {-1, -1}, err_pipe[2] = {-1, -1}, st_pipe[2] = {-1, -1};
	int devnull = -1, err, i, argc;
	int64_t start, timeout_ms, grace_ms;
	ssize_t r;
	pid_t pid;

	memset(res, 0, sizeof(*res));
	memset(streams, 0, sizeof(streams));
	streams[0].fd = streams[1].fd = -1;
	if (opts == NULL)
		opts = &no_opts;
	if (argv == NULL || argv[0] == NULL || argv[0][0] == '\0')
		return ovr_err_set(OVR_ERR_INVALID, "proc_run: empty argv");
	timeout_ms = opts->timeout_ms > 0 ? opts->timeout_ms : PROC_DEFAULT_TIMEOUT_MS;
	grace_ms = opts->kill_grace_ms > 0 ? opts->kill_grace_ms : PROC_DEFAULT_KILL_GRACE_MS;
	streams[0].max = opts->max_stdout ? opts->max_stdout : PROC_DEFAULT_MAX_OUTPUT;
	streams[1].max = opts->max_stderr ? opts->max_stderr : PROC_DEFAULT_MAX_OUTPUT;

	err = proc_build_env(&envp, &path_env, opts->env);
	if (err < 0)
		goto out;
	err = proc_find_program(&path, argv[0], path_env);
	if (err < 0)
		goto out;

	if (pipe2(out_pipe, O_CLOEXEC) != 0 || pipe2(err_pipe, O_CLOEXEC) != 0 ||
	    pipe2(st_pipe, O_CLOEXEC) != 0) {
		err = ovr_err_set(OVR_ERR_IO, "cannot run %s: pipe: %s", argv[0], strerror(errno));
		goto out;
	}
	devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (devnull < 0 || proc_fd_high(&out_pipe[1]) != 0 || proc_fd_high(&err_pipe[1]) != 0 ||
	    proc_fd_high(&st_pipe[1]) != 0 || proc_fd_high(&devnull) != 0) {
		err = ovr_err_set(OVR_ERR_IO, "cannot run %s: %s", argv[0], strerror(errno));
		goto out;
	}

	memset(&c, 0, sizeof(c));
	c.path = path;
	c.argv = argv;
	c.envp = envp;
	c.cwd = opts->cwd;
	c.in_fd = devnull;
	c.out_fd = out_pipe[1];
	c.err_fd = err_pipe[1];
	c.status_fd = st_pipe[1];
	c.max_fd = 1024;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
		c.max_fd = rl.rlim_cur > PROC_MAX_FD_SCAN ? PROC_MAX_FD_SCAN : (int)rl.rlim_cur;

	for (argc = 0; argv[argc] != NULL; argc++)
		;
	/* Only names and counts: argument and environment values may be sensitive. */
	log_debug("proc start prog=%s argc=%d env_extra=%s cwd=%s", path, argc,
	          opts->env ? "yes" : "no", opts->cwd ? opts->cwd : "-");
	start = ovr_mono_ms();
	pid = fork();
	if (pid < 0) {
		err = ovr_err_set(OVR_ERR_IO, "cannot run %s: fork: %s", argv[0], strerror(errno));
		goto out;
	}
	if (pid == 0)
		proc_child(&c);

	setpgid(pid, pid); /* also in the parent, so the group exists before any kill(-pid) */
	close(out_pipe[1]);
	close(err_pipe[1]);
	close(st_pipe[1]);
	close(devnull);
	out_pipe[1] = err_pipe[1] = st_pipe[1] = devnull = -1;

	/* The status pipe closes at a successful exec, or carries why the child failed. */
	do
		r = read(st_pipe[0], &fail, sizeof(fail));
	while (r < 0 && errno == EINTR);
	if (r == (ssize_t)sizeof(fail)) {
		int status;

		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
		err = proc_fail_to_err(&fail, path, opts->cwd ? opts->cwd : ".");
		goto out;
	}

	streams[0].fd = out_pipe[0];
	streams[1].fd = err_pipe[0];
	out_pipe[0] = err_pipe[0] = -1;
	proc_supervise(res, pid, streams, path, start, timeout_ms, grace_ms);
	res->elapsed_ms = ovr_mono_ms() - start;

	err = proc_stream_take(&res->out, &res->out_len, &res->out_truncated, &streams[0]);
	if (proc_stream_take(&res->err, &res->err_len, &res->err_truncated, &streams[1]) < 0)
		err = OVR_ERR_NOMEM;
	if (err < 0) {
		err = ovr_err_set(OVR_ERR_NOMEM, "out of memory capturing the output of %s", path);
	} else if (res->timed_out) {
		char dur[32];

		ovr_format_duration(dur, sizeof(dur), timeout_ms);
		err = ovr_err_set(OVR_ERR_TIMEOUT, "%s timed out after %s and was killed", argv[0],
		                  dur);
	}
	log_debug("proc done prog=%s pid=%d exited=%d code=%d signal=%d elapsed_ms=%lld", path,
	          (int)pid, res->exited, res->exit_code, res->signo, (long long)res->elapsed_ms);

out:
	for (i = 0; i < 2; i++) {
		if (streams[i].fd >= 0)
			close(streams[i].fd);
		free(streams[i].buf);
		if (out_pipe[i] >= 0)
			close(out_pipe[i]);
		if (err_pipe[i] >= 0)
			close(err_pipe[i]);
		if (st_pipe[i] >= 0)
			close(st_pipe[i]);
	}
	if (devnull >= 0)
		close(devnull);
	free(path);
	free(envp);
	return err;
}

void proc_result_free(struct proc_result *res)
{
	if (res == NULL)
		return;
	free(res->out);
	free(res->err);
	memset(res, 0, sizeof(*res));
}

void proc_format_status(char *buf, size_t size, const struct proc_result *res)
{
	const char *pre = res->timed_out ? "timed out, " : "";

	if (res->exited)
		snprintf(buf, size, "%sexit %d", pre, res->exit_code);
	else if (res->signo != 0)
		snprintf(buf, size, "%ssignal %d", pre, res->signo);
	else
		snprintf(buf, size, "%sstatus unknown", pre);
}
