/* The node's identity in the state directory: key, certificate, CA and agent.json. */
#include "agent.h"

#include "err.h"
#include "fsutil.h"
#include "pki.h"
#include "strutil.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PEM_MAX (64 * 1024)

static int path(char *out, size_t size, const char *dir, const char *name)
{
	if ((size_t)snprintf(out, size, "%s/%s", dir, name) >= size)
		return ovr_err_set(OVR_ERR_CONFIG, "state_dir: path too long");
	return 0;
}

int agent_identity_load(struct agent_identity *id, const char *state_dir)
{
	char p[4096];
	char *meta = NULL;
	json_t *j = NULL;
	json_error_t jerr;
	int err;

	memset(id, 0, sizeof(*id));
	err = path(p, sizeof(p), state_dir, "agent.json");
	if (!err)
		err = fs_read_file(&meta, NULL, p, PEM_MAX);
	if (err == OVR_ERR_NOT_FOUND)
		return ovr_err_set(
		        err,
		        "not enrolled: %s is missing (run 'ovr-agent enroll --server HOST:PORT "
		        "--token TOKEN' first)",
		        p);
	if (err)
		return err;
	j = json_loads(meta, 0, &jerr);
	free(meta);
	if (!j || !json_is_string(json_object_get(j, "node_id")) ||
	    !json_is_string(json_object_get(j, "server"))) {
		json_decref(j);
		return ovr_err_set(OVR_ERR_CONFIG, "%s: not a valid agent state file", p);
	}
	ovr_strlcpy(id->node_id, json_string_value(json_object_get(j, "node_id")),
	            sizeof(id->node_id));
	ovr_strlcpy(id->server, json_string_value(json_object_get(j, "server")),
	            sizeof(id->server));
	if (json_is_string(json_object_get(j, "node_name")))
		ovr_strlcpy(id->node_name, json_string_value(json_object_get(j, "node_name")),
		            sizeof(id->node_name));
	json_decref(j);

	err = path(p, sizeof(p), state_dir, "node.key");
	if (!err)
		err = pki_key_load_file(&id->key_pem, p);
	if (!err)
		err = path(p, sizeof(p), state_dir, "node.crt");
	if (!err)
		err = fs_read_file(&id->cert_pem, NULL, p, PEM_MAX);
	if (!err)
		err = path(p, sizeof(p), state_dir, "ca.crt");
	if (!err)
		err = fs_read_file(&id->ca_pem, NULL, p, PEM_MAX);
	if (err)
		agent_identity_free(id);
	return err;
}

static int save_pem(const char *dir, const char *name, const char *pem)
{
	char p[4096];
	int err = path(p, sizeof(p), dir, name);

	return err ? err : fs_write_file_atomic(p, pem, strlen(pem), 0600);
}

int agent_identity_save(const struct agent_identity *id, const char *state_dir)
{
	json_t *j;
	char *text;
	int err;

	err = fs_mkdir_p(state_dir, 0700);
	if (!err)
		err = save_pem(state_dir, "node.key", id->key_pem);
	if (!err)
		err = save_pem(state_dir, "node.crt", id->cert_pem);
	if (!err)
		err = save_pem(state_dir, "ca.crt", id->ca_pem);
	if (err)
		return err;
	j = json_pack("{s:s, s:s, s:s}", "node_id", id->node_id, "node_name", id->node_name,
	              "server", id->server);
	text = j ? json_dumps(j, JSON_INDENT(2)) : NULL;
	json_decref(j);
	if (!text)
		return ovr_err_set(OVR_ERR_NOMEM, "out of memory");
	/* Written last: its presence means the node is enrolled. */
	err = save_pem(state_dir, "agent.json", text);
	free(text);
	return err;
}

void agent_identity_free(struct agent_identity *id)
{
	pki_pem_free(id->key_pem);
	free(id->cert_pem);
	free(id->ca_pem);
	memset(id, 0, sizeof(*id));
}
