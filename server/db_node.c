/* Queries on nodes and revoked certificate serials. */
#include "db_node.h"

#include "db_row.h"
#include "err.h"
#include "labels.h"
#include "strutil.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Columns in the order node_from_row reads them; $1 is the staleness in ms. */
#define NODE_COLUMNS                                                                               \
	"id, name, CASE WHEN state = 'revoked' THEN 3 WHEN connected_server IS NOT NULL AND "      \
	"last_seen_at > now() - ($1::bigint * interval '1 millisecond') THEN 1 ELSE 2 END, "       \
	"labels::text, " DB_MS("last_seen_at") ", " DB_MS("created_at") ", " DB_MS(                \
	        "connected_at") ", hostname, array_to_json(addresses)::text, agent_version, "      \
	                        "docker_version, compose_version, os_arch, cert_serial, " DB_MS(   \
	                                "cert_expires_at") ", " DB_MS("revoked_at")

static int addresses_from_json(struct arena *a, const char *text, char ***out, size_t *n_out)
{
	json_t *arr = json_loads(text ? text : "[]", 0, NULL);
	size_t i, n;

	*out = NULL;
	*n_out = 0;
	if (!arr || !json_is_array(arr)) {
		json_decref(arr);
		return 0;
	}
	n = json_array_size(arr);
	*out = arena_calloc(a, n + 1, sizeof(char *));
	for (i = 0; i < n; i++) {
		const char *s = json_string_value(json_array_get(arr, i));

		(*out)[i] = arena_strdup(a, s ? s : "");
	}
	*n_out = n;
	json_decref(arr);
	return 0;
}

static Overseer__V1__Node *node_from_row(struct arena *a, const PGresult *res, int row)
{
	Overseer__V1__Node *n = arena_alloc(a, sizeof(*n));
	int state = 2;

	overseer__v1__node__init(n);
	n->id = db_cell(a, res, row, 0);
	n->name = db_cell(a, res, row, 1);
	db_get_int(&state, res, row, 2);
	n->state = (Overseer__V1__NodeState)state;
	labels_from_json(a, db_get_text(res, row, 3), &overseer__v1__node__labels_entry__descriptor,
	                 &n->n_labels, (void ***)&n->labels);
	n->last_seen_unix_ms = db_cell_int64(res, row, 4);
	n->created_unix_ms = db_cell_int64(res, row, 5);
	n->connected_since_unix_ms = state == 1 ? db_cell_int64(res, row, 6) : 0;
	n->hostname = db_cell(a, res, row, 7);
	addresses_from_json(a, db_get_text(res, row, 8), &n->addresses, &n->n_addresses);
	n->agent_version = db_cell(a, res, row, 9);
	n->docker_version = db_cell(a, res, row, 10);
	n->compose_version = db_cell(a, res, row, 11);
	n->os_arch = db_cell(a, res, row, 12);
	n->cert_serial = db_cell(a, res, row, 13);
	n->cert_expires_unix_ms = db_cell_int64(res, row, 14);
	n->revoked_unix_ms = db_cell_int64(res, row, 15);
	return n;
}

int db_node_list(struct db *db, struct arena *a, int64_t stale_ms, const char *selector_json,
                 const char *after_name, int limit, Overseer__V1__Node ***out, size_t *n_out)
{
	char stale[DB_INT64_SIZE], lim[DB_INT64_SIZE];
	const char *params[4];
	PGresult *res;
	int i, rows;

	params[0] = db_param_int64(stale, stale_ms);
	params[1] = selector_json;
	params[2] = after_name ? after_name : "";
	params[3] = db_param_int64(lim, limit);
	res = db_query(db,
	               "SELECT " NODE_COLUMNS
	               " FROM nodes WHERE ($2::jsonb IS NULL OR labels @> $2::jsonb)"
	               " AND name > $3 ORDER BY name LIMIT $4::int",
	               4, params);
	if (!res)
		return ovr_err_last();
	rows = PQntuples(res);
	*out = arena_calloc(a, (size_t)rows + 1, sizeof(**out));
	for (i = 0; i < rows; i++)
		(*out)[i] = node_from_row(a, res, i);
	*n_out = (size_t)rows;
	PQclear(res);
	return 0;
}

int db_node_get(struct db *db, struct arena *a, int64_t stale_ms, const char *name_or_id,
                Overseer__V1__Node **out)
{
	char stale[DB_INT64_SIZE];
	const char *params[2];
	PGresult *res;
	int err = 0;

	params[0] = db_param_int64(stale, stale_ms);
	params[1] = name_or_id;
	res = db_query(db, "SELECT " NODE_COLUMNS " FROM nodes WHERE name = $2 OR id = $2", 2,
	               params);
	if (!res)
		return ovr_err_last();
	if (PQntuples(res) == 0)
		err = ovr_err_set(OVR_ERR_NOT_FOUND, "node '%.80s' not found", name_or_id);
	else
		*out = node_from_row(a, res, 0);
	PQclear(res);
	return err;
}

int db_node_auth(struct db *db, const char *id, struct db_node_auth *out)
{
	const char *params[1] = {id};
	PGresult *res;
	int err = 0;

	memset(out, 0, sizeof(*out));
	res = db_query(db,
	               "SELECT state = 'active', cert_serial, coalesce(prev_serial, '') FROM nodes "
	               "WHERE id = $1",
	               1, params);
	if (!res)
		return ovr_err_last();
	if (PQntuples(res) == 0) {
		err = ovr_err_set(OVR_ERR_NOT_FOUND, "node '%.80s' not found", id);
	} else {
		db_get_bool(&out->active, res, 0, 0);
		ovr_strlcpy(out->serial, db_get_text(res, 0, 1), sizeof(out->serial));
		ovr_strlcpy(out->prev_serial, db_get_text(res, 0, 2), sizeof(out->prev_serial));
	}
	PQclear(res);
	return err;
}

int db_node_renewed(struct db *db, const char *id, const char *old_serial, const char *serial,
                    int64_t expires_ms)
{
	char expires[DB_INT64_SIZE];
	const char *params[4] = {id, old_serial, serial, db_param_int64(expires, expires_ms)};
	PGresult *res;
	int err = 0;

	res = db_query(db,
	               "UPDATE nodes SET prev_serial = cert_serial, cert_serial = $3, "
	               "cert_expires_at = " DB_FROM_MS("$4") " WHERE id = $1 AND cert_serial = $2 "
	                                                     "AND state = 'active'",
	               4, params);
	if (!res)
		return ovr_err_last();
	if (strcmp(PQcmdTuples(res), "1") != 0)
		err = ovr_err_set(OVR_ERR_CONFLICT,
		                  "node %s: the certificate used to renew is no longer current",
		                  id);
	PQclear(res);
	return err;
}

int db_node_retire_prev_serial(struct db *db, const char *id, const char *prev_serial)
{
	const char *params[2] = {id, prev_serial};
	int err;

	err = db_begin(db);
	if (err)
		return err;
	err = db_exec(db, "UPDATE nodes SET prev_serial = NULL WHERE id = $1 AND prev_serial = $2",
	              2, params);
	if (!err)
		err = db_revoked_serial_add(db, prev_serial, id);
	if (err) {
		db_rollback(db);
		return err;
	}
	return db_commit(db);
}

int db_node_revoke(struct db *db, const char *name_or_id, char *id, size_t id_size, char *serial,
                   size_t serial_size)
{
	const char *params[2];
	PGresult *res;
	int err;

	err = db_begin(db);
	if (err)
		return err;
	params[0] = name_or_id;
	res = db_query(
	        db,
	        "UPDATE nodes SET state = 'revoked', revoked_at = coalesce(revoked_at, now()), "
	        "connected_server = NULL WHERE name = $1 OR id = $1 RETURNING id, cert_serial",
	        1, params);
	if (!res) {
		err = ovr_err_last();
		goto fail;
	}
	if (PQntuples(res) == 0) {
		PQclear(res);
		err = ovr_err_set(OVR_ERR_NOT_FOUND, "node '%.80s' not found", name_or_id);
		goto fail;
	}
	ovr_strlcpy(id, db_get_text(res, 0, 0), id_size);
	ovr_strlcpy(serial, db_get_text(res, 0, 1), serial_size);
	PQclear(res);
	err = db_revoked_serial_add(db, serial, id);
	if (err)
		goto fail;
	return db_commit(db);
fail:
	db_rollback(db);
	return err;
}

int db_node_set_labels(struct db *db, const char *name_or_id, const char *labels_json)
{
	const char *params[2] = {name_or_id, labels_json};
	PGresult *res;
	int err = 0;

	res = db_query(db, "UPDATE nodes SET labels = $2::jsonb WHERE name = $1 OR id = $1", 2,
	               params);
	if (!res)
		return ovr_err_last();
	if (strcmp(PQcmdTuples(res), "0") == 0)
		err = ovr_err_set(OVR_ERR_NOT_FOUND, "node '%.80s' not found", name_or_id);
	PQclear(res);
	return err;
}

int db_node_session_start(struct db *db, const char *id, const char *session,
                          const struct db_node_hello *h)
{
	const char *params[8] = {id,
	                         session,
	                         h->hostname,
	                         h->addresses_json,
	                         h->agent_version,
	                         h->docker_version,
	                         h->compose_version,
	                         h->os_arch};

	return db_exec(
	        db,
	        "UPDATE nodes SET connected_server = $2, connected_at = now(), last_seen_at = "
	        "now(), hostname = $3, addresses = ARRAY(SELECT "
	        "jsonb_array_elements_text($4::jsonb)), agent_version = $5, docker_version = $6, "
	        "compose_version = $7, os_arch = $8 WHERE id = $1 AND state = 'active'",
	        8, params);
}

int db_node_session_seen(struct db *db, const char *id, const char *session)
{
	const char *params[2] = {id, session};

	return db_exec(
	        db, "UPDATE nodes SET last_seen_at = now() WHERE id = $1 AND connected_server = $2",
	        2, params);
}

int db_node_session_end(struct db *db, const char *id, const char *session)
{
	const char *params[2] = {id, session};

	return db_exec(db,
	               "UPDATE nodes SET connected_server = NULL, last_seen_at = now() "
	               "WHERE id = $1 AND connected_server = $2",
	               2, params);
}

int db_revoked_serials(struct db *db, void (*fn)(const char *serial, void *arg), void *arg)
{
	PGresult *res = db_query(db, "SELECT serial FROM revoked_serials", 0, NULL);
	int i;

	if (!res)
		return ovr_err_last();
	for (i = 0; i < PQntuples(res); i++)
		fn(db_get_text(res, i, 0), arg);
	PQclear(res);
	return 0;
}

int db_node_lock_by_name(struct db *db, const char *name, char *id, size_t id_size, char *serial,
                         size_t serial_size)
{
	const char *params[1] = {name};
	PGresult *res;
	int err = 0;

	res = db_query(db, "SELECT id, cert_serial FROM nodes WHERE name = $1 FOR UPDATE", 1,
	               params);
	if (!res)
		return ovr_err_last();
	if (PQntuples(res) == 0) {
		err = OVR_ERR_NOT_FOUND;
	} else {
		ovr_strlcpy(id, db_get_text(res, 0, 0), id_size);
		ovr_strlcpy(serial, db_get_text(res, 0, 1), serial_size);
	}
	PQclear(res);
	return err;
}

int db_node_enrolled(struct db *db, const char *id, const char *name, const char *labels_json,
                     const char *serial, int64_t expires_ms, const char *hostname)
{
	char expires[DB_INT64_SIZE];
	const char *params[6] = {
	        id, name, labels_json, serial, db_param_int64(expires, expires_ms), hostname};

	return db_exec(
	        db,
	        "INSERT INTO nodes (id, name, labels, cert_serial, cert_expires_at, hostname) "
	        "VALUES ($1, $2, $3::jsonb, $4, " DB_FROM_MS(
	                "$5") ", $6) "
	                      "ON CONFLICT (id) DO UPDATE SET labels = CASE WHEN EXCLUDED.labels = "
	                      "'{}'::jsonb "
	                      "THEN nodes.labels ELSE EXCLUDED.labels END, cert_serial = "
	                      "EXCLUDED.cert_serial, cert_expires_at = EXCLUDED.cert_expires_at, "
	                      "state = "
	                      "'active', revoked_at = NULL, hostname = EXCLUDED.hostname",
	        6, params);
}

int db_revoked_serial_add(struct db *db, const char *serial, const char *node_id)
{
	const char *params[2] = {serial, node_id};

	return db_exec(db,
	               "INSERT INTO revoked_serials (serial, node_id) VALUES ($1, $2) "
	               "ON CONFLICT (serial) DO NOTHING",
	               2, params);
}
