/* ovr-agent's settings and identity, shared by enrollment and the session. */
#ifndef OVR_AGENT_H
#define OVR_AGENT_H

#include <stdint.h>

#include "config.h"

struct agent_settings {
	char *state_dir;
	char *server;      /* HOST:PORT; set by enroll, stored in the state dir */
	char *server_name; /* name to check in the server certificate; default: host of server */
	char *project_prefix;
	char *docker_socket;
	char *log_level;
	int64_t keepalive_ms;
	int64_t renew_before_ms;
	char *metrics_listen; /* "" or NULL: no metrics listener */
};

extern const struct config_option agent_options[];
extern const size_t agent_options_count;

/* What enrollment stored in the state directory. */
struct agent_identity {
	char node_id[64];
	char node_name[64];
	char server[300];
	char *key_pem; /* wiped on free */
	char *cert_pem;
	char *ca_pem;
};

/* Reads the identity from the state directory; OVR_ERR_NOT_FOUND if not enrolled. */
int agent_identity_load(struct agent_identity *id, const char *state_dir);
/* Stores a renewed key and certificate so that a crash at any point leaves a usable pair. */
int agent_identity_save_renewed(const char *state_dir, const char *key_pem, const char *cert_pem);

/*
 * Renews the node certificate now over mutual TLS with the current one: a new key made here, a
 * CSR, the Renew call, and the new pair stored. A running agent uses it from its next connection.
 */
int agent_renew(const struct agent_settings *s, const struct agent_identity *id);

/* Stores it: key, certificate and CA 0600, then agent.json; each file atomically. */
int agent_identity_save(const struct agent_identity *id, const char *state_dir);
void agent_identity_free(struct agent_identity *id);

/* `ovr-agent enroll`: returns an exit code. */
int agent_enroll(const struct agent_settings *s, const char *server, const char *token, int force);

/*
 * `ovr-agent run`: connects and keeps the session until stop becomes non-zero, applying the
 * server's desired state with the Docker Compose executor. 0 or a negative enum ovr_err.
 */
int agent_run(const struct agent_settings *s, volatile int *stop);

struct executor; /* executor.h */

/*
 * As agent_run with another executor (the simulated one: tests, load generation); ex borrowed.
 * No container events are followed: reports come after applies and with every heartbeat.
 */
int agent_run_executor(const struct agent_settings *s, struct executor *ex, volatile int *stop);

#endif
