/* PostgreSQL connection, parameterised queries, SQLSTATE mapping, transactions, locks, migrations.
 */
#include "db.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "log.h"
#include "strutil.h"

struct db {
	PGconn *conn;
	char sqlstate[6]; /* of the last failed query, "" after a success */
	int last_err;     /* code of the last query, 0 after a success */
	/* Runs inside the next transaction, just before its COMMIT, then is cleared. */
	int (*commit_hook)(struct db *db, void *arg);
	void *commit_hook_arg;
};

void db_set_commit_hook(struct db *db, int (*fn)(struct db *db, void *arg), void *arg)
{
	db->commit_hook = fn;
	db->commit_hook_arg = arg;
}

/* Makes a libpq message one log line: each run of control characters and blanks is one space. */
static void one_line(char *s)
{
	char *r, *w = s;

	for (r = s; *r != '\0'; r++) {
		int blank = (unsigned char)*r <= 0x20 || *r == 0x7f;

		if (!blank)
			*w++ = *r;
		else if (w > s && w[-1] != ' ')
			*w++ = ' ';
	}
	while (w > s && w[-1] == ' ')
		w--;
	*w = '\0';
}

/*
 * Copies src into dst (size bytes), writing "$N" wherever src repeats parameter N. PostgreSQL's
 * primary message can quote an input value ('invalid input syntax for type integer: "..."').
 * Values of 4 bytes or more are replaced anywhere; shorter ones only inside double quotes, so a
 * parameter "a" does not mangle every word.
 */
static void redact_params(char *dst, size_t size, const char *src, int nparams,
                          const char *const *params)
{
	size_t si = 0, di = 0, src_len = strlen(src);
	size_t *lens = NULL;
	int i;

	if (size == 0)
		return;
	if (nparams > 0 && (lens = calloc((size_t)nparams, sizeof(*lens))) == NULL) {
		ovr_strlcpy(dst, "(message withheld: out of memory)", size);
		return;
	}
	for (i = 0; i < nparams; i++)
		lens[i] = params[i] != NULL ? strlen(params[i]) : 0;
	while (si < src_len && di + 1 < size) {
		size_t best_len = 0;
		int best = -1, quoted = 0;

		for (i = 0; i < nparams; i++) {
			size_t len = lens[i], rest = src_len - si;

			if (len == 0 || len > rest)
				continue;
			if (len >= 4 && memcmp(src + si, params[i], len) == 0 && len > best_len) {
				best = i;
				best_len = len;
				quoted = 0;
			} else if (len < 4 && src[si] == '"' && len + 2 <= rest &&
			           memcmp(src + si + 1, params[i], len) == 0 &&
			           src[si + 1 + len] == '"' && len + 2 > best_len) {
				best = i;
				best_len = len + 2;
				quoted = 1;
			}
		}
		if (best < 0) {
			dst[di++] = src[si++];
			continue;
		}
		{
			char repl[16];
			int r = snprintf(repl, sizeof(repl), quoted ? "\"$%d\"" : "$%d", best + 1);
			size_t k;

			for (k = 0; r > 0 && k < (size_t)r && di + 1 < size; k++)
				dst[di++] = repl[k];
		}
		si += best_len;
	}
	dst[di] = '\0';
	free(lens);
}

static void db_notice(void *arg, const char *message)
{
	char line[512];

	(void)arg;
	ovr_strlcpy(line, message, sizeof(line));
	one_line(line);
	log_debug("db notice: %s", line);
}

/*
 * libpq's conninfo parser quotes the offending text in its messages, and a URI's whole text
 * (with its password) at that. Give its message only if the string cannot hold a password.
 */
static int conninfo_parse_error(const char *conninfo, const char *msg)
{
	char line[512];

	if (strstr(conninfo, "password") != NULL || strchr(conninfo, '@') != NULL)
		return ovr_err_set(
		        OVR_ERR_CONFIG,
		        "database: cannot parse the connection string (libpq's message is "
		        "withheld because it may quote the password)");
	ovr_strlcpy(line, msg != NULL ? msg : "", sizeof(line));
	one_line(line);
	return ovr_err_set(OVR_ERR_CONFIG, "database: cannot parse the connection string: %s",
	                   line);
}

int db_open(struct db **out, const char *conninfo)
{
	/* Entries before "dbname" are defaults the expanded conninfo may override. */
	static const char *const keys[] = {
	        "application_name",    "connect_timeout",  "client_encoding", "keepalives_idle",
	        "keepalives_interval", "keepalives_count", "dbname",          NULL};
	const char *values[] = {"ovr-server", "10", "UTF8", "30", "10", "3", conninfo, NULL};
	PQconninfoOption *opts = NULL, *o;
	const char *password = NULL;
	char *parse_err = NULL;
	char safe[512];
	struct db *db = NULL;
	int err = 0;

	*out = NULL;
	opts = PQconninfoParse(conninfo, &parse_err);
	if (opts == NULL) {
		err = conninfo_parse_error(conninfo, parse_err);
		goto out;
	}
	for (o = opts; o->keyword != NULL; o++)
		if (strcmp(o->keyword, "password") == 0 && o->val != NULL && o->val[0] != '\0')
			password = o->val;

	db = calloc(1, sizeof(*db));
	if (db == NULL) {
		err = ovr_err_set(OVR_ERR_NOMEM, "database: out of memory");
		goto out;
	}
	db->conn = PQconnectdbParams(keys, values, 1);
	if (db->conn == NULL) {
		err = ovr_err_set(OVR_ERR_NOMEM, "database: out of memory");
		goto out;
	}
	if (PQstatus(db->conn) != CONNECTION_OK) {
		redact_params(safe, sizeof(safe), PQerrorMessage(db->conn),
		              password != NULL ? 1 : 0, &password);
		one_line(safe);
		err = ovr_err_set(OVR_ERR_UNAVAILABLE, "database: cannot connect: %s", safe);
		goto out;
	}
	PQsetNoticeProcessor(db->conn, db_notice, NULL);
	*out = db;
	db = NULL;
out:
	db_close(db);
	PQconninfoFree(opts);
	if (parse_err != NULL)
		PQfreemem(parse_err);
	return err;
}

void db_close(struct db *db)
{
	if (db == NULL)
		return;
	PQfinish(db->conn);
	free(db);
}

PGconn *db_conn(struct db *db)
{
	return db->conn;
}

const char *db_last_sqlstate(const struct db *db)
{
	return db->sqlstate;
}

int db_last_error(const struct db *db)
{
	return db->last_err;
}

static int sqlstate_to_err(const char *state)
{
	if (strcmp(state, "23505") == 0)
		return OVR_ERR_EXISTS;
	if (strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0 ||
	    strcmp(state, "55P03") == 0)
		return OVR_ERR_CONFLICT;
	if (strcmp(state, "57014") == 0)
		return OVR_ERR_TIMEOUT;
	/* connection_exception, admin/crash shutdown, cannot_connect_now */
	if (strncmp(state, "08", 2) == 0 || strcmp(state, "57P01") == 0 ||
	    strcmp(state, "57P02") == 0 || strcmp(state, "57P03") == 0)
		return OVR_ERR_UNAVAILABLE;
	return OVR_ERR_DB;
}

/*
 * Sets the error for a failed query. res may be NULL (libpq could not even build a result).
 * Never uses the DETAIL field: "Key (name)=(web-1) already exists." quotes row values.
 */
static int db_fail(struct db *db, const PGresult *res, int nparams, const char *const *params)
{
	const char *state = NULL, *primary = NULL;
	char safe[512];

	if (res != NULL) {
		state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
		primary = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
	}
	if (primary == NULL)
		primary = res != NULL && PQresultErrorMessage(res)[0] != '\0'
		                  ? PQresultErrorMessage(res)
		                  : PQerrorMessage(db->conn);
	/*
	 * Redact the whole message before cutting it, so no piece of a value survives at the cut.
	 * A client-side message may run on into lines that are not ours to echo: keep the first.
	 */
	redact_params(safe, sizeof(safe), primary, nparams, params);
	safe[strcspn(safe, "\n")] = '\0';
	one_line(safe);
	ovr_strlcpy(db->sqlstate, state != NULL ? state : "", sizeof(db->sqlstate));

	if (PQstatus(db->conn) == CONNECTION_BAD) {
		log_warnx("db: connection lost sqlstate=%s: %s", state != NULL ? state : "-", safe);
		return ovr_err_set(OVR_ERR_UNAVAILABLE, "database: connection lost: %s", safe);
	}
	if (res != NULL && PQresultStatus(res) != PGRES_FATAL_ERROR &&
	    PQresultStatus(res) != PGRES_NONFATAL_ERROR)
		return ovr_err_set(OVR_ERR_INTERNAL, "database: unexpected result status %s",
		                   PQresStatus(PQresultStatus(res)));
	if (state == NULL)
		return ovr_err_set(OVR_ERR_DB, "database: %s", safe);
	return ovr_err_set(sqlstate_to_err(state), "database: %s (SQLSTATE %s)", safe, state);
}

/* Keeps res in *out if it is a success; else sets the error, frees res and returns the code. */
static int db_check(PGresult **out, struct db *db, PGresult *res, int nparams,
                    const char *const *params)
{
	ExecStatusType st = res != NULL ? PQresultStatus(res) : PGRES_FATAL_ERROR;
	int err;

	*out = NULL;
	if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK) {
		db->sqlstate[0] = '\0';
		db->last_err = 0;
		*out = res;
		return 0;
	}
	err = db_fail(db, res, nparams, params);
	db->last_err = err;
	PQclear(res);
	return err;
}

static int db_run(PGresult **out, struct db *db, const char *sql, int nparams,
                  const char *const *params)
{
	*out = NULL;
	if (nparams < 0 || (nparams > 0 && params == NULL))
		return db->last_err = ovr_err_set(OVR_ERR_INTERNAL,
		                                  "database: bad parameter list (%d)", nparams);
	return db_check(out, db, PQexecParams(db->conn, sql, nparams, NULL, params, NULL, NULL, 0),
	                nparams, params);
}

PGresult *db_query(struct db *db, const char *sql, int nparams, const char *const *params)
{
	PGresult *res;

	db_run(&res, db, sql, nparams, params);
	return res;
}

int db_exec(struct db *db, const char *sql, int nparams, const char *const *params)
{
	PGresult *res;
	int err = db_run(&res, db, sql, nparams, params);

	PQclear(res);
	return err;
}

/* Runs a statement nobody waits on the outcome of, without touching the error message. */
static void db_exec_quiet(struct db *db, const char *sql, int nparams, const char *const *params)
{
	PGresult *res = PQexecParams(db->conn, sql, nparams, NULL, params, NULL, NULL, 0);
	char msg[256];

	if (PQresultStatus(res) != PGRES_COMMAND_OK && PQresultStatus(res) != PGRES_TUPLES_OK) {
		ovr_strlcpy(msg, PQerrorMessage(db->conn), sizeof(msg));
		msg[strcspn(msg, "\n")] = '\0';
		log_warnx("db: %s failed: %s", sql, msg);
	}
	PQclear(res);
}

int db_reconnect_if_broken(struct db *db)
{
	char msg[512];
	const char *password;
	PGTransactionStatusType ts;

	if (PQstatus(db->conn) != CONNECTION_OK) {
		log_warnx("db: connection broken, reconnecting");
		PQreset(db->conn);
		if (PQstatus(db->conn) != CONNECTION_OK) {
			password = PQpass(db->conn);
			if (password != NULL && password[0] == '\0')
				password = NULL;
			redact_params(msg, sizeof(msg), PQerrorMessage(db->conn),
			              password != NULL ? 1 : 0, &password);
			one_line(msg);
			return ovr_err_set(OVR_ERR_UNAVAILABLE, "database: cannot reconnect: %s",
			                   msg);
		}
		log_info("db: reconnected");
		return 0;
	}
	ts = PQtransactionStatus(db->conn);
	if (ts == PQTRANS_INTRANS || ts == PQTRANS_INERROR) {
		log_warnx("db: a transaction was left open, rolling it back");
		db_exec_quiet(db, "ROLLBACK", 0, NULL);
	}
	return 0;
}

int db_begin(struct db *db)
{
	PGTransactionStatusType ts = PQtransactionStatus(db->conn);

	if (ts == PQTRANS_INTRANS || ts == PQTRANS_INERROR || ts == PQTRANS_ACTIVE)
		return ovr_err_set(OVR_ERR_INTERNAL, "database: BEGIN inside a transaction");
	return db_exec(db, "BEGIN", 0, NULL);
}

int db_commit(struct db *db)
{
	PGTransactionStatusType ts = PQtransactionStatus(db->conn);
	PGresult *res;
	int err;

	if (ts == PQTRANS_INERROR) {
		db_exec_quiet(db, "ROLLBACK", 0, NULL);
		return ovr_err_set(OVR_ERR_INTERNAL,
		                   "database: COMMIT of a failed transaction (rolled back)");
	}
	if (ts == PQTRANS_IDLE)
		return ovr_err_set(OVR_ERR_INTERNAL, "database: COMMIT outside a transaction");
	if (db->commit_hook) {
		int (*hook)(struct db *, void *) = db->commit_hook;

		/* Once: the first transaction a caller commits is the one the hook belongs to. */
		db->commit_hook = NULL;
		err = hook(db, db->commit_hook_arg);
		if (err) {
			char msg[1100];

			ovr_strlcpy(msg, ovr_err_msg(err), sizeof(msg));
			db_rollback(db);
			return ovr_err_set(err, "%s", msg);
		}
	}
	err = db_run(&res, db, "COMMIT", 0, NULL);
	if (err < 0)
		return err;
	/* PostgreSQL answers the COMMIT of an aborted transaction with the tag ROLLBACK. */
	if (strcmp(PQcmdStatus(res), "COMMIT") != 0)
		err = ovr_err_set(OVR_ERR_DB, "database: transaction rolled back at COMMIT");
	PQclear(res);
	return err;
}

void db_rollback(struct db *db)
{
	PGTransactionStatusType ts = PQtransactionStatus(db->conn);

	if (ts == PQTRANS_INTRANS || ts == PQTRANS_INERROR)
		db_exec_quiet(db, "ROLLBACK", 0, NULL);
}

int db_advisory_lock(struct db *db, int64_t key, int timeout_ms)
{
	char k[DB_INT64_SIZE], t[DB_INT64_SIZE];
	const char *kp[] = {k}, *tp[] = {t};
	int err;

	if (timeout_ms <= 0)
		return ovr_err_set(OVR_ERR_INTERNAL, "database: advisory lock without a deadline");
	db_param_int64(k, key);
	db_param_int64(t, timeout_ms);
	/* lock_timeout bounds the wait; RESET gives back the session's configured value. */
	err = db_exec(db, "SELECT set_config('lock_timeout', $1, false)", 1, tp);
	if (err < 0)
		return err;
	err = db_exec(db, "SELECT pg_advisory_lock($1::bigint)", 1, kp);
	if (err < 0 && strcmp(db->sqlstate, "55P03") == 0)
		err = db->last_err = ovr_err_set(OVR_ERR_TIMEOUT,
		                                 "database: advisory lock %" PRId64
		                                 " still held elsewhere after %d ms",
		                                 key, timeout_ms);
	if (err < 0) {
		db_exec_quiet(db, "RESET lock_timeout", 0, NULL);
		return err;
	}
	return db_exec(db, "RESET lock_timeout", 0, NULL);
}

/* Runs a statement returning one boolean into *out. */
static int db_query_bool(int *out, struct db *db, const char *sql, int nparams,
                         const char *const *params)
{
	PGresult *res;
	int err = db_run(&res, db, sql, nparams, params);

	if (err == 0)
		err = db_get_bool(out, res, 0, 0);
	PQclear(res);
	return err;
}

int db_advisory_trylock(int *acquired, struct db *db, int64_t key)
{
	char k[DB_INT64_SIZE];
	const char *kp[] = {k};

	*acquired = 0;
	db_param_int64(k, key);
	return db_query_bool(acquired, db, "SELECT pg_try_advisory_lock($1::bigint)", 1, kp);
}

int db_advisory_unlock(struct db *db, int64_t key)
{
	char k[DB_INT64_SIZE];
	const char *kp[] = {k};
	int held = 0, err;

	db_param_int64(k, key);
	err = db_query_bool(&held, db, "SELECT pg_advisory_unlock($1::bigint)", 1, kp);
	if (err == 0 && !held)
		err = ovr_err_set(OVR_ERR_INTERNAL,
		                  "database: advisory lock %" PRId64 " was not held", key);
	return err;
}

static int db_cell(const char **text, const PGresult *res, int row, int col)
{
	*text = NULL;
	if (res == NULL || row < 0 || col < 0 || row >= PQntuples(res) || col >= PQnfields(res))
		return ovr_err_set(OVR_ERR_INTERNAL, "database: no cell at row %d column %d", row,
		                   col);
	if (!PQgetisnull(res, row, col))
		*text = PQgetvalue(res, row, col);
	return 0;
}

int db_get_int64(int64_t *out, const PGresult *res, int row, int col)
{
	const char *text;
	char *end;
	long long v;
	int err;

	*out = 0;
	if ((err = db_cell(&text, res, row, col)) < 0 || text == NULL)
		return err;
	errno = 0;
	v = strtoll(text, &end, 10);
	if (errno != 0 || end == text || *end != '\0')
		return ovr_err_set(OVR_ERR_INTERNAL, "database: column %d is not an integer", col);
	*out = (int64_t)v;
	return 0;
}

int db_get_int(int *out, const PGresult *res, int row, int col)
{
	int64_t v;
	int err;

	*out = 0;
	if ((err = db_get_int64(&v, res, row, col)) < 0)
		return err;
	if (v < INT32_MIN || v > INT32_MAX)
		return ovr_err_set(OVR_ERR_INTERNAL, "database: column %d is out of int range",
		                   col);
	*out = (int)v;
	return 0;
}

int db_get_bool(int *out, const PGresult *res, int row, int col)
{
	const char *text;
	int err;

	*out = 0;
	if ((err = db_cell(&text, res, row, col)) < 0 || text == NULL)
		return err;
	if (strcmp(text, "t") != 0 && strcmp(text, "f") != 0)
		return ovr_err_set(OVR_ERR_INTERNAL, "database: column %d is not a boolean", col);
	*out = text[0] == 't';
	return 0;
}

const char *db_get_text(const PGresult *res, int row, int col)
{
	if (res == NULL || row < 0 || col < 0 || row >= PQntuples(res) || col >= PQnfields(res) ||
	    PQgetisnull(res, row, col))
		return NULL;
	return PQgetvalue(res, row, col);
}

const char *db_param_int64(char *buf, int64_t v)
{
	snprintf(buf, DB_INT64_SIZE, "%" PRId64, v);
	return buf;
}

/* How long db_migrate waits for another server's migration to finish. */
#define MIGRATE_LOCK_TIMEOUT_MS 120000

static const struct db_migration *migration_find(int version)
{
	size_t i;

	for (i = 0; i < db_migrations_count; i++)
		if (db_migrations[i].version == version)
			return &db_migrations[i];
	return NULL;
}

/* Applies one migration in its own transaction; the embedded file may hold many statements. */
static int migration_apply(struct db *db, const struct db_migration *m)
{
	char version[DB_INT64_SIZE], msg[1024];
	const char *params[] = {version, m->name};
	int64_t t0 = ovr_mono_ms();
	PGresult *res;
	int err;

	db_param_int64(version, m->version);
	if ((err = db_begin(db)) < 0)
		return err;
	/* PQexec, not PQexecParams: a script of several statements, compiled in, no parameters. */
	err = db_check(&res, db, PQexec(db->conn, m->sql), 0, NULL);
	PQclear(res);
	if (err < 0) {
		ovr_strlcpy(msg, ovr_err_msg(err), sizeof(msg));
		err = ovr_err_set(err, "migration %04d_%s: %s", m->version, m->name, msg);
		goto out;
	}
	err = db_exec(db, "INSERT INTO schema_migrations (version, name) VALUES ($1::int, $2)", 2,
	              params);
	if (err < 0)
		goto out;
	err = db_commit(db);
	if (err == 0)
		log_info("db: applied migration version=%d name=%s ms=%" PRId64, m->version,
		         m->name, ovr_mono_ms() - t0);
out:
	if (err < 0)
		db_rollback(db);
	return err;
}

int db_migrate(struct db *db)
{
	const struct db_migration *latest =
	        db_migrations_count > 0 ? &db_migrations[db_migrations_count - 1] : NULL;
	char key[DB_INT64_SIZE];
	const char *key_param[] = {key};
	PGresult *res = NULL;
	int locked = 0, applied = 0, err, i, n, v;
	size_t m;

	db_param_int64(key, DB_LOCK_MIGRATE);
	err = db_advisory_lock(db, DB_LOCK_MIGRATE, MIGRATE_LOCK_TIMEOUT_MS);
	if (err < 0)
		goto out;
	locked = 1;
	err = db_exec(db,
	              "CREATE TABLE IF NOT EXISTS schema_migrations ("
	              " version int PRIMARY KEY,"
	              " name text NOT NULL,"
	              " applied_at timestamptz NOT NULL DEFAULT now())",
	              0, NULL);
	if (err < 0)
		goto out;
	err = db_run(&res, db, "SELECT version FROM schema_migrations ORDER BY version", 0, NULL);
	if (err < 0)
		goto out;
	/* Check everything before applying anything: an unknown version means a newer binary ran.
	 */
	n = PQntuples(res);
	for (i = 0; i < n; i++) {
		if ((err = db_get_int(&v, res, i, 0)) < 0)
			goto out;
		if (migration_find(v) != NULL)
			continue;
		if (latest == NULL || v > latest->version)
			err = ovr_err_set(OVR_ERR_PRECONDITION,
			                  "the database has schema migration %d, newer than this "
			                  "ovr-server knows (up to %d): run the newer ovr-server",
			                  v, latest != NULL ? latest->version : 0);
		else
			err = ovr_err_set(
			        OVR_ERR_PRECONDITION,
			        "the database has schema migration %d, which this ovr-server "
			        "does not know: it was built from another source tree",
			        v);
		goto out;
	}
	for (m = 0; m < db_migrations_count; m++) {
		int found = 0;

		for (i = 0; i < n && !found; i++) {
			if ((err = db_get_int(&v, res, i, 0)) < 0)
				goto out;
			found = v == db_migrations[m].version;
		}
		if (found)
			continue;
		if ((err = migration_apply(db, &db_migrations[m])) < 0)
			goto out;
		applied++;
	}
	log_info("db: schema up to date version=%d applied=%d",
	         latest != NULL ? latest->version : 0, applied);
out:
	PQclear(res);
	/* The lock dies with the session anyway; unlock quietly so err keeps its message. */
	if (locked)
		db_exec_quiet(db, "SELECT pg_advisory_unlock($1::bigint)", 1, key_param);
	return err;
}
