/* Reading certificates: description, fingerprint, verification against the CA, key match. */
#include "pki_internal.h"

#include "err.h"
#include "strutil.h"

#include <openssl/err.h>
#include <openssl/x509_vfy.h>

#include <string.h>
#include <time.h>

#define SPIFFE_SCHEME "spiffe://"

int pki_x509_is_ca(X509 *cert)
{
	BASIC_CONSTRAINTS *bc = X509_get_ext_d2i(cert, NID_basic_constraints, NULL, NULL);
	int ca = bc && bc->ca;

	BASIC_CONSTRAINTS_free(bc);
	ERR_clear_error();
	return ca;
}

int pki_x509_sha256(unsigned char md[32], X509 *cert)
{
	unsigned char buf[EVP_MAX_MD_SIZE];
	unsigned int n = 0;

	if (!X509_digest(cert, EVP_sha256(), buf, &n) || n != 32)
		return pki_ossl_err(OVR_ERR_CRYPTO, "certificate: cannot compute its fingerprint");
	memcpy(md, buf, 32);
	return 0;
}

int pki_asn1_time_ms(int64_t *out_ms, const ASN1_TIME *t)
{
	struct tm tm;

	memset(&tm, 0, sizeof(tm));
	if (!ASN1_TIME_to_tm(t, &tm))
		return pki_ossl_err(OVR_ERR_INVALID, "certificate: unreadable validity time");
	*out_ms = (int64_t)timegm(&tm) * 1000;
	return 0;
}

static int info_serial(char out[PKI_SERIAL_LEN], X509 *cert)
{
	const ASN1_INTEGER *serial = X509_get0_serialNumber(cert);
	int n = ASN1_STRING_length(serial);

	if (ASN1_STRING_type(serial) != V_ASN1_INTEGER)
		return ovr_err_set(OVR_ERR_INVALID, "certificate: negative serial number");
	if (n < 1 || n > (PKI_SERIAL_LEN - 1) / 2)
		return ovr_err_set(OVR_ERR_INVALID,
		                   "certificate: serial number longer than %d bytes",
		                   (PKI_SERIAL_LEN - 1) / 2);
	ovr_hex_encode(out, ASN1_STRING_get0_data(serial), (size_t)n);
	return 0;
}

/* Identities are compared as strings: a NUL inside or a truncated value is refused, not cut. */
static int copy_text(char *out, size_t size, const unsigned char *data, int n, const char *what)
{
	if (n < 0 || (size_t)n >= size || memchr(data, '\0', (size_t)n))
		return ovr_err_set(OVR_ERR_INVALID,
		                   "certificate: %s is too long or contains a NUL byte", what);
	memcpy(out, data, (size_t)n);
	out[n] = '\0';
	return 0;
}

static int info_cn(char *out, size_t size, X509 *cert)
{
	const X509_NAME *name = X509_get_subject_name(cert);
	int idx = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
	unsigned char *utf8 = NULL;
	int n;
	int err;

	if (idx < 0)
		return 0;
	n = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, idx)));
	if (n < 0)
		return pki_ossl_err(OVR_ERR_INVALID, "certificate: unreadable common name");
	err = copy_text(out, size, utf8, n, "common name");
	OPENSSL_free(utf8);
	return err;
}

static int info_spiffe(char *out, size_t size, X509 *cert)
{
	int crit = -1;
	GENERAL_NAMES *gens = X509_get_ext_d2i(cert, NID_subject_alt_name, &crit, NULL);
	size_t prefix = strlen(SPIFFE_SCHEME);
	int err = 0;
	int i;

	if (!gens) {
		ERR_clear_error();
		if (crit == -1)
			return 0;
		return ovr_err_set(OVR_ERR_INVALID,
		                   "certificate: malformed or repeated subjectAltName extension");
	}
	for (i = 0; i < sk_GENERAL_NAME_num(gens); i++) {
		const GENERAL_NAME *gen = sk_GENERAL_NAME_value(gens, i);
		const unsigned char *data;
		int n;

		if (gen->type != GEN_URI)
			continue;
		data = ASN1_STRING_get0_data(gen->d.uniformResourceIdentifier);
		n = ASN1_STRING_length(gen->d.uniformResourceIdentifier);
		if (n < (int)prefix || memcmp(data, SPIFFE_SCHEME, prefix) != 0)
			continue;
		err = copy_text(out, size, data, n, "SPIFFE id");
		break;
	}
	GENERAL_NAMES_free(gens);
	return err;
}

int pki_x509_info(struct pki_cert_info *info, X509 *cert)
{
	struct pki_cert_info tmp;
	unsigned char md[32];
	int err;

	memset(&tmp, 0, sizeof(tmp));
	err = info_serial(tmp.serial, cert);
	if (!err)
		err = pki_x509_sha256(md, cert);
	if (err)
		return err;
	ovr_hex_encode(tmp.fingerprint, md, sizeof(md));
	err = info_cn(tmp.common_name, sizeof(tmp.common_name), cert);
	if (!err)
		err = info_spiffe(tmp.spiffe_id, sizeof(tmp.spiffe_id), cert);
	if (!err)
		err = pki_asn1_time_ms(&tmp.not_before_ms, X509_get0_notBefore(cert));
	if (!err)
		err = pki_asn1_time_ms(&tmp.not_after_ms, X509_get0_notAfter(cert));
	if (err)
		return err;
	tmp.is_ca = pki_x509_is_ca(cert);
	*info = tmp;
	return 0;
}

int pki_cert_info(struct pki_cert_info *info, const char *cert_pem)
{
	X509 *cert = NULL;
	int err;

	memset(info, 0, sizeof(*info));
	err = pki_pem_read_cert(&cert, cert_pem, "certificate");
	if (!err)
		err = pki_x509_info(info, cert);
	X509_free(cert);
	return err;
}

int pki_fingerprint(char out[PKI_FINGERPRINT_LEN], const char *cert_pem)
{
	X509 *cert = NULL;
	unsigned char md[32];
	int err;

	out[0] = '\0';
	err = pki_pem_read_cert(&cert, cert_pem, "certificate");
	if (!err)
		err = pki_x509_sha256(md, cert);
	if (!err)
		ovr_hex_encode(out, md, sizeof(md));
	X509_free(cert);
	return err;
}

int pki_cert_verify(const char *cert_pem, const char *ca_pem)
{
	X509 *cert = NULL;
	X509 *ca = NULL;
	X509_STORE *store = NULL;
	X509_STORE_CTX *ctx = NULL;
	int err;
	int rc;

	err = pki_pem_read_cert(&cert, cert_pem, "certificate");
	if (!err)
		err = pki_pem_read_cert(&ca, ca_pem, "CA certificate");
	if (err)
		goto out;
	if (!pki_x509_is_ca(ca)) {
		err = ovr_err_set(OVR_ERR_INVALID, "CA certificate: not a CA (no basicConstraints "
		                                   "CA:TRUE)");
		goto out;
	}
	store = X509_STORE_new();
	ctx = X509_STORE_CTX_new();
	if (!store || !ctx || !X509_STORE_add_cert(store, ca) ||
	    !X509_STORE_CTX_init(ctx, store, cert, NULL)) {
		err = pki_ossl_err(OVR_ERR_NOMEM, "certificate verification: out of memory");
		goto out;
	}
	rc = X509_verify_cert(ctx);
	if (rc < 0) {
		err = pki_ossl_err(OVR_ERR_CRYPTO, "certificate verification failed");
	} else if (rc == 0) {
		err = ovr_err_set(OVR_ERR_INVALID, "certificate does not verify against the CA: %s",
		                  X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx)));
		ERR_clear_error();
	}
out:
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(store);
	X509_free(ca);
	X509_free(cert);
	return err;
}

int pki_key_matches_cert(const char *key_pem, const char *cert_pem)
{
	EVP_PKEY *key = NULL;
	X509 *cert = NULL;
	EVP_PKEY *pub;
	int err;

	err = pki_pem_read_key(&key, key_pem, "private key");
	if (!err)
		err = pki_pem_read_cert(&cert, cert_pem, "certificate");
	if (err)
		goto out;
	pub = X509_get0_pubkey(cert);
	if (!pub || EVP_PKEY_eq(pub, key) != 1)
		err = ovr_err_set(OVR_ERR_INVALID,
		                  "the private key does not belong to the certificate");
	ERR_clear_error();
out:
	X509_free(cert);
	EVP_PKEY_free(key);
	return err;
}
