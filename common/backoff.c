/* Exponential backoff with jitter. */
#include "backoff.h"

void backoff_init(struct backoff *b, int64_t initial_ms, int64_t max_ms, uint64_t seed)
{
	b->initial_ms = initial_ms > 0 ? initial_ms : 1;
	b->max_ms = max_ms >= b->initial_ms ? max_ms : b->initial_ms;
	b->ceiling_ms = 0;
	b->rng = seed ? seed : 0x9e3779b97f4a7c15ULL;
}

static uint64_t xorshift(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	*s = x;
	return x;
}

int64_t backoff_next(struct backoff *b)
{
	int64_t half;

	if (b->ceiling_ms == 0)
		b->ceiling_ms = b->initial_ms;
	else if (b->ceiling_ms < b->max_ms)
		b->ceiling_ms = b->ceiling_ms * 2 < b->max_ms ? b->ceiling_ms * 2 : b->max_ms;
	half = b->ceiling_ms / 2;
	return half + (int64_t)(xorshift(&b->rng) % (uint64_t)(b->ceiling_ms - half + 1));
}

void backoff_reset(struct backoff *b)
{
	b->ceiling_ms = 0;
}
