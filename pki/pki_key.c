/* Private keys: generation, the P-256 check, wiping PEM buffers, and loading key files. */
#include "pki_internal.h"

#include "err.h"
#include "fsutil.h"

#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>

#include <stdlib.h>
#include <string.h>

void pki_pem_free(char *pem)
{
	if (!pem)
		return;
	OPENSSL_cleanse(pem, strlen(pem));
	free(pem);
}

int pki_key_new(EVP_PKEY **out)
{
	*out = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	if (!*out)
		return pki_ossl_err(OVR_ERR_CRYPTO, "cannot generate an EC P-256 key");
	return 0;
}

int pki_key_is_p256(const EVP_PKEY *key)
{
	char group[80];
	size_t len = 0;

	if (!key || !EVP_PKEY_is_a(key, "EC"))
		return 0;
	if (!EVP_PKEY_get_group_name(key, group, sizeof(group), &len)) {
		/* Explicit curve parameters have no name: not accepted either. */
		ERR_clear_error();
		return 0;
	}
	return OBJ_sn2nid(group) == NID_X9_62_prime256v1 ||
	       EC_curve_nist2nid(group) == NID_X9_62_prime256v1;
}

int pki_key_generate(char **key_pem)
{
	EVP_PKEY *key = NULL;
	int err;

	*key_pem = NULL;
	err = pki_key_new(&key);
	if (!err)
		err = pki_pem_write_key(key_pem, key);
	EVP_PKEY_free(key);
	return err;
}

int pki_key_load_file(char **key_pem, const char *path)
{
	EVP_PKEY *key = NULL;
	char *buf = NULL;
	size_t len = 0;
	int err;

	*key_pem = NULL;
	err = fs_check_private(path);
	if (err)
		return err;
	err = fs_read_file(&buf, &len, path, PKI_PEM_MAX);
	if (err)
		return err;
	if (strlen(buf) != len) {
		err = ovr_err_set(OVR_ERR_INVALID, "%s: contains a NUL byte, not a PEM private key",
		                  path);
		goto out;
	}
	err = pki_pem_read_key(&key, buf, path);
	if (err)
		goto out;
	*key_pem = buf;
	buf = NULL;
out:
	if (buf) {
		OPENSSL_cleanse(buf, len);
		free(buf);
	}
	EVP_PKEY_free(key);
	return err;
}
