/* The secret store's rows: sealed versions, metadata, and pinning references at deploy. */
#include "db_secret.h"

#include "db_row.h"
#include "err.h"
#include "rotate_key.h"
#include "strutil.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* bytes as a bytea parameter in PostgreSQL's hex form (arena). */
static char *bytea_param(struct arena *a, const unsigned char *bytes, size_t len)
{
	char *hex = arena_alloc(a, 2 * len + 3);

	memcpy(hex, "\\x", 2);
	ovr_hex_encode(hex + 2, bytes, len);
	return hex;
}

/* A bytea cell decoded into the arena; OVR_ERR_DB if it is not in hex form. */
static int bytea_cell(struct arena *a, const PGresult *res, int row, int col, unsigned char **out,
                      size_t *len_out)
{
	const char *text = db_get_text(res, row, col);
	size_t hex_len;

	if (!text || strncmp(text, "\\x", 2) != 0 || (hex_len = strlen(text + 2)) % 2)
		return ovr_err_set(OVR_ERR_DB, "a sealed secret column is not bytea hex");
	*len_out = hex_len / 2;
	*out = arena_alloc(a, *len_out + 1);
	if (ovr_hex_decode(*out, *len_out, text + 2) != 0)
		return ovr_err_set(OVR_ERR_DB, "a sealed secret column is not bytea hex");
	return 0;
}

/* The apps whose current version references the secret, as a JSON array expression. */
#define USED_BY(secret)                                                                            \
	"(SELECT coalesce(jsonb_agg(a.name ORDER BY a.name), '[]')::text FROM apps a JOIN "        \
	"app_versions v ON v.app = a.name AND v.version = a.current_version WHERE a.deleted_at "   \
	"IS NULL AND v.secrets @> jsonb_build_array(jsonb_build_object('secret', " secret ")))"

#define SECRET_COLUMNS                                                                                         \
	"s.name, s.current_version, coalesce(sv.created_by, s.created_by), " DB_MS("s.created_at") ", " DB_MS( \
	        "coalesce(sv.created_at, s.updated_at)") ", " USED_BY("s.name") " FROM secrets s "             \
	                                                                        "LEFT JOIN "                   \
	                                                                        "secret_versions "             \
	                                                                        "sv ON sv.name = "             \
	                                                                        "s.name AND "                  \
	                                                                        "sv.version = "                \
	                                                                        "s.current_"                   \
	                                                                        "version"

static Overseer__V1__Secret *secret_from_row(struct arena *a, const PGresult *res, int row)
{
	Overseer__V1__Secret *s = arena_alloc(a, sizeof(*s));
	json_t *used =
	        json_loads(db_get_text(res, row, 5) ? db_get_text(res, row, 5) : "[]", 0, NULL);
	size_t i, n = json_is_array(used) ? json_array_size(used) : 0;

	overseer__v1__secret__init(s);
	s->name = db_cell(a, res, row, 0);
	s->version = db_cell_int(res, row, 1);
	s->created_by = db_cell(a, res, row, 2);
	s->created_unix_ms = db_cell_int64(res, row, 3);
	s->updated_unix_ms = db_cell_int64(res, row, 4);
	s->used_by = arena_calloc(a, n + 1, sizeof(char *));
	for (i = 0; i < n; i++) {
		const char *app = json_string_value(json_array_get(used, i));

		s->used_by[i] = arena_strdup(a, app ? app : "");
	}
	s->n_used_by = n;
	json_decref(used);
	return s;
}

static int secret_read(struct db *db, struct arena *a, const char *name, Overseer__V1__Secret **out)
{
	const char *params[1] = {name};
	PGresult *res;

	res = db_query(db, "SELECT " SECRET_COLUMNS " WHERE s.name = $1 AND s.deleted_at IS NULL",
	               1, params);
	if (!res)
		return ovr_err_last();
	if (PQntuples(res) == 0) {
		PQclear(res);
		return ovr_err_set(OVR_ERR_NOT_FOUND, "secret '%.80s' not found", name);
	}
	*out = secret_from_row(a, res, 0);
	PQclear(res);
	return 0;
}

static int put_locked(struct db *db, struct arena *a, struct secret_keyring *kr, const char *name,
                      const void *value, size_t len, const char *actor)
{
	struct secret_sealed sealed = {0};
	char ver[DB_INT64_SIZE];
	const char *params[6];
	int32_t version;
	PGresult *res;
	int err;

	params[0] = name;
	params[1] = actor;
	err = db_exec(
	        db,
	        "INSERT INTO secrets (name, created_by) VALUES ($1, $2) ON CONFLICT (name) DO "
	        "NOTHING",
	        2, params);
	if (err)
		return err;
	/* The row lock serialises puts of one secret: each gets its own N+1. */
	res = db_query(db, "SELECT current_version FROM secrets WHERE name = $1 FOR UPDATE", 1,
	               params);
	if (!res)
		return ovr_err_last();
	version = (int32_t)db_cell_int(res, 0, 0) + 1;
	PQclear(res);
	/* Shared with other puts; a rotation swapping the key files waits for this commit. */
	err = db_exec(db, "SELECT pg_advisory_xact_lock_shared(" ROTATE_KEY_LOCK_SEAL_SQL ")", 0,
	              NULL);
	if (!err)
		err = secret_seal(kr, name, version, value, len, &sealed);
	if (err)
		return err;
	params[1] = db_param_int64(ver, version);
	params[2] = sealed.key_id;
	params[3] = bytea_param(a, sealed.wrapped_key, sealed.wrapped_len);
	params[4] = bytea_param(a, sealed.ciphertext, sealed.ciphertext_len);
	params[5] = actor;
	secret_sealed_free(&sealed);
	err = db_exec(
	        db,
	        "INSERT INTO secret_versions (name, version, key_id, wrapped_key, ciphertext, "
	        "created_by) VALUES ($1, $2::int, $3, $4::bytea, $5::bytea, $6)",
	        6, params);
	if (!err)
		err = db_exec(db,
		              "UPDATE secrets SET current_version = $2::int, updated_at = now(), "
		              "deleted_at = NULL WHERE name = $1",
		              2, params);
	return err;
}

int db_secret_put(struct db *db, struct arena *a, struct secret_keyring *kr, const char *name,
                  const void *value, size_t len, const char *actor, Overseer__V1__Secret **out)
{
	int err;

	err = db_begin(db);
	if (err)
		return err;
	err = put_locked(db, a, kr, name, value, len, actor);
	if (err) {
		db_rollback(db);
		return err;
	}
	err = db_commit(db);
	return err ? err : secret_read(db, a, name, out);
}

int db_secret_list(struct db *db, struct arena *a, const char *after_name, int limit,
                   Overseer__V1__Secret ***out, size_t *n_out)
{
	char lim[DB_INT64_SIZE];
	const char *params[2] = {after_name ? after_name : "", db_param_int64(lim, limit)};
	PGresult *res;
	int i, rows;

	res = db_query(db,
	               "SELECT " SECRET_COLUMNS " WHERE s.deleted_at IS NULL AND s.name > $1 ORDER "
	               "BY s.name LIMIT $2::int",
	               2, params);
	if (!res)
		return ovr_err_last();
	rows = PQntuples(res);
	*out = arena_calloc(a, (size_t)rows + 1, sizeof(**out));
	for (i = 0; i < rows; i++)
		(*out)[i] = secret_from_row(a, res, i);
	*n_out = (size_t)rows;
	PQclear(res);
	return 0;
}

static int delete_locked(struct db *db, struct arena *a, const char *name, int force)
{
	const char *params[1] = {name};
	PGresult *res;
	json_t *used;
	int err = 0;

	res = db_query(db,
	               "SELECT " USED_BY("s.name") " FROM secrets s WHERE s.name = $1 AND "
	                                           "s.deleted_at IS NULL FOR UPDATE OF s",
	               1, params);
	if (!res)
		return ovr_err_last();
	if (PQntuples(res) == 0) {
		PQclear(res);
		return ovr_err_set(OVR_ERR_NOT_FOUND, "secret '%.80s' not found", name);
	}
	used = json_loads(db_get_text(res, 0, 0), 0, NULL);
	if (!force && json_array_size(used) > 0) {
		char apps[512] = "";
		size_t i, len = 0;

		/* Names are at most 63 bytes; the list stops quietly where the buffer ends. */
		for (i = 0; i < json_array_size(used) && len < sizeof(apps); i++)
			len += (size_t)snprintf(apps + len, sizeof(apps) - len, "%s%s",
			                        i ? ", " : "",
			                        json_string_value(json_array_get(used, i)));
		err = ovr_err_set(OVR_ERR_PRECONDITION,
		                  "secret '%s' is used by the current version of %s; deploy "
		                  "without it first, or remove it anyway with force",
		                  name, apps);
	}
	json_decref(used);
	PQclear(res);
	(void)a;
	if (!err)
		err = db_exec(db, "DELETE FROM secret_versions WHERE name = $1", 1, params);
	if (!err)
		err = db_exec(db,
		              "UPDATE secrets SET deleted_at = now(), updated_at = now() WHERE "
		              "name = $1",
		              1, params);
	return err;
}

int db_secret_delete(struct db *db, struct arena *a, const char *name, int force)
{
	int err;

	err = db_begin(db);
	if (err)
		return err;
	err = delete_locked(db, a, name, force);
	if (err) {
		db_rollback(db);
		return err;
	}
	return db_commit(db);
}

/*
 * Walks the references: pin sets each one's version to its secret's current version, else each
 * pinned version must still exist. The rows are locked FOR SHARE, so a concurrent removal waits
 * until the caller's transaction is over. The references as JSON into *out (arena).
 */
static int refs_resolve(struct db *db, struct arena *a, const char *refs_json, int pin, char **out)
{
	json_t *refs = json_loads(refs_json ? refs_json : "[]", 0, NULL);
	size_t i;
	int err = 0;

	if (!json_is_array(refs)) {
		json_decref(refs);
		return ovr_err_set(OVR_ERR_INTERNAL, "secret references are not a JSON array");
	}
	for (i = 0; i < json_array_size(refs) && !err; i++) {
		json_t *r = json_array_get(refs, i);
		const char *env = json_string_value(json_object_get(r, "env"));
		char ver[DB_INT64_SIZE];
		const char *params[2] = {
		        json_string_value(json_object_get(r, "secret")),
		        db_param_int64(ver, json_integer_value(json_object_get(r, "version")))};
		PGresult *res;

		res = db_query(
		        db,
		        "SELECT s.current_version, s.deleted_at IS NULL AND s.current_version "
		        "> 0, EXISTS (SELECT 1 FROM secret_versions sv WHERE sv.name = s.name "
		        "AND sv.version = $2::int) FROM secrets s WHERE s.name = $1 FOR SHARE",
		        2, params);
		if (!res) {
			err = ovr_err_last();
			break;
		}
		if (pin && (PQntuples(res) == 0 || !db_cell_bool(res, 0, 1)))
			err = ovr_err_set(
			        OVR_ERR_PRECONDITION,
			        "secrets: secret '%s' (for %s) does not exist; store it with "
			        "`ovrctl secret set %s`",
			        params[0], env, params[0]);
		else if (pin)
			json_object_set_new(r, "version", json_integer(db_cell_int(res, 0, 0)));
		else if (PQntuples(res) == 0 || !db_cell_bool(res, 0, 2))
			err = ovr_err_set(
			        OVR_ERR_PRECONDITION,
			        "secrets: secret '%s' version %s (for %s) no longer exists: "
			        "the secret was removed",
			        params[0], params[1], env);
		PQclear(res);
	}
	if (!err) {
		char *text = json_dumps(refs, JSON_COMPACT | JSON_SORT_KEYS);

		*out = arena_strdup(a, text ? text : "[]");
		free(text);
	}
	json_decref(refs);
	return err;
}

int db_secret_pin(struct db *db, struct arena *a, const char *refs_json, char **pinned_out)
{
	return refs_resolve(db, a, refs_json, 1, pinned_out);
}

int db_secret_check_pinned(struct db *db, struct arena *a, const char *refs_json)
{
	char *same = NULL;

	return refs_resolve(db, a, refs_json, 0, &same);
}

int db_secret_sealed(struct db *db, struct arena *a, const char *name, int32_t version,
                     struct secret_sealed *out)
{
	char ver[DB_INT64_SIZE];
	const char *params[2] = {name, db_param_int64(ver, version)};
	PGresult *res;
	int err;

	res = db_query(
	        db,
	        "SELECT key_id, wrapped_key, ciphertext FROM secret_versions WHERE name = $1 "
	        "AND version = $2::int",
	        2, params);
	if (!res)
		return ovr_err_last();
	if (PQntuples(res) == 0) {
		PQclear(res);
		return ovr_err_set(OVR_ERR_NOT_FOUND, "secret '%.80s' version %d no longer exists",
		                   name, (int)version);
	}
	memset(out, 0, sizeof(*out));
	ovr_strlcpy(out->key_id, db_get_text(res, 0, 0), sizeof(out->key_id));
	err = bytea_cell(a, res, 0, 1, &out->wrapped_key, &out->wrapped_len);
	if (!err)
		err = bytea_cell(a, res, 0, 2, &out->ciphertext, &out->ciphertext_len);
	PQclear(res);
	return err;
}
