/*
 * Status reports (StatusReport, AppReport, ContainerState) built from the executor's view. Every
 * piece is malloc'd exactly as protobuf-c unpacks a message, so protobuf_c_message_free_unpacked
 * (report_free) frees a whole report; strings are made UTF-8 on the way in.
 */
#ifndef OVR_REPORT_H
#define OVR_REPORT_H

#include <stddef.h>
#include <stdint.h>

#include "executor.h"
#include "overseer/v1/agent.pb-c.h"

/* An empty report; NULL without memory. The caller owns it: report_free. */
Overseer__V1__StatusReport *report_new(int full);

/* Frees rep and everything in it. NULL is a no-op. */
void report_free(Overseer__V1__StatusReport *rep);

/* One app's report without containers (strings copied); NULL without memory. */
Overseer__V1__AppReport *report_app_new(const char *app, int64_t version, const char *hash,
                                        const char *deployment_id, int64_t generation,
                                        Overseer__V1__NodeDeploymentState phase,
                                        const char *message);

/* Adds st's containers to ar; OVR_ERR_NOMEM leaves ar consistent for freeing. */
int report_app_set_containers(Overseer__V1__AppReport *ar, const struct executor_status *st);

/*
 * Appends ar to rep; ownership of ar passes, and on failure (ar NULL, no memory, more than max
 * apps) it is freed. Room for max apps is made on first use.
 */
int report_add(Overseer__V1__StatusReport *rep, Overseer__V1__AppReport *ar, size_t max);

/* Leaves container details out of a report whose packed size would pass max_bytes. */
void report_fit(Overseer__V1__StatusReport *rep, size_t max_bytes);

#endif
