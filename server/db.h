/* PostgreSQL access for ovr-server: a connection per worker, parameterised queries, migrations. */
#ifndef OVR_DB_H
#define OVR_DB_H

#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

/*
 * One PGconn. A struct db belongs to one thread at a time (one per worker thread); it is never
 * shared between threads. Every query takes parameters ($1, $2, ...) as text; a NULL entry in
 * params is SQL NULL. Error messages carry the SQLSTATE and PostgreSQL's primary message, never
 * a parameter value nor the DETAIL line (both may hold secrets or personal data).
 */
struct db;

/*
 * Fixed keys of session-level advisory locks, one per purpose across every ovr-server replica.
 * Append only; each is 8 ASCII bytes read as a big-endian integer, so they read well in pg_locks.
 */
#define DB_LOCK_MIGRATE INT64_C(0x6f76722d6d696772) /* "ovr-migr": db_migrate */
/* "ovr-orch": the deployment orchestrator's step (db_deploy_tick); as SQL text too. */
#define DB_LOCK_ORCHESTRATE     INT64_C(0x6f76722d6f726368)
#define DB_LOCK_ORCHESTRATE_SQL "8031732524930720616"
/* "ovr-audt": appending to the audit hash chain (transaction-level), as SQL text. */
#define DB_LOCK_AUDIT_SQL "8031732524696036468"

/*
 * Times: select a timestamptz as unix milliseconds in SQL and read it with db_get_int64, rather
 * than parsing PostgreSQL's text form:
 *     "SELECT id, " DB_MS("created_at") " FROM nodes WHERE id = $1"
 * and write one from a unix-ms parameter with DB_FROM_MS("$2"). A NULL time reads as 0, which
 * ovr_format_time() prints as "-".
 */
#define DB_MS(col)        "(extract(epoch from " col ")*1000)::bigint"
#define DB_FROM_MS(param) "to_timestamp((" param ")::bigint / 1000.0)"

/* Room for any int64 as text, for db_param_int64. */
#define DB_INT64_SIZE 24

/*
 * Connects with a libpq connection string or URI (conninfo). Defaults that the string may override:
 * application_name=ovr-server, connect_timeout=10, TCP keepalives, client_encoding=UTF8.
 * On failure OVR_ERR_UNAVAILABLE with libpq's message (OVR_ERR_CONFIG when the string does not
 * parse); a password from conninfo is never part of the message. *out is owned by the caller and
 * freed with db_close.
 */
int db_open(struct db **out, const char *conninfo);

/* Closes the connection and frees db. NULL is a no-op. */
void db_close(struct db *db);

/*
 * Makes db usable again before a new unit of work: if the connection is broken, PQreset (one
 * attempt, bounded by connect_timeout); if a previous user left a transaction open, rolls it back
 * (and logs it: that is a bug in the caller). 0, or OVR_ERR_UNAVAILABLE when the server is still
 * unreachable.
 */
int db_reconnect_if_broken(struct db *db);

/* The underlying connection, still owned by db (for LISTEN/NOTIFY and PQsocket). */
PGconn *db_conn(struct db *db);

/*
 * Runs one statement with text parameters (PQexecParams; never string-built SQL). Returns the
 * result, owned by the caller and freed with PQclear, on PGRES_TUPLES_OK or PGRES_COMMAND_OK.
 * Otherwise NULL with the error set:
 *   unique_violation (23505)                              OVR_ERR_EXISTS
 *   serialization_failure (40001), deadlock (40P01),
 *   lock_not_available (55P03)                            OVR_ERR_CONFLICT (retry the transaction)
 *   query_canceled (57014, e.g. statement_timeout)        OVR_ERR_TIMEOUT
 *   connection lost, class 08, server shutting down       OVR_ERR_UNAVAILABLE
 *   anything else                                         OVR_ERR_DB
 * db_last_error() gives that code, db_last_sqlstate() the exact SQLSTATE.
 */
PGresult *db_query(struct db *db, const char *sql, int nparams, const char *const *params);

/* db_query for statements whose rows are not needed: 0 or the error code from db_query. */
int db_exec(struct db *db, const char *sql, int nparams, const char *const *params);

/* The code of the last query (0 if it succeeded), and its SQLSTATE ("23505", or ""). */
int db_last_error(const struct db *db);
const char *db_last_sqlstate(const struct db *db);

/*
 * Transactions. db_begin fails with OVR_ERR_INTERNAL if one is already open. db_commit reports a
 * transaction that had already failed (PostgreSQL answers its COMMIT with ROLLBACK) as
 * OVR_ERR_CONFLICT or OVR_ERR_DB, and a connection lost during COMMIT as OVR_ERR_UNAVAILABLE
 * (the outcome is then unknown). db_rollback is for error paths: it never touches the error
 * message already set, does nothing outside a transaction, and only logs its own failure.
 */
int db_begin(struct db *db);
/*
 * fn runs inside the next transaction committed on db, just before its COMMIT (and is then
 * cleared); a failure rolls that transaction back and db_commit returns it. NULL clears it.
 * The audit log uses it to write a call's event in the same transaction as its change.
 */
void db_set_commit_hook(struct db *db, int (*fn)(struct db *db, void *arg), void *arg);
int db_commit(struct db *db);
void db_rollback(struct db *db);

/*
 * Session-level advisory locks (pg_advisory_lock): held until unlocked or the connection closes.
 * Take them outside a transaction. db_advisory_lock waits at most timeout_ms (PostgreSQL's
 * lock_timeout), then fails with OVR_ERR_TIMEOUT. db_advisory_trylock never waits: *acquired is
 * 1 or 0. Unlocking a lock not held is OVR_ERR_INTERNAL.
 */
int db_advisory_lock(struct db *db, int64_t key, int timeout_ms);
int db_advisory_trylock(int *acquired, struct db *db, int64_t key);
int db_advisory_unlock(struct db *db, int64_t key);

/*
 * Result cells. A SQL NULL reads as 0 / false (db_get_text: NULL); use PQgetisnull when the
 * difference matters. OVR_ERR_INTERNAL for a row or column out of range or text that is not
 * the type asked for (a bug in the SQL, not peer input).
 */
int db_get_int64(int64_t *out, const PGresult *res, int row, int col);
int db_get_int(int *out, const PGresult *res, int row, int col);
int db_get_bool(int *out, const PGresult *res, int row, int col);
/* The cell's text, owned by res; NULL for SQL NULL or out of range. */
const char *db_get_text(const PGresult *res, int row, int col);

/* Formats v into buf (DB_INT64_SIZE bytes) for use as a parameter; returns buf. */
const char *db_param_int64(char *buf, int64_t v);

/*
 * Migrations: every server/migrations/NNNN_name.sql, embedded at build time and sorted by version.
 * A file holds plain SQL without BEGIN/COMMIT; db_migrate runs each in its own transaction.
 */
struct db_migration {
	int version;
	const char *name;
	const char *sql;
};
extern const struct db_migration db_migrations[];
extern const size_t db_migrations_count;

/*
 * Brings the schema up to date: holds the DB_LOCK_MIGRATE advisory lock (so replicas starting
 * together wait for each other), creates schema_migrations, applies each missing migration in
 * its own transaction, and is a no-op when nothing is missing. OVR_ERR_PRECONDITION, and nothing
 * applied, if the database has a migration newer than this binary knows.
 */
int db_migrate(struct db *db);

#endif
