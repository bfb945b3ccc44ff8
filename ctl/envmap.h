/*
 * ovrctl's plain environment for app versions: KEY=VALUE from flags and env files, merged into
 * an app's current environment and handed to requests as protobuf map entries.
 */
#ifndef OVR_ENVMAP_H
#define OVR_ENVMAP_H

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>

/* Most variables one map holds (the server has its own, lower, limit). */
#define ENVMAP_MAX 4096
/* Longest variable name. */
#define ENVMAP_KEY_MAX 256

struct envmap_entry {
	char *key; /* owned */
	char *value;
};

/* Entries in insertion order, one per key. Zero it to start; envmap_free releases it. */
struct envmap {
	struct envmap_entry *entries;
	size_t n, cap;
};

/* 1 if key matches [A-Za-z_][A-Za-z0-9_]* and is at most ENVMAP_KEY_MAX bytes. */
int envmap_key_valid(const char *key);

/* Sets key (validated) to value (copied), replacing an earlier value. 0 or OVR_ERR_INVALID. */
int envmap_set(struct envmap *m, const char *key, const char *value);

/* Parses "KEY=VALUE" (the value may be empty or contain '='), as --env gives it. */
int envmap_set_arg(struct envmap *m, const char *text);

/* Removes key. 1 if it was set, 0 if not. */
int envmap_unset(struct envmap *m, const char *key);

/* The value of key, or NULL. */
const char *envmap_get(const struct envmap *m, const char *key);

/*
 * Applies env-file text of len bytes: one KEY=VALUE per line, the value taken literally (no
 * quotes removed, no expansion), blank lines and lines starting with '#' skipped, leading blanks
 * and a trailing CR ignored. Errors name "name:line". 0 or OVR_ERR_INVALID.
 */
int envmap_parse(struct envmap *m, const char *text, size_t len, const char *name);

/* envmap_parse of a file of at most 1 MiB. */
int envmap_load_file(struct envmap *m, const char *path);

/* Sorts the entries by key. */
void envmap_sort(struct envmap *m);

/*
 * Map entries for a request's map<string, string> field: *out is an array of m->n messages of
 * the map-entry type entry_desc (e.g. overseer__v1__deploy_app_request__environment_entry__
 * descriptor) pointing at m's strings, so m must outlive them. Free with envmap_entries_free.
 */
int envmap_entries(ProtobufCMessage ***out, const struct envmap *m,
                   const ProtobufCMessageDescriptor *entry_desc);
void envmap_entries_free(ProtobufCMessage **entries, size_t n);

void envmap_free(struct envmap *m);

/* --- The command-line flags that fill a map --- */

#define ENVMAP_ARGS_MAX 256

struct ctl;

/* --env-file FILE, --env K=V and --unset-env K as given (pointers into argv). */
struct envmap_args {
	const char *files[ENVMAP_ARGS_MAX];
	const char *sets[ENVMAP_ARGS_MAX];
	const char *unsets[ENVMAP_ARGS_MAX];
	size_t n_files, n_sets, n_unsets;
};

/*
 * If argv[*i] is --env, --env-file or (when allow_unset) --unset-env, checks and records it,
 * advances *i and returns 1; -1 after printing a usage error; 0 for any other argument.
 */
int envmap_args_parse(struct envmap_args *a, const struct ctl *ctl, int argc, char **argv, int *i,
                      int allow_unset);

/* 1 if any of the flags was given. */
int envmap_args_given(const struct envmap_args *a);

/* A name both set and unset: prints a usage error and returns CTL_EXIT_USAGE; else 0. */
int envmap_args_check(const struct envmap_args *a, const struct ctl *ctl);

/*
 * Applies the flags to m: the files in order, then --env (so --env wins), then --unset-env.
 * *n_missing counts --unset-env names m did not hold.
 * 0 or a negative enum ovr_err with the message set.
 */
int envmap_args_apply(struct envmap *m, const struct envmap_args *a, size_t *n_missing);

#endif
