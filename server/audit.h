/*
 * Auditing every mutating call: one event per call, written in the same transaction as its change
 * when the handler commits one, else on its own; and one for each call refused for its role.
 */
#ifndef OVR_AUDIT_H
#define OVR_AUDIT_H

#include "rpc.h"

#define AUDIT_SUMMARY_MAX 4096 /* bytes of a request summary */

/*
 * Runs m's unary handler for call the way both transports must (the rpc and REST invoke hook).
 * auth_err is what authentication answered: a PERMISSION refusal is recorded ("denied") and
 * returned. A mutating method's event carries the caller, the method, its target
 * ("app/NAME", "secret/NAME", ...), request id, peer address, outcome ("ok" or the gRPC code
 * name) and a redacted summary of the request: no secret value, join token, key or compose file
 * text, and environment values replaced.
 */
int audit_invoke(struct rpc_call *call, const struct rpc_method *m, int auth_err, const void *req,
                 void *resp);

#endif
