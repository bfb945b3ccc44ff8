/* Queries on join tokens (node enrollment) and operator API tokens. */
#ifndef OVR_DB_TOKEN_H
#define OVR_DB_TOKEN_H

#include <stddef.h>
#include <stdint.h>

#include "arena.h"
#include "crypto.h"
#include "db.h"
#include "overseer/v1/tokens.pb-c.h"

struct db_join_token {
	unsigned char secret_hash[CRYPTO_SHA256_LEN];
	char node_name[64];
	char *labels_json; /* malloc'd */
	int64_t expires_ms;
	int used;
	int failed_attempts;
};

int db_join_token_create(struct db *db, const char *id, const unsigned char *hash,
                         const char *node_name, const char *labels_json, const char *created_by,
                         int64_t expires_ms);
/* Locks the token row for the enrolling transaction. NOT_FOUND if no such id. */
int db_join_token_lock(struct db *db, const char *id, struct db_join_token *out);
void db_join_token_clear(struct db_join_token *t);
int db_join_token_failed(struct db *db, const char *id);
int db_join_token_used(struct db *db, const char *id, const char *node_id);

struct db_api_token {
	char name[64];
	char role[16];
	unsigned char secret_hash[CRYPTO_SHA256_LEN];
	int64_t expires_ms;   /* 0: never */
	int64_t last_used_ms; /* 0: never */
	int revoked;
};

/* OVR_ERR_EXISTS (message naming the token) if the name is taken, by a revoked token too. */
int db_api_token_create(struct db *db, const char *id, const unsigned char *hash, const char *name,
                        const char *role, const char *created_by, int64_t expires_ms);
int db_api_token_get(struct db *db, const char *id, struct db_api_token *out);
/* "viewer", "deployer", "admin" for an Overseer__V1__Role value; NULL for anything else. */
const char *db_api_token_role_text(int role);

/* Number of active admin tokens. */
int db_api_token_admins(struct db *db, int64_t *count);

/*
 * Records that the token was used now, unless that was already recorded less than a minute ago
 * (one write per token and minute, whatever the call rate).
 */
int db_api_token_touch(struct db *db, const char *id);

/* One token's metadata by name (arena), never its hash. OVR_ERR_NOT_FOUND naming it if absent. */
int db_api_token_read(struct db *db, struct arena *a, const char *name,
                      Overseer__V1__ApiToken **out);

/* Tokens (revoked ones too) ordered by name after after_name (NULL: from the start), at most limit.
 */
int db_api_token_list(struct db *db, struct arena *a, const char *after_name, int limit,
                      Overseer__V1__ApiToken ***out, size_t *n_out);

/*
 * Revokes the token named name in one transaction and returns its metadata (arena); revoking a
 * revoked token changes nothing. OVR_ERR_NOT_FOUND if absent; OVR_ERR_PRECONDITION if it is the
 * last active admin token (concurrent revocations are serialised on the admin rows, so two of
 * them can never remove the last two admins together).
 */
int db_api_token_revoke(struct db *db, struct arena *a, const char *name,
                        Overseer__V1__ApiToken **out);

#endif
