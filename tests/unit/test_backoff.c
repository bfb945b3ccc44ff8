/* Reconnect backoff: delays within [ceiling/2, ceiling], doubling to a cap, reset, real jitter. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "backoff.h"

#define INITIAL 1000
#define CAP     30000
#define DRAWS   1000

/* The ceiling the n-th failure (from 0) should use: initial, doubled each time, capped. */
static int64_t ceiling_for(int n, int64_t initial, int64_t cap)
{
	int64_t c = initial;

	while (n-- > 0 && c < cap)
		c = c * 2 < cap ? c * 2 : cap;
	return c;
}

static void test_delays_follow_doubling_ceiling(void **state)
{
	uint64_t seed;
	int n;

	(void)state;
	for (seed = 1; seed <= 200; seed++) {
		struct backoff b;

		backoff_init(&b, INITIAL, CAP, seed * 0x100000001b3ULL);
		for (n = 0; n < 12; n++) {
			int64_t c = ceiling_for(n, INITIAL, CAP);
			int64_t d = backoff_next(&b);

			assert_in_range(d, c / 2, c);
		}
	}
	/* The ceilings the test expects really do double from 1 s to the 30 s cap. */
	assert_int_equal(ceiling_for(0, INITIAL, CAP), 1000);
	assert_int_equal(ceiling_for(4, INITIAL, CAP), 16000);
	assert_int_equal(ceiling_for(5, INITIAL, CAP), 30000);
	assert_int_equal(ceiling_for(11, INITIAL, CAP), 30000);
}

static void test_capped(void **state)
{
	struct backoff b;
	int64_t lo = INT64_MAX, hi = 0;
	int i;

	(void)state;
	backoff_init(&b, INITIAL, CAP, 42);
	for (i = 0; i < DRAWS; i++) {
		int64_t d = backoff_next(&b);

		assert_true(d <= CAP);
		assert_true(d >= INITIAL / 2);
		/* Once capped, never below half the cap: no hammering a recovering server. */
		if (i >= 5) {
			assert_true(d >= CAP / 2);
			if (d < lo)
				lo = d;
			if (d > hi)
				hi = d;
		}
	}
	/* The draws cover the whole window rather than sticking to one end of it. */
	assert_true(lo < CAP / 2 + CAP / 20);
	assert_true(hi > CAP - CAP / 20);
}

static void test_odd_bounds(void **state)
{
	struct backoff b;
	int i;

	(void)state;
	/* An odd initial and a cap that is not a power-of-two multiple of it. */
	backoff_init(&b, 3, 10, 7);
	for (i = 0; i < 100; i++) {
		int64_t c = ceiling_for(i, 3, 10);
		int64_t d = backoff_next(&b);

		assert_in_range(d, c / 2, c);
		assert_true(d <= 10);
	}
}

static void test_reset(void **state)
{
	struct backoff b;
	int round, i;

	(void)state;
	backoff_init(&b, INITIAL, CAP, 1234);
	for (round = 0; round < 20; round++) {
		for (i = 0; i < 8; i++)
			backoff_next(&b);
		/* After enough failures the delay is capped ... */
		assert_true(backoff_next(&b) >= CAP / 2);
		backoff_reset(&b);
		/* ... and after a success it starts again from the initial ceiling. */
		assert_in_range(backoff_next(&b), INITIAL / 2, INITIAL);
		assert_in_range(backoff_next(&b), INITIAL, 2 * INITIAL);
	}
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

static size_t distinct(int64_t *v, size_t n)
{
	size_t i, count = n ? 1 : 0;

	qsort(v, n, sizeof(*v), cmp_i64);
	for (i = 1; i < n; i++)
		if (v[i] != v[i - 1])
			count++;
	return count;
}

static void test_jitter_varies(void **state)
{
	static int64_t v[DRAWS];
	struct backoff b;
	size_t i;

	(void)state;
	backoff_init(&b, INITIAL, CAP, 99);
	for (i = 0; i < 5; i++)
		backoff_next(&b);
	for (i = 0; i < DRAWS; i++)
		v[i] = backoff_next(&b);
	/* 1000 draws from 15001 possible delays: almost all different. */
	assert_true(distinct(v, DRAWS) > DRAWS * 9 / 10);
}

/* A fleet restarted together must not reconnect in lockstep: each seed its own sequence. */
static void test_seeds_differ(void **state)
{
	static int64_t first[DRAWS];
	struct backoff a, b;
	uint64_t seed;
	int i, same = 0;

	(void)state;
	backoff_init(&a, INITIAL, CAP, 1);
	backoff_init(&b, INITIAL, CAP, 2);
	for (i = 0; i < 20; i++)
		if (backoff_next(&a) == backoff_next(&b))
			same++;
	assert_true(same < 5);

	/* The first delay after an outage, across many agents seeded differently. */
	for (seed = 0; seed < DRAWS; seed++) {
		backoff_init(&a, INITIAL, CAP, 0x9e3779b97f4a7c15ULL * (seed + 1));
		first[seed] = backoff_next(&a);
	}
	assert_true(distinct(first, DRAWS) > 250);
}

static void test_zero_seed_still_jitters(void **state)
{
	int64_t v[50];
	struct backoff b;
	size_t i;

	(void)state;
	backoff_init(&b, INITIAL, CAP, 0);
	for (i = 0; i < 5; i++)
		backoff_next(&b);
	for (i = 0; i < 50; i++)
		v[i] = backoff_next(&b);
	assert_true(distinct(v, 50) > 40);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_delays_follow_doubling_ceiling),
	        cmocka_unit_test(test_capped),
	        cmocka_unit_test(test_odd_bounds),
	        cmocka_unit_test(test_reset),
	        cmocka_unit_test(test_jitter_varies),
	        cmocka_unit_test(test_seeds_differ),
	        cmocka_unit_test(test_zero_seed_still_jitters),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
