/* Queries on join tokens (node enrollment) and operator API tokens. Only hashes are stored. */
#include "db_token.h"

#include "db_row.h"
#include "err.h"
#include "strutil.h"

#include <stdlib.h>
#include <string.h>

/* An admin token that still authenticates. */
#define ADMIN_ACTIVE                                                                               \
	"role = 'admin' AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > now())"

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
	int err;

	err = db_exec(
	        db,
	        "INSERT INTO api_tokens (id, secret_hash, name, role, created_by, expires_at) "
	        "VALUES ($1, $2::bytea, $3, $4, $5, " DB_FROM_MS("$6") ")",
	        6, params);
	if (err == OVR_ERR_EXISTS)
		err = ovr_err_set(
		        OVR_ERR_EXISTS,
		        "token '%.80s' already exists (names of revoked tokens stay taken)", name);
	return err;
}

/* What authenticating a call needs: db_api_token_get's columns, in struct order. */
#define AUTH_COLUMNS                                                                               \
	"name, role, secret_hash, " DB_MS("expires_at") ", revoked_at IS NOT NULL, " DB_MS(        \
	        "last_used_at")

int db_api_token_get(struct db *db, const char *id, struct db_api_token *out)
{
	const char *params[1] = {id};
	PGresult *res;
	int err = 0;

	memset(out, 0, sizeof(*out));
	res = db_query(db, "SELECT " AUTH_COLUMNS " FROM api_tokens WHERE id = $1", 1, params);
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
	db_get_int64(&out->last_used_ms, res, 0, 5);
out:
	PQclear(res);
	return err;
}

int db_api_token_admins(struct db *db, int64_t *count)
{
	PGresult *res =
	        db_query(db, "SELECT count(*) FROM api_tokens WHERE " ADMIN_ACTIVE, 0, NULL);

	*count = 0;
	if (!res)
		return ovr_err_last();
	db_get_int64(count, res, 0, 0);
	PQclear(res);
	return 0;
}

int db_api_token_touch(struct db *db, const char *id)
{
	const char *params[1] = {id};

	return db_exec(db,
	               "UPDATE api_tokens SET last_used_at = now() WHERE id = $1 AND (last_used_at "
	               "IS NULL OR last_used_at < now() - interval '1 minute')",
	               1, params);
}

static const struct {
	const char *text;
	Overseer__V1__Role value;
} roles[] = {
        {"viewer", OVERSEER__V1__ROLE__ROLE_VIEWER},
        {"deployer", OVERSEER__V1__ROLE__ROLE_DEPLOYER},
        {"admin", OVERSEER__V1__ROLE__ROLE_ADMIN},
};

const char *db_api_token_role_text(int role)
{
	size_t i;

	for (i = 0; i < sizeof(roles) / sizeof(roles[0]); i++)
		if ((int)roles[i].value == role)
			return roles[i].text;
	return NULL;
}

static Overseer__V1__Role role_value(const char *text)
{
	size_t i;

	for (i = 0; text && i < sizeof(roles) / sizeof(roles[0]); i++)
		if (strcmp(roles[i].text, text) == 0)
			return roles[i].value;
	return OVERSEER__V1__ROLE__ROLE_UNSPECIFIED;
}

/* Never the hash: nothing that reads metadata needs it. */
#define TOKEN_COLUMNS                                                                              \
	"id, name, role, created_by, " DB_MS("created_at") ", " DB_MS("expires_at") ", " DB_MS(    \
	        "revoked_at") ", " DB_MS("last_used_at") " FROM api_tokens"

static Overseer__V1__ApiToken *token_from_row(struct arena *a, const PGresult *res, int row)
{
	Overseer__V1__ApiToken *t = arena_alloc(a, sizeof(*t));

	overseer__v1__api_token__init(t);
	t->id = db_cell(a, res, row, 0);
	t->name = db_cell(a, res, row, 1);
	t->role = role_value(db_get_text(res, row, 2));
	t->created_by = db_cell(a, res, row, 3);
	t->created_unix_ms = db_cell_int64(res, row, 4);
	t->expires_unix_ms = db_cell_int64(res, row, 5);
	t->revoked_unix_ms = db_cell_int64(res, row, 6);
	t->last_used_unix_ms = db_cell_int64(res, row, 7);
	return t;
}

int db_api_token_read(struct db *db, struct arena *a, const char *name,
                      Overseer__V1__ApiToken **out)
{
	const char *params[1] = {name};
	PGresult *res;
	int err = 0;

	res = db_query(db, "SELECT " TOKEN_COLUMNS " WHERE name = $1", 1, params);
	if (!res)
		return ovr_err_last();
	if (PQntuples(res) == 0)
		err = ovr_err_set(OVR_ERR_NOT_FOUND, "token '%.80s' not found", name);
	else
		*out = token_from_row(a, res, 0);
	PQclear(res);
	return err;
}

int db_api_token_list(struct db *db, struct arena *a, const char *after_name, int limit,
                      Overseer__V1__ApiToken ***out, size_t *n_out)
{
	char lim[DB_INT64_SIZE];
	const char *params[2] = {after_name ? after_name : "", db_param_int64(lim, limit)};
	PGresult *res;
	int i, rows;

	res = db_query(db, "SELECT " TOKEN_COLUMNS " WHERE name > $1 ORDER BY name LIMIT $2::int",
	               2, params);
	if (!res)
		return ovr_err_last();
	rows = PQntuples(res);
	*out = arena_calloc(a, (size_t)rows + 1, sizeof(**out));
	for (i = 0; i < rows; i++)
		(*out)[i] = token_from_row(a, res, i);
	*n_out = (size_t)rows;
	PQclear(res);
	return 0;
}

/* In the revoking transaction. */
static int revoke_locked(struct db *db, const char *name)
{
	const char *params[1] = {name};
	PGresult *res;
	int admins, target_admin = 0, revoked = 0, err = 0;

	/*
	 * Every revocation locks the active admin rows first, in id order: a concurrent one waits
	 * here, then sees the rows this one revoked as no longer active.
	 */
	res = db_query(db,
	               "SELECT name FROM api_tokens WHERE " ADMIN_ACTIVE " ORDER BY id FOR UPDATE",
	               0, NULL);
	if (!res)
		return ovr_err_last();
	admins = PQntuples(res);
	PQclear(res);
	res = db_query(db,
	               "SELECT revoked_at IS NOT NULL, " ADMIN_ACTIVE " FROM api_tokens WHERE name "
	               "= $1 FOR UPDATE",
	               1, params);
	if (!res)
		return ovr_err_last();
	if (PQntuples(res) == 0)
		err = ovr_err_set(OVR_ERR_NOT_FOUND, "token '%.80s' not found", name);
	else {
		db_get_bool(&revoked, res, 0, 0);
		db_get_bool(&target_admin, res, 0, 1);
	}
	PQclear(res);
	if (err || revoked)
		return err;
	if (target_admin && admins <= 1)
		return ovr_err_set(
		        OVR_ERR_PRECONDITION,
		        "token '%.80s' is the last active admin token: revoking it would "
		        "lock every operator out; create another admin token first "
		        "(ovrctl token create NAME --role admin)",
		        name);
	return db_exec(db, "UPDATE api_tokens SET revoked_at = now() WHERE name = $1", 1, params);
}

int db_api_token_revoke(struct db *db, struct arena *a, const char *name,
                        Overseer__V1__ApiToken **out)
{
	int err = db_begin(db);

	if (err)
		return err;
	err = revoke_locked(db, name);
	if (err) {
		db_rollback(db);
		return err;
	}
	err = db_commit(db);
	return err ? err : db_api_token_read(db, a, name, out);
}
