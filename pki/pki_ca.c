/* The certificate authority: creating it, loading it for signing, and the server certificate. */
#include "pki_internal.h"

#include "err.h"
#include "strutil.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#define DAY_MS (24LL * 3600 * 1000)

static int check_days(int valid_days)
{
	if (valid_days < 1 || valid_days > PKI_DAYS_MAX)
		return ovr_err_set(OVR_ERR_INVALID, "validity of %d days: must be 1 to %d",
		                   valid_days, PKI_DAYS_MAX);
	return 0;
}

int pki_ca_load(X509 **ca, EVP_PKEY **ca_key, const char *ca_cert_pem, const char *ca_key_pem)
{
	EVP_PKEY *pub;
	int err;

	*ca = NULL;
	*ca_key = NULL;
	err = pki_pem_read_cert(ca, ca_cert_pem, "CA certificate");
	if (!err)
		err = pki_pem_read_key(ca_key, ca_key_pem, "CA key");
	if (err)
		goto fail;
	if (!pki_x509_is_ca(*ca)) {
		err = ovr_err_set(OVR_ERR_INVALID,
		                  "CA certificate: not a CA (no basicConstraints CA:TRUE)");
		goto fail;
	}
	pub = X509_get0_pubkey(*ca);
	if (!pub || EVP_PKEY_eq(pub, *ca_key) != 1) {
		err = ovr_err_set(OVR_ERR_INVALID, "CA key does not belong to the CA certificate");
		goto fail;
	}
	return 0;
fail:
	X509_free(*ca);
	EVP_PKEY_free(*ca_key);
	*ca = NULL;
	*ca_key = NULL;
	return err;
}

int pki_ca_create(char **cert_pem, char **key_pem, const char *common_name, int valid_days)
{
	EVP_PKEY *key = NULL;
	X509 *cert = NULL;
	char *out_cert = NULL;
	char *out_key = NULL;
	int64_t now;
	int err;

	*cert_pem = NULL;
	*key_pem = NULL;
	err = pki_check_cn(common_name, "CA common name");
	if (!err)
		err = check_days(valid_days);
	if (!err)
		err = pki_key_new(&key);
	if (err)
		goto out;
	now = ovr_now_ms();
	err = pki_cert_new(&cert, NULL, key, common_name, now - PKI_BACKDATE_MS,
	                   now + valid_days * DAY_MS);
	if (err)
		goto out;
	/* pathlen:0: the CA signs leaves only; a certificate it issued can never issue another. */
	err = pki_cert_add_ext(cert, NULL, NID_basic_constraints, "critical,CA:TRUE,pathlen:0");
	if (!err)
		err = pki_cert_add_ext(cert, NULL, NID_key_usage, "critical,keyCertSign,cRLSign");
	if (!err)
		err = pki_cert_add_ext(cert, NULL, NID_subject_key_identifier, "hash");
	if (!err)
		err = pki_cert_sign(cert, key);
	if (!err)
		err = pki_pem_append_cert(&out_cert, cert);
	if (!err)
		err = pki_pem_write_key(&out_key, key);
	if (err)
		goto out;
	*cert_pem = out_cert;
	*key_pem = out_key;
	out_cert = NULL;
	out_key = NULL;
out:
	free(out_cert);
	pki_pem_free(out_key);
	X509_free(cert);
	EVP_PKEY_free(key);
	return err;
}

/* A host name: LDH labels of 1-63 characters, optionally "*." first; no trailing dot. */
static int dns_name_valid(const char *name)
{
	const char *p = name;
	size_t label = 0;

	if (strlen(name) > PKI_DNS_MAX)
		return 0;
	if (strncmp(p, "*.", 2) == 0)
		p += 2;
	for (;; p++) {
		char c = *p;

		if (c == '.' || c == '\0') {
			if (label == 0 || p[-1] == '-')
				return 0;
			if (c == '\0')
				return 1;
			label = 0;
			continue;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      (c == '-' && label > 0)))
			return 0;
		if (++label > 63)
			return 0;
	}
}

static int sans_build(GENERAL_NAMES **out, const char *const *sans, size_t n_sans)
{
	GENERAL_NAMES *gens = NULL;
	unsigned char addr[16];
	size_t i;
	int err = 0;

	*out = NULL;
	if (n_sans < 1 || n_sans > PKI_SANS_MAX || !sans)
		return ovr_err_set(
		        OVR_ERR_INVALID,
		        "server certificate: needs 1 to %d subject alternative names, got %zu",
		        PKI_SANS_MAX, n_sans);
	gens = sk_GENERAL_NAME_new_null();
	if (!gens)
		return pki_ossl_err(OVR_ERR_NOMEM, "subjectAltName: out of memory");
	for (i = 0; i < n_sans && !err; i++) {
		const char *san = sans[i];

		if (!san || san[0] == '\0')
			err = ovr_err_set(OVR_ERR_INVALID, "server certificate: empty SAN");
		else if (inet_pton(AF_INET, san, addr) == 1)
			err = pki_san_push(gens, GEN_IPADD, addr, 4);
		else if (inet_pton(AF_INET6, san, addr) == 1)
			err = pki_san_push(gens, GEN_IPADD, addr, 16);
		else if (dns_name_valid(san))
			err = pki_san_push(gens, GEN_DNS, san, strlen(san));
		else
			err = ovr_err_set(
			        OVR_ERR_INVALID,
			        "server certificate: SAN \"%.*s\" is neither an IP address "
			        "nor a DNS name",
			        PKI_DNS_MAX, san);
	}
	if (err) {
		GENERAL_NAMES_free(gens);
		return err;
	}
	*out = gens;
	return 0;
}

int pki_server_cert_create(char **cert_pem, char **key_pem, const char *ca_cert_pem,
                           const char *ca_key_pem, const char *common_name, const char *const *sans,
                           size_t n_sans, int valid_days)
{
	GENERAL_NAMES *gens = NULL;
	EVP_PKEY *ca_key = NULL;
	EVP_PKEY *key = NULL;
	X509 *ca = NULL;
	X509 *cert = NULL;
	char *out_cert = NULL;
	char *out_key = NULL;
	int err;

	*cert_pem = NULL;
	*key_pem = NULL;
	err = pki_check_cn(common_name, "server certificate common name");
	if (!err)
		err = check_days(valid_days);
	if (!err)
		err = sans_build(&gens, sans, n_sans);
	if (!err)
		err = pki_ca_load(&ca, &ca_key, ca_cert_pem, ca_key_pem);
	if (!err)
		err = pki_key_new(&key);
	if (err)
		goto out;
	err = pki_issue_leaf(&cert, ca, ca_key, key, common_name, "serverAuth", gens,
	                     valid_days * DAY_MS, PKI_BACKDATE_MS);
	if (!err)
		err = pki_pem_append_cert(&out_cert, cert);
	if (!err)
		err = pki_pem_append_cert(&out_cert, ca);
	if (!err)
		err = pki_pem_write_key(&out_key, key);
	if (err)
		goto out;
	*cert_pem = out_cert;
	*key_pem = out_key;
	out_cert = NULL;
	out_key = NULL;
out:
	free(out_cert);
	pki_pem_free(out_key);
	GENERAL_NAMES_free(gens);
	X509_free(cert);
	X509_free(ca);
	EVP_PKEY_free(key);
	EVP_PKEY_free(ca_key);
	return err;
}
