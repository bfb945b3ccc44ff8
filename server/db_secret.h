/*
 * Queries on the secret store: sealed secret versions, their metadata, and pinning an app
 * version's references to secret versions. The only SQL on secrets and secret_versions (besides
 * rotate_key.c, which re-wraps data keys).
 */
#ifndef OVR_DB_SECRET_H
#define OVR_DB_SECRET_H

#include <stddef.h>
#include <stdint.h>

#include "arena.h"
#include "db.h"
#include "overseer/v1/secrets.pb-c.h"
#include "secret_box.h"

/*
 * Stores value as version N+1 of secret name (creating it, or bringing back a removed one with
 * its numbering continued), sealed under kr's current key, in one transaction. *out (arena) is
 * the secret's metadata. The value is never copied anywhere but into the sealed row.
 */
int db_secret_put(struct db *db, struct arena *a, struct secret_keyring *kr, const char *name,
                  const void *value, size_t len, const char *actor, Overseer__V1__Secret **out);

/* Secrets (never values) ordered by name after after_name (NULL: from the start), at most limit. */
int db_secret_list(struct db *db, struct arena *a, const char *after_name, int limit,
                   Overseer__V1__Secret ***out, size_t *n_out);

/*
 * Removes the secret: its metadata row stays (deleted, so numbering never repeats) and every
 * ciphertext goes. OVR_ERR_NOT_FOUND if absent; OVR_ERR_PRECONDITION naming the apps whose current
 * version references it, unless force.
 */
int db_secret_delete(struct db *db, struct arena *a, const char *name, int force);

/*
 * In the caller's transaction: sets each reference's version (JSON as closure.h stores it) to its
 * secret's current version and returns the pinned JSON (arena). OVR_ERR_PRECONDITION naming the
 * first secret that does not exist.
 */
int db_secret_pin(struct db *db, struct arena *a, const char *refs_json, char **pinned_out);

/*
 * In the caller's transaction: OVR_ERR_PRECONDITION naming the first pinned secret version that no
 * longer exists (its secret was removed), else 0.
 */
int db_secret_check_pinned(struct db *db, struct arena *a, const char *refs_json);

/* One sealed secret version (buffers in the arena: do not secret_sealed_free). NOT_FOUND if gone.
 */
int db_secret_sealed(struct db *db, struct arena *a, const char *name, int32_t version,
                     struct secret_sealed *out);

#endif
