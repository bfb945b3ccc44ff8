/*
 * audit_chain_hash: the audit log's tamper evidence. Any change to any field, to the previous
 * hash or to a field boundary gives another hash; the expected value is SHA-256 of the canonical
 * text written out here by hand, computed independently with OpenSSL's one-shot SHA256.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/sha.h>

#include "audit_chain.h"

static struct audit_record sample(void)
{
	struct audit_record r = {
	        7,       1700000000123456,      "alice", "overseer.v1.Apps/DeployApp", "app/shop",
	        "rid-1", "ipv4:127.0.0.1:5000", "ok",    "{\"name\":\"shop\"}"};
	return r;
}

static void test_known_canonical_form(void **state)
{
	static const char canonical[] = "overseer-audit-v1\n"
	                                "1:7\n16:1700000000123456\n5:alice\n"
	                                "26:overseer.v1.Apps/DeployApp\n8:app/shop\n5:rid-1\n"
	                                "19:ipv4:127.0.0.1:5000\n2:ok\n15:{\"name\":\"shop\"}\n";
	unsigned char prev[CRYPTO_SHA256_LEN], buf[CRYPTO_SHA256_LEN + sizeof(canonical)];
	unsigned char want[CRYPTO_SHA256_LEN], got[CRYPTO_SHA256_LEN];
	struct audit_record r = sample();

	(void)state;
	memset(prev, 0xab, sizeof(prev));
	memcpy(buf, prev, sizeof(prev));
	memcpy(buf + sizeof(prev), canonical, sizeof(canonical) - 1);
	SHA256(buf, sizeof(prev) + sizeof(canonical) - 1, want);
	audit_chain_hash(got, prev, sizeof(prev), &r);
	assert_memory_equal(got, want, sizeof(want));
	/* The first event has no predecessor. */
	SHA256((const unsigned char *)canonical, sizeof(canonical) - 1, want);
	audit_chain_hash(got, NULL, 0, &r);
	assert_memory_equal(got, want, sizeof(want));
}

static void test_every_field_counts(void **state)
{
	unsigned char base[CRYPTO_SHA256_LEN], h[CRYPTO_SHA256_LEN], prev[CRYPTO_SHA256_LEN] = {1};
	struct audit_record r = sample(), x;
	int i;

	(void)state;
	audit_chain_hash(base, prev, sizeof(prev), &r);
	for (i = 0; i < 9; i++) {
		x = r;
		switch (i) {
		case 0:
			x.seq = 8;
			break;
		case 1:
			x.at_us++;
			break;
		case 2:
			x.actor = "mallory";
			break;
		case 3:
			x.action = "overseer.v1.Apps/RollbackApp";
			break;
		case 4:
			x.target = "app/shoq";
			break;
		case 5:
			x.request_id = "";
			break;
		case 6:
			x.source = "ipv4:10.0.0.1:1";
			break;
		case 7:
			x.outcome = "denied";
			break;
		default:
			x.summary_json = "{}";
			break;
		}
		audit_chain_hash(h, prev, sizeof(prev), &x);
		assert_memory_not_equal(h, base, sizeof(h));
	}
	prev[0] = 2;
	audit_chain_hash(h, prev, sizeof(prev), &r);
	assert_memory_not_equal(h, base, sizeof(h));
}

static void test_field_boundaries_are_unambiguous(void **state)
{
	unsigned char a[CRYPTO_SHA256_LEN], b[CRYPTO_SHA256_LEN];
	struct audit_record x = sample(), y = sample();

	(void)state;
	/* The same bytes split differently between two fields. */
	x.actor = "ali";
	x.action = "ceoverseer.v1.Apps/DeployApp";
	y.actor = "alice";
	y.action = "overseer.v1.Apps/DeployApp";
	audit_chain_hash(a, NULL, 0, &x);
	audit_chain_hash(b, NULL, 0, &y);
	assert_memory_not_equal(a, b, sizeof(a));
	/* NULL strings hash as empty ones. */
	x = sample();
	y = sample();
	x.request_id = NULL;
	y.request_id = "";
	audit_chain_hash(a, NULL, 0, &x);
	audit_chain_hash(b, NULL, 0, &y);
	assert_memory_equal(a, b, sizeof(a));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_known_canonical_form),
	        cmocka_unit_test(test_every_field_counts),
	        cmocka_unit_test(test_field_boundaries_are_unambiguous),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
