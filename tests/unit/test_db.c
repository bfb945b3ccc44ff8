/* db and devpg against a real private PostgreSQL: migrations, errors, locks, cluster life. */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <pwd.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/evp.h>

#include "db.h"
#include "devpg.h"
#include "err.h"
#include "log.h"
#include "strutil.h"

#define MAX_CONNS 8

static int have_pg;
static char no_pg_reason[1024];
static char tmp_root[] = "/tmp/ovr-test-db-XXXXXX";
static int tmp_made;
static char data_dir[PATH_MAX];
static char conninfo[4096];
static struct devpg *pg;
static struct devpg *pg_fallback;
static char fallback_dir[PATH_MAX];
static struct db *conns[MAX_CONNS];
static pid_t squatter; /* a live process whose pid a stale postmaster.pid names */

#define REQUIRE_PG()                                                                               \
	do {                                                                                       \
		if (!have_pg) {                                                                    \
			print_message("skipped: %s\n", no_pg_reason);                              \
			skip();                                                                    \
		}                                                                                  \
	} while (0)

/* rm -rf without a shell; the tree holds files of the postgres user, which root may remove. */
static void remove_tree(const char *path)
{
	char child[PATH_MAX];
	struct dirent *de;
	struct stat st;
	DIR *d;

	if (lstat(path, &st) < 0)
		return;
	if (S_ISDIR(st.st_mode) && (d = opendir(path)) != NULL) {
		while ((de = readdir(d)) != NULL) {
			if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
				continue;
			if (snprintf(child, sizeof(child), "%s/%s", path, de->d_name) <
			    (int)sizeof(child))
				remove_tree(child);
		}
		closedir(d);
		rmdir(path);
		return;
	}
	unlink(path);
}

/* Opens a connection that the per-test teardown closes even when an assertion fails. */
static struct db *open_db(const char *ci)
{
	struct db *db = NULL;
	int i, err;

	err = db_open(&db, ci);
	if (err < 0)
		print_message("db_open: %s\n", ovr_err_msg(err));
	assert_int_equal(err, 0);
	for (i = 0; i < MAX_CONNS; i++)
		if (conns[i] == NULL) {
			conns[i] = db;
			return db;
		}
	db_close(db);
	fail_msg("too many connections in one test");
	return NULL;
}

static void close_db(struct db *db)
{
	int i;

	for (i = 0; i < MAX_CONNS; i++)
		if (conns[i] == db)
			conns[i] = NULL;
	db_close(db);
}

static int64_t query_int(struct db *db, const char *sql, int nparams, const char *const *params)
{
	PGresult *res = db_query(db, sql, nparams, params);
	int64_t v = -1;

	if (res == NULL)
		print_message("%s: %s\n", sql, ovr_err_msg(db_last_error(db)));
	assert_non_null(res);
	assert_int_equal(db_get_int64(&v, res, 0, 0), 0);
	PQclear(res);
	return v;
}

static void print_times(const char *what, const struct devpg *p)
{
	const struct devpg_info *info = devpg_info(p);

	print_message("devpg %s: initdb=%s initdb_ms=%lld start_ms=%lld dir=%s\n", what,
	              info->ran_initdb ? "yes" : "no", (long long)info->initdb_ms,
	              (long long)info->start_ms, info->cluster_dir);
}

static void cleanup_all(void)
{
	int i;

	for (i = 0; i < MAX_CONNS; i++) {
		db_close(conns[i]);
		conns[i] = NULL;
	}
	devpg_stop(pg_fallback);
	pg_fallback = NULL;
	devpg_stop(pg);
	pg = NULL;
	if (fallback_dir[0] != '\0')
		remove_tree(fallback_dir);
	if (tmp_made)
		remove_tree(tmp_root);
	tmp_made = 0;
}

static int group_setup(void **state)
{
	char bindir[PATH_MAX];
	int err;

	(void)state;
	log_init("test_db", LOG_LEVEL_INFO);
	err = devpg_find_bindir(bindir, sizeof(bindir));
	if (err < 0) {
		ovr_strlcpy(no_pg_reason, ovr_err_msg(err), sizeof(no_pg_reason));
		return 0;
	}
	/* The postgres user must reach the data dir: /tmp is 1777, our directories 0755/0711. */
	if (mkdtemp(tmp_root) == NULL)
		return -1;
	tmp_made = 1;
	if (chmod(tmp_root, 0755) < 0)
		goto fail;
	snprintf(data_dir, sizeof(data_dir), "%s/data", tmp_root);
	if (mkdir(data_dir, 0711) < 0)
		goto fail;
	err = devpg_start(&pg, data_dir, conninfo, sizeof(conninfo));
	if (err < 0) {
		print_message("devpg_start: %s\n", ovr_err_msg(err));
		goto fail;
	}
	print_times("first start", pg);
	have_pg = 1;
	return 0;
fail:
	cleanup_all();
	return -1;
}

static int group_teardown(void **state)
{
	(void)state;
	cleanup_all();
	return 0;
}

static int test_teardown(void **state)
{
	int i;

	(void)state;
	if (squatter > 0) {
		kill(squatter, SIGKILL);
		waitpid(squatter, NULL, 0);
		squatter = 0;
	}
	for (i = 0; i < MAX_CONNS; i++) {
		db_close(conns[i]);
		conns[i] = NULL;
	}
	return 0;
}

static void test_devpg_first_start(void **state)
{
	const struct devpg_info *info;
	struct stat st;

	(void)state;
	REQUIRE_PG();
	info = devpg_info(pg);
	assert_true(info->ran_initdb);
	assert_false(info->fallback);
	/* reachable data dir: the cluster is DATA_DIR/postgres, owned by the user that runs it */
	assert_true(strncmp(info->cluster_dir, tmp_root, strlen(tmp_root)) == 0);
	assert_non_null(strstr(info->cluster_dir, "/data/postgres"));
	assert_int_equal(stat(info->cluster_dir, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	if (geteuid() == 0)
		assert_int_not_equal(st.st_uid, 0);
	assert_non_null(strstr(conninfo, "dbname=overseer"));
	assert_non_null(strstr(conninfo, info->socket_dir));
}

static void test_migrate_idempotent(void **state)
{
	const char *tables[] = {"{nodes,revoked_serials,join_tokens,api_tokens,audit_events,"
	                        "server_meta}"};
	struct db *db;

	(void)state;
	REQUIRE_PG();
	db = open_db(conninfo);
	assert_true(db_migrations_count >= 1);
	assert_int_equal(db_migrations[0].version, 1);
	assert_string_equal(db_migrations[0].name, "init");

	assert_int_equal(db_migrate(db), 0);
	assert_int_equal(query_int(db, "SELECT count(*) FROM schema_migrations", 0, NULL),
	                 (int64_t)db_migrations_count);
	assert_int_equal(query_int(db,
	                           "SELECT count(*) FROM information_schema.tables WHERE "
	                           "table_schema = 'public' AND table_name = ANY($1::text[])",
	                           1, tables),
	                 6);
	/* second run: nothing to do, nothing changes */
	assert_int_equal(db_migrate(db), 0);
	assert_int_equal(query_int(db, "SELECT count(*) FROM schema_migrations", 0, NULL),
	                 (int64_t)db_migrations_count);
	assert_int_equal(query_int(db, "SELECT max(version) FROM schema_migrations", 0, NULL),
	                 db_migrations[db_migrations_count - 1].version);
}

struct migrate_job {
	const char *conninfo;
	pthread_barrier_t *barrier;
	int err;
	char msg[1024];
};

static void *migrate_thread(void *arg)
{
	struct migrate_job *job = arg;
	struct db *db = NULL;

	job->err = db_open(&db, job->conninfo);
	pthread_barrier_wait(job->barrier);
	if (job->err == 0)
		job->err = db_migrate(db);
	if (job->err < 0)
		ovr_strlcpy(job->msg, ovr_err_msg(job->err), sizeof(job->msg));
	db_close(db);
	return NULL;
}

static void test_migrate_concurrent(void **state)
{
	char ci[4200];
	pthread_barrier_t barrier;
	struct migrate_job jobs[2];
	pthread_t th[2];
	struct db *db;
	int i;

	(void)state;
	REQUIRE_PG();
	db = open_db(conninfo);
	assert_int_equal(db_exec(db, "DROP DATABASE IF EXISTS ovr_concurrent", 0, NULL), 0);
	assert_int_equal(db_exec(db, "CREATE DATABASE ovr_concurrent", 0, NULL), 0);
	/* a later keyword wins in a connection string */
	snprintf(ci, sizeof(ci), "%s dbname=ovr_concurrent", conninfo);

	assert_int_equal(pthread_barrier_init(&barrier, NULL, 2), 0);
	for (i = 0; i < 2; i++) {
		memset(&jobs[i], 0, sizeof(jobs[i]));
		jobs[i].conninfo = ci;
		jobs[i].barrier = &barrier;
		assert_int_equal(pthread_create(&th[i], NULL, migrate_thread, &jobs[i]), 0);
	}
	for (i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	pthread_barrier_destroy(&barrier);
	for (i = 0; i < 2; i++) {
		if (jobs[i].err < 0)
			print_message("migrate thread %d: %s\n", i, jobs[i].msg);
		assert_int_equal(jobs[i].err, 0);
	}
	/* Applied once: a second application would have failed on CREATE TABLE. */
	db = open_db(ci);
	assert_int_equal(query_int(db, "SELECT count(*) FROM schema_migrations", 0, NULL),
	                 (int64_t)db_migrations_count);
	assert_int_equal(query_int(db, "SELECT count(*) FROM nodes", 0, NULL), 0);
}

static void test_migrate_refuses_newer_schema(void **state)
{
	char ci[4200];
	struct db *db, *admin;
	const char *msg;

	(void)state;
	REQUIRE_PG();
	admin = open_db(conninfo);
	assert_int_equal(db_exec(admin, "DROP DATABASE IF EXISTS ovr_newer", 0, NULL), 0);
	assert_int_equal(db_exec(admin, "CREATE DATABASE ovr_newer", 0, NULL), 0);
	snprintf(ci, sizeof(ci), "%s dbname=ovr_newer", conninfo);
	db = open_db(ci);
	assert_int_equal(db_migrate(db), 0);
	assert_int_equal(db_exec(db,
	                         "INSERT INTO schema_migrations (version, name) VALUES (9999, "
	                         "'from_the_future')",
	                         0, NULL),
	                 0);
	assert_int_equal(db_migrate(db), OVR_ERR_PRECONDITION);
	msg = ovr_err_msg(OVR_ERR_PRECONDITION);
	assert_non_null(strstr(msg, "9999"));
	assert_non_null(strstr(msg, "newer"));
	/* refused before touching anything, and the advisory lock was released */
	assert_int_equal(query_int(db, "SELECT count(*) FROM schema_migrations", 0, NULL),
	                 (int64_t)db_migrations_count + 1);
	assert_int_equal(
	        query_int(db, "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'", 0, NULL),
	        0);
}

static void test_query_error_mapping(void **state)
{
	const char *kv[] = {"k-private-key-name", "v-s3cret-value"};
	const char *bad_int[] = {"hunter2-password"};
	const char *short_int[] = {"abc"};
	const char *role[] = {"root"};
	struct db *db;
	const char *msg;

	(void)state;
	REQUIRE_PG();
	db = open_db(conninfo);
	assert_int_equal(db_migrate(db), 0);
	assert_int_equal(db_exec(db, "DELETE FROM server_meta", 0, NULL), 0);
	assert_int_equal(db_exec(db, "INSERT INTO server_meta (key, value) VALUES ($1, $2)", 2, kv),
	                 0);

	/* duplicate key -> EXISTS; neither the key nor the value in the message */
	assert_null(db_query(db, "INSERT INTO server_meta (key, value) VALUES ($1, $2)", 2, kv));
	assert_int_equal(db_last_error(db), OVR_ERR_EXISTS);
	assert_int_equal(ovr_err_last(), OVR_ERR_EXISTS);
	assert_string_equal(db_last_sqlstate(db), "23505");
	msg = ovr_err_msg(OVR_ERR_EXISTS);
	print_message("duplicate key: %s\n", msg);
	assert_non_null(strstr(msg, "23505"));
	assert_non_null(strstr(msg, "server_meta_pkey"));
	assert_null(strstr(msg, "k-private-key-name"));
	assert_null(strstr(msg, "v-s3cret-value"));
	assert_int_equal(db_exec(db, "INSERT INTO server_meta (key, value) VALUES ($1, $2)", 2, kv),
	                 OVR_ERR_EXISTS);

	/* PostgreSQL quotes bad input in its primary message: the parameter is named, not shown */
	assert_int_equal(db_exec(db, "SELECT $1::int", 1, bad_int), OVR_ERR_DB);
	msg = ovr_err_msg(OVR_ERR_DB);
	print_message("bad input: %s\n", msg);
	assert_string_equal(db_last_sqlstate(db), "22P02");
	assert_null(strstr(msg, "hunter2"));
	assert_non_null(strstr(msg, "$1"));
	assert_int_equal(db_exec(db, "SELECT $1::int", 1, short_int), OVR_ERR_DB);
	msg = ovr_err_msg(OVR_ERR_DB);
	assert_null(strstr(msg, "\"abc\""));
	assert_non_null(strstr(msg, "\"$1\""));
	assert_non_null(strstr(msg, "integer")); /* the rest of the message stays intact */

	/* check constraint -> DB */
	assert_int_equal(db_exec(db,
	                         "INSERT INTO api_tokens (id, name, secret_hash, role, created_by) "
	                         "VALUES ('t1', 't1', '\\x00', $1, 'test')",
	                         1, role),
	                 OVR_ERR_DB);
	assert_string_equal(db_last_sqlstate(db), "23514");

	/* statement_timeout -> TIMEOUT */
	assert_int_equal(db_exec(db, "SET statement_timeout = 50", 0, NULL), 0);
	assert_int_equal(db_exec(db, "SELECT pg_sleep(2)", 0, NULL), OVR_ERR_TIMEOUT);
	assert_int_equal(db_exec(db, "RESET statement_timeout", 0, NULL), 0);

	/* a success clears the last error */
	assert_int_equal(query_int(db, "SELECT 1", 0, NULL), 1);
	assert_int_equal(db_last_error(db), 0);
	assert_string_equal(db_last_sqlstate(db), "");
}

static void test_conflict_and_transactions(void **state)
{
	const char *kv[] = {"conflict-key", "a"};
	const char *kv2[] = {"conflict-key", "b"};
	struct db *a, *b;
	char msg[1024];

	(void)state;
	REQUIRE_PG();
	a = open_db(conninfo);
	b = open_db(conninfo);
	assert_int_equal(db_migrate(a), 0);
	assert_int_equal(db_exec(a, "DELETE FROM server_meta WHERE key = $1", 1, kv), 0);
	assert_int_equal(db_exec(a, "INSERT INTO server_meta (key, value) VALUES ($1, $2)", 2, kv),
	                 0);

	/* A's snapshot predates B's committed update: A's update is a serialization failure */
	assert_int_equal(db_begin(a), 0);
	assert_int_equal(db_begin(a), OVR_ERR_INTERNAL);
	assert_int_equal(db_exec(a, "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ", 0, NULL), 0);
	assert_int_equal(query_int(a, "SELECT count(*) FROM server_meta", 0, NULL) >= 1, 1);
	assert_int_equal(db_exec(b, "UPDATE server_meta SET value = $2 WHERE key = $1", 2, kv2), 0);
	assert_int_equal(db_exec(a, "UPDATE server_meta SET value = $2 WHERE key = $1", 2, kv),
	                 OVR_ERR_CONFLICT);
	assert_string_equal(db_last_sqlstate(a), "40001");

	/* rolling back keeps the message of the failure */
	ovr_strlcpy(msg, ovr_err_msg(OVR_ERR_CONFLICT), sizeof(msg));
	db_rollback(a);
	assert_string_equal(ovr_err_msg(OVR_ERR_CONFLICT), msg);
	assert_int_equal(PQtransactionStatus(db_conn(a)), PQTRANS_IDLE);
	db_rollback(a); /* outside a transaction: nothing */

	/* COMMIT of a failed transaction is an error, not a silent rollback */
	assert_int_equal(db_begin(a), 0);
	assert_int_equal(db_exec(a, "SELECT 1/0", 0, NULL), OVR_ERR_DB);
	assert_int_equal(db_commit(a), OVR_ERR_INTERNAL);
	assert_int_equal(PQtransactionStatus(db_conn(a)), PQTRANS_IDLE);
	assert_int_equal(db_commit(a), OVR_ERR_INTERNAL);

	/* a committed transaction is visible to others */
	assert_int_equal(db_begin(a), 0);
	assert_int_equal(db_exec(a, "UPDATE server_meta SET value = $2 WHERE key = $1", 2, kv), 0);
	assert_int_equal(db_commit(a), 0);
	assert_int_equal(
	        query_int(b, "SELECT count(*) FROM server_meta WHERE value = $1", 1, kv + 1), 1);

	/* a transaction left open by a careless caller is rolled back before reuse */
	assert_int_equal(db_begin(a), 0);
	assert_int_equal(db_reconnect_if_broken(a), 0);
	assert_int_equal(PQtransactionStatus(db_conn(a)), PQTRANS_IDLE);
}

static void test_connection_loss_and_reconnect(void **state)
{
	char pid[DB_INT64_SIZE];
	const char *params[] = {pid};
	struct db *a, *b;

	(void)state;
	REQUIRE_PG();
	a = open_db(conninfo);
	b = open_db(conninfo);
	db_param_int64(pid, PQbackendPID(db_conn(a)));
	assert_int_equal(query_int(b,
	                           "SELECT count(*) FROM pg_stat_activity WHERE "
	                           "application_name = 'ovr-server' AND pid = $1::int",
	                           1, params),
	                 1);
	assert_int_equal(query_int(b, "SELECT pg_terminate_backend($1::int, 5000)::int", 1, params),
	                 1);
	assert_int_equal(db_exec(a, "SELECT 1", 0, NULL), OVR_ERR_UNAVAILABLE);
	print_message("connection lost: %s\n", ovr_err_msg(OVR_ERR_UNAVAILABLE));
	assert_int_equal(db_reconnect_if_broken(a), 0);
	assert_int_equal(query_int(a, "SELECT 41 + 1", 0, NULL), 42);
	assert_int_equal(db_reconnect_if_broken(a), 0); /* healthy: nothing to do */
}

static void test_advisory_locks(void **state)
{
	const int64_t key = INT64_C(0x746573742d6c636b); /* "test-lck" */
	struct db *a, *b;
	int got = -1;
	int64_t t0;

	(void)state;
	REQUIRE_PG();
	a = open_db(conninfo);
	b = open_db(conninfo);
	assert_int_equal(db_advisory_lock(a, key, 1000), 0);
	assert_int_equal(db_advisory_trylock(&got, b, key), 0);
	assert_int_equal(got, 0);
	t0 = ovr_mono_ms();
	assert_int_equal(db_advisory_lock(b, key, 200), OVR_ERR_TIMEOUT);
	assert_true(ovr_mono_ms() - t0 >= 150);
	assert_non_null(strstr(ovr_err_msg(OVR_ERR_TIMEOUT), "200 ms"));
	/* the session's lock_timeout is back to its default */
	assert_int_equal(
	        query_int(b, "SELECT (current_setting('lock_timeout') = '0')::int", 0, NULL), 1);
	assert_int_equal(db_advisory_unlock(a, key), 0);
	assert_int_equal(db_advisory_trylock(&got, b, key), 0);
	assert_int_equal(got, 1);
	assert_int_equal(db_advisory_unlock(b, key), 0);
	assert_int_equal(db_advisory_unlock(b, key), OVR_ERR_INTERNAL);
	assert_int_equal(db_advisory_lock(a, key, 0), OVR_ERR_INTERNAL);
}

static void test_value_helpers(void **state)
{
	char ms[DB_INT64_SIZE];
	const char *params[] = {ms};
	PGresult *res;
	struct db *db;
	int64_t v = -1;
	int b = -1, i = -1;

	(void)state;
	REQUIRE_PG();
	db = open_db(conninfo);
	res = db_query(
	        db,
	        "SELECT " DB_MS(
	                "'2026-11-23T10:00:00.123Z'::timestamptz") ", true, false, "
	                                                           "NULL::bigint, "
	                                                           "NULL::timestamptz, 'text', "
	                                                           "'x'::text, 7::int",
	        0, NULL);
	assert_non_null(res);
	assert_int_equal(db_get_int64(&v, res, 0, 0), 0);
	assert_int_equal(v, INT64_C(1795428000123));
	assert_int_equal(db_get_bool(&b, res, 0, 1), 0);
	assert_int_equal(b, 1);
	assert_int_equal(db_get_bool(&b, res, 0, 2), 0);
	assert_int_equal(b, 0);
	v = -1;
	assert_int_equal(db_get_int64(&v, res, 0, 3), 0); /* NULL reads as 0 */
	assert_int_equal(v, 0);
	assert_null(db_get_text(res, 0, 4));
	assert_string_equal(db_get_text(res, 0, 5), "text");
	assert_int_equal(db_get_int64(&v, res, 0, 6), OVR_ERR_INTERNAL); /* not a number */
	assert_int_equal(db_get_bool(&b, res, 0, 6), OVR_ERR_INTERNAL);
	assert_int_equal(db_get_int(&i, res, 0, 7), 0);
	assert_int_equal(i, 7);
	assert_int_equal(db_get_int(&i, res, 1, 0), OVR_ERR_INTERNAL); /* no such row */
	assert_null(db_get_text(res, 0, 99));
	PQclear(res);

	/* unix ms survives a round trip through timestamptz */
	db_param_int64(ms, INT64_C(1795428000123));
	assert_int_equal(query_int(db, "SELECT " DB_MS(DB_FROM_MS("$1")), 1, params),
	                 INT64_C(1795428000123));
	assert_string_equal(db_param_int64(ms, INT64_MIN), "-9223372036854775808");
}

static void test_open_never_shows_password(void **state)
{
	struct db *db = NULL;
	int err;

	(void)state;
	REQUIRE_PG();
	err = db_open(&db, "host=/nonexistent-ovr-dir port=5432 dbname=x user=u "
	                   "password=hunter2-pw connect_timeout=2");
	assert_int_equal(err, OVR_ERR_UNAVAILABLE);
	assert_null(db);
	print_message("unreachable: %s\n", ovr_err_msg(err));
	assert_null(strstr(ovr_err_msg(err), "hunter2"));
	assert_non_null(strstr(ovr_err_msg(err), "nonexistent-ovr-dir"));

	/* libpq's URI parser would quote the whole URI, password included */
	err = db_open(&db, "postgresql://u:hunter2-pw@[::1/db");
	assert_int_equal(err, OVR_ERR_CONFIG);
	assert_null(strstr(ovr_err_msg(err), "hunter2"));
	err = db_open(&db, "host=/tmp bogus_option=1");
	assert_int_equal(err, OVR_ERR_CONFIG);
	assert_non_null(strstr(ovr_err_msg(err), "bogus_option"));
}

static void test_devpg_refuses_second_server(void **state)
{
	char ci[4096];
	struct devpg *second = NULL;
	int err;

	(void)state;
	REQUIRE_PG();
	err = devpg_start(&second, data_dir, ci, sizeof(ci));
	if (err == 0)
		devpg_stop(second);
	assert_int_equal(err, OVR_ERR_PRECONDITION);
	print_message("second server: %s\n", ovr_err_msg(err));
	assert_non_null(strstr(ovr_err_msg(err), "already running"));
	/* and the first one still serves */
	assert_int_equal(query_int(open_db(conninfo), "SELECT 1", 0, NULL), 1);
}

static void test_devpg_restart_reuses_cluster(void **state)
{
	char ci[4096];
	struct db *db;
	int err;

	(void)state;
	REQUIRE_PG();
	db = open_db(conninfo);
	assert_int_equal(db_migrate(db), 0);
	close_db(db);
	assert_int_equal(devpg_stop(pg), 0);
	pg = NULL;

	if (geteuid() == 0) {
		/* an existing cluster the postgres user can no longer reach: say so, do not move it
		 */
		assert_int_equal(chmod(tmp_root, 0700), 0);
		err = devpg_start(&pg, data_dir, ci, sizeof(ci));
		assert_int_equal(chmod(tmp_root, 0755), 0);
		assert_int_equal(err, OVR_ERR_PERMISSION);
		assert_null(pg);
		print_message("unreachable cluster: %s\n", ovr_err_msg(err));
		assert_non_null(strstr(ovr_err_msg(err), tmp_root));
	}
	err = devpg_start(&pg, data_dir, ci, sizeof(ci));
	if (err < 0)
		print_message("devpg_start: %s\n", ovr_err_msg(err));
	assert_int_equal(err, 0);
	print_times("restart", pg);
	assert_false(devpg_info(pg)->ran_initdb);
	assert_string_equal(ci, conninfo);
	db = open_db(conninfo);
	assert_int_equal(query_int(db, "SELECT count(*) FROM schema_migrations", 0, NULL),
	                 (int64_t)db_migrations_count);
	assert_int_equal(db_migrate(db), 0);
}

static void test_devpg_recovers_after_crash(void **state)
{
	char pidfile[PATH_MAX + 32], ci[4096], *end;
	FILE *f;
	long pid = 0;
	int err, i;

	(void)state;
	REQUIRE_PG();
	snprintf(pidfile, sizeof(pidfile), "%s/postmaster.pid", devpg_info(pg)->cluster_dir);
	f = fopen(pidfile, "r");
	assert_non_null(f);
	assert_non_null(fgets(ci, sizeof(ci), f));
	fclose(f);
	pid = strtol(ci, &end, 10);
	assert_true(pid > 1);
	/* kill -9 the postmaster: a crash that leaves postmaster.pid and shared memory behind */
	assert_int_equal(kill((pid_t)pid, SIGKILL), 0);
	for (i = 0; i < 500 && kill((pid_t)pid, 0) == 0; i++)
		usleep(10000);
	assert_int_not_equal(kill((pid_t)pid, 0), 0);
	devpg_stop(pg); /* fails (nothing to stop) but frees */
	pg = NULL;

	err = devpg_start(&pg, data_dir, ci, sizeof(ci));
	if (err < 0)
		print_message("devpg_start after crash: %s\n", ovr_err_msg(err));
	assert_int_equal(err, 0);
	print_times("start after crash", pg);
	assert_false(devpg_info(pg)->ran_initdb);
	assert_int_equal(
	        query_int(open_db(conninfo), "SELECT count(*) FROM schema_migrations", 0, NULL),
	        (int64_t)db_migrations_count);
}

static void test_devpg_clears_pid_file_of_other_program(void **state)
{
	char pidfile[PATH_MAX + 32], cluster[PATH_MAX], ci[4096];
	struct passwd *pw = NULL;
	FILE *f;
	int err;

	(void)state;
	REQUIRE_PG();
	ovr_strlcpy(cluster, devpg_info(pg)->cluster_dir, sizeof(cluster));
	snprintf(pidfile, sizeof(pidfile), "%s/postmaster.pid", cluster);
	assert_int_equal(devpg_stop(pg), 0);
	pg = NULL;
	/*
	 * A crash left postmaster.pid behind and its pid now belongs to another live program of the
	 * same user. postgres then refuses to start ("lock file already exists"): devpg must see
	 * that the pid is no postgres and clear the file.
	 */
	if (geteuid() == 0)
		assert_non_null(pw = getpwnam("postgres"));
	squatter = fork();
	assert_true(squatter >= 0);
	if (squatter == 0) {
		if (pw != NULL && (setgid(pw->pw_gid) != 0 || setuid(pw->pw_uid) != 0))
			_exit(1);
		for (;;)
			pause();
	}
	f = fopen(pidfile, "w");
	assert_non_null(f);
	fprintf(f, "%ld\n%s\n", (long)squatter, cluster);
	fclose(f);
	err = devpg_start(&pg, data_dir, ci, sizeof(ci));
	if (err < 0)
		print_message("devpg_start: %s\n", ovr_err_msg(err));
	assert_int_equal(err, 0);
	assert_false(devpg_info(pg)->ran_initdb);
	assert_int_equal(query_int(open_db(conninfo), "SELECT 1", 0, NULL), 1);
}

static void test_devpg_fallback_for_unreachable_dir(void **state)
{
	char priv[PATH_MAX / 2], dir[PATH_MAX], abs[PATH_MAX], ci[4096], hex[17];
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int md_len = 0;
	const struct devpg_info *info;
	struct stat st;
	int err;

	(void)state;
	REQUIRE_PG();
	if (geteuid() != 0) {
		print_message("skipped: the fallback is for root only\n");
		skip();
	}
	/* like /root: a 0700 parent the postgres user cannot search */
	snprintf(priv, sizeof(priv), "%s/private", tmp_root);
	assert_int_equal(mkdir(priv, 0700), 0);
	snprintf(dir, sizeof(dir), "%s/data", priv);
	assert_int_equal(mkdir(dir, 0755), 0);
	assert_non_null(realpath(dir, abs));
	assert_int_equal(EVP_Digest(abs, strlen(abs), md, &md_len, EVP_sha256(), NULL), 1);
	ovr_hex_encode(hex, md, 8);
	snprintf(fallback_dir, sizeof(fallback_dir), "/var/lib/overseer-dev/%s", hex);
	remove_tree(fallback_dir); /* left over from a killed run */

	err = devpg_start(&pg_fallback, dir, ci, sizeof(ci));
	if (err < 0)
		print_message("devpg_start: %s\n", ovr_err_msg(err));
	assert_int_equal(err, 0);
	print_times("fallback first start", pg_fallback);
	info = devpg_info(pg_fallback);
	assert_true(info->fallback);
	assert_true(info->ran_initdb);
	assert_string_equal(info->cluster_dir, fallback_dir);
	assert_int_equal(stat(fallback_dir, &st), 0);
	assert_int_not_equal(st.st_uid, 0);
	assert_int_equal(query_int(open_db(ci), "SELECT 1", 0, NULL), 1);
	test_teardown(NULL);

	/* the cluster stays in the fallback across restarts */
	assert_int_equal(devpg_stop(pg_fallback), 0);
	pg_fallback = NULL;
	err = devpg_start(&pg_fallback, dir, ci, sizeof(ci));
	assert_int_equal(err, 0);
	print_times("fallback restart", pg_fallback);
	assert_true(devpg_info(pg_fallback)->fallback);
	assert_false(devpg_info(pg_fallback)->ran_initdb);
	assert_int_equal(devpg_stop(pg_fallback), 0);
	pg_fallback = NULL;
	remove_tree(fallback_dir);
	fallback_dir[0] = '\0';
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_teardown(test_devpg_first_start, test_teardown),
	        cmocka_unit_test_teardown(test_migrate_idempotent, test_teardown),
	        cmocka_unit_test_teardown(test_migrate_concurrent, test_teardown),
	        cmocka_unit_test_teardown(test_migrate_refuses_newer_schema, test_teardown),
	        cmocka_unit_test_teardown(test_query_error_mapping, test_teardown),
	        cmocka_unit_test_teardown(test_conflict_and_transactions, test_teardown),
	        cmocka_unit_test_teardown(test_connection_loss_and_reconnect, test_teardown),
	        cmocka_unit_test_teardown(test_advisory_locks, test_teardown),
	        cmocka_unit_test_teardown(test_value_helpers, test_teardown),
	        cmocka_unit_test_teardown(test_open_never_shows_password, test_teardown),
	        cmocka_unit_test_teardown(test_devpg_refuses_second_server, test_teardown),
	        cmocka_unit_test_teardown(test_devpg_restart_reuses_cluster, test_teardown),
	        cmocka_unit_test_teardown(test_devpg_recovers_after_crash, test_teardown),
	        cmocka_unit_test_teardown(test_devpg_clears_pid_file_of_other_program,
	                                  test_teardown),
	        cmocka_unit_test_teardown(test_devpg_fallback_for_unreachable_dir, test_teardown),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
