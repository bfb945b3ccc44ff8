/*
 * The agent's applied-state record (STATE_DIR/applied.json): the desired-state generation it has
 * taken on and, per app, what it last attempted and what last applied successfully. Never holds
 * environment values: only names, versions, hashes, deployment ids and outcomes.
 */
#ifndef OVR_APPLIED_H
#define OVR_APPLIED_H

#include <stddef.h>
#include <stdint.h>

#include "executor.h"

#define APPLIED_FILE        "applied.json"
#define APPLIED_MAX_APPS    1024
#define APPLIED_NAME_MAX    64  /* ^[a-z][a-z0-9-]{0,62}$ and its NUL */
#define APPLIED_HASH_MAX    129 /* content hashes up to 128 bytes */
#define APPLIED_ID_MAX      129 /* deployment ids up to 128 bytes */
#define APPLIED_MESSAGE_MAX EXECUTOR_MESSAGE_MAX
/* The largest file read back: every app with a message that escapes to 6 bytes a byte. */
#define APPLIED_FILE_MAX (64 * 1024 * 1024)

/* One app: the last attempt (apply or remove) and the version that last applied successfully. */
struct applied_app {
	char name[APPLIED_NAME_MAX];
	/* The attempt: the desired app the agent last tried (or found already running). */
	int64_t version;
	char content_hash[APPLIED_HASH_MAX];
	char deployment_id[APPLIED_ID_MAX];
	int ok; /* outcome: 1 "ok", 0 "failed" */
	char message[APPLIED_MESSAGE_MAX];
	/* What last applied successfully and runs: 0 and "" if nothing ever did. */
	int64_t running_version;
	char running_hash[APPLIED_HASH_MAX];
	/* A Remove with purge_volumes failed: the next removal purges too. */
	int purge_pending;
};

struct applied {
	int64_t generation;
	struct applied_app *apps; /* sorted by name */
	size_t n_apps;
};

/*
 * Reads dir/applied.json into rec (zeroed first; free with applied_free). A missing file is an
 * empty record; so is a corrupt one, which is logged and renamed to applied.json.corrupt so the
 * next save does not hide it. Fails only without memory or with a path that does not fit.
 */
int applied_load(struct applied *rec, const char *dir);

/* Writes rec to dir/applied.json atomically (temporary file, fsync, rename, fsync of dir), 0600. */
int applied_save(const struct applied *rec, const char *dir);

/* The entry for name, or NULL. The pointer is valid until the next put or drop. */
struct applied_app *applied_find(struct applied *rec, const char *name);

/*
 * Inserts app, or replaces the entry with its name (app is copied; it may point into rec).
 * OVR_ERR_TOO_LARGE past APPLIED_MAX_APPS, OVR_ERR_INVALID for a bad name.
 */
int applied_put(struct applied *rec, const struct applied_app *app);

/* Removes name's entry if there is one. */
void applied_drop(struct applied *rec, const char *name);

/* A deep copy of src into dst (zeroed first); free with applied_free. */
int applied_copy(struct applied *dst, const struct applied *src);

/* Frees the entries and zeroes rec. */
void applied_free(struct applied *rec);

/* Copies src into dst (size bytes), replacing bytes that are not UTF-8 with '?'. */
void applied_utf8_copy(char *dst, size_t size, const char *src);

#endif
