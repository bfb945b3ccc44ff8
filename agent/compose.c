/* Docker Compose detection: `docker compose` (v2 plugin) when it works, else `docker-compose`. */
#include "compose.h"

#include "err.h"
#include "log.h"
#include "proc.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#define COMPOSE_WHY_SIZE 200

/* Takes the first word of out ("v2.24.5\n" -> "2.24.5"); -1 unless it looks like a version. */
static int compose_parse_version(char *dst, size_t size, const char *out)
{
	size_t n = 0;

	while (*out == ' ' || *out == '\t' || *out == '\r' || *out == '\n')
		out++;
	if (*out == 'v')
		out++;
	if (*out < '0' || *out > '9')
		return -1;
	while (out[n] != '\0' && out[n] != '\n' && out[n] != '\r' && out[n] != ' ') {
		char ch = out[n];

		if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') ||
		      (ch >= 'A' && ch <= 'Z') || ch == '.' || ch == '-' || ch == '+'))
			return -1;
		n++;
	}
	if (n >= size)
		return -1;
	memcpy(dst, out, n);
	dst[n] = '\0';
	return 0;
}

/* The first non-empty line of text, printable characters only, for a one-line reason. */
static void compose_first_line(char *dst, size_t size, const char *text)
{
	size_t k = 0;

	while (*text == '\n' || *text == '\r' || *text == ' ')
		text++;
	for (; *text != '\0' && *text != '\n' && k + 1 < size; text++)
		if ((unsigned char)*text >= 0x20 && *text != 0x7f)
			dst[k++] = *text;
	dst[k] = '\0';
}

/* Runs PREFIX version --short. 0 and cli filled, or -1 with why set. */
static int compose_try(struct compose_cli *cli, char *why, size_t why_size)
{
	const char *argv[5];
	struct proc_opts opts;
	struct proc_result res;
	char line[120], status[64];
	int i, err, rc = -1;

	for (i = 0; i < cli->argc; i++)
		argv[i] = cli->argv[i];
	argv[i++] = "version";
	argv[i++] = "--short";
	argv[i] = NULL;
	memset(&opts, 0, sizeof(opts));
	opts.timeout_ms = COMPOSE_DETECT_TIMEOUT_MS;
	opts.max_stdout = 4096;
	opts.max_stderr = 4096;

	err = proc_run(&res, argv, &opts);
	if (err < 0) {
		snprintf(why, why_size, "%s", ovr_err_msg(err));
	} else if (!res.exited || res.exit_code != 0) {
		proc_format_status(status, sizeof(status), &res);
		compose_first_line(line, sizeof(line), res.err);
		snprintf(why, why_size, "%s%s%s", status, line[0] ? ": " : "", line);
	} else if (compose_parse_version(cli->version, sizeof(cli->version), res.out) != 0) {
		compose_first_line(line, sizeof(line), res.out);
		snprintf(why, why_size, "unexpected version output \"%s\"", line);
	} else {
		rc = 0;
	}
	proc_result_free(&res);
	return rc;
}

static int compose_detect_once(struct compose_cli *out)
{
	char why_v2[COMPOSE_WHY_SIZE], why_v1[COMPOSE_WHY_SIZE];

	memset(out, 0, sizeof(*out));
	out->argv[0] = "docker";
	out->argv[1] = "compose";
	out->argc = 2;
	if (compose_try(out, why_v2, sizeof(why_v2)) == 0) {
		out->v2 = 1;
		goto found;
	}
	log_debug("compose detect cli=\"docker compose\" unusable: %s", why_v2);

	memset(out, 0, sizeof(*out));
	out->argv[0] = "docker-compose";
	out->argc = 1;
	if (compose_try(out, why_v1, sizeof(why_v1)) == 0) {
		out->v2 = out->version[0] != '1' || out->version[1] != '.';
		goto found;
	}
	log_debug("compose detect cli=docker-compose unusable: %s", why_v1);
	memset(out, 0, sizeof(*out));
	return ovr_err_set(OVR_ERR_NOT_FOUND,
	                   "no working Docker Compose: `docker compose version` failed (%s) and "
	                   "`docker-compose version` failed (%s); install the compose plugin or "
	                   "docker-compose",
	                   why_v2, why_v1);

found:
	log_info("compose detected cli=\"%s%s%s\" version=%s", out->argv[0],
	         out->argc > 1 ? " " : "", out->argc > 1 ? out->argv[1] : "", out->version);
	return 0;
}

/*
 * What worked is kept for the life of the process: each probe starts a CLI (a Python one for
 * compose v1) that takes seconds on a loaded node, and the agent asks at start and at the first
 * apply. A failure is not kept, so installing compose later needs no restart.
 */
int compose_detect(struct compose_cli *out)
{
	static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	static struct compose_cli found;
	static int have;
	int err = 0;

	pthread_mutex_lock(&lock);
	if (!have) {
		err = compose_detect_once(&found);
		have = err == 0;
	}
	if (have)
		*out = found;
	else
		memset(out, 0, sizeof(*out));
	pthread_mutex_unlock(&lock);
	return err;
}
