/* Compose file parser and validator: one YAML document (libyaml) into a small read-only model. */
#ifndef OVR_COMPOSE_FILE_H
#define OVR_COMPOSE_FILE_H

#include <stddef.h>

#include "arena.h"

/* Limits on peer input (a compose file arrives in a gRPC or REST request). */
#define COMPOSE_FILE_MAX_BYTES      (1024 * 1024)
#define COMPOSE_FILE_MAX_DEPTH      64    /* nested mappings and lists, aliases included */
#define COMPOSE_FILE_MAX_EXPANSIONS 10000 /* nodes produced through aliases, in total */
#define COMPOSE_FILE_MAX_ANCHORS    10000
#define COMPOSE_FILE_MAX_NODES      200000 /* bounds memory (~100 bytes a node) */
#define COMPOSE_FILE_MAX_SERVICES   1000

/*
 * Every element carries the 1-based line where it is written. Values reached through an alias or
 * a merge key (<<) carry the line of the anchored text. Strings are as written: no variable
 * interpolation is done (the compose CLI on the node does it), so "${TAG}" stays "${TAG}".
 */

/* A "name=value" pair: an environment variable or a label, from the list or the mapping form. */
struct compose_kv {
	const char *name;
	const char *value; /* NULL for "- NAME" or "NAME:" with no value (taken from the node) */
	int line;
};

/* A published port as written ("8080:80", "80"), or the long form rewritten the same way. */
struct compose_port {
	const char *text;
	int line;
};

enum compose_volume_kind {
	COMPOSE_VOLUME_ANONYMOUS, /* "/data": no source */
	COMPOSE_VOLUME_NAMED,     /* "db-data:/data" */
	COMPOSE_VOLUME_BIND,      /* "/srv/x:/x", "./app:/app", "~/x:/x", or type: bind */
	COMPOSE_VOLUME_OTHER,     /* tmpfs, npipe, ..., or a source that starts with a ${VAR} */
};

struct compose_volume {
	const char *text;   /* as written; the long form rewritten as "source:target[:ro]" */
	const char *source; /* NULL for an anonymous volume */
	const char *target; /* path in the container */
	enum compose_volume_kind kind;
	int line;
};

struct compose_dep {
	const char *service;
	const char *condition; /* "service_healthy", ...; NULL if not written (service_started) */
	int line;
};

enum compose_health {
	COMPOSE_HEALTH_NONE,     /* no healthcheck key: the image's own healthcheck, if any */
	COMPOSE_HEALTH_DEFINED,  /* a healthcheck mapping */
	COMPOSE_HEALTH_DISABLED, /* disable: true, or test: NONE / ["NONE"] */
};

struct compose_service {
	const char *name;
	int line; /* the service's key under services: */
	const char *image;
	int image_line;
	struct compose_port *ports;
	size_t n_ports;
	struct compose_kv *environment;
	size_t n_environment;
	struct compose_volume *volumes;
	size_t n_volumes;
	struct compose_dep *depends_on;
	size_t n_depends_on;
	struct compose_kv *labels;
	size_t n_labels;
	enum compose_health healthcheck;
	int healthcheck_line; /* 0 if none */
	const char *restart;  /* NULL if not set */
	int restart_line;
	int privileged; /* privileged: true */
	int privileged_line;
	/* deploy.resources.limits, or the service-level mem_limit / cpus of the 2.x format. */
	int has_limits;
	int limits_line;
};

/* A top-level volume or network name. */
struct compose_name {
	const char *name;
	int line;
};

struct compose_file {
	struct compose_service *services; /* in file order */
	size_t n_services;
	struct compose_name *volumes;
	size_t n_volumes;
	struct compose_name *networks;
	size_t n_networks;
	struct arena arena; /* owns everything above */
};

/*
 * Parses and validates len bytes of compose YAML (not necessarily NUL-terminated). On success
 * *out is a model the caller owns and releases with compose_file_free. On failure *out is NULL
 * and the result is OVR_ERR_INVALID ("line N: problem", naming the service when there is one),
 * OVR_ERR_TOO_LARGE (size, service or anchor limits) or OVR_ERR_NOMEM, with the message set.
 */
int compose_file_parse(struct compose_file **out, const char *yaml, size_t len);

/* Releases f and everything it points to. NULL is a no-op. */
void compose_file_free(struct compose_file *f);

/* The service called name, or NULL. Borrowed from f. */
const struct compose_service *compose_file_service(const struct compose_file *f, const char *name);

#endif
