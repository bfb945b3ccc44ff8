/* PEM text in and out of pki/, and the error messages that carry OpenSSL's reason. */
#include "pki_internal.h"

#include "err.h"

#include <openssl/err.h>
#include <openssl/pem.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int pki_ossl_err(int err, const char *fmt, ...)
{
	char msg[768];
	/* The earliest error is the cause; later ones only name the layers it went through. */
	unsigned long e = ERR_peek_error();
	const char *reason = e ? ERR_reason_error_string(e) : NULL;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	ERR_clear_error();
	if (!reason)
		return ovr_err_set(err, "%s", msg);
	return ovr_err_set(err, "%s: %s", msg, reason);
}

/*
 * A PEM block may claim to be encrypted even where no key is expected (a peer's CSR); OpenSSL's
 * default would then prompt on the terminal. Overseer's keys are never encrypted: refuse.
 */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)u;
	return -1;
}

static int pem_bio(BIO **out, const char *pem, const char *what)
{
	size_t len;

	*out = NULL;
	if (!pem)
		return ovr_err_set(OVR_ERR_INVALID, "%s: missing", what);
	len = strnlen(pem, PKI_PEM_MAX + 1);
	if (len > PKI_PEM_MAX)
		return ovr_err_set(OVR_ERR_TOO_LARGE, "%s: larger than %d bytes", what,
		                   PKI_PEM_MAX);
	*out = BIO_new_mem_buf(pem, (int)len);
	if (!*out)
		return pki_ossl_err(OVR_ERR_NOMEM, "%s: out of memory", what);
	return 0;
}

int pki_pem_read_cert(X509 **out, const char *pem, const char *what)
{
	BIO *bio = NULL;
	int err;

	*out = NULL;
	err = pem_bio(&bio, pem, what);
	if (err)
		return err;
	*out = PEM_read_bio_X509(bio, NULL, no_passphrase, NULL);
	BIO_free(bio);
	if (!*out)
		return pki_ossl_err(OVR_ERR_INVALID, "%s: not a PEM certificate", what);
	ERR_clear_error();
	return 0;
}

int pki_pem_read_csr(X509_REQ **out, const char *pem, const char *what)
{
	BIO *bio = NULL;
	int err;

	*out = NULL;
	err = pem_bio(&bio, pem, what);
	if (err)
		return err;
	*out = PEM_read_bio_X509_REQ(bio, NULL, no_passphrase, NULL);
	BIO_free(bio);
	if (!*out)
		return pki_ossl_err(OVR_ERR_INVALID, "%s: not a PEM certificate request", what);
	ERR_clear_error();
	return 0;
}

int pki_pem_read_key(EVP_PKEY **out, const char *pem, const char *what)
{
	BIO *bio = NULL;
	int err;

	*out = NULL;
	err = pem_bio(&bio, pem, what);
	if (err)
		return err;
	*out = PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL);
	BIO_free(bio);
	if (!*out) {
		/* OpenSSL's decoder only says "unsupported" here, which helps nobody. */
		ERR_clear_error();
		return ovr_err_set(OVR_ERR_INVALID, "%s: not an unencrypted PEM private key", what);
	}
	ERR_clear_error();
	return 0;
}

/* Copies a memory BIO's contents after *out (appending when *out is a string already). */
static int bio_append(char **out, BIO *bio)
{
	char *data = NULL;
	size_t old = *out ? strlen(*out) : 0;
	long n = BIO_get_mem_data(bio, &data);
	char *p;

	if (n <= 0 || !data)
		return ovr_err_set(OVR_ERR_INTERNAL, "PEM encoder produced no output");
	p = realloc(*out, old + (size_t)n + 1);
	if (!p)
		return ovr_err_set(OVR_ERR_NOMEM, "PEM: out of memory");
	memcpy(p + old, data, (size_t)n);
	p[old + (size_t)n] = '\0';
	*out = p;
	return 0;
}

int pki_pem_append_cert(char **out, X509 *cert)
{
	BIO *bio = BIO_new(BIO_s_mem());
	int err;

	if (!bio)
		return pki_ossl_err(OVR_ERR_NOMEM, "PEM: out of memory");
	if (!PEM_write_bio_X509(bio, cert))
		err = pki_ossl_err(OVR_ERR_CRYPTO, "cannot encode a certificate as PEM");
	else
		err = bio_append(out, bio);
	BIO_free(bio);
	return err;
}

int pki_pem_append_csr(char **out, X509_REQ *req)
{
	BIO *bio = BIO_new(BIO_s_mem());
	int err;

	if (!bio)
		return pki_ossl_err(OVR_ERR_NOMEM, "PEM: out of memory");
	if (!PEM_write_bio_X509_REQ(bio, req))
		err = pki_ossl_err(OVR_ERR_CRYPTO, "cannot encode a certificate request as PEM");
	else
		err = bio_append(out, bio);
	BIO_free(bio);
	return err;
}

int pki_pem_write_key(char **out, EVP_PKEY *key)
{
	/* A secure-memory BIO: its buffer is wiped when freed, like ours (pki_pem_free). */
	BIO *bio = BIO_new(BIO_s_secmem());
	char *pem = NULL;
	int err;

	*out = NULL;
	if (!bio)
		return pki_ossl_err(OVR_ERR_NOMEM, "PEM: out of memory");
	if (!PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL))
		err = pki_ossl_err(OVR_ERR_CRYPTO, "cannot encode a private key as PEM");
	else
		err = bio_append(&pem, bio);
	BIO_free(bio);
	if (!err)
		*out = pem;
	return err;
}
