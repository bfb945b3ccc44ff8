/* ovrctl tables: columns aligned to the widest cell, empty cells as "-", cells copied. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "table.h"

/* What table_print writes, as a string the caller frees. */
static char *print_to_string(const struct table *t)
{
	char *text = NULL;
	size_t len = 0;
	FILE *fp = open_memstream(&text, &len);

	assert_non_null(fp);
	table_print(t, fp);
	assert_int_equal(fclose(fp), 0);
	assert_int_equal(strlen(text), len);
	return text;
}

static void check_print(const struct table *t, const char *want)
{
	char *got = print_to_string(t);

	if (strcmp(got, want) != 0)
		print_message("got:\n%s\nwant:\n%s\n", got, want);
	assert_string_equal(got, want);
	free(got);
}

static void test_aligns_to_widest(void **state)
{
	static const char *const headers[] = {"NAME", "STATE", "LABELS"};
	static const char *const r1[] = {"web-1", "ready", "role=web"};
	static const char *const r2[] = {"database-primary", "ready", "role=db,zone=a"};
	static const char *const r3[] = {"x", "disconnected", "zone=b"};
	struct table t;

	(void)state;
	table_init(&t, 3, headers);
	table_add(&t, r1);
	table_add(&t, r2);
	table_add(&t, r3);
	/* Two spaces between columns; the last column is not padded. */
	check_print(&t, "NAME              STATE         LABELS\n"
	                "web-1             ready         role=web\n"
	                "database-primary  ready         role=db,zone=a\n"
	                "x                 disconnected  zone=b\n");
	table_free(&t);
}

static void test_header_wider_than_cells(void **state)
{
	static const char *const headers[] = {"IDENTIFIER", "V", "CREATED"};
	static const char *const r1[] = {"a", "12345", "2026-11-23T10:00:00Z"};
	struct table t;

	(void)state;
	table_init(&t, 3, headers);
	table_add(&t, r1);
	check_print(&t, "IDENTIFIER  V      CREATED\n"
	                "a           12345  2026-11-23T10:00:00Z\n");
	table_free(&t);
}

static void test_empty_cells_print_dash(void **state)
{
	static const char *const headers[] = {"N", "ADDR", "VERSION"};
	static const char *const r1[] = {NULL, "", "1.2"};
	static const char *const r2[] = {"node-1", NULL, ""};
	struct table t;

	(void)state;
	table_init(&t, 3, headers);
	table_add(&t, r1);
	table_add(&t, r2);
	check_print(&t, "N       ADDR  VERSION\n"
	                "-       -     1.2\n"
	                "node-1  -     -\n");
	table_free(&t);
}

static void test_header_only(void **state)
{
	static const char *const headers[] = {"NAME", "STATE"};
	struct table t;

	(void)state;
	table_init(&t, 2, headers);
	check_print(&t, "NAME  STATE\n");
	table_free(&t);
}

static void test_single_column(void **state)
{
	static const char *const headers[] = {"NAME"};
	static const char *const r1[] = {"a"};
	static const char *const r2[] = {"longer-name"};
	struct table t;

	(void)state;
	table_init(&t, 1, headers);
	table_add(&t, r1);
	table_add(&t, r2);
	check_print(&t, "NAME\na\nlonger-name\n");
	table_free(&t);
}

static void test_cells_are_copied(void **state)
{
	static const char *const headers[] = {"NAME", "STATE"};
	char name[16] = "web-1";
	char st[16] = "ready";
	const char *row[2];
	struct table t;

	(void)state;
	row[0] = name;
	row[1] = st;
	table_init(&t, 2, headers);
	table_add(&t, row);
	strcpy(name, "changed-later");
	strcpy(st, "gone");
	check_print(&t, "NAME   STATE\n"
	                "web-1  ready\n");
	table_free(&t);
}

/* Many rows (the row store grows): order is kept and one late wide cell aligns every row. */
static void test_many_rows(void **state)
{
	static const char *const headers[] = {"ID", "NAME"};
	char want[8192];
	char id[16], name[64];
	const char *row[2];
	struct table t;
	size_t off = 0;
	int i;

	(void)state;
	table_init(&t, 2, headers);
	off += (size_t)snprintf(want + off, sizeof(want) - off, "%-5s  %s\n", "ID", "NAME");
	for (i = 0; i < 100; i++) {
		snprintf(id, sizeof(id), "%d", i);
		snprintf(name, sizeof(name), "node-%d", i);
		row[0] = id;
		row[1] = name;
		table_add(&t, row);
	}
	row[0] = "12345";
	row[1] = "last";
	table_add(&t, row);
	for (i = 0; i < 100; i++) {
		snprintf(id, sizeof(id), "%d", i);
		off += (size_t)snprintf(want + off, sizeof(want) - off, "%-5s  node-%d\n", id, i);
	}
	snprintf(want + off, sizeof(want) - off, "12345  last\n");
	check_print(&t, want);
	table_free(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_aligns_to_widest),
	        cmocka_unit_test(test_header_wider_than_cells),
	        cmocka_unit_test(test_empty_cells_print_dash),
	        cmocka_unit_test(test_header_only),
	        cmocka_unit_test(test_single_column),
	        cmocka_unit_test(test_cells_are_copied),
	        cmocka_unit_test(test_many_rows),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
