/* `ovr-server rotate-master-key`: a new secrets master key, every data key re-wrapped under it. */
#include "rotate_key.h"

#include "crypto.h"
#include "db.h"
#include "devpg.h"
#include "err.h"
#include "fsutil.h"
#include "secret_box.h"
#include "server.h"
#include "strutil.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define BATCH        "500" /* rows per SELECT: memory stays bounded */
#define KEY_FILE_MAX 128
#define WRAPPED_MAX  256 /* bytes of a stored wrapped key (60 today) */
#define LOCK_TIMEOUT "60s"

/* The steps as docs/security.md numbers them; connecting comes before step 1. */
enum step { STEP_CONNECT, STEP_NEW_KEY, STEP_REWRAP, STEP_SWAP, STEP_RETIRE };
static const char *const step_name[] = {"connecting to the database", "write master.key.next",
                                        "re-wrap the data keys", "swap the key files",
                                        "retire the old key"};

struct rotation {
	struct server *srv;
	char next_path[PATH_MAX];
	char prev_path[PATH_MAX];
	struct secret_keyring *kr;
	struct db *db;
	char old_id[SECRET_KEY_ID_LEN + 1];
	char new_id[SECRET_KEY_ID_LEN + 1];
};

static int step_failed(enum step step, int err)
{
	if (step == STEP_CONNECT)
		return ovr_err_set(err, "rotate-master-key: %s: %s", step_name[step],
		                   ovr_err_msg(err));
	return ovr_err_set(err, "rotate-master-key: step %d (%s): %s", (int)step, step_name[step],
	                   ovr_err_msg(err));
}

static int connect_db(struct rotation *r, int dev)
{
	char conninfo[PATH_MAX + 128];
	int got = 0, err;

	if (dev)
		err = devpg_conninfo_running(conninfo, sizeof(conninfo), r->srv->settings.data_dir);
	else
		err = ovr_strlcpy(conninfo, r->srv->settings.database_url, sizeof(conninfo)) <
		                      sizeof(conninfo)
		              ? 0
		              : ovr_err_set(OVR_ERR_CONFIG, "database_url: too long");
	if (err == 0)
		err = db_open(&r->db, conninfo);
	if (err == 0)
		err = db_advisory_trylock(&got, r->db, ROTATE_KEY_LOCK_RUN);
	if (err == 0 && !got)
		err = ovr_err_set(OVR_ERR_CONFLICT,
		                  "another rotate-master-key is running on this database");
	return err;
}

/* Step 1: the new key in master.key.next, or the one an interrupted run left there. */
static int new_key(struct rotation *r)
{
	const char *master = r->srv->paths.master_key;
	int err;

	if ((err = secret_keyring_load(&r->kr, master)) < 0)
		return err;
	ovr_strlcpy(r->old_id, secret_keyring_current_id(r->kr), sizeof(r->old_id));
	if (fs_exists(r->next_path)) {
		if ((err = secret_key_file_id(r->new_id, r->next_path)) < 0)
			return err;
		if (strcmp(r->new_id, r->old_id) != 0) {
			printf("resuming the rotation to key %s that an interrupted run left in "
			       "%s\n",
			       r->new_id, r->next_path);
			return 0;
		}
		/* A finished rotation that crashed before removing its copy. */
		if (unlink(r->next_path) < 0)
			return ovr_err_set(OVR_ERR_IO, "%s: %s", r->next_path, strerror(errno));
	}
	if ((err = secret_key_file_create(r->new_id, r->next_path)) < 0)
		return err;
	if ((err = secret_keyring_refresh(r->kr)) < 0)
		return err;
	if (!secret_keyring_has(r->kr, r->new_id))
		return ovr_err_set(OVR_ERR_INTERNAL, "%s: the new key did not load", r->next_path);
	printf("wrote the new master key (id %s) to %s\n", r->new_id, r->next_path);
	return 0;
}

/* Re-wraps one row's data key under the new key and stores it. */
static int rewrap_row(struct rotation *r, const PGresult *res, int row)
{
	unsigned char wrapped[WRAPPED_MAX];
	char hex[2 * WRAPPED_MAX + 1], ver[DB_INT64_SIZE];
	const char *name = db_get_text(res, row, 0);
	const char *key_id = db_get_text(res, row, 2);
	const char *wrapped_hex = db_get_text(res, row, 3);
	struct secret_sealed in, out;
	int version = 0, err;

	memset(&in, 0, sizeof(in));
	memset(&out, 0, sizeof(out));
	if ((err = db_get_int(&version, res, row, 1)) < 0)
		return err;
	if (name == NULL || key_id == NULL || wrapped_hex == NULL ||
	    strlen(wrapped_hex) > 2 * WRAPPED_MAX || strlen(wrapped_hex) % 2 != 0 ||
	    ovr_hex_decode(wrapped, strlen(wrapped_hex) / 2, wrapped_hex) < 0)
		return ovr_err_set(OVR_ERR_CRYPTO,
		                   "secret %s version %d: malformed stored data key",
		                   name != NULL ? name : "?", version);
	ovr_strlcpy(in.key_id, key_id, sizeof(in.key_id));
	in.wrapped_key = wrapped;
	in.wrapped_len = strlen(wrapped_hex) / 2;
	if (strlen(key_id) != SECRET_KEY_ID_LEN || !secret_keyring_has(r->kr, key_id))
		return ovr_err_set(
		        OVR_ERR_CRYPTO,
		        "secret %s version %d is sealed under master key id %.32s, which "
		        "no key file holds; put that key file back as %s and run again",
		        name, version, key_id, r->prev_path);
	err = secret_rewrap(r->kr, name, version, &in, r->new_id, &out);
	if (err == 0) {
		const char *params[] = {name, db_param_int64(ver, version), out.key_id, hex};
		PGresult *upd;

		ovr_hex_encode(hex, out.wrapped_key, out.wrapped_len);
		upd = db_query(r->db,
		               "UPDATE secret_versions SET key_id = $3, wrapped_key = decode($4, "
		               "'hex') WHERE name = $1 AND version = $2::int",
		               4, params);
		if (upd == NULL)
			err = db_last_error(r->db);
		else if (strcmp(PQcmdTuples(upd), "1") != 0)
			err = ovr_err_set(OVR_ERR_INTERNAL, "secret %s version %d: row vanished",
			                  name, version);
		PQclear(upd);
	}
	secret_sealed_free(&out);
	return err;
}

/* Step 2: one transaction re-wraps every data key not yet under the new key, BATCH at a time. */
static int rewrap_all(struct rotation *r)
{
	const char *params[] = {r->new_id};
	PGresult *res = NULL;
	int64_t done = 0;
	int err, i, n;

	if ((err = db_begin(r->db)) < 0)
		return err;
	for (;;) {
		res = db_query(
		        r->db,
		        "SELECT name, version, key_id, encode(wrapped_key, 'hex') "
		        "FROM secret_versions WHERE key_id <> $1 AND octet_length(wrapped_key) "
		        "> 0 ORDER BY name, version LIMIT " BATCH " FOR UPDATE",
		        1, params);
		if (res == NULL) {
			err = db_last_error(r->db);
			break;
		}
		n = PQntuples(res);
		for (i = 0; i < n && err == 0; i++)
			err = rewrap_row(r, res, i);
		PQclear(res);
		if (err < 0 || n == 0)
			break;
		done += n;
	}
	if (err == 0)
		err = db_commit(r->db);
	else
		db_rollback(r->db);
	if (err == 0)
		printf("re-wrapped %" PRId64 " data keys\n", done);
	return err;
}

/* Rows whose wrapped key is under key_id (or, with `other`, under neither key). */
static int count_rows(int64_t *out, struct rotation *r, const char *key_id, int other)
{
	const char *params[] = {key_id, r->new_id};
	PGresult *res;
	int err;

	res = db_query(r->db,
	               other ? "SELECT count(*) FROM secret_versions WHERE key_id <> $1 AND key_id "
	                       "<> $2 AND octet_length(wrapped_key) > 0"
	                     : "SELECT count(*) FROM secret_versions WHERE key_id = $1 AND "
	                       "octet_length(wrapped_key) > 0",
	               other ? 2 : 1, params);
	if (res == NULL)
		return db_last_error(r->db);
	err = db_get_int64(out, res, 0, 0);
	PQclear(res);
	return err;
}

static int copy_key_file(const char *to, const char *from)
{
	char *text = NULL;
	size_t len = 0;
	int err;

	err = fs_read_file(&text, &len, from, KEY_FILE_MAX);
	if (err == 0)
		err = fs_write_file_atomic(to, text, len, 0600);
	if (text != NULL)
		crypto_wipe(text, len);
	free(text);
	return err;
}

/*
 * Steps 3 and 4, holding ROTATE_KEY_LOCK_SEAL so no server seals meanwhile: master.key is copied
 * to .prev, .next replaces master.key (each write atomic, so master.key always exists), and
 * .prev goes when no row uses the old key any more.
 */
static int swap_and_retire(struct rotation *r, enum step *step)
{
	const char *master = r->srv->paths.master_key;
	int64_t n = 0;
	int err;

	if ((err = db_begin(r->db)) < 0)
		return err;
	err = db_exec(r->db, "SET LOCAL lock_timeout = '" LOCK_TIMEOUT "'", 0, NULL);
	if (err == 0)
		err = db_exec(r->db, "SELECT pg_advisory_xact_lock(" ROTATE_KEY_LOCK_SEAL_SQL ")",
		              0, NULL);
	if (err == 0)
		err = count_rows(&n, r, r->old_id, 1);
	if (err == 0 && n > 0)
		err = ovr_err_set(OVR_ERR_CONFLICT,
		                  "%" PRId64
		                  " data keys are under neither the old nor the new key; "
		                  "run rotate-master-key again",
		                  n);
	if (err == 0)
		err = copy_key_file(r->prev_path, master);
	if (err == 0)
		err = copy_key_file(master, r->next_path);
	if (err == 0 && unlink(r->next_path) < 0 && errno != ENOENT)
		err = ovr_err_set(OVR_ERR_IO, "%s: %s", r->next_path, strerror(errno));
	if (err < 0)
		goto out;
	printf("%s now holds key %s; the old key %s is in %s\n", master, r->new_id, r->old_id,
	       r->prev_path);

	*step = STEP_RETIRE;
	if ((err = count_rows(&n, r, r->old_id, 0)) < 0)
		goto out;
	if (n > 0) {
		printf("kept %s: %" PRId64 " data keys were sealed under key %s during the "
		       "rotation; run rotate-master-key again to re-wrap them\n",
		       r->prev_path, n, r->old_id);
	} else if (unlink(r->prev_path) < 0) {
		err = ovr_err_set(OVR_ERR_IO, "%s: %s", r->prev_path, strerror(errno));
	} else {
		printf("removed %s: no data key uses key %s any more\n", r->prev_path, r->old_id);
	}
	if (err == 0)
		err = db_commit(r->db);
out:
	if (err < 0)
		db_rollback(r->db);
	return err;
}

int rotate_key_run(struct server *srv, int dev)
{
	struct rotation r;
	enum step step = STEP_CONNECT;
	int err;

	memset(&r, 0, sizeof(r));
	r.srv = srv;
	if ((size_t)snprintf(r.next_path, sizeof(r.next_path), "%s.next", srv->paths.master_key) >=
	            sizeof(r.next_path) ||
	    (size_t)snprintf(r.prev_path, sizeof(r.prev_path), "%s.prev", srv->paths.master_key) >=
	            sizeof(r.prev_path))
		return ovr_err_set(OVR_ERR_INVALID, "%s: path too long", srv->paths.master_key);
	/* The database first: an unreachable one must not leave a new key file behind. */
	err = connect_db(&r, dev);
	if (err == 0) {
		step = STEP_NEW_KEY;
		err = new_key(&r);
	}
	fflush(stdout);
	if (err == 0) {
		step = STEP_REWRAP;
		err = rewrap_all(&r);
	}
	fflush(stdout);
	if (err == 0) {
		step = STEP_SWAP;
		err = swap_and_retire(&r, &step);
	}
	if (err == 0)
		printf("rotated the secrets master key: %s -> %s\n", r.old_id, r.new_id);
	else
		err = step_failed(step, err);
	fflush(stdout);
	db_close(r.db);
	secret_keyring_free(r.kr);
	return err;
}
