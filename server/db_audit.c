/*
 * The audit log in PostgreSQL. Appends serialise on an advisory lock held to the end of the
 * appending transaction, so the chain follows commit order; the table refuses updates and
 * deletes (0009_audit_chain), and VerifyChain finds any change made around that.
 */
#include "db_audit.h"

#include "db_row.h"
#include "err.h"
#include "strutil.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define VERIFY_BATCH     1000 /* rows read at a time: memory stays bounded */
#define VERIFY_BATCH_SQL "1000"

/* A bytea cell (hex form) into out; 0 if it is not exactly CRYPTO_SHA256_LEN bytes (or NULL). */
static int hash_cell(unsigned char out[CRYPTO_SHA256_LEN], const PGresult *res, int row, int col)
{
	const char *text = db_get_text(res, row, col);

	if (!text || strncmp(text, "\\x", 2) != 0 || strlen(text + 2) != 2 * CRYPTO_SHA256_LEN)
		return 0;
	return ovr_hex_decode(out, CRYPTO_SHA256_LEN, text + 2) == 0;
}

static const char *hash_param(char buf[2 * CRYPTO_SHA256_LEN + 3],
                              const unsigned char h[CRYPTO_SHA256_LEN])
{
	memcpy(buf, "\\x", 2);
	ovr_hex_encode(buf + 2, h, CRYPTO_SHA256_LEN);
	return buf;
}

int db_audit_append(struct db *db, const struct audit_record *r_in, int64_t *seq_out)
{
	struct audit_record r = *r_in;
	unsigned char prev[CRYPTO_SHA256_LEN], hash[CRYPTO_SHA256_LEN];
	char seq[DB_INT64_SIZE], at[DB_INT64_SIZE], prev_hex[2 * CRYPTO_SHA256_LEN + 3],
	        hash_hex[2 * CRYPTO_SHA256_LEN + 3];
	const char *params[11];
	size_t prev_len = 0;
	PGresult *res;
	int err;

	err = db_exec(db, "SELECT pg_advisory_xact_lock(" DB_LOCK_AUDIT_SQL ")", 0, NULL);
	if (err)
		return err;
	res = db_query(
	        db,
	        "SELECT coalesce((SELECT seq FROM audit_events ORDER BY seq DESC LIMIT 1), 0), "
	        "(SELECT hash FROM audit_events ORDER BY seq DESC LIMIT 1), "
	        "(extract(epoch FROM clock_timestamp()) * 1000000)::bigint",
	        0, NULL);
	if (!res)
		return ovr_err_last();
	r.seq = db_cell_int64(res, 0, 0) + 1;
	r.at_us = db_cell_int64(res, 0, 2);
	if (r.seq > 1 && hash_cell(prev, res, 0, 1))
		prev_len = sizeof(prev);
	PQclear(res);
	if (!r.summary_json || !r.summary_json[0])
		r.summary_json = "{}";
	audit_chain_hash(hash, prev, prev_len, &r);
	params[0] = db_param_int64(seq, r.seq);
	params[1] = db_param_int64(at, r.at_us);
	params[2] = r.actor ? r.actor : "";
	params[3] = r.action ? r.action : "";
	params[4] = r.target ? r.target : "";
	params[5] = r.request_id ? r.request_id : "";
	params[6] = r.source ? r.source : "";
	params[7] = r.outcome ? r.outcome : "";
	params[8] = r.summary_json;
	params[9] = prev_len ? hash_param(prev_hex, prev) : NULL;
	params[10] = hash_param(hash_hex, hash);
	err = db_exec(
	        db,
	        "INSERT INTO audit_events (seq, at, actor, action, target, request_id, source, "
	        "outcome, summary, prev_hash, hash) VALUES ($1::bigint, 'epoch'::timestamptz "
	        "+ $2::bigint * interval '1 microsecond', $3, $4, $5, $6, $7, $8, $9, "
	        "$10::bytea, $11::bytea)",
	        11, params);
	if (!err && seq_out)
		*seq_out = r.seq;
	return err;
}

#define EVENT_COLUMNS                                                                              \
	"seq, (extract(epoch FROM at) * 1000000)::bigint, actor, action, target, request_id, "     \
	"source, outcome, summary, prev_hash, hash"

static void record_from_row(struct audit_record *r, const PGresult *res, int row)
{
	r->seq = db_cell_int64(res, row, 0);
	r->at_us = db_cell_int64(res, row, 1);
	r->actor = db_get_text(res, row, 2);
	r->action = db_get_text(res, row, 3);
	r->target = db_get_text(res, row, 4);
	r->request_id = db_get_text(res, row, 5);
	r->source = db_get_text(res, row, 6);
	r->outcome = db_get_text(res, row, 7);
	r->summary_json = db_get_text(res, row, 8);
}

int db_audit_list(struct db *db, struct arena *a, const struct db_audit_filter *f, int limit,
                  Overseer__V1__AuditEvent ***out, size_t *n_out)
{
	char after[DB_INT64_SIZE], since[DB_INT64_SIZE], lim[DB_INT64_SIZE];
	const char *params[5] = {f->actor ? f->actor : "", f->target ? f->target : "",
	                         db_param_int64(since, f->since_ms),
	                         db_param_int64(after, f->after_seq), db_param_int64(lim, limit)};
	PGresult *res;
	int i, rows;

	res = db_query(
	        db,
	        "SELECT " EVENT_COLUMNS " FROM audit_events WHERE ($1 = '' OR actor = $1) AND "
	        "($2 = '' OR target = $2) AND ($3::bigint = 0 OR at >= 'epoch'::timestamptz + "
	        "$3::bigint * interval '1 millisecond') AND seq > $4::bigint ORDER BY seq "
	        "LIMIT $5::int",
	        5, params);
	if (!res)
		return ovr_err_last();
	rows = PQntuples(res);
	*out = arena_calloc(a, (size_t)rows + 1, sizeof(**out));
	for (i = 0; i < rows; i++) {
		Overseer__V1__AuditEvent *e = arena_alloc(a, sizeof(*e));
		struct audit_record r;
		unsigned char *h = arena_alloc(a, CRYPTO_SHA256_LEN);

		record_from_row(&r, res, i);
		overseer__v1__audit_event__init(e);
		e->seq = r.seq;
		e->at_unix_ms = r.at_us / 1000;
		e->actor = arena_strdup(a, r.actor ? r.actor : "");
		e->action = arena_strdup(a, r.action ? r.action : "");
		e->target = arena_strdup(a, r.target ? r.target : "");
		e->request_id = arena_strdup(a, r.request_id ? r.request_id : "");
		e->source = arena_strdup(a, r.source ? r.source : "");
		e->outcome = arena_strdup(a, r.outcome ? r.outcome : "");
		e->summary_json = arena_strdup(a, r.summary_json ? r.summary_json : "{}");
		if (hash_cell(h, res, i, 10)) {
			e->hash.data = h;
			e->hash.len = CRYPTO_SHA256_LEN;
		}
		(*out)[i] = e;
	}
	*n_out = (size_t)rows;
	PQclear(res);
	return 0;
}

int db_audit_verify(struct db *db, int64_t *checked, int64_t *first_broken, char *msg, size_t size)
{
	unsigned char prev[CRYPTO_SHA256_LEN], stored[CRYPTO_SHA256_LEN], want[CRYPTO_SHA256_LEN];
	int64_t last_seq = 0;
	int have_prev = 0;

	*checked = 0;
	*first_broken = 0;
	msg[0] = '\0';
	for (;;) {
		char after[DB_INT64_SIZE];
		const char *params[1] = {db_param_int64(after, last_seq)};
		PGresult *res;
		int i, rows;

		res = db_query(db,
		               "SELECT " EVENT_COLUMNS " FROM audit_events WHERE seq > $1::bigint "
		               "ORDER BY seq LIMIT " VERIFY_BATCH_SQL,
		               1, params);
		if (!res)
			return ovr_err_last();
		rows = PQntuples(res);
		for (i = 0; i < rows && !*first_broken; i++) {
			struct audit_record r;
			unsigned char got_prev[CRYPTO_SHA256_LEN];
			int has_got_prev = hash_cell(got_prev, res, i, 9);

			record_from_row(&r, res, i);
			if (r.seq != last_seq + 1)
				snprintf(msg, size, "event %" PRId64 " is missing", last_seq + 1);
			else if (have_prev != has_got_prev ||
			         (have_prev && memcmp(prev, got_prev, sizeof(prev)) != 0))
				snprintf(msg, size,
				         "event %" PRId64 " does not follow event %" PRId64, r.seq,
				         last_seq);
			else {
				audit_chain_hash(want, prev, have_prev ? sizeof(prev) : 0, &r);
				if (!hash_cell(stored, res, i, 10) ||
				    memcmp(stored, want, sizeof(want)) != 0)
					snprintf(msg, size,
					         "event %" PRId64
					         " was changed after it was written "
					         "(its hash does not match its content)",
					         r.seq);
			}
			if (msg[0]) {
				*first_broken = r.seq != last_seq + 1 ? last_seq + 1 : r.seq;
				break;
			}
			memcpy(prev, want, sizeof(prev));
			have_prev = 1;
			last_seq = r.seq;
			(*checked)++;
		}
		PQclear(res);
		if (*first_broken || rows < VERIFY_BATCH)
			return 0;
	}
}
