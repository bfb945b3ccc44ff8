/* Exponential backoff with full jitter, for reconnect loops. */
#ifndef OVR_BACKOFF_H
#define OVR_BACKOFF_H

#include <stdint.h>

struct backoff {
	int64_t initial_ms; /* first ceiling, e.g. 1000 */
	int64_t max_ms;     /* the ceiling never grows past this, e.g. 30000 */
	int64_t ceiling_ms; /* current ceiling; 0 before the first failure */
	uint64_t rng;       /* xorshift state; seed with anything non-zero */
};

void backoff_init(struct backoff *b, int64_t initial_ms, int64_t max_ms, uint64_t seed);

/*
 * The delay before the next attempt: uniform in [ceiling/2, ceiling], after which the ceiling
 * doubles up to max_ms. Half the ceiling at least, so a fleet never hammers a recovering server,
 * and jitter so it does not reconnect in lockstep.
 */
int64_t backoff_next(struct backoff *b);

/* After a success: the next failure starts from initial_ms again. */
void backoff_reset(struct backoff *b);

#endif
