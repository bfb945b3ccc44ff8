/* ovrctl's shared helpers: the connection, calls, errors and structured output. */
#include "ctl.h"

#include "crypto.h"
#include "err.h"
#include "fsutil.h"
#include "pbjson.h"
#include "rpc.h"

#include <ctype.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int ctl_usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs("ovrctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs(" (see ovrctl --help)\n", stderr);
	return CTL_EXIT_USAGE;
}

int ctl_usage(const struct ctl *ctl, const char *fmt, ...)
{
	va_list ap;

	fputs("ovrctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return ctl_usage_line(ctl);
}

int ctl_usage_line(const struct ctl *ctl)
{
	const struct ctl_command *c = ctl->cmd;

	if (c)
		fprintf(stderr, "usage: ovrctl %s%s%s %s\n", c->noun, c->verb ? " " : "",
		        c->verb ? c->verb : "", c->args);
	return CTL_EXIT_USAGE;
}

int ctl_fail(const char *fmt, ...)
{
	va_list ap;

	fputs("ovrctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return CTL_EXIT_FAIL;
}

int ctl_connect(struct ctl *ctl)
{
	struct rpc_client_opts o;
	char *ca = NULL;
	int err;

	if (ctl->client)
		return 0;
	if (!ctl->ca_file)
		return ovr_err_set(
		        OVR_ERR_CONFIG,
		        "no CA certificate: pass --ca-file or set OVR_CA_FILE (the server "
		        "prints its path; dev mode: DATA_DIR/pki/ca.crt)");
	err = fs_read_file(&ca, NULL, ctl->ca_file, 256 * 1024);
	if (err)
		return ovr_err_set(err, "CA file: %s", ovr_err_msg(err));
	memset(&o, 0, sizeof(o));
	o.target = ctl->server;
	o.ca_pem = ca;
	err = rpc_client_new(&ctl->client, &o);
	free(ca);
	return err;
}

int ctl_call_err(struct ctl *ctl, const char *path, const ProtobufCMessage *req,
                 const ProtobufCMessageDescriptor *resp_desc, ProtobufCMessage **resp)
{
	int err = ctl_connect(ctl);

	*resp = NULL;
	if (!err)
		err = rpc_client_unary(ctl->client, path, ctl->token, req, resp_desc, resp,
		                       ctl->timeout_ms);
	return err;
}

int ctl_call(struct ctl *ctl, const char *path, const ProtobufCMessage *req,
             const ProtobufCMessageDescriptor *resp_desc, ProtobufCMessage **resp)
{
	int err = ctl_call_err(ctl, path, req, resp_desc, resp);

	if (err)
		return ctl_fail("%s", ovr_err_msg(err));
	return CTL_EXIT_OK;
}

int ctl_call_mutating_err(struct ctl *ctl, const char *path, const ProtobufCMessage *req,
                          const ProtobufCMessageDescriptor *resp_desc, ProtobufCMessage **resp)
{
	static const unsigned delays_s[] = {1, 2};
	size_t attempt;
	int err;

	for (attempt = 0;; attempt++) {
		err = ctl_call_err(ctl, path, req, resp_desc, resp);
		if ((err != OVR_ERR_UNAVAILABLE && err != OVR_ERR_TIMEOUT &&
		     err != OVR_ERR_CANCELLED) ||
		    attempt >= sizeof(delays_s) / sizeof(delays_s[0]))
			return err;
		fprintf(stderr, "ovrctl: %s; trying again in %us\n", ovr_err_msg(err),
		        delays_s[attempt]);
		sleep(delays_s[attempt]);
	}
}

int ctl_call_mutating(struct ctl *ctl, const char *path, const ProtobufCMessage *req,
                      const ProtobufCMessageDescriptor *resp_desc, ProtobufCMessage **resp)
{
	int err = ctl_call_mutating_err(ctl, path, req, resp_desc, resp);

	if (err)
		return ctl_fail("%s", ovr_err_msg(err));
	return CTL_EXIT_OK;
}

int ctl_request_id(char *buf, size_t size)
{
	char hex[33];
	int err;

	if (size < CTL_REQUEST_ID_SIZE)
		return ovr_err_set(OVR_ERR_INTERNAL, "request id buffer too small");
	err = crypto_random_hex(hex, 16);
	if (err)
		return err;
	snprintf(buf, size, "ovrctl-%s", hex);
	return 0;
}

int ctl_read_compose(char **out, const char *path)
{
	int stdin_file = strcmp(path, "-") == 0;
	const char *name = stdin_file ? "on standard input" : path;
	char msg[1100];
	char *buf = NULL;
	size_t len = 0;
	int err;

	*out = NULL;
	err = fs_read_file(&buf, &len, stdin_file ? "/dev/stdin" : path, CTL_FILE_MAX);
	if (err == OVR_ERR_TOO_LARGE)
		return ovr_err_set(err, "compose file %s: larger than the limit of %d KiB", name,
		                   CTL_FILE_MAX / 1024);
	if (err) {
		/* Copied first: ovr_err_set writes the buffer ovr_err_msg returns. */
		snprintf(msg, sizeof(msg), "%s", ovr_err_msg(err));
		return ovr_err_set(err, "compose file %s", msg);
	}
	if (len == 0)
		err = ovr_err_set(OVR_ERR_INVALID, "compose file %s: the file is empty", name);
	else if (memchr(buf, '\0', len))
		err = ovr_err_set(OVR_ERR_INVALID,
		                  "compose file %s: contains a NUL byte (not a text file)", name);
	if (err) {
		free(buf);
		return err;
	}
	*out = buf;
	return 0;
}

const char *ctl_enum_name(char *buf, size_t size, const ProtobufCEnumDescriptor *desc, int value)
{
	const ProtobufCEnumValue *zero = protobuf_c_enum_descriptor_get_value(desc, 0);
	const ProtobufCEnumValue *v = protobuf_c_enum_descriptor_get_value(desc, value);
	size_t prefix = 0, i;

	if (value == 0 || !v) {
		if (value == 0)
			snprintf(buf, size, "-");
		else
			snprintf(buf, size, "%d", value);
		return buf;
	}
	if (zero && strlen(zero->name) > 11 &&
	    strcmp(zero->name + strlen(zero->name) - 11, "UNSPECIFIED") == 0 &&
	    strncmp(v->name, zero->name, strlen(zero->name) - 11) == 0)
		prefix = strlen(zero->name) - 11;
	for (i = 0; v->name[prefix + i] && i + 1 < size; i++)
		buf[i] = (char)tolower((unsigned char)v->name[prefix + i]);
	if (size)
		buf[i] = '\0';
	return buf;
}

char *ctl_clean(char *buf, size_t size, const char *text)
{
	const unsigned char *p = (const unsigned char *)(text ? text : "");
	size_t n = 0;

	if (size == 0)
		return buf;
	while (*p && n + 1 < size) {
		unsigned char c = *p++;

		if (c == '\n' || c == '\t' || c == '\r')
			c = ' ';
		else if (c < 0x20 || c == 0x7f)
			c = '?';
		else if (c == 0xc2 && *p >= 0x80 && *p <= 0x9f) {
			/* U+0080-U+009F: C1 controls that some terminals obey in UTF-8 mode. */
			p++;
			c = '?';
		}
		buf[n++] = (char)c;
	}
	/* Never end inside a UTF-8 sequence when truncating. */
	if (*p && n > 0) {
		size_t lead = n;
		unsigned char c;
		size_t want;

		while (lead > 0 && ((unsigned char)buf[lead - 1] & 0xc0) == 0x80)
			lead--;
		if (lead > 0 && ((unsigned char)buf[lead - 1] & 0x80)) {
			c = (unsigned char)buf[lead - 1];
			want = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2;
			if (n - (lead - 1) < want)
				n = lead - 1;
		}
	}
	buf[n] = '\0';
	return buf;
}

int ctl_is_terminal(FILE *fp)
{
	const char *term = getenv("TERM");

	return isatty(fileno(fp)) && !(term && strcmp(term, "dumb") == 0);
}

/* YAML for -o yaml: the JSON mapping, written as block YAML. Strings are always quoted. */
static void yaml_scalar(const json_t *v, FILE *fp)
{
	char *s = json_dumps(v, JSON_ENCODE_ANY);

	fputs(s ? s : "null", fp);
	free(s);
}

static void yaml_emit(const json_t *v, int indent, int inline_first, FILE *fp);

static void yaml_child(const json_t *v, int indent, FILE *fp)
{
	if ((json_is_object(v) && json_object_size(v)) ||
	    (json_is_array(v) && json_array_size(v))) {
		fputc('\n', fp);
		yaml_emit(v, indent + 2, 0, fp);
	} else if (json_is_object(v)) {
		fputs(" {}\n", fp);
	} else if (json_is_array(v)) {
		fputs(" []\n", fp);
	} else {
		fputc(' ', fp);
		yaml_scalar(v, fp);
		fputc('\n', fp);
	}
}

static void yaml_emit(const json_t *v, int indent, int inline_first, FILE *fp)
{
	const char *key;
	json_t *item;
	size_t i;

	if (json_is_object(v)) {
		int first = 1;

		json_object_foreach((json_t *)(uintptr_t)v, key, item)
		{
			/* The first key of a list item follows its "- " on the same line. */
			fprintf(fp, "%*s%s:", first && inline_first ? 0 : indent, "", key);
			yaml_child(item, indent, fp);
			first = 0;
		}
	} else if (json_is_array(v)) {
		json_array_foreach(v, i, item)
		{
			if (json_is_object(item) && json_object_size(item)) {
				fprintf(fp, "%*s- ", indent, "");
				yaml_emit(item, indent + 2, 1, fp);
				continue;
			}
			fprintf(fp, "%*s-", indent, "");
			yaml_child(item, indent, fp);
		}
	} else {
		fprintf(fp, "%*s", indent, "");
		yaml_scalar(v, fp);
		fputc('\n', fp);
	}
}

int ctl_print_structured(struct ctl *ctl, const ProtobufCMessage *msg)
{
	json_t *json;
	char *text;

	if (ctl->output == CTL_OUTPUT_TABLE)
		return 1;
	if (ctl->output == CTL_OUTPUT_JSON) {
		text = pbjson_dumps(msg, PBJSON_PRETTY);
		if (!text)
			return ctl_fail("cannot encode the response as JSON");
		puts(text);
		free(text);
		return 0;
	}
	json = pbjson_encode(msg, 0);
	if (!json)
		return ctl_fail("cannot encode the response");
	yaml_emit(json, 0, 0, stdout);
	json_decref(json);
	return 0;
}
