/* The agent hub: the live Connect stream of each node, by node id (a small locked list). */
#include "hub.h"

#include "err.h"
#include "log.h"
#include "rpc.h"
#include "strutil.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct hub_entry {
	struct hub_entry *next;
	char node_id[64];
	struct rpc_call *call;
};

static pthread_mutex_t hub_mu = PTHREAD_MUTEX_INITIALIZER;
static struct hub_entry *hub_head;
static size_t hub_n;

static struct hub_entry **find(const char *node_id)
{
	struct hub_entry **pp;

	for (pp = &hub_head; *pp; pp = &(*pp)->next)
		if (strcmp((*pp)->node_id, node_id) == 0)
			return pp;
	return NULL;
}

void hub_register(const char *node_id, struct rpc_call *call)
{
	struct hub_entry **pp;
	struct rpc_call *old = NULL;
	struct hub_entry *e;

	rpc_call_ref(call);
	pthread_mutex_lock(&hub_mu);
	pp = find(node_id);
	if (pp) {
		e = *pp;
		old = e->call;
	} else {
		e = calloc(1, sizeof(*e));
		if (!e)
			fatalx("hub: out of memory");
		ovr_strlcpy(e->node_id, node_id, sizeof(e->node_id));
		e->next = hub_head;
		hub_head = e;
		hub_n++;
	}
	e->call = call;
	pthread_mutex_unlock(&hub_mu);
	if (old) {
		rpc_call_cancel(old, OVR_ERR_CONFLICT,
		                "a newer connection of this node replaced it");
		rpc_call_unref(old);
	}
}

void hub_unregister(const char *node_id, struct rpc_call *call)
{
	struct hub_entry **pp;
	struct hub_entry *e = NULL;

	pthread_mutex_lock(&hub_mu);
	pp = find(node_id);
	if (pp && (*pp)->call == call) {
		e = *pp;
		*pp = e->next;
		hub_n--;
	}
	pthread_mutex_unlock(&hub_mu);
	if (e) {
		rpc_call_unref(e->call);
		free(e);
	}
}

/* The node's call with a ref taken, or NULL. */
static struct rpc_call *hub_get(const char *node_id)
{
	struct hub_entry **pp;
	struct rpc_call *call = NULL;

	pthread_mutex_lock(&hub_mu);
	pp = find(node_id);
	if (pp) {
		call = (*pp)->call;
		rpc_call_ref(call);
	}
	pthread_mutex_unlock(&hub_mu);
	return call;
}

int hub_disconnect(const char *node_id, int err, const char *message)
{
	struct rpc_call *call = hub_get(node_id);

	if (!call)
		return 0;
	rpc_call_cancel(call, err, message);
	rpc_call_unref(call);
	return 1;
}

int hub_send(const char *node_id, const ProtobufCMessage *msg)
{
	struct rpc_call *call = hub_get(node_id);
	int err;

	if (!call)
		return ovr_err_set(OVR_ERR_UNAVAILABLE, "node %s is not connected", node_id);
	err = rpc_call_send(call, msg);
	rpc_call_unref(call);
	return err;
}

int hub_connected(const char *node_id)
{
	int found;

	pthread_mutex_lock(&hub_mu);
	found = find(node_id) != NULL;
	pthread_mutex_unlock(&hub_mu);
	return found;
}

size_t hub_count(void)
{
	size_t n;

	pthread_mutex_lock(&hub_mu);
	n = hub_n;
	pthread_mutex_unlock(&hub_mu);
	return n;
}

void hub_clear(void)
{
	struct hub_entry *e;

	pthread_mutex_lock(&hub_mu);
	e = hub_head;
	hub_head = NULL;
	hub_n = 0;
	pthread_mutex_unlock(&hub_mu);
	while (e) {
		struct hub_entry *next = e->next;

		rpc_call_unref(e->call);
		free(e);
		e = next;
	}
}
