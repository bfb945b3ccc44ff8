/* The private PostgreSQL of `ovr-server --dev`: finds the binaries, runs initdb and pg_ctl. */
#include "devpg.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <locale.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>
#include <openssl/evp.h>

#include "db.h"
#include "err.h"
#include "fsutil.h"
#include "log.h"
#include "strutil.h"

#define PG_ROOT        "/usr/lib/postgresql"
#define FALLBACK_ROOT  "/var/lib/overseer-dev"
#define PG_USER        "postgres"
#define PG_PORT        "5432"
#define DEV_DATABASE   "overseer"
#define MAX_GROUPS     256
#define INITDB_TIMEOUT 300000 /* ms; with fsync on, a slow disk takes a while */
#define PGCTL_TIMEOUT  90000  /* ms; pg_ctl itself gives up after 60 s */

struct devpg {
	struct devpg_info info;
	char data_dir[PATH_MAX]; /* absolute */
	char tool_log[PATH_MAX]; /* DATA_DIR/postgres-ctl.log */
	int as_user;             /* run the tools as PG_USER (we are root) */
	uid_t uid;
	gid_t gid;
	gid_t groups[MAX_GROUPS];
	int ngroups;
	char home[PATH_MAX];
};

/* Parses "15" or "9.6" into a comparable number; -1 if the name is not a version. */
static long version_rank(const char *name)
{
	char *end;
	long major, minor = 0;

	errno = 0;
	major = strtol(name, &end, 10);
	if (errno != 0 || end == name || major < 0 || major > 100000)
		return -1;
	if (*end == '.') {
		const char *p = end + 1;

		minor = strtol(p, &end, 10);
		if (errno != 0 || end == p || minor < 0 || minor > 999)
			return -1;
	}
	if (*end != '\0')
		return -1;
	return major * 1000 + minor;
}

/* out = dir/name, or OVR_ERR_INVALID if that does not fit. */
static int path_join(char *out, size_t size, const char *dir, const char *name)
{
	int r = snprintf(out, size, "%s/%s", dir, name);

	if (r < 0 || (size_t)r >= size)
		return ovr_err_set(OVR_ERR_INVALID, "%s/%s: path too long", dir, name);
	return 0;
}

int devpg_find_bindir(char *bindir, size_t size)
{
	static const char *const tools[] = {"initdb", "pg_ctl", "postgres"};
	char dir[PATH_MAX], path[PATH_MAX];
	long best_rank = -1, rank;
	struct dirent *de;
	DIR *d;
	size_t i;

	bindir[0] = '\0';
	d = opendir(PG_ROOT);
	if (d == NULL)
		return ovr_err_set(OVR_ERR_NOT_FOUND,
		                   "no PostgreSQL server binaries under %s/*/bin: install them "
		                   "(apt-get install postgresql) or set database_url",
		                   PG_ROOT);
	while ((de = readdir(d)) != NULL) {
		if ((rank = version_rank(de->d_name)) <= best_rank)
			continue;
		snprintf(dir, sizeof(dir), "%s/%s/bin", PG_ROOT, de->d_name);
		for (i = 0; i < sizeof(tools) / sizeof(tools[0]); i++) {
			if (path_join(path, sizeof(path), dir, tools[i]) < 0 ||
			    access(path, X_OK) != 0)
				break;
		}
		if (i < sizeof(tools) / sizeof(tools[0]) || strlen(dir) >= size)
			continue;
		best_rank = rank;
		ovr_strlcpy(bindir, dir, size);
	}
	closedir(d);
	if (best_rank < 0)
		return ovr_err_set(OVR_ERR_NOT_FOUND,
		                   "no PostgreSQL server binaries (initdb, pg_ctl, postgres) under "
		                   "%s/*/bin: install them (apt-get install postgresql) or set "
		                   "database_url",
		                   PG_ROOT);
	return 0;
}

/* 1 if uid (with its groups) may search directory st. */
static int may_search(const struct stat *st, const struct devpg *pg)
{
	int i;

	if (pg->uid == 0)
		return 1;
	if (st->st_uid == pg->uid)
		return (st->st_mode & S_IXUSR) != 0;
	for (i = 0; i < pg->ngroups; i++)
		if (st->st_gid == pg->groups[i])
			return (st->st_mode & S_IXGRP) != 0;
	return (st->st_mode & S_IXOTH) != 0;
}

/*
 * 1 if the run-as user can reach path: every directory from / down to path itself searchable
 * (mode bits only; ACLs are not consulted). On 0, blocked names the first directory in the way.
 */
static int reachable(char *blocked, size_t size, const char *path, const struct devpg *pg)
{
	char buf[PATH_MAX];
	struct stat st;
	size_t i, len = strlen(path);

	if (len >= sizeof(buf) || stat("/", &st) < 0 || !may_search(&st, pg)) {
		ovr_strlcpy(blocked, "/", size);
		return 0;
	}
	for (i = 1; i <= len; i++) {
		if (path[i] != '/' && path[i] != '\0')
			continue;
		memcpy(buf, path, i);
		buf[i] = '\0';
		if (stat(buf, &st) < 0 || !S_ISDIR(st.st_mode) || !may_search(&st, pg)) {
			ovr_strlcpy(blocked, buf, size);
			return 0;
		}
	}
	return 1;
}

/* FALLBACK_ROOT/<first 16 hex digits of SHA-256(abs_dir)>. */
static int fallback_dir(char *out, size_t size, const char *abs_dir)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int md_len = 0;
	char hex[17];

	if (EVP_Digest(abs_dir, strlen(abs_dir), md, &md_len, EVP_sha256(), NULL) != 1 ||
	    md_len < 8)
		return ovr_err_set(OVR_ERR_CRYPTO, "SHA-256 of the data directory failed");
	ovr_hex_encode(hex, md, 8);
	return path_join(out, size, FALLBACK_ROOT, hex);
}

/*
 * pg_ctl hands -D, -l and -o to /bin/sh inside double quotes (and our socket directory in single
 * quotes): refuse the characters that would break out of them rather than quote for a shell.
 */
static int path_shell_safe(const char *path)
{
	const unsigned char *p;

	for (p = (const unsigned char *)path; *p != '\0'; p++)
		if (*p < 0x20 || *p == 0x7f || strchr("\"'`$\\", *p) != NULL)
			return 0;
	return 1;
}

static int fits_socket(const char *socket_dir)
{
	struct sockaddr_un sun;

	return strlen(socket_dir) + sizeof("/.s.PGSQL." PG_PORT) <= sizeof(sun.sun_path);
}

/* Looks up the run-as user when we are root: initdb and postgres refuse to run as root. */
static int lookup_user(struct devpg *pg)
{
	struct passwd pw, *res = NULL;
	char buf[16384];
	int n = MAX_GROUPS, r;

	r = getpwnam_r(PG_USER, &pw, buf, sizeof(buf), &res);
	if (r != 0 || res == NULL)
		return ovr_err_set(OVR_ERR_PRECONDITION,
		                   "running as root, and PostgreSQL refuses root: the '%s' system "
		                   "user to run it as does not exist (it comes with the postgresql "
		                   "package)",
		                   PG_USER);
	if (pw.pw_uid == 0)
		return ovr_err_set(OVR_ERR_PRECONDITION, "the '%s' user is root", PG_USER);
	pg->as_user = 1;
	pg->uid = pw.pw_uid;
	pg->gid = pw.pw_gid;
	ovr_strlcpy(pg->home, pw.pw_dir, sizeof(pg->home));
	if (getgrouplist(PG_USER, pw.pw_gid, pg->groups, &n) < 0)
		n = MAX_GROUPS; /* more groups than we keep: the first MAX_GROUPS it is */
	pg->ngroups = n;
	return 0;
}

/* PostgreSQL outlives us: it must not inherit our sockets and files. */
static void close_fds_from_3(void)
{
	int fd, max;

#ifdef SYS_close_range
	if (syscall(SYS_close_range, 3U, ~0U, 0U) == 0)
		return;
#endif
	max = (int)sysconf(_SC_OPEN_MAX);
	if (max < 0 || max > 65536)
		max = 65536;
	for (fd = 3; fd < max; fd++)
		close(fd);
}

/* In the forked child: stdio to the log, drop privileges, exec. Never returns. */
static void child_exec(const struct devpg *pg, const char *const *argv, int log_fd,
                       char *const *envp)
{
	static const char fail_priv[] = "ovr-server: cannot drop privileges\n";
	static const char fail_exec[] = "ovr-server: exec failed\n";
	int fd = open("/dev/null", O_RDONLY);

	if (fd < 0 || dup2(fd, STDIN_FILENO) < 0 || dup2(log_fd, STDOUT_FILENO) < 0 ||
	    dup2(log_fd, STDERR_FILENO) < 0)
		_exit(126);
	close_fds_from_3();
	/* setgroups from the list the parent built: initgroups would need NSS after fork. */
	if (pg->as_user && (setgroups((size_t)pg->ngroups, pg->groups) != 0 ||
	                    setgid(pg->gid) != 0 || setuid(pg->uid) != 0 || setuid(0) == 0)) {
		if (write(STDERR_FILENO, fail_priv, sizeof(fail_priv) - 1) < 0) {
			/* nothing left to tell */
		}
		_exit(126);
	}
	umask(077);
	if (chdir("/") != 0)
		_exit(126);
	execve(argv[0], (char *const *)argv, envp);
	if (write(STDERR_FILENO, fail_exec, sizeof(fail_exec) - 1) < 0) {
		/* nothing left to tell */
	}
	_exit(127);
}

/*
 * Runs argv[0] (an absolute path) as the run-as user with a clean environment, stdout and stderr
 * appended to the tool log, and waits at most timeout_ms. *exit_code gets the exit status
 * (128 + signal if killed). Returns 0 whenever the tool ran; the caller judges *exit_code.
 */
static int run_tool(int *exit_code, const struct devpg *pg, const char *const *argv, int timeout_ms)
{
	char env_path[] = "PATH=/usr/bin:/bin", env_lc[] = "LC_ALL=C";
	char env_home[PATH_MAX + 8], env_tz[256], now[32];
	char *envp[5];
	int n = 0, log_fd, status = 0, err = 0;
	struct timespec nap = {0, 1000000};
	int64_t deadline;
	const char *tz = getenv("TZ");
	pid_t pid, r;
	size_t i;

	*exit_code = -1;
	envp[n++] = env_path;
	envp[n++] = env_lc;
	snprintf(env_home, sizeof(env_home), "HOME=%s", pg->as_user ? pg->home : "/");
	envp[n++] = env_home;
	if (tz != NULL && strlen(tz) < sizeof(env_tz) - 4) {
		snprintf(env_tz, sizeof(env_tz), "TZ=%s", tz);
		envp[n++] = env_tz;
	}
	envp[n] = NULL;

	log_fd = open(pg->tool_log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (log_fd < 0)
		return ovr_err_set(OVR_ERR_IO, "%s: %s", pg->tool_log, strerror(errno));
	ovr_format_time(now, sizeof(now), ovr_now_ms());
	dprintf(log_fd, "== %s:", now);
	for (i = 0; argv[i] != NULL; i++)
		dprintf(log_fd, " %s", argv[i]);
	dprintf(log_fd, "\n");

	pid = fork();
	if (pid < 0) {
		err = ovr_err_set(OVR_ERR_IO, "fork: %s", strerror(errno));
		goto out;
	}
	if (pid == 0)
		child_exec(pg, argv, log_fd, envp);

	deadline = ovr_mono_ms() + timeout_ms;
	for (;;) {
		r = waitpid(pid, &status, WNOHANG);
		if (r == pid)
			break;
		if (r < 0 && errno != EINTR) {
			err = ovr_err_set(OVR_ERR_INTERNAL, "waitpid: %s", strerror(errno));
			goto out;
		}
		if (ovr_mono_ms() > deadline) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			err = ovr_err_set(OVR_ERR_TIMEOUT, "%s did not finish within %d s (see %s)",
			                  argv[0], timeout_ms / 1000, pg->tool_log);
			goto out;
		}
		/* 1 ms, doubling to 16 ms: quick tools return quickly, slow ones cost few wake-ups
		 */
		nanosleep(&nap, NULL);
		if (nap.tv_nsec < 16000000)
			nap.tv_nsec *= 2;
	}
	if (WIFEXITED(status))
		*exit_code = WEXITSTATUS(status);
	else if (WIFSIGNALED(status))
		*exit_code = 128 + WTERMSIG(status);
out:
	close(log_fd);
	return err;
}

/* run_tool for a tool that must succeed. */
static int run_tool_ok(const struct devpg *pg, const char *const *argv, int timeout_ms)
{
	int code, err = run_tool(&code, pg, argv, timeout_ms);

	if (err == 0 && code != 0)
		err = ovr_err_set(OVR_ERR_UNAVAILABLE, "%s failed (exit status %d): see %s%s",
		                  argv[0], code, pg->tool_log,
		                  strstr(argv[0], "pg_ctl") != NULL
		                          ? " and postgres.log in the cluster"
		                          : "");
	return err;
}

/* Creates dir (0700) for the run-as user, or takes over an empty one; a cluster must be its own. */
static int own_dir(const struct devpg *pg, const char *dir)
{
	char pg_version[PATH_MAX + 16];
	struct stat st;

	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return ovr_err_set(OVR_ERR_IO, "%s: %s", dir, strerror(errno));
	if (stat(dir, &st) < 0)
		return ovr_err_set(OVR_ERR_IO, "%s: %s", dir, strerror(errno));
	if (!S_ISDIR(st.st_mode))
		return ovr_err_set(OVR_ERR_PRECONDITION, "%s: not a directory", dir);
	if (!pg->as_user || st.st_uid == pg->uid)
		return 0;
	if (path_join(pg_version, sizeof(pg_version), dir, "PG_VERSION") < 0 ||
	    fs_exists(pg_version))
		return ovr_err_set(
		        OVR_ERR_PRECONDITION,
		        "%s: the cluster belongs to uid %u, not to the '%s' user (uid %u)", dir,
		        (unsigned)st.st_uid, PG_USER, (unsigned)pg->uid);
	if (chown(dir, pg->uid, pg->gid) < 0 || chmod(dir, 0700) < 0)
		return ovr_err_set(OVR_ERR_IO, "%s: %s", dir, strerror(errno));
	return 0;
}

/*
 * Chooses the cluster directory: DATA_DIR/postgres, or for a run-as user that cannot reach it,
 * FALLBACK_ROOT/<hash>. A cluster once created in the fallback stays there.
 */
static int choose_cluster_dir(struct devpg *pg)
{
	struct devpg_info *info = &pg->info;
	char fallback[PATH_MAX], probe[PATH_MAX + 16], blocked[PATH_MAX] = "";
	const char *why = NULL;
	int err;

	if ((err = path_join(info->cluster_dir, sizeof(info->cluster_dir), pg->data_dir,
	                     "postgres")) < 0 ||
	    (err = path_join(info->socket_dir, sizeof(info->socket_dir), info->cluster_dir,
	                     "run")) < 0)
		return err;
	if (!pg->as_user)
		return 0;

	if ((err = fallback_dir(fallback, sizeof(fallback), pg->data_dir)) < 0)
		return err;
	if ((err = path_join(probe, sizeof(probe), info->cluster_dir, "PG_VERSION")) < 0)
		return err;
	if (fs_exists(probe)) {
		if (reachable(blocked, sizeof(blocked), pg->data_dir, pg))
			return 0;
		return ovr_err_set(OVR_ERR_PERMISSION,
		                   "%s: the '%s' user runs this cluster but cannot search %s; "
		                   "give it search permission (chmod o+x %s)",
		                   info->cluster_dir, PG_USER, blocked, blocked);
	}
	if ((err = path_join(probe, sizeof(probe), fallback, "PG_VERSION")) < 0)
		return err;
	if (fs_exists(probe))
		why = "its cluster was created there";
	else if (!reachable(blocked, sizeof(blocked), pg->data_dir, pg))
		why = "the user cannot reach the data directory (a directory on its path is not "
		      "searchable)";
	else if (!fits_socket(info->socket_dir))
		why = "the socket path would be too long";
	else
		return 0;

	if ((err = fs_mkdir_p(FALLBACK_ROOT, 0755)) < 0)
		return err;
	if (!reachable(blocked, sizeof(blocked), FALLBACK_ROOT, pg))
		return ovr_err_set(OVR_ERR_PERMISSION,
		                   "%s is not reachable for the '%s' user (%s is not searchable), "
		                   "and neither is %s",
		                   pg->data_dir, PG_USER, blocked, FALLBACK_ROOT);
	log_info("devpg: PostgreSQL files of %s live in %s: %s%s%s", pg->data_dir, fallback, why,
	         blocked[0] != '\0' ? " " : "", blocked);
	ovr_strlcpy(info->cluster_dir, fallback, sizeof(info->cluster_dir));
	info->fallback = 1;
	return path_join(info->socket_dir, sizeof(info->socket_dir), fallback, "run");
}

/* The command name of a process (Linux /proc), or "" if unknown. */
static void proc_comm(char *out, size_t size, long pid)
{
	char path[64];
	FILE *f;

	out[0] = '\0';
	snprintf(path, sizeof(path), "/proc/%ld/comm", pid);
	f = fopen(path, "r");
	if (f == NULL)
		return;
	if (fgets(out, (int)size, f) == NULL)
		out[0] = '\0';
	out[strcspn(out, "\n")] = '\0';
	fclose(f);
}

/* 1 if pid is a zombie: dead, though kill(pid, 0) still succeeds until its parent reaps it. */
static int proc_zombie(long pid)
{
	char path[64], buf[512], *p;
	FILE *f;
	int zombie = 0;

	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	f = fopen(path, "r");
	if (f == NULL)
		return 0;
	/* "pid (comm) S ...": the state follows the last ')', comm may hold any character */
	if (fgets(buf, sizeof(buf), f) != NULL && (p = strrchr(buf, ')')) != NULL)
		zombie = p[1] == ' ' && p[2] == 'Z';
	fclose(f);
	return zombie;
}

/*
 * Refuses a cluster a live postmaster still serves; clears a postmaster.pid left by a crash whose
 * pid now belongs to another program (in containers pids repeat), which postgres would trust.
 */
static int check_not_running(const struct devpg *pg)
{
	const struct devpg_info *info = &pg->info;
	char pidfile[PATH_MAX + 32], conninfo[PATH_MAX + 128], comm[64] = "";
	char *text = NULL;
	long pid;
	int err;

	if ((err = path_join(pidfile, sizeof(pidfile), info->cluster_dir, "postmaster.pid")) < 0)
		return err;
	if (!fs_exists(pidfile))
		return 0;
	snprintf(conninfo, sizeof(conninfo),
	         "host='%s' port=" PG_PORT " dbname=postgres user=" PG_USER " connect_timeout=5",
	         info->socket_dir);
	switch (PQping(conninfo)) {
	case PQPING_OK:
	case PQPING_REJECT:
		return ovr_err_set(
		        OVR_ERR_PRECONDITION,
		        "PostgreSQL is already running on %s: is another ovr-server --dev "
		        "using %s? If not, stop it: runuser -u " PG_USER " -- %s/pg_ctl stop -D %s",
		        info->cluster_dir, pg->data_dir, info->bindir, info->cluster_dir);
	default:
		break;
	}
	if ((err = fs_read_file(&text, NULL, pidfile, 4096)) < 0)
		return err;
	pid = strtol(text, NULL, 10);
	free(text);
	if (pid <= 0 || (kill((pid_t)pid, 0) < 0 && errno == ESRCH) || proc_zombie(pid))
		return 0; /* dead: postgres itself replaces the stale file */
	proc_comm(comm, sizeof(comm), pid);
	if (strncmp(comm, "postgres", 8) == 0)
		return ovr_err_set(
		        OVR_ERR_PRECONDITION,
		        "a postgres process (pid %ld) still holds %s but does not answer "
		        "on %s; stop it: runuser -u " PG_USER " -- %s/pg_ctl stop -D %s",
		        pid, info->cluster_dir, info->socket_dir, info->bindir, info->cluster_dir);
	log_warnx("devpg: removing stale %s (pid %ld is now another program)", pidfile, pid);
	if (unlink(pidfile) < 0)
		return ovr_err_set(OVR_ERR_IO, "%s: %s", pidfile, strerror(errno));
	return 0;
}

static int run_initdb(struct devpg *pg)
{
	struct devpg_info *info = &pg->info;
	char initdb[PATH_MAX];
	const char *locale = "--locale=C.UTF-8";
	locale_t loc;
	int64_t t0 = ovr_mono_ms();
	int err;

	if ((err = path_join(initdb, sizeof(initdb), info->bindir, "initdb")) < 0)
		return err;
	/* C.UTF-8 (code point order, UTF-8 aware ctype) where the C library has it. */
	loc = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
	if (loc == (locale_t)0)
		locale = "--locale=C";
	else
		freelocale(loc);
	{
		const char *const argv[] = {
		        initdb, "-D", info->cluster_dir, "-U", PG_USER, "-A", "trust", "-E", "UTF8",
		        locale, NULL};

		log_info("devpg: creating PostgreSQL cluster dir=%s", info->cluster_dir);
		if ((err = run_tool_ok(pg, argv, INITDB_TIMEOUT)) < 0)
			return err;
	}
	info->ran_initdb = 1;
	info->initdb_ms = ovr_mono_ms() - t0;
	return 0;
}

static int pg_ctl_start(const struct devpg *pg)
{
	const struct devpg_info *info = &pg->info;
	char pg_ctl[PATH_MAX], log[PATH_MAX + 16], opts[PATH_MAX + 64];
	int err;

	if ((err = path_join(pg_ctl, sizeof(pg_ctl), info->bindir, "pg_ctl")) < 0)
		return err;
	if ((err = path_join(log, sizeof(log), info->cluster_dir, "postgres.log")) < 0)
		return err;
	/* A unix socket in the cluster only: no TCP, nothing shared with other clusters. */
	snprintf(opts, sizeof(opts), "-k '%s' -c listen_addresses= -p " PG_PORT, info->socket_dir);
	{
		const char *const argv[] = {
		        pg_ctl, "start", "-w", "-t", "60", "-D", info->cluster_dir,
		        "-l",   log,     "-o", opts, NULL};

		return run_tool_ok(pg, argv, PGCTL_TIMEOUT);
	}
}

static int pg_ctl_stop(const struct devpg *pg)
{
	const struct devpg_info *info = &pg->info;
	char pg_ctl[PATH_MAX];
	int err;

	if ((err = path_join(pg_ctl, sizeof(pg_ctl), info->bindir, "pg_ctl")) < 0)
		return err;
	{
		const char *const argv[] = {
		        pg_ctl, "stop", "-m", "fast", "-w", "-t", "60", "-D", info->cluster_dir,
		        NULL};

		return run_tool_ok(pg, argv, PGCTL_TIMEOUT);
	}
}

/* Creates the database DEV_DATABASE on first use, through the maintenance database. */
static int create_database(const struct devpg *pg)
{
	char conninfo[PATH_MAX + 64];
	const char *params[] = {DEV_DATABASE};
	struct db *db = NULL;
	PGresult *res = NULL;
	int err;

	snprintf(conninfo, sizeof(conninfo),
	         "host='%s' port=" PG_PORT " dbname=postgres user=" PG_USER, pg->info.socket_dir);
	if ((err = db_open(&db, conninfo)) < 0)
		goto out;
	res = db_query(db, "SELECT 1 FROM pg_database WHERE datname = $1", 1, params);
	if (res == NULL) {
		err = db_last_error(db);
		goto out;
	}
	if (PQntuples(res) == 0) {
		/* An identifier, not a value: a constant name, so no parameter is possible here. */
		err = db_exec(db, "CREATE DATABASE " DEV_DATABASE, 0, NULL);
		if (err == 0)
			log_info("devpg: created database %s", DEV_DATABASE);
	}
out:
	PQclear(res);
	db_close(db);
	return err;
}

int devpg_start(struct devpg **out, const char *data_dir, char *conninfo, size_t conninfo_size)
{
	struct devpg *pg = NULL;
	struct devpg_info *info;
	char pg_version[PATH_MAX + 16];
	int64_t t0 = ovr_mono_ms();
	int err, started = 0, r;

	*out = NULL;
	pg = calloc(1, sizeof(*pg));
	if (pg == NULL)
		return ovr_err_set(OVR_ERR_NOMEM, "out of memory");
	info = &pg->info;
	if ((err = devpg_find_bindir(info->bindir, sizeof(info->bindir))) < 0)
		goto out;
	if ((err = fs_mkdir_p(data_dir, 0700)) < 0)
		goto out;
	if (realpath(data_dir, pg->data_dir) == NULL) {
		err = ovr_err_set(OVR_ERR_IO, "%s: %s", data_dir, strerror(errno));
		goto out;
	}
	if ((err = path_join(pg->tool_log, sizeof(pg->tool_log), pg->data_dir,
	                     "postgres-ctl.log")) < 0)
		goto out;
	if (geteuid() == 0 && (err = lookup_user(pg)) < 0)
		goto out;
	if ((err = choose_cluster_dir(pg)) < 0)
		goto out;
	if (!path_shell_safe(info->cluster_dir)) {
		err = ovr_err_set(OVR_ERR_INVALID,
		                  "%s: pg_ctl cannot handle quotes, '$', '`', '\\' or control "
		                  "characters in the path; choose another data directory",
		                  info->cluster_dir);
		goto out;
	}
	if (!fits_socket(info->socket_dir)) {
		err = ovr_err_set(
		        OVR_ERR_INVALID,
		        "%s: too long for a unix socket path; choose a shorter data directory",
		        info->socket_dir);
		goto out;
	}
	if ((err = own_dir(pg, info->cluster_dir)) < 0)
		goto out;
	if ((err = check_not_running(pg)) < 0)
		goto out;
	if ((err = path_join(pg_version, sizeof(pg_version), info->cluster_dir, "PG_VERSION")) < 0)
		goto out;
	if (!fs_exists(pg_version) && (err = run_initdb(pg)) < 0)
		goto out;
	if ((err = own_dir(pg, info->socket_dir)) < 0)
		goto out;
	if ((err = pg_ctl_start(pg)) < 0)
		goto out;
	started = 1;
	if ((err = create_database(pg)) < 0)
		goto out;
	r = snprintf(conninfo, conninfo_size,
	             "host='%s' port=" PG_PORT " dbname=" DEV_DATABASE " user=" PG_USER,
	             info->socket_dir);
	if (r < 0 || (size_t)r >= conninfo_size) {
		err = ovr_err_set(OVR_ERR_INVALID, "devpg: connection string buffer too small");
		goto out;
	}
	info->start_ms = ovr_mono_ms() - t0;
	log_info("devpg: PostgreSQL ready dir=%s socket=%s initdb=%s initdb_ms=%" PRId64
	         " start_ms=%" PRId64,
	         info->cluster_dir, info->socket_dir, info->ran_initdb ? "yes" : "no",
	         info->initdb_ms, info->start_ms);
	*out = pg;
	pg = NULL;
out:
	if (pg != NULL && started) {
		/* Keep the message of the first failure, not of this clean-up. */
		char msg[1024];

		ovr_strlcpy(msg, ovr_err_msg(err), sizeof(msg));
		if (pg_ctl_stop(pg) < 0)
			log_warnx("devpg: could not stop PostgreSQL after a failed start dir=%s",
			          info->cluster_dir);
		ovr_err_set(err, "%s", msg);
	}
	free(pg);
	return err;
}

int devpg_conninfo_running(char *conninfo, size_t conninfo_size, const char *data_dir)
{
	char abs[PATH_MAX], dirs[2][PATH_MAX], fallback[PATH_MAX], sock[PATH_MAX + 32];
	struct stat st;
	size_t i;
	int err, r;

	if (realpath(data_dir, abs) == NULL)
		return ovr_err_set(OVR_ERR_NOT_FOUND, "%s: %s", data_dir, strerror(errno));
	if ((err = fallback_dir(fallback, sizeof(fallback), abs)) < 0 ||
	    (err = path_join(dirs[0], sizeof(dirs[0]), abs, "postgres/run")) < 0 ||
	    (err = path_join(dirs[1], sizeof(dirs[1]), fallback, "run")) < 0)
		return err;
	for (i = 0; i < 2; i++) {
		if (path_join(sock, sizeof(sock), dirs[i], ".s.PGSQL." PG_PORT) < 0 ||
		    stat(sock, &st) != 0 || !S_ISSOCK(st.st_mode))
			continue;
		r = snprintf(conninfo, conninfo_size,
		             "host='%s' port=" PG_PORT " dbname=" DEV_DATABASE " user=" PG_USER,
		             dirs[i]);
		if (r < 0 || (size_t)r >= conninfo_size)
			return ovr_err_set(OVR_ERR_INVALID,
			                   "devpg: connection string buffer too small");
		return 0;
	}
	return ovr_err_set(OVR_ERR_UNAVAILABLE,
	                   "the dev database of %s is not running (no socket in %s or %s): start "
	                   "ovr-server --dev --data-dir %s first",
	                   abs, dirs[0], dirs[1], abs);
}

const struct devpg_info *devpg_info(const struct devpg *pg)
{
	return &pg->info;
}

int devpg_stop(struct devpg *pg)
{
	int64_t t0 = ovr_mono_ms();
	int err;

	if (pg == NULL)
		return 0;
	err = pg_ctl_stop(pg);
	if (err < 0)
		log_warnx("devpg: stopping PostgreSQL failed dir=%s: %s", pg->info.cluster_dir,
		          ovr_err_msg(err));
	else
		log_info("devpg: PostgreSQL stopped dir=%s ms=%" PRId64, pg->info.cluster_dir,
		         ovr_mono_ms() - t0);
	free(pg);
	return err;
}
