/* An app's targets (node names and a label selector), validated, in their stored JSON form. */
#include "targets.h"

#include "err.h"
#include "labels.h"
#include "strutil.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

int targets_json(struct arena *a, const Overseer__V1__Targets *t, char **out)
{
	json_t *obj = json_object(), *nodes = json_array();
	char *selector_json, *text;
	size_t i, j;
	int err = 0;

	json_object_set_new(obj, "nodes", nodes);
	json_object_set_new(obj, "selector", json_string(""));
	if (t) {
		if (t->n_nodes > TARGETS_NODES_MAX)
			err = ovr_err_set(OVR_ERR_INVALID, "targets.nodes: at most %d nodes",
			                  TARGETS_NODES_MAX);
		for (i = 0; i < t->n_nodes && !err; i++) {
			if (!ovr_name_valid(t->nodes[i]))
				err = ovr_err_set(OVR_ERR_INVALID,
				                  "targets.nodes: '%.80s' is not a valid node name",
				                  t->nodes[i]);
			for (j = 0; j < i && !err; j++)
				if (strcmp(t->nodes[i], t->nodes[j]) == 0)
					err = ovr_err_set(OVR_ERR_INVALID,
					                  "targets.nodes: '%s' given twice",
					                  t->nodes[i]);
			if (!err)
				json_array_append_new(nodes, json_string(t->nodes[i]));
		}
		if (!err && t->selector[0]) {
			err = labels_selector_to_json(a, t->selector, &selector_json);
			if (err) {
				char msg[1100];

				ovr_strlcpy(msg, ovr_err_msg(err), sizeof(msg));
				err = ovr_err_set(err, "targets.%s", msg);
			} else {
				/* The parsed form is what the database matches node labels with. */
				json_object_set_new(obj, "selector", json_string(t->selector));
				json_object_set_new(obj, "match",
				                    json_loads(selector_json, 0, NULL));
			}
		}
	}
	if (!err) {
		text = json_dumps(obj, JSON_COMPACT | JSON_SORT_KEYS);
		*out = arena_strdup(a, text ? text : "{}");
		free(text);
	}
	json_decref(obj);
	return err;
}
