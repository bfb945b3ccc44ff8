/*
 * The in-memory deny-list of revoked certificate serials, consulted in the TLS verifier (gRPC
 * 1.51's CRL support fails open, see GRPC_CORE.md) and on every Connect.
 */
#ifndef OVR_REVOKED_H
#define OVR_REVOKED_H

struct db;

/* Loads every serial from the database (at start). */
int revoked_load(struct db *db);
void revoked_add(const char *serial);
/* 1 if serial is revoked. Thread-safe, non-blocking for readers in practice. */
int revoked_contains(const char *serial);
/* The rpc verify_peer_cert hook: refuses a certificate whose serial is revoked. */
int revoked_verify_cert(const char *cert_pem, void *arg);
void revoked_clear(void);

#endif
