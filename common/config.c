/* Table-driven settings: defaults, a YAML file (libyaml), OVR_* environment and flags, printing. */
#include "config.h"

#include "err.h"
#include "fsutil.h"
#include "strutil.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <yaml.h>

/* Longest option name; keeps flag and variable spellings in fixed buffers. */
#define CONFIG_NAME_MAX 64
/* Longest piece of user text quoted back in an error message. */
#define CONFIG_QUOTE_MAX 80

/* A parsed value before it replaces the current one. */
union config_value {
	char *str;
	int64_t num;
	int flag;
	struct config_list list;
};

static void *option_ptr(const struct config *conf, size_t i)
{
	return (char *)conf->values + conf->table[i].offset;
}

static void list_free(struct config_list *list, int secret)
{
	size_t i;

	for (i = 0; i < list->n; i++) {
		if (secret)
			OPENSSL_cleanse(list->items[i], strlen(list->items[i]));
		free(list->items[i]);
	}
	free(list->items);
	list->items = NULL;
	list->n = 0;
}

static void str_free(char *s, int secret)
{
	if (s && secret)
		OPENSSL_cleanse(s, strlen(s));
	free(s);
}

static int list_push(struct config_list *list, const char *item, size_t len)
{
	char **items;
	char *copy;

	copy = malloc(len + 1);
	if (!copy)
		return -1;
	memcpy(copy, item, len);
	copy[len] = '\0';
	items = realloc(list->items, (list->n + 1) * sizeof(*items));
	if (!items) {
		free(copy);
		return -1;
	}
	items[list->n++] = copy;
	list->items = items;
	return 0;
}

/* "grpc_listen" -> "--grpc-listen". */
static void flag_name(char *buf, size_t size, const char *name)
{
	size_t i;

	ovr_strlcpy(buf, "--", size);
	for (i = 0; name[i] && i + 3 < size; i++)
		buf[i + 2] = name[i] == '_' ? '-' : name[i];
	buf[i + 2] = '\0';
}

/* "grpc_listen" -> "OVR_GRPC_LISTEN". */
static void env_name(char *buf, size_t size, const char *name)
{
	size_t i;

	ovr_strlcpy(buf, "OVR_", size);
	for (i = 0; name[i] && i + 5 < size; i++)
		buf[i + 4] = (char)toupper((unsigned char)name[i]);
	buf[i + 4] = '\0';
}

/* Exact duration text ("1h30m", "1m30s500ms", "0s") that ovr_parse_duration reads back. */
static void duration_text(char *buf, size_t size, int64_t ms)
{
	static const struct {
		const char *unit;
		int64_t ms;
	} units[] = {{"d", 86400000}, {"h", 3600000}, {"m", 60000}, {"s", 1000}, {"ms", 1}};
	size_t used = 0;
	size_t i;

	buf[0] = '\0';
	if (ms <= 0) {
		snprintf(buf, size, "%" PRId64 "ms", ms);
		if (ms == 0)
			ovr_strlcpy(buf, "0s", size);
		return;
	}
	for (i = 0; i < sizeof(units) / sizeof(units[0]) && used < size; i++) {
		int64_t count = ms / units[i].ms;
		int w;

		if (count == 0)
			continue;
		ms -= count * units[i].ms;
		w = snprintf(buf + used, size - used, "%" PRId64 "%s", count, units[i].unit);
		if (w < 0)
			break;
		used += (size_t)w;
	}
}

static int bounded(const struct config_option *opt)
{
	return opt->min != 0 || opt->max != 0;
}

/* What a value of opt must look like, for error messages. */
static void describe(char *buf, size_t size, const struct config_option *opt)
{
	char lo[48];
	char hi[48];

	switch (opt->type) {
	case CONFIG_STRING:
		ovr_strlcpy(buf, "a string", size);
		break;
	case CONFIG_BOOL:
		ovr_strlcpy(buf, "true or false (yes/no, 1/0)", size);
		break;
	case CONFIG_STRING_LIST:
		ovr_strlcpy(buf, "a list of strings", size);
		break;
	case CONFIG_INT:
		if (bounded(opt))
			snprintf(buf, size, "an integer from %" PRId64 " to %" PRId64, opt->min,
			         opt->max);
		else
			ovr_strlcpy(buf, "an integer", size);
		break;
	case CONFIG_DURATION:
		if (bounded(opt)) {
			duration_text(lo, sizeof(lo), opt->min);
			duration_text(hi, sizeof(hi), opt->max);
			snprintf(buf, size, "a duration from %s to %s", lo, hi);
		} else {
			ovr_strlcpy(buf, "a duration such as 500ms, 30s, 15m, 2h or 7d", size);
		}
		break;
	}
}

/* "expected <what>, got \"text\"" (the text is left out for secrets). */
static void expected(char *buf, size_t size, const struct config_option *opt, const char *got)
{
	char what[160];

	describe(what, sizeof(what), opt);
	if (opt->secret || !got)
		snprintf(buf, size, "expected %s", what);
	else
		snprintf(buf, size, "expected %s, got \"%.*s\"", what, CONFIG_QUOTE_MAX, got);
}

static int parse_int(int64_t *out, const char *text)
{
	const char *p = text;
	char *end;
	long long v;

	if (*p == '+' || *p == '-')
		p++;
	if (!isdigit((unsigned char)*p))
		return -1;
	errno = 0;
	v = strtoll(text, &end, 10);
	if (errno != 0 || *end != '\0')
		return -1;
	*out = v;
	return 0;
}

static int parse_bool(int *out, const char *text)
{
	if (strcasecmp(text, "true") == 0 || strcasecmp(text, "yes") == 0 ||
	    strcmp(text, "1") == 0) {
		*out = 1;
		return 0;
	}
	if (strcasecmp(text, "false") == 0 || strcasecmp(text, "no") == 0 ||
	    strcmp(text, "0") == 0) {
		*out = 0;
		return 0;
	}
	return -1;
}

/* Comma-separated list; items are trimmed and empty ones dropped ("" is the empty list). */
static int parse_list(struct config_list *out, const char *text)
{
	const char *p = text;

	while (*p) {
		const char *start;
		const char *end;

		while (*p == ' ' || *p == '\t')
			p++;
		start = p;
		while (*p && *p != ',')
			p++;
		end = p;
		while (end > start && (end[-1] == ' ' || end[-1] == '\t'))
			end--;
		if (end > start && list_push(out, start, (size_t)(end - start)) < 0)
			return OVR_ERR_NOMEM;
		if (*p == ',')
			p++;
	}
	return 0;
}

/*
 * Parses text for option i into *val. On a wrong value fills msg with the reason (without any
 * prefix) and returns OVR_ERR_CONFIG without setting the thread's message: the caller prefixes it.
 */
static int parse_text(union config_value *val, const struct config_option *opt, const char *text,
                      char *msg, size_t msg_size)
{
	memset(val, 0, sizeof(*val));
	switch (opt->type) {
	case CONFIG_STRING:
		val->str = strdup(text);
		return val->str ? 0 : OVR_ERR_NOMEM;
	case CONFIG_STRING_LIST:
		if (parse_list(&val->list, text) < 0) {
			list_free(&val->list, opt->secret);
			return OVR_ERR_NOMEM;
		}
		return 0;
	case CONFIG_BOOL:
		if (parse_bool(&val->flag, text) == 0)
			return 0;
		break;
	case CONFIG_INT:
		if (parse_int(&val->num, text) == 0 &&
		    (!bounded(opt) || (val->num >= opt->min && val->num <= opt->max)))
			return 0;
		break;
	case CONFIG_DURATION:
		if (ovr_parse_duration(&val->num, text) == 0 &&
		    (!bounded(opt) || (val->num >= opt->min && val->num <= opt->max))) {
			ovr_err_clear();
			return 0;
		}
		ovr_err_clear();
		break;
	}
	expected(msg, msg_size, opt, text);
	return OVR_ERR_CONFIG;
}

/* Replaces option i's value with val (taking ownership) and records where it came from. */
static int commit(struct config *conf, size_t i, union config_value *val, enum config_origin origin,
                  const char *file, int line)
{
	const struct config_option *opt = &conf->table[i];
	struct config_source *src = &conf->sources[i];
	void *p = option_ptr(conf, i);
	char *file_copy = NULL;

	/* A program rewriting a value read from a file (a path made absolute) keeps its file:line.
	 */
	if (!file && origin == CONFIG_ORIGIN_FILE && src->origin == CONFIG_ORIGIN_FILE) {
		file = src->file;
		line = src->line;
	}
	if (file) {
		file_copy = strdup(file);
		if (!file_copy) {
			if (opt->type == CONFIG_STRING)
				str_free(val->str, opt->secret);
			else if (opt->type == CONFIG_STRING_LIST)
				list_free(&val->list, opt->secret);
			return ovr_err_set(OVR_ERR_NOMEM, "out of memory");
		}
	}
	switch (opt->type) {
	case CONFIG_STRING: {
		char **s = p;

		str_free(*s, opt->secret);
		*s = val->str;
		break;
	}
	case CONFIG_STRING_LIST: {
		struct config_list *l = p;

		list_free(l, opt->secret);
		*l = val->list;
		break;
	}
	case CONFIG_BOOL: {
		int *b = p;

		*b = val->flag;
		break;
	}
	case CONFIG_INT:
	case CONFIG_DURATION: {
		int64_t *v = p;

		*v = val->num;
		break;
	}
	}
	free(src->file);
	src->origin = origin;
	src->file = file_copy;
	src->line = line;
	return 0;
}

/* The value of option i when nothing sets it. */
static int apply_default(struct config *conf, size_t i, enum config_origin origin, const char *file,
                         int line)
{
	const struct config_option *opt = &conf->table[i];
	union config_value val;
	char msg[512];
	int err;

	memset(&val, 0, sizeof(val));
	if (opt->default_value) {
		err = parse_text(&val, opt, opt->default_value, msg, sizeof(msg));
		if (err == OVR_ERR_NOMEM)
			return ovr_err_set(err, "out of memory");
		if (err < 0)
			return ovr_err_set(OVR_ERR_INTERNAL, "default of %s: %s", opt->name, msg);
	}
	return commit(conf, i, &val, origin, file, line);
}

int config_init(struct config *conf, const struct config_option *table, size_t n, void *values)
{
	size_t i;
	int err;

	conf->table = table;
	conf->n = n;
	conf->values = values;
	conf->sources = NULL;
	for (i = 0; i < n; i++) {
		void *p = option_ptr(conf, i);

		switch (table[i].type) {
		case CONFIG_STRING:
			memset(p, 0, sizeof(char *));
			break;
		case CONFIG_STRING_LIST:
			memset(p, 0, sizeof(struct config_list));
			break;
		case CONFIG_BOOL:
			memset(p, 0, sizeof(int));
			break;
		case CONFIG_INT:
		case CONFIG_DURATION:
			memset(p, 0, sizeof(int64_t));
			break;
		}
	}
	conf->sources = calloc(n ? n : 1, sizeof(*conf->sources));
	if (!conf->sources)
		return ovr_err_set(OVR_ERR_NOMEM, "out of memory");
	for (i = 0; i < n; i++) {
		if (strlen(table[i].name) > CONFIG_NAME_MAX)
			return ovr_err_set(OVR_ERR_INTERNAL, "option name %s is too long",
			                   table[i].name);
		err = apply_default(conf, i, CONFIG_ORIGIN_DEFAULT, NULL, 0);
		if (err < 0)
			return err;
	}
	return 0;
}

/* Exact YAML key lookup. */
static int find_exact(const struct config *conf, const char *name)
{
	size_t i;

	for (i = 0; i < conf->n; i++)
		if (strcmp(conf->table[i].name, name) == 0)
			return (int)i;
	return -1;
}

int config_find(const struct config *conf, const char *name)
{
	char norm[CONFIG_NAME_MAX + 1];
	size_t i;

	if (strncmp(name, "--", 2) == 0)
		name += 2;
	if (strlen(name) >= sizeof(norm))
		return -1;
	for (i = 0; name[i]; i++)
		norm[i] = name[i] == '-' ? '_' : name[i];
	norm[i] = '\0';
	return find_exact(conf, norm);
}

/* ---- YAML file ---- */

struct yaml_load {
	struct config *conf;
	const char *path;
	const char *buf;
	size_t len;
	yaml_parser_t parser;
	yaml_event_t ev;
	int have_ev;
	int *seen; /* line where each option was set in this file, 0 if not yet */
};

static int ev_line(const yaml_event_t *ev)
{
	return (int)ev->start_mark.line + 1;
}

/* Line of a byte offset, for reader errors that carry no mark. */
static int offset_line(const struct yaml_load *y, size_t offset)
{
	size_t i;
	int line = 1;

	for (i = 0; i < offset && i < y->len; i++)
		if (y->buf[i] == '\n')
			line++;
	return line;
}

/* Next event into y->ev (the previous one is released). Aliases are refused. */
static int yaml_next(struct yaml_load *y)
{
	yaml_parser_t *p = &y->parser;
	int line;

	if (y->have_ev) {
		yaml_event_delete(&y->ev);
		y->have_ev = 0;
	}
	if (!yaml_parser_parse(p, &y->ev)) {
		if (p->error == YAML_MEMORY_ERROR)
			return ovr_err_set(OVR_ERR_NOMEM, "%s: out of memory", y->path);
		if (p->error == YAML_READER_ERROR)
			line = offset_line(y, p->problem_offset);
		else
			line = (int)p->problem_mark.line + 1;
		if (p->context)
			return ovr_err_set(OVR_ERR_CONFIG, "%s:%d: syntax error: %s %s", y->path,
			                   line, p->problem ? p->problem : "invalid YAML",
			                   p->context);
		return ovr_err_set(OVR_ERR_CONFIG, "%s:%d: syntax error: %s", y->path, line,
		                   p->problem ? p->problem : "invalid YAML");
	}
	y->have_ev = 1;
	if (y->ev.type == YAML_ALIAS_EVENT)
		return ovr_err_set(OVR_ERR_CONFIG, "%s:%d: aliases are not allowed", y->path,
		                   ev_line(&y->ev));
	return 0;
}

static int scalar_is_null(const yaml_event_t *ev)
{
	const char *v = (const char *)ev->data.scalar.value;

	if (!ev->data.scalar.plain_implicit)
		return 0;
	return v[0] == '\0' || strcmp(v, "~") == 0 || strcmp(v, "null") == 0 ||
	       strcmp(v, "Null") == 0 || strcmp(v, "NULL") == 0;
}

static const char *event_kind(const yaml_event_t *ev)
{
	return ev->type == YAML_MAPPING_START_EVENT ? "a mapping" : "a list";
}

/* Reads a sequence of scalars (the start event is current) into a list. */
static int yaml_list(struct yaml_load *y, size_t i, struct config_list *out)
{
	const struct config_option *opt = &y->conf->table[i];
	char what[160];
	int err;

	for (;;) {
		err = yaml_next(y);
		if (err < 0)
			return err;
		if (y->ev.type == YAML_SEQUENCE_END_EVENT)
			return 0;
		if (y->ev.type != YAML_SCALAR_EVENT || scalar_is_null(&y->ev)) {
			describe(what, sizeof(what), opt);
			return ovr_err_set(
			        OVR_ERR_CONFIG, "%s:%d: %s: expected %s, got %s in the list",
			        y->path, ev_line(&y->ev), opt->name, what,
			        y->ev.type == YAML_SCALAR_EVENT ? "null" : event_kind(&y->ev));
		}
		if (list_push(out, (const char *)y->ev.data.scalar.value,
		              y->ev.data.scalar.length) < 0)
			return ovr_err_set(OVR_ERR_NOMEM, "out of memory");
	}
}

/* Applies the value of option i (its first event is current). */
static int yaml_value(struct yaml_load *y, size_t i)
{
	const struct config_option *opt = &y->conf->table[i];
	union config_value val;
	char msg[512];
	int line = ev_line(&y->ev);
	int err;

	memset(&val, 0, sizeof(val));
	if (y->ev.type == YAML_SCALAR_EVENT) {
		if (scalar_is_null(&y->ev))
			return apply_default(y->conf, i, CONFIG_ORIGIN_FILE, y->path, line);
		if (strlen((const char *)y->ev.data.scalar.value) != y->ev.data.scalar.length) {
			expected(msg, sizeof(msg), opt, NULL);
			return ovr_err_set(OVR_ERR_CONFIG, "%s:%d: %s: %s (NUL byte in value)",
			                   y->path, line, opt->name, msg);
		}
		if (opt->type == CONFIG_STRING_LIST) {
			/* Commas are for env and flags; in YAML a list is a sequence. */
			expected(msg, sizeof(msg), opt, (const char *)y->ev.data.scalar.value);
			return ovr_err_set(OVR_ERR_CONFIG, "%s:%d: %s: %s", y->path, line,
			                   opt->name, msg);
		}
		err = parse_text(&val, opt, (const char *)y->ev.data.scalar.value, msg,
		                 sizeof(msg));
		if (err == OVR_ERR_NOMEM)
			return ovr_err_set(err, "out of memory");
		if (err < 0)
			return ovr_err_set(err, "%s:%d: %s: %s", y->path, line, opt->name, msg);
		return commit(y->conf, i, &val, CONFIG_ORIGIN_FILE, y->path, line);
	}
	if (y->ev.type == YAML_SEQUENCE_START_EVENT && opt->type == CONFIG_STRING_LIST) {
		err = yaml_list(y, i, &val.list);
		if (err < 0) {
			list_free(&val.list, opt->secret);
			return err;
		}
		return commit(y->conf, i, &val, CONFIG_ORIGIN_FILE, y->path, line);
	}
	expected(msg, sizeof(msg), opt, NULL);
	return ovr_err_set(OVR_ERR_CONFIG, "%s:%d: %s: %s, got %s", y->path, line, opt->name, msg,
	                   event_kind(&y->ev));
}

/* The top-level mapping (its start event is current). */
static int yaml_mapping(struct yaml_load *y)
{
	int err;
	int idx;
	int line;

	for (;;) {
		err = yaml_next(y);
		if (err < 0)
			return err;
		if (y->ev.type == YAML_MAPPING_END_EVENT)
			return 0;
		line = ev_line(&y->ev);
		if (y->ev.type != YAML_SCALAR_EVENT)
			return ovr_err_set(OVR_ERR_CONFIG, "%s:%d: expected a setting name, got %s",
			                   y->path, line, event_kind(&y->ev));
		idx = find_exact(y->conf, (const char *)y->ev.data.scalar.value);
		if (idx < 0)
			return ovr_err_set(OVR_ERR_CONFIG, "%s:%d: unknown key \"%.*s\"", y->path,
			                   line, CONFIG_QUOTE_MAX,
			                   (const char *)y->ev.data.scalar.value);
		if (y->seen[idx])
			return ovr_err_set(OVR_ERR_CONFIG,
			                   "%s:%d: duplicate key \"%s\" (first set at line %d)",
			                   y->path, line, y->conf->table[idx].name, y->seen[idx]);
		y->seen[idx] = line;
		err = yaml_next(y);
		if (err < 0)
			return err;
		err = yaml_value(y, (size_t)idx);
		if (err < 0)
			return err;
	}
}

static int yaml_document(struct yaml_load *y)
{
	int err;

	err = yaml_next(y);
	if (err < 0)
		return err;
	if (y->ev.type == YAML_STREAM_START_EVENT) {
		err = yaml_next(y);
		if (err < 0)
			return err;
	}
	if (y->ev.type == YAML_STREAM_END_EVENT)
		return 0;   /* an empty file sets nothing */
	err = yaml_next(y); /* past DOCUMENT-START */
	if (err < 0)
		return err;
	if (y->ev.type == YAML_MAPPING_START_EVENT) {
		err = yaml_mapping(y);
		if (err < 0)
			return err;
	} else if (y->ev.type != YAML_SCALAR_EVENT || !scalar_is_null(&y->ev)) {
		return ovr_err_set(
		        OVR_ERR_CONFIG,
		        "%s:%d: the top level must be a mapping of settings (key: value)", y->path,
		        ev_line(&y->ev));
	}
	err = yaml_next(y); /* DOCUMENT-END */
	if (err < 0)
		return err;
	err = yaml_next(y);
	if (err < 0)
		return err;
	if (y->ev.type != YAML_STREAM_END_EVENT)
		return ovr_err_set(OVR_ERR_CONFIG, "%s:%d: only one YAML document is allowed",
		                   y->path, ev_line(&y->ev));
	return 0;
}

int config_load_file(struct config *conf, const char *path)
{
	struct yaml_load y;
	char *buf = NULL;
	size_t len = 0;
	int err;

	memset(&y, 0, sizeof(y));
	err = fs_read_file(&buf, &len, path, CONFIG_FILE_MAX);
	if (err == OVR_ERR_TOO_LARGE)
		return ovr_err_set(OVR_ERR_CONFIG, "%s:1: file is larger than %d bytes", path,
		                   CONFIG_FILE_MAX);
	if (err < 0)
		return err;
	y.conf = conf;
	y.path = path;
	y.buf = buf;
	y.len = len;
	y.seen = calloc(conf->n ? conf->n : 1, sizeof(*y.seen));
	if (!y.seen || !yaml_parser_initialize(&y.parser)) {
		free(y.seen);
		free(buf);
		return ovr_err_set(OVR_ERR_NOMEM, "out of memory");
	}
	yaml_parser_set_input_string(&y.parser, (const unsigned char *)buf, len);
	err = yaml_document(&y);
	if (y.have_ev)
		yaml_event_delete(&y.ev);
	yaml_parser_delete(&y.parser);
	free(y.seen);
	free(buf);
	return err;
}

/* ---- environment and flags ---- */

static int set_text(struct config *conf, size_t i, const char *text, enum config_origin origin)
{
	const struct config_option *opt = &conf->table[i];
	union config_value val;
	char where[CONFIG_NAME_MAX + 8];
	char msg[512];
	int err;

	if (origin == CONFIG_ORIGIN_ENV)
		env_name(where, sizeof(where), opt->name);
	else
		flag_name(where, sizeof(where), opt->name);
	if (!text) {
		if (opt->type != CONFIG_BOOL)
			return ovr_err_set(OVR_ERR_CONFIG, "%s: needs a value", where);
		text = "true";
	}
	err = parse_text(&val, opt, text, msg, sizeof(msg));
	if (err == OVR_ERR_NOMEM)
		return ovr_err_set(err, "out of memory");
	if (err < 0)
		return ovr_err_set(err, "%s: %s", where, msg);
	return commit(conf, i, &val, origin, NULL, 0);
}

int config_load_env(struct config *conf)
{
	char name[CONFIG_NAME_MAX + 8];
	size_t i;
	int err;

	for (i = 0; i < conf->n; i++) {
		const char *value;

		env_name(name, sizeof(name), conf->table[i].name);
		value = getenv(name);
		if (!value)
			continue;
		err = set_text(conf, i, value, CONFIG_ORIGIN_ENV);
		if (err < 0)
			return err;
	}
	return 0;
}

int config_set(struct config *conf, const char *name, const char *value, enum config_origin origin)
{
	int idx = config_find(conf, name);

	if (idx < 0)
		return ovr_err_set(OVR_ERR_NOT_FOUND, "unknown option %.*s", CONFIG_QUOTE_MAX,
		                   name);
	return set_text(conf, (size_t)idx, value, origin);
}

int config_set_arg(struct config *conf, int argc, char **argv, int *i)
{
	char name[CONFIG_NAME_MAX + 3];
	const char *arg = argv[*i];
	const char *eq;
	const char *value = NULL;
	size_t len;
	int idx;
	int err;

	if (strncmp(arg, "--", 2) != 0)
		return ovr_err_set(OVR_ERR_NOT_FOUND, "unknown flag %.*s", CONFIG_QUOTE_MAX, arg);
	eq = strchr(arg, '=');
	len = eq ? (size_t)(eq - arg) : strlen(arg);
	if (len >= sizeof(name))
		return ovr_err_set(OVR_ERR_NOT_FOUND, "unknown flag %.*s", CONFIG_QUOTE_MAX, arg);
	memcpy(name, arg, len);
	name[len] = '\0';
	idx = config_find(conf, name);
	if (idx < 0)
		return ovr_err_set(OVR_ERR_NOT_FOUND, "unknown flag %s", name);
	if (eq) {
		value = eq + 1;
	} else if (conf->table[idx].type != CONFIG_BOOL) {
		if (*i + 1 >= argc)
			return ovr_err_set(OVR_ERR_CONFIG, "%s: needs a value", name);
		value = argv[*i + 1];
	}
	err = set_text(conf, (size_t)idx, value, CONFIG_ORIGIN_FLAG);
	if (err < 0)
		return err;
	if (!eq && value)
		(*i)++;
	return 0;
}

/* ---- printing ---- */

/* A YAML double-quoted scalar. */
static void print_quoted(FILE *fp, const char *s)
{
	const unsigned char *p;

	fputc('"', fp);
	for (p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(fp, "\\%c", *p);
		else if (*p == '\n')
			fputs("\\n", fp);
		else if (*p == '\t')
			fputs("\\t", fp);
		else if (*p < 0x20 || *p == 0x7f)
			fprintf(fp, "\\x%02x", *p);
		else
			fputc(*p, fp);
	}
	fputc('"', fp);
}

static void print_value(const struct config *conf, size_t i, FILE *fp)
{
	const struct config_option *opt = &conf->table[i];
	const void *p = option_ptr(conf, i);
	char buf[64];
	size_t k;

	switch (opt->type) {
	case CONFIG_STRING: {
		const char *const *s = p;

		if (!*s)
			fputs("null", fp);
		else if (opt->secret && **s)
			fputs("\"<redacted>\"", fp);
		else
			print_quoted(fp, *s);
		break;
	}
	case CONFIG_STRING_LIST: {
		const struct config_list *l = p;

		fputc('[', fp);
		for (k = 0; k < l->n; k++) {
			if (k > 0)
				fputs(", ", fp);
			if (opt->secret)
				fputs("\"<redacted>\"", fp);
			else
				print_quoted(fp, l->items[k]);
		}
		fputc(']', fp);
		break;
	}
	case CONFIG_BOOL: {
		const int *b = p;

		fputs(*b ? "true" : "false", fp);
		break;
	}
	case CONFIG_INT: {
		const int64_t *v = p;

		fprintf(fp, "%" PRId64, *v);
		break;
	}
	case CONFIG_DURATION: {
		const int64_t *v = p;

		duration_text(buf, sizeof(buf), *v);
		fputs(buf, fp);
		break;
	}
	}
}

static void print_source(const struct config *conf, size_t i, FILE *fp)
{
	const struct config_source *src = &conf->sources[i];
	char name[CONFIG_NAME_MAX + 8];

	switch (src->origin) {
	case CONFIG_ORIGIN_DEFAULT:
		fputs("  # default", fp);
		break;
	case CONFIG_ORIGIN_FILE:
		if (src->file)
			fprintf(fp, "  # %s:%d", src->file, src->line);
		else
			fputs("  # file", fp);
		break;
	case CONFIG_ORIGIN_ENV:
		env_name(name, sizeof(name), conf->table[i].name);
		fprintf(fp, "  # env %s", name);
		break;
	case CONFIG_ORIGIN_FLAG:
		flag_name(name, sizeof(name), conf->table[i].name);
		fprintf(fp, "  # flag %s", name);
		break;
	}
}

int config_print(const struct config *conf, FILE *fp)
{
	size_t i;

	for (i = 0; i < conf->n; i++) {
		const struct config_option *opt = &conf->table[i];

		if (opt->help)
			fprintf(fp, "# %s\n", opt->help);
		fprintf(fp, "%s: ", opt->name);
		print_value(conf, i, fp);
		print_source(conf, i, fp);
		fputc('\n', fp);
	}
	if (fflush(fp) != 0 || ferror(fp))
		return ovr_err_set(OVR_ERR_IO, "cannot write the configuration: %s",
		                   strerror(errno));
	return 0;
}

void config_usage(const struct config *conf, FILE *fp)
{
	static const char *const kinds[] = {
	        [CONFIG_STRING] = "<string>",
	        [CONFIG_INT] = "<int>",
	        [CONFIG_BOOL] = "",
	        [CONFIG_DURATION] = "<duration>",
	        [CONFIG_STRING_LIST] = "<a,b,...>",
	};
	char flag[CONFIG_NAME_MAX + 8];
	char left[CONFIG_NAME_MAX + 24];
	size_t i;

	for (i = 0; i < conf->n; i++) {
		const struct config_option *opt = &conf->table[i];

		flag_name(flag, sizeof(flag), opt->name);
		snprintf(left, sizeof(left), "%s %s", flag, kinds[opt->type]);
		fprintf(fp, "  %-36s %s", left, opt->help ? opt->help : "");
		if (opt->default_value && *opt->default_value && !opt->secret)
			fprintf(fp, " (default %s)", opt->default_value);
		fputc('\n', fp);
	}
}

void config_free(struct config *conf)
{
	size_t i;

	if (!conf || !conf->values)
		return;
	for (i = 0; i < conf->n; i++) {
		const struct config_option *opt = &conf->table[i];
		void *p = option_ptr(conf, i);

		if (opt->type == CONFIG_STRING) {
			char **s = p;

			str_free(*s, opt->secret);
			*s = NULL;
		} else if (opt->type == CONFIG_STRING_LIST) {
			list_free(p, opt->secret);
		}
		if (conf->sources)
			free(conf->sources[i].file);
	}
	free(conf->sources);
	conf->sources = NULL;
	conf->values = NULL;
}
