/* ovrctl versions, version show and diff: an app's immutable version history. */
#include "appout.h"
#include "args.h"
#include "cmd.h"
#include "ctl.h"
#include "envmap.h"
#include "err.h"
#include "overseer/v1/apps.pb-c.h"
#include "strutil.h"
#include "table.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LIST_PAGE_SIZE 1000
#define LIST_PAGES_MAX 100
#define HASH_SHORT     12
#define MESSAGE_SHORT  72

#define COLOR_RED   "\033[31m"
#define COLOR_GREEN "\033[32m"
#define COLOR_CYAN  "\033[36m"
#define COLOR_BOLD  "\033[1m"
#define COLOR_RESET "\033[0m"

/* NAME and then exactly n_numbers version numbers (1 or more) from argv. */
static int name_and_versions(const struct ctl *ctl, int argc, char **argv, const char **name,
                             long long *numbers, int n_numbers)
{
	int i, got = 0;

	*name = NULL;
	for (i = 0; i < argc; i++) {
		if (argv[i][0] == '-' && argv[i][1])
			return ctl_usage(ctl, "unknown flag '%s'", argv[i]);
		if (!*name) {
			*name = argv[i];
			continue;
		}
		if (got == n_numbers)
			return ctl_usage(ctl, "unexpected argument '%s'", argv[i]);
		if (args_int64(argv[i], 1, &numbers[got]) != 0)
			return ctl_usage(ctl, "'%s' is not a version number", argv[i]);
		got++;
	}
	if (!*name)
		return ctl_usage(ctl, "NAME is required");
	if (got < n_numbers)
		return ctl_usage(ctl, "%s",
		                 n_numbers == 1 ? "a version number is required"
		                                : "two version numbers are required");
	return 0;
}

/* The first line of a message, cleaned and shortened for a table cell. */
static const char *short_message(char *buf, size_t size, const char *message)
{
	char first[MESSAGE_SHORT + 4];
	size_t keep = strcspn(message, "\r\n");
	int more = message[keep] != '\0';

	if (keep > MESSAGE_SHORT) {
		keep = MESSAGE_SHORT;
		more = 1;
		/* Do not end inside a UTF-8 sequence. */
		while (keep > 0 && ((unsigned char)message[keep] & 0xc0) == 0x80)
			keep--;
	}
	memcpy(first, message, keep);
	first[keep] = '\0';
	if (more)
		memcpy(first + keep, "...", 4);
	return ctl_clean(buf, size, first);
}

static const char *const version_headers[] = {"VERSION", "KIND", "ROLLBACK-OF", "AUTHOR",
                                              "CREATED", "HASH", "MESSAGE"};

int cmd_versions(struct ctl *ctl, int argc, char **argv)
{
	Overseer__V1__ListVersionsRequest req = OVERSEER__V1__LIST_VERSIONS_REQUEST__INIT;
	Overseer__V1__ListVersionsResponse all = OVERSEER__V1__LIST_VERSIONS_RESPONSE__INIT;
	Overseer__V1__ListVersionsResponse *pages[LIST_PAGES_MAX];
	Overseer__V1__AppVersion **versions = NULL;
	size_t npages = 0, n = 0, i;
	const char *name;
	int rc;

	if ((rc = name_and_versions(ctl, argc, argv, &name, NULL, 0)) != 0)
		return rc;
	req.name = (char *)(uintptr_t)name;
	req.page_size = LIST_PAGE_SIZE;
	while (npages < LIST_PAGES_MAX) {
		Overseer__V1__ListVersionsResponse *page = NULL;
		Overseer__V1__AppVersion **grown;

		rc = ctl_call(ctl, "/overseer.v1.Apps/ListVersions", &req.base,
		              &overseer__v1__list_versions_response__descriptor,
		              (ProtobufCMessage **)&page);
		if (rc)
			goto out;
		pages[npages++] = page;
		grown = realloc(versions, (n + page->n_versions + 1) * sizeof(*versions));
		if (!grown) {
			rc = ctl_fail("out of memory");
			goto out;
		}
		versions = grown;
		memcpy(versions + n, page->versions, page->n_versions * sizeof(*versions));
		n += page->n_versions;
		if (!page->next_page_token[0] || strcmp(page->next_page_token, req.page_token) == 0)
			break;
		req.page_token = page->next_page_token;
	}
	if (npages == LIST_PAGES_MAX && pages[npages - 1]->next_page_token[0])
		fprintf(stderr, "ovrctl: more versions than the %d shown\n",
		        LIST_PAGES_MAX * LIST_PAGE_SIZE);
	all.versions = versions;
	all.n_versions = n;
	if (ctl->output != CTL_OUTPUT_TABLE) {
		rc = ctl_print_structured(ctl, &all.base) ? CTL_EXIT_FAIL : CTL_EXIT_OK;
	} else {
		char version[24], kind[48], of[24], author[80], created[64], hash[HASH_SHORT + 1];
		char msg[MESSAGE_SHORT * 2];
		const char *row[7];
		struct table t;

		table_init(&t, 7, version_headers);
		for (i = 0; i < n; i++) {
			const Overseer__V1__AppVersion *v = versions[i];

			snprintf(version, sizeof(version), "%lld", (long long)v->version);
			snprintf(of, sizeof(of), "%lld", (long long)v->rollback_of);
			ovr_format_time(created, sizeof(created), v->created_unix_ms);
			ovr_strlcpy(hash, v->content_hash, sizeof(hash));
			row[0] = version;
			row[1] = ctl_enum_name(kind, sizeof(kind),
			                       &overseer__v1__deployment_kind__descriptor, v->kind);
			row[2] = v->rollback_of ? of : NULL;
			row[3] = ctl_clean(author, sizeof(author), v->author);
			row[4] = created;
			row[5] = ctl_clean(hash, sizeof(hash), hash);
			row[6] = short_message(msg, sizeof(msg), v->message);
			table_add(&t, row);
		}
		table_print(&t, stdout);
		table_free(&t);
	}
out:
	free(versions);
	for (i = 0; i < npages; i++)
		protobuf_c_message_free_unpacked(&pages[i]->base, NULL);
	return rc;
}

/* "Key:" and the cleaned value, aligned. */
static void field(const char *key, const char *value)
{
	char clean[4096];

	printf("%-13s%s\n", key, value && value[0] ? ctl_clean(clean, sizeof(clean), value) : "-");
}

static void print_version_meta(const Overseer__V1__AppVersion *v)
{
	char num[24], kind[48], created[64], clean[4096];
	struct envmap env;
	size_t i;
	int err = 0;

	field("App:", v->app);
	snprintf(num, sizeof(num), "%lld", (long long)v->version);
	field("Version:", num);
	field("Kind:", ctl_enum_name(kind, sizeof(kind), &overseer__v1__deployment_kind__descriptor,
	                             v->kind));
	snprintf(num, sizeof(num), "%lld", (long long)v->rollback_of);
	field("Rollback of:", v->rollback_of ? num : NULL);
	field("Author:", v->author);
	ovr_format_time(created, sizeof(created), v->created_unix_ms);
	field("Created:", created);
	field("Hash:", v->content_hash);
	field("Message:", v->message);
	/* Sorted, as the diff shows it. */
	memset(&env, 0, sizeof(env));
	for (i = 0; i < v->n_environment && !err; i++)
		err = envmap_set(&env, v->environment[i]->key, v->environment[i]->value);
	envmap_sort(&env);
	printf("Environment:%s\n", env.n ? "" : " -");
	for (i = 0; i < env.n; i++)
		printf("  %s=%s\n", env.entries[i].key,
		       ctl_clean(clean, sizeof(clean), env.entries[i].value));
	envmap_free(&env);
	appout_closure(stdout, v);
}

int cmd_version_show(struct ctl *ctl, int argc, char **argv)
{
	Overseer__V1__GetVersionRequest req = OVERSEER__V1__GET_VERSION_REQUEST__INIT;
	Overseer__V1__AppVersion *v = NULL;
	char *args[3];
	const char *name;
	long long number;
	int i, n = 0, rc, compose_only = 0;

	for (i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--compose-only") == 0)
			compose_only = 1;
		else if (n < 3)
			args[n++] = argv[i];
		else
			return ctl_usage(ctl, "unexpected argument '%s'", argv[i]);
	}
	if ((rc = name_and_versions(ctl, n, args, &name, &number, 1)) != 0)
		return rc;
	req.name = (char *)(uintptr_t)name;
	req.version = number;
	rc = ctl_call(ctl, "/overseer.v1.Apps/GetVersion", &req.base,
	              &overseer__v1__app_version__descriptor, (ProtobufCMessage **)&v);
	if (rc)
		return rc;
	if (ctl->output != CTL_OUTPUT_TABLE) {
		rc = ctl_print_structured(ctl, &v->base) ? CTL_EXIT_FAIL : CTL_EXIT_OK;
	} else {
		if (!compose_only) {
			print_version_meta(v);
			printf("\n");
		}
		/* The file as stored, byte for byte. */
		fwrite(v->compose_yaml, 1, strlen(v->compose_yaml), stdout);
		if (fflush(stdout) != 0 || ferror(stdout))
			rc = ctl_fail("cannot write the compose file to standard output");
	}
	protobuf_c_message_free_unpacked(&v->base, NULL);
	return rc;
}

/* The diff, coloured by line on a terminal (unless NO_COLOR is set). */
static void print_diff(const char *diff, int color)
{
	const char *p = diff;

	if (!color) {
		fputs(diff, stdout);
		return;
	}
	while (*p) {
		size_t n = strcspn(p, "\n");
		const char *c = NULL;

		if (strncmp(p, "+++", 3) == 0 || strncmp(p, "---", 3) == 0)
			c = COLOR_BOLD;
		else if (p[0] == '+')
			c = COLOR_GREEN;
		else if (p[0] == '-')
			c = COLOR_RED;
		else if (strncmp(p, "@@", 2) == 0)
			c = COLOR_CYAN;
		if (c)
			printf("%s%.*s%s", c, (int)n, p, COLOR_RESET);
		else
			printf("%.*s", (int)n, p);
		if (p[n] == '\n') {
			putchar('\n');
			n++;
		}
		p += n;
	}
}

int cmd_diff(struct ctl *ctl, int argc, char **argv)
{
	Overseer__V1__DiffVersionsRequest req = OVERSEER__V1__DIFF_VERSIONS_REQUEST__INIT;
	Overseer__V1__DiffVersionsResponse *resp = NULL;
	const char *name, *no_color = getenv("NO_COLOR");
	long long v[2];
	int rc;

	if ((rc = name_and_versions(ctl, argc, argv, &name, v, 2)) != 0)
		return rc;
	req.name = (char *)(uintptr_t)name;
	req.from_version = v[0];
	req.to_version = v[1];
	rc = ctl_call(ctl, "/overseer.v1.Apps/DiffVersions", &req.base,
	              &overseer__v1__diff_versions_response__descriptor,
	              (ProtobufCMessage **)&resp);
	if (rc)
		return rc;
	if (ctl->output != CTL_OUTPUT_TABLE) {
		rc = ctl_print_structured(ctl, &resp->base) ? CTL_EXIT_FAIL : CTL_EXIT_OK;
	} else if (!resp->diff[0]) {
		if (ctl_is_terminal(stdout))
			fprintf(stderr, "versions %lld and %lld of %s are the same\n", v[0], v[1],
			        name);
	} else {
		print_diff(resp->diff, ctl_is_terminal(stdout) && !(no_color && no_color[0]));
	}
	protobuf_c_message_free_unpacked(&resp->base, NULL);
	return rc;
}
