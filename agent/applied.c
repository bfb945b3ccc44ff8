/* The applied-state record: load, validate, change and save STATE_DIR/applied.json. */
#include "applied.h"

#include "err.h"
#include "fsutil.h"
#include "log.h"
#include "strutil.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define APPLIED_PATH_MAX 4096

static int record_path(char *buf, size_t size, const char *dir, const char *suffix)
{
	int n = snprintf(buf, size, "%s/%s%s", dir, APPLIED_FILE, suffix);

	if (n < 0 || (size_t)n >= size)
		return ovr_err_set(OVR_ERR_CONFIG, "state_dir: path too long");
	return 0;
}

/* Length of the UTF-8 sequence at s (1-4), or 0 if it is not a valid one. */
static size_t utf8_seq(const unsigned char *s)
{
	unsigned c = s[0];

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		return (s[1] & 0xc0) == 0x80 ? 2 : 0;
	if (c >= 0xe0 && c <= 0xef) {
		if ((s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80)
			return 0;
		if ((c == 0xe0 && s[1] < 0xa0) || (c == 0xed && s[1] > 0x9f))
			return 0; /* overlong, or a UTF-16 surrogate */
		return 3;
	}
	if (c >= 0xf0 && c <= 0xf4) {
		if ((s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80 || (s[3] & 0xc0) != 0x80)
			return 0;
		if ((c == 0xf0 && s[1] < 0x90) || (c == 0xf4 && s[1] > 0x8f))
			return 0; /* overlong, or past U+10FFFF */
		return 4;
	}
	return 0;
}

void applied_utf8_copy(char *dst, size_t size, const char *src)
{
	const unsigned char *s = (const unsigned char *)(src != NULL ? src : "");
	size_t o = 0;

	if (size == 0)
		return;
	/* utf8_seq stops at the NUL: continuation bytes are never 0. */
	while (*s != '\0') {
		size_t n = utf8_seq(s);

		if (n == 0) {
			if (o + 1 >= size)
				break;
			dst[o++] = '?';
			s++;
			continue;
		}
		if (o + n >= size) /* never cut a character in two */
			break;
		memcpy(dst + o, s, n);
		o += n;
		s += n;
	}
	dst[o] = '\0';
}

void applied_free(struct applied *rec)
{
	if (rec == NULL)
		return;
	free(rec->apps);
	memset(rec, 0, sizeof(*rec));
}

/* The index of name, or where it would go (*found 0). */
static size_t find_slot(const struct applied *rec, const char *name, int *found)
{
	size_t lo = 0, hi = rec->n_apps;

	*found = 0;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(rec->apps[mid].name, name);

		if (c == 0) {
			*found = 1;
			return mid;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

struct applied_app *applied_find(struct applied *rec, const char *name)
{
	int found;
	size_t i;

	if (name == NULL)
		return NULL;
	i = find_slot(rec, name, &found);
	return found ? &rec->apps[i] : NULL;
}

/* Strings cut to their fields and made UTF-8, so any entry saves and loads back. */
static void sanitize(struct applied_app *a)
{
	char msg[APPLIED_MESSAGE_MAX];

	a->name[sizeof(a->name) - 1] = '\0';
	a->content_hash[sizeof(a->content_hash) - 1] = '\0';
	a->deployment_id[sizeof(a->deployment_id) - 1] = '\0';
	a->running_hash[sizeof(a->running_hash) - 1] = '\0';
	a->message[sizeof(a->message) - 1] = '\0';
	applied_utf8_copy(msg, sizeof(msg), a->message);
	memcpy(a->message, msg, sizeof(msg));
	applied_utf8_copy(msg, sizeof(a->content_hash), a->content_hash);
	memcpy(a->content_hash, msg, sizeof(a->content_hash));
	applied_utf8_copy(msg, sizeof(a->running_hash), a->running_hash);
	memcpy(a->running_hash, msg, sizeof(a->running_hash));
	applied_utf8_copy(msg, sizeof(a->deployment_id), a->deployment_id);
	memcpy(a->deployment_id, msg, sizeof(a->deployment_id));
}

int applied_put(struct applied *rec, const struct applied_app *app)
{
	struct applied_app copy = *app; /* app may point into rec->apps, which may move */
	struct applied_app *na;
	int found;
	size_t i;

	copy.name[sizeof(copy.name) - 1] = '\0';
	if (!ovr_name_valid(copy.name))
		return ovr_err_set(OVR_ERR_INVALID, "app name must match ^[a-z][a-z0-9-]{0,62}$");
	sanitize(&copy);
	i = find_slot(rec, copy.name, &found);
	if (found) {
		rec->apps[i] = copy;
		return 0;
	}
	if (rec->n_apps >= APPLIED_MAX_APPS)
		return ovr_err_set(OVR_ERR_TOO_LARGE, "more than %d apps on this node",
		                   APPLIED_MAX_APPS);
	na = realloc(rec->apps, (rec->n_apps + 1) * sizeof(*na));
	if (na == NULL)
		return ovr_err_set(OVR_ERR_NOMEM, "out of memory");
	rec->apps = na;
	memmove(&rec->apps[i + 1], &rec->apps[i], (rec->n_apps - i) * sizeof(*na));
	rec->apps[i] = copy;
	rec->n_apps++;
	return 0;
}

void applied_drop(struct applied *rec, const char *name)
{
	int found;
	size_t i = find_slot(rec, name, &found);

	if (!found)
		return;
	memmove(&rec->apps[i], &rec->apps[i + 1], (rec->n_apps - i - 1) * sizeof(*rec->apps));
	rec->n_apps--;
}

int applied_copy(struct applied *dst, const struct applied *src)
{
	memset(dst, 0, sizeof(*dst));
	dst->generation = src->generation;
	if (src->n_apps == 0)
		return 0;
	dst->apps = malloc(src->n_apps * sizeof(*dst->apps));
	if (dst->apps == NULL)
		return ovr_err_set(OVR_ERR_NOMEM, "out of memory");
	memcpy(dst->apps, src->apps, src->n_apps * sizeof(*dst->apps));
	dst->n_apps = src->n_apps;
	return 0;
}

/* ---- JSON ---- */

static json_t *app_to_json(const struct applied_app *a)
{
	json_t *o = json_object();

	if (o == NULL)
		return NULL;
	if (json_object_set_new(o, "app", json_string(a->name)) != 0 ||
	    json_object_set_new(o, "version", json_integer(a->version)) != 0 ||
	    json_object_set_new(o, "content_hash", json_string(a->content_hash)) != 0 ||
	    json_object_set_new(o, "deployment_id", json_string(a->deployment_id)) != 0 ||
	    json_object_set_new(o, "outcome", json_string(a->ok ? "ok" : "failed")) != 0 ||
	    json_object_set_new(o, "message", json_string(a->message)) != 0 ||
	    json_object_set_new(o, "running_version", json_integer(a->running_version)) != 0 ||
	    json_object_set_new(o, "running_hash", json_string(a->running_hash)) != 0 ||
	    (a->purge_pending && json_object_set_new(o, "purge_pending", json_true()) != 0)) {
		json_decref(o);
		return NULL;
	}
	return o;
}

int applied_save(const struct applied *rec, const char *dir)
{
	char path[APPLIED_PATH_MAX];
	json_t *root = NULL, *apps = NULL;
	char *text = NULL;
	size_t i;
	int err;

	err = record_path(path, sizeof(path), dir, "");
	if (err)
		return err;
	root = json_object();
	apps = json_array();
	if (root == NULL || apps == NULL ||
	    json_object_set_new(root, "generation", json_integer(rec->generation)) != 0) {
		json_decref(apps);
		err = ovr_err_set(OVR_ERR_NOMEM, "out of memory");
		goto out;
	}
	if (json_object_set_new(root, "apps", apps) != 0) {
		err = ovr_err_set(OVR_ERR_NOMEM, "out of memory");
		goto out;
	}
	for (i = 0; i < rec->n_apps; i++) {
		json_t *o = app_to_json(&rec->apps[i]);

		/* Entries are UTF-8 by construction (applied_put), so only memory can fail. */
		if (o == NULL || json_array_append_new(apps, o) != 0) {
			err = ovr_err_set(OVR_ERR_NOMEM, "applied state: out of memory");
			goto out;
		}
	}
	text = json_dumps(root, JSON_INDENT(1) | JSON_PRESERVE_ORDER);
	if (text == NULL) {
		err = ovr_err_set(OVR_ERR_NOMEM, "applied state: out of memory");
		goto out;
	}
	err = fs_write_file_atomic(path, text, strlen(text), 0600);
out:
	free(text);
	json_decref(root);
	return err;
}

/* Copies a string member into buf; OVR_ERR_INVALID if absent, not a string or too long. */
static int get_str(char *buf, size_t size, json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	if (!json_is_string(v) || json_string_length(v) >= size ||
	    strlen(json_string_value(v)) != json_string_length(v))
		return ovr_err_set(OVR_ERR_INVALID, "%s: not a string of at most %zu bytes", key,
		                   size - 1);
	memcpy(buf, json_string_value(v), json_string_length(v) + 1);
	return 0;
}

static int get_int(int64_t *out, json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return ovr_err_set(OVR_ERR_INVALID, "%s: not a non-negative integer", key);
	*out = (int64_t)json_integer_value(v);
	return 0;
}

static int app_from_json(struct applied_app *a, json_t *o)
{
	char outcome[8];
	json_t *purge;
	int err;

	memset(a, 0, sizeof(*a));
	if (!json_is_object(o))
		return ovr_err_set(OVR_ERR_INVALID, "an app entry is not an object");
	if ((err = get_str(a->name, sizeof(a->name), o, "app")) != 0 ||
	    (err = get_int(&a->version, o, "version")) != 0 ||
	    (err = get_str(a->content_hash, sizeof(a->content_hash), o, "content_hash")) != 0 ||
	    (err = get_str(a->deployment_id, sizeof(a->deployment_id), o, "deployment_id")) != 0 ||
	    (err = get_str(outcome, sizeof(outcome), o, "outcome")) != 0 ||
	    (err = get_str(a->message, sizeof(a->message), o, "message")) != 0 ||
	    (err = get_int(&a->running_version, o, "running_version")) != 0 ||
	    (err = get_str(a->running_hash, sizeof(a->running_hash), o, "running_hash")) != 0)
		return err;
	if (!ovr_name_valid(a->name))
		return ovr_err_set(OVR_ERR_INVALID, "app: not a valid app name");
	if (strcmp(outcome, "ok") != 0 && strcmp(outcome, "failed") != 0)
		return ovr_err_set(OVR_ERR_INVALID, "outcome: not ok or failed");
	a->ok = strcmp(outcome, "ok") == 0;
	purge = json_object_get(o, "purge_pending");
	if (purge != NULL && !json_is_boolean(purge))
		return ovr_err_set(OVR_ERR_INVALID, "purge_pending: not a boolean");
	a->purge_pending = json_is_true(purge);
	return 0;
}

static int parse_record(struct applied *rec, const char *text, size_t len)
{
	json_error_t jerr;
	json_t *root, *apps, *item;
	size_t i;
	int err = 0;

	root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL)
		return ovr_err_set(OVR_ERR_INVALID, "line %d: %s", jerr.line, jerr.text);
	apps = json_object_get(root, "apps");
	if (!json_is_object(root) || !json_is_array(apps)) {
		err = ovr_err_set(OVR_ERR_INVALID, "not an object with an apps array");
		goto out;
	}
	if (json_array_size(apps) > APPLIED_MAX_APPS) {
		err = ovr_err_set(OVR_ERR_INVALID, "more than %d apps", APPLIED_MAX_APPS);
		goto out;
	}
	err = get_int(&rec->generation, root, "generation");
	if (err)
		goto out;
	json_array_foreach(apps, i, item)
	{
		struct applied_app a;

		err = app_from_json(&a, item);
		if (err == 0 && applied_find(rec, a.name) != NULL)
			err = ovr_err_set(OVR_ERR_INVALID, "app %s listed twice", a.name);
		if (err == 0)
			err = applied_put(rec, &a);
		if (err) {
			ovr_err_set(err, "app entry %zu: %s", i + 1, ovr_err_msg(err));
			goto out;
		}
	}
out:
	json_decref(root);
	return err;
}

int applied_load(struct applied *rec, const char *dir)
{
	char path[APPLIED_PATH_MAX], aside[APPLIED_PATH_MAX];
	char *text = NULL;
	size_t len = 0;
	int err;

	memset(rec, 0, sizeof(*rec));
	if ((err = record_path(path, sizeof(path), dir, "")) != 0 ||
	    (err = record_path(aside, sizeof(aside), dir, ".corrupt")) != 0)
		return err;
	err = fs_read_file(&text, &len, path, APPLIED_FILE_MAX);
	if (err == OVR_ERR_NOT_FOUND)
		return 0;
	if (err == 0)
		err = parse_record(rec, text, len);
	free(text);
	if (err == OVR_ERR_NOMEM)
		return err;
	if (err) {
		/* Treated as empty: the next Sync applies what differs, compose keeps the rest. */
		log_warnx("applied state %s is unreadable, starting from an empty record: %s", path,
		          ovr_err_msg(err));
		applied_free(rec);
		if (rename(path, aside) != 0)
			log_warn("rename %s", path);
	}
	return 0;
}
