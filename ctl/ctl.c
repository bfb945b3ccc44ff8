/* ovrctl's shared helpers: the connection, calls, errors and structured output. */
#include "ctl.h"

#include "err.h"
#include "fsutil.h"
#include "pbjson.h"
#include "rpc.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

static int connect_client(struct ctl *ctl)
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

int ctl_call(struct ctl *ctl, const char *path, const ProtobufCMessage *req,
             const ProtobufCMessageDescriptor *resp_desc, ProtobufCMessage **resp)
{
	int err = connect_client(ctl);

	*resp = NULL;
	if (!err)
		err = rpc_client_unary(ctl->client, path, ctl->token, req, resp_desc, resp,
		                       ctl->timeout_ms);
	if (err)
		return ctl_fail("%s", ovr_err_msg(err));
	return CTL_EXIT_OK;
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
