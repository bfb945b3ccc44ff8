/* Aligned text tables for ovrctl. */
#include "table.h"

#include "log.h"

#include <stdlib.h>
#include <string.h>

void table_init(struct table *t, size_t ncols, const char *const *headers)
{
	size_t i;

	memset(t, 0, sizeof(*t));
	t->ncols = ncols < TABLE_MAX_COLS ? ncols : TABLE_MAX_COLS;
	for (i = 0; i < t->ncols; i++)
		t->headers[i] = headers[i];
}

void table_add(struct table *t, const char *const *row)
{
	size_t i;

	if (t->rows == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 16;
		char **grown = realloc(t->cells, cap * t->ncols * sizeof(*grown));

		if (!grown)
			fatalx("out of memory");
		t->cells = grown;
		t->cap = cap;
	}
	for (i = 0; i < t->ncols; i++) {
		const char *v = row[i] && row[i][0] ? row[i] : "-";

		t->cells[t->rows * t->ncols + i] = strdup(v);
		if (!t->cells[t->rows * t->ncols + i])
			fatalx("out of memory");
	}
	t->rows++;
}

void table_add_detail(struct table *t, const char *line)
{
	if (!t->rows)
		return;
	if (t->ndetails == t->details_cap) {
		size_t cap = t->details_cap ? t->details_cap * 2 : 16;
		char **grown = realloc(t->details, cap * sizeof(*grown));
		size_t *grown_rows;

		if (!grown)
			fatalx("out of memory");
		t->details = grown;
		grown_rows = realloc(t->detail_row, cap * sizeof(*grown_rows));
		if (!grown_rows)
			fatalx("out of memory");
		t->detail_row = grown_rows;
		t->details_cap = cap;
	}
	t->details[t->ndetails] = strdup(line);
	if (!t->details[t->ndetails])
		fatalx("out of memory");
	t->detail_row[t->ndetails] = t->rows - 1;
	t->ndetails++;
}

static void print_row(FILE *fp, const struct table *t, const char *const *cells,
                      const size_t *width)
{
	size_t c;

	for (c = 0; c + 1 < t->ncols; c++)
		fprintf(fp, "%-*s  ", (int)width[c], cells[c]);
	fprintf(fp, "%s\n", cells[t->ncols - 1]);
}

void table_print(const struct table *t, FILE *fp)
{
	size_t width[TABLE_MAX_COLS];
	size_t r, c, d = 0;

	for (c = 0; c < t->ncols; c++)
		width[c] = strlen(t->headers[c]);
	for (r = 0; r < t->rows; r++)
		for (c = 0; c < t->ncols; c++) {
			size_t w = strlen(t->cells[r * t->ncols + c]);

			if (w > width[c])
				width[c] = w;
		}
	print_row(fp, t, t->headers, width);
	for (r = 0; r < t->rows; r++) {
		print_row(fp, t, (const char *const *)&t->cells[r * t->ncols], width);
		for (; d < t->ndetails && t->detail_row[d] == r; d++)
			fprintf(fp, "%s\n", t->details[d]);
	}
}

void table_free(struct table *t)
{
	size_t i;

	for (i = 0; i < t->rows * t->ncols; i++)
		free(t->cells[i]);
	free(t->cells);
	for (i = 0; i < t->ndetails; i++)
		free(t->details[i]);
	free(t->details);
	free(t->detail_row);
	memset(t, 0, sizeof(*t));
}
