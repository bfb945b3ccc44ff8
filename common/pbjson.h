/* The proto3 JSON mapping for any protobuf-c message, driven by its descriptor (ovrctl, REST). */
#ifndef OVR_PBJSON_H
#define OVR_PBJSON_H

#include <stddef.h>

#include <jansson.h>
#include <protobuf-c/protobuf-c.h>

/* Also print fields at their default value (0, "", false, first enum value, [], {}). */
#define PBJSON_EMIT_DEFAULTS 0x1u
/* pbjson_dumps: indent by 2 spaces (default: compact). */
#define PBJSON_PRETTY 0x2u

/* Most levels of message nesting, the top-level message being level 1. */
#define PBJSON_MAX_DEPTH 32

/*
 * Encodes msg as proto3 JSON: lowerCamelCase names, 64-bit integers as strings, enums as names
 * (an unknown number as the number), bytes as standard base64, maps as objects, only the set
 * member of a oneof, NaN/Infinity/-Infinity as strings. Fields at their default value are left
 * out unless PBJSON_EMIT_DEFAULTS (unset sub-messages and oneofs always are). Returns a new
 * reference the caller json_decref()s, or NULL with the error set (OVR_ERR_NOMEM;
 * OVR_ERR_INVALID for a string that is not UTF-8 or nesting deeper than PBJSON_MAX_DEPTH).
 */
json_t *pbjson_encode(const ProtobufCMessage *msg, unsigned flags);

/* pbjson_encode serialised; the caller free()s the string. NULL with the error set. */
char *pbjson_dumps(const ProtobufCMessage *msg, unsigned flags);

/*
 * Builds a message of type desc from a JSON object. Accepts lowerCamelCase and original
 * snake_case names, 64-bit integers as strings or numbers (any integer as either), enums by name
 * or number, bytes as standard or URL-safe base64 with or without padding; null means the
 * default. On success *out is a message the caller frees with
 * protobuf_c_message_free_unpacked(*out, NULL). On failure *out is NULL and the error is
 * OVR_ERR_INVALID with a message naming the JSON path and the problem, e.g.
 * `field "targets[1].nme": unknown field of overseer.v1.Target` (values are never quoted back,
 * they may be secret), or OVR_ERR_NOMEM.
 */
int pbjson_decode(ProtobufCMessage **out, const ProtobufCMessageDescriptor *desc,
                  const json_t *json);

/* pbjson_decode of JSON text (len bytes, which the caller has bounded). Duplicate keys are refused.
 */
int pbjson_loads(ProtobufCMessage **out, const ProtobufCMessageDescriptor *desc, const char *text,
                 size_t len);

/* protoc's json_name: "last_seen_unix_ms" -> "lastSeenUnixMs". 0, or -1 if it does not fit. */
int pbjson_field_name(char *buf, size_t size, const char *name);

#endif
