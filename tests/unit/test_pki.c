/*
 * pki/: what the CA, server and node certificates promise, checked with OpenSSL directly, and the
 * pinned CA fetch against a TLS server on 127.0.0.1 run by this test.
 */
#include "pki.h"

#include "err.h"
#include "strutil.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#define CA_NAME          "Overseer Test CA"
#define DAY_MS           (24LL * 3600 * 1000)
#define NODE_VALID_MS    (30 * DAY_MS)
#define NODE_BACKDATE_MS (5LL * 60 * 1000)

/* Made once: the CA under test, and a foreign CA with the very same name. */
static struct {
	char *ca_cert;
	char *ca_key;
	int64_t ca_made_before_ms;
	int64_t ca_made_after_ms;
	char *other_cert;
	char *other_key;
} fx;

/* ---- helpers that look at certificates with OpenSSL directly ---- */

static X509 *cert_nth(const char *pem, int n)
{
	BIO *bio = BIO_new_mem_buf(pem, -1);
	X509 *cert = NULL;
	int i;

	assert_non_null(bio);
	for (i = 0; i <= n; i++) {
		X509_free(cert);
		cert = PEM_read_bio_X509(bio, NULL, NULL, NULL);
		if (!cert)
			break;
	}
	BIO_free(bio);
	ERR_clear_error();
	return cert;
}

static X509 *cert_first(const char *pem)
{
	X509 *cert = cert_nth(pem, 0);

	assert_non_null(cert);
	return cert;
}

static int cert_count(const char *pem)
{
	int n = 0;
	X509 *cert;

	while ((cert = cert_nth(pem, n)) != NULL) {
		X509_free(cert);
		n++;
	}
	return n;
}

/* SHA-256 of the DER, the way `openssl x509 -fingerprint -sha256` prints it ("AB:CD:..."). */
static void openssl_style_fingerprint(char *out, size_t size, X509 *cert)
{
	unsigned char *der = NULL;
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int md_len = 0;
	int der_len = i2d_X509(cert, &der);
	size_t pos = 0;
	unsigned int i;

	assert_true(der_len > 0);
	assert_int_equal(EVP_Digest(der, (size_t)der_len, md, &md_len, EVP_sha256(), NULL), 1);
	OPENSSL_free(der);
	assert_int_equal(md_len, 32);
	for (i = 0; i < md_len; i++)
		pos += (size_t)snprintf(out + pos, size - pos, i ? ":%02X" : "%02X", md[i]);
}

/* "AB:CD:..." -> "abcd...". */
static void normalize_fingerprint(char *s)
{
	char *w = s;

	for (; *s; s++)
		if (*s != ':')
			*w++ = (char)tolower((unsigned char)*s);
	*w = '\0';
}

static int count_sans(X509 *cert, int type)
{
	GENERAL_NAMES *gens = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
	int n = 0;
	int i;

	for (i = 0; gens && i < sk_GENERAL_NAME_num(gens); i++)
		if (sk_GENERAL_NAME_value(gens, i)->type == type)
			n++;
	GENERAL_NAMES_free(gens);
	return n;
}

static int has_san(X509 *cert, int type, const void *data, size_t len)
{
	GENERAL_NAMES *gens = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
	int found = 0;
	int i;

	for (i = 0; gens && i < sk_GENERAL_NAME_num(gens); i++) {
		const GENERAL_NAME *gen = sk_GENERAL_NAME_value(gens, i);
		const ASN1_STRING *s = type == GEN_IPADD ? gen->d.iPAddress : gen->d.ia5;

		if (gen->type == type && (size_t)ASN1_STRING_length(s) == len &&
		    memcmp(ASN1_STRING_get0_data(s), data, len) == 0)
			found = 1;
	}
	GENERAL_NAMES_free(gens);
	return found;
}

static int bytes_contain(const unsigned char *hay, size_t hay_len, const char *needle)
{
	size_t n = strlen(needle);
	size_t i;

	for (i = 0; i + n <= hay_len; i++)
		if (memcmp(hay + i, needle, n) == 0)
			return 1;
	return 0;
}

static int der_contains(X509 *cert, const char *needle)
{
	unsigned char *der = NULL;
	int len = i2d_X509(cert, &der);
	int found;

	assert_true(len > 0);
	found = bytes_contain(der, (size_t)len, needle);
	OPENSSL_free(der);
	return found;
}

/* X509_verify_cert of leaf against ca alone, for the given purpose (0: any). */
static int openssl_verify(X509 *leaf, X509 *ca, int purpose)
{
	X509_STORE *store = X509_STORE_new();
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	int rc;

	assert_non_null(store);
	assert_non_null(ctx);
	assert_int_equal(X509_STORE_add_cert(store, ca), 1);
	assert_int_equal(X509_STORE_CTX_init(ctx, store, leaf, NULL), 1);
	if (purpose)
		assert_int_equal(X509_STORE_CTX_set_purpose(ctx, purpose), 1);
	rc = X509_verify_cert(ctx);
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(store);
	ERR_clear_error();
	return rc;
}

static int msg_contains(int err, const char *needle)
{
	const char *msg = ovr_err_msg(err);

	if (strstr(msg, needle))
		return 1;
	print_error("message \"%s\" does not contain \"%s\"\n", msg, needle);
	return 0;
}

/* A node key and a certificate for it signed by the test CA. */
static void make_node(char **key_pem, char **cert_pem, struct pki_cert_info *info,
                      const char *node_id)
{
	char *csr = NULL;

	assert_int_equal(pki_key_generate(key_pem), 0);
	assert_int_equal(pki_csr_create(&csr, *key_pem, node_id), 0);
	assert_int_equal(pki_csr_sign(cert_pem, info, fx.ca_cert, fx.ca_key, csr, node_id,
	                              NODE_VALID_MS, NODE_BACKDATE_MS),
	                 0);
	free(csr);
}

/* A CSR built here rather than by pki_csr_create: any key, any requested extensions. */
static char *make_csr(EVP_PKEY *key, const char *cn, int ask_for_more)
{
	X509_REQ *req = X509_REQ_new();
	X509_NAME *name = X509_NAME_new();
	BIO *bio = BIO_new(BIO_s_mem());
	char *data = NULL;
	char *pem;
	long len;

	assert_non_null(req);
	assert_non_null(name);
	assert_non_null(bio);
	assert_int_equal(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
	                                            (const unsigned char *)cn, -1, -1, 0),
	                 1);
	assert_int_equal(X509_REQ_set_subject_name(req, name), 1);
	assert_int_equal(X509_REQ_set_pubkey(req, key), 1);
	if (ask_for_more) {
		static const struct {
			int nid;
			const char *value;
		} asked[] = {
		        {NID_basic_constraints, "critical,CA:TRUE"},
		        {NID_subject_alt_name, "DNS:evil.example.com"},
		        {NID_ext_key_usage, "serverAuth,clientAuth"},
		};
		STACK_OF(X509_EXTENSION) *exts = sk_X509_EXTENSION_new_null();
		size_t i;

		assert_non_null(exts);
		for (i = 0; i < sizeof(asked) / sizeof(asked[0]); i++) {
			X509_EXTENSION *ext =
			        X509V3_EXT_nconf_nid(NULL, NULL, asked[i].nid, asked[i].value);

			assert_non_null(ext);
			assert_true(sk_X509_EXTENSION_push(exts, ext) > 0);
		}
		assert_int_equal(X509_REQ_add_extensions(req, exts), 1);
		sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	}
	assert_true(X509_REQ_sign(req, key, EVP_sha256()) > 0);
	assert_int_equal(PEM_write_bio_X509_REQ(bio, req), 1);
	len = BIO_get_mem_data(bio, &data);
	pem = strndup(data, (size_t)len);
	assert_non_null(pem);
	BIO_free(bio);
	X509_NAME_free(name);
	X509_REQ_free(req);
	return pem;
}

/* ---- keys and the CA ---- */

static void test_key_generate_is_p256_pkcs8(void **state)
{
	char *pem = NULL;
	char group[80];
	size_t len = 0;
	EVP_PKEY *key;
	BIO *bio;

	(void)state;
	assert_int_equal(pki_key_generate(&pem), 0);
	assert_non_null(strstr(pem, "-----BEGIN PRIVATE KEY-----"));
	bio = BIO_new_mem_buf(pem, -1);
	key = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
	assert_non_null(key);
	assert_true(EVP_PKEY_is_a(key, "EC"));
	assert_int_equal(EVP_PKEY_get_group_name(key, group, sizeof(group), &len), 1);
	assert_string_equal(group, "prime256v1");
	EVP_PKEY_free(key);
	BIO_free(bio);
	pki_pem_free(pem);
	pki_pem_free(NULL);
}

static void test_ca_is_self_signed_ca(void **state)
{
	X509 *ca = cert_first(fx.ca_cert);
	struct pki_cert_info info;
	BASIC_CONSTRAINTS *bc;
	int crit = -1;

	(void)state;
	assert_int_equal(cert_count(fx.ca_cert), 1);
	assert_int_equal(X509_check_issued(ca, ca), X509_V_OK);
	assert_int_equal(X509_verify(ca, X509_get0_pubkey(ca)), 1);
	assert_int_equal(openssl_verify(ca, ca, 0), 1);
	assert_int_equal(X509_get_signature_nid(ca), NID_ecdsa_with_SHA256);
	assert_int_equal(X509_get_version(ca), X509_VERSION_3);
	bc = X509_get_ext_d2i(ca, NID_basic_constraints, &crit, NULL);
	assert_non_null(bc);
	assert_true(bc->ca);
	assert_int_equal(crit, 1);
	BASIC_CONSTRAINTS_free(bc);
	assert_true(X509_get_key_usage(ca) & KU_KEY_CERT_SIGN);
	assert_true(X509_get_key_usage(ca) & KU_CRL_SIGN);

	assert_int_equal(pki_cert_info(&info, fx.ca_cert), 0);
	assert_int_equal(info.is_ca, 1);
	assert_string_equal(info.common_name, CA_NAME);
	assert_string_equal(info.spiffe_id, "");
	/* 10 years from creation, backdated 5 minutes (times have whole seconds). */
	assert_true(info.not_after_ms >= fx.ca_made_before_ms + 3650 * DAY_MS - 1000);
	assert_true(info.not_after_ms <= fx.ca_made_after_ms + 3650 * DAY_MS);
	assert_true(info.not_before_ms >= fx.ca_made_before_ms - 5 * 60 * 1000 - 1000);
	assert_true(info.not_before_ms <= fx.ca_made_after_ms - 5 * 60 * 1000);
	assert_int_equal(pki_key_matches_cert(fx.ca_key, fx.ca_cert), 0);
	assert_int_equal(pki_cert_verify(fx.ca_cert, fx.ca_cert), 0);
	X509_free(ca);
}

static void test_ca_create_rejects_bad_input(void **state)
{
	char long_name[80];
	char *cert = NULL;
	char *key = NULL;

	(void)state;
	memset(long_name, 'a', sizeof(long_name) - 1);
	long_name[sizeof(long_name) - 1] = '\0';
	assert_int_equal(pki_ca_create(&cert, &key, "", 10), OVR_ERR_INVALID);
	assert_int_equal(pki_ca_create(&cert, &key, long_name, 10), OVR_ERR_INVALID);
	assert_int_equal(pki_ca_create(&cert, &key, "line\nbreak", 10), OVR_ERR_INVALID);
	assert_int_equal(pki_ca_create(&cert, &key, CA_NAME, 0), OVR_ERR_INVALID);
	assert_true(msg_contains(OVR_ERR_INVALID, "0 days"));
	assert_null(cert);
	assert_null(key);
}

/* ---- the server certificate ---- */

static void test_server_cert_chains_with_sans_and_server_auth(void **state)
{
	const char *sans[] = {"127.0.0.1", "::1", "overseer.example.com", "localhost"};
	const unsigned char v4[4] = {127, 0, 0, 1};
	unsigned char v6[16] = {0};
	char *cert_pem = NULL;
	char *key_pem = NULL;
	char fp_ca[PKI_FINGERPRINT_LEN];
	struct pki_cert_info info;
	X509 *leaf;
	X509 *second;
	X509 *ca = cert_first(fx.ca_cert);

	(void)state;
	v6[15] = 1;
	assert_int_equal(pki_server_cert_create(&cert_pem, &key_pem, fx.ca_cert, fx.ca_key,
	                                        "overseer-server", sans, 4, 30),
	                 0);
	/* Leaf then CA, so a client can be given the whole chain. */
	assert_int_equal(cert_count(cert_pem), 2);
	leaf = cert_first(cert_pem);
	second = cert_nth(cert_pem, 1);
	assert_non_null(second);
	assert_int_equal(X509_cmp(second, ca), 0);
	assert_int_equal(pki_fingerprint(fp_ca, fx.ca_cert), 0);
	assert_int_equal(pki_cert_info(&info, cert_pem), 0);
	assert_string_not_equal(info.fingerprint, fp_ca);

	assert_int_equal(pki_cert_verify(cert_pem, fx.ca_cert), 0);
	assert_int_equal(openssl_verify(leaf, ca, X509_PURPOSE_SSL_SERVER), 1);
	assert_int_equal(info.is_ca, 0);
	assert_string_equal(info.common_name, "overseer-server");

	/* Addresses become IP SANs, names DNS SANs, and nothing else is there. */
	assert_true(has_san(leaf, GEN_IPADD, v4, sizeof(v4)));
	assert_true(has_san(leaf, GEN_IPADD, v6, sizeof(v6)));
	assert_true(has_san(leaf, GEN_DNS, "overseer.example.com", 20));
	assert_true(has_san(leaf, GEN_DNS, "localhost", 9));
	assert_int_equal(count_sans(leaf, GEN_IPADD), 2);
	assert_int_equal(count_sans(leaf, GEN_DNS), 2);
	assert_int_equal(count_sans(leaf, GEN_URI), 0);
	assert_int_equal(X509_check_ip_asc(leaf, "127.0.0.1", 0), 1);
	assert_int_equal(X509_check_ip_asc(leaf, "::1", 0), 1);
	assert_int_equal(X509_check_host(leaf, "overseer.example.com", 0, 0, NULL), 1);
	assert_int_not_equal(X509_check_host(leaf, "127.0.0.1", 0, 0, NULL), 1);
	assert_int_not_equal(X509_check_host(leaf, "other.example.com", 0, 0, NULL), 1);

	/* serverAuth only: this certificate cannot act as a node. */
	assert_int_equal(X509_get_extended_key_usage(leaf), XKU_SSL_SERVER);
	assert_int_equal(X509_check_purpose(leaf, X509_PURPOSE_SSL_SERVER, 0), 1);
	assert_int_not_equal(X509_check_purpose(leaf, X509_PURPOSE_SSL_CLIENT, 0), 1);
	assert_int_equal(X509_check_ca(leaf), 0);
	assert_int_equal(X509_get_signature_nid(leaf), NID_ecdsa_with_SHA256);

	assert_int_equal(pki_key_matches_cert(key_pem, cert_pem), 0);
	assert_int_equal(pki_key_matches_cert(fx.ca_key, cert_pem), OVR_ERR_INVALID);
	X509_free(second);
	X509_free(leaf);
	X509_free(ca);
	free(cert_pem);
	pki_pem_free(key_pem);
}

static void test_server_cert_rejects_bad_input(void **state)
{
	const char *bad[] = {"ok.example.com", "bad name!"};
	const char *good[] = {"127.0.0.1"};
	char *cert = NULL;
	char *key = NULL;
	char *server_cert = NULL;
	char *server_key = NULL;

	(void)state;
	assert_int_equal(
	        pki_server_cert_create(&cert, &key, fx.ca_cert, fx.ca_key, "srv", bad, 2, 30),
	        OVR_ERR_INVALID);
	assert_true(msg_contains(OVR_ERR_INVALID, "bad name!"));
	assert_int_equal(
	        pki_server_cert_create(&cert, &key, fx.ca_cert, fx.ca_key, "srv", good, 0, 30),
	        OVR_ERR_INVALID);
	assert_int_equal(
	        pki_server_cert_create(&cert, &key, fx.ca_cert, fx.ca_key, "srv", good, 1, 0),
	        OVR_ERR_INVALID);
	/* A CA key that is not the CA certificate's. */
	assert_int_equal(
	        pki_server_cert_create(&cert, &key, fx.ca_cert, fx.other_key, "srv", good, 1, 30),
	        OVR_ERR_INVALID);
	assert_true(msg_contains(OVR_ERR_INVALID, "CA key"));
	/* A certificate that is not a CA cannot sign. */
	assert_int_equal(pki_server_cert_create(&server_cert, &server_key, fx.ca_cert, fx.ca_key,
	                                        "srv", good, 1, 30),
	                 0);
	assert_int_equal(
	        pki_server_cert_create(&cert, &key, server_cert, server_key, "srv", good, 1, 30),
	        OVR_ERR_INVALID);
	assert_true(msg_contains(OVR_ERR_INVALID, "not a CA"));
	assert_null(cert);
	assert_null(key);
	free(server_cert);
	pki_pem_free(server_key);
}

/* ---- node certificates from CSRs ---- */

static void test_csr_sign_takes_identity_from_node_id(void **state)
{
	char *key = NULL;
	char *csr = NULL;
	char *cert_pem = NULL;
	struct pki_cert_info info;
	struct pki_cert_info again;
	X509 *cert;
	X509 *ca = cert_first(fx.ca_cert);
	X509_NAME *subject;
	char uri[128];

	(void)state;
	assert_int_equal(pki_key_generate(&key), 0);
	assert_int_equal(pki_csr_create(&csr, key, "evil"), 0);
	assert_non_null(strstr(csr, "-----BEGIN CERTIFICATE REQUEST-----"));
	assert_int_equal(pki_csr_sign(&cert_pem, &info, fx.ca_cert, fx.ca_key, csr, "node-7",
	                              NODE_VALID_MS, NODE_BACKDATE_MS),
	                 0);
	assert_int_equal(cert_count(cert_pem), 1);
	cert = cert_first(cert_pem);

	assert_string_equal(info.common_name, "node-7");
	assert_string_equal(info.spiffe_id, PKI_SPIFFE_NODE_PREFIX "node-7");
	assert_string_equal(info.spiffe_id, "spiffe://overseer/node/node-7");
	assert_int_equal(info.is_ca, 0);
	/* The subject is exactly CN=node-7; "evil" appears nowhere in the certificate. */
	subject = X509_get_subject_name(cert);
	assert_int_equal(X509_NAME_entry_count(subject), 1);
	assert_int_equal(X509_NAME_get_index_by_NID(subject, NID_commonName, -1), 0);
	assert_false(der_contains(cert, "evil"));
	snprintf(uri, sizeof(uri), "%s", "spiffe://overseer/node/node-7");
	assert_true(has_san(cert, GEN_URI, uri, strlen(uri)));
	assert_int_equal(count_sans(cert, GEN_URI), 1);
	assert_int_equal(count_sans(cert, GEN_DNS), 0);
	assert_int_equal(count_sans(cert, GEN_IPADD), 0);

	/* clientAuth only: a node certificate can never pose as the server. */
	assert_int_equal(X509_get_extended_key_usage(cert), XKU_SSL_CLIENT);
	assert_int_equal(X509_check_purpose(cert, X509_PURPOSE_SSL_CLIENT, 0), 1);
	assert_int_not_equal(X509_check_purpose(cert, X509_PURPOSE_SSL_SERVER, 0), 1);
	assert_int_equal(openssl_verify(cert, ca, X509_PURPOSE_SSL_CLIENT), 1);
	assert_int_not_equal(openssl_verify(cert, ca, X509_PURPOSE_SSL_SERVER), 1);
	assert_int_equal(X509_check_ca(cert), 0);
	assert_true(X509_get_key_usage(cert) & KU_DIGITAL_SIGNATURE);
	assert_false(X509_get_key_usage(cert) & KU_KEY_CERT_SIGN);
	assert_int_equal(X509_get_signature_nid(cert), NID_ecdsa_with_SHA256);

	assert_int_equal(pki_cert_verify(cert_pem, fx.ca_cert), 0);
	assert_int_equal(pki_key_matches_cert(key, cert_pem), 0);
	assert_int_equal(pki_cert_info(&again, cert_pem), 0);
	assert_memory_equal(&again, &info, sizeof(info));
	X509_free(cert);
	X509_free(ca);
	free(cert_pem);
	free(csr);
	pki_pem_free(key);
}

static void test_csr_sign_ignores_requested_extensions(void **state)
{
	EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	struct pki_cert_info info;
	char *cert_pem = NULL;
	char *csr;
	X509 *cert;

	(void)state;
	assert_non_null(key);
	csr = make_csr(key, "evil", 1);
	assert_int_equal(pki_csr_sign(&cert_pem, &info, fx.ca_cert, fx.ca_key, csr, "node-8",
	                              NODE_VALID_MS, NODE_BACKDATE_MS),
	                 0);
	cert = cert_first(cert_pem);
	assert_int_equal(info.is_ca, 0);
	assert_int_equal(X509_check_ca(cert), 0);
	assert_int_equal(count_sans(cert, GEN_DNS), 0);
	assert_false(der_contains(cert, "evil"));
	assert_int_equal(X509_get_extended_key_usage(cert), XKU_SSL_CLIENT);
	assert_string_equal(info.common_name, "node-8");
	X509_free(cert);
	free(cert_pem);
	free(csr);
	EVP_PKEY_free(key);
}

/* Re-encodes csr_pem with one byte of its DER changed: the first byte of needle, or the last byte.
 */
static char *tamper_csr(const char *csr_pem, const char *needle)
{
	BIO *in = BIO_new_mem_buf(csr_pem, -1);
	BIO *out = BIO_new(BIO_s_mem());
	X509_REQ *req = PEM_read_bio_X509_REQ(in, NULL, NULL, NULL);
	unsigned char *der = NULL;
	char *data = NULL;
	char *pem;
	int len;
	long n;
	int i;
	int at = -1;

	assert_non_null(req);
	len = i2d_X509_REQ(req, &der);
	assert_true(len > 0);
	for (i = 0; needle && i + (int)strlen(needle) <= len && at < 0; i++)
		if (memcmp(der + i, needle, strlen(needle)) == 0)
			at = i;
	if (!needle)
		at = len - 1;
	assert_true(at >= 0);
	der[at] ^= 0x20;
	assert_true(PEM_write_bio(out, "CERTIFICATE REQUEST", "", der, len) > 0);
	n = BIO_get_mem_data(out, &data);
	pem = strndup(data, (size_t)n);
	assert_non_null(pem);
	OPENSSL_free(der);
	X509_REQ_free(req);
	BIO_free(in);
	BIO_free(out);
	return pem;
}

static void test_csr_tampered_is_refused(void **state)
{
	char *key = NULL;
	char *csr = NULL;
	char *bad_subject;
	char *bad_signature;
	char *cert = NULL;
	struct pki_cert_info info;

	(void)state;
	assert_int_equal(pki_key_generate(&key), 0);
	assert_int_equal(pki_csr_create(&csr, key, "tamper-me"), 0);
	bad_subject = tamper_csr(csr, "tamper-me");
	bad_signature = tamper_csr(csr, NULL);

	assert_int_equal(pki_csr_sign(&cert, &info, fx.ca_cert, fx.ca_key, bad_subject, "node-9",
	                              NODE_VALID_MS, NODE_BACKDATE_MS),
	                 OVR_ERR_INVALID);
	assert_true(msg_contains(OVR_ERR_INVALID, "signature"));
	assert_null(cert);
	assert_string_equal(info.common_name, "");
	assert_int_equal(pki_csr_sign(&cert, NULL, fx.ca_cert, fx.ca_key, bad_signature, "node-9",
	                              NODE_VALID_MS, NODE_BACKDATE_MS),
	                 OVR_ERR_INVALID);
	assert_null(cert);
	/* The untouched CSR still signs: the refusals were about the changes. */
	assert_int_equal(pki_csr_sign(&cert, NULL, fx.ca_cert, fx.ca_key, csr, "node-9",
	                              NODE_VALID_MS, NODE_BACKDATE_MS),
	                 0);
	free(cert);
	free(bad_subject);
	free(bad_signature);
	free(csr);
	pki_pem_free(key);
}

static void test_csr_with_other_key_type_or_garbage_is_refused(void **state)
{
	EVP_PKEY *p384 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
	char *csr;
	char *cert = NULL;
	char *huge;

	(void)state;
	assert_non_null(p384);
	csr = make_csr(p384, "node", 0);
	assert_int_equal(pki_csr_sign(&cert, NULL, fx.ca_cert, fx.ca_key, csr, "node-1",
	                              NODE_VALID_MS, NODE_BACKDATE_MS),
	                 OVR_ERR_INVALID);
	assert_true(msg_contains(OVR_ERR_INVALID, "P-256"));
	assert_null(cert);

	assert_int_equal(pki_csr_sign(&cert, NULL, fx.ca_cert, fx.ca_key, "not a csr", "node-1",
	                              NODE_VALID_MS, NODE_BACKDATE_MS),
	                 OVR_ERR_INVALID);
	assert_true(msg_contains(OVR_ERR_INVALID, "CSR"));
	/* A certificate is not a request. */
	assert_int_equal(pki_csr_sign(&cert, NULL, fx.ca_cert, fx.ca_key, fx.ca_cert, "node-1",
	                              NODE_VALID_MS, NODE_BACKDATE_MS),
	                 OVR_ERR_INVALID);
	huge = malloc(70 * 1024);
	assert_non_null(huge);
	memset(huge, 'A', 70 * 1024 - 1);
	huge[70 * 1024 - 1] = '\0';
	assert_int_equal(pki_csr_sign(&cert, NULL, fx.ca_cert, fx.ca_key, huge, "node-1",
	                              NODE_VALID_MS, NODE_BACKDATE_MS),
	                 OVR_ERR_TOO_LARGE);
	assert_null(cert);
	free(huge);
	free(csr);
	EVP_PKEY_free(p384);
}

static void test_csr_sign_rejects_bad_node_id_and_lifetime(void **state)
{
	const char *bad_ids[] = {"", "a/b", "..", "node 1", "x?y=z", "node\n"};
	char long_id[80];
	char *key = NULL;
	char *csr = NULL;
	char *cert = NULL;
	size_t i;

	(void)state;
	assert_int_equal(pki_key_generate(&key), 0);
	assert_int_equal(pki_csr_create(&csr, key, "n"), 0);
	for (i = 0; i < sizeof(bad_ids) / sizeof(bad_ids[0]); i++)
		assert_int_equal(pki_csr_sign(&cert, NULL, fx.ca_cert, fx.ca_key, csr, bad_ids[i],
		                              NODE_VALID_MS, NODE_BACKDATE_MS),
		                 OVR_ERR_INVALID);
	memset(long_id, 'a', sizeof(long_id) - 1);
	long_id[sizeof(long_id) - 1] = '\0';
	assert_int_equal(pki_csr_sign(&cert, NULL, fx.ca_cert, fx.ca_key, csr, long_id,
	                              NODE_VALID_MS, NODE_BACKDATE_MS),
	                 OVR_ERR_INVALID);
	assert_int_equal(pki_csr_sign(&cert, NULL, fx.ca_cert, fx.ca_key, csr, "node-1", 0,
	                              NODE_BACKDATE_MS),
	                 OVR_ERR_INVALID);
	assert_int_equal(
	        pki_csr_sign(&cert, NULL, fx.ca_cert, fx.ca_key, csr, "node-1", NODE_VALID_MS, -1),
	        OVR_ERR_INVALID);
	assert_null(cert);
	/* Ids may be names, numbers or UUIDs. */
	assert_int_equal(pki_csr_sign(&cert, NULL, fx.ca_cert, fx.ca_key, csr,
	                              "0f8b7a3e-1c2d-4e5f-8a9b-0c1d2e3f4a5b", NODE_VALID_MS,
	                              NODE_BACKDATE_MS),
	                 0);
	free(cert);
	free(csr);
	pki_pem_free(key);
}

/* ---- serials, fingerprints, verification, key files ---- */

static void test_serials_are_random_positive_and_distinct(void **state)
{
	enum { N = 6 };
	char serials[N][PKI_SERIAL_LEN];
	char *key = NULL;
	char *csr = NULL;
	char *cert = NULL;
	int i;
	int j;

	(void)state;
	assert_int_equal(pki_key_generate(&key), 0);
	assert_int_equal(pki_csr_create(&csr, key, "n"), 0);
	for (i = 0; i < N; i++) {
		struct pki_cert_info info;
		X509 *x;
		BIGNUM *bn;
		char *hex;
		char *p;

		/* The same CSR each time, and a CA too: only the serial may tell them apart. */
		if (i < N - 1) {
			assert_int_equal(pki_csr_sign(&cert, &info, fx.ca_cert, fx.ca_key, csr,
			                              "node-1", NODE_VALID_MS, NODE_BACKDATE_MS),
			                 0);
		} else {
			char *ca_key = NULL;

			assert_int_equal(pki_ca_create(&cert, &ca_key, CA_NAME, 1), 0);
			assert_int_equal(pki_cert_info(&info, cert), 0);
			pki_pem_free(ca_key);
		}
		x = cert_first(cert);
		bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
		assert_non_null(bn);
		assert_false(BN_is_negative(bn));
		assert_false(BN_is_zero(bn));
		assert_true(BN_num_bits(bn) <= 128);
		assert_true(BN_num_bits(bn) > 64); /* fails with probability 2^-64 */
		/* info.serial is the serial's own hex, computed here independently. */
		hex = BN_bn2hex(bn);
		for (p = hex; *p; p++)
			*p = (char)tolower((unsigned char)*p);
		assert_string_equal(info.serial, hex);
		ovr_strlcpy(serials[i], info.serial, sizeof(serials[i]));
		OPENSSL_free(hex);
		BN_free(bn);
		X509_free(x);
		free(cert);
		cert = NULL;
	}
	for (i = 0; i < N; i++)
		for (j = i + 1; j < N; j++)
			assert_string_not_equal(serials[i], serials[j]);
	free(csr);
	pki_pem_free(key);
}

static void test_fingerprint_matches_openssl(void **state)
{
	const char *sans[] = {"127.0.0.1"};
	char expected[128];
	char fp[PKI_FINGERPRINT_LEN];
	char *chain = NULL;
	char *chain_key = NULL;
	struct pki_cert_info info;
	X509 *x;

	(void)state;
	x = cert_first(fx.ca_cert);
	openssl_style_fingerprint(expected, sizeof(expected), x);
	assert_int_equal(strlen(expected), 95); /* 32 "AB" pairs and 31 colons */
	normalize_fingerprint(expected);
	assert_int_equal(pki_fingerprint(fp, fx.ca_cert), 0);
	assert_int_equal(strlen(fp), 64);
	assert_string_equal(fp, expected);
	assert_int_equal(pki_cert_info(&info, fx.ca_cert), 0);
	assert_string_equal(info.fingerprint, expected);
	X509_free(x);

	/* A chain's fingerprint is its first certificate's. */
	assert_int_equal(pki_server_cert_create(&chain, &chain_key, fx.ca_cert, fx.ca_key, "srv",
	                                        sans, 1, 1),
	                 0);
	x = cert_first(chain);
	openssl_style_fingerprint(expected, sizeof(expected), x);
	normalize_fingerprint(expected);
	assert_int_equal(pki_fingerprint(fp, chain), 0);
	assert_string_equal(fp, expected);
	X509_free(x);

	assert_int_equal(pki_fingerprint(fp, "garbage"), OVR_ERR_INVALID);
	assert_string_equal(fp, "");
	free(chain);
	pki_pem_free(chain_key);
}

static void test_cert_verify_fails_against_foreign_ca(void **state)
{
	struct pki_cert_info mine;
	struct pki_cert_info other;
	char *key = NULL;
	char *cert = NULL;

	(void)state;
	/* Same name, different key: only the signature tells them apart. */
	assert_int_equal(pki_cert_info(&mine, fx.ca_cert), 0);
	assert_int_equal(pki_cert_info(&other, fx.other_cert), 0);
	assert_string_equal(mine.common_name, other.common_name);
	make_node(&key, &cert, NULL, "node-1");
	assert_int_equal(pki_cert_verify(cert, fx.ca_cert), 0);
	assert_int_equal(pki_cert_verify(cert, fx.other_cert), OVR_ERR_INVALID);
	assert_true(msg_contains(OVR_ERR_INVALID, "does not verify"));
	/* A leaf is no trust anchor. */
	assert_int_equal(pki_cert_verify(cert, cert), OVR_ERR_INVALID);
	assert_int_equal(pki_cert_verify("garbage", fx.ca_cert), OVR_ERR_INVALID);
	free(cert);
	pki_pem_free(key);
}

static void test_key_cert_mismatch_is_detected(void **state)
{
	char *key_a = NULL;
	char *cert_a = NULL;
	char *key_b = NULL;
	char *cert_b = NULL;

	(void)state;
	make_node(&key_a, &cert_a, NULL, "node-a");
	make_node(&key_b, &cert_b, NULL, "node-b");
	assert_int_equal(pki_key_matches_cert(key_a, cert_a), 0);
	assert_int_equal(pki_key_matches_cert(key_b, cert_b), 0);
	assert_int_equal(pki_key_matches_cert(key_b, cert_a), OVR_ERR_INVALID);
	assert_true(msg_contains(OVR_ERR_INVALID, "does not belong"));
	assert_int_equal(pki_key_matches_cert(key_a, cert_b), OVR_ERR_INVALID);
	assert_int_equal(pki_key_matches_cert("garbage", cert_a), OVR_ERR_INVALID);
	assert_int_equal(pki_key_matches_cert(key_a, "garbage"), OVR_ERR_INVALID);
	free(cert_a);
	free(cert_b);
	pki_pem_free(key_a);
	pki_pem_free(key_b);
}

static void write_file(const char *path, const char *data, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	size_t len = strlen(data);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	assert_int_equal(fchmod(fd, mode), 0);
	assert_int_equal(close(fd), 0);
}

static void test_key_file_permissions(void **state)
{
	char dir[] = "/tmp/test_pki.XXXXXX";
	char path[256];
	char junk[256];
	char missing[256];
	char *key = NULL;
	char *loaded = NULL;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/node.key", dir);
	snprintf(junk, sizeof(junk), "%s/junk.key", dir);
	snprintf(missing, sizeof(missing), "%s/missing.key", dir);
	assert_int_equal(pki_key_generate(&key), 0);

	write_file(path, key, 0644);
	assert_int_equal(pki_key_load_file(&loaded, path), OVR_ERR_PERMISSION);
	assert_true(msg_contains(OVR_ERR_PERMISSION, path));
	assert_true(msg_contains(OVR_ERR_PERMISSION, "0644"));
	assert_null(loaded);
	assert_int_equal(chmod(path, 0640), 0);
	assert_int_equal(pki_key_load_file(&loaded, path), OVR_ERR_PERMISSION);
	assert_int_equal(chmod(path, 0600), 0);
	assert_int_equal(pki_key_load_file(&loaded, path), 0);
	assert_string_equal(loaded, key);
	pki_pem_free(loaded);
	loaded = NULL;
	assert_int_equal(chmod(path, 0400), 0);
	assert_int_equal(pki_key_load_file(&loaded, path), 0);
	pki_pem_free(loaded);
	loaded = NULL;

	write_file(junk, "-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n",
	           0600);
	assert_int_equal(pki_key_load_file(&loaded, junk), OVR_ERR_INVALID);
	assert_true(msg_contains(OVR_ERR_INVALID, junk));
	assert_int_equal(pki_key_load_file(&loaded, missing), OVR_ERR_NOT_FOUND);
	assert_null(loaded);

	assert_int_equal(unlink(path), 0);
	assert_int_equal(unlink(junk), 0);
	assert_int_equal(rmdir(dir), 0);
	pki_pem_free(key);
}

static void test_validity_matches_valid_ms(void **state)
{
	const int64_t valid_ms = 30 * DAY_MS + 12345;
	const int64_t backdate_ms = 5 * 60 * 1000;
	char *key = NULL;
	char *csr = NULL;
	char *cert = NULL;
	char *short_ca = NULL;
	char *short_ca_key = NULL;
	struct pki_cert_info info;
	struct pki_cert_info ca_info;
	int64_t before;
	int64_t after;
	int64_t span;
	int days = 0;
	int secs = 0;
	X509 *x;

	(void)state;
	assert_int_equal(pki_key_generate(&key), 0);
	assert_int_equal(pki_csr_create(&csr, key, "n"), 0);
	before = ovr_now_ms();
	assert_int_equal(pki_csr_sign(&cert, &info, fx.ca_cert, fx.ca_key, csr, "node-1", valid_ms,
	                              backdate_ms),
	                 0);
	after = ovr_now_ms();
	/* Certificate times have whole seconds. */
	assert_true(info.not_after_ms >= (before + valid_ms) / 1000 * 1000);
	assert_true(info.not_after_ms <= after + valid_ms);
	assert_true(info.not_before_ms >= (before - backdate_ms) / 1000 * 1000);
	assert_true(info.not_before_ms <= after - backdate_ms);
	/* The same span read by OpenSSL itself. */
	x = cert_first(cert);
	assert_int_equal(
	        ASN1_TIME_diff(&days, &secs, X509_get0_notBefore(x), X509_get0_notAfter(x)), 1);
	span = (int64_t)days * DAY_MS + (int64_t)secs * 1000;
	assert_true(span >= valid_ms + backdate_ms - 1000);
	assert_true(span <= valid_ms + backdate_ms + 1000);
	X509_free(x);
	free(cert);
	cert = NULL;

	/* A leaf never outlives its CA. */
	assert_int_equal(pki_ca_create(&short_ca, &short_ca_key, "Short CA", 1), 0);
	assert_int_equal(pki_cert_info(&ca_info, short_ca), 0);
	assert_int_equal(pki_csr_sign(&cert, &info, short_ca, short_ca_key, csr, "node-1", valid_ms,
	                              backdate_ms),
	                 0);
	assert_int_equal(info.not_after_ms, ca_info.not_after_ms);
	assert_int_equal(pki_cert_verify(cert, short_ca), 0);
	free(cert);
	free(short_ca);
	pki_pem_free(short_ca_key);
	free(csr);
	pki_pem_free(key);
}

/* ---- the pinned CA fetch, against a TLS server on 127.0.0.1 ---- */

struct tls_server {
	int fd;
	int port;
	SSL_CTX *ctx;
	pthread_t thread;
	int serve; /* 0: listen only, never accept */
	int handshakes;
};

static int listen_loopback(int *port)
{
	struct sockaddr_in addr;
	socklen_t len = sizeof(addr);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	memset(&addr, 0, sizeof(addr));
	addr.sin_family = AF_INET;
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	addr.sin_port = 0;
	assert_int_equal(bind(fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
	assert_int_equal(listen(fd, 4), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&addr, &len), 0);
	*port = ntohs(addr.sin_port);
	return fd;
}

static void *tls_server_main(void *arg)
{
	struct tls_server *s = arg;
	struct pollfd pfd = {.fd = s->fd, .events = POLLIN};
	struct timeval tv = {.tv_sec = 10};
	SSL *ssl;
	int fd;

	/* One client, and never a hang: every wait here is bounded too. */
	if (poll(&pfd, 1, 10000) != 1)
		return NULL;
	fd = accept(s->fd, NULL, NULL);
	if (fd < 0)
		return NULL;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	ssl = SSL_new(s->ctx);
	if (ssl && SSL_set_fd(ssl, fd) == 1 && SSL_accept(ssl) == 1) {
		s->handshakes++;
		SSL_shutdown(ssl);
	}
	SSL_free(ssl);
	close(fd);
	ERR_clear_error();
	return NULL;
}

/* Serves chain_pem (leaf first) with key_pem to one client, or only listens if !chain_pem. */
static void tls_server_start(struct tls_server *s, const char *chain_pem, const char *key_pem)
{
	memset(s, 0, sizeof(*s));
	s->fd = listen_loopback(&s->port);
	if (!chain_pem)
		return;
	s->serve = 1;
	s->ctx = SSL_CTX_new(TLS_server_method());
	assert_non_null(s->ctx);
	{
		X509 *leaf = cert_first(chain_pem);
		X509 *extra;
		BIO *bio = BIO_new_mem_buf(key_pem, -1);
		EVP_PKEY *key = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
		int i;

		assert_non_null(key);
		assert_int_equal(SSL_CTX_use_certificate(s->ctx, leaf), 1);
		for (i = 1; (extra = cert_nth(chain_pem, i)) != NULL; i++) {
			assert_int_equal(SSL_CTX_add1_chain_cert(s->ctx, extra), 1);
			X509_free(extra);
		}
		assert_int_equal(SSL_CTX_use_PrivateKey(s->ctx, key), 1);
		EVP_PKEY_free(key);
		BIO_free(bio);
		X509_free(leaf);
	}
	assert_int_equal(pthread_create(&s->thread, NULL, tls_server_main, s), 0);
}

static void tls_server_stop(struct tls_server *s)
{
	if (s->serve)
		pthread_join(s->thread, NULL);
	close(s->fd);
	SSL_CTX_free(s->ctx);
}

struct served {
	char *chain;
	char *key;
};

static void served_make(struct served *sv, const char *ca_cert, const char *ca_key)
{
	const char *sans[] = {"127.0.0.1"};

	assert_int_equal(pki_server_cert_create(&sv->chain, &sv->key, ca_cert, ca_key,
	                                        "overseer-server", sans, 1, 1),
	                 0);
}

static void served_free(struct served *sv)
{
	free(sv->chain);
	pki_pem_free(sv->key);
}

static void test_fetch_ca_with_right_pin(void **state)
{
	struct tls_server srv;
	struct served sv;
	char pin[PKI_FINGERPRINT_LEN];
	char got_fp[PKI_FINGERPRINT_LEN];
	struct pki_cert_info info;
	char *ca = NULL;

	(void)state;
	served_make(&sv, fx.ca_cert, fx.ca_key);
	assert_int_equal(pki_fingerprint(pin, fx.ca_cert), 0);
	tls_server_start(&srv, sv.chain, sv.key);
	assert_int_equal(pki_tls_fetch_ca(&ca, "127.0.0.1", srv.port, pin, 5000), 0);
	tls_server_stop(&srv);
	assert_int_equal(srv.handshakes, 1);
	assert_non_null(ca);
	assert_int_equal(cert_count(ca), 1);
	assert_int_equal(pki_fingerprint(got_fp, ca), 0);
	assert_string_equal(got_fp, pin);
	assert_int_equal(pki_cert_info(&info, ca), 0);
	assert_int_equal(info.is_ca, 1);
	/* What came back is usable as the trust anchor for the server's certificate. */
	assert_int_equal(pki_cert_verify(sv.chain, ca), 0);
	free(ca);
	served_free(&sv);
}

static void test_fetch_ca_with_wrong_pin(void **state)
{
	struct tls_server srv;
	struct served sv;
	char pin[PKI_FINGERPRINT_LEN];
	char *ca = NULL;

	(void)state;
	served_make(&sv, fx.ca_cert, fx.ca_key);
	assert_int_equal(pki_fingerprint(pin, fx.other_cert), 0);
	tls_server_start(&srv, sv.chain, sv.key);
	assert_int_equal(pki_tls_fetch_ca(&ca, "127.0.0.1", srv.port, pin, 5000),
	                 OVR_ERR_PERMISSION);
	tls_server_stop(&srv);
	assert_true(msg_contains(OVR_ERR_PERMISSION, "pinned CA fingerprint"));
	assert_null(ca);
	served_free(&sv);
}

static void test_fetch_ca_refuses_pin_of_non_ca(void **state)
{
	struct tls_server srv;
	struct served sv;
	char pin[PKI_FINGERPRINT_LEN];
	char *ca = NULL;

	(void)state;
	/* The pin names the server's own certificate, which cannot serve as a CA. */
	served_make(&sv, fx.ca_cert, fx.ca_key);
	assert_int_equal(pki_fingerprint(pin, sv.chain), 0);
	tls_server_start(&srv, sv.chain, sv.key);
	assert_int_equal(pki_tls_fetch_ca(&ca, "127.0.0.1", srv.port, pin, 5000),
	                 OVR_ERR_PERMISSION);
	tls_server_stop(&srv);
	assert_true(msg_contains(OVR_ERR_PERMISSION, "not a CA"));
	assert_null(ca);
	served_free(&sv);
}

static void test_fetch_ca_refuses_leaf_not_issued_by_pinned_ca(void **state)
{
	struct tls_server srv;
	struct served foreign;
	char pin[PKI_FINGERPRINT_LEN];
	char *chain;
	char *leaf_end;
	size_t leaf_len;
	char *ca = NULL;

	(void)state;
	/* A server whose certificate comes from another CA, showing ours in its chain. */
	served_make(&foreign, fx.other_cert, fx.other_key);
	leaf_end = strstr(foreign.chain, "-----END CERTIFICATE-----\n");
	assert_non_null(leaf_end);
	leaf_len = (size_t)(leaf_end - foreign.chain) + strlen("-----END CERTIFICATE-----\n");
	chain = malloc(leaf_len + strlen(fx.ca_cert) + 1);
	assert_non_null(chain);
	memcpy(chain, foreign.chain, leaf_len);
	strcpy(chain + leaf_len, fx.ca_cert);
	assert_int_equal(cert_count(chain), 2);

	assert_int_equal(pki_fingerprint(pin, fx.ca_cert), 0);
	tls_server_start(&srv, chain, foreign.key);
	assert_int_equal(pki_tls_fetch_ca(&ca, "127.0.0.1", srv.port, pin, 5000),
	                 OVR_ERR_PERMISSION);
	tls_server_stop(&srv);
	assert_true(msg_contains(OVR_ERR_PERMISSION, "does not verify against the pinned CA"));
	assert_null(ca);
	free(chain);
	served_free(&foreign);
}

static void test_fetch_ca_closed_port_is_unavailable(void **state)
{
	char pin[PKI_FINGERPRINT_LEN];
	char *ca = NULL;
	int port;
	int fd;

	(void)state;
	assert_int_equal(pki_fingerprint(pin, fx.ca_cert), 0);
	fd = listen_loopback(&port);
	close(fd);
	assert_int_equal(pki_tls_fetch_ca(&ca, "127.0.0.1", port, pin, 2000), OVR_ERR_UNAVAILABLE);
	assert_true(msg_contains(OVR_ERR_UNAVAILABLE, "127.0.0.1"));
	assert_null(ca);
}

static void test_fetch_ca_silent_server_times_out(void **state)
{
	struct tls_server srv;
	char pin[PKI_FINGERPRINT_LEN];
	char *ca = NULL;
	int64_t start;
	int64_t took;

	(void)state;
	assert_int_equal(pki_fingerprint(pin, fx.ca_cert), 0);
	/* The kernel completes the TCP connect; nobody ever answers the ClientHello. */
	tls_server_start(&srv, NULL, NULL);
	start = ovr_mono_ms();
	assert_int_equal(pki_tls_fetch_ca(&ca, "127.0.0.1", srv.port, pin, 300),
	                 OVR_ERR_UNAVAILABLE);
	took = ovr_mono_ms() - start;
	tls_server_stop(&srv);
	assert_true(msg_contains(OVR_ERR_UNAVAILABLE, "timed out"));
	assert_true(took >= 290);
	assert_true(took < 1500);
	assert_null(ca);
}

static void test_fetch_ca_rejects_bad_arguments(void **state)
{
	char pin[PKI_FINGERPRINT_LEN];
	char *ca = NULL;

	(void)state;
	assert_int_equal(pki_fingerprint(pin, fx.ca_cert), 0);
	assert_int_equal(pki_tls_fetch_ca(&ca, "127.0.0.1", 443, "abcd", 1000), OVR_ERR_INVALID);
	assert_true(msg_contains(OVR_ERR_INVALID, "64 hex"));
	assert_int_equal(
	        pki_tls_fetch_ca(&ca, "127.0.0.1", 443,
	                         "zz00000000000000000000000000000000000000000000000000000000000000",
	                         1000),
	        OVR_ERR_INVALID);
	assert_int_equal(pki_tls_fetch_ca(&ca, "127.0.0.1", 0, pin, 1000), OVR_ERR_INVALID);
	assert_int_equal(pki_tls_fetch_ca(&ca, "127.0.0.1", 70000, pin, 1000), OVR_ERR_INVALID);
	assert_int_equal(pki_tls_fetch_ca(&ca, "", 443, pin, 1000), OVR_ERR_INVALID);
	assert_int_equal(pki_tls_fetch_ca(&ca, "127.0.0.1", 443, pin, 0), OVR_ERR_INVALID);
	assert_null(ca);
}

static int group_setup(void **state)
{
	(void)state;
	fx.ca_made_before_ms = ovr_now_ms();
	if (pki_ca_create(&fx.ca_cert, &fx.ca_key, CA_NAME, 3650) != 0)
		return -1;
	fx.ca_made_after_ms = ovr_now_ms();
	if (pki_ca_create(&fx.other_cert, &fx.other_key, CA_NAME, 3650) != 0)
		return -1;
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	free(fx.ca_cert);
	pki_pem_free(fx.ca_key);
	free(fx.other_cert);
	pki_pem_free(fx.other_key);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_key_generate_is_p256_pkcs8),
	        cmocka_unit_test(test_ca_is_self_signed_ca),
	        cmocka_unit_test(test_ca_create_rejects_bad_input),
	        cmocka_unit_test(test_server_cert_chains_with_sans_and_server_auth),
	        cmocka_unit_test(test_server_cert_rejects_bad_input),
	        cmocka_unit_test(test_csr_sign_takes_identity_from_node_id),
	        cmocka_unit_test(test_csr_sign_ignores_requested_extensions),
	        cmocka_unit_test(test_csr_tampered_is_refused),
	        cmocka_unit_test(test_csr_with_other_key_type_or_garbage_is_refused),
	        cmocka_unit_test(test_csr_sign_rejects_bad_node_id_and_lifetime),
	        cmocka_unit_test(test_serials_are_random_positive_and_distinct),
	        cmocka_unit_test(test_fingerprint_matches_openssl),
	        cmocka_unit_test(test_cert_verify_fails_against_foreign_ca),
	        cmocka_unit_test(test_key_cert_mismatch_is_detected),
	        cmocka_unit_test(test_key_file_permissions),
	        cmocka_unit_test(test_validity_matches_valid_ms),
	        cmocka_unit_test(test_fetch_ca_with_right_pin),
	        cmocka_unit_test(test_fetch_ca_with_wrong_pin),
	        cmocka_unit_test(test_fetch_ca_refuses_pin_of_non_ca),
	        cmocka_unit_test(test_fetch_ca_refuses_leaf_not_issued_by_pinned_ca),
	        cmocka_unit_test(test_fetch_ca_closed_port_is_unavailable),
	        cmocka_unit_test(test_fetch_ca_silent_server_times_out),
	        cmocka_unit_test(test_fetch_ca_rejects_bad_arguments),
	};

	/* The test's own TLS server may write to a client that has already gone. */
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
