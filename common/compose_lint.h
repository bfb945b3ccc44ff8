/* Compose lint: what a reviewer would say about a compose file, each finding with its line and fix.
 */
#ifndef OVR_COMPOSE_LINT_H
#define OVR_COMPOSE_LINT_H

#include <stddef.h>

#include "arena.h"
#include "compose_file.h"

/* At most this many findings, the last one "too-many-findings" when more were found. */
#define COMPOSE_LINT_MAX_FINDINGS 1000

/*
 * Rule ids are part of the API (clients match on them; docs/lint.md explains each): never renamed.
 *   hardcoded-secret          a secret-looking variable, or a URL password, written in the file
 *   image-latest              an image without a tag, or with :latest
 *   depends-on-no-healthcheck depends_on a service without a healthcheck
 *   depends-on-not-healthy    depends_on a service with a healthcheck, not waiting for it
 *   no-restart                no restart policy
 *   privileged                privileged: true
 *   docker-socket             a bind mount of the Docker socket (or the directory holding it)
 *   no-resource-limits        no memory or CPU limits
 *   bind-outside-allowlist    a bind mount outside the allowed host paths, relative or under ~
 *   port-conflict             a host port another app publishes on a target node
 *   too-many-findings         the list was cut at COMPOSE_LINT_MAX_FINDINGS
 */

/* A host port that another app's container publishes on a node, as the agents report it. */
struct compose_lint_port_use {
	const char *node;
	const char *app;
	int host_port;
	const char *proto;   /* "tcp", "udp", "sctp"; NULL or "" is tcp */
	const char *host_ip; /* NULL, "", "0.0.0.0" or "::" is every address */
};

struct compose_lint_options {
	/*
	 * Absolute host path prefixes bind mounts may use ("/srv/" allows /srv and below).
	 * NULL: /srv/, /opt/ and /mnt/. A non-NULL empty list allows no absolute path.
	 */
	const char *const *bind_allowlist;
	size_t n_bind_allowlist;
	const struct compose_lint_port_use *ports_in_use;
	size_t n_ports_in_use;
	int strict; /* every finding has severity "error" rather than "warning" */
};

struct compose_lint_finding {
	const char *rule;     /* one of the ids above */
	const char *severity; /* "warning" or "error" */
	int line;             /* 1-based, always > 0 */
	const char *service;  /* the service's name */
	const char *message;  /* "service web: image nginx has no tag ..." */
	const char *fix;      /* one actionable sentence */
};

/*
 * Lints the parsed file f; o NULL means the defaults (no ports in use, not strict). The findings,
 * sorted by line then rule, go to *out (*n_out of them, at most COMPOSE_LINT_MAX_FINDINGS), all
 * allocated in a: they live as long as the arena and borrow nothing from f or o. Messages show
 * at most 80 bytes of any text from the file and never the value of a variable. 0, or
 * OVR_ERR_INVALID for a NULL file or an allowlist count without a list.
 */
int compose_lint(const struct compose_file *f, const struct compose_lint_options *o,
                 struct arena *a, struct compose_lint_finding **out, size_t *n_out);

#endif
