/* A bounded line-based unified diff (LCS), for DiffVersions. */
#ifndef OVR_DIFF_H
#define OVR_DIFF_H

#include <stddef.h>

#include "arena.h"

#define DIFF_MAX_BYTES (1024 * 1024) /* per input */
#define DIFF_MAX_LINES 20000         /* per input */
#define DIFF_CONTEXT   3

/*
 * The unified diff ("--- a_label", "+++ b_label", "@@ -l,n +l,n @@" hunks with DIFF_CONTEXT
 * lines of context) turning a into b, NUL-terminated in the arena; "" when they are equal. A last
 * line without '\n' is followed by "\ No newline at end of file". The diff is minimal (longest
 * common subsequence) when the differing middle of the inputs holds at most 16M line pairs, else
 * it replaces that middle whole. OVR_ERR_TOO_LARGE when an input exceeds DIFF_MAX_BYTES or
 * DIFF_MAX_LINES.
 */
int diff_unified(struct arena *ar, char **out, const char *a, size_t a_len, const char *b,
                 size_t b_len, const char *a_label, const char *b_label);

#endif
