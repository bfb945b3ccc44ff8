/* ovrctl's --secret, --route and --strict flags for app create and deploy. */
#include "closure_flags.h"

#include "args.h"
#include "envmap.h"
#include "err.h"
#include "strutil.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* How much of a bad piece an error message quotes. */
static int cut(size_t n)
{
	return n > 80 ? 80 : (int)n;
}

/* Copies the n bytes at src to *cursor with a NUL and moves *cursor past them. */
static char *put_string(char **cursor, const char *src, size_t n)
{
	char *s = *cursor;

	memcpy(s, src, n);
	s[n] = '\0';
	*cursor += n + 1;
	return s;
}

int closure_flags_parse_secret(Overseer__V1__SecretRef **out, const char *text)
{
	const char *eq = strchr(text, '=');
	Overseer__V1__SecretRef *s;
	size_t n_env, n_secret;
	char env[ENVMAP_KEY_MAX + 1];
	char *p;

	*out = NULL;
	if (!eq)
		return ovr_err_set(OVR_ERR_INVALID,
		                   "'%.80s' is not ENV=SECRET (a variable name, then the name of "
		                   "a secret stored with ovrctl secret set)",
		                   text);
	n_env = (size_t)(eq - text);
	if (n_env > ENVMAP_KEY_MAX)
		return ovr_err_set(OVR_ERR_INVALID, "the variable name is longer than %d",
		                   ENVMAP_KEY_MAX);
	memcpy(env, text, n_env);
	env[n_env] = '\0';
	if (!envmap_key_valid(env))
		return ovr_err_set(OVR_ERR_INVALID,
		                   "'%s' is not a valid variable name ([A-Za-z_][A-Za-z0-9_]*)",
		                   env);
	/* The right side is never repeated: it may be a value typed where a name belongs. */
	if (!ovr_name_valid(eq + 1))
		return ovr_err_set(OVR_ERR_INVALID,
		                   "%s=...: what follows '=' is not a secret name (lowercase "
		                   "letters, digits and '-', starting with a letter, at most 63); "
		                   "values go in with ovrctl secret set, never on the command line",
		                   env);
	n_secret = strlen(eq + 1);
	s = calloc(1, sizeof(*s) + n_env + n_secret + 2);
	if (!s)
		return ovr_err_set(OVR_ERR_NOMEM, "out of memory");
	overseer__v1__secret_ref__init(s);
	p = (char *)(s + 1);
	s->env = put_string(&p, env, n_env);
	s->secret = put_string(&p, eq + 1, n_secret);
	*out = s;
	return 0;
}

/* The options after the first ",": only "tls", each one non-empty. */
static int route_options(const char *opts, int *tls)
{
	for (;;) {
		size_t n = strcspn(opts, ",");

		if (n != 3 || strncmp(opts, "tls", 3) != 0)
			return ovr_err_set(OVR_ERR_INVALID,
			                   "'%.*s' is not a route option (only tls)", cut(n), opts);
		*tls = 1;
		if (opts[n] == '\0')
			return 0;
		opts += n + 1;
	}
}

/* The path a route matches: "" and "/" both mean every path, as for the server. */
static const char *path_norm(const char *p)
{
	return strcmp(p, "/") == 0 ? "" : p;
}

int closure_flags_parse_route(Overseer__V1__Route **out, const char *text)
{
	const char *eq = strchr(text, '='), *colon = NULL, *host, *slash, *comma, *c;
	Overseer__V1__Route *r;
	size_t n_service, n_host, n_path;
	char digits[8], msg[512];
	long long port;
	int tls = 0, err;
	char *p;

	*out = NULL;
	if (!eq)
		return ovr_err_set(OVR_ERR_INVALID,
		                   "'%.80s' is not SERVICE:PORT=HOST[/PATH][,tls] (e.g. "
		                   "web:8080=shop.example.com/api,tls)",
		                   text);
	for (c = text; c < eq; c++)
		if (*c == ':')
			colon = c;
	if (!colon || colon + 1 == eq)
		return ovr_err_set(OVR_ERR_INVALID,
		                   "'%.*s' needs the container port: SERVICE:PORT (e.g. web:8080)",
		                   cut((size_t)(eq - text)), text);
	if ((size_t)(eq - colon - 1) >= sizeof(digits))
		return ovr_err_set(OVR_ERR_INVALID, "'%.*s' is not a port (1 to 65535)",
		                   cut((size_t)(eq - colon - 1)), colon + 1);
	memcpy(digits, colon + 1, (size_t)(eq - colon - 1));
	digits[eq - colon - 1] = '\0';
	if (args_int64(digits, 1, &port) != 0 || port > 65535)
		return ovr_err_set(OVR_ERR_INVALID, "'%s' is not a port (1 to 65535)", digits);
	host = eq + 1;
	comma = strchr(host, ',');
	if (!comma)
		comma = host + strlen(host);
	slash = memchr(host, '/', (size_t)(comma - host));
	if (!slash)
		slash = comma;
	n_service = (size_t)(colon - text);
	n_host = (size_t)(slash - host);
	n_path = (size_t)(comma - slash);
	if (memchr(host, ':', n_host))
		return ovr_err_set(
		        OVR_ERR_INVALID,
		        "'%.*s': a route's host takes no port (the port after the service "
		        "is the container's: web:8080=shop.example.com)",
		        cut(n_host), host);
	if (*comma && (err = route_options(comma + 1, &tls)) != 0)
		return err;
	r = calloc(1, sizeof(*r) + n_service + n_host + n_path + 3);
	if (!r)
		return ovr_err_set(OVR_ERR_NOMEM, "out of memory");
	overseer__v1__route__init(r);
	p = (char *)(r + 1);
	r->service = put_string(&p, text, n_service);
	r->host = put_string(&p, host, n_host);
	r->path_prefix = put_string(&p, slash, n_path);
	r->port = (int32_t)port;
	r->tls = tls;
	/* The fields as the server checks them; its "routes[0]." means nothing on a command line.
	 */
	err = routes_check((const Overseer__V1__Route *const *)&r, 1, NULL);
	if (err) {
		const char *m = ovr_err_msg(err);

		if (strncmp(m, "routes[0].", 10) == 0)
			m += 10;
		snprintf(msg, sizeof(msg), "%s", m);
		free(r);
		return ovr_err_set(err, "'%.80s': %s", text, msg);
	}
	*out = r;
	return 0;
}

const char *closure_flags_format_secret(char *buf, size_t size, const Overseer__V1__SecretRef *s)
{
	if (s->version > 0)
		snprintf(buf, size, "%s=%s@v%d", s->env, s->secret, s->version);
	else
		snprintf(buf, size, "%s=%s", s->env, s->secret);
	return buf;
}

const char *closure_flags_format_route(char *buf, size_t size, const Overseer__V1__Route *r)
{
	snprintf(buf, size, "%s:%d=%s%s%s", r->service, r->port, r->host, r->path_prefix,
	         r->tls ? ",tls" : "");
	return buf;
}

/* ctl_usage, returning -1 as the parse functions below do after a usage error. */
__attribute__((format(printf, 2, 3))) static int bad(const struct ctl *ctl, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	ctl_usage(ctl, "%s", msg);
	return -1;
}

static int add_secret(struct closure_flags *f, const struct ctl *ctl, const char *v)
{
	Overseer__V1__SecretRef *s;
	size_t k;
	int err;

	if (f->no_secrets)
		return bad(ctl, "--secret and --no-secrets contradict each other");
	if (f->n_secrets >= CLOSURE_FLAGS_SECRETS_MAX)
		return bad(ctl, "--secret: given more than %d times", CLOSURE_FLAGS_SECRETS_MAX);
	if ((err = closure_flags_parse_secret(&s, v)) != 0)
		return bad(ctl, "--secret: %s", ovr_err_msg(err));
	for (k = 0; k < f->n_secrets; k++)
		if (strcmp(f->secrets[k]->env, s->env) == 0) {
			bad(ctl, "--secret: %s is given twice", s->env);
			free(s);
			return -1;
		}
	f->secrets[f->n_secrets++] = s;
	return 1;
}

static int add_route(struct closure_flags *f, const struct ctl *ctl, const char *v)
{
	Overseer__V1__Route *r;
	size_t k;
	int err;

	if (f->no_routes)
		return bad(ctl, "--route and --no-routes contradict each other");
	if (f->n_routes >= ROUTES_MAX)
		return bad(ctl, "--route: given more than %d times", ROUTES_MAX);
	if ((err = closure_flags_parse_route(&r, v)) != 0)
		return bad(ctl, "--route: %s", ovr_err_msg(err));
	for (k = 0; k < f->n_routes; k++)
		if (strcasecmp(f->routes[k]->host, r->host) == 0 &&
		    strcmp(path_norm(f->routes[k]->path_prefix), path_norm(r->path_prefix)) == 0) {
			bad(ctl, "--route: %s%s is routed twice", r->host, r->path_prefix);
			free(r);
			return -1;
		}
	f->routes[f->n_routes++] = r;
	return 1;
}

int closure_flags_arg(struct closure_flags *f, const struct ctl *ctl, int argc, char **argv, int *i,
                      int on_deploy)
{
	const char *v;
	int r;

	if (strcmp(argv[*i], "--strict") == 0) {
		f->strict = 1;
		return 1;
	}
	if (on_deploy && strcmp(argv[*i], "--no-secrets") == 0) {
		if (f->n_secrets)
			return bad(ctl, "--secret and --no-secrets contradict each other");
		f->no_secrets = 1;
		return 1;
	}
	if (on_deploy && strcmp(argv[*i], "--no-routes") == 0) {
		if (f->n_routes)
			return bad(ctl, "--route and --no-routes contradict each other");
		f->no_routes = 1;
		return 1;
	}
	if ((r = args_value(argc, argv, i, "--secret", &v)) > 0)
		return add_secret(f, ctl, v);
	if (!r && (r = args_value(argc, argv, i, "--route", &v)) > 0)
		return add_route(f, ctl, v);
	if (r < 0)
		ctl_usage_line(ctl); /* a flag without its value */
	return r;
}

void closure_flags_free(struct closure_flags *f)
{
	size_t k;

	for (k = 0; k < f->n_secrets; k++)
		free(f->secrets[k]);
	for (k = 0; k < f->n_routes; k++)
		free(f->routes[k]);
	f->n_secrets = 0;
	f->n_routes = 0;
}
