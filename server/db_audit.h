/* The audit_events table: appending to the hash chain, paging through it, verifying it. */
#ifndef OVR_DB_AUDIT_H
#define OVR_DB_AUDIT_H

#include <stddef.h>
#include <stdint.h>

#include "arena.h"
#include "audit_chain.h"
#include "db.h"
#include "overseer/v1/audit.pb-c.h"

/*
 * Appends r (its seq and at_us are assigned here) in the caller's transaction, after the newest
 * event, holding the chain's lock until that transaction ends: events are chained in commit
 * order, and an event whose change rolls back disappears with it. *seq_out (may be NULL) is its
 * sequence number.
 */
int db_audit_append(struct db *db, const struct audit_record *r, int64_t *seq_out);

/* Filters for db_audit_list; empty strings and 0 match everything. */
struct db_audit_filter {
	const char *actor;
	const char *target;
	int64_t since_ms;
	int64_t after_seq; /* page token: events after this one */
};

/* Events in sequence order matching f, at most limit (arena). */
int db_audit_list(struct db *db, struct arena *a, const struct db_audit_filter *f, int limit,
                  Overseer__V1__AuditEvent ***out, size_t *n_out);

/*
 * Recomputes the whole chain in sequence order (bounded memory). *first_broken is 0 when every
 * event's stored hash and previous hash match, else the first sequence number that does not,
 * with why in msg (size bytes).
 */
int db_audit_verify(struct db *db, int64_t *checked, int64_t *first_broken, char *msg, size_t size);

#endif
