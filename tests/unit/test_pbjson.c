/* proto3 JSON mapping: every type both ways, defaults, maps, oneofs, round trips, each error. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>

#include <cmocka.h>

#include "err.h"
#include "pbjson.h"
#include "pbjson_test.pb-c.h"

typedef Overseer__Test__Everything Everything;
typedef Overseer__Test__Scalars Scalars;
typedef Overseer__Test__Target Target;

#define EVERYTHING (&overseer__test__everything__descriptor)
#define SCALARS    (&overseer__test__scalars__descriptor)

/* Encodes and compares the text exactly. */
static void assert_dumps(const void *msg, unsigned flags, const char *want)
{
	char *got = pbjson_dumps(msg, flags);

	assert_non_null(got);
	assert_string_equal(got, want);
	free(got);
}

static ProtobufCMessage *loads_ok(const ProtobufCMessageDescriptor *desc, const char *text)
{
	ProtobufCMessage *msg = NULL;
	int err = pbjson_loads(&msg, desc, text, strlen(text));

	if (err < 0)
		fail_msg("pbjson_loads(%s): %s", text, ovr_err_msg(err));
	assert_non_null(msg);
	assert_true(protobuf_c_message_check(msg));
	return msg;
}

static void assert_loads_error(const ProtobufCMessageDescriptor *desc, const char *text,
                               const char *want)
{
	ProtobufCMessage *msg = (ProtobufCMessage *)1;

	ovr_err_clear();
	assert_int_equal(pbjson_loads(&msg, desc, text, strlen(text)), OVR_ERR_INVALID);
	assert_null(msg);
	assert_string_equal(ovr_err_msg(OVR_ERR_INVALID), want);
}

static void assert_loads_error_prefix(const ProtobufCMessageDescriptor *desc, const char *text,
                                      const char *prefix)
{
	ProtobufCMessage *msg = NULL;

	ovr_err_clear();
	assert_int_equal(pbjson_loads(&msg, desc, text, strlen(text)), OVR_ERR_INVALID);
	assert_null(msg);
	if (strncmp(ovr_err_msg(OVR_ERR_INVALID), prefix, strlen(prefix)) != 0)
		fail_msg("message \"%s\" does not start with \"%s\"", ovr_err_msg(OVR_ERR_INVALID),
		         prefix);
}

static void assert_packs_equal(const ProtobufCMessage *a, const ProtobufCMessage *b)
{
	size_t la = protobuf_c_message_get_packed_size(a);
	size_t lb = protobuf_c_message_get_packed_size(b);
	uint8_t *ba = malloc(la + 1);
	uint8_t *bb = malloc(lb + 1);

	assert_non_null(ba);
	assert_non_null(bb);
	assert_int_equal(protobuf_c_message_pack(a, ba), la);
	assert_int_equal(protobuf_c_message_pack(b, bb), lb);
	assert_int_equal(la, lb);
	assert_memory_equal(ba, bb, la);
	free(ba);
	free(bb);
}

static void test_scalars_encode(void **state)
{
	Scalars s = OVERSEER__TEST__SCALARS__INIT;
	static uint8_t bytes[] = {0xfb, 0xff, 0x00};
	static char text[] = "h\xc3\xa9llo \"q\"\n";
	static char bad[] = "bad \xff";

	(void)state;
	s.f_int32 = INT32_MIN;
	s.f_int64 = INT64_MIN;
	s.f_uint32 = UINT32_MAX;
	s.f_uint64 = UINT64_MAX;
	s.f_sint32 = -5;
	s.f_sint64 = -6;
	s.f_fixed32 = 7;
	s.f_fixed64 = 8;
	s.f_sfixed32 = -9;
	s.f_sfixed64 = INT64_MAX;
	s.f_float = 1.5f;
	s.f_double = -0.25;
	s.f_bool = 1;
	s.f_string = text;
	s.f_bytes.data = bytes;
	s.f_bytes.len = sizeof(bytes);
	s.f_enum = OVERSEER__TEST__COLOR__COLOR_BLUE;
	assert_dumps(&s, 0,
	             "{\"fInt32\":-2147483648,\"fInt64\":\"-9223372036854775808\","
	             "\"fUint32\":4294967295,\"fUint64\":\"18446744073709551615\",\"fSint32\":-5,"
	             "\"fSint64\":\"-6\",\"fFixed32\":7,\"fFixed64\":\"8\",\"fSfixed32\":-9,"
	             "\"fSfixed64\":\"9223372036854775807\",\"fFloat\":1.5,\"fDouble\":-0.25,"
	             "\"fBool\":true,\"fString\":\"h\xc3\xa9llo \\\"q\\\"\\n\",\"fBytes\":\"+/8A\","
	             "\"fEnum\":\"COLOR_BLUE\"}");

	/* A string that is not UTF-8 cannot become JSON. */
	s.f_string = bad;
	assert_null(pbjson_dumps(&s.base, 0));
	assert_string_equal(ovr_err_msg(OVR_ERR_INVALID), "string is not valid UTF-8");
}

static void test_scalars_decode(void **state)
{
	Scalars *s;

	(void)state;
	/* Numbers where strings are canonical and the other way round; original names. */
	s = (Scalars *)loads_ok(SCALARS,
	                        "{\"f_int32\":\"-2147483648\",\"fInt64\":-5,"
	                        "\"fUint32\":\"4294967295\",\"f_uint64\":\"18446744073709551615\","
	                        "\"fSint32\":-5,\"fSint64\":\"-9223372036854775808\","
	                        "\"fFixed32\":7.0,\"fFixed64\":1e3,\"fSfixed32\":-9,"
	                        "\"fSfixed64\":\"9223372036854775807\",\"fFloat\":\"1.5\","
	                        "\"fDouble\":-0.25,\"fBool\":true,\"fString\":\"h\\u00e9\","
	                        "\"fBytes\":\"-_8A\",\"fEnum\":\"COLOR_RED\"}");
	assert_int_equal(s->f_int32, INT32_MIN);
	assert_true(s->f_int64 == -5);
	assert_int_equal(s->f_uint32, UINT32_MAX);
	assert_true(s->f_uint64 == UINT64_MAX);
	assert_int_equal(s->f_sint32, -5);
	assert_true(s->f_sint64 == INT64_MIN);
	assert_int_equal(s->f_fixed32, 7);
	assert_true(s->f_fixed64 == 1000);
	assert_int_equal(s->f_sfixed32, -9);
	assert_true(s->f_sfixed64 == INT64_MAX);
	assert_true(s->f_float > 1.49f && s->f_float < 1.51f);
	assert_true(s->f_double < -0.24 && s->f_double > -0.26);
	assert_int_equal(s->f_bool, 1);
	assert_string_equal(s->f_string, "h\xc3\xa9");
	assert_int_equal(s->f_bytes.len, 3);
	assert_memory_equal(s->f_bytes.data, "\xfb\xff\x00", 3);
	assert_int_equal(s->f_enum, OVERSEER__TEST__COLOR__COLOR_RED);
	protobuf_c_message_free_unpacked(&s->base, NULL);

	/* Enums by number, an unknown number is kept; null means the default. */
	s = (Scalars *)loads_ok(SCALARS, "{\"fEnum\":2,\"fString\":null,\"fInt32\":null}");
	assert_int_equal(s->f_enum, OVERSEER__TEST__COLOR__COLOR_BLUE);
	assert_string_equal(s->f_string, "");
	protobuf_c_message_free_unpacked(&s->base, NULL);
	s = (Scalars *)loads_ok(SCALARS, "{\"fEnum\":7}");
	assert_int_equal(s->f_enum, 7);
	assert_dumps(s, 0, "{\"fEnum\":7}");
	protobuf_c_message_free_unpacked(&s->base, NULL);
}

static void test_float_special(void **state)
{
	Everything e = OVERSEER__TEST__EVERYTHING__INIT;
	double samples[] = {(double)NAN, (double)INFINITY, -(double)INFINITY, 0.5};
	float ratios[] = {INFINITY, 2.0f};
	Everything *d;

	(void)state;
	e.n_samples = 4;
	e.samples = samples;
	e.n_ratios = 2;
	e.ratios = ratios;
	assert_dumps(&e, 0,
	             "{\"samples\":[\"NaN\",\"Infinity\",\"-Infinity\",0.5],"
	             "\"ratios\":[\"Infinity\",2.0]}");
	d = (Everything *)loads_ok(EVERYTHING, "{\"samples\":[\"NaN\",\"Infinity\",\"-Infinity\","
	                                       "\"0.5\",1],\"ratios\":[\"-Infinity\",3]}");
	assert_int_equal(d->n_samples, 5);
	assert_true(isnan(d->samples[0]));
	assert_true(isinf(d->samples[1]) && d->samples[1] > 0);
	assert_true(isinf(d->samples[2]) && d->samples[2] < 0);
	assert_true(d->samples[3] > 0.49 && d->samples[3] < 0.51);
	assert_true(d->samples[4] > 0.99 && d->samples[4] < 1.01);
	assert_true(isinf(d->ratios[0]) && d->ratios[0] < 0);
	protobuf_c_message_free_unpacked(&d->base, NULL);

	assert_loads_error(EVERYTHING, "{\"ratios\":[1, 1e39]}",
	                   "field \"ratios[1]\": value out of range for float");
	assert_loads_error(EVERYTHING, "{\"samples\":[\"1.5x\"]}",
	                   "field \"samples[0]\": expected double as a number or numeric string");
	assert_loads_error(EVERYTHING, "{\"samples\":[true]}",
	                   "field \"samples[0]\": expected double (number or string), got boolean");
}

static void test_bytes(void **state)
{
	static const struct {
		const char *b64;
		const char *raw;
		size_t len;
	} ok[] = {
	        {"", "", 0},
	        {"YQ==", "a", 1},
	        {"YQ", "a", 1},
	        {"YWI=", "ab", 2},
	        {"YWI", "ab", 2},
	        {"YWJj", "abc", 3},
	        {"+/8A", "\xfb\xff\x00", 3},
	        {"-_8A", "\xfb\xff\x00", 3},
	        {"-_8", "\xfb\xff", 2},
	};
	static const char *const bad[] = {"Y", "YQ=", "a b=", "YQ===", "Y*==", "YQ==YQ=="};
	char text[128];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		Scalars *s;

		snprintf(text, sizeof(text), "{\"fBytes\":\"%s\"}", ok[i].b64);
		s = (Scalars *)loads_ok(SCALARS, text);
		assert_int_equal(s->f_bytes.len, ok[i].len);
		if (ok[i].len)
			assert_memory_equal(s->f_bytes.data, ok[i].raw, ok[i].len);
		protobuf_c_message_free_unpacked(&s->base, NULL);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(text, sizeof(text), "{\"fBytes\":\"%s\"}", bad[i]);
		assert_loads_error(SCALARS, text, "field \"fBytes\": expected bytes as base64");
	}
	/* Encoding pads with the standard alphabet. */
	{
		Everything e = OVERSEER__TEST__EVERYTHING__INIT;
		ProtobufCBinaryData blobs[] = {
		        {1, (uint8_t *)"a"}, {2, (uint8_t *)"ab"}, {0, NULL}};

		e.n_blobs = 3;
		e.blobs = blobs;
		assert_dumps(&e, 0, "{\"blobs\":[\"YQ==\",\"YWI=\",\"\"]}");
	}
}

static void test_defaults(void **state)
{
	Everything e = OVERSEER__TEST__EVERYTHING__INIT;
	Scalars s = OVERSEER__TEST__SCALARS__INIT;

	(void)state;
	assert_dumps(&e, 0, "{}");
	assert_dumps(&s, 0, "{}");
	assert_dumps(&s, PBJSON_EMIT_DEFAULTS,
	             "{\"fInt32\":0,\"fInt64\":\"0\",\"fUint32\":0,\"fUint64\":\"0\",\"fSint32\":0,"
	             "\"fSint64\":\"0\",\"fFixed32\":0,\"fFixed64\":\"0\",\"fSfixed32\":0,"
	             "\"fSfixed64\":\"0\",\"fFloat\":0.0,\"fDouble\":0.0,\"fBool\":false,"
	             "\"fString\":\"\",\"fBytes\":\"\",\"fEnum\":\"COLOR_UNSPECIFIED\"}");
	/* Unset sub-messages and oneofs stay out even with defaults; lists and maps appear. */
	assert_dumps(&e, PBJSON_EMIT_DEFAULTS,
	             "{\"targets\":[],\"tags\":[],\"counts\":[],\"blobs\":[],\"colors\":[],"
	             "\"labels\":{},\"byName\":{},\"byId\":{},\"byFlag\":{},\"samples\":[],"
	             "\"ratios\":[],\"switches\":[],\"big\":[]}");
	/* A set but empty sub-message is present. */
	e.scalars = &s;
	assert_dumps(&e, 0, "{\"scalars\":{}}");
	/* -0.0 is a default like 0 (protobuf-c does not pack it either). */
	s.f_double = -0.0;
	assert_dumps(&s, 0, "{}");
}

static void test_pretty(void **state)
{
	Target t = OVERSEER__TEST__TARGET__INIT;
	static char web[] = "web";

	(void)state;
	t.name = web;
	t.port = 8080;
	assert_dumps(&t, PBJSON_PRETTY, "{\n  \"name\": \"web\",\n  \"port\": 8080\n}");
}

/* A message with every kind of field set, built by hand. */
struct sample {
	Everything e;
	Scalars s;
	Target t[3];
	Target *tp[2];
	Overseer__Test__Everything__LabelsEntry le[2];
	Overseer__Test__Everything__LabelsEntry *lep[2];
	Overseer__Test__Everything__ByNameEntry be[1];
	Overseer__Test__Everything__ByNameEntry *bep[1];
	Overseer__Test__Everything__ByIdEntry ie[2];
	Overseer__Test__Everything__ByIdEntry *iep[2];
	Overseer__Test__Everything__ByFlagEntry fe[2];
	Overseer__Test__Everything__ByFlagEntry *fep[2];
	Everything child;
	char *tags[2];
	int64_t counts[3];
	ProtobufCBinaryData blobs[2];
	Overseer__Test__Color colors[3];
	double samples[2];
	float ratios[1];
	protobuf_c_boolean switches[2];
	uint64_t big[2];
};

static void sample_init(struct sample *x)
{
	static const Everything e0 = OVERSEER__TEST__EVERYTHING__INIT;
	static const Scalars s0 = OVERSEER__TEST__SCALARS__INIT;
	static const Target t0 = OVERSEER__TEST__TARGET__INIT;
	static const Overseer__Test__Everything__LabelsEntry le0 =
	        OVERSEER__TEST__EVERYTHING__LABELS_ENTRY__INIT;
	static const Overseer__Test__Everything__ByNameEntry be0 =
	        OVERSEER__TEST__EVERYTHING__BY_NAME_ENTRY__INIT;
	static const Overseer__Test__Everything__ByIdEntry ie0 =
	        OVERSEER__TEST__EVERYTHING__BY_ID_ENTRY__INIT;
	static const Overseer__Test__Everything__ByFlagEntry fe0 =
	        OVERSEER__TEST__EVERYTHING__BY_FLAG_ENTRY__INIT;
	static char s_text[] = "text";
	static char tag0[] = "a";
	static char tag1[] = "b,c";
	static char web[] = "web";
	static char db[] = "db";
	static char env[] = "env";
	static char prod[] = "prod";
	static char tier[] = "tier";
	static char front[] = "front";
	static char main_[] = "main";
	static char one[] = "one";
	static char minus[] = "minus";
	static uint8_t bytes[] = {0, 1, 2, 250};
	int i;

	x->e = e0;
	x->s = s0;
	x->child = e0;
	for (i = 0; i < 3; i++)
		x->t[i] = t0;
	x->s.f_int32 = -1;
	x->s.f_int64 = 1700000000000;
	x->s.f_uint64 = UINT64_MAX - 1;
	x->s.f_sint64 = -3;
	x->s.f_float = 0.1f;
	x->s.f_double = 1e-300;
	x->s.f_bool = 1;
	x->s.f_string = s_text;
	x->s.f_bytes.data = bytes;
	x->s.f_bytes.len = sizeof(bytes);
	x->s.f_enum = 5; /* unknown to the enum */
	x->e.scalars = &x->s;

	x->t[0].name = web;
	x->t[0].port = 80;
	x->t[1].name = db;
	x->tp[0] = &x->t[0];
	x->tp[1] = &x->t[1];
	x->e.n_targets = 2;
	x->e.targets = x->tp;

	x->tags[0] = tag0;
	x->tags[1] = tag1;
	x->e.n_tags = 2;
	x->e.tags = x->tags;
	x->counts[0] = 0;
	x->counts[1] = -1;
	x->counts[2] = INT64_MAX;
	x->e.n_counts = 3;
	x->e.counts = x->counts;
	x->blobs[0].data = bytes;
	x->blobs[0].len = 2;
	x->blobs[1].data = NULL;
	x->blobs[1].len = 0;
	x->e.n_blobs = 2;
	x->e.blobs = x->blobs;
	x->colors[0] = OVERSEER__TEST__COLOR__COLOR_RED;
	x->colors[1] = OVERSEER__TEST__COLOR__COLOR_UNSPECIFIED;
	x->colors[2] = 9;
	x->e.n_colors = 3;
	x->e.colors = x->colors;

	x->le[0] = le0;
	x->le[0].key = env;
	x->le[0].value = prod;
	x->le[1] = le0;
	x->le[1].key = tier;
	x->le[1].value = front;
	x->lep[0] = &x->le[0];
	x->lep[1] = &x->le[1];
	x->e.n_labels = 2;
	x->e.labels = x->lep;

	x->t[2].name = main_;
	x->t[2].port = 443;
	x->be[0] = be0;
	x->be[0].key = main_;
	x->be[0].value = &x->t[2];
	x->bep[0] = &x->be[0];
	x->e.n_by_name = 1;
	x->e.by_name = x->bep;

	x->ie[0] = ie0;
	x->ie[0].key = 1;
	x->ie[0].value = one;
	x->ie[1] = ie0;
	x->ie[1].key = -7;
	x->ie[1].value = minus;
	x->iep[0] = &x->ie[0];
	x->iep[1] = &x->ie[1];
	x->e.n_by_id = 2;
	x->e.by_id = x->iep;

	x->fe[0] = fe0;
	x->fe[0].key = 1;
	x->fe[0].value = INT64_MIN;
	x->fe[1] = fe0;
	x->fe[1].key = 0;
	x->fe[1].value = 2;
	x->fep[0] = &x->fe[0];
	x->fep[1] = &x->fe[1];
	x->e.n_by_flag = 2;
	x->e.by_flag = x->fep;

	x->e.choice_case = OVERSEER__TEST__EVERYTHING__CHOICE_CHOICE_TARGET;
	x->e.choice_target = &x->t[1];

	x->child.choice_case = OVERSEER__TEST__EVERYTHING__CHOICE_CHOICE_TEXT;
	x->child.choice_text = env;
	x->e.child = &x->child;

	x->samples[0] = 2.5;
	x->samples[1] = -1e10;
	x->e.n_samples = 2;
	x->e.samples = x->samples;
	x->ratios[0] = 0.1f;
	x->e.n_ratios = 1;
	x->e.ratios = x->ratios;
	x->switches[0] = 1;
	x->switches[1] = 0;
	x->e.n_switches = 2;
	x->e.switches = x->switches;
	x->big[0] = UINT64_MAX;
	x->big[1] = 0;
	x->e.n_big = 2;
	x->e.big = x->big;
}

static void test_repeated_maps_oneof_encode(void **state)
{
	struct sample x;

	(void)state;
	sample_init(&x);
	assert_dumps(&x.e, 0,
	             "{\"scalars\":{\"fInt32\":-1,\"fInt64\":\"1700000000000\","
	             "\"fUint64\":\"18446744073709551614\",\"fSint64\":\"-3\","
	             "\"fFloat\":0.10000000149011612,\"fDouble\":1e-300,"
	             "\"fBool\":true,\"fString\":\"text\",\"fBytes\":\"AAEC+g==\",\"fEnum\":5},"
	             "\"targets\":[{\"name\":\"web\",\"port\":80},{\"name\":\"db\"}],"
	             "\"tags\":[\"a\",\"b,c\"],\"counts\":[\"0\",\"-1\",\"9223372036854775807\"],"
	             "\"blobs\":[\"AAE=\",\"\"],\"colors\":[\"COLOR_RED\",\"COLOR_UNSPECIFIED\",9],"
	             "\"labels\":{\"env\":\"prod\",\"tier\":\"front\"},"
	             "\"byName\":{\"main\":{\"name\":\"main\",\"port\":443}},"
	             "\"byId\":{\"1\":\"one\",\"-7\":\"minus\"},"
	             "\"byFlag\":{\"true\":\"-9223372036854775808\",\"false\":\"2\"},"
	             "\"choiceTarget\":{\"name\":\"db\"},\"child\":{\"choiceText\":\"env\"},"
	             "\"samples\":[2.5,-10000000000.0],\"ratios\":[0.10000000149011612],"
	             "\"switches\":[true,false],\"big\":[\"18446744073709551615\",\"0\"]}");
}

/* encode -> decode -> pack gives the bytes the original packs to. */
static void round_trip(const ProtobufCMessage *orig, unsigned flags)
{
	char *text = pbjson_dumps(orig, flags);
	ProtobufCMessage *back;

	assert_non_null(text);
	back = loads_ok(orig->descriptor, text);
	assert_packs_equal(orig, back);
	protobuf_c_message_free_unpacked(back, NULL);
	free(text);
}

static void test_round_trip(void **state)
{
	struct sample x;
	Everything empty = OVERSEER__TEST__EVERYTHING__INIT;

	(void)state;
	sample_init(&x);
	round_trip(&x.e.base, 0);
	round_trip(&x.e.base, PBJSON_EMIT_DEFAULTS);
	round_trip(&x.e.base, PBJSON_PRETTY);
	round_trip(&empty.base, 0);
	round_trip(&empty.base, PBJSON_EMIT_DEFAULTS);

	/* A oneof member at its default value is still set, and survives the trip. */
	x.e.choice_case = OVERSEER__TEST__EVERYTHING__CHOICE_CHOICE_NUMBER;
	x.e.choice_number = 0;
	{
		char *text = pbjson_dumps(&x.e.base, 0);

		assert_non_null(strstr(text, "\"choiceNumber\":\"0\""));
		free(text);
	}
	round_trip(&x.e.base, 0);

	/* The same through a message protobuf-c itself unpacked. */
	{
		size_t len = protobuf_c_message_get_packed_size(&x.e.base);
		uint8_t *buf = malloc(len);
		ProtobufCMessage *u;

		assert_non_null(buf);
		protobuf_c_message_pack(&x.e.base, buf);
		u = protobuf_c_message_unpack(EVERYTHING, NULL, len, buf);
		assert_non_null(u);
		round_trip(u, 0);
		protobuf_c_message_free_unpacked(u, NULL);
		free(buf);
	}
}

static void test_decode_structures(void **state)
{
	Everything *e;

	(void)state;
	e = (Everything *)loads_ok(EVERYTHING,
	                           "{\"targets\":[{\"name\":\"a\",\"port\":1},{}],"
	                           "\"tags\":[\"x\"],\"colors\":[\"COLOR_BLUE\",1,42],"
	                           "\"labels\":{\"k\":\"v\",\"k2\":\"\"},"
	                           "\"by_name\":{\"n\":{\"port\":\"9\"}},"
	                           "\"byId\":{\"-3\":\"neg\"},\"byFlag\":{\"false\":7},"
	                           "\"choice_text\":\"hello\",\"child\":{\"child\":{}}}");
	assert_int_equal(e->n_targets, 2);
	assert_string_equal(e->targets[0]->name, "a");
	assert_int_equal(e->targets[0]->port, 1);
	assert_string_equal(e->targets[1]->name, "");
	assert_int_equal(e->n_colors, 3);
	assert_int_equal(e->colors[0], OVERSEER__TEST__COLOR__COLOR_BLUE);
	assert_int_equal(e->colors[1], OVERSEER__TEST__COLOR__COLOR_RED);
	assert_int_equal(e->colors[2], 42);
	assert_int_equal(e->n_labels, 2);
	assert_string_equal(e->labels[0]->key, "k");
	assert_string_equal(e->labels[0]->value, "v");
	assert_string_equal(e->labels[1]->value, "");
	assert_int_equal(e->n_by_name, 1);
	assert_int_equal(e->by_name[0]->value->port, 9);
	assert_int_equal(e->by_id[0]->key, -3);
	assert_int_equal(e->by_flag[0]->key, 0);
	assert_true(e->by_flag[0]->value == 7);
	assert_int_equal(e->choice_case, OVERSEER__TEST__EVERYTHING__CHOICE_CHOICE_TEXT);
	assert_string_equal(e->choice_text, "hello");
	assert_non_null(e->child);
	assert_non_null(e->child->child);
	assert_null(e->child->child->child);
	protobuf_c_message_free_unpacked(&e->base, NULL);

	/* A oneof member that is null leaves the oneof unset. */
	e = (Everything *)loads_ok(EVERYTHING, "{\"choiceTarget\":null,\"tags\":null}");
	assert_int_equal(e->choice_case, OVERSEER__TEST__EVERYTHING__CHOICE__NOT_SET);
	assert_int_equal(e->n_tags, 0);
	protobuf_c_message_free_unpacked(&e->base, NULL);
	e = (Everything *)loads_ok(EVERYTHING, "{\"choiceTarget\":{\"port\":5}}");
	assert_int_equal(e->choice_case, OVERSEER__TEST__EVERYTHING__CHOICE_CHOICE_TARGET);
	assert_int_equal(e->choice_target->port, 5);
	protobuf_c_message_free_unpacked(&e->base, NULL);
}

static void test_names(void **state)
{
	Scalars *s;

	(void)state;
	s = (Scalars *)loads_ok(SCALARS, "{\"f_sfixed64\":\"1\",\"fSfixed32\":2}");
	assert_true(s->f_sfixed64 == 1);
	assert_int_equal(s->f_sfixed32, 2);
	protobuf_c_message_free_unpacked(&s->base, NULL);
	assert_loads_error(SCALARS, "{\"f_int32\":1,\"fInt32\":2}",
	                   "field \"f_int32\": also set as \"fInt32\"");
	assert_loads_error(SCALARS, "{\"fint32\":1}",
	                   "field \"fint32\": unknown field of overseer.test.Scalars");
	assert_loads_error(SCALARS, "{\"FInt32\":1}",
	                   "field \"FInt32\": unknown field of overseer.test.Scalars");
}

static void test_errors(void **state)
{
	(void)state;
	assert_loads_error(EVERYTHING, "{\"targets\":[{\"name\":\"a\"},{\"nme\":\"b\"}]}",
	                   "field \"targets[1].nme\": unknown field of overseer.test.Target");
	assert_loads_error(
	        EVERYTHING, "{\"child\":{\"byName\":{\"x\":{\"prt\":1}}}}",
	        "field \"child.byName[\"x\"].prt\": unknown field of overseer.test.Target");
	assert_loads_error(EVERYTHING, "{\"targets\":{\"name\":\"a\"}}",
	                   "field \"targets\": expected array of overseer.test.Target, got object");
	assert_loads_error(
	        EVERYTHING, "{\"targets\":[5]}",
	        "field \"targets[0]\": expected object (overseer.test.Target), got number");
	assert_loads_error(
	        EVERYTHING, "{\"scalars\":5}",
	        "field \"scalars\": expected object (overseer.test.Scalars), got number");
	assert_loads_error(EVERYTHING, "[]",
	                   "expected a JSON object for overseer.test.Everything, got array");
	assert_loads_error(
	        EVERYTHING, "{\"scalars\":{\"fInt32\":\"abc\"}}",
	        "field \"scalars.fInt32\": expected int32 as a number or decimal string");
	assert_loads_error(
	        EVERYTHING, "{\"scalars\":{\"fInt64\":\" 1\"}}",
	        "field \"scalars.fInt64\": expected int64 as a number or decimal string");
	assert_loads_error(
	        EVERYTHING, "{\"scalars\":{\"fInt32\":[]}}",
	        "field \"scalars.fInt32\": expected int32 (number or string), got array");
	assert_loads_error(EVERYTHING, "{\"scalars\":{\"fInt32\":1.5}}",
	                   "field \"scalars.fInt32\": expected an integer (int32)");
	assert_loads_error(EVERYTHING, "{\"scalars\":{\"fBool\":\"true\"}}",
	                   "field \"scalars.fBool\": expected bool (true or false), got string");
	assert_loads_error(EVERYTHING, "{\"scalars\":{\"fString\":5}}",
	                   "field \"scalars.fString\": expected string, got number");
	assert_loads_error(EVERYTHING, "{\"scalars\":{\"fBytes\":false}}",
	                   "field \"scalars.fBytes\": expected bytes (base64 string), got boolean");
	assert_loads_error(EVERYTHING, "{\"scalars\":{\"fEnum\":\"COLOR_PURPLE\"}}",
	                   "field \"scalars.fEnum\": \"COLOR_PURPLE\" is not a value of enum "
	                   "overseer.test.Color");
	assert_loads_error(EVERYTHING, "{\"scalars\":{\"fEnum\":true}}",
	                   "field \"scalars.fEnum\": expected a value name or number of enum "
	                   "overseer.test.Color, got boolean");
	assert_loads_error(EVERYTHING, "{\"labels\":{\"a\":\"x\",\"b\":1}}",
	                   "field \"labels[\"b\"]\": expected string, got number");
	assert_loads_error(EVERYTHING, "{\"labels\":{\"a\":null}}",
	                   "field \"labels[\"a\"]\": a map value cannot be null");
	assert_loads_error(EVERYTHING, "{\"labels\":[]}",
	                   "field \"labels\": expected object (map), got array");
	assert_loads_error(EVERYTHING, "{\"byId\":{\"x\":\"y\"}}",
	                   "field \"byId[\"x\"]\": expected int32 as a number or decimal string");
	assert_loads_error(EVERYTHING, "{\"byFlag\":{\"yes\":1}}",
	                   "field \"byFlag[\"yes\"]\": map key must be true or false");
	assert_loads_error(EVERYTHING, "{\"tags\":[\"a\",null]}",
	                   "field \"tags[1]\": null is not allowed in a list");
	assert_loads_error(EVERYTHING, "{\"choiceNumber\":\"5\",\"choiceText\":\"x\"}",
	                   "field \"choiceText\": oneof already set by field \"choice_number\"");
	assert_loads_error(EVERYTHING, "{\"scalars\":{\"fString\":\"a\\u0000b\"}}",
	                   "invalid JSON at line 1 column 32: \\u0000 is not allowed without "
	                   "JSON_ALLOW_NUL");
	/* jansson's "near '<text>'" is cut: the text may be a secret. */
	assert_loads_error(EVERYTHING, "{\"scalars\":{\"fBytes\":\"s3cret\\u0000\"}}",
	                   "invalid JSON at line 1 column 35: \\u0000 is not allowed without "
	                   "JSON_ALLOW_NUL");
	assert_loads_error_prefix(EVERYTHING, "{\"tags\":[],\"tags\":[]}",
	                          "invalid JSON at line 1 column ");
	assert_loads_error_prefix(EVERYTHING, "{\"tags\":", "invalid JSON at line 1 column ");

	/* The same message through pbjson_decode, built without the JSON parser's checks. */
	{
		json_t *j = json_pack("{s:{s:s%}}", "scalars", "fString", "a\0b", (size_t)3);
		ProtobufCMessage *m = NULL;

		assert_non_null(j);
		assert_int_equal(pbjson_decode(&m, EVERYTHING, j), OVR_ERR_INVALID);
		assert_null(m);
		assert_string_equal(ovr_err_msg(OVR_ERR_INVALID),
		                    "field \"scalars.fString\": string contains a NUL character");
		json_decref(j);
		assert_int_equal(pbjson_decode(&m, EVERYTHING, NULL), OVR_ERR_INVALID);
	}
}

static void test_ranges(void **state)
{
	static const struct {
		const char *json;
		const char *msg;
	} bad[] = {
	        {"{\"fInt32\":2147483648}", "field \"fInt32\": value out of range for int32"},
	        {"{\"fInt32\":\"-2147483649\"}", "field \"fInt32\": value out of range for int32"},
	        {"{\"fSint32\":-2147483649}", "field \"fSint32\": value out of range for sint32"},
	        {"{\"fUint32\":-1}", "field \"fUint32\": value out of range for uint32"},
	        {"{\"fUint32\":4294967296}", "field \"fUint32\": value out of range for uint32"},
	        {"{\"fFixed32\":\"4294967296\"}",
	         "field \"fFixed32\": value out of range for fixed32"},
	        {"{\"fInt64\":\"9223372036854775808\"}",
	         "field \"fInt64\": value out of range for int64"},
	        {"{\"fInt64\":\"-9223372036854775809\"}",
	         "field \"fInt64\": value out of range for int64"},
	        {"{\"fUint64\":\"18446744073709551616\"}",
	         "field \"fUint64\": value out of range for uint64"},
	        {"{\"fUint64\":\"-1\"}", "field \"fUint64\": value out of range for uint64"},
	        {"{\"fFixed64\":1e20}", "field \"fFixed64\": value out of range for fixed64"},
	        {"{\"fSfixed64\":-1e19}", "field \"fSfixed64\": value out of range for sfixed64"},
	        {"{\"fEnum\":2147483648}", "field \"fEnum\": value out of range for enum"},
	};
	Scalars *s;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_loads_error(SCALARS, bad[i].json, bad[i].msg);
	s = (Scalars *)loads_ok(SCALARS, "{\"fInt32\":-2147483648,\"fUint32\":4294967295,"
	                                 "\"fInt64\":-9223372036854775808,\"fUint64\":\"-0\","
	                                 "\"fFixed32\":\"0\"}");
	assert_int_equal(s->f_int32, INT32_MIN);
	assert_int_equal(s->f_uint32, UINT32_MAX);
	assert_true(s->f_int64 == INT64_MIN);
	assert_true(s->f_uint64 == 0);
	protobuf_c_message_free_unpacked(&s->base, NULL);
}

/* {"child":{"child":...{}}} with levels objects in all. */
static char *nested_json(int levels)
{
	size_t cap = (size_t)levels * 12 + 8;
	char *text = malloc(cap);
	size_t n = 0;
	int i;

	assert_non_null(text);
	for (i = 1; i < levels; i++)
		n += (size_t)snprintf(text + n, cap - n, "{\"child\":");
	n += (size_t)snprintf(text + n, cap - n, "{}");
	for (i = 1; i < levels; i++)
		text[n++] = '}';
	text[n] = '\0';
	return text;
}

static void test_depth(void **state)
{
	char *text;
	ProtobufCMessage *m = NULL;
	const char *msg;

	(void)state;
	text = nested_json(PBJSON_MAX_DEPTH);
	m = loads_ok(EVERYTHING, text);
	/* Encoding the deepest accepted message works too. */
	{
		char *back = pbjson_dumps(m, 0);

		assert_non_null(back);
		assert_string_equal(back, text);
		free(back);
	}
	protobuf_c_message_free_unpacked(m, NULL);
	free(text);

	text = nested_json(PBJSON_MAX_DEPTH + 1);
	assert_int_equal(pbjson_loads(&m, EVERYTHING, text, strlen(text)), OVR_ERR_INVALID);
	assert_null(m);
	msg = ovr_err_msg(OVR_ERR_INVALID);
	assert_true(strncmp(msg, "field \"child.child.", 19) == 0);
	assert_non_null(strstr(msg, ".child\": nesting deeper than 32 levels"));
	free(text);

	/* A message built in memory that is too deep is refused by the encoder. */
	{
		Everything chain[PBJSON_MAX_DEPTH + 1];
		static const Everything e0 = OVERSEER__TEST__EVERYTHING__INIT;
		int i;

		for (i = 0; i <= PBJSON_MAX_DEPTH; i++) {
			chain[i] = e0;
			if (i > 0)
				chain[i - 1].child = &chain[i];
		}
		assert_null(pbjson_encode(&chain[0].base, 0));
		assert_string_equal(ovr_err_msg(OVR_ERR_INVALID),
		                    "message nesting deeper than 32 levels");
		{
			json_t *ok = pbjson_encode(&chain[1].base, 0);

			assert_non_null(ok);
			json_decref(ok);
		}
	}
}

/* Failures deep inside half-built messages free everything (checked by ASan/LSan). */
static void test_error_paths_free(void **state)
{
	static const char *const cases[] = {
	        "{\"tags\":[\"a\",\"b\",5]}",
	        "{\"targets\":[{\"name\":\"a\"},{\"name\":\"b\",\"port\":-1}]}",
	        "{\"labels\":{\"a\":\"1\",\"b\":\"2\",\"c\":3}}",
	        "{\"byName\":{\"a\":{\"name\":\"x\"},\"b\":{\"name\":7}}}",
	        "{\"byId\":{\"1\":\"a\",\"z\":\"b\"}}",
	        "{\"choiceText\":\"x\",\"choiceTarget\":{}}",
	        "{\"choiceTarget\":{\"name\":\"x\",\"port\":\"p\"}}",
	        "{\"scalars\":{\"fString\":\"s\",\"fBytes\":\"AAAA\",\"fInt32\":{}}}",
	        "{\"blobs\":[\"AAAA\",\"!\"]}",
	        "{\"child\":{\"tags\":[\"x\"],\"child\":{\"labels\":{\"k\":\"v\"},\"nope\":1}}}",
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ProtobufCMessage *m = NULL;

		assert_int_equal(pbjson_loads(&m, EVERYTHING, cases[i], strlen(cases[i])),
		                 OVR_ERR_INVALID);
		assert_null(m);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_scalars_encode),
	        cmocka_unit_test(test_scalars_decode),
	        cmocka_unit_test(test_float_special),
	        cmocka_unit_test(test_bytes),
	        cmocka_unit_test(test_defaults),
	        cmocka_unit_test(test_pretty),
	        cmocka_unit_test(test_repeated_maps_oneof_encode),
	        cmocka_unit_test(test_round_trip),
	        cmocka_unit_test(test_decode_structures),
	        cmocka_unit_test(test_names),
	        cmocka_unit_test(test_errors),
	        cmocka_unit_test(test_ranges),
	        cmocka_unit_test(test_depth),
	        cmocka_unit_test(test_error_paths_free),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
