/* ovr-agent's configuration table. */
#include "agent.h"

#include <stddef.h>

#define OPT(field) offsetof(struct agent_settings, field)

const struct config_option agent_options[] = {
        {"state_dir", CONFIG_STRING, OPT(state_dir), "/var/lib/ovr-agent", 0, 0, 0,
         "key, certificates and applied state"},
        {"server", CONFIG_STRING, OPT(server), NULL, 0, 0, 0,
         "server HOST:PORT (default: the one enrolled with)"},
        {"server_name", CONFIG_STRING, OPT(server_name), NULL, 0, 0, 0,
         "name to expect in the server certificate (default: the host of server)"},
        {"project_prefix", CONFIG_STRING, OPT(project_prefix), "ovr", 0, 0, 0,
         "compose project name prefix: PREFIX-APP"},
        {"docker_socket", CONFIG_STRING, OPT(docker_socket), "/var/run/docker.sock", 0, 0, 0,
         "Docker Engine API socket"},
        {"log_level", CONFIG_STRING, OPT(log_level), "info", 0, 0, 0, "debug, info, warn or error"},
        {"keepalive", CONFIG_DURATION, OPT(keepalive_ms), "10s", 5000, 600000, 0,
         "HTTP/2 ping interval to notice a dead server"},
        {"renew_before", CONFIG_DURATION, OPT(renew_before_ms), "0s", 0, 365LL * 24 * 3600 * 1000,
         0,
         "renew the node certificate this long before it expires (0s: at a random point between "
         "50% and 80% of its life)"},
        {"metrics_listen", CONFIG_STRING, OPT(metrics_listen), "", 0, 0, 0,
         "serve Prometheus metrics on http://ADDR:PORT/metrics (PORT alone: 127.0.0.1; "
         "empty: off)"},
};

const size_t agent_options_count = sizeof(agent_options) / sizeof(agent_options[0]);
