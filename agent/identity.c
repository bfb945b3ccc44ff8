/* The node's identity in the state directory: key, certificate, CA and agent.json. */
#include "agent.h"

#include "err.h"
#include "fsutil.h"
#include "pki.h"
#include "strutil.h"

#include <errno.h>
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

static int save_pem(const char *dir, const char *name, const char *pem);

/*
 * Loads the newest matching key and certificate. A renewal writes node.next.key and
 * node.next.crt, then renames them over node.key and node.crt; whatever step a crash interrupted,
 * the pair that matches is found here and the rename finished.
 */
static int load_key_pair(struct agent_identity *id, const char *dir)
{
	static const char *const key_names[] = {"node.next.key", "node.key"};
	static const char *const crt_names[] = {"node.next.crt", "node.crt"};
	char *keys[2] = {NULL, NULL}, *crts[2] = {NULL, NULL};
	char p[4096], final[4096];
	int err = 0, first_err = 0, k, c, found = 0;

	for (k = 0; k < 2; k++) {
		if ((err = path(p, sizeof(p), dir, key_names[k])) != 0)
			goto out;
		if (fs_exists(p) && (err = pki_key_load_file(&keys[k], p)) != 0 && !first_err)
			first_err = err;
		if ((err = path(p, sizeof(p), dir, crt_names[k])) != 0)
			goto out;
		if (fs_exists(p))
			fs_read_file(&crts[k], NULL, p, PEM_MAX);
	}
	err = 0;
	for (c = 0; c < 2 && !found; c++)
		for (k = 0; k < 2 && !found; k++)
			if (crts[c] && keys[k] && pki_key_matches_cert(keys[k], crts[c]) == 0)
				found = 1;
	if (!found) {
		err = first_err ? first_err
		                : ovr_err_set(OVR_ERR_CONFIG,
		                              "%s: no node.key matches node.crt; enroll again with "
		                              "'ovr-agent enroll --force'",
		                              dir);
		goto out;
	}
	c--;
	k--;
	id->key_pem = keys[k];
	id->cert_pem = crts[c];
	keys[k] = NULL;
	crts[c] = NULL;
	/* Finish an interrupted renewal: the matching pair becomes node.key and node.crt. */
	if (k == 0 && path(p, sizeof(p), dir, key_names[0]) == 0 &&
	    path(final, sizeof(final), dir, key_names[1]) == 0)
		rename(p, final);
	if (c == 0 && path(p, sizeof(p), dir, crt_names[0]) == 0 &&
	    path(final, sizeof(final), dir, crt_names[1]) == 0)
		rename(p, final);
out:
	pki_pem_free(keys[0]);
	pki_pem_free(keys[1]);
	free(crts[0]);
	free(crts[1]);
	return err;
}

int agent_identity_save_renewed(const char *state_dir, const char *key_pem, const char *cert_pem)
{
	char p[4096], final[4096];
	int err;

	err = save_pem(state_dir, "node.next.key", key_pem);
	if (!err)
		err = save_pem(state_dir, "node.next.crt", cert_pem);
	if (!err)
		err = path(p, sizeof(p), state_dir, "node.next.key");
	if (!err)
		err = path(final, sizeof(final), state_dir, "node.key");
	if (!err && rename(p, final) < 0)
		err = ovr_err_set(OVR_ERR_IO, "%s: %s", final, strerror(errno));
	if (!err)
		err = path(p, sizeof(p), state_dir, "node.next.crt");
	if (!err)
		err = path(final, sizeof(final), state_dir, "node.crt");
	if (!err && rename(p, final) < 0)
		err = ovr_err_set(OVR_ERR_IO, "%s: %s", final, strerror(errno));
	return err;
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

	err = load_key_pair(id, state_dir);
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
