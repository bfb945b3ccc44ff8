/* ovr-server's configuration table: every setting, its default and bounds, in one place. */
#include "settings.h"

#include "server.h"

#include <stddef.h>

#define OPT(field) offsetof(struct server_settings, field)
#define DAY_MS     (24LL * 3600 * 1000)

const struct config_option server_options[] = {
        {"grpc_listen", CONFIG_STRING, OPT(grpc_listen), "0.0.0.0:7443", 0, 0, 0,
         "gRPC listen address (agents, ovrctl, gRPC clients)"},
        {"rest_listen", CONFIG_STRING, OPT(rest_listen), "0.0.0.0:7480", 0, 0, 0,
         "REST/JSON listen address"},
        {"data_dir", CONFIG_STRING, OPT(data_dir), NULL, 0, 0, 0,
         "PKI, master key and admin token (default ./ovr-data with --dev, else /var/lib/overseer)"},
        {"database_url", CONFIG_STRING, OPT(database_url), NULL, 0, 0, 1,
         "PostgreSQL connection string (not needed with --dev)"},
        {"server_names", CONFIG_STRING_LIST, OPT(server_names), NULL, 0, 0, 0,
         "extra DNS names and IPs for the server certificate"},
        {"workers", CONFIG_INT, OPT(workers), "4", 1, 256, 0,
         "worker threads, each with one database connection"},
        {"log_level", CONFIG_STRING, OPT(log_level), "info", 0, 0, 0, "debug, info, warn or error"},
        {"node_cert_ttl", CONFIG_DURATION, OPT(node_cert_ttl_ms), "30d", 3600LL * 1000,
         825 * DAY_MS, 0, "lifetime of node certificates"},
        {"heartbeat_interval", CONFIG_DURATION, OPT(heartbeat_interval_ms), "5s", 1000, 60000, 0,
         "how often agents report; a node is disconnected after 3 missed"},
        {"join_token_ttl", CONFIG_DURATION, OPT(join_token_ttl_ms), "15m", 60000, 7 * DAY_MS, 0,
         "default lifetime of join tokens"},
};

const size_t server_options_count = sizeof(server_options) / sizeof(server_options[0]);
