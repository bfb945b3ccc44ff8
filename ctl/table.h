/* Aligned text tables for ovrctl: collect rows, then print with columns sized to fit. */
#ifndef OVR_TABLE_H
#define OVR_TABLE_H

#include <stddef.h>
#include <stdio.h>

#define TABLE_MAX_COLS 16

struct table {
	size_t ncols;
	const char *headers[TABLE_MAX_COLS];
	char **cells; /* rows * ncols, owned */
	size_t rows, cap;
	char **details;     /* free-form lines printed under a row, owned */
	size_t *detail_row; /* the row each detail line follows */
	size_t ndetails, details_cap;
};

void table_init(struct table *t, size_t ncols, const char *const *headers);
/* Adds a row of ncols strings (copied; NULL prints as "-"). */
void table_add(struct table *t, const char *const *row);
/*
 * Adds a free-form line (copied) printed under the last row added, outside the columns: the
 * containers under a node, say. Ignored before the first row.
 */
void table_add_detail(struct table *t, const char *line);
void table_print(const struct table *t, FILE *fp);
void table_free(struct table *t);

#endif
