/* Node labels: validation, the JSON form stored in the database, and label selectors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "arena.h"
#include "err.h"
#include "labels.h"
#include "overseer/v1/nodes.pb-c.h"

typedef Overseer__V1__Node__LabelsEntry entry_t;

/* Each test's allocations; freed after it even when an assertion fails. */
static struct arena scratch;

static int free_scratch(void **state)
{
	(void)state;
	arena_free(&scratch);
	return 0;
}

/* Marks an output parameter as not yet written. */
static void *sentinel;

#define MAXE (LABELS_MAX + 2)

/* A list of generated map entries, as a request message would carry them. */
struct elist {
	entry_t e[MAXE];
	void *p[MAXE];
	char keys[MAXE][16];
	size_t n;
};

static void add(struct elist *l, const char *key, const char *value)
{
	entry_t init = OVERSEER__V1__NODE__LABELS_ENTRY__INIT;

	l->e[l->n] = init;
	l->e[l->n].key = (char *)key;
	l->e[l->n].value = (char *)value;
	l->p[l->n] = &l->e[l->n];
	l->n++;
}

/* 1 if json is an object with exactly the n key/value pairs given as "k", "v", ... */
static int json_has_exactly(const char *json, size_t n, const char *const *kv)
{
	json_t *obj = json_loads(json, 0, NULL);
	size_t i;
	int ok;

	ok = obj && json_is_object(obj) && json_object_size(obj) == n;
	for (i = 0; ok && i < n; i++) {
		json_t *v = json_object_get(obj, kv[2 * i]);

		ok = v && json_is_string(v) && strcmp(json_string_value(v), kv[2 * i + 1]) == 0;
	}
	json_decref(obj);
	return ok;
}

/* The value of key among entries, or NULL. */
static const char *lookup(size_t n, void *const *entries, const char *key)
{
	size_t i;

	for (i = 0; i < n; i++) {
		const entry_t *e = entries[i];

		if (strcmp(e->key, key) == 0)
			return e->value;
	}
	return NULL;
}

static void test_validate_ok(void **state)
{
	struct elist l = {.n = 0};

	(void)state;
	assert_int_equal(labels_validate(0, NULL), 0);
	add(&l, "role", "web");
	add(&l, "zone", "eu-1a");
	add(&l, "topology.disk_type", "ssd");
	add(&l, "empty", "");
	assert_int_equal(labels_validate(l.n, l.p), 0);
}

static void check_invalid(struct elist *l, const char *named)
{
	ovr_err_clear();
	assert_int_equal(labels_validate(l->n, l->p), OVR_ERR_INVALID);
	if (!strstr(ovr_err_msg(OVR_ERR_INVALID), named))
		print_message("'%s' not in: %s\n", named, ovr_err_msg(OVR_ERR_INVALID));
	assert_non_null(strstr(ovr_err_msg(OVR_ERR_INVALID), named));
}

static void test_validate_bad_key(void **state)
{
	static const char *const bad[] = {"Role", "-role", "role-", ".x", "ro le", "", "r/x"};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct elist l = {.n = 0};
		char named[64];

		add(&l, "zone", "a");
		add(&l, bad[i], "web");
		snprintf(named, sizeof(named), "%s=web", bad[i]);
		check_invalid(&l, named);
	}
}

static void test_validate_bad_value(void **state)
{
	char long_value[80];
	struct elist l = {.n = 0};

	(void)state;
	add(&l, "role", "web server");
	check_invalid(&l, "role=web server");

	memset(long_value, 'v', 64);
	long_value[64] = '\0';
	l.n = 0;
	add(&l, "zone", "a");
	add(&l, "role", long_value);
	check_invalid(&l, "role=vvvv");

	l.n = 0;
	add(&l, "role", "tab\there");
	check_invalid(&l, "role=");
}

static void test_validate_duplicate(void **state)
{
	struct elist l = {.n = 0};

	(void)state;
	add(&l, "role", "web");
	add(&l, "zone", "a");
	add(&l, "role", "db");
	check_invalid(&l, "'role'");

	/* The same value twice is still two entries for one key. */
	l.n = 0;
	add(&l, "zone", "a");
	add(&l, "zone", "a");
	check_invalid(&l, "'zone'");
}

static void test_validate_count(void **state)
{
	static struct elist l;
	size_t i;

	(void)state;
	l.n = 0;
	for (i = 0; i < LABELS_MAX; i++) {
		snprintf(l.keys[i], sizeof(l.keys[i]), "k%zu", i);
		add(&l, l.keys[i], "v");
	}
	assert_int_equal(labels_validate(l.n, l.p), 0);
	snprintf(l.keys[LABELS_MAX], sizeof(l.keys[LABELS_MAX]), "k%d", LABELS_MAX);
	add(&l, l.keys[LABELS_MAX], "v");
	ovr_err_clear();
	assert_int_equal(labels_validate(l.n, l.p), OVR_ERR_INVALID);
	assert_non_null(strstr(ovr_err_msg(OVR_ERR_INVALID), "at most"));
}

static void test_json_round_trip(void **state)
{
	static const char *const kv[] = {"role",  "web",          "zone",  "a",
	                                 "quote", "say\"hi\"\\x", "empty", ""};
	struct elist l = {.n = 0};
	void **back = NULL;
	size_t n = 99, i;
	char *json;

	(void)state;
	for (i = 0; i < 4; i++)
		add(&l, kv[2 * i], kv[2 * i + 1]);
	assert_int_equal(labels_validate(l.n, l.p), 0);
	json = labels_to_json(&scratch, l.n, l.p);
	assert_non_null(json);
	if (!json_has_exactly(json, 4, kv))
		print_message("json: %s\n", json);
	assert_true(json_has_exactly(json, 4, kv));

	assert_int_equal(labels_from_json(&scratch, json,
	                                  &overseer__v1__node__labels_entry__descriptor, &n, &back),
	                 0);
	assert_int_equal(n, 4);
	for (i = 0; i < 4; i++) {
		const entry_t *e = back[i];

		/* Real generated messages, fit to hang off a Node. */
		assert_ptr_equal(e->base.descriptor, &overseer__v1__node__labels_entry__descriptor);
		assert_string_equal(lookup(n, back, kv[2 * i]), kv[2 * i + 1]);
	}
}

/* The entries from the database serialize inside a Node and come back unchanged. */
static void test_from_json_packs_in_node(void **state)
{
	Overseer__V1__Node node = OVERSEER__V1__NODE__INIT;
	Overseer__V1__Node *copy;
	void **entries = NULL;
	uint8_t *buf;
	size_t n = 0, len;

	(void)state;
	assert_int_equal(labels_from_json(&scratch, "{\"role\":\"web\",\"zone\":\"b\"}",
	                                  &overseer__v1__node__labels_entry__descriptor, &n,
	                                  &entries),
	                 0);
	assert_int_equal(n, 2);
	node.name = (char *)"node-1";
	node.n_labels = n;
	node.labels = (entry_t **)entries;
	len = protobuf_c_message_get_packed_size(&node.base);
	buf = arena_alloc(&scratch, len);
	assert_int_equal(protobuf_c_message_pack(&node.base, buf), len);
	copy = overseer__v1__node__unpack(NULL, len, buf);
	assert_non_null(copy);
	assert_int_equal(copy->n_labels, 2);
	assert_string_equal(lookup(copy->n_labels, (void *const *)copy->labels, "role"), "web");
	assert_string_equal(lookup(copy->n_labels, (void *const *)copy->labels, "zone"), "b");
	overseer__v1__node__free_unpacked(copy, NULL);
}

static void test_json_empty(void **state)
{
	void **entries = &sentinel;
	size_t n = 99;
	char *json;

	(void)state;
	json = labels_to_json(&scratch, 0, NULL);
	assert_true(json_has_exactly(json, 0, NULL));
	assert_int_equal(labels_from_json(&scratch, json,
	                                  &overseer__v1__node__labels_entry__descriptor, &n,
	                                  &entries),
	                 0);
	assert_int_equal(n, 0);
	/* A NULL column (no labels stored) is no labels. */
	n = 99;
	assert_int_equal(labels_from_json(&scratch, NULL,
	                                  &overseer__v1__node__labels_entry__descriptor, &n,
	                                  &entries),
	                 0);
	assert_int_equal(n, 0);
}

static void test_from_json_rejects_non_object(void **state)
{
	static const char *const bad[] = {"[]", "\"role\"", "not json", "{\"role\":", "42"};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		void **entries = &sentinel;
		size_t n = 99;

		print_message("stored labels '%s'\n", bad[i]);
		assert_true(labels_from_json(&scratch, bad[i],
		                             &overseer__v1__node__labels_entry__descriptor, &n,
		                             &entries) < 0);
		assert_int_equal(n, 0);
		assert_null(entries);
	}
}

static void check_selector(const char *selector, size_t n, const char *const *kv)
{
	char *json = NULL;

	print_message("selector '%s'\n", selector);
	assert_int_equal(labels_selector_to_json(&scratch, selector, &json), 0);
	assert_non_null(json);
	if (!json_has_exactly(json, n, kv))
		print_message("  -> %s\n", json);
	assert_true(json_has_exactly(json, n, kv));
}

static void check_bad_selector(const char *selector, const char *named, const char *not_named)
{
	char *json = (char *)"untouched";
	const char *msg;

	print_message("bad selector '%s'\n", selector);
	ovr_err_clear();
	assert_int_equal(labels_selector_to_json(&scratch, selector, &json), OVR_ERR_INVALID);
	assert_null(json);
	msg = ovr_err_msg(OVR_ERR_INVALID);
	if (!strstr(msg, named) || (not_named && strstr(msg, not_named)))
		print_message("  -> %s\n", msg);
	assert_non_null(strstr(msg, named));
	if (not_named)
		assert_null(strstr(msg, not_named));
}

static void test_selector(void **state)
{
	static const char *const two[] = {"role", "web", "zone", "a"};
	static const char *const one[] = {"role", "web"};
	static const char *const dotted[] = {"topology.zone", "eu-1", "tier", "a=b"};

	(void)state;
	check_selector("role=web,zone=a", 2, two);
	check_selector("zone=a,role=web", 2, two);
	check_selector("role=web", 1, one);
	check_selector("topology.zone=eu-1,tier=a=b", 2, dotted);
}

static void test_selector_errors_name_the_part(void **state)
{
	(void)state;
	check_bad_selector("role", "'role'", NULL);
	/* Only the bad part: the valid ones before it are not blamed. */
	check_bad_selector("tier=db,zone", "'zone'", "tier=db");
	check_bad_selector("tier=db,Zone=a", "Zone=a", "tier=db");
	check_bad_selector("role=web server", "role=web server", NULL);
	check_bad_selector("=web", "=web", NULL);
	check_bad_selector("tier=db,app=x,-x=1", "-x=1", "app=x");
}

/*
 * "k=v[,k2=v2]" has no empty terms: "role=web," or "," is a typo, and a selector that quietly
 * loses its terms matches more nodes than asked for ("," would match every node).
 */
static void test_selector_rejects_empty_terms(void **state)
{
	(void)state;
	check_bad_selector(",", "selector", NULL);
	check_bad_selector("role=web,", "selector", NULL);
	check_bad_selector("role=web,,zone=a", "selector", NULL);
}

/*
 * A key given twice ("role=web,role=db") cannot be met by any node; keeping only the last term
 * would widen the selector to every db node. labels_validate refuses duplicate keys too.
 */
static void test_selector_rejects_duplicate_key(void **state)
{
	(void)state;
	check_bad_selector("role=web,role=db", "role", NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_teardown(test_validate_ok, free_scratch),
	        cmocka_unit_test_teardown(test_validate_bad_key, free_scratch),
	        cmocka_unit_test_teardown(test_validate_bad_value, free_scratch),
	        cmocka_unit_test_teardown(test_validate_duplicate, free_scratch),
	        cmocka_unit_test_teardown(test_validate_count, free_scratch),
	        cmocka_unit_test_teardown(test_json_round_trip, free_scratch),
	        cmocka_unit_test_teardown(test_from_json_packs_in_node, free_scratch),
	        cmocka_unit_test_teardown(test_json_empty, free_scratch),
	        cmocka_unit_test_teardown(test_from_json_rejects_non_object, free_scratch),
	        cmocka_unit_test_teardown(test_selector, free_scratch),
	        cmocka_unit_test_teardown(test_selector_errors_name_the_part, free_scratch),
	        cmocka_unit_test_teardown(test_selector_rejects_empty_terms, free_scratch),
	        cmocka_unit_test_teardown(test_selector_rejects_duplicate_key, free_scratch),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
