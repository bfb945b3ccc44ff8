/* Hashing, randomness and constant-time comparison for tokens (OpenSSL EVP/RAND). */
#include "crypto.h"

#include "err.h"
#include "strutil.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

void crypto_sha256(unsigned char out[CRYPTO_SHA256_LEN], const void *data, size_t len)
{
	unsigned int n = CRYPTO_SHA256_LEN;

	EVP_Digest(data, len, out, &n, EVP_sha256(), NULL);
}

int crypto_random(void *buf, size_t len)
{
	if (len > 1024 * 1024 || RAND_bytes(buf, (int)len) != 1)
		return ovr_err_set(OVR_ERR_CRYPTO, "random number generator failed");
	return 0;
}

int crypto_random_hex(char *out, size_t nbytes)
{
	unsigned char buf[256];
	int err;

	if (nbytes > sizeof(buf))
		return ovr_err_set(OVR_ERR_INTERNAL, "crypto_random_hex: %zu bytes is too many",
		                   nbytes);
	err = crypto_random(buf, nbytes);
	if (err)
		return err;
	ovr_hex_encode(out, buf, nbytes);
	OPENSSL_cleanse(buf, nbytes);
	return 0;
}

int crypto_equal(const void *a, const void *b, size_t len)
{
	return CRYPTO_memcmp(a, b, len) == 0;
}

void crypto_wipe(void *p, size_t len)
{
	OPENSSL_cleanse(p, len);
}
