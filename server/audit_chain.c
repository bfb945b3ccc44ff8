/* The audit log's hash chain: one canonical form of an event, hashed after its predecessor. */
#include "audit_chain.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>

static void put_field(EVP_MD_CTX *ctx, const char *s)
{
	char len[32];

	if (!s)
		s = "";
	snprintf(len, sizeof(len), "%zu:", strlen(s));
	EVP_DigestUpdate(ctx, len, strlen(len));
	EVP_DigestUpdate(ctx, s, strlen(s));
	EVP_DigestUpdate(ctx, "\n", 1);
}

static void put_number(EVP_MD_CTX *ctx, int64_t v)
{
	char num[32];

	snprintf(num, sizeof(num), "%" PRId64, v);
	put_field(ctx, num);
}

void audit_chain_hash(unsigned char out[CRYPTO_SHA256_LEN], const unsigned char *prev,
                      size_t prev_len, const struct audit_record *r)
{
	static const char tag[] = "overseer-audit-v1\n";
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned int n = 0;

	/* Allocation failure leaves a zero hash, which never verifies: the chain reports it. */
	memset(out, 0, CRYPTO_SHA256_LEN);
	if (!ctx)
		return;
	if (EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1) {
		if (prev_len)
			EVP_DigestUpdate(ctx, prev, prev_len);
		EVP_DigestUpdate(ctx, tag, sizeof(tag) - 1);
		put_number(ctx, r->seq);
		put_number(ctx, r->at_us);
		put_field(ctx, r->actor);
		put_field(ctx, r->action);
		put_field(ctx, r->target);
		put_field(ctx, r->request_id);
		put_field(ctx, r->source);
		put_field(ctx, r->outcome);
		put_field(ctx, r->summary_json);
		if (EVP_DigestFinal_ex(ctx, out, &n) != 1 || n != CRYPTO_SHA256_LEN)
			memset(out, 0, CRYPTO_SHA256_LEN);
	}
	EVP_MD_CTX_free(ctx);
}
