/* Queries on join tokens (node enrollment) and operator API tokens. Only hashes are stored. */
#include "db_token.h"

#include "err.h"
#include "strutil.h"

#include <stdlib.h>
#include <string.h>

/* bytea parameters travel as hex text ("\x..."), decoded by PostgreSQL. */
static const char *hash_param(char buf[2 + 2 * CRYPTO_SHA256_LEN + 1], const unsigned char *hash)
{
	buf[0] = '\\';
	buf[1] = 'x';
	ovr_hex_encode(buf + 2, hash, CRYPTO_SHA256_LEN);
	return buf;
}

static int hash_cell(unsigned char *out, const PGresult *res, int row, int col)
{
	const char *v = db_get_text(res, row, col);

	if (!v || strncmp(v, "\\x", 2) != 0)
		return ovr_err_set(OVR_ERR_INTERNAL, "stored hash is malformed");
	return ovr_hex_decode(out, CRYPTO_SHA256_LEN, v + 2);
}

int db_join_token_create(struct db *db, const char *id, const unsigned char *hash,
                         const char *node_name, const char *labels_json, const char *created_by,
                         int64_t expires_ms)
{
	char h[2 + 2 * CRYPTO_SHA256_LEN + 1], exp[DB_INT64_SIZE];
	const char *params[6] = {id,          hash_param(h, hash), node_name,
	                         labels_json, created_by,          db_param_int64(exp, expires_ms)};

	return db_exec(
	        db,
	        "INSERT INTO join_tokens (id, secret_hash, node_name, labels, created_by, "
	        "expires_at) VALUES ($1, $2::bytea, $3, $4::jsonb, $5, " DB_FROM_MS("$6") ")",
	        6, params);
}

int db_join_token_lock(struct db *db, const char *id, struct db_join_token *out)
{
	const char *params[1] = {id};
	PGresult *res;
	int err = 0;

	memset(out, 0, sizeof(*out));
	res = db_query(db,
	               "SELECT secret_hash, node_name, labels::text, " DB_MS(
	                       "expires_at") ", "
	                                     "used_at IS NOT NULL, failed_attempts FROM "
	                                     "join_tokens WHERE id = $1 FOR UPDATE",
	               1, params);
	if (!res)
		return ovr_err_last();
	if (PQntuples(res) == 0) {
		err = OVR_ERR_NOT_FOUND;
		goto out;
	}
	err = hash_cell(out->secret_hash, res, 0, 0);
	if (err)
		goto out;
	ovr_strlcpy(out->node_name, db_get_text(res, 0, 1), sizeof(out->node_name));
	out->labels_json = strdup(db_get_text(res, 0, 2));
	db_get_int64(&out->expires_ms, res, 0, 3);
	db_get_bool(&out->used, res, 0, 4);
	db_get_int(&out->failed_attempts, res, 0, 5);
out:
	PQclear(res);
	return err;
}

void db_join_token_clear(struct db_join_token *t)
{
	free(t->labels_json);
	memset(t, 0, sizeof(*t));
}

int db_join_token_failed(struct db *db, const char *id)
{
	const char *params[1] = {id};

	return db_exec(db,
	               "UPDATE join_tokens SET failed_attempts = failed_attempts + 1 WHERE id = $1",
	               1, params);
}

int db_join_token_used(struct db *db, const char *id, const char *node_id)
{
	const char *params[2] = {id, node_id};

	return db_exec(db, "UPDATE join_tokens SET used_at = now(), node_id = $2 WHERE id = $1", 2,
	               params);
}

int db_api_token_create(struct db *db, const char *id, const unsigned char *hash, const char *name,
                        const char *role, const char *created_by, int64_t expires_ms)
{
	char h[2 + 2 * CRYPTO_SHA256_LEN + 1], exp[DB_INT64_SIZE];
	const char *params[6] = {id,         hash_param(h, hash),
	                         name,       role,
	                         created_by, expires_ms ? db_param_int64(exp, expires_ms) : NULL};

	return db_exec(
	        db,
	        "INSERT INTO api_tokens (id, secret_hash, name, role, created_by, expires_at) "
	        "VALUES ($1, $2::bytea, $3, $4, $5, " DB_FROM_MS("$6") ")",
	        6, params);
}

int db_api_token_get(struct db *db, const char *id, struct db_api_token *out)
{
	const char *params[1] = {id};
	PGresult *res;
	int err = 0;

	memset(out, 0, sizeof(*out));
	res = db_query(db,
	               "SELECT name, role, secret_hash, " DB_MS(
	                       "expires_at") ", revoked_at IS NOT NULL "
	                                     "FROM api_tokens WHERE id = $1",
	               1, params);
	if (!res)
		return ovr_err_last();
	if (PQntuples(res) == 0) {
		err = OVR_ERR_NOT_FOUND;
		goto out;
	}
	ovr_strlcpy(out->name, db_get_text(res, 0, 0), sizeof(out->name));
	ovr_strlcpy(out->role, db_get_text(res, 0, 1), sizeof(out->role));
	err = hash_cell(out->secret_hash, res, 0, 2);
	db_get_int64(&out->expires_ms, res, 0, 3);
	db_get_bool(&out->revoked, res, 0, 4);
out:
	PQclear(res);
	return err;
}

int db_api_token_admins(struct db *db, int64_t *count)
{
	PGresult *res =
	        db_query(db,
	                 "SELECT count(*) FROM api_tokens WHERE role = 'admin' AND revoked_at "
	                 "IS NULL AND (expires_at IS NULL OR expires_at > now())",
	                 0, NULL);

	*count = 0;
	if (!res)
		return ovr_err_last();
	db_get_int64(count, res, 0, 0);
	PQclear(res);
	return 0;
}
