/*
 * The parts of an app version's closure beside the compose file: secret references and routes,
 * validated at the API edge and kept as JSON in app_versions (secrets sorted by variable).
 */
#ifndef OVR_CLOSURE_H
#define OVR_CLOSURE_H

#include <stddef.h>

#include "arena.h"
#include "overseer/v1/apps.pb-c.h"

#define CLOSURE_SECRETS_MAX 256

/* 1 if key is a valid environment variable name: ^[A-Za-z_][A-Za-z0-9_]{0,255}$. */
int closure_env_key_valid(const char *key);

/*
 * Checks the references (variable names, secret names, no variable twice, none in the OVR_
 * namespace the server fills, none also in the plain environment env_json) and returns them as
 * [{"env": ..., "secret": ..., "version": 0}, ...] sorted by variable (arena). Versions in the
 * request are ignored: the server pins them at deploy. OVR_ERR_INVALID naming the bad entry.
 */
int closure_secrets_to_json(struct arena *a, Overseer__V1__SecretRef *const *refs, size_t n,
                            const char *env_json, char **out);

/* Stored references back as messages in the arena; malformed JSON gives none. */
void closure_secrets_from_json(struct arena *a, const char *json, Overseer__V1__SecretRef ***out,
                               size_t *n_out);

/*
 * Checks the routes against the compose file (routes_check) and returns them as
 * [{"service", "host", "port", "path_prefix", "tls"}, ...] in the order given (arena).
 */
int closure_routes_to_json(struct arena *a, Overseer__V1__Route *const *routes, size_t n,
                           const char *compose_yaml, char **out);

/* Stored routes back as messages in the arena; malformed JSON gives none. */
void closure_routes_from_json(struct arena *a, const char *json, Overseer__V1__Route ***out,
                              size_t *n_out);

/* One line per reference, "ENV=secret@vN\n", as DiffVersions shows them (arena). */
char *closure_secrets_lines(struct arena *a, Overseer__V1__SecretRef *const *refs, size_t n);

/* One line per route, "service:port=host/path[,tls]\n" (ovrctl's --route syntax), arena. */
char *closure_routes_lines(struct arena *a, Overseer__V1__Route *const *routes, size_t n);

#endif
