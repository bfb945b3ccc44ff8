/* The Tokens service: operator API tokens with roles, created, listed and revoked by admins. */
#ifndef OVR_SVC_TOKENS_H
#define OVR_SVC_TOKENS_H

#include <stdint.h>

#include "rpc.h"

/* Lifetimes a token may be given: ttl_ms 0 (no expiry), or 1 minute to 10 years. */
#define SVC_TOKENS_TTL_MIN_MS (60LL * 1000)
#define SVC_TOKENS_TTL_MAX_MS (3650LL * 24 * 3600 * 1000)

int svc_tokens_create(struct rpc_call *call, const void *req, void *resp);
int svc_tokens_list(struct rpc_call *call, const void *req, void *resp);
int svc_tokens_revoke(struct rpc_call *call, const void *req, void *resp);

/*
 * The expiry of a token created at now_ms with ttl_ms: 0 (never) for ttl_ms 0, else now_ms +
 * ttl_ms. OVR_ERR_INVALID ("ttl: ...") outside the bounds above.
 */
int svc_tokens_expiry(int64_t *expires_ms, int64_t now_ms, int64_t ttl_ms);

#endif
