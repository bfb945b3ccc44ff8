/* Per-request allocation arena: everything a request allocates dies with it in one call. */
#ifndef OVR_ARENA_H
#define OVR_ARENA_H

#include <stddef.h>

struct arena_block;

struct arena {
	struct arena_block *head;
};

/*
 * Allocates size zeroed bytes that live until arena_free. Aborts the process if
 * memory is exhausted, like git's xmalloc: a request cannot proceed and callers need not check.
 */
void *arena_alloc(struct arena *a, size_t size);
char *arena_strdup(struct arena *a, const char *s);
char *arena_strndup(struct arena *a, const char *s, size_t n);
char *arena_printf(struct arena *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Allocates an array of n pointers/elements of size each, zeroed. */
void *arena_calloc(struct arena *a, size_t n, size_t size);

/* Frees every allocation; the arena can be reused. */
void arena_free(struct arena *a);

#endif
