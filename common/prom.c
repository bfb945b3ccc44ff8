/* The Prometheus text exposition format 0.0.4: families, samples, escaping, histograms. */
#include "prom.h"

#include "err.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PROM_MAX_LABELS 8 /* a histogram's own labels and le */

void prom_histogram_init(struct prom_histogram *h, const double *bounds, size_t n_bounds)
{
	h->bounds = bounds;
	h->n_bounds = n_bounds > PROM_MAX_BUCKETS ? PROM_MAX_BUCKETS : n_bounds;
}

void prom_histogram_observe_us(struct prom_histogram *h, int64_t us)
{
	double secs;
	size_t i;

	if (us < 0)
		us = 0;
	secs = (double)us / 1e6;
	for (i = 0; i < h->n_bounds && secs > h->bounds[i]; i++)
		;
	atomic_fetch_add_explicit(&h->counts[i], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&h->sum_us, (uint_fast64_t)us, memory_order_relaxed);
}

/* ------------------------------------------------------------------ text */

static void put(struct prom_text *t, const char *s, size_t n)
{
	if (t->failed)
		return;
	if (n > PROM_MAX_TEXT - t->len) {
		t->failed = OVR_ERR_TOO_LARGE;
		return;
	}
	if (t->len + n + 1 > t->cap) {
		size_t cap = t->cap ? t->cap : 4096;
		char *grown;

		while (cap < t->len + n + 1)
			cap *= 2;
		grown = realloc(t->buf, cap);
		if (!grown) {
			t->failed = OVR_ERR_NOMEM;
			return;
		}
		t->buf = grown;
		t->cap = cap;
	}
	memcpy(t->buf + t->len, s, n);
	t->len += n;
	t->buf[t->len] = '\0';
}

static void put_str(struct prom_text *t, const char *s)
{
	put(t, s, strlen(s));
}

/* Escapes backslash and newline, and with quotes the double quote too (label values). */
static void put_escaped(struct prom_text *t, const char *s, int quotes)
{
	const char *run = s;

	for (; *s; s++) {
		const char *esc = NULL;

		if (*s == '\\')
			esc = "\\\\";
		else if (*s == '\n')
			esc = "\\n";
		else if (*s == '"' && quotes)
			esc = "\\\"";
		if (!esc)
			continue;
		put(t, run, (size_t)(s - run));
		put_str(t, esc);
		run = s + 1;
	}
	put(t, run, (size_t)(s - run));
}

void prom_family(struct prom_text *t, const char *name, const char *type, const char *help)
{
	put_str(t, "# HELP ");
	put_str(t, name);
	put_str(t, " ");
	put_escaped(t, help, 0);
	put_str(t, "\n# TYPE ");
	put_str(t, name);
	put_str(t, " ");
	put_str(t, type);
	put_str(t, "\n");
}

/* a == b without -Wfloat-equal's complaint (neither is NaN here). */
static int same(double a, double b)
{
	return !(a < b) && !(a > b);
}

void prom_format_value(char *buf, size_t size, double v)
{
	int prec;

	if (isnan(v)) {
		snprintf(buf, size, "NaN");
		return;
	}
	if (isinf(v)) {
		snprintf(buf, size, v > 0 ? "+Inf" : "-Inf");
		return;
	}
	/* Integers up to 2^53 print exactly, without an exponent. */
	if (fabs(v) < 9007199254740992.0 && same(v, (double)(int64_t)v)) {
		snprintf(buf, size, "%.0f", v);
		return;
	}
	/* The shortest form that reads back as v: 0.25 rather than 0.25000000000000000. */
	for (prec = 1; prec < 17; prec++) {
		snprintf(buf, size, "%.*g", prec, v);
		if (same(strtod(buf, NULL), v))
			return;
	}
	snprintf(buf, size, "%.17g", v);
}

static void put_sample(struct prom_text *t, const char *name, const char *suffix,
                       const struct prom_label *labels, size_t n_labels, const char *value)
{
	size_t i;

	put_str(t, name);
	put_str(t, suffix);
	if (n_labels) {
		put_str(t, "{");
		for (i = 0; i < n_labels; i++) {
			if (i)
				put_str(t, ",");
			put_str(t, labels[i].name);
			put_str(t, "=\"");
			put_escaped(t, labels[i].value ? labels[i].value : "", 1);
			put_str(t, "\"");
		}
		put_str(t, "}");
	}
	put_str(t, " ");
	put_str(t, value);
	put_str(t, "\n");
}

void prom_sample(struct prom_text *t, const char *name, const struct prom_label *labels,
                 size_t n_labels, double value)
{
	char v[64];

	prom_format_value(v, sizeof(v), value);
	put_sample(t, name, "", labels, n_labels, v);
}

void prom_sample_u64(struct prom_text *t, const char *name, const struct prom_label *labels,
                     size_t n_labels, uint64_t value)
{
	char v[32];

	snprintf(v, sizeof(v), "%" PRIu64, value);
	put_sample(t, name, "", labels, n_labels, v);
}

void prom_histogram_write(struct prom_text *t, const char *name, const struct prom_label *labels,
                          size_t n_labels, const struct prom_histogram *h)
{
	struct prom_label with_le[PROM_MAX_LABELS];
	char le[64], v[64];
	uint64_t cumulative = 0, sum_us;
	size_t i;

	if (n_labels > PROM_MAX_LABELS - 1)
		n_labels = PROM_MAX_LABELS - 1;
	if (n_labels)
		memcpy(with_le, labels, n_labels * sizeof(*labels));
	with_le[n_labels].name = "le";
	with_le[n_labels].value = le;
	/* Each bucket is read once, so +Inf and _count agree even while observations go on. */
	for (i = 0; i <= h->n_bounds; i++) {
		cumulative += atomic_load_explicit(&h->counts[i], memory_order_relaxed);
		prom_format_value(le, sizeof(le), i < h->n_bounds ? h->bounds[i] : HUGE_VAL);
		snprintf(v, sizeof(v), "%" PRIu64, cumulative);
		put_sample(t, name, "_bucket", with_le, n_labels + 1, v);
	}
	sum_us = atomic_load_explicit(&h->sum_us, memory_order_relaxed);
	prom_format_value(v, sizeof(v), (double)sum_us / 1e6);
	put_sample(t, name, "_sum", labels, n_labels, v);
	snprintf(v, sizeof(v), "%" PRIu64, cumulative);
	put_sample(t, name, "_count", labels, n_labels, v);
}

char *prom_text_finish(struct prom_text *t, size_t *len)
{
	char *out;
	int failed;

	if (!t->buf)
		put(t, "", 0); /* an empty scrape is still a string */
	out = t->buf;
	failed = t->failed;
	*len = failed ? 0 : t->len;
	memset(t, 0, sizeof(*t));
	if (!failed)
		return out;
	free(out);
	if (failed == OVR_ERR_NOMEM)
		ovr_err_set(failed, "out of memory");
	else
		ovr_err_set(failed, "metrics text over %d bytes", PROM_MAX_TEXT);
	return NULL;
}
