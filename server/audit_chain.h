/*
 * The audit log's tamper evidence: each event's hash is SHA-256(prev_hash || canonical event), so
 * editing, removing or reordering any stored event breaks every hash after it.
 */
#ifndef OVR_AUDIT_CHAIN_H
#define OVR_AUDIT_CHAIN_H

#include <stddef.h>
#include <stdint.h>

#include "crypto.h"

/* One event as stored; strings are UTF-8, summary_json is the redacted request summary. */
struct audit_record {
	int64_t seq;
	int64_t at_us; /* microseconds since the Unix epoch, as stored */
	const char *actor;
	const char *action;
	const char *target;
	const char *request_id;
	const char *source;
	const char *outcome;
	const char *summary_json;
};

/*
 * hash = SHA-256(prev || canonical(r)), where prev is the previous event's hash (prev_len 0 for
 * the first event) and canonical(r) is "overseer-audit-v1\n" then each field in the order of the
 * struct as "<decimal length>:<bytes>\n" (numbers in decimal): unambiguous whatever the strings
 * hold.
 */
void audit_chain_hash(unsigned char out[CRYPTO_SHA256_LEN], const unsigned char *prev,
                      size_t prev_len, const struct audit_record *r);

#endif
