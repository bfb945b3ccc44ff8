/* The ovr-server process: its settings and the state every service shares. */
#ifndef OVR_SERVER_H
#define OVR_SERVER_H

#include <stdint.h>

#include "config.h"
#include "pki.h"

struct devpg;
struct rpc_server;
struct db;

struct server_settings {
	char *grpc_listen;
	char *rest_listen;
	char *data_dir;
	char *database_url;
	struct config_list server_names;
	int64_t workers;
	char *log_level;
	int64_t node_cert_ttl_ms;
	int64_t heartbeat_interval_ms;
	int64_t join_token_ttl_ms;
};

/* Paths under data_dir. */
struct server_paths {
	char pki_dir[4096];
	char ca_cert[4096];
	char ca_key[4096];
	char server_cert[4096];
	char server_key[4096];
	char master_key[4096];
	char admin_token[4096];
};

struct server {
	struct server_settings settings;
	struct config conf;
	struct server_paths paths;
	char conninfo[1024];
	struct devpg *devpg;
	/* Identifies this process's agent sessions in the nodes table. */
	char instance_id[33];
	char *ca_cert_pem;
	char *ca_key_pem;
	char ca_fingerprint[PKI_FINGERPRINT_LEN];
	struct rpc_server *rpc;
	int grpc_port;
};

/* The process-wide server (one per process); set by server_set at start. */
struct server *server_get(void);
void server_set(struct server *srv);

/* The calling worker's database connection (the rpc worker state); never NULL after
 * server_db_ready succeeded on this thread. */
struct db *server_db(void);
/* Connects or reconnects the worker's database connection: 0 or OVR_ERR_UNAVAILABLE. */
int server_db_ready(void);
/* rpc worker hooks: per-worker state holding the connection. */
void *server_worker_init(void *arg);
void server_worker_fini(void *state);

struct secret_keyring;
/*
 * The secrets master keys (loaded from paths.master_key on first use; secret_box refreshes them
 * after a rotation). Borrowed: valid until server_keyring_free at shutdown.
 */
int server_keyring(struct secret_keyring **out);
void server_keyring_free(void);

/* Fills srv->paths from settings.data_dir. */
int server_paths_init(struct server *srv);

#endif
