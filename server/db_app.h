/* Queries on apps, their immutable versions and the request ids that make retries idempotent. */
#ifndef OVR_DB_APP_H
#define OVR_DB_APP_H

#include <stdint.h>

#include "arena.h"
#include "db.h"
#include "db_deploy.h"
#include "overseer/v1/apps.pb-c.h"

/* The app's settings as stored (validated by the caller). */
struct db_app_settings {
	const char *targets_json; /* {"nodes": [...], "selector": "..."} */
	int64_t min_healthy_time_ms;
	int64_t healthy_deadline_ms;
	int auto_rollback_disabled;
	int strategy;
	int max_parallel;
	int max_failures;
	int strict_lint;
};

/*
 * A new version. compose_yaml / environment_json NULL: copied from the source version, which is
 * the newest one, or from_version when set (rollback). The content hash is computed here.
 */
struct db_app_version_new {
	const char *compose_yaml;     /* validated by the caller */
	const char *environment_json; /* JSON object of strings */
	const char *author;
	const char *message;
	int kind;                 /* Overseer__V1__DeploymentKind */
	int64_t from_version;     /* > 0: copy this version and set rollback_of to it */
	int64_t expected_version; /* != 0: OVR_ERR_CONFLICT unless the app is at it */
	const char *request_id;   /* "" or NULL: none */
	int no_supersede;         /* OVR_ERR_PRECONDITION if a deployment is in progress */
	/*
	 * Secret references and routes, used when replace_* is set (else copied from the source).
	 * A deploy checks them against the final compose file and environment and pins every
	 * reference to its secret's current version; a rollback keeps the source's pins.
	 */
	Overseer__V1__SecretRef *const *secrets;
	size_t n_secrets;
	int replace_secrets;
	Overseer__V1__Route *const *routes;
	size_t n_routes;
	int replace_routes;
};

/* What a change set in motion: its deployment ("" if none) and the nodes to push it to. */
struct db_app_change {
	char *deployment_id;
	struct db_node_ids touched;
};

/*
 * Creates the app and its version 1 in one transaction; when deploy is set, version 1 becomes
 * current and its deployment starts in the same transaction. OVR_ERR_EXISTS if the name is taken
 * (also by a deleted app), unless request_id was already used for this app: then the first result
 * is returned. Messages live in the arena.
 */
int db_app_create(struct db *db, struct arena *a, const char *name, const struct db_app_settings *s,
                  int deploy, const struct db_app_version_new *v, Overseer__V1__App **app_out,
                  Overseer__V1__AppVersion **version_out, struct db_app_change *change);

/* One app that is not deleted; OVR_ERR_NOT_FOUND naming it. */
int db_app_get(struct db *db, struct arena *a, const char *name, Overseer__V1__App **out);

/* Apps ordered by name after after_name (NULL: from the start), at most limit. */
int db_app_list(struct db *db, struct arena *a, const char *after_name, int limit,
                Overseer__V1__App ***out, size_t *n_out);

/*
 * Marks the app deleted (its versions stay) and starts its removal from every node that targets
 * or runs it, in one transaction. OVR_ERR_NOT_FOUND if absent or already deleted, unless
 * request_id removed it: then the answer is that removal again.
 */
int db_app_delete(struct db *db, struct arena *a, const char *name, const char *actor,
                  int purge_volumes, const char *request_id, struct db_app_change *change);

/* Which settings an update replaces. */
struct db_app_update {
	const char *targets_json;                     /* NULL: keep */
	const struct db_app_settings *health_rollout; /* NULL: keep health and rollout */
	int set_strict_lint;
	int strict_lint;
};

/*
 * Replaces the settings given, in one transaction that also moves every node the old or new
 * targets touch to a new desired generation (change->touched).
 */
int db_app_update(struct db *db, struct arena *a, const char *name, const struct db_app_update *u,
                  struct db_app_change *change);

/*
 * Creates version N+1 (N: the newest version) in one transaction holding the app row lock, makes
 * it current and starts its deployment. For a rollback (v->kind ROLLBACK) from_version 0 means the
 * last-known-good version if older than the current one, else current - 1. A request_id already
 * used for this app returns the version it created. OVR_ERR_CONFLICT ("expected version X but the
 * app is at Y") on an expected_version mismatch.
 */
int db_app_version_create(struct db *db, struct arena *a, const char *name,
                          const struct db_app_version_new *v, Overseer__V1__AppVersion **out,
                          struct db_app_change *change);

/*
 * In the caller's transaction, holding the app's row lock: the automatic rollback, version N+1
 * copied from to_version (kind auto_rollback, author "overseer", rollback_of set), made current
 * and deployed. *version_out is N+1.
 */
int db_app_auto_rollback(struct db *db, struct arena *a, const char *name, int64_t to_version,
                         const char *message, int64_t *version_out, struct db_app_change *change);

/* Versions newest first, older than before (0: from the newest), at most limit; no compose. */
int db_app_versions(struct db *db, struct arena *a, const char *name, int64_t before, int limit,
                    Overseer__V1__AppVersion ***out, size_t *n_out);

/* One version with its compose file; OVR_ERR_NOT_FOUND naming app and version. */
int db_app_version_get(struct db *db, struct arena *a, const char *name, int64_t version,
                       Overseer__V1__AppVersion **out);

#endif
