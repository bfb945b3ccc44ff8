/* Status reports as protobuf messages, built with malloc as protobuf-c unpacks them. */
#include "report.h"

#include "applied.h"
#include "err.h"
#include "log.h"

#include <stdlib.h>
#include <string.h>

void report_free(Overseer__V1__StatusReport *rep)
{
	if (rep != NULL)
		protobuf_c_message_free_unpacked(&rep->base, NULL);
}

/* A malloc'd UTF-8 copy of s (bytes that are not UTF-8 become '?'); NULL without memory. */
static char *dup_utf8(const char *s)
{
	size_t len = strlen(s != NULL ? s : "");
	char *d = malloc(len + 1);

	if (d != NULL)
		applied_utf8_copy(d, len + 1, s);
	return d;
}

static Overseer__V1__ContainerState *container_new(const struct executor_container *c)
{
	Overseer__V1__ContainerState *cs = malloc(sizeof(*cs));
	size_t i, n_ports = c->n_ports < EXECUTOR_MAX_PORTS ? c->n_ports : EXECUTOR_MAX_PORTS;

	if (cs == NULL)
		return NULL;
	overseer__v1__container_state__init(cs);
	cs->restart_count = c->restart_count;
	cs->exit_code = c->exit_code;
	cs->started_unix_ms = c->started_unix_ms;
	cs->id = dup_utf8(c->id);
	cs->name = dup_utf8(c->name);
	cs->service = dup_utf8(c->service);
	cs->state = dup_utf8(c->state);
	cs->health = dup_utf8(c->health);
	cs->image = dup_utf8(c->image);
	if (n_ports > 0)
		cs->ports = calloc(n_ports, sizeof(*cs->ports));
	for (i = 0; cs->ports != NULL && i < n_ports; i++) {
		cs->ports[i] = dup_utf8(c->ports[i]);
		if (cs->ports[i] == NULL)
			break;
		cs->n_ports++;
	}
	if (cs->id == NULL || cs->name == NULL || cs->service == NULL || cs->state == NULL ||
	    cs->health == NULL || cs->image == NULL || cs->n_ports != n_ports) {
		/* free_unpacked skips the NULL strings, which the descriptor defaults would be. */
		protobuf_c_message_free_unpacked(&cs->base, NULL);
		return NULL;
	}
	return cs;
}

Overseer__V1__AppReport *report_app_new(const char *app, int64_t version, const char *hash,
                                        const char *deployment_id, int64_t generation,
                                        Overseer__V1__NodeDeploymentState phase,
                                        const char *message)
{
	Overseer__V1__AppReport *ar = malloc(sizeof(*ar));

	if (ar == NULL)
		return NULL;
	overseer__v1__app_report__init(ar);
	ar->version = version;
	ar->generation = generation;
	ar->phase = phase;
	ar->app = dup_utf8(app);
	ar->content_hash = dup_utf8(hash);
	ar->deployment_id = dup_utf8(deployment_id);
	ar->message = dup_utf8(message);
	if (ar->app == NULL || ar->content_hash == NULL || ar->deployment_id == NULL ||
	    ar->message == NULL) {
		protobuf_c_message_free_unpacked(&ar->base, NULL);
		return NULL;
	}
	return ar;
}

int report_app_set_containers(Overseer__V1__AppReport *ar, const struct executor_status *st)
{
	size_t i;

	if (st->n_containers == 0)
		return 0;
	ar->containers = calloc(st->n_containers, sizeof(*ar->containers));
	if (ar->containers == NULL)
		return ovr_err_set(OVR_ERR_NOMEM, "out of memory");
	for (i = 0; i < st->n_containers; i++) {
		ar->containers[i] = container_new(&st->containers[i]);
		if (ar->containers[i] == NULL)
			return ovr_err_set(OVR_ERR_NOMEM, "out of memory");
		ar->n_containers++;
	}
	return 0;
}

Overseer__V1__StatusReport *report_new(int full)
{
	Overseer__V1__StatusReport *rep = malloc(sizeof(*rep));

	if (rep == NULL)
		return NULL;
	overseer__v1__status_report__init(rep);
	rep->full = full;
	return rep;
}

int report_add(Overseer__V1__StatusReport *rep, Overseer__V1__AppReport *ar, size_t max)
{
	if (ar == NULL)
		return ovr_err_set(OVR_ERR_NOMEM, "out of memory");
	if (rep->apps == NULL)
		rep->apps = calloc(max > 0 ? max : 1, sizeof(*rep->apps));
	if (rep->apps == NULL || rep->n_apps >= max) {
		protobuf_c_message_free_unpacked(&ar->base, NULL);
		return ovr_err_set(OVR_ERR_NOMEM, "out of memory");
	}
	rep->apps[rep->n_apps++] = ar;
	return 0;
}

void report_fit(Overseer__V1__StatusReport *rep, size_t max_bytes)
{
	size_t i, k;

	if (protobuf_c_message_get_packed_size(&rep->base) <= max_bytes)
		return;
	log_warnx("status report of %zu apps is over %zu bytes: sent without containers",
	          rep->n_apps, max_bytes);
	for (i = 0; i < rep->n_apps; i++) {
		Overseer__V1__AppReport *ar = rep->apps[i];

		for (k = 0; k < ar->n_containers; k++)
			protobuf_c_message_free_unpacked(&ar->containers[k]->base, NULL);
		free(ar->containers);
		ar->containers = NULL;
		ar->n_containers = 0;
	}
}
