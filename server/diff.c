/* A bounded line-based unified diff (LCS), for DiffVersions. */
#include "diff.h"

#include "err.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Largest LCS table (cells of uint16_t): 32 MiB. */
#define DIFF_MAX_CELLS (16u * 1024 * 1024)

struct line {
	const char *text;
	size_t len; /* including the '\n' when there is one */
};

struct lines {
	struct line *v;
	size_t n;
};

/* One step of the edit script: ' ' keep, '-' delete a line of a, '+' add a line of b. */
struct op {
	char kind;
	size_t ai, bi; /* index in a (' ', '-') and in b (' ', '+') */
};

struct buf {
	char *p;
	size_t len, cap;
	int failed;
};

static void buf_add(struct buf *b, const char *s, size_t n)
{
	if (b->failed)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		char *p;

		while (b->len + n + 1 > cap)
			cap *= 2;
		p = realloc(b->p, cap);
		if (!p) {
			b->failed = 1;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void buf_str(struct buf *b, const char *s)
{
	buf_add(b, s, strlen(s));
}

static int split(struct lines *out, const char *text, size_t len, const char *label)
{
	size_t i, n = 0, start = 0;

	if (len > DIFF_MAX_BYTES)
		return ovr_err_set(OVR_ERR_TOO_LARGE, "%s: %zu bytes, the diff limit is %d", label,
		                   len, DIFF_MAX_BYTES);
	for (i = 0; i < len; i++)
		n += text[i] == '\n';
	if (len && text[len - 1] != '\n')
		n++;
	if (n > DIFF_MAX_LINES)
		return ovr_err_set(OVR_ERR_TOO_LARGE, "%s: %zu lines, the diff limit is %d", label,
		                   n, DIFF_MAX_LINES);
	out->v = calloc(n + 1, sizeof(*out->v));
	if (!out->v)
		return ovr_err_set(OVR_ERR_NOMEM, "diff: out of memory");
	out->n = 0;
	for (i = 0; i < len; i++) {
		if (text[i] == '\n' || i == len - 1) {
			out->v[out->n].text = text + start;
			out->v[out->n].len = i + 1 - start;
			out->n++;
			start = i + 1;
		}
	}
	return 0;
}

static int same(const struct line *x, const struct line *y)
{
	return x->len == y->len && memcmp(x->text, y->text, x->len) == 0;
}

/*
 * The edit script for a[lo_a, hi_a) against b[lo_b, hi_b) (the middle after trimming the common
 * prefix and suffix), appended to ops.
 */
static int middle_ops(struct op *ops, size_t *n_ops, const struct lines *a, size_t lo_a,
                      size_t hi_a, const struct lines *b, size_t lo_b, size_t hi_b)
{
	size_t n = hi_a - lo_a, m = hi_b - lo_b, i, j;
	uint16_t *t;

	if (n == 0 || m == 0 || (uint64_t)(n + 1) * (m + 1) > DIFF_MAX_CELLS) {
		for (i = lo_a; i < hi_a; i++)
			ops[(*n_ops)++] = (struct op){'-', i, 0};
		for (j = lo_b; j < hi_b; j++)
			ops[(*n_ops)++] = (struct op){'+', 0, j};
		return 0;
	}
	/* t[i][j]: LCS length of a[lo_a + i ..] and b[lo_b + j ..]. */
	t = calloc((n + 1) * (m + 1), sizeof(*t));
	if (!t)
		return ovr_err_set(OVR_ERR_NOMEM, "diff: out of memory");
	for (i = n; i-- > 0;)
		for (j = m; j-- > 0;) {
			if (same(&a->v[lo_a + i], &b->v[lo_b + j]))
				t[i * (m + 1) + j] = (uint16_t)(t[(i + 1) * (m + 1) + j + 1] + 1);
			else {
				uint16_t down = t[(i + 1) * (m + 1) + j];
				uint16_t right = t[i * (m + 1) + j + 1];

				t[i * (m + 1) + j] = down >= right ? down : right;
			}
		}
	i = 0;
	j = 0;
	while (i < n || j < m) {
		if (i < n && j < m && same(&a->v[lo_a + i], &b->v[lo_b + j])) {
			ops[(*n_ops)++] = (struct op){' ', lo_a + i, lo_b + j};
			i++;
			j++;
		} else if (j == m ||
		           (i < n && t[(i + 1) * (m + 1) + j] >= t[i * (m + 1) + j + 1])) {
			ops[(*n_ops)++] = (struct op){'-', lo_a + i, 0};
			i++;
		} else {
			ops[(*n_ops)++] = (struct op){'+', 0, lo_b + j};
			j++;
		}
	}
	free(t);
	return 0;
}

static void emit_line(struct buf *o, char kind, const struct line *l)
{
	buf_add(o, &kind, 1);
	buf_add(o, l->text, l->len);
	if (!l->len || l->text[l->len - 1] != '\n')
		buf_str(o, "\n\\ No newline at end of file\n");
}

static void emit_hunk(struct buf *o, const struct op *ops, size_t from, size_t to,
                      const struct lines *a, const struct lines *b)
{
	size_t a_start = 0, b_start = 0, a_n = 0, b_n = 0, k;
	int a_set = 0, b_set = 0;
	char head[96];

	for (k = from; k < to; k++) {
		if (ops[k].kind != '+') {
			if (!a_set)
				a_start = ops[k].ai, a_set = 1;
			a_n++;
		}
		if (ops[k].kind != '-') {
			if (!b_set)
				b_start = ops[k].bi, b_set = 1;
			b_n++;
		}
	}
	/* An empty side names the line before the hunk (0 at the top), as diff -u does. */
	if (!a_set)
		for (k = from; k-- > 0;)
			if (ops[k].kind != '+') {
				a_start = ops[k].ai + 1;
				break;
			}
	if (!b_set)
		for (k = from; k-- > 0;)
			if (ops[k].kind != '-') {
				b_start = ops[k].bi + 1;
				break;
			}
	snprintf(head, sizeof(head), "@@ -%zu,%zu +%zu,%zu @@\n", a_n ? a_start + 1 : a_start, a_n,
	         b_n ? b_start + 1 : b_start, b_n);
	buf_str(o, head);
	for (k = from; k < to; k++)
		emit_line(o, ops[k].kind, ops[k].kind == '+' ? &b->v[ops[k].bi] : &a->v[ops[k].ai]);
}

int diff_unified(struct arena *ar, char **out, const char *a_text, size_t a_len, const char *b_text,
                 size_t b_len, const char *a_label, const char *b_label)
{
	struct lines a = {0}, b = {0};
	struct buf o = {0};
	struct op *ops = NULL;
	size_t n_ops = 0, pre = 0, suf = 0, k, i;
	int err;

	*out = NULL;
	err = split(&a, a_text, a_len, a_label);
	if (!err)
		err = split(&b, b_text, b_len, b_label);
	if (err)
		goto out;
	while (pre < a.n && pre < b.n && same(&a.v[pre], &b.v[pre]))
		pre++;
	while (suf < a.n - pre && suf < b.n - pre && same(&a.v[a.n - 1 - suf], &b.v[b.n - 1 - suf]))
		suf++;
	if (pre == a.n && pre == b.n) {
		*out = arena_strdup(ar, "");
		goto out;
	}
	ops = calloc(a.n + b.n + 1, sizeof(*ops));
	if (!ops) {
		err = ovr_err_set(OVR_ERR_NOMEM, "diff: out of memory");
		goto out;
	}
	for (i = 0; i < pre; i++)
		ops[n_ops++] = (struct op){' ', i, i};
	err = middle_ops(ops, &n_ops, &a, pre, a.n - suf, &b, pre, b.n - suf);
	if (err)
		goto out;
	for (i = 0; i < suf; i++)
		ops[n_ops++] = (struct op){' ', a.n - suf + i, b.n - suf + i};

	buf_str(&o, "--- ");
	buf_str(&o, a_label);
	buf_str(&o, "\n+++ ");
	buf_str(&o, b_label);
	buf_str(&o, "\n");
	/* Hunks: each change with DIFF_CONTEXT lines around it, merged when their context meets. */
	k = 0;
	while (k < n_ops) {
		size_t first, last, start, end;

		while (k < n_ops && ops[k].kind == ' ')
			k++;
		if (k == n_ops)
			break;
		first = k;
		last = k;
		for (k = first + 1; k < n_ops; k++) {
			if (ops[k].kind != ' ') {
				last = k;
				continue;
			}
			if (k - last > 2 * DIFF_CONTEXT)
				break;
		}
		start = first > DIFF_CONTEXT ? first - DIFF_CONTEXT : 0;
		end = last + 1 + DIFF_CONTEXT < n_ops ? last + 1 + DIFF_CONTEXT : n_ops;
		emit_hunk(&o, ops, start, end, &a, &b);
		k = end;
	}
	if (o.failed) {
		err = ovr_err_set(OVR_ERR_NOMEM, "diff: out of memory");
		goto out;
	}
	*out = arena_strdup(ar, o.p ? o.p : "");
out:
	free(a.v);
	free(b.v);
	free(ops);
	free(o.p);
	return err;
}
