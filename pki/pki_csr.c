/* Certificate requests: a node creates one for its own key; the CA turns one into a node
 * certificate. */
#include "pki_internal.h"

#include "err.h"
#include "strutil.h"

#include <openssl/err.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int pki_csr_create(char **csr_pem, const char *key_pem, const char *common_name)
{
	EVP_PKEY *key = NULL;
	X509_REQ *req = NULL;
	X509_NAME *name = NULL;
	char *out = NULL;
	int err;

	*csr_pem = NULL;
	err = pki_check_cn(common_name, "CSR common name");
	if (!err)
		err = pki_pem_read_key(&key, key_pem, "private key");
	if (err)
		goto out;
	req = X509_REQ_new();
	name = X509_NAME_new();
	if (!req || !name) {
		err = pki_ossl_err(OVR_ERR_NOMEM, "CSR: out of memory");
		goto out;
	}
	if (!X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
	                                (const unsigned char *)common_name, -1, -1, 0)) {
		err = pki_ossl_err(OVR_ERR_INVALID,
		                   "CSR common name \"%s\" is not valid UTF-8 text", common_name);
		goto out;
	}
	if (!X509_REQ_set_version(req, X509_REQ_VERSION_1) ||
	    !X509_REQ_set_subject_name(req, name) || !X509_REQ_set_pubkey(req, key)) {
		err = pki_ossl_err(OVR_ERR_CRYPTO, "CSR: cannot set its subject or key");
		goto out;
	}
	if (X509_REQ_sign(req, key, EVP_sha256()) <= 0) {
		err = pki_ossl_err(OVR_ERR_CRYPTO, "CSR: cannot sign it");
		goto out;
	}
	err = pki_pem_append_csr(&out, req);
	if (err)
		goto out;
	*csr_pem = out;
	out = NULL;
out:
	free(out);
	X509_NAME_free(name);
	X509_REQ_free(req);
	EVP_PKEY_free(key);
	return err;
}

/*
 * Node ids end up in the CN and, unescaped, in the SPIFFE URI path: 1-64 of [A-Za-z0-9._-] (the
 * SPIFFE path alphabet), and not "." or "..".
 */
static int check_node_id(const char *id)
{
	size_t len;
	size_t i;

	if (!id || id[0] == '\0')
		return ovr_err_set(OVR_ERR_INVALID, "node id: must not be empty");
	len = strnlen(id, PKI_CN_MAX + 1);
	if (len > PKI_CN_MAX)
		return ovr_err_set(OVR_ERR_INVALID, "node id: longer than %d characters",
		                   PKI_CN_MAX);
	if (strcmp(id, ".") == 0 || strcmp(id, "..") == 0)
		return ovr_err_set(OVR_ERR_INVALID, "node id: \"%s\" is not allowed", id);
	for (i = 0; i < len; i++) {
		char c = id[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-'))
			return ovr_err_set(OVR_ERR_INVALID,
			                   "node id: only letters, digits, '.', '_' and '-' are "
			                   "allowed");
	}
	return 0;
}

static int check_lifetime(int64_t valid_ms, int64_t backdate_ms)
{
	if (valid_ms < 1000 || valid_ms > PKI_VALID_MS_MAX)
		return ovr_err_set(OVR_ERR_INVALID,
		                   "certificate lifetime of %lld ms: must be 1 s to 100 years",
		                   (long long)valid_ms);
	if (backdate_ms < 0 || backdate_ms > PKI_BACKDATE_MS_MAX)
		return ovr_err_set(OVR_ERR_INVALID, "backdate of %lld ms: must be 0 to 24 hours",
		                   (long long)backdate_ms);
	return 0;
}

/* The CSR proves possession of a P-256 key; nothing else in it is used. */
static int csr_check(X509_REQ *req, EVP_PKEY **pub)
{
	char group[80] = "";
	size_t len = 0;
	int rc;

	*pub = X509_REQ_get0_pubkey(req);
	if (!*pub)
		return pki_ossl_err(OVR_ERR_INVALID, "CSR: unreadable public key");
	if (!pki_key_is_p256(*pub)) {
		if (!EVP_PKEY_get_group_name(*pub, group, sizeof(group), &len))
			ovr_strlcpy(group, "no named curve", sizeof(group));
		ERR_clear_error();
		return ovr_err_set(OVR_ERR_INVALID, "CSR: key must be EC P-256, got %s (%s)",
		                   EVP_PKEY_get0_type_name(*pub) ? EVP_PKEY_get0_type_name(*pub)
		                                                 : "unknown",
		                   group);
	}
	rc = X509_REQ_verify(req, *pub);
	if (rc != 1)
		return pki_ossl_err(OVR_ERR_INVALID, "CSR: signature does not verify");
	return 0;
}

int pki_csr_sign(char **cert_pem, struct pki_cert_info *info, const char *ca_cert_pem,
                 const char *ca_key_pem, const char *csr_pem, const char *node_id, int64_t valid_ms,
                 int64_t backdate_ms)
{
	char uri[sizeof(PKI_SPIFFE_NODE_PREFIX) + PKI_CN_MAX];
	struct pki_cert_info tmp;
	GENERAL_NAMES *gens = NULL;
	EVP_PKEY *ca_key = NULL;
	EVP_PKEY *pub = NULL;
	X509_REQ *req = NULL;
	X509 *ca = NULL;
	X509 *cert = NULL;
	char *out = NULL;
	int err;

	*cert_pem = NULL;
	memset(&tmp, 0, sizeof(tmp));
	if (info)
		memset(info, 0, sizeof(*info));
	err = check_node_id(node_id);
	if (!err)
		err = check_lifetime(valid_ms, backdate_ms);
	if (!err)
		err = pki_pem_read_csr(&req, csr_pem, "CSR");
	if (!err)
		err = csr_check(req, &pub);
	if (!err)
		err = pki_ca_load(&ca, &ca_key, ca_cert_pem, ca_key_pem);
	if (err)
		goto out;
	snprintf(uri, sizeof(uri), "%s%s", PKI_SPIFFE_NODE_PREFIX, node_id);
	gens = sk_GENERAL_NAME_new_null();
	if (!gens) {
		err = pki_ossl_err(OVR_ERR_NOMEM, "subjectAltName: out of memory");
		goto out;
	}
	err = pki_san_push(gens, GEN_URI, uri, strlen(uri));
	if (err)
		goto out;
	err = pki_issue_leaf(&cert, ca, ca_key, pub, node_id, "clientAuth", gens, valid_ms,
	                     backdate_ms);
	if (!err && info)
		err = pki_x509_info(&tmp, cert);
	if (!err)
		err = pki_pem_append_cert(&out, cert);
	if (err)
		goto out;
	if (info)
		*info = tmp;
	*cert_pem = out;
	out = NULL;
out:
	free(out);
	GENERAL_NAMES_free(gens);
	X509_free(cert);
	X509_free(ca);
	EVP_PKEY_free(ca_key);
	X509_REQ_free(req);
	return err;
}
