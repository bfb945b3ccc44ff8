/* The text forms of join tokens and operator API tokens. */
#include "token.h"

#include "err.h"
#include "strutil.h"

#include <stdio.h>
#include <string.h>

static int all_hex(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return 1;
}

/* Copies n hex characters at text into out, if they are hex and followed by sep. */
static const char *take(char *out, const char *text, size_t n, char sep)
{
	if (strlen(text) < n || !all_hex(text, n) || text[n] != sep)
		return NULL;
	memcpy(out, text, n);
	out[n] = '\0';
	return text + n + (sep ? 1 : 0);
}

int token_join_parse(struct token_parts *out, const char *text)
{
	const char *p = text;

	memset(out, 0, sizeof(*out));
	if (strncmp(p, "OVRJT-1-", 8) != 0)
		goto bad;
	p += 8;
	if (!(p = take(out->fingerprint, p, TOKEN_FP_HEX, '-')) ||
	    !(p = take(out->id, p, TOKEN_ID_HEX, '-')) ||
	    !(p = take(out->secret, p, TOKEN_SECRET_HEX, '\0')))
		goto bad;
	return 0;
bad:
	token_parts_wipe(out);
	return ovr_err_set(
	        OVR_ERR_INVALID,
	        "not a join token (expected OVRJT-1-<fingerprint>-<id>-<secret>, as printed "
	        "by 'ovrctl node token create')");
}

int token_api_parse(struct token_parts *out, const char *text)
{
	const char *p = text;

	memset(out, 0, sizeof(*out));
	if (strncmp(p, "ovrt_", 5) != 0)
		goto bad;
	p += 5;
	if (!(p = take(out->id, p, TOKEN_ID_HEX, '_')) ||
	    !(p = take(out->secret, p, TOKEN_SECRET_HEX, '\0')))
		goto bad;
	return 0;
bad:
	token_parts_wipe(out);
	return ovr_err_set(OVR_ERR_UNAUTHENTICATED,
	                   "bearer token is malformed (expected ovrt_<id>_<secret>)");
}

void token_secret_hash(unsigned char hash[CRYPTO_SHA256_LEN], const struct token_parts *parts)
{
	crypto_sha256(hash, parts->secret, strlen(parts->secret));
}

static int new_parts(struct token_parts *parts, unsigned char hash[CRYPTO_SHA256_LEN])
{
	int err;

	memset(parts, 0, sizeof(*parts));
	err = crypto_random_hex(parts->id, TOKEN_ID_HEX / 2);
	if (!err)
		err = crypto_random_hex(parts->secret, TOKEN_SECRET_HEX / 2);
	if (err)
		return err;
	token_secret_hash(hash, parts);
	return 0;
}

int token_join_new(char buf[TOKEN_JOIN_LEN], struct token_parts *parts,
                   unsigned char hash[CRYPTO_SHA256_LEN], const char *ca_fingerprint)
{
	int err = new_parts(parts, hash);

	if (err)
		return err;
	ovr_strlcpy(parts->fingerprint, ca_fingerprint, sizeof(parts->fingerprint));
	snprintf(buf, TOKEN_JOIN_LEN, "OVRJT-1-%s-%s-%s", parts->fingerprint, parts->id,
	         parts->secret);
	return 0;
}

int token_api_new(char buf[TOKEN_API_LEN], struct token_parts *parts,
                  unsigned char hash[CRYPTO_SHA256_LEN])
{
	int err = new_parts(parts, hash);

	if (err)
		return err;
	snprintf(buf, TOKEN_API_LEN, "ovrt_%s_%s", parts->id, parts->secret);
	return 0;
}

void token_parts_wipe(struct token_parts *parts)
{
	crypto_wipe(parts, sizeof(*parts));
}
