/*
 * The secret, route and lint flags of ovrctl app create and deploy (--secret ENV=SECRET,
 * --route SERVICE:PORT=HOST[/PATH][,tls], --strict, --no-secrets, --no-routes): parsed and
 * checked here once, for both commands, into the request's SecretRef and Route messages.
 */
#ifndef OVR_CLOSURE_FLAGS_H
#define OVR_CLOSURE_FLAGS_H

#include <stddef.h>

#include "ctl.h"
#include "overseer/v1/apps.pb-c.h"
#include "routes.h"

/* Most --secret flags one command takes (the server's limit); --route takes ROUTES_MAX. */
#define CLOSURE_FLAGS_SECRETS_MAX 256

/*
 * Parses "ENV=SECRET" into a new SecretRef (version 0: the server pins the secret's current
 * version). *out is one allocation, its strings inside it: free() it. 0, or OVR_ERR_INVALID
 * with a message that never repeats the text after '=' (it may be a value typed where a name
 * belongs), or OVR_ERR_NOMEM.
 */
int closure_flags_parse_secret(Overseer__V1__SecretRef **out, const char *text);

/*
 * Parses "SERVICE:PORT=HOST[/PATH][,tls]" into a new Route: requests for HOST whose path starts
 * with PATH go to container port PORT of the compose service SERVICE, and ",tls" asks for HTTPS.
 * The fields are checked as the server checks them (routes_check). *out is one allocation:
 * free() it. 0, or OVR_ERR_INVALID naming what is wrong, or OVR_ERR_NOMEM.
 */
int closure_flags_parse_route(Overseer__V1__Route **out, const char *text);

/* "DB_PASSWORD=db-pass@v3" (without "@vN" for version 0) into buf. Returns buf. */
const char *closure_flags_format_secret(char *buf, size_t size, const Overseer__V1__SecretRef *s);

/* A route in the --route syntax, "web:8080=shop.example.com/api,tls", into buf. Returns buf. */
const char *closure_flags_format_route(char *buf, size_t size, const Overseer__V1__Route *r);

/* The flags as given; zero it to start, closure_flags_free releases it. */
struct closure_flags {
	Overseer__V1__SecretRef *secrets[CLOSURE_FLAGS_SECRETS_MAX]; /* owned */
	size_t n_secrets;
	Overseer__V1__Route *routes[ROUTES_MAX]; /* owned */
	size_t n_routes;
	int no_secrets; /* --no-secrets (deploy): the new version has none */
	int no_routes;  /* --no-routes (deploy) */
	int strict;     /* --strict: every lint finding is an error */
};

/*
 * If argv[*i] is --secret, --route, --strict or (when on_deploy) --no-secrets or --no-routes,
 * checks and records it, advances *i and returns 1; -1 after printing a usage error (a bad
 * value, a variable or host and path given twice, a contradiction with --no-*); 0 for any other
 * argument.
 */
int closure_flags_arg(struct closure_flags *f, const struct ctl *ctl, int argc, char **argv, int *i,
                      int on_deploy);

void closure_flags_free(struct closure_flags *f);

#endif
