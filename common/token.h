/*
 * The text forms of join tokens and operator API tokens. Both are a public id (to find the row)
 * and a secret (only its SHA-256 is stored, compared in constant time).
 *   join token: OVRJT-1-<CA SHA-256 fingerprint, 64 hex>-<id, 16 hex>-<secret, 40 hex>
 *   API token:  ovrt_<id, 16 hex>_<secret, 40 hex>
 */
#ifndef OVR_TOKEN_H
#define OVR_TOKEN_H

#include <stddef.h>

#include "crypto.h"

#define TOKEN_ID_HEX     16
#define TOKEN_SECRET_HEX 40
#define TOKEN_FP_HEX     64
#define TOKEN_JOIN_LEN   (8 + TOKEN_FP_HEX + 1 + TOKEN_ID_HEX + 1 + TOKEN_SECRET_HEX + 1)
#define TOKEN_API_LEN    (5 + TOKEN_ID_HEX + 1 + TOKEN_SECRET_HEX + 1)

struct token_parts {
	char fingerprint[TOKEN_FP_HEX + 1]; /* join tokens only */
	char id[TOKEN_ID_HEX + 1];
	char secret[TOKEN_SECRET_HEX + 1];
};

/* Splits a join token; OVR_ERR_INVALID ("not a join token ...") if malformed. */
int token_join_parse(struct token_parts *out, const char *text);
/* Splits an API token; OVR_ERR_UNAUTHENTICATED if malformed. */
int token_api_parse(struct token_parts *out, const char *text);

/* New random id and secret; the text form into buf, the secret's hash into hash. */
int token_join_new(char buf[TOKEN_JOIN_LEN], struct token_parts *parts,
                   unsigned char hash[CRYPTO_SHA256_LEN], const char *ca_fingerprint);
int token_api_new(char buf[TOKEN_API_LEN], struct token_parts *parts,
                  unsigned char hash[CRYPTO_SHA256_LEN]);

/* SHA-256 of the secret part. */
void token_secret_hash(unsigned char hash[CRYPTO_SHA256_LEN], const struct token_parts *parts);

/* Wipes the parts (they hold the secret). */
void token_parts_wipe(struct token_parts *parts);

#endif
