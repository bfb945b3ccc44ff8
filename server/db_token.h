/* Queries on join tokens (node enrollment) and operator API tokens. */
#ifndef OVR_DB_TOKEN_H
#define OVR_DB_TOKEN_H

#include <stdint.h>

#include "crypto.h"
#include "db.h"

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
	int64_t expires_ms; /* 0: never */
	int revoked;
};

int db_api_token_create(struct db *db, const char *id, const unsigned char *hash, const char *name,
                        const char *role, const char *created_by, int64_t expires_ms);
int db_api_token_get(struct db *db, const char *id, struct db_api_token *out);
/* Number of active admin tokens. */
int db_api_token_admins(struct db *db, int64_t *count);

#endif
