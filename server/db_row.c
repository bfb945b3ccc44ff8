/* Reading result cells into request arenas, and protobuf messages stored as bytea. */
#include "db_row.h"

#include "log.h"
#include "strutil.h"

#include <string.h>

char *db_cell(struct arena *a, const PGresult *res, int row, int col)
{
	const char *v = db_get_text(res, row, col);

	return arena_strdup(a, v ? v : "");
}

int64_t db_cell_int64(const PGresult *res, int row, int col)
{
	int64_t v = 0;

	db_get_int64(&v, res, row, col);
	return v;
}

int db_cell_int(const PGresult *res, int row, int col)
{
	int v = 0;

	db_get_int(&v, res, row, col);
	return v;
}

int db_cell_bool(const PGresult *res, int row, int col)
{
	int v = 0;

	db_get_bool(&v, res, row, col);
	return v;
}

char *db_param_message(struct arena *a, const ProtobufCMessage *msg)
{
	size_t len = protobuf_c_message_get_packed_size(msg);
	unsigned char *packed = arena_alloc(a, len + 1);
	char *hex = arena_alloc(a, 2 * len + 3);

	protobuf_c_message_pack(msg, packed);
	memcpy(hex, "\\x", 2);
	ovr_hex_encode(hex + 2, packed, len);
	return hex;
}

static void *arena_pb_alloc(void *data, size_t size)
{
	return arena_alloc(data, size ? size : 1);
}

static void arena_pb_free(void *data, void *p)
{
	(void)data;
	(void)p; /* freed with the arena */
}

ProtobufCMessage *db_cell_message(struct arena *a, const PGresult *res, int row, int col,
                                  const ProtobufCMessageDescriptor *desc)
{
	const char *text = db_get_text(res, row, col);
	ProtobufCAllocator alloc = {arena_pb_alloc, arena_pb_free, a};
	ProtobufCMessage *msg;
	unsigned char *bytes;
	size_t hex_len, len;

	/* bytea arrives in hex form: "\x" then two digits per byte. */
	if (!text || strncmp(text, "\\x", 2) != 0)
		return NULL;
	hex_len = strlen(text + 2);
	if (hex_len == 0 || hex_len % 2)
		return NULL;
	len = hex_len / 2;
	bytes = arena_alloc(a, len);
	if (ovr_hex_decode(bytes, len, text + 2) != 0)
		return NULL;
	msg = protobuf_c_message_unpack(desc, &alloc, len, bytes);
	if (!msg)
		log_warnx("db: a stored %s does not decode; ignored", desc->name);
	return msg;
}
