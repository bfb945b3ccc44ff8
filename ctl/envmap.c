/* ovrctl's plain environment: parsing, merging and request map entries. */
#include "envmap.h"

#include "args.h"
#include "ctl.h"
#include "err.h"
#include "fsutil.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int envmap_key_valid(const char *key)
{
	size_t i;

	if (!((key[0] >= 'A' && key[0] <= 'Z') || (key[0] >= 'a' && key[0] <= 'z') ||
	      key[0] == '_'))
		return 0;
	for (i = 1; key[i]; i++)
		if (!((key[i] >= 'A' && key[i] <= 'Z') || (key[i] >= 'a' && key[i] <= 'z') ||
		      (key[i] >= '0' && key[i] <= '9') || key[i] == '_'))
			return 0;
	return i <= ENVMAP_KEY_MAX;
}

static struct envmap_entry *find(const struct envmap *m, const char *key)
{
	size_t i;

	for (i = 0; i < m->n; i++)
		if (strcmp(m->entries[i].key, key) == 0)
			return &m->entries[i];
	return NULL;
}

int envmap_set(struct envmap *m, const char *key, const char *value)
{
	struct envmap_entry *e;
	char *copy;

	if (!envmap_key_valid(key))
		return ovr_err_set(OVR_ERR_INVALID,
		                   "'%.80s' is not a valid variable name ([A-Za-z_][A-Za-z0-9_]*, "
		                   "at most %d characters)",
		                   key, ENVMAP_KEY_MAX);
	copy = strdup(value);
	if (!copy)
		return ovr_err_set(OVR_ERR_NOMEM, "out of memory");
	e = find(m, key);
	if (e) {
		free(e->value);
		e->value = copy;
		return 0;
	}
	if (m->n >= ENVMAP_MAX) {
		free(copy);
		return ovr_err_set(OVR_ERR_INVALID, "at most %d variables", ENVMAP_MAX);
	}
	if (m->n == m->cap) {
		size_t cap = m->cap ? m->cap * 2 : 16;
		struct envmap_entry *grown = realloc(m->entries, cap * sizeof(*grown));

		if (!grown) {
			free(copy);
			return ovr_err_set(OVR_ERR_NOMEM, "out of memory");
		}
		m->entries = grown;
		m->cap = cap;
	}
	e = &m->entries[m->n];
	e->key = strdup(key);
	if (!e->key) {
		free(copy);
		return ovr_err_set(OVR_ERR_NOMEM, "out of memory");
	}
	e->value = copy;
	m->n++;
	return 0;
}

int envmap_set_arg(struct envmap *m, const char *text)
{
	const char *eq = strchr(text, '=');
	char key[ENVMAP_KEY_MAX + 1];

	if (!eq)
		return ovr_err_set(OVR_ERR_INVALID, "'%.80s' is not KEY=VALUE", text);
	if ((size_t)(eq - text) > ENVMAP_KEY_MAX)
		return ovr_err_set(OVR_ERR_INVALID, "'%.80s...': the name is longer than %d", text,
		                   ENVMAP_KEY_MAX);
	memcpy(key, text, (size_t)(eq - text));
	key[eq - text] = '\0';
	return envmap_set(m, key, eq + 1);
}

int envmap_unset(struct envmap *m, const char *key)
{
	struct envmap_entry *e = find(m, key);
	size_t i;

	if (!e)
		return 0;
	i = (size_t)(e - m->entries);
	free(e->key);
	free(e->value);
	memmove(&m->entries[i], &m->entries[i + 1], (m->n - i - 1) * sizeof(*e));
	m->n--;
	return 1;
}

const char *envmap_get(const struct envmap *m, const char *key)
{
	const struct envmap_entry *e = find(m, key);

	return e ? e->value : NULL;
}

int envmap_parse(struct envmap *m, const char *text, size_t len, const char *name)
{
	const char *p = text, *end = text + len;
	char msg[1100];
	int line = 0;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *stop = nl ? nl : end;
		size_t n;
		char *copy;
		int err;

		line++;
		while (p < stop && (*p == ' ' || *p == '\t'))
			p++;
		n = (size_t)(stop - p);
		if (n && p[n - 1] == '\r')
			n--;
		if (n == 0 || p[0] == '#') {
			p = stop + 1;
			continue;
		}
		if (memchr(p, '\0', n))
			return ovr_err_set(OVR_ERR_INVALID, "%s:%d: contains a NUL byte", name,
			                   line);
		copy = strndup(p, n);
		if (!copy)
			return ovr_err_set(OVR_ERR_NOMEM, "out of memory");
		err = envmap_set_arg(m, copy);
		free(copy);
		if (err) {
			/* Copied first: ovr_err_set writes the buffer ovr_err_msg returns. */
			snprintf(msg, sizeof(msg), "%s", ovr_err_msg(err));
			return ovr_err_set(err, "%s:%d: %s", name, line, msg);
		}
		p = stop + 1;
	}
	return 0;
}

int envmap_load_file(struct envmap *m, const char *path)
{
	char *text = NULL;
	size_t len = 0;
	char msg[1100];
	int err;

	err = fs_read_file(&text, &len, path, CTL_FILE_MAX);
	if (err == OVR_ERR_TOO_LARGE)
		return ovr_err_set(err, "env file %s: larger than the limit of %d KiB", path,
		                   CTL_FILE_MAX / 1024);
	if (err) {
		snprintf(msg, sizeof(msg), "%s", ovr_err_msg(err));
		return ovr_err_set(err, "env file %s", msg);
	}
	err = envmap_parse(m, text, len, path);
	free(text);
	return err;
}

static int entry_cmp(const void *a, const void *b)
{
	return strcmp(((const struct envmap_entry *)a)->key, ((const struct envmap_entry *)b)->key);
}

void envmap_sort(struct envmap *m)
{
	if (m->n > 1)
		qsort(m->entries, m->n, sizeof(*m->entries), entry_cmp);
}

int envmap_entries(ProtobufCMessage ***out, const struct envmap *m,
                   const ProtobufCMessageDescriptor *entry_desc)
{
	const ProtobufCFieldDescriptor *kf, *vf;
	ProtobufCMessage **entries;
	size_t i;

	*out = NULL;
	kf = protobuf_c_message_descriptor_get_field_by_name(entry_desc, "key");
	vf = protobuf_c_message_descriptor_get_field_by_name(entry_desc, "value");
	if (!kf || !vf || kf->type != PROTOBUF_C_TYPE_STRING || vf->type != PROTOBUF_C_TYPE_STRING)
		return ovr_err_set(OVR_ERR_INTERNAL, "%s is not a map<string, string> entry",
		                   entry_desc->name);
	entries = calloc(m->n + 1, sizeof(*entries));
	if (!entries)
		return ovr_err_set(OVR_ERR_NOMEM, "out of memory");
	for (i = 0; i < m->n; i++) {
		ProtobufCMessage *e = calloc(1, entry_desc->sizeof_message);

		if (!e) {
			envmap_entries_free(entries, i);
			return ovr_err_set(OVR_ERR_NOMEM, "out of memory");
		}
		protobuf_c_message_init(entry_desc, e);
		*(char **)(void *)((char *)e + kf->offset) = m->entries[i].key;
		*(char **)(void *)((char *)e + vf->offset) = m->entries[i].value;
		entries[i] = e;
	}
	*out = entries;
	return 0;
}

void envmap_entries_free(ProtobufCMessage **entries, size_t n)
{
	size_t i;

	if (!entries)
		return;
	for (i = 0; i < n; i++)
		free(entries[i]);
	free(entries);
}

void envmap_free(struct envmap *m)
{
	size_t i;

	for (i = 0; i < m->n; i++) {
		free(m->entries[i].key);
		free(m->entries[i].value);
	}
	free(m->entries);
	memset(m, 0, sizeof(*m));
}

/* Records one flag value in list (of ENVMAP_ARGS_MAX). */
static int record(const char **list, size_t *n, const struct ctl *ctl, const char *flag,
                  const char *value)
{
	if (*n >= ENVMAP_ARGS_MAX) {
		ctl_usage(ctl, "%s: given more than %d times", flag, ENVMAP_ARGS_MAX);
		return -1;
	}
	list[(*n)++] = value;
	return 1;
}

int envmap_args_parse(struct envmap_args *a, const struct ctl *ctl, int argc, char **argv, int *i,
                      int allow_unset)
{
	const char *v, *eq;
	char key[ENVMAP_KEY_MAX + 1];
	int r;

	if ((r = args_value(argc, argv, i, "--env", &v)) != 0) {
		if (r < 0) {
			ctl_usage_line(ctl);
			return -1;
		}
		eq = strchr(v, '=');
		if (!eq) {
			ctl_usage(ctl, "--env: '%.80s' is not KEY=VALUE", v);
			return -1;
		}
		if ((size_t)(eq - v) > ENVMAP_KEY_MAX) {
			ctl_usage(ctl, "--env: the name is longer than %d", ENVMAP_KEY_MAX);
			return -1;
		}
		memcpy(key, v, (size_t)(eq - v));
		key[eq - v] = '\0';
		if (!envmap_key_valid(key)) {
			ctl_usage(
			        ctl,
			        "--env: '%s' is not a valid variable name ([A-Za-z_][A-Za-z0-9_]*)",
			        key);
			return -1;
		}
		return record(a->sets, &a->n_sets, ctl, "--env", v);
	}
	if ((r = args_value(argc, argv, i, "--env-file", &v)) != 0) {
		if (r < 0) {
			ctl_usage_line(ctl);
			return -1;
		}
		return record(a->files, &a->n_files, ctl, "--env-file", v);
	}
	if (allow_unset && (r = args_value(argc, argv, i, "--unset-env", &v)) != 0) {
		if (r < 0) {
			ctl_usage_line(ctl);
			return -1;
		}
		if (!envmap_key_valid(v)) {
			ctl_usage(ctl,
			          "--unset-env: '%.80s' is not a valid variable name "
			          "([A-Za-z_][A-Za-z0-9_]*)",
			          v);
			return -1;
		}
		return record(a->unsets, &a->n_unsets, ctl, "--unset-env", v);
	}
	return 0;
}

int envmap_args_given(const struct envmap_args *a)
{
	return a->n_files || a->n_sets || a->n_unsets;
}

int envmap_args_check(const struct envmap_args *a, const struct ctl *ctl)
{
	size_t i, j;

	for (i = 0; i < a->n_unsets; i++)
		for (j = 0; j < a->n_sets; j++) {
			size_t k = strlen(a->unsets[i]);

			if (strncmp(a->sets[j], a->unsets[i], k) == 0 && a->sets[j][k] == '=')
				return ctl_usage(ctl,
				                 "%s is both set (--env) and unset (--unset-env)",
				                 a->unsets[i]);
		}
	return 0;
}

int envmap_args_apply(struct envmap *m, const struct envmap_args *a, size_t *n_missing)
{
	size_t i;
	int err;

	*n_missing = 0;
	for (i = 0; i < a->n_files; i++)
		if ((err = envmap_load_file(m, a->files[i])) != 0)
			return err;
	for (i = 0; i < a->n_sets; i++)
		if ((err = envmap_set_arg(m, a->sets[i])) != 0)
			return err;
	for (i = 0; i < a->n_unsets; i++)
		if (!envmap_unset(m, a->unsets[i]))
			(*n_missing)++;
	return 0;
}
