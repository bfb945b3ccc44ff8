/* `ovr-server rotate-master-key`: a new secrets master key, every data key re-wrapped under it. */
#ifndef OVR_ROTATE_KEY_H
#define OVR_ROTATE_KEY_H

#include <stdint.h>

struct server;

/*
 * Advisory locks (keys as in db.h). ROTATE_KEY_LOCK_RUN (session) lets one rotation run at a
 * time. ROTATE_KEY_LOCK_SEAL is taken exclusively by a rotation while it swaps the key files;
 * a transaction that seals a new secret version takes it shared first
 * (SELECT pg_advisory_xact_lock_shared(...)), so it either commits before the swap, where the
 * rotation sees its row, or seals under the new key.
 */
#define ROTATE_KEY_LOCK_RUN      INT64_C(0x6f76722d726b6579) /* "ovr-rkey" */
#define ROTATE_KEY_LOCK_SEAL     INT64_C(0x6f76722d7365616c) /* "ovr-seal" */
#define ROTATE_KEY_LOCK_SEAL_SQL "8031732524996977004"

/*
 * Runs the rotation against srv's master key file (srv->paths set) and database: database_url,
 * or with dev the running dev server's PostgreSQL. Prints progress to stdout, never key bytes.
 * Crash-safe at every step and safe to run again after any failure. 0, or the error with a
 * message naming the step.
 */
int rotate_key_run(struct server *srv, int dev);

#endif
