/*
 * Every page of a list call (ListApps, ListSecrets, ...): the request's page_size and page_token,
 * the response's next_page_token and its one repeated message field, found by reflection.
 */
#ifndef OVR_PAGER_H
#define OVR_PAGER_H

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>

#include "ctl.h"

#define PAGER_PAGE_SIZE 1000
#define PAGER_PAGES_MAX 100

struct pager {
	ProtobufCMessage *pages[PAGER_PAGES_MAX]; /* owned */
	size_t n_pages;
	void **items; /* every page's items in order, borrowed from the pages; owned array */
	size_t n_items;
};

/*
 * Calls path with req (page_size set here, page_token moved along) until the server gives no
 * next page or PAGER_PAGES_MAX pages came (then says so on stderr, naming what). p is zeroed
 * here and freed with pager_free; req's page_token points into p's pages until then.
 * Returns an exit code, the failure printed (ctl_call).
 */
int pager_list(struct pager *p, struct ctl *ctl, const char *path, ProtobufCMessage *req,
               const ProtobufCMessageDescriptor *resp_desc, const char *what);

void pager_free(struct pager *p);

#endif
