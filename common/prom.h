/*
 * The Prometheus text exposition format (version 0.0.4) for ovr-server's and ovr-agent's
 * /metrics: a bounded text buffer, metric families with # HELP and # TYPE, samples with escaped
 * label values, and duration histograms counted here and written with cumulative buckets.
 */
#ifndef OVR_PROM_H
#define OVR_PROM_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define PROM_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"
#define PROM_MAX_BUCKETS  16                /* finite bounds of a histogram */
#define PROM_MAX_TEXT     (4 * 1024 * 1024) /* a scrape's body */

struct prom_label {
	const char *name; /* [a-zA-Z_][a-zA-Z0-9_]*: a constant of the caller's */
	const char *value;
};

/*
 * A histogram of durations. Bounds are in seconds and ascending; observations are microseconds,
 * so sums stay exact integers. Any thread may observe while another writes it out.
 */
struct prom_histogram {
	const double *bounds;
	size_t n_bounds;
	atomic_uint_fast64_t counts[PROM_MAX_BUCKETS + 1]; /* per bucket; the last is +Inf */
	atomic_uint_fast64_t sum_us;
};

/* Sets the bounds (borrowed: static data) of a zeroed histogram; past PROM_MAX_BUCKETS ignored. */
void prom_histogram_init(struct prom_histogram *h, const double *bounds, size_t n_bounds);

/* Counts one observation of us microseconds (negative counts as 0). */
void prom_histogram_observe_us(struct prom_histogram *h, int64_t us);

/* The text being built. Start zeroed; a failure (memory, PROM_MAX_TEXT) sticks until finish. */
struct prom_text {
	char *buf;
	size_t len, cap;
	int failed;
};

/* # HELP and # TYPE lines; type is "counter", "gauge" or "histogram". */
void prom_family(struct prom_text *t, const char *name, const char *type, const char *help);

/* One sample: name{labels} value. Integers print exactly, others in the shortest exact form. */
void prom_sample(struct prom_text *t, const char *name, const struct prom_label *labels,
                 size_t n_labels, double value);
void prom_sample_u64(struct prom_text *t, const char *name, const struct prom_label *labels,
                     size_t n_labels, uint64_t value);

/*
 * A histogram's samples under its family name: name_bucket{labels,le="..."} with cumulative
 * counts and le="+Inf" last, then name_sum (seconds) and name_count (= the +Inf bucket).
 * At most 7 labels besides le.
 */
void prom_histogram_write(struct prom_text *t, const char *name, const struct prom_label *labels,
                          size_t n_labels, const struct prom_histogram *h);

/*
 * The text, NUL-terminated, with its length in *len: the caller frees it. NULL with the error set
 * (OVR_ERR_NOMEM, OVR_ERR_TOO_LARGE) when building failed. t is empty again either way.
 */
char *prom_text_finish(struct prom_text *t, size_t *len);

/* Writes v as Prometheus reads it ("+Inf", "NaN", "0.25", "1e-06") into buf of size bytes. */
void prom_format_value(char *buf, size_t size, double v);

#endif
