/* The process-wide server state, the per-worker database connection and data-dir paths. */
#include "server.h"

#include "db.h"
#include "err.h"
#include "log.h"
#include "secret_box.h"
#include "workpool.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

static struct server *the_server;

/* Loaded on first use; secret_keyring_refresh keeps it current after a rotation. */
static struct secret_keyring *the_keyring;
static pthread_mutex_t keyring_mu = PTHREAD_MUTEX_INITIALIZER;

int server_keyring(struct secret_keyring **out)
{
	int err = 0;

	pthread_mutex_lock(&keyring_mu);
	if (!the_keyring && the_server)
		err = secret_keyring_load(&the_keyring, the_server->paths.master_key);
	else if (!the_keyring)
		err = ovr_err_set(OVR_ERR_INTERNAL, "no server");
	*out = the_keyring;
	pthread_mutex_unlock(&keyring_mu);
	return err;
}

void server_keyring_free(void)
{
	pthread_mutex_lock(&keyring_mu);
	secret_keyring_free(the_keyring);
	the_keyring = NULL;
	pthread_mutex_unlock(&keyring_mu);
}

struct server *server_get(void)
{
	return the_server;
}

void server_set(struct server *srv)
{
	the_server = srv;
}

/* Worker state: the connection, opened lazily so a database outage at start is survivable. */
struct worker {
	struct db *db;
};

void *server_worker_init(void *arg)
{
	struct worker *w = calloc(1, sizeof(*w));

	(void)arg;
	if (!w)
		fatalx("out of memory");
	if (db_open(&w->db, the_server->conninfo) != 0)
		log_warnx("worker: database not reachable yet: %s",
		          ovr_err_msg(OVR_ERR_UNAVAILABLE));
	return w;
}

void server_worker_fini(void *state)
{
	struct worker *w = state;

	if (!w)
		return;
	db_close(w->db);
	free(w);
}

struct db *server_db(void)
{
	struct worker *w = workpool_worker_state();

	return w ? w->db : NULL;
}

int server_db_ready(void)
{
	struct worker *w = workpool_worker_state();

	if (!w)
		return ovr_err_set(OVR_ERR_INTERNAL, "no database connection on this thread");
	if (!w->db && db_open(&w->db, the_server->conninfo) != 0)
		return ovr_err_set(OVR_ERR_UNAVAILABLE, "database unavailable, retry later");
	if (db_reconnect_if_broken(w->db) != 0)
		return ovr_err_set(OVR_ERR_UNAVAILABLE, "database unavailable, retry later");
	return 0;
}

static int join(char *out, size_t size, const char *dir, const char *name)
{
	if ((size_t)snprintf(out, size, "%s/%s", dir, name) >= size)
		return ovr_err_set(OVR_ERR_CONFIG, "data_dir: path too long");
	return 0;
}

int server_paths_init(struct server *srv)
{
	struct server_paths *p = &srv->paths;
	const char *dir = srv->settings.data_dir;
	int err = 0;

	err = err ? err : join(p->pki_dir, sizeof(p->pki_dir), dir, "pki");
	err = err ? err : join(p->ca_cert, sizeof(p->ca_cert), p->pki_dir, "ca.crt");
	err = err ? err : join(p->ca_key, sizeof(p->ca_key), p->pki_dir, "ca.key");
	err = err ? err : join(p->server_cert, sizeof(p->server_cert), p->pki_dir, "server.crt");
	err = err ? err : join(p->server_key, sizeof(p->server_key), p->pki_dir, "server.key");
	err = err ? err : join(p->master_key, sizeof(p->master_key), dir, "master.key");
	err = err ? err : join(p->admin_token, sizeof(p->admin_token), dir, "admin.token");
	return err;
}
