/*
 * diff_unified: the unified diff DiffVersions shows between two versions of a compose file.
 *
 * The expected texts below were produced by GNU diffutils (`diff -u --label a --label b`, and the
 * labels renamed) on the same inputs, not copied from this module's output; only the over-the-bound
 * case follows diff.h's own rule (the middle replaced whole). The random cases check
 * every diff against two oracles written here: applying it to the old text must give the new text,
 * and its '-'/'+' line counts must be those of a longest common subsequence.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "arena.h"
#include "diff.h"
#include "err.h"

/* Each test's allocations; freed after it even when an assertion fails. */
static struct arena scratch;

static int free_scratch(void **state)
{
	(void)state;
	arena_free(&scratch);
	return 0;
}

/* The diff of two NUL-terminated texts, labelled "a" and "b"; fails the test on an error. */
static const char *diff(const char *a, const char *b)
{
	char *out = NULL;

	assert_int_equal(diff_unified(&scratch, &out, a, strlen(a), b, strlen(b), "a", "b"), 0);
	assert_non_null(out);
	return out;
}

/* "<prefix>1\n<prefix>2\n...<prefix>n\n" in the arena. */
static char *numbered(const char *prefix, size_t n)
{
	size_t plen = strlen(prefix), cap = n * (plen + 12) + 1, len = 0, i;
	char *s = arena_alloc(&scratch, cap);

	for (i = 1; i <= n; i++)
		len += (size_t)snprintf(s + len, cap - len, "%s%zu\n", prefix, i);
	return s;
}

/* Replaces the whole line `from` (without its '\n') of text by `to`, in a new arena string. */
static char *replace_line(const char *text, const char *from, const char *to)
{
	size_t flen = strlen(from);
	const char *p = text;
	char *out;

	for (;;) {
		p = strstr(p, from);
		assert_non_null(p);
		if ((p == text || p[-1] == '\n') && p[flen] == '\n')
			break;
		p++;
	}
	out = arena_alloc(&scratch, strlen(text) - flen + strlen(to) + 1);
	memcpy(out, text, (size_t)(p - text));
	strcpy(out + (p - text), to);
	strcat(out, p + flen);
	return out;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* How many lines of diff d start with c, its "---" and "+++" header lines left out. */
static size_t count_lines(const char *d, char c)
{
	const char *p = strstr(d, "\n@@ ");
	size_t n = 0;

	for (; p && p[1]; p = strchr(p + 1, '\n'))
		n += p[1] == c;
	return n;
}

static void test_equal_inputs_give_empty(void **state)
{
	char *out = (char *)"sentinel";

	(void)state;
	assert_string_equal(diff("", ""), "");
	assert_string_equal(diff("x\ny\n", "x\ny\n"), "");
	assert_string_equal(diff("x\ny", "x\ny"), "");
	/* An empty input may come with a NULL pointer. */
	assert_int_equal(diff_unified(&scratch, &out, NULL, 0, NULL, 0, "a", "b"), 0);
	assert_string_equal(out, "");
}

/* One changed line among ten: the labels, then one hunk with three lines of context each side. */
static void test_one_line_change(void **state)
{
	const char *a = numbered("l", 10), *b = replace_line(a, "l5", "L5");
	char *out = NULL;

	(void)state;
	assert_int_equal(diff_unified(&scratch, &out, a, strlen(a), b, strlen(b), "v1/compose.yaml",
	                              "v2/compose.yaml"),
	                 0);
	assert_string_equal(out, "--- v1/compose.yaml\n"
	                         "+++ v2/compose.yaml\n"
	                         "@@ -2,7 +2,7 @@\n"
	                         " l2\n l3\n l4\n"
	                         "-l5\n"
	                         "+L5\n"
	                         " l6\n l7\n l8\n");
}

/* Lines added or removed make the two sides' counts differ. */
static void test_uneven_hunks(void **state)
{
	const char *a = numbered("l", 10);

	(void)state;
	/* One line added after l5. */
	assert_string_equal(diff(a, replace_line(a, "l5", "l5\nnew")),
	                    "--- a\n+++ b\n"
	                    "@@ -3,6 +3,7 @@\n"
	                    " l3\n l4\n l5\n"
	                    "+new\n"
	                    " l6\n l7\n l8\n");
	/* l4 and l5 replaced by three lines. */
	assert_string_equal(diff(a, replace_line(replace_line(a, "l4", "X\nY"), "l5", "Z")),
	                    "--- a\n+++ b\n"
	                    "@@ -1,8 +1,9 @@\n"
	                    " l1\n l2\n l3\n"
	                    "-l4\n-l5\n"
	                    "+X\n+Y\n+Z\n"
	                    " l6\n l7\n l8\n");
}

/* Changes more than 2 * 3 unchanged lines apart are two hunks; the omitted lines are not shown. */
static void test_far_changes_two_hunks(void **state)
{
	const char *a = numbered("l", 20);

	(void)state;
	assert_string_equal(diff(a, replace_line(replace_line(a, "l3", "X3"), "l18", "X18")),
	                    "--- a\n+++ b\n"
	                    "@@ -1,6 +1,6 @@\n"
	                    " l1\n l2\n"
	                    "-l3\n+X3\n"
	                    " l4\n l5\n l6\n"
	                    "@@ -15,6 +15,6 @@\n"
	                    " l15\n l16\n l17\n"
	                    "-l18\n+X18\n"
	                    " l19\n l20\n");
	/* Seven unchanged lines between (l4..l10): still two hunks, l7 left out. */
	assert_string_equal(diff(a, replace_line(replace_line(a, "l3", "X3"), "l11", "X11")),
	                    "--- a\n+++ b\n"
	                    "@@ -1,6 +1,6 @@\n"
	                    " l1\n l2\n"
	                    "-l3\n+X3\n"
	                    " l4\n l5\n l6\n"
	                    "@@ -8,7 +8,7 @@\n"
	                    " l8\n l9\n l10\n"
	                    "-l11\n+X11\n"
	                    " l12\n l13\n l14\n");
}

/* Six unchanged lines between two changes: their contexts meet, one hunk. */
static void test_close_changes_one_hunk(void **state)
{
	const char *a = numbered("l", 20);

	(void)state;
	assert_string_equal(diff(a, replace_line(replace_line(a, "l3", "X3"), "l10", "X10")),
	                    "--- a\n+++ b\n"
	                    "@@ -1,13 +1,13 @@\n"
	                    " l1\n l2\n"
	                    "-l3\n+X3\n"
	                    " l4\n l5\n l6\n l7\n l8\n l9\n"
	                    "-l10\n+X10\n"
	                    " l11\n l12\n l13\n");
}

static void test_insert_at_start_delete_at_end(void **state)
{
	const char *a = numbered("l", 10);

	(void)state;
	assert_string_equal(diff(a, replace_line(a, "l1", "new0\nl1")),
	                    "--- a\n+++ b\n"
	                    "@@ -1,3 +1,4 @@\n"
	                    "+new0\n"
	                    " l1\n l2\n l3\n");
	assert_string_equal(diff(a, numbered("l", 9)), "--- a\n+++ b\n"
	                                               "@@ -7,4 +7,3 @@\n"
	                                               " l7\n l8\n l9\n"
	                                               "-l10\n");
}

/* A last line without '\n' is marked wherever it is shown, and only there. */
static void test_no_newline_at_end(void **state)
{
	(void)state;
	/* Both last lines changed, neither ends in '\n'. */
	assert_string_equal(diff("x\ny\nz", "x\ny\nZ"), "--- a\n+++ b\n"
	                                                "@@ -1,3 +1,3 @@\n"
	                                                " x\n y\n"
	                                                "-z\n"
	                                                "\\ No newline at end of file\n"
	                                                "+Z\n"
	                                                "\\ No newline at end of file\n");
	/* Only the final '\n' differs: that is a changed line. */
	assert_string_equal(diff("x\ny\nz", "x\ny\nz\n"), "--- a\n+++ b\n"
	                                                  "@@ -1,3 +1,3 @@\n"
	                                                  " x\n y\n"
	                                                  "-z\n"
	                                                  "\\ No newline at end of file\n"
	                                                  "+z\n");
	assert_string_equal(diff("x\ny\nz\n", "x\ny\nz"), "--- a\n+++ b\n"
	                                                  "@@ -1,3 +1,3 @@\n"
	                                                  " x\n y\n"
	                                                  "-z\n"
	                                                  "+z\n"
	                                                  "\\ No newline at end of file\n");
	/* The unterminated last line as context. */
	assert_string_equal(diff("a\nb\nc\nd\ne\nf\ng\nh\ni\nj\nk", "a\nb\nc\nd\ne\nf\ng\nh\ni\nJ\nk"),
	                    "--- a\n+++ b\n"
	                    "@@ -7,5 +7,5 @@\n"
	                    " g\n h\n i\n"
	                    "-j\n+J\n"
	                    " k\n"
	                    "\\ No newline at end of file\n");
	/* Not in any hunk: no marker. */
	assert_string_equal(diff("a\nb\nc\nd\ne\nf\ng\nh\ni\nj\nk", "A\nb\nc\nd\ne\nf\ng\nh\ni\nj\nk"),
	                    "--- a\n+++ b\n"
	                    "@@ -1,4 +1,4 @@\n"
	                    "-a\n+A\n"
	                    " b\n c\n d\n");
}

/* An empty side is "-0,0" / "+0,0", as diff -u writes it. */
static void test_empty_versus_non_empty(void **state)
{
	(void)state;
	assert_string_equal(diff("", "x\ny\n"), "--- a\n+++ b\n"
	                                        "@@ -0,0 +1,2 @@\n"
	                                        "+x\n+y\n");
	assert_string_equal(diff("x\ny\n", ""), "--- a\n+++ b\n"
	                                        "@@ -1,2 +0,0 @@\n"
	                                        "-x\n-y\n");
	assert_string_equal(diff("", "x\ny"), "--- a\n+++ b\n"
	                                      "@@ -0,0 +1,2 @@\n"
	                                      "+x\n+y\n"
	                                      "\\ No newline at end of file\n");
}

/* An input over a limit is refused, naming which side, and *out is left NULL. */
static void check_too_large(const char *a, size_t a_len, const char *b, size_t b_len,
                            const char *side)
{
	char *out = (char *)"sentinel";

	ovr_err_clear();
	assert_int_equal(diff_unified(&scratch, &out, a, a_len, b, b_len, "old.yaml", "new.yaml"),
	                 OVR_ERR_TOO_LARGE);
	assert_null(out);
	assert_non_null(strstr(ovr_err_msg(OVR_ERR_TOO_LARGE), side));
}

static void test_too_large(void **state)
{
	size_t big = (size_t)DIFF_MAX_BYTES + 1, i;
	char *bytes = arena_alloc(&scratch, big + 1);
	char *nl = arena_alloc(&scratch, (size_t)DIFF_MAX_LINES + 2);
	char *out = NULL;

	(void)state;
	/* DIFF_MAX_BYTES + 1 bytes in 16385 lines of 64 (the last one a single byte). */
	for (i = 0; i < big; i++)
		bytes[i] = (i + 1) % 64 == 0 ? '\n' : 'x';
	check_too_large(bytes, big, "x\n", 2, "old.yaml");
	check_too_large("x\n", 2, bytes, big, "new.yaml");
	/* Exactly DIFF_MAX_BYTES is allowed. */
	assert_int_equal(diff_unified(&scratch, &out, bytes, big - 1, "x\n", 2, "a", "b"), 0);

	/* DIFF_MAX_LINES + 1 lines, each just "\n". */
	memset(nl, '\n', (size_t)DIFF_MAX_LINES + 1);
	check_too_large(nl, (size_t)DIFF_MAX_LINES + 1, "", 0, "old.yaml");
	check_too_large("", 0, nl, (size_t)DIFF_MAX_LINES + 1, "new.yaml");
	/* DIFF_MAX_LINES newlines and an unterminated line after them: one line too many. */
	nl[DIFF_MAX_LINES] = 'x';
	check_too_large(nl, (size_t)DIFF_MAX_LINES + 1, "", 0, "old.yaml");
	/* Exactly DIFF_MAX_LINES is allowed. */
	out = NULL;
	assert_int_equal(diff_unified(&scratch, &out, nl, (size_t)DIFF_MAX_LINES, "", 0, "a", "b"), 0);
	assert_non_null(strstr(out, "@@ -1,20000 +0,0 @@\n"));
}

/* 15000 lines with one changed in the middle: one 7-line hunk, and no quadratic work. */
static void test_large_input_small_change(void **state)
{
	const char *a = numbered("line ", 15000);
	const char *b = replace_line(a, "line 7500", "LINE 7500");
	double t0 = now_s(), elapsed;
	const char *out = diff(a, b);

	elapsed = now_s() - t0;
	(void)state;
	print_message("15000 lines, one changed: %.1f ms\n", elapsed * 1e3);
	assert_string_equal(out, "--- a\n+++ b\n"
	                         "@@ -7497,7 +7497,7 @@\n"
	                         " line 7497\n line 7498\n line 7499\n"
	                         "-line 7500\n"
	                         "+LINE 7500\n"
	                         " line 7501\n line 7502\n line 7503\n");
	/* Generous (sanitizer builds, loaded CI); a 15000^2 table would take far longer. */
	assert_true(elapsed < 2.0);
}

/*
 * The differing middle decides the work: 4000 x 4000 lines (within the 16M-pair bound) still get
 * a minimal diff, two small hunks; 4200 x 4200 (over it) is replaced whole, still a correct diff.
 */
static void test_lcs_bound(void **state)
{
	const char *a = numbered("l", 4002), *b;
	const char *out;
	double t0 = now_s();

	(void)state;
	b = replace_line(replace_line(a, "l2", "X2"), "l4001", "X4001");
	out = diff(a, b);
	print_message("4000 x 4000 middle: %.1f ms\n", (now_s() - t0) * 1e3);
	assert_string_equal(out, "--- a\n+++ b\n"
	                         "@@ -1,5 +1,5 @@\n"
	                         " l1\n"
	                         "-l2\n+X2\n"
	                         " l3\n l4\n l5\n"
	                         "@@ -3998,5 +3998,5 @@\n"
	                         " l3998\n l3999\n l4000\n"
	                         "-l4001\n+X4001\n"
	                         " l4002\n");

	a = numbered("l", 4202);
	b = replace_line(replace_line(a, "l2", "X2"), "l4201", "X4201");
	out = diff(a, b);
	assert_non_null(strstr(out, "\n@@ -1,4202 +1,4202 @@\n l1\n-l2\n-l3\n"));
	assert_int_equal(count_lines(out, '-'), 4200);
	assert_int_equal(count_lines(out, '+'), 4200);
	assert_non_null(strstr(out, "\n-l4201\n+X2\n+l3\n"));
	assert_non_null(strstr(out, "\n+X4201\n l4202\n"));
}

/* ---- random cases against independent oracles ---- */

struct tline {
	const char *p;
	size_t len; /* with its '\n' if it has one */
};

static size_t split_lines(struct tline *v, const char *s, size_t len)
{
	size_t n = 0, start = 0, i;

	for (i = 0; i < len; i++)
		if (s[i] == '\n' || i == len - 1) {
			v[n].p = s + start;
			v[n].len = i + 1 - start;
			n++;
			start = i + 1;
		}
	return n;
}

static int tline_eq(const struct tline *x, const struct tline *y)
{
	return x->len == y->len && memcmp(x->p, y->p, x->len) == 0;
}

/* Length of a longest common subsequence of lines, by the textbook table. */
static size_t lcs_length(const struct tline *a, size_t n, const struct tline *b, size_t m)
{
	size_t *t = calloc((n + 1) * (m + 1), sizeof(*t)), i, j, r;

	assert_non_null(t);
	for (i = 1; i <= n; i++)
		for (j = 1; j <= m; j++) {
			size_t up = t[(i - 1) * (m + 1) + j], left = t[i * (m + 1) + j - 1];

			t[i * (m + 1) + j] = tline_eq(&a[i - 1], &b[j - 1])
			                             ? t[(i - 1) * (m + 1) + j - 1] + 1
			                             : (up > left ? up : left);
		}
	r = t[n * (m + 1) + m];
	free(t);
	return r;
}

/* One body line of a diff: its kind, its text as it was in the file (the marker applied). */
static const char *next_body_line(const char *p, char *kind, struct tline *l)
{
	const char *eol = strchr(p, '\n');

	assert_non_null(eol);
	*kind = p[0];
	l->p = p + 1;
	l->len = (size_t)(eol + 1 - l->p);
	p = eol + 1;
	if (strncmp(p, "\\ No newline at end of file\n", 28) == 0) {
		l->len--;
		p += 28;
	}
	return p;
}

/*
 * Applies unified diff d to a (as patch would, but strictly: every context and removed line must
 * match a at the place the hunk header names, and the counts must match the body) and returns
 * the result in the arena.
 */
static char *apply(const char *d, const char *a, size_t a_len, size_t *out_len)
{
	struct tline *av = calloc(a_len + 1, sizeof(*av));
	char *out = arena_alloc(&scratch, 2 * a_len + strlen(d) + 1);
	size_t an, ai = 0, bi = 0, len = 0;
	const char *p = d;

	assert_non_null(av);
	an = split_lines(av, a, a_len);
	assert_true(strncmp(p, "--- a\n+++ b\n", 12) == 0);
	p += 12;
	while (*p) {
		unsigned long la, na, lb, nb, seen_a = 0, seen_b = 0;
		size_t first;
		int used = 0;

		/* (No "\n" in the format: it would also skip a context line's leading space.) */
		assert_int_equal(sscanf(p, "@@ -%lu,%lu +%lu,%lu @@%n", &la, &na, &lb, &nb, &used), 4);
		assert_true(used > 0 && p[used] == '\n');
		p += used + 1;
		first = na ? la - 1 : la; /* 0-based index of the hunk's first line of a */
		assert_true(first >= ai && first <= an);
		/* b's start must be where the unchanged lines before the hunk put it. */
		for (; ai < first; ai++, bi++) {
			memcpy(out + len, av[ai].p, av[ai].len);
			len += av[ai].len;
		}
		assert_int_equal(nb ? lb - 1 : lb, bi);
		while (*p && *p != '@') {
			struct tline l;
			char kind;

			p = next_body_line(p, &kind, &l);
			if (kind == ' ' || kind == '-') {
				assert_true(ai < an);
				assert_true(tline_eq(&l, &av[ai]));
				ai++;
				seen_a++;
			}
			if (kind == ' ' || kind == '+') {
				memcpy(out + len, l.p, l.len);
				len += l.len;
				seen_b++;
				bi++;
			}
			assert_true(kind == ' ' || kind == '-' || kind == '+');
		}
		assert_int_equal(seen_a, na);
		assert_int_equal(seen_b, nb);
	}
	for (; ai < an; ai++) {
		memcpy(out + len, av[ai].p, av[ai].len);
		len += av[ai].len;
	}
	free(av);
	out[len] = '\0';
	*out_len = len;
	return out;
}

/* A random text of up to max_lines lines over a small alphabet, sometimes unterminated. */
static char *random_text(unsigned *seed, size_t max_lines, unsigned alphabet, size_t *len)
{
	size_t n = (size_t)(rand_r(seed) % (max_lines + 1)), i;
	char *s = arena_alloc(&scratch, 2 * n + 1);

	for (i = 0; i < n; i++) {
		s[2 * i] = (char)('a' + rand_r(seed) % alphabet);
		s[2 * i + 1] = '\n';
	}
	*len = 2 * n;
	if (n && rand_r(seed) % 5 == 0)
		(*len)--;
	s[*len] = '\0';
	return s;
}

/* b as a few random edits of a, so that diffs have context and several hunks. */
static char *random_edit(unsigned *seed, const char *a, size_t a_len, unsigned alphabet,
                         size_t *len)
{
	char *s = arena_alloc(&scratch, a_len + 64);
	int edits = 1 + rand_r(seed) % 4, e;

	memcpy(s, a, a_len);
	*len = a_len;
	if (a_len % 2) /* unterminated: make it whole, maybe cut it again below */
		s[(*len)++] = '\n';
	for (e = 0; e < edits; e++) {
		size_t lines = *len / 2, at = lines ? (size_t)rand_r(seed) % lines : 0;

		switch (rand_r(seed) % 3) {
		case 0: /* insert */
			memmove(s + 2 * at + 2, s + 2 * at, *len - 2 * at);
			s[2 * at] = (char)('a' + rand_r(seed) % alphabet);
			s[2 * at + 1] = '\n';
			*len += 2;
			break;
		case 1: /* delete */
			if (lines) {
				memmove(s + 2 * at, s + 2 * at + 2, *len - 2 * at - 2);
				*len -= 2;
			}
			break;
		default: /* change */
			if (lines)
				s[2 * at] = 'Z';
		}
	}
	if (*len && rand_r(seed) % 5 == 0)
		(*len)--;
	s[*len] = '\0';
	return s;
}

static void test_random_against_oracles(void **state)
{
	unsigned seed = 20240601;
	int i;

	(void)state;
	for (i = 0; i < 2000; i++) {
		unsigned alphabet = (unsigned[]){2, 3, 5, 26}[i % 4];
		size_t a_len, b_len, got_len, an, bn, lcs;
		const char *a = random_text(&seed, 30, alphabet, &a_len), *b;
		struct tline *av, *bv;
		const char *d;
		char *got;

		b = i % 2 ? random_edit(&seed, a, a_len, alphabet, &b_len)
		          : random_text(&seed, 30, alphabet, &b_len);
		d = diff(a, b);
		if (a_len == b_len && memcmp(a, b, a_len) == 0) {
			assert_string_equal(d, "");
			continue;
		}
		got = apply(d, a, a_len, &got_len);
		if (got_len != b_len || memcmp(got, b, b_len) != 0) {
			print_message("case %d:\na=[%s]\nb=[%s]\ndiff:\n%s\napplied=[%s]\n", i, a, b, d,
			              got);
			fail();
		}
		av = calloc(a_len + 1, sizeof(*av));
		bv = calloc(b_len + 1, sizeof(*bv));
		assert_non_null(av);
		assert_non_null(bv);
		an = split_lines(av, a, a_len);
		bn = split_lines(bv, b, b_len);
		lcs = lcs_length(av, an, bv, bn);
		free(av);
		free(bv);
		/* Minimal: exactly the lines outside a longest common subsequence are shown changed. */
		assert_int_equal(count_lines(d, '-'), an - lcs);
		assert_int_equal(count_lines(d, '+'), bn - lcs);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_teardown(test_equal_inputs_give_empty, free_scratch),
	        cmocka_unit_test_teardown(test_one_line_change, free_scratch),
	        cmocka_unit_test_teardown(test_uneven_hunks, free_scratch),
	        cmocka_unit_test_teardown(test_far_changes_two_hunks, free_scratch),
	        cmocka_unit_test_teardown(test_close_changes_one_hunk, free_scratch),
	        cmocka_unit_test_teardown(test_insert_at_start_delete_at_end, free_scratch),
	        cmocka_unit_test_teardown(test_no_newline_at_end, free_scratch),
	        cmocka_unit_test_teardown(test_empty_versus_non_empty, free_scratch),
	        cmocka_unit_test_teardown(test_too_large, free_scratch),
	        cmocka_unit_test_teardown(test_large_input_small_change, free_scratch),
	        cmocka_unit_test_teardown(test_lcs_bound, free_scratch),
	        cmocka_unit_test_teardown(test_random_against_oracles, free_scratch),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
