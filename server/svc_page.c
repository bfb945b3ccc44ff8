/* Paging of the List* methods. */
#include "svc_page.h"

#include "err.h"
#include "strutil.h"

int svc_page_size(int *limit, int32_t requested)
{
	if (requested < 0 || requested > SVC_PAGE_MAX)
		return ovr_err_set(OVR_ERR_INVALID, "page_size: must be between 0 and %d",
		                   SVC_PAGE_MAX);
	*limit = requested ? requested : SVC_PAGE_DEFAULT;
	return 0;
}

int svc_page_after_name(const char **after, const char *token)
{
	*after = NULL;
	if (!token || !token[0])
		return 0;
	if (!ovr_name_valid(token))
		return ovr_err_set(OVR_ERR_INVALID, "page_token: not a token from a previous page");
	*after = token;
	return 0;
}
