/* Building certificates: input checks, the signed skeleton (serial, names, validity), extensions.
 */
#include "pki_internal.h"

#include "err.h"
#include "strutil.h"

#include <openssl/bn.h>
#include <openssl/err.h>

#include <limits.h>
#include <string.h>
#include <time.h>

int pki_check_cn(const char *cn, const char *what)
{
	size_t len;
	size_t i;

	if (!cn || cn[0] == '\0')
		return ovr_err_set(OVR_ERR_INVALID, "%s: must not be empty", what);
	len = strnlen(cn, PKI_CN_MAX + 1);
	if (len > PKI_CN_MAX)
		return ovr_err_set(OVR_ERR_INVALID, "%s: longer than %d bytes", what, PKI_CN_MAX);
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)cn[i];

		if (c < 0x20 || c == 0x7f)
			return ovr_err_set(OVR_ERR_INVALID, "%s: contains a control character",
			                   what);
	}
	return 0;
}

/* 128 random bits, never zero: positive, unique in practice, and at most 17 DER bytes. */
static int cert_set_serial(X509 *cert)
{
	BIGNUM *bn = BN_new();
	ASN1_INTEGER *serial = NULL;
	int err = 0;

	if (!bn) {
		err = pki_ossl_err(OVR_ERR_NOMEM, "serial number: out of memory");
		goto out;
	}
	do {
		if (!BN_rand(bn, 128, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY)) {
			err = pki_ossl_err(OVR_ERR_CRYPTO, "serial number: no random bytes");
			goto out;
		}
	} while (BN_is_zero(bn));
	serial = BN_to_ASN1_INTEGER(bn, NULL);
	if (!serial || !X509_set_serialNumber(cert, serial))
		err = pki_ossl_err(OVR_ERR_CRYPTO, "serial number: cannot set it");
out:
	ASN1_INTEGER_free(serial);
	BN_free(bn);
	return err;
}

static int set_time(ASN1_TIME *t, int64_t unix_ms)
{
	if (!ASN1_TIME_set(t, (time_t)(unix_ms / 1000)))
		return pki_ossl_err(OVR_ERR_CRYPTO, "certificate: cannot set its validity period");
	return 0;
}

int pki_cert_new(X509 **out, X509 *issuer, EVP_PKEY *pubkey, const char *cn, int64_t not_before_ms,
                 int64_t not_after_ms)
{
	X509 *cert = X509_new();
	X509_NAME *name = X509_NAME_new();
	int err = 0;

	*out = NULL;
	if (!cert || !name) {
		err = pki_ossl_err(OVR_ERR_NOMEM, "certificate: out of memory");
		goto out;
	}
	if (!X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1,
	                                -1, 0)) {
		err = pki_ossl_err(OVR_ERR_INVALID, "common name \"%s\" is not valid UTF-8 text",
		                   cn);
		goto out;
	}
	if (!X509_set_version(cert, X509_VERSION_3) || !X509_set_subject_name(cert, name) ||
	    !X509_set_issuer_name(cert, issuer ? X509_get_subject_name(issuer) : name) ||
	    !X509_set_pubkey(cert, pubkey)) {
		err = pki_ossl_err(OVR_ERR_CRYPTO, "certificate: cannot set its names or key");
		goto out;
	}
	err = cert_set_serial(cert);
	if (!err)
		err = set_time(X509_getm_notBefore(cert), not_before_ms);
	if (!err)
		err = set_time(X509_getm_notAfter(cert), not_after_ms);
	if (err)
		goto out;
	*out = cert;
	cert = NULL;
out:
	X509_NAME_free(name);
	X509_free(cert);
	return err;
}

int pki_cert_add_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *ext;
	int ok;

	X509V3_set_ctx(&ctx, issuer ? issuer : cert, cert, NULL, NULL, 0);
	X509V3_set_ctx_nodb(&ctx);
	ext = X509V3_EXT_nconf_nid(NULL, &ctx, nid, value);
	if (!ext)
		return pki_ossl_err(OVR_ERR_CRYPTO, "certificate: cannot build its %s extension",
		                    OBJ_nid2sn(nid));
	ok = X509_add_ext(cert, ext, -1);
	X509_EXTENSION_free(ext);
	if (!ok)
		return pki_ossl_err(OVR_ERR_CRYPTO, "certificate: cannot add its %s extension",
		                    OBJ_nid2sn(nid));
	return 0;
}

int pki_san_push(GENERAL_NAMES *gens, int type, const void *data, size_t len)
{
	GENERAL_NAME *gen = GENERAL_NAME_new();
	ASN1_STRING *value = type == GEN_IPADD ? ASN1_OCTET_STRING_new() : ASN1_IA5STRING_new();
	int err = 0;

	if (!gen || !value || len > INT_MAX || !ASN1_STRING_set(value, data, (int)len)) {
		err = pki_ossl_err(OVR_ERR_NOMEM, "subjectAltName: out of memory");
		goto out;
	}
	GENERAL_NAME_set0_value(gen, type, value);
	value = NULL;
	if (!sk_GENERAL_NAME_push(gens, gen)) {
		err = pki_ossl_err(OVR_ERR_NOMEM, "subjectAltName: out of memory");
		goto out;
	}
	gen = NULL;
out:
	ASN1_STRING_free(value);
	GENERAL_NAME_free(gen);
	return err;
}

int pki_cert_add_san(X509 *cert, GENERAL_NAMES *gens)
{
	if (X509_add1_ext_i2d(cert, NID_subject_alt_name, gens, 0, X509V3_ADD_DEFAULT) != 1)
		return pki_ossl_err(OVR_ERR_CRYPTO, "certificate: cannot add its subjectAltName");
	return 0;
}

int pki_cert_sign(X509 *cert, EVP_PKEY *key)
{
	if (X509_sign(cert, key, EVP_sha256()) <= 0)
		return pki_ossl_err(OVR_ERR_CRYPTO, "certificate: cannot sign it");
	return 0;
}

int pki_not_after_capped(int64_t *out_ms, X509 *ca, int64_t not_after_ms)
{
	int64_t ca_ms = 0;
	int err = pki_asn1_time_ms(&ca_ms, X509_get0_notAfter(ca));

	if (err)
		return err;
	*out_ms = not_after_ms < ca_ms ? not_after_ms : ca_ms;
	return 0;
}

int pki_issue_leaf(X509 **out, X509 *ca, EVP_PKEY *ca_key, EVP_PKEY *pubkey, const char *cn,
                   const char *eku, GENERAL_NAMES *gens, int64_t valid_ms, int64_t backdate_ms)
{
	X509 *cert = NULL;
	int64_t now = ovr_now_ms();
	int64_t not_after;
	int err;

	*out = NULL;
	err = pki_not_after_capped(&not_after, ca, now + valid_ms);
	if (!err)
		err = pki_cert_new(&cert, ca, pubkey, cn, now - backdate_ms, not_after);
	if (!err)
		err = pki_cert_add_ext(cert, ca, NID_basic_constraints, "critical,CA:FALSE");
	if (!err)
		err = pki_cert_add_ext(cert, ca, NID_key_usage, "critical,digitalSignature");
	if (!err)
		err = pki_cert_add_ext(cert, ca, NID_ext_key_usage, eku);
	if (!err)
		err = pki_cert_add_ext(cert, ca, NID_subject_key_identifier, "hash");
	if (!err)
		err = pki_cert_add_ext(cert, ca, NID_authority_key_identifier, "keyid");
	if (!err)
		err = pki_cert_add_san(cert, gens);
	if (!err)
		err = pki_cert_sign(cert, ca_key);
	if (err) {
		X509_free(cert);
		return err;
	}
	*out = cert;
	return 0;
}
