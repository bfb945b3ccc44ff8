/* Follow-up reports at the end of the health window (see followup.h). Thread-safe. */
#include "followup.h"

#include "applied.h"
#include "strutil.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct followup {
	char app[APPLIED_NAME_MAX];
	char deployment_id[APPLIED_ID_MAX];
	int64_t min_healthy_ms;
	int64_t healthy_since_ms; /* 0: not healthy in the last report */
	int sent;                 /* the follow-up of this streak is due or done */
};

struct followups {
	pthread_mutex_t lock;
	struct followup items[APPLIED_MAX_APPS];
	size_t n;
};

struct followups *followups_new(void)
{
	struct followups *f = calloc(1, sizeof(*f));

	if (f != NULL)
		pthread_mutex_init(&f->lock, NULL);
	return f;
}

void followups_free(struct followups *f)
{
	if (f == NULL)
		return;
	pthread_mutex_destroy(&f->lock);
	free(f);
}

static struct followup *find(struct followups *f, const char *app)
{
	size_t i;

	for (i = 0; i < f->n; i++)
		if (strcmp(f->items[i].app, app) == 0)
			return &f->items[i];
	return NULL;
}

void followups_expect(struct followups *f, const char *app, const char *deployment_id,
                      int64_t min_healthy_ms)
{
	struct followup *e;

	pthread_mutex_lock(&f->lock);
	e = find(f, app);
	if (e == NULL && f->n < APPLIED_MAX_APPS) {
		e = &f->items[f->n++];
		memset(e, 0, sizeof(*e));
		ovr_strlcpy(e->app, app, sizeof(e->app));
	}
	if (e != NULL && strcmp(e->deployment_id, deployment_id) != 0) {
		/* A new deployment: a new gate, and a new streak to follow up. */
		ovr_strlcpy(e->deployment_id, deployment_id, sizeof(e->deployment_id));
		e->healthy_since_ms = 0;
		e->sent = 0;
	}
	if (e != NULL)
		e->min_healthy_ms = min_healthy_ms > 0 ? min_healthy_ms : 0;
	pthread_mutex_unlock(&f->lock);
}

void followups_forget(struct followups *f, const char *app)
{
	struct followup *e;

	pthread_mutex_lock(&f->lock);
	e = find(f, app);
	if (e != NULL)
		*e = f->items[--f->n]; /* order does not matter */
	pthread_mutex_unlock(&f->lock);
}

int64_t followups_note(struct followups *f, const char *app, const char *deployment_id,
                       int healthy, int64_t now_ms)
{
	struct followup *e;
	int64_t due = 0;

	pthread_mutex_lock(&f->lock);
	e = find(f, app);
	if (e != NULL && strcmp(e->deployment_id, deployment_id) == 0) {
		if (!healthy) {
			e->healthy_since_ms = 0;
			e->sent = 0;
		} else {
			if (e->healthy_since_ms == 0)
				e->healthy_since_ms = now_ms;
			if (!e->sent) {
				due = e->healthy_since_ms + e->min_healthy_ms + FOLLOWUP_MARGIN_MS;
				e->sent = 1;
			}
		}
	}
	pthread_mutex_unlock(&f->lock);
	return due;
}
