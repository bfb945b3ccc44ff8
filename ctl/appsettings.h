/*
 * The per-app settings flags of ovrctl app create and app update: the targets (--target,
 * --selector; lint takes them too), the health gate (--min-healthy-time, --healthy-deadline,
 * --auto-rollback) and the rollout (--strategy, --max-parallel, --max-failures).
 */
#ifndef OVR_APPSETTINGS_H
#define OVR_APPSETTINGS_H

#include <stddef.h>
#include <stdint.h>

#include "ctl.h"
#include "overseer/v1/apps.pb-c.h"

#define SETTINGS_TARGETS_MAX 256

/* --target NODE... and --selector S as given (pointers into argv); zero it to start. */
struct settings_targets {
	char *nodes[SETTINGS_TARGETS_MAX];
	size_t n_nodes;
	const char *selector; /* NULL: not given */
};

/* 1 if argv[*i] was --target or --selector (recorded), -1 after a usage error, 0 otherwise. */
int settings_target_arg(struct settings_targets *t, const struct ctl *ctl, int argc, char **argv,
                        int *i);

/* out filled from t (pointing into it), or NULL when neither flag was given. */
Overseer__V1__Targets *settings_targets_fill(Overseer__V1__Targets *out,
                                             const struct settings_targets *t);

/* The flags as given; -1 where one was not. */
struct settings_args {
	int given;
	int64_t min_healthy_ms;
	int64_t deadline_ms;
	int auto_rollback; /* 0 or 1 */
	int strategy;      /* Overseer__V1__Strategy */
	int max_parallel;
	int max_failures;
};

void settings_args_init(struct settings_args *s);

/* 1 if argv[*i] was a settings flag (recorded), -1 after a usage error, 0 otherwise. */
int settings_arg(struct settings_args *s, const struct ctl *ctl, int argc, char **argv, int *i);

/*
 * The settings to send: those of base (the app as it is; NULL: the server's defaults) with the
 * flags given applied. The server replaces health and rollout together.
 */
void settings_fill(Overseer__V1__HealthSettings *health, Overseer__V1__RolloutSettings *rollout,
                   const Overseer__V1__App *base, const struct settings_args *s);

/* One line for app get: "healthy for 10s within 5m, auto-rollback on; rollout ...". */
const char *settings_describe(char *buf, size_t size, const Overseer__V1__App *app);

#endif
