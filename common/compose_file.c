/* Compose file parser and validator: libyaml events into a bounded node tree, then the model. */
#include "compose_file.h"

#include "err.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

/* Longest piece of user text (a key, a name) quoted back in an error message. */
#define QUOTE_MAX      64
#define ANCHOR_BUCKETS 4096

/* ---- the document as a tree ---- */

enum ynode_kind { YN_SCALAR, YN_SEQ, YN_MAP };

/*
 * One node of the document. An alias is not copied: the parent points at the anchored node, so
 * a billion-laughs document costs its own size in memory. size and height count the nodes and
 * levels the document would have with every alias expanded, to bound what walking it costs.
 */
struct ynode {
	enum ynode_kind kind;
	int plain;  /* a plain scalar: may be null or the merge key "<<" */
	int merges; /* a mapping with a "<<" key */
	int line;
	size_t n;            /* scalar: length; sequence: items; mapping: pairs */
	const char *str;     /* scalar text, NUL-terminated */
	struct ynode **kids; /* sequence: n items; mapping: 2n (key, value) */
	size_t size;
	int height; /* 0 for a scalar */
};

struct anchor {
	struct anchor *next; /* same bucket, newest first */
	uint64_t hash;
	const char *name;
	const struct ynode *node;
};

/* A mapping or sequence being read. */
struct frame {
	struct ynode *node;
	size_t first; /* its first child on the kid stack */
	const char *anchor;
};

struct loader {
	struct arena *tmp;
	const char *buf;
	size_t len;
	yaml_parser_t parser;
	yaml_event_t ev;
	int have_ev;
	struct frame frames[COMPOSE_FILE_MAX_DEPTH];
	int depth;
	/* Children of the open collections, moved into an exact array when each one ends. */
	struct ynode **kids;
	size_t n_kids;
	size_t cap_kids;
	struct anchor *anchors[ANCHOR_BUCKETS];
	size_t n_anchors;
	size_t nodes;
	size_t expansions;
	int docs;
	struct ynode *root;
};

/* User text fit for a message: bounded, cut on a UTF-8 boundary, control bytes shown as '?'. */
static const char *quote(char *buf, size_t size, const char *s)
{
	size_t n = strlen(s);
	size_t i;

	if (n > size - 1)
		n = size - 1;
	if (n > QUOTE_MAX)
		n = QUOTE_MAX;
	if (n < strlen(s))
		while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
			n--;
	for (i = 0; i < n; i++)
		buf[i] = (unsigned char)s[i] < 0x20 || s[i] == 0x7f ? '?' : s[i];
	buf[n] = '\0';
	return buf;
}

static int offset_line(const char *buf, size_t len, size_t offset)
{
	size_t i;
	int line = 1;

	for (i = 0; i < offset && i < len; i++)
		if (buf[i] == '\n')
			line++;
	return line;
}

static int mark_line(const yaml_mark_t *m)
{
	return (int)m->line + 1;
}

/* Offset of the first byte that is not well-formed UTF-8 (RFC 3629), or len. */
static size_t utf8_invalid(const unsigned char *s, size_t len)
{
	size_t i = 0;

	while (i < len) {
		unsigned char c = s[i];
		unsigned char lo = 0x80, hi = 0xbf;
		size_t need, k;

		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			need = 1;
		} else if (c >= 0xe0 && c <= 0xef) {
			need = 2;
			if (c == 0xe0)
				lo = 0xa0;
			else if (c == 0xed)
				hi = 0x9f; /* no UTF-16 surrogates */
		} else if (c >= 0xf0 && c <= 0xf4) {
			need = 3;
			if (c == 0xf0)
				lo = 0x90;
			else if (c == 0xf4)
				hi = 0x8f; /* nothing past U+10FFFF */
		} else {
			return i;
		}
		if (len - i - 1 < need)
			return i;
		if (s[i + 1] < lo || s[i + 1] > hi)
			return i;
		for (k = 2; k <= need; k++)
			if ((s[i + k] & 0xc0) != 0x80)
				return i;
		i += need + 1;
	}
	return len;
}

static uint64_t hash_name(const char *s)
{
	uint64_t h = 14695981039346656037ULL; /* FNV-1a */

	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ULL;
	}
	return h;
}

static int is_null(const struct ynode *y)
{
	if (y->kind != YN_SCALAR || !y->plain)
		return 0;
	return y->n == 0 || strcmp(y->str, "~") == 0 || strcmp(y->str, "null") == 0 ||
	       strcmp(y->str, "Null") == 0 || strcmp(y->str, "NULL") == 0;
}

static int is_merge_key(const struct ynode *key)
{
	return key->kind == YN_SCALAR && key->plain && strcmp(key->str, "<<") == 0;
}

static int yaml_error(struct loader *l)
{
	const yaml_parser_t *p = &l->parser;
	const char *problem = p->problem ? p->problem : "invalid YAML";

	if (p->error == YAML_MEMORY_ERROR)
		return ovr_err_set(OVR_ERR_NOMEM, "out of memory reading the compose file");
	if (p->error == YAML_READER_ERROR)
		return ovr_err_set(OVR_ERR_INVALID, "line %d: %s",
		                   offset_line(l->buf, l->len, p->problem_offset), problem);
	if (p->context)
		return ovr_err_set(OVR_ERR_INVALID, "line %d: %s at column %d (%s at line %d)",
		                   mark_line(&p->problem_mark), problem,
		                   (int)p->problem_mark.column + 1, p->context,
		                   mark_line(&p->context_mark));
	return ovr_err_set(OVR_ERR_INVALID, "line %d: %s at column %d", mark_line(&p->problem_mark),
	                   problem, (int)p->problem_mark.column + 1);
}

/* The key under which frame i (a mapping) holds frame i + 1, or NULL. */
static const struct ynode *frame_key(const struct loader *l, int i)
{
	size_t at = l->frames[i + 1].first;

	if (l->frames[i].node->kind != YN_MAP || (at - l->frames[i].first) % 2 == 0)
		return NULL;
	return l->kids[at - 1];
}

/*
 * "service 'web': " when frame d lies inside a service, for messages; "" elsewhere. Frames up
 * to d must still be in place.
 */
static const char *context(char *buf, size_t size, const struct loader *l, int d)
{
	const struct ynode *key;
	char name[QUOTE_MAX + 1];

	buf[0] = '\0';
	if (d < 2 || l->frames[1].node->kind != YN_MAP)
		return buf;
	key = frame_key(l, 0);
	if (!key || key->kind != YN_SCALAR || strcmp(key->str, "services") != 0)
		return buf;
	key = frame_key(l, 1);
	if (key && key->kind == YN_SCALAR)
		snprintf(buf, size, "service '%s': ", quote(name, sizeof(name), key->str));
	return buf;
}

/* 1 if frames[0] holds frames[1] under "services" (frames up to 1 in place). */
static int is_services_frame(const struct loader *l, int d)
{
	const struct ynode *key;

	if (d != 1)
		return 0;
	key = frame_key(l, 0);
	return key && key->kind == YN_SCALAR && strcmp(key->str, "services") == 0;
}

struct key_at {
	const struct ynode *key;
	size_t index;
};

static int cmp_key_at(const void *a, const void *b)
{
	const struct key_at *x = a;
	const struct key_at *y = b;
	size_t n = x->key->n < y->key->n ? x->key->n : y->key->n;
	int c = memcmp(x->key->str, y->key->str, n);

	if (c != 0)
		return c;
	if (x->key->n != y->key->n)
		return x->key->n < y->key->n ? -1 : 1;
	return x->index < y->index ? -1 : x->index > y->index;
}

static int same_text(const struct ynode *a, const struct ynode *b)
{
	return a->n == b->n && memcmp(a->str, b->str, a->n) == 0;
}

/*
 * Refuses repeated keys (libyaml allows them, compose does not) and merge keys whose value is
 * not a mapping or a list of mappings. m is frame d, just ended.
 */
static int check_mapping(struct loader *l, struct ynode *m, int d)
{
	struct key_at *keys;
	const struct key_at *first = NULL, *second = NULL;
	char ctx[QUOTE_MAX + 32];
	char q[QUOTE_MAX + 1];
	size_t i, j;

	for (i = 0; i < m->n; i++) {
		const struct ynode *v = m->kids[2 * i + 1];
		int ok = v->kind == YN_MAP;

		if (!is_merge_key(m->kids[2 * i]))
			continue;
		m->merges = 1;
		if (v->kind == YN_SEQ)
			for (ok = 1, j = 0; j < v->n; j++)
				ok = ok && v->kids[j]->kind == YN_MAP;
		if (!ok)
			return ovr_err_set(OVR_ERR_INVALID,
			                   "line %d: %s'<<' needs a mapping or a list of mappings",
			                   m->kids[2 * i]->line, context(ctx, sizeof(ctx), l, d));
	}
	if (m->n < 2)
		return 0;
	keys = arena_calloc(l->tmp, m->n, sizeof(*keys));
	for (i = 0; i < m->n; i++) {
		keys[i].key = m->kids[2 * i];
		keys[i].index = i;
	}
	qsort(keys, m->n, sizeof(*keys), cmp_key_at);
	/* Of all repeated keys, report the one repeated first in the file. */
	for (i = 1; i < m->n; i++) {
		if (!same_text(keys[i].key, keys[i - 1].key))
			continue;
		if (i >= 2 && same_text(keys[i].key, keys[i - 2].key))
			continue; /* a third copy: the second is earlier */
		if (!second || keys[i].index < second->index) {
			first = &keys[i - 1];
			second = &keys[i];
		}
	}
	if (!second)
		return 0;
	if (is_services_frame(l, d))
		return ovr_err_set(OVR_ERR_INVALID,
		                   "line %d: service '%s' is defined twice (first at line %d)",
		                   second->key->line, quote(q, sizeof(q), second->key->str),
		                   first->key->line);
	return ovr_err_set(OVR_ERR_INVALID, "line %d: %sduplicate key '%s' (first at line %d)",
	                   second->key->line, context(ctx, sizeof(ctx), l, d),
	                   quote(q, sizeof(q), second->key->str), first->key->line);
}

/* 1 if the next node of the innermost open mapping is a key. */
static int at_key(const struct loader *l)
{
	const struct frame *f;

	if (l->depth == 0)
		return 0;
	f = &l->frames[l->depth - 1];
	return f->node->kind == YN_MAP && (l->n_kids - f->first) % 2 == 0;
}

/* A new node of the document itself (aliases are counted as expansions instead). */
static struct ynode *new_node(struct loader *l, int line)
{
	if (++l->nodes > COMPOSE_FILE_MAX_NODES) {
		ovr_err_set(OVR_ERR_TOO_LARGE, "line %d: more than %d YAML nodes", line,
		            COMPOSE_FILE_MAX_NODES);
		return NULL;
	}
	return arena_alloc(l->tmp, sizeof(struct ynode));
}

/* Hands a finished node to the open collection, or makes it the document's root. */
static int add_node(struct loader *l, struct ynode *y, int line)
{
	char ctx[QUOTE_MAX + 32];

	if (l->depth == 0) {
		l->root = y;
		return 0;
	}
	if (y->kind != YN_SCALAR && at_key(l))
		return ovr_err_set(OVR_ERR_INVALID, "line %d: %smapping keys must be strings", line,
		                   context(ctx, sizeof(ctx), l, l->depth - 1));
	if (l->n_kids == l->cap_kids) {
		size_t cap = l->cap_kids ? 2 * l->cap_kids : 64;
		struct ynode **kids = realloc(l->kids, cap * sizeof(*kids));

		if (!kids)
			return ovr_err_set(OVR_ERR_NOMEM, "out of memory reading the compose file");
		l->kids = kids;
		l->cap_kids = cap;
	}
	l->kids[l->n_kids++] = y;
	return 0;
}

static int add_anchor(struct loader *l, const char *name, const struct ynode *y, int line)
{
	struct anchor *a;
	uint64_t h = hash_name(name);

	if (l->n_anchors == COMPOSE_FILE_MAX_ANCHORS)
		return ovr_err_set(OVR_ERR_TOO_LARGE, "line %d: more than %d anchors", line,
		                   COMPOSE_FILE_MAX_ANCHORS);
	a = arena_alloc(l->tmp, sizeof(*a));
	a->hash = h;
	a->name = name;
	a->node = y;
	a->next = l->anchors[h % ANCHOR_BUCKETS];
	l->anchors[h % ANCHOR_BUCKETS] = a;
	l->n_anchors++;
	return 0;
}

static const char *ev_anchor(const yaml_event_t *ev)
{
	const yaml_char_t *a = NULL;

	if (ev->type == YAML_SCALAR_EVENT)
		a = ev->data.scalar.anchor;
	else if (ev->type == YAML_SEQUENCE_START_EVENT)
		a = ev->data.sequence_start.anchor;
	else if (ev->type == YAML_MAPPING_START_EVENT)
		a = ev->data.mapping_start.anchor;
	return (const char *)a;
}

static int on_scalar(struct loader *l)
{
	const yaml_event_t *ev = &l->ev;
	const char *anchor = ev_anchor(ev);
	struct ynode *y;
	int line = mark_line(&ev->start_mark);
	int err;

	if (strlen((const char *)ev->data.scalar.value) != ev->data.scalar.length)
		return ovr_err_set(OVR_ERR_INVALID, "line %d: NUL character in a value", line);
	y = new_node(l, line);
	if (!y)
		return OVR_ERR_TOO_LARGE;
	y->kind = YN_SCALAR;
	y->plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
	y->line = line;
	y->n = ev->data.scalar.length;
	y->str = arena_strndup(l->tmp, (const char *)ev->data.scalar.value, y->n);
	y->size = 1;
	if (anchor) {
		err = add_anchor(l, arena_strdup(l->tmp, anchor), y, line);
		if (err < 0)
			return err;
	}
	return add_node(l, y, line);
}

static int on_start(struct loader *l)
{
	const yaml_event_t *ev = &l->ev;
	const char *anchor = ev_anchor(ev);
	struct frame *f;
	struct ynode *y;
	char ctx[QUOTE_MAX + 32];
	int line = mark_line(&ev->start_mark);

	if (at_key(l))
		return ovr_err_set(OVR_ERR_INVALID, "line %d: %smapping keys must be strings", line,
		                   context(ctx, sizeof(ctx), l, l->depth - 1));
	if (l->depth == COMPOSE_FILE_MAX_DEPTH)
		return ovr_err_set(OVR_ERR_INVALID, "line %d: nesting deeper than %d levels", line,
		                   COMPOSE_FILE_MAX_DEPTH);
	y = new_node(l, line);
	if (!y)
		return OVR_ERR_TOO_LARGE;
	y->kind = ev->type == YAML_MAPPING_START_EVENT ? YN_MAP : YN_SEQ;
	y->line = line;
	f = &l->frames[l->depth++];
	f->node = y;
	f->first = l->n_kids;
	f->anchor = anchor ? arena_strdup(l->tmp, anchor) : NULL;
	return 0;
}

static int on_end(struct loader *l)
{
	int d = l->depth - 1;
	struct frame *f = &l->frames[d];
	struct ynode *y = f->node;
	size_t count = l->n_kids - f->first;
	size_t i;
	int err;

	y->kids = arena_calloc(l->tmp, count, sizeof(*y->kids));
	if (count > 0) /* l->kids is NULL until the first child */
		memcpy(y->kids, l->kids + f->first, count * sizeof(*y->kids));
	y->n = y->kind == YN_MAP ? count / 2 : count;
	y->size = 1;
	for (i = 0; i < count; i++) {
		y->size += y->kids[i]->size;
		if (y->kids[i]->height > y->height)
			y->height = y->kids[i]->height;
	}
	y->height++;
	if (y->kind == YN_MAP) {
		err = check_mapping(l, y, d);
		if (err < 0)
			return err;
	}
	l->n_kids = f->first;
	l->depth--;
	if (f->anchor) {
		err = add_anchor(l, f->anchor, y, y->line);
		if (err < 0)
			return err;
	}
	return add_node(l, y, y->line);
}

static int on_alias(struct loader *l)
{
	const char *name = (const char *)l->ev.data.alias.anchor;
	const struct anchor *a;
	uint64_t h = hash_name(name);
	char q[QUOTE_MAX + 1];
	int line = mark_line(&l->ev.start_mark);
	int i;

	for (a = l->anchors[h % ANCHOR_BUCKETS]; a; a = a->next)
		if (a->hash == h && strcmp(a->name, name) == 0)
			break;
	if (!a) {
		for (i = 0; i < l->depth; i++)
			if (l->frames[i].anchor && strcmp(l->frames[i].anchor, name) == 0)
				return ovr_err_set(
				        OVR_ERR_INVALID,
				        "line %d: alias '*%s' refers to a node that contains it",
				        line, quote(q, sizeof(q), name));
		return ovr_err_set(OVR_ERR_INVALID, "line %d: unknown alias '*%s'", line,
		                   quote(q, sizeof(q), name));
	}
	/* Count what expanding the alias would produce; never copy it. */
	l->expansions += a->node->size;
	if (l->expansions > COMPOSE_FILE_MAX_EXPANSIONS ||
	    l->depth + a->node->height > COMPOSE_FILE_MAX_DEPTH)
		return ovr_err_set(OVR_ERR_INVALID, "line %d: too many alias expansions", line);
	/* The node is shared, read-only from here on. */
	return add_node(l, (struct ynode *)a->node, line);
}

static int next_event(struct loader *l)
{
	if (l->have_ev) {
		yaml_event_delete(&l->ev);
		l->have_ev = 0;
	}
	if (!yaml_parser_parse(&l->parser, &l->ev))
		return yaml_error(l);
	l->have_ev = 1;
	return 0;
}

/* Reads the whole stream into l->root (NULL if it holds no document). */
static int load(struct loader *l)
{
	int err;

	for (;;) {
		err = next_event(l);
		if (err < 0)
			return err;
		switch (l->ev.type) {
		case YAML_STREAM_END_EVENT:
			return 0;
		case YAML_DOCUMENT_START_EVENT:
			if (l->docs > 0)
				return ovr_err_set(OVR_ERR_INVALID,
				                   "line %d: only one YAML document is allowed",
				                   mark_line(&l->ev.start_mark));
			break;
		case YAML_DOCUMENT_END_EVENT:
			l->docs++;
			break;
		case YAML_SCALAR_EVENT:
			err = on_scalar(l);
			break;
		case YAML_SEQUENCE_START_EVENT:
		case YAML_MAPPING_START_EVENT:
			err = on_start(l);
			break;
		case YAML_SEQUENCE_END_EVENT:
		case YAML_MAPPING_END_EVENT:
			err = on_end(l);
			break;
		case YAML_ALIAS_EVENT:
			err = on_alias(l);
			break;
		default:
			break;
		}
		if (err < 0)
			return err;
	}
}

/* ---- the model ---- */

struct builder {
	struct arena *tmp;
	struct compose_file *f;
	char svc[QUOTE_MAX + 1]; /* the service being read, for messages */
};

/* A mapping's pairs with merge keys applied: 2n nodes, key then value, in file order. */
struct mapview {
	struct ynode **kv;
	size_t n;
};

struct merged {
	struct ynode *key;
	struct ynode *val;
	size_t seq;
};

/*
 * Pairs of m, then those of its merge sources in order, recursively: the first copy of a key
 * wins (YAML merge: a mapping's own keys beat merged ones, earlier sources beat later ones).
 * The recursion is as deep as the expanded document (at most COMPOSE_FILE_MAX_DEPTH).
 */
static void collect(struct merged *out, size_t *n, const struct ynode *m)
{
	size_t i, j;

	for (i = 0; i < m->n; i++) {
		if (is_merge_key(m->kids[2 * i]))
			continue;
		out[*n].key = m->kids[2 * i];
		out[*n].val = m->kids[2 * i + 1];
		out[*n].seq = *n;
		(*n)++;
	}
	for (i = 0; i < m->n; i++) {
		const struct ynode *src = m->kids[2 * i + 1];

		if (!is_merge_key(m->kids[2 * i]))
			continue;
		if (src->kind == YN_MAP)
			collect(out, n, src);
		else
			for (j = 0; j < src->n; j++)
				collect(out, n, src->kids[j]);
	}
}

static int cmp_merged_key(const void *a, const void *b)
{
	const struct merged *x = a;
	const struct merged *y = b;
	size_t n = x->key->n < y->key->n ? x->key->n : y->key->n;
	int c = memcmp(x->key->str, y->key->str, n);

	if (c != 0)
		return c;
	if (x->key->n != y->key->n)
		return x->key->n < y->key->n ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static int cmp_merged_seq(const void *a, const void *b)
{
	const struct merged *x = a;
	const struct merged *y = b;

	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static void view_of(struct builder *b, struct mapview *v, struct ynode *m)
{
	struct merged *all;
	size_t n = 0, kept = 0, i;

	if (!m->merges) {
		v->kv = m->kids;
		v->n = m->n;
		return;
	}
	/* size bounds the pairs reachable through merges: every key is a node it counts. */
	all = arena_calloc(b->tmp, m->size, sizeof(*all));
	collect(all, &n, m);
	qsort(all, n, sizeof(*all), cmp_merged_key);
	for (i = 0; i < n; i++)
		if (i == 0 || !same_text(all[i].key, all[kept - 1].key))
			all[kept++] = all[i];
	qsort(all, kept, sizeof(*all), cmp_merged_seq);
	v->kv = arena_calloc(b->tmp, 2 * kept, sizeof(*v->kv));
	for (i = 0; i < kept; i++) {
		v->kv[2 * i] = all[i].key;
		v->kv[2 * i + 1] = all[i].val;
	}
	v->n = kept;
}

/* The value of key in v, or NULL; *line is the key's line. */
static struct ynode *view_get(const struct mapview *v, const char *key, int *line)
{
	size_t i;

	for (i = 0; i < v->n; i++)
		if (strcmp(v->kv[2 * i]->str, key) == 0) {
			if (line)
				*line = v->kv[2 * i]->line;
			return v->kv[2 * i + 1];
		}
	return NULL;
}

static int svc_err(const struct builder *b, int line, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

static int svc_err(const struct builder *b, int line, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return ovr_err_set(OVR_ERR_INVALID, "line %d: service '%s': %s", line, b->svc, msg);
}

static const char *keep(struct builder *b, const struct ynode *y)
{
	return arena_strndup(&b->f->arena, y->str, y->n);
}

/* A scalar field of a mapping: 0 with *out NULL when absent or null. */
static int get_scalar(struct builder *b, const struct mapview *v, const char *key, const char *what,
                      const struct ynode **out, int *line)
{
	const struct ynode *y = view_get(v, key, line);

	*out = NULL;
	if (!y || is_null(y))
		return 0;
	if (y->kind != YN_SCALAR)
		return svc_err(b, *line, "%s must be a string", what);
	*out = y;
	return 0;
}

/* YAML 1.1 booleans as PyYAML reads them (compose v1); compose v2 accepts true/false. */
static int parse_bool(const struct ynode *y)
{
	static const char *const yes[] = {"true", "True", "TRUE", "yes", "Yes",
	                                  "YES",  "on",   "On",   "ON"};
	static const char *const no[] = {"false", "False", "FALSE", "no", "No",
	                                 "NO",    "off",   "Off",   "OFF"};
	size_t i;

	if (y->kind != YN_SCALAR)
		return -1;
	for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (strcmp(y->str, yes[i]) == 0)
			return 1;
		if (strcmp(y->str, no[i]) == 0)
			return 0;
	}
	return -1;
}

/* A list in either form: "- NAME=value" / "- NAME", or "NAME: value" (environment, labels). */
static int read_kv(struct builder *b, struct compose_kv **out, size_t *n, struct ynode *y,
                   const char *field, int line)
{
	struct mapview v;
	struct compose_kv *kv;
	size_t i;

	if (is_null(y))
		return 0;
	if (y->kind == YN_SEQ) {
		kv = arena_calloc(&b->f->arena, y->n, sizeof(*kv));
		for (i = 0; i < y->n; i++) {
			const struct ynode *item = y->kids[i];
			const char *eq;

			if (item->kind != YN_SCALAR || is_null(item))
				return svc_err(b, item->line,
				               "%s entries must be strings (NAME=value)", field);
			eq = strchr(item->str, '=');
			if (eq == item->str || item->n == 0)
				return svc_err(b, item->line, "%s entry has no name", field);
			if (eq) {
				kv[i].name = arena_strndup(&b->f->arena, item->str,
				                           (size_t)(eq - item->str));
				kv[i].value = arena_strdup(&b->f->arena, eq + 1);
			} else {
				kv[i].name = keep(b, item);
			}
			kv[i].line = item->line;
		}
		*out = kv;
		*n = y->n;
		return 0;
	}
	if (y->kind != YN_MAP)
		return svc_err(b, line, "%s must be a list or a mapping", field);
	view_of(b, &v, y);
	kv = arena_calloc(&b->f->arena, v.n, sizeof(*kv));
	for (i = 0; i < v.n; i++) {
		const struct ynode *key = v.kv[2 * i];
		const struct ynode *val = v.kv[2 * i + 1];
		char q[QUOTE_MAX + 1];

		if (val->kind != YN_SCALAR)
			return svc_err(b, key->line,
			               "%s value of '%s' must be a string or a number", field,
			               quote(q, sizeof(q), key->str));
		kv[i].name = keep(b, key);
		kv[i].value = is_null(val) ? NULL : keep(b, val);
		kv[i].line = key->line;
	}
	*out = kv;
	*n = v.n;
	return 0;
}

static int read_ports(struct builder *b, struct compose_service *s, struct ynode *y, int line)
{
	static const char *const fields[] = {"host_ip", "published", "target", "protocol"};
	size_t i, k;

	if (is_null(y))
		return 0;
	if (y->kind != YN_SEQ)
		return svc_err(b, line, "ports must be a list");
	s->ports = arena_calloc(&b->f->arena, y->n, sizeof(*s->ports));
	for (i = 0; i < y->n; i++) {
		struct ynode *item = y->kids[i];
		const struct ynode *part[4];
		struct mapview v;
		int at;
		int err;

		s->ports[i].line = item->line;
		if (item->kind == YN_SCALAR && !is_null(item)) {
			s->ports[i].text = keep(b, item);
			continue;
		}
		if (item->kind != YN_MAP)
			return svc_err(b, item->line, "ports entries must be strings or mappings");
		/* The long form, written back as [host_ip:][published:]target[/protocol]. */
		view_of(b, &v, item);
		for (k = 0; k < 4; k++) {
			err = get_scalar(b, &v, fields[k], "a port field", &part[k], &at);
			if (err < 0)
				return err;
		}
		if (!part[2])
			return svc_err(b, item->line, "a port mapping needs 'target'");
		s->ports[i].text = arena_printf(
		        &b->f->arena, "%s%s%s%s%s%s%s", part[0] ? part[0]->str : "",
		        part[0] ? ":" : "", part[1] ? part[1]->str : "", part[1] ? ":" : "",
		        part[2]->str, part[3] ? "/" : "", part[3] ? part[3]->str : "");
	}
	s->n_ports = y->n;
	return 0;
}

static enum compose_volume_kind source_kind(const char *source)
{
	if (!source)
		return COMPOSE_VOLUME_ANONYMOUS;
	if (source[0] == '/' || source[0] == '.' || source[0] == '~')
		return COMPOSE_VOLUME_BIND;
	if (source[0] == '$' || source[0] == '\0')
		return COMPOSE_VOLUME_OTHER;
	return COMPOSE_VOLUME_NAMED;
}

/* "source:target[:mode]" or "target". */
static void short_volume(struct builder *b, struct compose_volume *vol, const struct ynode *y)
{
	const char *colon = strchr(y->str, ':');
	const char *end;

	vol->text = keep(b, y);
	if (!colon) {
		vol->target = vol->text;
		vol->kind = COMPOSE_VOLUME_ANONYMOUS;
		return;
	}
	vol->source = arena_strndup(&b->f->arena, y->str, (size_t)(colon - y->str));
	end = strchr(colon + 1, ':');
	vol->target = end ? arena_strndup(&b->f->arena, colon + 1, (size_t)(end - colon - 1))
	                  : arena_strdup(&b->f->arena, colon + 1);
	vol->kind = source_kind(vol->source);
}

static int long_volume(struct builder *b, struct compose_volume *vol, struct ynode *y)
{
	const struct ynode *type, *source, *target, *ro;
	struct mapview v;
	int at;
	int err;

	view_of(b, &v, y);
	err = get_scalar(b, &v, "type", "volume type", &type, &at);
	if (err == 0)
		err = get_scalar(b, &v, "source", "volume source", &source, &at);
	if (err == 0)
		err = get_scalar(b, &v, "target", "volume target", &target, &at);
	if (err == 0)
		err = get_scalar(b, &v, "read_only", "volume read_only", &ro, &at);
	if (err < 0)
		return err;
	if (!target)
		return svc_err(b, y->line, "a volume mapping needs 'target'");
	vol->source = source ? keep(b, source) : NULL;
	vol->target = keep(b, target);
	vol->text =
	        arena_printf(&b->f->arena, "%s%s%s%s", source ? source->str : "", source ? ":" : "",
	                     target->str, ro && parse_bool(ro) == 1 ? ":ro" : "");
	vol->kind = source_kind(vol->source);
	if (type && strcmp(type->str, "bind") == 0)
		vol->kind = COMPOSE_VOLUME_BIND;
	else if (type && strcmp(type->str, "volume") == 0)
		vol->kind = source ? COMPOSE_VOLUME_NAMED : COMPOSE_VOLUME_ANONYMOUS;
	else if (type)
		vol->kind = COMPOSE_VOLUME_OTHER;
	return 0;
}

static int read_volumes(struct builder *b, struct compose_service *s, struct ynode *y, int line)
{
	size_t i;
	int err;

	if (is_null(y))
		return 0;
	if (y->kind != YN_SEQ)
		return svc_err(b, line, "volumes must be a list");
	s->volumes = arena_calloc(&b->f->arena, y->n, sizeof(*s->volumes));
	for (i = 0; i < y->n; i++) {
		struct ynode *item = y->kids[i];

		s->volumes[i].line = item->line;
		if (item->kind == YN_SCALAR && !is_null(item)) {
			short_volume(b, &s->volumes[i], item);
			continue;
		}
		if (item->kind != YN_MAP)
			return svc_err(b, item->line,
			               "volumes entries must be strings or mappings");
		err = long_volume(b, &s->volumes[i], item);
		if (err < 0)
			return err;
	}
	s->n_volumes = y->n;
	return 0;
}

static int read_depends_on(struct builder *b, struct compose_service *s, struct ynode *y, int line)
{
	struct mapview v;
	size_t i;
	int at;
	int err;

	if (is_null(y))
		return 0;
	if (y->kind == YN_SEQ) {
		s->depends_on = arena_calloc(&b->f->arena, y->n, sizeof(*s->depends_on));
		for (i = 0; i < y->n; i++) {
			const struct ynode *item = y->kids[i];

			if (item->kind != YN_SCALAR || is_null(item))
				return svc_err(b, item->line,
				               "depends_on entries must be service names");
			s->depends_on[i].service = keep(b, item);
			s->depends_on[i].line = item->line;
		}
		s->n_depends_on = y->n;
		return 0;
	}
	if (y->kind != YN_MAP)
		return svc_err(b, line, "depends_on must be a list or a mapping");
	view_of(b, &v, y);
	s->depends_on = arena_calloc(&b->f->arena, v.n, sizeof(*s->depends_on));
	for (i = 0; i < v.n; i++) {
		const struct ynode *key = v.kv[2 * i];
		struct ynode *val = v.kv[2 * i + 1];
		const struct ynode *cond = NULL;
		struct mapview dv;
		char q[QUOTE_MAX + 1];

		if (val->kind == YN_MAP) {
			view_of(b, &dv, val);
			err = get_scalar(b, &dv, "condition", "depends_on condition", &cond, &at);
			if (err < 0)
				return err;
		} else if (!is_null(val)) {
			return svc_err(b, key->line, "depends_on '%s' must be a mapping",
			               quote(q, sizeof(q), key->str));
		}
		s->depends_on[i].service = keep(b, key);
		s->depends_on[i].condition = cond ? keep(b, cond) : NULL;
		s->depends_on[i].line = key->line;
	}
	s->n_depends_on = v.n;
	return 0;
}

static int read_healthcheck(struct builder *b, struct compose_service *s, struct ynode *y, int line)
{
	const struct ynode *test, *disable;
	struct mapview v;
	int at;

	if (is_null(y))
		return 0;
	if (y->kind != YN_MAP)
		return svc_err(b, line, "healthcheck must be a mapping");
	s->healthcheck = COMPOSE_HEALTH_DEFINED;
	s->healthcheck_line = line;
	view_of(b, &v, y);
	disable = view_get(&v, "disable", &at);
	test = view_get(&v, "test", &at);
	if (disable && parse_bool(disable) == 1)
		s->healthcheck = COMPOSE_HEALTH_DISABLED;
	if (test && test->kind == YN_SEQ && test->n > 0)
		test = test->kids[0];
	if (test && test->kind == YN_SCALAR && strcmp(test->str, "NONE") == 0)
		s->healthcheck = COMPOSE_HEALTH_DISABLED;
	return 0;
}

static int read_limits(struct builder *b, struct compose_service *s, const struct mapview *sv)
{
	static const char *const legacy[] = {"mem_limit", "cpus"};
	struct ynode *deploy, *res, *lim;
	struct mapview v;
	size_t i;
	int line;

	deploy = view_get(sv, "deploy", &line);
	if (deploy && !is_null(deploy)) {
		if (deploy->kind != YN_MAP)
			return svc_err(b, line, "deploy must be a mapping");
		view_of(b, &v, deploy);
		res = view_get(&v, "resources", &line);
		if (res && !is_null(res)) {
			if (res->kind != YN_MAP)
				return svc_err(b, line, "deploy.resources must be a mapping");
			view_of(b, &v, res);
			lim = view_get(&v, "limits", &line);
			if (lim && !is_null(lim)) {
				if (lim->kind != YN_MAP)
					return svc_err(b, line,
					               "deploy.resources.limits must be a mapping");
				s->has_limits = 1;
				s->limits_line = line;
				return 0;
			}
		}
	}
	for (i = 0; i < sizeof(legacy) / sizeof(legacy[0]); i++) {
		const struct ynode *y = view_get(sv, legacy[i], &line);

		if (y && !is_null(y)) {
			s->has_limits = 1;
			s->limits_line = line;
			return 0;
		}
	}
	return 0;
}

/* Compose's rule for service names. */
static int service_name_valid(const struct ynode *key)
{
	size_t i;

	if (key->n == 0)
		return 0;
	for (i = 0; i < key->n; i++) {
		char c = key->str[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-'))
			return 0;
	}
	return 1;
}

static int read_service(struct builder *b, struct compose_service *s, const struct ynode *key,
                        struct ynode *y)
{
	const struct ynode *image, *restart, *priv;
	struct ynode *field;
	struct mapview v;
	int line;
	int err;

	quote(b->svc, sizeof(b->svc), key->str);
	if (!service_name_valid(key))
		return ovr_err_set(OVR_ERR_INVALID,
		                   "line %d: service name '%s' is invalid (use letters, digits, "
		                   "'.', '_' and '-')",
		                   key->line, b->svc);
	if (y->kind != YN_MAP)
		return ovr_err_set(OVR_ERR_INVALID, "line %d: service '%s' must be a mapping",
		                   key->line, b->svc);
	s->name = keep(b, key);
	s->line = key->line;
	view_of(b, &v, y);

	image = view_get(&v, "image", &line);
	if (!image)
		return ovr_err_set(OVR_ERR_INVALID,
		                   "line %d: service '%s' has no image (build: is not supported; "
		                   "push an image the nodes can run)",
		                   key->line, b->svc);
	if (image->kind != YN_SCALAR)
		return svc_err(b, line, "image must be a string");
	if (is_null(image))
		return svc_err(b, line, "image is empty");
	s->image = keep(b, image);
	s->image_line = line;

	err = 0;
	if ((field = view_get(&v, "ports", &line)))
		err = read_ports(b, s, field, line);
	if (err == 0 && (field = view_get(&v, "environment", &line)))
		err = read_kv(b, &s->environment, &s->n_environment, field, "environment", line);
	if (err == 0 && (field = view_get(&v, "labels", &line)))
		err = read_kv(b, &s->labels, &s->n_labels, field, "labels", line);
	if (err == 0 && (field = view_get(&v, "volumes", &line)))
		err = read_volumes(b, s, field, line);
	if (err == 0 && (field = view_get(&v, "depends_on", &line)))
		err = read_depends_on(b, s, field, line);
	if (err == 0 && (field = view_get(&v, "healthcheck", &line)))
		err = read_healthcheck(b, s, field, line);
	if (err == 0)
		err = read_limits(b, s, &v);
	if (err == 0)
		err = get_scalar(b, &v, "restart", "restart", &restart, &line);
	if (err < 0)
		return err;
	if (restart) {
		s->restart = keep(b, restart);
		s->restart_line = line;
	}
	if ((priv = view_get(&v, "privileged", &line)) && !is_null(priv)) {
		int on = parse_bool(priv);

		if (on < 0)
			return svc_err(b, line, "privileged must be true or false");
		s->privileged = on;
		s->privileged_line = line;
	}
	return 0;
}

/* Names under a top-level mapping (volumes:, networks:). */
static int read_names(struct builder *b, struct compose_name **out, size_t *n, struct ynode *y,
                      const char *field, int line)
{
	struct mapview v;
	size_t i;

	if (is_null(y))
		return 0;
	if (y->kind != YN_MAP)
		return ovr_err_set(OVR_ERR_INVALID, "line %d: '%s' must be a mapping", line, field);
	view_of(b, &v, y);
	*out = arena_calloc(&b->f->arena, v.n, sizeof(**out));
	for (i = 0; i < v.n; i++) {
		(*out)[i].name = keep(b, v.kv[2 * i]);
		(*out)[i].line = v.kv[2 * i]->line;
	}
	*n = v.n;
	return 0;
}

static int build(struct builder *b, struct ynode *root)
{
	struct mapview top, sv;
	struct ynode *y;
	size_t i;
	int line;
	int err;

	if (!root || is_null(root))
		return ovr_err_set(OVR_ERR_INVALID, "line 1: the file is empty");
	if (root->kind != YN_MAP)
		return ovr_err_set(OVR_ERR_INVALID,
		                   "line %d: the top level must be a mapping (with services:)",
		                   root->line);
	view_of(b, &top, root);
	y = view_get(&top, "services", &line);
	if (!y)
		return ovr_err_set(OVR_ERR_INVALID,
		                   "line %d: no services (a compose file needs a top-level "
		                   "services: mapping)",
		                   root->line);
	if (!is_null(y) && y->kind != YN_MAP)
		return ovr_err_set(OVR_ERR_INVALID,
		                   "line %d: services must be a mapping of service names", line);
	sv.n = 0;
	if (!is_null(y))
		view_of(b, &sv, y); /* "services: {<<: *empty}" is empty too */
	if (sv.n == 0)
		return ovr_err_set(OVR_ERR_INVALID, "line %d: services is empty", line);
	if (sv.n > COMPOSE_FILE_MAX_SERVICES)
		return ovr_err_set(OVR_ERR_TOO_LARGE, "line %d: more than %d services",
		                   sv.kv[2 * COMPOSE_FILE_MAX_SERVICES]->line,
		                   COMPOSE_FILE_MAX_SERVICES);
	b->f->services = arena_calloc(&b->f->arena, sv.n, sizeof(*b->f->services));
	for (i = 0; i < sv.n; i++) {
		err = read_service(b, &b->f->services[i], sv.kv[2 * i], sv.kv[2 * i + 1]);
		if (err < 0)
			return err;
		b->f->n_services++;
	}
	err = 0;
	if ((y = view_get(&top, "volumes", &line)))
		err = read_names(b, &b->f->volumes, &b->f->n_volumes, y, "volumes", line);
	if (err == 0 && (y = view_get(&top, "networks", &line)))
		err = read_names(b, &b->f->networks, &b->f->n_networks, y, "networks", line);
	return err;
}

/* ---- API ---- */

int compose_file_parse(struct compose_file **out, const char *yaml, size_t len)
{
	struct compose_file *f = NULL;
	struct loader *l = NULL;
	struct arena tmp = {NULL};
	struct builder b;
	size_t bad;
	int parser_ready = 0;
	int err;

	*out = NULL;
	if (!yaml)
		yaml = "";
	if (len > COMPOSE_FILE_MAX_BYTES)
		return ovr_err_set(OVR_ERR_TOO_LARGE,
		                   "the compose file is %zu bytes; the limit is 1 MiB (%d bytes)",
		                   len, COMPOSE_FILE_MAX_BYTES);
	bad = utf8_invalid((const unsigned char *)yaml, len);
	if (bad < len)
		return ovr_err_set(OVR_ERR_INVALID, "line %d: invalid UTF-8 (byte 0x%02x)",
		                   offset_line(yaml, len, bad), (unsigned char)yaml[bad]);

	l = calloc(1, sizeof(*l));
	f = calloc(1, sizeof(*f));
	if (!l || !f || !yaml_parser_initialize(&l->parser)) {
		err = ovr_err_set(OVR_ERR_NOMEM, "out of memory reading the compose file");
		goto out;
	}
	parser_ready = 1;
	l->tmp = &tmp;
	l->buf = yaml;
	l->len = len;
	yaml_parser_set_input_string(&l->parser, (const unsigned char *)yaml, len);
	yaml_parser_set_encoding(&l->parser, YAML_UTF8_ENCODING);
	err = load(l);
	if (err < 0)
		goto out;
	memset(&b, 0, sizeof(b));
	b.tmp = &tmp;
	b.f = f;
	err = build(&b, l->root);
out:
	if (l) {
		if (l->have_ev)
			yaml_event_delete(&l->ev);
		if (parser_ready)
			yaml_parser_delete(&l->parser);
		free(l->kids);
		free(l);
	}
	arena_free(&tmp);
	if (err < 0) {
		compose_file_free(f);
		return err;
	}
	*out = f;
	return 0;
}

void compose_file_free(struct compose_file *f)
{
	if (!f)
		return;
	arena_free(&f->arena);
	free(f);
}

const struct compose_service *compose_file_service(const struct compose_file *f, const char *name)
{
	size_t i;

	for (i = 0; i < f->n_services; i++)
		if (strcmp(f->services[i].name, name) == 0)
			return &f->services[i];
	return NULL;
}
