/* Request arena: aligned zeroed allocations, blocks of any size, string helpers, free and reuse. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "arena.h"

#define ALIGN _Alignof(max_align_t)

static int aligned(const void *p)
{
	return (uintptr_t)p % ALIGN == 0;
}

static int all_bytes(const void *p, unsigned char v, size_t n)
{
	const unsigned char *b = p;
	size_t i;

	for (i = 0; i < n; i++)
		if (b[i] != v)
			return 0;
	return 1;
}

static void test_alignment(void **state)
{
	struct arena a = {NULL};
	size_t size;

	(void)state;
	for (size = 1; size <= 200; size++) {
		void *p = arena_alloc(&a, size);

		assert_true(aligned(p));
		/* Any object type that fits can live there. */
		if (size >= sizeof(long double))
			*(long double *)p = 1.5L;
	}
	assert_true(aligned(arena_alloc(&a, 1)));
	assert_true(aligned(arena_strdup(&a, "x")));
	assert_true(aligned(arena_calloc(&a, 3, 7)));
	assert_true(aligned(arena_alloc(&a, 100000)));
	assert_true(aligned(arena_alloc(&a, 3)));
	arena_free(&a);
}

struct chunk {
	unsigned char *p;
	size_t size;
};

/* Allocations never overlap, whatever mix of sizes crosses block boundaries. */
static void test_no_overlap_and_zeroed(void **state)
{
	static const size_t sizes[] = {1,    7,     16, 100, 4095, 4096, 4097,   3,
	                               5000, 65536, 1,  33,  8192, 2,    200000, 17};
	struct chunk c[64];
	struct arena a = {NULL};
	size_t i, n = 0;

	(void)state;
	for (i = 0; i < 64; i++) {
		size_t size = sizes[i % (sizeof(sizes) / sizeof(sizes[0]))];

		c[n].p = arena_alloc(&a, size);
		c[n].size = size;
		assert_true(all_bytes(c[n].p, 0, size));
		memset(c[n].p, (int)(n + 1), size);
		n++;
	}
	for (i = 0; i < n; i++) {
		if (!all_bytes(c[i].p, (unsigned char)(i + 1), c[i].size))
			print_message("chunk %zu (%zu bytes) was overwritten\n", i, c[i].size);
		assert_true(all_bytes(c[i].p, (unsigned char)(i + 1), c[i].size));
	}
	arena_free(&a);
}

static void test_large_allocation(void **state)
{
	struct arena a = {NULL};
	unsigned char *small, *big, *after;
	size_t big_size = 3 * 1024 * 1024 + 5;

	(void)state;
	small = arena_alloc(&a, 10);
	memset(small, 0x11, 10);
	big = arena_alloc(&a, big_size);
	assert_non_null(big);
	assert_true(aligned(big));
	assert_true(all_bytes(big, 0, big_size));
	memset(big, 0x22, big_size);
	/* Small allocations before and after the big one stay intact and apart. */
	after = arena_alloc(&a, 10);
	memset(after, 0x33, 10);
	assert_true(all_bytes(small, 0x11, 10));
	assert_true(all_bytes(big, 0x22, big_size));
	assert_true(all_bytes(after, 0x33, 10));
	/* A big allocation into an empty arena, too. */
	arena_free(&a);
	big = arena_alloc(&a, big_size);
	memset(big, 0x44, big_size);
	assert_true(all_bytes(big, 0x44, big_size));
	arena_free(&a);
}

static void test_many_small(void **state)
{
	struct arena a = {NULL};
	uint32_t *p[20000];
	uint32_t i;

	(void)state;
	for (i = 0; i < 20000; i++) {
		p[i] = arena_alloc(&a, sizeof(uint32_t) * 3);
		p[i][0] = i;
		p[i][2] = ~i;
	}
	for (i = 0; i < 20000; i++) {
		assert_int_equal(p[i][0], i);
		assert_int_equal(p[i][1], 0);
		assert_int_equal(p[i][2], ~i);
	}
	arena_free(&a);
}

static void test_strings(void **state)
{
	struct arena a = {NULL};
	char src[] = "web-frontend";
	char *dup, *ndup, *pr, *empty;

	(void)state;
	dup = arena_strdup(&a, src);
	assert_string_equal(dup, "web-frontend");
	assert_ptr_not_equal(dup, src);
	src[0] = 'X';
	assert_string_equal(dup, "web-frontend");

	ndup = arena_strndup(&a, "web-frontend", 3);
	assert_string_equal(ndup, "web");
	ndup = arena_strndup(&a, "", 0);
	assert_string_equal(ndup, "");

	empty = arena_strdup(&a, "");
	assert_string_equal(empty, "");

	pr = arena_printf(&a, "%s v%d (%05.1f%%) %c", "app", 42, 3.5, '!');
	assert_string_equal(pr, "app v42 (003.5%) !");
	pr = arena_printf(&a, "%s", "");
	assert_string_equal(pr, "");
	arena_free(&a);
}

static void test_printf_long(void **state)
{
	struct arena a = {NULL};
	char *big = malloc(20001);
	char *pr;

	(void)state;
	assert_non_null(big);
	memset(big, 'q', 20000);
	big[20000] = '\0';
	pr = arena_printf(&a, "<%s|%d>", big, 7);
	assert_int_equal(strlen(pr), 20000 + 4);
	assert_int_equal(pr[0], '<');
	assert_true(all_bytes(pr + 1, 'q', 20000));
	assert_string_equal(pr + 20001, "|7>");
	/* A long string does not clobber what was allocated before or after it. */
	assert_string_equal(arena_strdup(&a, "after"), "after");
	assert_int_equal(pr[0], '<');
	free(big);
	arena_free(&a);
}

static void test_arena_calloc(void **state)
{
	struct arena a = {NULL};
	uint64_t *v;
	size_t i;

	(void)state;
	v = arena_calloc(&a, 1000, sizeof(*v));
	assert_true(aligned(v));
	for (i = 0; i < 1000; i++)
		assert_int_equal(v[i], 0);
	for (i = 0; i < 1000; i++)
		v[i] = i;
	assert_int_equal(v[999], 999);
	arena_free(&a);
}

static void test_free_and_reuse(void **state)
{
	struct arena a = {NULL};
	unsigned char *p;
	int round;

	(void)state;
	arena_free(&a);
	assert_null(a.head);
	for (round = 0; round < 5; round++) {
		p = arena_alloc(&a, 3000);
		assert_true(all_bytes(p, 0, 3000));
		memset(p, 0xff, 3000);
		p = arena_alloc(&a, 3000);
		assert_true(all_bytes(p, 0, 3000));
		memset(p, 0xff, 3000);
		arena_free(&a);
		assert_null(a.head);
	}
}

/*
 * Runs fn in a child; returns 1 if the process was ended on purpose (exit with an error status
 * or abort) rather than fn returning or the process crashing on a short buffer.
 */
static int dies_on_purpose(void (*fn)(void))
{
	pid_t pid = fork();
	int status;

	if (pid == 0) {
		/* Keep the child's fatal message out of the test output. */
		FILE *null = freopen("/dev/null", "w", stderr);

		(void)null;
		/* cmocka catches these to report a failing test; here they must end the child. */
		signal(SIGSEGV, SIG_DFL);
		signal(SIGBUS, SIG_DFL);
		signal(SIGILL, SIG_DFL);
		signal(SIGFPE, SIG_DFL);
		fn();
		_exit(0);
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid)
		return 0;
	if (WIFEXITED(status))
		return WEXITSTATUS(status) != 0;
	return WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT;
}

static void calloc_overflow(void)
{
	struct arena a = {NULL};

	arena_calloc(&a, SIZE_MAX / 4 + 2, 8);
}

static void alloc_overflow(void)
{
	struct arena a = {NULL};

	arena_alloc(&a, SIZE_MAX - 2);
}

/* A size that wraps around is never handed back as a short buffer. */
static void test_overflow_aborts(void **state)
{
	(void)state;
	assert_true(dies_on_purpose(calloc_overflow));
	assert_true(dies_on_purpose(alloc_overflow));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_alignment),
	        cmocka_unit_test(test_no_overlap_and_zeroed),
	        cmocka_unit_test(test_large_allocation),
	        cmocka_unit_test(test_many_small),
	        cmocka_unit_test(test_strings),
	        cmocka_unit_test(test_printf_long),
	        cmocka_unit_test(test_arena_calloc),
	        cmocka_unit_test(test_free_and_reuse),
	        cmocka_unit_test(test_overflow_aborts),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
