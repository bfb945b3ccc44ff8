/* Queries on nodes and revoked certificate serials. */
#ifndef OVR_DB_NODE_H
#define OVR_DB_NODE_H

#include <stdint.h>

#include "arena.h"
#include "db.h"
#include "overseer/v1/nodes.pb-c.h"

/* What an agent says about itself in its hello. */
struct db_node_hello {
	const char *hostname;
	const char *addresses_json; /* JSON array of strings */
	const char *agent_version;
	const char *docker_version;
	const char *compose_version;
	const char *os_arch;
};

/*
 * Lists nodes ordered by name, after after_name (NULL: from the start), at most limit rows,
 * matching selector_json (a JSON object the labels must contain; NULL: all). stale_ms is how old
 * last_seen may be for a node with a session to count as connected. Messages live in the arena.
 */
int db_node_list(struct db *db, struct arena *a, int64_t stale_ms, const char *selector_json,
                 const char *after_name, int limit, Overseer__V1__Node ***out, size_t *n_out);

/* One node by name or id; OVR_ERR_NOT_FOUND naming it. */
int db_node_get(struct db *db, struct arena *a, int64_t stale_ms, const char *name_or_id,
                Overseer__V1__Node **out);

/* What authenticating a node certificate needs to know about the node. */
struct db_node_auth {
	int active;
	char serial[64];      /* current certificate */
	char prev_serial[64]; /* before the last renewal, until the node uses the new one; "" */
};

int db_node_auth(struct db *db, const char *id, struct db_node_auth *out);

/*
 * After a renewal: the node now holds serial (valid until expires_ms); the serial it renewed
 * with becomes prev_serial. OVR_ERR_CONFLICT if old_serial is no longer the current one.
 */
int db_node_renewed(struct db *db, const char *id, const char *old_serial, const char *serial,
		    int64_t expires_ms);

/* The node connected with its new certificate: revokes prev_serial (in one transaction). */
int db_node_retire_prev_serial(struct db *db, const char *id, const char *prev_serial);

/*
 * Revokes a node (in one transaction: state, revoked_at, its current serial into
 * revoked_serials). Fills id and serial for the in-memory deny-list and the hub.
 */
int db_node_revoke(struct db *db, const char *name_or_id, char *id, size_t id_size, char *serial,
                   size_t serial_size);

/* Replaces a node's labels. */
int db_node_set_labels(struct db *db, const char *name_or_id, const char *labels_json);

/* Records a new agent session: hello fields, connected_server = session, last seen now. */
int db_node_session_start(struct db *db, const char *id, const char *session,
                          const struct db_node_hello *hello);
/* A heartbeat: last seen now, if the session is still the node's current one. */
int db_node_session_seen(struct db *db, const char *id, const char *session);
/* The session ended: clears connected_server if it is still this session. */
int db_node_session_end(struct db *db, const char *id, const char *session);

/* Every revoked serial, for the deny-list at start. Calls fn for each. */
int db_revoked_serials(struct db *db, void (*fn)(const char *serial, void *arg), void *arg);

/* Enrollment, inside the caller's transaction: the node of that name, locked (NOT_FOUND if none).
 */
int db_node_lock_by_name(struct db *db, const char *name, char *id, size_t id_size, char *serial,
                         size_t serial_size);
/* Creates the node or re-activates it with its new certificate; a token without labels keeps
 * the labels the node had. */
int db_node_enrolled(struct db *db, const char *id, const char *name, const char *labels_json,
                     const char *serial, int64_t expires_ms, const char *hostname);
/* Adds a serial to the revoked list (a replaced or revoked certificate). */
int db_revoked_serial_add(struct db *db, const char *serial, const char *node_id);

#endif
