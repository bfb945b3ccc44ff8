/* Routes of an app version (host, path prefix, port of a service): their validation, and the
 * Traefik labels that publish them through Traefik's Docker provider. */
#ifndef OVR_ROUTES_H
#define OVR_ROUTES_H

#include <stddef.h>

#include "arena.h"
#include "compose_file.h"
#include "overseer/v1/apps.pb-c.h"

#define ROUTES_MAX         64               /* routes per app version */
#define ROUTES_HOST_MAX    253              /* bytes of a host name */
#define ROUTES_PATH_MAX    1024             /* bytes of a path prefix */
#define ROUTES_SERVICE_MAX 63               /* bytes of a service name */
#define ROUTES_LABELS_MAX  (ROUTES_MAX * 5) /* labels routes_labels makes at most */

/* One Docker label for one service of the compose file. */
struct route_label {
	const char *service;
	const char *key;
	const char *value;
};

/*
 * Checks n routes (peer input: a deploy request or a Sync): at most ROUTES_MAX; service a name of
 * compose's form (letters, digits, '.', '_', '-') and, if f is not NULL, a service of f; host a
 * DNS name (letters, digits, '-' and '.', labels of 1-63 bytes, no wildcard); port 1-65535;
 * path_prefix empty or "/..." of URL characters (none of backtick, quotes, spaces, parentheses,
 * commas, braces or '$', so nothing can reach a Traefik rule or compose's interpolation); no two
 * routes with the same host (case-insensitive) and path prefix ("" and "/" are the same).
 * 0, or OVR_ERR_INVALID / OVR_ERR_TOO_LARGE with "routes[i].field: problem" set.
 */
int routes_check(const Overseer__V1__Route *const *routes, size_t n, const struct compose_file *f);

/*
 * The Traefik labels of n routes of app (pure, deterministic: the same routes give the same list
 * in the same order, as compose's config hash needs). Route i gets router and service
 * "ovr-APP-SERVICE-i" (SERVICE lowercased, characters other than [a-z0-9-] as '-'), on its service:
 *   traefik.enable=true (once per service)
 *   traefik.http.routers.R.rule=Host(`host`) [&& PathPrefix(`/p`)] (no PathPrefix for "" or "/")
 *   traefik.http.routers.R.service=R
 *   traefik.http.routers.R.tls=true (only for tls routes)
 *   traefik.http.services.R.loadbalancer.server.port=PORT
 * Entrypoints and certificate resolvers are left to the operator's Traefik configuration.
 * Checks the routes first (routes_check without a compose file). On success *out (NULL if none)
 * and every string in it are allocated from a, and *n_out is its length.
 */
int routes_labels(struct route_label **out, size_t *n_out, struct arena *a, const char *app,
                  const Overseer__V1__Route *const *routes, size_t n);

#endif
