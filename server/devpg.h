/* The private PostgreSQL of `ovr-server --dev`: initdb once, pg_ctl start/stop, unix socket. */
#ifndef OVR_DEVPG_H
#define OVR_DEVPG_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

struct devpg;

/* Facts about a started cluster, for logs and tests. */
struct devpg_info {
	char bindir[PATH_MAX];      /* /usr/lib/postgresql/15/bin */
	char cluster_dir[PATH_MAX]; /* PGDATA: DATA_DIR/postgres, or the fallback below */
	char socket_dir[PATH_MAX];  /* cluster_dir/run; no TCP listener */
	int fallback;               /* 1 if cluster_dir is /var/lib/overseer-dev/<hash> */
	int ran_initdb;             /* 1 if this start created the cluster */
	int64_t initdb_ms;          /* 0 without initdb */
	int64_t start_ms;           /* whole devpg_start, initdb included */
};

/*
 * Finds the highest-versioned PostgreSQL server binaries (initdb, pg_ctl, postgres) under
 * /usr/lib/postgresql/<version>/bin into bindir. OVR_ERR_NOT_FOUND, saying what to install,
 * if there are none.
 */
int devpg_find_bindir(char *bindir, size_t size);

/*
 * Starts the cluster of data_dir (created 0700 if missing) and writes the libpq connection
 * string of its database "overseer" into conninfo (conninfo_size bytes; 4096 is always enough).
 *
 * The cluster lives in DATA_DIR/postgres. Run as root, initdb and postgres (which refuse root)
 * run as the `postgres` system user; if that user cannot search every directory down to
 * DATA_DIR (or the socket path would be too long), a new cluster lives in
 * /var/lib/overseer-dev/<first 16 hex digits of SHA-256 of the absolute DATA_DIR> instead
 * (logged), and stays there. An existing DATA_DIR/postgres that the user can no longer reach
 * is OVR_ERR_PERMISSION, naming the directory in the way. initdb runs only when the cluster
 * does not exist yet. The output of initdb and pg_ctl is appended to DATA_DIR/postgres-ctl.log;
 * the server log is CLUSTER/postgres.log. PostgreSQL listens on the unix socket
 * CLUSTER/run/.s.PGSQL.5432 only, trusting local users (the directory is 0700, so only its
 * owner and root can connect).
 *
 * OVR_ERR_PRECONDITION if a PostgreSQL is already running on that cluster (another
 * ovr-server --dev on the same data dir). A postmaster.pid left by a crash is handled, also
 * when its pid now belongs to another program. *out is owned by the caller: devpg_stop.
 * Forks children: call it before starting threads where possible.
 */
int devpg_start(struct devpg **out, const char *data_dir, char *conninfo, size_t conninfo_size);

/*
 * The connection string of the dev database another process (a running ovr-server --dev) serves
 * for data_dir, wherever devpg_start put its cluster. OVR_ERR_UNAVAILABLE, saying to start the
 * server, when its socket is not there.
 */
int devpg_conninfo_running(char *conninfo, size_t conninfo_size, const char *data_dir);

/* Facts of a started cluster, owned by pg. */
const struct devpg_info *devpg_info(const struct devpg *pg);

/*
 * Stops PostgreSQL (pg_ctl stop -m fast -w) and frees pg, even if stopping fails (then the
 * error is returned and logged). NULL is a no-op.
 */
int devpg_stop(struct devpg *pg);

#endif
