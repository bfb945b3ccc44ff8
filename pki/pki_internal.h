/*
 * Private to pki/: the OpenSSL building blocks the pki_*.c files share (PEM in and out, error
 * messages with OpenSSL's reason, certificate skeletons, extensions, input checks).
 */
#ifndef OVR_PKI_INTERNAL_H
#define OVR_PKI_INTERNAL_H

#include "pki.h"

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

/* Largest PEM text accepted (a key, a CSR from a peer, a certificate chain). */
#define PKI_PEM_MAX (64 * 1024)
/* X.520 ub-common-name; also bounds node ids and DNS SANs below the info fields. */
#define PKI_CN_MAX          64
#define PKI_DNS_MAX         253
#define PKI_SANS_MAX        100
#define PKI_DAYS_MAX        36500
#define PKI_VALID_MS_MAX    (100LL * 365 * 24 * 3600 * 1000)
#define PKI_BACKDATE_MS_MAX (24LL * 3600 * 1000)
/* Every certificate Overseer issues is backdated this much for clock skew (CA, server). */
#define PKI_BACKDATE_MS (5LL * 60 * 1000)

/*
 * Sets the message "<fmt>: <OpenSSL reason>" (the reason of the earliest queued OpenSSL error, if
 * any), clears OpenSSL's error queue and returns err.
 */
int pki_ossl_err(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Checks a subject common name: 1-64 bytes of printable UTF-8 without control characters. */
int pki_check_cn(const char *cn, const char *what);

/* Parses the first certificate in pem; what names it in messages ("CA certificate"). */
int pki_pem_read_cert(X509 **out, const char *pem, const char *what);
/* Parses the first certificate request in pem. */
int pki_pem_read_csr(X509_REQ **out, const char *pem, const char *what);
/* Parses an unencrypted private key (never prompts for a passphrase). */
int pki_pem_read_key(EVP_PKEY **out, const char *pem, const char *what);
/* Encodes cert as PEM and appends it to *out (a malloc'd string, or NULL to start one). */
int pki_pem_append_cert(char **out, X509 *cert);
/* Encodes req as PEM and appends it to *out. */
int pki_pem_append_csr(char **out, X509_REQ *req);
/* Encodes key as PKCS#8 PEM into a new string the caller frees with pki_pem_free. */
int pki_pem_write_key(char **out, EVP_PKEY *key);

/* A new EC P-256 key. */
int pki_key_new(EVP_PKEY **out);
/* 1 if key is an EC key on P-256. */
int pki_key_is_p256(const EVP_PKEY *key);

/* Parses a CA certificate and its key and checks the pair belongs together and is a CA. */
int pki_ca_load(X509 **ca, EVP_PKEY **ca_key, const char *ca_cert_pem, const char *ca_key_pem);

/*
 * A v3 certificate skeleton: random positive 128-bit serial, subject CN=cn, issuer = issuer's
 * subject (or its own subject when issuer is NULL), validity [not_before_ms, not_after_ms] and
 * the public key of pubkey. Extensions and the signature are added by the caller.
 */
int pki_cert_new(X509 **out, X509 *issuer, EVP_PKEY *pubkey, const char *cn, int64_t not_before_ms,
                 int64_t not_after_ms);
/* Adds one extension given in OpenSSL's config syntax; value must be a constant, never input. */
int pki_cert_add_ext(X509 *cert, X509 *issuer, int nid, const char *value);
/* Adds the subjectAltName extension (non-critical) made of gens. */
int pki_cert_add_san(X509 *cert, GENERAL_NAMES *gens);
/* Appends a name of type GEN_DNS, GEN_URI or GEN_IPADD with the given bytes to gens. */
int pki_san_push(GENERAL_NAMES *gens, int type, const void *data, size_t len);
/* Signs cert with key using SHA-256. */
int pki_cert_sign(X509 *cert, EVP_PKEY *key);
/* not_after_ms, or the CA's own notAfter if that comes first: no leaf outlives its issuer. */
int pki_not_after_capped(int64_t *out_ms, X509 *ca, int64_t not_after_ms);

/*
 * Issues a leaf certificate for pubkey signed by the CA: CN=cn, CA:FALSE, keyUsage
 * digitalSignature, extendedKeyUsage eku ("serverAuth" or "clientAuth"), key identifiers, the
 * SANs in gens, valid from now-backdate_ms to now+valid_ms capped at the CA's expiry.
 */
int pki_issue_leaf(X509 **out, X509 *ca, EVP_PKEY *ca_key, EVP_PKEY *pubkey, const char *cn,
                   const char *eku, GENERAL_NAMES *gens, int64_t valid_ms, int64_t backdate_ms);

/* 1 if cert carries basicConstraints CA:TRUE. */
int pki_x509_is_ca(X509 *cert);
/* SHA-256 of cert's DER. */
int pki_x509_sha256(unsigned char md[32], X509 *cert);
/* An ASN1_TIME as unix milliseconds. */
int pki_asn1_time_ms(int64_t *out_ms, const ASN1_TIME *t);
/* Fills info from cert. */
int pki_x509_info(struct pki_cert_info *info, X509 *cert);

#endif
