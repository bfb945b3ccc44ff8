/*
 * Environment the server injects into each app on each node. Secrets are opened only here, only
 * for apps the node runs, and wiped once the message carrying them is queued.
 */
#include "inject.h"

#include "closure.h"
#include "crypto.h"
#include "db_endpoints.h"
#include "db_row.h"
#include "db_secret.h"
#include "err.h"
#include "labels.h"
#include "log.h"
#include "secret_box.h"
#include "server.h"
#include "strutil.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

/* The node as its variables describe it. */
struct node_vars {
	const char *id;
	const char *name;
	const char *hostname;
	const char *ip;
	Overseer__V1__DesiredApp__EnvironmentEntry **labels; /* key/value pairs, any entry type */
	size_t n_labels;
};

/* Environment entries under construction for one app. */
struct env_out {
	Overseer__V1__DesiredApp__EnvironmentEntry **entries;
	size_t n, cap;
	char **secret_keys;
	size_t n_secret_keys;
};

static void env_add(struct arena *a, struct env_out *e, const char *key, const char *value)
{
	Overseer__V1__DesiredApp__EnvironmentEntry *x;

	if (e->n == e->cap)
		return; /* sized up front: never reached */
	x = arena_alloc(a, sizeof(*x));
	overseer__v1__desired_app__environment_entry__init(x);
	x->key = arena_strdup(a, key);
	x->value = (char *)value;
	e->entries[e->n++] = x;
}

/* "OVR_NODE_LABEL_" + key with letters upper-cased and anything not [A-Z0-9_] as '_'. */
static char *env_name(struct arena *a, const char *prefix, const char *part1, const char *part2)
{
	char *s = arena_printf(a, "%s%s%s%s", prefix, part1, part2 ? "_" : "", part2 ? part2 : "");
	char *p;

	for (p = s + strlen(prefix); *p; p++)
		*p = isalnum((unsigned char)*p) ? (char)toupper((unsigned char)*p) : '_';
	return s;
}

static int node_vars_read(struct db *db, struct arena *a, const char *node_id, struct node_vars *nv)
{
	const char *params[1] = {node_id};
	PGresult *res;

	res = db_query(db,
	               "SELECT id, name, hostname, coalesce(addresses[1], ''), labels::text FROM "
	               "nodes WHERE id = $1",
	               1, params);
	if (!res)
		return ovr_err_last();
	if (PQntuples(res) == 0) {
		PQclear(res);
		return ovr_err_set(OVR_ERR_NOT_FOUND, "node %.64s not found", node_id);
	}
	nv->id = db_cell(a, res, 0, 0);
	nv->name = db_cell(a, res, 0, 1);
	nv->hostname = db_cell(a, res, 0, 2);
	nv->ip = db_cell(a, res, 0, 3);
	labels_from_json(a, db_get_text(res, 0, 4),
	                 &overseer__v1__desired_app__environment_entry__descriptor, &nv->n_labels,
	                 (void ***)&nv->labels);
	PQclear(res);
	return 0;
}

/* The version's pinned references (JSON as closure.h stores it). */
static int pins_read(struct db *db, struct arena *a, const Overseer__V1__DesiredApp *d,
                     Overseer__V1__SecretRef ***refs, size_t *n)
{
	char ver[DB_INT64_SIZE];
	const char *params[2] = {d->app, db_param_int64(ver, d->version)};
	PGresult *res;

	res = db_query(db,
	               "SELECT secrets::text FROM app_versions WHERE app = $1 AND version = "
	               "$2::bigint",
	               2, params);
	if (!res)
		return ovr_err_last();
	closure_secrets_from_json(a, PQntuples(res) ? db_get_text(res, 0, 0) : "[]", refs, n);
	PQclear(res);
	return 0;
}

static int secrets_add(struct db *db, struct arena *a, const Overseer__V1__DesiredApp *d,
                       Overseer__V1__SecretRef **refs, size_t n, struct env_out *e)
{
	struct secret_keyring *kr = NULL;
	size_t i;
	int err = 0;

	if (n == 0)
		return 0;
	err = server_keyring(&kr);
	for (i = 0; i < n && !err; i++) {
		struct secret_sealed sealed;
		char *value = NULL, *copy;
		size_t len = 0;

		err = db_secret_sealed(db, a, refs[i]->secret, refs[i]->version, &sealed);
		if (err == OVR_ERR_NOT_FOUND) {
			/*
			 * Removed with force while in use: the operator chose this. Withholding the
			 * node's whole state would stall every app on it; a node already running
			 * this version does not apply it again, a new one gets the variable unset.
			 */
			log_warnx("app %s version %" PRId64 ": secret %s version %d was removed; "
			          "sent without %s",
			          d->app, d->version, refs[i]->secret, (int)refs[i]->version,
			          refs[i]->env);
			err = 0;
			continue;
		}
		if (!err)
			err = secret_open(kr, refs[i]->secret, refs[i]->version, &sealed, &value,
			                  &len);
		if (err) {
			char msg[1100];

			/* The message names the secret and its version already. */
			ovr_strlcpy(msg, ovr_err_msg(err), sizeof(msg));
			return ovr_err_set(err, "app %s version %" PRId64 ": %s", d->app,
			                   d->version, msg);
		}
		copy = arena_alloc(a, len + 1);
		memcpy(copy, value, len + 1);
		secret_value_free(value, len);
		env_add(a, e, refs[i]->env, copy);
		e->secret_keys[e->n_secret_keys++] = arena_strdup(a, refs[i]->env);
	}
	return err;
}

static void node_vars_add(struct arena *a, const struct node_vars *nv,
                          const Overseer__V1__DesiredApp *d, struct env_out *e)
{
	size_t i;

	env_add(a, e, "OVR_NODE_ID", nv->id);
	env_add(a, e, "OVR_NODE_NAME", nv->name);
	env_add(a, e, "OVR_NODE_HOSTNAME", nv->hostname);
	env_add(a, e, "OVR_NODE_IP", nv->ip);
	env_add(a, e, "OVR_APP", d->app);
	env_add(a, e, "OVR_APP_VERSION", arena_printf(a, "%" PRId64, d->version));
	for (i = 0; i < nv->n_labels; i++)
		env_add(a, e, env_name(a, "OVR_NODE_LABEL_", nv->labels[i]->key, NULL),
		        nv->labels[i]->value);
}

/* OVR_DISCOVERY_<APP>_<SERVICE>=addr,... for every other app's service (eps sorted by app,
 * service). */
static void discovery_add(struct arena *a, const char *self, Overseer__V1__Endpoint **eps, size_t n,
                          struct env_out *e)
{
	size_t i = 0, count = 0;

	while (i < n) {
		size_t j = i, len = 0;
		char *value;

		while (j < n && !strcmp(eps[j]->app, eps[i]->app) &&
		       !strcmp(eps[j]->service, eps[i]->service))
			len += strlen(eps[j++]->address) + 1;
		if (strcmp(eps[i]->app, self) != 0 && count < INJECT_DISCOVERY_MAX) {
			size_t k;

			value = arena_alloc(a, len + 1);
			value[0] = '\0';
			for (k = i; k < j; k++) {
				if (k > i)
					strcat(value, ",");
				strcat(value, eps[k]->address);
			}
			env_add(a, e, env_name(a, "OVR_DISCOVERY_", eps[i]->app, eps[i]->service),
			        value);
			count++;
		}
		i = j;
	}
	if (count == INJECT_DISCOVERY_MAX)
		log_warnx("app %s: discovery variables cut at %d", self, INJECT_DISCOVERY_MAX);
}

static int app_inject(struct db *db, struct arena *a, const struct node_vars *nv,
                      Overseer__V1__Endpoint **eps, size_t n_eps, Overseer__V1__DesiredApp *d)
{
	Overseer__V1__SecretRef **refs = NULL;
	struct env_out e = {0};
	size_t n_refs = 0;
	int err;

	err = pins_read(db, a, d, &refs, &n_refs);
	if (err)
		return err;
	e.cap = d->n_environment + n_refs + 6 + nv->n_labels + INJECT_DISCOVERY_MAX;
	e.entries = arena_calloc(a, e.cap + 1, sizeof(*e.entries));
	e.secret_keys = arena_calloc(a, n_refs + 1, sizeof(char *));
	if (d->n_environment)
		memcpy(e.entries, d->environment, d->n_environment * sizeof(*e.entries));
	e.n = d->n_environment;
	node_vars_add(a, nv, d, &e);
	discovery_add(a, d->app, eps, n_eps, &e);
	err = secrets_add(db, a, d, refs, n_refs, &e);
	d->environment = e.entries;
	d->n_environment = e.n;
	d->secret_keys = e.secret_keys;
	d->n_secret_keys = e.n_secret_keys;
	return err;
}

int inject_sync(struct db *db, struct arena *a, const char *node_id, Overseer__V1__Sync *sync)
{
	Overseer__V1__Endpoint **eps = NULL;
	struct node_vars nv = {0};
	size_t i, n_eps = 0;
	int err;

	if (sync->n_apps == 0)
		return 0;
	err = node_vars_read(db, a, node_id, &nv);
	if (!err)
		err = db_endpoints_list(db, a, NULL, &eps, &n_eps);
	for (i = 0; i < sync->n_apps && !err; i++)
		err = app_inject(db, a, &nv, eps, n_eps, sync->apps[i]);
	if (err)
		inject_wipe(sync);
	return err;
}

void inject_wipe(Overseer__V1__Sync *sync)
{
	size_t i, j, k;

	for (i = 0; sync && i < sync->n_apps; i++) {
		Overseer__V1__DesiredApp *d = sync->apps[i];

		for (j = 0; j < d->n_secret_keys; j++)
			for (k = 0; k < d->n_environment; k++)
				if (d->environment[k]->value &&
				    !strcmp(d->environment[k]->key, d->secret_keys[j]))
					crypto_wipe(d->environment[k]->value,
					            strlen(d->environment[k]->value));
	}
}
