/*
 * ovrctl secret set|ls|rm: the server's encrypted secret store. Values go in from standard input
 * or a file, never from the command line, and never come back out.
 */
#include "args.h"
#include "cmd.h"
#include "crypto.h"
#include "ctl.h"
#include "err.h"
#include "overseer/v1/secrets.pb-c.h"
#include "pager.h"
#include "strutil.h"
#include "table.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

/* The server's limit on a value. */
#define SECRET_VALUE_MAX (64 * 1024)
/* Room for the value, the newline that is stripped, and one byte to notice a longer input. */
#define SECRET_READ_CAP (SECRET_VALUE_MAX + 2)

/* The terminal as it was before the prompt turned echo off, for a signal handler to restore. */
static struct termios saved_tty;
static volatile sig_atomic_t tty_saved;

static void restore_tty_and_die(int sig)
{
	if (tty_saved)
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved_tty);
	signal(sig, SIG_DFL);
	raise(sig);
}

/* Reads fd to its end, or to cap bytes, into buf; *len is what was read. 0 or -1 (errno set). */
static int read_all(int fd, unsigned char *buf, size_t cap, int stop_at_newline, size_t *len)
{
	ssize_t n;

	*len = 0;
	while (*len < cap) {
		n = read(fd, buf + *len, cap - *len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0)
			break;
		*len += (size_t)n;
		if (stop_at_newline && buf[*len - 1] == '\n')
			break;
	}
	return 0;
}

/* Asks for the value on the terminal with echo off; the line read into buf. */
static int read_from_terminal(const char *name, unsigned char *buf, size_t *len)
{
	static const int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};
	struct sigaction sa, old[sizeof(sigs) / sizeof(sigs[0])];
	struct termios quiet;
	size_t k;
	int rc;

	if (tcgetattr(STDIN_FILENO, &saved_tty) != 0)
		return ovr_err_set(OVR_ERR_IO, "cannot read the terminal's settings: %s",
		                   strerror(errno));
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = restore_tty_and_die;
	sigemptyset(&sa.sa_mask);
	for (k = 0; k < sizeof(sigs) / sizeof(sigs[0]); k++)
		sigaction(sigs[k], &sa, &old[k]);
	tty_saved = 1;
	quiet = saved_tty;
	quiet.c_lflag &= ~(tcflag_t)ECHO;
	fprintf(stderr, "value for %s: ", name);
	fflush(stderr);
	if (tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet) != 0)
		rc = ovr_err_set(OVR_ERR_IO, "cannot turn the terminal's echo off: %s",
		                 strerror(errno));
	else if (read_all(STDIN_FILENO, buf, SECRET_READ_CAP, 1, len) != 0)
		rc = ovr_err_set(OVR_ERR_IO, "cannot read standard input: %s", strerror(errno));
	else
		rc = 0;
	tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved_tty);
	tty_saved = 0;
	for (k = 0; k < sizeof(sigs) / sizeof(sigs[0]); k++)
		sigaction(sigs[k], &old[k], NULL);
	fputc('\n', stderr); /* the Enter that was not echoed */
	return rc;
}

/*
 * The value into buf (SECRET_READ_CAP bytes): from path, else standard input (asked for on a
 * terminal). Exactly one trailing "\n" is removed, so `echo pw | ovrctl secret set` stores "pw".
 * Empty values, values over SECRET_VALUE_MAX and NUL bytes are refused.
 */
static int read_value(const char *name, const char *path, unsigned char *buf, size_t *len)
{
	const char *what = path ? path : "standard input";
	int fd = STDIN_FILENO, err = 0;

	if (path) {
		fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
		if (fd < 0)
			return ovr_err_set(errno == ENOENT ? OVR_ERR_NOT_FOUND : OVR_ERR_IO,
			                   "--from-file %s: %s", path, strerror(errno));
	}
	if (!path && isatty(STDIN_FILENO))
		err = read_from_terminal(name, buf, len);
	else if (read_all(fd, buf, SECRET_READ_CAP, 0, len) != 0)
		err = ovr_err_set(OVR_ERR_IO, "cannot read %s: %s", what, strerror(errno));
	if (path)
		close(fd);
	if (err)
		return err;
	if (*len > 0 && buf[*len - 1] == '\n')
		(*len)--;
	if (*len > SECRET_VALUE_MAX)
		return ovr_err_set(OVR_ERR_TOO_LARGE,
		                   "the value from %s is larger than the limit of %d KiB", what,
		                   SECRET_VALUE_MAX / 1024);
	if (*len == 0)
		return ovr_err_set(OVR_ERR_INVALID, "the value from %s is empty", what);
	/* It becomes an environment variable, which cannot hold one. */
	if (memchr(buf, '\0', *len))
		return ovr_err_set(OVR_ERR_INVALID, "the value from %s contains a NUL byte", what);
	return 0;
}

/* NAME, checked: a usage error for a missing or malformed one. */
static int secret_name(const struct ctl *ctl, const char *name)
{
	if (!name)
		return ctl_usage(ctl, "NAME is required");
	if (!ovr_name_valid(name))
		return ctl_usage(ctl,
		                 "'%.80s' is not a secret name (lowercase letters, digits and '-', "
		                 "starting with a letter, at most 63)",
		                 name);
	return 0;
}

int cmd_secret_set(struct ctl *ctl, int argc, char **argv)
{
	Overseer__V1__PutSecretRequest req = OVERSEER__V1__PUT_SECRET_REQUEST__INIT;
	Overseer__V1__Secret *resp = NULL;
	const char *name = NULL, *path = NULL, *v;
	char rid[CTL_REQUEST_ID_SIZE];
	unsigned char *value = NULL;
	size_t len = 0;
	int i, r, rc, err;

	for (i = 0; i < argc; i++) {
		if ((r = args_value(argc, argv, &i, "--from-file", &v)) != 0) {
			if (r < 0)
				return ctl_usage_line(ctl);
			path = v;
		} else if ((r = args_value(argc, argv, &i, "--request-id", &v)) != 0) {
			if (r < 0)
				return ctl_usage_line(ctl);
			req.request_id = (char *)(uintptr_t)v;
		} else if (argv[i][0] == '-' && argv[i][1]) {
			return ctl_usage(ctl, "unknown flag '%s'", argv[i]);
		} else if (name) {
			/* Never echoed: it is probably the value. */
			return ctl_usage(ctl,
			                 "values are read from stdin or --from-file, never from "
			                 "the command line");
		} else {
			name = argv[i];
		}
	}
	if ((rc = secret_name(ctl, name)) != 0)
		return rc;
	if (!req.request_id[0]) {
		if ((err = ctl_request_id(rid, sizeof(rid))) != 0)
			return ctl_fail("%s", ovr_err_msg(err));
		req.request_id = rid;
	}
	value = malloc(SECRET_READ_CAP);
	if (!value)
		return ctl_fail("out of memory");
	if ((err = read_value(name, path, value, &len)) != 0) {
		rc = ctl_fail("secret %s: %s", name, ovr_err_msg(err));
		goto out;
	}
	req.name = (char *)(uintptr_t)name;
	req.value.data = value;
	req.value.len = len;
	rc = ctl_call_mutating(ctl, "/overseer.v1.Secrets/PutSecret", &req.base,
	                       &overseer__v1__secret__descriptor, (ProtobufCMessage **)&resp);
	if (rc)
		goto out;
	if (ctl->output != CTL_OUTPUT_TABLE)
		rc = ctl_print_structured(ctl, &resp->base) ? CTL_EXIT_FAIL : CTL_EXIT_OK;
	else
		printf("secret %s version %d stored\n", name, resp->version);
out:
	crypto_wipe(value, SECRET_READ_CAP);
	free(value);
	if (resp)
		protobuf_c_message_free_unpacked(&resp->base, NULL);
	return rc;
}

static const char *const secret_headers[] = {"NAME", "VERSION", "CREATED-BY", "UPDATED", "USED-BY"};

static void print_secrets(Overseer__V1__Secret *const *secrets, size_t n)
{
	char name[80], version[24], by[128], updated[64], used[1024], app[80];
	const char *row[5];
	struct table t;
	size_t i, k, w;

	table_init(&t, 5, secret_headers);
	for (i = 0; i < n; i++) {
		const Overseer__V1__Secret *s = secrets[i];

		snprintf(version, sizeof(version), "%d", s->version);
		ovr_format_time(updated, sizeof(updated), s->updated_unix_ms);
		used[0] = '\0';
		for (k = 0, w = 0; k < s->n_used_by && w + 1 < sizeof(used); k++) {
			snprintf(used + w, sizeof(used) - w, "%s%s", k ? "," : "",
			         ctl_clean(app, sizeof(app), s->used_by[k]));
			w = strlen(used);
		}
		row[0] = ctl_clean(name, sizeof(name), s->name);
		row[1] = version;
		row[2] = ctl_clean(by, sizeof(by), s->created_by);
		row[3] = updated;
		row[4] = used;
		table_add(&t, row);
	}
	table_print(&t, stdout);
	table_free(&t);
}

int cmd_secret_ls(struct ctl *ctl, int argc, char **argv)
{
	Overseer__V1__ListSecretsRequest req = OVERSEER__V1__LIST_SECRETS_REQUEST__INIT;
	Overseer__V1__ListSecretsResponse all = OVERSEER__V1__LIST_SECRETS_RESPONSE__INIT;
	struct pager p;
	int rc;

	if (argc > 0)
		return ctl_usage(ctl, "secret ls: unexpected '%s'", argv[0]);
	rc = pager_list(&p, ctl, "/overseer.v1.Secrets/ListSecrets", &req.base,
	                &overseer__v1__list_secrets_response__descriptor, "secrets");
	if (!rc) {
		all.secrets = (Overseer__V1__Secret **)p.items;
		all.n_secrets = p.n_items;
		if (ctl->output != CTL_OUTPUT_TABLE)
			rc = ctl_print_structured(ctl, &all.base) ? CTL_EXIT_FAIL : CTL_EXIT_OK;
		else
			print_secrets(all.secrets, all.n_secrets);
	}
	pager_free(&p);
	return rc;
}

int cmd_secret_rm(struct ctl *ctl, int argc, char **argv)
{
	Overseer__V1__DeleteSecretRequest req = OVERSEER__V1__DELETE_SECRET_REQUEST__INIT;
	Overseer__V1__DeleteSecretResponse *resp = NULL;
	const char *name = NULL, *v;
	char rid[CTL_REQUEST_ID_SIZE];
	int i, r, rc, err;

	for (i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--force") == 0) {
			req.force = 1;
		} else if ((r = args_value(argc, argv, &i, "--request-id", &v)) != 0) {
			if (r < 0)
				return ctl_usage_line(ctl);
			req.request_id = (char *)(uintptr_t)v;
		} else if (argv[i][0] == '-' && argv[i][1]) {
			return ctl_usage(ctl, "unknown flag '%s'", argv[i]);
		} else if (name) {
			return ctl_usage(ctl, "unexpected argument '%s'", argv[i]);
		} else {
			name = argv[i];
		}
	}
	if ((rc = secret_name(ctl, name)) != 0)
		return rc;
	req.name = (char *)(uintptr_t)name;
	if (!req.request_id[0]) {
		if ((err = ctl_request_id(rid, sizeof(rid))) != 0)
			return ctl_fail("%s", ovr_err_msg(err));
		req.request_id = rid;
	}
	rc = ctl_call_mutating(ctl, "/overseer.v1.Secrets/DeleteSecret", &req.base,
	                       &overseer__v1__delete_secret_response__descriptor,
	                       (ProtobufCMessage **)&resp);
	if (rc)
		return rc;
	if (ctl->output != CTL_OUTPUT_TABLE)
		rc = ctl_print_structured(ctl, &resp->base) ? CTL_EXIT_FAIL : CTL_EXIT_OK;
	else
		printf("secret %s deleted\n", name);
	protobuf_c_message_free_unpacked(&resp->base, NULL);
	return rc;
}
