/* Docker Compose on the node: which command line works (v2 plugin or v1), and later running it. */
#ifndef OVR_COMPOSE_H
#define OVR_COMPOSE_H

#include <stddef.h>

#define COMPOSE_DETECT_TIMEOUT_MS 20000

/* The compose command line to use. Plain data: copy it freely, nothing to free. */
struct compose_cli {
	const char *argv[3]; /* {"docker", "compose", NULL} or {"docker-compose", NULL, NULL} */
	int argc;            /* 2 or 1: the prefix length in argv */
	int v2;              /* 1: the Compose v2 CLI (plugin, or a v2 standalone docker-compose) */
	char version[64];    /* what `version --short` printed, "2.24.5" or "1.29.2" */
};

/*
 * Finds a working compose: `docker compose version --short` (v2 plugin) preferred, else
 * `docker-compose version --short`, each run with a COMPOSE_DETECT_TIMEOUT_MS deadline.
 * OVR_ERR_NOT_FOUND with a message saying what was tried when neither works. The first answer
 * that works is kept for the life of the process; thread-safe.
 */
int compose_detect(struct compose_cli *out);

#endif
