/*
 * The audit side of every call. The event is handed to the database connection as a commit hook,
 * so the first transaction the handler commits (its change) carries it; a handler that commits
 * nothing, or fails, gets its event written on its own afterwards. Exactly one event per call.
 */
#include "audit.h"

#include "db.h"
#include "db_audit.h"
#include "err.h"
#include "log.h"
#include "pbjson.h"
#include "server.h"
#include "strutil.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct audit_pending {
	struct audit_record rec;
	int written;
};

/* A string field of msg by its proto name, or NULL. */
static const char *string_field(const ProtobufCMessage *msg, const char *name)
{
	const ProtobufCFieldDescriptor *f;

	if (!msg)
		return NULL;
	f = protobuf_c_message_descriptor_get_field_by_name(msg->descriptor, name);
	if (!f || f->type != PROTOBUF_C_TYPE_STRING || f->label == PROTOBUF_C_LABEL_REPEATED)
		return NULL;
	return *(const char *const *)((const char *)msg + f->offset);
}

/* "app/shop" from the service's noun and the request's name (or app) field. */
static const char *target_of(struct arena *a, const struct rpc_method *m, const void *req)
{
	static const struct {
		const char *service;
		const char *noun;
	} nouns[] = {{"/overseer.v1.Apps/", "app"},
	             {"/overseer.v1.Secrets/", "secret"},
	             {"/overseer.v1.Nodes/", "node"},
	             {"/overseer.v1.Tokens/", "token"},
	             {"/overseer.v1.AgentService/", "node"}};
	const char *name = string_field(req, "name");
	size_t i;

	if (!name || !name[0])
		name = string_field(req, "app");
	if (!name || !name[0])
		return "";
	for (i = 0; i < sizeof(nouns) / sizeof(nouns[0]); i++)
		if (strncmp(m->path, nouns[i].service, strlen(nouns[i].service)) == 0)
			return arena_printf(a, "%s/%s", nouns[i].noun, name);
	return arena_strdup(a, name);
}

/* Replaces what must never be stored: values, tokens, keys; compose text becomes its size. */
static void redact(json_t *obj)
{
	static const char *const dropped[] = {"value", "token", "csrPem"};
	const char *key;
	json_t *v, *env;
	void *tmp;
	size_t i;

	for (i = 0; i < sizeof(dropped) / sizeof(dropped[0]); i++)
		if (json_object_get(obj, dropped[i]))
			json_object_set_new(obj, dropped[i], json_string("(redacted)"));
	v = json_object_get(obj, "composeYaml");
	if (json_is_string(v))
		json_object_set_new(obj, "composeYaml",
		                    json_sprintf("(%zu bytes)", json_string_length(v)));
	/* Plain environment values are not secrets, but they are not the log's business either. */
	env = json_object_get(obj, "environment");
	if (json_is_object(env))
		json_object_foreach_safe(env, tmp, key, v)
		        json_object_set_new(env, key, json_string("(set)"));
	json_object_foreach(obj, key, v) if (json_is_object(v) && v != env) redact(v);
}

static const char *summary_of(struct arena *a, const void *req)
{
	json_t *obj = req ? pbjson_encode(req, 0) : NULL;
	char *text;
	const char *out;

	if (!obj)
		return "{}";
	redact(obj);
	text = json_dumps(obj, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(obj);
	if (!text)
		return "{}";
	out = strlen(text) <= AUDIT_SUMMARY_MAX ? arena_strdup(a, text) : "{\"truncated\":true}";
	free(text);
	return out;
}

static void record_init(struct audit_record *r, struct rpc_call *call, const struct rpc_method *m,
                        const void *req)
{
	struct arena *a = rpc_call_arena(call);
	const struct rpc_identity *id = rpc_call_identity(call);
	const char *rid = string_field(req, "request_id");

	memset(r, 0, sizeof(*r));
	r->actor = id && id->name[0] ? id->name : "anonymous";
	r->action = m->path + 1;
	r->target = target_of(a, m, req);
	r->request_id = rid ? rid : "";
	r->source = rpc_call_peer(call) ? rpc_call_peer(call) : "";
	r->summary_json = summary_of(a, req);
}

/* Appends the event in a transaction of its own. */
static void write_alone(struct db *db, const struct audit_record *r)
{
	int err = db_begin(db);

	if (!err)
		err = db_audit_append(db, r, NULL);
	if (!err)
		err = db_commit(db);
	else
		db_rollback(db);
	if (err)
		log_error("audit event not written action=%s actor=%s outcome=%s: %s", r->action,
		          r->actor, r->outcome, ovr_err_msg(err));
}

static int on_commit(struct db *db, void *arg)
{
	struct audit_pending *p = arg;
	int err = db_audit_append(db, &p->rec, NULL);

	if (!err)
		p->written = 1;
	return err;
}

int audit_invoke(struct rpc_call *call, const struct rpc_method *m, int auth_err, const void *req,
                 void *resp)
{
	struct audit_pending p;
	struct db *db;
	int err;

	if (auth_err) {
		/* Who was refused what: only callers we know (a bad token writes nothing). */
		if (auth_err == OVR_ERR_PERMISSION && (db = server_db()) != NULL) {
			char msg[1100];

			ovr_strlcpy(msg, ovr_err_msg(auth_err), sizeof(msg));
			record_init(&p.rec, call, m, req);
			p.rec.outcome = "denied";
			write_alone(db, &p.rec);
			ovr_err_set(auth_err, "%s", msg);
		}
		return auth_err;
	}
	db = server_db();
	if (!m->mutating || !db)
		return m->unary(call, req, resp);
	record_init(&p.rec, call, m, req);
	p.rec.outcome = "ok";
	p.written = 0;
	db_set_commit_hook(db, on_commit, &p);
	err = m->unary(call, req, resp);
	db_set_commit_hook(db, NULL, NULL);
	if (!p.written) {
		char msg[1100];

		ovr_strlcpy(msg, err ? ovr_err_msg(err) : "", sizeof(msg));
		p.rec.outcome = err ? ovr_grpc_code_name(ovr_err_to_grpc(err)) : "ok";
		write_alone(db, &p.rec);
		if (err)
			ovr_err_set(err, "%s", msg);
	}
	return err;
}
