/* The real executor: writes an app version's files, runs Docker Compose (v2 or v1) with fork/exec,
 * and reads the project's containers through the Engine API. */
#include "executor.h"

#include "applied.h"
#include "compose.h"
#include "compose_file.h"
#include "crypto.h"
#include "docker_api.h"
#include "err.h"
#include "fsutil.h"
#include "log.h"
#include "proc.h"
#include "strutil.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <openssl/crypto.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define EXEC_DIR_MAX      2048 /* STATE_DIR/apps/APP */
#define EXEC_VDIR_MAX     2400 /* STATE_DIR/apps/APP/VERSION */
#define EXEC_PATH_MAX     4096
#define EXEC_PROJECT_MAX  128
#define EXEC_COMPOSE_FILE "compose.yaml"
#define EXEC_OVERRIDE     "ovr.override.yaml"
#define EXEC_EMPTY_FILE   "empty.yaml"
#define EXEC_SERVICES     "services"
#define EXEC_SERVICES_MAX (1024 * 1024)
#define EXEC_ARGV_MAX     16
#define EXEC_SECRET_MIN   4 /* shorter values are not scrubbed from output: too many false hits */

enum exec_files {
	EXEC_FILES_VERSION, /* -f compose.yaml -f ovr.override.yaml */
	EXEC_FILES_USER,    /* -f compose.yaml */
	EXEC_FILES_EMPTY,   /* -f empty.yaml: a project with no services */
};

/* An environment for compose, and which of its entries hold secrets (masked in output). */
struct exec_envset {
	char **entries;        /* "KEY=value", NULL-terminated; wiped on free */
	unsigned char *secret; /* parallel to entries: 1 for a secret */
	size_t n;
};

/* The environment of an app's last apply, kept for later commands (compose v1 re-reads it). */
struct exec_env {
	char app[64];
	struct exec_envset set;
};

struct exec_compose {
	char *state_dir;
	char *prefix;
	char *node;
	int64_t timeout_ms;
	pthread_mutex_t lock; /* cli detection and envs */
	struct compose_cli cli;
	int have_cli;
	struct exec_env *envs;
	size_t n_envs;
	pthread_mutex_t api_lock; /* the docker_api handle is for one thread at a time */
	struct docker_api *api;
};

/* A growable string with a failure flag, so building the override reads straight. */
struct sbuf {
	char *p;
	size_t len;
	size_t cap;
	int failed;
};

static void sb_append(struct sbuf *b, const char *s, size_t n)
{
	if (b->failed)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 1024;
		char *np;

		while (cap < b->len + n + 1)
			cap *= 2;
		np = realloc(b->p, cap);
		if (np == NULL) {
			b->failed = 1;
			return;
		}
		b->p = np;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void sb_puts(struct sbuf *b, const char *s)
{
	sb_append(b, s, strlen(s));
}

/* s as a YAML double-quoted scalar: every byte below 0x20, '"' and '\' escaped. */
static void sb_yaml_quoted(struct sbuf *b, const char *s)
{
	char esc[8];

	sb_puts(b, "\"");
	for (; *s != '\0'; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch == '"' || ch == '\\') {
			esc[0] = '\\';
			esc[1] = (char)ch;
			sb_append(b, esc, 2);
		} else if (ch < 0x20 || ch == 0x7f) {
			snprintf(esc, sizeof(esc), "\\x%02x", ch);
			sb_puts(b, esc);
		} else {
			sb_append(b, s, 1);
		}
	}
	sb_puts(b, "\"");
}

/* Wipes and frees set's entries and zeroes it. */
static void envset_free(struct exec_envset *set)
{
	size_t i;

	if (set->entries != NULL) {
		for (i = 0; set->entries[i] != NULL; i++) {
			OPENSSL_cleanse(set->entries[i], strlen(set->entries[i]));
			free(set->entries[i]);
		}
	}
	free(set->entries);
	free(set->secret);
	memset(set, 0, sizeof(*set));
}

/* An empty set with room for n entries; 0 or OVR_ERR_NOMEM (set left empty). */
static int envset_alloc(struct exec_envset *set, size_t n)
{
	memset(set, 0, sizeof(*set));
	set->entries = calloc(n + 1, sizeof(*set->entries));
	set->secret = calloc(n + 1, 1);
	if (set->entries == NULL || set->secret == NULL) {
		envset_free(set);
		return OVR_ERR_NOMEM;
	}
	return 0;
}

/* ---- results ---- */

static void res_start(struct executor_result *res)
{
	memset(res, 0, sizeof(*res));
	res->elapsed_ms = ovr_mono_ms();
}

static int res_finish(struct executor_result *res, int err)
{
	res->elapsed_ms = ovr_mono_ms() - res->elapsed_ms;
	res->err = err;
	res->ok = err == 0;
	if (err != 0)
		ovr_err_set(err, "%s", res->message);
	return err;
}

static int res_fail(struct executor_result *res, int err, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

static int res_fail(struct executor_result *res, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(res->message, sizeof(res->message), fmt, ap);
	va_end(ap);
	return res_finish(res, err);
}

/* Secret values, longest first. */
static int secret_cmp(const void *a, const void *b)
{
	size_t x = strlen(*(const char *const *)a), y = strlen(*(const char *const *)b);

	return x < y ? 1 : x > y ? -1 : 0;
}

/*
 * Replaces each occurrence of a secret's value (of at least EXEC_SECRET_MIN bytes) in buf with
 * "***", in place; other values stay. Longest first, so a secret that contains a shorter one is
 * not left partly shown. Without memory for that, buf's text is replaced rather than risk a leak.
 */
static void scrub_secrets(char *buf, const struct exec_envset *env)
{
	const char **vals;
	size_t i, n = 0;

	for (i = 0; i < env->n; i++)
		n += env->secret[i];
	if (n == 0)
		return;
	vals = calloc(n, sizeof(*vals));
	if (vals == NULL) {
		ovr_strlcpy(buf, "(output withheld: out of memory)", strlen(buf) + 1);
		return;
	}
	for (i = 0, n = 0; i < env->n; i++) {
		const char *val = strchr(env->entries[i], '=');

		if (env->secret[i] && val != NULL && strlen(val + 1) >= EXEC_SECRET_MIN)
			vals[n++] = val + 1;
	}
	qsort(vals, n, sizeof(*vals), secret_cmp);
	for (i = 0; i < n; i++) {
		size_t vlen = strlen(vals[i]);
		char *hit;

		while ((hit = strstr(buf, vals[i])) != NULL) {
			memcpy(hit, "***", 3);
			memmove(hit + 3, hit + vlen, strlen(hit + vlen) + 1);
		}
	}
	free(vals);
}

/* The last EXECUTOR_OUTPUT_MAX bytes of text, starting on a UTF-8 character boundary. */
static void copy_tail(char *dst, const char *text, size_t len)
{
	const char *p = text;

	if (len > EXECUTOR_OUTPUT_MAX) {
		p = text + len - EXECUTOR_OUTPUT_MAX;
		while (((unsigned char)*p & 0xc0) == 0x80)
			p++;
	}
	ovr_strlcpy(dst, p, EXECUTOR_OUTPUT_MAX + 1);
}

/* Trailing whitespace off s. */
static void rstrip(char *s)
{
	size_t n = strlen(s);

	while (n > 0 &&
	       (s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == ' ' || s[n - 1] == '\t'))
		s[--n] = '\0';
}

/* ---- validation ---- */

static int env_key_valid(const char *k)
{
	size_t i;

	if (k == NULL ||
	    !((k[0] >= 'A' && k[0] <= 'Z') || (k[0] >= 'a' && k[0] <= 'z') || k[0] == '_'))
		return 0;
	for (i = 1; k[i] != '\0'; i++)
		if (!((k[i] >= 'A' && k[i] <= 'Z') || (k[i] >= 'a' && k[i] <= 'z') ||
		      (k[i] >= '0' && k[i] <= '9') || k[i] == '_'))
			return 0;
	return i <= 255;
}

/* Docker label keys: printable ASCII without spaces, quotes or '='. */
static int label_key_valid(const char *k)
{
	size_t i;

	if (k == NULL || k[0] == '\0')
		return 0;
	for (i = 0; k[i] != '\0'; i++)
		if (k[i] <= ' ' || k[i] >= 0x7f || k[i] == '=' || k[i] == '"' || k[i] == '\\')
			return 0;
	return i <= 255 && strncmp(k, "io.overseer.", 12) != 0 &&
	       strncmp(k, "com.docker.compose.", 19) != 0;
}

static int prefix_valid(const char *p)
{
	size_t i;

	if (p == NULL || !((p[0] >= 'a' && p[0] <= 'z') || (p[0] >= '0' && p[0] <= '9')))
		return 0;
	for (i = 1; p[i] != '\0'; i++)
		if (!((p[i] >= 'a' && p[i] <= 'z') || (p[i] >= '0' && p[i] <= '9') || p[i] == '-' ||
		      p[i] == '_'))
			return 0;
	return i <= 63;
}

static int check_app_name(const char *app, struct executor_result *res)
{
	if (app == NULL || !ovr_name_valid(app))
		return res_fail(res, OVR_ERR_INVALID, "app name must match ^[a-z][a-z0-9-]{0,62}$");
	return 0;
}

/* ---- compose command lines ---- */

static int exec_cli(struct exec_compose *ec, struct compose_cli *cli)
{
	int err = 0;

	pthread_mutex_lock(&ec->lock);
	if (!ec->have_cli) {
		err = compose_detect(&ec->cli);
		if (err == 0)
			ec->have_cli = 1;
	}
	if (err == 0)
		*cli = ec->cli;
	pthread_mutex_unlock(&ec->lock);
	return err;
}

/*
 * Runs CLI -p PROJECT -f FILES... VERB ARGS... in dir with env, and
 * fills res: output gets compose's stderr tail; a failure's message ends with it and finishes
 * res. On success res is left for the caller to finish and *out (if out) is the child's stdout,
 * the caller's to free.
 */
static int exec_run(struct exec_compose *ec, struct executor_result *res, const char *app,
                    const char *dir, enum exec_files with_files, const struct exec_envset *env,
                    const char *const *verb, char **out)
{
	struct compose_cli cli;
	const char *argv[EXEC_ARGV_MAX + 8];
	char project[EXEC_PROJECT_MAX], status[64], cmd[64];
	struct proc_opts opts;
	struct proc_result pr;
	int i = 0, k, err;

	err = exec_cli(ec, &cli);
	if (err != 0)
		return res_fail(res, err, "%s", ovr_err_msg(err));
	snprintf(project, sizeof(project), "%s-%s", ec->prefix, app);
	for (k = 0; k < cli.argc; k++)
		argv[i++] = cli.argv[k];
	argv[i++] = "-p";
	argv[i++] = project;
	if (with_files == EXEC_FILES_VERSION) {
		argv[i++] = "-f";
		argv[i++] = EXEC_COMPOSE_FILE;
		argv[i++] = "-f";
		argv[i++] = EXEC_OVERRIDE;
	} else if (with_files == EXEC_FILES_USER) {
		argv[i++] = "-f";
		argv[i++] = EXEC_COMPOSE_FILE;
	} else {
		argv[i++] = "-f";
		argv[i++] = EXEC_EMPTY_FILE;
	}
	for (k = 0; verb[k] != NULL && k < EXEC_ARGV_MAX; k++)
		argv[i++] = verb[k];
	argv[i] = NULL;
	snprintf(cmd, sizeof(cmd), "%s%s%s %s", cli.argv[0], cli.argc > 1 ? " " : "",
	         cli.argc > 1 ? cli.argv[1] : "", verb[0]);

	memset(&opts, 0, sizeof(opts));
	opts.env = (const char *const *)env->entries;
	opts.cwd = dir;
	opts.timeout_ms = ec->timeout_ms;
	err = proc_run(&pr, argv, &opts);
	if (pr.err != NULL) {
		/* The whole output first: the tail's cut could fall inside a secret. */
		scrub_secrets(pr.err, env);
		copy_tail(res->output, pr.err, strlen(pr.err));
	}
	if (err == OVR_ERR_TIMEOUT) {
		proc_result_free(&pr);
		return res_fail(res, OVR_ERR_TIMEOUT, "%s timed out after %" PRId64 " ms", cmd,
		                ec->timeout_ms);
	}
	if (err != 0) {
		proc_result_free(&pr);
		return res_fail(res, err, "%s: %s", cmd, ovr_err_msg(err));
	}
	if (!pr.exited || pr.exit_code != 0) {
		char tail[EXECUTOR_OUTPUT_MAX + 1];

		proc_format_status(status, sizeof(status), &pr);
		ovr_strlcpy(tail, res->output, sizeof(tail));
		rstrip(tail);
		proc_result_free(&pr);
		log_warnx("compose failed app=%s cmd=\"%s\" status=\"%s\"", app, cmd, status);
		return res_fail(res, OVR_ERR_UNAVAILABLE, "%s failed (%s): %s", cmd, status,
		                tail[0] ? tail : "no message");
	}
	if (out != NULL) {
		*out = pr.out;
		pr.out = NULL;
	}
	proc_result_free(&pr);
	return 0;
}

/* ---- files ---- */

static int exec_app_dir(char *buf, size_t size, const struct exec_compose *ec, const char *app)
{
	int n = snprintf(buf, size, "%s/apps/%s", ec->state_dir, app);

	return n < 0 || (size_t)n >= size ? OVR_ERR_TOO_LARGE : 0;
}

/*
 * Per service: compose's config hash (`config --hash`) of the user's file with the environment,
 * and the app version since which the service has had it. Kept in STATE_DIR/apps/APP/services
 * after each successful apply as "SINCE HASH NAME" lines. The hash covers environment values, as
 * the com.docker.compose.config-hash label on the containers does; it never holds them.
 */
struct svc_rec {
	char name[128];
	char hash[72];
	int64_t since;
};

/* Reads the record into a new array (*n entries); none if missing or unreadable. */
static struct svc_rec *svc_read(const char *appdir, size_t *n)
{
	char path[EXEC_PATH_MAX], *text = NULL, *line, *save = NULL;
	struct svc_rec *recs = NULL;
	size_t len = 0, cap = 0;

	*n = 0;
	snprintf(path, sizeof(path), "%s/%s", appdir, EXEC_SERVICES);
	if (fs_read_file(&text, &len, path, EXEC_SERVICES_MAX) != 0)
		return NULL;
	for (line = strtok_r(text, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
		struct svc_rec r;
		long long since;

		memset(&r, 0, sizeof(r));
		if (sscanf(line, "%lld %71s %127s", &since, r.hash, r.name) != 3 || since <= 0)
			continue;
		r.since = since;
		if (*n == cap) {
			struct svc_rec *nr;

			cap = cap ? cap * 2 : 16;
			nr = realloc(recs, cap * sizeof(*nr));
			if (nr == NULL)
				break;
			recs = nr;
		}
		recs[(*n)++] = r;
	}
	free(text);
	return recs;
}

static int svc_write(const char *appdir, const struct svc_rec *recs, size_t n)
{
	char path[EXEC_PATH_MAX], line[300];
	struct sbuf b = {0};
	size_t i;
	int err;

	for (i = 0; i < n; i++) {
		if (recs[i].hash[0] == '\0')
			continue;
		snprintf(line, sizeof(line), "%" PRId64 " %s %s\n", recs[i].since, recs[i].hash,
		         recs[i].name);
		sb_puts(&b, line);
	}
	if (b.failed)
		return ovr_err_set(OVR_ERR_NOMEM, "out of memory");
	snprintf(path, sizeof(path), "%s/%s", appdir, EXEC_SERVICES);
	err = fs_write_file_atomic(path, b.p != NULL ? b.p : "", b.len, 0600);
	free(b.p);
	return err;
}

/*
 * Folds rec's own labels (routes) into its hash: they are in the override, which `config --hash`
 * of the user's file does not see, yet a change of them recreates the service. A service without
 * any keeps compose's hash as it is.
 */
static void svc_hash_labels(struct svc_rec *rec, const struct executor_app *app)
{
	unsigned char md[CRYPTO_SHA256_LEN];
	struct sbuf b = {0};
	size_t j;

	for (j = 0; j < app->n_service_labels; j++) {
		const struct executor_label *l = &app->service_labels[j];

		if (strcmp(l->service, rec->name) != 0)
			continue;
		if (b.len == 0)
			sb_append(&b, rec->hash, strlen(rec->hash) + 1);
		sb_append(&b, l->key, strlen(l->key) + 1);
		sb_append(&b, l->value, strlen(l->value) + 1);
	}
	if (b.failed)
		rec->hash[0] = '\0'; /* unknown: counted as changed */
	else if (b.len > 0) {
		crypto_sha256(md, b.p, b.len);
		ovr_hex_encode(rec->hash, md, sizeof(md));
	}
	free(b.p);
}

/*
 * Fills recs (parallel to cf->services) from `config --hash` output ("NAME HASH" lines), app's
 * per-service labels and the previous record: a service whose hash is unchanged keeps its
 * version, any other gets app's.
 */
static void svc_since(struct svc_rec *recs, const struct compose_file *cf, char *hashes,
                      const struct svc_rec *old, size_t n_old, const struct executor_app *app)
{
	int64_t version = app->version;
	char *line, *save = NULL;
	size_t i, k;

	for (i = 0; i < cf->n_services; i++) {
		ovr_strlcpy(recs[i].name, cf->services[i].name, sizeof(recs[i].name));
		recs[i].since = version;
	}
	for (line = strtok_r(hashes, "\n", &save); line != NULL;
	     line = strtok_r(NULL, "\n", &save)) {
		char name[128], hash[72];

		if (sscanf(line, "%127s %71s", name, hash) != 2)
			continue;
		for (i = 0; i < cf->n_services; i++)
			if (strcmp(recs[i].name, name) == 0)
				ovr_strlcpy(recs[i].hash, hash, sizeof(recs[i].hash));
	}
	for (i = 0; i < cf->n_services; i++)
		if (recs[i].hash[0] != '\0')
			svc_hash_labels(&recs[i], app);
	for (i = 0; i < cf->n_services; i++)
		for (k = 0; k < n_old && recs[i].hash[0] != '\0'; k++)
			if (strcmp(old[k].name, recs[i].name) == 0 &&
			    strcmp(old[k].hash, recs[i].hash) == 0 && old[k].since <= version)
				recs[i].since = old[k].since;
}

/*
 * The override: the Overseer labels and the caller's on every service of the file, then each
 * service's own labels (routes) (recs is parallel to cf->services). io.overseer.version is the
 * version that last changed the service, not the one being applied: a label is part of compose's
 * config hash, so the applied version there would recreate every service on every deploy.
 */
static int exec_override(struct sbuf *b, const struct exec_compose *ec,
                         const struct executor_app *app, const struct compose_file *cf,
                         const struct svc_rec *recs)
{
	char version[32];
	size_t i, j;

	sb_puts(b, "# Generated by ovr-agent for this app version; the user's file is "
	           "compose.yaml.\nservices:\n");
	for (i = 0; i < cf->n_services; i++) {
		sb_puts(b, "  ");
		sb_yaml_quoted(b, cf->services[i].name);
		sb_puts(b, ":\n    labels:\n      \"io.overseer.app\": ");
		sb_yaml_quoted(b, app->name);
		sb_puts(b, "\n      \"io.overseer.version\": ");
		snprintf(version, sizeof(version), "%" PRId64, recs[i].since);
		sb_yaml_quoted(b, version);
		sb_puts(b, "\n      \"io.overseer.node\": ");
		sb_yaml_quoted(b, ec->node);
		sb_puts(b, "\n");
		for (j = 0; j < app->n_labels; j++) {
			sb_puts(b, "      ");
			sb_yaml_quoted(b, app->labels[j].key);
			sb_puts(b, ": ");
			sb_yaml_quoted(b, app->labels[j].value);
			sb_puts(b, "\n");
		}
		/* In the caller's order, so the same routes write the same file. */
		for (j = 0; j < app->n_service_labels; j++) {
			if (strcmp(app->service_labels[j].service, cf->services[i].name) != 0)
				continue;
			sb_puts(b, "      ");
			sb_yaml_quoted(b, app->service_labels[j].key);
			sb_puts(b, ": ");
			sb_yaml_quoted(b, app->service_labels[j].value);
			sb_puts(b, "\n");
		}
	}
	return b->failed ? OVR_ERR_NOMEM : 0;
}

/* 1 if key is one of app's secret keys. */
static int is_secret_key(const struct executor_app *app, const char *key)
{
	size_t i;

	for (i = 0; i < app->n_secret_keys; i++)
		if (strcmp(app->secret_keys[i], key) == 0)
			return 1;
	return 0;
}

/* "KEY=value" copies of app's environment into set, its secrets marked; 0 or OVR_ERR_NOMEM. */
static int exec_env_copy(struct exec_envset *set, const struct executor_app *app)
{
	size_t i;

	if (envset_alloc(set, app->n_env) != 0)
		return OVR_ERR_NOMEM;
	for (i = 0; i < app->n_env; i++) {
		size_t kl = strlen(app->env[i].key), vl = strlen(app->env[i].value);
		char *e = malloc(kl + vl + 2);

		if (e == NULL) {
			envset_free(set);
			return OVR_ERR_NOMEM;
		}
		memcpy(e, app->env[i].key, kl);
		e[kl] = '=';
		memcpy(e + kl + 1, app->env[i].value, vl + 1);
		set->entries[i] = e;
		set->secret[i] = (unsigned char)is_secret_key(app, app->env[i].key);
		set->n++;
	}
	return 0;
}

/* Keeps set (ownership passes; set is zeroed) as app's environment, wiping an older one. */
static int exec_env_keep(struct exec_compose *ec, const char *app, struct exec_envset *set)
{
	size_t i;
	int err = 0;

	pthread_mutex_lock(&ec->lock);
	for (i = 0; i < ec->n_envs; i++)
		if (strcmp(ec->envs[i].app, app) == 0)
			break;
	if (i == ec->n_envs) {
		struct exec_env *ne = realloc(ec->envs, (ec->n_envs + 1) * sizeof(*ne));

		if (ne == NULL) {
			err = OVR_ERR_NOMEM;
			goto out;
		}
		ec->envs = ne;
		memset(&ec->envs[i], 0, sizeof(ec->envs[i]));
		ovr_strlcpy(ec->envs[i].app, app, sizeof(ec->envs[i].app));
		ec->n_envs++;
	}
	envset_free(&ec->envs[i].set);
	ec->envs[i].set = *set;
	memset(set, 0, sizeof(*set));
out:
	pthread_mutex_unlock(&ec->lock);
	envset_free(set);
	return err;
}

/* A copy of app's kept environment, secrets marked (possibly empty); 0 or OVR_ERR_NOMEM. */
static int exec_env_get(struct exec_envset *copy, struct exec_compose *ec, const char *app)
{
	const struct exec_envset *kept = NULL;
	size_t i;
	int err;

	pthread_mutex_lock(&ec->lock);
	for (i = 0; i < ec->n_envs && kept == NULL; i++)
		if (strcmp(ec->envs[i].app, app) == 0)
			kept = &ec->envs[i].set;
	err = envset_alloc(copy, kept != NULL ? kept->n : 0);
	for (i = 0; err == 0 && kept != NULL && i < kept->n; i++) {
		copy->entries[i] = strdup(kept->entries[i]);
		if (copy->entries[i] == NULL) {
			envset_free(copy);
			err = OVR_ERR_NOMEM;
			break;
		}
		copy->secret[i] = kept->secret[i];
		copy->n++;
	}
	pthread_mutex_unlock(&ec->lock);
	return err;
}

static void exec_env_forget(struct exec_compose *ec, const char *app)
{
	size_t i;

	pthread_mutex_lock(&ec->lock);
	for (i = 0; i < ec->n_envs; i++) {
		if (strcmp(ec->envs[i].app, app) != 0)
			continue;
		envset_free(&ec->envs[i].set);
		ec->envs[i] = ec->envs[ec->n_envs - 1];
		ec->n_envs--;
		break;
	}
	pthread_mutex_unlock(&ec->lock);
}

/* 1 if s is a compose service name (letters, digits, '.', '_', '-'), safe to print. */
static int service_name_ok(const char *s)
{
	size_t i;

	for (i = 0; s[i] != '\0'; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		      (s[i] >= '0' && s[i] <= '9') || s[i] == '.' || s[i] == '_' || s[i] == '-'))
			return 0;
	return i > 0 && i < 128;
}

/*
 * app's per-service labels against the parsed file: valid keys and values, a service of the
 * file, no key twice on one service (compose would refuse the override's duplicate keys).
 */
static int check_service_labels(const struct executor_app *app, const struct compose_file *cf,
                                struct executor_result *res)
{
	const struct executor_label *l = app->service_labels;
	size_t i, k;
	int twice;

	for (i = 0; i < app->n_service_labels; i++) {
		if (l[i].service == NULL || !service_name_ok(l[i].service))
			return res_fail(res, OVR_ERR_INVALID,
			                "app %s: service label %zu: invalid service name",
			                app->name, i + 1);
		if (compose_file_service(cf, l[i].service) == NULL)
			return res_fail(res, OVR_ERR_INVALID,
			                "app %s: service label %zu: '%s' is not a service of the "
			                "compose file",
			                app->name, i + 1, l[i].service);
		if (!label_key_valid(l[i].key) || l[i].value == NULL)
			return res_fail(res, OVR_ERR_INVALID,
			                "app %s: service label %zu: invalid or reserved key",
			                app->name, i + 1);
		twice = 0;
		for (k = 0; k < app->n_labels; k++)
			twice |= strcmp(app->labels[k].key, l[i].key) == 0;
		for (k = 0; k < i; k++)
			twice |= strcmp(l[k].service, l[i].service) == 0 &&
			         strcmp(l[k].key, l[i].key) == 0;
		if (twice)
			return res_fail(res, OVR_ERR_INVALID,
			                "app %s: service label %zu: key %s set twice on service %s",
			                app->name, i + 1, l[i].key, l[i].service);
	}
	return 0;
}

static int exec_apply(void *self, const struct executor_app *app, struct executor_result *res)
{
	static const char *const up[] = {"up", "-d", "--remove-orphans", NULL};
	static const char *const hash[] = {"config", "--hash=*", NULL};
	struct exec_compose *ec = self;
	struct compose_file *cf = NULL;
	struct sbuf ov = {0};
	struct svc_rec *recs = NULL, *old = NULL;
	struct exec_envset env = {0};
	char appdir[EXEC_DIR_MAX], dir[EXEC_VDIR_MAX], path[EXEC_PATH_MAX];
	char *hashes = NULL;
	size_t i, n_old = 0;
	int err;

	res_start(res);
	if (check_app_name(app->name, res) != 0)
		return res->err;
	if (app->version <= 0)
		return res_fail(res, OVR_ERR_INVALID, "app %s: version must be positive",
		                app->name);
	if (app->compose_yaml == NULL)
		return res_fail(res, OVR_ERR_INVALID, "app %s: no compose file", app->name);
	if (app->n_env > EXECUTOR_MAX_ENV || app->n_labels > EXECUTOR_MAX_LABELS ||
	    app->n_service_labels > EXECUTOR_MAX_SVC_LABELS ||
	    app->n_secret_keys > EXECUTOR_MAX_ENV)
		return res_fail(res, OVR_ERR_TOO_LARGE,
		                "app %s: too many environment entries, labels or secret keys",
		                app->name);
	for (i = 0; i < app->n_secret_keys; i++)
		if (app->secret_keys[i] == NULL)
			return res_fail(res, OVR_ERR_INVALID, "app %s: secret key %zu is missing",
			                app->name, i + 1);
	for (i = 0; i < app->n_env; i++)
		if (!env_key_valid(app->env[i].key) || app->env[i].value == NULL)
			return res_fail(res, OVR_ERR_INVALID,
			                "app %s: environment entry %zu: the name must match "
			                "^[A-Za-z_][A-Za-z0-9_]*$",
			                app->name, i + 1);
	for (i = 0; i < app->n_labels; i++)
		if (!label_key_valid(app->labels[i].key) || app->labels[i].value == NULL)
			return res_fail(res, OVR_ERR_INVALID,
			                "app %s: label %zu: invalid or reserved key", app->name,
			                i + 1);
	if (exec_app_dir(appdir, sizeof(appdir), ec, app->name) != 0)
		return res_fail(res, OVR_ERR_TOO_LARGE, "app %s: state directory path too long",
		                app->name);
	snprintf(dir, sizeof(dir), "%s/%" PRId64, appdir, app->version);

	err = compose_file_parse(&cf, app->compose_yaml, app->compose_len);
	if (err != 0)
		return res_fail(res, err, "app %s version %" PRId64 ": %s", app->name, app->version,
		                ovr_err_msg(err));
	err = check_service_labels(app, cf, res);
	if (err != 0)
		goto out;
	err = exec_env_copy(&env, app);
	recs = calloc(cf->n_services + 1, sizeof(*recs));
	if (err != 0 || recs == NULL) {
		err = res_fail(res, OVR_ERR_NOMEM, "app %s: out of memory", app->name);
		goto out;
	}
	err = fs_mkdir_p(dir, 0700);
	if (err == 0) {
		snprintf(path, sizeof(path), "%s/%s", dir, EXEC_COMPOSE_FILE);
		err = fs_write_file_atomic(path, app->compose_yaml, app->compose_len, 0600);
	}
	if (err != 0) {
		res_fail(res, err, "app %s: %s", app->name, ovr_err_msg(err));
		goto out;
	}

	log_info("compose apply app=%s version=%" PRId64 " services=%zu env=%zu", app->name,
	         app->version, cf->n_services, app->n_env);
	/* Compose's own per-service hash, to keep io.overseer.version on unchanged services. */
	err = exec_run(ec, res, app->name, dir, EXEC_FILES_USER, &env, hash, &hashes);
	if (err != 0)
		goto out;
	old = svc_read(appdir, &n_old);
	svc_since(recs, cf, hashes, old, n_old, app);

	err = exec_override(&ov, ec, app, cf, recs);
	if (err == 0) {
		snprintf(path, sizeof(path), "%s/%s", dir, EXEC_OVERRIDE);
		err = fs_write_file_atomic(path, ov.p, ov.len, 0600);
	}
	if (err != 0) {
		res_fail(res, err, "app %s: %s", app->name, ovr_err_msg(err));
		goto out;
	}

	err = exec_run(ec, res, app->name, dir, EXEC_FILES_VERSION, &env, up, NULL);
	/* Kept even on failure: a later down needs the environment the containers got. */
	exec_env_keep(ec, app->name, &env);
	if (err != 0)
		goto out;
	/* Not written: the next version counts every service as changed, which is safe. */
	if (svc_write(appdir, recs, cf->n_services) != 0)
		log_warnx("apply app=%s: service record not written: %s", app->name,
		          ovr_err_msg(ovr_err_last()));
	res_finish(res, 0);
	log_info("compose applied app=%s version=%" PRId64 " ms=%" PRId64, app->name, app->version,
	         res->elapsed_ms);
out:
	envset_free(&env);
	free(ov.p);
	free(recs);
	free(old);
	free(hashes);
	compose_file_free(cf);
	return err;
}

/* The highest numbered version directory under appdir that holds both files; 0 if none. */
static int64_t exec_newest_version(const char *appdir)
{
	char path[EXEC_PATH_MAX];
	struct dirent *de;
	int64_t best = 0;
	DIR *d = opendir(appdir);

	if (d == NULL)
		return 0;
	while ((de = readdir(d)) != NULL) {
		char *end;
		long long v;

		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		errno = 0;
		v = strtoll(de->d_name, &end, 10);
		if (errno != 0 || *end != '\0' || v <= best)
			continue;
		snprintf(path, sizeof(path), "%s/%s/%s", appdir, de->d_name, EXEC_OVERRIDE);
		if (fs_exists(path))
			best = v;
	}
	closedir(d);
	return best;
}

/* Removes the app's version directories (only files this executor writes) and the app dir. */
static void exec_remove_files(const char *appdir)
{
	static const char *const files[] = {EXEC_COMPOSE_FILE, EXEC_OVERRIDE, EXEC_EMPTY_FILE};
	char path[EXEC_PATH_MAX];
	struct dirent *de;
	size_t i;
	DIR *d = opendir(appdir);

	if (d == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' &&
		    (de->d_name[1] == '\0' || (de->d_name[1] == '.' && de->d_name[2] == '\0')))
			continue;
		for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
			snprintf(path, sizeof(path), "%s/%s/%s", appdir, de->d_name, files[i]);
			unlink(path);
		}
		snprintf(path, sizeof(path), "%s/%s", appdir, de->d_name);
		if (rmdir(path) != 0 && errno != ENOTDIR)
			log_warn("remove path=%s", path);
	}
	closedir(d);
	snprintf(path, sizeof(path), "%s/%s", appdir, EXEC_SERVICES);
	unlink(path);
	if (rmdir(appdir) != 0)
		log_warn("remove path=%s", appdir);
}

static int exec_remove(void *self, const char *app, int purge_volumes, struct executor_result *res)
{
	static const char *const down[] = {"down", "--remove-orphans", NULL};
	static const char *const down_v[] = {"down", "--remove-orphans", "-v", NULL};
	/* v1 reads a version-less file with a top-level "services" as the old format. */
	static const char exec_empty[] = "version: \"3.7\"\nservices: {}\n";
	struct exec_compose *ec = self;
	char appdir[EXEC_DIR_MAX], dir[EXEC_VDIR_MAX], path[EXEC_PATH_MAX];
	struct exec_envset env = {0};
	int64_t version;
	int err;

	res_start(res);
	if (check_app_name(app, res) != 0)
		return res->err;
	if (exec_app_dir(appdir, sizeof(appdir), ec, app) != 0)
		return res_fail(res, OVR_ERR_TOO_LARGE, "app %s: state directory path too long",
		                app);
	if (exec_env_get(&env, ec, app) != 0)
		return res_fail(res, OVR_ERR_NOMEM, "app %s: out of memory", app);

	version = exec_newest_version(appdir);
	if (version > 0) {
		snprintf(dir, sizeof(dir), "%s/%" PRId64, appdir, version);
		log_info("compose remove app=%s version=%" PRId64 " purge_volumes=%d", app, version,
		         purge_volumes);
		err = exec_run(ec, res, app, dir, EXEC_FILES_VERSION, &env,
		               purge_volumes ? down_v : down, NULL);
	} else {
		/*
		 * No files: compose still wants one, so an empty project; its containers are then
		 * orphans that --remove-orphans takes. Named volumes are not known this way.
		 */
		snprintf(dir, sizeof(dir), "%s/.down", appdir);
		snprintf(path, sizeof(path), "%s/%s", dir, EXEC_EMPTY_FILE);
		err = fs_mkdir_p(dir, 0700);
		if (err == 0)
			err = fs_write_file_atomic(path, exec_empty, strlen(exec_empty), 0600);
		if (err != 0) {
			res_fail(res, err, "app %s: %s", app, ovr_err_msg(err));
			goto out;
		}
		log_info("compose remove app=%s version=none purge_volumes=%d", app, purge_volumes);
		err = exec_run(ec, res, app, dir, EXEC_FILES_EMPTY, &env,
		               purge_volumes ? down_v : down, NULL);
	}
	if (err == 0) {
		exec_remove_files(appdir);
		exec_env_forget(ec, app);
		res_finish(res, 0);
		log_info("compose removed app=%s ms=%" PRId64, app, res->elapsed_ms);
	}
out:
	envset_free(&env);
	return err;
}

/* ---- status ---- */

static const char *jstr(json_t *obj, const char *key)
{
	const char *s = json_string_value(json_object_get(obj, key));

	return s != NULL ? s : "";
}

/* RFC 3339 with optional fraction ("2026-11-23T12:55:03.123456789Z") to unix ms; 0 if unset. */
static int64_t parse_started(const char *s)
{
	struct tm tm;
	const char *p;
	int64_t ms = 0, scale = 100;
	int len = 0;
	time_t t;

	memset(&tm, 0, sizeof(tm));
	if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
	           &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &len) != 6 ||
	    tm.tm_year < 1971)
		return 0;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	p = s + len;
	if (*p == '.')
		for (p++; *p >= '0' && *p <= '9'; p++, scale /= 10)
			ms += (*p - '0') * scale;
	t = timegm(&tm);
	return t < 0 ? 0 : (int64_t)t * 1000 + ms;
}

/* .NetworkSettings.Ports {"80/tcp":[{"HostIp":"127.0.0.1","HostPort":"8080"}]} into c->ports. */
static void fill_ports(struct executor_container *c, json_t *ports)
{
	const char *key;
	json_t *binds, *b;
	size_t i;

	json_object_foreach(ports, key, binds)
	{
		json_array_foreach(binds, i, b)
		{
			if (c->n_ports >= EXECUTOR_MAX_PORTS)
				return;
			snprintf(c->ports[c->n_ports], sizeof(c->ports[0]), "%s:%s->%s",
			         jstr(b, "HostIp"), jstr(b, "HostPort"), key);
			c->n_ports++;
		}
	}
}

/* The last entry of .State.Health.Log {"ExitCode":1,"Output":"..."} into c, made printable. */
static void fill_health_log(struct executor_container *c, json_t *health)
{
	json_t *log = json_object_get(health, "Log");
	json_t *last = json_array_get(log, json_array_size(log) - 1);
	char *p;

	if (!json_is_object(last))
		return;
	c->has_health_log = 1;
	c->health_exit_code = (int32_t)json_integer_value(json_object_get(last, "ExitCode"));
	applied_utf8_copy(c->health_output, sizeof(c->health_output), jstr(last, "Output"));
	for (p = c->health_output; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = ' ';
	rstrip(c->health_output);
}

static void fill_container(struct executor_container *c, json_t *insp)
{
	json_t *state = json_object_get(insp, "State");
	json_t *config = json_object_get(insp, "Config");
	json_t *labels = json_object_get(config, "Labels");
	const char *name = jstr(insp, "Name");
	const char *v;

	ovr_strlcpy(c->id, jstr(insp, "Id"), sizeof(c->id));
	ovr_strlcpy(c->name, name[0] == '/' ? name + 1 : name, sizeof(c->name));
	ovr_strlcpy(c->service, jstr(labels, "com.docker.compose.service"), sizeof(c->service));
	ovr_strlcpy(c->state, jstr(state, "Status"), sizeof(c->state));
	ovr_strlcpy(c->health, jstr(json_object_get(state, "Health"), "Status"), sizeof(c->health));
	fill_health_log(c, json_object_get(state, "Health"));
	c->restart_count = (int32_t)json_integer_value(json_object_get(insp, "RestartCount"));
	c->exit_code = (int32_t)json_integer_value(json_object_get(state, "ExitCode"));
	ovr_strlcpy(c->image, jstr(config, "Image"), sizeof(c->image));
	c->started_unix_ms = parse_started(jstr(state, "StartedAt"));
	v = jstr(labels, "io.overseer.version");
	c->version = strtoll(v, NULL, 10);
	fill_ports(c, json_object_get(json_object_get(insp, "NetworkSettings"), "Ports"));
}

static int container_cmp(const void *a, const void *b)
{
	const struct executor_container *x = a, *y = b;
	int r = strcmp(x->service, y->service);

	return r != 0 ? r : strcmp(x->name, y->name);
}

static int exec_status(void *self, const char *app, struct executor_status *out)
{
	struct exec_compose *ec = self;
	char path[512];
	json_t *list = NULL, *item;
	size_t i;
	int err;

	memset(out, 0, sizeof(*out));
	if (app == NULL || !ovr_name_valid(app))
		return ovr_err_set(OVR_ERR_INVALID, "app name must match ^[a-z][a-z0-9-]{0,62}$");
	/* filters={"label":["com.docker.compose.project=P"]}, URL-encoded; P is [a-z0-9_-]. */
	snprintf(path, sizeof(path),
	         "/containers/json?all=1&filters=%%7B%%22label%%22%%3A%%5B%%22"
	         "com.docker.compose.project%%3D%s-%s%%22%%5D%%7D",
	         ec->prefix, app);
	pthread_mutex_lock(&ec->api_lock);
	err = docker_api_get_json(ec->api, path, &list);
	if (err != 0)
		goto out;
	if (!json_is_array(list)) {
		err = ovr_err_set(OVR_ERR_UNAVAILABLE,
		                  "docker engine: container list is not an array");
		goto out;
	}
	if (json_array_size(list) > EXECUTOR_MAX_CONTAINERS) {
		err = ovr_err_set(OVR_ERR_TOO_LARGE, "app %s: more than %d containers", app,
		                  EXECUTOR_MAX_CONTAINERS);
		goto out;
	}
	if (json_array_size(list) > 0) {
		out->containers = calloc(json_array_size(list), sizeof(*out->containers));
		if (out->containers == NULL) {
			err = ovr_err_set(OVR_ERR_NOMEM, "out of memory");
			goto out;
		}
	}
	json_array_foreach(list, i, item)
	{
		const char *id = jstr(item, "Id");
		json_t *insp = NULL;
		size_t k;

		for (k = 0; id[k] != '\0'; k++)
			if (!((id[k] >= '0' && id[k] <= '9') || (id[k] >= 'a' && id[k] <= 'f')))
				break;
		if (k == 0 || k > 64 || id[k] != '\0')
			continue;
		snprintf(path, sizeof(path), "/containers/%s/json", id);
		err = docker_api_get_json(ec->api, path, &insp);
		if (err == OVR_ERR_NOT_FOUND) {
			err = 0; /* removed since the list */
			continue;
		}
		if (err != 0)
			goto out;
		fill_container(&out->containers[out->n_containers++], insp);
		json_decref(insp);
	}
	if (out->n_containers > 1)
		qsort(out->containers, out->n_containers, sizeof(*out->containers), container_cmp);
out:
	pthread_mutex_unlock(&ec->api_lock);
	json_decref(list);
	if (err != 0)
		executor_status_free(out);
	return err;
}

static void exec_free(void *self)
{
	struct exec_compose *ec = self;
	size_t i;

	if (ec == NULL)
		return;
	for (i = 0; i < ec->n_envs; i++)
		envset_free(&ec->envs[i].set);
	free(ec->envs);
	docker_api_free(ec->api);
	pthread_mutex_destroy(&ec->lock);
	pthread_mutex_destroy(&ec->api_lock);
	free(ec->state_dir);
	free(ec->prefix);
	free(ec->node);
	free(ec);
}

static const struct executor_ops exec_compose_ops = {
        .apply = exec_apply,
        .remove = exec_remove,
        .status = exec_status,
        .free = exec_free,
};

int executor_compose_new(struct executor *ex, const struct executor_compose_opts *opts)
{
	struct docker_api_opts aopts;
	struct exec_compose *ec;
	const char *prefix = opts->project_prefix != NULL ? opts->project_prefix : "ovr";
	int err;

	memset(ex, 0, sizeof(*ex));
	if (opts->state_dir == NULL || opts->state_dir[0] == '\0')
		return ovr_err_set(OVR_ERR_INVALID, "executor: no state directory");
	if (!prefix_valid(prefix))
		return ovr_err_set(OVR_ERR_INVALID,
		                   "project prefix must match ^[a-z0-9][a-z0-9_-]{0,62}$");
	ec = calloc(1, sizeof(*ec));
	if (ec == NULL)
		return ovr_err_set(OVR_ERR_NOMEM, "out of memory");
	pthread_mutex_init(&ec->lock, NULL);
	pthread_mutex_init(&ec->api_lock, NULL);
	ec->state_dir = strdup(opts->state_dir);
	ec->prefix = strdup(prefix);
	ec->node = strdup(opts->node_name != NULL ? opts->node_name : "");
	ec->timeout_ms = opts->timeout_ms > 0 ? opts->timeout_ms : EXECUTOR_APPLY_TIMEOUT_MS;
	if (opts->cli != NULL) {
		ec->cli = *opts->cli;
		ec->have_cli = 1;
	}
	if (ec->state_dir == NULL || ec->prefix == NULL || ec->node == NULL) {
		exec_free(ec);
		return ovr_err_set(OVR_ERR_NOMEM, "out of memory");
	}
	memset(&aopts, 0, sizeof(aopts));
	aopts.socket_path = opts->docker_socket;
	err = docker_api_new(&ec->api, &aopts);
	if (err != 0) {
		exec_free(ec);
		return err;
	}
	ex->ops = &exec_compose_ops;
	ex->self = ec;
	return 0;
}

int executor_compose_project(const struct executor *ex, const char *app, char *buf, size_t size)
{
	const struct exec_compose *ec = ex->self;
	int n;

	if (ex->ops != &exec_compose_ops || app == NULL || !ovr_name_valid(app))
		return ovr_err_set(OVR_ERR_INVALID, "not a compose executor or a bad app name");
	n = snprintf(buf, size, "%s-%s", ec->prefix, app);
	return n < 0 || (size_t)n >= size ? ovr_err_set(OVR_ERR_TOO_LARGE, "buffer too small") : 0;
}
