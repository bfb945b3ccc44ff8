/* Paging of the List* methods: one page size rule and one name-token rule for every service. */
#ifndef OVR_SVC_PAGE_H
#define OVR_SVC_PAGE_H

#include <stdint.h>

#define SVC_PAGE_DEFAULT 100
#define SVC_PAGE_MAX     1000

/* *limit: requested, or SVC_PAGE_DEFAULT for 0; OVR_ERR_INVALID outside 0..SVC_PAGE_MAX. */
int svc_page_size(int *limit, int32_t requested);

/*
 * A page token that is the last name of the previous page: *after is NULL for "" (the first
 * page), else token; OVR_ERR_INVALID if it is not a name.
 */
int svc_page_after_name(const char **after, const char *token);

#endif
