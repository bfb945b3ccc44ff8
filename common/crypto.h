/* Hashing, randomness and constant-time comparison for tokens (OpenSSL EVP/RAND). */
#ifndef OVR_CRYPTO_H
#define OVR_CRYPTO_H

#include <stddef.h>

#define CRYPTO_SHA256_LEN 32

/* SHA-256 of data into out. */
void crypto_sha256(unsigned char out[CRYPTO_SHA256_LEN], const void *data, size_t len);

/* Cryptographically strong random bytes; OVR_ERR_CRYPTO if the generator fails. */
int crypto_random(void *buf, size_t len);

/* nbytes random bytes as lowercase hex into out (2*nbytes+1). */
int crypto_random_hex(char *out, size_t nbytes);

/* 1 if a and b (len bytes each) are equal, in time independent of their contents. */
int crypto_equal(const void *a, const void *b, size_t len);

/* Overwrites memory so a secret does not linger (never optimised away). */
void crypto_wipe(void *p, size_t len);

#endif
