/* ovrctl's list calls, page after page, into one array of items. */
#include "pager.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The field of a message at its descriptor's offset. */
static void *field_at(const ProtobufCMessage *m, unsigned offset)
{
	return (char *)(uintptr_t)m + offset;
}

/* The first repeated message field of desc: the list a page carries. */
static const ProtobufCFieldDescriptor *items_field(const ProtobufCMessageDescriptor *desc)
{
	unsigned i;

	for (i = 0; i < desc->n_fields; i++)
		if (desc->fields[i].label == PROTOBUF_C_LABEL_REPEATED &&
		    desc->fields[i].type == PROTOBUF_C_TYPE_MESSAGE)
			return &desc->fields[i];
	return NULL;
}

int pager_list(struct pager *p, struct ctl *ctl, const char *path, ProtobufCMessage *req,
               const ProtobufCMessageDescriptor *resp_desc, const char *what)
{
	const ProtobufCFieldDescriptor *size_f, *token_f, *next_f, *items_f;
	char **token, *next = NULL;
	int rc;

	memset(p, 0, sizeof(*p));
	size_f = protobuf_c_message_descriptor_get_field_by_name(req->descriptor, "page_size");
	token_f = protobuf_c_message_descriptor_get_field_by_name(req->descriptor, "page_token");
	next_f = protobuf_c_message_descriptor_get_field_by_name(resp_desc, "next_page_token");
	items_f = items_field(resp_desc);
	if (!size_f || !token_f || !next_f || !items_f)
		return ctl_fail("%s is not a list call", path);
	*(int32_t *)field_at(req, size_f->offset) = PAGER_PAGE_SIZE;
	token = field_at(req, token_f->offset);
	while (p->n_pages < PAGER_PAGES_MAX) {
		ProtobufCMessage *page = NULL;
		size_t n;
		void **grown;

		rc = ctl_call(ctl, path, req, resp_desc, &page);
		if (rc)
			return rc;
		p->pages[p->n_pages++] = page;
		n = *(size_t *)field_at(page, items_f->quantifier_offset);
		grown = realloc(p->items, (p->n_items + n + 1) * sizeof(*grown));
		if (!grown)
			return ctl_fail("out of memory");
		p->items = grown;
		if (n)
			memcpy(p->items + p->n_items, *(void ***)field_at(page, items_f->offset),
			       n * sizeof(*grown));
		p->n_items += n;
		next = *(char **)field_at(page, next_f->offset);
		if (!next[0] || strcmp(next, *token) == 0)
			return CTL_EXIT_OK;
		*token = next;
	}
	fprintf(stderr, "ovrctl: more %s than the %d shown\n", what,
	        PAGER_PAGES_MAX * PAGER_PAGE_SIZE);
	return CTL_EXIT_OK;
}

void pager_free(struct pager *p)
{
	size_t i;

	for (i = 0; i < p->n_pages; i++)
		protobuf_c_message_free_unpacked(p->pages[i], NULL);
	free(p->items);
	memset(p, 0, sizeof(*p));
}
