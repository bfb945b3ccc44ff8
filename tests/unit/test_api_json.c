/*
 * Every message of the public API survives the proto3 JSON mapping: pbjson_dumps -> pbjson_loads
 * gives back the same message, for instances built generically from the descriptors with every
 * field set (edge values, repeated fields, maps, each oneof member) and for the empty message.
 * The message list is walked from the server's method table, so new RPCs are covered as they land.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <float.h>
#include <math.h>

#include <cmocka.h>

#include "err.h"
#include "methods.h"
#include "overseer/v1/agent.pb-c.h"
#include "pbjson.h"

/* Fewer than this many message types means the walk went wrong, not that the API shrank. */
#define MIN_MESSAGES 40
#define MAX_MESSAGES 512
/*
 * Levels of messages filled in, the top-level one being level 1; deeper sub-messages are empty, so
 * recursive types terminate. Above the API's deepest nesting (printed by test_collect), so whole
 * trees are built: it costs little, as every type is also tested at the top.
 */
#define MAX_BUILD_DEPTH 6

/* Value sets: each gives two values per type (slot 0 and 1: repeated elements, map entries). */
enum variant {
	V_EDGE,  /* extremes: INT64_MIN/MAX, UINT64_MAX, escapes and non-ASCII, 0x00/0xff bytes */
	V_ALT,   /* beyond 2^53, NaN/Infinity, unknown enum numbers, other Unicode */
	V_ZEROS, /* slot 1 is the type's default: zeros inside lists and maps, oneof at default */
	N_VARIANTS
};

static const char *const variant_names[N_VARIANTS] = {"edge", "alt", "zeros"};

static const unsigned flag_sets[] = {0, PBJSON_EMIT_DEFAULTS, PBJSON_PRETTY,
                                     PBJSON_EMIT_DEFAULTS | PBJSON_PRETTY};

/*
 * Cases that hit a pbjson bug, skipped so the rest of the test runs. Each entry names the message,
 * the variant and the oneof choice (-2: any) and the flags (~0u: any); see the comment on each.
 */
struct known_bug {
	const char *message;
	int variant; /* -1: any */
	int choice;  /* -2: any */
	unsigned flags;
};

static const struct known_bug known_bugs[] = {
        /* None known. A sentinel, as ISO C has no empty initialisers. */
        {NULL, -1, -2, ~0u},
};

/* The message types under test, deduplicated. */
static const ProtobufCMessageDescriptor *descs[MAX_MESSAGES];
static size_t n_descs;

/* ---- a tracked allocator: everything built for one instance is freed at once ---- */

struct pool {
	void **ptrs;
	size_t n, cap;
};

static void *pool_alloc(struct pool *pl, size_t size)
{
	void *p;

	if (pl->n == pl->cap) {
		size_t cap = pl->cap ? pl->cap * 2 : 64;
		void **ptrs = realloc(pl->ptrs, cap * sizeof(*ptrs));

		assert_non_null(ptrs);
		pl->ptrs = ptrs;
		pl->cap = cap;
	}
	p = calloc(1, size ? size : 1);
	assert_non_null(p);
	pl->ptrs[pl->n++] = p;
	return p;
}

static void *pool_copy(struct pool *pl, const void *data, size_t len)
{
	void *p = pool_alloc(pl, len + 1);

	memcpy(p, data, len);
	return p;
}

static void pool_free(struct pool *pl)
{
	size_t i;

	for (i = 0; i < pl->n; i++)
		free(pl->ptrs[i]);
	free(pl->ptrs);
	pl->ptrs = NULL;
	pl->n = pl->cap = 0;
}

/* ---- collecting the message types ---- */

static void collect(const ProtobufCMessageDescriptor *d)
{
	size_t i;

	if (!d)
		return;
	assert_int_equal(d->magic, PROTOBUF_C__MESSAGE_DESCRIPTOR_MAGIC);
	for (i = 0; i < n_descs; i++) {
		if (descs[i] == d)
			return;
		/* Two descriptors for one type would mean two copies of the generated code. */
		if (strcmp(descs[i]->name, d->name) == 0)
			fail_msg("two descriptors named %s", d->name);
	}
	assert_true(n_descs < MAX_MESSAGES);
	descs[n_descs++] = d;
	for (i = 0; i < d->n_fields; i++)
		if (d->fields[i].type == PROTOBUF_C_TYPE_MESSAGE)
			collect(d->fields[i].descriptor);
}

static int setup(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < server_methods_count; i++) {
		collect(server_methods[i].request);
		collect(server_methods[i].response);
	}
	/* The agent stream's envelopes, in case the table names other types for the stream. */
	collect(&overseer__v1__agent_message__descriptor);
	collect(&overseer__v1__server_message__descriptor);
	return 0;
}

/* ---- descriptor helpers ---- */

/* Levels in the deepest chain of sub-messages below d, not following a type into itself. */
static int nesting(const ProtobufCMessageDescriptor *d, const ProtobufCMessageDescriptor **stack,
                   int n)
{
	int best = 1, i;
	unsigned j;

	for (i = 0; i < n; i++)
		if (stack[i] == d)
			return 0;
	assert_true(n < 64);
	stack[n] = d;
	for (j = 0; j < d->n_fields; j++) {
		if (d->fields[j].type == PROTOBUF_C_TYPE_MESSAGE) {
			int sub = nesting(d->fields[j].descriptor, stack, n + 1);

			if (sub + 1 > best)
				best = sub + 1;
		}
	}
	return best;
}

static void *member(ProtobufCMessage *m, unsigned offset)
{
	return (char *)m + offset;
}

/* protoc's map entry: a nested "<Field>Entry" with key = 1 and value = 2. */
static int is_map_entry(const ProtobufCMessageDescriptor *d)
{
	size_t len = strlen(d->short_name);

	return d->n_fields == 2 && len > 5 && strcmp(d->short_name + len - 5, "Entry") == 0 &&
	       d->fields[0].id == 1 && strcmp(d->fields[0].name, "key") == 0 &&
	       d->fields[1].id == 2 && strcmp(d->fields[1].name, "value") == 0;
}

/* Position of oneof member f within its oneof (members share the case member) and its size. */
static void oneof_position(const ProtobufCMessageDescriptor *d, const ProtobufCFieldDescriptor *f,
                           size_t *idx, size_t *size)
{
	unsigned i;

	*idx = 0;
	*size = 0;
	for (i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *g = &d->fields[i];

		if (!(g->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) ||
		    g->quantifier_offset != f->quantifier_offset)
			continue;
		if (g == f)
			*idx = *size;
		(*size)++;
	}
}

/* The largest oneof of d (0 without oneofs). */
static size_t max_oneof(const ProtobufCMessageDescriptor *d)
{
	size_t best = 0;
	unsigned i;

	for (i = 0; i < d->n_fields; i++) {
		size_t idx, size;

		if (!(d->fields[i].flags & PROTOBUF_C_FIELD_FLAG_ONEOF))
			continue;
		oneof_position(d, &d->fields[i], &idx, &size);
		if (size > best)
			best = size;
	}
	return best;
}

static size_t element_size(ProtobufCType type)
{
	switch (type) {
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32:
		return sizeof(int32_t);
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32:
		return sizeof(uint32_t);
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
		return sizeof(int64_t);
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
		return sizeof(uint64_t);
	case PROTOBUF_C_TYPE_FLOAT:
		return sizeof(float);
	case PROTOBUF_C_TYPE_DOUBLE:
		return sizeof(double);
	case PROTOBUF_C_TYPE_BOOL:
		return sizeof(protobuf_c_boolean);
	case PROTOBUF_C_TYPE_ENUM:
		return sizeof(int);
	case PROTOBUF_C_TYPE_STRING:
		return sizeof(char *);
	case PROTOBUF_C_TYPE_BYTES:
		return sizeof(ProtobufCBinaryData);
	case PROTOBUF_C_TYPE_MESSAGE:
		return sizeof(ProtobufCMessage *);
	}
	fail_msg("unknown field type %d", (int)type);
	return 0;
}

/* ---- building instances ---- */

struct build {
	struct pool *pool;
	enum variant variant;
	int choice; /* oneof member to set, modulo each oneof's size; -1: none */
};

/*
 * An enum value: the last and the first non-zero value of the descriptor, a number the enum does
 * not know (proto3 enums are open), or 0.
 */
static int enum_value(const ProtobufCEnumDescriptor *ed, enum variant v, int slot)
{
	int first = 0, last = 0, max = 0, found = 0;
	unsigned i;

	for (i = 0; i < ed->n_values; i++) {
		int n = ed->values[i].value;

		if (n > max)
			max = n;
		if (n == 0)
			continue;
		if (!found)
			first = n;
		last = n;
		found = 1;
	}
	if (!found) /* only a zero value: an unknown number is the only non-default one */
		first = last = max + 1;
	switch (v) {
	case V_EDGE:
		return slot == 0 ? last : first;
	case V_ALT:
		return slot == 0 ? first : max + 1000;
	default:
		return slot == 0 ? first : 0;
	}
}

static ProtobufCMessage *build_message(struct build *b, const ProtobufCMessageDescriptor *d,
                                       int slot, int depth);

static ProtobufCMessage *empty_message(struct build *b, const ProtobufCMessageDescriptor *d)
{
	ProtobufCMessage *m = pool_alloc(b->pool, d->sizeof_message);

	protobuf_c_message_init(d, m);
	return m;
}

/* A sub-message at depth: filled in, or empty past the depth bound and as V_ZEROS's slot 1. */
static ProtobufCMessage *sub_message(struct build *b, const ProtobufCMessageDescriptor *d, int slot,
                                     int depth)
{
	if (depth > MAX_BUILD_DEPTH || (b->variant == V_ZEROS && slot == 1))
		return empty_message(b, d);
	return build_message(b, d, slot, depth);
}

/* Stores value number slot (0 or 1) of field f's type at p; depth is the message's own. */
static void set_value(struct build *b, const ProtobufCFieldDescriptor *f, void *p, int slot,
                      int depth)
{
	static const int32_t i32[N_VARIANTS][2] = {{INT32_MIN, INT32_MAX}, {-1, 1}, {42, 0}};
	static const uint32_t u32[N_VARIANTS][2] = {
	        {UINT32_MAX, 1}, {UINT32_C(0x80000000), 2}, {42, 0}};
	static const int64_t i64[N_VARIANTS][2] = {
	        {INT64_MIN, INT64_MAX},
	        {INT64_C(9007199254740993), -INT64_C(9007199254740993)},
	        {42, 0}};
	static const uint64_t u64[N_VARIANTS][2] = {
	        {UINT64_MAX, 1}, {UINT64_C(9007199254740993), UINT64_C(1) << 63}, {42, 0}};
	static const protobuf_c_boolean bools[N_VARIANTS][2] = {{1, 0}, {1, 0}, {1, 0}};
	static const char *const strings[N_VARIANTS][2] = {
	        /* é, €, U+1F680; quote, backslash, newline, tab and U+0001 need escaping */
	        {"h\xc3\xa9llo \"q\" \\b\\ \n\ttab \x01 ctl \xe2\x82\xac \xf0\x9f\x9a\x80",
	         "second"},
	        /* U+2028, DEL, U+001F, a BOM and what HTML-minded encoders escape */
	        {"\xe2\x80\xa8 </script> \x7f \x1f & ' \xef\xbb\xbf\xe4\xb8\xad", "/slash/"},
	        {"x", ""},
	};
	static const struct {
		size_t len;
		const char *data;
	} blobs[N_VARIANTS][2] = {
	        {{4, "\x00\xff\x10\x80"}, {3, "\xfb\xff\xbf"}},
	        {{1, "\x00"}, {2, "\xff\xfe"}},
	        {{1, "\x01"}, {0, ""}},
	};
	enum variant v = b->variant;

	switch (f->type) {
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32:
		memcpy(p, &i32[v][slot], sizeof(int32_t));
		return;
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32:
		memcpy(p, &u32[v][slot], sizeof(uint32_t));
		return;
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
		memcpy(p, &i64[v][slot], sizeof(int64_t));
		return;
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
		memcpy(p, &u64[v][slot], sizeof(uint64_t));
		return;
	case PROTOBUF_C_TYPE_FLOAT: {
		const float vals[N_VARIANTS][2] = {
		        {0.1f, -FLT_MAX}, {NAN, INFINITY}, {-INFINITY, 0.0f}};

		memcpy(p, &vals[v][slot], sizeof(float));
		return;
	}
	case PROTOBUF_C_TYPE_DOUBLE: {
		const double vals[N_VARIANTS][2] = {
		        {0.1, -DBL_MAX}, {(double)NAN, (double)INFINITY}, {-(double)INFINITY, 0.0}};

		memcpy(p, &vals[v][slot], sizeof(double));
		return;
	}
	case PROTOBUF_C_TYPE_BOOL:
		memcpy(p, &bools[v][slot], sizeof(protobuf_c_boolean));
		return;
	case PROTOBUF_C_TYPE_ENUM: {
		int e = enum_value(f->descriptor, v, slot);

		memcpy(p, &e, sizeof(e));
		return;
	}
	case PROTOBUF_C_TYPE_STRING: {
		const char *s = strings[v][slot];
		char *copy = pool_copy(b->pool, s, strlen(s));

		memcpy(p, &copy, sizeof(copy));
		return;
	}
	case PROTOBUF_C_TYPE_BYTES: {
		ProtobufCBinaryData bd;

		bd.len = blobs[v][slot].len;
		bd.data = bd.len ? pool_copy(b->pool, blobs[v][slot].data, bd.len) : NULL;
		memcpy(p, &bd, sizeof(bd));
		return;
	}
	case PROTOBUF_C_TYPE_MESSAGE: {
		ProtobufCMessage *sub = sub_message(b, f->descriptor, slot, depth + 1);

		memcpy(p, &sub, sizeof(sub));
		return;
	}
	}
	fail_msg("field %s: unknown type %d", f->name, (int)f->type);
}

/* Two elements; map entries get distinct keys (slot 0 and 1 always differ). */
static void set_repeated(struct build *b, ProtobufCMessage *m, const ProtobufCFieldDescriptor *f,
                         int depth)
{
	size_t n = 2, sz = element_size(f->type), i;
	char *arr = pool_alloc(b->pool, n * sz);

	for (i = 0; i < n; i++) {
		void *p = arr + i * sz;

		if (f->type == PROTOBUF_C_TYPE_MESSAGE && is_map_entry(f->descriptor)) {
			/* The entry itself is never empty: it always carries its key and value. */
			ProtobufCMessage *entry =
			        build_message(b, f->descriptor, (int)i, depth + 1);

			memcpy(p, &entry, sizeof(entry));
		} else {
			set_value(b, f, p, (int)i, depth);
		}
	}
	memcpy(member(m, f->quantifier_offset), &n, sizeof(n));
	memcpy(member(m, f->offset), &arr, sizeof(arr));
}

static ProtobufCMessage *build_message(struct build *b, const ProtobufCMessageDescriptor *d,
                                       int slot, int depth)
{
	ProtobufCMessage *m = empty_message(b, d);
	unsigned i;

	for (i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];
		void *p = member(m, f->offset);

		if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
			size_t idx, size;

			oneof_position(d, f, &idx, &size);
			if (b->choice < 0 || (size_t)b->choice % size != idx)
				continue;
			/* V_ZEROS sets the member to its default: still set, still sent. */
			set_value(b, f, p, b->variant == V_ZEROS ? 1 : slot, depth);
			memcpy(member(m, f->quantifier_offset), &f->id, sizeof(f->id));
		} else if (f->label == PROTOBUF_C_LABEL_REPEATED) {
			set_repeated(b, m, f, depth);
		} else {
			set_value(b, f, p, slot, depth);
			/* proto2 and proto3 `optional` scalars have a has_ flag. */
			if (f->label == PROTOBUF_C_LABEL_OPTIONAL &&
			    f->type != PROTOBUF_C_TYPE_STRING &&
			    f->type != PROTOBUF_C_TYPE_MESSAGE) {
				protobuf_c_boolean has = 1;

				memcpy(member(m, f->quantifier_offset), &has, sizeof(has));
			}
		}
	}
	return m;
}

/* ---- checking ---- */

static int is_known_bug(const char *name, int variant, int choice, unsigned flags)
{
	size_t i;

	for (i = 0; i < sizeof(known_bugs) / sizeof(known_bugs[0]); i++) {
		const struct known_bug *k = &known_bugs[i];

		if (k->message && strcmp(k->message, name) == 0 &&
		    (k->variant < 0 || k->variant == variant) &&
		    (k->choice == -2 || k->choice == choice) &&
		    (k->flags == ~0u || k->flags == flags))
			return 1;
	}
	return 0;
}

static uint8_t *pack(const ProtobufCMessage *m, size_t *len)
{
	uint8_t *buf;

	*len = protobuf_c_message_get_packed_size(m);
	buf = malloc(*len + 1);
	assert_non_null(buf);
	assert_int_equal(protobuf_c_message_pack(m, buf), *len);
	return buf;
}

/* Index of the first differing byte, for the failure message. */
static size_t first_diff(const uint8_t *a, size_t la, const uint8_t *b, size_t lb)
{
	size_t i;

	for (i = 0; i < la && i < lb; i++)
		if (a[i] != b[i])
			break;
	return i;
}

/* cmocka cuts its messages at 1 KiB: the JSON texts of a failure go to stderr in full first. */
static void show(const char *label, const char *text)
{
	fprintf(stderr, "%s: %s\n", label, text ? text : "(none)");
	fflush(stderr);
}

/* Every field the builder set appears in the compact JSON, so none is silently skipped. */
static void check_all_present(const ProtobufCMessage *m, const char *text, const char *what)
{
	const ProtobufCMessageDescriptor *d = m->descriptor;
	json_error_t jerr;
	json_t *obj = json_loads(text, 0, &jerr);
	unsigned i;

	if (!obj) {
		show("JSON", text);
		fail_msg("%s: jansson cannot parse pbjson's output (%s)", what, jerr.text);
	}
	for (i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];
		char name[128];

		if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
			uint32_t c;

			memcpy(&c, (const char *)m + f->quantifier_offset, sizeof(c));
			if (c != f->id)
				continue;
		}
		assert_int_equal(pbjson_field_name(name, sizeof(name), f->name), 0);
		if (!json_object_get(obj, name)) {
			show("JSON", text);
			fail_msg("%s: field %s (JSON \"%s\") is set but missing from the JSON",
			         what, f->name, name);
		}
	}
	json_decref(obj);
}

/*
 * dumps -> loads gives a message that packs to the same bytes and dumps to the same text. Returns
 * 0, or 1 if the case is a known bug and was skipped.
 */
static int round_trip(const ProtobufCMessage *orig, const char *what, int variant, int choice,
                      unsigned flags)
{
	const char *name = orig->descriptor->name;
	ProtobufCMessage *back = NULL;
	uint8_t *pa, *pb;
	size_t la, lb;
	char *text, *again;
	int err;

	if (is_known_bug(name, variant, choice, flags))
		return 1;
	text = pbjson_dumps(orig, flags);
	if (!text)
		fail_msg("%s (flags %#x): pbjson_dumps failed: %s", what, flags,
		         ovr_err_msg(ovr_err_last()));
	err = pbjson_loads(&back, orig->descriptor, text, strlen(text));
	if (err < 0) {
		show("JSON", text);
		fail_msg("%s (flags %#x): pbjson_loads of its own output failed: %s", what, flags,
		         ovr_err_msg(err));
	}
	assert_non_null(back);
	if (!protobuf_c_message_check(back)) {
		show("JSON", text);
		fail_msg("%s (flags %#x): decoded message fails protobuf_c_message_check", what,
		         flags);
	}

	pa = pack(orig, &la);
	pb = pack(back, &lb);
	if (la != lb || memcmp(pa, pb, la) != 0) {
		char *got = pbjson_dumps(back, flags);

		show("JSON", text);
		show("decoded and re-encoded", got);
		free(got);
		fail_msg("%s (flags %#x): decoded message packs differently (%zu vs %zu bytes, "
		         "first difference at byte %zu)",
		         what, flags, la, lb, first_diff(pa, la, pb, lb));
	}
	again = pbjson_dumps(back, flags);
	assert_non_null(again);
	if (strcmp(again, text) != 0) {
		show("JSON", text);
		show("decoded and re-encoded", again);
		fail_msg("%s (flags %#x): re-encoding the decoded message differs", what, flags);
	}

	if (flags == 0) {
		/* The same message as protobuf-c itself unpacks it encodes to the same text. */
		ProtobufCMessage *u = protobuf_c_message_unpack(orig->descriptor, NULL, la, pa);
		char *utext;

		assert_non_null(u);
		utext = pbjson_dumps(u, 0);
		assert_non_null(utext);
		if (strcmp(utext, text) != 0) {
			show("JSON", text);
			show("packed, unpacked by protobuf-c and encoded", utext);
			fail_msg("%s: the protobuf-c unpacked copy encodes differently", what);
		}
		free(utext);
		protobuf_c_message_free_unpacked(u, NULL);
	}

	free(again);
	free(pa);
	free(pb);
	protobuf_c_message_free_unpacked(back, NULL);
	free(text);
	return 0;
}

/* ---- tests ---- */

static void test_collect(void **state)
{
	const ProtobufCMessageDescriptor *stack[64];
	size_t i, maps = 0, oneof_members = 0, fields = 0;
	unsigned types = 0;
	int depth = 0;

	(void)state;
	if (n_descs <= MIN_MESSAGES)
		fail_msg("only %zu message types reachable from the method table", n_descs);
	assert_true(server_methods_count > 0);
	for (i = 0; i < n_descs; i++) {
		const ProtobufCMessageDescriptor *d = descs[i];
		unsigned j;

		fields += d->n_fields;
		if (nesting(d, stack, 0) > depth)
			depth = nesting(d, stack, 0);
		for (j = 0; j < d->n_fields; j++) {
			const ProtobufCFieldDescriptor *f = &d->fields[j];

			types |= 1u << f->type;
			if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)
				oneof_members++;
			if (f->type == PROTOBUF_C_TYPE_MESSAGE && is_map_entry(f->descriptor))
				maps++;
		}
	}
	print_message("api json: %zu message types (%zu fields, %zu map fields, %zu oneof "
	              "members, field type mask %#x, nesting %d levels) from %zu methods\n",
	              n_descs, fields, maps, oneof_members, types, depth, server_methods_count);
}

static void test_default_instances(void **state)
{
	size_t i, k;

	(void)state;
	for (i = 0; i < n_descs; i++) {
		struct pool pl = {NULL, 0, 0};
		struct build b = {&pl, V_EDGE, -1};
		ProtobufCMessage *m = empty_message(&b, descs[i]);
		char what[256];
		char *text;

		snprintf(what, sizeof(what), "%s [default instance]", descs[i]->name);
		/* proto3: nothing is set, so nothing is printed. */
		if (!is_known_bug(descs[i]->name, -1, -1, 0)) {
			text = pbjson_dumps(m, 0);
			assert_non_null(text);
			if (strcmp(text, "{}") != 0) {
				show("JSON", text);
				fail_msg("%s: does not encode as {}", what);
			}
			free(text);
		}
		for (k = 0; k < sizeof(flag_sets) / sizeof(flag_sets[0]); k++)
			round_trip(m, what, -1, -1, flag_sets[k]);
		pool_free(&pl);
	}
}

static void test_full_instances(void **state)
{
	size_t i, instances = 0, checks = 0, skipped = 0;

	(void)state;
	for (i = 0; i < n_descs; i++) {
		const ProtobufCMessageDescriptor *d = descs[i];
		/* One instance per member of the largest oneof (others wrap), and one with none. */
		int choices = (int)(max_oneof(d) ? max_oneof(d) : 1);
		int v, c;

		for (v = 0; v < N_VARIANTS; v++) {
			for (c = -1; c < choices; c++) {
				struct pool pl = {NULL, 0, 0};
				struct build b = {&pl, (enum variant)v, c};
				ProtobufCMessage *m = build_message(&b, d, 0, 1);
				char what[256];
				size_t k;

				snprintf(what, sizeof(what), "%s [%s values, oneof choice %d]",
				         d->name, variant_names[v], c);
				if (!protobuf_c_message_check(m))
					fail_msg("%s: the built instance fails "
					         "protobuf_c_message_check",
					         what);
				if (!is_known_bug(d->name, v, c, 0)) {
					char *text = pbjson_dumps(m, 0);

					if (!text)
						fail_msg("%s: pbjson_dumps failed: %s", what,
						         ovr_err_msg(ovr_err_last()));
					check_all_present(m, text, what);
					free(text);
				}
				for (k = 0; k < sizeof(flag_sets) / sizeof(flag_sets[0]); k++) {
					skipped += (size_t)round_trip(m, what, v, c, flag_sets[k]);
					checks++;
				}
				instances++;
				pool_free(&pl);
			}
		}
	}
	print_message("api json: %zu instances of %zu message types, %zu round trips, %zu skipped "
	              "as known bugs\n",
	              instances, n_descs, checks, skipped);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_collect),
	        cmocka_unit_test(test_default_instances),
	        cmocka_unit_test(test_full_instances),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
