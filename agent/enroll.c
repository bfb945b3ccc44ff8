/* `ovr-agent enroll`: pin the CA from the join token, make a key here, and get a certificate. */
#include "agent.h"

#include "err.h"
#include "fsutil.h"
#include "log.h"
#include "overseer/v1/agent.pb-c.h"
#include "pki.h"
#include "rpc.h"
#include "strutil.h"
#include "token.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ENROLL_TIMEOUT_MS 30000

/* The Enroll call itself, over TLS verified against the pinned CA, without a client cert. */
static int enroll_call(Overseer__V1__EnrollResponse **resp, const char *server,
                       const char *server_name, const char *ca_pem, const char *token,
                       const char *csr_pem)
{
	Overseer__V1__EnrollRequest req = OVERSEER__V1__ENROLL_REQUEST__INIT;
	struct rpc_client_opts o;
	struct rpc_client *c = NULL;
	char host[256] = "";
	int err;

	memset(&o, 0, sizeof(o));
	o.target = server;
	o.ca_pem = ca_pem;
	o.server_name = server_name;
	err = rpc_client_new(&c, &o);
	if (err)
		return err;
	gethostname(host, sizeof(host) - 1);
	req.token = (char *)(uintptr_t)token;
	req.csr_pem = (char *)(uintptr_t)csr_pem;
	req.hostname = host;
	err = rpc_client_unary(c, "/overseer.v1.AgentService/Enroll", NULL, &req.base,
	                       &overseer__v1__enroll_response__descriptor,
	                       (ProtobufCMessage **)resp, ENROLL_TIMEOUT_MS);
	rpc_client_free(c);
	return err;
}

int agent_enroll(const struct agent_settings *s, const char *server, const char *token, int force)
{
	Overseer__V1__EnrollResponse *resp = NULL;
	struct agent_identity id;
	struct token_parts parts;
	char host[256], meta[4096];
	char *csr = NULL;
	int port, err;

	memset(&id, 0, sizeof(id));
	if ((size_t)snprintf(meta, sizeof(meta), "%s/agent.json", s->state_dir) >= sizeof(meta))
		return ovr_err_set(OVR_ERR_CONFIG, "state_dir: path too long");
	if (fs_exists(meta) && !force)
		return ovr_err_set(
		        OVR_ERR_EXISTS,
		        "%s already holds an enrolled node; pass --force to enroll again "
		        "(the old certificate stops working)",
		        s->state_dir);
	err = token_join_parse(&parts, token);
	if (!err)
		err = ovr_parse_hostport(host, sizeof(host), &port, server);
	if (err)
		goto out;
	/* Trust on first use, pinned by the fingerprint in the token (as Docker Swarm does). */
	err = pki_tls_fetch_ca(&id.ca_pem, host, port, parts.fingerprint, 10000);
	if (err)
		goto out;
	err = pki_key_generate(&id.key_pem);
	if (!err)
		err = pki_csr_create(&csr, id.key_pem, "ovr-agent");
	if (!err)
		err = enroll_call(&resp, server, s->server_name, id.ca_pem, token, csr);
	if (err)
		goto out;
	if (pki_key_matches_cert(id.key_pem, resp->certificate_pem) != 0 ||
	    pki_cert_verify(resp->certificate_pem, id.ca_pem) != 0) {
		err = ovr_err_set(
		        OVR_ERR_CRYPTO,
		        "the server returned a certificate that does not match this key or CA");
		goto out;
	}
	ovr_strlcpy(id.node_id, resp->node_id, sizeof(id.node_id));
	ovr_strlcpy(id.node_name, resp->node_name, sizeof(id.node_name));
	ovr_strlcpy(id.server, server, sizeof(id.server));
	id.cert_pem = strdup(resp->certificate_pem);
	if (!id.cert_pem) {
		err = ovr_err_set(OVR_ERR_NOMEM, "out of memory");
		goto out;
	}
	err = agent_identity_save(&id, s->state_dir);
	if (!err)
		log_info("enrolled as node %s (id %s); credentials in %s. Start it with: ovr-agent "
		         "run%s%s",
		         id.node_name, id.node_id, s->state_dir,
		         strcmp(s->state_dir, "/var/lib/ovr-agent") ? " --state-dir " : "",
		         strcmp(s->state_dir, "/var/lib/ovr-agent") ? s->state_dir : "");
out:
	if (resp)
		protobuf_c_message_free_unpacked(&resp->base, NULL);
	free(csr);
	token_parts_wipe(&parts);
	agent_identity_free(&id);
	return err;
}
