/*
 * The PKI: CA creation, keys, CSRs, CSR signing, certificate inspection and fingerprints.
 * The only module that includes <openssl/x509*.h>. Every PEM string returned is a NUL-terminated
 * heap string the caller frees with free() (private keys: pki_pem_free, which wipes it first).
 * Functions return 0 or a negative enum ovr_err with the message set (ovr_err_msg); on failure
 * every output pointer is NULL. PEM inputs larger than 64 KiB are refused (OVR_ERR_TOO_LARGE).
 * Certificates Overseer issues are signed with SHA-256, carry a random positive 128-bit serial,
 * and never outlive the CA that signs them (notAfter is capped at the CA's).
 */
#ifndef OVR_PKI_H
#define OVR_PKI_H

#include <stddef.h>
#include <stdint.h>

/* URI SAN prefix of node certificates: spiffe://overseer/node/<node id>. */
#define PKI_SPIFFE_NODE_PREFIX "spiffe://overseer/node/"

/* Lengths including the NUL: SHA-256 hex, serial hex (at most 20 bytes). */
#define PKI_FINGERPRINT_LEN 65
#define PKI_SERIAL_LEN      41

struct pki_cert_info {
	char serial[PKI_SERIAL_LEN];           /* lowercase hex of its bytes, no separators */
	char fingerprint[PKI_FINGERPRINT_LEN]; /* SHA-256 of the DER, lowercase hex */
	char common_name[256];                 /* subject CN, "" if none */
	char spiffe_id[256];                   /* first spiffe:// URI SAN, "" if none */
	int64_t not_before_ms;                 /* unix ms */
	int64_t not_after_ms;                  /* unix ms */
	int is_ca;                             /* basicConstraints CA:TRUE */
};

/* Wipes and frees a PEM private key (NULL is fine). */
void pki_pem_free(char *pem);

/* A new ECDSA P-256 private key, PKCS#8 PEM; free it with pki_pem_free. */
int pki_key_generate(char **key_pem);

/*
 * A self-signed CA: new P-256 key, subject CN=common_name (1-64 bytes, no control characters),
 * basicConstraints CA:TRUE pathlen:0 (critical: it signs leaves only), keyUsage keyCertSign+cRLSign
 * (critical), subjectKeyIdentifier, random 128-bit serial, valid from now-5min to now+valid_days
 * (1-36500).
 */
int pki_ca_create(char **cert_pem, char **key_pem, const char *common_name, int valid_days);

/*
 * A server certificate signed by the CA: new P-256 key, CN=common_name, subjectAltName from sans
 * (1-100 entries; an entry that parses as an IPv4/IPv6 address becomes an IP SAN, anything else a
 * DNS SAN and must be a host name, "*." allowed first; OVR_ERR_INVALID naming it otherwise),
 * extendedKeyUsage serverAuth only, keyUsage digitalSignature, CA:FALSE, valid from now-5min to
 * now+valid_days. cert_pem holds the leaf followed by the CA certificate, so clients see the whole
 * chain; free it with free(), key_pem with pki_pem_free. OVR_ERR_INVALID if ca_key_pem is not the
 * key of ca_cert_pem or ca_cert_pem is not a CA.
 */
int pki_server_cert_create(char **cert_pem, char **key_pem, const char *ca_cert_pem,
                           const char *ca_key_pem, const char *common_name, const char *const *sans,
                           size_t n_sans, int valid_days);

/*
 * A PEM CSR for key_pem, signed with SHA-256, with subject CN=common_name (the signer ignores the
 * subject anyway).
 */
int pki_csr_create(char **csr_pem, const char *key_pem, const char *common_name);

/*
 * Signs a node's CSR: checks the CSR's own signature (OVR_ERR_INVALID if bad or not P-256/EC),
 * ignores its subject and extensions, and issues CN=node_id, URI SAN
 * spiffe://overseer/node/<node_id>, extendedKeyUsage clientAuth only, keyUsage digitalSignature,
 * CA:FALSE, random serial, valid from now-backdate_ms to now+valid_ms. cert_pem is the leaf only.
 * info (may be NULL) describes it. node_id: 1-64 of [A-Za-z0-9._-], not "." or ".." (it goes
 * unescaped into the URI); valid_ms: 1 s to 100 years; backdate_ms: 0 to 24 h. All checked before
 * anything is signed.
 */
int pki_csr_sign(char **cert_pem, struct pki_cert_info *info, const char *ca_cert_pem,
                 const char *ca_key_pem, const char *csr_pem, const char *node_id, int64_t valid_ms,
                 int64_t backdate_ms);

/* Describes the first certificate in cert_pem. */
int pki_cert_info(struct pki_cert_info *info, const char *cert_pem);

/* SHA-256 fingerprint (lowercase hex) of the first certificate in cert_pem. */
int pki_fingerprint(char out[PKI_FINGERPRINT_LEN], const char *cert_pem);

/*
 * 0 if the first certificate in cert_pem is signed by the CA in ca_pem (its first certificate,
 * which must be a CA) and is in its validity period; OVR_ERR_INVALID with OpenSSL's reason if not.
 * Other certificates in cert_pem are ignored: Overseer's PKI has no intermediates.
 */
int pki_cert_verify(const char *cert_pem, const char *ca_pem);

/* 0 if key_pem is the private key of the first certificate in cert_pem, OVR_ERR_INVALID if not. */
int pki_key_matches_cert(const char *key_pem, const char *cert_pem);

/*
 * Loads a private key file: refuses it (OVR_ERR_PERMISSION, message naming the file and mode)
 * if group or others can access it, reads at most 64 KiB, and checks it parses as an unencrypted
 * private key (OVR_ERR_INVALID naming the file if not). key_pem is the file's text; free it with
 * pki_pem_free.
 */
int pki_key_load_file(char **key_pem, const char *path);

/*
 * Trust on first use, pinned: opens a TLS connection to host:port without verifying, looks in
 * the certificate chain the server presents for a CA certificate whose SHA-256 fingerprint is
 * fingerprint_hex, checks the server's leaf certificate is signed by it, and returns that CA as
 * PEM. OVR_ERR_UNAVAILABLE if the server cannot be reached within timeout_ms, OVR_ERR_PERMISSION
 * if no presented certificate matches the pin (the message says so).
 * fingerprint_hex is 64 hex digits (either case). The leaf must also be valid now and carry
 * serverAuth; a matching certificate that is not a CA is refused (OVR_ERR_PERMISSION). The one
 * timeout_ms (> 0) bounds everything: name resolution (on a helper thread, as getaddrinfo takes no
 * deadline), connect and the handshake. SIGPIPE is blocked on the calling thread meanwhile, so a
 * peer hanging up cannot end the process. ca_pem is freed with free().
 */
int pki_tls_fetch_ca(char **ca_pem, const char *host, int port, const char *fingerprint_hex,
                     int timeout_ms);

#endif
