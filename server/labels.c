/* Node labels and label selectors: validation and their JSON form in the database. */
#include "labels.h"

#include "err.h"
#include "strutil.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

int labels_validate(size_t n, void *const *entries)
{
	size_t i, j;

	if (n > LABELS_MAX)
		return ovr_err_set(OVR_ERR_INVALID, "labels: at most %d labels", LABELS_MAX);
	for (i = 0; i < n; i++) {
		const struct label_entry *e = entries[i];

		if (!ovr_label_valid(e->key, e->value))
			return ovr_err_set(
			        OVR_ERR_INVALID,
			        "labels: '%.80s=%.80s' is not a valid label (key: lowercase "
			        "letters, digits, '.', '_', '-', at most 63; value: at most "
			        "63 printable characters without spaces)",
			        e->key, e->value);
		for (j = 0; j < i; j++)
			if (strcmp(((const struct label_entry *)entries[j])->key, e->key) == 0)
				return ovr_err_set(OVR_ERR_INVALID, "labels: key '%s' given twice",
				                   e->key);
	}
	return 0;
}

char *labels_to_json(struct arena *a, size_t n, void *const *entries)
{
	json_t *obj = json_object();
	char *text;
	char *out;
	size_t i;

	for (i = 0; i < n; i++) {
		const struct label_entry *e = entries[i];

		json_object_set_new(obj, e->key, json_string(e->value));
	}
	text = json_dumps(obj, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(obj);
	out = arena_strdup(a, text ? text : "{}");
	free(text);
	return out;
}

int labels_from_json(struct arena *a, const char *json,
                     const ProtobufCMessageDescriptor *entry_desc, size_t *n_out,
                     void ***entries_out)
{
	json_t *obj = json_loads(json ? json : "{}", 0, NULL);
	const char *key;
	json_t *value;
	void **entries;
	size_t n = 0;

	*n_out = 0;
	*entries_out = NULL;
	if (!obj || !json_is_object(obj)) {
		json_decref(obj);
		return ovr_err_set(OVR_ERR_INTERNAL, "stored labels are not a JSON object");
	}
	entries = arena_calloc(a, json_object_size(obj) + 1, sizeof(*entries));
	json_object_foreach(obj, key, value)
	{
		struct label_entry *e = arena_alloc(a, entry_desc->sizeof_message);

		entry_desc->message_init(&e->base);
		e->key = arena_strdup(a, key);
		e->value = arena_strdup(a, json_is_string(value) ? json_string_value(value) : "");
		entries[n++] = e;
	}
	json_decref(obj);
	*n_out = n;
	*entries_out = entries;
	return 0;
}

int labels_selector_to_json(struct arena *a, const char *selector, char **json_out)
{
	char *copy = arena_strdup(a, selector);
	json_t *obj = json_object();
	char *save = NULL;
	char *part;
	char *text;
	int err = 0;

	*json_out = NULL;
	for (part = copy; part; part = save) {
		char *eq;

		save = strchr(part, ',');
		if (save)
			*save++ = '\0';
		eq = strchr(part, '=');
		if (!eq) {
			err = ovr_err_set(
			        OVR_ERR_INVALID,
			        "selector: '%.80s' is not key=value (example: role=web,zone=a)",
			        part);
			goto out;
		}
		*eq = '\0';
		if (!ovr_label_valid(part, eq + 1)) {
			err = ovr_err_set(OVR_ERR_INVALID,
			                  "selector: '%.80s=%.80s' is not a valid label", part,
			                  eq + 1);
			goto out;
		}
		if (json_object_get(obj, part)) {
			err = ovr_err_set(OVR_ERR_INVALID, "selector: key '%.80s' given twice",
			                  part);
			goto out;
		}
		json_object_set_new(obj, part, json_string(eq + 1));
	}
	text = json_dumps(obj, JSON_COMPACT | JSON_SORT_KEYS);
	*json_out = arena_strdup(a, text ? text : "{}");
	free(text);
out:
	json_decref(obj);
	return err;
}
