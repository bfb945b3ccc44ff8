/* Node labels and label selectors: validation and their JSON form in the database. */
#ifndef OVR_LABELS_H
#define OVR_LABELS_H

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>

#include "arena.h"

/*
 * Every generated map<string, string> entry (Node__LabelsEntry, ...) has this layout, so one
 * piece of code serves them all.
 */
struct label_entry {
	ProtobufCMessage base;
	char *key;
	char *value;
};

#define LABELS_MAX 64

/* Checks every key and value; OVR_ERR_INVALID naming the bad one. */
int labels_validate(size_t n, void *const *entries);

/* The labels as a JSON object text (arena). */
char *labels_to_json(struct arena *a, size_t n, void *const *entries);

/*
 * Parses a JSON object of strings from the database into map entries of entry_desc allocated in
 * the arena.
 */
int labels_from_json(struct arena *a, const char *json,
                     const ProtobufCMessageDescriptor *entry_desc, size_t *n_out,
                     void ***entries_out);

/* Parses a selector "k=v[,k2=v2]" into a JSON object text (arena); OVR_ERR_INVALID naming it. */
int labels_selector_to_json(struct arena *a, const char *selector, char **json_out);

#endif
