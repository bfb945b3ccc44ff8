/* The proto3 JSON mapping done generically from protobuf-c descriptors, both directions. */
#include "pbjson.h"

#include "err.h"

#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Longest field name handled; proto identifiers are far shorter. */
#define PBJSON_NAME_MAX 128
/* Longest JSON path kept for error messages. */
#define PBJSON_PATH_MAX 512
/* Longest piece of a JSON key quoted back in an error message. */
#define PBJSON_QUOTE_MAX 64

/* ---- shared helpers ---- */

static void *member_ptr(const ProtobufCMessage *msg, unsigned offset)
{
	return (char *)msg + offset;
}

static uint32_t oneof_case(const ProtobufCMessage *msg, const ProtobufCFieldDescriptor *f)
{
	uint32_t c;

	memcpy(&c, member_ptr(msg, f->quantifier_offset), sizeof(c));
	return c;
}

static size_t repeated_count(const ProtobufCMessage *msg, const ProtobufCFieldDescriptor *f)
{
	size_t n;

	memcpy(&n, member_ptr(msg, f->quantifier_offset), sizeof(n));
	return n;
}

/* Whether a singular field has a has_ flag (proto2 optional scalars and bytes). */
static int has_presence_flag(const ProtobufCFieldDescriptor *f)
{
	return f->label == PROTOBUF_C_LABEL_OPTIONAL && !(f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) &&
	       f->type != PROTOBUF_C_TYPE_STRING && f->type != PROTOBUF_C_TYPE_MESSAGE;
}

/* Size of one element of a repeated field, as protobuf-c lays the array out. */
static size_t element_size(ProtobufCType type)
{
	switch (type) {
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32:
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32:
		return sizeof(int32_t);
	case PROTOBUF_C_TYPE_FLOAT:
		return sizeof(float);
	case PROTOBUF_C_TYPE_ENUM:
		return sizeof(int);
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
		return sizeof(int64_t);
	case PROTOBUF_C_TYPE_DOUBLE:
		return sizeof(double);
	case PROTOBUF_C_TYPE_BOOL:
		return sizeof(protobuf_c_boolean);
	case PROTOBUF_C_TYPE_STRING:
		return sizeof(char *);
	case PROTOBUF_C_TYPE_BYTES:
		return sizeof(ProtobufCBinaryData);
	case PROTOBUF_C_TYPE_MESSAGE:
		return sizeof(ProtobufCMessage *);
	}
	return 0;
}

int pbjson_field_name(char *buf, size_t size, const char *name)
{
	size_t n = 0;
	int upper = 0;

	for (; *name; name++) {
		if (*name == '_') {
			upper = 1;
			continue;
		}
		if (n + 1 >= size)
			return -1;
		buf[n++] =
		        upper && *name >= 'a' && *name <= 'z' ? (char)(*name - 'a' + 'A') : *name;
		upper = 0;
	}
	buf[n] = '\0';
	return 0;
}

/*
 * protobuf-c 1.4.1 descriptors do not mark map fields. protoc generates each map<K, V> field as
 * a repeated message named MapEntryName(field) ("labels" -> "LabelsEntry") with exactly
 * key = 1 and value = 2, so that shape identifies a map.
 */
static int is_map(const ProtobufCFieldDescriptor *f)
{
	const ProtobufCMessageDescriptor *d = f->descriptor;
	char want[PBJSON_NAME_MAX + 8];
	const char *p;
	size_t n = 0;
	int upper = 1;

	if (f->label != PROTOBUF_C_LABEL_REPEATED || f->type != PROTOBUF_C_TYPE_MESSAGE)
		return 0;
	if (d->n_fields != 2 || d->fields[0].id != 1 || d->fields[1].id != 2 ||
	    strcmp(d->fields[0].name, "key") != 0 || strcmp(d->fields[1].name, "value") != 0 ||
	    d->fields[0].label == PROTOBUF_C_LABEL_REPEATED ||
	    d->fields[1].label == PROTOBUF_C_LABEL_REPEATED)
		return 0;
	for (p = f->name; *p; p++) {
		if (*p == '_') {
			upper = 1;
			continue;
		}
		if (n + 6 >= sizeof(want))
			return 0;
		want[n++] = upper && *p >= 'a' && *p <= 'z' ? (char)(*p - 'a' + 'A') : *p;
		upper = 0;
	}
	memcpy(want + n, "Entry", 6);
	return strcmp(d->short_name, want) == 0;
}

/* Strict UTF-8: no overlong forms, no surrogates, nothing past U+10FFFF. */
static int utf8_valid(const unsigned char *s, size_t len)
{
	size_t i = 0;

	while (i < len) {
		unsigned char c = s[i];
		uint32_t cp;
		size_t k, extra;

		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			extra = 1;
			cp = c & 0x1fu;
		} else if (c >= 0xe0 && c <= 0xef) {
			extra = 2;
			cp = c & 0x0fu;
		} else if (c >= 0xf0 && c <= 0xf4) {
			extra = 3;
			cp = c & 0x07u;
		} else {
			return 0;
		}
		if (extra > len - i - 1)
			return 0;
		for (k = 1; k <= extra; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return 0;
			cp = cp << 6 | (s[i + k] & 0x3fu);
		}
		if ((extra == 2 && cp < 0x800) || (extra == 3 && (cp < 0x10000 || cp > 0x10ffff)) ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		i += extra + 1;
	}
	return 1;
}

static const char b64_std[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static char *base64_encode(const uint8_t *data, size_t len)
{
	char *out = malloc((len + 2) / 3 * 4 + 1);
	size_t i, o = 0;

	if (!out)
		return NULL;
	for (i = 0; i + 2 < len; i += 3) {
		uint32_t v = (uint32_t)data[i] << 16 | (uint32_t)data[i + 1] << 8 | data[i + 2];

		out[o++] = b64_std[v >> 18];
		out[o++] = b64_std[v >> 12 & 63];
		out[o++] = b64_std[v >> 6 & 63];
		out[o++] = b64_std[v & 63];
	}
	if (i < len) {
		uint32_t v = (uint32_t)data[i] << 16;

		if (i + 1 < len)
			v |= (uint32_t)data[i + 1] << 8;
		out[o++] = b64_std[v >> 18];
		out[o++] = b64_std[v >> 12 & 63];
		out[o++] = i + 1 < len ? b64_std[v >> 6 & 63] : '=';
		out[o++] = '=';
	}
	out[o] = '\0';
	return out;
}

static int b64_value(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+' || c == '-')
		return 62;
	if (c == '/' || c == '_')
		return 63;
	return -1;
}

/*
 * Standard or URL-safe base64, padding optional. *out is malloc'ed (NULL for no bytes).
 * 0, -1 on bad input, OVR_ERR_NOMEM.
 */
static int base64_decode(uint8_t **out, size_t *out_len, const char *text, size_t len)
{
	uint8_t *buf = NULL;
	size_t i, o = 0;
	uint32_t acc = 0;
	int bits = 0;

	*out = NULL;
	*out_len = 0;
	if (len % 4 == 0 && len > 0 && text[len - 1] == '=') {
		len--;
		if (text[len - 1] == '=')
			len--;
	}
	if (len % 4 == 1)
		return -1;
	if (len == 0)
		return 0;
	buf = malloc(len / 4 * 3 + 2);
	if (!buf)
		return OVR_ERR_NOMEM;
	for (i = 0; i < len; i++) {
		int v = b64_value(text[i]);

		if (v < 0) {
			free(buf);
			return -1;
		}
		acc = acc << 6 | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			buf[o++] = (uint8_t)(acc >> bits & 0xff);
		}
	}
	*out = buf;
	*out_len = o;
	return 0;
}

/* ---- encoding ---- */

static int enc_message(json_t **out, const ProtobufCMessage *msg, unsigned flags, int depth);

static int enc_string(json_t **out, const char *s)
{
	size_t len;

	if (!s)
		s = "";
	len = strlen(s);
	if (!utf8_valid((const unsigned char *)s, len))
		return ovr_err_set(OVR_ERR_INVALID, "string is not valid UTF-8");
	*out = json_stringn_nocheck(s, len);
	return *out ? 0 : ovr_err_set(OVR_ERR_NOMEM, "out of memory");
}

static json_t *enc_double(double v)
{
	if (isnan(v))
		return json_string("NaN");
	if (isinf(v))
		return json_string(v > 0 ? "Infinity" : "-Infinity");
	return json_real(v);
}

/* One value of field f stored at p (a singular member or one array element). */
static int enc_value(json_t **out, const ProtobufCFieldDescriptor *f, const void *p, unsigned flags,
                     int depth)
{
	char buf[32];

	*out = NULL;
	switch (f->type) {
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32: {
		int32_t v;

		memcpy(&v, p, sizeof(v));
		*out = json_integer(v);
		break;
	}
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32: {
		uint32_t v;

		memcpy(&v, p, sizeof(v));
		*out = json_integer(v);
		break;
	}
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64: {
		int64_t v;

		memcpy(&v, p, sizeof(v));
		snprintf(buf, sizeof(buf), "%" PRId64, v);
		*out = json_string(buf);
		break;
	}
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64: {
		uint64_t v;

		memcpy(&v, p, sizeof(v));
		snprintf(buf, sizeof(buf), "%" PRIu64, v);
		*out = json_string(buf);
		break;
	}
	case PROTOBUF_C_TYPE_FLOAT: {
		float v;

		memcpy(&v, p, sizeof(v));
		*out = enc_double((double)v);
		break;
	}
	case PROTOBUF_C_TYPE_DOUBLE: {
		double v;

		memcpy(&v, p, sizeof(v));
		*out = enc_double(v);
		break;
	}
	case PROTOBUF_C_TYPE_BOOL: {
		protobuf_c_boolean v;

		memcpy(&v, p, sizeof(v));
		*out = json_boolean(v);
		break;
	}
	case PROTOBUF_C_TYPE_ENUM: {
		const ProtobufCEnumValue *ev;
		int v;

		memcpy(&v, p, sizeof(v));
		ev = protobuf_c_enum_descriptor_get_value(f->descriptor, v);
		*out = ev ? json_string(ev->name) : json_integer(v);
		break;
	}
	case PROTOBUF_C_TYPE_STRING: {
		const char *s;

		memcpy(&s, p, sizeof(s));
		return enc_string(out, s);
	}
	case PROTOBUF_C_TYPE_BYTES: {
		ProtobufCBinaryData v;
		char *text;

		memcpy(&v, p, sizeof(v));
		text = base64_encode(v.data, v.data ? v.len : 0);
		if (text)
			*out = json_string_nocheck(text);
		free(text);
		break;
	}
	case PROTOBUF_C_TYPE_MESSAGE: {
		const ProtobufCMessage *sub;

		memcpy(&sub, p, sizeof(sub));
		if (!sub) {
			*out = json_object();
			break;
		}
		return enc_message(out, sub, flags, depth + 1);
	}
	}
	return *out ? 0 : ovr_err_set(OVR_ERR_NOMEM, "out of memory");
}

/* Whether a singular member holds its type's default (0, "", false, empty bytes, NULL). */
static int is_default(const ProtobufCFieldDescriptor *f, const void *p)
{
	switch (f->type) {
	case PROTOBUF_C_TYPE_FLOAT: {
		float v;

		memcpy(&v, p, sizeof(v));
		return fpclassify(v) == FP_ZERO;
	}
	case PROTOBUF_C_TYPE_DOUBLE: {
		double v;

		memcpy(&v, p, sizeof(v));
		return fpclassify(v) == FP_ZERO;
	}
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64: {
		uint64_t v;

		memcpy(&v, p, sizeof(v));
		return v == 0;
	}
	case PROTOBUF_C_TYPE_STRING: {
		const char *s;

		memcpy(&s, p, sizeof(s));
		return !s || !*s;
	}
	case PROTOBUF_C_TYPE_BYTES: {
		ProtobufCBinaryData v;

		memcpy(&v, p, sizeof(v));
		return v.len == 0;
	}
	case PROTOBUF_C_TYPE_MESSAGE: {
		const void *m;

		memcpy(&m, p, sizeof(m));
		return m == NULL;
	}
	default: {
		uint32_t v; /* 32-bit integers, bool and enums are all 4 bytes here */

		memcpy(&v, p, sizeof(v));
		return v == 0;
	}
	}
}

/* A map key as JSON object key text. */
static int enc_map_key(char *buf, size_t size, const ProtobufCFieldDescriptor *kf, const void *p,
                       const char **key)
{
	*key = buf;
	switch (kf->type) {
	case PROTOBUF_C_TYPE_STRING: {
		const char *s;

		memcpy(&s, p, sizeof(s));
		*key = s ? s : "";
		if (!utf8_valid((const unsigned char *)*key, strlen(*key)))
			return ovr_err_set(OVR_ERR_INVALID, "map key is not valid UTF-8");
		return 0;
	}
	case PROTOBUF_C_TYPE_BOOL: {
		protobuf_c_boolean v;

		memcpy(&v, p, sizeof(v));
		*key = v ? "true" : "false";
		return 0;
	}
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32: {
		int32_t v;

		memcpy(&v, p, sizeof(v));
		snprintf(buf, size, "%" PRId32, v);
		return 0;
	}
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32: {
		uint32_t v;

		memcpy(&v, p, sizeof(v));
		snprintf(buf, size, "%" PRIu32, v);
		return 0;
	}
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64: {
		int64_t v;

		memcpy(&v, p, sizeof(v));
		snprintf(buf, size, "%" PRId64, v);
		return 0;
	}
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64: {
		uint64_t v;

		memcpy(&v, p, sizeof(v));
		snprintf(buf, size, "%" PRIu64, v);
		return 0;
	}
	default:
		return ovr_err_set(OVR_ERR_INVALID, "map key of type %d is not allowed", kf->type);
	}
}

static int enc_map(json_t **out, const ProtobufCFieldDescriptor *f, const ProtobufCMessage *msg,
                   unsigned flags, int depth)
{
	const ProtobufCMessageDescriptor *ed = f->descriptor;
	const ProtobufCFieldDescriptor *kf = &ed->fields[0];
	const ProtobufCFieldDescriptor *vf = &ed->fields[1];
	size_t n = repeated_count(msg, f);
	ProtobufCMessage **entries;
	json_t *obj = json_object();
	size_t i;
	int err;

	*out = NULL;
	if (!obj)
		return ovr_err_set(OVR_ERR_NOMEM, "out of memory");
	memcpy(&entries, member_ptr(msg, f->offset), sizeof(entries));
	for (i = 0; i < n; i++) {
		char keybuf[32];
		const char *key;
		json_t *val;

		if (!entries[i])
			continue;
		err = enc_map_key(keybuf, sizeof(keybuf), kf, member_ptr(entries[i], kf->offset),
		                  &key);
		if (err < 0)
			goto fail;
		err = enc_value(&val, vf, member_ptr(entries[i], vf->offset), flags, depth);
		if (err < 0)
			goto fail;
		if (json_object_set_new_nocheck(obj, key, val) < 0) {
			err = ovr_err_set(OVR_ERR_NOMEM, "out of memory");
			goto fail;
		}
	}
	*out = obj;
	return 0;
fail:
	json_decref(obj);
	return err;
}

static int enc_repeated(json_t **out, const ProtobufCFieldDescriptor *f,
                        const ProtobufCMessage *msg, unsigned flags, int depth)
{
	size_t n = repeated_count(msg, f);
	size_t sz = element_size(f->type);
	json_t *arr = json_array();
	const char *base;
	size_t i;
	int err;

	*out = NULL;
	if (!arr)
		return ovr_err_set(OVR_ERR_NOMEM, "out of memory");
	memcpy(&base, member_ptr(msg, f->offset), sizeof(base));
	for (i = 0; i < n; i++) {
		json_t *val;

		err = enc_value(&val, f, base + i * sz, flags, depth);
		if (err < 0)
			goto fail;
		if (json_array_append_new(arr, val) < 0) {
			err = ovr_err_set(OVR_ERR_NOMEM, "out of memory");
			goto fail;
		}
	}
	*out = arr;
	return 0;
fail:
	json_decref(arr);
	return err;
}

static int enc_message(json_t **out, const ProtobufCMessage *msg, unsigned flags, int depth)
{
	const ProtobufCMessageDescriptor *desc = msg->descriptor;
	json_t *obj;
	unsigned i;
	int err = 0;

	*out = NULL;
	if (depth > PBJSON_MAX_DEPTH)
		return ovr_err_set(OVR_ERR_INVALID, "message nesting deeper than %d levels",
		                   PBJSON_MAX_DEPTH);
	obj = json_object();
	if (!obj)
		return ovr_err_set(OVR_ERR_NOMEM, "out of memory");
	for (i = 0; i < desc->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &desc->fields[i];
		const void *p = member_ptr(msg, f->offset);
		char name[PBJSON_NAME_MAX];
		json_t *val = NULL;

		if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
			if (oneof_case(msg, f) != f->id)
				continue;
			err = enc_value(&val, f, p, flags, depth);
		} else if (f->label == PROTOBUF_C_LABEL_REPEATED) {
			if (repeated_count(msg, f) == 0 && !(flags & PBJSON_EMIT_DEFAULTS))
				continue;
			if (is_map(f))
				err = enc_map(&val, f, msg, flags, depth);
			else
				err = enc_repeated(&val, f, msg, flags, depth);
		} else if (f->type == PROTOBUF_C_TYPE_MESSAGE) {
			if (is_default(f, p))
				continue;
			err = enc_value(&val, f, p, flags, depth);
		} else {
			if (has_presence_flag(f)) {
				protobuf_c_boolean has;

				memcpy(&has, member_ptr(msg, f->quantifier_offset), sizeof(has));
				if (!has)
					continue;
			} else if (is_default(f, p) && !(flags & PBJSON_EMIT_DEFAULTS)) {
				continue;
			}
			err = enc_value(&val, f, p, flags, depth);
		}
		if (err < 0)
			goto fail;
		if (pbjson_field_name(name, sizeof(name), f->name) < 0) {
			json_decref(val);
			err = ovr_err_set(OVR_ERR_INTERNAL, "field name %s is too long", f->name);
			goto fail;
		}
		if (json_object_set_new_nocheck(obj, name, val) < 0) {
			err = ovr_err_set(OVR_ERR_NOMEM, "out of memory");
			goto fail;
		}
	}
	*out = obj;
	return 0;
fail:
	json_decref(obj);
	return err;
}

json_t *pbjson_encode(const ProtobufCMessage *msg, unsigned flags)
{
	json_t *out = NULL;

	if (!msg) {
		ovr_err_set(OVR_ERR_INVALID, "no message to encode");
		return NULL;
	}
	if (enc_message(&out, msg, flags, 1) < 0)
		return NULL;
	return out;
}

char *pbjson_dumps(const ProtobufCMessage *msg, unsigned flags)
{
	json_t *json = pbjson_encode(msg, flags);
	char *text;

	if (!json)
		return NULL;
	text = json_dumps(json, (flags & PBJSON_PRETTY) ? JSON_INDENT(2) : JSON_COMPACT);
	json_decref(json);
	if (!text)
		ovr_err_set(OVR_ERR_NOMEM, "out of memory");
	return text;
}

/* ---- decoding ---- */

struct dec {
	char path[PBJSON_PATH_MAX];
	size_t len;
};

/* Appends a path segment; returns the length to restore. Truncates rather than overflows. */
static size_t path_push(struct dec *d, const char *fmt, const char *a, size_t idx)
{
	size_t saved = d->len;
	int w;

	if (d->len >= sizeof(d->path) - 1)
		return saved;
	if (a)
		w = snprintf(d->path + d->len, sizeof(d->path) - d->len, fmt, a);
	else
		w = snprintf(d->path + d->len, sizeof(d->path) - d->len, fmt, idx);
	if (w > 0)
		d->len += (size_t)w;
	if (d->len >= sizeof(d->path))
		d->len = sizeof(d->path) - 1;
	return saved;
}

static void path_pop(struct dec *d, size_t saved)
{
	d->len = saved;
	d->path[saved] = '\0';
}

static const char *json_kind(const json_t *j)
{
	switch (json_typeof(j)) {
	case JSON_OBJECT:
		return "object";
	case JSON_ARRAY:
		return "array";
	case JSON_STRING:
		return "string";
	case JSON_INTEGER:
	case JSON_REAL:
		return "number";
	case JSON_TRUE:
	case JSON_FALSE:
		return "boolean";
	case JSON_NULL:
		return "null";
	}
	return "value";
}

static const char *type_name(ProtobufCType type)
{
	static const char *const names[] = {
	        [PROTOBUF_C_TYPE_INT32] = "int32",       [PROTOBUF_C_TYPE_SINT32] = "sint32",
	        [PROTOBUF_C_TYPE_SFIXED32] = "sfixed32", [PROTOBUF_C_TYPE_INT64] = "int64",
	        [PROTOBUF_C_TYPE_SINT64] = "sint64",     [PROTOBUF_C_TYPE_SFIXED64] = "sfixed64",
	        [PROTOBUF_C_TYPE_UINT32] = "uint32",     [PROTOBUF_C_TYPE_FIXED32] = "fixed32",
	        [PROTOBUF_C_TYPE_UINT64] = "uint64",     [PROTOBUF_C_TYPE_FIXED64] = "fixed64",
	        [PROTOBUF_C_TYPE_FLOAT] = "float",       [PROTOBUF_C_TYPE_DOUBLE] = "double",
	        [PROTOBUF_C_TYPE_BOOL] = "bool",         [PROTOBUF_C_TYPE_ENUM] = "enum",
	        [PROTOBUF_C_TYPE_STRING] = "string",     [PROTOBUF_C_TYPE_BYTES] = "bytes",
	        [PROTOBUF_C_TYPE_MESSAGE] = "message",
	};

	if ((unsigned)type < sizeof(names) / sizeof(names[0]))
		return names[type];
	return "value";
}

/* The type of one value of f: the full name for messages and enums. */
static const char *elem_name(const ProtobufCFieldDescriptor *f)
{
	if (f->type == PROTOBUF_C_TYPE_MESSAGE)
		return ((const ProtobufCMessageDescriptor *)f->descriptor)->name;
	if (f->type == PROTOBUF_C_TYPE_ENUM)
		return ((const ProtobufCEnumDescriptor *)f->descriptor)->name;
	return type_name(f->type);
}

/* `field "a.b": expected <what>, got <kind>`. */
static int wrong_type(const struct dec *d, const char *what, const json_t *j)
{
	return ovr_err_set(OVR_ERR_INVALID, "field \"%s\": expected %s, got %s", d->path, what,
	                   json_kind(j));
}

static int out_of_range(const struct dec *d, ProtobufCType type)
{
	return ovr_err_set(OVR_ERR_INVALID, "field \"%s\": value out of range for %s", d->path,
	                   type_name(type));
}

static int is_integer_type(ProtobufCType t)
{
	return t == PROTOBUF_C_TYPE_INT32 || t == PROTOBUF_C_TYPE_SINT32 ||
	       t == PROTOBUF_C_TYPE_SFIXED32 || t == PROTOBUF_C_TYPE_UINT32 ||
	       t == PROTOBUF_C_TYPE_FIXED32 || t == PROTOBUF_C_TYPE_INT64 ||
	       t == PROTOBUF_C_TYPE_SINT64 || t == PROTOBUF_C_TYPE_SFIXED64 ||
	       t == PROTOBUF_C_TYPE_UINT64 || t == PROTOBUF_C_TYPE_FIXED64;
}

/* A decimal integer string ("-12", no sign for zero required) as sign and magnitude. */
static int parse_decimal(const char *s, size_t len, int *neg, uint64_t *mag)
{
	size_t i = 0;
	uint64_t v = 0;

	*neg = 0;
	if (len > 0 && s[0] == '-') {
		*neg = 1;
		i = 1;
	}
	if (i == len)
		return -1;
	for (; i < len; i++) {
		unsigned digit;

		if (s[i] < '0' || s[i] > '9')
			return -1;
		digit = (unsigned)(s[i] - '0');
		if (v > (UINT64_MAX - digit) / 10)
			return -2;
		v = v * 10 + digit;
	}
	*mag = v;
	return 0;
}

/*
 * Stores an integer field from a JSON number or decimal string. Integral reals (1.0, 1e3) are
 * accepted as the proto3 mapping allows.
 */
static int dec_integer(struct dec *d, const ProtobufCFieldDescriptor *f, void *p, const json_t *j)
{
	ProtobufCType t = f->type;
	int neg = 0;
	uint64_t mag = 0;
	int is_unsigned = t == PROTOBUF_C_TYPE_UINT32 || t == PROTOBUF_C_TYPE_FIXED32 ||
	                  t == PROTOBUF_C_TYPE_UINT64 || t == PROTOBUF_C_TYPE_FIXED64;
	int is_64 = t == PROTOBUF_C_TYPE_INT64 || t == PROTOBUF_C_TYPE_SINT64 ||
	            t == PROTOBUF_C_TYPE_SFIXED64 || t == PROTOBUF_C_TYPE_UINT64 ||
	            t == PROTOBUF_C_TYPE_FIXED64;
	uint64_t max_pos;
	uint64_t max_neg;

	if (json_is_integer(j)) {
		json_int_t v = json_integer_value(j);

		neg = v < 0;
		mag = neg ? (uint64_t)(-(v + 1)) + 1 : (uint64_t)v;
	} else if (json_is_real(j)) {
		double r = json_real_value(j);
		double ip;

		if (!isfinite(r) || fpclassify(modf(r, &ip)) != FP_ZERO) {
			return ovr_err_set(OVR_ERR_INVALID,
			                   "field \"%s\": expected an integer (%s)", d->path,
			                   type_name(t));
		}
		neg = r < 0;
		if (neg)
			r = -r;
		if (r >= 18446744073709551616.0)
			return out_of_range(d, t);
		mag = (uint64_t)r;
	} else if (json_is_string(j)) {
		int rc = parse_decimal(json_string_value(j), json_string_length(j), &neg, &mag);

		if (rc == -2)
			return out_of_range(d, t);
		if (rc < 0)
			return ovr_err_set(
			        OVR_ERR_INVALID,
			        "field \"%s\": expected %s as a number or decimal string", d->path,
			        type_name(t));
	} else {
		char what[48];

		snprintf(what, sizeof(what), "%s (number or string)", type_name(t));
		return wrong_type(d, what, j);
	}
	if (mag == 0)
		neg = 0;
	if (is_unsigned) {
		max_pos = is_64 ? UINT64_MAX : UINT32_MAX;
		max_neg = 0;
	} else {
		max_pos = is_64 ? (uint64_t)INT64_MAX : (uint64_t)INT32_MAX;
		max_neg = is_64 ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT32_MAX + 1;
	}
	if ((neg && mag > max_neg) || (!neg && mag > max_pos))
		return out_of_range(d, t);
	if (is_unsigned && is_64) {
		memcpy(p, &mag, sizeof(mag));
	} else if (is_unsigned) {
		uint32_t v = (uint32_t)mag;

		memcpy(p, &v, sizeof(v));
	} else {
		/* Two's complement negation without signed overflow. */
		int64_t v = neg ? -(int64_t)(mag - 1) - 1 : (int64_t)mag;

		if (is_64) {
			memcpy(p, &v, sizeof(v));
		} else {
			int32_t v32 = (int32_t)v;

			memcpy(p, &v32, sizeof(v32));
		}
	}
	return 0;
}

static int dec_floating(struct dec *d, const ProtobufCFieldDescriptor *f, void *p, const json_t *j)
{
	double v;

	if (json_is_number(j)) {
		v = json_number_value(j);
	} else if (json_is_string(j)) {
		const char *s = json_string_value(j);
		char *end;

		if (strcmp(s, "NaN") == 0) {
			v = (double)NAN;
		} else if (strcmp(s, "Infinity") == 0) {
			v = (double)INFINITY;
		} else if (strcmp(s, "-Infinity") == 0) {
			v = -(double)INFINITY;
		} else {
			v = strtod(s, &end);
			if (*s == '\0' || *end != '\0' || !isfinite(v) ||
			    strlen(s) != json_string_length(j) || s[0] == ' ' || s[0] == '\t')
				return ovr_err_set(OVR_ERR_INVALID,
				                   "field \"%s\": expected %s as a number or "
				                   "numeric string",
				                   d->path, type_name(f->type));
		}
	} else {
		char what[48];

		snprintf(what, sizeof(what), "%s (number or string)", type_name(f->type));
		return wrong_type(d, what, j);
	}
	if (f->type == PROTOBUF_C_TYPE_FLOAT) {
		float fv;

		if (isfinite(v) && (v > (double)FLT_MAX || v < -(double)FLT_MAX))
			return out_of_range(d, f->type);
		fv = (float)v;
		memcpy(p, &fv, sizeof(fv));
	} else {
		memcpy(p, &v, sizeof(v));
	}
	return 0;
}

static int dec_enum(struct dec *d, const ProtobufCFieldDescriptor *f, void *p, const json_t *j)
{
	const ProtobufCEnumDescriptor *ed = f->descriptor;
	int v;

	if (json_is_string(j)) {
		const ProtobufCEnumValue *ev =
		        protobuf_c_enum_descriptor_get_value_by_name(ed, json_string_value(j));

		if (!ev)
			return ovr_err_set(
			        OVR_ERR_INVALID, "field \"%s\": \"%.*s\" is not a value of enum %s",
			        d->path, PBJSON_QUOTE_MAX, json_string_value(j), ed->name);
		v = ev->value;
	} else if (json_is_integer(j)) {
		json_int_t n = json_integer_value(j);

		/* proto3 enums are open: an unknown number is kept. */
		if (n < INT32_MIN || n > INT32_MAX)
			return out_of_range(d, f->type);
		v = (int)n;
	} else {
		char what[160];

		snprintf(what, sizeof(what), "a value name or number of enum %s", ed->name);
		return wrong_type(d, what, j);
	}
	memcpy(p, &v, sizeof(v));
	return 0;
}

static int dec_string(struct dec *d, const ProtobufCFieldDescriptor *f, void *p, const json_t *j)
{
	char *old;
	char *s;
	size_t len;

	if (!json_is_string(j))
		return wrong_type(d, "string", j);
	len = json_string_length(j);
	if (strlen(json_string_value(j)) != len)
		return ovr_err_set(OVR_ERR_INVALID, "field \"%s\": string contains a NUL character",
		                   d->path);
	s = malloc(len + 1);
	if (!s)
		return ovr_err_set(OVR_ERR_NOMEM, "out of memory");
	memcpy(s, json_string_value(j), len + 1);
	memcpy(&old, p, sizeof(old));
	/* Strings start out as the descriptor's default, which free_unpacked never frees. */
	if (old && old != f->default_value)
		free(old);
	memcpy(p, &s, sizeof(s));
	return 0;
}

static int dec_bytes(struct dec *d, const ProtobufCFieldDescriptor *f, void *p, const json_t *j)
{
	const ProtobufCBinaryData *def = f->default_value;
	ProtobufCBinaryData old;
	ProtobufCBinaryData v;
	int rc;

	if (!json_is_string(j))
		return wrong_type(d, "bytes (base64 string)", j);
	rc = base64_decode(&v.data, &v.len, json_string_value(j), json_string_length(j));
	if (rc == OVR_ERR_NOMEM)
		return ovr_err_set(rc, "out of memory");
	if (rc < 0)
		return ovr_err_set(OVR_ERR_INVALID, "field \"%s\": expected bytes as base64",
		                   d->path);
	memcpy(&old, p, sizeof(old));
	if (old.data && (!def || def->data != old.data))
		free(old.data);
	memcpy(p, &v, sizeof(v));
	return 0;
}

static int dec_message(struct dec *d, ProtobufCMessage **out,
                       const ProtobufCMessageDescriptor *desc, const json_t *json, int depth);

/*
 * Stores one value of field f at p (a singular member, an array element or a map value).
 * Writes p only on success, so a failed message is always safe to free_unpacked.
 */
static int dec_value(struct dec *d, const ProtobufCFieldDescriptor *f, void *p, const json_t *j,
                     int depth)
{
	if (is_integer_type(f->type))
		return dec_integer(d, f, p, j);
	switch (f->type) {
	case PROTOBUF_C_TYPE_FLOAT:
	case PROTOBUF_C_TYPE_DOUBLE:
		return dec_floating(d, f, p, j);
	case PROTOBUF_C_TYPE_BOOL: {
		protobuf_c_boolean v;

		if (!json_is_boolean(j))
			return wrong_type(d, "bool (true or false)", j);
		v = json_is_true(j);
		memcpy(p, &v, sizeof(v));
		return 0;
	}
	case PROTOBUF_C_TYPE_ENUM:
		return dec_enum(d, f, p, j);
	case PROTOBUF_C_TYPE_STRING:
		return dec_string(d, f, p, j);
	case PROTOBUF_C_TYPE_BYTES:
		return dec_bytes(d, f, p, j);
	case PROTOBUF_C_TYPE_MESSAGE: {
		ProtobufCMessage *old;
		ProtobufCMessage *sub;
		int err;

		err = dec_message(d, &sub, f->descriptor, j, depth + 1);
		if (err < 0)
			return err;
		memcpy(&old, p, sizeof(old));
		if (old && old != f->default_value)
			protobuf_c_message_free_unpacked(old, NULL);
		memcpy(p, &sub, sizeof(sub));
		return 0;
	}
	default:
		return ovr_err_set(OVR_ERR_INTERNAL, "field \"%s\": unsupported type %d", d->path,
		                   f->type);
	}
}

/* A JSON object key as a map key of field kf, stored at p. */
static int dec_map_key(struct dec *d, const ProtobufCFieldDescriptor *kf, void *p, const char *key)
{
	json_t *tmp;
	int err;

	if (kf->type == PROTOBUF_C_TYPE_BOOL) {
		protobuf_c_boolean v;

		if (strcmp(key, "true") != 0 && strcmp(key, "false") != 0)
			return ovr_err_set(OVR_ERR_INVALID,
			                   "field \"%s\": map key must be true or false", d->path);
		v = strcmp(key, "true") == 0;
		memcpy(p, &v, sizeof(v));
		return 0;
	}
	if (kf->type != PROTOBUF_C_TYPE_STRING && !is_integer_type(kf->type))
		return ovr_err_set(OVR_ERR_INTERNAL, "field \"%s\": unsupported map key type",
		                   d->path);
	/* Keys are strings in JSON; reuse the string paths of the value decoders. */
	tmp = json_string_nocheck(key);
	if (!tmp)
		return ovr_err_set(OVR_ERR_NOMEM, "out of memory");
	if (kf->type == PROTOBUF_C_TYPE_STRING)
		err = dec_string(d, kf, p, tmp);
	else
		err = dec_integer(d, kf, p, tmp);
	json_decref(tmp);
	return err;
}

static int dec_map(struct dec *d, ProtobufCMessage *msg, const ProtobufCFieldDescriptor *f,
                   const json_t *j, int depth)
{
	const ProtobufCMessageDescriptor *ed = f->descriptor;
	const ProtobufCFieldDescriptor *kf = &ed->fields[0];
	const ProtobufCFieldDescriptor *vf = &ed->fields[1];
	ProtobufCMessage **entries;
	size_t n = 0;
	void *it;
	int err;

	if (!json_is_object(j))
		return wrong_type(d, "object (map)", j);
	if (json_object_size(j) == 0)
		return 0;
	entries = calloc(json_object_size(j), sizeof(*entries));
	if (!entries)
		return ovr_err_set(OVR_ERR_NOMEM, "out of memory");
	/* The array and its count are published at once and kept in step for free_unpacked. */
	memcpy(member_ptr(msg, f->offset), &entries, sizeof(entries));
	memcpy(member_ptr(msg, f->quantifier_offset), &n, sizeof(n));
	for (it = json_object_iter((json_t *)j); it; it = json_object_iter_next((json_t *)j, it)) {
		const char *key = json_object_iter_key(it);
		const json_t *val = json_object_iter_value(it);
		size_t saved = path_push(d, "[\"%s\"]", key, 0);
		ProtobufCMessage *entry = malloc(ed->sizeof_message);

		if (!entry)
			return ovr_err_set(OVR_ERR_NOMEM, "out of memory");
		protobuf_c_message_init(ed, entry);
		entries[n++] = entry;
		memcpy(member_ptr(msg, f->quantifier_offset), &n, sizeof(n));
		err = dec_map_key(d, kf, member_ptr(entry, kf->offset), key);
		if (err < 0)
			return err;
		if (json_is_null(val))
			return ovr_err_set(OVR_ERR_INVALID,
			                   "field \"%s\": a map value cannot be null", d->path);
		err = dec_value(d, vf, member_ptr(entry, vf->offset), val, depth);
		if (err < 0)
			return err;
		path_pop(d, saved);
	}
	return 0;
}

static int dec_repeated(struct dec *d, ProtobufCMessage *msg, const ProtobufCFieldDescriptor *f,
                        const json_t *j, int depth)
{
	size_t sz = element_size(f->type);
	size_t count;
	size_t i;
	char *arr;
	int err;

	if (!json_is_array(j)) {
		char what[160];

		snprintf(what, sizeof(what), "array of %s", elem_name(f));
		return wrong_type(d, what, j);
	}
	count = json_array_size(j);
	if (count == 0)
		return 0;
	arr = calloc(count, sz);
	if (!arr)
		return ovr_err_set(OVR_ERR_NOMEM, "out of memory");
	memcpy(member_ptr(msg, f->offset), &arr, sizeof(arr));
	for (i = 0; i < count; i++) {
		const json_t *el = json_array_get(j, i);
		size_t saved = path_push(d, "[%zu]", NULL, i);

		if (json_is_null(el))
			return ovr_err_set(OVR_ERR_INVALID,
			                   "field \"%s\": null is not allowed in a list", d->path);
		err = dec_value(d, f, arr + i * sz, el, depth);
		if (err < 0)
			return err;
		/* Count only elements that are complete, so free_unpacked frees exactly those. */
		memcpy(member_ptr(msg, f->quantifier_offset), &(size_t){i + 1}, sizeof(size_t));
		path_pop(d, saved);
	}
	return 0;
}

/* Field of desc named key, in either spelling. */
static const ProtobufCFieldDescriptor *find_field(const ProtobufCMessageDescriptor *desc,
                                                  const char *key)
{
	const ProtobufCFieldDescriptor *f =
	        protobuf_c_message_descriptor_get_field_by_name(desc, key);
	char name[PBJSON_NAME_MAX];
	unsigned i;

	if (f)
		return f;
	for (i = 0; i < desc->n_fields; i++)
		if (pbjson_field_name(name, sizeof(name), desc->fields[i].name) == 0 &&
		    strcmp(name, key) == 0)
			return &desc->fields[i];
	return NULL;
}

static const ProtobufCFieldDescriptor *field_by_id(const ProtobufCMessageDescriptor *desc,
                                                   uint32_t id)
{
	return protobuf_c_message_descriptor_get_field(desc, id);
}

static int dec_field(struct dec *d, ProtobufCMessage *msg, const ProtobufCFieldDescriptor *f,
                     const json_t *obj, const char *key, const json_t *val, int depth)
{
	char camel[PBJSON_NAME_MAX];
	void *p = member_ptr(msg, f->offset);
	int err;

	/* The same field under both spellings is ambiguous, like a duplicate key. */
	if (pbjson_field_name(camel, sizeof(camel), f->name) == 0 && strcmp(camel, f->name) != 0) {
		const char *other = strcmp(key, f->name) == 0 ? camel : f->name;

		if (json_object_get(obj, other))
			return ovr_err_set(OVR_ERR_INVALID, "field \"%s\": also set as \"%s\"",
			                   d->path, other);
	}
	if (json_is_null(val))
		return 0;
	if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
		uint32_t c = oneof_case(msg, f);

		if (c != 0 && c != f->id) {
			const ProtobufCFieldDescriptor *set = field_by_id(msg->descriptor, c);

			return ovr_err_set(OVR_ERR_INVALID,
			                   "field \"%s\": oneof already set by field \"%s\"",
			                   d->path, set ? set->name : "?");
		}
		err = dec_value(d, f, p, val, depth);
		if (err < 0)
			return err;
		memcpy(member_ptr(msg, f->quantifier_offset), &f->id, sizeof(f->id));
		return 0;
	}
	if (f->label == PROTOBUF_C_LABEL_REPEATED)
		return is_map(f) ? dec_map(d, msg, f, val, depth)
		                 : dec_repeated(d, msg, f, val, depth);
	err = dec_value(d, f, p, val, depth);
	if (err < 0)
		return err;
	if (has_presence_flag(f)) {
		protobuf_c_boolean has = 1;

		memcpy(member_ptr(msg, f->quantifier_offset), &has, sizeof(has));
	}
	return 0;
}

static int dec_message(struct dec *d, ProtobufCMessage **out,
                       const ProtobufCMessageDescriptor *desc, const json_t *json, int depth)
{
	ProtobufCMessage *msg;
	void *it;
	int err = 0;

	*out = NULL;
	if (depth > PBJSON_MAX_DEPTH)
		return ovr_err_set(OVR_ERR_INVALID, "field \"%s\": nesting deeper than %d levels",
		                   d->path, PBJSON_MAX_DEPTH);
	if (!json_is_object(json)) {
		char what[160];

		if (d->len == 0)
			return ovr_err_set(OVR_ERR_INVALID, "expected a JSON object for %s, got %s",
			                   desc->name, json_kind(json));
		snprintf(what, sizeof(what), "object (%s)", desc->name);
		return wrong_type(d, what, json);
	}
	msg = malloc(desc->sizeof_message);
	if (!msg)
		return ovr_err_set(OVR_ERR_NOMEM, "out of memory");
	protobuf_c_message_init(desc, msg);
	for (it = json_object_iter((json_t *)json); it;
	     it = json_object_iter_next((json_t *)json, it)) {
		const char *key = json_object_iter_key(it);
		const json_t *val = json_object_iter_value(it);
		const ProtobufCFieldDescriptor *f = find_field(desc, key);
		size_t saved = path_push(d, d->len ? ".%s" : "%s", key, 0);

		if (!f) {
			err = ovr_err_set(OVR_ERR_INVALID, "field \"%s\": unknown field of %s",
			                  d->path, desc->name);
			goto fail;
		}
		err = dec_field(d, msg, f, json, key, val, depth);
		if (err < 0)
			goto fail;
		path_pop(d, saved);
	}
	*out = msg;
	return 0;
fail:
	protobuf_c_message_free_unpacked(msg, NULL);
	return err;
}

int pbjson_decode(ProtobufCMessage **out, const ProtobufCMessageDescriptor *desc,
                  const json_t *json)
{
	struct dec d;

	*out = NULL;
	d.len = 0;
	d.path[0] = '\0';
	if (!json)
		return ovr_err_set(OVR_ERR_INVALID, "expected a JSON object for %s", desc->name);
	return dec_message(&d, out, desc, json, 1);
}

int pbjson_loads(ProtobufCMessage **out, const ProtobufCMessageDescriptor *desc, const char *text,
                 size_t len)
{
	json_error_t jerr;
	json_t *json;
	int err;

	*out = NULL;
	json = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!json) {
		/* jansson leaves the text empty on some allocation failures. */
		if (json_error_code(&jerr) == json_error_out_of_memory || jerr.text[0] == '\0')
			return ovr_err_set(OVR_ERR_NOMEM, "out of memory");
		/* jansson quotes the text near the error; it may be a secret, so cut it off. */
		char *near = strstr(jerr.text, " near '");

		if (near)
			*near = '\0';
		return ovr_err_set(OVR_ERR_INVALID, "invalid JSON at line %d column %d: %s",
		                   jerr.line, jerr.column, jerr.text);
	}
	err = pbjson_decode(out, desc, json);
	json_decref(json);
	return err;
}
