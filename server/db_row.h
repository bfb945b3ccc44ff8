/* Reading result cells into request arenas, and protobuf messages stored as bytea. */
#ifndef OVR_DB_ROW_H
#define OVR_DB_ROW_H

#include <protobuf-c/protobuf-c.h>
#include <stdint.h>

#include "arena.h"
#include "db.h"

/* The cell's text copied into the arena; "" for SQL NULL. */
char *db_cell(struct arena *a, const PGresult *res, int row, int col);
/* The cell as a number; 0 for SQL NULL (and for a bug in the SQL, which db_get_* reports). */
int64_t db_cell_int64(const PGresult *res, int row, int col);
int db_cell_int(const PGresult *res, int row, int col);
int db_cell_bool(const PGresult *res, int row, int col);

/* msg packed, as a bytea parameter in PostgreSQL's hex form ("\x0a03..."), in the arena. */
char *db_param_message(struct arena *a, const ProtobufCMessage *msg);

/*
 * A bytea cell unpacked as a message of desc allocated in the arena (it dies with the request,
 * no protobuf_c_message_free_unpacked). NULL for an empty or undecodable cell: stored state is
 * our own, so a bad cell is logged rather than failing the read.
 */
ProtobufCMessage *db_cell_message(struct arena *a, const PGresult *res, int row, int col,
                                  const ProtobufCMessageDescriptor *desc);

#endif
