/* Compose lint rules over the parser's model (compose_lint.h); pure: no I/O, no database. */
#include "compose_lint.h"

#include "err.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define SHOWN_MAX       80      /* bytes of file text in a message */
#define PORT_TEXT_MAX   128     /* longer port specs are not understood, so not checked */
#define PORT_STEPS_MAX  1000000 /* port comparisons for one file, bounding hostile input */
#define PORT_USES_SHOWN 3

static const char *const default_allowlist[] = {"/srv/", "/opt/", "/mnt/"};

struct item {
	struct compose_lint_finding f;
	size_t seq; /* keeps qsort stable for findings on one line with one rule */
};

struct lint {
	struct arena *a;
	const struct compose_file *file;
	const struct compose_lint_options *o;
	const char *const *allow; /* normalised: absolute, no trailing '/' ("" for "/") */
	size_t n_allow;
	const char *allow_text; /* "/srv/, /opt/, /mnt/" */
	const char *data_fix;
	const struct compose_lint_port_use **uses; /* sorted by host port */
	size_t n_uses;
	size_t port_steps;
	struct item *items;
	size_t n;
	int cut_line; /* line of the first finding left out, 0 if none */
};

/* File text fit for a message: bounded, cut on a UTF-8 boundary, control bytes shown as '?'. */
static const char *shown(struct lint *l, const char *s)
{
	size_t n = strnlen(s, SHOWN_MAX + 1);
	char *out;
	size_t i;

	if (n > SHOWN_MAX) {
		n = SHOWN_MAX;
		while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
			n--;
	}
	out = arena_strndup(l->a, s, n);
	for (i = 0; i < n; i++)
		if ((unsigned char)out[i] < 0x20 || out[i] == 0x7f)
			out[i] = '?';
	return n < strlen(s) ? arena_printf(l->a, "%s...", out) : out;
}

static void add(struct lint *l, const char *rule, int line, const struct compose_service *s,
                const char *fix, const char *fmt, ...) __attribute__((format(printf, 6, 7)));

/* Records a finding on service s; message "service NAME: " then fmt. */
static void add(struct lint *l, const char *rule, int line, const struct compose_service *s,
                const char *fix, const char *fmt, ...)
{
	struct item *it;
	char body[1024];
	va_list ap;

	if (line < 1)
		line = s->line > 0 ? s->line : 1;
	if (l->n >= COMPOSE_LINT_MAX_FINDINGS - 1) {
		if (!l->cut_line)
			l->cut_line = line;
		return;
	}
	va_start(ap, fmt);
	vsnprintf(body, sizeof(body), fmt, ap);
	va_end(ap);
	it = &l->items[l->n];
	it->f.rule = rule;
	it->f.severity = l->o->strict ? "error" : "warning";
	it->f.line = line;
	it->f.service = arena_strdup(l->a, s->name);
	it->f.message = arena_printf(l->a, "service %s: %s", s->name, body);
	it->f.fix = fix;
	it->seq = l->n++;
}

/* 1 if s substitutes a variable ($VAR, ${VAR}); "$$" is a literal '$'. */
static int interpolated(const char *s)
{
	for (; *s; s++) {
		if (s[0] != '$')
			continue;
		if (s[1] == '$') {
			s++;
			continue;
		}
		if (s[1] == '{' || s[1] == '_' || (s[1] >= 'A' && s[1] <= 'Z') ||
		    (s[1] >= 'a' && s[1] <= 'z'))
			return 1;
	}
	return 0;
}

/* ---- hardcoded-secret ---- */

/* Word parts (between '_', '-', '.' or the ends) that make a variable name secret-looking... */
static const char *const secret_words[] = {"PASSWORD", "PASSWD", "PASS",   "PASSPHRASE", "SECRET",
                                           "TOKEN",    "KEY",    "APIKEY", "CREDENTIALS"};
/* ...unless its last part says it holds something else (POSTGRES_PASSWORD_FILE, KEY_ID). */
static const char *const plain_suffixes[] = {
        "FILE",     "PATH",   "DIR", "URL",  "URI", "HOST",   "PORT",    "ID",   "NAME",     "USER",
        "USERNAME", "LENGTH", "LEN", "SIZE", "TTL", "EXPIRY", "TIMEOUT", "TYPE", "ALGORITHM"};
static const char *const booleans[] = {"true", "false", "yes", "no", "on", "off"};

static int word_in(const char *w, size_t n, const char *const *list, size_t count)
{
	size_t i;

	for (i = 0; i < count; i++)
		if (strlen(list[i]) == n && strncasecmp(w, list[i], n) == 0)
			return 1;
	return 0;
}

static int secret_name(const char *name)
{
	const char *w = name, *end;
	int secret = 0, plain = 0;

	for (;;) {
		end = w + strcspn(w, "_-.");
		plain = word_in(w, (size_t)(end - w), plain_suffixes,
		                sizeof(plain_suffixes) / sizeof(plain_suffixes[0]));
		secret |= word_in(w, (size_t)(end - w), secret_words,
		                  sizeof(secret_words) / sizeof(secret_words[0]));
		if (!*end)
			break;
		w = end + 1;
	}
	return secret && !plain;
}

/* 1 if value is a URL whose user info carries a literal password ("pg://u:pw@db/x"). */
static int url_password(const char *value)
{
	const char *auth = strstr(value, "://"), *at, *colon;
	size_t len;

	if (!auth)
		return 0;
	auth += 3;
	len = strcspn(auth, "/?#");
	for (at = NULL, colon = auth; colon < auth + len; colon++)
		if (*colon == '@')
			at = colon;
	if (!at)
		return 0;
	colon = memchr(auth, ':', (size_t)(at - auth));
	/* Any '$' counts as a substitution: better a missed literal than a false alarm. */
	return colon && colon + 1 < at && !memchr(colon + 1, '$', (size_t)(at - colon - 1));
}

/* The variable name as a secret name (^[a-z][a-z0-9-]{0,62}$): DB_PASSWORD -> db-password. */
static const char *secret_ref(struct lint *l, const char *var)
{
	char buf[64];
	size_t n = 0;

	for (; *var && n < sizeof(buf) - 1; var++) {
		char c = *var;

		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')))
			c = '-';
		if ((c == '-' || (c >= '0' && c <= '9')) && n == 0)
			continue;
		if (c == '-' && buf[n - 1] == '-')
			continue;
		buf[n++] = c;
	}
	while (n > 0 && buf[n - 1] == '-')
		n--;
	buf[n] = '\0';
	return arena_strdup(l->a, n ? buf : "secret");
}

/* A variable name usable in ${...} and --secret: the name itself when it is one. */
static const char *var_ref(struct lint *l, const char *var)
{
	size_t i;

	for (i = 0; var[i]; i++)
		if (!((var[i] >= 'A' && var[i] <= 'Z') || (var[i] >= 'a' && var[i] <= 'z') ||
		      var[i] == '_' || (i > 0 && var[i] >= '0' && var[i] <= '9')))
			return "SECRET";
	return i && i <= 64 ? arena_strdup(l->a, var) : "SECRET";
}

static void lint_secrets(struct lint *l, const struct compose_service *s)
{
	size_t i;

	for (i = 0; i < s->n_environment; i++) {
		const struct compose_kv *kv = &s->environment[i];
		const char *var, *ref;

		if (!kv->value || !kv->value[0] || interpolated(kv->value))
			continue;
		if (secret_name(kv->name)) {
			if (word_in(kv->value, strlen(kv->value), booleans,
			            sizeof(booleans) / sizeof(booleans[0])))
				continue;
			var = var_ref(l, kv->name);
			ref = secret_ref(l, var);
			add(l, "hardcoded-secret", kv->line, s,
			    arena_printf(
			            l->a,
			            "store the value with `ovrctl secret set %s`, reference it "
			            "with `--secret %s=%s` and write `%s=${%s}` in the file",
			            ref, var, ref, var, var),
			    "%s is set to a literal value: the secret is in the compose file, its "
			    "versions and every diff",
			    shown(l, kv->name));
		} else if (url_password(kv->value)) {
			var = arena_printf(l->a, "%s_PASSWORD", var_ref(l, kv->name));
			ref = secret_ref(l, var);
			add(l, "hardcoded-secret", kv->line, s,
			    arena_printf(
			            l->a,
			            "store the password with `ovrctl secret set %s`, reference "
			            "it with `--secret %s=%s` and write `${%s}` in the URL "
			            "in its place",
			            ref, var, ref, var),
			    "%s is a URL with a password written in it: the secret is in the "
			    "compose file, its versions and every diff",
			    shown(l, kv->name));
		}
	}
}

/* ---- image-latest ---- */

static void lint_image(struct lint *l, const struct compose_service *s)
{
	const char *img = s->image, *slash, *colon, *name;
	int latest;

	if (interpolated(img) || strchr(img, '@'))
		return;
	/* A ':' before the last '/' is a registry's port (host:5000/img), not a tag. */
	slash = strrchr(img, '/');
	colon = strrchr(slash ? slash : img, ':');
	latest = colon && strcmp(colon + 1, "latest") == 0;
	if (colon && colon[1] && !latest)
		return;
	name = shown(l, colon ? arena_strndup(l->a, img, (size_t)(colon - img)) : img);
	add(l, "image-latest", s->image_line, s,
	    arena_printf(l->a,
	                 "pin a version tag (%s:<version>) or a digest (%s@sha256:<digest>) so "
	                 "every node runs the same image and a rollback runs the old one",
	                 name, name),
	    latest ? "image %s uses the tag latest, which points at a different image over time"
	           : "image %s has no tag, so it means :latest, which points at a different image "
	             "over time",
	    shown(l, img));
}

/* ---- depends_on ---- */

static void lint_depends(struct lint *l, const struct compose_service *s)
{
	size_t i;

	for (i = 0; i < s->n_depends_on; i++) {
		const struct compose_dep *d = &s->depends_on[i];
		const struct compose_service *dep = compose_file_service(l->file, d->service);
		int healthy = d->condition && strcmp(d->condition, "service_healthy") == 0;

		/* Unknown services are compose's error; one-shot jobs need no healthcheck. */
		if (!dep ||
		    (d->condition && strcmp(d->condition, "service_completed_successfully") == 0))
			continue;
		if (dep->healthcheck != COMPOSE_HEALTH_DEFINED)
			add(l, "depends-on-no-healthcheck", d->line, s,
			    arena_printf(
			            l->a,
			            "give service %s a healthcheck that passes once it serves, "
			            "and write `condition: service_healthy` under %s's "
			            "depends_on: %s",
			            dep->name, s->name, dep->name),
			    healthy ? "waits for %s to be healthy, but %s %s; unless its image "
			              "defines one, %s fails to start"
			            : "depends on %s, but %s %s, so %s can start before it is "
			              "ready",
			    dep->name, dep->name,
			    dep->healthcheck == COMPOSE_HEALTH_DISABLED
			            ? "has its healthcheck disabled"
			            : "has no healthcheck",
			    s->name);
		else if (!healthy)
			add(l, "depends-on-not-healthy", d->line, s,
			    arena_printf(
			            l->a,
			            "write `condition: service_healthy` under %s's depends_on: "
			            "%s",
			            s->name, dep->name),
			    "depends on %s without `condition: service_healthy`, so it starts "
			    "as soon as %s's container does, before its healthcheck passes",
			    dep->name, dep->name);
	}
}

/* ---- volumes ---- */

/* path with "//", "." and ".." resolved as text ("/srv/../etc/" -> "/etc"; "/" -> ""). */
static char *normalise(struct arena *a, const char *path)
{
	size_t len = strlen(path), n = 0;
	char *out = arena_alloc(a, len + 1);
	const char *p = path;

	while (*p) {
		size_t seg;

		while (*p == '/')
			p++;
		seg = strcspn(p, "/");
		if (seg == 0)
			break;
		if (seg == 1 && p[0] == '.') {
			/* nothing */
		} else if (seg == 2 && p[0] == '.' && p[1] == '.') {
			while (n > 0 && out[n - 1] != '/')
				n--;
			if (n > 0)
				n--;
		} else {
			out[n++] = '/';
			memcpy(out + n, p, seg);
			n += seg;
		}
		p += seg;
	}
	out[n] = '\0';
	return out;
}

static int under(const char *path, const char *prefix)
{
	size_t n = strlen(prefix);

	return strncmp(path, prefix, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

static int docker_socket(const char *path)
{
	static const char *const paths[] = {"/var/run/docker.sock", "/run/docker.sock", "/var/run",
	                                    "/run", ""};
	size_t i;

	for (i = 0; i < sizeof(paths) / sizeof(paths[0]); i++)
		if (strcmp(path, paths[i]) == 0)
			return 1;
	return 0;
}

static void lint_volumes(struct lint *l, const struct compose_service *s)
{
	const char *data_fix = l->data_fix;
	size_t i, j;

	for (i = 0; i < s->n_volumes; i++) {
		const struct compose_volume *v = &s->volumes[i];
		const char *path;

		if (v->kind != COMPOSE_VOLUME_BIND || !v->source || interpolated(v->source))
			continue;
		if (v->source[0] == '~') {
			add(l, "bind-outside-allowlist", v->line, s, data_fix,
			    "bind mount %s is under ~: it depends on the home directory of "
			    "the user the agent runs compose as, on each node",
			    shown(l, v->source));
			continue;
		}
		if (v->source[0] != '/') {
			add(l, "bind-outside-allowlist", v->line, s, data_fix,
			    "bind mount %s is relative: it resolves inside the agent's "
			    "directory for this version, which holds only the compose file, "
			    "so it starts empty and what is written there does not survive a "
			    "redeploy",
			    shown(l, v->source));
			continue;
		}
		path = normalise(l->a, v->source);
		if (docker_socket(path)) {
			add(l, "docker-socket", v->line, s,
			    "remove the mount; if the service must drive Docker, put a "
			    "socket proxy that allows only the calls it needs in between",
			    "bind mount %s exposes the Docker socket: whoever controls the "
			    "container is root on the node",
			    shown(l, v->source));
			continue;
		}
		for (j = 0; j < l->n_allow && !under(path, l->allow[j]); j++)
			;
		if (j == l->n_allow)
			add(l, "bind-outside-allowlist", v->line, s, data_fix,
			    "bind mount %s is outside the host paths allowed for app data (%s)",
			    shown(l, v->source), l->allow_text);
	}
}

/* ---- ports ---- */

struct port_spec {
	int lo, hi;
	const char *ip; /* "" for every address */
	const char *proto;
};

static int port_number(const char *s, size_t n)
{
	int v = 0;
	size_t i;

	if (n == 0 || n > 5)
		return -1;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v >= 1 && v <= 65535 ? v : -1;
}

/*
 * "[ip:]host[-host2]:container[/proto]" (the parser writes the long form the same way) into p.
 * 1 if the spec publishes fixed host ports; 0 if not ("80", "127.0.0.1::80", "${PORT}:80") or
 * not understood (compose reports those).
 */
static int port_parse(struct arena *a, const char *text, struct port_spec *p)
{
	char buf[PORT_TEXT_MAX];
	char *slash, *colon, *host, *dash;
	size_t len = strlen(text);

	if (len >= sizeof(buf) || interpolated(text))
		return 0;
	memcpy(buf, text, len + 1);
	slash = strrchr(buf, '/');
	p->proto = "tcp";
	if (slash) {
		*slash = '\0';
		p->proto = arena_strdup(a, slash + 1);
	}
	colon = strrchr(buf, ':');
	if (!colon)
		return 0;
	*colon = '\0';
	host = strrchr(buf, ':');
	p->ip = "";
	if (host) {
		*host++ = '\0';
		p->ip = buf[0] == '[' && buf[strlen(buf) - 1] == ']'
		                ? arena_strndup(a, buf + 1, strlen(buf) - 2)
		                : arena_strdup(a, buf);
	} else {
		host = buf;
	}
	dash = strchr(host, '-');
	p->lo = port_number(host, dash ? (size_t)(dash - host) : strlen(host));
	p->hi = dash ? port_number(dash + 1, strlen(dash + 1)) : p->lo;
	return p->lo > 0 && p->hi >= p->lo;
}

static int same(const char *x, const char *y)
{
	return strcmp(x ? x : "", y ? y : "") == 0;
}

static int every_address(const char *ip)
{
	return !ip || !ip[0] || strcmp(ip, "0.0.0.0") == 0 || strcmp(ip, "::") == 0;
}

static int clash(const struct port_spec *p, const struct compose_lint_port_use *u)
{
	const char *proto = u->proto && u->proto[0] ? u->proto : "tcp";

	return strcasecmp(p->proto, proto) == 0 &&
	       (every_address(p->ip) || every_address(u->host_ip) || same(p->ip, u->host_ip));
}

static int use_cmp(const void *x, const void *y)
{
	const struct compose_lint_port_use *const *a = x, *const *b = y;
	int c;

	if ((*a)->host_port != (*b)->host_port)
		return (*a)->host_port < (*b)->host_port ? -1 : 1;
	/* Then by node and app, so messages name them in the same order every time. */
	c = strcmp((*a)->node ? (*a)->node : "", (*b)->node ? (*b)->node : "");
	return c ? c : strcmp((*a)->app ? (*a)->app : "", (*b)->app ? (*b)->app : "");
}

/* The first use at or above port in the sorted list. */
static size_t first_use(const struct lint *l, int port)
{
	size_t lo = 0, hi = l->n_uses;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (l->uses[mid]->host_port < port)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* A range can meet one app on one node on several ports: it is named once. */
static int shown_already(const struct compose_lint_port_use *const *hit, size_t n,
                         const struct compose_lint_port_use *u)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (same(hit[i]->app, u->app) && same(hit[i]->node, u->node))
			return 1;
	return 0;
}

static void lint_ports(struct lint *l, const struct compose_service *s)
{
	size_t i, k;

	for (i = 0; i < s->n_ports && l->n_uses; i++) {
		const struct compose_lint_port_use *hit[PORT_USES_SHOWN];
		const char *who = "";
		struct port_spec p;
		size_t n_hit = 0, more = 0;

		if (!port_parse(l->a, s->ports[i].text, &p))
			continue;
		for (k = first_use(l, p.lo); k < l->n_uses && l->uses[k]->host_port <= p.hi; k++) {
			if (++l->port_steps > PORT_STEPS_MAX)
				return;
			if (!clash(&p, l->uses[k]) || shown_already(hit, n_hit, l->uses[k]))
				continue;
			if (n_hit < PORT_USES_SHOWN)
				hit[n_hit++] = l->uses[k];
			else
				more++;
		}
		if (!n_hit)
			continue;
		for (k = 0; k < n_hit; k++)
			who = arena_printf(l->a, "%s%sapp %s on node %s", who, k ? ", " : "",
			                   hit[k]->app ? hit[k]->app : "?",
			                   hit[k]->node ? hit[k]->node : "?");
		if (more)
			who = arena_printf(l->a, "%s and %zu more", who, more);
		add(l, "port-conflict", s->ports[i].line, s,
		    "publish a free host port (the container port can stay), or target nodes "
		    "where this one is free",
		    "host port %d/%s is already published by %s, so the container cannot "
		    "start there",
		    hit[0]->host_port, shown(l, p.proto), who);
	}
}

/* ---- the rest, and the driver ---- */

static void lint_service(struct lint *l, const struct compose_service *s)
{
	lint_image(l, s);
	lint_secrets(l, s);
	if (!s->restart)
		add(l, "no-restart", s->line, s, "add `restart: unless-stopped` (or `always`)",
		    "no restart policy: a container that crashes, or any container after the "
		    "node reboots, stays stopped");
	if (s->privileged)
		add(l, "privileged", s->privileged_line, s,
		    "remove `privileged: true` and grant only the capabilities it needs with "
		    "`cap_add`",
		    "runs privileged: it has every capability and the node's devices, so whoever "
		    "controls the container controls the node");
	if (!s->has_limits)
		add(l, "no-resource-limits", s->line, s,
		    "set `deploy.resources.limits` (e.g. `memory: 512M` and `cpus: \"1.0\"`)",
		    "no memory or CPU limits: one leak or busy loop can starve every app on the "
		    "node");
	lint_volumes(l, s);
	lint_depends(l, s);
	lint_ports(l, s);
}

static int item_cmp(const void *x, const void *y)
{
	const struct item *a = x, *b = y;
	int c;

	if (a->f.line != b->f.line)
		return a->f.line < b->f.line ? -1 : 1;
	c = strcmp(a->f.rule, b->f.rule);
	if (c)
		return c;
	return (a->seq > b->seq) - (a->seq < b->seq);
}

static int setup(struct lint *l, const struct compose_lint_options *o)
{
	const char *const *allow = o->bind_allowlist ? o->bind_allowlist : default_allowlist;
	size_t i, n_allow = o->bind_allowlist
	                            ? o->n_bind_allowlist
	                            : sizeof(default_allowlist) / sizeof(*default_allowlist);
	const char **norm;

	if ((!o->bind_allowlist && o->n_bind_allowlist) || (!o->ports_in_use && o->n_ports_in_use))
		return ovr_err_set(OVR_ERR_INVALID, "lint options: a count without its list");
	norm = arena_calloc(l->a, n_allow + 1, sizeof(*norm));
	for (i = 0; i < n_allow; i++)
		if (allow[i] && allow[i][0] == '/')
			norm[l->n_allow++] = normalise(l->a, allow[i]);
	l->allow = norm;
	l->allow_text = "";
	for (i = 0; i < l->n_allow && i < 4; i++)
		l->allow_text =
		        arena_printf(l->a, "%s%s%s/", l->allow_text, i ? ", " : "", l->allow[i]);
	if (l->n_allow > 4)
		l->allow_text = arena_printf(l->a, "%s, ...", l->allow_text);
	l->data_fix = l->n_allow ? arena_printf(l->a,
	                                        "use a named volume for data, or an absolute "
	                                        "host path under %s",
	                                        l->allow_text)
	                         : "use a named volume for data";
	if (!l->n_allow)
		l->allow_text = "none";
	l->uses = arena_calloc(l->a, o->n_ports_in_use + 1, sizeof(*l->uses));
	for (i = 0; i < o->n_ports_in_use; i++)
		if (o->ports_in_use[i].host_port > 0)
			l->uses[l->n_uses++] = &o->ports_in_use[i];
	qsort(l->uses, l->n_uses, sizeof(*l->uses), use_cmp);
	l->items = arena_calloc(l->a, COMPOSE_LINT_MAX_FINDINGS, sizeof(*l->items));
	return 0;
}

int compose_lint(const struct compose_file *f, const struct compose_lint_options *o,
                 struct arena *a, struct compose_lint_finding **out, size_t *n_out)
{
	static const struct compose_lint_options defaults = {0};
	struct lint l = {0};
	size_t i;
	int err;

	*out = NULL;
	*n_out = 0;
	if (!f)
		return ovr_err_set(OVR_ERR_INVALID, "lint: no compose file");
	l.a = a;
	l.file = f;
	l.o = o ? o : &defaults;
	err = setup(&l, l.o);
	if (err)
		return err;
	for (i = 0; i < f->n_services && !l.cut_line; i++)
		lint_service(&l, &f->services[i]);
	if (l.cut_line) {
		struct item *it = &l.items[l.n];

		it->f.rule = "too-many-findings";
		it->f.severity = l.o->strict ? "error" : "warning";
		it->f.line = l.cut_line;
		it->f.service = arena_strdup(a, f->services[i - 1].name);
		it->f.message =
		        arena_printf(a,
		                     "service %s: lint stopped here after %d findings; "
		                     "the rest of the file was not checked",
		                     f->services[i - 1].name, COMPOSE_LINT_MAX_FINDINGS - 1);
		it->f.fix = "fix the findings above and lint again";
		it->seq = l.n++;
	}
	qsort(l.items, l.n, sizeof(*l.items), item_cmp);
	*out = arena_calloc(a, l.n + 1, sizeof(**out));
	for (i = 0; i < l.n; i++)
		(*out)[i] = l.items[i].f;
	*n_out = l.n;
	return 0;
}
