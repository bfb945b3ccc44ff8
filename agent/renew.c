/* Certificate renewal over the node's own mutual TLS: a new key made here, never sent. */
#include "agent.h"

#include "err.h"
#include "log.h"
#include "overseer/v1/agent.pb-c.h"
#include "pki.h"
#include "rpc.h"
#include "strutil.h"

#include <stdlib.h>
#include <string.h>

#define RENEW_TIMEOUT_MS 30000

int agent_renew(const struct agent_settings *s, const struct agent_identity *id)
{
	Overseer__V1__RenewRequest req = OVERSEER__V1__RENEW_REQUEST__INIT;
	Overseer__V1__RenewResponse *resp = NULL;
	struct rpc_client_opts o;
	struct rpc_client *c = NULL;
	struct pki_cert_info info;
	char *key = NULL, *csr = NULL;
	int err;

	err = pki_key_generate(&key);
	if (!err)
		err = pki_csr_create(&csr, key, id->node_id);
	if (err)
		goto out;
	memset(&o, 0, sizeof(o));
	o.target = s->server ? s->server : id->server;
	o.ca_pem = id->ca_pem;
	o.cert_pem = id->cert_pem;
	o.key_pem = id->key_pem;
	o.server_name = s->server_name;
	err = rpc_client_new(&c, &o);
	if (err)
		goto out;
	req.csr_pem = csr;
	err = rpc_client_unary(c, "/overseer.v1.AgentService/Renew", NULL, &req.base,
	                       &overseer__v1__renew_response__descriptor,
	                       (ProtobufCMessage **)&resp, RENEW_TIMEOUT_MS);
	if (err)
		goto out;
	if (pki_key_matches_cert(key, resp->certificate_pem) != 0 ||
	    pki_cert_verify(resp->certificate_pem, id->ca_pem) != 0 ||
	    pki_cert_info(&info, resp->certificate_pem) != 0 ||
	    strcmp(info.common_name, id->node_id) != 0) {
		err = ovr_err_set(
		        OVR_ERR_CRYPTO,
		        "the server returned a certificate that does not match this node");
		goto out;
	}
	err = agent_identity_save_renewed(s->state_dir, key, resp->certificate_pem);
	if (!err) {
		char when[64];

		ovr_format_time(when, sizeof(when), info.not_after_ms);
		log_info("renewed the node certificate serial=%s expires=%s", info.serial, when);
	}
out:
	if (resp)
		protobuf_c_message_free_unpacked(&resp->base, NULL);
	rpc_client_free(c);
	pki_pem_free(key);
	free(csr);
	return err;
}
